//! End to end: the field report's conftest hierarchy (two conftests that both register
//! the models in `pytest_configure` and both define `db_session`, a backtest conftest
//! that overrides `db_session` with seeded data). pytest fails before; after
//! `fixer apply consolidate-conftest backend` it passes with the same collected tests.

mod common;

use std::path::Path;

/// The collected test ids. Before the fix, loading the conftests fails, so the ids
/// before are collected with `--noconftest` (collection does not need fixtures).
fn collected(dir: &Path, noconftest: bool) -> Vec<String> {
    let opts = if noconftest {
        "--collect-only --noconftest"
    } else {
        "--collect-only"
    };
    let (code, out) = common::pytest(dir, &[("PYTEST_ADDOPTS", opts)], &[]);
    assert_eq!(code, 0, "collection failed:\n{out}");
    out.lines()
        .filter(|l| l.contains("::"))
        .map(str::to_owned)
        .collect()
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_tree(&common::fixture("e2e/consolidate-conftest"), tmp.path());
    tmp
}

#[test]
fn consolidate_conftest_fixes_the_double_registration() {
    let tmp = project();
    let dir = tmp.path();

    let (code, out) = common::pytest(dir, &[], &["PYTEST_ADDOPTS"]);
    assert_ne!(code, 0, "pytest passes before the fix:\n{out}");
    assert!(out.contains("already exists"), "{out}");
    let before = collected(dir, true);
    assert_eq!(before.len(), 6, "{before:?}");

    let (code, _, err) = common::fixer(dir, &["apply", "consolidate-conftest", "backend"]);
    assert_eq!(code, 0, "apply failed:\n{err}");
    assert!(err.contains("fixture `db_session` stays"), "{err}");

    // One conftest in backend/tests: the shared fixtures and one pytest_configure that
    // registers the models once.
    assert!(!dir.join("backend/conftest.py").exists());
    let merged = read(dir, "backend/tests/conftest.py");
    assert_eq!(
        merged.matches("def pytest_configure").count(),
        1,
        "{merged}"
    );
    assert_eq!(merged.matches("register_models()").count(), 1, "{merged}");
    assert!(merged.contains("config.addinivalue_line"), "{merged}");
    assert_eq!(merged.matches("def db_session").count(), 1, "{merged}");
    assert!(merged.contains("def user(db_session)"), "{merged}");
    assert!(merged.contains("def strategy(db_session)"), "{merged}");
    // The seeded override still applies to the backtests.
    let backtest = read(dir, "backend/tests/backtest/conftest.py");
    assert!(backtest.contains("def db_session"), "{backtest}");
    assert!(!backtest.contains("def strategy"), "{backtest}");

    let (code, out) = common::pytest(dir, &[], &["PYTEST_ADDOPTS"]);
    assert_eq!(code, 0, "pytest fails after the fix:\n{out}");
    assert!(out.contains("6 passed"), "{out}");
    assert_eq!(collected(dir, false), before);

    // Done: check is clean and a second run changes nothing.
    let (code, out, err) = common::fixer(dir, &["check", "consolidate-conftest", "backend"]);
    assert_eq!(code, 0, "check after apply:\n{out}{err}");
    let (code, diff, err) = common::fixer(
        dir,
        &["apply", "consolidate-conftest", "backend", "--dry-run"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(diff.is_empty(), "a second run changes more:\n{diff}");
}

#[test]
fn consolidate_conftest_can_keep_the_emptied_conftest_disabled() {
    let tmp = project();
    let dir = tmp.path();
    let original = read(dir, "backend/conftest.py");
    let (code, _, err) = common::fixer(
        dir,
        &[
            "apply",
            "consolidate-conftest",
            "backend",
            "--set",
            "keep=disabled",
        ],
    );
    assert_eq!(code, 0, "apply failed:\n{err}");
    assert!(!dir.join("backend/conftest.py").exists());
    assert_eq!(read(dir, "backend/conftest.py.disabled"), original);
    let (code, out) = common::pytest(dir, &[], &["PYTEST_ADDOPTS"]);
    assert_eq!(code, 0, "pytest fails after the fix:\n{out}");
    assert!(out.contains("6 passed"), "{out}");
}

#[test]
fn consolidate_conftest_refuses_to_hide_a_fixture_from_tests_outside_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "tests/conftest.py",
        "import pytest\n\n\n@pytest.fixture\ndef db():\n    return []\n",
    );
    write(
        "tests/unit/test_unit.py",
        "def test_unit(db):\n    assert db == []\n",
    );
    write(
        "tests/api/test_api.py",
        "def test_api(db):\n    assert db == []\n",
    );
    let (code, _, err) = common::fixer(
        dir,
        &[
            "apply",
            "consolidate-conftest",
            "tests",
            "--set",
            "target=tests/unit",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tests/api/test_api.py"), "{err}");
    assert!(err.contains("`db`"), "{err}");
    assert!(dir.join("tests/conftest.py").exists());
    assert!(!dir.join("tests/unit/conftest.py").exists());
}
