//! A small monorepo: the root `pyproject.toml` enables one recipe; two services extend it,
//! one through `[tool.fixer]` in its own pyproject.toml and one through `fixer.toml`, each
//! adding a different recipe; a shared library has only the root's. One `fixer check` at
//! the root runs each package's recipes on its own files; `apply` refuses to write over
//! uncommitted work; `--changed-since` limits the work.

mod common;

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn monorepo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::copy_tree(&common::fixture("e2e/monorepo"), dir.path());
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "initial"]);
    dir
}

const BILLING_CACHE: &str = "services/billing/billing/cache.py";
const BILLING_TEST: &str = "services/billing/tests/test_invoice.py";
const SEARCH_INDEX: &str = "services/search/search/index.py";
const LIB_CLOCK: &str = "libs/common/common/clock.py";

#[test]
fn check_at_the_root_runs_each_packages_recipes() {
    let dir = monorepo();
    let (code, out, err) = common::fixer(dir.path(), &["check"]);
    assert_eq!(code, 1, "{out}{err}");
    let pending: Vec<&str> = out.lines().filter(|l| l.contains("would be")).collect();
    assert_eq!(
        pending,
        vec![
            "libs/common/common/clock.py: would be changed by aioredis-to-redis",
            "services/billing/billing/cache.py: would be changed by aioredis-to-redis",
            "services/billing/tests/test_invoice.py: would be changed by assert-equal-to-assert",
            "services/search/search/index.py: would be changed by utcnow-to-aware",
        ],
        "{out}"
    );
    assert!(out.contains("4 files would change"), "{out}");
}

