//! End to end: the field report behind `hoist-imports`. Every test imports the code
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
