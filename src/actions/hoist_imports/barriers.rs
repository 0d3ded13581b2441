//! What runs before a local import and may change what it finds or whether it works:
//! barriers. Read from the bytes (no parse), so the same reader serves the function
//! itself (whatever the partial parse kept of it), the setup of its class, and the
//! fixtures of its file and of the `conftest.py` files above it.

use std::ops::Range;

/// Where the code read comes from: the function before the import, or setup that runs
/// before the test (setup methods, fixtures up to their `yield`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Function,
    Setup,
}

/// A barrier found: its offset in the code given and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barrier {
    pub at: usize,
    pub what: String,
}

/// Text that means the code changes where, whether or how imports work, wherever it
/// is before the import (substrings, read with comments blanked).
const CHANGES_IMPORTS: &[&str] = &[
    "sys.path",
    "syspath",
    "meta_path",
    "path_hooks",
    "path_importer_cache",
    "importlib",
    "__import__",
    "import_module",
    "invalidate_caches",
    "reload(",
    "os.environ",
    "environ[",
    "putenv",
    "unsetenv",
    "setenv",
    "delenv",
    "chdir",
    "warnings",
    "filterwarnings",
    "importorskip",
    "skip(",
    "skipTest",
    "SkipTest",
    "makepyfile",
];

/// Words that end or skip the function before the import in the function itself.
const STOPS: &[&str] = &["return", "raise"];

/// Lines touching `sys.modules` that change it (setup code that only snapshots
/// `sys.modules`, to clean up after the test, is no barrier).
const MODULES_CHANGES: &[&str] = &[
    "del ",
    ".pop(",
    ".clear(",
    ".update(",
    ".setdefault(",
    "setitem",
    "delitem",
    ".popitem(",
];

/// The first barrier in `code` (comments blanked, strings kept) for an import of
/// `modules` (their top-level names).
pub fn find(code: &str, modules: &[&str], region: Region) -> Option<Barrier> {
    let blanked = blank_comments(code);
    let b = blanked.as_bytes();
    let mut best: Option<Barrier> = None;
    let mut offer = |at: usize, what: String| {
        if best.as_ref().is_none_or(|x| at < x.at) {
            best = Some(Barrier { at, what });
        }
    };
    // In setup code, its own imports of the module are no barrier: they import what
    // the hoisted import will have imported already.
    let setup_imports = (region == Region::Setup).then(|| without_imports(&blanked));
    let mention_text = setup_imports.as_deref().unwrap_or(&blanked).as_bytes();
    for m in modules.iter().filter(|m| !m.is_empty()) {
        if let Some(at) = find_word(mention_text, m.as_bytes(), 0) {
            offer(at, format!("a mention of `{m}`"));
        }
    }
    for m in CHANGES_IMPORTS {
        if let Some(at) = blanked.find(m) {
            offer(at, format!("`{}`", m.trim_end_matches(['(', '['])));
        }
    }
    let mut from = 0;
    while let Some(at) = blanked[from..].find("sys.modules").map(|i| i + from) {
        from = at + 1;
        let line = line_of(&blanked, at);
        let changes = region == Region::Function
            || MODULES_CHANGES.iter().any(|c| line.contains(c))
            || assigns_item(line);
        if changes {
            offer(at, "`sys.modules`".to_owned());
            break;
        }
    }
    if region == Region::Function {
        for w in STOPS {
            if let Some(at) = find_word(b, w.as_bytes(), 0) {
                offer(at, format!("a `{w}`"));
            }
        }
    }
    best
}

/// `code` with the lines of one-line import statements blanked (same length).
fn without_imports(code: &str) -> String {
    code.split_inclusive('\n')
        .map(|l| {
            let t = l.trim_start();
            if (t.starts_with("import ") || t.starts_with("from ")) && !t.contains('(') {
                l.chars()
                    .map(|c| match c {
                        '\n' => "\n".to_owned(),
                        c => " ".repeat(c.len_utf8()),
                    })
                    .collect()
            } else {
                l.to_owned()
            }
        })
        .collect()
}

