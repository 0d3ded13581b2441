//! `fixer apply` and `fixer check`: select files, run the recipes, then either write
//! (apply, every file in one transaction: see [`crate::transaction`]), print the diff
//! (apply --dry-run, check --diff) or report what is pending. Both first recover a run
//! that was stopped half way.
//!
//! With no recipe named, each file runs the recipes of the configuration that governs it
//! (the nearest `fixer.toml` or `[tool.fixer]` above it), all in one walk.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{parse_sets, thread_pool, Exit, GlobalArgs};
use crate::config::{Config, Configs};
use crate::diag::{Finding, Severity, UserError};
use crate::engine::{self, Outcome, Progress, Workspace};
use crate::output::{self, Style};
use crate::recipe::{CompiledRecipe, Recipe, Registry};
use crate::report::{self, Format};
use crate::select::{Files, Globs};
use crate::transaction;

/// Options `apply` and `check` share.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Recipe ids, then the files or directories to process (default: .)
    #[arg(value_name = "RECIPE... [PATH...]")]
    targets: Vec<String>,
    /// Report format (for check, and apply --dry-run)
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Print a table of changes and findings per recipe
    #[arg(long)]
    statistics: bool,
    /// Only files changed since this git revision (and untracked ones)
    #[arg(long, value_name = "REV")]
    changed_since: Option<String>,
    /// Only shard K of N (1-based): files split by a hash of their path
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Read and write no cache: analyse every file
    #[arg(long)]
    no_cache: bool,
    /// Where the cache is kept (default: $FIXER_CACHE_DIR, else .fixer_cache at the
    /// project root)
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Write nothing: print a unified diff of every change and a summary
    #[arg(long)]
    dry_run: bool,
    /// Write even where files have uncommitted changes in git
    #[arg(long)]
    allow_dirty: bool,
    /// Ask about each change before writing it: hunk by hunk, or file set by file set
    /// for a recipe that changes several files at once
    #[arg(long, short = 'i', conflicts_with = "dry_run")]
    interactive: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Print the diff of every pending change too
    #[arg(long)]
    diff: bool,
}

pub fn run_apply(args: &ApplyArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    if args.interactive && !std::io::stdin().is_terminal() {
        return Err(UserError::new("--interactive needs a terminal to ask on, and stdin is not one")
            .help("run it in a terminal, or review with `fixer apply --dry-run` and then apply without --interactive")
            .into());
    }
    super::recover::recover_first(global)?;
    let (mut outcome, descriptions, project_wide) = execute(&args.run, global, !args.dry_run)?;
    let out = Style::stdout(global.color);
    let err = Style::stderr(global.color);
    if args.dry_run {
        // One rule for every recipe (as `ruff check --fix`): an error finding that
        // remains makes `apply` exit 1, with or without `--dry-run`.
        let code = if Summary::of(&outcome).errors > 0 {
            Exit::Findings
        } else {
            Exit::Success
        };
        if args.run.format != Format::Text {
            print_report(&outcome, args.run.format, &descriptions)?;
            return Ok(code);
        }
        let mut stdout = std::io::stdout().lock();
        for (path, change) in &outcome.changes {
            write!(stdout, "{}", output::change_diff(path, change, out))?;
        }
        drop(stdout);
        report_text(&outcome, global, err, false);
        finish(
            &outcome,
            &Summary::of(&outcome),
            &args.run,
            global,
            SummaryTo::Stderr(err),
            "would change",
            0,
        );
        return Ok(code);
    }
    if !args.allow_dirty {
        refuse_dirty(&outcome)?;
    }
    let mut failed = 0;
    if args.interactive && !outcome.changes.is_empty() {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut stdout = std::io::stdout();
        let reviewed = super::review::review(
            &outcome.changes,
            &project_wide,
            &mut super::review::Dialogue {
                input: &mut input,
                output: &mut stdout,
                style: out,
            },
        )?;
        for (path, why) in &reviewed.broken {
            failed += 1;
            eprintln!(
                "{}: {}: {why}",
                err.paint("1;31", "error"),
                output::display_path(path).display()
            );
        }
        eprintln!(
            "{}: {} of {} changes accepted",
            err.paint("1;36", "note"),
            reviewed.accepted,
            reviewed.total
        );
        outcome.changes = reviewed.changes;
    }
    // Every change is encoded first; one that cannot be is left out and reported (as a
    // rewrite that would break the syntax is), and the rest is written as one
    // transaction: all of it or, whatever stops it, nothing.
    let mut planned = Vec::new();
    let mut unencodable = 0;
    for (path, change) in &outcome.changes {
        match encode_change(change) {
            Ok(bytes) => planned.push(transaction::Planned {
                path: path.clone(),
                bytes,
            }),
            Err(msg) => {
                unencodable += 1;
                eprintln!(
                    "{}: {}: {msg}",
                    err.paint("1;31", "error"),
                    output::display_path(path).display()
                );
            }
        }
    }
    failed += unencodable;
    let mut summary = Summary::of(&outcome);
    summary.files -= unencodable;
    let planned_files = planned.len();
    if let Err(f) = transaction::apply(&super::recover::project_root(), planned) {
        eprintln!("{}: {f}", err.paint("1;31", "error"));
        if f.state == transaction::State::Untouched {
            failed += planned_files;
            summary.files = 0;
            summary.edits.clear();
        } else {
            failed = failed.max(1);
        }
    }
    if crate::fault::count_requested() {
        eprintln!("note: {} filesystem steps", crate::fault::steps_taken());
    }
    report_text(&outcome, global, err, false);
    finish(
        &outcome,
        &summary,
        &args.run,
        global,
        SummaryTo::Stderr(err),
        "changed",
        failed,
    );
    Ok(if failed > 0 {
        Exit::Error
    } else if summary.errors > 0 {
        Exit::Findings
    } else {
        Exit::Success
    })
}

