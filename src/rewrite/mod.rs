//! Matching a recipe's queries against one tree, and turning matches into edits (from
//! `replace` + `with` templates) and findings (from `message`).

use std::path::Path;

use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, QueryCursor, Tree};

use crate::diag::{line_col, Finding};
use crate::edit::Edit;
use crate::imports::ImportSpec;
use crate::recipe::compile::{CompiledRewrite, TemplatePart};

mod names;
mod pattern;

#[derive(Default)]
pub struct Matches {
    pub edits: Vec<Edit>,
    pub findings: Vec<Finding>,
    /// Imports to ensure because a rewrite that asks for them made an edit.
    pub imports: Vec<ImportSpec>,
}

pub fn run(
    rewrites: &[CompiledRewrite],
    recipe: &str,
    path: &Path,
    text: &str,
    tree: &Tree,
    newline: &str,
) -> Matches {
    let mut out = Matches::default();
    let mut cursor = QueryCursor::new();
    // Built on the first rewrite that adds imports where it matched.
    let mut model: Option<crate::semantic::Model> = None;
    for rw in rewrites {
        let mut made_edit = false;
        let plan = match plan_imports(rw, &mut cursor, text, tree, &mut model) {
            Ok(plan) => plan,
            Err((site, message)) => {
                out.findings.push(Finding::at(
                    path,
                    text,
                    site,
                    recipe,
                    crate::diag::Severity::Error,
                    format!("rewrite refused: {message}"),
                ));
                continue;
            }
        };
        let renames = plan.as_ref().map_or(&[][..], |p| &p.renames[..]);
        let mut first_site: Option<usize> = None;
        let mut matches = cursor.matches(&rw.query, tree.root_node(), text.as_bytes());
        while let Some(m) = matches.next() {
            let Some(values) = capture_values(rw, m, text) else {
                continue;
            };
            let render = |parts: &[TemplatePart], indent: Option<&str>| -> String {
                // Code only: a message's text is prose, not parsed.
                let wrap = if indent.is_some() {
                    parenthesize(parts, &values, text, renames)
                } else {
                    Vec::new()
                };
                render_parts(parts, &values, text, indent, newline, renames, &wrap).0
            };
            let anchor = rw
                .replace
                .and_then(|i| values.get(i as usize).cloned().flatten())
                .or_else(|| {
                    values
                        .iter()
                        .flatten()
                        .filter(|v| v.node.is_some())
                        .min_by_key(|v| v.range.start)
                        .cloned()
                });
            let Some(anchor) = anchor else { continue };
            if let (Some(replace), Some(template)) = (rw.replace, &rw.template) {
                if let Some(Some(target)) = values.get(replace as usize) {
                    let range = target.range.clone();
                    if let Some(at) = rw
                        .pattern
                        .as_ref()
                        .and_then(|_| lost_comment(target, &values))
                    {
                        out.findings.push(Finding::at(
                            path,
                            text,
                            at,
                            recipe,
                            crate::diag::Severity::Note,
                            format!(
                                "kept: the fix of {} would drop the comment in this match",
                                rw.label
                            ),
                        ));
                        continue;
                    }
                    let indent = indent_at(text, range.start);
                    let mut content = render(template, Some(&indent));
                    if !fits(text, target, &content) {
                        content = format!("({content})");
                    }
                    if text[range.clone()] != content {
                        first_site.get_or_insert(range.start);
                        out.edits
                            .push(Edit::replace(range, content, rw.label.clone()));
                        made_edit = true;
                    }
                }
            }
            if let Some((parts, severity)) = &rw.message {
                out.findings.push(Finding::at(
                    path,
                    text,
                    anchor.range.start,
                    recipe,
                    *severity,
                    render(parts, None),
                ));
            }
        }
        if made_edit {
            match plan {
                Some(plan) => {
                    if let Some(site) = first_site {
                        let (line, column) = line_col(text, site);
                        for note in plan.notes {
                            out.findings.push(Finding {
                                path: path.to_path_buf(),
                                line,
                                column,
                                recipe: recipe.to_owned(),
                                severity: crate::diag::Severity::Note,
                                message: format!("add-imports: {note}"),
                            });
                        }
                    }
                    out.imports.extend(plan.specs);
                }
                None => out.imports.extend(rw.add_imports.iter().cloned()),
            }
        }
    }
    out
}

