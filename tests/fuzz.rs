//! A fuzz harness on stable Rust: property tests (proptest) that take the real Python
//! files of the fixtures, the end-to-end projects, `examples/` and `tests/fuzz-corpus/`,
//! mutate them (byte flips, token deletions, splices of two files, deep nesting,
//! unbalanced brackets, odd encodings, newline and tab mixes) and run every built-in
//! recipe and two query recipes on the project that holds them, in-process. Properties:
//!
//! - no panic, no hang (no step of a case may take longer than `FIXER_FUZZ_TIMEOUT`
//!   seconds, default 10; a hang stops the whole run with the case saved);
//! - a rewritten file parses (tree-sitter, no ERROR or MISSING node) whenever the file
//!   parsed before (a new file: whenever every file of the project parsed), and a
//!   `pyproject.toml` that was valid TOML stays so; on a project whose files all parse,
//!   no rewrite is refused as breaking the syntax (the verification's safety net is
//!   never what keeps a broken file from being written);
//! - a file in which a lone `\r` ends a line is never rewritten;
//! - untouched bytes stay: no line ending the file did not have (other than its own
//!   newline), and no line rewritten to itself but for its line ending or trailing
//!   whitespace;
//! - a recipe converges (no "did not converge"), and a second run changes nothing;
//! - where every file parses, a partial parse gives what a whole parse gives (the binary
//!   with `FIXER_FULL_PARSE=1` on one recipe per case).
//!
//! The recipe loader and the config loader get generated TOML (random structures, wrong
//! types, unknown keys, garbage bytes): every failure is an error value, and the binary
//! on such a project exits 0, 1 or 2, with an `error:` line on 2, never a panic.
//!
//! Each bug found is a `regression_*` test at the end, with the input minimized.
//!
//! `FIXER_FUZZ_CASES` sets the cases per property (default: a short run of about a
//! minute in debug), `FIXER_FUZZ_SEED` the seed (default fixed, so `cargo test` is
//! deterministic; `random` for a new one, which is printed). A failing case is shrunk
//! and its project saved under `target/fuzz-failures/<test>/` (or `$FIXER_FUZZ_FAILURES`).
//! Long run:
//! `FIXER_FUZZ_CASES=100000 FIXER_FUZZ_SEED=random cargo test --release --test fuzz`.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use fixer::engine::{self, Outcome, Progress, Workspace};
use fixer::recipe::{CompiledRecipe, Recipe, Registry};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

// ---------------------------------------------------------------------------------
// Settings

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Cases per property: `FIXER_FUZZ_CASES`, else `default`.
fn cases(default: u32) -> u32 {
    env_u64("FIXER_FUZZ_CASES").map_or(default, |n| n.min(u64::from(u32::MAX)) as u32)
}

fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| match std::env::var("FIXER_FUZZ_SEED") {
        Ok(v) if v.trim() == "random" => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let s = t ^ u64::from(std::process::id()).rotate_left(32);
            eprintln!("fuzz: FIXER_FUZZ_SEED={s}");
            s
        }
        Ok(v) => v.trim().parse().unwrap_or(0x5eed_f1ce),
        Err(_) => 0x5eed_f1ce,
    })
}

fn timeout() -> Duration {
    Duration::from_secs(env_u64("FIXER_FUZZ_TIMEOUT").unwrap_or(10))
}

fn config(default_cases: u32, salt: u64) -> Config {
    Config {
        cases: cases(default_cases),
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed() ^ salt),
        max_shrink_iters: 400,
        ..Config::default()
    }
}

/// Runs a property; a failure panics with the shrunk case and how to run it again.
fn check<S: Strategy>(
    name: &str,
    default_cases: u32,
    salt: u64,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = config(default_cases, salt);
    let n = config.cases;
    let started = Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, test);
    let stats: Vec<String> = STATS
        .lock()
        .map(|s| {
            s.iter()
                .filter(|(k, _)| k.starts_with(name))
                .map(|(k, v)| format!("{}: {v}", &k[name.len() + 1..]))
                .collect()
        })
        .unwrap_or_default();
    eprintln!(
        "fuzz: {name}: {n} cases in {:.1} s (seed {}); {}",
        started.elapsed().as_secs_f64(),
        seed(),
        stats.join(", ")
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, case)) => panic!(
            "fuzz: {name} failed (FIXER_FUZZ_SEED={}; project saved under target/fuzz-failures/{name}/): {why}\nminimal case: {case:#?}",
            seed()
        ),
        Err(e) => panic!("fuzz: {name}: {e}"),
    }
}

/// Counters of what a property's cases did, printed at the end of its run.
static STATS: std::sync::Mutex<BTreeMap<&'static str, u64>> =
    std::sync::Mutex::new(BTreeMap::new());

fn count(what: &'static str) {
    if let Ok(mut s) = STATS.lock() {
        *s.entry(what).or_default() += 1;
    }
}

/// `FIXER_FUZZ_LOG=1`: notes on what the cases did, on stderr.
fn log(what: &str) {
    if std::env::var_os("FIXER_FUZZ_LOG").is_some() {
        eprintln!("fuzz: {what}");
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------
// The corpus: projects and their Python files

struct Project {
    /// Every file, relative to `dir`, with its bytes.
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl Project {
    fn python(&self) -> Vec<usize> {
        (0..self.files.len())
            .filter(|&i| self.files[i].0.extension().is_some_and(|e| e == "py"))
            .collect()
    }
}

struct Corpus {
    projects: Vec<Project>,
    /// Every Python file of every project, for splices.
    python: Vec<Vec<u8>>,
}

fn read_tree(dir: &Path, rel: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir.join(rel)) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let name_s = name.to_string_lossy();
        if name_s == "case.toml"
            || name_s == "__pycache__"
            || name_s.starts_with(".venv")
            || name_s == fixer::cache::DIR_NAME
        {
            continue;
        }
        let rel = rel.join(&name);
        match e.file_type() {
            Ok(t) if t.is_dir() => read_tree(dir, &rel, out),
            Ok(t) if t.is_file() => {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    out.push((rel, bytes));
                }
            }
            _ => {}
        }
    }
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut dirs = Vec::new();
        let subdirs = |d: PathBuf| -> Vec<PathBuf> {
            let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
                .map(|r| {
                    r.filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.is_dir())
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        for recipe in subdirs(root().join("tests/fixtures")) {
            dirs.extend(subdirs(recipe));
        }
        for e2e in subdirs(root().join("tests/e2e")) {
            if e2e.ends_with("restructure") {
                dirs.extend(subdirs(e2e));
            } else {
                dirs.push(e2e);
            }
        }
        dirs.push(root().join("examples/hoist"));
        dirs.push(root().join("examples/aioredis"));
        dirs.push(root().join("tests/fuzz-corpus"));
        let projects: Vec<Project> = dirs
            .into_iter()
            .map(|dir| {
                let mut files = Vec::new();
                read_tree(&dir, Path::new(""), &mut files);
                Project { files }
            })
            .filter(|p| !p.python().is_empty())
            .collect();
        let python = projects
            .iter()
            .flat_map(|p| p.python().into_iter().map(|i| p.files[i].1.clone()))
            .collect();
        Corpus { projects, python }
    })
}

// ---------------------------------------------------------------------------------
// Mutations

#[derive(Debug, Clone)]
enum Mutation {
    /// Flips one bit of the byte at `at` (of the length).
    FlipBit {
        at: u32,
        bit: u8,
    },
    /// Deletes the token (a word, a run of spaces or one other byte) at `at`.
    DeleteToken {
        at: u32,
    },
    /// Deletes or duplicates the line at `at`.
    DeleteLine {
        at: u32,
    },
    DuplicateLine {
        at: u32,
    },
    /// This file up to `at` followed by another corpus file from `from`.
    Splice {
        other: u32,
        at: u32,
        from: u32,
    },
    /// Lines `from..from+len` of another corpus file inserted before the line at `at`.
    InsertLines {
        other: u32,
        at: u32,
        from: u32,
        len: u8,
    },
    /// Deep nesting inserted before the line at `at`.
    Nest {
        kind: u8,
        depth: u16,
        at: u32,
    },
    /// One bracket or quote inserted at `at`.
    Unbalance {
        at: u32,
        ch: u8,
    },
    /// A line of code that recipes look for, inserted before the line at `at`, indented
    /// like it.
    Snippet {
        which: u8,
        at: u32,
    },
    Encoding {
        kind: u8,
        at: u32,
    },
    Newlines {
        kind: u8,
        seed: u32,
    },
    Tabs {
        kind: u8,
        at: u32,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<u32>(), 0..8u8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        any::<u32>().prop_map(|at| Mutation::DeleteToken { at }),
        any::<u32>().prop_map(|at| Mutation::DeleteLine { at }),
        any::<u32>().prop_map(|at| Mutation::DuplicateLine { at }),
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(other, at, from)| Mutation::Splice {
            other,
            at,
            from
        }),
        (any::<u32>(), any::<u32>(), any::<u32>(), 1..20u8).prop_map(|(other, at, from, len)| {
            Mutation::InsertLines {
                other,
                at,
                from,
                len,
            }
        }),
        (0..8u8, 1..400u16, any::<u32>()).prop_map(|(kind, depth, at)| Mutation::Nest {
            kind,
            depth,
            at
        }),
        (any::<u32>(), 0..10u8).prop_map(|(at, ch)| Mutation::Unbalance { at, ch }),
        (0..SNIPPETS.len() as u8, any::<u32>())
            .prop_map(|(which, at)| Mutation::Snippet { which, at }),
        (0..7u8, any::<u32>()).prop_map(|(kind, at)| Mutation::Encoding { kind, at }),
        (0..5u8, any::<u32>()).prop_map(|(kind, seed)| Mutation::Newlines { kind, seed }),
        (0..4u8, any::<u32>()).prop_map(|(kind, at)| Mutation::Tabs { kind, at }),
    ]
}

