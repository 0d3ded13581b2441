//! The command line, end to end: every command, option and exit code, and each bad input
//! the engine must reject or survive.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

fn fixer(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("fixer").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn read(dir: &tempfile::TempDir, path: &str) -> String {
    std::fs::read_to_string(dir.path().join(path)).unwrap()
}

const UTCNOW: &str = r#"
id = "utcnow-to-aware"
description = "datetime.utcnow() is deprecated: use datetime.now(timezone.utc)"

[[rewrite]]
query = '''
(call
  function: (attribute object: (identifier) @cls attribute: (identifier) @fn)
  arguments: (argument_list) @args) @call
(#eq? @cls "datetime")
(#eq? @fn "utcnow")
'''
replace = "call"
with = "datetime.now(timezone.utc)"
add-imports = ["from datetime import timezone"]

[[example]]
before = '''
from datetime import datetime

now = datetime.utcnow()
'''
after = '''
from datetime import datetime, timezone

now = datetime.now(timezone.utc)
'''
"#;

#[test]
fn list_names_every_builtin_recipe_and_loaded_files() {
    let dir = project(&[("r.toml", UTCNOW)]);
    fixer(dir.path())
        .args(["list", "--recipe", "r.toml"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^aioredis-to-redis +aioredis is dead").unwrap())
        .stdout(contains("utcnow-to-aware"));
}

#[test]
fn show_prints_description_parameters_and_examples() {
    let dir = project(&[(
        "r.toml",
        &UTCNOW.replace(
            "[[rewrite]]",
            "[params.name]\ndefault = \"x\"\nhelp = \"what to call it\"\n\n[[rewrite]]",
        ),
    )]);
    fixer(dir.path())
        .args(["show", "utcnow-to-aware", "--recipe", "r.toml"])
        .assert()
        .success()
        .stdout(contains("utcnow-to-aware: datetime.utcnow() is deprecated"))
        .stdout(contains("name (default: \"x\")"))
        .stdout(contains("what to call it"))
        .stdout(contains("+now = datetime.now(timezone.utc)"));
}

#[test]
fn apply_rewrites_in_place_and_adds_imports() {
    let dir = project(&[
        ("r.toml", UTCNOW),
        (
            "app/a.py",
            "from datetime import datetime\n\nx = datetime.utcnow()\n",
        ),
    ]);
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml", "app"])
        .assert()
        .success()
        .stderr(contains("1 file changed"));
    assert_eq!(
        read(&dir, "app/a.py"),
        "from datetime import datetime, timezone\n\nx = datetime.now(timezone.utc)\n"
    );
}

#[test]
fn dry_run_prints_a_unified_diff_and_writes_nothing() {
    let body = "from datetime import datetime, timezone\n\na = 1\nb = 2\nc = 3\nd = 4\ne = 5\nx = datetime.utcnow()\n";
    let dir = project(&[("r.toml", UTCNOW), ("src/a.py", body)]);
    let out = fixer(dir.path())
        .args([
            "apply",
            "utcnow-to-aware",
            "--recipe",
            "r.toml",
            "--dry-run",
            "src",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.starts_with("--- a/src/a.py\n+++ b/src/a.py\n"),
        "{stdout}"
    );
    assert!(stdout.contains("@@ -5,4 +5,4 @@\n c = 3\n d = 4\n e = 5\n-x = datetime.utcnow()\n+x = datetime.now(timezone.utc)\n"), "3 lines of context: {stdout}");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("1 file would change (utcnow-to-aware: 1 edit)"),
        "{stderr}"
    );
    assert_eq!(read(&dir, "src/a.py"), body);
}

#[test]
fn check_exits_1_while_work_is_pending_and_0_after_apply() {
    let dir = project(&[
        ("r.toml", UTCNOW),
        (
            "a.py",
            "from datetime import datetime\nx = datetime.utcnow()\n",
        ),
    ]);
    fixer(dir.path())
        .args(["check", "--recipe", "r.toml"])
        .assert()
        .code(1)
        .stdout(contains("a.py: would be changed by utcnow-to-aware"))
        .stdout(contains("+++").not());
    fixer(dir.path())
        .args(["check", "--recipe", "r.toml", "--diff"])
        .assert()
        .code(1)
        .stdout(contains("+++ b/a.py"));
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .success();
    fixer(dir.path())
        .args(["check", "--recipe", "r.toml"])
        .assert()
        .success();
}

#[test]
fn several_recipes_apply_in_order_each_seeing_the_previous_output() {
    let first = r#"
id = "a-to-b"
description = "a() to b()"
[[rewrite]]
query = '((call function: (identifier) @f) @c (#eq? @f "a"))'
replace = "f"
with = "b"
"#;
    let second = r#"
id = "b-to-c"
description = "b() to c()"
[[rewrite]]
query = '((call function: (identifier) @f) @c (#eq? @f "b"))'
replace = "f"
with = "c"
"#;
    let dir = project(&[("1.toml", first), ("2.toml", second), ("x.py", "a()\n")]);
    fixer(dir.path())
        .args([
            "apply", "a-to-b", "b-to-c", "x.py", "--recipe", "1.toml", "--recipe", "2.toml",
        ])
        .assert()
        .success();
    assert_eq!(read(&dir, "x.py"), "c()\n");
}

#[test]
fn test_command_runs_examples_and_fails_on_a_wrong_after() {
    let dir = project(&[
        ("r.toml", UTCNOW),
        (
            "bad.toml",
            &UTCNOW
                .replace(
                    "now = datetime.now(timezone.utc)\n'''\n\"#",
                    "now = datetime.now()\n'''\n\"#",
                )
                .replace(
                    "now = datetime.now(timezone.utc)\n'''",
                    "now = datetime.now()\n'''",
                ),
        ),
    ]);
    fixer(dir.path())
        .args(["test", "r.toml"])
        .assert()
        .success()
        .stdout(contains("PASS utcnow-to-aware"))
        .stdout(contains("1 passed, 0 failed"));
    fixer(dir.path())
        .args(["test", "bad.toml"])
        .assert()
        .code(1)
        .stdout(contains("FAIL utcnow-to-aware"))
        .stdout(contains("+now = datetime.now(timezone.utc)"));
}

#[test]
fn test_command_fails_a_recipe_that_is_not_idempotent() {
    let grows = r#"
id = "grows"
description = "wraps again and again"
[[rewrite]]
query = '((call function: (identifier) @f) @c (#eq? @f "f"))'
replace = "c"
with = "f(g($c))"
[[example]]
before = "x = 1\n"
after = "x = 1\n"
"#;
    let dir = project(&[("g.toml", grows), ("a.py", "f(1)\n")]);
    // An example that does not match passes; applying it to a real file must not loop forever.
    fixer(dir.path())
        .args(["test", "g.toml"])
        .assert()
        .success();
    // The error remains, so `apply` exits 1 (as `check` does).
    fixer(dir.path())
        .args(["apply", "--recipe", "g.toml", "a.py"])
        .assert()
        .code(1)
        .stderr(contains("did not converge"));
    assert_eq!(read(&dir, "a.py"), "f(1)\n");
}

#[test]
fn user_recipe_in_toml_only_through_recipe_flag() {
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/recipes/assert-equal.toml");
    let dir = project(&[(
        "tests/test_math.py",
        "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        self.assertEqual(\n            add(1,\n                2),\n            3,\n        )\n        if True:\n            self.assertEqual(x, [1, 2])\n",
    )]);
    fixer(dir.path())
        .arg("test")
        .arg(&recipe)
        .assert()
        .success()
        .stdout(contains("0 failed"));
    fixer(dir.path())
        .arg("apply")
        .arg("--recipe")
        .arg(&recipe)
        .assert()
        .success();
    assert_eq!(
        read(&dir, "tests/test_math.py"),
        "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        assert add(1,\n                2) == 3\n        if True:\n            assert x == [1, 2]\n"
    );
}

#[test]
fn multiline_template_is_reindented_to_the_node_column() {
    let recipe = r#"
id = "expand"
description = "expand marker"
[[rewrite]]
query = '((expression_statement (call function: (identifier) @f)) @s (#eq? @f "marker"))'
replace = "s"
with = '''
if DEBUG:
    print("here")
'''
"#;
    let dir = project(&[("r.toml", recipe), ("a.py", "def f():\n    marker()\n")]);
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .success();
    assert_eq!(
        read(&dir, "a.py"),
        "def f():\n    if DEBUG:\n        print(\"here\")\n"
    );
}

#[test]
fn unknown_recipe_is_exit_2_with_the_closest_ids() {
    let dir = project(&[]);
    fixer(dir.path())
        .args(["apply", "aioredis-to-redi"])
        .assert()
        .code(2)
        .stderr(contains("error: unknown recipe `aioredis-to-redi`"))
        .stderr(contains("help: did you mean `aioredis-to-redis`?"));
    fixer(dir.path())
        .args(["show", "nope"])
        .assert()
        .code(2)
        .stderr(contains("unknown recipe `nope`"));
}

#[test]
fn unknown_parameter_is_exit_2_naming_it() {
    let dir = project(&[("a.py", "x = 1\n")]);
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "--set", "colour=blue"])
        .assert()
        .code(2)
        .stderr(contains(
            "unknown parameter `colour` for recipe aioredis-to-redis",
        ));
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "--set", "novalue"])
        .assert()
        .code(2)
        .stderr(contains("is not KEY=VALUE"));
}