#[test]
fn reports_in_json_sarif_and_github_formats() {
    let dir = monorepo();
    let (code, out, _) = common::fixer(dir.path(), &["check", "--format", "json"]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json output parses");
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    let billing = entries.iter().find(|e| e["file"] == BILLING_CACHE).unwrap();
    assert_eq!(billing["recipe"], "aioredis-to-redis");
    assert_eq!(billing["start_line"], 1);
    assert!(billing["diff"]
        .as_str()
        .unwrap()
        .contains("+from redis import asyncio as aioredis"));

    let (code, out, _) = common::fixer(dir.path(), &["check", "--format", "sarif"]);
    assert_eq!(code, 1);
    let sarif: serde_json::Value = serde_json::from_str(&out).expect("sarif output parses");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "fixer");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        vec![
            "aioredis-to-redis",
            "assert-equal-to-assert",
            "utcnow-to-aware"
        ]
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for r in results {
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(".py"));
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }

    let (code, out, _) = common::fixer(dir.path(), &["check", "--format", "github"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("::error file=services/search/search/index.py,line=1,endLine=5,title=fixer (utcnow-to-aware)::would be changed by utcnow-to-aware"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 4);
}

#[test]
fn apply_refuses_uncommitted_files_then_applies_and_check_passes() {
    let dir = monorepo();
    let cache = dir.path().join(BILLING_CACHE);
    std::fs::write(&cache, "import aioredis  # work in progress\n").unwrap();
    let (code, _, err) = common::fixer(dir.path(), &["apply"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("uncommitted changes: services/billing/billing/cache.py"),
        "{err}"
    );
    assert!(err.contains("--allow-dirty"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&cache).unwrap(),
        "import aioredis  # work in progress\n"
    );
    assert!(
        std::fs::read_to_string(dir.path().join(SEARCH_INDEX))
            .unwrap()
            .contains("utcnow()"),
        "nothing written"
    );

    // --dry-run and check never need a clean tree.
    assert_eq!(common::fixer(dir.path(), &["apply", "--dry-run"]).0, 0);

    let (code, _, err) = common::fixer(dir.path(), &["apply", "--allow-dirty"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&cache).unwrap(),
        "from redis import asyncio as aioredis  # work in progress\n"
    );
    let test = std::fs::read_to_string(dir.path().join(BILLING_TEST)).unwrap();
    assert!(test.contains("assert 1 + 1 == 2"), "{test}");
    let index = std::fs::read_to_string(dir.path().join(SEARCH_INDEX)).unwrap();
    assert!(
        index.contains("from datetime import datetime, timezone")
            && index.contains("datetime.now(timezone.utc)")
    );
    let clock = std::fs::read_to_string(dir.path().join(LIB_CLOCK)).unwrap();
    assert!(
        clock.contains("from redis import asyncio as aioredis") && clock.contains("utcnow()"),
        "{clock}"
    );
    let lib_test =
        std::fs::read_to_string(dir.path().join("libs/common/common/test_clock.py")).unwrap();
    assert!(lib_test.contains("self.assertEqual(2, 2)"), "{lib_test}");
    let (code, out, err) = common::fixer(dir.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn apply_after_a_commit_needs_no_flag() {
    let dir = monorepo();
    let (code, _, err) = common::fixer(dir.path(), &["apply"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(common::fixer(dir.path(), &["check"]).0, 0);
}

#[test]
fn changed_since_limits_the_work() {
    let dir = monorepo();
    std::fs::write(dir.path().join(SEARCH_INDEX), "from datetime import datetime\n\n\ndef stamp():\n    return datetime.utcnow()  # touched\n").unwrap();
    git(dir.path(), &["commit", "-qam", "touch search"]);
    let (code, out, err) = common::fixer(dir.path(), &["check", "--changed-since", "HEAD~1"]);
    assert_eq!(code, 1, "{err}");
    let pending: Vec<&str> = out.lines().filter(|l| l.contains("would be")).collect();
    assert_eq!(
        pending,
        vec!["services/search/search/index.py: would be changed by utcnow-to-aware"]
    );
    let (code, _, err) = common::fixer(dir.path(), &["check", "--changed-since", "no-such-rev"]);
    assert_eq!(code, 2);
    assert!(err.contains("--changed-since no-such-rev"), "{err}");
}

#[test]
fn bad_config_is_exit_2_naming_file_and_key() {
    let dir = monorepo();
    std::fs::write(
        dir.path().join("services/search/fixer.toml"),
        "extend = \"../../pyproject.toml\"\nrecipes = [\"aioredis-to-redis\"]\nrecipies = []\n",
    )
    .unwrap();
    let (code, _, err) = common::fixer(dir.path(), &["check"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "services/search/fixer.toml:3: invalid fixer configuration: unknown field `recipies`"
        ),
        "{err}"
    );

    std::fs::write(
        dir.path().join("services/search/fixer.toml"),
        "recipes = \"aioredis-to-redis\"\n",
    )
    .unwrap();
    let (code, _, err) = common::fixer(dir.path(), &["check"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("fixer.toml:1: invalid fixer configuration: invalid type"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("services/search/fixer.toml"),
        "recipes = [\"no-such-recipe\"]\n",
    )
    .unwrap();
    let (code, _, err) = common::fixer(dir.path(), &["check"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("fixer.toml: `recipes`: unknown recipe `no-such-recipe`"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("services/search/fixer.toml"),
        "extend = \"other.toml\"\nrecipes = []\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("services/search/other.toml"),
        "extend = \"fixer.toml\"\n",
    )
    .unwrap();
    let (code, _, err) = common::fixer(dir.path(), &["check"]);
    assert_eq!(code, 2);
    assert!(err.contains("`extend` cycle"), "{err}");
}

#[test]
fn statistics_table_per_recipe() {
    let dir = monorepo();
    let (_, _, err) = common::fixer(dir.path(), &["check", "--statistics"]);
    assert!(err.contains("recipe"), "{err}");
    let row = err
        .lines()
        .find(|l| l.starts_with("aioredis-to-redis"))
        .unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1..3], ["2", "2"], "files and edits: {row}");
}