/// Lines the recipes act on, so that mutated files still give them work.
const SNIPPETS: &[&str] = &[
    "import aioredis",
    "import aioredis as r, os",
    "from aioredis import Redis, from_url",
    "from aioredis.client import (Pipeline,  # c\n    Other)",
    "self.assertEqual(a, b)",
    "self.assertEqual(f(x), [1, 2])",
    "x = datetime.utcnow()",
    "settings = Settings()",
    "settings = Settings(debug=False)  # fixer: ignore",
    "from app.config.settings import settings",
    "print(settings.debug)",
    "global settings",
    "import os",
    "import os.path as osp",
    "from collections import OrderedDict as OD",
    "from . import sibling",
    "from .. import parent",
    "from .conftest import DATA",
    "def f():\n    import json\n    return json",
    "def test_x():\n    from pkg import mod\n    assert mod",
    "@pytest.fixture\ndef db():\n    return 1",
    "@pytest.fixture(scope=\"package\")\ndef pkgfix():\n    yield 2",
    "pytest_plugins = [\"a.b\"]",
    "class Settings(BaseSettings):\n    debug: bool = False",
    "def get_settings():\n    return settings",
    "__all__ = [\"settings\", \"x\"]",
    "mock.patch(\"pkg.mod.X\")",
    "if TYPE_CHECKING:\n    import typing",
    "try:\n    import ujson\nexcept ImportError:\n    ujson = None",
    "# fixer: ignore-file",
    "\"\"\"docstring\n>>> import x\n\"\"\"",
    "x = f'{a!r:>{w}}' + rb'\\x00' + u'\\N{DASH}'",
    "match x:\n    case [a, *rest]:\n        import m",
    "async def g():\n    import asyncio\n    await asyncio.sleep(0)",
    "lambda: (yield)",
    "x = 1; import sys",
    "if x:\n  import a\n\telse_ = 1",
    "\\\n",
    "sys.path.insert(0, '.')",
];

fn line_starts(b: &[u8]) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(
        b.iter()
            .enumerate()
            .filter(|&(_, &c)| c == b'\n')
            .map(|(i, _)| i + 1)
            .filter(|&i| i < b.len()),
    );
    v
}

fn pick(n: usize, at: u32) -> usize {
    if n == 0 {
        0
    } else {
        at as usize % n
    }
}

/// The line start at `at` (of the lines), and that line's indentation.
fn line_at(b: &[u8], at: u32) -> (usize, Vec<u8>) {
    let starts = line_starts(b);
    let s = starts[pick(starts.len(), at)];
    let indent: Vec<u8> = b[s..]
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t'))
        .copied()
        .collect();
    (s, indent)
}

fn insert_lines(b: &mut Vec<u8>, at: u32, text: &str) {
    let (s, indent) = line_at(b, at);
    let mut chunk = Vec::new();
    for line in text.split('\n') {
        chunk.extend_from_slice(&indent);
        chunk.extend_from_slice(line.as_bytes());
        chunk.push(b'\n');
    }
    b.splice(s..s, chunk);
}

fn nest(kind: u8, depth: usize) -> String {
    let mut s = String::new();
    match kind {
        0 => {
            s.push_str("x = ");
            s.push_str(&"(".repeat(depth));
            s.push('1');
            s.push_str(&")".repeat(depth));
        }
        1 => {
            s.push_str("x = ");
            for i in 0..depth {
                s.push(['[', '{', '('][i % 3]);
            }
            s.push_str("settings");
            for i in (0..depth).rev() {
                s.push([']', '}', ')'][i % 3]);
            }
        }
        2 | 3 => {
            let depth = depth.min(150);
            for i in 0..depth {
                s.push_str(&"    ".repeat(i));
                if kind == 2 {
                    s.push_str(&format!("def f{i}(a{i}=settings):\n"));
                } else {
                    s.push_str(&format!("if x{i}:\n"));
                }
            }
            s.push_str(&"    ".repeat(depth));
            s.push_str("import os\n");
            s.push_str(&"    ".repeat(depth));
            s.push_str("return settings.x");
        }
        4 => {
            let depth = depth.min(150);
            for i in 0..depth {
                s.push_str(&"    ".repeat(i));
                s.push_str(&format!("class C{i}:\n"));
            }
            s.push_str(&"    ".repeat(depth));
            s.push_str("from aioredis import x");
        }
        5 => {
            // Unbalanced: opened, never closed.
            s.push_str("import os\nx = ");
            s.push_str(&"([{".repeat(depth / 3 + 1));
        }
        6 => {
            s.push_str("y = ");
            s.push_str(&"not -".repeat(depth));
            s.push_str("a.b.c");
            s.push_str(&".d".repeat(depth));
        }
        _ => {
            s.push_str("z = ");
            s.push_str(&"f'{".repeat(depth.min(60)));
            s.push('x');
            s.push_str(&"}'".repeat(depth.min(60)));
        }
    }
    s
}

fn apply_mutation(b: &mut Vec<u8>, m: &Mutation, corpus: &Corpus) {
    match *m {
        Mutation::FlipBit { at, bit } => {
            if !b.is_empty() {
                let i = pick(b.len(), at);
                b[i] ^= 1 << (bit % 8);
            }
        }
        Mutation::DeleteToken { at } => {
            if b.is_empty() {
                return;
            }
            let i = pick(b.len(), at);
            let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
            let space = |c: u8| c == b' ' || c == b'\t';
            let class: &dyn Fn(u8) -> bool = if word(b[i]) {
                &word
            } else if space(b[i]) {
                &space
            } else {
                b.remove(i);
                return;
            };
            let mut s = i;
            while s > 0 && class(b[s - 1]) {
                s -= 1;
            }
            let mut e = i;
            while e < b.len() && class(b[e]) {
                e += 1;
            }
            b.drain(s..e);
        }
        Mutation::DeleteLine { at } | Mutation::DuplicateLine { at } => {
            let starts = line_starts(b);
            let k = pick(starts.len(), at);
            let s = starts[k];
            let e = starts.get(k + 1).copied().unwrap_or(b.len());
            if matches!(m, Mutation::DeleteLine { .. }) {
                b.drain(s..e);
            } else {
                let line = b[s..e].to_vec();
                b.splice(s..s, line);
            }
        }
        Mutation::Splice { other, at, from } => {
            let o = &corpus.python[pick(corpus.python.len(), other)];
            let starts = line_starts(b);
            let cut = starts[pick(starts.len(), at)];
            let ostarts = line_starts(o);
            let ofrom = ostarts[pick(ostarts.len(), from)];
            b.truncate(cut);
            b.extend_from_slice(&o[ofrom..]);
        }
        Mutation::InsertLines {
            other,
            at,
            from,
            len,
        } => {
            let o = &corpus.python[pick(corpus.python.len(), other)];
            let ostarts = line_starts(o);
            let k = pick(ostarts.len(), from);
            let s = ostarts[k];
            let e = ostarts.get(k + len as usize).copied().unwrap_or(o.len());
            let chunk = o[s..e].to_vec();
            let starts = line_starts(b);
            let at = starts[pick(starts.len(), at)];
            b.splice(at..at, chunk);
        }
        Mutation::Nest { kind, depth, at } => insert_lines(b, at, &nest(kind, depth as usize)),
        Mutation::Unbalance { at, ch } => {
            let c = b"([{)]}\"'\\#"[ch as usize % 10];
            let i = pick(b.len() + 1, at);
            b.insert(i, c);
        }
        Mutation::Snippet { which, at } => {
            insert_lines(b, at, SNIPPETS[which as usize % SNIPPETS.len()])
        }
        Mutation::Encoding { kind, at } => match kind {
            0 => {
                // A latin-1 cookie and a latin-1 byte.
                let mut out = b"# -*- coding: latin-1 -*-\n".to_vec();
                out.extend_from_slice(b"NAME = '\xe9t\xe9'\n");
                out.extend_from_slice(b);
                *b = out;
            }
            1 => {
                let mut out = b"\xEF\xBB\xBF".to_vec();
                out.extend_from_slice(b);
                *b = out;
            }
            2 => {
                let i = pick(b.len() + 1, at);
                b.splice(i..i, *b"\xff\xfe");
            }
            3 => {
                let mut out = b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\n".to_vec();
                out.extend_from_slice(b);
                out.extend_from_slice(b"EURO = '\x80'\n");
                *b = out;
            }
            4 => {
                let mut out = b"# coding: no-such-codec\n".to_vec();
                out.extend_from_slice(b);
                *b = out;
            }
            5 => {
                // UTF-8 text beyond ASCII: in names, strings and comments.
                insert_lines(b, at, "caf\u{e9} = '\u{1F600}'  # \u{2028}\u{a0}x");
            }
            _ => {
                let mut out = b"# -*- coding: utf-8 -*-\n".to_vec();
                out.extend_from_slice(b);
                let i = pick(out.len() + 1, at);
                out.insert(i, 0xe9);
                *b = out;
            }
        },
        Mutation::Newlines { kind, seed } => {
            let text = std::mem::take(b);
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (state >> 16) % 3
            };
            for &c in &text {
                if c == b'\n' {
                    // Drop a CR the newline already had, then write the new ending.
                    if b.last() == Some(&b'\r') {
                        b.pop();
                    }
                    let ending: &[u8] = match kind {
                        0 => b"\r\n",
                        1 => b"\r",
                        2 => [&b"\n"[..], b"\r\n", b"\r"][next() as usize],
                        3 => [&b"\n"[..], b"\r\n"][next() as usize % 2],
                        _ => b"\n",
                    };
                    b.extend_from_slice(ending);
                } else {
                    b.push(c);
                }
            }
            if kind == 4 {
                // No newline at the end of the file.
                while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
                    b.pop();
                }
            }
        }
        Mutation::Tabs { kind, at } => match kind {
            0 => {
                // Indentation by tabs.
                let text = std::mem::take(b);
                let mut bol = true;
                let mut spaces = 0;
                for &c in &text {
                    if bol && c == b' ' {
                        spaces += 1;
                        if spaces == 4 {
                            b.push(b'\t');
                            spaces = 0;
                        }
                        continue;
                    }
                    if bol {
                        b.extend(std::iter::repeat_n(b' ', spaces));
                        spaces = 0;
                    }
                    bol = c == b'\n';
                    b.push(c);
                }
            }
            1 => {
                // A tab after spaces on one line.
                let (s, indent) = line_at(b, at);
                if !indent.is_empty() {
                    b.insert(s + indent.len(), b'\t');
                }
            }
            2 => {
                let (s, _) = line_at(b, at);
                b.insert(s, 0x0c);
            }
            _ => {
                let i = pick(b.len() + 1, at);
                b.splice(i..i, *b" \t \t");
            }
        },
    }
}

