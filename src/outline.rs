//! Partial parsing: tree-sitter parses the parts of a file an action looks at, not the
//! rest.
//!
//! Most of a run's time goes to parsing the files that pass a recipe's prefilter, and an
//! action often needs only a little of such a file: hoist-imports reads import
//! statements, the names they bind and some module-level code, never the body of a
//! function without a local import. An action says what it reads (its [`Focus`]:
//! anchors, and words that matter inside anchored functions); [`mask`] finds what can
//! go: the body of every `def`/`class` without an anchor (and, unless the focus keeps
//! module level whole, the whole definition when its name is not a word), and the runs
//! of statements with neither an anchor nor a word (see [`mask`] for the rules). tree-sitter parses
//! the [`Masked::compact`] text, where a `0` stands for each run, and the elided bytes
//! are then inserted back into the tree as edits ([`Masked::expansions`]), so every node
//! has its offsets and points in the file: node ranges, positions and edits mean the
//! same as with a whole parse.
//!
//! The scan that finds the statements follows Python's logical lines: strings
//! (triple-quoted, prefixed, f-strings with nested quotes), comments, brackets and
//! backslash continuations; a tab in indentation counts 8 columns, as tree-sitter-python
//! counts it. When it meets anything it does not follow (a tab after a space in
//! indentation, a form feed, a lone carriage return, an unterminated string, unbalanced
//! brackets), it gives up and the file is parsed whole; it is also parsed whole when the
//! partial tree has an error, or (in the engine) when an edit would touch an elided part.

use std::ops::Range;

/// A file with the parts its actions do not look at elided.
#[derive(Debug, Clone)]
pub struct Masked {
    /// The file with a `0` where each elided run of statements begins: same length,
    /// lines and offsets.
    pub text: String,
    /// The elided parts, in order.
    pub regions: Vec<Region>,
}

/// One elided part of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// The statements (or the docstring) it stands for.
    pub whole: Range<usize>,
    /// What tree-sitter does not read of them: all but the `0` of a run of statements,
    /// all but the prefix and quotes of a docstring.
    pub elided: Range<usize>,
    /// The byte that stands for it in the copy, at `whole.start` (the rest of `whole`
    /// is elided): `0` for a run of statements or a value, `)` for a parameter list;
    /// none for a docstring or a comment.
    pub mark: Option<u8>,
}

impl Region {
    /// A run of statements (or a value), which a `0` stands for.
    fn statements(whole: Range<usize>) -> Region {
        Region {
            elided: whole.start + 1..whole.end,
            whole,
            mark: Some(b'0'),
        }
    }
}

impl Masked {
    /// Does any of `edits` (offsets in the file) touch an elided part? Such an edit
    /// needs the whole tree.
    pub fn touches(&self, edits: &[crate::edit::Edit]) -> bool {
        edits.iter().any(|e| {
            let r = &e.range;
            self.regions.iter().any(|m| {
                let m = &m.whole;
                if r.is_empty() {
                    m.start < r.start && r.start < m.end
                } else {
                    r.start < m.end && m.start < r.end
                }
            })
        })
    }

    fn elided(&self) -> impl Iterator<Item = &Range<usize>> {
        self.regions
            .iter()
            .map(|r| &r.elided)
            .filter(|r| !r.is_empty())
    }

    /// Where offset `at` of the file (outside the elided parts) is in
    /// [`Masked::compact`].
    pub fn to_compact(&self, at: usize) -> usize {
        at - self
            .elided()
            .take_while(|r| r.end <= at)
            .map(|r| r.len())
            .sum::<usize>()
    }

    /// The text tree-sitter parses: the copy without the elided parts.
    pub fn compact(&self) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut from = 0;
        for r in self.elided() {
            out.push_str(&self.text[from..r.start]);
            from = r.end;
        }
        out.push_str(&self.text[from..]);
        out
    }

    /// The edits that turn the tree of [`Masked::compact`] into a tree of the file: each
    /// elided part inserted back, in order, so that every node has its offsets and
    /// points in the file (the `0` of a run spans the run; a docstring's opening quote
    /// spans its text).
    pub fn expansions(&self) -> Vec<tree_sitter::InputEdit> {
        let b = self.text.as_bytes();
        let mut row = 0;
        let mut counted = 0;
        let mut point = |at: usize| {
            row += memchr::memchr_iter(b'\n', &b[counted..at]).count();
            counted = at;
            let line_start = memchr::memrchr(b'\n', &b[..at]).map_or(0, |i| i + 1);
            tree_sitter::Point {
                row,
                column: at - line_start,
            }
        };
        self.elided()
            .map(|r| {
                let from = point(r.start);
                tree_sitter::InputEdit {
                    start_byte: r.start,
                    old_end_byte: r.start,
                    new_end_byte: r.end,
                    start_position: from,
                    old_end_position: from,
                    new_end_position: point(r.end),
                }
            })
            .collect()
    }

    /// The copy after `edits` (sorted, non-overlapping, none touching an elided part)
    /// are applied to it and to the file alike.
    pub fn apply(&self, edits: &[crate::edit::Edit]) -> Masked {
        let text = crate::edit::apply(&self.text, edits);
        // A start moves with every edit before it, an insertion right at it included;
        // an end does not take in an insertion right at it.
        let shift = |at: usize, end: bool| -> usize {
            let mut out = at as isize;
            for e in edits
                .iter()
                .filter(|e| e.range.end <= at && !(end && e.range.start == at))
            {
                out += e.content.len() as isize - e.range.len() as isize;
            }
            out.max(0) as usize
        };
        let regions = self
            .regions
            .iter()
            .map(|m| Region {
                whole: shift(m.whole.start, false)..shift(m.whole.end, true),
                elided: shift(m.elided.start, false)..shift(m.elided.end, true),
                mark: m.mark,
            })
            .collect();
        Masked { text, regions }
    }
}

