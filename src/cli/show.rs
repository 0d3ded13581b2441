//! `fixer show RECIPE`: description, parameters with defaults and help, and examples.

use super::{Exit, GlobalArgs};
use crate::output::Style;
use crate::recipe::schema::value_to_param;
use crate::recipe::Registry;

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The recipe id
    recipe: String,
}

pub fn run(args: &ShowArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let registry = Registry::new(&global.recipe_files)?;
    let r = registry.get(&args.recipe)?;
    let style = Style::stdout(global.color);
    println!("{}: {}", style.bold(r.id()), r.def.description);
    println!("source: {}", r.origin.display());
    let include = if r.def.include.is_empty() {
        "**/*.py".to_owned()
    } else {
        r.def.include.join(", ")
    };
    println!("files: {include}");
    if !r.def.exclude.is_empty() {
        println!("excluded: {}", r.def.exclude.join(", "));
    }
    if !r.def.params.is_empty() {
        println!("\n{}", style.bold("parameters:"));
        for (name, p) in &r.def.params {
            let default = match &p.default {
                Some(v) => format!("default: {:?}", value_to_param(v)),
                None => "required".to_owned(),
            };
            println!("  {name} ({default})");
            if !p.help.is_empty() {
                println!("      {}", p.help);
            }
        }
    }
    let steps = r.def.rewrite.len() + r.def.action.len();
    if steps > 0 {
        let actions: Vec<String> = r
            .def
            .action
            .iter()
            .filter_map(|a| {
                a.get_ref()
                    .get("name")
                    .and_then(|n| n.as_str())
                    .map(str::to_owned)
            })
            .collect();
        println!(
            "\nsteps: {} rewrite(s){}",
            r.def.rewrite.len(),
            if actions.is_empty() {
                String::new()
            } else {
                format!(", action(s): {}", actions.join(", "))
            }
        );
    }
    for (i, ex) in r.def.example.iter().enumerate() {
        let name = ex
            .name
            .clone()
            .unwrap_or_else(|| format!("example {}", i + 1));
        println!("\n{} {name}", style.bold("example:"));
        let diff = crate::output::unified_diff(
            std::path::Path::new(ex.path.as_deref().unwrap_or("example.py")),
            Some(&ex.before),
            Some(&ex.after),
            style,
        );
        if diff.is_empty() {
            println!("  (unchanged)");
            for line in ex.before.lines() {
                println!("  {line}");
            }
        } else {
            print!("{diff}");
        }
    }
    Ok(Exit::Success)
}