#[test]
fn missing_parameter_is_exit_2_with_help() {
    let recipe = r#"
id = "needs"
description = "needs a name"
[params.name]
help = "the function to rename"
[[rewrite]]
query = '((identifier) @i (#eq? @i "{{name}}"))'
replace = "i"
with = "renamed"
"#;
    let dir = project(&[("r.toml", recipe), ("a.py", "old = 1\n")]);
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .code(2)
        .stderr(contains("recipe `needs` needs parameter `name`"))
        .stderr(contains("help: give it with --set name=VALUE"));
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml", "--set", "name=old"])
        .assert()
        .success();
    assert_eq!(read(&dir, "a.py"), "renamed = 1\n");
}

#[test]
fn missing_path_is_exit_2_naming_it() {
    let dir = project(&[]);
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "no/such/dir"])
        .assert()
        .code(2)
        .stderr(contains("path `no/such/dir` does not exist"));
}

#[test]
fn malformed_toml_is_rejected_with_its_line() {
    let dir = project(&[(
        "r.toml",
        "id = \"x\"\ndescription = \"d\"\n\n[[rewrite]\nquery = 1\n",
    )]);
    fixer(dir.path())
        .args(["list", "--recipe", "r.toml"])
        .assert()
        .code(2)
        .stderr(contains("r.toml:4: invalid recipe"));
}

#[test]
fn unknown_key_is_rejected_with_its_line() {
    let dir = project(&[(
        "r.toml",
        "id = \"x\"\ndescription = \"d\"\n\n[[rewrite]]\nquery = '(identifier)'\nreplce = \"x\"\n",
    )]);
    fixer(dir.path())
        .args(["list", "--recipe", "r.toml"])
        .assert()
        .code(2)
        .stderr(contains("r.toml:6: invalid recipe: unknown field `replce`"));
}

#[test]
fn invalid_query_is_rejected_with_the_line_in_the_recipe_file() {
    let recipe = "id = \"x\"\ndescription = \"d\"\n\n[[rewrite]]\nquery = '''\n(call\n  function: (identifer) @f)\n'''\nreplace = \"f\"\nwith = \"g\"\n";
    let dir = project(&[("r.toml", recipe)]);
    fixer(dir.path())
        .args(["list", "--recipe", "r.toml"])
        .assert()
        .code(2)
        .stderr(contains("r.toml:7: invalid query in rewrite #1"))
        .stderr(contains("identifer"));
}

