//! Built-in actions: structural changes a tree-sitter query cannot express. A recipe
//! invokes one with `[[action]] name = "..."` and the action's own arguments.
//!
//! An action is either per file ([`FileAction`]: sees one file and its tree, returns edits
//! and findings; runs in parallel) or per project ([`ProjectAction`]: sees the whole
//! [`Workspace`], may change, create and delete files). Each lives in its own file here,
//! opening with what it does, why, an example, and when it refuses.

pub mod consolidate_conftest;
pub mod hoist_imports;
pub mod lazy_settings;
pub mod module_to_package;
pub mod move_module;
pub mod pytest_asyncio_v1;
pub mod unresolved_imports;

use std::path::Path;

use tree_sitter::Tree;

use crate::diag::{Finding, Severity, UserError};
use crate::edit::Edit;
use crate::engine::Workspace;
use crate::recipe::Params;

/// Everything a per-file action may look at.
pub struct FileCx<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub tree: &'a Tree,
    pub newline: &'static str,
    /// The recipe running the action, for edit origins and findings.
    pub recipe: &'a str,
    pub workspace: &'a Workspace,
}

impl FileCx<'_> {
    pub fn finding(
        &self,
        offset: usize,
        severity: Severity,
        message: impl Into<String>,
    ) -> Finding {
        Finding::at(
            self.path,
            self.text,
            offset,
            self.recipe,
            severity,
            message.into(),
        )
    }
}

#[derive(Debug, Default)]
pub struct FileOutcome {
    pub edits: Vec<Edit>,
    pub findings: Vec<Finding>,
}

pub trait FileAction: Send + Sync {
    /// The cheap test before parsing: can this file need work? (A literal or regex scan.)
    fn may_match(&self, text: &str) -> bool;
    /// The places of `text` that [`FileAction::run`] looks at beyond module-level code:
    /// the rest need not be parsed (see [`crate::outline`]). `None`, the default: the
    /// whole file.
    fn focus<'a>(&self, _text: &'a str) -> Option<crate::outline::Focus<'a>> {
        None
    }
    fn run(&self, cx: &FileCx<'_>) -> FileOutcome;
    /// Does [`FileAction::run`] look at anything besides the file (other files through
    /// the workspace, the environment)? Then its cached results are keyed on the whole
    /// project (see [`crate::cache`]). The default: only the file.
    fn reads_project(&self) -> bool {
        false
    }
}

pub trait ProjectAction: Send + Sync {
    /// Changes the workspace (through its write/create/delete methods) and returns
    /// findings. An `Err` is a refusal: nothing the action wrote is kept.
    fn run(&self, ws: &Workspace, recipe: &str) -> Result<Vec<Finding>, UserError>;

    /// [`ProjectAction::run`] for an action that honours the recipe's file selection
    /// (`--include`/`--exclude`, the recipe's globs, a configured package's files): the
    /// default ignores it.
    fn run_selected(
        &self,
        ws: &Workspace,
        recipe: &str,
        _selection: &Selection<'_>,
    ) -> Result<Vec<Finding>, UserError> {
        self.run(ws, recipe)
    }
}

/// The walked files a recipe runs on: its globs (with `--include`/`--exclude`) and, when
/// set, its file set.
pub struct Selection<'a> {
    pub globs: &'a crate::select::Globs,
    pub only: Option<&'a [bool]>,
}

impl Selection<'_> {
    /// The selected walked files.
    pub fn files(&self, ws: &Workspace) -> std::collections::HashSet<std::path::PathBuf> {
        ws.files
            .iter()
            .filter(|f| {
                self.only.is_none_or(|o| o[f.index]) && self.globs.matches(&f.rel(), f.explicit())
            })
            .map(|f| f.path())
            .collect()
    }
}

pub enum Action {
    File(Box<dyn FileAction>),
    Project(Box<dyn ProjectAction>),
}

impl Action {
    pub fn may_match(&self, text: &str) -> bool {
        match self {
            Action::File(a) => a.may_match(text),
            Action::Project(_) => false,
        }
    }
}

/// An action's arguments from the recipe, parameters substituted. Each action takes
/// what it knows with the getters, then calls [`ActionArgs::finish`], which rejects the
/// keys left over.
pub struct ActionArgs {
    table: toml::Table,
}