/// `x[...] = ...` on this line (not `==`).
fn assigns_item(line: &str) -> bool {
    line.match_indices(']').any(|(i, _)| {
        let rest = line[i + 1..].trim_start();
        rest.starts_with('=') && !rest.starts_with("==")
    })
}

fn line_of(text: &str, at: usize) -> &str {
    let s = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let e = text[at..].find('\n').map_or(text.len(), |i| at + i);
    &text[s..e]
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The first occurrence of `word` at or after `from` as a whole word, not an attribute
/// (`x.word`) of something else.
pub fn find_word(hay: &[u8], word: &[u8], from: usize) -> Option<usize> {
    let finder = memchr::memmem::Finder::new(word);
    let mut start = from;
    while let Some(i) = finder.find(&hay[start.min(hay.len())..]).map(|i| i + start) {
        let before_ok = i == 0 || !(is_ident(hay[i - 1]) || hay[i - 1] == b'.');
        let after_ok = hay.get(i + word.len()).is_none_or(|c| !is_ident(*c));
        if before_ok && after_ok {
            return Some(i);
        }
        start = i + 1;
    }
    None
}

/// `code` with every comment replaced by spaces (same length, same lines); strings kept.
pub fn blank_comments(code: &str) -> String {
    let mut out = code.as_bytes().to_vec();
    let b = code.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => i = skip_string(b, i, q),
            _ => i += 1,
        }
    }
    // Only ASCII bytes of comments became spaces, whole comments: still UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| code.to_owned())
}

/// The end of the string literal whose quote is at `i`.
fn skip_string(b: &[u8], i: usize, q: u8) -> usize {
    let triple = b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q);
    let mut j = if triple { i + 3 } else { i + 1 };
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            c if c == q => {
                if !triple {
                    return j + 1;
                }
                if b.get(j + 1) == Some(&q) && b.get(j + 2) == Some(&q) {
                    return j + 3;
                }
                j += 1;
            }
            b'\n' if !triple => return j,
            _ => j += 1,
        }
    }
    b.len()
}

/// Past a docstring at `at` (after blank lines and comments), if one starts there.
pub fn skip_docstring(text: &str, at: usize) -> usize {
    let b = text.as_bytes();
    let mut i = at;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) == Some(&b'#') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        break;
    }
    let mut j = i;
    while j < b.len() && j < i + 2 && matches!(b[j], b'r' | b'R' | b'u' | b'U' | b'b' | b'B') {
        j += 1;
    }
    match b.get(j) {
        Some(&q @ (b'"' | b'\'')) => skip_string(b, j, q),
        _ => at,
    }
}

/// Does a bare string literal start at `at` (after blank lines and comments)?
pub fn string_statement_at(text: &str, at: usize) -> bool {
    skip_docstring(text, at) != at && {
        let end = skip_docstring(text, at);
        let rest = &text[end..];
        let line = rest.split('\n').next().unwrap_or("");
        let code = line.split('#').next().unwrap_or("").trim();
        code.is_empty() || code == ";"
    }
}

/// Setup that runs before a test: a fixture, or a setup method or function.
#[derive(Debug, Clone)]
pub struct SetupDef {
    pub name: String,
    /// `@pytest.fixture` (else a setup method/function by its name).
    pub fixture: bool,
    pub autouse: bool,
    /// Indentation of the `def` (0: module level).
    pub indent: usize,
    /// Offset of the `def` line in its file.
    pub at: usize,
    /// Names of its parameters (fixtures it requests).
    pub params: Vec<String>,
    /// What runs before the test: the body, up to the first `yield` for a fixture.
    pub setup: Range<usize>,
}

/// Names of setup methods (in a class) and setup functions (at module level) that run
/// before a test.
pub const SETUP_NAMES: &[&str] = &[
    "setUp",
    "setUpClass",
    "setup_method",
    "setup_class",
    "setup",
    "setup_function",
    "setup_module",
    "setUpModule",
];

