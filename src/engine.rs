//! The engine: runs recipes, in the order given, over a set of files.
//!
//! Per recipe: first the per-file stage (query rewrites and per-file actions, in
//! parallel, each file to a fixed point; files taken and their results recorded in path
//! order), then its project actions. Every stage reads and writes the [`Workspace`], so
//! each recipe sees the previous one's output. Nothing touches the disk until the
//! output stage decides to write.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::actions::{Action, FileCx};
use crate::diag::{line_col, Finding, Severity, UserError};
use crate::edit;
use crate::recipe::CompiledRecipe;
use crate::select::{Files, Globs, Walk};
use crate::source::{newline_of, Source};
use crate::{imports, outline, parse, rewrite, verify};

/// How many times a recipe is re-run on a file whose text it changed (nested matches,
/// edits set aside as conflicts) before it is reported as not converging.
const MAX_PASSES: usize = 10;

/// A file the run changed, created or deleted.
#[derive(Debug, Clone)]
pub struct Change {
    /// The file as read from disk; `None` for a file the run creates.
    pub original: Option<Arc<Source>>,
    /// The text now; `None` for a file the run deletes.
    pub current: Option<Arc<str>>,
    /// Edits per recipe that changed it.
    pub recipes: BTreeMap<String, usize>,
    /// Known to change, texts not kept (see [`Workspace::first_pass_only`]): `original`
    /// and `current` are `None`, and the file reads as it is on disk.
    pub pending: bool,
}

/// The files of a run and every change made to them so far.
pub struct Workspace {
    pub roots: Vec<PathBuf>,
    pub files: Files,
    changes: Mutex<BTreeMap<PathBuf, Change>>,
    skipped: Mutex<BTreeMap<PathBuf, Skipped>>,
    findings: Mutex<Vec<Finding>>,
    pub project: crate::project::Project,
    /// Report findings at their lines in the files as they are on disk (for `check` and
    /// `--dry-run`, which leave them so) rather than in the rewritten text.
    pub positions_on_disk: bool,
    /// Stop a file's fix loop after the first pass that changes it (verified), and keep
    /// no text of it: for a `check` of one per-file recipe that prints neither diffs nor
    /// a report, where a pending file is pending whatever later passes would add. Only
    /// with `positions_on_disk`.
    pub first_pass_only: bool,
    /// Where a per-file stage's results go when set: file by file, in path order, as
    /// soon as every earlier file is done, instead of into the workspace (which then
    /// holds nothing per file however large the repository). Only with
    /// `first_pass_only`, whose results are final when a file is done.
    pub stream: Option<Arc<dyn Stream>>,
    /// Per-file results kept between runs (see [`crate::cache`]); `None`: not used.
    pub cache: Option<crate::cache::Cache>,
}

/// Receives the results of a per-file stage as they become final (see
/// [`Workspace::stream`]).
pub trait Stream: Sync + Send {
    /// `path` is done: `recipe` would change it with `pending` edits (`None`: it would
    /// not change it) and reports `findings` (sorted, without duplicates).
    fn file(&self, path: &Path, recipe: &str, pending: Option<usize>, findings: Vec<Finding>);
}

