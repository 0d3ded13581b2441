//! What a module binds and imports, read from its bytes when its shape is plain enough
//! that no parse is needed.
//!
//! Most modules are a docstring, imports, definitions and assignments of names, with
//! the odd `if TYPE_CHECKING:` or `try: import x / except ImportError:`: for those,
//! [`read`] gives the [`ModInfo`] the tree walk ([`super::Walker`]) gives, from the
//! logical lines of [`crate::outline`] alone. It reads module level statement by
//! statement: imports (tokenized), `def` and `class` (their names; their bodies only
//! where an `import` or `global` occurs, for the imports), `if`/`elif`/`else`,
//! `try`/`except`/`else`/`finally`, `with`, `for` and `while` (the guards and
//! conditions their blocks run under), assignments whose targets are names or
//! attributes, `__all__` as a list of plain strings, calls and lone strings. Anything
//! else gives up and the module is parsed as before: `global`, a walrus, a `;` or a
//! one-line compound statement where an import may hide, an augmented or chained
//! assignment, `with ... as` at module level, `match`, an unusual target or import.
//!
//! Held to the tree walk: on 8,465 modules (Django, SymPy, seven more projects, the
//! standard library and site-packages) it read 7,019 and gave the same [`ModInfo`] for
//! each (the tests below keep the shapes).
//!
//! Like a partial parse (see [`crate::outline`]), it does not judge what it does not
//! read: a syntax error inside an expression, or in a body that holds no import, goes
//! unseen where the module-level parse would have refused the file.

use super::{Ctx, ImportKind, ImportSite, ModInfo};
use crate::outline::{
    definition_name, is_ident_byte, is_plain_eq, logical_lines, scan_code, starts_with_word, within,
};
use crate::outline::{Kind, Line};
use std::ops::ControlFlow::{Break, Continue};

/// The module's bindings and imports, or `None` when its shape needs a parse.
pub fn read(text: &str) -> Option<ModInfo> {
    let b = text.as_bytes();
    let lines = logical_lines(b, None)?;
    if lines.first().is_some_and(|l| l.indent != 0) {
        return None;
    }
    let mut r = Reader {
        text,
        b,
        lines: &lines,
        // Where the parse would look inside definitions.
        anchors: crate::parse::module_focus(text).anchors,
        info: ModInfo::default(),
        counted: (0, 1),
    };
    r.block(0, lines.len(), Ctx::MODULE, 0)?;
    r.info.parsed = true;
    Some(r.info)
}

/// How deep definitions may nest before the reader leaves it to the parser.
const MAX_DEPTH: usize = 50;

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// An identifier that is not a keyword.
pub(crate) fn is_word(s: &str) -> bool {
    super::is_identifier(s) && !KEYWORDS.contains(&s)
}

/// A name that binds: a word, not `print` or `exec` either (tree-sitter-python reads
/// statements that start with them as Python 2's).
fn is_name(s: &str) -> bool {
    is_word(s) && s != "print" && s != "exec"
}

struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    lines: &'a [Line],
    /// Sorted offsets of `import` and `global`.
    anchors: Vec<usize>,
    info: ModInfo,
    /// The last offset a line number was counted to, and its line.
    counted: (usize, usize),
}

/// The names an assignment (or `for`) target binds: names, `*name`s and attributes
/// (which bind nothing) separated by commas, perhaps in one pair of brackets; `None` for
/// any other target.
fn target_names(target: &str) -> Option<Vec<&str>> {
    let inner = match target.as_bytes().first() {
        Some(b'(') if target.ends_with(')') => &target[1..target.len() - 1],
        Some(b'[') if target.ends_with(']') => &target[1..target.len() - 1],
        _ => target,
    };
    let mut names = Vec::new();
    let items: Vec<&str> = inner.split(',').map(str::trim).collect();
    for (n, item) in items.iter().enumerate() {
        let name = item.strip_prefix('*').unwrap_or(item).trim_start();
        if is_name(name) {
            names.push(name);
        } else if name.contains('.') && name.split('.').all(|p| is_word(p.trim())) {
            // `a.b = ...` sets an attribute.
        } else if !(item.is_empty() && n + 1 == items.len() && n > 0) {
            return None;
        }
    }
    Some(names)
}