/// The places of a file an action looks at beyond module-level code.
#[derive(Debug, Clone, Default)]
pub struct Focus<'a> {
    /// Sorted offsets of what makes a `def` or `class` worth parsing at all (for
    /// hoist-imports: its imports).
    pub anchors: Vec<usize>,
    /// Identifiers that matter (for hoist-imports: the names the imports bind): a
    /// statement with no anchor and none of these is elided, and so is a definition
    /// outside functions with no anchor that binds none of these.
    pub words: std::collections::HashSet<&'a [u8]>,
    /// What stays beyond the anchors and words.
    pub keep: Keep,
    /// The reader looks at what statements bind and import, never at values: outside
    /// the elided parts, a module-level assignment's value (`x = 0`), parameter lists
    /// (`def f():`), class bases (`class C():`) and the text of comments go too.
    pub bindings_only: bool,
}

/// How much of a file a [`Focus`] keeps besides its anchors and words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Keep {
    /// Only what the anchors and words reach (and what holds them, and the module's
    /// first statement).
    #[default]
    Focused,
    /// Module level whole; inside classes and functions, as [`Keep::Focused`].
    ModuleLevel,
    /// Everything but the bodies of definitions without an anchor.
    Whole,
}

impl<'a> Focus<'a> {
    /// Both of `self` and of `other`.
    pub fn merge(&mut self, other: Focus<'a>) {
        self.anchors.extend(other.anchors);
        self.anchors.sort_unstable();
        self.words.extend(other.words);
        self.keep = self.keep.max(other.keep);
        self.bindings_only &= other.bindings_only;
    }
}

/// Elides from `text` what `focus` does not need (with [`Keep::Focused`]; the other
/// levels keep more, see [`Keep`]): the body of every `def`/`class` that contains no
/// anchor (an anchor inside a statement that is a string alone does not count); inside
/// a function that does, every run of statements with neither an anchor nor a word; the
/// text of every docstring (an empty string of the same extent stays: it is still a
/// docstring); at module and class level, every run of simple statements (assignments,
/// calls, ...) with neither, and of definitions with no anchor whose name is not a word
/// (what such a definition means to the focus is the name it binds). The module's first
/// statement, compound statements outside functions, and the headers of kept
/// definitions always stay. `None` when nothing would be elided or the scan gives up.
pub fn mask(text: &str, focus: &Focus<'_>) -> Option<Masked> {
    let mut comments = Vec::new();
    let lines = logical_lines(
        text.as_bytes(),
        focus.bindings_only.then_some(&mut comments),
    )?;
    if lines.first().is_some_and(|l| l.indent != 0) || dedent_mismatch(&lines) {
        return None;
    }
    let mut first_bytes = [false; 256];
    for w in &focus.words {
        if let Some(c) = w.first() {
            first_bytes[usize::from(*c)] = true;
        }
    }
    // An anchor inside a statement that is a string alone (a docstring, a doctest's
    // `>>> import x`) marks nothing a reader looks for, unless everything is kept.
    let strings: Vec<Range<usize>> = if focus.keep == Keep::Whole {
        Vec::new()
    } else {
        lines
            .iter()
            .filter(|l| l.kind == Kind::Str && within(&focus.anchors, &(l.start..l.end)))
            .filter_map(|l| lone_string(text.as_bytes(), l))
            .collect()
    };
    let anchors: Vec<usize> = if strings.is_empty() {
        Vec::new()
    } else {
        let mut s = strings.iter().peekable();
        focus
            .anchors
            .iter()
            .copied()
            .filter(|&a| {
                while s.next_if(|r| r.end <= a).is_some() {}
                s.peek().is_none_or(|r| r.start > a)
            })
            .collect()
    };
    let mut masker = Masker {
        text: text.as_bytes(),
        lines: &lines,
        focus,
        anchors: if strings.is_empty() {
            &focus.anchors
        } else {
            &anchors
        },
        details: Vec::new(),
        scanned_to: 0,
        first_bytes,
        regions: Vec::new(),
    };
    masker.block(0, lines.len(), Level::Module, 0)?;
    let mut regions = masker.regions;
    if !comments.is_empty() {
        add_comments(&mut regions, text.as_bytes(), &comments);
    }
    if regions.is_empty() {
        return None;
    }
    // The parser reads only the mark of a region (see [`Masked::compact`]); the rest of
    // the character it replaces becomes spaces so that the copy stays UTF-8.
    let mut bytes = text.as_bytes().to_vec();
    for r in &regions {
        let Some(mark) = r.mark else { continue };
        let at = r.whole.start;
        let first = text[at..].chars().next().map_or(1, char::len_utf8);
        bytes[at] = mark;
        for b in &mut bytes[at + 1..at + first] {
            *b = b' ';
        }
    }
    let text = String::from_utf8(bytes).ok()?;
    Some(Masked { text, regions })
}

/// Adds to `regions` (sorted, apart) the text after the `#` of each comment (at the
/// sorted offsets `comments`) that no region holds.
fn add_comments(regions: &mut Vec<Region>, b: &[u8], comments: &[usize]) {
    let mut out = Vec::with_capacity(regions.len() + comments.len());
    let mut held = regions.drain(..).peekable();
    for &c in comments {
        while let Some(r) = held.next_if(|r| r.whole.end <= c) {
            out.push(r);
        }
        if held.peek().is_some_and(|r| r.whole.start <= c) {
            continue;
        }
        let mut end = memchr::memchr(b'\n', &b[c..]).map_or(b.len(), |k| c + k);
        if end > c && b[end - 1] == b'\r' {
            end -= 1;
        }
        if end > c + 1 {
            out.push(Region {
                whole: c..end,
                elided: c + 1..end,
                mark: None,
            });
        }
    }
    out.extend(held);
    *regions = out;
}

/// Is one of `sorted` in `span`?
pub(crate) fn within(sorted: &[usize], span: &Range<usize>) -> bool {
    let first = sorted.partition_point(|&f| f < span.start);
    sorted.get(first).is_some_and(|&f| f < span.end)
}