pub fn run_check(args: &CheckArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    super::recover::recover_first(global)?;
    // Without a diff or a report to print, only which files are pending matters.
    let pending_only = !args.diff && args.run.format == Format::Text && !args.run.statistics;
    let out = Style::stdout(global.color);
    // For one per-file recipe, lines are printed as files are done (see `CheckPrinter`).
    let printer = pending_only.then(|| Arc::new(CheckPrinter::new(out, global.quiet)));
    let stream = printer.clone().map(|p| p as Arc<dyn engine::Stream>);
    let (outcome, descriptions, _) = execute_with(&args.run, global, false, pending_only, stream)?;
    let mut summary = Summary::of(&outcome);
    let spill = match printer {
        Some(printer) => {
            let (printed, spill) = printer.take()?;
            summary.add(printed);
            Some(spill)
        }
        None => None,
    };
    // A file that may refer to what a recipe changes but could not be read keeps the
    // check pending: a reference there may be stale.
    let unread = outcome.skipped.values().any(|s| s.may_refer);
    let code = if summary.files > 0 || summary.errors > 0 || unread {
        Exit::Findings
    } else {
        Exit::Success
    };
    if args.run.format != Format::Text {
        print_report(&outcome, args.run.format, &descriptions)?;
        return Ok(code);
    }
    let mut stdout = std::io::stdout().lock();
    for (path, change) in &outcome.changes {
        let what = match (&change.original, &change.current) {
            _ if change.pending => "would be changed",
            (None, _) => "would be created",
            (_, None) => "would be deleted",
            _ => "would be changed",
        };
        let recipes: Vec<&str> = change.recipes.keys().map(String::as_str).collect();
        writeln!(stdout, "{}", change_line(path, what, &recipes, out))?;
        if args.diff {
            write!(stdout, "{}", output::change_diff(path, change, out))?;
        }
    }
    if let Some(spill) = spill {
        spill.copy_to(&mut stdout)?;
    }
    drop(stdout);
    report_text(&outcome, global, out, true);
    // `check` prints all of its report on stdout, its summary too (as ruff does).
    finish(
        &outcome,
        &summary,
        &args.run,
        global,
        SummaryTo::Stdout(out),
        "would change",
        0,
    );
    Ok(code)
}

/// `path: would be changed by a, b`.
fn change_line(path: &Path, what: &str, recipes: &[&str], style: Style) -> String {
    let shown = output::display_path(path).display().to_string();
    format!("{}: {what} by {}", style.bold(&shown), recipes.join(", "))
}

/// `check`'s text output for a run whose results are final file by file (one per-file
/// recipe, see [`engine::Workspace::stream`]): each pending file's line is printed as
/// soon as it and the files before it are done, and the findings, which come after
/// all those lines, wait in a temporary file. Nothing per file stays in memory.
struct CheckPrinter {
    style: Style,
    quiet: bool,
    state: std::sync::Mutex<PrinterState>,
}

