//! File selection: a parallel walk of the given paths that honours .gitignore and
//! .ignore, skips hidden directories and virtualenvs, never follows a link, and keeps
//! every file named on the command line. Recipes then narrow it with their globs.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::diag::UserError;

/// Directory names never descended into (besides hidden ones).
pub const SKIPPED_DIRS: &[&str] = &[
    ".venv",
    "venv",
    "site-packages",
    "node_modules",
    "__pycache__",
    ".tox",
    ".git",
];

/// The walked Python files, in path order, stored compactly: each directory's path once
/// and the file names in one buffer (about 65 bytes a file with the directory table, on
/// Django + SymPy, instead of two `PathBuf`s and their copies: 4.6 MB for 70,000 files).
#[derive(Debug, Default)]
pub struct Files {
    dirs: Vec<Dir>,
    entries: Vec<Entry>,
    /// The names, each the whole `as_encoded_bytes` of an `OsStr`, back to back.
    names: Vec<u8>,
}

#[derive(Debug)]
struct Dir {
    /// Cleaned (see [`clean`]); empty for the current directory.
    path: Box<Path>,
    /// The directory relative to the root it was found under (empty: the root itself).
    rel: Box<Path>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    dir: u32,
    name_start: u32,
    name_len: u32,
    /// Named on the command line: processed whatever the globs say.
    explicit: bool,
}

/// One file of [`Files`].
#[derive(Clone, Copy)]
pub struct File<'a> {
    files: &'a Files,
    entry: Entry,
    /// Its position in the list.
    pub index: usize,
}

impl File<'_> {
    fn dir(&self) -> &Dir {
        &self.files.dirs[self.entry.dir as usize]
    }

    pub fn name(&self) -> &OsStr {
        let start = self.entry.name_start as usize;
        let bytes = &self.files.names[start..start + self.entry.name_len as usize];
        // SAFETY: `bytes` is exactly what `as_encoded_bytes` gave for one name (see
        // `Files::push_file`), which is what `from_encoded_bytes_unchecked` accepts.
        unsafe { OsStr::from_encoded_bytes_unchecked(bytes) }
    }

    /// The path as the user sees it (relative to the current directory when given so).
    pub fn path(&self) -> PathBuf {
        self.dir().path.join(self.name())
    }

    /// The path relative to the root it was found under, for glob matching.
    pub fn rel(&self) -> PathBuf {
        self.dir().rel.join(self.name())
    }

    /// Named on the command line: processed whatever the globs say.
    pub fn explicit(&self) -> bool {
        self.entry.explicit
    }

    /// The path's bytes as a sort key: separators sort before every other byte, so the
    /// byte order of keys is the component order of paths (`a/b/c.py` before `a/b.py`).
    fn key(&self) -> impl Iterator<Item = u8> + '_ {
        let dir = self.dir().path.as_os_str().as_encoded_bytes();
        let sep = (!dir.is_empty()).then_some(0u8);
        dir.iter()
            .map(|&b| {
                if std::path::is_separator(b as char) {
                    0
                } else {
                    b
                }
            })
            .chain(sep)
            .chain(self.name().as_encoded_bytes().iter().copied())
    }
}