// ---------------------------------------------------------------------------------
// Running recipes in-process, with a time limit

/// What a worker tells the thread that watches it.
enum Msg<T> {
    Step(String),
    Done(std::thread::Result<T>),
}

/// Tells the watcher which step a case is at; each step gets the whole time limit.
#[derive(Clone)]
struct Steps(mpsc::Sender<Msg<()>>);

impl Steps {
    fn step(&self, what: String) {
        let _ = self.0.send(Msg::Step(what));
    }
}

/// Runs `f` in a thread, failing on a panic, and stopping the whole run (after saving
/// the case with `save`) when a step takes longer than the time limit: the hung thread
/// cannot be stopped, and shrinking would start more of them.
fn guarded(
    label: &str,
    save: impl FnOnce(),
    f: impl FnOnce(&Steps) -> Result<(), String> + Send + 'static,
) -> Result<(), TestCaseError> {
    let (tx, rx) = mpsc::channel::<Msg<()>>();
    let (rtx, rrx) = mpsc::channel::<Result<(), String>>();
    let steps = Steps(tx.clone());
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(&steps)));
        match result {
            Ok(r) => {
                let _ = rtx.send(r);
                let _ = tx.send(Msg::Done(Ok(())));
            }
            Err(p) => {
                let _ = tx.send(Msg::Done(Err(p)));
            }
        }
    });
    let mut step = "start".to_owned();
    loop {
        match rx.recv_timeout(timeout()) {
            Ok(Msg::Step(s)) => step = s,
            Ok(Msg::Done(Ok(()))) => {
                return rrx
                    .recv()
                    .unwrap_or_else(|_| Err("the worker ended without a result".into()))
                    .map_err(TestCaseError::fail)
            }
            Ok(Msg::Done(Err(p))) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "a panic".to_owned());
                return Err(TestCaseError::fail(format!(
                    "{label}: panic in {step}: {msg}"
                )));
            }
            Err(_) => {
                save();
                eprintln!(
                    "fuzz: {label}: HANG: no progress for {:?} in {step} (FIXER_FUZZ_SEED={}); the case is saved under target/fuzz-failures/",
                    timeout(),
                    seed()
                );
                std::process::exit(3);
            }
        }
    }
}

fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("a thread pool")
    })
}

/// Runs one compiled recipe over `dir` as `fixer apply` would, writing nothing.
fn run_recipe(dir: &Path, recipe: &CompiledRecipe) -> Result<Outcome, String> {
    let roots = vec![dir.to_path_buf()];
    let walk = fixer::select::walk(&roots, 1).map_err(|e| e.message)?;
    let ws = Workspace::new(roots, walk);
    engine::run(
        &ws,
        std::slice::from_ref(recipe),
        pool(),
        &Progress::hidden(),
    )
    .map_err(|e| e.message)?;
    Ok(ws.finish())
}

fn write_tree(dir: &Path, files: &[(PathBuf, Vec<u8>)]) {
    for (rel, bytes) in files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(&p, bytes).expect("write a case file");
    }
}

fn read_dir_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = Vec::new();
    read_tree(dir, Path::new(""), &mut files);
    files.into_iter().collect()
}

/// Writes an outcome's changes into `dir` (whose files the outcome's paths, under
/// `from`, name). `Err` when a new text cannot be encoded (apply reports that).
fn materialize(outcome: &Outcome, from: &Path, dir: &Path) -> Result<(), String> {
    for (path, change) in &outcome.changes {
        let rel = path
            .strip_prefix(from)
            .map_err(|_| format!("{} outside the project", path.display()))?;
        let target = dir.join(rel);
        match &change.current {
            None => {
                let _ = std::fs::remove_file(&target);
            }
            Some(text) => {
                let src = match &change.original {
                    Some(s) => (**s).clone(),
                    None => fixer::source::Source::for_new_text(text),
                };
                let bytes = src
                    .encode(text)
                    .ok_or_else(|| format!("{}: cannot encode", rel.display()))?;
                if let Some(parent) = target.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                std::fs::write(&target, bytes).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Properties of one outcome

fn parses(text: &str) -> bool {
    fixer::verify::check(text).is_ok()
}

/// The line endings of a text: `\r\n`, a lone `\n`, a lone `\r`.
fn endings(text: &str) -> BTreeSet<&'static str> {
    let b = text.as_bytes();
    let mut out = BTreeSet::new();
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            out.insert(if i > 0 && b[i - 1] == b'\r' {
                "\\r\\n"
            } else {
                "\\n"
            });
        } else if c == b'\r' && b.get(i + 1) != Some(&b'\n') {
            out.insert("\\r");
        }
    }
    out
}

fn trim_line(l: &str) -> &str {
    l.trim_end_matches(['\r', '\n', ' ', '\t', '\x0c'])
}

/// Untouched bytes: no line ending that `old` lacks (but its own newline), and no line
/// that a hunk rewrites to itself but for its line ending or trailing whitespace.
fn untouched_bytes(old: &str, new: &str) -> Result<(), String> {
    let mut allowed = endings(old);
    allowed.insert(match fixer::source::newline_of(old) {
        "\r\n" => "\\r\\n",
        _ => "\\n",
    });
    let added: Vec<_> = endings(new).difference(&allowed).copied().collect();
    if !added.is_empty() {
        return Err(format!(
            "line endings {added:?} appear that the file did not have"
        ));
    }
    let mixed = endings(old).len() > 1;
    // Lines as fixer sees them: ended by `\n` (a lone `\r` ends none).
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &a, &b);
    let kept = |op: &similar::DiffOp| {
        op.tag() == similar::DiffTag::Equal
            && a[op.old_range()].iter().any(|l| !l.trim().is_empty())
    };
    if !ops.iter().any(kept) {
        return Ok(()); // a new text in place of the old (move-module's shim)
    }
    for op in ops {
        let (deleted, inserted) = (&a[op.old_range()], &b[op.new_range()]);
        if op.tag() == similar::DiffTag::Equal {
            continue;
        }
        for l in deleted {
            // A lone `\r` at the end of a file ends a line for Python, not for fixer.
            let lone_cr = l.ends_with('\r');
            if lone_cr || trim_line(l).trim().is_empty() || inserted.contains(l) {
                continue;
            }
            // In a file of mixed newlines, a rewritten block takes the file's own.
            // A last line without a newline gets one when lines come after it.
            let ended =
                |m: &&&str| !l.ends_with(['\n', '\r']) && m.trim_end_matches(['\r', '\n']) == *l;
            let same = |m: &&&str| {
                !ended(m)
                    && trim_line(m) == trim_line(l)
                    && (!mixed
                        || m.trim_end_matches(['\r', '\n']) != l.trim_end_matches(['\r', '\n']))
            };
            if let Some(m) = inserted.iter().find(same) {
                return Err(format!(
                    "the line {l:?} became {m:?}: only its line ending or trailing whitespace changed"
                ));
            }
        }
    }
    Ok(())
}