/// One token of an import statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Name(usize, usize),
    Dot,
    Comma,
    Open,
    Close(usize),
    Star(usize),
}

impl<'a> Reader<'a> {
    /// Line and column (1-based, in characters) of `offset`, counted on from the last
    /// one asked for (offsets come in order).
    fn line_col(&mut self, offset: usize) -> (usize, usize) {
        let (from, line) = self.counted;
        let line = line + memchr::memchr_iter(b'\n', &self.b[from..offset]).count();
        self.counted = (offset, line);
        let start = memchr::memrchr(b'\n', &self.b[..offset]).map_or(0, |i| i + 1);
        (line, self.text[start..offset].chars().count() + 1)
    }

    /// Past the statement that starts at `lines[k]`: its body and clauses.
    fn statement_end(&self, k: usize, to: usize) -> usize {
        let base = self.lines[k].indent;
        let mut e = k + 1;
        loop {
            while e < to && self.lines[e].indent > base {
                e += 1;
            }
            match self.lines[..to].get(e) {
                Some(next) if next.indent == base && next.kind == Kind::Clause => e += 1,
                _ => return e,
            }
        }
    }

    fn block(&mut self, from: usize, to: usize, ctx: Ctx, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let base = self.lines.get(from)?.indent;
        let mut decorators: Option<usize> = None;
        let mut k = from;
        while k < to {
            let line = &self.lines[k];
            if line.indent != base {
                return None;
            }
            let end = self.statement_end(k, to);
            let span = line.start..self.lines[end - 1].end;
            let head = &self.b[line.start..line.end];
            match line.kind {
                Kind::Decorator => {
                    if line.opens_block || end != k + 1 {
                        return None;
                    }
                    decorators.get_or_insert(line.start);
                    k = end;
                    continue;
                }
                Kind::Def | Kind::Class => {
                    let decorated = decorators.take();
                    self.definition(k, end, decorated, ctx, depth)?;
                }
                _ if decorators.is_some() => return None,
                Kind::Clause | Kind::Case => return None,
                _ if starts_with_word(head, b"import") || starts_with_word(head, b"from") => {
                    if end != k + 1 {
                        return None;
                    }
                    self.import(line, ctx)?;
                }
                _ if starts_with_word(head, b"global") => return None,
                // Outside module scope, a statement binds nothing this reads, unless it
                // holds an import.
                _ if line.opens_block => {
                    if ctx.module_scope || within(&self.anchors, &span) {
                        self.compound(k, end, ctx, depth)?;
                    }
                }
                // One that holds an import after a `;` or a `:` (`if x: import y`) is
                // left to the parser.
                _ if !ctx.module_scope => {
                    if within(&self.anchors, &span) && !self.one_statement(line) {
                        return None;
                    }
                }
                _ if end != k + 1 => return None,
                Kind::Str if crate::outline::lone_string(self.b, line).is_some() => {}
                _ => self.module_statement(line, ctx)?,
            }
            k = end;
        }
        decorators.is_none().then_some(())
    }