/// Every fixture and setup method/function of a file, from its lines.
pub fn read_setup_defs(text: &str) -> Vec<SetupDef> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut deco_start: Option<usize> = None;
    let mut pos = 0;
    while pos < b.len() {
        let end = memchr::memchr(b'\n', &b[pos..]).map_or(b.len(), |i| pos + i);
        let line = &text[pos..end];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let next = (end + 1).min(b.len());
        if trimmed.starts_with('@') {
            deco_start.get_or_insert(pos);
            pos = next;
            continue;
        }
        let def = trimmed
            .strip_prefix("async ")
            .map(str::trim_start)
            .unwrap_or(trimmed)
            .strip_prefix("def ");
        let Some(def) = def else {
            // Lines of a multi-line decorator keep it open; anything else closes it.
            if deco_start.is_some()
                && (trimmed.is_empty() || indent > 0 || trimmed.starts_with(')'))
            {
                if trimmed.is_empty() {
                    deco_start = None;
                }
            } else {
                deco_start = None;
            }
            pos = next;
            continue;
        };
        let decorators = deco_start.map_or("", |s| &text[s..pos]);
        deco_start = None;
        let name: String = def
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let squashed: String = decorators.chars().filter(|c| !c.is_whitespace()).collect();
        let fixture = squashed.contains("fixture");
        if !fixture && !SETUP_NAMES.contains(&name.as_str()) {
            pos = next;
            continue;
        }
        let name = fixture_name(&squashed).unwrap_or(name);
        // The parameters: from the `(` after the name to its `)`.
        let open = pos + indent + (trimmed.len() - def.len()) + def.find('(').unwrap_or(0);
        let (params, header_end) = read_params(text, open);
        let body_start = (memchr::memchr(b'\n', &b[header_end.min(b.len())..])
            .map_or(b.len(), |i| header_end + i)
            + 1)
        .min(b.len());
        let body_end = block_end(text, body_start, indent);
        let mut setup = body_start..body_end;
        if fixture {
            let blanked = blank_comments(&text[setup.clone()]);
            if let Some(y) = find_word(blanked.as_bytes(), b"yield", 0) {
                setup.end = setup.start + y;
            }
        }
        out.push(SetupDef {
            name,
            fixture,
            autouse: squashed.contains("autouse=True"),
            indent,
            at: pos,
            params,
            setup,
        });
        pos = body_start.max(next);
    }
    out
}

/// `@pytest.fixture(name="x")`: `x`.
fn fixture_name(squashed: &str) -> Option<String> {
    let i = squashed.find("name=")?;
    let before = squashed[..i].chars().last();
    if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let rest = &squashed[i + 5..];
    let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    Some(rest[..rest.find(q)?].to_owned())
}

/// The parameter names of the list opening at `open`, and the offset after its `)`.
fn read_params(text: &str, open: usize) -> (Vec<String>, usize) {
    let b = text.as_bytes();
    if b.get(open) != Some(&b'(') {
        return (Vec::new(), open);
    }
    let mut depth = 0;
    let mut i = open;
    let mut names = Vec::new();
    let mut expect_name = true;
    while i < b.len() {
        let c = b[i];
        match c {
            b'(' | b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return (names, i);
                }
            }
            b',' if depth == 1 => {
                expect_name = true;
                i += 1;
            }
            b'"' | b'\'' => i = skip_string(b, i, c),
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            _ if depth == 1 && expect_name && (c.is_ascii_alphabetic() || c == b'_') => {
                let s = i;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                names.push(text[s..i].to_owned());
                expect_name = false;
            }
            b'*' | b' ' | b'\t' | b'\n' | b'\r' | b'\\' => i += 1,
            _ => {
                if depth == 1 {
                    expect_name = false;
                }
                i += 1;
            }
        }
    }
    (names, b.len())
}