struct PrinterState {
    summary: Summary,
    spill: Spill,
    /// The first error writing to stdout or to the spill file.
    error: Option<std::io::Error>,
}

/// Findings' lines held until the pending files are all listed: in an unnamed
/// temporary file, or in memory where none can be made.
enum Spill {
    File(std::io::BufWriter<std::fs::File>),
    Memory(Vec<u8>),
}

impl Spill {
    fn new() -> Spill {
        match tempfile::tempfile() {
            Ok(f) => Spill::File(std::io::BufWriter::new(f)),
            Err(_) => Spill::Memory(Vec::new()),
        }
    }

    fn writer(&mut self) -> &mut dyn std::io::Write {
        match self {
            Spill::File(w) => w,
            Spill::Memory(v) => v,
        }
    }

    fn copy_to(self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        use std::io::Seek as _;
        match self {
            Spill::File(w) => {
                let mut f = w.into_inner().map_err(|e| e.into_error())?;
                f.seek(std::io::SeekFrom::Start(0))?;
                std::io::copy(&mut f, out)?;
            }
            Spill::Memory(v) => out.write_all(&v)?,
        }
        Ok(())
    }
}

impl CheckPrinter {
    fn new(style: Style, quiet: bool) -> CheckPrinter {
        CheckPrinter {
            style,
            quiet,
            state: std::sync::Mutex::new(PrinterState {
                summary: Summary::default(),
                spill: Spill::new(),
                error: None,
            }),
        }
    }

    /// What was counted, and the findings still to print (taken: the printer starts
    /// over).
    fn take(&self) -> std::io::Result<(Summary, Spill)> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = std::mem::replace(
            &mut *state,
            PrinterState {
                summary: Summary::default(),
                spill: Spill::Memory(Vec::new()),
                error: None,
            },
        );
        match state.error {
            Some(e) => Err(e),
            None => Ok((state.summary, state.spill)),
        }
    }
}

impl engine::Stream for CheckPrinter {
    fn file(&self, path: &Path, recipe: &str, pending: Option<usize>, findings: Vec<Finding>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        if let Some(edits) = pending {
            state.summary.files += 1;
            *state.summary.edits.entry(recipe.to_owned()).or_default() += edits.max(1);
            let line = change_line(path, "would be changed", &[recipe], self.style);
            if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
                state.error.get_or_insert(e);
            }
        }
        for f in &findings {
            state.summary.count(f);
            if self.quiet && f.severity == Severity::Note {
                continue;
            }
            let line = output::finding(f, self.style);
            if let Err(e) = writeln!(state.spill.writer(), "{line}") {
                state.error.get_or_insert(e);
            }
        }
    }
}

/// The counts of the summary line.
#[derive(Debug, Default)]
struct Summary {
    /// Files changed (or that would be).
    files: usize,
    edits: BTreeMap<String, usize>,
    errors: usize,
    warnings: usize,
    notes: usize,
}

impl Summary {
    fn of(outcome: &Outcome) -> Summary {
        let mut s = Summary {
            files: outcome.changes.len(),
            edits: report::edits_per_recipe(outcome),
            ..Summary::default()
        };
        outcome.findings.iter().for_each(|f| s.count(f));
        s
    }

    fn count(&mut self, f: &Finding) {
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Note => self.notes += 1,
        }
    }

    fn add(&mut self, other: Summary) {
        self.files += other.files;
        for (r, n) in other.edits {
            *self.edits.entry(r).or_default() += n;
        }
        self.errors += other.errors;
        self.warnings += other.warnings;
        self.notes += other.notes;
    }
}