/// The properties of one recipe's outcome on a project whose files are `before`.
fn check_outcome(
    label: &str,
    dir: &Path,
    before: &BTreeMap<PathBuf, Vec<u8>>,
    outcome: &Outcome,
) -> Result<(), String> {
    let all_parse = before.iter().all(|(rel, bytes)| {
        rel.extension().is_none_or(|e| e != "py")
            || fixer::source::Source::decode(bytes.clone()).is_ok_and(|s| parses(&s.text))
    });
    for f in &outcome.findings {
        if f.message.contains("did not converge") {
            return Err(format!(
                "{label}: {}:{}: {}",
                f.path.display(),
                f.line,
                f.message
            ));
        }
    }
    for (path, change) in &outcome.changes {
        let rel = path.strip_prefix(dir).unwrap_or(path).display().to_string();
        let Some(new) = &change.current else { continue };
        let is_py = path.extension().is_some_and(|e| e == "py");
        match &change.original {
            Some(old) => {
                if is_py && fixer::source::lone_cr(&old.text).is_some() {
                    return Err(format!(
                        "{label}: {rel} has a lone \\r and was rewritten:\n--- before\n{:?}\n--- after\n{new:?}",
                        old.text
                    ));
                }
                if is_py && parses(&old.text) && !parses(new) {
                    return Err(format!(
                        "{label}: {rel} parsed before and not after:\n--- before\n{}\n--- after\n{new}",
                        old.text
                    ));
                }
                if path.file_name().is_some_and(|n| n == "pyproject.toml")
                    && old.text.parse::<toml::Table>().is_ok()
                    && new.parse::<toml::Table>().is_err()
                {
                    return Err(format!("{label}: {rel} is no longer valid TOML:\n{new}"));
                }
                untouched_bytes(&old.text, new).map_err(|e| format!("{label}: {rel}: {e}"))?;
            }
            None => {
                if is_py && all_parse && !parses(new) {
                    return Err(format!("{label}: new file {rel} does not parse:\n{new}"));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// The recipes of a case

const BUILTIN: &[&str] = &[
    "aioredis-to-redis",
    "hoist-imports",
    "consolidate-conftest",
    "lazy-settings",
    "unresolved-imports",
    "module-to-package",
    "move-module",
    "pytest-asyncio-v1",
];

/// The query recipes fuzzed beside the built-ins.
const QUERY_RECIPES: &[&str] = &[
    "tests/e2e/monorepo/recipes/assert-equal.toml",
    "tests/e2e/monorepo/recipes/utcnow.toml",
];

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| {
        let files: Vec<PathBuf> = QUERY_RECIPES.iter().map(|p| root().join(p)).collect();
        Registry::new(&files).expect("the recipes load")
    })
}

/// The dotted name of the module at `rel` in a project holding `files`: from the
/// directory above its outermost package (from the root when it is in none).
fn module_name(rel: &Path, files: &BTreeSet<PathBuf>) -> String {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "__init__") {
        parts.pop();
    }
    let dirs = rel.parent().map(|p| p.components().count()).unwrap_or(0);
    // How many directories from the file's up are packages.
    let mut packages = 0;
    let mut d = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    while packages < dirs && files.contains(&d.join("__init__.py")) {
        packages += 1;
        d = d.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    let skip = if packages > 0 { dirs - packages } else { 0 };
    parts[skip.min(parts.len())..].join(".")
}

/// The recipes one case runs, compiled with parameters for its project.
fn compile_for(
    ids: &[&str],
    widen: bool,
    module: &str,
    fresh_target: bool,
) -> Vec<(String, CompiledRecipe)> {
    let reg = registry();
    let mut out = Vec::new();
    for id in ids {
        let r = reg.get(id).expect("a known recipe");
        let set: BTreeMap<String, String> = compile_params(id, module, fresh_target)
            .into_iter()
            .collect();
        let Ok(params) = r.params(&set) else { continue };
        let Ok(mut c) = r.compile(&params) else {
            continue;
        };
        if widen {
            c.include = vec!["**/*.py".to_owned()];
        }
        out.push((id.to_string(), c));
    }
    out
}

fn all_ids() -> Vec<&'static str> {
    let mut ids: Vec<&str> = BUILTIN.to_vec();
    ids.extend(["assert-equal-to-assert", "utcnow-to-aware"]);
    ids
}

// ---------------------------------------------------------------------------------
// Property 1: every recipe on mutated projects

#[derive(Debug, Clone)]
struct ProjectCase {
    project: u32,
    /// Files to mutate (by index among the project's Python files) and how.
    edits: Vec<(u32, Vec<Mutation>)>,
    /// The recipes' own globs replaced by `**/*.py`.
    widen: bool,
    /// The module that module-to-package and move-module take: the first mutated file's
    /// when `None`, else this one of the project's Python files.
    module: Option<u32>,
    fresh_target: bool,
    /// The recipe compared against a whole parse by the binary.
    compare: u8,
}

fn project_case() -> impl Strategy<Value = ProjectCase> {
    (
        any::<u32>(),
        prop::collection::vec(
            (any::<u32>(), prop::collection::vec(mutation(), 0..5)),
            1..3,
        ),
        any::<bool>(),
        prop::option::of(any::<u32>()),
        any::<bool>(),
        any::<u8>(),
    )
        .prop_map(
            |(project, edits, widen, module, fresh_target, compare)| ProjectCase {
                project,
                edits,
                widen,
                module,
                fresh_target,
                compare,
            },
        )
}

/// The files of a case's project, mutated.
fn case_files(case: &ProjectCase) -> (Vec<(PathBuf, Vec<u8>)>, PathBuf) {
    let corpus = corpus();
    let project = &corpus.projects[pick(corpus.projects.len(), case.project)];
    let mut files = project.files.clone();
    let python = project.python();
    let mut first = None;
    for (file, mutations) in &case.edits {
        let i = python[pick(python.len(), *file)];
        first.get_or_insert(i);
        for m in mutations {
            apply_mutation(&mut files[i].1, m, corpus);
        }
    }
    let module_file = match case.module {
        Some(m) => python[pick(python.len(), m)],
        None => first.unwrap_or(python[0]),
    };
    let module_rel = files[module_file].0.clone();
    (files, module_rel)
}

fn save_case(test: &str, files: &[(PathBuf, Vec<u8>)]) {
    let dir = std::env::var_os("FIXER_FUZZ_FAILURES")
        .map_or_else(|| root().join("target/fuzz-failures"), PathBuf::from)
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    write_tree(&dir, files);
}

/// Which recipes a case runs, and how.
struct Run {
    ids: Vec<&'static str>,
    /// The recipes' globs replaced by `**/*.py`.
    widen: bool,
    /// move-module moves into a new package, with a shim.
    fresh_target: bool,
    /// The recipe (index into `ids`) also run by the binary with a whole parse.
    compare: Option<usize>,
}

/// Runs every recipe of `run` on a project holding `files`, checking every property.
fn run_project(
    label: &str,
    files: Vec<(PathBuf, Vec<u8>)>,
    module_rel: PathBuf,
    run: Run,
    steps: &Steps,
) -> Result<(), String> {
    let Run {
        ids,
        widen,
        fresh_target,
        compare,
    } = run;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = tmp.path().to_path_buf();
    write_tree(&dir, &files);
    let names: BTreeSet<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let module = module_name(&module_rel, &names);
    let before: BTreeMap<PathBuf, Vec<u8>> = files.into_iter().collect();
    let recipes = compile_for(&ids, widen, &module, fresh_target);
    let all_parse = before.iter().all(|(rel, bytes)| {
        rel.extension().is_none_or(|e| e != "py")
            || fixer::source::Source::decode(bytes.clone()).is_ok_and(|s| parses(&s.text))
    });
    for (k, (id, recipe)) in recipes.iter().enumerate() {
        steps.step(format!("{label}: {id} (module {module})"));
        count("recipes runs");
        let Ok(outcome) = run_recipe(&dir, recipe) else {
            count("recipes refused");
            continue; // a refusal (exit 2) is an answer
        };
        if !outcome.skipped.is_empty() {
            count("recipes runs with a file skipped");
        }
        if outcome
            .findings
            .iter()
            .any(|f| f.message.contains("would introduce a syntax error"))
        {
            count("recipes rewrites refused as breaking the syntax");
            // tree-sitter reads a lone `\r` in a comment as part of it, CPython as a
            // newline: a rewrite of such a file may be refused, which is the safe answer
            // (and a file with one is never rewritten: `check_outcome`).
            let lone_cr = before.values().any(|b| {
                b.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n') || b.last() == Some(&b'\r')
            });
            if all_parse && !lone_cr {
                count("recipes rewrites refused as breaking the syntax of parsing files");
                return Err(format!(
                        "{label}: {id}: a rewrite was refused as breaking the syntax, though every file parsed: {:?}",
                        outcome.findings.iter().filter(|f| f.message.contains("syntax error")).map(|f| format!("{}:{}", f.path.strip_prefix(&dir).unwrap_or(&f.path).display(), f.line)).collect::<Vec<_>>()
                    ));
            }
            log(&format!(
                "{label}: {id}: refused a rewrite as breaking the syntax: {:?}",
                outcome
                    .findings
                    .iter()
                    .filter(|f| f.message.contains("syntax error"))
                    .map(|f| format!(
                        "{}:{}: {}",
                        f.path.strip_prefix(&dir).unwrap_or(&f.path).display(),
                        f.line,
                        f.message
                    ))
                    .collect::<Vec<_>>()
            ));
            if std::env::var_os("FIXER_FUZZ_LOG").is_some() {
                let n = STATS
                    .lock()
                    .map(|s| {
                        s.get("recipes rewrites refused as breaking the syntax")
                            .copied()
                            .unwrap_or(0)
                    })
                    .unwrap_or(0);
                let d = root().join(format!("target/fuzz-log/refused-{n}"));
                let _ = std::fs::create_dir_all(&d);
                write_tree(
                    &d,
                    &before
                        .iter()
                        .map(|(p, b)| (p.clone(), b.clone()))
                        .collect::<Vec<_>>(),
                );
            }
        }
        check_outcome(&format!("{label}: {id}"), &dir, &before, &outcome)?;
        let compare_this = compare == Some(k) && all_parse;
        if outcome.changes.is_empty() && !compare_this {
            continue;
        }
        if !outcome.changes.is_empty() {
            count("recipes runs that changed files");
        }
        // The second run, on the result written out.
        let tmp2 = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir2 = tmp2.path().to_path_buf();
        write_tree(
            &dir2,
            &before
                .iter()
                .map(|(p, b)| (p.clone(), b.clone()))
                .collect::<Vec<_>>(),
        );
        if materialize(&outcome, &dir, &dir2).is_err() {
            count("recipes results that cannot be encoded");
            continue;
        }
        steps.step(format!("{label}: {id} again"));
        let after = read_dir_files(&dir2);
        if let Ok(second) = run_recipe(&dir2, recipe) {
            if let Some((path, change)) = second.changes.iter().next() {
                let rel = path.strip_prefix(&dir2).unwrap_or(path);
                return Err(format!(
                    "{label}: {id}: a second run changes {} again:\n--- after the first run\n{}\n--- after the second\n{}",
                    rel.display(),
                    change.original.as_ref().map_or("", |s| s.text.as_str()),
                    change.current.as_deref().unwrap_or("<deleted>")
                ));
            }
        }
        if compare_this {
            count("recipes whole-parse comparisons");
            steps.step(format!("{label}: {id} whole parse"));
            compare_whole_parse(&dir, &after, id, widen, &module, fresh_target)
                .map_err(|e| format!("{label}: {id}: {e}"))?;
        }
    }
    Ok(())
}

/// The binary with `FIXER_FULL_PARSE=1` must write what the partial parses gave.
fn compare_whole_parse(
    dir: &Path,
    expected: &BTreeMap<PathBuf, Vec<u8>>,
    id: &str,
    widen: bool,
    module: &str,
    fresh_target: bool,
) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let files = read_dir_files(dir);
    write_tree(tmp.path(), &files.into_iter().collect::<Vec<_>>());
    let mut args: Vec<String> = Vec::new();
    for q in QUERY_RECIPES {
        args.push("--recipe".into());
        args.push(root().join(q).display().to_string());
    }
    args.extend(["apply".into(), id.into(), ".".into(), "--quiet".into()]);
    if widen {
        args.extend(["--include".into(), "**/*.py".into()]);
    }
    for (k, v) in compile_params(id, module, fresh_target) {
        args.extend(["--set".into(), format!("{k}={v}")]);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fixer"))
        .args(&args)
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .env("FIXER_FULL_PARSE", "1")
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("panicked") {
        return Err(format!("the binary panicked: {stderr}"));
    }
    if out.status.code() == Some(2) {
        return Ok(()); // a refusal; the in-process run refused the same or wrote nothing
    }
    let got = read_dir_files(tmp.path());
    if &got != expected {
        let keys: BTreeSet<&PathBuf> = got.keys().chain(expected.keys()).collect();
        for k in keys {
            if got.get(k) != expected.get(k) {
                return Err(format!(
                    "partial and whole parses differ on {}:\n--- partial\n{}\n--- whole\n{}",
                    k.display(),
                    expected
                        .get(k)
                        .map_or("<none>".into(), |b| String::from_utf8_lossy(b)),
                    got.get(k)
                        .map_or("<none>".into(), |b| String::from_utf8_lossy(b)),
                ));
            }
        }
    }
    Ok(())
}

fn compile_params(id: &str, module: &str, fresh_target: bool) -> Vec<(String, String)> {
    match id {
        "module-to-package" => vec![
            ("module".into(), module.into()),
            ("submodule".into(), "core".into()),
        ],
        "move-module" => {
            let to = match (fresh_target, module.rsplit_once('.')) {
                (false, Some((parent, name))) => format!("{parent}.moved_{name}"),
                _ => format!("fuzzmoved.sub.{}", module.replace('.', "_")),
            };
            let mut v = vec![("from".into(), module.into()), ("to".into(), to)];
            if fresh_target {
                v.push(("shim".into(), "true".into()));
            }
            v
        }
        // The fuzzer judges fixer's rewrite, not pytest's collection (and an active
        // virtualenv must not make every case run pytest).
        "consolidate-conftest" => vec![("python".into(), "none".into())],
        _ => Vec::new(),
    }
}

#[test]
fn fuzz_recipes_on_mutated_projects() {
    check("recipes", 120, 1, project_case(), |case| {
        let (files, module_rel) = case_files(&case);
        count("recipes cases");
        let saved = files.clone();
        let ids = all_ids();
        let compare = Some(case.compare as usize % ids.len());
        let (widen, fresh) = (case.widen, case.fresh_target);
        let files2 = files.clone();
        guarded(
            "recipes",
            move || save_case("recipes", &saved),
            move |steps| {
                let run = Run {
                    ids,
                    widen,
                    fresh_target: fresh,
                    compare,
                };
                run_project("case", files2, module_rel, run, steps)
            },
        )
        .inspect_err(|_| save_case("recipes", &files))
    });
}

// ---------------------------------------------------------------------------------
// Properties 2 and 3: the recipe loader and the config loader on generated TOML

fn toml_scalar() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        "[a-z_{}$@.*/ -]{0,12}".prop_map(toml::Value::String),
        any::<String>().prop_map(toml::Value::String),
        any::<i64>().prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
    ]
}