#[test]
fn unknown_capture_is_rejected() {
    let recipe = "id = \"x\"\ndescription = \"d\"\n\n[[rewrite]]\nquery = '(call function: (identifier) @f) @c'\nreplace = \"c\"\nwith = \"$g()\"\n";
    let dir = project(&[("r.toml", recipe)]);
    fixer(dir.path())
        .args(["list", "--recipe", "r.toml"])
        .assert()
        .code(2)
        .stderr(contains(
            "r.toml:7: rewrite #1: capture `@g` is not defined by the query",
        ))
        .stderr(contains("help: the query defines @f, @c"));
    let recipe = recipe
        .replace("replace = \"c\"", "replace = \"call\"")
        .replace("$g", "$f");
    let dir = project(&[("r.toml", &recipe)]);
    fixer(dir.path())
        .args(["list", "--recipe", "r.toml"])
        .assert()
        .code(2)
        .stderr(contains("r.toml:6: rewrite #1: capture `@call`"));
}

#[test]
fn unknown_predicate_and_action_are_rejected() {
    let recipe = "id = \"x\"\ndescription = \"d\"\n\n[[rewrite]]\nquery = '((identifier) @i (#starts-with? @i \"a\"))'\nmessage = \"m\"\n";
    let dir = project(&[("r.toml", recipe)]);
    fixer(dir.path())
        .args(["list", "--recipe", "r.toml"])
        .assert()
        .code(2)
        .stderr(contains(
            "r.toml:5: rewrite #1: unknown predicate `#starts-with?`",
        ));
    let recipe = "id = \"x\"\ndescription = \"d\"\n\n[[action]]\nname = \"hoist-everything\"\n";
    let dir = project(&[("r.toml", recipe)]);
    fixer(dir.path())
        .args(["list", "--recipe", "r.toml"])
        .assert()
        .code(2)
        .stderr(contains("r.toml:4: unknown action `hoist-everything`"));
}

#[test]
fn unparsable_file_is_skipped_with_a_warning_and_others_proceed() {
    let dir = project(&[
        ("bad.py", "import aioredis\ndef f(:\n"),
        ("good.py", "import aioredis\n"),
    ]);
    fixer(dir.path())
        .args(["apply", "aioredis-to-redis"])
        .assert()
        .success()
        .stderr(contains(
            "warning: skipped bad.py: does not parse (syntax error at 2:",
        ));
    assert_eq!(read(&dir, "bad.py"), "import aioredis\ndef f(:\n");
    assert_eq!(
        read(&dir, "good.py"),
        "from redis import asyncio as aioredis\n"
    );
}