impl Files {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, index: usize) -> File<'_> {
        File {
            files: self,
            entry: self.entries[index],
            index,
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = File<'_>> + '_ {
        (0..self.entries.len()).map(|i| self.get(i))
    }

    fn push_dir(&mut self, path: &Path, rel: &Path) -> u32 {
        // Cleaned, with the current directory as the empty path (so that joining a name
        // gives `m.py`, not `./m.py`).
        let cleaned = |p: &Path| match clean(p) {
            c if c == Path::new(".") => PathBuf::new().into_boxed_path(),
            c => c.into_boxed_path(),
        };
        self.dirs.push(Dir {
            path: cleaned(path),
            rel: cleaned(rel),
        });
        u32::try_from(self.dirs.len() - 1).expect("fewer than 4 billion directories")
    }

    fn push_file(&mut self, dir: u32, name: &OsStr, explicit: bool) {
        let bytes = name.as_encoded_bytes();
        let name_start = u32::try_from(self.names.len()).expect("names under 4 GiB");
        self.names.extend_from_slice(bytes);
        self.entries.push(Entry {
            dir,
            name_start,
            name_len: u32::try_from(bytes.len()).expect("a name under 4 GiB"),
            explicit,
        });
    }

    /// Appends `other` (another walker thread's share).
    fn append(&mut self, other: Files) {
        let dir_base = u32::try_from(self.dirs.len()).expect("fewer than 4 billion directories");
        let name_base = u32::try_from(self.names.len()).expect("names under 4 GiB");
        self.dirs.extend(other.dirs);
        self.names.extend_from_slice(&other.names);
        self.entries
            .extend(other.entries.into_iter().map(|e| Entry {
                dir: e.dir + dir_base,
                name_start: e.name_start + name_base,
                ..e
            }));
    }

    /// Sorts by path; of a path found twice, keeps one entry (explicit if either is).
    fn sort(&mut self) {
        let mut entries = std::mem::take(&mut self.entries);
        let order = |a: &Entry, b: &Entry| {
            let (fa, fb) = (self.file(*a), self.file(*b));
            let by_path = if a.dir == b.dir {
                fa.name()
                    .as_encoded_bytes()
                    .cmp(fb.name().as_encoded_bytes())
            } else {
                fa.key().cmp(fb.key())
            };
            by_path.then(b.explicit.cmp(&a.explicit))
        };
        entries.sort_unstable_by(order);
        entries.dedup_by(|later, kept| self.same_path(*later, *kept));
        entries.shrink_to_fit();
        self.entries = entries;
        self.names.shrink_to_fit();
        self.dirs.shrink_to_fit();
    }

    fn file(&self, entry: Entry) -> File<'_> {
        File {
            files: self,
            entry,
            index: 0,
        }
    }

    fn same_path(&self, a: Entry, b: Entry) -> bool {
        self.file(a).key().eq(self.file(b).key())
    }
}

/// What the walk found: Python files, plus the links it did not follow.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Files,
    pub skipped_links: Vec<PathBuf>,
    /// Other files that may change what a recipe looking beyond one file finds (see
    /// [`crate::cache::counts_for_context`]), sorted.
    pub context_files: Vec<PathBuf>,
}

/// The walk of `dir` every part of fixer uses: .gitignore and .ignore honoured (with or
/// without a git repository, not the global gitignore), links never followed,
/// [`SKIPPED_DIRS`] never entered, and hidden entries skipped when `skip_hidden`.
pub fn walk_builder(dir: &Path, skip_hidden: bool) -> ignore::WalkBuilder {
    let mut builder = ignore::WalkBuilder::new(dir);
    builder
        .hidden(skip_hidden)
        .follow_links(false)
        .require_git(false)
        .git_global(false)
        .filter_entry(|e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !(is_dir
                && e.depth() > 0
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| SKIPPED_DIRS.contains(&n)))
        });
    builder
}

/// Walks `roots` in parallel and returns their `.py` files, sorted for determinism.
pub fn walk(roots: &[PathBuf], threads: usize) -> Result<Walk, UserError> {
    let mut out = Walk::default();
    for root in roots {
        let meta = std::fs::symlink_metadata(root).map_err(|e| {
            UserError::new(format!(
                "path `{}` does not exist or cannot be read: {e}",
                root.display()
            ))
            .help("give existing files or directories; the default is the current directory")
        })?;
        if !meta.is_dir() {
            let path = clean(root);
            let dir = out
                .files
                .push_dir(path.parent().unwrap_or(Path::new("")), Path::new(""));
            let name = path.file_name().unwrap_or(path.as_os_str());
            out.files.push_file(dir, name, true);
        }
    }
    let dirs: Vec<&PathBuf> = roots.iter().filter(|r| r.is_dir()).collect();
    let shares = Mutex::new(Vec::new());
    let links = Mutex::new(Vec::new());
    let context = Mutex::new(Vec::new());
    for dir in dirs {
        let mut builder = walk_builder(dir, true);
        builder.threads(threads);
        let mut visitors = Visitors {
            root: dir,
            prefix: &project_prefix(dir),
            shares: &shares,
            links: &links,
            context: &context,
        };
        builder.build_parallel().visit(&mut visitors);
    }
    for share in shares.into_inner().unwrap_or_default() {
        out.files.append(share);
    }
    out.files.sort();
    out.skipped_links = links.into_inner().unwrap_or_default();
    out.skipped_links.sort();
    out.context_files = context.into_inner().unwrap_or_default();
    out.context_files.sort();
    Ok(out)
}

