//! `fixer apply` and `fixer check`: select files, run the recipes, then either write
//! (apply), print the diff (apply --dry-run, check --diff) or report what is pending.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{parse_sets, thread_pool, Exit, GlobalArgs};
use crate::diag::{Severity, UserError};
use crate::engine::{self, Outcome, Workspace};
use crate::output::{self, Style};
use crate::recipe::{CompiledRecipe, Recipe, Registry};

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Recipe ids, then the files or directories to fix (default: .)
    #[arg(value_name = "RECIPE... [PATH...]")]
    targets: Vec<String>,
    /// Write nothing: print a unified diff of every change and a summary
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Recipe ids, then the files or directories to check (default: .)
    #[arg(value_name = "RECIPE... [PATH...]")]
    targets: Vec<String>,
    /// Print the diff of every pending change too
    #[arg(long)]
    diff: bool,
}

pub fn run_apply(args: &ApplyArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let (recipes, paths) = prepare(&args.targets, global)?;
    let outcome = execute(&recipes, &paths, global)?;
    let out = Style::stdout(global.color);
    let err = Style::stderr(global.color);
    let mut failed = 0;
    let mut stdout = std::io::stdout().lock();
    for (path, change) in &outcome.changes {
        let old = change.original.as_ref().map(|s| s.text.as_str());
        let new = change.current.as_deref();
        if args.dry_run {
            write!(stdout, "{}", output::unified_diff(path, old, new, out))?;
            continue;
        }
        if let Err(msg) = write_change(path, change) {
            failed += 1;
            eprintln!(
                "{}: {}: {msg}",
                err.paint("1;31", "error"),
                output::display_path(path).display()
            );
        }
    }
    drop(stdout);
    report(&outcome, global, err, false);
    summary(
        &outcome,
        global,
        err,
        if args.dry_run {
            "would change"
        } else {
            "changed"
        },
        failed,
    );
    Ok(if failed > 0 {
        Exit::Error
    } else {
        Exit::Success
    })
}

pub fn run_check(args: &CheckArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let (recipes, paths) = prepare(&args.targets, global)?;
    let outcome = execute(&recipes, &paths, global)?;
    let out = Style::stdout(global.color);
    let err = Style::stderr(global.color);
    let mut stdout = std::io::stdout().lock();
    for (path, change) in &outcome.changes {
        let what = match (&change.original, &change.current) {
            (None, _) => "would be created",
            (_, None) => "would be deleted",
            _ => "would be changed",
        };
        let recipes: Vec<String> = change.recipes.keys().cloned().collect();
        writeln!(
            stdout,
            "{}: {what} by {}",
            out.bold(&output::display_path(path).display().to_string()),
            recipes.join(", ")
        )?;
        if args.diff {
            let old = change.original.as_ref().map(|s| s.text.as_str());
            write!(
                stdout,
                "{}",
                output::unified_diff(path, old, change.current.as_deref(), out)
            )?;
        }
    }
    drop(stdout);
    report(&outcome, global, out, true);
    summary(&outcome, global, err, "would change", 0);
    let errors = outcome
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    Ok(if !outcome.changes.is_empty() || errors {
        Exit::Findings
    } else {
        Exit::Success
    })
}

