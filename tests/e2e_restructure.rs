//! End-to-end tests of the package restructuring recipes: real projects, real pytest
//! runs before and after `fixer`.

mod common;

use std::path::Path;

fn project(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_tree(
        &common::fixture(&format!("e2e/restructure/{name}")),
        tmp.path(),
    );
    tmp
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = common::fixer(dir, args);
    assert_eq!(code, 0, "fixer {args:?} failed:\n{out}\n{err}");
    format!("{out}{err}")
}

/// The field report: tests import `...performance.response_time_monitor` and
/// `...therapeutic_safety.validator` while both are plain modules, and `aioredis`,
/// which is gone. Collection fails; `unresolved-imports` names both module problems
/// with their fixes; after the fixes the suite passes and the old paths still work.
#[test]
fn field_report_module_is_not_a_package() {
    let tmp = project("field_report");
    let dir = tmp.path();
    let (code, out) = common::pytest(dir, &[], &[]);
    assert_ne!(code, 0, "the suite must fail before the fix:\n{out}");
    assert!(out.contains("is not a package"), "{out}");
    assert!(out.contains("No module named 'aioredis'"), "{out}");

    let (code, out, err) = common::fixer(dir, &["check", "unresolved-imports"]);
    assert_eq!(code, 1, "{out}\n{err}");
    for (test, module, sub) in [
        (
            "tests/agent_orchestration/test_performance_validation.py",
            "src.agent_orchestration.performance",
            "response_time_monitor",
        ),
        (
            "tests/agent_orchestration/test_therapeutic_content_validation.py",
            "src.agent_orchestration.therapeutic_safety",
            "validator",
        ),
    ] {
        let expected = format!(
            "{test}:1:1: error[unresolved-imports]: cannot import '{module}.{sub}': '{module}' is a module, not a package (fix: fixer apply module-to-package --set module={module} --set submodule={sub})"
        );
        assert!(out.contains(&expected), "missing:\n{expected}\nin:\n{out}");
    }
    assert_eq!(
        out.lines().filter(|l| l.contains("error[")).count(),
        2,
        "{out}"
    );

    ok(
        dir,
        &[
            "apply",
            "module-to-package",
            "--set",
            "module=src.agent_orchestration.performance",
            "--set",
            "submodule=response_time_monitor",
        ],
    );
    ok(
        dir,
        &[
            "apply",
            "module-to-package",
            "--set",
            "module=src.agent_orchestration.therapeutic_safety",
            "--set",
            "submodule=validator",
        ],
    );
    ok(dir, &["apply", "aioredis-to-redis"]);
    assert!(!dir.join("src/agent_orchestration/performance.py").exists());
    assert!(dir
        .join("src/agent_orchestration/performance/response_time_monitor.py")
        .is_file());

    let (code, out) = common::pytest(dir, &[], &[]);
    assert_eq!(code, 0, "the suite must pass after the fix:\n{out}");
    assert!(out.contains("4 passed"), "{out}");

    // The old import paths still work (tests/agent_orchestration/test_old_paths.py ran
    // above); a second run changes nothing and says so; the check is clean.
    let again = ok(
        dir,
        &[
            "apply",
            "module-to-package",
            "--set",
            "module=src.agent_orchestration.performance",
            "--set",
            "submodule=response_time_monitor",
        ],
    );
    assert!(again.contains("already a package"), "{again}");
    assert!(again.contains("0 files changed"), "{again}");
    let (code, out, err) = common::fixer(dir, &["check", "unresolved-imports"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

/// A module referenced in every form: imports with and without aliases, parenthesised
/// lists with comments, relative imports, dotted uses, `mock.patch` and
/// `import_module` strings, entry points. After the move the tests pass and nothing
/// refers to the old path.
#[test]
fn move_module_rewrites_every_reference() {
    let tmp = project("move_everywhere");
    let dir = tmp.path();
    let (code, out) = common::pytest(dir, &[], &[]);
    assert_eq!(code, 0, "the suite passes before the move:\n{out}");

    let out = ok(
        dir,
        &[
            "apply",
            "move-module",
            "--set",
            "from=shop.utils.money",
            "--set",
            "to=shop.pricing.currency",
        ],
    );
    assert!(!out.contains("warning"), "{out}");
    assert!(!dir.join("shop/utils/money.py").exists());
    assert!(dir.join("shop/pricing/currency.py").is_file());
    assert!(dir.join("shop/pricing/__init__.py").is_file());

    let (code, out) = common::pytest(dir, &[], &[]);
    assert_eq!(code, 0, "the suite passes after the move:\n{out}");
    assert!(out.contains("5 passed"), "{out}");

    // No reference to the old path is left (grep).
    let old = regex::Regex::new(
        r"utils\.money|utils import [^\n]*\bmoney\b|from \.money|from \. import money",
    )
    .unwrap();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "__pycache__") {
                    stack.push(p);
                }
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                assert!(
                    !old.is_match(&text),
                    "{} still refers to shop.utils.money:\n{text}",
                    p.display()
                );
            }
        }
    }
    let (code, out, err) = common::fixer(dir, &["check", "unresolved-imports"]);
    assert_eq!(code, 0, "{out}\n{err}");

    // Moving again: the old module is gone and the new one exists.
    let again = ok(
        dir,
        &[
            "apply",
            "move-module",
            "--set",
            "from=shop.utils.money",
            "--set",
            "to=shop.pricing.currency",
        ],
    );
    assert!(again.contains("already moved"), "{again}");
    // An existing target is refused.
    let (code, _, err) = common::fixer(
        dir,
        &[
            "apply",
            "move-module",
            "--set",
            "from=shop.utils.rounding",
            "--set",
            "to=shop.pricing.currency",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error: the target `shop.pricing.currency` already exists"),
        "{err}"
    );
}