/// A project-wide recipe reports a file it could not parse that may refer to what it
/// changes, in every format, at the syntax error's line; `check` stays pending while
/// it is there, and the other files proceed.
#[test]
fn project_recipes_report_unparsable_files_that_may_refer_to_the_change() {
    let dir = project(&[
        ("pyproject.toml", "[project]\nname = \"x\"\n"),
        ("pkg/__init__.py", ""),
        ("pkg/mod.py", "def f():\n    return 1\n"),
        ("pkg/ok.py", "from pkg.mod import f\n"),
        ("pkg/broken.py", "from pkg.mod import f\nx = (\n"),
        ("pkg/other_broken.py", "y = (\n"),
        ("pkg/user.py", "import os\n\nfrom .ok import f\n"),
    ]);
    let args = ["--set", "from=pkg.mod", "--set", "to=pkg.new"];
    let skipped = "warning: skipped pkg/broken.py: does not parse (syntax error at 2:1); it may refer to what the recipe changes, and was not updated";
    fixer(dir.path())
        .args(["check", "move-module", "--format", "json"])
        .args(args)
        .assert()
        .code(1)
        .stdout(contains(
            r#""file": "pkg/broken.py",
        "line": 2,
        "may_refer": true,"#,
        ))
        .stdout(contains(r#""kind": "skipped""#))
        // A file that cannot name the module is not reported by move-module.
        .stdout(contains("other_broken").not());
    fixer(dir.path())
        .args(["check", "move-module", "--format", "github"])
        .args(args)
        .assert()
        .code(1)
        .stdout(contains(
            "::warning file=pkg/broken.py,line=2,endLine=2,title=fixer (move-module)::skipped: does not parse",
        ));
    fixer(dir.path())
        .args(["apply", "move-module"])
        .args(args)
        .assert()
        .success()
        .stderr(contains(skipped))
        .stderr(contains(
            "3 files changed (move-module: 3 edits), 1 skipped",
        ));
    assert_eq!(read(&dir, "pkg/ok.py"), "from pkg.new import f\n");
    assert_eq!(
        read(&dir, "pkg/broken.py"),
        "from pkg.mod import f\nx = (\n"
    );
    // Applied, but a reference may be stale: `check` still exits 1, and says why.
    fixer(dir.path())
        .args(["check", "move-module"])
        .args(args)
        .assert()
        .code(1)
        .stderr(contains(skipped));
    // unresolved-imports cannot check the imports of a file that does not parse: it
    // says so, and that alone does not fail the check.
    fixer(dir.path())
        .args(["check", "unresolved-imports"])
        .assert()
        .success()
        .stderr(contains(
            "warning: skipped pkg/broken.py: does not parse (syntax error at 2:1)\n",
        ))
        .stderr(contains("other_broken").not());
}

/// lazy-settings skips a file that names the settings but does not parse, as one whose
/// uses were not rewritten.
#[test]
fn lazy_settings_reports_an_unparsable_user_of_the_settings() {
    let dir = project(&[
        ("pyproject.toml", "[project]\nname = \"x\"\n"),
        ("app/__init__.py", ""),
        (
            "app/config.py",
            "from pydantic_settings import BaseSettings\n\n\nclass Settings(BaseSettings):\n    debug: bool = False\n\n\nsettings = Settings()\n",
        ),
        ("app/use.py", "from app.config import settings\n\n\ndef f():\n    return settings.debug\n"),
        ("app/broken.py", "from app.config import settings\nif settings.debug\n    pass\n"),
    ]);
    fixer(dir.path())
        .args(["check", "lazy-settings"])
        .assert()
        .code(1)
        .stderr(contains(
            "warning: skipped app/broken.py: does not parse (syntax error at 2:",
        ))
        .stderr(contains("it may refer to what the recipe changes"));
}

/// A project without pyproject.toml in a subdirectory of a repository is found from
/// the path given (or a manage.py / pytest.ini above its packages); a module that is
/// not found gets the closest ones as help.
#[test]
fn a_project_in_a_subdirectory_of_a_repository_is_found_from_the_path_given() {
    let dir = project(&[
        ("projA/pkg/__init__.py", ""),
        ("projA/pkg/mod.py", "def f():\n    return 1\n"),
        ("projA/use.py", "from pkg.mod import f\n"),
        ("site/manage.py", "import app\n"),
        ("site/app/__init__.py", ""),
        ("site/app/models.py", "class M:\n    pass\n"),
        ("site/app/views.py", "from app.models import M\n"),
    ]);
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let args = ["--set", "from=pkg.mod", "--set", "to=pkg.new"];
    fixer(dir.path())
        .args(["check", "move-module", "projA"])
        .args(args)
        .assert()
        .code(1)
        .stdout(contains("projA/use.py: would be changed by move-module"));
    fixer(&dir.path().join("projA"))
        .args(["check", "move-module", "."])
        .args(args)
        .assert()
        .code(1)
        .stdout(contains("use.py: would be changed by move-module"));
    // From the repository root, `pkg.mod` is `projA.pkg.mod`: the help says so.
    fixer(dir.path())
        .args(["check", "move-module", "."])
        .args(args)
        .assert()
        .code(2)
        .stderr(contains("error: no module `pkg.mod` in the project (looked under .)"))
        .stderr(contains(
            "help: the closest modules: `projA.pkg.mod` (to name it `pkg.mod`, give the path of its project: projA)",
        ));
    // manage.py marks the project root even when the run is given a package in it.
    fixer(dir.path())
        .args(["apply", "move-module", "site/app"])
        .args(["--set", "from=app.models", "--set", "to=app.db.models"])
        .assert()
        .success();
    assert_eq!(
        read(&dir, "site/app/views.py"),
        "from app.db.models import M\n"
    );
    fixer(dir.path())
        .args(["check", "unresolved-imports", "site", "projA"])
        .assert()
        .success();
}

#[test]
fn latin1_file_is_decoded_by_its_cookie_and_written_back_in_latin1() {
    let dir = project(&[]);
    let bytes = b"# -*- coding: latin-1 -*-\nimport aioredis\nname = '\xe9t\xe9'\n";
    std::fs::write(dir.path().join("a.py"), bytes).unwrap();
    std::fs::write(
        dir.path().join("b.py"),
        b"import aioredis\nname = '\xe9t\xe9'\n",
    )
    .unwrap();
    fixer(dir.path())
        .args(["apply", "aioredis-to-redis"])
        .assert()
        .success()
        .stderr(contains(
            "warning: skipped b.py: not valid UTF-8 and no PEP 263 coding cookie",
        ));
    assert_eq!(
        std::fs::read(dir.path().join("a.py")).unwrap(),
        b"# -*- coding: latin-1 -*-\nfrom redis import asyncio as aioredis\nname = '\xe9t\xe9'\n"
    );
    assert_eq!(
        std::fs::read(dir.path().join("b.py")).unwrap(),
        b"import aioredis\nname = '\xe9t\xe9'\n"
    );
}

#[test]
fn crlf_bom_and_tabs_stay_byte_identical() {
    let dir = project(&[]);
    let before = b"\xEF\xBB\xBF# head\r\nimport aioredis\r\n\r\nif x:\r\n\ty = 1  # tab\r\n";
    std::fs::write(dir.path().join("a.py"), before).unwrap();
    fixer(dir.path())
        .args(["apply", "aioredis-to-redis"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(dir.path().join("a.py")).unwrap(),
        b"\xEF\xBB\xBF# head\r\nfrom redis import asyncio as aioredis\r\n\r\nif x:\r\n\ty = 1  # tab\r\n"
    );
}

#[test]
fn added_import_lines_use_the_file_newline() {
    let dir = project(&[("r.toml", UTCNOW)]);
    std::fs::write(
        dir.path().join("a.py"),
        "import os\r\n\r\nx = datetime.utcnow()\r\n",
    )
    .unwrap();
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .success();
    assert_eq!(
        read(&dir, "a.py"),
        "import os\r\nfrom datetime import timezone\r\n\r\nx = datetime.now(timezone.utc)\r\n"
    );
}

#[cfg(unix)]
#[test]
fn read_only_file_mode_is_kept() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project(&[
        ("a.py", "import aioredis\n"),
        ("run.py", "import aioredis\n"),
    ]);
    let set = |p: &str, mode: u32| {
        std::fs::set_permissions(dir.path().join(p), std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set("a.py", 0o444);
    set("run.py", 0o755);
    fixer(dir.path())
        .args(["apply", "aioredis-to-redis"])
        .assert()
        .success();
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("a.py"), 0o444);
    assert_eq!(mode("run.py"), 0o755);
    assert_eq!(
        read(&dir, "a.py"),
        "from redis import asyncio as aioredis\n"
    );
}

#[cfg(unix)]
#[test]
fn links_out_of_the_tree_are_not_followed() {
    let outside = project(&[
        ("victim.py", "import aioredis\n"),
        ("pkg/mod.py", "import aioredis\n"),
    ]);
    let dir = project(&[("inside.py", "import aioredis\n")]);
    std::os::unix::fs::symlink(outside.path().join("victim.py"), dir.path().join("link.py"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path().join("pkg"), dir.path().join("pkglink")).unwrap();
    fixer(dir.path())
        .args(["apply", "aioredis-to-redis"])
        .assert()
        .success()
        .stderr(contains("1 file changed"));
    assert_eq!(read(&outside, "victim.py"), "import aioredis\n");
    assert_eq!(read(&outside, "pkg/mod.py"), "import aioredis\n");
    assert_eq!(
        read(&dir, "inside.py"),
        "from redis import asyncio as aioredis\n"
    );
    assert!(std::fs::symlink_metadata(dir.path().join("link.py"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn gitignored_hidden_and_virtualenv_files_are_skipped_but_named_files_are_processed() {
    let dir = project(&[
        (".gitignore", "generated/\n"),
        ("generated/a.py", "import aioredis\n"),
        (".hidden/a.py", "import aioredis\n"),
        (".venv/lib/a.py", "import aioredis\n"),
        ("venv/a.py", "import aioredis\n"),
        ("node_modules/a.py", "import aioredis\n"),
        ("src/a.py", "import aioredis\n"),
    ]);
    fixer(dir.path())
        .args(["check", "aioredis-to-redis"])
        .assert()
        .code(1)
        .stdout(contains("src/a.py"))
        .stdout(contains("generated").not())
        .stdout(contains("venv").not())
        .stdout(contains("hidden").not())
        .stdout(contains("node_modules").not());
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "generated/a.py"])
        .assert()
        .code(1)
        .stdout(contains("generated/a.py: would be changed"));
}

#[test]
fn include_and_exclude_override_the_recipe_globs() {
    let dir = project(&[
        ("a/x.py", "import aioredis\n"),
        ("b/y.py", "import aioredis\n"),
    ]);
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "--include", "a/**"])
        .assert()
        .code(1)
        .stdout(contains("a/x.py"))
        .stdout(contains("b/y.py").not());
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "--exclude", "a/**"])
        .assert()
        .code(1)
        .stdout(contains("b/y.py"))
        .stdout(contains("a/x.py").not());
}

#[test]
fn jobs_quiet_and_color_options() {
    let dir = project(&[("a.py", "import aioredis\n")]);
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "--jobs", "1", "--quiet"])
        .assert()
        .code(1)
        .stderr("");
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "--jobs", "0"])
        .assert()
        .code(2)
        .stderr(contains("--jobs must be at least 1"));
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "--diff", "--color", "always"])
        .assert()
        .code(1)
        .stdout(contains("\x1b[32m+from redis"));
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "--diff", "--color", "never"])
        .assert()
        .code(1)
        .stdout(contains("\x1b[").not());
    // auto: not a terminal here, so no colour
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "--diff"])
        .assert()
        .code(1)
        .stdout(contains("\x1b[").not());
}

