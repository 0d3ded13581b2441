//! Helpers shared by the integration tests: running the fixer binary, copying fixture
//! projects, and finding the Python that the end-to-end tests run pytest with.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `fixer ARGS` in `dir`; returns (exit code, stdout, stderr).
pub fn fixer(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fixer"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        // hoist-imports looks at the active virtualenv first: the projects' own only.
        .env_remove("VIRTUAL_ENV")
        .output()
        .expect("the fixer binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copies a directory tree (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The Python interpreter with pytest that end-to-end tests use: `$FIXER_PYTHON` (set
/// by tests/run.sh), else `python3`. Panics, never skips, when it is missing or has no
/// pytest: these tests must not pass silently on a machine that cannot run them.
pub fn python() -> PathBuf {
    let python =
        std::env::var_os("FIXER_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let ok = Command::new(&python)
        .args(["-c", "import pytest"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "end-to-end tests need Python with pytest: `{}` has none. Run tests/run.sh, which makes tests/.venv, \
         or set FIXER_PYTHON to a Python that has pytest",
        python.display()
    );
    python
}

/// Runs pytest in `dir` with extra arguments (`-p no:cacheprovider`, quiet); returns
/// (exit code, output).
pub fn pytest_args(dir: &Path, args: &[&str]) -> (i32, String) {
    pytest_with(&python(), dir, args)
}

/// [`pytest_args`] with a given Python.
pub fn pytest_with(python: &Path, dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .args(args)
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("pytest runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Runs pytest in `dir` (with `-p no:cacheprovider`, quiet); returns (exit code, output).
pub fn pytest(dir: &Path, extra_env: &[(&str, &str)], remove_env: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(python());
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(dir);
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    for k in remove_env {
        cmd.env_remove(k);
    }
    let out = cmd.output().expect("pytest runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A fixture directory under tests/fixtures or tests/e2e.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}