/// The plan for `rw`'s `add-imports` in this file (see [`names`]): `None` when it adds
/// none or matches nowhere; `Err((offset, message))` when it must be refused.
fn plan_imports(
    rw: &CompiledRewrite,
    cursor: &mut QueryCursor,
    text: &str,
    tree: &Tree,
    model: &mut Option<crate::semantic::Model>,
) -> Result<Option<names::Plan>, (usize, String)> {
    let (Some(replace), Some(template)) = (rw.replace, &rw.template) else {
        return Ok(None);
    };
    if rw.add_imports.is_empty() {
        return Ok(None);
    }
    let mut sites = Vec::new();
    let mut matches = cursor.matches(&rw.query, tree.root_node(), text.as_bytes());
    while let Some(m) = matches.next() {
        if let Some(Some(v)) =
            capture_values(rw, m, text).and_then(|v| v.get(replace as usize).cloned())
        {
            sites.push(v.range.start);
        }
    }
    let Some(&first) = sites.first() else {
        return Ok(None);
    };
    let literal: String = template
        .iter()
        .map(|p| match p {
            TemplatePart::Literal(l) => l.as_str(),
            TemplatePart::Capture(_) => " ",
        })
        .collect();
    let model = model.get_or_insert_with(|| crate::semantic::build(tree, text));
    names::plan(&rw.add_imports, model, text, &sites, &literal)
        .map(Some)
        .map_err(|m| (first, m))
}

/// What a capture (or a pattern's metavariable) holds in one match: the text it spans
/// and, when it is one node, that node.
#[derive(Clone)]
struct Value<'t> {
    range: std::ops::Range<usize>,
    node: Option<Node<'t>>,
    /// For a `$$$` metavariable that took everything between a pair of brackets: all
    /// that is between them (separators, a trailing comma, comments and line breaks
    /// included), used where the fix puts it between the same brackets.
    inner: Option<std::ops::Range<usize>>,
}

/// Each capture's value in match `m`, by capture index; `None` when the rewrite's
/// pattern (or its conditions or constraints) rejects the match. For a pattern, index
/// 0 is the whole match and `i + 1` the metavariable `vars[i]`.
fn capture_values<'t>(
    rw: &CompiledRewrite,
    m: &tree_sitter::QueryMatch<'_, 't>,
    text: &'t str,
) -> Option<Vec<Option<Value<'t>>>> {
    let Some(cp) = &rw.pattern else {
        let count = rw.query.capture_names().len();
        return Some(
            (0..count as u32)
                .map(|i| {
                    let nodes: Vec<Node<'t>> = m
                        .captures
                        .iter()
                        .filter(|c| c.index == i)
                        .map(|c| c.node)
                        .collect();
                    let (first, last) = (nodes.first()?, nodes.last()?);
                    Some(Value {
                        range: first.start_byte()..last.end_byte(),
                        node: (nodes.len() == 1).then_some(*first),
                        inner: None,
                    })
                })
                .collect(),
        );
    };
    let node = m.captures.first()?.node;
    let b = pattern::matches(cp, node, text)?;
    let mut values = vec![Some(Value {
        range: node.byte_range(),
        node: Some(node),
        inner: None,
    })];
    for v in &cp.pattern.vars {
        let nodes = b.get(v).cloned().unwrap_or_default();
        let multi = cp.pattern.multi.contains(v);
        values.push(Some(match (nodes.first(), nodes.last()) {
            (Some(f), Some(l)) => Value {
                range: f.start_byte()..l.end_byte(),
                node: (nodes.len() == 1 && !multi).then_some(*f),
                inner: if multi {
                    bracket_interior(*f, *l)
                } else {
                    None
                },
            },
            _ => Value {
                range: 0..0,
                node: None,
                inner: None,
            },
        }));
    }
    Some(values)
}

/// What is between the brackets around `first..=last` when those are all the
/// bracketed node's content (`(a, b,)` of a call's arguments).
fn bracket_interior(first: Node<'_>, last: Node<'_>) -> Option<std::ops::Range<usize>> {
    let parent = first.parent()?;
    if last.parent() != Some(parent) {
        return None;
    }
    let count = parent.child_count();
    let (open, close) = (parent.child(0)?, parent.child(count.checked_sub(1)?)?);
    if !matches!(
        (open.kind(), close.kind()),
        ("(", ")") | ("[", "]") | ("{", "}")
    ) {
        return None;
    }
    let significant = |n: &Node<'_>| !n.is_extra() && n.kind() != "," && n.kind() != "comment";
    let mut c = parent.walk();
    let kids: Vec<Node<'_>> = parent
        .children(&mut c)
        .skip(1)
        .take(count.saturating_sub(2))
        .filter(significant)
        .collect();
    (kids.first() == Some(&first) && kids.last() == Some(&last))
        .then(|| open.end_byte()..close.start_byte())
}