/// Any TOML value, tables and arrays nested a few levels.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    toml_scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z-]{1,8}", inner, 0..4)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// A string most of the time, else any scalar.
fn prose() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        20 => "[a-zA-Z {}$`]{0,20}".prop_map(toml::Value::String),
        1 => toml_scalar(),
    ]
}

/// A value from `pool` most of the time, else anything (a wrong type, often).
fn one_of(pool: &'static [&'static str]) -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        20 => prop::sample::select(pool).prop_map(|s| toml::Value::String(s.to_owned())),
        1 => toml_value(),
    ]
}

fn strings_of(pool: &'static [&'static str]) -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        20 => prop::collection::vec(prop::sample::select(pool), 0..4).prop_map(|v| {
            toml::Value::Array(v.into_iter().map(|s| toml::Value::String(s.to_owned())).collect())
        }),
        1 => toml_value(),
    ]
}

/// A table with some of `keys` (each from its strategy, present with its weight) and
/// maybe an unknown key.
fn table_of(
    keys: Vec<(&'static str, f64, BoxedStrategy<toml::Value>)>,
) -> impl Strategy<Value = toml::Value> {
    let fields: Vec<_> = keys
        .into_iter()
        .map(|(k, w, s)| prop::option::weighted(w, s).prop_map(move |v| v.map(|v| (k, v))))
        .collect();
    (
        fields,
        prop::option::weighted(0.05, ("[a-z-]{1,8}", toml_value())),
    )
        .prop_map(|(fields, junk)| {
            let mut t = toml::Table::new();
            for (k, v) in fields.into_iter().flatten() {
                t.insert(k.to_owned(), v);
            }
            if let Some((k, v)) = junk {
                t.insert(k, v);
            }
            toml::Value::Table(t)
        })
}

const GLOBS: &[&str] = &[
    "**/*.py",
    "*.py",
    "tests/**",
    "[",
    "{a,b",
    "**/",
    "",
    "!x",
    "a/**/b",
    "\\",
    "***",
    "/abs/*.py",
];
const IDS: &[&str] = &[
    "fuzz-recipe",
    "fuzz-recipe",
    "fuzz-recipe",
    "r1",
    "a-b",
    "fuzz-recipe",
    "q",
    "x",
    "a-b-c",
    "Bad_Id",
    "",
    "-x",
    "hoist-imports",
    "aioredis-to-redis",
    "assert-equal-to-assert",
    "move-module",
    "nope",
];
const QUERIES: &[&str] = &[
    "(identifier) @x",
    "(call function: (identifier) @f (#eq? @f \"print\")) @call",
    "(call function: (attribute object: (identifier) @o attribute: (identifier) @a)) @call (#eq? @a \"utcnow\")",
    "((identifier) @x (#match? @x \"^a\"))",
    "((identifier) @x (#match? @x \"[\"))",
    "((identifier) @x (#any-of? @x \"a\" \"b\" \"settings\"))",
    "((identifier) @x (#not-eq? @x \"self\"))",
    "((identifier) @x (#eq? @x @x))",
    "((identifier) @x (#eq? @x))",
    "((identifier) @x (#set! foo bar))",
    "((identifier) @x (#is? local))",
    "(import_statement name: (dotted_name) @m) @stmt",
    "(import_from_statement module_name: (dotted_name . (identifier) @mod) @module)",
    "(expression_statement (string) @s) @stmt",
    "(ERROR) @e",
    "(MISSING) @m",
    "(_) @any",
    "(identifier)+ @xs",
    "(block (_)* @stmts)",
    "[(integer) (float)] @n",
    "(comment) @c",
    "(function_definition name: (identifier) @name body: (block . (expression_statement (string)) @doc)) @def",
    "(assignment left: (identifier) @l right: (call) @r) @a",
    "(nonexistent_node) @x",
    "(identifier",
    "",
    "@x",
    "(string (string_content) @c)",
    "((identifier) @a . (identifier) @b)",
    "(decorated_definition (decorator) @d) @dd",
    "(module) @root",
];
const CAPTURES: &[&str] = &[
    "x", "call", "stmt", "s", "e", "any", "xs", "stmts", "root", "doc", "def", "nope", "", "m",
];
const TEMPLATES: &[&str] = &[
    "$x",
    "assert $a == $b",
    "$$",
    "$",
    "${x}",
    "{{p}}",
    "{{missing}}",
    "(",
    "\"",
    "$x\n$x",
    "\u{feff}",
    "",
    "pass",
    "$call.x",
    "def f():\n    pass",
    "'''",
    "$any$any",
    "import os",
    "\r\n",
    "\t$x",
    "{{p}}$x{{p}}",
];
const IMPORTS: &[&str] = &[
    "import os",
    "from datetime import timezone",
    "from . import x",
    "import",
    "from x import *",
    "import a.b as c",
    "from __future__ import annotations",
    "bogus",
    "",
];
const ACTION_NAMES: &[&str] = &[
    "hoist-imports",
    "consolidate-conftest",
    "lazy-settings",
    "module-to-package",
    "move-module",
    "unresolved-imports",
    "pytest-asyncio-v1",
    "nope",
    "",
];
const ARG_VALUES: &[&str] = &[
    "{{p}}",
    "{{missing}}",
    "pkg.mod",
    "",
    "core",
    "true",
    "false",
    "a..b",
    ".",
    "x.y.z",
    "Settings$",
    "(",
    ".*",
    "get_settings",
    "delete",
    "disabled",
    "tests",
    "../..",
    "1x",
];

fn recipe_value() -> impl Strategy<Value = toml::Value> {
    let param = table_of(vec![
        (
            "default",
            0.8,
            prop_oneof![4 => toml_scalar(), 1 => toml_value()].boxed(),
        ),
        ("help", 0.5, prose().boxed()),
    ]);
    let rewrite = (
        table_of(vec![
            ("query", 0.97, one_of(QUERIES).boxed()),
            ("replace", 0.2, one_of(CAPTURES).boxed()),
            ("with", 0.7, one_of(TEMPLATES).boxed()),
            ("add-imports", 0.2, strings_of(IMPORTS).boxed()),
            ("message", 0.3, one_of(TEMPLATES).boxed()),
            (
                "severity",
                0.2,
                one_of(&["note", "warning", "error", "fatal"]).boxed(),
            ),
        ]),
        prop::option::weighted(0.7, any::<u8>()),
        any::<u8>(),
    )
        .prop_map(|(mut t, replace, with)| {
            // Mostly a capture the query has, and a template using its captures.
            if let toml::Value::Table(t) = &mut t {
                let captures: Vec<String> = match t.get("query") {
                    Some(toml::Value::String(q)) => q
                        .split('@')
                        .skip(1)
                        .map(|c| {
                            c.chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect()
                        })
                        .filter(|c: &String| !c.is_empty())
                        .collect(),
                    _ => Vec::new(),
                };
                if let (Some(r), false) = (replace, captures.is_empty()) {
                    let c = captures[r as usize % captures.len()].clone();
                    t.insert("replace".into(), toml::Value::String(c.clone()));
                    if with % 2 == 0 {
                        let other = &captures[with as usize % captures.len()];
                        t.insert(
                            "with".into(),
                            toml::Value::String(format!(
                                "{}${other}{}",
                                ["", "(", "not "][with as usize % 3],
                                ["", ")", " + 1"][with as usize % 3]
                            )),
                        );
                    }
                }
            }
            t
        });
    let action_keys: Vec<(&'static str, f64, BoxedStrategy<toml::Value>)> = [
        "module",
        "submodule",
        "from",
        "to",
        "shim",
        "target",
        "keep",
        "class",
        "instance",
        "getter",
        "compat",
    ]
    .into_iter()
    .map(|k| (k, 0.3, one_of(ARG_VALUES).boxed()))
    .chain([("name", 0.97, one_of(ACTION_NAMES).boxed())])
    .collect();
    let action = table_of(action_keys);
    let example = table_of(vec![
        ("name", 0.3, prose().boxed()),
        (
            "before",
            0.95,
            one_of(&[
                "print(1)\n",
                "import aioredis\n",
                "x = datetime.utcnow()\n",
                "",
            ])
            .boxed(),
        ),
        ("after", 0.95, one_of(&["print(1)\n", "", "x\n"]).boxed()),
        (
            "path",
            0.3,
            one_of(&[
                "example.py",
                "tests/test_x.py",
                "../x.py",
                "",
                "conftest.py",
            ])
            .boxed(),
        ),
        ("params", 0.1, toml_value().boxed()),
    ]);
    table_of(vec![
        ("id", 0.97, one_of(IDS).boxed()),
        ("description", 0.97, prose().boxed()),
        ("include", 0.3, strings_of(GLOBS).boxed()),
        ("exclude", 0.3, strings_of(GLOBS).boxed()),
        (
            "params",
            0.4,
            prop::collection::btree_map(prop::sample::select(&["p", "q", "x"][..]), param, 0..3)
                .prop_map(|m| {
                    toml::Value::Table(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                })
                .boxed(),
        ),
        (
            "rewrite",
            0.8,
            prop::collection::vec(rewrite, 0..3)
                .prop_map(toml::Value::Array)
                .boxed(),
        ),
        (
            "action",
            0.4,
            prop::collection::vec(action, 0..2)
                .prop_map(toml::Value::Array)
                .boxed(),
        ),
        (
            "example",
            0.3,
            prop::collection::vec(example, 0..2)
                .prop_map(toml::Value::Array)
                .boxed(),
        ),
    ])
}

/// Garbage applied to a TOML text: none, byte flips, a cut, bytes inserted.
#[derive(Debug, Clone)]
enum Garbage {
    None,
    Flip(u32, u8),
    Cut(u32),
    Insert(u32, Vec<u8>),
}

fn garbage() -> impl Strategy<Value = Garbage> {
    prop_oneof![
        15 => Just(Garbage::None),
        1 => (any::<u32>(), any::<u8>()).prop_map(|(a, b)| Garbage::Flip(a, b)),
        1 => any::<u32>().prop_map(Garbage::Cut),
        1 => (any::<u32>(), prop::collection::vec(any::<u8>(), 1..6)).prop_map(|(a, b)| Garbage::Insert(a, b)),
    ]
}

fn to_toml(value: &toml::Value, g: &Garbage) -> Vec<u8> {
    let mut b = match value {
        toml::Value::Table(t) => toml::to_string(t).unwrap_or_default().into_bytes(),
        other => format!("x = {other}").into_bytes(),
    };
    match g {
        Garbage::None => {}
        Garbage::Flip(at, x) => {
            if !b.is_empty() {
                let i = pick(b.len(), *at);
                b[i] ^= x | 1;
            }
        }
        Garbage::Cut(at) => b.truncate(pick(b.len() + 1, *at)),
        Garbage::Insert(at, bytes) => {
            let i = pick(b.len() + 1, *at);
            b.splice(i..i, bytes.iter().copied());
        }
    }
    b
}

/// The binary in `dir` with `args`: exit 0, 1 or 2, an `error:` line on 2, no panic.
fn cli_ok(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fixer"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    if stderr.contains("panicked") || !matches!(code, Some(0..=2)) {
        return Err(format!("fixer {args:?} exited {code:?}:\n{stderr}"));
    }
    if code == Some(2) && !stderr.lines().any(|l| l.starts_with("error: ")) {
        return Err(format!(
            "fixer {args:?} exited 2 without an `error:` line:\n{stderr}"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct RecipeCase {
    recipe: toml::Value,
    garbage: Garbage,
    /// The project (of the corpus) the recipe runs on, if it loads.
    project: u32,
    /// Also through the binary: `--recipe FILE check`, and `test FILE`.
    cli: bool,
}

#[test]
fn fuzz_recipe_loader() {
    let strategy = (
        recipe_value(),
        garbage(),
        any::<u32>(),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(recipe, garbage, project, cli)| RecipeCase {
            recipe,
            garbage,
            project,
            cli,
        });
    check("recipe-loader", 300, 2, strategy, |case| {
        let bytes = to_toml(&case.recipe, &case.garbage);
        let corpus = corpus();
        let project = &corpus.projects[pick(corpus.projects.len(), case.project)];
        let files = project.files.clone();
        let saved = files.clone();
        let save_bytes = bytes.clone();
        guarded(
            "recipe-loader",
            move || {
                let mut s = saved;
                s.push(("fuzz-recipe.toml".into(), save_bytes));
                save_case("recipe-loader", &s);
            },
            move |steps| {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                steps.step(format!("loading:\n{text}"));
                let loaded = Recipe::parse(&text, Path::new("fuzz-recipe.toml"), false);
                let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
                let dir = tmp.path().to_path_buf();
                write_tree(&dir, &files);
                if case.cli {
                    std::fs::write(dir.join("fuzz-recipe.toml"), &bytes)
                        .map_err(|e| e.to_string())?;
                    steps.step(format!("fixer --recipe on:\n{text}"));
                    cli_ok(
                        &dir,
                        &["--recipe", "fuzz-recipe.toml", "check", "--quiet", "."],
                    )?;
                    cli_ok(&dir, &["test", "fuzz-recipe.toml"])?;
                }
                let Ok(recipe) = loaded else {
                    if let Err(e) = &loaded {
                        log(&format!("recipe rejected: {}", e.message));
                    }
                    count("recipe-loader rejected");
                    return Ok(());
                };
                count("recipe-loader loaded");
                let Ok(params) = recipe.params(&BTreeMap::from([
                    ("p".to_owned(), "pkg.mod".to_owned()),
                    ("q".to_owned(), "x".to_owned()),
                    ("x".to_owned(), "".to_owned()),
                ])) else {
                    return Ok(());
                };
                let Ok(compiled) = recipe.compile(&params) else {
                    return Ok(());
                };
                count("recipe-loader compiled and run");
                steps.step(format!("running:\n{text}"));
                let before: BTreeMap<PathBuf, Vec<u8>> = files.into_iter().collect();
                if let Ok(outcome) = run_recipe(&dir, &compiled) {
                    // A random rewrite need not converge (x -> x + 1); the rest holds.
                    let mut outcome = outcome;
                    outcome
                        .findings
                        .retain(|f| !f.message.contains("did not converge"));
                    check_outcome("recipe-loader", &dir, &before, &outcome)?;
                }
                Ok(())
            },
        )
    });
}

const EXTENDS: &[&str] = &[
    "../fixer.toml",
    "fixer.toml",
    "../pyproject.toml",
    "",
    "/nonexistent.toml",
    "sub",
    "../../../../../../etc/hostname",
    "nope.toml",
];
const RECIPE_DIRS: &[&str] = &[".", "recipes", "nope", "fixer.toml", "", "..", "sub"];

#[derive(Debug, Clone)]
struct ConfigCase {
    root: toml::Value,
    /// `[tool.fixer]` of a pyproject.toml instead of fixer.toml.
    root_in_pyproject: bool,
    sub: Option<toml::Value>,
    garbage: Garbage,
    /// A recipe file in `recipes/` (a config's recipe-paths may load it).
    recipe: Option<toml::Value>,
    cli: bool,
}

fn config_value() -> impl Strategy<Value = toml::Value> {
    let params = prop::collection::btree_map(
        prop::sample::select(IDS),
        prop::collection::btree_map(
            prop::sample::select(&["from", "to", "shim", "module", "x", "getter"][..]),
            toml_value(),
            0..3,
        ),
        0..3,
    )
    .prop_map(|m| {
        toml::Value::Table(
            m.into_iter()
                .map(|(k, v)| {
                    (
                        k.to_owned(),
                        toml::Value::Table(v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
                    )
                })
                .collect(),
        )
    });
    table_of(vec![
        ("extend", 0.3, one_of(EXTENDS).boxed()),
        ("recipes", 0.7, strings_of(IDS).boxed()),
        ("recipe-paths", 0.3, strings_of(RECIPE_DIRS).boxed()),
        ("include", 0.3, strings_of(GLOBS).boxed()),
        ("exclude", 0.3, strings_of(GLOBS).boxed()),
        (
            "params",
            0.4,
            prop_oneof![4 => params, 1 => toml_value()].boxed(),
        ),
    ])
}

#[test]
fn fuzz_config_loader() {
    let strategy = (
        config_value(),
        any::<bool>(),
        prop::option::of(config_value()),
        garbage(),
        prop::option::weighted(0.3, recipe_value()),
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(root, root_in_pyproject, sub, garbage, recipe, cli)| ConfigCase {
                root,
                root_in_pyproject,
                sub,
                garbage,
                recipe,
                cli,
            },
        );
    check("config-loader", 200, 3, strategy, |case| {
        let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        let root_text = to_toml(&case.root, &case.garbage);
        if case.root_in_pyproject {
            let mut b = b"[project]\nname = \"x\"\n\n[tool.fixer]\n".to_vec();
            b.extend_from_slice(&root_text);
            files.push(("pyproject.toml".into(), b));
        } else {
            files.push(("fixer.toml".into(), root_text));
        }
        if let Some(sub) = &case.sub {
            files.push(("sub/fixer.toml".into(), to_toml(sub, &Garbage::None)));
        }
        if let Some(r) = &case.recipe {
            files.push(("recipes/r.toml".into(), to_toml(r, &Garbage::None)));
        }
        files.push((
            "sub/x.py".into(),
            b"import aioredis\n\ndef f():\n    import os\n".to_vec(),
        ));
        files.push((
            "tests/test_y.py".into(),
            b"def test():\n    import os\n".to_vec(),
        ));
        let saved = files.clone();
        guarded(
            "config-loader",
            move || save_case("config-loader", &saved),
            move |steps| {
                let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
                let dir = tmp.path().to_path_buf();
                write_tree(&dir, &files);
                steps.step("Configs::for_path".into());
                let mut configs = fixer::config::Configs::default();
                for p in ["sub/x.py", "tests/test_y.py", "sub", "."] {
                    let found = configs.for_path(&dir.join(p));
                    count(if found.is_ok() {
                        "config-loader loaded"
                    } else {
                        "config-loader rejected"
                    });
                    if let Ok(Some(c)) = found {
                        let mut reg = Registry::new(&[]).map_err(|e| e.message)?;
                        let _ = reg.add_dirs(&c.recipe_paths, &c.file);
                        for id in &c.recipes {
                            if let Ok(r) = reg.get(id) {
                                let params = c.params.get(id).cloned().unwrap_or_default();
                                if let Ok(p) = r.params(&params) {
                                    let _ = r.compile(&p);
                                }
                            }
                        }
                    }
                }
                if case.cli {
                    steps.step("fixer check".into());
                    cli_ok(&dir, &["check", "--quiet", "."])?;
                    cli_ok(
                        &dir.join("sub"),
                        &["apply", "--dry-run", "aioredis-to-redis", "."],
                    )?;
                }
                Ok(())
            },
        )
    });
}

// ---------------------------------------------------------------------------------
// Regressions: each case the fuzzer found, minimized

/// Runs `ids` on a project of `files` with every property of the fuzz run checked
/// (and the whole-parse comparison for the first recipe); `module` is the file
/// module-to-package and move-module take.
fn regression(files: &[(&str, &[u8])], module: &str, ids: &[&'static str], fresh_target: bool) {
    let files = files
        .iter()
        .map(|(p, b)| (PathBuf::from(p), b.to_vec()))
        .collect();
    let (tx, _rx) = mpsc::channel();
    let steps = Steps(tx);
    let run = Run {
        ids: ids.to_vec(),
        widen: false,
        fresh_target,
        compare: Some(0),
    };
    if let Err(e) = run_project("regression", files, PathBuf::from(module), run, &steps) {
        panic!("{e}");
    }
}

/// The shim move-module leaves in place of a CRLF module used LF.
#[test]
fn regression_move_module_shim_keeps_the_newline() {
    regression(
        &[("m.py", b"import sys\r\n")],
        "m.py",
        &["move-module"],
        true,
    );
}

/// hoist-imports kept the import of a test that is nothing but an import and `pass`
/// with a whole parse, and moved it with a partial one, where the `pass` is elided
/// (seed 30026).
#[test]
fn regression_hoist_imports_reads_an_elided_pass_as_pass() {
    regression(
        &[(
            "tests/test_b.py",
            b"def test_b(user, session):\n    import aioredis\n    pass\n",
        )],
        "tests/test_b.py",
        &["hoist-imports"],
        false,
    );
}

/// hoist-imports read the conftests above a file up to the current directory when the
/// project has no root marker: run from elsewhere (the fuzzer's in-process run), it
/// missed `tests/conftest.py`'s fixture and moved the import its binary run kept
/// (seed 70001).
#[test]
fn regression_hoist_imports_reads_conftests_up_to_the_given_root() {
    regression(
        &[
            (
                "tests/conftest.py",
                b"import os\n\nimport pytest\n\n\n@pytest.fixture\ndef mode():\n    return os.environ[\"APP_MODE\"]\n",
            ),
            (
                "tests/a/test_a.py",
                b"def test_mode(mode):\n    from app.config.settings import settings\n    assert settings\n",
            ),
        ],
        "tests/a/test_a.py",
        &["hoist-imports"],
        false,
    );
}

/// consolidate-conftest trimmed the trailing whitespace of the last line of the
/// conftest it appends to.
#[test]
fn regression_consolidate_conftest_keeps_the_last_line() {
    regression(
        &[
            ("pytest.ini", b"[pytest]\n"),
            ("tests/conftest.py", b"X = 1  \t\n\n"),
            (
                "tests/a/conftest.py",
                b"def pytest_configure(config):\n    pass\n",
            ),
            ("tests/a/test_a.py", b"def test_a():\n    pass\n"),
            ("tests/b/test_b.py", b"def test_b():\n    pass\n"),
        ],
        "tests/conftest.py",
        &["consolidate-conftest"],
        false,
    );
}

/// module-to-package re-exported every string of `__all__`, so `"(x"` (or `"class"`)
/// gave an `__init__.py` that does not parse, and the whole move was refused.
#[test]
fn regression_module_to_package_skips_all_entries_that_are_no_names() {
    regression(
        &[
            ("pkg/__init__.py", b""),
            (
                "pkg/mod.py",
                b"x = 1\nclass_ = 2\n__all__ = [\"x\", \"(x\", \"class\", \"class_\"]\n",
            ),
        ],
        "pkg/mod.py",
        &["module-to-package"],
        false,
    );
}

/// consolidate-conftest replaced the newline of the last line of the conftest it
/// appends to by the file's own (in a file of mixed newlines).
#[test]
fn regression_consolidate_conftest_keeps_the_last_newline() {
    let files: &[(&str, &[u8])] = &[
        ("pytest.ini", b"[pytest]\n"),
        ("tests/conftest.py", b"import os\nX = 1\r\n"),
        (
            "tests/a/conftest.py",
            b"def pytest_configure(config):\n    pass\n",
        ),
        ("tests/a/test_a.py", b"def test_a():\n    pass\n"),
        ("tests/b/test_b.py", b"def test_b():\n    pass\n"),
    ];
    regression(files, "tests/conftest.py", &["consolidate-conftest"], false);
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<(PathBuf, Vec<u8>)> =
        files.iter().map(|(p, b)| (p.into(), b.to_vec())).collect();
    write_tree(tmp.path(), &files);
    let recipes = compile_for(&["consolidate-conftest"], false, "", false);
    let outcome = run_recipe(tmp.path(), &recipes[0].1).unwrap();
    let target = outcome.changes[&tmp.path().join("tests/conftest.py")]
        .current
        .clone()
        .unwrap();
    assert!(
        target.starts_with("import os\nX = 1\r\n\n\ndef pytest_configure"),
        "{target:?}"
    );
}

/// move-module put an absolute name in place of a relative one written without a space
/// (`from. import d`, `from .import d`): `froma.b import d` did not parse, and the whole
/// move was refused.
#[test]
fn regression_move_module_spaces_a_relative_import_written_tight() {
    for c in [&b"from. import d\nV = d\n"[..], b"from .import d\nV = d\n"] {
        regression(
            &[
                ("a/__init__.py", b""),
                ("a/b/__init__.py", b""),
                ("a/b/c.py", c),
                ("a/b/d.py", b""),
            ],
            "a/b/c.py",
            &["move-module"],
            true,
        );
    }
}

/// consolidate-conftest moved a fixture with a lone `\r` (a newline, for Python) into a
/// conftest of `\n` newlines as it was.
#[test]
fn regression_consolidate_conftest_moves_a_lone_cr_as_a_newline() {
    regression(
        &[
            ("pytest.ini", b"[pytest]\n"),
            (
                "tests/conftest.py",
                b"import pytest\n\n\n@pytest.fixture\ndef one():\n    return 1\n",
            ),
            (
                "tests/sub/conftest.py",
                b"import pytest\r\n\r@pytest.fixture\ndef two():\r\n    return 2\n",
            ),
            (
                "tests/sub/test_sub.py",
                b"def test_two(one, two):\n    pass\n",
            ),
            ("tests/test_top.py", b"def test_one(one):\n    pass\n"),
        ],
        "tests/conftest.py",
        &["consolidate-conftest"],
        false,
    );
}

/// lazy-settings rewrote the import of a settings instance in a file that binds the
/// same name to an instance of its own (so the uses kept the local one), and made the
/// local instance lazy only on a second run: every instance the name is bound to in a
/// scope that binds it otherwise is refused.
#[test]
fn regression_lazy_settings_refuses_a_name_bound_to_two_instances() {
    regression(
        &[
            ("pyproject.toml", b"[project]\nname = \"x\"\n"),
            ("pkg/__init__.py", b"from .settings import settings\n"),
            (
                "pkg/settings.py",
                b"class Settings:\n    pass\n\n\nsettings = Settings()\n",
            ),
            (
                "tests/test_log.py",
                b"class Settings:\n    pass\n\n\nsettings = Settings()\nfrom pkg import settings\n\n\ndef test_level():\n    assert settings\n",
            ),
        ],
        "pkg/settings.py",
        &["lazy-settings"],
        false,
    );
}

/// Runs the recipe of `toml` on a project of `files` as the recipe-loader property does
/// (in a thread with the time limit; every property of an outcome checked).
fn regression_recipe(toml: &str, files: &[(&str, &[u8])]) {
    let recipe = Recipe::parse(toml, Path::new("fuzz-recipe.toml"), false).unwrap();
    let params = recipe.params(&BTreeMap::new()).unwrap();
    let compiled = recipe.compile(&params).unwrap();
    let files: Vec<(PathBuf, Vec<u8>)> = files
        .iter()
        .map(|(p, b)| (PathBuf::from(p), b.to_vec()))
        .collect();
    let result = guarded(
        "regression",
        || {},
        move |_| {
            let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
            write_tree(tmp.path(), &files);
            let before: BTreeMap<PathBuf, Vec<u8>> = files.into_iter().collect();
            let mut outcome = run_recipe(tmp.path(), &compiled)?;
            outcome
                .findings
                .retain(|f| !f.message.contains("did not converge"));
            check_outcome("regression", tmp.path(), &before, &outcome)
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The statements of a block replaced by `\r\n` (or a blank line, a comment) left an
/// empty block that the verification of the pass did not judge: the changed range was
/// in no statement (seed 30048).
#[test]
fn regression_a_block_emptied_to_a_blank_line_is_refused() {
    for with in ["\\r\\n", "", "# gone"] {
        regression_recipe(
            &format!(
                "id = \"fuzz-recipe\"\ndescription = \"\"\n\n[[rewrite]]\nquery = \"(block (_)* @stmts)\"\nreplace = \"stmts\"\nwith = \"{with}\"\n"
            ),
            &[(
                "test_strings.py",
                b"def test_a():\n    import json\n    \"\"\"Not the docstring.\"\"\"\n    assert json\n\n\ndef test_b():\n    import os\n\n    assert os\n",
            )],
        );
    }
}

/// A rewrite of every node to itself twice (`(_) @any` with `$any$any`) doubles the
/// module each pass, and every other edit conflicts with it: each conflict held a copy
/// of the module's edit, gigabytes by the tenth pass, which hung the run (seed 30031).
#[test]
fn regression_a_rewrite_doubling_the_module_does_not_hang() {
    regression_recipe(
        "id = \"fuzz-recipe\"\ndescription = \"\"\n\n[[rewrite]]\nquery = \"(_) @any\"\nreplace = \"any\"\nwith = \"$any$any\"\n",
        &[(
            "tests/conftest.py",
            b"import pytest\n\n\n# The same settings as everywhere else.\n@pytest.fixture\ndef settings():\n    return {\n        \"debug\": True,  # verbose errors\n        \"tz\": \"UTC\",\n    }\n",
        )],
    );
}

/// tree-sitter reads `# c\rimport os` as one comment, CPython as a comment and an
/// import: a rewrite of the comment deleted the import, and the file still parsed. A file
/// with a lone `\r` is never rewritten, with a note, by a query rewrite or an action.
#[test]
fn regression_a_file_with_a_lone_cr_is_not_rewritten() {
    let files: &[(&str, &[u8])] = &[("a.py", b"# c\rimport os\nprint(os)\n")];
    regression_recipe(
        "id = \"fuzz-recipe\"\ndescription = \"\"\n\n[[rewrite]]\nquery = \"(comment) @c\"\nreplace = \"c\"\nwith = \"# x\"\n",
        files,
    );
    let tmp = tempfile::tempdir().unwrap();
    let owned: Vec<(PathBuf, Vec<u8>)> =
        files.iter().map(|(p, b)| (p.into(), b.to_vec())).collect();
    write_tree(tmp.path(), &owned);
    let recipe = Recipe::parse(
        "id = \"r\"\ndescription = \"\"\n\n[[rewrite]]\nquery = \"(comment) @c\"\nreplace = \"c\"\nwith = \"# x\"\n",
        Path::new("r.toml"),
        false,
    )
    .unwrap();
    let compiled = recipe
        .compile(&recipe.params(&BTreeMap::new()).unwrap())
        .unwrap();
    let outcome = run_recipe(tmp.path(), &compiled).unwrap();
    assert!(outcome.changes.is_empty());
    let why = &outcome.skipped[&tmp.path().join("a.py")];
    assert!(why.reason.contains("lone \\r"), "{why}");
    // An action: move-module of a module with a lone `\r` changes nothing either.
    regression(
        &[("m.py", b"import sys\rX = 1\n"), ("n.py", b"import m\n")],
        "m.py",
        &["move-module"],
        true,
    );
}

/// hoist-imports removed a function's first statement, leaving a line that holds only
/// a backslash continuation first in the block: tree-sitter then ends the block after
/// the next line and reads the rest one level out (CPython reads one block), so the
/// whole-file check refused what the changed-lines check had accepted. A file with such
/// a line is never rewritten (found by the fuzzer, seed 94001).
#[test]
fn regression_a_file_with_a_lone_backslash_line_is_not_rewritten() {
    regression(
        &[
            ("pkg/__init__.py", b""),
            ("pkg/util.py", b"A = 1\n"),
            (
                "pkg/tests/helpers.py",
                b"def make():\n    from pkg.util import A\n\n    \\\n    return A\n    return A\n",
            ),
        ],
        "pkg/util.py",
        &["hoist-imports"],
        false,
    );
    let tmp = tempfile::tempdir().unwrap();
    let text = "def test_make():\n    from os import sep\n\n    \\\n    return sep\n";
    std::fs::write(tmp.path().join("test_m.py"), text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fixer"))
        .args(["apply", "hoist-imports", "."])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("test_m.py")).unwrap(),
        text,
        "{err}"
    );
    assert!(err.contains("holds only a backslash continuation"), "{err}");
}

/// lazy-settings refused a module's own instance whose getter would clash with the
/// getter a star import brings in for another instance, then, once that other instance
/// was lazy, defined its getter over the star-imported one on a second run: a name a
/// star import of a project module binds counts as bound (found by the fuzzer, seed
/// 80025).
#[test]
fn regression_lazy_settings_getter_never_shadows_a_star_import() {
    regression(
        &[
            ("proj/__init__.py", b""),
            ("proj/core/__init__.py", b""),
            (
                "proj/core/config.py",
                b"class AppSettings:\n    url = \"\"\n\n\napp_settings = AppSettings()\n",
            ),
            ("proj/web/__init__.py", b""),
            (
                "proj/web/i_star.py",
                b"from proj.core.config import *\nfrom proj.core.config import AppSettings\n\nsettings: AppSettings = AppSettings()\ntest_settings = AppSettings()\n",
            ),
        ],
        "proj/core/config.py",
        &["lazy-settings"],
        false,
    );
}

/// module-to-package removed each name of `from a.b import (c, c)` that names the moved
/// module from the list and left it empty, which does not parse: when every name of a
/// list is the moved module, the whole statement is replaced (found by the fuzzer,
/// seed 80029).
#[test]
fn regression_module_to_package_import_list_of_only_the_module() {
    regression(
        &[
            ("a/__init__.py", b""),
            ("a/b/__init__.py", b""),
            ("a/b/c.py", b"X = 1\n"),
            (
                "u.py",
                b"from a.b import (  # why c\n    c,  # the moved one\n    c,\n)\nfrom a.b import c, c as cc\n\nprint(c.X, cc.X)\n",
            ),
        ],
        "a/b/c.py",
        &["module-to-package", "move-module"],
        false,
    );
}

/// A dedent to a column no enclosing line has (which CPython refuses) was read one way
/// by the whole parse and another once a function was masked: hoist-imports kept an
/// import as bound at module level, then moved it on a second run, when the masked
/// parse no longer saw that binding. Such a file is parsed whole (found by the fuzzer,
/// seed 91004).
#[test]
fn regression_hoist_imports_dedent_to_no_enclosing_level() {
    regression(
        &[(
            "test_m.py",
            b"import os\n\n\ndef test_assigned_later():\n    from collections import OrderedDict\n\n    def f0(a0=1):\n        def f1(a1=1):\n            def f2(a2=1):\n                return 1\ndef f3(a3=1):\n                    def f4(a4=1):\n                        import os\n                        return 2\n    for i in range(3):\n        if i:\n            OrderedDict = dict\n    assert OrderedDict\n",
        )],
        "test_m.py",
        &["hoist-imports"],
        false,
    );
}

/// Verification refused the removal of a local import (it left a block that was
/// already empty next to it) and kept the import added at the top for it: half a
/// move, finished by a second run. The edits of one hoist stand or fall together
/// (found by the fuzzer, seed 91003).
#[test]
fn regression_hoist_imports_refused_removal_drops_its_insertion() {
    regression(
        &[(
            "tests/test_e2e.py",
            b"def test_two(one, two):\n\n\ndef test_early_return_guards_the_import():\n    if not hasattr(compat, \"missing_feature\"):\n        \n    import missing_feature_module\n\n    assert missing_feature_module\n\n\ndef test_plain_import_moves():\n    assert one + 1 == two\n",
        )],
        "tests/test_e2e.py",
        &["hoist-imports"],
        false,
    );
}

/// A function elided by the partial parse (no local import) before a main guard that
/// changes `sys.path` was not read as a definition: the partial parse put the hoisted
/// imports after the guard, the whole parse at the top. A placeholder that stands for a
/// definition counts as one (found by the fuzzer, seed 92001).
/// Seed 96002: a recipe that puts a tab before every identifier changed the indentation
/// of a body's first statement; the unchanged statement after it then dedented to no
/// enclosing level, and the file was written. Verification judges a changed indentation
/// against every statement of the block.
#[test]
fn regression_a_changed_indentation_is_judged_against_the_block() {
    regression_recipe(
        "id = \"fuzz-recipe\"\ndescription = \"\"\n\n[[rewrite]]\nquery = \"(identifier) @x\"\nreplace = \"x\"\nwith = \"\\t$x\"\nadd-imports = [\"from x import *\"]\n",
        &[
            ("a.py", b"def f():\n    seen = 1\n    import os\n"),
            (
                "test_scoping.py",
                b"def test_used_in_a_comprehension_before_the_import():\n    seen = [str(operator) for _ in range(0)]\n    import operator\n\n    assert seen == [] and operator.add(1, 1) == 2\n",
            ),
        ],
    );
}

#[test]
fn regression_hoist_imports_elided_definition_before_a_main_guard() {
    regression(
        &[(
            "test_m.py",
            b"import pytest\n\n\ndef test_parenthesised():\n    assert json.loads(\"1\") == 1\n\n\nif __name__ == \"__main__\":\n    import os\n    import sys\n\n    sys.path.insert(0, os.path.dirname(__file__))\n\n\ndef test_trailing_comment():\n    import fractions  # for Fraction\n    assert fractions.Fraction(1, 2)\n",
        )],
        "test_m.py",
        &["hoist-imports"],
        false,
    );
}