impl Workspace {
    pub fn new(roots: Vec<PathBuf>, walk: Walk) -> Workspace {
        let skipped = walk
            .skipped_links
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    Skipped::new("symbolic link, not followed".to_owned()),
                )
            })
            .collect();
        let project = crate::project::Project::new(&roots);
        Workspace {
            roots,
            files: walk.files,
            changes: Mutex::new(BTreeMap::new()),
            skipped: Mutex::new(skipped),
            findings: Mutex::new(Vec::new()),
            project,
            positions_on_disk: false,
            first_pass_only: false,
            stream: None,
            cache: None,
        }
    }

    /// Reads a file as the run sees it now: the current text of a changed file, else the
    /// file on disk. `Ok(None)` when it does not exist (or the run deleted it).
    pub fn read(&self, path: &Path) -> Result<Option<Arc<str>>, String> {
        if let Some(c) = self.lock_changes().get(path).filter(|c| !c.pending) {
            return Ok(c.current.clone());
        }
        match read_source(path) {
            Ok(Some(src)) => Ok(Some(Arc::from(src.text.as_str()))),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Does `path` exist as the run sees it (a file or a directory with files)?
    pub fn exists(&self, path: &Path) -> bool {
        let changes = self.lock_changes();
        if let Some(c) = changes.get(path) {
            return c.current.is_some() || c.pending;
        }
        if changes
            .keys()
            .any(|k| k.starts_with(path) && (changes[k].current.is_some() || changes[k].pending))
        {
            return true;
        }
        path.exists()
    }

    /// Replaces the text of `path` (an existing file, or a new one).
    pub fn write(
        &self,
        path: &Path,
        text: impl Into<Arc<str>>,
        recipe: &str,
        edits: usize,
    ) -> Result<(), String> {
        let text = text.into();
        let mut changes = self.lock_changes();
        if let Some(c) = changes.get_mut(path) {
            c.current = Some(text);
            *c.recipes.entry(recipe.to_owned()).or_default() += edits.max(1);
            return Ok(());
        }
        let original = read_source(path)?.map(Arc::new);
        let mut recipes = BTreeMap::new();
        recipes.insert(recipe.to_owned(), edits.max(1));
        changes.insert(
            path.to_path_buf(),
            Change {
                original,
                current: Some(text),
                recipes,
                pending: false,
            },
        );
        Ok(())
    }

    /// Records that `recipe` would change `path` (an existing file) with `edits` edits,
    /// keeping neither text: memory stays flat however many files are pending.
    pub fn mark_pending(&self, path: &Path, recipe: &str, edits: usize) {
        let mut changes = self.lock_changes();
        let c = changes.entry(path.to_path_buf()).or_insert_with(|| Change {
            original: None,
            current: None,
            recipes: BTreeMap::new(),
            pending: true,
        });
        *c.recipes.entry(recipe.to_owned()).or_default() += edits.max(1);
    }

    pub fn delete(&self, path: &Path, recipe: &str) -> Result<(), String> {
        let mut changes = self.lock_changes();
        if let Some(c) = changes.get_mut(path) {
            c.current = None;
            *c.recipes.entry(recipe.to_owned()).or_default() += 1;
            return Ok(());
        }
        let original = read_source(path)?.map(Arc::new);
        if original.is_none() {
            return Err(format!(
                "{}: cannot delete a file that does not exist",
                path.display()
            ));
        }
        changes.insert(
            path.to_path_buf(),
            Change {
                original,
                current: None,
                recipes: [(recipe.to_owned(), 1)].into(),
                pending: false,
            },
        );
        Ok(())
    }

    /// Every Python file as the run sees it: walked files not deleted, plus created ones.
    pub fn python_files(&self) -> Vec<PathBuf> {
        let changes = self.lock_changes();
        let mut out: BTreeSet<PathBuf> = self
            .files
            .iter()
            .map(|f| f.path())
            .filter(|p| {
                changes
                    .get(p)
                    .is_none_or(|c| c.current.is_some() || c.pending)
            })
            .collect();
        for (p, c) in changes.iter() {
            if c.current.is_some() && p.extension().is_some_and(|e| e == "py") {
                out.insert(p.clone());
            }
        }
        out.into_iter().collect()
    }

    /// Every path the run has changed so far, with whether it exists now (`false` for
    /// a deleted file). Lets project actions see created and deleted files, not only
    /// the walked ones.
    pub fn changed_paths(&self) -> Vec<(PathBuf, bool)> {
        self.lock_changes()
            .iter()
            .map(|(p, c)| (p.clone(), c.current.is_some()))
            .collect()
    }

    /// Has the run changed (or deleted) `path` so far, texts kept?
    pub fn changed(&self, path: &Path) -> bool {
        self.lock_changes().get(path).is_some_and(|c| !c.pending)
    }

    /// Has the run changed any file so far, texts kept?
    pub fn changed_any(&self) -> bool {
        self.lock_changes().values().any(|c| !c.pending)
    }

    pub fn is_skipped(&self, path: &Path) -> bool {
        self.skipped
            .lock()
            .map(|s| s.contains_key(path))
            .unwrap_or(false)
    }

    pub fn skip(&self, path: &Path, reason: String) {
        self.skip_with(path, Skipped::new(reason));
    }

    /// A file skipped for `skip`'s reasons, with where and why (see [`Skipped`]).
    pub fn skip_with(&self, path: &Path, skipped: Skipped) {
        if let Ok(mut s) = self.skipped.lock() {
            let entry = s
                .entry(path.to_path_buf())
                .or_insert_with(|| skipped.clone());
            // A file some recipe could not read although it may refer to what it
            // changes stays marked so, whichever recipe skipped it first.
            if skipped.may_refer && !entry.may_refer {
                *entry = skipped;
            }
        }
    }

    pub fn report(&self, findings: impl IntoIterator<Item = Finding>) {
        if let Ok(mut f) = self.findings.lock() {
            f.extend(findings);
        }
    }

    fn lock_changes(&self) -> std::sync::MutexGuard<'_, BTreeMap<PathBuf, Change>> {
        self.changes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run's result: changes, skipped files and findings, in path order.
    pub fn finish(self) -> Outcome {
        let mut findings = self.findings.into_inner().unwrap_or_default();
        sort_findings(&mut findings);
        let changes = self
            .changes
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, c)| match (&c.original, &c.current) {
                _ if c.pending => true,
                (Some(o), Some(n)) => o.text.as_str() != &**n,
                (None, None) => false,
                _ => true,
            })
            .collect();
        Outcome {
            changes,
            skipped: self.skipped.into_inner().unwrap_or_default(),
            findings,
        }
    }
}

/// A file a run did not read, or read but did not touch because it does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub reason: String,
    /// The line of the syntax error (0: none or not known).
    pub line: usize,
    /// The recipe that skipped it, if one did (not the walk).
    pub recipe: Option<String>,
    /// A project-wide recipe could not read it although its text may refer to what the
    /// recipe changes (the moved module, the settings object): a reference there may be
    /// left stale, so `check` exits 1 while it is there.
    pub may_refer: bool,
}

impl Skipped {
    pub fn new(reason: String) -> Skipped {
        Skipped {
            reason,
            line: 0,
            recipe: None,
            may_refer: false,
        }
    }

