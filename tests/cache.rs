//! The result cache (`.fixer_cache/`): a warm run answers from it, and each thing an
//! entry depends on (the file, the recipe, its parameters, the configuration, fixer's
//! build, and for hoist-imports the other files of the project) makes it analyse again.
//!
//! A hit is made visible by tampering: every stored result is replaced by one finding,
//! "from the cache", which only a run that used the entry can print.

use std::path::{Path, PathBuf};
use std::process::Command;

const RECIPE: &str = r#"
id = "flag-call"
description = "flag calls of a function"

[params.name]
default = "legacy"
help = "the function to flag"

[[rewrite]]
query = '''((call function: (identifier) @f) @call (#eq? @f "{{name}}"))'''
message = "a call of `{{name}}`"
severity = "warning"
"#;

const TAMPERED: &str = "from the cache";

fn run_with(bin: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FIXER_CACHE_DIR")
        .env_remove("VIRTUAL_ENV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("fixer runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &stderr,
    )
}

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    run_with(Path::new(env!("CARGO_BIN_EXE_fixer")), dir, args, &[])
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // A project root, so the cache goes here whatever the temporary directory's parents.
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"p\"\n",
    )
    .unwrap();
    for (path, text) in files {
        write(dir.path(), path, text);
    }
    dir
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The store files (one per recipe and parameters) of every build in `cache`.
fn stores(cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for build in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        if build.path().is_dir() {
            for f in std::fs::read_dir(build.path()).unwrap().flatten() {
                if f.path().extension().is_some_and(|e| e == "json") {
                    out.push(f.path());
                }
            }
        }
    }
    out.sort();
    out
}

/// Replaces every stored result in `cache` by one warning, [`TAMPERED`]; returns how
/// many entries it changed.
fn tamper(cache: &Path) -> usize {
    let mut n = 0;
    for store in stores(cache) {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
        for (_, entry) in v["entries"].as_object_mut().unwrap() {
            entry["result"] = serde_json::json!({"Clean": [
                {"line": 1, "column": 1, "severity": "warning", "message": TAMPERED}
            ]});
            n += 1;
        }
        std::fs::write(&store, serde_json::to_vec(&v).unwrap()).unwrap();
    }
    n
}

#[test]
fn a_warm_run_answers_from_the_cache_and_each_input_invalidates_it() {
    let dir = project(&[
        ("flag.toml", RECIPE),
        ("a.py", "legacy()\nlegacy2()\n"),
        ("b.py", "x = 1\n"),
    ]);
    let d = dir.path();
    let check = ["check", "--recipe", "flag.toml", "flag-call", "."];
    let (code, cold) = run(d, &check);
    assert_eq!(code, 0, "{cold}");
    assert!(
        cold.contains("a.py:1:1: warning[flag-call]: a call of `legacy`"),
        "{cold}"
    );
    let cache = d.join(".fixer_cache");
    assert_eq!(
        std::fs::read_to_string(cache.join(".gitignore"))
            .unwrap()
            .lines()
            .last(),
        Some("*")
    );
    // Warm: the same output, from the cache.
    assert_eq!(run(d, &check), (0, cold.clone()));
    assert_eq!(tamper(&cache), 2);
    let (_, warm) = run(d, &check);
    assert!(
        warm.contains(TAMPERED),
        "the warm run did not use the cache: {warm}"
    );

    // An edit to the file.
    write(d, "a.py", "legacy()\nlegacy2()\nlegacy()\n");
    let (_, out) = run(d, &check);
    assert!(out.contains("a.py:3:1: warning[flag-call]"), "{out}");
    assert!(
        out.lines().filter(|l| l.contains(TAMPERED)).count() == 1,
        "only b.py stays: {out}"
    );

    // An edit to the recipe.
    tamper(&cache);
    write(d, "flag.toml", &RECIPE.replace("a call of", "a call to"));
    let (_, out) = run(d, &check);
    assert!(!out.contains(TAMPERED), "{out}");
    assert!(out.contains("a call to `legacy`"), "{out}");

    // A parameter.
    tamper(&cache);
    let (_, out) = run(d, &[&check[..], &["--set", "name=legacy2"]].concat());
    assert!(!out.contains(TAMPERED), "{out}");
    assert!(
        out.contains("a.py:2:1: warning[flag-call]: a call to `legacy2`"),
        "{out}"
    );

    // The configuration that governs the files (its parameters for the recipe).
    write(d, "a.py", "legacy()\nlegacy2()\nlegacy3()\n");
    write(d, "fixer.toml", "[params.flag-call]\nname = \"legacy\"\n");
    run(d, &check);
    tamper(&cache);
    write(d, "fixer.toml", "[params.flag-call]\nname = \"legacy3\"\n");
    let (_, out) = run(d, &check);
    assert!(!out.contains(TAMPERED), "{out}");
    assert!(
        out.contains("a.py:3:1: warning[flag-call]: a call to `legacy3`"),
        "{out}"
    );

    // Another build of fixer (a copy of the binary is one: its identity includes the
    // executable's), which also removes the old build's entries.
    tamper(&cache);
    let other = tempfile::tempdir().unwrap();
    let bin = other.path().join("fixer");
    std::fs::copy(env!("CARGO_BIN_EXE_fixer"), &bin).unwrap();
    let (_, out) = run_with(&bin, d, &check, &[]);
    assert!(!out.contains(TAMPERED), "{out}");
    let builds = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(builds, 1, "the other build's directory is removed");
}

