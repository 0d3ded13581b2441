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
            let result = run_example(&recipe, &params, path, &ex.before, &ex.files, &pool).map(
                |(got, again)| {
                    if got != ex.after {
                        return Some(format!(
                            "expected `after` (-) but got (+):\n{}",
                            output::unified_diff(
                                Path::new(path),
                                Some(&ex.after),
                                Some(&got),
                                style
                            )
                        ));
                    }
                    (!again.is_empty()).then(|| {
                        format!("not idempotent: a second run changes {}", again.join(", "))
                    })
                },
            );
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

/// Applies `recipe` to one file holding `text` at `path` in a project of that file and
/// `files` (other paths and their texts, for recipes that work across files), as if
/// every glob included them; writes the result and runs the recipe again. Returns the
/// file's new text and the paths the second run would still change.
pub fn run_example(
    recipe: &Recipe,
    params: &BTreeMap<String, String>,
    path: &str,
    text: &str,
    files: &BTreeMap<String, String>,
    pool: &rayon::ThreadPool,
) -> anyhow::Result<(String, Vec<String>)> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join(path);
    for (p, t) in files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .chain([(path, text)])
    {
        let f = dir.path().join(p);
        if let Some(parent) = f.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&f, t)?;
    }
    let mut compiled = recipe.compile(&recipe.params(params)?)?;
    compiled.include = vec!["**/*.py".to_owned()];
    compiled.exclude.clear();
    let root = vec![dir.path().to_path_buf()];
    let run = || -> anyhow::Result<crate::engine::Outcome> {
        let walk = crate::select::walk(&root, 1)?;
        let ws = Workspace::new(root.clone(), walk);
        engine::run(
            &ws,
            std::slice::from_ref(&compiled),
            pool,
            &engine::Progress::hidden(),
        )?;
        Ok(ws.finish())
    };
    let outcome = run()?;
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
    let got = match outcome.changes.get(&file) {
        Some(c) => c.current.as_deref().unwrap_or("").to_owned(),
        None => text.to_owned(),
    };
    for (p, change) in &outcome.changes {
        match &change.current {
            Some(t) => {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(p, t.as_bytes())?;
            }
            None => std::fs::remove_file(p)?,
        }
    }
    let again = run()?;
    let shown = |p: &Path| {
        p.strip_prefix(dir.path())
            .unwrap_or(p)
            .display()
            .to_string()
    };
    Ok((got, again.changes.keys().map(|p| shown(p)).collect()))
}
