//! End to end for `pytest-asyncio-v1`, reproducing the fifth field report: a suite
//! written for pytest-asyncio 0.21 re-implements `event_loop` with session scope so a
//! session-scoped engine and the tests share one loop. It passes under 0.21; under
//! 1.x the override is ignored, the tests run in loops of their own and fail with
//! "attached to a different loop". After the recipe it passes under the latest 1.x,
//! with deprecation warnings as errors. The two environments come from tests/run.sh
//! (`FIXER_PYTHON_ASYNCIO_OLD`, `FIXER_PYTHON_ASYNCIO_NEW`).

mod common;

use std::path::PathBuf;
use std::process::Command;

fn python(var: &str) -> PathBuf {
    let python = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{var} is not set: run tests/run.sh, which makes the pytest-asyncio environments")
    });
    let ok = Command::new(&python)
        .args(["-c", "import pytest_asyncio"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{var}: `{}` has no pytest_asyncio", python.display());
    python
}

#[test]
fn pytest_asyncio_v1_moves_a_shared_loop_suite_to_1x() {
    let old = python("FIXER_PYTHON_ASYNCIO_OLD");
    let new = python("FIXER_PYTHON_ASYNCIO_NEW");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::copy_tree(&common::fixture("e2e/pytest-asyncio"), dir);

    let (code, out) = common::pytest_with(&old, dir, &[]);
    assert_eq!(
        code, 0,
        "the suite should pass under pytest-asyncio 0.21:\n{out}"
    );
    let (code, out) = common::pytest_with(&new, dir, &[]);
    assert_ne!(
        code, 0,
        "the suite should fail under pytest-asyncio 1.x:\n{out}"
    );
    assert!(
        out.contains("attached to a different loop"),
        "the failure should be the field report's:\n{out}"
    );

    let (code, _, report) = common::fixer(dir, &["apply", "pytest-asyncio-v1", "."]);
    assert_eq!(code, 0, "apply failed:\n{report}");
    let conftest = std::fs::read_to_string(dir.join("tests/conftest.py")).unwrap();
    assert!(!conftest.contains("def event_loop"), "{conftest}");

    let (code, out) = common::pytest_with(&new, dir, &["-W", "error::DeprecationWarning"]);
    assert_eq!(
        code, 0,
        "the suite should pass under pytest-asyncio 1.x after the recipe:\n{out}"
    );
    assert!(out.contains("4 passed"), "{out}");

    let (code, stdout, _) = common::fixer(dir, &["check", "pytest-asyncio-v1", "."]);
    assert_eq!(code, 0, "check after apply:\n{stdout}");
}
