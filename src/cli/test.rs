//! `fixer test RECIPE_FILE...`: runs each recipe's `[[example]]`s. An example passes when
//! the recipe turns `before` into `after` exactly, and changes nothing in `after`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{thread_pool, Exit, GlobalArgs};
use crate::engine::{self, Workspace};
use crate::output::{self, Style};
use crate::recipe::schema::value_to_param;
use crate::recipe::Recipe;

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Recipe files whose examples to run
    #[arg(value_name = "RECIPE_FILE", required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: &TestArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let style = Style::stdout(global.color);
    let pool = thread_pool(global.jobs)?;
    let (mut passed, mut failed) = (0, 0);
    for file in &args.files {
        let recipe = Recipe::load(file)?;
        if recipe.def.example.is_empty() {
            println!(
                "{} {}: no examples",
                style.paint("1;33", "SKIP"),
                recipe.id()
            );
        }
        for (i, ex) in recipe.def.example.iter().enumerate() {
            let name = ex
                .name
                .clone()
                .unwrap_or_else(|| format!("example {}", i + 1));
            let params: BTreeMap<String, String> = ex
                .params
                .iter()
                .map(|(k, v)| (k.clone(), value_to_param(v)))
                .collect();
            let path = ex.path.as_deref().unwrap_or("example.py");
            let result = run_example(&recipe, &params, path, &ex.before, &pool).and_then(|got| {
                if got != ex.after {
                    return Ok(Some(format!(
                        "expected `after` (-) but got (+):\n{}",
                        output::unified_diff(Path::new(path), Some(&ex.after), Some(&got), style)
                    )));
                }
                let again = run_example(&recipe, &params, path, &ex.after, &pool)?;
                Ok((again != ex.after).then(|| {
                    format!(
                        "not idempotent: applying the recipe to `after` changes it:\n{}",
                        output::unified_diff(Path::new(path), Some(&ex.after), Some(&again), style)
                    )
                }))
            });
            match result {
                Ok(None) => {
                    passed += 1;
                    println!("{} {}: {name}", style.paint("1;32", "PASS"), recipe.id());
                }
                Ok(Some(why)) => {
                    failed += 1;
                    println!(
                        "{} {}: {name}: {why}",
                        style.paint("1;31", "FAIL"),
                        recipe.id()
                    );
                }
                Err(e) => {
                    failed += 1;
                    println!(
                        "{} {}: {name}: {e}",
                        style.paint("1;31", "FAIL"),
                        recipe.id()
                    );
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed > 0 {
        Exit::Findings
    } else {
        Exit::Success
    })
}

/// Applies `recipe` to one file holding `text` at `path` in an empty project, as if every
/// glob included it, and returns the file's new text.
pub fn run_example(
    recipe: &Recipe,
    params: &BTreeMap<String, String>,
    path: &str,
    text: &str,
    pool: &rayon::ThreadPool,
) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join(path);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&file, text)?;
    let mut compiled = recipe.compile(&recipe.params(params)?)?;
    compiled.include = vec!["**/*.py".to_owned()];
    compiled.exclude.clear();
    let root = vec![dir.path().to_path_buf()];
    let walk = crate::select::walk(&root, 1)?;
    let ws = Workspace::new(root, walk);
    engine::run(
        &ws,
        std::slice::from_ref(&compiled),
        pool,
        &engine::Progress::hidden(),
    )?;
    let outcome = ws.finish();
    if let Some(why) = outcome.skipped.get(&file) {
        anyhow::bail!("the example was skipped: {why}");
    }
    if let Some(f) = outcome
        .findings
        .iter()
        .find(|f| f.severity == crate::diag::Severity::Error && f.message.contains("syntax error"))
    {
        anyhow::bail!("{}", f.message);
    }
    Ok(match outcome.changes.get(&file) {
        Some(c) => c.current.as_deref().unwrap_or("").to_owned(),
        None => text.to_owned(),
    })
}