/// A move whose target needs a package where a module of that name is
/// (`shop.cart.money` while `shop/cart.py` exists) is refused: the new `shop/cart/`
/// would shadow `shop/cart.py` and `from shop.cart import ...` would fail. Nothing is
/// written and the suite still passes.
#[test]
fn move_module_refuses_a_target_that_would_shadow_a_module() {
    let tmp = project("move_everywhere");
    let dir = tmp.path();
    let (code, out, err) = common::fixer(
        dir,
        &[
            "apply",
            "move-module",
            "--set",
            "from=shop.utils.money",
            "--set",
            "to=shop.cart.money",
        ],
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains(
            "error: the target `shop.cart.money` needs a package `shop.cart`, but `shop.cart` is the module shop/cart.py"
        ),
        "{err}"
    );
    assert!(
        err.contains("help: turn `shop.cart` into a package first"),
        "{err}"
    );
    assert!(!dir.join("shop/cart").exists());
    assert!(dir.join("shop/utils/money.py").is_file());
    let (code, out) = common::pytest(dir, &[], &[]);
    assert_eq!(code, 0, "the suite still passes:\n{out}");
}

/// A message that names a path of the moved module, inside a longer string (implicit
/// concatenation, a sentence's full stop, a regex with escaped dots), and the tests that
/// match it move together, as do a whole-literal message and a message made at run time
/// from `__module__`: after `move-module` and after `module-to-package` the suite still
/// passes, and only the words that are the module's paths changed.
#[test]
fn moved_paths_in_messages_and_the_tests_that_match_them_stay_in_step() {
    for (args, new) in [
        (
            vec![
                "move-module",
                "--set",
                "from=shop.fields",
                "--set",
                "to=shop.forms.fields",
            ],
            "shop.forms.fields",
        ),
        (
            vec![
                "module-to-package",
                "--set",
                "module=shop.fields",
                "--set",
                "submodule=impl",
            ],
            "shop.fields.impl",
        ),
    ] {
        let tmp = project("messages");
        let dir = tmp.path();
        let (code, out) = common::pytest(dir, &[], &[]);
        assert_eq!(code, 0, "passes before:\n{out}");
        let mut apply = vec!["apply"];
        apply.extend(&args);
        ok(dir, &apply);
        let (code, out) = common::pytest(dir, &[], &[]);
        assert_eq!(code, 0, "{args:?}: passes after:\n{out}");
        let test = std::fs::read_to_string(dir.join("tests/test_messages.py")).unwrap();
        let escaped = new.replace('.', "\\.");
        for expected in [
            format!("match=\"must be an instance of {new}.Field.\""),
            format!("match=r\"instance of {escaped}\\.Field\""),
            format!("match=\"^{new}.Field$\""),
            format!("== \"a {new}.Field named x\""),
        ] {
            assert!(test.contains(&expected), "{args:?}: {expected}\n{test}");
        }
        let moved = if new.ends_with("impl") {
            "shop/fields/impl.py"
        } else {
            "shop/forms/fields.py"
        };
        let code = std::fs::read_to_string(dir.join(moved)).unwrap();
        assert!(code.contains(&format!("\"{new}.Field.\"")), "{code}");
        assert!(
            code.contains("see also shop.fieldsets (another module)"),
            "{code}"
        );
        let mut check = vec!["check"];
        check.extend(&args);
        ok(dir, &check);
    }
}

