//! `fixer list`: every recipe, id and one-line description.

use super::{Exit, GlobalArgs};
use crate::output::Style;
use crate::recipe::Registry;

pub fn run(global: &GlobalArgs) -> anyhow::Result<Exit> {
    let registry = Registry::new(&global.recipe_files)?;
    let style = Style::stdout(global.color);
    let width = registry
        .recipes
        .iter()
        .map(|r| r.id().len())
        .max()
        .unwrap_or(0);
    for r in &registry.recipes {
        let id = format!("{:width$}", r.id());
        let origin = if r.builtin {
            String::new()
        } else {
            format!(" ({})", r.origin.display())
        };
        println!("{}  {}{origin}", style.bold(&id), r.def.description);
    }
    Ok(Exit::Success)
}