/// Where a block is: what its statements bind matters differently at each level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Module,
    Class,
    Function,
}

/// How deep blocks may nest before the scan gives up (the parse would be deep too).
const MAX_DEPTH: usize = 100;

struct Masker<'a> {
    text: &'a [u8],
    lines: &'a [Line],
    focus: &'a Focus<'a>,
    /// The focus's anchors that count (sorted).
    anchors: &'a [usize],
    /// Sorted offsets of the focus words in the definitions entered so far.
    details: Vec<usize>,
    /// Where the definitions scanned for words so far end.
    scanned_to: usize,
    /// A table of the first bytes of the focus words.
    first_bytes: [bool; 256],
    regions: Vec<Region>,
}

impl Masker<'_> {
    fn anchored(&self, span: &Range<usize>) -> bool {
        within(self.anchors, span)
    }

    fn focused(&self, span: &Range<usize>) -> bool {
        within(self.anchors, span) || within(&self.details, span)
    }

    /// Notes where the focus words occur in `span`, a definition being entered.
    fn find_words(&mut self, span: &Range<usize>) {
        if self.focus.words.is_empty() || span.start < self.scanned_to {
            return;
        }
        self.scanned_to = span.end;
        let b = &self.text[..span.end];
        let mut i = span.start;
        while i < b.len() {
            let c = b[i];
            if !is_ident_byte(c) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && is_ident_byte(b[i]) {
                i += 1;
            }
            if self.first_bytes[usize::from(c)] && self.focus.words.contains(&b[start..i]) {
                self.details.push(start);
            }
        }
    }

    fn span(&self, from: usize, to: usize) -> Range<usize> {
        self.lines[from].start..self.lines[to - 1].end
    }

    /// The statements of the block `lines[from..to]`.
    fn block(&mut self, from: usize, to: usize, level: Level, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let Some(base) = self.lines[..to].get(from).map(|l| l.indent) else {
            return Some(());
        };
        let mut run: Option<Range<usize>> = None;
        let mut k = from;
        while k < to {
            if self.lines[k].indent != base {
                return None;
            }
            let end = self.statement_end(k, to, base);
            let span = self.span(k, end);
            let kind = self.lines[k].kind;
            // Outside functions only simple statements go (a definition or a compound
            // statement stays, for what it binds), and never the module's first.
            let simple = kind == Kind::Other && !self.lines[k].opens_block && end == k + 1;
            let first_in_module = level == Level::Module && depth == 0 && k == from;
            if level != Level::Function && simple && !first_in_module {
                self.find_words(&span);
            }
            let focused = self.focused(&span);
            let keep = self.focus.keep;
            // The text of a docstring goes too (any string alone first in a block: what
            // stays is still a string).
            let docstring = k == from && kind == Kind::Str && keep != Keep::Whole;
            let focused_level = match level {
                Level::Function => true,
                Level::Class => keep != Keep::Whole,
                Level::Module => keep == Keep::Focused,
            };
            let elide = !focused
                && match level {
                    Level::Function => keep != Keep::Whole && kind != Kind::Case,
                    Level::Module | Level::Class => {
                        focused_level
                            && !first_in_module
                            && (simple || self.unread_definition(k, end))
                    }
                };
            if docstring {
                self.regions
                    .extend(self.docstring(&self.lines[k], end == k + 1));
            } else if elide {
                // A run spans what lies between its statements too (comments): a
                // focus there ends it.
                run = match run {
                    Some(r) if !self.focused(&(r.end..span.start)) => Some(r.start..span.end),
                    other => {
                        self.regions.extend(other.map(Region::statements));
                        Some(span.clone())
                    }
                };
            } else {
                self.regions.extend(run.take().map(Region::statements));
                if simple && level == Level::Module && !first_in_module && self.focus.bindings_only
                {
                    self.regions.extend(value(self.text, &self.lines[k]));
                }
                if focused || level != Level::Function || kind == Kind::Case {
                    self.clauses(k, end, level, depth)?;
                }
            }
            k = end;
        }
        self.regions.extend(run.map(Region::statements));
        Some(())
    }

    /// Is `lines[k..end]` a definition (decorators included) that only binds a name the
    /// focus does not care about? Outside functions (where no anchor is, what a
    /// definition binds is its name) it then goes whole, header and all.
    fn unread_definition(&self, k: usize, end: usize) -> bool {
        let Some(def) = self.lines[k..end]
            .iter()
            .find(|l| l.kind != Kind::Decorator)
            .filter(|l| matches!(l.kind, Kind::Def | Kind::Class))
        else {
            return false;
        };
        let name = definition_name(self.text, def);
        !name.is_empty() && !self.focus.words.contains(&self.text[name])
    }

    /// The text of a docstring, when the statement is one string literal alone: all
    /// but its prefix, its first quote and its last.
    fn docstring(&self, line: &Line, alone: bool) -> Option<Region> {
        let whole = lone_string(self.text, line).filter(|_| alone)?;
        let prefix = self.text[whole.clone()]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        Some(Region {
            elided: whole.start + prefix + 1..whole.end - 1,
            whole,
            mark: None,
        })
    }

    /// Past the last line of the statement that starts at `lines[k]`: its body, its
    /// `elif`/`else`/`except`/`finally` clauses, the definition after its decorators.
    fn statement_end(&self, k: usize, to: usize, base: usize) -> usize {
        let mut decorator = self.lines[k].kind == Kind::Decorator;
        let mut e = k + 1;
        loop {
            while e < to && self.lines[e].indent > base {
                e += 1;
            }
            let Some(next) = self.lines[..to].get(e) else {
                return e;
            };
            let more = next.kind == Kind::Clause
                || (decorator && matches!(next.kind, Kind::Def | Kind::Class | Kind::Decorator));
            if !more {
                return e;
            }
            decorator = next.kind == Kind::Decorator;
            e += 1;
        }
    }

    /// The blocks of the statement `lines[k..end]`, each by what opens it.
    fn clauses(&mut self, k: usize, end: usize, level: Level, depth: usize) -> Option<()> {
        let mut h = k;
        while h < end {
            let header = &self.lines[h];
            if !header.opens_block {
                h += 1;
                continue;
            }
            let mut b = h + 1;
            while b < end && self.lines[b].indent > header.indent {
                b += 1;
            }
            if b == h + 1 {
                // A block header without an indented body: not valid Python.
                return None;
            }
            let body = self.span(h + 1, b);
            if self.focus.bindings_only && matches!(header.kind, Kind::Def | Kind::Class) {
                self.regions.extend(parameters(self.text, header));
            }
            match header.kind {
                Kind::Def | Kind::Class if level != Level::Function && !self.anchored(&body) => {
                    self.regions.push(Region::statements(body));
                }
                Kind::Def if level != Level::Function && self.focus.keep == Keep::Whole => {}
                Kind::Def if level != Level::Function => {
                    self.find_words(&body);
                    self.block(h + 1, b, Level::Function, depth + 1)?;
                }
                Kind::Def => self.block(h + 1, b, Level::Function, depth + 1)?,
                Kind::Class => self.block(h + 1, b, Level::Class, depth + 1)?,
                _ => self.block(h + 1, b, level, depth + 1)?,
            }
            h = b;
        }
        Some(())
    }
}