    /// An `if`, `try`, `with`, `for` or `while` statement, `lines[k..end]`, with its
    /// clauses: the guards and conditions its blocks run under, as the tree walk reads
    /// them (a walrus, `with ... as` at module level, `match` and others are left to the
    /// parser).
    fn compound(&mut self, k: usize, end: usize, ctx: Ctx, depth: usize) -> Option<()> {
        let base = self.lines[k].indent;
        let headers: Vec<usize> = (k..end).filter(|&h| self.lines[h].indent == base).collect();
        let nested = Ctx { top: false, ..ctx };
        let keyword = |h: usize| {
            let head = &self.text[self.lines[h].start..self.lines[h].end];
            let len = head.bytes().take_while(|c| is_ident_byte(*c)).count();
            &head[..len]
        };
        let first = keyword(k);
        for (n, &h) in headers.iter().enumerate() {
            let line = &self.lines[h];
            let body_end = headers.get(n + 1).copied().unwrap_or(end);
            if !line.opens_block || body_end == h + 1 {
                return None;
            }
            let word = keyword(h);
            let (cond, header) = self.header(h, word.len())?;
            if cond.contains(":=") {
                return None;
            }
            let last = n + 1 == headers.len();
            let inner = match (first, n, word) {
                ("if", 0, "if") => {
                    let (tc, main) = super::if_guards(cond);
                    Ctx {
                        type_checking: ctx.type_checking || tc,
                        main_block: ctx.main_block || main,
                        ..nested
                    }
                }
                ("if", _, "elif") => nested,
                ("try", 0, "try") if cond.is_empty() => {
                    let guarded = headers.iter().any(|&e| self.catches_import_error(e));
                    Ctx {
                        guarded: ctx.guarded || guarded,
                        ..nested
                    }
                }
                ("try", _, "except") => nested,
                ("try", _, "finally") if cond.is_empty() && last => nested,
                ("with", 0, "with") => {
                    if ctx.module_scope && header.split_ascii_whitespace().any(|w| w == "as") {
                        return None;
                    }
                    let head = &self.text[line.start..self.lines[h + 1].start];
                    let guards =
                        head.contains("ImportError") || head.contains("ModuleNotFoundError");
                    Ctx {
                        guarded: ctx.guarded || guards,
                        ..nested
                    }
                }
                ("for", 0, "for") => {
                    if ctx.module_scope {
                        let target = cond.split(" in ").next()?;
                        for name in target_names(target)? {
                            self.bind(name, ctx, ImportKind::Defined);
                        }
                    }
                    nested
                }
                ("while", 0, "while") => nested,
                ("if" | "try" | "for" | "while", _, "else") if cond.is_empty() => nested,
                _ => return None,
            };
            self.block(h + 1, body_end, inner, depth + 1)?;
        }
        Some(())
    }

    /// What follows the keyword of the block header `lines[h]` (`word_len` bytes), up
    /// to its `:`, trimmed; and the header's text.
    fn header(&self, h: usize, word_len: usize) -> Option<(&'a str, &'a str)> {
        let line = &self.lines[h];
        let b = self.b;
        let text: &'a str = self.text;
        let mut colon = None;
        let i = scan_code(b, line.start + word_len..line.end, 0, |i, c, depth| {
            if depth == 0 && c == b':' {
                colon = Some(i);
            }
            Continue(())
        })?;
        let colon = colon?;
        if !text[colon + 1..i].trim().is_empty() {
            return None;
        }
        Some((
            text[line.start + word_len..colon].trim(),
            &text[line.start..colon],
        ))
    }

    /// Does the `except` clause at `lines[h]` catch ImportError (or wider)?
    fn catches_import_error(&self, h: usize) -> bool {
        let line = &self.lines[h];
        let head = &self.text[line.start..line.end];
        if !head.starts_with("except") {
            return false;
        }
        super::except_catches_import_error(head)
    }

    /// Is the simple statement `line` one statement, not a compound statement on one
    /// line nor statements after a `;`?
    fn one_statement(&self, line: &Line) -> bool {
        const COMPOUND: &[&[u8]] = &[
            b"if", b"elif", b"else", b"for", b"while", b"with", b"try", b"except", b"finally",
            b"async", b"match", b"case", b"def", b"class",
        ];
        let b = self.b;
        if COMPOUND
            .iter()
            .any(|w| starts_with_word(&b[line.start..line.end], w))
        {
            return false;
        }
        let mut semicolon = false;
        let scanned = scan_code(b, line.start..line.end, 0, |_, c, depth| {
            semicolon = depth == 0 && c == b';';
            if semicolon {
                Break(())
            } else {
                Continue(())
            }
        });
        scanned.is_some() && !semicolon
    }