#[test]
fn a_corrupt_or_foreign_cache_is_ignored_and_rebuilt() {
    let dir = project(&[("flag.toml", RECIPE), ("a.py", "legacy()\n")]);
    let d = dir.path();
    let check = ["check", "--recipe", "flag.toml", "flag-call", "."];
    let (_, cold) = run(d, &check);
    let cache = d.join(".fixer_cache");
    let store = stores(&cache).pop().expect("a store file");
    for garbage in [
        &b"{\"format\": 1, \"entries\": "[..],
        b"\xff\xfe not json",
        b"",
    ] {
        std::fs::write(&store, garbage).unwrap();
        assert_eq!(run(d, &check), (0, cold.clone()));
        let text = std::fs::read(&store).unwrap();
        serde_json::from_slice::<serde_json::Value>(&text).expect("rewritten whole");
    }
    // A store of another format (a foreign one) is not read.
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    v["format"] = serde_json::json!(999);
    std::fs::write(&store, serde_json::to_vec(&v).unwrap()).unwrap();
    tamper(&cache);
    let (_, out) = run(d, &check);
    assert!(!out.contains(TAMPERED), "{out}");
    // A cache directory that cannot be made is no error either.
    let blocked = d.join("blocked");
    std::fs::write(&blocked, "a file, not a directory").unwrap();
    let (code, out) = run(
        d,
        &[&check[..], &["--cache-dir", blocked.to_str().unwrap()]].concat(),
    );
    assert_eq!((code, out), (0, cold));
}