#[test]
fn usage_error_is_exit_2() {
    let dir = project(&[]);
    fixer(dir.path())
        .args(["apply", "--no-such-flag"])
        .assert()
        .code(2);
    fixer(dir.path())
        .args(["apply"])
        .assert()
        .code(2)
        .stderr(contains("no recipe named"));
}

#[test]
fn rewrite_that_breaks_syntax_is_not_written_and_is_reported() {
    let recipe = r#"
id = "breaks"
description = "drops a parenthesis"
[[rewrite]]
query = '((call function: (identifier) @f arguments: (argument_list) @a) @c (#eq? @f "go"))'
replace = "c"
with = "go($a"
"#;
    let dir = project(&[("r.toml", recipe), ("a.py", "go(1)\nx = 2\n")]);
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .stderr(contains("error[breaks]"))
        .stderr(contains("would introduce a syntax error"));
    assert_eq!(read(&dir, "a.py"), "go(1)\nx = 2\n");
    fixer(dir.path())
        .args(["check", "--recipe", "r.toml"])
        .assert()
        .code(1);
}

#[test]
fn overlapping_edits_from_two_rewrites_are_reported_as_a_conflict() {
    let recipe = r#"
id = "two"
description = "two rewrites of one call"
[[rewrite]]
query = '((call function: (identifier) @f) @c (#eq? @f "old"))'
replace = "c"
with = "new()"
[[rewrite]]
query = '((call function: (identifier) @f) @c (#eq? @f "old"))'
replace = "f"
with = "other"
"#;
    let dir = project(&[("r.toml", recipe), ("a.py", "old()\n")]);
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .success()
        .stderr(contains(
            "conflict: the edit of `two/rewrite #2` overlaps the edit of `two/rewrite #1`",
        ));
    assert_eq!(read(&dir, "a.py"), "new()\n");
}

#[test]
fn nested_matches_of_one_rewrite_converge_in_one_run() {
    let recipe = r#"
id = "unwrap"
description = "wrap(x) -> x"
[[rewrite]]
query = '((call function: (identifier) @f arguments: (argument_list . (_) @x .)) @c (#eq? @f "wrap"))'
replace = "c"
with = "$x"
"#;
    let dir = project(&[("r.toml", recipe), ("a.py", "y = wrap(wrap(wrap(1)))\n")]);
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .success();
    assert_eq!(read(&dir, "a.py"), "y = 1\n");
    fixer(dir.path())
        .args(["check", "--recipe", "r.toml"])
        .assert()
        .success();
}

#[test]
fn builtin_recipes_work_from_any_directory() {
    let dir = project(&[("x.py", "import aioredis\n")]);
    fixer(dir.path())
        .args(["apply", "aioredis-to-redis", "--dry-run"])
        .assert()
        .success()
        .stdout(contains("+from redis import asyncio as aioredis"));
}

#[test]
fn builtin_recipe_examples_pass() {
    let recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    let mut files: Vec<_> = std::fs::read_dir(&recipes)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.contains("[[example]]"),
            "{}: every built-in recipe has an example that `fixer test` runs",
            f.display()
        );
    }
    let dir = project(&[]);
    fixer(dir.path())
        .arg("test")
        .args(&files)
        .assert()
        .success()
        .stdout(contains(" 0 failed"));
}

#[test]
fn every_builtin_recipe_validates() {
    for (name, text) in fixer::recipe::builtin::FILES {
        if let Err(e) = fixer::recipe::Recipe::parse(text, Path::new(name), true) {
            panic!("recipes/{name}: {}", e.message);
        }
    }
}

#[test]
fn every_recipe_file_is_embedded() {
    let recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    for entry in std::fs::read_dir(recipes).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            fixer::recipe::builtin::FILES
                .iter()
                .any(|(n, _)| *n == name),
            "recipes/{name} is not listed in src/recipe/builtin.rs"
        );
    }
}

/// The README's pre-commit snippet names the release of this version (`v<version>`).
#[test]
fn the_readme_names_this_release() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let rev = format!("rev: v{}\n", env!("CARGO_PKG_VERSION"));
    assert!(
        readme.contains(&rev),
        "README.md should say `{}`",
        rev.trim()
    );
}