/// Calls `f(offset, byte, depth)` for each byte of code in `b[range]`: outside strings
/// (a string is one call, at its opening quote) and comments, with the bracket depth
/// inside it (an opening bracket counts in, a closing one out), starting at `depth`.
/// Returns where it stopped: at a comment outside brackets, where `f` said to break,
/// or at the end; `None` for a string that does not end or a bracket closed too often.
pub(crate) fn scan_code(
    b: &[u8],
    range: Range<usize>,
    mut depth: usize,
    mut f: impl FnMut(usize, u8, usize) -> std::ops::ControlFlow<()>,
) -> Option<usize> {
    let mut i = range.start;
    while i < range.end {
        let c = b[i];
        match c {
            b'"' | b'\'' => {
                if f(i, c, depth).is_break() {
                    return Some(i);
                }
                i = skip_string(b, i, 0)?;
                continue;
            }
            b'#' if depth == 0 => return Some(i),
            b'#' => {
                i += memchr::memchr(b'\n', &b[i..range.end])?;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.checked_sub(1)?,
            _ => {}
        }
        if f(i, c, depth).is_break() {
            return Some(i);
        }
        i += 1;
    }
    Some(range.end)
}

/// Is the `=` at `i` an assignment's, not part of `==`, `!=`, `<=`, `>=`, `:=` or an
/// augmented assignment (`+=`, `<<=`, ...)?
pub(crate) fn is_plain_eq(b: &[u8], i: usize) -> bool {
    b.get(i + 1) != Some(&b'=') && (i == 0 || !b"=!<>+-*/%&|^@:".contains(&b[i - 1]))
}

/// The value of an assignment `line` at module level, for a reader of what it binds: a
/// statement with one plain `=` outside brackets and strings (not a chain `a = b = 1`,
/// nor `f = lambda x=1: x`), none after a `;`, no `:=` anywhere (it binds) and no
/// `__all__` before it (whose value is read).
fn value(b: &[u8], line: &Line) -> Option<Region> {
    let s = &b[line.start..line.end];
    if memchr::memmem::find(s, b":=").is_some() {
        return None;
    }
    let mut eq = None;
    let mut other = false;
    scan_code(b, line.start..line.end, 0, |i, c, depth| {
        let plain = depth == 0 && c == b'=' && is_plain_eq(b, i);
        if (depth == 0 && c == b';') || (plain && eq.replace(i).is_some()) {
            other = true;
            return std::ops::ControlFlow::Break(());
        }
        std::ops::ControlFlow::Continue(())
    })?;
    if other {
        return None;
    }
    let eq = eq?;
    let target = &b[line.start..eq];
    if memchr::memmem::find(target, b"__all__").is_some() {
        return None;
    }
    let start = eq
        + 1
        + b[eq + 1..line.end]
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t'))
            .count();
    let end = line.end - usize::from(b[line.end - 1] == b'\r');
    (end > start + 1).then(|| Region::statements(start..end))
}

/// The parameter list (or bases) of the `def` or `class` header `line`, for a reader of
/// what it binds: all of it but `()` goes. `None` when it is empty, or the name has
/// type parameters.
fn parameters(b: &[u8], line: &Line) -> Option<Region> {
    let name = definition_name(b, line);
    let open = name.end
        + b[name.end..line.end]
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t'))
            .count();
    if b.get(open) != Some(&b'(') || open >= line.end {
        return None;
    }
    // Where the mark goes: the first byte inside that is not blank, a comment or a
    // continuation, so that the copy keeps its lines.
    let mut mark = open + 1;
    loop {
        match b.get(mark)? {
            b' ' | b'\t' | b'\r' | b'\n' | b'\\' => mark += 1,
            b'#' => mark = memchr::memchr(b'\n', &b[mark..]).map(|k| mark + k)?,
            b')' => return None,
            _ => break,
        }
    }
    let close = scan_code(b, mark..line.end, 1, |_, c, depth| {
        if depth == 0 && matches!(c, b')' | b']' | b'}') {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })?;
    (b.get(close) == Some(&b')') && close < line.end).then(|| Region {
        whole: mark..close + 1,
        elided: mark + 1..close + 1,
        mark: Some(b')'),
    })
}

/// Where the name is in the `def` or `class` header `line` (after `async`, `def` or
/// `class`); empty when there is none.
pub(crate) fn definition_name(b: &[u8], line: &Line) -> Range<usize> {
    let mut i = line.start;
    for keyword in [&b"async"[..], b"def", b"class"] {
        if starts_with_word(&b[i..line.end], keyword) {
            i += keyword.len();
            i += b[i..line.end]
                .iter()
                .take_while(|c| c.is_ascii_whitespace())
                .count();
        }
    }
    let len = b[i..line.end]
        .iter()
        .take_while(|c| is_ident_byte(**c))
        .count();
    i..i + len
}

/// The string literal of `line` (its prefix included), when the line is that string
/// alone (and perhaps a comment).
pub(crate) fn lone_string(b: &[u8], line: &Line) -> Option<Range<usize>> {
    let prefix = b[line.start..line.end]
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    let quote = line.start + prefix;
    let end = skip_string(b, quote, 0)?;
    let rest = b[end..line.end].trim_ascii();
    ((rest.is_empty() || rest.starts_with(b"#")) && end >= quote + 2).then_some(line.start..end)
}

/// A line dedented to a column no enclosing line has. CPython refuses the file
/// ("unindent does not match any outer indentation level"); tree-sitter reads it
/// leniently, but one way whole and another once parts are masked, so such a file is
/// parsed whole.
fn dedent_mismatch(lines: &[Line]) -> bool {
    let mut stack = vec![0usize];
    for l in lines {
        let mut top = stack.last().copied().unwrap_or(0);
        if l.indent > top {
            stack.push(l.indent);
            continue;
        }
        while l.indent < top {
            stack.pop();
            top = stack.last().copied().unwrap_or(0);
        }
        if l.indent != top {
            return true;
        }
    }
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Def,
    Class,
    /// `@...`: part of the definition after it.
    Decorator,
    /// `elif`, `else`, `except`, `finally`: part of the statement before it.
    Clause,
    /// `case ...:`, a clause of `match`, never a statement of its own.
    Case,
    /// Starts with a string: a docstring when first in a body.
    Str,
    Other,
}

/// One logical line: from its first token to the line break that ends it.
#[derive(Debug)]
pub(crate) struct Line {
    pub start: usize,
    pub end: usize,
    pub indent: usize,
    pub kind: Kind,
    /// Ends with `:`: a compound statement whose body is on the following lines.
    pub opens_block: bool,
}

/// How deep f-strings may nest before the scan gives up.
const MAX_NESTING: usize = 32;

/// The bytes that mean nothing to [`logical_lines`] but "not blank": neither white
/// space, nor a bracket, quote, comment, backslash or line break.
static PLAIN: [bool; 256] = {
    let mut t = [true; 256];
    let special = b" \t\x0c\r\n#\\()[]{}\"'";
    let mut k = 0;
    while k < special.len() {
        t[special[k] as usize] = false;
        k += 1;
    }
    t
};

/// The logical lines of `b`; with `comments`, the offset of each comment's `#` too.
pub(crate) fn logical_lines(b: &[u8], mut comments: Option<&mut Vec<usize>>) -> Option<Vec<Line>> {
    let n = b.len();
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        // The start of a physical line outside any logical line: indentation first.
        // Tabs count 8 columns, as tree-sitter-python counts them; that agrees with
        // Python (to the next multiple of 8) only while no space comes before a tab,
        // so a tab after a space gives up below.
        let mut indent = 0;
        let mut spaced = false;
        while let Some(&c) = b.get(i) {
            match c {
                b' ' => {
                    indent += 1;
                    spaced = true;
                }
                b'\t' if !spaced => indent += 8,
                _ => break,
            }
            i += 1;
        }
        match b.get(i) {
            None => break,
            Some(b'\n') => {
                i += 1;
                continue;
            }
            Some(b'\r') if b.get(i + 1) == Some(&b'\n') => {
                i += 2;
                continue;
            }
            Some(b'#') => {
                if let Some(c) = comments.as_deref_mut() {
                    c.push(i);
                }
                i = memchr::memchr(b'\n', &b[i..]).map_or(n, |k| i + k + 1);
                continue;
            }
            Some(b'\t' | b'\x0c' | b'\r' | b'\\') => return None,
            Some(_) => {}
        }
        let start = i;
        let mut depth = 0usize;
        let mut last = 0u8;
        let end = loop {
            let Some(&c) = b.get(i) else {
                if depth != 0 {
                    return None;
                }
                break n;
            };
            match c {
                b'\n' if depth == 0 => {
                    let end = i;
                    i += 1;
                    break end;
                }
                b'\r' if b.get(i + 1) != Some(&b'\n') => return None,
                b'#' => {
                    if let Some(c) = comments.as_deref_mut() {
                        c.push(i);
                    }
                    i = memchr::memchr(b'\n', &b[i..]).map_or(n, |k| i + k);
                }
                b'\\' => match b.get(i + 1) {
                    Some(b'\n') => i += 2,
                    Some(b'\r') if b.get(i + 2) == Some(&b'\n') => i += 3,
                    _ => {
                        last = c;
                        i += 1;
                    }
                },
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    last = c;
                    i += 1;
                }
                b')' | b']' | b'}' => {
                    depth = depth.checked_sub(1)?;
                    last = c;
                    i += 1;
                }
                b'"' | b'\'' => {
                    i = skip_string(b, i, 0)?;
                    last = c;
                }
                b' ' | b'\t' | b'\x0c' | b'\r' | b'\n' => i += 1,
                _ => {
                    // A run of bytes that are none of the above: skipped in one go.
                    i += 1 + b[i + 1..]
                        .iter()
                        .take_while(|&&c| PLAIN[usize::from(c)])
                        .count();
                    last = b[i - 1];
                }
            }
        };
        let head = &b[start..end];
        let kind = kind_of(head, last == b':');
        lines.push(Line {
            start,
            end,
            indent,
            kind,
            opens_block: last == b':',
        });
    }
    Some(lines)
}

