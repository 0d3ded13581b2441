//! All or nothing across files: a `move-module` that changes many files is killed after
//! every filesystem step in turn (`FIXER_FAIL_AFTER`), and the next run (`fixer
//! recover`, `check` or `apply`) must leave the tree byte for byte as it was before or
//! as it is after, never a mix, with no journal or temp file left. A full disk and a
//! refused permission (`FIXER_FAIL_IO`, since the tests run as root) at every step
//! write nothing, name the file, and exit 2.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A file's bytes, or `None` for a directory, per path relative to the root.
type Tree = BTreeMap<PathBuf, Option<Vec<u8>>>;

fn snapshot(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            // The result cache is no part of what a run changes.
            if rel.as_os_str() == fixer::cache::DIR_NAME {
                continue;
            }
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                out.insert(rel, None);
                walk(root, &p, out);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Tree::new();
    walk(root, root, &mut out);
    out
}

/// fixer's own files in a tree: the journal and temp files.
fn leftovers(tree: &Tree) -> Vec<&PathBuf> {
    tree.keys()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".fixer-"))
        })
        .collect()
}

/// What differs between two trees, for a failure message.
fn difference(a: &Tree, b: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (p, v) in a {
        match b.get(p) {
            None => out.push(format!("only in the first: {}", p.display())),
            Some(w) if w != v => out.push(format!("differs: {}", p.display())),
            _ => {}
        }
    }
    for p in b.keys().filter(|p| !a.contains_key(*p)) {
        out.push(format!("only in the second: {}", p.display()));
    }
    out
}

fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_tree(
        &common::fixture("e2e/restructure/move_everywhere"),
        tmp.path(),
    );
    tmp
}

struct Run {
    code: i32,
    stderr: String,
}

