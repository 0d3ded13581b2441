//! Fixture projects per recipe: `tests/fixtures/<recipe>/<case>/` holds a small project
//! (and optionally `case.toml`). For each case the harness snapshots the dry-run diff and
//! report, applies the recipe, asserts that every Python file still parses and that a
//! second run changes nothing.
//!
//! `case.toml` keys: `recipe` (default: the directory's name), `args` (extra arguments,
//! e.g. `["--set", "k=v"]`), `paths` (default `["."]`), `expect-check-exit` (default 0),
//! `expect-apply-exit` (the first `apply`'s and its dry run's; default:
//! `expect-check-exit`, since `apply` exits 1 when an error finding remains, as `check`
//! does; after `apply`, a dry run exits as `apply` did: they differ where `check` fails
//! on a skipped file that may refer to the change, which `apply` only reports).

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Case {
    recipe: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    expect_check_exit: Option<i32>,
    expect_apply_exit: Option<i32>,
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "case.toml" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn python_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            python_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "py") {
            out.push(p);
        }
    }
}

fn fixer(dir: &Path, args: &[String]) -> (i32, String, String) {
    fixer_env(dir, args, &[])
}

fn fixer_env(dir: &Path, args: &[String], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fixer"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        // The environment hoist-imports looks for is the case's own `.venv`, if any.
        .env_remove("VIRTUAL_ENV")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs every case of one recipe's fixture directory.
pub fn run_fixtures(recipe_dir: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(recipe_dir);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases under {}", root.display());
    for case_dir in cases {
        let case_name = case_dir.file_name().unwrap().to_string_lossy().into_owned();
        let case: Case = std::fs::read_to_string(case_dir.join("case.toml"))
            .map(|t| toml::from_str(&t).unwrap_or_else(|e| panic!("{case_name}/case.toml: {e}")))
            .unwrap_or_default();
        let recipe = case.recipe.clone().unwrap_or_else(|| recipe_dir.to_owned());
        let tmp = tempfile::tempdir().unwrap();
        copy_tree(&case_dir, tmp.path());
        let mut args = vec!["apply".to_owned(), recipe.clone()];
        args.extend(if case.paths.is_empty() {
            vec![".".to_owned()]
        } else {
            case.paths.clone()
        });
        args.extend(case.args.iter().cloned());
        let mut dry = args.clone();
        dry.push("--dry-run".to_owned());

        let apply_exit = case
            .expect_apply_exit
            .or(case.expect_check_exit)
            .unwrap_or(0);
        let (code, diff, report) = fixer(tmp.path(), &dry);
        assert_eq!(
            code, apply_exit,
            "{recipe_dir}/{case_name}: dry run failed:\n{report}"
        );
        // Partial parses (see `fixer::outline`) are an optimization only: parsing
        // every file whole must give the same diff and report.
        let whole = fixer_env(tmp.path(), &dry, &[("FIXER_FULL_PARSE", "1")]);
        assert_eq!(
            (code, &diff, &report),
            (whole.0, &whole.1, &whole.2),
            "{recipe_dir}/{case_name}: partial and whole parses differ"
        );
        let snapshot = format!("{diff}\n--- report ---\n{report}");
        insta::with_settings!({
            snapshot_path => Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"),
            prepend_module_to_snapshot => false,
            description => format!("fixer {}", dry.join(" ")),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(format!("{recipe_dir}__{case_name}"), snapshot);
        });

        // A file that did not parse before (a case about such files) is left as it was.
        let parses = |f: &Path| {
            let bytes = std::fs::read(f).unwrap();
            let src = fixer::source::Source::decode(bytes).unwrap();
            let tree = fixer::parse::parse(&src.text).unwrap();
            (fixer::parse::first_error(&tree).is_none(), src.text)
        };
        let mut before = Vec::new();
        python_files(tmp.path(), &mut before);
        let broken: Vec<(PathBuf, Vec<u8>)> = before
            .into_iter()
            .filter(|f| !parses(f).0)
            .map(|f| {
                let bytes = std::fs::read(&f).unwrap();
                (f, bytes)
            })
            .collect();
        let (code, _, report) = fixer(tmp.path(), &args);
        assert_eq!(
            code, apply_exit,
            "{recipe_dir}/{case_name}: apply failed:\n{report}"
        );
        for (f, bytes) in &broken {
            assert_eq!(
                &std::fs::read(f).unwrap(),
                bytes,
                "{recipe_dir}/{case_name}: {} did not parse and was changed",
                f.display()
            );
        }
        let mut files = Vec::new();
        python_files(tmp.path(), &mut files);
        for f in files
            .into_iter()
            .filter(|f| !broken.iter().any(|(b, _)| b == f))
        {
            let (ok, text) = parses(&f);
            assert!(
                ok,
                "{recipe_dir}/{case_name}: {} does not parse after apply:\n{}",
                f.display(),
                text
            );
        }
        let (code, diff, report) = fixer(tmp.path(), &dry);
        assert_eq!(
            code, apply_exit,
            "{recipe_dir}/{case_name}: second dry run failed:\n{report}"
        );
        assert!(
            diff.is_empty(),
            "{recipe_dir}/{case_name}: a second run changes more:\n{diff}"
        );
        let mut check = args.clone();
        check[0] = "check".to_owned();
        let (code, out, _) = fixer(tmp.path(), &check);
        assert_eq!(
            code,
            case.expect_check_exit.unwrap_or(0),
            "{recipe_dir}/{case_name}: `fixer check` after apply:\n{out}"
        );
    }
}

#[test]
fn aioredis_to_redis_fixtures() {
    run_fixtures("aioredis-to-redis");
}

#[test]
fn consolidate_conftest_fixtures() {
    run_fixtures("consolidate-conftest");
}

#[test]
fn lazy_settings_fixtures() {
    run_fixtures("lazy-settings");
}

#[test]
fn module_to_package_fixtures() {
    run_fixtures("module-to-package");
}

#[test]
fn move_module_fixtures() {
    run_fixtures("move-module");
}

#[test]
fn unresolved_imports_fixtures() {
    run_fixtures("unresolved-imports");
}

#[test]
fn hoist_imports_fixtures() {
    run_fixtures("hoist-imports");
}

#[test]
fn pytest_asyncio_v1_fixtures() {
    run_fixtures("pytest-asyncio-v1");
}