    /// `text` does not parse: skipped by `recipe`, at the first syntax error's line;
    /// `None` when it parses.
    pub fn unparsable(text: &str, recipe: &str, may_refer: bool) -> Option<Skipped> {
        let (reason, line) = parse::syntax_error(text)?;
        Some(Skipped {
            reason,
            line,
            recipe: Some(recipe.to_owned()),
            may_refer,
        })
    }
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

pub struct Outcome {
    pub changes: BTreeMap<PathBuf, Change>,
    pub skipped: BTreeMap<PathBuf, Skipped>,
    pub findings: Vec<Finding>,
}

/// Reads and decodes a file; `Ok(None)` if it does not exist.
pub fn read_source(path: &Path) -> Result<Option<Source>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Source::decode(bytes).map(Some).map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read: {e}")),
    }
}

/// A progress bar on stderr: files done / total and elapsed time, shown only when stderr
/// is a terminal, not `--quiet`, and the run has lasted about a second.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: std::time::Instant,
    shown: std::sync::atomic::AtomicBool,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        use std::io::IsTerminal;
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::hidden();
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix} [{elapsed}] {bar:30} {pos}/{len} files",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            started: std::time::Instant::now(),
            shown: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn hidden() -> Progress {
        Progress::new(false)
    }

    fn start(&self, recipe: &str, total: usize) {
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_prefix(recipe.to_owned());
            bar.set_length(total as u64);
            bar.set_position(0);
        }
    }

    fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if self.started.elapsed().as_millis() > 1000
                && !self.shown.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
        }
    }

    /// Runs `f`, which prints to the terminal, with the bar out of its way.
    fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs `recipes` in order over the workspace.
pub fn run(
    ws: &Workspace,
    recipes: &[CompiledRecipe],
    pool: &rayon::ThreadPool,
    progress: &Progress,
) -> Result<(), UserError> {
    for recipe in recipes {
        let globs = Globs::new(&recipe.include, &recipe.exclude)?;
        let has_file_stage = !recipe.rewrites.is_empty()
            || recipe.actions.iter().any(|a| matches!(a, Action::File(_)));
        if has_file_stage {
            let selected: Vec<u32> = ws
                .files
                .iter()
                .filter(|f| {
                    recipe.only.as_ref().is_none_or(|o| o[f.index])
                        && globs.matches(&f.rel(), f.explicit())
                })
                .map(|f| f.index as u32)
                .collect();
            progress.start(&recipe.id, selected.len());
            // No file changed yet: the project is as on disk, which a recipe that reads
            // other files needs to use the cache, and no file of this stage needs a look.
            let on_disk = !ws.changed_any();
            let reads = recipe.reads_project();
            let cache = ws.cache.as_ref().and_then(|c| {
                pool.install(|| c.stage(&recipe.id, recipe.fingerprint, reads, on_disk, &ws.files))
            });
            let cache = cache.as_ref().map(|stage| StageCache { stage, on_disk });
            pool.install(|| {
                in_order(
                    &selected,
                    |&i| {
                        let report = run_file(ws, recipe, i as usize, cache.as_ref());
                        progress.inc();
                        report
                    },
                    |report| commit(ws, recipe, report, progress),
                )
            });
            progress.finish();
        }
        for action in &recipe.actions {
            if let Action::Project(action) = action {
                // In the run's pool, so that `--jobs` bounds the action's own parallel work.
                let selection = crate::actions::Selection {
                    globs: &globs,
                    only: recipe.only.as_deref().map(Vec::as_slice),
                };
                pool.install(|| run_project_action(ws, recipe, action.as_ref(), &selection))?;
            }
        }
    }
    Ok(())
}

/// A Python file a project action changed: its path, its text before (`None`: created)
/// and after.
type Touched = (PathBuf, Option<Arc<str>>, Arc<str>);

fn run_project_action(
    ws: &Workspace,
    recipe: &CompiledRecipe,
    action: &dyn crate::actions::ProjectAction,
    selection: &crate::actions::Selection<'_>,
) -> Result<(), UserError> {
    let before = ws.lock_changes().clone();
    let findings = action.run_selected(ws, &recipe.id, selection)?;
    // Verify every Python file the action touched; one break refuses the whole action,
    // since its changes across files belong together.
    let touched: Vec<Touched> = ws
        .lock_changes()
        .iter()
        .filter(|(p, c)| {
            p.extension().is_some_and(|e| e == "py")
                && before.get(*p).map(|b| &b.current) != Some(&c.current)
        })
        .filter_map(|(p, c)| {
            let old = match before.get(p) {
                Some(b) => b.current.clone(),
                None => c.original.as_ref().map(|s| Arc::from(s.text.as_str())),
            };
            Some((p.clone(), old, c.current.clone()?))
        })
        .collect();
    // A file fixer may misread is not rewritten (see [`crate::source::unreadable`]):
    // the action's changes belong together, so none is made.
    let unreadable = touched.iter().find_map(|(p, old, new)| {
        let text = old.as_deref().unwrap_or(new);
        crate::source::unreadable(text).map(|(at, why)| (p, text, at, why))
    });
    if let Some((path, text, at, why)) = unreadable {
        let (line, column) = line_col(text, at);
        let finding = Finding {
            path: path.clone(),
            line,
            column,
            recipe: recipe.id.clone(),
            severity: Severity::Warning,
            message: format!("{why}; no file was changed by `{}`", recipe.id),
        };
        *ws.lock_changes() = before;
        ws.report([finding]);
        return Ok(());
    }
    // A project-wide change is one change: a line a suppression comment covers keeps it
    // all, as a suppressed edit takes its group with it in the per-file stage.
    if let Some(finding) = suppressed_change(ws, recipe, &before, &touched) {
        *ws.lock_changes() = before;
        ws.report([finding]);
        return Ok(());
    }
    let mut broken: Vec<(PathBuf, verify::SyntaxBreak)> = touched
        .par_iter()
        .filter_map(|(p, old, new)| {
            let verified = match old {
                Some(old) => verify::check_change(old, new),
                None => verify::check(new),
            };
            verified.err().map(|b| (p.clone(), b))
        })
        .collect();
    broken.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some((path, at)) = broken.first() {
        *ws.lock_changes() = before;
        ws.report([Finding {
            path: path.clone(),
            line: at.line,
            column: at.column,
            recipe: recipe.id.clone(),
            severity: Severity::Error,
            message: match &at.rule {
                None => format!(
                    "the rewrite would introduce a syntax error here; no file was changed by `{}`",
                    recipe.id
                ),
                Some(rule) => format!(
                    "rewrite refused: {rule} (CPython would reject the file); no file was changed by `{}`",
                    recipe.id
                ),
            },
        }]);
        return Ok(());
    }
    ws.report(suppressed_out(ws, &recipe.id, findings));
    Ok(())
}

