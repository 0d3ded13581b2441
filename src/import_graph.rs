//! Which project files import which, built lazily and cached for one run.
//!
//! Actions that move imports need a cross-file fact: would this import close a cycle
//! (does the imported module, directly or through a chain, import this file)? The graph
//! answers it without parsing: a line scan of each project file it reaches finds its
//! `import` and `from ... import` statements (at any depth: a function-local import is
//! an edge too, since another run may hoist it), and each is resolved to project files
//! the way Python would execute them (every package on the way, then the module). A
//! file's edges and a module's reachable set are computed the first time they are asked
//! for, so a run pays only for the modules its candidate imports actually name.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::engine::Workspace;
use crate::select::clean;

/// One import statement as the line scan reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedImport {
    /// Leading dots of a relative `from` import; 0 for an absolute one.
    pub level: usize,
    /// The dotted module after the dots (may be empty for `from . import x`).
    pub module: String,
    /// For `from m import a, b`: the names, which may be submodules.
    pub names: Vec<String>,
}

/// The graph's caches are bounded: once they hold [`MAX_NODES`] files, the next query
/// starts a new set of caches (queries under way finish on the old one). A run visits
/// files in path order, and imports mostly stay within a package, so what is dropped
/// is rarely asked for again; memory stays the same however large the repository.
#[derive(Default)]
pub struct ImportGraph {
    caches: Mutex<Arc<Caches>>,
}

/// How many files the caches of an [`ImportGraph`] hold before they start over: more
/// than twice what one import of a large package reaches (SymPy's `sympy`: 1,500 files),
/// and more than a run of hoist-imports over Django and SymPy together asks about (it
/// never starts over there; once at 4x that corpus, five times at 16x), in about 3 MB.
const MAX_NODES: usize = 4096;

impl ImportGraph {
    /// The caches to answer queries from, fresh ones when the current ones are full:
    /// take them once for a group of queries about one import.
    pub fn caches(&self) -> Arc<Caches> {
        let mut current = lock(&self.caches);
        if lock(&current.nodes).paths.len() >= MAX_NODES {
            *current = Arc::default();
        }
        current.clone()
    }
}

/// What an [`ImportGraph`] has learnt so far, and the queries it answers.
#[derive(Default)]
pub struct Caches {
    /// Files by id: paths are hashed once, when first seen; edges and reachable sets
    /// are indexed by id.
    nodes: Mutex<Nodes>,
    /// directory searched -> name in it -> the file or namespace dir.
    found: Mutex<HashMap<PathBuf, HashMap<String, Found>>>,
    /// directory -> where an absolute import from a file in it searches (see
    /// [`ImportGraph::search_bases`]).
    bases: Mutex<HashMap<PathBuf, Arc<Vec<PathBuf>>>>,
}

/// A file's index in [`Nodes::paths`].
type Id = u32;

#[derive(Default)]
struct Nodes {
    ids: HashMap<PathBuf, Id>,
    paths: Vec<PathBuf>,
    /// Per id: the files it imports, once scanned.
    edges: Vec<Option<Arc<Vec<Id>>>>,
    /// Per id: the ids its import executes (transitively), once computed.
    reach: Vec<Option<Arc<Reach>>>,
}

/// A set of ids as a bitset without its leading zero words: ids are given out in the
/// order files are met, so a module's reach is a narrow band of them, and in a large
/// repository a bitset from id 0 would grow with the repository for every module.
struct Reach {
    /// The index of the first word kept.
    first: usize,
    words: Vec<u64>,
}

impl Reach {
    fn new(mut words: Vec<u64>) -> Reach {
        let first = words.iter().take_while(|w| **w == 0).count();
        words.drain(..first);
        words.shrink_to_fit();
        Reach { first, words }
    }

    fn contains(&self, id: Id) -> bool {
        (id as usize / 64)
            .checked_sub(self.first)
            .and_then(|w| self.words.get(w))
            .is_some_and(|w| w & (1u64 << (id % 64)) != 0)
    }