fn kind_of(head: &[u8], opens_block: bool) -> Kind {
    let word = |w: &[u8]| starts_with_word(head, w);
    if word(b"def") {
        Kind::Def
    } else if word(b"class") {
        Kind::Class
    } else if word(b"async") && starts_with_word(head[5..].trim_ascii_start(), b"def") {
        Kind::Def
    } else if head.starts_with(b"@") {
        Kind::Decorator
    } else if opens_block && (word(b"elif") || word(b"else") || word(b"except") || word(b"finally"))
    {
        Kind::Clause
    } else if opens_block && word(b"case") {
        Kind::Case
    } else {
        let prefix = head
            .iter()
            .take_while(|c| b"rRbBuUfFtT".contains(c))
            .count();
        if prefix <= 2 && matches!(head.get(prefix), Some(b'"' | b'\'')) {
            Kind::Str
        } else {
            Kind::Other
        }
    }
}

pub(crate) fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

pub(crate) fn starts_with_word(s: &[u8], word: &[u8]) -> bool {
    s.starts_with(word)
        && s.get(word.len())
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
}

/// Is the string whose quote is at `q` an f-string (or a t-string)? Its prefix says.
fn is_formatted(b: &[u8], q: usize) -> bool {
    let mut k = q;
    while k > 0 && q - k < 2 && b[k - 1].is_ascii_alphabetic() {
        k -= 1;
    }
    let prefix = &b[k..q];
    let before_is_ident =
        k > 0 && (b[k - 1].is_ascii_alphanumeric() || b[k - 1] == b'_' || b[k - 1] >= 0x80);
    !before_is_ident
        && prefix.iter().all(|c| b"rRbBuUfFtT".contains(c))
        && prefix.iter().any(|c| b"fFtT".contains(c))
}