/// The first line, in path order, that a project-wide action changed although a
/// suppression comment covers it for `recipe` (every line of a file an `ignore-file`
/// comment covers; a deleted file's covered line unless a created file has it as it
/// was), as a note that nothing was changed.
fn suppressed_change(
    ws: &Workspace,
    recipe: &CompiledRecipe,
    before: &BTreeMap<PathBuf, Change>,
    touched: &[Touched],
) -> Option<Finding> {
    let id = recipe.id.as_str();
    let deleted: Vec<(PathBuf, Arc<str>)> = ws
        .lock_changes()
        .iter()
        .filter(|(p, c)| p.extension().is_some_and(|e| e == "py") && c.current.is_none())
        .filter(|(p, _)| before.get(*p).is_none_or(|b| b.current.is_some()))
        .filter_map(|(p, c)| {
            let old = match before.get(p) {
                Some(b) => b.current.clone()?,
                None => Arc::from(c.original.as_ref()?.text.as_str()),
            };
            Some((p.clone(), old))
        })
        .collect();
    let changed = touched.len() + deleted.len();
    let others = || match changed.saturating_sub(1) {
        0 => String::new(),
        1 => " together with 1 other file".to_owned(),
        n => format!(" together with {n} other files"),
    };
    let kept = |path: &Path, line: usize, what: &str| {
        Finding {
        path: path.to_path_buf(),
        line,
        column: 1,
        recipe: id.to_owned(),
        severity: Severity::Note,
        message: format!(
            "kept: {what} is suppressed for `{id}`, which changes it{} as one change; no file was changed by `{id}`; remove the comment to make it",
            others()
        ),
    }
    };
    let mut hits: Vec<Finding> = Vec::new();
    // A deleted file's covered line counts as changed unless it lives on, as it was, in
    // a file the action creates (a moved module).
    let created: std::collections::HashSet<&str> = touched
        .iter()
        .filter(|(_, old, _)| old.is_none())
        .flat_map(|(_, _, new)| new.lines())
        .collect();
    for (path, old) in &deleted {
        if crate::suppress::file_ignored(old, id) {
            hits.push(kept(path, 1, "the file"));
            continue;
        }
        if memchr::memmem::find(old.as_bytes(), b"fixer:").is_none() {
            continue;
        }
        let Some(tree) = parse::parse(old) else {
            continue;
        };
        let lines = crate::suppress::Suppressions::read(old, &tree);
        let hit = old
            .lines()
            .enumerate()
            .find(|(i, text)| lines.covers(id, i + 1) && !created.contains(text));
        if let Some((i, _)) = hit {
            hits.push(kept(path, i + 1, &format!("line {}", i + 1)));
        }
    }
    for (path, old, new) in touched {
        let Some(old) = old else { continue };
        if memchr::memmem::find(old.as_bytes(), b"fixer:").is_none() {
            continue;
        }
        if crate::suppress::file_ignored(old, id) {
            hits.push(kept(path, 1, "the file"));
            continue;
        }
        let Some(tree) = parse::parse(old) else {
            continue;
        };
        let lines = crate::suppress::Suppressions::read(old, &tree);
        if lines.is_empty() {
            continue;
        }
        let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
        let hit = diff.ops().iter().find_map(|op| {
            let r = op.old_range();
            match op.tag() {
                similar::DiffTag::Equal => None,
                // Lines inserted between two covered lines fall inside what is covered.
                similar::DiffTag::Insert => {
                    (r.start > 0 && lines.covers(id, r.start) && lines.covers(id, r.start + 1))
                        .then_some(r.start + 1)
                }
                _ => (r.start + 1..=r.end).find(|&l| lines.covers(id, l)),
            }
        });
        if let Some(line) = hit {
            hits.push(kept(path, line, &format!("line {line}")));
        }
    }
    hits.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    hits.into_iter().next()
}