    /// Adds every id of `self` to the full bitset `into`.
    fn add_to(&self, into: &mut Vec<u64>) {
        let end = self.first + self.words.len();
        if into.len() < end {
            into.resize(end, 0);
        }
        for (w, k) in into[self.first..end].iter_mut().zip(&self.words) {
            *w |= k;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    /// `x.py` or `x/__init__.py`: executed on import.
    File(PathBuf),
    /// A directory without `__init__.py`: a namespace package, nothing executed.
    Namespace(PathBuf),
    Missing,
}

impl Caches {
    /// The project files that executing an import runs, in order: each package on the
    /// way and the module itself, plus `module.name` for a name that is a submodule.
    pub fn targets(
        &self,
        ws: &Workspace,
        from_file: &Path,
        level: usize,
        module: &str,
        names: &[&str],
    ) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let parts: Vec<&str> = module.split('.').filter(|p| !p.is_empty()).collect();
        let mut dir: Option<PathBuf> = if level > 0 {
            // The importing file's own package is already executing: start inside it.
            let mut d = from_file.parent().map(Path::to_path_buf);
            for _ in 1..level {
                d = d.and_then(|d| d.parent().map(Path::to_path_buf));
            }
            d.map(|d| {
                if d.as_os_str().is_empty() {
                    ".".into()
                } else {
                    d
                }
            })
        } else {
            None
        };
        let mut rest: &[&str] = &parts;
        if level == 0 {
            let Some((first, tail)) = parts.split_first() else {
                return out;
            };
            let mut top = None;
            for base in self.search_bases(ws, from_file).iter() {
                match self.find(base, first) {
                    Found::Missing => continue,
                    found => {
                        top = Some(found);
                        break;
                    }
                }
            }
            match top {
                Some(Found::File(f)) => {
                    dir = f.parent().map(Path::to_path_buf);
                    let is_package = f.file_name().is_some_and(|n| n == "__init__.py");
                    out.push(f);
                    if !is_package {
                        return out;
                    }
                }
                Some(Found::Namespace(d)) => dir = Some(d),
                _ => return out,
            }
            rest = tail;
        }
        let Some(mut dir) = dir else { return out };
        for part in rest {
            match self.find(&dir, part) {
                Found::File(f) => {
                    let is_package = f.file_name().is_some_and(|n| n == "__init__.py");
                    let next = f.parent().map(Path::to_path_buf);
                    out.push(f);
                    if !is_package {
                        return out;
                    }
                    match next {
                        Some(n) => dir = n,
                        None => return out,
                    }
                }
                Found::Namespace(d) => dir = d,
                Found::Missing => return out,
            }
        }
        for name in names {
            if let Found::File(f) = self.find(&dir, name) {
                out.push(f);
            }
        }
        out
    }

    /// The id of `path` in this graph, assigning one on first sight.
    fn intern(&self, path: &Path) -> Id {
        let mut nodes = lock(&self.nodes);
        if let Some(&id) = nodes.ids.get(path) {
            return id;
        }
        let id = Id::try_from(nodes.paths.len()).expect("fewer than 2^32 files");
        nodes.ids.insert(path.to_path_buf(), id);
        nodes.paths.push(path.to_path_buf());
        nodes.edges.push(None);
        nodes.reach.push(None);
        id
    }

    /// The files `id` imports (any statement, at any depth), as it reads now.
    fn edges_of(&self, ws: &Workspace, id: Id) -> Arc<Vec<Id>> {
        let file = {
            let nodes = lock(&self.nodes);
            if let Some(e) = &nodes.edges[id as usize] {
                return e.clone();
            }
            nodes.paths[id as usize].clone()
        };
        // Computed without the lock; a race computes the same edges twice.
        let text = ws.read(&file).ok().flatten();
        let mut out: Vec<Id> = Vec::new();
        if let Some(text) = text {
            for imp in scan_imports(&text) {
                let names: Vec<&str> = imp.names.iter().map(String::as_str).collect();
                for t in self.targets(ws, &file, imp.level, &imp.module, &names) {
                    let t = self.intern(&t);
                    if t != id && !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
        }
        let out = Arc::new(out);
        lock(&self.nodes).edges[id as usize] = Some(out.clone());
        out
    }

    /// Does importing `from` execute `to`, directly or through a chain of imports?
    pub fn reaches(&self, ws: &Workspace, from: &Path, to: &Path) -> bool {
        let from = self.intern(from);
        let cached = lock(&self.nodes).reach[from as usize].clone();
        let set = match cached {
            Some(s) => s,
            None => {
                // A bitset over ids; every id reached is assigned by the time it is set.
                let mut seen: Vec<u64> = Vec::new();
                let mut queue: VecDeque<Id> = VecDeque::from([from]);
                while let Some(f) = queue.pop_front() {
                    let edges = self.edges_of(ws, f);
                    let nodes = lock(&self.nodes);
                    for &next in edges.iter() {
                        let (word, bit) = (next as usize / 64, 1u64 << (next % 64));
                        if seen.len() <= word {
                            seen.resize(word + 1, 0);
                        }
                        if seen[word] & bit != 0 {
                            continue;
                        }
                        seen[word] |= bit;
                        match &nodes.reach[next as usize] {
                            // What `next` reaches is known: all of it is reached, and
                            // none of it needs a visit.
                            Some(known) => known.add_to(&mut seen),
                            None => queue.push_back(next),
                        }
                    }
                }
                let set = Arc::new(Reach::new(seen));
                lock(&self.nodes).reach[from as usize] = Some(set.clone());
                set
            }
        };
        // A file never seen by the graph has no id, so nothing reaches it.
        let Some(to) = lock(&self.nodes).ids.get(to).copied() else {
            return false;
        };
        set.contains(to)
    }

    /// The shortest chain of files from `from` to `to` (both included), if any.
    pub fn chain(&self, ws: &Workspace, from: &Path, to: &Path) -> Option<Vec<PathBuf>> {
        let from = self.intern(from);
        let to = self.intern(to);
        // Per id: the id it was first reached from (`NONE`: not reached yet).
        const NONE: Id = Id::MAX;
        let mut parent: Vec<Id> = Vec::new();
        let mut queue: VecDeque<Id> = VecDeque::from([from]);
        while let Some(f) = queue.pop_front() {
            for &next in self.edges_of(ws, f).iter() {
                let i = next as usize;
                if parent.len() <= i {
                    parent.resize(i + 1, NONE);
                }
                if next == from || parent[i] != NONE {
                    continue;
                }
                parent[i] = f;
                if next == to {
                    let mut path = vec![next];
                    let mut at = next;
                    while at != from {
                        at = parent[at as usize];
                        path.push(at);
                    }
                    path.reverse();
                    let nodes = lock(&self.nodes);
                    return Some(
                        path.iter()
                            .map(|&i| nodes.paths[i as usize].clone())
                            .collect(),
                    );
                }
                queue.push_back(next);
            }
        }
        None
    }

    /// `sys.path` entries for an absolute import from `file`: the project's import
    /// roots, then the directory above the file's outermost package.
    /// Does an absolute import of the top-level name `top` from `from_file` find a
    /// project module, package or namespace directory?
    pub fn finds(&self, ws: &Workspace, from_file: &Path, top: &str) -> bool {
        self.search_bases(ws, from_file)
            .iter()
            .any(|b| self.find(b, top) != Found::Missing)
    }

    fn search_bases(&self, ws: &Workspace, file: &Path) -> Arc<Vec<PathBuf>> {
        let dir = file.parent().unwrap_or(Path::new(""));
        if let Some(bases) = lock(&self.bases).get(dir) {
            return bases.clone();
        }
        let mut bases = ws.project.import_roots.clone();
        let base = crate::project::Project::package_base(file);
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            clean(&base)
        };
        if !bases.contains(&base) {
            bases.push(base);
        }
        let bases = Arc::new(bases);
        lock(&self.bases).insert(dir.to_path_buf(), bases.clone());
        bases
    }

    fn find(&self, dir: &Path, name: &str) -> Found {
        if let Some(f) = lock(&self.found).get(dir).and_then(|names| names.get(name)) {
            return f.clone();
        }
        let base = dir.join(name);
        let file = base.with_extension("py");
        let init = base.join("__init__.py");
        let found = if init.is_file() {
            Found::File(clean(&init))
        } else if file.is_file() {
            Found::File(clean(&file))
        } else if base.is_dir() {
            Found::Namespace(clean(&base))
        } else {
            Found::Missing
        };
        lock(&self.found)
            .entry(dir.to_path_buf())
            .or_default()
            .insert(name.to_owned(), found.clone());
        found
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every `import` / `from ... import` statement of `text`, found by a scan that skips
/// triple-quoted strings. Approximate by design (no parse): a missed statement loses an
/// edge, a string that looks like an import adds one. Only the lines holding the word
/// `import` are read (found with one pass over the bytes), which is what makes the
/// scan of a whole package cheap.
pub fn scan_imports(text: &str) -> Vec<ScannedImport> {
    let b = text.as_bytes();
    let strings = triple_quoted(b);
    let mut in_strings = strings.iter().peekable();
    let mut out = Vec::new();
    // Lines before this offset are read (a statement's continuation lines included).
    let mut read_to = 0;
    for at in memchr::memmem::find_iter(b, b"import") {
        if at < read_to {
            continue;
        }
        while in_strings.next_if(|s| s.end <= at).is_some() {}
        if in_strings.peek().is_some_and(|s| s.start <= at) {
            continue;
        }
        let line_start = memchr::memrchr(b'\n', &b[..at]).map_or(0, |i| i + 1);
        let mut lines = LinesFrom {
            text,
            at: line_start,
        };
        if let Some(line) = lines.next() {
            scan_statement(line, &mut lines, &mut out);
        }
        read_to = lines.at;
    }
    out
}

/// The lines of `text` from offset `at` on, as [`str::lines`] splits them; `at` follows.
struct LinesFrom<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Iterator for LinesFrom<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.text.get(self.at..).filter(|r| !r.is_empty())?;
        let (line, used) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.at += used;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

/// The import statement that starts on `line`, if it is one (after a one-line compound
/// header such as `try:` too); reads its continuation lines from `lines`.
fn scan_statement<'a>(
    line: &'a str,
    lines: &mut impl Iterator<Item = &'a str>,
    out: &mut Vec<ScannedImport>,
) {
    let stmt = line.trim_start();
    let stmt = stmt
        .rsplit_once(':')
        .filter(|(head, tail)| {
            // `try: import x`, `else: from a import b`: a one-line compound header.
            let tail = tail.trim_start();
            (tail.starts_with("import ") || tail.starts_with("from "))
                && !head.contains('(')
                && !head.contains('#')
        })
        .map_or(stmt, |(_, tail)| tail.trim_start());
    if let Some(rest) = stmt.strip_prefix("import ") {
        let mut full = strip_comment(rest).to_owned();
        while full.trim_end().ends_with('\\') {
            full = full.trim_end().trim_end_matches('\\').to_owned();
            match lines.next() {
                Some(l) => full.push_str(strip_comment(l)),
                None => break,
            }
        }
        for part in full.split(';').next().unwrap_or("").split(',') {
            let name = part.split_whitespace().next().unwrap_or("");
            if is_dotted(name) {
                out.push(ScannedImport {
                    level: 0,
                    module: name.to_owned(),
                    names: Vec::new(),
                });
            }
        }
    } else if let Some(rest) = stmt.strip_prefix("from ") {
        let rest = strip_comment(rest);
        let Some((module, names)) = rest.split_once(" import") else {
            return;
        };
        let module = module.trim();
        let level = module.len() - module.trim_start_matches('.').len();
        let module = module.trim_start_matches('.').trim();
        let mut names = names.to_owned();
        if names.contains('(') {
            while !names.contains(')') {
                match lines.next() {
                    Some(l) => {
                        names.push(',');
                        names.push_str(strip_comment(l));
                    }
                    None => break,
                }
            }
        } else {
            while names.trim_end().ends_with('\\') {
                names = names.trim_end().trim_end_matches('\\').to_owned();
                match lines.next() {
                    Some(l) => names.push_str(strip_comment(l)),
                    None => break,
                }
            }
        }
        let names: Vec<String> = names
            .split(';')
            .next()
            .unwrap_or("")
            .split(',')
            .filter_map(|n| {
                let n = n
                    .trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .trim();
                let n = n.split_whitespace().next()?;
                (is_dotted(n) && n != "*").then(|| n.to_owned())
            })
            .collect();
        if is_dotted(module) || (module.is_empty() && level > 0) {
            out.push(ScannedImport {
                level,
                module: module.to_owned(),
                names,
            });
        }
    }
}

/// The triple-quoted strings of `b`, in order: from an opening `"""` or `\'\'\'` that no
/// `#` precedes on its line to the next same delimiter (past the end when unclosed).
fn triple_quoted(b: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = next_triple_quote(b, from) {
        let line_start = memchr::memrchr(b'\n', &b[..open]).map_or(0, |i| i + 1);
        if memchr::memchr(b'#', &b[line_start..open]).is_some() {
            // In a comment: the rest of the line says nothing.
            from = memchr::memchr(b'\n', &b[open..]).map_or(b.len(), |i| open + i + 1);
            continue;
        }
        let delim = &b[open..open + 3];
        let end = memchr::memmem::find(&b[open + 3..], delim).map_or(b.len(), |i| open + 3 + i + 3);
        out.push(open..end);
        from = end;
    }
    out
}

/// The first `"""` or `\'\'\'` at or after `from`.
fn next_triple_quote(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(i) = memchr::memchr2(b'"', b'\'', &b[at..]) {
        let q = at + i;
        if b.len() >= q + 3 && b[q + 1] == b[q] && b[q + 2] == b[q] {
            return Some(q);
        }
        at = q + 1;
    }
    None
}

fn strip_comment(s: &str) -> &str {
    s.split('#').next().unwrap_or("")
}

fn is_dotted(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|p| {
            !p.is_empty()
                && !p.starts_with(|c: char| c.is_ascii_digit())
                && p.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules(text: &str) -> Vec<(usize, String, Vec<String>)> {
        scan_imports(text)
            .into_iter()
            .map(|i| (i.level, i.module, i.names))
            .collect()
    }

    #[test]
    fn scans_every_import_form() {
        let text = "import a.b as c, d\nfrom .x import (\n    y,  # note\n    z as w,\n)\n\
                    def f():\n    from .. import q\n    try: import t\n    except ImportError: pass\n";
        assert_eq!(
            modules(text),
            vec![
                (0, "a.b".into(), vec![]),
                (0, "d".into(), vec![]),
                (1, "x".into(), vec!["y".into(), "z".into()]),
                (2, "".into(), vec!["q".into()]),
                (0, "t".into(), vec![]),
            ]
        );
    }

    #[test]
    fn skips_imports_inside_strings() {
        let text = "x = \"\"\"\nimport not_real\n\"\"\"\nimport real\ny = '''a''' ; import z\n";
        assert_eq!(modules(text), vec![(0, "real".into(), vec![])]);
    }

    #[test]
    fn reads_only_import_lines_with_crlf_comments_and_open_strings() {
        let text = "# a comment with ''' in it\r\nimport a\r\nfrom b import (\r\n    c,\r\n    important,\r\n)\r\nx = 'import no'\r\ns = '''\r\nimport inside\r\n'''\r\nimport d  # and '''\r\nt = \"\"\"never closed\r\nimport e\r\n";
        assert_eq!(
            modules(text),
            vec![
                (0, "a".into(), vec![]),
                (0, "b".into(), vec!["c".into(), "important".into()]),
                (0, "d".into(), vec![]),
            ]
        );
    }
}