#[test]
fn no_cache_cache_dir_and_fixer_cache_dir() {
    let dir = project(&[("flag.toml", RECIPE), ("a.py", "legacy()\n")]);
    let d = dir.path();
    let check = ["check", "--recipe", "flag.toml", "flag-call", "."];
    run(d, &[&check[..], &["--no-cache"]].concat());
    assert!(
        !d.join(".fixer_cache").exists(),
        "--no-cache writes no cache"
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let by_flag = elsewhere.path().join("by-flag");
    run(
        d,
        &[&check[..], &["--cache-dir", by_flag.to_str().unwrap()]].concat(),
    );
    assert_eq!(stores(&by_flag).len(), 1);
    let by_env = elsewhere.path().join("by-env");
    let bin = Path::new(env!("CARGO_BIN_EXE_fixer"));
    run_with(
        bin,
        d,
        &check,
        &[("FIXER_CACHE_DIR", by_env.to_str().unwrap())],
    );
    assert_eq!(stores(&by_env).len(), 1);
    assert!(!d.join(".fixer_cache").exists());
    // The cache of a subdirectory's run is the project root's.
    write(d, "pkg/m.py", "legacy()\n");
    run(
        &d.join("pkg"),
        &["check", "--recipe", "../flag.toml", "flag-call", "."],
    );
    assert!(d.join(".fixer_cache").is_dir());
    assert!(!d.join("pkg/.fixer_cache").exists());
}

#[test]
fn runs_at_once_share_the_cache_without_corrupting_it() {
    let mut files: Vec<(String, String)> = (0..200)
        .map(|i| (format!("m{i}.py"), format!("def f():\n    legacy({i})\n")))
        .collect();
    files.push(("flag.toml".into(), RECIPE.into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = project(&refs);
    let d = dir.path().to_path_buf();
    let check = ["check", "--recipe", "flag.toml", "flag-call", "."];
    let (_, expected) = run(&d, &[&check[..], &["--no-cache"]].concat());
    let outs: Vec<(i32, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| run(&d, &check))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in outs {
        assert_eq!(out, (0, expected.clone()));
    }
    for store in stores(&d.join(".fixer_cache")) {
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(store).unwrap())
            .expect("each store is whole");
    }
    assert_eq!(run(&d, &check), (0, expected));
}

/// hoist-imports looks beyond the file (the conftests above it, the import graph): its
/// entries go when any Python file of the project changes.
#[test]
fn hoist_imports_entries_follow_the_rest_of_the_project() {
    let dir = project(&[
        ("tests/__init__.py", ""),
        (
            "tests/test_a.py",
            "def test_a():\n    import json\n    assert json\n",
        ),
        ("tests/helpers.py", "X = 1\n"),
    ]);
    let d = dir.path();
    let check = ["check", "hoist-imports", "."];
    let (code, cold) = run(d, &check);
    assert_eq!(code, 1, "{cold}");
    assert!(
        cold.contains("tests/test_a.py: would be changed by hoist-imports"),
        "{cold}"
    );
    assert_eq!(run(d, &check), (1, cold.clone()));
    let cache = d.join(".fixer_cache");
    tamper(&cache);
    assert!(run(d, &check).1.contains(TAMPERED));
    // A conftest that appears above the test decides whether its import may move.
    write(
        d,
        "tests/conftest.py",
        "import pytest\n\n\n@pytest.fixture(autouse=True)\ndef setup():\n    pass\n",
    );
    let (_, out) = run(d, &check);
    assert!(!out.contains(TAMPERED), "{out}");
    tamper(&cache);
    // So does any other file, through the import graph.
    write(d, "tests/helpers.py", "X = 2\n");
    let (_, out) = run(d, &check);
    assert!(!out.contains(TAMPERED), "{out}");
    // Given files only (as pre-commit gives them), it is not cached.
    tamper(&cache);
    let (code, out) = run(d, &["check", "hoist-imports", "tests/test_a.py"]);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains(TAMPERED), "{out}");
    assert!(run(d, &check).1.contains(TAMPERED), "the entries are there");
    run(d, &["clean"]);
    run(d, &check);
    // `apply --dry-run` after a `check` makes its diff (a pending result is not a diff)
    // and keeps the check's entry; once applied, `check` is clean, warm or not.
    let pending = || {
        stores(&cache)
            .iter()
            .map(|s| {
                std::fs::read_to_string(s)
                    .unwrap()
                    .matches("\"Pending\"")
                    .count()
            })
            .sum::<usize>()
    };
    assert_eq!(pending(), 1);
    let (_, out) = run(d, &["apply", "--dry-run", "hoist-imports", "."]);
    assert!(out.contains("+import json"), "{out}");
    assert_eq!(pending(), 1, "the check's entry stays");
    let (code, out) = run(d, &["apply", "hoist-imports", "."]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(run(d, &check).0, 0);
    assert_eq!(run(d, &check).0, 0);
}

/// `fixer clean` removes the cache it made, and nothing it did not make.
#[test]
fn clean_removes_the_cache_and_nothing_else() {
    let dir = project(&[("flag.toml", RECIPE), ("a.py", "legacy()\n")]);
    let d = dir.path();
    run(d, &["check", "--recipe", "flag.toml", "flag-call", "."]);
    assert!(d.join(".fixer_cache").is_dir());
    assert_eq!(run(d, &["clean"]), (0, "removed .fixer_cache\n".to_owned()));
    assert!(!d.join(".fixer_cache").exists());
    assert_eq!(
        run(d, &["clean"]),
        (0, "no cache at .fixer_cache\n".to_owned())
    );
    // A directory fixer did not make is left alone.
    write(d, "mine/keep.txt", "mine");
    let (code, out) = run(d, &["clean", "--cache-dir", "mine"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("error: mine is not a fixer cache"), "{out}");
    assert!(out.contains("help: "), "{out}");
    assert!(d.join("mine/keep.txt").exists());
}
