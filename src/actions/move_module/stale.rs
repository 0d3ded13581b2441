//! References a move cannot rewrite, found before anything is written.
//!
//! move-module rewrites imports, dotted uses, dotted strings and entry points. Two kinds
//! of reference are beyond a rewrite, and the move would leave them pointing at nothing:
//! - the old parent package's `__all__` listing the moved module when the package
//!   binds no such name itself (`__all__ = ["relativedelta"]` served by a module
//!   `__getattr__` or by `from pkg import *` importing the submodule): after the move,
//!   `from pkg import *` fails. A shim keeps the old name, so this counts only without one.
//! - a non-Python text file of the tree (a shell script, Makefile, CI workflow, coverage
//!   or packaging config) that names a moved file by its path, or, in a shell script or
//!   Makefile, by an unquoted glob the shell expands that matches the old path and not
//!   the new one (`xgettext src/pkg/*.py`). Quoted globs and those in configuration are
//!   read by tools whose `*` may cross directories (coverage's `src/pkg/*` covers
//!   `src/pkg/core/mod.py`), so they are not judged. A file that also names the new
//!   place (the user updated it) is taken as up to date.
//!
//! - bytes literals that hold the old dotted name (pickles: `b"cpkg.mod\nClass\n..."`
//!   stores the module a class lives in): data serialized before the move stops
//!   loading. A shim keeps the old module importable, so this also counts only without
//!   one.
//!
//! The move refuses while any is left, naming each; `keep-stale=true` moves anyway and
//! reports them as warnings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::line_col;
use crate::parse::text as node_text;
use crate::project_imports::{ModInfo, Resolver};

/// One reference the move would leave stale.
pub struct Stale {
    /// Absolute path of the file that holds it.
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub what: String,
}

/// The old parent package's `__all__` naming the moved module `name`, when nothing
/// else in the package binds it. `init` is the parent's `__init__.py` and `text` its
/// text after the rewrite.
pub fn in_parent_all(init: &Path, text: &str, package: &str, name: &str) -> Option<Stale> {
    let info = ModInfo::from_text(text);
    let listed = info.all.as_ref()?.iter().any(|n| n == name);
    if !listed || info.bound.contains_key(name) {
        return None;
    }
    let at = ["\"", "'"]
        .iter()
        .filter_map(|q| text.find(&format!("{q}{name}{q}")))
        .min()
        .or_else(|| text.find("__all__"))
        .unwrap_or(0);
    let (line, column) = line_col(text, at);
    Some(Stale {
        path: init.to_path_buf(),
        line,
        column,
        what: format!(
            "`__all__` lists `{name}`, which only the moved module provides: `from {package} \
             import *` would fail after the move"
        ),
    })
}

/// Bytes literals in `files` (absolute paths of Python files) whose text holds the
/// dotted name `dotted` followed by something that cannot continue a name: serialized
/// data (a pickle) naming the module.
pub fn in_bytes_literals(r: &Resolver<'_>, files: &[PathBuf], dotted: &str) -> Vec<Stale> {
    let finder = memchr::memmem::Finder::new(dotted.as_bytes());
    let mut out = Vec::new();
    for file in files {
        let Some(text) = r.read(file) else {
            continue;
        };
        if finder.find(text.as_bytes()).is_none() {
            continue;
        }
        let Some(tree) = crate::parse::parse(&text) else {
            continue;
        };
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            if node.kind() == "string" {
                let mut c = node.walk();
                let is_bytes = node.named_children(&mut c).any(|ch| {
                    ch.kind() == "string_start"
                        && node_text(ch, &text).to_ascii_lowercase().contains('b')
                });
                let body = &text[node.byte_range()];
                let hit = is_bytes
                    && finder.find_iter(body.as_bytes()).any(|i| {
                        let next = body.as_bytes().get(i + dotted.len()).copied();
                        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                    });
                if hit {
                    let (line, column) = line_col(&text, node.start_byte());
                    out.push(Stale {
                        path: file.clone(),
                        line,
                        column,
                        what: format!(
                            "a bytes literal (serialized data, such as a pickle) names `{dotted}`: \
                             data stored before the move would no longer load"
                        ),
                    });
                }
                continue;
            }
            let mut c = node.walk();
            stack.extend(node.children(&mut c));
        }
    }
    out.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    out
}