fn print_report(
    outcome: &Outcome,
    format: Format,
    descriptions: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let text = match format {
        Format::Json => report::json(outcome),
        Format::Github => report::github(outcome),
        Format::Sarif => report::sarif(outcome, descriptions),
        Format::Text => String::new(),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// What a run came to: the outcome, each recipe's description (for reports), and the
/// recipes that change several files at once (project-wide actions).
type Ran = (
    Outcome,
    BTreeMap<String, String>,
    std::collections::BTreeSet<String>,
);

/// Loads the recipes, walks the paths, runs everything; returns the outcome and each
/// recipe's description (for reports). `writes`: the files will be written, so findings
/// are reported at their lines in the new text.
fn execute(args: &RunArgs, global: &GlobalArgs, writes: bool) -> anyhow::Result<Ran> {
    execute_with(args, global, writes, false, None)
}

/// [`execute`]; `pending_only`: the caller needs to know which files have pending
/// changes, not what the changes finally are (see [`Workspace::first_pass_only`]).
/// `stream` receives the results instead of the outcome where the run allows (see
/// [`Workspace::stream`]).
fn execute_with(
    args: &RunArgs,
    global: &GlobalArgs,
    writes: bool,
    pending_only: bool,
    stream: Option<Arc<dyn engine::Stream>>,
) -> anyhow::Result<Ran> {
    let mut configs = Configs::default();
    let cwd_config = configs.for_path(Path::new("."))?;
    let mut registry = Registry::new(&global.recipe_files)?;
    if let Some(c) = &cwd_config {
        registry.add_dirs(&c.recipe_paths, &c.file)?;
    }
    let (ids, paths) = split_targets(&args.targets, &registry)?;
    let pool = thread_pool(global.jobs)?;
    let walk = crate::select::walk(&paths, pool.current_num_threads())?;
    let sets = parse_sets(&global.set)?;
    let ids = if ids.is_empty() {
        registry.user.clone()
    } else {
        ids
    };
    let mut recipes = if ids.is_empty() {
        configured_recipes(&walk.files, &mut configs, &mut registry, &sets)?
    } else {
        let chosen: Vec<&Recipe> = ids
            .iter()
            .map(|id| registry.get(id))
            .collect::<Result<_, _>>()?;
        check_params(&sets, &chosen)?;
        let mut compiled = Vec::new();
        for r in chosen {
            let mut params = cwd_config
                .as_ref()
                .and_then(|c| c.params.get(r.id()).cloned())
                .unwrap_or_default();
            params.extend(
                sets.iter()
                    .filter(|(k, _)| r.def.params.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            compiled.push(r.compile(&r.params(&params)?)?);
        }
        // A recipe named on the command line still keeps to the include and exclude of
        // the configuration that governs each file (as `fixer check` in pre-commit,
        // which names files, must).
        if let Some(scope) = config_scope(&walk.files, &mut configs)? {
            let scope = Arc::new(scope);
            for c in &mut compiled {
                c.only = Some(scope.clone());
            }
        }
        compiled
    };
    for c in &mut recipes {
        if !global.include.is_empty() {
            c.include = global.include.clone();
        }
        c.exclude.extend(global.exclude.iter().cloned());
    }
    restrict(&mut recipes, &walk.files, args)?;
    let descriptions = registry
        .recipes
        .iter()
        .map(|r| (r.id().to_owned(), r.def.description.clone()))
        .collect();
    let cache = (!args.no_cache).then(|| {
        let dir = args
            .cache_dir
            .clone()
            .unwrap_or_else(crate::cache::Cache::default_dir);
        crate::cache::Cache::new(dir, &paths, &walk.context_files)
    });
    let mut ws = Workspace::new(paths, walk);
    ws.cache = cache;
    ws.positions_on_disk = !writes;
    // One recipe, per file only: no later recipe or project action reads its results.
    ws.first_pass_only =
        pending_only && recipes.len() == 1 && recipes.iter().all(|r| !r.has_project_actions());
    if ws.first_pass_only {
        ws.stream = stream;
    }
    let progress = Progress::new(!global.quiet);
    engine::run(&ws, &recipes, &pool, &progress)?;
    if let Some(cache) = &ws.cache {
        cache.save();
    }
    let project_wide = recipes
        .iter()
        .filter(|r| r.has_project_actions())
        .map(|r| r.id.clone())
        .collect();
    Ok((ws.finish(), descriptions, project_wide))
}

/// Splits `RECIPE... [PATH...]`: leading known ids are recipes, the rest paths.
fn split_targets(
    targets: &[String],
    registry: &Registry,
) -> Result<(Vec<String>, Vec<PathBuf>), UserError> {
    let mut ids: Vec<String> = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    for t in targets {
        let known = registry.recipes.iter().any(|r| r.id() == t);
        if paths.is_empty() && known {
            ids.push(t.clone());
        } else if Path::new(t).exists() {
            paths.push(PathBuf::from(t));
        } else if known {
            let mut fixed: Vec<&str> = targets
                .iter()
                .map(String::as_str)
                .filter(|x| registry.recipes.iter().any(|r| r.id() == *x))
                .collect();
            fixed.extend(
                targets
                    .iter()
                    .map(String::as_str)
                    .filter(|x| !registry.recipes.iter().any(|r| r.id() == *x)),
            );
            return Err(UserError::new(format!(
                "`{t}` is a recipe id, but it comes after a path: recipe ids come first"
            ))
            .help(format!(
                "name the recipes, then the paths: `{}`",
                fixed.join(" ")
            )));
        } else if !paths.is_empty() || looks_like_path(t) {
            return Err(UserError::new(format!("path `{t}` does not exist"))
                .help("give existing files or directories after the recipe ids"));
        } else {
            registry.get(t)?; // the unknown-recipe error, with the closest ids
        }
    }
    if paths.is_empty() {
        paths.push(PathBuf::from("."));
    }
    Ok((ids, paths))
}

fn looks_like_path(t: &str) -> bool {
    t.contains('/') || t.contains('\\') || t.ends_with(".py") || t.starts_with('.')
}

/// With no recipe named: each file gets the recipes of the config that governs it. One
/// compiled recipe per (id, parameters), limited to the files that asked for it.
fn configured_recipes(
    files: &Files,
    configs: &mut Configs,
    registry: &mut Registry,
    sets: &BTreeMap<String, String>,
) -> Result<Vec<CompiledRecipe>, UserError> {
    let mut by_config: Vec<(Arc<Config>, Vec<crate::select::File>)> = Vec::new();
    let mut index: HashMap<*const Config, usize> = HashMap::new();
    for f in files.iter() {
        let Some(config) = configs.for_path(&f.path())? else {
            continue;
        };
        let i = *index.entry(Arc::as_ptr(&config)).or_insert_with(|| {
            by_config.push((config.clone(), Vec::new()));
            by_config.len() - 1
        });
        by_config[i].1.push(f);
    }
    if by_config.iter().all(|(c, _)| c.recipes.is_empty()) {
        return Err(UserError::new("no recipe named, and no configuration names any")
            .help("name recipes (`fixer list` shows them), load one with --recipe FILE, or set `recipes = [...]` in fixer.toml or [tool.fixer] of pyproject.toml"));
    }
    // Shallow configs first, so a monorepo's root recipes run before the packages' own.
    by_config.sort_by_key(|(c, _)| (c.dir.components().count(), c.dir.clone()));
    for (config, _) in &by_config {
        registry.add_dirs(&config.recipe_paths, &config.file)?;
    }
    // Per recipe and parameters, which files (by index) it runs on.
    let mut instances: Vec<(String, BTreeMap<String, String>, Vec<bool>)> = Vec::new();
    for (config, files_of_config) in &by_config {
        let include = if config.include.is_empty() {
            None
        } else {
            Some(Globs::new(&config.include, &[])?)
        };
        let exclude = if config.exclude.is_empty() {
            None
        } else {
            Some(Globs::new(&config.exclude, &[])?)
        };
        for id in &config.recipes {
            let recipe = registry.get(id).map_err(|e| UserError {
                message: format!("{}: `recipes`: {}", config.file.display(), e.message),
                help: e.help,
            })?;
            let mut params = config.params.get(id).cloned().unwrap_or_default();
            for key in params.keys() {
                if !recipe.def.params.contains_key(key) {
                    return Err(UserError::new(format!(
                        "{}: `params.{id}`: unknown parameter `{key}` for recipe {id}",
                        config.file.display()
                    )));
                }
            }
            params.extend(
                sets.iter()
                    .filter(|(k, _)| recipe.def.params.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            let mut chosen = vec![false; files.len()];
            for f in files_of_config {
                let path = f.path();
                let rel = crate::git::absolute(&path)
                    .strip_prefix(&config.dir)
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|_| f.rel());
                chosen[f.index] = include.as_ref().is_none_or(|g| g.matches(&rel, false))
                    && exclude.as_ref().is_none_or(|g| !g.matches(&rel, false));
            }
            match instances
                .iter_mut()
                .find(|(i, p, _)| i == id && *p == params)
            {
                Some((_, _, set)) => set.iter_mut().zip(chosen).for_each(|(s, c)| *s |= c),
                None => instances.push((id.clone(), params, chosen)),
            }
        }
    }
    let mut out = Vec::new();
    for (id, params, files) in instances {
        let recipe = registry.get(&id)?;
        let mut compiled = recipe.compile(&recipe.params(&params)?)?;
        compiled.only = Some(Arc::new(files));
        out.push(compiled);
    }
    Ok(out)
}

/// Per walked file, whether the include and exclude globs of the configuration that
/// governs it (if any) let it in; `None` when they let every file in.
fn config_scope(files: &Files, configs: &mut Configs) -> Result<Option<Vec<bool>>, UserError> {
    let mut globs: HashMap<*const Config, (Option<Globs>, Option<Globs>)> = HashMap::new();
    let mut scope = Vec::with_capacity(files.len());
    for f in files.iter() {
        let path = f.path();
        let Some(config) = configs.for_path(&path)? else {
            scope.push(true);
            continue;
        };
        let (include, exclude) = match globs.entry(Arc::as_ptr(&config)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let make = |g: &[String]| -> Result<Option<Globs>, UserError> {
                    if g.is_empty() {
                        Ok(None)
                    } else {
                        Globs::new(g, &[]).map(Some)
                    }
                };
                e.insert((make(&config.include)?, make(&config.exclude)?))
            }
        };
        let rel = crate::git::absolute(&path)
            .strip_prefix(&config.dir)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| f.rel());
        scope.push(
            include.as_ref().is_none_or(|g| g.matches(&rel, false))
                && exclude.as_ref().is_none_or(|g| !g.matches(&rel, false)),
        );
    }
    Ok((!scope.iter().all(|k| *k)).then_some(scope))
}

/// Applies `--changed-since` and `--shard` to every recipe's file set.
fn restrict(
    recipes: &mut [CompiledRecipe],
    files: &Files,
    args: &RunArgs,
) -> Result<(), UserError> {
    let mut keep: Option<Vec<bool>> = None;
    if let Some(rev) = &args.changed_since {
        let changed = crate::git::changed_since(rev)?;
        keep = Some(
            files
                .iter()
                .map(|f| changed.contains(&crate::git::absolute(&f.path())))
                .collect(),
        );
    }
    if let Some(spec) = &args.shard {
        let (k, n) = parse_shard(spec)?;
        if let Some(r) = recipes.iter().find(|r| r.has_project_actions()) {
            return Err(UserError::new(format!(
                "recipe `{}` changes files across the project, so it cannot run on a shard of it",
                r.id
            ))
            .help("run it in one job without --shard"));
        }
        let in_shard = files.iter().map(|f| shard_of(&f.path(), n) == k - 1);
        keep = Some(match keep {
            Some(keep) => keep
                .into_iter()
                .zip(in_shard)
                .map(|(a, b)| a && b)
                .collect(),
            None => in_shard.collect(),
        });
    }
    if let Some(keep) = keep {
        for r in recipes.iter_mut() {
            let set: Vec<bool> = match &r.only {
                Some(only) => only.iter().zip(&keep).map(|(a, b)| *a && *b).collect(),
                None => keep.clone(),
            };
            r.only = Some(Arc::new(set));
        }
    }
    Ok(())
}

fn parse_shard(spec: &str) -> Result<(u64, u64), UserError> {
    let bad = || {
        UserError::new(format!("--shard `{spec}` is not K/N with 1 <= K <= N"))
            .help("e.g. --shard 1/4 ... --shard 4/4")
    };
    let (k, n) = spec.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// FNV-1a of the path with `/` separators: the same on every machine and run.
pub fn shard_of(path: &Path, n: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let text = path.to_string_lossy().replace('\\', "/");
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash % n
}

/// Every `--set` key must be a parameter of at least one chosen recipe.
fn check_params(sets: &BTreeMap<String, String>, recipes: &[&Recipe]) -> Result<(), UserError> {
    for key in sets.keys() {
        if recipes.iter().any(|r| r.def.params.contains_key(key)) {
            continue;
        }
        let ids: Vec<&str> = recipes.iter().map(|r| r.id()).collect();
        let known: Vec<&str> = recipes
            .iter()
            .flat_map(|r| r.def.params.keys().map(String::as_str))
            .collect();
        let err = UserError::new(format!(
            "unknown parameter `{key}` for recipe {}",
            ids.join(", ")
        ));
        return Err(if known.is_empty() {
            err.help("these recipes take no parameters")
        } else {
            err.help(format!("parameters: {}", known.join(", ")))
        });
    }
    Ok(())
}

/// `apply` does not write over uncommitted work, as `cargo fix` does not.
fn refuse_dirty(outcome: &Outcome) -> Result<(), UserError> {
    if outcome.changes.is_empty() {
        return Ok(());
    }
    let dirty = crate::git::dirty_files();
    let blocked: Vec<String> = outcome
        .changes
        .keys()
        .filter(|p| dirty.contains(&crate::git::absolute(p)))
        .map(|p| output::display_path(p).display().to_string())
        .collect();
    if blocked.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = blocked.iter().take(5).cloned().collect();
    let more = if blocked.len() > 5 {
        format!(" and {} more", blocked.len() - 5)
    } else {
        String::new()
    };
    Err(UserError::new(format!(
        "{} file(s) that fixer would write have uncommitted changes: {}{more}; nothing was written",
        blocked.len(),
        shown.join(", ")
    ))
    .help("commit or stash them first, look with --dry-run, or pass --allow-dirty"))
}

/// The bytes to write for a change (`None`: delete the file), in the file's encoding.
fn encode_change(change: &engine::Change) -> Result<Option<Vec<u8>>, String> {
    let Some(text) = &change.current else {
        return Ok(None);
    };
    let new_file;
    let src = match &change.original {
        Some(src) => src.as_ref(),
        None => {
            new_file = crate::source::Source::for_new_text(text);
            &new_file
        }
    };
    src.encode(text).map(Some).ok_or_else(|| {
        format!(
            "the new text cannot be encoded in {}, the file's encoding; left unchanged",
            src.encoding_name()
        )
    })
}

/// Findings and skipped files, as text.
fn report_text(outcome: &Outcome, global: &GlobalArgs, style: Style, to_stdout: bool) {
    let err = Style::stderr(global.color);
    for f in &outcome.findings {
        if global.quiet && f.severity == Severity::Note {
            continue;
        }
        let line = output::finding(f, style);
        if to_stdout {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
    if !global.quiet {
        for (path, why) in &outcome.skipped {
            let message = crate::report::skipped_message(why);
            let reason = message.strip_prefix("skipped: ").unwrap_or(&message);
            eprintln!(
                "{}: skipped {}: {reason}",
                err.paint("1;33", "warning"),
                output::display_path(path).display()
            );
        }
    }
}

/// `--statistics`, then the summary line: files changed, edits per recipe, findings.
/// Where the summary line goes: `check`'s with its report on stdout, `apply`'s on stderr.
#[derive(Clone, Copy)]
enum SummaryTo {
    Stdout(Style),
    Stderr(Style),
}

fn finish(
    outcome: &Outcome,
    summary: &Summary,
    args: &RunArgs,
    global: &GlobalArgs,
    to: SummaryTo,
    verb: &str,
    failed: usize,
) {
    let (style, to_stdout) = match to {
        SummaryTo::Stdout(s) => (s, true),
        SummaryTo::Stderr(s) => (s, false),
    };
    if args.statistics {
        eprint!("{}", report::statistics(outcome));
    }
    if global.quiet {
        return;
    }
    let n = summary.files;
    let files = if n == 1 { "file" } else { "files" };
    let mut line = format!("{n} {files} {verb}");
    if !summary.edits.is_empty() {
        let parts: Vec<String> = summary
            .edits
            .iter()
            .map(|(r, n)| format!("{r}: {n} edit{}", if *n == 1 { "" } else { "s" }))
            .collect();
        line.push_str(&format!(" ({})", parts.join(", ")));
    }
    for (k, label) in [
        (summary.errors, "error"),
        (summary.warnings, "warning"),
        (summary.notes, "note"),
    ] {
        if k > 0 {
            line.push_str(&format!(", {k} {label}{}", if k == 1 { "" } else { "s" }));
        }
    }
    if !outcome.skipped.is_empty() {
        line.push_str(&format!(", {} skipped", outcome.skipped.len()));
    }
    if failed > 0 {
        line.push_str(&format!(", {failed} could not be written"));
    }
    if to_stdout {
        println!("{}", style.bold(&line));
    } else {
        eprintln!("{}", style.bold(&line));
    }
}
