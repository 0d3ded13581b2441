//! Transactions: the writes of one `fixer apply`, over any number of files, land as a
//! whole or not at all, whatever stops the run (a kill, a full disk, a refused
//! permission, a power cut).
//!
//! How, in steps (each one a [`crate::fault::step`]):
//! 1. prepare: the journal `.fixer-journal` is written in the project root (the
//!    directory fixer runs in) with phase `prepare`, naming every target, temp file,
//!    backup and directory the run will make; then the missing directories are made,
//!    every new text is written to its temp file in its target's directory (synced, with
//!    the target's mode), every file to be replaced or deleted gets a backup (a hard link
//!    to it, or a copy where links cannot be made), and the directories are synced;
//! 2. commit: the journal is rewritten with phase `commit` (written to a temp file,
//!    synced, renamed over the old one, its directory synced): the commit point;
//! 3. the temp files are renamed over their targets and the deleted files removed;
//! 4. the directories are synced, the backups removed, the directories the run emptied
//!    removed, and the journal removed.
//!
//! Recovery ([`recover`], which `apply`, `check` and `recover` run first): a journal in
//! phase `prepare` is rolled back (temp files, backups and the directories it made are
//! removed; no target was touched), one in phase `commit` is rolled forward (the temp
//! files still there are renamed over their targets, the deletions done, then step 4).
//! An I/O error in step 3 rolls back at once: the journal gets phase `rollback` and the
//! backups are renamed back over their targets; a run stopped during that is rolled back
//! by the next one. Stale `.fixer-*.tmp` files in the directories the journal names are
//! removed too.
//!
//! While its journal exists a run holds an advisory lock (`flock`) on the project
//! root, which the kernel drops when the process ends: a run that finds a journal waits
//! for the lock, so it never mistakes a live run's journal for an interrupted one's.
//!
//! Why: a recipe that moves a module changes many files; one stopped half way leaves
//! imports that point at files that are not there, which is worse than either state.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fault::step;
use crate::write;

/// The journal's file name, in the project root.
pub const JOURNAL: &str = ".fixer-journal";

/// One change to make: `bytes` for `path` (an existing file or a new one), or `None`
/// to delete it. `path` is as the run names it.
#[derive(Debug)]
pub struct Planned {
    pub path: PathBuf,
    pub bytes: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Phase {
    /// Temp files and backups are being made; no target is touched yet.
    Prepare,
    /// Past the commit point: the targets are being replaced.
    Commit,
    /// Step 3 failed: the backups are being put back.
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    /// A new file: `temp` is renamed to `target`.
    Create,
    /// An existing file: `temp` is renamed over `target`, whose old content `backup`
    /// keeps.
    Replace,
    /// An existing file removed; `backup` keeps it.
    Delete,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Op {
    kind: Kind,
    /// Absolute; the file a symbolic link names, for a write through one.
    #[serde(with = "json_path::one")]
    target: PathBuf,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "json_path::maybe"
    )]
    temp: Option<PathBuf>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "json_path::maybe"
    )]
    backup: Option<PathBuf>,
}

/// What `.fixer-journal` holds (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    version: u32,
    /// Unique to the run; part of every temp file's name.
    id: String,
    phase: Phase,
    ops: Vec<Op>,
    /// Directories the run makes, parents first.
    #[serde(with = "json_path::many")]
    created_dirs: Vec<PathBuf>,
    /// Directories the run's deletions leave empty, deepest first: removed at the end.
    #[serde(with = "json_path::many")]
    emptied_dirs: Vec<PathBuf>,
}

const VERSION: u32 = 1;

/// Paths in the journal: a string, or where the name is not UTF-8 (a file name on
/// Unix can be any bytes), the array of its bytes.
mod json_path {
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Encoded {
        Text(String),
        Bytes(Vec<u8>),
    }

    fn encode(p: &Path) -> Encoded {
        match p.to_str() {
            Some(s) => Encoded::Text(s.to_owned()),
            None => Encoded::Bytes(bytes(p)),
        }
    }

