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

/// Each test's outcome (`node id PASSED`), from `pytest -vv` (`-q` comes first).
fn outcomes(dir: &Path) -> Vec<String> {
    let (_, out) = common::pytest_args(dir, &["-vv"]);
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| l.contains("::"))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let id = words.next()?;
            let outcome = words.next()?;
            Some(format!("{id} {outcome}"))
        })
        .collect();
    v.sort();
    v
}

/// A project where the static analysis alone would change outcomes: a plugin (named in
/// the root conftest's `pytest_plugins`) re-exports its fixtures from a submodule, which
/// fixer's static analysis does not follow, and two sibling conftests override its
/// `port` identically; plus a conftest under `norecursedirs` that pytest never loads.
fn plugin_project(dir: &Path) {
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "pytest.ini",
        "[pytest]\nnorecursedirs = example_scripts .*\n",
    );
    write("conftest.py", "pytest_plugins = [\"myplugin\"]\n");
    write(
        "myplugin/__init__.py",
        "from myplugin.fixtures import port, server  # noqa: F401\n",
    );
    write(
        "myplugin/fixtures.py",
        "import pytest\n\n\n@pytest.fixture\ndef port():\n    return 8000\n\n\n@pytest.fixture\ndef server(port):\n    return f\"http://localhost:{port}\"\n",
    );
    let port = "import pytest\n\n\n@pytest.fixture\ndef port():\n    return 9000\n";
    let token = "import pytest\n\n\n@pytest.fixture\ndef token():\n    return \"t\"\n";
    for d in ["a", "b"] {
        write(&format!("tests/{d}/conftest.py"), port);
        write(
            &format!("tests/{d}/test_{d}.py"),
            &format!("def test_{d}(server):\n    assert server == \"http://localhost:9000\"\n"),
        );
    }
    write(
        "tests/c/test_c.py",
        "def test_c(server):\n    assert server == \"http://localhost:8000\"\n",
    );
    for d in ["d", "e"] {
        write(&format!("tests/{d}/conftest.py"), token);
        write(
            &format!("tests/{d}/test_{d}.py"),
            &format!("def test_{d}(token):\n    assert token == \"t\"\n"),
        );
    }
    write(
        "tests/example_scripts/conftest.py",
        &format!(
            "{token}\n\ndef pytest_configure(config):\n    raise pytest.UsageError(\"only pytester loads this conftest\")\n"
        ),
    );
    write(
        "tests/example_scripts/test_example.py",
        "def test_example(token):\n    assert token == \"t\"\n",
    );
}

#[test]
fn consolidate_conftest_is_verified_by_pytest() {
    let python = common::python();
    let python = python.to_string_lossy().into_owned();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plugin_project(dir);
    let before = outcomes(dir);
    assert_eq!(before.len(), 5, "{before:?}");
    assert!(before.iter().all(|o| o.ends_with("PASSED")), "{before:?}");
    let ids_before = collected(dir, false);
    let original = |rel: &str| read(dir, rel);
    let (a, b, example) = (
        original("tests/a/conftest.py"),
        original("tests/b/conftest.py"),
        original("tests/example_scripts/conftest.py"),
    );

    // The static analysis alone (no Python): it would merge the `port` overrides, and
    // says the plan is not verified, without failing the run.
    let static_copy = tempfile::tempdir().unwrap();
    plugin_project(static_copy.path());
    let (code, diff, err) = common::fixer(
        static_copy.path(),
        &["apply", "consolidate-conftest", ".", "--dry-run"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the plan was not verified by pytest (no Python with pytest found; help: --set python=PATH)"),
        "{err}"
    );
    assert!(diff.contains("--- a/tests/a/conftest.py"), "{diff}");
    assert!(
        err.contains("kept: pytest does not collect tests/example_scripts (norecursedirs = example_scripts .*)"),
        "{err}"
    );

    // Verified: pytest shows that `tests/c` would get the override; the conftests that
    // bring it are kept, the rest merges.
    let (code, _, err) = common::fixer(
        dir,
        &[
            "apply",
            "consolidate-conftest",
            ".",
            "--set",
            &format!("python={python}"),
        ],
    );
    assert_eq!(code, 0, "apply failed:\n{err}");
    assert!(
        err.contains("with the merge, pytest gives `tests/c/test_c.py::test_c` the `port` of tests/conftest.py"),
        "{err}"
    );
    assert!(err.contains("verified by pytest: the 5 items"), "{err}");
    assert!(!err.contains("not verified"), "{err}");
    assert!(
        err.contains("kept: pytest does not collect tests/example_scripts"),
        "{err}"
    );
    assert_eq!(read(dir, "tests/a/conftest.py"), a);
    assert_eq!(read(dir, "tests/b/conftest.py"), b);
    assert_eq!(read(dir, "tests/example_scripts/conftest.py"), example);
    assert!(!dir.join("tests/d/conftest.py").exists());
    assert!(!dir.join("tests/e/conftest.py").exists());
    let merged = read(dir, "tests/conftest.py");
    assert!(merged.contains("def token"), "{merged}");
    assert!(!merged.contains("def port"), "{merged}");

    assert_eq!(outcomes(dir), before);
    assert_eq!(collected(dir, false), ids_before);
    let (code, diff, err) = common::fixer(
        dir,
        &[
            "apply",
            "consolidate-conftest",
            ".",
            "--dry-run",
            "--set",
            &format!("python={python}"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(diff.is_empty(), "a second run changes more:\n{diff}");
}