impl ActionArgs {
    pub fn new(table: toml::Table, params: &Params) -> Result<ActionArgs, String> {
        fn sub(v: toml::Value, params: &Params) -> Result<toml::Value, String> {
            Ok(match v {
                toml::Value::String(s) => toml::Value::String(params.substitute(&s)?),
                toml::Value::Array(a) => toml::Value::Array(
                    a.into_iter()
                        .map(|v| sub(v, params))
                        .collect::<Result<_, _>>()?,
                ),
                other => other,
            })
        }
        let table = table
            .into_iter()
            .map(|(k, v)| Ok((k, sub(v, params)?)))
            .collect::<Result<_, String>>()?;
        Ok(ActionArgs { table })
    }

    pub fn empty() -> ActionArgs {
        ActionArgs {
            table: toml::Table::new(),
        }
    }

    pub fn string(&mut self, key: &str) -> Result<Option<String>, String> {
        match self.table.remove(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(other) => Ok(Some(other.to_string())),
        }
    }

    pub fn bool(&mut self, key: &str, default: bool) -> Result<bool, String> {
        match self.string(key)?.as_deref() {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(format!("`{key}` must be true or false, not `{other}`")),
        }
    }

    pub fn strings(&mut self, key: &str) -> Result<Vec<String>, String> {
        match self.table.remove(key) {
            None => Ok(Vec::new()),
            Some(toml::Value::String(s)) => Ok(vec![s]),
            Some(toml::Value::Array(a)) => a
                .into_iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s),
                    other => Err(format!(
                        "`{key}` must be a list of strings, found `{other}`"
                    )),
                })
                .collect(),
            Some(other) => Err(format!(
                "`{key}` must be a list of strings, found `{other}`"
            )),
        }
    }

    pub fn finish(self, action: &str) -> Result<(), String> {
        match self.table.keys().next() {
            None => Ok(()),
            Some(k) => Err(format!("unknown argument `{k}` for action `{action}`")),
        }
    }
}

/// A built-in action: its name, one line about it, and how to build it from arguments.
pub struct ActionSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub build: fn(ActionArgs) -> Result<Action, String>,
}

/// Every built-in action.
pub const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "consolidate-conftest",
        summary:
            "merge the conftest.py files of a test hierarchy into one, keeping what each test gets",
        build: consolidate_conftest::build,
    },
    ActionSpec {
        name: "lazy-settings",
        summary: "replace a module-level settings instance by a cached getter, and every use",
        build: lazy_settings::build,
    },
    ActionSpec {
        name: "module-to-package",
        summary: "turn a module into a package re-exporting its names",
        build: module_to_package::build,
    },
    ActionSpec {
        name: "move-module",
        summary: "move a module or package and rewrite every reference",
        build: move_module::build,
    },
    ActionSpec {
        name: "pytest-asyncio-v1",
        summary: "migrate a test suite to pytest-asyncio 1.x: event_loop fixtures, loop scopes, marks, configuration",
        build: pytest_asyncio_v1::build,
    },
    ActionSpec {
        name: "unresolved-imports",
        summary: "report imports of project modules that cannot resolve",
        build: unresolved_imports::build,
    },
    ActionSpec {
        name: hoist_imports::NAME,
        summary: "move function-local imports to module level, keeping those whose move could change a name's meaning",
        build: hoist_imports::build,
    },
];

pub fn names() -> Vec<&'static str> {
    ACTIONS.iter().map(|a| a.name).collect()
}

pub fn build(name: &str, args: ActionArgs) -> Result<Action, UserError> {
    let spec = ACTIONS.iter().find(|a| a.name == name).ok_or_else(|| {
        let near = crate::diag::closest(name, names());
        let err = UserError::new(format!("unknown action `{name}`"));
        if near.is_empty() {
            err.help(format!("known actions: {}", names().join(", ")))
        } else {
            err.help(format!("did you mean `{}`?", near[0]))
        }
    })?;
    (spec.build)(args).map_err(|m| UserError::new(format!("action `{name}`: {m}")))
}

/// Does `text` name one of the literals of `ac` (identifiers) as a whole word, not as
/// part of a longer identifier (`override_settings` does not name `settings`)? Every
/// reference to a name (an identifier, an attribute, an import, a dotted path or a
/// fixture's name in a string) has it as a whole word, so a file without one needs no
/// parse to know it does not refer to any. Overlapping matches, so that one literal
/// inside a longer word hides no other.
pub(crate) fn names_word(ac: &aho_corasick::AhoCorasick, text: &str) -> bool {
    let b = text.as_bytes();
    let ident = |i: usize| {
        b.get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    };
    ac.find_overlapping_iter(text)
        .any(|m| (m.start() == 0 || !ident(m.start() - 1)) && !ident(m.end()))
}