    #[cfg(unix)]
    fn bytes(p: &Path) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        p.as_os_str().as_bytes().to_vec()
    }

    #[cfg(not(unix))]
    fn bytes(p: &Path) -> Vec<u8> {
        p.to_string_lossy().into_owned().into_bytes()
    }

    fn decode(e: Encoded) -> PathBuf {
        match e {
            Encoded::Text(s) => PathBuf::from(s),
            #[cfg(unix)]
            Encoded::Bytes(b) => {
                use std::os::unix::ffi::OsStringExt;
                PathBuf::from(std::ffi::OsString::from_vec(b))
            }
            #[cfg(not(unix))]
            Encoded::Bytes(b) => PathBuf::from(String::from_utf8_lossy(&b).into_owned()),
        }
    }

    pub mod one {
        use super::*;

        pub fn serialize<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
            encode(p).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
            Encoded::deserialize(d).map(decode)
        }
    }

    pub mod maybe {
        use super::*;

        pub fn serialize<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
            p.as_deref().map(encode).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
            Option::<Encoded>::deserialize(d).map(|e| e.map(decode))
        }
    }

    pub mod many {
        use super::*;

        pub fn serialize<S: Serializer>(p: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
            p.iter().map(|p| encode(p)).collect::<Vec<_>>().serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
            Vec::<Encoded>::deserialize(d).map(|v| v.into_iter().map(decode).collect())
        }
    }
}

/// Where the run stands after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing was written: every file is as it was.
    Untouched,
    /// Every change is in place; cleaning up after them did not finish.
    Written,
    /// Stopped half way; the journal describes what `fixer recover` does.
    Interrupted,
}

/// A failed step: which file it was about, what it did, the error, and where that
/// leaves the run.
#[derive(Debug)]
pub struct Failure {
    pub path: PathBuf,
    pub what: &'static str,
    pub error: std::io::Error,
    pub state: State,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}; ", shown(&self.path), self.what, self.error)?;
        match self.state {
            State::Untouched => write!(f, "nothing was written"),
            State::Written => write!(
                f,
                "every change is written, but cleaning up did not finish: `fixer recover` finishes it"
            ),
            State::Interrupted => write!(
                f,
                "the run stopped half way: `fixer recover` finishes or undoes it (see {JOURNAL})"
            ),
        }
    }
}

/// `path` as messages show it: relative to the current directory (`.` for itself).
pub fn shown(path: &Path) -> String {
    let p = crate::output::display_path(path);
    if p.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        p.display().to_string()
    }
}

/// A step that failed, before it is known where that leaves the run.
struct StepError {
    path: PathBuf,
    what: &'static str,
    error: std::io::Error,
}

impl StepError {
    fn into_failure(self, state: State) -> Failure {
        Failure {
            path: self.path,
            what: self.what,
            error: self.error,
            state,
        }
    }
}

/// Runs one counted step; its error names `path` and says what failed.
fn act<T>(
    path: &Path,
    what: &'static str,
    op: impl FnOnce() -> std::io::Result<T>,
) -> Result<T, StepError> {
    step(op).map_err(|error| StepError {
        path: path.to_path_buf(),
        what,
        error,
    })
}