/// The offset just past the string whose opening quote is at `q`.
pub(crate) fn skip_string(b: &[u8], q: usize, nesting: usize) -> Option<usize> {
    if nesting > MAX_NESTING {
        return None;
    }
    let quote = b[q];
    let triple = b.get(q + 1) == Some(&quote) && b.get(q + 2) == Some(&quote);
    let formatted = is_formatted(b, q);
    let mut j = q + if triple { 3 } else { 1 };
    loop {
        if triple {
            // A docstring's text: on to the next byte that can matter (a line break or
            // carriage return cannot, in a triple-quoted string).
            let rest = b.get(j..)?;
            j += if formatted {
                memchr::memchr3(quote, b'\\', b'{', rest)
            } else {
                memchr::memchr2(quote, b'\\', rest)
            }?;
        }
        let c = *b.get(j)?;
        match c {
            // Escapes the next character, in raw strings too (as far as ending goes).
            b'\\' => {
                j += if b.get(j + 1) == Some(&b'\r') && b.get(j + 2) == Some(&b'\n') {
                    3
                } else {
                    2
                };
            }
            _ if c == quote => {
                if !triple {
                    return Some(j + 1);
                }
                if b.get(j + 1) == Some(&quote) && b.get(j + 2) == Some(&quote) {
                    return Some(j + 3);
                }
                j += 1;
            }
            b'\n' | b'\r' if !triple => return None,
            b'{' if formatted => {
                if b.get(j + 1) == Some(&b'{') {
                    j += 2;
                } else {
                    j = skip_replacement(b, j + 1, nesting + 1)?;
                }
            }
            _ => j += 1,
        }
    }
}

