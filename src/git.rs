//! The little fixer asks of git: files changed since a revision, and files with
//! uncommitted changes. Paths come back absolute.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::diag::UserError;

fn git(args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    Ok(out.stdout)
}

/// The work tree's top directory, or `None` outside a git work tree.
pub fn toplevel() -> Option<PathBuf> {
    let out = git(&["rev-parse", "--show-toplevel"]).ok()?;
    let top = String::from_utf8_lossy(&out).trim().to_owned();
    (!top.is_empty()).then(|| PathBuf::from(top))
}

fn split_z<'a>(bytes: &'a [u8], top: &Path) -> impl Iterator<Item = PathBuf> + 'a {
    let top = top.to_path_buf();
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(move |s| top.join(String::from_utf8_lossy(s).as_ref()))
}

/// Files changed since `rev` (committed, staged or not) plus untracked ones.
pub fn changed_since(rev: &str) -> Result<HashSet<PathBuf>, UserError> {
    let top = toplevel().ok_or_else(|| {
        UserError::new("--changed-since needs a git work tree, and this is not one")
            .help("run fixer inside the repository")
    })?;
    let diff = git(&["diff", "--name-only", "-z", rev, "--"]).map_err(|e| {
        UserError::new(format!(
            "--changed-since {rev}: git cannot compare with it: {e}"
        ))
        .help("give a commit, branch or tag that exists, e.g. --changed-since origin/main")
    })?;
    let untracked = git(&[
        "ls-files",
        "--others",
        "--exclude-standard",
        "--full-name",
        "-z",
    ])
    .unwrap_or_default();
    Ok(split_z(&diff, &top)
        .chain(split_z(&untracked, &top))
        .collect())
}

/// Files with uncommitted changes (modified, staged, or untracked); empty outside git.
pub fn dirty_files() -> HashSet<PathBuf> {
    let Some(top) = toplevel() else {
        return HashSet::new();
    };
    let Ok(out) = git(&["status", "--porcelain", "-z", "--untracked-files=all"]) else {
        return HashSet::new();
    };
    let mut files = HashSet::new();
    let mut records = out.split(|b| *b == 0).filter(|s| !s.is_empty());
    while let Some(rec) = records.next() {
        if rec.len() < 4 {
            continue;
        }
        let status = &rec[..2];
        files.insert(top.join(String::from_utf8_lossy(&rec[3..]).as_ref()));
        // A rename or copy is followed by its source path.
        if status.contains(&b'R') || status.contains(&b'C') {
            if let Some(src) = records.next() {
                files.insert(top.join(String::from_utf8_lossy(src).as_ref()));
            }
        }
    }
    files
}

/// `path` made absolute and free of links, for comparison with git's paths.
pub fn absolute(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    // A file that does not exist yet: canonicalize its directory.
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::canonicalize(dir)
                .map(|d| d.join(name))
                .unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}