fn fixer(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::cargo_bin("fixer").unwrap();
    cmd.current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FIXER_FAIL_AFTER")
        .env_remove("FIXER_FAIL_IO")
        .env_remove("FIXER_COUNT_STEPS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One recipe run to test: its arguments, and the trees before and after it.
struct Scenario {
    project: fn() -> tempfile::TempDir,
    args: Vec<&'static str>,
    before: Tree,
    after: Tree,
    /// Filesystem steps the run takes.
    steps: u64,
}

impl Scenario {
    fn new(args: &[&'static str]) -> Scenario {
        Scenario::on(project, args)
    }

    fn on(project: fn() -> tempfile::TempDir, args: &[&'static str]) -> Scenario {
        let tmp = project();
        let before = snapshot(tmp.path());
        let run = fixer(tmp.path(), args, &[("FIXER_COUNT_STEPS", "1")]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let steps: u64 = run
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("note: ")?.strip_suffix(" filesystem steps"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no step count in:\n{}", run.stderr));
        let after = snapshot(tmp.path());
        assert!(leftovers(&after).is_empty(), "{:?}", leftovers(&after));
        assert_ne!(before, after);
        Scenario {
            project,
            args: args.to_vec(),
            before,
            after,
            steps,
        }
    }

    /// A fresh copy of the project, killed after step `n` of the run.
    fn killed_at(&self, n: u64) -> (tempfile::TempDir, bool) {
        let tmp = (self.project)();
        let run = fixer(
            tmp.path(),
            &self.args,
            &[("FIXER_FAIL_AFTER", &n.to_string())],
        );
        assert_eq!(run.code, 137, "step {n}: the run must die:\n{}", run.stderr);
        let journal = tmp.path().join(".fixer-journal").exists();
        (tmp, journal)
    }

    /// Before or after, never a mix, and nothing of fixer's left: `true` for after.
    fn is_before_or_after(&self, dir: &Path, what: &str) -> bool {
        let now = snapshot(dir);
        assert!(
            leftovers(&now).is_empty(),
            "{what}: left {:?}",
            leftovers(&now)
        );
        if now == self.after {
            return true;
        }
        assert!(
            now == self.before,
            "{what}: the tree is neither as before nor as after:\nagainst before: {:?}\nagainst after: {:?}",
            difference(&now, &self.before),
            difference(&now, &self.after)
        );
        false
    }

    /// Kills the run after every step in turn; each time `fixer recover`, then a `check`
    /// and an `apply` (each on its own copy) recover first.
    fn kill_at_every_step(&self) {
        let (mut back, mut forward) = (0, 0);
        for n in 1..=self.steps {
            // fixer recover
            let (tmp, journal) = self.killed_at(n);
            let run = fixer(tmp.path(), &["recover"], &[]);
            assert_eq!(run.code, 0, "step {n}: {}", run.stderr);
            let after = self.is_before_or_after(tmp.path(), &format!("step {n}, recover"));
            if journal {
                let how = if after {
                    "rolled forward"
                } else {
                    "rolled back"
                };
                assert!(
                    run.stderr
                        .contains(&format!("note: recovered an interrupted run: {how}")),
                    "step {n}: {}",
                    run.stderr
                );
                if after {
                    forward += 1;
                } else {
                    back += 1;
                }
            } else {
                assert!(run.stderr.contains("nothing to recover"), "{}", run.stderr);
                assert!(after, "step {n}: no journal, so the run was done");
            }

            // A check recovers first, and then sees the recovered tree.
            let (tmp, journal) = self.killed_at(n);
            let mut check_args = self.args.clone();
            check_args[0] = "check";
            let run = fixer(tmp.path(), &check_args, &[]);
            assert_ne!(run.code, 2, "step {n}: {}", run.stderr);
            let check_after = self.is_before_or_after(tmp.path(), &format!("step {n}, check"));
            assert_eq!(check_after, after, "step {n}: the same rule every time");
            assert_eq!(
                run.stderr.contains("note: recovered an interrupted run"),
                journal,
                "step {n}: {}",
                run.stderr
            );
            if !check_after {
                assert_eq!(run.code, 1, "step {n}: the move is pending again");
            }

            // An apply recovers first, then moves (or finds it moved): after.
            let (tmp, journal) = self.killed_at(n);
            let run = fixer(tmp.path(), &self.args, &[]);
            assert_eq!(run.code, 0, "step {n}: {}", run.stderr);
            assert_eq!(
                run.stderr.contains("note: recovered an interrupted run"),
                journal,
                "step {n}: {}",
                run.stderr
            );
            assert!(
                self.is_before_or_after(tmp.path(), &format!("step {n}, apply")),
                "step {n}: apply ends with the move done"
            );
        }
        assert!(
            back > 0 && forward > 0,
            "{back} rolled back, {forward} forward"
        );
        // Past the last step the run is not interrupted.
        let tmp = (self.project)();
        let run = fixer(
            tmp.path(),
            &self.args,
            &[("FIXER_FAIL_AFTER", &(self.steps + 1).to_string())],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(self.is_before_or_after(tmp.path(), "complete run"));
    }

    /// The `n`-th step fails with `errno_name` (`enospc`, `eacces`): exit 2, an error
    /// naming a file; nothing written, unless only the cleaning up after a complete
    /// write failed (then `fixer recover` finishes it). `true` when nothing was written.
    fn io_error_at(&self, n: u64, errno_name: &str, message: &str) -> bool {
        let tmp = (self.project)();
        let spec = format!("{n}:{errno_name}");
        let run = fixer(tmp.path(), &self.args, &[("FIXER_FAIL_IO", &spec)]);
        assert_eq!(run.code, 2, "step {n}: {}", run.stderr);
        let line = run
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("step {n}: no error in:\n{}", run.stderr));
        assert!(line.contains(message), "step {n}: {line}");
        // The error names the file: one of the project's (before or after), its
        // journal, or the root itself.
        let named = line
            .strip_prefix("error: ")
            .and_then(|l| l.split(": ").next())
            .unwrap_or_default();
        let named = PathBuf::from(named);
        assert!(
            self.before.contains_key(&named)
                || self.after.contains_key(&named)
                || named == Path::new(".fixer-journal")
                || named == Path::new("."),
            "step {n}: `{}` names no file of the project: {line}",
            named.display()
        );
        if line.ends_with("nothing was written") {
            let now = snapshot(tmp.path());
            assert!(
                now == self.before,
                "step {n}: {line}\nbut: {:?}",
                difference(&now, &self.before)
            );
            assert!(
                run.stderr.contains(&format!(
                    "0 files changed, {} could not be written",
                    self.after_files()
                )),
                "step {n}: {}",
                run.stderr
            );
            true
        } else {
            assert!(line.contains("every change is written"), "step {n}: {line}");
            let run = fixer(tmp.path(), &["recover"], &[]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert!(self.is_before_or_after(tmp.path(), &format!("step {n}, after {errno_name}")));
            false
        }
    }

    /// How many files the run changes, creates or deletes.
    fn after_files(&self) -> usize {
        let changed = self
            .after
            .iter()
            .filter(|(p, v)| v.is_some() && self.before.get(*p) != Some(v))
            .count();
        let deleted = self
            .before
            .iter()
            .filter(|(p, v)| v.is_some() && !self.after.contains_key(*p))
            .count();
        changed + deleted
    }
}

const MOVE_MODULE: &[&str] = &[
    "apply",
    "move-module",
    "--set",
    "from=shop.utils.money",
    "--set",
    "to=shop.pricing.currency",
];

/// Moving a whole package empties its directory, which goes.
const MOVE_PACKAGE: &[&str] = &[
    "apply",
    "move-module",
    "--set",
    "from=shop.utils",
    "--set",
    "to=shop.helpers",
];

/// The module move changes at least 5 files, creates some and deletes one.
#[test]
fn the_move_is_big_enough() {
    let s = Scenario::new(MOVE_MODULE);
    let changed = s
        .after
        .iter()
        .filter(|(p, v)| v.is_some() && s.before.get(*p).is_some_and(|b| b != *v))
        .count();
    let created = s
        .after
        .keys()
        .filter(|p| !s.before.contains_key(*p))
        .count();
    let deleted = s
        .before
        .keys()
        .filter(|p| !s.after.contains_key(*p))
        .count();
    assert!(changed >= 5, "{changed} changed");
    assert!(created >= 2, "{created} created"); // the module, an __init__.py, a directory
    assert_eq!(deleted, 1);
    assert!(s.steps > 20, "{} steps", s.steps);
    let p = Scenario::new(MOVE_PACKAGE);
    assert!(!p.after.contains_key(Path::new("shop/utils")));
    assert!(p.after.contains_key(Path::new("shop/helpers/money.py")));
}

#[test]
fn a_module_move_killed_at_every_step_is_recovered() {
    Scenario::new(MOVE_MODULE).kill_at_every_step();
}

#[test]
fn a_package_move_killed_at_every_step_is_recovered() {
    Scenario::new(MOVE_PACKAGE).kill_at_every_step();
}

/// A recipe that changes one file takes the same path.
#[test]
fn a_one_file_change_killed_at_every_step_is_recovered() {
    fn one_file() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.py"), "import aioredis\n").unwrap();
        tmp
    }
    let s = Scenario::on(one_file, &["apply", "aioredis-to-redis"]);
    s.kill_at_every_step();
    assert!(s.io_error_at(2, "enospc", "a.py: cannot write: No space left on device"));
}

#[test]
fn a_full_disk_at_any_step_writes_nothing() {
    let s = Scenario::new(MOVE_MODULE);
    let untouched = (1..=s.steps)
        .filter(|n| s.io_error_at(*n, "enospc", "No space left on device"))
        .count();
    assert!(untouched as u64 > s.steps / 2, "{untouched} of {}", s.steps);
}

#[test]
fn a_refused_permission_at_any_step_writes_nothing() {
    let s = Scenario::new(MOVE_PACKAGE);
    let untouched = (1..=s.steps)
        .filter(|n| s.io_error_at(*n, "eacces", "Permission denied"))
        .count();
    assert!(untouched as u64 > s.steps / 2, "{untouched} of {}", s.steps);
}

/// The error of a failed write names the file and says that nothing was written.
#[test]
fn the_error_names_the_file() {
    let s = Scenario::new(MOVE_MODULE);
    // Step 1 writes the journal, step 2 makes shop/pricing, step 3 writes a temp file:
    // which one depends on the threads, since the temp files are written in parallel.
    let tmp = project();
    let run = fixer(tmp.path(), MOVE_MODULE, &[("FIXER_FAIL_IO", "3:enospc")]);
    assert_eq!(run.code, 2);
    let named = run.stderr.lines().any(|l| {
        l.strip_prefix("error: ")
            .and_then(|l| {
                l.strip_suffix(
                    ": cannot write: No space left on device (os error 28); nothing was written",
                )
            })
            .is_some_and(|path| s.after.keys().any(|p| p == path))
    });
    assert!(named, "{}", run.stderr);
    assert_eq!(snapshot(tmp.path()), s.before);
    let run = fixer(tmp.path(), MOVE_MODULE, &[("FIXER_FAIL_IO", "1:eacces")]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "error: .fixer-journal: cannot write the journal: Permission denied (os error 13); nothing was written"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(tmp.path()), s.before);
}

/// `fixer recover` with nothing to do, and on a named directory.
#[test]
fn recover_on_request() {
    let tmp = project();
    let run = fixer(tmp.path(), &["recover"], &[]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("note: nothing to recover"),
        "{}",
        run.stderr
    );

    let s = Scenario::new(MOVE_MODULE);
    let (killed, journal) = s.killed_at(s.steps / 2);
    assert!(journal);
    let elsewhere = tempfile::tempdir().unwrap();
    let path = killed.path().to_str().unwrap();
    let run = fixer(elsewhere.path(), &["recover", path], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("note: recovered an interrupted run"),
        "{}",
        run.stderr
    );
    s.is_before_or_after(killed.path(), "recover PATH");

    let run = fixer(elsewhere.path(), &["recover", "no/such/dir"], &[]);
    assert_eq!(run.code, 2);
    assert!(run
        .stderr
        .contains("error: `no/such/dir` is not a directory"));
}

/// A journal that cannot be read stops the run before it reads anything.
#[test]
fn a_broken_journal_is_an_error() {
    let tmp = project();
    std::fs::write(tmp.path().join(".fixer-journal"), "{ not json").unwrap();
    let before = snapshot(tmp.path());
    for args in [MOVE_MODULE, &["check", "unresolved-imports"], &["recover"]] {
        let run = fixer(tmp.path(), args, &[]);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(
                "error: cannot recover the interrupted run that .fixer-journal describes"
            ),
            "{}",
            run.stderr
        );
        assert_eq!(snapshot(tmp.path()), before);
    }
}

/// Stale temp files of an interrupted run in the directories its journal names go too.
#[test]
fn stale_temp_files_are_swept() {
    let s = Scenario::new(MOVE_MODULE);
    let (tmp, journal) = s.killed_at(5);
    assert!(journal);
    std::fs::write(tmp.path().join("shop/.fixer-stale.tmp"), "x").unwrap();
    std::fs::write(tmp.path().join("shop/.fixer-keep.txt"), "x").unwrap();
    let run = fixer(tmp.path(), &["recover"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!tmp.path().join("shop/.fixer-stale.tmp").exists());
    std::fs::remove_file(tmp.path().join("shop/.fixer-keep.txt")).unwrap();
    s.is_before_or_after(tmp.path(), "sweep");
}

/// A run whose project root another run holds (the lock a running transaction keeps
/// until its journal is gone) waits, and does not take that journal for an interrupted
/// run's; once the holder is gone, it recovers.
#[cfg(unix)]
#[test]
fn a_run_waits_while_another_holds_the_root() {
    use std::io::BufRead as _;
    use std::os::unix::io::AsRawFd as _;
    let s = Scenario::new(MOVE_MODULE);
    let (tmp, journal) = s.killed_at(s.steps / 2);
    assert!(journal);
    let dir = std::fs::File::open(tmp.path()).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX) }, 0);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fixer"))
        .arg("recover")
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let first = rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
    assert!(
        first.starts_with("note: waiting for another fixer run in . to finish"),
        "{first}"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(child.try_wait().unwrap().is_none(), "it waits");
    assert!(
        tmp.path().join(".fixer-journal").exists(),
        "and touches nothing"
    );
    drop(dir);
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("note: recovered an interrupted run")),
        "{rest:?}"
    );
    s.is_before_or_after(tmp.path(), "after waiting");
}