/// The offset just past the `}` closing an f-string replacement field whose expression
/// starts at `j`.
fn skip_replacement(b: &[u8], mut j: usize, nesting: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        let c = *b.get(j)?;
        match c {
            b'{' | b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.checked_sub(1)?,
            b'}' => {
                if depth == 0 {
                    return Some(j + 1);
                }
                depth -= 1;
            }
            b'"' | b'\'' => {
                j = skip_string(b, j, nesting)?;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blanked(text: &str, focus_on: &[&str]) -> Option<String> {
        blanked_with(text, focus_on, &[])
    }

    /// [`blanked`] with focus words too.
    fn blanked_with(text: &str, focus_on: &[&str], words: &[&'static str]) -> Option<String> {
        let focus: Vec<usize> = focus_on
            .iter()
            .map(|s| text.find(s).expect("focus text"))
            .collect();
        let mut focus = focus;
        focus.sort_unstable();
        let focus = Focus {
            anchors: focus,
            words: words.iter().map(|w| w.as_bytes()).collect(),
            keep: Keep::Focused,
            bindings_only: false,
        };
        mask(text, &focus).map(|m| {
            assert_eq!(m.text.len(), text.len());
            let tree = crate::parse::parse_masked(&m).unwrap().tree;
            assert!(
                !tree.root_node().has_error(),
                "{}",
                tree.root_node().to_sexp()
            );
            seen(&m)
        })
    }

    /// A focus on the first place of each of `places` in `text`, no words.
    fn at(text: &str, places: &[&str], keep: Keep) -> Focus<'static> {
        let mut anchors: Vec<usize> = places
            .iter()
            .map(|p| text.find(p).expect("focus text"))
            .collect();
        anchors.sort_unstable();
        Focus {
            anchors,
            words: Default::default(),
            keep,
            bindings_only: false,
        }
    }

    /// The copy as the parser sees it: blanked bodies as spaces.
    fn seen(m: &Masked) -> String {
        let mut bytes = m.text.clone().into_bytes();
        for r in &m.regions {
            for b in &mut bytes[r.elided.clone()] {
                if *b != b'\n' && *b != b'\r' {
                    *b = b' ';
                }
            }
        }
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn blanks_bodies_without_focus() {
        let text = "import os\n\ndef f(x):\n    \"\"\"Doc.\"\"\"\n    return x\n\ndef g():\n    import json\n    return json\n";
        // `f` is a focus word: the definition stays for the name it binds.
        let out = blanked_with(text, &["import json"], &["f"]).unwrap();
        assert_eq!(
            out,
            "import os\n\ndef f(x):\n    0         \n            \n\ndef g():\n    import json\n    0          \n"
        );
    }

    #[test]
    fn definitions_without_focus_go_whole_outside_functions() {
        let text = concat!(
            "\"\"\"Doc.\"\"\"\n",
            "@dec(1)\n",
            "def f(x, y=2):\n",
            "    return x\n",
            "\n",
            "# between\n",
            "class C(Base):\n",
            "    a = 1\n",
            "\n",
            "async def g():\n",
            "    import os\n",
        );
        let out = blanked(text, &["import os"]).unwrap();
        // Decorators, headers, bodies and what lies between: one run.
        let run_end = text.find("async").unwrap();
        let expected = format!(
            "\"        \"\n0{}async def g():\n    import os\n",
            seen_blank(&text[text.find('@').unwrap() + 1..run_end])
        );
        assert_eq!(out, expected);
        // A definition of a focus word stays, its body elided.
        let out = blanked_with(text, &["import os"], &["C"]).unwrap();
        assert!(out.contains("class C(Base):\n    0    \n"), "{out}");
        assert!(!out.contains("def f"), "{out}");
    }

    /// `text` as [`seen`] shows an elided part: spaces, line breaks kept.
    fn seen_blank(text: &str) -> String {
        text.chars()
            .map(|c| if c == '\n' { c } else { ' ' })
            .collect()
    }

    #[test]
    fn in_a_function_with_a_focus_runs_of_other_statements_go() {
        let text = concat!(
            "def f():\n",
            "    \"\"\"Doc.\"\"\"\n",
            "    a = 1\n",
            "    @dec\n",
            "    def g():\n",
            "        pass\n",
            "    if a:\n",
            "        b = 2\n",
            "        import os\n",
            "        c = 3\n",
            "    elif b:\n",
            "        d = 4\n",
            "    else:\n",
            "        e = 5\n",
            "    match a:\n",
            "        case 1:\n",
            "            f = 6\n",
            "        case _:\n",
            "            os.x = 7\n",
            "    return os\n",
        );
        let out = blanked(text, &["import os", "os.x", "return os"]).unwrap();
        let expected = concat!(
            "def f():\n",
            "    \"        \"\n",
            "    0    \n",
            "        \n",
            "            \n",
            "            \n",
            "    if a:\n",
            "        0    \n",
            "        import os\n",
            "        0    \n",
            "    elif b:\n",
            "        0    \n",
            "    else:\n",
            "        0    \n",
            "    match a:\n",
            "        case 1:\n",
            "            0    \n",
            "        case _:\n",
            "            os.x = 7\n",
            "    return os\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn a_class_with_a_focus_keeps_its_header_and_blanks_other_methods() {
        let text = "class T:\n    x = 1\n\n    def a(self):\n        return 1\n\n    def b(self):\n        import os\n";
        let out = blanked(text, &["import os"]).unwrap();
        // A simple statement without a focus goes at class level too.
        assert!(out.contains("    0    \n"));
        assert!(out.contains("        import os\n"));
        // A method without a focus goes whole, with the statements around it.
        assert!(!out.contains("def a"), "{out}");
        let out = blanked_with(text, &["import os"], &["a"]).unwrap();
        assert!(
            out.contains("    def a(self):\n        0       \n"),
            "{out}"
        );
    }

    #[test]
    fn a_reader_of_bindings_sees_no_values_parameters_bases_or_comments() {
        let text = "# head\r\nimport os  # os\r\nx = [\r\n    1,\r\n]\r\nclass C(B):\r\n    def f(self):\r\n        import re\r\ndef g(\r\n    a,  # a\r\n):\r\n    pass\r\n";
        let focus = Focus {
            anchors: vec![text.find("import re").unwrap()],
            words: Default::default(),
            keep: Keep::ModuleLevel,
            bindings_only: true,
        };
        let m = mask(text, &focus).unwrap();
        assert_eq!(m.text.len(), text.len());
        assert_eq!(
            m.compact(),
            "#\r\nimport os  #\r\nx = 0\r\nclass C():\r\n    def f():\r\n        import re\r\ndef g(\r\n    ):\r\n    0\n"
        );
        let tree = crate::parse::parse_masked(&m).unwrap().tree;
        assert!(
            !tree.root_node().has_error(),
            "{}",
            tree.root_node().to_sexp()
        );
        // Offsets are the file's: the class name, and the import after the elided parts.
        let root = tree.root_node();
        let mut cursor = root.walk();
        let class = root
            .named_children(&mut cursor)
            .find(|n| n.kind() == "class_definition")
            .unwrap();
        let name = class.child_by_field_name("name").unwrap();
        assert_eq!(&text[name.byte_range()], "C");
        let import = text.find("import re").unwrap();
        let node = tree
            .root_node()
            .descendant_for_byte_range(import, import + 6)
            .unwrap();
        assert_eq!(node.start_byte(), import);
    }

    #[test]
    fn follows_strings_brackets_and_continuations() {
        let text = concat!(
            "def f():\n",
            "    s = '''\n",
            "def not_a_function():\n",
            "    pass\n",
            "'''\n",
            "    t = f\"{d[\"k\"]} {x:{w}} {{\"\n",
            "    u = (1,\n",
            "2)\n",
            "    v = 1 + \\\n",
            "2\n",
            "    # comment at depth\n",
            "# comment at column 0\n",
            "    return s\n",
            "x = 1\n",
        );
        let out = blanked(text, &[]).unwrap();
        assert!(out.starts_with("def f():\n    0"));
        assert!(out.ends_with("\n            \n0    \n"));
        assert!(!out.contains("comment"));
        assert!(!out.contains("not_a_function"));
    }

    #[test]
    fn the_tree_has_the_files_offsets_and_points() {
        let text = "def f():\n    r'''Doc\n    more.'''\n    a = 1\n    import os\n    b = [\n        2]\n\nx = 3\n";
        let m = mask(text, &at(text, &["import"], Keep::Focused)).unwrap();
        let tree = crate::parse::parse_masked(&m).unwrap().tree;
        let f = tree.root_node().child(0).unwrap();
        let body = f.child_by_field_name("body").unwrap();
        let doc = body.named_child(0).unwrap();
        assert_eq!(&text[doc.byte_range()], "r'''Doc\n    more.'''");
        assert_eq!(doc.named_child(0).unwrap().kind(), "string");
        let import = body.named_child(2).unwrap();
        assert_eq!(&text[import.byte_range()], "import os");
        assert_eq!(
            import.start_position(),
            tree_sitter::Point { row: 4, column: 4 }
        );
        let last = body.named_child(3).unwrap();
        assert_eq!(&text[last.byte_range()], "b = [\n        2]");
        assert_eq!(&text[f.byte_range()], &text[..text.find("\n\nx").unwrap()]);
        let x = tree.root_node().child(1).unwrap();
        assert_eq!(x.start_position(), tree_sitter::Point { row: 8, column: 0 });
        assert_eq!(&text[x.byte_range()], "x = 3");
    }

    #[test]
    fn module_level_keeps_its_first_statement_definitions_and_words() {
        let text = concat!(
            "\"\"\"Doc.\"\"\"\n",
            "a = 1\n",
            "b = 2\n",
            "if a:\n",
            "    c = 3\n",
            "name = 4\n",
            "def f():\n",
            "    import name\n",
        );
        let focus = Focus {
            anchors: vec![text.find("import").unwrap()],
            words: [&b"name"[..]].into_iter().collect(),
            keep: Keep::Focused,
            bindings_only: false,
        };
        let m = mask(text, &focus).unwrap();
        let tree = crate::parse::parse_masked(&m).unwrap().tree;
        assert!(!tree.root_node().has_error());
        assert_eq!(
            seen(&m),
            concat!(
                "\"        \"\n",
                "0    \n",
                "     \n",
                "if a:\n",
                "    0    \n",
                "name = 4\n",
                "def f():\n",
                "    import name\n",
            )
        );
    }

    #[test]
    fn edits_next_to_an_elided_part_stay_outside_it() {
        let text = "def f():\n    a = 1\n    import os\n";
        let m = mask(text, &at(text, &["import"], Keep::Focused)).unwrap();
        let run = m.regions[0].whole.clone();
        assert_eq!(&text[run.clone()], "a = 1");
        let edits = [
            crate::edit::Edit::insert(run.start, "b = 0; ", "t"),
            crate::edit::Edit::insert(run.end, "  # after", "t"),
        ];
        assert!(!m.touches(&edits));
        let next = m.apply(&edits);
        let new_text = crate::edit::apply(text, &edits);
        assert_eq!(&new_text[next.regions[0].whole.clone()], "a = 1");
        let tree = crate::parse::parse_masked(&next).unwrap().tree;
        assert!(!tree.root_node().has_error());
        assert!(next.compact().contains("# after"));
    }

    #[test]
    fn gives_up_on_what_it_does_not_follow() {
        assert!(blanked("def f():\n \treturn 1\n", &[]).is_none());
        assert!(blanked("def f():\n    return '\n", &[]).is_none());
        assert!(blanked("def f():\n    return (1\n", &[]).is_none());
        assert!(blanked("def f():\n    return '''x\n", &[]).is_none());
        assert!(blanked("def f():\n    pass\n", &["pass"]).is_none());
        assert!(blanked("", &[]).is_none());
        assert!(blanked("\n# only a comment\n", &[]).is_none());
    }

    #[test]
    fn tabs_in_indentation_count_as_tree_sitter_counts_them() {
        let text = "import os\nif os:\n\tfrom a import b\nelse:\n\tx = 1\ndef f():\n\tif x:\n\t\treturn 1\n\timport c\n\ty = 2\n";
        let m = mask(
            text,
            &at(text, &["import os", "import b", "import c"], Keep::Focused),
        )
        .unwrap();
        let tree = crate::parse::parse_masked(&m).unwrap().tree;
        assert!(!tree.root_node().has_error());
        assert_eq!(
            seen(&m),
            "import os\nif os:\n\tfrom a import b\nelse:\n\t0    \ndef f():\n\t0    \n          \n\timport c\n\t0    \n"
        );
        // The kept import inside f is where it is in the file.
        let at = text.find("import c").unwrap();
        let node = tree.root_node().descendant_for_byte_range(at, at).unwrap();
        assert_eq!(
            node.start_position(),
            tree_sitter::Point { row: 8, column: 1 }
        );
    }

    #[test]
    fn one_line_bodies_and_async_defs() {
        let text = "def f(): return 1\nasync def g():\n    await x\n";
        let out = blanked_with(text, &[], &["g"]).unwrap();
        assert_eq!(out, "def f(): return 1\nasync def g():\n    0      \n");
    }

    #[test]
    fn an_anchor_in_a_docstring_marks_nothing_unless_everything_is_kept() {
        let text = "x = 1\n\n\ndef f():\n    '''Use:\n\n    >>> import os\n    '''\n    return 1\n";
        let mut focus = at(text, &["import os"], Keep::Focused);
        let out = seen(&mask(text, &focus).unwrap());
        assert!(!out.contains("def f"), "{out}");
        // Kept whole, the anchored function stays: nothing to elide.
        focus.keep = Keep::Whole;
        assert!(mask(text, &focus).is_none());
    }

    #[test]
    fn keep_module_level_keeps_module_level_whole() {
        let text = concat!(
            "x = 1\n",
            "y = 2\n",
            "class C:\n",
            "    a = 3\n",
            "    def m(self):\n",
            "        b = 4\n",
            "        import os\n",
            "        return os\n",
            "def f():\n",
            "    return 5\n",
        );
        let m = mask(text, &at(text, &["import os"], Keep::ModuleLevel)).unwrap();
        let out = seen(&m);
        assert!(out.starts_with("x = 1\ny = 2\nclass C:\n    0    \n    def m(self):\n"));
        assert!(out.contains("        0    \n        import os\n        0        \n"));
        assert!(out.ends_with("def f():\n    0       \n"), "{out}");
    }

    #[test]
    fn crlf_keeps_line_breaks() {
        let text = "def f():\r\n    return 1\r\n\r\nx = 2\r\n";
        let out = blanked(text, &[]).unwrap();
        assert_eq!(out, "def f():\r\n    0       \r\n\r\n0    \r\n");
    }
}