/// Makes every change in `planned` as one transaction with its journal in `root` (see
/// the module documentation). Nothing happens for an empty plan.
pub fn apply(root: &Path, planned: Vec<Planned>) -> Result<(), Failure> {
    if planned.is_empty() {
        return Ok(());
    }
    let root = std::fs::canonicalize(root).map_err(|e| Failure {
        path: root.to_path_buf(),
        what: "cannot find the project root",
        error: e,
        state: State::Untouched,
    })?;
    // Held until the journal is gone: a run that starts meanwhile waits instead of
    // taking this one's journal for an interrupted run's.
    let _lock = RootLock::take(&root);
    let Plan {
        mut journal,
        contents,
        names,
    } = plan(&root, planned)?;
    // Errors name the file as the run does, not the absolute target.
    let name = |e: StepError, state: State| {
        let mut f = e.into_failure(state);
        if let Some(n) = names.get(&f.path) {
            f.path = n.clone();
        }
        f
    };
    let journal_path = root.join(JOURNAL);
    if write::present(&journal_path) {
        return Err(Failure {
            path: journal_path,
            what: "cannot start",
            error: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a run stopped since this one began left its journal there; run again, and it recovers first",
            ),
            state: State::Untouched,
        });
    }
    if let Err(e) = act(&journal_path, "cannot write the journal", || {
        write_journal(&root, &journal)
    }) {
        let _ = write::remove_if_present(&journal_path);
        return Err(name(e, State::Untouched));
    }

    let undo_prepared = |e: StepError, journal: &mut Journal| {
        if journal.phase == Phase::Commit {
            // The journal on disk may say `commit` now; it must not, once temp files go.
            journal.phase = Phase::Prepare;
            if act(&journal_path, "cannot write the journal", || {
                write_journal(&root, journal)
            })
            .is_err()
            {
                // Nothing is touched yet: without a journal the tree is as before.
                let _ = write::remove_if_present(&journal_path);
            }
        }
        match roll_back(&root, journal, false) {
            Ok(()) => name(e, State::Untouched),
            Err(_) => name(e, State::Interrupted),
        }
    };
    if let Err(e) = prepare(&journal, &contents) {
        return Err(undo_prepared(e, &mut journal));
    }
    journal.phase = Phase::Commit;
    if let Err(e) = act(&journal_path, "cannot write the journal", || {
        write_journal(&root, &journal)
    }) {
        return Err(undo_prepared(e, &mut journal));
    }

    if let Err(e) = carry_out(&journal, false) {
        journal.phase = Phase::Rollback;
        if act(&journal_path, "cannot write the journal", || {
            write_journal(&root, &journal)
        })
        .is_err()
        {
            // The journal still says `commit`: the next run rolls forward.
            return Err(name(e, State::Interrupted));
        }
        return Err(match roll_back(&root, &journal, true) {
            Ok(()) => name(e, State::Untouched),
            Err(_) => name(e, State::Interrupted),
        });
    }
    finish_forward(&root, &journal, false).map_err(|e| name(e, State::Written))
}

/// A run's journal, the bytes of each temp file, and the name the run gives each target.
struct Plan {
    journal: Journal,
    contents: HashMap<PathBuf, Vec<u8>>,
    names: HashMap<PathBuf, PathBuf>,
}

fn plan(root: &Path, planned: Vec<Planned>) -> Result<Plan, Failure> {
    let id = format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            & 0xffff_ffff_ffff
    );
    let mut ops = Vec::new();
    let mut contents = HashMap::new();
    let mut names = HashMap::new();
    let mut created: BTreeSet<PathBuf> = BTreeSet::new();
    for (i, p) in planned.into_iter().enumerate() {
        let untouched = |what: &'static str, error: std::io::Error| Failure {
            path: p.path.clone(),
            what,
            error,
            state: State::Untouched,
        };
        let target = match p.bytes {
            Some(_) => write::write_target(&p.path),
            None => Ok(p.path.clone()),
        }
        .and_then(|t| resolve(&t))
        .map_err(|e| untouched("cannot write", e))?;
        let dir = write::parent_dir(&target);
        let exists = match std::fs::symlink_metadata(&target) {
            Ok(m) if m.is_dir() => {
                return Err(untouched(
                    "cannot write",
                    std::io::Error::other("a directory is in the way"),
                ))
            }
            Ok(_) => true,
            Err(_) => false,
        };
        let kind = match (&p.bytes, exists) {
            (Some(_), true) => Kind::Replace,
            (Some(_), false) => Kind::Create,
            (None, true) => Kind::Delete,
            (None, false) => {
                return Err(untouched(
                    "cannot delete",
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                ))
            }
        };
        let temp = p
            .bytes
            .is_some()
            .then(|| dir.join(format!(".fixer-{id}-{i}.tmp")));
        let backup = (kind != Kind::Create).then(|| dir.join(format!(".fixer-{id}-{i}-old.tmp")));
        for a in dir.ancestors() {
            if a.as_os_str().is_empty() || write::present(a) {
                break;
            }
            created.insert(a.to_path_buf());
        }
        if let (Some(t), Some(b)) = (&temp, p.bytes) {
            contents.insert(t.clone(), b);
        }
        names.insert(target.clone(), p.path);
        ops.push(Op {
            kind,
            target,
            temp,
            backup,
        });
    }
    let mut created_dirs: Vec<PathBuf> = created.into_iter().collect();
    created_dirs.sort_by_key(|d| d.components().count());
    let emptied_dirs = emptied_dirs(root, &ops);
    let journal = Journal {
        version: VERSION,
        id,
        phase: Phase::Prepare,
        ops,
        created_dirs,
        emptied_dirs,
    };
    Ok(Plan {
        journal,
        contents,
        names,
    })
}