    /// `def` or `class` at `lines[k]` (its decorators from `decorated`): the name it
    /// binds, and the imports in its body.
    fn definition(
        &mut self,
        k: usize,
        end: usize,
        decorated: Option<usize>,
        ctx: Ctx,
        depth: usize,
    ) -> Option<()> {
        let line = &self.lines[k];
        // A header ends with `:` and a body follows it, or it is all on one line.
        let one_line = !line.opens_block;
        if one_line != (end == k + 1) {
            return None;
        }
        let name = self.text.get(definition_name(self.b, line))?;
        if !is_name(name) {
            return None;
        }
        if one_line {
            // `class E(Exception): pass`: what follows the header binds nothing unless
            // it imports.
            if within(&self.anchors, &(line.start..line.end)) {
                return None;
            }
            self.bind(name, ctx, ImportKind::Defined);
            return Some(());
        }
        self.bind(name, ctx, ImportKind::Defined);
        let body = self.lines[k + 1].start..self.lines[end - 1].end;
        if !within(&self.anchors, &body) {
            return Some(());
        }
        // A test marked as expected to fail may import what does not exist.
        let expected_failure = decorated.is_some_and(|d| {
            let head = self.text[d..line.start].to_ascii_lowercase();
            head.contains("xfail") || head.contains("skip")
        });
        let inner = Ctx {
            module_scope: false,
            in_def: ctx.in_def || line.kind == Kind::Def,
            top: false,
            guarded: ctx.guarded || expected_failure,
            ..ctx
        };
        self.block(k + 1, end, inner, depth + 1)
    }

    fn bind(&mut self, name: &str, ctx: Ctx, kind: ImportKind) {
        self.info.bind(name, ctx, kind);
    }

    /// A simple statement at module level: an assignment of names, `__all__` as a list
    /// of strings, an annotation, a call or `pass`.
    fn module_statement(&mut self, line: &Line, ctx: Ctx) -> Option<()> {
        let b = self.b;
        let s = &b[line.start..line.end];
        if memchr::memmem::find(s, b":=").is_some() {
            return None;
        }
        let mut eq = None;
        let mut colon = None;
        let mut other = false;
        let stop = scan_code(b, line.start..line.end, 0, |i, c, depth| {
            if c == b'\\' {
                // A continuation.
                other = true;
                return Break(());
            }
            if depth > 0 {
                return Continue(());
            }
            match c {
                b';' => other = true,
                b':' if eq.is_none() => {
                    colon.get_or_insert(i);
                }
                // An augmented or chained assignment: left to the parser.
                b'=' if is_plain_eq(b, i) => other = eq.replace(i).is_some(),
                b'=' => other = b.get(i + 1) != Some(&b'=') && !b"=!<>".contains(&b[i - 1]),
                _ => {}
            }
            if other {
                Break(())
            } else {
                Continue(())
            }
        })?;
        if other {
            return None;
        }
        let last = line.start + b[line.start..stop].trim_ascii_end().len();
        let Some(eq) = eq else {
            let text = std::str::from_utf8(&b[line.start..last]).ok()?;
            return match colon {
                // `NAME: T`, which binds nothing.
                Some(c) => is_name(self.text[line.start..c].trim_end()).then_some(()),
                None if text == "pass" || self.is_call(line.start, last) => Some(()),
                None => None,
            };
        };
        let target = self.text[line.start..colon.unwrap_or(eq)].trim_end();
        if target.contains("__all__") {
            if target != "__all__" {
                return None;
            }
            let all = self.strings(eq + 1, last)?;
            self.bind(target, ctx, ImportKind::Defined);
            self.info.all = Some(all);
            return Some(());
        }
        if colon.is_some() {
            return is_name(target).then(|| self.bind(target, ctx, ImportKind::Defined));
        }
        for name in target_names(target)? {
            self.bind(name, ctx, ImportKind::Defined);
        }
        Some(())
    }