/// Completions offer the recipe ids: built-ins, and the user's (`--recipe` files, the
/// configuration's `recipe-paths`) where `apply`, `check` and `show` take ids.
#[test]
fn completions_are_printed_with_recipe_ids() {
    let dir = project(&[
        ("r.toml", UTCNOW),
        (
            "mine/own.toml",
            &UTCNOW.replace("utcnow-to-aware", "own-recipe"),
        ),
        ("fixer.toml", "recipe-paths = [\"mine\"]\n"),
    ]);
    for shell in ["bash", "zsh", "fish"] {
        let out = fixer(dir.path())
            .args(["completions", shell, "--recipe", "r.toml"])
            .assert()
            .success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(
            text.contains("_fixer") || text.contains("complete -c fixer"),
            "{shell}"
        );
        for id in [
            "hoist-imports",
            "move-module",
            "utcnow-to-aware",
            "own-recipe",
        ] {
            assert!(text.contains(id), "{shell} completions lack {id}");
        }
    }
    // bash: ids among the words of `check`, file names still completed (`-o default`).
    let out = fixer(dir.path())
        .args(["completions", "bash"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let check = text
        .lines()
        .skip_while(|l| !l.contains("fixer__subcmd__check)"))
        .find(|l| l.trim_start().starts_with("opts="))
        .unwrap();
    assert!(check.contains(" hoist-imports"), "{check}");
    assert!(text.contains("-o default fixer"));
}

#[test]
fn top_level_predicates_constrain_the_pattern_before_them() {
    let dir = project(&[
        ("r.toml", UTCNOW),
        ("a.py", "self.assertEqual(1, 1)\nx = datetime.utcnow()\n"),
    ]);
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .success();
    assert_eq!(
        read(&dir, "a.py"),
        "from datetime import timezone\n\nself.assertEqual(1, 1)\nx = datetime.now(timezone.utc)\n"
    );
}

/// hoist-imports leaves an import under `# fixer: ignore[hoist-imports]` where it is and
/// adds nothing for it at the top, and hoists the others of the file.
#[test]
fn hoist_imports_honours_a_suppressed_import() {
    let dir = project(&[(
        "test_h.py",
        "def test_x():\n    import json  # fixer: ignore[hoist-imports]\n    assert json\n\n\ndef test_y():\n    import os\n    assert os\n",
    )]);
    fixer(dir.path())
        .args(["apply", "hoist-imports"])
        .assert()
        .success();
    assert_eq!(
        read(&dir, "test_h.py"),
        "import os\n\n\ndef test_x():\n    import json  # fixer: ignore[hoist-imports]\n    assert json\n\n\ndef test_y():\n    assert os\n"
    );
    fixer(dir.path())
        .args(["check", "hoist-imports"])
        .assert()
        .success();
}

#[test]
fn suppression_comments_on_a_line_a_statement_and_a_file() {
    let dir = project(&[
        ("a.py", "import aioredis  # fixer: ignore\nfrom aioredis import (  # fixer: ignore[aioredis-to-redis]\n    Redis,\n)\nfrom aioredis import x  # fixer: ignore[other-recipe]\n"),
        ("b.py", "# fixer: ignore-file[aioredis-to-redis]\nimport aioredis\n"),
        ("c.py", "# fixer: ignore-file[other-recipe]\nimport aioredis\n"),
    ]);
    fixer(dir.path())
        .args(["apply", "aioredis-to-redis"])
        .assert()
        .success();
    assert_eq!(
        read(&dir, "a.py"),
        "import aioredis  # fixer: ignore\nfrom aioredis import (  # fixer: ignore[aioredis-to-redis]\n    Redis,\n)\nfrom redis.asyncio import x  # fixer: ignore[other-recipe]\n"
    );
    assert_eq!(
        read(&dir, "b.py"),
        "# fixer: ignore-file[aioredis-to-redis]\nimport aioredis\n"
    );
    assert_eq!(
        read(&dir, "c.py"),
        "# fixer: ignore-file[other-recipe]\nfrom redis import asyncio as aioredis\n"
    );
    fixer(dir.path())
        .args(["check", "aioredis-to-redis"])
        .assert()
        .success();
}

#[test]
fn shards_split_the_files_between_jobs() {
    let files: Vec<(String, &str)> = (0..20)
        .map(|i| (format!("m{i}.py"), "import aioredis\n"))
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
    let dir = project(&refs);
    let mut seen = Vec::new();
    for k in 1..=3 {
        let out = fixer(dir.path())
            .args(["check", "aioredis-to-redis", "--shard", &format!("{k}/3")])
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        seen.extend(
            stdout
                .lines()
                .filter(|l| l.contains("would be"))
                .map(str::to_owned),
        );
    }
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(
        (total, seen.len()),
        (20, 20),
        "every file in exactly one shard: {seen:?}"
    );
    fixer(dir.path())
        .args(["check", "aioredis-to-redis", "--shard", "4/3"])
        .assert()
        .code(2)
        .stderr(contains("--shard `4/3` is not K/N"));
}

#[test]
fn dot_ignore_files_are_honoured() {
    let dir = project(&[
        (".ignore", "skipme.py\n"),
        ("skipme.py", "import aioredis\n"),
        ("keep.py", "import aioredis\n"),
    ]);
    fixer(dir.path())
        .args(["check", "aioredis-to-redis"])
        .assert()
        .code(1)
        .stdout(contains("keep.py"))
        .stdout(contains("skipme").not());
}

#[test]
fn prefilter_leaves_files_without_the_literals_unparsed() {
    // A broken file that cannot contain a match is never parsed, so never reported.
    let dir = project(&[
        ("broken.py", "def f(:\n"),
        ("broken_redis.py", "import aioredis\ndef f(:\n"),
    ]);
    let out = fixer(dir.path())
        .args(["check", "aioredis-to-redis"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("skipped broken_redis.py"), "{stderr}");
    assert!(!stderr.contains("skipped broken.py"), "{stderr}");
}

#[test]
fn a_file_that_cannot_be_written_is_reported_and_the_others_proceed() {
    let recipe = r#"
id = "euro"
description = "currency sign"
[[rewrite]]
query = '((identifier) @i (#eq? @i "EUR"))'
replace = "i"
with = "EUR_\u03a9"
"#;
    let dir = project(&[("r.toml", recipe), ("b.py", "x = EUR\n")]);
    std::fs::write(
        dir.path().join("a.py"),
        b"# -*- coding: latin-1 -*-\nx = EUR\n",
    )
    .unwrap();
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .code(2)
        .stderr(contains(
            "error: a.py: the new text cannot be encoded in latin-1",
        ))
        .stderr(contains("1 could not be written"));
    assert_eq!(
        std::fs::read(dir.path().join("a.py")).unwrap(),
        b"# -*- coding: latin-1 -*-\nx = EUR\n"
    );
    assert_eq!(read(&dir, "b.py"), "x = EUR_\u{3a9}\n");
}

#[test]
fn recipes_that_cross_files_refuse_shard() {
    let dir = project(&[("a.py", "x = 1\n")]);
    fixer(dir.path())
        .args(["check", "lazy-settings", "--shard", "1/2"])
        .assert()
        .code(2)
        .stderr(contains("recipe `lazy-settings` changes files across the project, so it cannot run on a shard of it"))
        .stderr(contains("help: run it in one job without --shard"));
}

#[test]
fn two_projects_in_one_run_resolve_relative_imports_each_within_its_own() {
    let dir = project(&[
        ("one/pyproject.toml", "[project]\nname = \"one\"\n"),
        ("one/alpha/__init__.py", ""),
        ("one/alpha/core.py", "from .util import helper\n"),
        ("one/alpha/util.py", "def helper():\n    pass\n"),
        ("two/pyproject.toml", "[project]\nname = \"two\"\n"),
        ("two/beta/__init__.py", ""),
        ("two/beta/sub/__init__.py", ""),
        (
            "two/beta/sub/core.py",
            "from ..util import helper\nfrom ....gone import x\n",
        ),
        ("two/beta/util.py", "def helper():\n    pass\n"),
    ]);
    // `....gone` climbs above the second project's top-level package, as Python says.
    fixer(dir.path())
        .args(["check", "unresolved-imports", "one", "two"])
        .assert()
        .code(1)
        .stdout(contains("core.py:2:1: error[unresolved-imports]: cannot import '....gone': attempted relative import beyond top-level package 'beta'"))
        .stdout(contains("1 error"))
        .stdout(contains("helper").not());
}

#[test]
fn lazy_settings_leaves_a_settings_module_that_does_not_parse_alone() {
    // The syntax error is in a function that has nothing to do with the settings, which
    // a partial parse does not read: the module still counts as unparsable, whole.
    let config = "class Settings:\n    debug = False\n\n\nsettings = Settings()\n\n\ndef unrelated():\n    x = = 1\n    return x\n";
    let use_it = "from app.config import settings\n\n\ndef debug():\n    return settings.debug\n";
    let dir = project(&[
        ("app/__init__.py", ""),
        ("app/config.py", config),
        ("app/use.py", use_it),
    ]);
    for env in [None, Some("1")] {
        let mut cmd = fixer(dir.path());
        if let Some(v) = env {
            cmd.env("FIXER_FULL_PARSE", v);
        }
        cmd.args(["apply", "lazy-settings", "."]).assert().success();
        assert_eq!(read(&dir, "app/config.py"), config);
        assert_eq!(read(&dir, "app/use.py"), use_it);
    }
}

/// A `check` of one per-file recipe prints as files are done (nothing per file is kept):
/// its output must be the one a run that keeps everything (`--statistics`) prints, with
/// the pending files first, then the findings, both in path order.
#[test]
fn check_of_one_recipe_prints_as_it_goes_what_a_full_run_prints() {
    let mut files: Vec<(String, String)> = Vec::new();
    for i in 0..40 {
        // Every third file only has a kept import (a finding), the others would change.
        let body = if i % 3 == 0 {
            "def f():\n    if True:\n        import json\n    return json\n".to_owned()
        } else {
            format!("def f():\n    import os\n    return os.sep  # {i}\n")
        };
        files.push((format!("tests/pkg{}/test_m{i:02}.py", i % 4), body));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let dir = project(&refs);
    let streamed = fixer(dir.path())
        .args(["check", "hoist-imports", "."])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let kept = fixer(dir.path())
        .args(["check", "hoist-imports", "--statistics", "."])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let out = String::from_utf8(streamed.stdout).unwrap();
    assert_eq!(out, String::from_utf8(kept.stdout).unwrap());
    let lines: Vec<&str> = out.lines().collect();
    let changes: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.ends_with("would be changed by hoist-imports"))
        .collect();
    let notes: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("note[hoist-imports]"))
        .collect();
    assert_eq!((changes.len(), notes.len()), (26, 14), "{out}");
    let summary = "26 files would change (hoist-imports: 26 edits), 14 notes";
    assert_eq!(
        lines,
        [changes.clone(), notes.clone(), vec![summary]].concat()
    );
    let mut sorted = changes.clone();
    sorted.sort();
    assert_eq!(sorted, changes);
    // `check` prints its whole report on stdout; stderr is left to progress and
    // `--statistics`.
    assert_eq!(String::from_utf8(streamed.stderr).unwrap(), "");
}

#[test]
fn recipe_globs_match_from_the_project_root_whatever_path_is_given() {
    let local = "def f():\n    import os\n    return os.sep\n";
    let dir = project(&[
        ("pyproject.toml", "[project]\nname = \"p\"\n"),
        ("pkg/tests/helpers.py", local),
        ("pkg/tests/sub/data.py", local),
        ("pkg/tests/test_a.py", local),
        ("pkg/other.py", local),
    ]);
    let changed = |path: &str| -> Vec<String> {
        let out = fixer(dir.path())
            .args(["check", "hoist-imports", path])
            .assert()
            .code(1)
            .get_output()
            .clone();
        let mut files: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_suffix(": would be changed by hoist-imports"))
            .filter(|f| f.starts_with("pkg/tests/"))
            .map(str::to_owned)
            .collect();
        files.sort();
        files
    };
    let from_root = changed(".");
    assert_eq!(
        from_root,
        [
            "pkg/tests/helpers.py",
            "pkg/tests/sub/data.py",
            "pkg/tests/test_a.py"
        ]
    );
    assert_eq!(changed("pkg/tests"), from_root);
    assert_eq!(changed("pkg/tests/"), from_root);
}

/// `self.assertTrue(x)` to `assert x`: what a user's recipe did to `assertTrue(*args)`
/// and `assertTrue(y := f())`, which tree-sitter parses and CPython refuses.
const ASSERT_TRUE: &str = r#"
id = "assert-true"
description = "self.assertTrue(x) -> assert x"
[[rewrite]]
query = '''
(expression_statement
  (call
    function: (attribute object: (identifier) @self attribute: (identifier) @m)
    arguments: (argument_list . (_) @arg .)) @call
  (#eq? @self "self")
  (#eq? @m "assertTrue"))
'''
replace = "call"
with = "assert $arg"
"#;

#[test]
fn a_rewrite_cpython_would_refuse_is_refused_at_its_line_and_the_file_left_unchanged() {
    let before = "class T:\n    def test(self, *args):\n        self.assertTrue(*args)\n";
    let dir = project(&[("r.toml", ASSERT_TRUE), ("test_a.py", before)]);
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .stderr(contains("test_a.py:3:9: error[assert-true]: rewrite refused: `*` expression not allowed in an assert statement (CPython would reject the file)"));
    assert_eq!(read(&dir, "test_a.py"), before);
    fixer(dir.path())
        .args(["check", "--recipe", "r.toml"])
        .assert()
        .code(1)
        .stdout(contains(
            "test_a.py:3:9: error[assert-true]: rewrite refused",
        ));
}

#[test]
fn a_refused_rewrite_leaves_the_other_rewrites_of_the_file_applied() {
    let before = "class T:\n    def test(self, f, x):\n        self.assertTrue(y := f())\n        self.assertTrue(x)\n";
    let dir = project(&[("r.toml", ASSERT_TRUE), ("test_a.py", before)]);
    let out = fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .stderr(contains("test_a.py:3:9: error[assert-true]: rewrite refused: assignment expression (`:=`) without parentheses not allowed in an assert statement (CPython would reject the file)"))
        .get_output()
        .stderr
        .clone();
    // One rule, named once.
    assert_eq!(
        String::from_utf8_lossy(&out)
            .matches("rewrite refused")
            .count(),
        1
    );
    assert_eq!(
        read(&dir, "test_a.py"),
        "class T:\n    def test(self, f, x):\n        self.assertTrue(y := f())\n        assert x\n"
    );
}

#[test]
fn a_file_cpython_already_refuses_is_not_held_against_a_rewrite() {
    // `x = *a` was there before; the rewrite elsewhere is fine and applies.
    let before = "x = *a\n\n\nclass T:\n    def test(self, x):\n        self.assertTrue(x)\n";
    let dir = project(&[("r.toml", ASSERT_TRUE), ("test_a.py", before)]);
    fixer(dir.path())
        .args(["apply", "--recipe", "r.toml"])
        .assert()
        .stderr(contains("rewrite refused").not());
    assert_eq!(
        read(&dir, "test_a.py"),
        before.replace("self.assertTrue(x)", "assert x")
    );
}

#[test]
fn verify_change_answers_for_a_pair_of_files_and_for_json_lines() {
    let dir = project(&[
        ("old.py", "def f(a):\n    return a\n"),
        ("bad.py", "def f(a):\n    return *a\n"),
        ("good.py", "def f(a):\n    return *a, 1\n"),
    ]);
    fixer(dir.path())
        .args(["verify-change", "old.py", "good.py"])
        .assert()
        .code(0);
    fixer(dir.path())
        .args(["verify-change", "old.py", "bad.py"])
        .assert()
        .code(1)
        .stdout(contains(r#""line":2"#));
    fixer(dir.path())
        .args(["verify-change", "--jsonl"])
        .write_stdin("{\"old\": \"x = 1\\n\", \"new\": \"x = y := 1\\n\"}\n{\"old\": \"x = 1\\n\", \"new\": \"x = 2\\n\"}\n")
        .assert()
        .success()
        .stdout(contains(r#"{"accepted":false"#))
        .stdout(contains(r#"{"accepted":true}"#));
}

/// A recipe named on the command line keeps to the configuration's include and
/// exclude, also for files named one by one (as pre-commit passes them).
#[test]
fn named_recipe_keeps_the_config_exclude() {
    let dir = project(&[
        (
            "pyproject.toml",
            "[tool.fixer]\nrecipes = [\"aioredis-to-redis\"]\nexclude = [\"legacy/**\"]\n",
        ),
        ("legacy/old.py", "import aioredis\n"),
        ("app/new.py", "import aioredis\n"),
    ]);
    for args in [
        &["check", "aioredis-to-redis", "."][..],
        &["check", "aioredis-to-redis", "legacy/old.py", "app/new.py"][..],
        &["check"][..],
    ] {
        let out = fixer(dir.path()).args(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
        assert!(text.contains("app/new.py"), "{args:?}: {text}");
        assert!(!text.contains("legacy/old.py"), "{args:?}: {text}");
    }
    fixer(dir.path())
        .args(["apply", "aioredis-to-redis", "legacy/old.py"])
        .assert()
        .success();
    assert_eq!(read(&dir, "legacy/old.py"), "import aioredis\n");
}

#[test]
fn a_recipe_id_after_a_path_says_ids_come_first() {
    let dir = project(&[("test_a.py", "def test():\n    import os\n")]);
    fixer(dir.path())
        .args(["check", ".", "hoist-imports"])
        .assert()
        .code(2)
        .stderr(contains(
            "error: `hoist-imports` is a recipe id, but it comes after a path: recipe ids come first",
        ))
        .stderr(contains("help: name the recipes, then the paths: `hoist-imports .`"));
}