/// A pytest plugin that makes fixtures as it runs (`globals()[f"_{scope}_runner"] =
/// ...`, as pytest-asyncio 1.5 makes its runner fixtures) keeps them when it becomes a
/// package: pytest reads the plugin's namespace, which the package fills from the moved
/// module (before, every test that used one errored with "fixture not found").
#[test]
fn module_to_package_keeps_a_plugins_runtime_fixtures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::copy_tree(
        &common::fixture("fixtures/module-to-package/pytest-plugin-dynamic"),
        dir,
    );
    std::fs::remove_file(dir.join("case.toml")).unwrap();
    let (code, out) = common::pytest(dir, &[], &[]);
    assert_eq!(code, 0, "the suite passes before:\n{out}");
    ok(
        dir,
        &[
            "apply",
            "module-to-package",
            "--set",
            "module=myplugin.plugin",
            "--set",
            "submodule=impl",
        ],
    );
    assert!(dir.join("myplugin/plugin/impl.py").is_file());
    let (code, out) = common::pytest(dir, &[], &[]);
    assert_eq!(code, 0, "the suite passes after:\n{out}");
    assert!(out.contains("1 passed"), "{out}");
}

/// A moved file keeps its encoding: a latin-1 module (with its coding cookie) moved by
/// `move-module` or split by `module-to-package` is still latin-1 on disk, CRLF kept,
/// and still imports.
#[test]
fn moved_latin1_module_stays_latin1() {
    for (args, new_file) in [
        (
            [
                "apply",
                "move-module",
                "--set",
                "from=pkg.lat",
                "--set",
                "to=pkg.sub.latin",
            ],
            "pkg/sub/latin.py",
        ),
        (
            [
                "apply",
                "module-to-package",
                "--set",
                "module=pkg.lat",
                "--set",
                "submodule=core",
            ],
            "pkg/lat/core.py",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        std::fs::write(dir.join("pkg/__init__.py"), "").unwrap();
        let original: &[u8] = b"# -*- coding: latin-1 -*-\r\nNAME = \"caf\xe9\"\r\n";
        std::fs::write(dir.join("pkg/lat.py"), original).unwrap();
        std::fs::write(
            dir.join("test_lat.py"),
            "import pkg.lat\n\n\ndef test_name():\n    assert pkg.lat.NAME == \"caf\\xe9\"\n",
        )
        .unwrap();
        ok(dir, &args);
        assert_eq!(
            std::fs::read(dir.join(new_file)).unwrap(),
            original,
            "{new_file}"
        );
        let (code, out) = common::pytest(dir, &[], &[]);
        assert_eq!(code, 0, "{out}");
    }
}
