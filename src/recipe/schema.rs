//! The recipe file format, as plain serde data. Unknown keys are rejected so that a typo
//! is an error naming the key, not a silently ignored setting.

use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeFile {
    /// kebab-case identifier, used on the command line.
    pub id: Spanned<String>,
    /// One line, shown by `fixer list`.
    pub description: String,
    /// gitignore-style globs of the files the recipe looks at; default: every `.py` file.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub params: BTreeMap<String, ParamDef>,
    #[serde(default)]
    pub rewrite: Vec<RewriteDef>,
    #[serde(default)]
    pub action: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    pub example: Vec<ExampleDef>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDef {
    /// A parameter without a default must be given with `--set`.
    pub default: Option<toml::Value>,
    #[serde(default)]
    pub help: String,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RewriteDef {
    /// A tree-sitter query over the Python grammar (or give `pattern`).
    pub query: Option<Spanned<String>>,
    /// Python code with metavariables (`$A`, `$$$ARGS`, `$_`), instead of `query`.
    pub pattern: Option<Spanned<String>>,
    /// With `pattern`: the code a match becomes, using the metavariables.
    pub fix: Option<Spanned<String>>,
    /// With `pattern`: `strict` (default) or `relaxed` (a string matches either quote
    /// style).
    pub strictness: Option<Spanned<String>>,
    /// With `pattern`: the match must (or must not) sit inside code matching this
    /// pattern, or contain such code.
    pub inside: Option<ConditionDef>,
    pub not_inside: Option<ConditionDef>,
    pub has: Option<ConditionDef>,
    pub not_has: Option<ConditionDef>,
    /// With `pattern`: the match itself must also match any (or all) of these.
    #[serde(default)]
    pub any: Vec<RuleDef>,
    #[serde(default)]
    pub all: Vec<RuleDef>,
    /// With `pattern`: constraints on what a metavariable matched, by its name.
    #[serde(default, rename = "where")]
    pub where_: BTreeMap<String, WhereDef>,
    /// The capture whose node is replaced.
    pub replace: Option<Spanned<String>>,
    /// The replacement template: `$name` is a capture's text, `$$` a literal `$`.
    pub with: Option<Spanned<String>>,
    /// Imports ensured at module level in every file this rewrite changes.
    #[serde(default)]
    pub add_imports: Vec<String>,
    /// A finding reported at each match (at the `replace` capture, else the whole match).
    pub message: Option<Spanned<String>>,
    /// Severity of `message`: note, warning or error (error makes `check` fail).
    pub severity: Option<crate::diag::Severity>,
}

/// A condition: a pattern string, or a table of what a node must be.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum ConditionDef {
    Pattern(String),
    Rule(RuleDef),
}

/// What a node must be: a pattern it matches, its kind, a tree-sitter query that
/// matches it (every one given must hold).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub pattern: Option<String>,
    pub kind: Option<String>,
    pub query: Option<String>,
}

/// What a metavariable's text must (`regex`) or must not (`not-regex`) match, and the
/// node kind it must be.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WhereDef {
    pub regex: Option<String>,
    pub not_regex: Option<String>,
    pub kind: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleDef {
    /// Shown in `fixer test` output; default: `example N`.
    pub name: Option<String>,
    pub before: String,
    pub after: String,
    /// The path the example file is given; default `example.py`.
    pub path: Option<String>,
    /// Parameter values for this example (as `--set` would give them).
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
    /// Other files of the example's project, by path (for recipes that work across
    /// files: the module a move takes, the package around it).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

impl<'de> serde::Deserialize<'de> for crate::diag::Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "note" => Ok(Self::Note),
            "warning" => Ok(Self::Warning),
            "error" => Ok(Self::Error),
            other => Err(serde::de::Error::custom(format!(
                "unknown severity `{other}`, expected note, warning or error"
            ))),
        }
    }
}

/// A TOML value as a parameter string: strings as they are, other scalars as written.
pub fn value_to_param(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