/// The end of the block whose lines start at `from`, under a header indented `indent`:
/// the first non-blank line indented no more than the header.
pub fn block_end(text: &str, from: usize, indent: usize) -> usize {
    let b = text.as_bytes();
    let mut pos = from;
    while pos < b.len() {
        let end = memchr::memchr(b'\n', &b[pos..]).map_or(b.len(), |i| pos + i);
        let line = &text[pos..end];
        let trimmed = line.trim_start();
        if !trimmed.is_empty() && !trimmed.starts_with('#') && line.len() - trimmed.len() <= indent
        {
            return pos;
        }
        pos = end + 1;
    }
    b.len()
}

/// Words in a comment next to an import that say it is local on purpose.
pub const DELIBERATE: &[&str] = &[
    "here",
    "lazy",
    "lazily",
    "local",
    "locally",
    "avoid",
    "avoids",
    "circular",
    "cycle",
    "cyclic",
    "optional",
    "optionally",
    "defer",
    "deferred",
    "delay",
    "delayed",
    "inside",
    "runtime",
    "without",
];

/// Phrases that say the same.
const DELIBERATE_PHRASES: &[&str] = &[
    "so that",
    "import time",
    "import-time",
    "run time",
    "not installed",
    "only when",
    "only if",
    "on demand",
    "must be imported",
    "needs to be imported",
];

/// The word or phrase of `comment` that says the import is local on purpose.
pub fn deliberate(comment: &str) -> Option<&'static str> {
    let lower = comment.to_ascii_lowercase();
    let b = lower.as_bytes();
    DELIBERATE
        .iter()
        .find(|w| find_word(b, w.as_bytes(), 0).is_some())
        .copied()
        .or_else(|| {
            DELIBERATE_PHRASES
                .iter()
                .find(|p| lower.contains(*p))
                .copied()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barriers() {
        let f = |code: &str, m: &[&str]| find(code, m, Region::Function).map(|b| b.what);
        assert_eq!(
            f("collections.answer = 42\n", &["collections"]).as_deref(),
            Some("a mention of `collections`")
        );
        assert_eq!(f("x = 1  # collections\n", &["collections"]), None);
        assert_eq!(
            f("hooks.when_imported('colorsys')\n", &["colorsys"]).as_deref(),
            Some("a mention of `colorsys`")
        );
        assert_eq!(f("self.colorsys = 1\n", &["colorsys"]), None);
        assert_eq!(
            f("if not HAS: return\n", &["x"]).as_deref(),
            Some("a `return`")
        );
        let s = |code: &str| find(code, &["m"], Region::Setup).map(|b| b.what);
        assert_eq!(s("before = set(sys.modules)\n"), None);
        assert_eq!(
            s("sys.modules.pop('m', None)\n").as_deref(),
            Some("`sys.modules`")
        );
        assert_eq!(s("x = sys.modules['n']\n"), None);
        assert_eq!(
            s("sys.modules['n'] = None\n").as_deref(),
            Some("`sys.modules`")
        );
        assert_eq!(
            s("del sys.modules[name]\n").as_deref(),
            Some("`sys.modules`")
        );
        assert_eq!(s("return FakeRedis()\n"), None);
    }

    #[test]
    fn setup_defs() {
        let text = "import pytest\n\n@pytest.fixture(autouse=True)\ndef clean(tmp_path, monkeypatch):\n    x = 1\n    yield\n    del sys.modules['m']\n\nclass T:\n    def setUp(self):\n        pass\n\n    def test(self):\n        pass\n";
        let defs = read_setup_defs(text);
        assert_eq!(defs.len(), 2);
        assert_eq!(defs[0].name, "clean");
        assert!(defs[0].autouse && defs[0].fixture);
        assert_eq!(defs[0].params, ["tmp_path", "monkeypatch"]);
        assert_eq!(&text[defs[0].setup.clone()], "    x = 1\n    ");
        assert_eq!(defs[1].name, "setUp");
        assert_eq!(defs[1].indent, 4);
    }

    #[test]
    fn deliberate_comments() {
        assert_eq!(
            deliberate("imported here so the tests can import this module without requests"),
            Some("here")
        );
        assert_eq!(deliberate("avoid a circular import"), Some("avoid"));
        assert_eq!(deliberate("the helper under test"), None);
    }
}
