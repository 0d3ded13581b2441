//! Recipes: loading (built-in or user files), validation, and lookup by id.
//!
//! A recipe is validated completely when it loads (schema, queries, captures,
//! predicates, actions and their arguments), so a mistake is reported with the recipe
//! file and line before any Python file is read.

pub mod builtin;
pub mod compile;
pub mod pattern;
pub mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::{closest, UserError};
pub use compile::{CompiledRecipe, Params};
use schema::RecipeFile;

#[derive(Debug, Clone)]
pub struct Recipe {
    pub def: RecipeFile,
    /// Where it came from: `recipes/<id>.toml` (built-in) or the user's path.
    pub origin: PathBuf,
    pub builtin: bool,
    /// The TOML text, kept to turn spans into line numbers.
    pub text: String,
}

impl Recipe {
    pub fn id(&self) -> &str {
        self.def.id.get_ref()
    }

    /// Parses and validates a recipe file's text.
    pub fn parse(text: &str, origin: &Path, builtin: bool) -> Result<Recipe, UserError> {
        let recipe = Recipe::parse_schema(text, origin, builtin)?;
        // Compile once with the defaults (placeholders for required parameters) so every
        // query, template and action argument is checked now.
        compile::compile(&recipe, &recipe.params_for_validation())?;
        Ok(recipe)
    }

    /// Parses the TOML and checks the id, without compiling queries: for the built-in
    /// recipes, which fixer's own tests validate, so that a run compiles only the
    /// recipes it uses.
    pub fn parse_schema(text: &str, origin: &Path, builtin: bool) -> Result<Recipe, UserError> {
        let def: RecipeFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            UserError::new(format!(
                "{}:{line}: invalid recipe: {}",
                origin.display(),
                e.message()
            ))
        })?;
        let recipe = Recipe {
            def,
            origin: origin.to_path_buf(),
            builtin,
            text: text.to_owned(),
        };
        let id = recipe.id();
        let kebab = regex::Regex::new(r"^[a-z0-9]+(-[a-z0-9]+)*$").expect("valid regex");
        if !kebab.is_match(id) {
            return Err(UserError::new(format!(
                "{}: recipe id `{id}` is not kebab-case",
                recipe.location(recipe.def.id.span().start)
            ))
            .help("use lowercase letters, digits and dashes, e.g. `utcnow-to-aware`"));
        }
        Ok(recipe)
    }

    pub fn load(path: &Path) -> Result<Recipe, UserError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UserError::new(format!("cannot read recipe file {}: {e}", path.display()))
        })?;
        Recipe::parse(&text, path, false)
    }

    /// `file:line` for a byte offset into the recipe text.
    pub fn location(&self, offset: usize) -> String {
        format!("{}:{}", self.origin.display(), line_of(&self.text, offset))
    }

    /// Parameter values from defaults and `--set` pairs; errors name what is missing.
    pub fn params(&self, set: &BTreeMap<String, String>) -> Result<Params, UserError> {
        let mut values = BTreeMap::new();
        for (name, def) in &self.def.params {
            let value = match set.get(name) {
                Some(v) => v.clone(),
                None => match &def.default {
                    Some(v) => schema::value_to_param(v),
                    None => {
                        return Err(UserError::new(format!(
                            "recipe `{}` needs parameter `{name}`{}",
                            self.id(),
                            if def.help.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", def.help)
                            }
                        ))
                        .help(format!("give it with --set {name}=VALUE")))
                    }
                },
            };
            values.insert(name.clone(), value);
        }
        Ok(Params { values })
    }

    fn params_for_validation(&self) -> Params {
        let values = self
            .def
            .params
            .iter()
            .map(|(k, d)| {
                (
                    k.clone(),
                    d.default
                        .as_ref()
                        .map_or_else(|| "x".to_owned(), schema::value_to_param),
                )
            })
            .collect();
        Params { values }
    }

    pub fn compile(&self, params: &Params) -> Result<CompiledRecipe, UserError> {
        compile::compile(self, params)
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    memchr::memchr_iter(b'\n', &text.as_bytes()[..end]).count() + 1
}

/// The recipes known to a run: built-ins plus user files loaded with `--recipe`.
#[derive(Debug, Default)]
pub struct Registry {
    pub recipes: Vec<Recipe>,
    /// Ids of the recipes loaded with `--recipe`, in the order given.
    pub user: Vec<String>,
}

impl Registry {
    pub fn new(user_files: &[PathBuf]) -> Result<Registry, UserError> {
        let mut reg = Registry {
            recipes: builtin::all()?,
            user: Vec::new(),
        };
        for path in user_files {
            let recipe = Recipe::load(path)?;
            let id = recipe.id().to_owned();
            // A user recipe with a built-in's id replaces it, as a local override.
            reg.recipes.retain(|r| r.id() != id);
            reg.user.push(id);
            reg.recipes.push(recipe);
        }
        Ok(reg)
    }

    /// Loads every `*.toml` in `dirs` (a config's `recipe-paths`), usable by id. A recipe
    /// already known (the same file through two configs) is not loaded twice.
    pub fn add_dirs(&mut self, dirs: &[PathBuf], config: &Path) -> Result<(), UserError> {
        for dir in dirs {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                UserError::new(format!(
                    "{}: `recipe-paths`: cannot read {}: {e}",
                    config.display(),
                    dir.display()
                ))
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            files.sort();
            for file in files {
                if self.recipes.iter().any(|r| !r.builtin && r.origin == file) {
                    continue;
                }
                let recipe = Recipe::load(&file)?;
                let id = recipe.id().to_owned();
                self.recipes.retain(|r| r.id() != id);
                self.recipes.push(recipe);
            }
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<&Recipe, UserError> {
        if let Some(r) = self.recipes.iter().find(|r| r.id() == id) {
            return Ok(r);
        }
        let ids = self.recipes.iter().map(|r| r.id());
        let near = closest(id, ids);
        let err = UserError::new(format!("unknown recipe `{id}`"));
        Err(if near.is_empty() {
            err.help("`fixer list` shows every recipe; load your own with --recipe FILE")
        } else {
            err.help(format!(
                "did you mean {}?",
                near.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))
        })
    }
}