/// Splits `RECIPE... [PATH...]`, loads and compiles the recipes with their parameters.
pub fn prepare(
    targets: &[String],
    global: &GlobalArgs,
) -> anyhow::Result<(Vec<CompiledRecipe>, Vec<PathBuf>)> {
    let registry = Registry::new(&global.recipe_files)?;
    let mut ids: Vec<String> = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    for t in targets {
        let known = registry.recipes.iter().any(|r| r.id() == t);
        if paths.is_empty() && known {
            ids.push(t.clone());
        } else if Path::new(t).exists() {
            paths.push(PathBuf::from(t));
        } else if !paths.is_empty() || looks_like_path(t) {
            return Err(UserError::new(format!("path `{t}` does not exist"))
                .help("give existing files or directories after the recipe ids")
                .into());
        } else {
            registry.get(t)?; // the unknown-recipe error, with the closest ids
        }
    }
    if ids.is_empty() {
        ids = registry.user.clone();
    }
    if ids.is_empty() {
        return Err(UserError::new("no recipe named")
            .help(
                "name one or more recipes (`fixer list` shows them) or load one with --recipe FILE",
            )
            .into());
    }
    if paths.is_empty() {
        paths.push(PathBuf::from("."));
    }
    let chosen: Vec<&Recipe> = ids
        .iter()
        .map(|id| registry.get(id))
        .collect::<Result<_, _>>()?;
    let sets = parse_sets(&global.set)?;
    check_params(&sets, &chosen)?;
    let mut compiled = Vec::new();
    for r in chosen {
        let own: BTreeMap<String, String> = sets
            .iter()
            .filter(|(k, _)| r.def.params.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut c = r.compile(&r.params(&own)?)?;
        if !global.include.is_empty() {
            c.include = global.include.clone();
        }
        c.exclude.extend(global.exclude.iter().cloned());
        compiled.push(c);
    }
    Ok((compiled, paths))
}

fn looks_like_path(t: &str) -> bool {
    t.contains('/') || t.contains('\\') || t.ends_with(".py") || t.starts_with('.')
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

pub fn execute(
    recipes: &[CompiledRecipe],
    paths: &[PathBuf],
    global: &GlobalArgs,
) -> anyhow::Result<Outcome> {
    let pool = thread_pool(global.jobs)?;
    let walk = crate::select::walk(paths, pool.current_num_threads())?;
    let ws = Workspace::new(paths.to_vec(), walk);
    engine::run(&ws, recipes, &pool)?;
    Ok(ws.finish())
}

fn write_change(path: &Path, change: &engine::Change) -> Result<(), String> {
    match (&change.original, &change.current) {
        (_, None) => crate::write::remove(path).map_err(|e| format!("cannot delete: {e}")),
        (Some(src), Some(text)) => {
            let bytes = src.encode(text).ok_or_else(|| {
                format!(
                    "the new text cannot be encoded in {}, the file's encoding; left unchanged",
                    src.encoding_name()
                )
            })?;
            crate::write::atomic_write(path, &bytes).map_err(|e| format!("cannot write: {e}"))
        }
        (None, Some(text)) => crate::write::atomic_write(path, text.as_bytes())
            .map_err(|e| format!("cannot write: {e}")),
    }
}

/// Findings and skipped files.
fn report(outcome: &Outcome, global: &GlobalArgs, style: Style, to_stdout: bool) {
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
            eprintln!(
                "{}: skipped {}: {why}",
                err.paint("1;33", "warning"),
                output::display_path(path).display()
            );
        }
    }
}

fn summary(outcome: &Outcome, global: &GlobalArgs, style: Style, verb: &str, failed: usize) {
    if global.quiet {
        return;
    }
    let mut per_recipe: BTreeMap<&str, usize> = BTreeMap::new();
    for c in outcome.changes.values() {
        for (r, n) in &c.recipes {
            *per_recipe.entry(r).or_default() += n;
        }
    }
    let n = outcome.changes.len();
    let files = if n == 1 { "file" } else { "files" };
    let mut line = format!("{n} {files} {verb}");
    if !per_recipe.is_empty() {
        let parts: Vec<String> = per_recipe
            .iter()
            .map(|(r, n)| format!("{r}: {n} edit{}", if *n == 1 { "" } else { "s" }))
            .collect();
        line.push_str(&format!(" ({})", parts.join(", ")));
    }
    let count = |s: Severity| outcome.findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings, notes) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note),
    );
    for (k, label) in [(errors, "error"), (warnings, "warning"), (notes, "note")] {
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
    eprintln!("{}", style.bold(&line));
}
