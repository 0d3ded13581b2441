//! fixer as a Python package: the wheel maturin builds from pyproject.toml installs into
//! a fresh virtualenv and gives a working `fixer` command, and the `language: python`
//! pre-commit hook runs it on a sample repository. Both need maturin and pre-commit in
//! `$FIXER_PYTHON`'s environment (tests/run.sh installs them) and fail loudly without.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

/// The two tests build fixer with maturin in the same target directory (the hook's
/// build is then incremental); maturin moves the binary it stages, so one at a time.
static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `python -m module args...` in `dir`; panics with the output unless it succeeds.
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

fn has_module(python: &Path, module: &str) {
    let ok = Command::new(python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{}` has no {module}: run tests/run.sh, which installs it into tests/.venv",
        python.display()
    );
}

/// A project with one pending hoist-imports change.
fn sample(dir: &Path) {
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        "[tool.fixer]\nrecipes = [\"hoist-imports\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tests/test_a.py"),
        "def test_a():\n    import os\n    assert os.sep\n",
    )
    .unwrap();
}

#[test]
fn the_wheel_installs_a_working_fixer() {
    let _build = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let python = common::python();
    has_module(&python, "maturin");
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    run(
        Command::new(&python)
            .args(["-m", "maturin", "build", "--release", "--out"])
            .arg(&wheels)
            .current_dir(repo()),
        "maturin build --release",
    );
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("maturin wrote a wheel");
    let venv = tmp.path().join("venv");
    run(
        Command::new(&python).args(["-m", "venv"]).arg(&venv),
        "python -m venv",
    );
    run(
        Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "install", "--no-index", "--quiet"])
            .arg(&wheel),
        "pip install the wheel",
    );
    let fixer = venv.join("bin/fixer");
    let version = run(Command::new(&fixer).arg("--version"), "fixer --version");
    assert!(
        version.starts_with(&format!("fixer {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let project = tmp.path().join("project");
    sample(&project);
    let out = Command::new(&fixer)
        .arg("check")
        .current_dir(&project)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("tests/test_a.py: would be changed by hoist-imports"),
        "{stdout}"
    );
}

#[test]
fn the_python_pre_commit_hook_runs_fixer() {
    let _build = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let python = common::python();
    has_module(&python, "pre_commit");
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    sample(&project);
    let git = |args: &[&str]| {
        run(
            Command::new("git")
                .args(args)
                .current_dir(&project)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com"),
            &format!("git {}", args.join(" ")),
        )
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "sample"]);
    // pre-commit installs fixer from this checkout as a Python package (maturin builds
    // it); the shared target directory keeps that build incremental.
    let out = Command::new(&python)
        .args(["-m", "pre_commit", "try-repo"])
        .arg(repo())
        .args(["fixer-check", "--all-files", "--color", "never"])
        .current_dir(&project)
        .env("PRE_COMMIT_HOME", tmp.path().join("pre-commit-home"))
        .env("CARGO_TARGET_DIR", repo().join("target"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The hook fails while the recipe has work to do, naming the file.
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("fixer check"), "{text}");
    assert!(
        text.contains("tests/test_a.py: would be changed by hoist-imports"),
        "{text}"
    );
}
