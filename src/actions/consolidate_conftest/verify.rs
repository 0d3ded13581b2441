//! The plan checked by pytest itself: the suite is collected (`--collect-only`) with a
//! small plugin fixer writes to a temporary directory, which records for every collected
//! item the definitions (file and line) of every fixture in its closure, in the order
//! pytest resolves them, and the nodes that failed to collect. The merge is applied to a
//! copy of the tree, collected the same way, and the two compared.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one collection may take.
pub const TIMEOUT: Duration = Duration::from_secs(600);

const PLUGIN: &str = r#"# Written by fixer (consolidate-conftest): records what each collected item gets.
import inspect
import json
import os

_errors = []


def pytest_collectreport(report):
    if report.failed:
        _errors.append(report.nodeid)


def _where(fixturedef):
    func = getattr(fixturedef, "func", None)
    try:
        func = inspect.unwrap(func)
    except Exception:
        pass
    func = getattr(func, "__func__", func)
    code = getattr(func, "__code__", None)
    if code is not None:
        return [os.path.abspath(code.co_filename), code.co_firstlineno]
    return ["<%s>" % getattr(fixturedef, "baseid", ""), 0]


def pytest_collection_finish(session):
    items = {}
    for item in session.items:
        info = getattr(item, "_fixtureinfo", None)
        chains = {}
        if info is not None:
            for name in info.names_closure:
                # The definitions the item gets: the closest, and the one it overrides
                # for as long as each requests its own name.
                chain = []
                for d in reversed(info.name2fixturedefs.get(name) or ()):
                    chain.append(_where(d))
                    if name not in getattr(d, "argnames", ()):
                        break
                chains[name] = chain
        items[item.nodeid] = chains
    with open(os.environ["FIXER_COLLECT_OUT"], "w", encoding="utf-8") as fh:
        json.dump({"items": items, "errors": _errors}, fh)
"#;

/// One collection: item node id -> fixture name -> the definitions it gets (file, line),
/// the closest first.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Collected {
    pub items: BTreeMap<String, BTreeMap<String, Vec<(String, usize)>>>,
    pub errors: Vec<String>,
}

impl Collected {
    /// The node ids, with the nodes that failed to collect.
    pub fn ids(&self) -> BTreeSet<String> {
        self.items
            .keys()
            .cloned()
            .chain(self.errors.iter().map(|e| format!("ERROR {e}")))
            .collect()
    }
}

/// Can `python` import pytest?
pub fn has_pytest(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import pytest"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Collects the suite in `dir` (`args`: the paths to collect, none for pytest's own
/// choice) with the recording plugin.
pub fn collect(python: &Path, dir: &Path, args: &[String]) -> Result<Collected, String> {
    let tmp =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    std::fs::write(tmp.path().join("fixer_collect_record.py"), PLUGIN)
        .map_err(|e| format!("cannot write the collection plugin: {e}"))?;
    let out_file = tmp.path().join("collected.json");
    let mut pythonpath = std::ffi::OsString::from(tmp.path());
    if let Some(old) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
        pythonpath.push(if cfg!(windows) { ";" } else { ":" });
        pythonpath.push(old);
    }
    let log = tmp.path().join("output.txt");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err_file = log_file
        .try_clone()
        .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut child = Command::new(python)
        .args([
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "fixer_collect_record",
            "-p",
            "no:cacheprovider",
        ])
        .args(args)
        .current_dir(dir)
        .env("PYTHONPATH", pythonpath)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("FIXER_COLLECT_OUT", &out_file)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(err_file)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`pytest --collect-only` took more than {} s",
                    TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("cannot wait for pytest: {e}")),
        }
    };
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(&log) {
        let _ = f.read_to_string(&mut text);
    }
    let tail = || {
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    };
    let code = status.code().unwrap_or(-1);
    // 0: collected; 1, 2: some nodes failed to collect; 5: nothing collected.
    if ![0, 1, 2, 5].contains(&code) {
        return Err(format!(
            "`pytest --collect-only` exited with {code}: {}",
            tail()
        ));
    }
    let json = std::fs::read_to_string(&out_file).map_err(|_| {
        format!(
            "`pytest --collect-only` exited with {code} before it finished collecting: {}",
            tail()
        )
    })?;
    serde_json::from_str(&json).map_err(|e| format!("cannot read what pytest collected: {e}"))
}

/// Directories not copied with the tree: version control, environments, caches.
const NOT_COPIED: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
];

/// Copies the tree at `from` to `to`. Copies, not hard links: code pytest runs in the
/// copy while collecting may write to a file of the tree, which must not be the user's.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let src = entry.path();
        let dst = to.join(&name);
        let ty = entry.file_type()?;
        if ty.is_symlink() {
            #[cfg(unix)]
            if let Ok(target) = std::fs::read_link(&src) {
                let _ = std::os::unix::fs::symlink(target, &dst);
            }
            continue;
        }
        if ty.is_dir() {
            if NOT_COPIED.iter().any(|n| name == *n) || src.join("pyvenv.cfg").is_file() {
                continue;
            }
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}