/// Extensions of files that describe rather than run: a path in them goes stale
/// without breaking anything.
const PROSE: &[&str] = &[
    "md", "rst", "txt", "html", "htm", "po", "pot", "mo", "svg", "css", "js", "py", "pyi", "pyc",
    "pyx", "pxd", "c", "h", "json", "lock", "csv", "xml", "tex", "ipynb",
];

/// Files larger than this are data, not configuration.
const MAX_BYTES: u64 = 512 * 1024;

/// Paths of the non-Python text files under `roots` (walked like the Python files:
/// .gitignore honoured, links not followed, virtualenvs and `.git` skipped, hidden
/// configuration such as `.github/` and `.coveragerc` included).
fn text_files(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in roots.iter().filter(|r| r.is_dir()) {
        for entry in crate::select::walk_builder(root, false).build().flatten() {
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let p = entry.path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if PROSE.contains(&ext.to_ascii_lowercase().as_str()) {
                continue;
            }
            if entry.metadata().is_ok_and(|m| m.len() <= MAX_BYTES) {
                out.push(p.to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Path-like words of a line: runs of characters a path or a shell glob is made of,
/// with whether each is inside quotes.
fn words(line: &str) -> impl Iterator<Item = (usize, &str, bool)> {
    let is_path = |c: char| c.is_alphanumeric() || "_./*?-~+@".contains(c);
    let mut out = Vec::new();
    let mut start = None;
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (is_path(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &line[s..i], quote.is_some()));
                start = None;
            }
            _ => {}
        }
        if c == '"' || c == '\'' {
            quote = match quote {
                Some(q) if q == c => None,
                None => Some(c),
                other => other,
            };
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..], quote.is_some()));
    }
    out.into_iter()
        .map(|(s, w, q)| {
            (
                s,
                w.trim_start_matches("./").trim_end_matches(['/', '.']),
                q,
            )
        })
        .filter(|(_, w, _)| w.contains('/') || w.ends_with(".py"))
}

/// Whether the shell runs `path` (whose text is `text`) and so expands its globs: a
/// shell script (by extension or `#!` line) or a Makefile.
fn is_shell(path: &Path, text: &str) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(ext, "sh" | "bash" | "zsh" | "ksh" | "mk")
        || matches!(name, "Makefile" | "makefile" | "GNUmakefile")
        || text
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("#!") && l.contains("sh"))
}

/// A path-like word, ready to compare: literal, or a glob compiled once.
enum Word<'a> {
    Literal(&'a str),
    Glob(globset::GlobMatcher),
    /// A glob that does not compile names nothing.
    Nothing,
}