/// Makes one [`Visitor`] per walker thread.
struct Visitors<'a> {
    root: &'a Path,
    /// `root` relative to its project root (see [`project_prefix`]).
    prefix: &'a Path,
    shares: &'a Mutex<Vec<Files>>,
    links: &'a Mutex<Vec<PathBuf>>,
    context: &'a Mutex<Vec<PathBuf>>,
}

impl<'s> ignore::ParallelVisitorBuilder<'s> for Visitors<'s> {
    fn build(&mut self) -> Box<dyn ignore::ParallelVisitor + 's> {
        Box::new(Visitor {
            root: self.root,
            prefix: self.prefix,
            shares: self.shares,
            links: self.links,
            context: self.context,
            files: Files::default(),
            last_dir: None,
        })
    }
}

/// One walker thread's files, handed over when the thread is done with them.
struct Visitor<'a> {
    root: &'a Path,
    prefix: &'a Path,
    shares: &'a Mutex<Vec<Files>>,
    links: &'a Mutex<Vec<PathBuf>>,
    context: &'a Mutex<Vec<PathBuf>>,
    files: Files,
    /// The directory of the previous file (as walked, and its id): a thread lists a
    /// directory's files one after another.
    last_dir: Option<(PathBuf, u32)>,
}

impl ignore::ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<ignore::DirEntry, ignore::Error>) -> ignore::WalkState {
        let Ok(entry) = entry else {
            return ignore::WalkState::Continue;
        };
        let path = entry.path();
        let ft = entry.file_type();
        let is_py = path.extension().is_some_and(|e| e == "py");
        if !is_py {
            let name = entry.file_name().to_str();
            if ft.is_some_and(|t| t.is_file()) && name.is_some_and(crate::cache::counts_for_context)
            {
                if let Ok(mut c) = self.context.lock() {
                    c.push(clean(path));
                }
            }
            return ignore::WalkState::Continue;
        }
        if ft.is_some_and(|t| t.is_symlink()) {
            self.links
                .lock()
                .expect("no panics while held")
                .push(clean(path));
        } else if ft.is_some_and(|t| t.is_file()) {
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                return ignore::WalkState::Continue;
            };
            let dir = match &self.last_dir {
                Some((p, id)) if p == parent => *id,
                _ => {
                    let rel = parent.strip_prefix(self.root).unwrap_or(Path::new(""));
                    let id = self.files.push_dir(parent, &self.prefix.join(rel));
                    self.last_dir = Some((parent.to_path_buf(), id));
                    id
                }
            };
            self.files.push_file(dir, name, false);
        }
        ignore::WalkState::Continue
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let files = std::mem::take(&mut self.files);
        if let Ok(mut shares) = self.shares.lock() {
            shares.push(files);
        }
    }
}

/// Markers of a project root: the nearest directory above a path with one of these is
/// where the recipes' globs are matched from.
pub const ROOT_MARKERS: &[&str] = &["pyproject.toml", "setup.cfg", "setup.py", ".git"];

/// The nearest directory at or above `dir` with a [`ROOT_MARKERS`] entry, absolute; `None`
/// when there is none.
pub fn project_root(dir: &Path) -> Option<PathBuf> {
    let abs = crate::git::absolute(dir);
    abs.ancestors()
        .find(|d| ROOT_MARKERS.iter().any(|m| d.join(m).exists()))
        .map(Path::to_path_buf)
}

/// A walked directory relative to its project root, so that globs match the same files
/// whichever directory of a project is given (`pkg/tests` as `.` would see it); empty when
/// no project root is found above it (then globs match from the directory given).
fn project_prefix(dir: &Path) -> PathBuf {
    let abs = crate::git::absolute(dir);
    project_root(dir)
        .and_then(|root| abs.strip_prefix(&root).ok().map(Path::to_path_buf))
        .unwrap_or_default()
}

