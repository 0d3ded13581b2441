//! Code patterns: a rewrite written as the code it matches.
//!
//! `pattern = "self.assertEqual($A, $B)"` is Python with metavariables: `$NAME` matches
//! one node, `$$$NAME` zero or more sibling nodes, `$_` (and `$$$` alone) one node (or
//! several) without a capture; a name used twice must match the same code both times.
//! Names are upper case, as in ast-grep. A `$` is not valid Python, so each is written as
//! `µ` before parsing (the same trick ast-grep uses for Python), which keeps every
//! metavariable an identifier in the tree and every column where it was.
//!
//! A pattern compiles once: into a tree-sitter query for its root node's kind (what the
//! query engine finds fast), and the pattern tree itself, which each candidate is
//! matched against structurally ([`Pattern::matches`]): same kinds, same leaf text,
//! children in order with `$$$` taking any run of them, comments and line
//! continuations ignored, commas and parentheses that do not change the tree ignored
//! (`f(a, b,)` is `f(a, b)`, `(x)` is `x`). Strings keep their quote style unless the
//! rewrite says `strictness = "relaxed"`.

use std::collections::HashMap;

use tree_sitter::{Node, Tree};

/// One metavariable's binding: the nodes it took (one for `$A`, any number for `$$$A`).
pub type Bindings<'t> = HashMap<String, Vec<Node<'t>>>;

pub struct Pattern {
    /// The pattern's text with each `$` as `µ`.
    text: String,
    tree: Tree,
    /// Child indices from the module down to the pattern's root node.
    path: Vec<usize>,
    /// Named metavariables in order of first appearance (without `_`).
    pub vars: Vec<String>,
    /// Those written `$$$NAME`.
    pub multi: Vec<String>,
    /// Quote style of strings does not matter.
    pub relaxed: bool,
}

/// Where a pattern went wrong: a message and the character column (1-based) in the
/// pattern's text, with `help` when there is a likely fix.
#[derive(Debug)]
pub struct PatternError {
    pub column: usize,
    pub line: usize,
    pub message: String,
    pub help: Option<String>,
}

const MARK: char = 'µ';

/// Punctuation whose presence does not change what the code means once the tree says it.
fn ignorable(n: Node<'_>) -> bool {
    n.is_extra() || (!n.is_named() && matches!(n.kind(), "," | "(" | ")" | ";"))
}

/// `$$$NAME`, `$NAME`, `$_`, `$$$` in `text` written as `µµµNAME`, `µNAME`, `µ_`,
/// `µµµ_`; a lower-case name or a `$` that starts none is an error.
fn encode(text: &str) -> Result<String, PatternError> {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.char_indices().peekable();
    let (mut line, mut col) = (1, 0);
    while let Some((i, c)) = chars.next() {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
        }
        if c != '$' {
            out.push(c);
            continue;
        }
        let rest = &text[i..];
        let dollars = rest.chars().take_while(|&c| c == '$').count();
        if text[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            return Err(PatternError {
                line,
                column: col,
                message: "a metavariable cannot be part of a name".into(),
                help: Some(
                    "match the whole name with `$NAME` and constrain it: `[rewrite.where.NAME]` with `regex = \"^get_\"`"
                        .into(),
                ),
            });
        }
        if dollars != 1 && dollars != 3 {
            return Err(PatternError {
                line,
                column: col,
                message: format!("`{}` is not a metavariable", &rest[..dollars]),
                help: Some("write `$NAME` for one node or `$$$NAME` for any number".into()),
            });
        }
        let name: String = rest[dollars..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() && dollars == 1 {
            return Err(PatternError {
                line,
                column: col,
                message: "a `$` that starts no metavariable".into(),
                help: Some("metavariables are `$NAME`, `$$$NAME` or `$_`".into()),
            });
        }
        if !name.is_empty() && !is_var_name(&name) {
            return Err(PatternError {
                line,
                column: col,
                message: format!(
                    "metavariable `{}{name}` is not upper case",
                    &rest[..dollars]
                ),
                help: Some(format!(
                    "metavariables are upper case, as in ast-grep: `{}{}`",
                    &rest[..dollars],
                    name.to_uppercase()
                )),
            });
        }
        for _ in 1..dollars + name.chars().count() {
            chars.next();
        }
        col += dollars - 1 + name.chars().count();
        for _ in 0..dollars {
            out.push(MARK);
        }
        out.push_str(if name.is_empty() { "_" } else { &name });
    }
    Ok(out)
}