/// The first comment inside a pattern's match that no metavariable holds (the fix
/// would drop it).
fn lost_comment(target: &Value<'_>, values: &[Option<Value<'_>>]) -> Option<usize> {
    let node = target.node?;
    let held = |at: usize| {
        values.iter().skip(1).flatten().any(|v| {
            (v.range.start <= at && at < v.range.end)
                || v.inner
                    .as_ref()
                    .is_some_and(|r| r.start <= at && at < r.end)
        })
    };
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind() == "comment" && !held(n.start_byte()) {
            return Some(n.start_byte());
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    None
}

/// `parts` with each capture's text; also where in the result each single-node capture
/// landed (range, capture index). Captures in `wrap` are parenthesized.
fn render_parts(
    parts: &[TemplatePart],
    values: &[Option<Value<'_>>],
    text: &str,
    indent: Option<&str>,
    newline: &str,
    renames: &[(String, String)],
    wrap: &[u32],
) -> (String, Vec<(std::ops::Range<usize>, u32)>) {
    let mut s = String::new();
    let mut placed = Vec::new();
    for (k, part) in parts.iter().enumerate() {
        match part {
            TemplatePart::Literal(l) => {
                let l = if renames.is_empty() {
                    std::borrow::Cow::Borrowed(l.as_str())
                } else {
                    std::borrow::Cow::Owned(names::rename(l, renames))
                };
                match indent {
                    Some(ind) => s.push_str(&l.replace('\n', &format!("{newline}{ind}"))),
                    None => s.push_str(&l),
                }
            }
            TemplatePart::Capture(i) => {
                if let Some(Some(v)) = values.get(*i as usize) {
                    let paren = wrap.contains(i);
                    if paren {
                        s.push('(');
                    }
                    let start = s.len();
                    // Between the same brackets: all that was between them.
                    let literal = |j: Option<usize>| match j.and_then(|j| parts.get(j)) {
                        Some(TemplatePart::Literal(l)) => Some(l.as_str()),
                        _ => None,
                    };
                    let before = literal(k.checked_sub(1)).and_then(|l| l.chars().last());
                    let after = literal(Some(k + 1)).and_then(|l| l.chars().next());
                    let range = match (&v.inner, before, after) {
                        (Some(inner), Some(o), Some(c))
                            if text[..inner.start].ends_with(o)
                                && text[inner.end..].starts_with(c)
                                && matches!((o, c), ('(', ')') | ('[', ']') | ('{', '}')) =>
                        {
                            inner.clone()
                        }
                        _ => v.range.clone(),
                    };
                    s.push_str(&text[range]);
                    if v.node.is_some() {
                        placed.push((start..s.len(), *i));
                    }
                    if paren {
                        s.push(')');
                    }
                }
            }
        }
    }
    (s, placed)
}

/// The captures a template must parenthesize so that each keeps its meaning: rendered
/// (without re-indentation) and parsed, a capture whose text no longer forms one node
/// of the same kind (`$A == $B` with `$A` = `x is not None` reads as a chain) needs
/// parentheses. A template that does not parse on its own is left as written.
fn parenthesize(
    parts: &[TemplatePart],
    values: &[Option<Value<'_>>],
    text: &str,
    renames: &[(String, String)],
) -> Vec<u32> {
    let (rendered, placed) = render_parts(parts, values, text, None, "\n", renames, &[]);
    let kind_of = |i: u32| {
        values
            .get(i as usize)
            .cloned()
            .flatten()
            .and_then(|v| v.node)
            .map(|n| n.kind())
    };
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    // Only operators can be read differently; a capture spliced into a name
    // (`fetch_${NAME}s`) is text, not an operand.
    let operand = |range: &std::ops::Range<usize>, i: u32| {
        kind_of(i).is_some_and(|k| {
            matches!(
                k,
                "binary_operator"
                    | "boolean_operator"
                    | "comparison_operator"
                    | "not_operator"
                    | "unary_operator"
                    | "conditional_expression"
                    | "lambda"
                    | "named_expression"
                    | "await"
                    | "yield"
            )
        }) && !word(rendered[..range.start].chars().last())
            && !word(rendered[range.end..].chars().next())
    };
    let multi_line = |range: &std::ops::Range<usize>| rendered[range.clone()].contains('\n');
    // Most captures are names, calls and literals on one line: nothing to parse for.
    if !placed.iter().any(|(r, i)| multi_line(r) || operand(r, *i)) {
        return Vec::new();
    }
    let Some(tree) = crate::parse::parse(&rendered) else {
        return Vec::new();
    };
    // A capture that spans lines, placed outside any bracket (`assert x == "a"` then
    // `"b"` on the next line, from a call's two-line argument), continues its line only
    // inside parentheses.
    let mut wrap: Vec<u32> = placed
        .iter()
        .filter(|(r, _)| multi_line(r) && !lines_continue(&tree, &rendered, r.clone()))
        .map(|(_, i)| *i)
        .collect();
    if tree.root_node().has_error() {
        return wrap;
    }
    for (range, i) in &placed {
        if operand(range, *i) && !intact(&tree, range.clone(), kind_of(*i)) && !wrap.contains(i) {
            wrap.push(*i);
        }
    }
    wrap
}

/// Whether every line break in `range` of `text` (parsed as `tree`) is one Python
/// continues over: inside brackets or inside a string.
fn lines_continue(tree: &Tree, text: &str, range: std::ops::Range<usize>) -> bool {
    text[range.clone()].match_indices('\n').all(|(i, _)| {
        let at = range.start + i;
        let mut n = tree.root_node().descendant_for_byte_range(at, at + 1);
        while let Some(node) = n {
            let inside = node.start_byte() < at && node.end_byte() > at;
            if inside
                && matches!(
                    node.kind(),
                    "argument_list"
                        | "parenthesized_expression"
                        | "list"
                        | "dictionary"
                        | "set"
                        | "tuple"
                        | "subscript"
                        | "list_comprehension"
                        | "dictionary_comprehension"
                        | "set_comprehension"
                        | "generator_expression"
                        | "parameters"
                        | "import_from_statement"
                        | "string"
                )
            {
                return true;
            }
            n = node.parent();
        }
        false
    })
}

/// Whether `range` of `tree`'s text is one node (of `kind`, when given).
fn intact(tree: &Tree, range: std::ops::Range<usize>, kind: Option<&str>) -> bool {
    let Some(mut n) = tree
        .root_node()
        .descendant_for_byte_range(range.start, range.end)
    else {
        return false;
    };
    loop {
        if n.byte_range() == range && kind.is_none_or(|k| k == n.kind()) {
            return true;
        }
        match n.parent() {
            Some(p)
                if p.start_byte() <= range.start
                    && p.end_byte() >= range.end
                    && p.byte_range() == n.byte_range() =>
            {
                n = p
            }
            _ => return false,
        }
    }
}

/// Whether `content` in place of `target` keeps forming one node in its context (the
/// enclosing expression up to its statement): `x * $R` replaced by `a + b` does not.
fn fits(text: &str, target: &Value<'_>, content: &str) -> bool {
    let Some(node) = target.node else {
        return true;
    };
    let Some(parent) = node.parent() else {
        return true;
    };
    // Only operators bind tighter or looser than what replaces their operand.
    if !matches!(
        parent.kind(),
        "binary_operator"
            | "boolean_operator"
            | "comparison_operator"
            | "not_operator"
            | "unary_operator"
            | "attribute"
            | "subscript"
            | "call"
            | "await"
            | "conditional_expression"
    ) {
        return true;
    }
    let mut stmt = parent;
    while let Some(p) = stmt.parent() {
        if matches!(p.kind(), "module" | "block") {
            break;
        }
        stmt = p;
    }
    let before = &text[stmt.start_byte()..node.start_byte()];
    let after = &text[node.end_byte()..stmt.end_byte()];
    let ctx = format!("{before}{content}{after}");
    let Some(t) = crate::parse::parse(&ctx) else {
        return true;
    };
    if t.root_node().has_error() {
        return true;
    }
    intact(&t, before.len()..before.len() + content.len(), None)
}

/// The indentation that puts a continuation line at the column of `offset`: the line's
/// own leading whitespace (tabs kept), then a space per character up to `offset`.
fn indent_at(text: &str, offset: usize) -> String {
    let start = crate::imports::line_start(text, offset);
    let prefix = &text[start..offset];
    let lead: String = prefix
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let rest = prefix[lead.len()..].chars().count();
    format!("{lead}{}", " ".repeat(rest))
}