/// `path` made absolute, with links and `..` resolved in the directories that exist
/// (the last component is kept as it is: a link deleted is the link, not its target).
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    let (Some(dir), Some(name)) = (abs.parent(), abs.file_name()) else {
        return Ok(abs);
    };
    let mut missing = Vec::new();
    let mut base = dir;
    loop {
        if let Ok(mut out) = std::fs::canonicalize(base) {
            out.extend(missing.iter().rev());
            out.push(name);
            return Ok(out);
        }
        match (base.file_name(), base.parent()) {
            (Some(n), Some(up)) => {
                missing.push(n);
                base = up;
            }
            _ => return Ok(abs),
        }
    }
}

/// The directories inside `root` that hold only files `ops` deletes (or directories
/// that do), and that no op writes into: the run empties them. Deepest first.
fn emptied_dirs(root: &Path, ops: &[Op]) -> Vec<PathBuf> {
    let deleted: HashSet<&Path> = ops
        .iter()
        .filter(|o| o.kind == Kind::Delete)
        .map(|o| o.target.as_path())
        .collect();
    let written: Vec<&Path> = ops
        .iter()
        .filter(|o| o.kind != Kind::Delete)
        .map(|o| o.target.as_path())
        .collect();
    let mut candidates: BTreeSet<PathBuf> = BTreeSet::new();
    for d in &deleted {
        for a in d.ancestors().skip(1) {
            if a == root || !a.starts_with(root) {
                break;
            }
            candidates.insert(a.to_path_buf());
        }
    }
    let mut order: Vec<PathBuf> = candidates.into_iter().collect();
    order.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    let mut empty: HashSet<PathBuf> = HashSet::new();
    for dir in &order {
        if written.iter().any(|w| w.starts_with(dir)) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let all_gone = entries.into_iter().all(|e| {
            e.is_ok_and(|e| {
                let p = e.path();
                deleted.contains(p.as_path()) || empty.contains(&p)
            })
        });
        if all_gone {
            empty.insert(dir.clone());
        }
    }
    order.into_iter().filter(|d| empty.contains(d)).collect()
}

/// Step 1 after the journal: directories, temp files, backups, then the syncs.
fn prepare(journal: &Journal, contents: &HashMap<PathBuf, Vec<u8>>) -> Result<(), StepError> {
    for dir in &journal.created_dirs {
        act(
            dir,
            "cannot create the directory",
            || match std::fs::create_dir(dir) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            },
        )?;
    }
    // The temp files are written and synced on every thread: the syncs of one run wait
    // for the disk together rather than one after another (bench/writes.py).
    use rayon::prelude::*;
    journal.ops.par_iter().try_for_each(|op| {
        let Some(temp) = &op.temp else {
            return Ok(());
        };
        let bytes = contents.get(temp).map_or(&[][..], Vec::as_slice);
        let permissions = match op.kind {
            Kind::Replace => std::fs::metadata(&op.target).ok().map(|m| m.permissions()),
            _ => None,
        };
        act(&op.target, "cannot write", || {
            write::write_new(temp, bytes, permissions.as_ref())
        })
    })?;
    for op in &journal.ops {
        let Some(backup) = &op.backup else { continue };
        act(&op.target, "cannot keep a backup", || {
            std::fs::hard_link(&op.target, backup).or_else(|_| {
                std::fs::copy(&op.target, backup)?;
                std::fs::File::open(backup)?.sync_all()
            })
        })?;
    }
    for dir in dirs_to_sync(journal) {
        act(&dir, "cannot sync the directory", || write::sync_dir(&dir))?;
    }
    Ok(())
}