/// The findings of a project-wide action but those a suppression comment of their file
/// covers (`# fixer: ignore[...]` on the line or the statement it starts, `# fixer:
/// ignore-file[...]` in the file's head), as the per-file stage honours them.
fn suppressed_out(ws: &Workspace, recipe: &str, findings: Vec<Finding>) -> Vec<Finding> {
    let mut files: BTreeMap<PathBuf, Option<(bool, crate::suppress::Suppressions)>> =
        BTreeMap::new();
    findings
        .into_iter()
        .filter(|f| {
            let read = files.entry(f.path.clone()).or_insert_with(|| {
                let text = ws.read(&f.path).ok().flatten()?;
                // Most files have no suppression comment: not parsed.
                memchr::memmem::find(text.as_bytes(), b"fixer:")?;
                let whole = crate::suppress::file_ignored(&text, recipe);
                let tree = parse::parse(&text)?;
                Some((whole, crate::suppress::Suppressions::read(&text, &tree)))
            });
            match read {
                None => true,
                Some((whole, lines)) => !(*whole || (f.line > 0 && lines.covers(recipe, f.line))),
            }
        })
        .collect()
}

/// What the per-file stage of a recipe came to on one file, before it is recorded.
struct FileReport {
    path: PathBuf,
    outcome: FileOutcome,
}

enum FileOutcome {
    /// Nothing to do (no match, not there, already skipped).
    Nothing,
    /// Not rewritten: why, and the line of the syntax error (0: none).
    Skip(String, usize),
    Done {
        /// The new text and the number of edits, if it changed.
        change: Option<(String, usize)>,
        findings: Vec<Finding>,
    },
}

/// The cache of a per-file stage, and whether no file was changed when it began.
struct StageCache<'a> {
    stage: &'a crate::cache::Stage<'a>,
    on_disk: bool,
}

/// The per-file stage of one recipe on one file.
fn run_file(
    ws: &Workspace,
    recipe: &CompiledRecipe,
    index: usize,
    cache: Option<&StageCache<'_>>,
) -> FileReport {
    let path = ws.files.get(index).path();
    let outcome = file_outcome(ws, recipe, (index, &path), cache);
    FileReport { path, outcome }
}

/// [`run_file`] on the walked file `index`, at `path`.
fn file_outcome(
    ws: &Workspace,
    recipe: &CompiledRecipe,
    (index, path): (usize, &Path),
    cache: Option<&StageCache<'_>>,
) -> FileOutcome {
    if ws.is_skipped(path) {
        return FileOutcome::Nothing;
    }
    // The cache holds results for files as they are on disk: not for one an earlier
    // recipe of this run changed.
    let cache = cache.filter(|c| c.on_disk || !ws.changed(path));
    let miss = match cache.map(|c| c.stage.probe((index, path), ws.first_pass_only)) {
        Some(crate::cache::Probe::Hit(hit)) => return FileOutcome::from_cache(hit),
        Some(crate::cache::Probe::Miss(miss)) => Some(miss),
        None => None,
    };
    let text = match ws.read(path) {
        Ok(Some(t)) => t,
        Ok(None) => return FileOutcome::Nothing,
        Err(reason) => return FileOutcome::Skip(reason, 0),
    };
    let Some(miss) = miss else {
        return text_outcome(ws, recipe, path, text);
    };
    let hash = crate::cache::content_hash(&text);
    if let Some(hit) = miss.by_hash(hash, path, ws.first_pass_only) {
        return FileOutcome::from_cache(hit);
    }
    let outcome = text_outcome(ws, recipe, path, text);
    let stored = match &outcome {
        FileOutcome::Nothing => Some(crate::cache::Stored::Nothing),
        FileOutcome::Skip(why, line) => Some(crate::cache::Stored::Skip(why.clone(), *line)),
        FileOutcome::Done { change, findings } => crate::cache::Stored::done(
            path,
            &recipe.id,
            change.as_ref().map(|(_, n)| *n),
            findings,
            ws.first_pass_only,
        ),
    };
    miss.record(hash, stored);
    outcome
}

impl FileOutcome {
    /// A cached result as the engine records it. A pending file's text is not kept: only
    /// a run that keeps none ([`Workspace::first_pass_only`]) is given one.
    fn from_cache(hit: crate::cache::Hit) -> FileOutcome {
        match hit {
            crate::cache::Hit::Nothing => FileOutcome::Nothing,
            crate::cache::Hit::Skip(why, line) => FileOutcome::Skip(why, line),
            crate::cache::Hit::Done { pending, findings } => FileOutcome::Done {
                change: pending.map(|n| (String::new(), n)),
                findings,
            },
        }
    }
}

/// The per-file stage of a recipe on `text`, the file at `path` as the run sees it.
fn text_outcome(
    ws: &Workspace,
    recipe: &CompiledRecipe,
    path: &Path,
    text: Arc<str>,
) -> FileOutcome {
    if !recipe.may_match(&text) || crate::suppress::file_ignored(&text, &recipe.id) {
        return FileOutcome::Nothing;
    }
    match fix_file(ws, recipe, path, &text) {
        FileResult::Unparsable(reason, line) => FileOutcome::Skip(reason, line),
        // A file fixer may misread is not rewritten (see [`crate::source::unreadable`]).
        FileResult::Done {
            text: new,
            edits,
            findings,
        } => match (*new != *text).then(|| crate::source::unreadable(&text)) {
            Some(Some((_, why))) => FileOutcome::Skip(why.to_owned(), 0),
            changed => FileOutcome::Done {
                change: changed.is_some().then_some((new, edits.max(1))),
                findings,
            },
        },
    }
}