    /// Is `b[start..end]` a call of a dotted name, `a.b(...)`, and nothing more?
    fn is_call(&self, start: usize, end: usize) -> bool {
        let b = self.b;
        let mut i = start;
        loop {
            let n = b[i..end].iter().take_while(|c| is_ident_byte(**c)).count();
            let Some(name) = std::str::from_utf8(&b[i..i + n]).ok() else {
                return false;
            };
            if !is_word(name) || name == "__all__" {
                return false;
            }
            i += n;
            match b.get(i) {
                Some(b'.') if i < end => i += 1,
                Some(b'(') if i < end => break,
                _ => return false,
            }
        }
        let mut closed = None;
        let scanned = scan_code(b, i..end, 0, |k, c, depth| {
            if depth == 0 && matches!(c, b')' | b']' | b'}') {
                closed = Some(k);
                Break(())
            } else {
                Continue(())
            }
        });
        scanned.is_some() && closed == Some(end - 1) && b[end - 1] == b')'
    }

    /// The strings of a list, tuple or set of plain string literals in `b[from..to]`
    /// (comments between them allowed), as the tree walk reads `__all__`.
    fn strings(&self, from: usize, to: usize) -> Option<Vec<String>> {
        let b = self.b;
        let mut i = from + b[from..to].iter().take_while(|c| **c == b' ').count();
        let close = match b.get(i)? {
            b'[' => b']',
            b'(' => b')',
            b'{' => b'}',
            _ => return None,
        };
        i += 1;
        let mut out = Vec::new();
        let mut comma = true;
        while i < to {
            match b[i] {
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                b'#' => i += memchr::memchr(b'\n', &b[i..to])?,
                b',' if !comma => {
                    comma = true;
                    i += 1;
                }
                c if c == close => {
                    // `('a')` is a string, not a tuple; `{}` a dict.
                    let tuple_of_one = close == b')' && out.len() == 1 && !comma;
                    let empty_set = close == b'}' && out.is_empty();
                    return (i + 1 == to && !tuple_of_one && !empty_set).then_some(out);
                }
                b'"' | b'\'' if comma => {
                    let q = b[i];
                    if b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q) {
                        return None;
                    }
                    let end = i + 1 + memchr::memchr(q, &b[i + 1..to])?;
                    let content = &self.text[i + 1..end];
                    if content.contains(['\\', '\n', '{', '}']) {
                        return None;
                    }
                    out.push(content.to_owned());
                    comma = false;
                    i = end + 1;
                }
                _ => return None,
            }
        }
        None
    }

    /// An import statement.
    fn import(&mut self, line: &Line, ctx: Ctx) -> Option<()> {
        let toks = self.tokens(line)?;
        let name = |t: &Tok| match *t {
            Tok::Name(s, e) => Some(&self.text[s..e]),
            _ => None,
        };
        let mut t = toks.iter().peekable();
        let keyword = name(t.next()?)?;
        // A dotted name: its text and where it ends.
        let dotted = |t: &mut std::iter::Peekable<std::slice::Iter<'_, Tok>>| {
            let mut parts = vec![name(t.next()?)?];
            while t.next_if_eq(&&Tok::Dot).is_some() {
                parts.push(name(t.next()?)?);
            }
            parts.iter().all(|p| is_name(p)).then(|| parts.join("."))
        };
        let alias =
            |t: &mut std::iter::Peekable<std::slice::Iter<'_, Tok>>| -> Option<Option<String>> {
                if t.peek().and_then(|x| name(x)) == Some("as") {
                    t.next();
                    let a = name(t.next()?)?;
                    return is_name(a).then(|| Some(a.to_owned()));
                }
                Some(None)
            };
        let last_end = |toks: &[Tok]| match toks.last() {
            Some(Tok::Name(_, e) | Tok::Close(e) | Tok::Star(e)) => Some(*e),
            _ => None,
        };
        let end = last_end(&toks)?;
        let at = self.line_col(line.start);
        let base = ImportSite::at(line.start..end, at, ctx);
        if keyword == "import" {
            let mut specs = Vec::new();
            loop {
                let module = dotted(&mut t)?;
                specs.push((module, alias(&mut t)?));
                match t.next() {
                    None => break,
                    Some(Tok::Comma) => {}
                    Some(_) => return None,
                }
            }
            for (module, alias) in specs {
                let site = ImportSite {
                    module,
                    alias,
                    ..base.clone()
                };
                self.info.add_import(site, ctx);
            }
            return Some(());
        }
        let mut level = 0;
        while t.next_if_eq(&&Tok::Dot).is_some() {
            level += 1;
        }
        let module = if t.peek().and_then(|x| name(x)) == Some("import") {
            String::new()
        } else {
            dotted(&mut t)?
        };
        if level == 0 && module.is_empty() {
            return None;
        }
        if name(t.next()?)? != "import" {
            return None;
        }
        if level == 0 && module == "__future__" {
            return Some(());
        }
        let mut names = Vec::new();
        let star = t.next_if(|x| matches!(x, Tok::Star(_))).is_some();
        if !star {
            let parens = t.next_if_eq(&&Tok::Open).is_some();
            loop {
                let n = name(t.next()?)?;
                if !is_name(n) {
                    return None;
                }
                names.push((n.to_owned(), alias(&mut t)?));
                match t.next() {
                    None if !parens => break,
                    Some(Tok::Comma) if parens && matches!(t.peek(), Some(Tok::Close(_))) => {
                        t.next();
                        break;
                    }
                    Some(Tok::Comma) => {}
                    Some(Tok::Close(_)) if parens => break,
                    _ => return None,
                }
            }
        }
        if t.next().is_some() {
            return None;
        }
        let site = ImportSite {
            level,
            module,
            from: true,
            names,
            star,
            ..base
        };
        self.info.add_import(site, ctx);
        Some(())
    }

    /// The tokens of an import statement; `None` for anything an import does not hold
    /// (a string, a `;`, a continuation) or brackets out of place.
    fn tokens(&self, line: &Line) -> Option<Vec<Tok>> {
        let b = self.b;
        let mut out = Vec::new();
        let mut i = line.start;
        let mut open = false;
        while i < line.end {
            match b[i] {
                b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' => i += 1,
                // A continuation after `import` or a comma: the names read as written.
                b'\\' if matches!(b.get(i + 1), Some(b'\n' | b'\r')) => {
                    let is_import =
                        |t: &Tok| matches!(*t, Tok::Name(s, e) if &b[s..e] == b"import");
                    let after = match out.last() {
                        Some(Tok::Comma) => true,
                        Some(t) => is_import(t),
                        None => false,
                    };
                    if !(after && out.iter().any(is_import)) {
                        return None;
                    }
                    i += 1;
                }
                b'#' => i += memchr::memchr(b'\n', &b[i..line.end]).unwrap_or(line.end - i),
                b'.' => {
                    out.push(Tok::Dot);
                    i += 1;
                }
                b',' => {
                    out.push(Tok::Comma);
                    i += 1;
                }
                b'(' if !open => {
                    open = true;
                    out.push(Tok::Open);
                    i += 1;
                }
                b')' if open => {
                    open = false;
                    out.push(Tok::Close(i + 1));
                    i += 1;
                }
                b'*' => {
                    out.push(Tok::Star(i + 1));
                    i += 1;
                }
                c if is_ident_byte(c) => {
                    let n = b[i..line.end]
                        .iter()
                        .take_while(|c| is_ident_byte(**c))
                        .count();
                    out.push(Tok::Name(i, i + n));
                    i += n;
                }
                _ => return None,
            }
        }
        (!open).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `text` both ways; `true` when it needed no parse (and read the same).
    fn scanned(text: &str) -> bool {
        let walked = format!(
            "{:?}",
            ModInfo::read(text, &crate::parse::module_focus(text))
        );
        match read(text) {
            Some(info) => {
                assert_eq!(format!("{:?}", info.finish(text)), walked, "{text}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn plain_modules_read_as_the_tree_walk_reads_them() {
        for text in [
            concat!(
                "\"\"\"Doc.\"\"\"\r\n",
                "from __future__ import annotations\r\n",
                "import os, os.path as p\r\n",
                "from .m import (a, b as c,)  # why\r\n",
                "from ... import d\r\n",
                "from .. x . y import *\r\n",
                "X: int = 1\r\n",
                "Y: dict[str, int]\r\n",
                "(p, q) = 1, 2\r\n",
                "[r, *s] = t == u\r\n",
                "u, = v <= w\r\n",
                "__all__ = ['X', \"Y\",  # why\r\n",
                "    'p',\r\n",
                "]\r\n",
                "register(X, key='=')\r\n",
                "pass\r\n",
            ),
            concat!(
                "@pytest.mark.skip(reason='x')\n",
                "def test_a(a=1):\n",
                "    '''import nothing'''\n",
                "    import missing\n",
                "    x = 1\n",
                "\n",
                "class K(Base):\n",
                "    import json\n",
                "    def m(self):\n",
                "        from .a import b\n",
                "        if b:\n",
                "            pass\n",
                "        else:\n",
                "            return 2\n",
                "\n",
                "class E(Exception): pass\n",
                "async def g():\n",
                "    return 1\n",
                "def __getattr__(name):\n",
                "    return name\n",
            ),
            "__all__ = ()\nprint('x')\nsys.path.insert(0, '.')\nsys.x = 1\n",
            concat!(
                "from a import b, \\\n    c\n",
                "try:\n",
                "    import d\n",
                "except (ImportError, OSError) as e:\n",
                "    d = None\n",
                "else:\n",
                "    from . import e\n",
                "finally:\n",
                "    f = 1\n",
                "if TYPE_CHECKING:  # only for types\n",
                "    from g import G\n",
                "elif sys.version_info > (3,):\n",
                "    import h\n",
                "else:\n",
                "    h = None\n",
                "for i, j in pairs:\n",
                "    k = i\n",
                "with suppress(ImportError):\n",
                "    import m\n",
                "def n():\n",
                "    try:\n",
                "        import o\n",
                "    except Exception:\n",
                "        pass\n",
                "    while True:\n",
                "        import p\n",
                "    with q() as r:\n",
                "        import s\n",
                "if __name__ == '__main__':\n",
                "    import t\n",
            ),
        ] {
            assert!(scanned(text), "{text}");
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_parser() {
        for text in [
            "def f(): import os\n",
            "def f():\n    if x: import os\n",
            "def f():\n    x = 1; import os\n",
            "with open(f) as g:\n    pass\n",
            "match x:\n    case 1:\n        import y\n",
            "from a.\\\n    b import c\n",
            "def f():\n    global g\n",
            "global g\n",
            "x = y = 1\n",
            "x += 1\n",
            "x <<= 1\n",
            "a[0] = 1\n",
            "x = 1; y = 2\n",
            "n = (m := 1)\n",
            "x = \\\n    1\n",
            "__all__ = base + ['a']\n",
            "__all__ += ['a']\n",
            "__all__ = ['a' 'b']\n",
            "__all__ = ('a')\n",
            "__all__.append('a')\n",
            "print 'x'\n",
            "del x\n",
            "from x import a,\n",
            "from x import\n",
            "import a.b as c.d\n",
            "import (a)\n",
            "@decorator\nx = 1\n",
            "f()()\n",
        ] {
            assert!(read(text).is_none(), "{text}");
            scanned(text);
        }
    }
}
