//! End to end: the field report behind `hoist-imports`, then one small project per
//! class of import whose place or timing matters (issue 17): pytest's outcomes are the
//! same before and after the recipe, and the recipe still moved the imports that can go.
//!
//! The first test: the field report behind `hoist-imports`. Every test imports the code
//! under test inside the test function; that code imports a stand-in for torch, which
//! fails when it is executed a second time; an autouse fixture drops the modules a test
//! imported first. pytest fails before the recipe runs and passes after it.

mod common;

#[test]
fn hoisting_imports_fixes_tests_that_reimport_torch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::copy_tree(&common::fixture("e2e/hoist"), dir);

    let (code, out) = common::pytest(dir, &[], &[]);
    assert_ne!(code, 0, "pytest should fail before the recipe runs:\n{out}");
    assert!(
        out.contains("already has a docstring") && out.contains("4 failed, 1 passed"),
        "unexpected failure before the recipe runs:\n{out}"
    );

    let (code, _, err) = common::fixer(dir, &["apply", "hoist-imports"]);
    assert_eq!(code, 0, "fixer apply failed:\n{err}");
    let test_file =
        std::fs::read_to_string(dir.join("tests/worker/test_pipeline_helpers.py")).unwrap();
    assert!(
        test_file.contains(
            "from src.api.schemas import TaskStatus\nfrom src.worker.pipeline import _update_status, _calculate_edit_rate\n"
        ),
        "the imports are not at module level:\n{test_file}"
    );
    assert!(
        !test_file.contains("        from src.worker"),
        "a local import is left:\n{test_file}"
    );

    let (code, out) = common::pytest(dir, &[], &[]);
    assert_eq!(code, 0, "pytest should pass after the recipe runs:\n{out}");
    assert!(out.contains("5 passed"), "{out}");

    let (code, out, _) = common::fixer(dir, &["check", "hoist-imports"]);
    assert_eq!(code, 0, "a second run would change more:\n{out}");
}

/// pytest's outcome per test (`-rA` summary lines, "PASSED tests/x.py::t") and its
/// totals line without the time.
fn outcomes(dir: &std::path::Path) -> (i32, Vec<String>, String) {
    let (code, out) = common::pytest(dir, &[], &[]);
    let (_, full) = common::pytest_args(dir, &["-rA"]);
    let mut per_test: Vec<String> = full
        .lines()
        .filter(|l| {
            [
                "PASSED ", "FAILED ", "ERROR ", "SKIPPED ", "XFAIL ", "XPASS ",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .map(|l| match l.strip_prefix("SKIPPED ") {
            // `SKIPPED [1] tests/x.py:12: reason`: the line moves with the imports.
            Some(rest) => format!(
                "SKIPPED {}",
                rest.split_once(": ").map_or(rest, |(_, why)| why)
            ),
            None => l.split(" - ").next().unwrap_or(l).to_owned(),
        })
        .collect();
    per_test.sort();
    let totals = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .split(" in ")
        .next()
        .unwrap_or("")
        .to_owned();
    (code, per_test, totals)
}

/// Copies `project`, runs pytest, applies hoist-imports, runs pytest again: the same
/// outcomes, and the test file changed as `moved` says (each string is in it after).
fn same_outcomes(project: &str, test_file: &str, moved: &[&str], kept_notes: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::copy_tree(&common::fixture(project), dir);
    let before = outcomes(dir);
    assert!(!before.1.is_empty(), "{project}: no test ran:\n{before:?}");

    let (code, out, _) = common::fixer(dir, &["check", "hoist-imports"]);
    assert_eq!(code, 1, "{project}: the recipe has work to do:\n{out}");
    let notes = out.matches("note[hoist-imports]: kept").count();
    assert_eq!(notes, kept_notes, "{project}: kept imports:\n{out}");
    let (code, _, err) = common::fixer(dir, &["apply", "hoist-imports"]);
    assert_eq!(code, 0, "{project}: fixer apply failed:\n{err}");
    let text = std::fs::read_to_string(dir.join(test_file)).unwrap();
    for m in moved {
        assert!(text.contains(m), "{project}: expected `{m}` in:\n{text}");
    }

    let after = outcomes(dir);
    assert_eq!(before, after, "{project}: pytest outcomes changed:\n{text}");
    let (code, out, _) = common::fixer(dir, &["check", "hoist-imports"]);
    assert_eq!(code, 0, "{project}: a second run would change more:\n{out}");
}

#[test]
fn code_before_the_import_keeps_it() {
    same_outcomes(
        "e2e/hoist-timing",
        "tests/test_timing.py",
        &[
            "import compat\nimport json\n",
            "    compat.add_move(\"spam\", \"eggs\")\n    from compat.moves import spam\n",
        ],
        3,
    );
}

#[test]
fn setup_outside_the_function_keeps_it() {
    same_outcomes(
        "e2e/hoist-setup",
        "tests/test_setup.py",
        &[
            "import unittest\nimport json\n",
            "        import counter_mod\n",
        ],
        3,
    );
}

#[test]
fn deferred_and_missing_modules_stay() {
    same_outcomes(
        "e2e/hoist-deferred",
        "tests/test_deferred.py",
        &["from app.core import double\n", "    import optional_dep\n"],
        3,
    );
}

#[test]
fn skip_markers_held_in_variables_keep_it() {
    same_outcomes(
        "e2e/hoist-markers",
        "tests/test_markers.py",
        &[
            "import pytest\nimport json\n",
            "    import fancy_missing_lib\n",
        ],
        2,
    );
}

#[test]
fn bindings_of_a_name_move_together() {
    same_outcomes(
        "e2e/hoist-bindings",
        "tests/test_bindings.py",
        &[
            "import sys\nimport pkg.sub as m\n",
            "    import json\n\n    assert json.dumps(1)",
        ],
        4,
    );
}
