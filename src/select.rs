//! File selection: a parallel walk of the given paths that honours .gitignore and
//! .ignore, skips hidden directories and virtualenvs, never follows a link, and keeps
//! every file named on the command line. Recipes then narrow it with their globs.

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

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileEntry {
    /// The path as the user sees it (relative to the current directory when given so).
    pub path: PathBuf,
    /// The path relative to the root it was found under, for glob matching.
    pub rel: PathBuf,
    /// Named on the command line: processed whatever the globs say.
    pub explicit: bool,
}

/// What the walk found: Python files, plus the links it did not follow.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<FileEntry>,
    pub skipped_links: Vec<PathBuf>,
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
            out.files.push(FileEntry {
                path: clean(root),
                rel: file_name(root),
                explicit: true,
            });
        }
    }
    let dirs: Vec<&PathBuf> = roots.iter().filter(|r| r.is_dir()).collect();
    let found = Mutex::new(Vec::new());
    let links = Mutex::new(Vec::new());
    for dir in dirs {
        let mut builder = ignore::WalkBuilder::new(dir);
        builder
            .hidden(true)
            .follow_links(false)
            .require_git(false)
            .git_global(false)
            .threads(threads)
            .filter_entry(|e| {
                let is_dir = e.file_type().is_some_and(|t| t.is_dir());
                !(is_dir
                    && e.depth() > 0
                    && e.file_name()
                        .to_str()
                        .is_some_and(|n| SKIPPED_DIRS.contains(&n)))
            });
        builder.build_parallel().run(|| {
            Box::new(|entry| {
                if let Ok(entry) = entry {
                    let ft = entry.file_type();
                    let is_py = entry.path().extension().is_some_and(|e| e == "py");
                    if ft.is_some_and(|t| t.is_symlink()) {
                        if is_py {
                            links
                                .lock()
                                .expect("no panics while held")
                                .push(clean(entry.path()));
                        }
                    } else if ft.is_some_and(|t| t.is_file()) && is_py {
                        let rel = entry
                            .path()
                            .strip_prefix(dir)
                            .unwrap_or(entry.path())
                            .to_path_buf();
                        found.lock().expect("no panics while held").push(FileEntry {
                            path: clean(entry.path()),
                            rel,
                            explicit: false,
                        });
                    }
                }
                ignore::WalkState::Continue
            })
        });
    }
    out.files.extend(found.into_inner().unwrap_or_default());
    out.files.sort();
    out.files.dedup_by(|a, b| a.path == b.path);
    out.skipped_links = links.into_inner().unwrap_or_default();
    out.skipped_links.sort();
    Ok(out)
}

fn file_name(p: &Path) -> PathBuf {
    p.file_name().map_or_else(|| p.to_path_buf(), PathBuf::from)
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

    pub fn matches(&self, entry: &FileEntry) -> bool {
        entry.explicit || (self.include.is_match(&entry.rel) && !self.exclude.is_match(&entry.rel))
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

    fn entry(rel: &str) -> FileEntry {
        FileEntry {
            path: PathBuf::from(rel),
            rel: PathBuf::from(rel),
            explicit: false,
        }
    }

    #[test]
    fn globs_are_gitignore_style() {
        let g = Globs::new(
            &["test_*.py".into(), "**/tests/**/*.py".into()],
            &["**/skip/**".into()],
        )
        .unwrap();
        assert!(g.matches(&entry("a/b/test_x.py")));
        assert!(g.matches(&entry("tests/helpers.py")));
        assert!(g.matches(&entry("pkg/tests/sub/h.py")));
        assert!(!g.matches(&entry("pkg/x.py")));
        assert!(!g.matches(&entry("skip/test_x.py")));
    }
}