impl<'a> Word<'a> {
    fn new(word: &'a str) -> Word<'a> {
        if !word.contains(['*', '?']) {
            return Word::Literal(word);
        }
        globset::GlobBuilder::new(word)
            .literal_separator(true)
            .build()
            .map_or(Word::Nothing, |g| Word::Glob(g.compile_matcher()))
    }

    /// Whether it (a path or a glob, relative to some directory) names `rel`.
    fn names(&self, rel: &str, is_dir: bool) -> bool {
        match self {
            Word::Literal(w) => *w == rel || (is_dir && w.starts_with(&format!("{rel}/"))),
            Word::Glob(g) => g.is_match(rel),
            Word::Nothing => false,
        }
    }
}

/// `p` relative to `base`, with `/` separators.
fn rel_to(p: &Path, base: &Path) -> Option<String> {
    let rel = p.strip_prefix(base).ok()?;
    let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Non-Python files under `roots` naming a moved file (or the moved package's
/// directory) by a path or glob that does not also name its new place. Paths are read
/// relative to `project` (where scripts and configs run from) and to the file's own
/// directory. `moved` maps old files to new ones; `dir` is the moved package's old and
/// new directory, if a package moves.
pub fn in_text_files(
    r: &Resolver<'_>,
    roots: &[PathBuf],
    project: &Path,
    moved: &BTreeMap<PathBuf, PathBuf>,
    dir: Option<(&Path, &Path)>,
) -> Vec<Stale> {
    let mut out = Vec::new();
    let moved_paths: Vec<(&Path, &Path, bool)> = moved
        .iter()
        .map(|(o, n)| (o.as_path(), n.as_path(), false))
        .chain(dir.map(|(o, n)| (o, n, true)))
        .collect();
    // File by file, in path order: nothing but the file at hand is held.
    for file in text_files(roots) {
        let abs = r.layout.abs(&file);
        if moved.contains_key(&abs) {
            continue;
        }
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        if memchr::memchr(0, &bytes).is_some() {
            continue;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let text = text.as_str();
        let own = abs.parent().unwrap_or(project);
        let bases: Vec<&Path> = if own == project {
            vec![project]
        } else {
            vec![project, own]
        };
        // (old, new, is a directory) as this file would name them, from each base.
        let pairs: Vec<(String, String, bool)> = moved_paths
            .iter()
            .flat_map(|&(old, new, is_dir)| {
                bases
                    .iter()
                    .filter_map(move |b| Some((rel_to(old, b)?, rel_to(new, b)?, is_dir)))
            })
            .collect();
        // Every (word, old, new) hit, and whether any word names a new place.
        let mut hits = Vec::new();
        let mut names_new = false;
        let shell = is_shell(&abs, text);
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            for (at, word, quoted) in words(line) {
                if word.contains(['*', '?']) && (quoted || !shell) {
                    continue;
                }
                let w = Word::new(word);
                for (o, n, is_dir) in &pairs {
                    if w.names(n, *is_dir) {
                        names_new = true;
                    } else if w.names(o, *is_dir) {
                        hits.push((offset + at, word.to_owned(), o.clone(), n.clone()));
                    }
                }
            }
            offset += line.len();
        }
        if names_new {
            continue;
        }
        let mut seen = std::collections::HashSet::new();
        for (at, word, o, n) in hits {
            if !seen.insert((at, o.clone())) {
                continue;
            }
            let (line, column) = line_col(text, at);
            let what = if word == o {
                format!("names `{o}`, which moves to `{n}`")
            } else {
                format!("`{word}` covers `{o}` but not its new place `{n}`")
            };
            out.push(Stale {
                path: abs.clone(),
                line,
                column,
                what,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_words() {
        let w: Vec<(&str, bool)> = words("xgettext -l python src/humanize/*.py './scripts/x.sh'\n")
            .map(|(_, w, q)| (w, q))
            .collect();
        assert_eq!(w, [("src/humanize/*.py", false), ("scripts/x.sh", true)]);
        let w: Vec<&str> = words("omit = [\"src/pkg/mod.py\"]")
            .map(|(_, w, _)| w)
            .collect();
        assert_eq!(w, ["src/pkg/mod.py"]);
        assert!(is_shell(Path::new("scripts/tr"), "#!/bin/bash\n"));
        assert!(!is_shell(Path::new(".coveragerc"), "[run]\n"));
    }

    #[test]
    fn globs_and_literals() {
        let names = |w: &str, rel: &str, dir: bool| Word::new(w).names(rel, dir);
        assert!(names("src/h/*.py", "src/h/number.py", false));
        assert!(!names("src/h/*.py", "src/h/core/number.py", false));
        assert!(names("src/**/*.py", "src/h/core/number.py", false));
        assert!(names("src/h/number.py", "src/h/number.py", false));
        assert!(names("src/h/pkg/data.json", "src/h/pkg", true));
        assert!(!names("src/h/package", "src/h/pkg", true));
    }

    #[test]
    fn parent_all() {
        let init = Path::new("pkg/__init__.py");
        let lazy = "__all__ = [\"a\", \"mod\"]\ndef __getattr__(n):\n    pass\n";
        let s = in_parent_all(init, lazy, "pkg", "mod").map(|s| (s.line, s.column));
        assert_eq!(s, Some((1, 17)));
        let bound = "from .core import mod\n__all__ = [\"mod\"]\n";
        assert!(in_parent_all(init, bound, "pkg", "mod").is_none());
        assert!(in_parent_all(init, "__all__ = [\"a\"]\n", "pkg", "mod").is_none());
    }
}