/// Whether a fix template is a statement other than an expression (`assert $A == $B`,
/// `with pytest.raises($E): ...`): then a pattern written as an expression statement
/// matches whole statements.
pub fn is_statement_template(fix: &str) -> bool {
    let text = fix
        .trim()
        .replace("$$$", "µµµ")
        .replace("${", "µ{")
        .replace('$', "µ");
    let text = regex_lite_braces(&text);
    let Some(tree) = crate::parse::parse(&text) else {
        return false;
    };
    let root = tree.root_node();
    if root.has_error() {
        return false;
    }
    let mut c = root.walk();
    let stmts: Vec<Node<'_>> = root
        .named_children(&mut c)
        .filter(|n| !n.is_extra())
        .collect();
    matches!(stmts.as_slice(), [one] if one.kind() != "expression_statement")
}

/// `µ{NAME}` as `µNAME`.
fn regex_lite_braces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("µ{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "µ{".len()..];
        match after.find('}') {
            Some(j) if after[..j].chars().all(|c| c.is_alphanumeric() || c == '_') => {
                out.push('µ');
                out.push_str(&after[..j]);
                rest = &after[j + 1..];
            }
            _ => {
                out.push_str("µ{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `A`, `ARGS`, `_`, `X1`: upper case letters, digits and underscores, not a digit first.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The metavariable an (encoded) pattern node is, with whether it is `$$$`: an
/// identifier `µNAME`, or a statement that is only that.
fn metavar<'p>(n: Node<'_>, text: &'p str) -> Option<(&'p str, bool)> {
    let n = if n.kind() == "expression_statement" && n.named_child_count() == 1 {
        n.named_child(0)?
    } else {
        n
    };
    if n.kind() != "identifier" {
        return None;
    }
    let t = &text[n.byte_range()];
    let name = t
        .strip_prefix("µµµ")
        .map(|r| (r, true))
        .or_else(|| t.strip_prefix('µ').map(|r| (r, false)))?;
    Some(name)
}

/// `n` without the parentheses around it (`((x))` is `x`).
fn unwrap(mut n: Node<'_>) -> Node<'_> {
    while n.kind() == "parenthesized_expression" {
        let mut c = n.walk();
        let inner: Vec<Node<'_>> = n.named_children(&mut c).filter(|c| !c.is_extra()).collect();
        match inner.as_slice() {
            [only] if only.kind() != "yield" => n = *only,
            _ => break,
        }
    }
    n
}

fn children(n: Node<'_>) -> Vec<Node<'_>> {
    let mut c = n.walk();
    n.children(&mut c).filter(|c| !ignorable(*c)).collect()
}

impl Pattern {
    pub fn parse(source: &str, relaxed: bool) -> Result<Pattern, PatternError> {
        Pattern::parse_with(source, relaxed, false)
    }

    /// `statement`: a pattern written as an expression statement matches whole
    /// statements only (for a fix that is a statement, such as `assert $A`), instead of
    /// the expression wherever it is.
    pub fn parse_with(
        source: &str,
        relaxed: bool,
        statement: bool,
    ) -> Result<Pattern, PatternError> {
        let text = encode(source.trim())?;
        let err = |at: usize, message: String, help: Option<String>| {
            let (line, column) = crate::diag::line_col(&text, at);
            PatternError {
                line,
                column,
                message,
                help,
            }
        };
        let tree = crate::parse::parse(&text)
            .ok_or_else(|| err(0, "the pattern does not parse".into(), None))?;
        if let Some(at) = crate::parse::error_offset(&tree) {
            return Err(err(
                at,
                "the pattern is not valid Python here".into(),
                Some(
                    "a pattern is one expression or statement, with `$NAME` where any node may be"
                        .into(),
                ),
            ));
        }
        let root = tree.root_node();
        let stmts: Vec<(usize, Node<'_>)> = {
            let mut c = root.walk();
            root.children(&mut c)
                .enumerate()
                .filter(|(_, n)| !n.is_extra())
                .collect()
        };
        let [(first, stmt)] = stmts.as_slice() else {
            return Err(err(
                stmts.get(1).map_or(0, |(_, n)| n.start_byte()),
                if stmts.is_empty() {
                    "the pattern is empty".into()
                } else {
                    "a pattern is one expression or statement".into()
                },
                Some("match a sequence of statements with `$$$` inside a block".into()),
            ));
        };
        let mut path = vec![*first];
        let mut node = *stmt;
        if !statement && node.kind() == "expression_statement" && node.named_child_count() == 1 {
            let i = (0..node.child_count()).find(|&i| node.child(i).is_some_and(|n| n.is_named()));
            if let Some(i) = i {
                path.push(i);
                node = node.child(i).unwrap_or(node);
            }
        }
        if metavar(node, &text).is_some() {
            return Err(err(
                node.start_byte(),
                "a pattern that is only a metavariable matches every node".into(),
                Some("write the code around it, e.g. `print($A)`".into()),
            ));
        }
        let mut vars = Vec::new();
        let mut multi = Vec::new();
        let mut stack = vec![node];
        let mut order = Vec::new();
        while let Some(n) = stack.pop() {
            if n.kind() == "identifier" {
                order.push(n);
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
        order.sort_by_key(|n| n.start_byte());
        for n in order {
            if let Some((name, is_multi)) = metavar(n, &text) {
                if name == "_" {
                    continue;
                }
                if !vars.iter().any(|v| v == name) {
                    vars.push(name.to_owned());
                }
                if is_multi && !multi.iter().any(|v| v == name) {
                    multi.push(name.to_owned());
                }
            }
        }
        if let Some(n) = misplaced_multi(node, &text) {
            let name = &text[n.byte_range()];
            return Err(err(
                n.start_byte(),
                format!(
                    "`$$${}` stands for any number of nodes, but a `{}` takes one here",
                    name.trim_start_matches(MARK),
                    n.parent().map_or("node", |p| p.kind())
                ),
                Some(format!(
                    "use `${}` for one node; `$$$` goes in argument lists, parameters, blocks and collections",
                    name.trim_start_matches(MARK)
                )),
            ));
        }
        if let Some(both) = vars
            .iter()
            .find(|v| multi.contains(v) && single_use(node, &text, v))
        {
            return Err(err(
                0,
                format!("`{both}` is used both as `${both}` and as `$$${both}`"),
                Some("give the single node and the sequence different names".into()),
            ));
        }
        Ok(Pattern {
            text,
            tree,
            path,
            vars,
            multi,
            relaxed,
        })
    }

    /// The pattern's root node.
    pub fn root(&self) -> Node<'_> {
        let mut n = self.tree.root_node();
        for &i in &self.path {
            n = n.child(i).unwrap_or(n);
        }
        n
    }

    /// The kind a match's node has.
    pub fn kind(&self) -> &str {
        self.root().kind()
    }

    /// The tree-sitter query that finds candidates.
    pub fn query_source(&self) -> String {
        format!("({}) @match", self.kind())
    }

    /// Words every match contains (the pattern's identifiers and keywords that are not
    /// metavariables), for the literal prefilter: the longest one.
    pub fn literal(&self) -> Option<String> {
        let mut best: Option<&str> = None;
        let mut stack = vec![self.root()];
        while let Some(n) = stack.pop() {
            if n.child_count() == 0 {
                let t = &self.text[n.byte_range()];
                let word = t.chars().all(|c| c.is_alphanumeric() || c == '_')
                    && !t.contains(MARK)
                    && n.kind() != "string_content";
                if word && best.is_none_or(|b| t.len() > b.len()) {
                    best = Some(t);
                }
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
        best.map(str::to_owned)
    }

    /// The pattern tree as an S-expression, metavariables as `$NAME` (for `inspect`).
    pub fn tree_sexp(&self) -> String {
        let mut out = String::new();
        self.sexp(self.root(), 0, &mut out);
        out
    }

    fn sexp(&self, n: Node<'_>, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        if let Some((name, multi)) = metavar(n, &self.text) {
            let d = if multi { "$$$" } else { "$" };
            out.push_str(&format!("{pad}{d}{name}\n"));
            return;
        }
        let kids = children(n);
        if kids.is_empty() {
            out.push_str(&format!(
                "{pad}{} {:?}\n",
                n.kind(),
                &self.text[n.byte_range()]
            ));
            return;
        }
        out.push_str(&format!("{pad}{}\n", n.kind()));
        for k in kids {
            self.sexp(unwrap(k), depth + 1, out);
        }
    }

    /// Whether `target` matches the pattern; the metavariables' nodes go to `b`.
    pub fn matches<'t>(&self, target: Node<'t>, text: &'t str, b: &mut Bindings<'t>) -> bool {
        self.node(self.root(), unwrap(target), text, b)
    }

    fn node<'t>(&self, p: Node<'_>, t: Node<'t>, text: &'t str, b: &mut Bindings<'t>) -> bool {
        let p = unwrap(p);
        if let Some((name, _)) = metavar(p, &self.text) {
            if !t.is_named() {
                return false;
            }
            return self.bind(name, vec![t], text, b);
        }
        let t = unwrap(t);
        if p.kind() != t.kind() {
            return false;
        }
        if p.child_count() == 0 || t.child_count() == 0 {
            if p.child_count() != t.child_count() {
                return false;
            }
            let (pt, tt) = (&self.text[p.byte_range()], &text[t.byte_range()]);
            let quote = matches!(p.kind(), "string_start" | "string_end");
            return pt == tt || (self.relaxed && quote && quotes(pt) == quotes(tt));
        }
        self.seq(&children(p), &children(t), text, b)
    }

    fn seq<'t>(
        &self,
        ps: &[Node<'_>],
        ts: &[Node<'t>],
        text: &'t str,
        b: &mut Bindings<'t>,
    ) -> bool {
        let Some((&p, rest)) = ps.split_first() else {
            return ts.is_empty();
        };
        if let Some((name, true)) = metavar(p, &self.text) {
            for k in 0..=ts.len() {
                let saved = b.clone();
                if self.bind(name, ts[..k].to_vec(), text, b) && self.seq(rest, &ts[k..], text, b) {
                    return true;
                }
                *b = saved;
            }
            return false;
        }
        let Some((&t, trest)) = ts.split_first() else {
            return false;
        };
        let saved = b.clone();
        if self.node(p, t, text, b) && self.seq(rest, trest, text, b) {
            return true;
        }
        *b = saved;
        false
    }

    /// Binds `name` to `nodes`, or checks them against an earlier binding.
    fn bind<'t>(
        &self,
        name: &str,
        nodes: Vec<Node<'t>>,
        text: &'t str,
        b: &mut Bindings<'t>,
    ) -> bool {
        if name == "_" {
            return true;
        }
        match b.get(name) {
            Some(prev) => {
                prev.len() == nodes.len()
                    && prev.iter().zip(&nodes).all(|(a, c)| same(*a, *c, text))
            }
            None => {
                b.insert(name.to_owned(), nodes);
                true
            }
        }
    }
}

/// A `$$$` metavariable whose place holds one node, not a sequence.
fn misplaced_multi<'a>(root: Node<'a>, text: &str) -> Option<Node<'a>> {
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if n.kind() == "identifier" && text[n.byte_range()].starts_with("µµµ") {
            let mut at = n.parent()?;
            if at.kind() == "expression_statement" {
                at = at.parent()?;
            }
            let sequence = matches!(
                at.kind(),
                "argument_list"
                    | "parameters"
                    | "lambda_parameters"
                    | "block"
                    | "module"
                    | "list"
                    | "tuple"
                    | "set"
                    | "dictionary"
                    | "expression_list"
                    | "pattern_list"
                    | "tuple_pattern"
                    | "list_pattern"
                    | "import_from_statement"
                    | "import_statement"
                    | "global_statement"
                    | "nonlocal_statement"
                    | "with_clause"
                    | "subscript"
                    | "assert_statement"
                    | "return_statement"
                    | "delete_statement"
                    | "print_statement"
                    | "decorated_definition"
                    | "class_definition"
            );
            if !sequence {
                return Some(n);
            }
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    None
}

/// `'` or `"` (and prefixes) of a string start, without the quote character itself.
fn quotes(start: &str) -> (String, usize) {
    let prefix: String = start
        .chars()
        .filter(|c| c.is_alphabetic())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (
        prefix,
        start.chars().filter(|c| *c == '"' || *c == '\'').count(),
    )
}

/// Whether `name` appears only as one kind (single or multi) in the pattern: used to
/// reject `$A` and `$$$A` together.
fn single_use(root: Node<'_>, text: &str, name: &str) -> bool {
    let mut single = false;
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if n.kind() == "identifier" && text[n.byte_range()] == format!("µ{name}") {
            single = true;
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    single
}

/// Structural equality of two nodes of one text (for a metavariable used twice).
fn same(a: Node<'_>, b: Node<'_>, text: &str) -> bool {
    let (a, b) = (unwrap(a), unwrap(b));
    if a.kind() != b.kind() {
        return false;
    }
    if a.child_count() == 0 || b.child_count() == 0 {
        return a.child_count() == b.child_count() && text[a.byte_range()] == text[b.byte_range()];
    }
    let (ak, bk) = (children(a), children(b));
    ak.len() == bk.len() && ak.iter().zip(&bk).all(|(x, y)| same(*x, *y, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(pat: &str, code: &str) -> Vec<String> {
        let p = Pattern::parse(pat, false).unwrap();
        let tree = crate::parse::parse(code).unwrap();
        let mut out = Vec::new();
        let mut stack = vec![tree.root_node()];
        while let Some(n) = stack.pop() {
            let mut b = Bindings::new();
            if n.kind() == p.kind() && p.matches(n, code, &mut b) {
                let mut vars: Vec<String> = b
                    .iter()
                    .map(|(k, v)| {
                        let t = match (v.first(), v.last()) {
                            (Some(f), Some(l)) => &code[f.start_byte()..l.end_byte()],
                            _ => "",
                        };
                        format!("{k}={t}")
                    })
                    .collect();
                vars.sort();
                out.push(format!("{} [{}]", &code[n.byte_range()], vars.join(" ")));
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
        out.sort();
        out
    }

    #[test]
    fn single_multi_and_repeated() {
        assert_eq!(
            find(
                "self.assertEqual($A, $B)",
                "self.assertEqual(f(x), 2)\nself.assertEqual(a)\n"
            ),
            ["self.assertEqual(f(x), 2) [A=f(x) B=2]"]
        );
        assert_eq!(
            find("print($$$ARGS)", "print()\nprint(a, b=1,\n      c)\n"),
            [
                "print() [ARGS=]",
                "print(a, b=1,\n      c) [ARGS=a, b=1,\n      c]"
            ]
        );
        assert_eq!(
            find("$A == $A", "x == x\nx == y\n(x) == x\n"),
            ["(x) == x [A=(x)]", "x == x [A=x]"]
        );
        assert_eq!(
            find("f($_, $$$)", "f(1)\nf(1, 2, 3)\nf()\n"),
            ["f(1) []", "f(1, 2, 3) []"]
        );
    }

    #[test]
    fn layout_does_not_matter() {
        assert_eq!(find("f(a, b)", "f(a,  # c\n  b,)\n").len(), 1);
        assert_eq!(find("x + y", "(x) + (y)\n").len(), 1);
        assert_eq!(find("f('s')", "f(\"s\")\n").len(), 0);
    }

    #[test]
    fn statements() {
        let code = "def f(a, b):\n    x = 1\n    return x\n";
        assert_eq!(
            find("def $F($$$P):\n    $$$BODY\n    return $R", code),
            ["def f(a, b):\n    x = 1\n    return x [BODY=x = 1 F=f P=a, b R=x]"]
        );
    }

    #[test]
    fn errors() {
        let e = Pattern::parse("f($x)", false).err().unwrap();
        assert!(e.message.contains("not upper case"), "{}", e.message);
        assert_eq!(e.column, 3);
        let e = Pattern::parse("f($A,, )", false).err().unwrap();
        assert!(e.message.contains("not valid Python"));
        assert!(Pattern::parse("$A", false).is_err());
        assert!(Pattern::parse("f($A, $$$A)", false).is_err());
    }
}