/// Step 3: every temp file renamed over its target, every deleted file removed.
/// `resume`: after an interruption, where a temp file already renamed is gone.
fn carry_out(journal: &Journal, resume: bool) -> Result<(), StepError> {
    for op in &journal.ops {
        match (&op.kind, &op.temp) {
            (Kind::Delete, _) => act(&op.target, "cannot delete", || {
                write::remove_if_present(&op.target)
            })?,
            (_, Some(temp)) if resume && !write::present(temp) => {}
            (_, Some(temp)) => act(&op.target, "cannot write", || {
                std::fs::rename(temp, &op.target)
            })?,
            (_, None) => {}
        }
    }
    Ok(())
}

/// The directories whose entries the run changes, that exist now.
fn dirs_to_sync(journal: &Journal) -> Vec<PathBuf> {
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for op in &journal.ops {
        dirs.insert(write::parent_dir(&op.target));
    }
    for d in journal.created_dirs.iter().chain(&journal.emptied_dirs) {
        dirs.insert(write::parent_dir(d));
    }
    dirs.into_iter().filter(|d| d.is_dir()).collect()
}

/// Step 4 (after step 3, or after a roll forward): syncs, backups and emptied
/// directories removed, the journal removed. `sweep`: also remove stale temp files.
fn finish_forward(root: &Path, journal: &Journal, sweep: bool) -> Result<(), StepError> {
    for dir in dirs_to_sync(journal) {
        act(&dir, "cannot sync the directory", || write::sync_dir(&dir))?;
    }
    for op in &journal.ops {
        if let Some(backup) = &op.backup {
            act(&op.target, "cannot remove the backup", || {
                write::remove_if_present(backup)
            })?;
        }
    }
    if sweep {
        sweep_stale(journal);
    }
    for dir in &journal.emptied_dirs {
        act(dir, "cannot remove the emptied directory", || {
            remove_dir_if_empty(dir)
        })?;
    }
    end(root)
}

/// Rolls back: `committed` (phase `rollback`) puts every backup back over its target
/// and removes created files; otherwise (phase `prepare`) no target was touched and
/// only temp files and backups go. Then the directories the run made, and the journal.
fn roll_back(root: &Path, journal: &Journal, committed: bool) -> Result<(), StepError> {
    for op in journal.ops.iter().rev() {
        if committed {
            match (&op.kind, &op.backup, &op.temp) {
                (Kind::Create, _, Some(temp)) if !write::present(temp) => {
                    // Renamed into place already: the created file goes.
                    act(&op.target, "cannot remove", || {
                        write::remove_if_present(&op.target)
                    })?;
                }
                (_, Some(backup), _) if write::present(backup) => {
                    act(&op.target, "cannot restore", || {
                        std::fs::rename(backup, &op.target)
                    })?;
                }
                _ => {}
            }
        }
        for f in [&op.temp, &op.backup].into_iter().flatten() {
            act(&op.target, "cannot remove a temporary file", || {
                write::remove_if_present(f)
            })?;
        }
    }
    sweep_stale(journal);
    for dir in journal.created_dirs.iter().rev() {
        act(dir, "cannot remove the directory", || {
            remove_dir_if_empty(dir)
        })?;
    }
    for dir in dirs_to_sync(journal) {
        act(&dir, "cannot sync the directory", || write::sync_dir(&dir))?;
    }
    end(root)
}

/// The journal removed, and the root synced.
fn end(root: &Path) -> Result<(), StepError> {
    let path = root.join(JOURNAL);
    act(&path, "cannot remove the journal", || {
        write::remove_if_present(&path)
    })?;
    act(root, "cannot sync the directory", || write::sync_dir(root))
}