/// `./a/b.py` as `a/b.py`.
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        if c != std::path::Component::CurDir {
            out.push(c);
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// A recipe's include and exclude globs, gitignore-style: a pattern without a slash
/// matches a file name anywhere.
pub struct Globs {
    include: GlobSet,
    exclude: GlobSet,
}

impl Globs {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Globs, UserError> {
        let default = ["**/*.py".to_owned()];
        let include = if include.is_empty() {
            &default[..]
        } else {
            include
        };
        Ok(Globs {
            include: build(include)?,
            exclude: build(exclude)?,
        })
    }

    /// Does a file whose path below its root is `rel` match? A file named on the command
    /// line (`explicit`) always does.
    pub fn matches(&self, rel: &Path, explicit: bool) -> bool {
        explicit || (self.include.is_match(rel) && !self.exclude.is_match(rel))
    }
}

fn build(patterns: &[String]) -> Result<GlobSet, UserError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let anchored = p.trim_start_matches("./").trim_start_matches('/');
        let pat = if anchored.contains('/') {
            anchored.to_owned()
        } else {
            format!("**/{anchored}")
        };
        let glob = globset::GlobBuilder::new(&pat)
            .literal_separator(true)
            .build()
            .map_err(|e| UserError::new(format!("invalid glob `{p}`: {e}")))?;
        b.add(glob);
        // `dir/**` style patterns also match the directory's files at any depth.
        if let Ok(g) = Glob::new(&format!("{}/**", pat.trim_end_matches("/**"))) {
            if pat.ends_with("/**") {
                b.add(g);
            }
        }
    }
    b.build()
        .map_err(|e| UserError::new(format!("invalid globs: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_gitignore_style() {
        let g = Globs::new(
            &["test_*.py".into(), "**/tests/**/*.py".into()],
            &["**/skip/**".into()],
        )
        .unwrap();
        let m = |rel: &str| g.matches(Path::new(rel), false);
        assert!(m("a/b/test_x.py"));
        assert!(m("tests/helpers.py"));
        assert!(m("pkg/tests/sub/h.py"));
        assert!(!m("pkg/x.py"));
        assert!(!m("skip/test_x.py"));
        assert!(g.matches(Path::new("skip/test_x.py"), true));
    }

    #[test]
    fn walk_lists_files_in_path_order_once_each() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for f in [
            "a/b/c.py",
            "a/b.py",
            "a/b.pyi",
            "a/a.py",
            "z.py",
            "a/b/d/e.py",
            "m.txt",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let explicit = root.join("a/b.py");
        let walk = walk(&[root.to_path_buf(), explicit.clone()], 2).unwrap();
        let listed: Vec<(PathBuf, PathBuf, bool)> = walk
            .files
            .iter()
            .map(|f| (f.path(), f.rel(), f.explicit()))
            .collect();
        let expected: Vec<(PathBuf, PathBuf, bool)> = [
            ("a/a.py", "a/a.py", false),
            ("a/b/c.py", "a/b/c.py", false),
            ("a/b/d/e.py", "a/b/d/e.py", false),
            ("a/b.py", "b.py", true),
            ("z.py", "z.py", false),
        ]
        .into_iter()
        .map(|(p, r, e)| (root.join(p), PathBuf::from(r), e))
        .collect();
        assert_eq!(listed, expected);
        let mut sorted = expected.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "the order of paths as Rust orders them");
        assert_eq!(walk.files.get(3).index, 3);
    }

    #[test]
    fn walk_of_the_current_directory_gives_plain_relative_paths() {
        let mut out = Files::default();
        let d = out.push_dir(Path::new("./pkg"), Path::new("./pkg"));
        out.push_file(d, OsStr::new("m.py"), false);
        let d = out.push_dir(Path::new("."), Path::new("."));
        out.push_file(d, OsStr::new("t.py"), false);
        out.sort();
        let paths: Vec<PathBuf> = out.iter().map(|f| f.path()).collect();
        assert_eq!(paths, [PathBuf::from("pkg/m.py"), PathBuf::from("t.py")]);
        assert_eq!(out.get(0).rel(), PathBuf::from("pkg/m.py"));
    }
}