/// Records what [`run_file`] found: in the workspace, or handed to its stream.
fn commit(ws: &Workspace, recipe: &CompiledRecipe, report: FileReport, progress: &Progress) {
    let path = &report.path;
    match report.outcome {
        FileOutcome::Nothing => {}
        FileOutcome::Skip(reason, line) => ws.skip_with(
            path,
            Skipped {
                line,
                recipe: Some(recipe.id.clone()),
                ..Skipped::new(reason)
            },
        ),
        FileOutcome::Done {
            change,
            mut findings,
        } => {
            if let Some(stream) = &ws.stream {
                sort_findings(&mut findings);
                let pending = change.map(|(_, edits)| edits);
                let emit = || stream.file(path, &recipe.id, pending, findings);
                // A pending file is a line on stdout, which may be the bar's terminal.
                return match pending {
                    Some(_) => progress.suspend(emit),
                    None => emit(),
                };
            }
            ws.report(findings);
            if let Some((new, edits)) = change {
                if ws.first_pass_only {
                    ws.mark_pending(path, &recipe.id, edits);
                } else if let Err(e) = ws.write(path, new, &recipe.id, edits) {
                    ws.skip(path, e);
                }
            }
        }
    }
}

/// Runs `work` on every item, on all threads of the current pool, taking the items in
/// order, and hands each result to `emit` in the order of the items as soon as those
/// before it are done: what is held at any time is the results of the few files
/// finished ahead of a slower one, not of the whole run.
fn in_order<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
    emit: impl FnMut(R) + Send,
) {
    struct Order<R, E> {
        done: BTreeMap<usize, R>,
        next: usize,
        emit: E,
    }
    let taken = std::sync::atomic::AtomicUsize::new(0);
    let order = Mutex::new(Order {
        done: BTreeMap::new(),
        next: 0,
        emit,
    });
    rayon::scope(|s| {
        for _ in 0..rayon::current_num_threads().min(items.len()) {
            s.spawn(|_| loop {
                let i = taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = work(item);
                let mut o = order.lock().unwrap_or_else(|e| e.into_inner());
                o.done.insert(i, result);
                loop {
                    let n = o.next;
                    let Some(r) = o.done.remove(&n) else { break };
                    (o.emit)(r);
                    o.next += 1;
                }
            });
        }
    });
}

/// The order findings are reported in: by path, line, column and recipe.
fn sort_findings(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, &a.recipe).cmp(&(&b.path, b.line, b.column, &b.recipe))
    });
    findings.dedup();
}

pub enum FileResult {
    /// Why, and the line of the syntax error (0: not known).
    Unparsable(String, usize),
    Done {
        text: String,
        edits: usize,
        findings: Vec<Finding>,
    },
}

/// What one pass of a recipe's per-file stage found in a text.
struct Pass {
    edits: Vec<edit::Edit>,
    findings: Vec<Finding>,
    imports: Vec<imports::ImportSpec>,
}

/// One pass: query rewrites, then the per-file actions, then suppressions applied.
fn run_pass(
    ws: &Workspace,
    recipe: &CompiledRecipe,
    path: &Path,
    text: &str,
    tree: &tree_sitter::Tree,
    newline: &'static str,
) -> Pass {
    let matches = rewrite::run(&recipe.rewrites, &recipe.id, path, text, tree, newline);
    let mut edits = matches.edits;
    let mut findings = matches.findings;
    for action in &recipe.actions {
        if let Action::File(a) = action {
            let cx = FileCx {
                path,
                text,
                tree,
                newline,
                recipe: &recipe.id,
                workspace: ws,
            };
            let out = a.run(&cx);
            edits.extend(out.edits);
            findings.extend(out.findings);
        }
    }
    let suppressions = crate::suppress::Suppressions::read(text, tree);
    if !suppressions.is_empty() {
        // A suppressed edit takes the edits of its group with it (an import hoisted to
        // the top stands or falls with the removal of the local one).
        let covered = |e: &crate::edit::Edit| {
            suppressions.covers(&recipe.id, line_col(text, e.range.start).0)
        };
        let dropped: std::collections::HashSet<(String, u32)> = edits
            .iter()
            .filter(|e| covered(e))
            .filter_map(|e| e.group.map(|g| (e.origin.clone(), g)))
            .collect();
        edits.retain(|e| {
            !covered(e)
                && !e
                    .group
                    .is_some_and(|g| dropped.contains(&(e.origin.clone(), g)))
        });
        findings.retain(|f| !suppressions.covers(&recipe.id, f.line));
    }
    Pass {
        edits,
        findings,
        imports: matches.imports,
    }
}

/// The tree of `text` for a first pass: of a masked copy (see [`crate::outline`]) when
/// the recipe looks at only parts of the file and that copy parses cleanly, else of the
/// whole file. `Err` when the whole file does not parse.
fn first_tree(
    recipe: &CompiledRecipe,
    text: &str,
) -> Result<(tree_sitter::Tree, Option<Shadow>), (String, usize)> {
    if let Some((masked, trees)) = recipe
        .focus(text)
        .and_then(|focus| parse::parse_partial(text, &focus))
    {
        return Ok((trees.tree.clone(), Some(Shadow { masked, trees })));
    }
    let tree =
        parse::parse(text).ok_or_else(|| ("tree-sitter could not parse it".to_owned(), 0))?;
    if let Some(error) = parse::syntax_error_in(&tree, text) {
        return Err(error);
    }
    Ok((tree, None))
}

