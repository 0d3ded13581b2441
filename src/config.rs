//! Configuration: `fixer.toml`, or `[tool.fixer]` in `pyproject.toml`, in any directory.
//! The nearest one above a file governs it; `extend` inherits another config's settings,
//! which the extending file's own keys override.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::UserError;

/// The keys of a config, as written.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    extend: Option<String>,
    recipes: Option<Vec<String>>,
    recipe_paths: Option<Vec<String>>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    params: Option<BTreeMap<String, BTreeMap<String, toml::Value>>>,
}

/// A resolved config: `extend` chains followed, paths made relative to the current
/// directory's view (joined to the file's directory).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// The directory it governs.
    pub dir: PathBuf,
    pub recipes: Vec<String>,
    pub recipe_paths: Vec<PathBuf>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Parameters per recipe id.
    pub params: BTreeMap<String, BTreeMap<String, String>>,
}

/// Finds and caches the config governing each directory.
#[derive(Default)]
pub struct Configs {
    by_dir: HashMap<PathBuf, Option<Arc<Config>>>,
    by_file: HashMap<PathBuf, Arc<Config>>,
}

impl Configs {
    /// The config governing `path` (a file or directory), if any.
    pub fn for_path(&mut self, path: &Path) -> Result<Option<Arc<Config>>, UserError> {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let start = if abs.is_dir() {
            abs
        } else {
            abs.parent().map(Path::to_path_buf).unwrap_or(abs)
        };
        let mut visited = Vec::new();
        let mut dir = Some(start.as_path());
        let mut found = None;
        while let Some(d) = dir {
            if let Some(cached) = self.by_dir.get(d) {
                found = cached.clone();
                break;
            }
            visited.push(d.to_path_buf());
            if let Some(file) = config_file_in(d)? {
                found = Some(self.load(&file, &mut Vec::new())?);
                break;
            }
            dir = d.parent();
        }
        for d in visited {
            self.by_dir.insert(d, found.clone());
        }
        Ok(found)
    }

    fn load(&mut self, file: &Path, chain: &mut Vec<PathBuf>) -> Result<Arc<Config>, UserError> {
        let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        if let Some(c) = self.by_file.get(&file) {
            return Ok(c.clone());
        }
        if chain.contains(&file) {
            let cycle: Vec<String> = chain
                .iter()
                .chain([&file])
                .map(|p| p.display().to_string())
                .collect();
            return Err(UserError::new(format!(
                "{}: `extend` cycle: {}",
                file.display(),
                cycle.join(" -> ")
            ))
            .help("remove one of the `extend` keys"));
        }
        chain.push(file.clone());
        let raw = read_raw(&file)?.unwrap_or_default();
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut config = match &raw.extend {
            Some(parent) => {
                let parent_file = dir.join(parent);
                if !parent_file.is_file() {
                    return Err(UserError::new(format!(
                        "{}: `extend`: {} does not exist",
                        file.display(),
                        parent_file.display()
                    )));
                }
                (*self.load(&parent_file, chain)?).clone()
            }
            None => Config::default(),
        };
        config.file = file.clone();
        config.dir = dir.clone();
        if let Some(r) = raw.recipes {
            config.recipes = r;
        }
        if let Some(p) = raw.recipe_paths {
            config.recipe_paths = p.iter().map(|p| dir.join(p)).collect();
        }
        if let Some(i) = raw.include {
            config.include = i;
        }
        if let Some(e) = raw.exclude {
            config.exclude = e;
        }
        for (recipe, params) in raw.params.unwrap_or_default() {
            let entry = config.params.entry(recipe).or_default();
            for (k, v) in params {
                entry.insert(k, crate::recipe::schema::value_to_param(&v));
            }
        }
        chain.pop();
        let config = Arc::new(config);
        self.by_file.insert(file, config.clone());
        Ok(config)
    }
}

/// `fixer.toml`, else a `pyproject.toml` with a `[tool.fixer]` table, in `dir`.
fn config_file_in(dir: &Path) -> Result<Option<PathBuf>, UserError> {
    let fixer = dir.join("fixer.toml");
    if fixer.is_file() {
        return Ok(Some(fixer));
    }
    let pyproject = dir.join("pyproject.toml");
    if pyproject.is_file() {
        let text = std::fs::read_to_string(&pyproject)
            .map_err(|e| UserError::new(format!("cannot read {}: {e}", pyproject.display())))?;
        // A cheap look first: most pyproject.toml files have no [tool.fixer].
        if text.contains("tool.fixer") || text.contains("[tool]") {
            let doc: toml::Table =
                toml::from_str(&text).map_err(|e| bad_toml(&pyproject, &text, &e))?;
            if doc.get("tool").and_then(|t| t.get("fixer")).is_some() {
                return Ok(Some(pyproject));
            }
        }
    }
    Ok(None)
}

fn read_raw(file: &Path) -> Result<Option<RawConfig>, UserError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| UserError::new(format!("cannot read {}: {e}", file.display())))?;
    let is_pyproject = file.file_name().is_some_and(|n| n == "pyproject.toml");
    if is_pyproject {
        #[derive(serde::Deserialize)]
        struct Py {
            tool: Option<Tool>,
        }
        #[derive(serde::Deserialize)]
        struct Tool {
            fixer: Option<RawConfig>,
        }
        let py: Py = toml::from_str(&text).map_err(|e| bad_toml(file, &text, &e))?;
        Ok(py.tool.and_then(|t| t.fixer))
    } else {
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| bad_toml(file, &text, &e))
    }
}

fn bad_toml(file: &Path, text: &str, e: &toml::de::Error) -> UserError {
    let line = e
        .span()
        .map_or(0, |s| crate::recipe::line_of(text, s.start));
    UserError::new(format!(
        "{}:{line}: invalid fixer configuration: {}",
        file.display(),
        e.message().trim()
    ))
    .help("keys: extend, recipes, recipe-paths, include, exclude, [params.<recipe-id>]")
}