/// Removes `dir` if it is there and empty (something put in it since is kept).
fn remove_dir_if_empty(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir(dir) {
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::DirectoryNotEmpty =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Is `name` one of fixer's temp files (`.fixer-*.tmp`)?
fn is_temp_name(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with(".fixer-") && n.ends_with(".tmp"))
}

/// Removes every `.fixer-*.tmp` file in the directories the journal names (best
/// effort: these are not the journal's own).
fn sweep_stale(journal: &Journal) {
    let mut dirs: BTreeSet<PathBuf> = journal
        .ops
        .iter()
        .map(|o| write::parent_dir(&o.target))
        .collect();
    dirs.extend(journal.created_dirs.iter().cloned());
    for dir in dirs {
        sweep_dir(&dir);
    }
}

fn sweep_dir(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if is_temp_name(&e.file_name()) && e.file_type().is_ok_and(|t| !t.is_dir()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Writes the journal: a temp file, synced, renamed over `.fixer-journal`, the root
/// synced.
fn write_journal(root: &Path, journal: &Journal) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(journal).map_err(std::io::Error::other)?;
    let tmp = root.join(format!(".fixer-journal-{}.tmp", journal.id));
    write::remove_if_present(&tmp)?;
    write::write_new(&tmp, &text, None)?;
    if let Err(e) = std::fs::rename(&tmp, root.join(JOURNAL)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    write::sync_dir(root)
}

/// An advisory lock (`flock`) on the project root, held while a run's journal exists
/// and while one is recovered. The kernel drops it when the process ends, killed or
/// not, so a journal whose root is not locked belongs to a run that is gone. Where
/// locks are not supported, runs go on without one.
struct RootLock(#[allow(dead_code)] Option<std::fs::File>);

impl RootLock {
    /// Takes the lock, waiting (and saying so) while another run holds it.
    fn take(root: &Path) -> RootLock {
        let Ok(dir) = std::fs::File::open(root) else {
            return RootLock(None);
        };
        match flock(&dir, false) {
            Locked::Yes => RootLock(Some(dir)),
            Locked::Busy => {
                eprintln!(
                    "note: waiting for another fixer run in {} to finish",
                    shown(root)
                );
                match flock(&dir, true) {
                    Locked::Yes => RootLock(Some(dir)),
                    _ => RootLock(None),
                }
            }
            Locked::Unsupported => RootLock(None),
        }
    }

    /// The lock if no other run holds it now.
    fn try_take(root: &Path) -> Option<RootLock> {
        let Ok(dir) = std::fs::File::open(root) else {
            return Some(RootLock(None));
        };
        match flock(&dir, false) {
            Locked::Yes => Some(RootLock(Some(dir))),
            Locked::Busy => None,
            Locked::Unsupported => Some(RootLock(None)),
        }
    }
}

enum Locked {
    Yes,
    /// Another process holds it.
    Busy,
    /// The filesystem (or the platform) has no such locks.
    Unsupported,
}

/// `flock(LOCK_EX)` on an open directory; `wait`: until it is free.
fn flock(dir: &std::fs::File, wait: bool) -> Locked {
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        let how = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        loop {
            // SAFETY: `flock` on a descriptor the caller owns; no memory is shared.
            if unsafe { libc::flock(dir.as_raw_fd(), how) } == 0 {
                return Locked::Yes;
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EWOULDBLOCK) => return Locked::Busy,
                _ => return Locked::Unsupported,
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (dir, wait);
        Locked::Unsupported
    }
}

/// What [`recover`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Rolled forward (the run had passed its commit point), else rolled back.
    pub forward: bool,
    /// How many files the interrupted run was changing.
    pub files: usize,
}

/// Finishes or undoes the run that `root/.fixer-journal` describes, if there is one:
/// phase `commit` rolls forward, `prepare` and `rollback` roll back.
pub fn recover(root: &Path) -> Result<Option<Recovered>, Failure> {
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let path = root.join(JOURNAL);
    if !write::present(&path) {
        // A journal's own temp file, of a run killed while writing it (swept only
        // when no run is writing one now).
        if RootLock::try_take(&root).is_some() {
            sweep_journal_temps(&root);
        }
        return Ok(None);
    }
    let _lock = RootLock::take(&root);
    let unreadable = |error: std::io::Error| Failure {
        path: path.clone(),
        what: "cannot read the journal of an interrupted run",
        error,
        state: State::Interrupted,
    };
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // The run that held the lock finished meanwhile.
            sweep_journal_temps(&root);
            return Ok(None);
        }
        Err(e) => return Err(unreadable(e)),
    };
    let journal: Journal = serde_json::from_slice(&text)
        .map_err(|e| unreadable(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    if journal.version != VERSION {
        return Err(unreadable(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "version {} (this fixer reads version {VERSION})",
                journal.version
            ),
        )));
    }
    let forward = journal.phase == Phase::Commit;
    let done = if forward {
        carry_out(&journal, true).and_then(|()| finish_forward(&root, &journal, true))
    } else {
        roll_back(&root, &journal, journal.phase == Phase::Rollback)
    };
    done.map_err(|e| e.into_failure(State::Interrupted))?;
    sweep_journal_temps(&root);
    Ok(Some(Recovered {
        forward,
        files: journal.ops.len(),
    }))
}

/// Removes the journal's own stale temp files (`.fixer-journal-*.tmp`) from the root.
fn sweep_journal_temps(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if name
            .to_str()
            .is_some_and(|n| n.starts_with(".fixer-journal-") && n.ends_with(".tmp"))
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn planned(path: &Path, text: Option<&str>) -> Planned {
        Planned {
            path: path.to_path_buf(),
            bytes: text.map(|t| t.as_bytes().to_vec()),
        }
    }

    #[test]
    fn replaces_creates_and_deletes_keeping_modes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.py"), "old").unwrap();
        std::fs::set_permissions(root.join("a.py"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        std::fs::create_dir_all(root.join("gone")).unwrap();
        std::fs::write(root.join("gone/b.py"), "b").unwrap();
        apply(
            root,
            vec![
                planned(&root.join("a.py"), Some("new")),
                planned(&root.join("gone/b.py"), None),
                planned(&root.join("x/y/c.py"), Some("c")),
            ],
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(root.join("a.py")).unwrap(), "new");
        assert_eq!(
            std::fs::metadata(root.join("a.py"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o750
        );
        assert!(!root.join("gone").exists(), "the emptied directory goes");
        assert_eq!(std::fs::read_to_string(root.join("x/y/c.py")).unwrap(), "c");
        let mut names: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.py", "x"], "no journal or temp file left");
    }

    #[test]
    fn a_directory_that_was_already_empty_or_keeps_files_stays() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("p/empty")).unwrap();
        std::fs::write(root.join("p/a.py"), "a").unwrap();
        std::fs::create_dir_all(root.join("q")).unwrap();
        std::fs::write(root.join("q/a.py"), "a").unwrap();
        std::fs::write(root.join("q/keep.txt"), "k").unwrap();
        apply(
            root,
            vec![
                planned(&root.join("p/a.py"), None),
                planned(&root.join("q/a.py"), None),
            ],
        )
        .unwrap();
        assert!(root.join("p/empty").is_dir());
        assert!(root.join("q/keep.txt").is_file());
    }

    #[test]
    fn a_link_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("real.py"), "old").unwrap();
        std::os::unix::fs::symlink(root.join("real.py"), root.join("link.py")).unwrap();
        apply(root, vec![planned(&root.join("link.py"), Some("new"))]).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("real.py")).unwrap(),
            "new"
        );
        assert!(std::fs::symlink_metadata(root.join("link.py"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn paths_resolve_through_dot_dot_and_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("a")).unwrap();
        assert_eq!(
            resolve(&root.join("a/../b/c/d.py")).unwrap(),
            root.join("b/c/d.py")
        );
        assert_eq!(resolve(&root.join("a/x.py")).unwrap(), root.join("a/x.py"));
    }

    #[test]
    fn a_name_that_is_not_utf8_goes_through_the_journal() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let name = std::ffi::OsStr::from_bytes(b"\xff.py");
        std::fs::write(root.join(name), "old").unwrap();
        let op = Op {
            kind: Kind::Replace,
            target: root.join(name),
            temp: None,
            backup: Some(root.join("b")),
        };
        let text = serde_json::to_string(&op).unwrap();
        let back: Op = serde_json::from_str(&text).unwrap();
        assert_eq!((back.target, back.backup), (op.target, op.backup));
        apply(root, vec![planned(&root.join(name), Some("new"))]).unwrap();
        assert_eq!(std::fs::read_to_string(root.join(name)).unwrap(), "new");
    }

    #[test]
    fn nothing_to_recover_without_a_journal() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(recover(dir.path()).unwrap(), None);
    }
}