/// A masked copy of the text a pass works on, and its trees.
struct Shadow {
    masked: outline::Masked,
    trees: parse::MaskedTrees,
}

/// Applies a recipe's per-file stage to `text` until it changes nothing more.
pub fn fix_file(ws: &Workspace, recipe: &CompiledRecipe, path: &Path, text: &str) -> FileResult {
    let newline = newline_of(text);
    let mut current = text.to_owned();
    let mut total = 0;
    let mut conflicts_seen: Vec<Finding> = Vec::new();
    let mut first_findings: Option<Vec<Finding>> = None;
    // The tree of `current` when the previous pass already parsed it (incrementally).
    let mut known_tree: Option<tree_sitter::Tree> = None;
    // The masked copy of `current` that `known_tree` is the tree of, if any.
    let mut masked: Option<Shadow> = None;
    // Edits a compile rule refused (at their place in `current`), and the findings
    // that report them.
    let mut refused: Vec<edit::Edit> = Vec::new();
    let mut refusals: Vec<Finding> = Vec::new();
    for pass in 0..=MAX_PASSES {
        let mut tree = match known_tree.take() {
            Some(t) => t,
            None if pass == 0 => match first_tree(recipe, &current) {
                Ok((t, m)) => {
                    masked = m;
                    t
                }
                Err((reason, line)) => return FileResult::Unparsable(reason, line),
            },
            None => match parse::parse(&current) {
                Some(t) => t,
                None => return FileResult::Unparsable("tree-sitter could not parse it".into(), 0),
            },
        };
        let mut found = run_pass(ws, recipe, path, &current, &tree, newline);
        if masked
            .as_ref()
            .is_some_and(|m| m.masked.touches(&found.edits))
        {
            // An edit reaches into an elided part: this pass again, on the whole file.
            masked = None;
            tree = match parse::parse(&current) {
                Some(t) if pass > 0 || !t.root_node().has_error() => t,
                _ => {
                    return FileResult::Unparsable(
                        "does not parse (a syntax error outside the parts first parsed)".into(),
                        0,
                    )
                }
            };
            found = run_pass(ws, recipe, path, &current, &tree, newline);
        }
        let Pass {
            edits,
            mut findings,
            imports: wanted_imports,
        } = found;
        let mut edits = edits;
        edits.retain(|e| !refused.contains(e));
        let (edits, conflicts) = edit::resolve(edits);
        for c in conflicts
            .iter()
            .filter(|c| c.kept.origin != c.dropped.origin)
        {
            let (line, column) = line_col(&current, c.dropped.range.start);
            let (kl, kc) = line_col(&current, c.kept.range.start);
            conflicts_seen.push(Finding {
                path: path.to_path_buf(),
                line,
                column,
                recipe: recipe.id.clone(),
                severity: Severity::Warning,
                message: format!(
                    "conflict: the edit of `{}` overlaps the edit of `{}` at {kl}:{kc}; `{}` was applied first and `{}` retried on the new text",
                    c.dropped.origin, c.kept.origin, c.kept.origin, c.dropped.origin
                ),
            });
        }
        if pass == 0 && ws.positions_on_disk {
            // Nothing is written, so report what the file on disk holds: the first
            // pass's findings, at their lines in the text as it is.
            first_findings = Some(findings.clone());
        }
        if edits.is_empty() {
            let mut findings = first_findings.unwrap_or(findings);
            findings.extend(conflicts_seen);
            findings.extend(refusals);
            return FileResult::Done {
                text: current,
                edits: total,
                findings,
            };
        }
        if pass == MAX_PASSES {
            findings.push(Finding {
                path: path.to_path_buf(),
                line: 0,
                column: 0,
                recipe: recipe.id.clone(),
                severity: Severity::Error,
                message: format!(
                    "`{}` did not converge after {MAX_PASSES} passes; the file is left unchanged",
                    recipe.id
                ),
            });
            return FileResult::Done {
                text: text.to_owned(),
                edits: 0,
                findings,
            };
        }
        let mut edits = edits;
        let mut retry = false;
        let (next, next_tree) = loop {
            let origins: Vec<String> = edits.iter().map(|e| e.origin.clone()).collect();
            let mut next = edit::apply(&current, &edits);
            let mut next_tree = None;
            let mut changed = edit::new_ranges(&edits);
            if wanted_imports.is_empty() {
                // Reparse only what the edits touched: this tree both verifies the result and
                // serves the next pass, instead of two full parses. With a masked copy, the
                // same edits apply to it (none touches an elided part) and its tree serves.
                match masked.take() {
                    Some(Shadow { masked: m, trees }) => {
                        let next_masked = m.apply(&edits);
                        match parse::reparse_masked(&trees, &m, &edits, &next_masked)
                            .filter(|t| !t.tree.root_node().has_error())
                        {
                            Some(t) => {
                                next_tree = Some(t.tree.clone());
                                masked = Some(Shadow {
                                    masked: next_masked,
                                    trees: t,
                                });
                            }
                            None => next_tree = parse::parse(&next),
                        }
                    }
                    None if retry => next_tree = parse::parse(&next),
                    None => next_tree = parse::reparse_edited(&tree, &current, &edits, &next),
                }
            } else {
                masked = None;
                if let Some(tree) = parse::parse(&next) {
                    let (import_edits, _) = edit::resolve(imports::ensure(
                        &next,
                        &tree,
                        &wanted_imports,
                        newline,
                        &recipe.id,
                    ));
                    next = edit::apply(&next, &import_edits);
                    for r in &mut changed {
                        *r = edit::map_offset(r.start, &import_edits)
                            ..edit::map_offset(r.end, &import_edits);
                    }
                    changed.extend(edit::new_ranges(&import_edits));
                }
            }
            if next_tree.is_none() {
                next_tree = parse::parse(&next);
            }
            let verified = match &next_tree {
                Some(t) => verify::check_tree(&next, t).and_then(|()| {
                    let elided: Vec<std::ops::Range<usize>> = masked
                        .as_ref()
                        .map(|m| m.masked.regions.iter().map(|r| r.whole.clone()).collect())
                        .unwrap_or_default();
                    verify::check_rules(Some(&current), &next, t, &elided, &changed, &changed)
                }),
                None => verify::check(&next),
            };
            let at = match verified {
                Ok(()) => break (next, next_tree),
                Err(at) => at,
            };
            let Some(rule) = at.rule.clone() else {
                let mut origins = origins;
                origins.dedup();
                return FileResult::Done {
                    text: text.to_owned(),
                    edits: 0,
                    findings: vec![Finding {
                        path: path.to_path_buf(),
                        line: at.line,
                        column: at.column,
                        recipe: recipe.id.clone(),
                        severity: Severity::Error,
                        message: format!(
                            "the rewrite by {} would introduce a syntax error at {}:{} of the result; the file is left unchanged",
                            origins.join(", "),
                            at.line,
                            at.column
                        ),
                    }],
                };
            };
            // A compile rule: drop the edits of the statement it is in and verify again.
            let statement = next_tree
                .as_ref()
                .map(|t| statement_around(t, at.at))
                .unwrap_or(at.at..at.at);
            let offending: Vec<usize> = changed
                .iter()
                .take(edits.len())
                .enumerate()
                .filter(|(_, r)| r.start <= statement.end && statement.start <= r.end)
                .map(|(i, _)| i)
                .collect();
            let mut dropped: Vec<usize> = if offending.is_empty() {
                (0..edits.len()).collect()
            } else {
                offending
            };
            let place = edits.get(dropped[0]).map_or(0, |e| e.range.start);
            // The edits that stand or fall with a dropped one go too.
            let groups: Vec<u32> = dropped.iter().filter_map(|&i| edits[i].group).collect();
            if !groups.is_empty() {
                for (i, e) in edits.iter().enumerate() {
                    if e.group.is_some_and(|g| groups.contains(&g)) && !dropped.contains(&i) {
                        dropped.push(i);
                    }
                }
                dropped.sort_unstable();
            }
            let (line, column) = line_col(&current, place);
            refusals.push(Finding {
                path: path.to_path_buf(),
                line,
                column,
                recipe: recipe.id.clone(),
                severity: Severity::Error,
                message: format!("rewrite refused: {rule} (CPython would reject the file)"),
            });
            let mut kept = Vec::with_capacity(edits.len());
            for (i, e) in edits.into_iter().enumerate() {
                if dropped.contains(&i) {
                    refused.push(e);
                } else {
                    kept.push(e);
                }
            }
            edits = kept;
            masked = None;
            retry = true;
            if edits.is_empty() {
                break (current.clone(), None);
            }
        };
        if edits.is_empty() {
            // Every edit of the pass was refused: the text stays as it is.
            let mut findings = first_findings.unwrap_or(findings);
            findings.extend(conflicts_seen);
            findings.extend(refusals);
            return FileResult::Done {
                text: current,
                edits: total,
                findings,
            };
        }
        total += edits.iter().map(|e| e.weight).sum::<usize>();
        for r in &mut refused {
            *r = edit::Edit {
                range: edit::map_offset(r.range.start, &edits)
                    ..edit::map_offset(r.range.end, &edits),
                ..r.clone()
            };
        }
        current = next;
        known_tree = next_tree;
        if ws.first_pass_only && ws.positions_on_disk {
            let mut findings = first_findings.unwrap_or_default();
            findings.extend(conflicts_seen);
            findings.extend(refusals);
            return FileResult::Done {
                text: current,
                edits: total,
                findings,
            };
        }
    }
    FileResult::Done {
        text: current,
        edits: total,
        findings: conflicts_seen.into_iter().chain(refusals).collect(),
    }
}

/// The byte range of the statement (a statement of a block or of the module) around
/// offset `at` of the tree's text.
fn statement_around(tree: &tree_sitter::Tree, at: usize) -> std::ops::Range<usize> {
    let root = tree.root_node();
    let Some(mut node) = root.descendant_for_byte_range(at, at) else {
        return at..at;
    };
    while let Some(parent) = node.parent() {
        if matches!(parse::kind_of(parent), "block" | "module") {
            break;
        }
        node = parent;
    }
    node.byte_range()
}
