//! `lazy-settings` (project action): build settings on first use, not at import.
//!
//! What it does: finds module-level instances `NAME = CLASS(...)` whose class is defined
//! in or imported into the module and is a settings class (its name matches `class`, or
//! it subclasses `BaseSettings`), replaces each with a cached getter, and rewrites every
//! use of the instance in every Python file of the project: in the module itself, through
//! `from M import NAME [as A]`, `import M [as m]`, `from PKG import M`, star imports, and
//! through packages that re-export the instance (`from .settings import settings`,
//! `__all__`). Uses that still run at import time are rewritten and reported.
//!
//! Why: `settings = Settings()` reads the environment while the module is imported, so
//! anything that imports it early (a conftest before its `pytest_configure` sets the
//! environment, a tool that only wants a constant) fails with a misleading error.
//!
//! Example:
//! ```python
//! # app/config.py                      # app/config.py
//! settings = Settings(env="prod")      @functools.lru_cache(maxsize=None)
//!                                      def get_settings() -> Settings:
//!                                          """..."""
//!                                          return Settings(env="prod")
//! # app/db.py                          # app/db.py
//! from app.config import settings      from app.config import get_settings
//! def url():                           def url():
//!     return settings.DATABASE_URL         return get_settings().DATABASE_URL
//! ```
//! A function that just returns the instance (`def get_settings(): return settings`)
//! becomes the cached constructor instead of a second getter; an instance built by a
//! function of the module (`settings = get_settings()`) just goes, the function cached.
//! Several instances of one module each get a getter named after them (`get_NAME`).
//! Where the getter's name is taken in a file that imports an instance, it comes in
//! under an alias (`get_settings as _get_settings`, or `get_ALIAS` for `as ALIAS`). With
//! `compat`, the module also keeps `NAME` importable through a PEP 562 module `__getattr__`.
//!
//! After the rewrite it says whether it delivered ([`delivery`]): for each instance,
//! whether importing its module or a package above it still builds the settings,
//! through the chain of module-level imports to an eager use (a warning; an error with
//! `strict`). With `lazy_constants`, a module-level constant read from the settings
//! that its module never reads moves into a PEP 562 module `__getattr__`.
//! `patch("M.NAME.ATTR", ...)` inside a function becomes `patch.object(M.GETTER(),
//! "ATTR", ...)`, and `patch.object(M, "NAME", NEW)` becomes `patch.object(M, "GETTER",
//! return_value=NEW)`; a decorator is kept, with a warning. The getter never shadows a
//! name the module binds (the semantic model's module scope): it is named after its
//! instance instead, `get_NAME`, or refused.
//!
//! When it refuses (an error finding, and no file changed for that instance): the name
//! is bound again in the module (reassigned, `del`eted, assigned through `global`), or
//! bound otherwise in a scope that imports it, or assigned from outside (`m.settings =
//! ...`); the getter's name is already taken and cannot be aliased; the assignment
//! shares its line with another statement; two instances of a module would still get
//! the same getter (an existing getter named like another's `get_NAME`); `compat` for an
//! instance in a package `__init__` next to a submodule of its name.

mod delivery;

use crate::parse::kind_of;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use regex::Regex;
use tree_sitter::{Node, Tree};

use super::{Action, ActionArgs, ProjectAction};
use crate::diag::{line_col, Finding, Severity, UserError};
use crate::edit::{self, Edit};
use crate::engine::Workspace;
use crate::imports::{self, ImportSpec};
use crate::outline::Focus;
use crate::parse::{self, all_nodes, statement_of, text as node_text};
use crate::semantic::{Binding, BindingKind, Model, Reference, ScopeId};
use crate::source::newline_of;

pub struct LazySettings {
    class: Regex,
    instance: Regex,
    getter: String,
    compat: bool,
    /// Eager uses that still build the settings on import are errors, not warnings.
    strict: bool,
    /// Module-level constants read from the settings become lazy (PEP 562).
    lazy_constants: bool,
}

pub fn build(mut args: ActionArgs) -> Result<Action, String> {
    let regex = |key: &str, value: String| {
        Regex::new(&value).map_err(|e| format!("`{key}` is not a valid regex: {e}"))
    };
    let class = args
        .string("class")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Settings$".to_owned());
    let instance = args
        .string("instance")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| ".*".to_owned());
    let getter = args
        .string("getter")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "get_settings".to_owned());
    if !is_identifier(&getter) {
        return Err(format!(
            "`getter` must be a Python identifier, not `{getter}`"
        ));
    }
    let compat = args.bool("compat", false)?;
    let strict = args.bool("strict", false)?;
    let lazy_constants = args.bool("lazy_constants", false)?;
    args.finish("lazy-settings")?;
    Ok(Action::Project(Box::new(LazySettings {
        class: regex("class", class)?,
        instance: regex("instance", instance)?,
        getter,
        compat,
        strict,
        lazy_constants,
    })))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// A module-level `NAME = CLASS(...)` to make lazy.
#[derive(Debug, Clone)]
struct Target {
    path: PathBuf,
    name: String,
    /// The getter's return annotation: the instance's annotation, else its class.
    returns: String,
    /// The getter's name (an existing getter's own name when one is reused).
    getter: String,
    /// The `expression_statement` of the assignment.
    stmt: Range<usize>,
    call: Range<usize>,
    existing: Option<Existing>,
}

/// A module-level function that just returns the instance.
#[derive(Debug, Clone)]
struct Existing {
    name: String,
    /// The whole definition, decorators included.
    def: Range<usize>,
    /// Start of the `def` keyword line's `function_definition`.
    def_start: usize,
    decorators: Vec<String>,
    cached: bool,
    docstring: Option<String>,
    /// The instance name in `return NAME`.
    ret_ident: Range<usize>,
    /// Where the body's first statement starts (a docstring goes there).
    body_first: usize,
    return_type: Option<String>,
    params_end: usize,
    has_comments: bool,
    /// A function that builds the settings, called by the instance's assignment
    /// (`settings = get_settings()`): the assignment just goes.
    factory: bool,
    /// For a factory: the class of its `return CLASS(...)`, if that is its last statement.
    builds: Option<String>,
}

/// A file that can refer to an instance: its text and the bindings that bind a name of
/// its module scope (the tree is not kept; it is parsed again, one file at a time, to
/// analyze it).
struct Summary {
    path: PathBuf,
    text: Arc<str>,
    module: Vec<Binding>,
    /// The dotted names it is imported under ([`crate::project::Project::module_names`]).
    names: Vec<String>,
}

/// A parsed file, while it is analyzed.
struct Parsed {
    path: PathBuf,
    text: Arc<str>,
    tree: Tree,
    model: Model,
    /// The model's bindings (their indices), by the scope they bind in at run time
    /// ([`Model::binding_scope`]) and name, in source order.
    bound: HashMap<ScopeId, HashMap<String, Vec<usize>>>,
}

impl Parsed {
    fn new(path: PathBuf, text: Arc<str>, tree: Tree) -> Parsed {
        let model = crate::semantic::build(&tree, &text);
        let mut bound: HashMap<ScopeId, HashMap<String, Vec<usize>>> = HashMap::new();
        for (i, b) in model.bindings.iter().enumerate() {
            bound
                .entry(model.binding_scope(b))
                .or_default()
                .entry(b.name.clone())
                .or_default()
                .push(i);
        }
        for names in bound.values_mut() {
            for v in names.values_mut() {
                v.sort_by_key(|&i| model.bindings[i].start);
            }
        }
        Parsed {
            path,
            text,
            tree,
            model,
            bound,
        }
    }

    /// What binds `name` in `scope` at run time ([`Model::bindings_of`], indexed).
    fn bindings<'a>(&'a self, scope: ScopeId, name: &str) -> impl Iterator<Item = &'a Binding> {
        self.bound
            .get(&scope)
            .and_then(|names| names.get(name))
            .into_iter()
            .flatten()
            .map(|&i| &self.model.bindings[i])
    }
}

/// What a binding refers to, for the instances being made lazy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Instance(usize),
    Module(String),
    Other,
}

#[derive(Default)]
struct FileReport {
    edits: Vec<(usize, Edit)>,
    notes: Vec<(usize, Finding)>,
    refusals: Vec<(usize, Finding)>,
    /// Targets whose getter this file defines, needing `import functools`.
    needs_functools: BTreeSet<usize>,
    /// Uses that still run at import time, per target.
    eager: Vec<(usize, delivery::EagerUse)>,
    /// Constants `lazy_constants` moved into this file's `__getattr__`, per target.
    lazy: Vec<(usize, delivery::LazyConstant)>,
    /// Modules to `import` at module level (a rewritten `patch` names them), per target.
    needs_import: BTreeSet<(usize, String)>,
}

/// What becomes of a `patch("M.NAME.ATTR", ...)` string.
enum Patch {
    /// The edits, and whether `import M` is needed.
    Rewrite(bool, Vec<Edit>),
    /// Kept, and why (for the warning).
    Kept(&'static str),
    /// Not the target of a `patch` call.
    Other,
}

/// The object and attribute `patch.object` takes for `M.NAME.a.b`: `M.GETTER().a`, `b`.
fn patch_object(module: &str, getter: &str, rest: &[&str]) -> (String, String) {
    let mut obj = format!("{module}.{getter}()");
    for a in &rest[..rest.len().saturating_sub(1)] {
        obj.push('.');
        obj.push_str(a);
    }
    (
        obj,
        rest.last().map_or_else(String::new, |a| (*a).to_owned()),
    )
}

/// `patch.object(M, "NAME", NEW)` (or `new=NEW`) as a call or a context manager without
/// `as`: the module's attribute `NAME` is gone, its getter stands in its place, so the
/// getter is patched to return `NEW`: `patch.object(M, "GETTER", return_value=NEW)`. Every
/// read of `M.NAME` became `M.GETTER()` and sees `NEW`, as before; a module that bound
/// the instance itself (`from M import NAME`) did not see the patch before and does not
/// now. `None` (kept, with a warning) for any other shape: no `NEW` (the patch's mock
/// would be the getter's), an `as` target, a decorator (it would pass the getter's mock
/// to the test), more arguments.
fn patch_object_rewrite(
    string: Node<'_>,
    text: &str,
    model: &crate::semantic::Model,
    getter: &str,
    recipe: &str,
) -> Option<Vec<Edit>> {
    let args = string.parent().filter(|a| kind_of(a) == "argument_list")?;
    let call = args.parent().filter(|c| kind_of(c) == "call")?;
    let callee = call.child_by_field_name("function")?;
    let qualified = model.qualified_name(callee.start_byte(), node_text(callee, text))?;
    if !matches!(
        qualified.as_str(),
        "unittest.mock.patch.object" | "mock.patch.object"
    ) {
        return None;
    }
    let mut c = args.walk();
    let list: Vec<Node<'_>> = args
        .named_children(&mut c)
        .filter(|n| kind_of(n) != "comment")
        .collect();
    let [_, second, new] = list.as_slice() else {
        return None;
    };
    if *second != string {
        return None;
    }
    let value_edit = match kind_of(new) {
        "keyword_argument" => {
            let name = new.child_by_field_name("name")?;
            if node_text(name, text) != "new" {
                return None;
            }
            Edit::replace(name.byte_range(), "return_value".to_owned(), recipe)
        }
        "list_splat" | "dictionary_splat" => return None,
        _ => Edit::insert(new.start_byte(), "return_value=".to_owned(), recipe),
    };
    let mut up = call;
    while let Some(parent) = up.parent() {
        match kind_of(parent) {
            "decorator" | "as_pattern" => return None,
            "block" | "module" => break,
            _ => {}
        }
        up = parent;
    }
    let quote = if node_text(string, text).ends_with('\'') {
        "'"
    } else {
        "\""
    };
    Some(vec![
        Edit::replace(
            string.byte_range(),
            format!("{quote}{getter}{quote}"),
            recipe,
        ),
        value_edit,
    ])
}

/// `patch("M.NAME.ATTR", ...)` (`mock.patch`, `unittest.mock.patch`) inside a function,
/// as a call or a context manager, becomes `patch.object(M.GETTER(), "ATTR", ...)`:
/// the string is the call's first argument, the name of the callee is `patch` of
/// `unittest.mock` (or `mock`), and `M`'s first name is free for an `import M` (or is
/// one). As a decorator, or run at import time, the getter would build the settings
/// then: kept.
fn patch_rewrite(
    string: Node<'_>,
    text: &str,
    model: &crate::semantic::Model,
    module: &str,
    getter: &str,
    rest: &[&str],
    recipe: &str,
) -> Patch {
    use crate::semantic::BindingKind;
    let Some(call) = string
        .parent()
        .filter(|a| kind_of(a) == "argument_list" && a.named_child(0) == Some(string))
        .and_then(|a| a.parent())
        .filter(|c| kind_of(c) == "call")
    else {
        return Patch::Other;
    };
    let Some(callee) = call.child_by_field_name("function") else {
        return Patch::Other;
    };
    let callee_text = node_text(callee, text);
    let qualified = model.qualified_name(callee.start_byte(), callee_text);
    if !matches!(
        qualified.as_deref(),
        Some("unittest.mock.patch" | "mock.patch")
    ) {
        return Patch::Other;
    }
    if rest.is_empty() || !rest.iter().all(|a| is_identifier(a)) {
        return Patch::Kept("it patches the whole instance");
    }
    let mut up = call;
    while let Some(parent) = up.parent() {
        if kind_of(parent) == "decorator" {
            return Patch::Kept("as a decorator it would build the settings at import time");
        }
        if matches!(kind_of(parent), "block" | "module") {
            break;
        }
        up = parent;
    }
    if is_eager(call, text) {
        return Patch::Kept("it runs at import time");
    }
    // A name that already stands for the module here (`from pkg import config`,
    // `import pkg.config as cfg`), else the dotted name, with `import M` added.
    let at = call.start_byte();
    let mut named: Vec<&str> = model
        .bindings
        .iter()
        .filter(|b| b.scope == 0)
        .filter(|b| {
            matches!(
                b.kind,
                BindingKind::Import { .. } | BindingKind::FromImport { .. }
            )
        })
        .map(|b| b.name.as_str())
        .filter(|n| model.qualified_name(at, n).as_deref() == Some(module))
        .collect();
    named.sort_by_key(|n| (n.len(), *n));
    let (written, needs_import) = match named.first() {
        Some(n) => ((*n).to_owned(), false),
        None => {
            let head = module.split('.').next().unwrap_or(module);
            let free = model
                .reaching(at, head)
                .iter()
                .all(|b| matches!(&b.kind, BindingKind::Import { module: m, .. } if m == head));
            if !free {
                return Patch::Kept("its module's first name is bound otherwise here");
            }
            (module.to_owned(), true)
        }
    };
    let (obj, attr) = patch_object(&written, getter, rest);
    let quote = if node_text(string, text).ends_with('\'') {
        "'"
    } else {
        "\""
    };
    Patch::Rewrite(
        needs_import,
        vec![
            Edit::insert(callee.end_byte(), ".object".to_owned(), recipe),
            Edit::replace(
                string.byte_range(),
                format!("{obj}, {quote}{attr}{quote}"),
                recipe,
            ),
        ],
    )
}

/// Every possible module-level `NAME = CALL(` of `text`, as (NAME, CALL): a module-level
/// statement starts a line (no indentation; an indented one does not parse) or follows a
/// `;` (and spaces); an annotation may stand before the `=` (`NAME: T = CALL(`). A byte
/// scan, the regex `(?m)(?:^|;[ \t]*)(IDENT)[ \t]*(?::[^=\n]*)?=[ \t]*(IDENT)[ \t]*\(`
/// (the tests hold it to that): it runs over every file of the project.
fn assign_calls(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let b = text.as_bytes();
    let starts = std::iter::once(0).chain(memchr::memchr2_iter(b'\n', b';', b).map(|i| i + 1));
    let mut matched_to = 0;
    starts.filter_map(move |mut i| {
        if i < matched_to {
            return None; // inside the previous match, as the regex's matches do not overlap
        }
        if i > 0 && b[i - 1] == b';' {
            i = skip_blanks(b, i);
        }
        let name = ident_at(text, i)?;
        i = skip_blanks(b, i + name.len());
        if b.get(i) == Some(&b':') {
            i += 1 + memchr::memchr2(b'=', b'\n', &b[i + 1..])?;
        }
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i = skip_blanks(b, i + 1);
        let call = ident_at(text, i)?;
        i = skip_blanks(b, i + call.len());
        if b.get(i) != Some(&b'(') {
            return None;
        }
        matched_to = i + 1;
        Some((name, call))
    })
}

/// The ASCII identifier (`[A-Za-z_][A-Za-z0-9_]*`) that starts at `at`, if any.
fn ident_at(text: &str, at: usize) -> Option<&str> {
    let b = text.as_bytes();
    if !b
        .get(at)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return None;
    }
    let len = b[at..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    Some(&text[at..at + len])
}

/// `at` past any spaces and tabs.
fn skip_blanks(b: &[u8], at: usize) -> usize {
    at + b.get(at..).map_or(0, |r| {
        r.iter().take_while(|c| **c == b' ' || **c == b'\t').count()
    })
}

/// A tree of `text` for what its module scope binds (see [`crate::outline`]): module
/// level whole; of classes and functions, only the `global` statements and the
/// statements that name what they declare. `None` when what was parsed has a syntax
/// error.
fn module_tree(text: &str) -> Option<Tree> {
    let b = text.as_bytes();
    let anchors: Vec<usize> = memchr::memmem::find_iter(b, b"global").collect();
    // The names after each `global` (a look-alike in a string adds a word, no harm).
    let mut words = HashSet::new();
    for &at in &anchors {
        let line = &b[at + 6..];
        let line = &line[..memchr::memchr3(b'\n', b';', b'#', line).unwrap_or(line.len())];
        words.extend(
            line.split(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c >= 0x80))
                .filter(|w| !w.is_empty()),
        );
    }
    let focus = crate::outline::Focus {
        anchors,
        words,
        keep: crate::outline::Keep::ModuleLevel,
        bindings_only: false,
    };
    let tree = parse::parse_focused(text, &focus)?;
    parse::first_error(&tree).is_none().then_some(tree)
}

/// What a reader of the uses of the instances in `text` needs beyond its module level:
/// every function or class that names one of `literals` (the instances' names and
/// re-exports) or a module-level alias of one (`from m import settings as s`,
/// `s = settings`, and aliases of those), and in those only the statements that can
/// bear on a use: the ones naming such a name, an import (a function's own
/// `import app.config as c` makes `c.settings` a use), a `global` or `nonlocal`, a name
/// an `as` binds (`from m import settings as cfg`, then `cfg.X`), or a name the getter
/// may take here (`getters`, and `get_ALIAS`), which must not be bound otherwise.
fn use_focus<'a>(
    text: &'a str,
    module: &'a [Binding],
    literals: &'a BTreeSet<String>,
    getters: &[String],
) -> Focus<'a> {
    let mut words: Vec<&'a str> = literals.iter().map(String::as_str).collect();
    loop {
        let before = words.len();
        for b in module {
            let aliases_a_word = !matches!(
                b.kind,
                BindingKind::Function | BindingKind::Class | BindingKind::Parameter
            ) && text
                .get(b.statement.0..b.statement.1)
                .is_some_and(|stmt| words.iter().any(|w| stmt.contains(w)));
            if aliases_a_word && !words.contains(&b.name.as_str()) {
                words.push(&b.name);
            }
        }
        if words.len() == before {
            break;
        }
    }
    let b = text.as_bytes();
    let mut anchors: Vec<usize> = words
        .iter()
        .flat_map(|w| memchr::memmem::find_iter(b, w.as_bytes()))
        .collect();
    let bound_by_as = as_names(text);
    for g in getters {
        anchors.extend(memchr::memmem::find_iter(b, g.as_bytes()));
    }
    for a in &bound_by_as {
        let g = format!("get_{}", a.trim_start_matches('_'));
        anchors.extend(memchr::memmem::find_iter(b, g.as_bytes()));
    }
    anchors.sort_unstable();
    let kept: HashSet<&'a [u8]> = words
        .iter()
        .chain(&bound_by_as)
        .map(|w| w.as_bytes())
        .chain([&b"import"[..], b"global", b"nonlocal"])
        .collect();
    Focus {
        anchors,
        words: kept,
        keep: crate::outline::Keep::ModuleLevel,
        bindings_only: false,
    }
}

/// The identifiers that follow the word `as` in `text` (import aliases, and the names
/// of `with ... as` and `except ... as`; a look-alike in a string or comment adds one).
fn as_names(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    let mut out: Vec<&str> = memchr::memmem::find_iter(b, b"as")
        .filter(|&at| (at == 0 || !ident(b[at - 1])) && b.get(at + 2).is_some_and(|c| !ident(*c)))
        .filter_map(|at| {
            let rest = &text[at + 2..];
            let name = rest.trim_start_matches([' ', '\t', '\\', '\r', '\n', '(']);
            let len = name.bytes().take_while(|c| ident(*c)).count();
            name.get(..len).filter(|n| !n.is_empty())
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A file that names an instance but does not parse: skipped, as one that may refer to
/// it (its uses were not rewritten, and `check` stays pending while it is so).
fn skip_unparsable(ws: &Workspace, path: &Path, text: &str, recipe: &str) {
    let skipped = crate::engine::Skipped::unparsable(text, recipe, true).unwrap_or_else(|| {
        crate::engine::Skipped {
            recipe: Some(recipe.to_owned()),
            may_refer: true,
            ..crate::engine::Skipped::new("does not parse".to_owned())
        }
    });
    ws.skip_with(path, skipped);
}

/// Every class header of `text` with its bases, `class NAME(BASES)` at the start of a
/// line (after indentation), BASES up to the first `)`: the regex
/// `(?m)^[ \t]*class[ \t]+(IDENT)[ \t]*\(([^)]*)\)` as a byte scan (the tests hold it to
/// that).
fn class_headers(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let b = text.as_bytes();
    let mut matched_to = 0;
    memchr::memmem::find_iter(b, b"class").filter_map(move |at| {
        let line = memchr::memrchr(b'\n', &b[..at]).map_or(0, |i| i + 1);
        if line < matched_to
            || skip_blanks(b, line) != at
            || !matches!(b.get(at + 5), Some(b' ' | b'\t'))
        {
            return None;
        }
        let start = skip_blanks(b, at + 5);
        let name = ident_at(text, start)?;
        let open = skip_blanks(b, start + name.len());
        if b.get(open) != Some(&b'(') {
            return None;
        }
        let close = open + 1 + memchr::memchr(b')', &b[open + 1..])?;
        matched_to = close + 1;
        Some((name, &text[open + 1..close]))
    })
}

/// The project's files for the passes of [`LazySettings::run`] over all of them: their
/// texts kept in memory up to [`KEEP_BYTES`] in all, read again beyond that, so that a
/// large repository costs reads rather than memory that grows with it.
struct Texts {
    paths: Vec<PathBuf>,
    kept: Vec<Option<Arc<str>>>,
}

/// More than Django and SymPy together (44 MB): a repository of that size is read once.
const KEEP_BYTES: usize = 64 << 20;

impl Texts {
    fn read(ws: &Workspace) -> Texts {
        let read: Vec<(PathBuf, Arc<str>)> = ws
            .python_files()
            .into_par_iter()
            .filter(|p| !ws.is_skipped(p))
            .filter_map(|p| ws.read(&p).ok().flatten().map(|t| (p, t)))
            .collect();
        let mut total = 0;
        let (paths, kept) = read
            .into_iter()
            .map(|(p, t)| {
                total += t.len();
                (p, (total <= KEEP_BYTES).then_some(t))
            })
            .unzip();
        Texts { paths, kept }
    }

    fn len(&self) -> usize {
        self.paths.len()
    }

    /// The text of file `i` (`None` if it can no longer be read).
    fn get(&self, ws: &Workspace, i: usize) -> Option<Arc<str>> {
        match &self.kept[i] {
            Some(t) => Some(t.clone()),
            None => ws.read(&self.paths[i]).ok().flatten(),
        }
    }
}

/// The names of the classes of the project that may subclass `BaseSettings` (through
/// any chain of bases), read from class headers: a prefilter, so a name too many only
/// costs a parse.
fn settings_subclasses(ws: &Workspace, files: &Texts) -> HashSet<String> {
    let headers: Vec<(String, Vec<String>)> = (0..files.len())
        .into_par_iter()
        .filter_map(|i| files.get(ws, i))
        .filter(|t| t.contains("class"))
        .flat_map_iter(|t| {
            class_headers(&t)
                .map(|(name, bases)| (name.to_owned(), words(bases).map(str::to_owned).collect()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut set: HashSet<String> = HashSet::from(["BaseSettings".to_owned()]);
    loop {
        let before = set.len();
        for (name, bases) in &headers {
            if !set.contains(name) && bases.iter().any(|b| set.contains(b)) {
                set.insert(name.clone());
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

/// The identifiers in `text` (and words in its strings and comments).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with(|c: char| !c.is_ascii_digit()))
}

impl LazySettings {
    /// Can `text` define an instance: does it name a class that may be settings (by the
    /// `class` parameter, or a subclass of `BaseSettings`)? Without one, neither a
    /// `NAME = CLASS()` nor a factory function of the module can build settings.
    fn may_define_instance(&self, text: &str, subclasses: &HashSet<String>) -> bool {
        let mut seen: HashSet<&str> = HashSet::new();
        words(text).any(|w| seen.insert(w) && (subclasses.contains(w) || self.class.is_match(w)))
    }
}

impl ProjectAction for LazySettings {
    fn run(&self, ws: &Workspace, recipe: &str) -> Result<Vec<Finding>, UserError> {
        let files = Texts::read(ws);
        let mut findings = Vec::new();
        let modules = ModuleCache::default();

        // 1. The settings modules and their instances.
        let subclasses = settings_subclasses(ws, &files);
        let detected: Vec<Result<Target, Finding>> = (0..files.len())
            .into_par_iter()
            .filter_map(|i| Some((i, files.get(ws, i)?)))
            .filter(|(_, t)| {
                assign_calls(t).next().is_some() && self.may_define_instance(t, &subclasses)
            })
            .flat_map_iter(|(i, t)| self.detect(ws, &files.paths[i], &t, recipe, &modules))
            .collect();
        let mut targets = Vec::new();
        for d in detected {
            match d {
                Ok(t) => targets.push(t),
                Err(f) => findings.push(f),
            }
        }
        targets.sort_by(|a, b| (&a.path, a.stmt.start).cmp(&(&b.path, b.stmt.start)));
        if self.strict {
            findings.extend(self.already_lazy(ws, &files, &subclasses, &modules, &targets, recipe));
        }
        if targets.is_empty() {
            return Ok(findings);
        }

        // 2. Parse the files that can refer to an instance (they mention its name or the
        // name a package re-exports it under), following re-exports to a fixed point.
        let mut parsed: HashMap<usize, Summary> = HashMap::new();
        let mut literals: BTreeSet<String> = targets.iter().map(|t| t.name.clone()).collect();
        let mut sources;
        let mut unparsable: HashSet<usize> = HashSet::new();
        loop {
            let ac = aho_corasick::AhoCorasick::new(&literals)
                .map_err(|e| UserError::new(format!("lazy-settings: prefilter: {e}")))?;
            let new: Vec<(usize, Arc<str>)> = (0..files.len())
                .into_par_iter()
                .filter(|i| !parsed.contains_key(i) && !unparsable.contains(i))
                .filter_map(|i| Some((i, files.get(ws, i)?)))
                .filter(|(_, text)| super::names_word(&ac, text))
                .collect();
            let done: Vec<(usize, Option<Summary>)> = new
                .into_par_iter()
                .map(|(i, text)| {
                    let path = &files.paths[i];
                    let Some(tree) = module_tree(&text) else {
                        skip_unparsable(ws, path, &text, recipe);
                        return (i, None);
                    };
                    let model = crate::semantic::build(&tree, &text);
                    let module = model
                        .bindings
                        .iter()
                        .filter(|b| model.binding_scope(b) == 0)
                        .cloned()
                        .collect();
                    (
                        i,
                        Some(Summary {
                            path: path.clone(),
                            text: text.clone(),
                            module,
                            names: ws.project.module_names(path),
                        }),
                    )
                })
                .collect();
            for (i, p) in done {
                match p {
                    Some(p) => {
                        parsed.insert(i, p);
                    }
                    None => {
                        unparsable.insert(i);
                    }
                }
            }
            sources = Sources::compute(ws, &targets, &parsed);
            let before = literals.len();
            literals.extend(sources.map.keys().map(|(_, a)| a.clone()));
            if literals.len() == before {
                break;
            }
        }

        // 3. Every use, file by file.
        let getters: Vec<String> = targets
            .iter()
            .flat_map(|t| [t.getter.clone(), format!("_{}", t.getter)])
            .collect();
        let reports: Vec<(usize, FileReport)> = parsed
            .par_iter()
            .map(|(i, s)| {
                // Parsed here (its module level parsed cleanly before), analyzed, and
                // dropped: a module that defines an instance whole, any other without
                // the bodies that name none of the instances or their aliases.
                let tree = if targets.iter().any(|t| t.path == s.path) {
                    parse::parse(&s.text)
                } else {
                    parse::parse_focused(
                        &s.text,
                        &use_focus(&s.text, &s.module, &literals, &getters),
                    )
                };
                let Some(tree) = tree else {
                    return (*i, FileReport::default());
                };
                if parse::first_error(&tree).is_some() {
                    skip_unparsable(ws, &s.path, &s.text, recipe);
                    return (*i, FileReport::default());
                }
                let p = Parsed::new(s.path.clone(), s.text.clone(), tree);
                (*i, self.analyze(ws, &p, &targets, &sources, recipe))
            })
            .collect();

        // 4. All or nothing per instance: any refusal keeps every file as it is for it.
        let mut refused: BTreeSet<usize> = BTreeSet::new();
        for (_, r) in &reports {
            for (t, f) in &r.refusals {
                refused.insert(*t);
                findings.push(f.clone());
            }
        }
        let mut outputs: Vec<(PathBuf, String, usize)>;
        loop {
            outputs = Vec::new();
            let mut conflict = false;
            for (i, r) in &reports {
                let p = &parsed[i];
                let edits: Vec<Edit> = r
                    .edits
                    .iter()
                    .filter(|(t, _)| !refused.contains(t))
                    .map(|(_, e)| e.clone())
                    .collect();
                if edits.is_empty() {
                    continue;
                }
                let count = edits.len();
                let (ok, conflicts) = edit::resolve(edits);
                if let Some(c) = conflicts.first() {
                    for (t, e) in &r.edits {
                        if e == &*c.kept || e == &c.dropped {
                            refused.insert(*t);
                        }
                    }
                    findings.push(finding(
                        &p.path,
                        &p.text,
                        c.dropped.range.start,
                        Severity::Error,
                        recipe,
                        "two rewrites of the settings overlap here; nothing was changed for them"
                            .to_owned(),
                    ));
                    conflict = true;
                    break;
                }
                let mut new = edit::apply(&p.text, &ok);
                let mut specs: Vec<ImportSpec> = Vec::new();
                if r.needs_functools.iter().any(|t| !refused.contains(t)) {
                    specs.push(ImportSpec::Import {
                        module: "functools".to_owned(),
                        alias: None,
                    });
                }
                let modules: BTreeSet<&String> = r
                    .needs_import
                    .iter()
                    .filter(|(t, _)| !refused.contains(t))
                    .map(|(_, m)| m)
                    .collect();
                specs.extend(modules.into_iter().map(|m| ImportSpec::Import {
                    module: m.clone(),
                    alias: None,
                }));
                if !specs.is_empty() {
                    if let Some(tree) = parse::parse(&new) {
                        let (ie, _) = edit::resolve(imports::ensure(
                            &new,
                            &tree,
                            &specs,
                            newline_of(&p.text),
                            recipe,
                        ));
                        new = edit::apply(&new, &ie);
                    }
                }
                outputs.push((p.path.clone(), new, count));
            }
            if !conflict {
                break;
            }
        }
        findings.extend(self.delivered(ws, &targets, &refused, &reports, recipe));
        for (_, r) in reports {
            findings.extend(
                r.notes
                    .into_iter()
                    .filter(|(t, _)| !refused.contains(t))
                    .map(|(_, f)| f),
            );
        }
        for (path, text, count) in outputs {
            ws.write(&path, text, recipe, count)
                .map_err(|e| UserError::new(format!("{}: {e}", path.display())))?;
        }
        Ok(findings)
    }
}

impl LazySettings {
    /// `lazy_constants`: a module-level constant read from the settings (`TIMEOUT =
    /// settings.timeout`, an eager use) moves into a PEP 562 module `__getattr__` at the
    /// end of its module, so `M.TIMEOUT` and `from M import TIMEOUT` build the settings
    /// when they run, not when `M` is imported. Only a constant the module itself never
    /// reads (a read in the module would not go through `__getattr__`), bound once, in a
    /// module without a `__getattr__` of its own (nor the one `compat` adds); the others
    /// stay, with their eager-use note.
    fn lazy_constants_in(
        &self,
        p: &Parsed,
        own: &[usize],
        newline: &str,
        recipe: &str,
        report: &mut FileReport,
    ) {
        let text: &str = &p.text;
        let root = p.tree.root_node();
        // Candidates: module-level `NAME = EXPR` statements holding an eager use.
        let mut cands: Vec<(usize, Node<'_>, String, Range<usize>)> = Vec::new();
        let mut c = root.walk();
        for stmt in root.named_children(&mut c) {
            if kind_of(stmt) != "expression_statement" || stmt.named_child_count() != 1 {
                continue;
            }
            let Some(assign) = stmt.named_child(0).filter(|a| kind_of(a) == "assignment") else {
                continue;
            };
            let (Some(left), Some(right)) = (
                assign.child_by_field_name("left"),
                assign.child_by_field_name("right"),
            ) else {
                continue;
            };
            if kind_of(left) != "identifier" {
                continue;
            }
            let r = stmt.byte_range();
            let ts: BTreeSet<usize> = report
                .eager
                .iter()
                .filter(|(_, u)| r.contains(&u.offset) && u.path == p.path)
                .map(|(t, _)| *t)
                .collect();
            let ts: Vec<usize> = ts.into_iter().collect();
            let &[t] = ts.as_slice() else {
                continue;
            };
            if own.contains(&t) && self.compat {
                continue;
            }
            cands.push((
                t,
                stmt,
                node_text(left, text).to_owned(),
                right.byte_range(),
            ));
        }
        // One instance per module's `__getattr__`: all or nothing goes per instance.
        if let Some(first) = cands.first().map(|c| c.0) {
            cands.retain(|c| c.0 == first);
        } else {
            return;
        }
        // The module's own reads and bindings, from a whole parse (a partial one may
        // leave out the function that reads the constant).
        let Some(whole) = parse::parse(text) else {
            return;
        };
        let model = crate::semantic::build(&whole, text);
        if model.bindings_in(0, "__getattr__").next().is_some() {
            return;
        }
        let mut branches = Vec::new();
        for (t, stmt, name, right) in cands {
            let read = model
                .references
                .iter()
                .any(|r| r.name == name && model.defining_scope(r.scope, &name) == 0);
            if read || model.bindings_in(0, &name).count() != 1 {
                continue;
            }
            // The value as the rewrite leaves it: the use edits inside it, applied.
            let inner: Vec<Edit> = report
                .edits
                .iter()
                .filter(|(et, e)| *et == t && right.contains(&e.range.start))
                .map(|(_, e)| Edit {
                    range: e.range.start - right.start..e.range.end - right.start,
                    ..e.clone()
                })
                .collect();
            let value = edit::apply(&text[right.clone()], &inner);
            if value.contains('\n') {
                continue;
            }
            let r = stmt.byte_range();
            report
                .edits
                .retain(|(et, e)| !(*et == t && r.contains(&e.range.start)));
            report
                .eager
                .retain(|(_, u)| !(u.path == p.path && r.contains(&u.offset)));
            report.notes.retain(|(nt, f)| {
                !(*nt == t && f.severity == Severity::Note && f.line == line_of(text, r.start))
            });
            report
                .edits
                .push((t, Edit::delete(whole_lines(text, r.clone()), recipe)));
            branches.push((t, name, value, r.start));
        }
        if branches.is_empty() {
            return;
        }
        let i = indent_unit(&p.tree, text);
        let mut def = String::new();
        if !text.ends_with('\n') {
            def.push_str(newline);
        }
        def.push_str(&format!(
            "{newline}{newline}def __getattr__(name: str) -> object:{newline}{i}\"\"\"Constants read from the settings, built on first use (PEP 562).\"\"\"{newline}"
        ));
        for (_, name, value, _) in &branches {
            def.push_str(&format!(
                "{i}if name == \"{name}\":{newline}{i}{i}return {value}{newline}"
            ));
        }
        def.push_str(&format!(
            "{i}raise AttributeError(f\"module {{__name__!r}} has no attribute {{name!r}}\"){newline}"
        ));
        let t = branches[0].0;
        report
            .edits
            .push((t, Edit::insert(text.len(), def, recipe)));
        for (bt, name, _, at) in &branches {
            report.lazy.push((
                *bt,
                delivery::LazyConstant {
                    path: p.path.clone(),
                    name: name.clone(),
                    line: line_of(text, *at),
                },
            ));
            report.notes.push((
                *bt,
                finding(
                    &p.path,
                    text,
                    *at,
                    Severity::Note,
                    recipe,
                    format!(
                        "`{name}` is read from the settings on first use now, through the module `__getattr__` (PEP 562) at the end of the file; an import of `{name}` from this module at module level still builds the settings then"
                    ),
                ),
            ));
        }
    }

    /// Step 5, did the rewrite deliver? For each instance made lazy, whether importing
    /// its module, or a package above it, still builds the settings, with the chain of
    /// imports and the eager use it reaches: a warning (an error with `strict`).
    fn delivered(
        &self,
        ws: &Workspace,
        targets: &[Target],
        refused: &BTreeSet<usize>,
        reports: &[(usize, FileReport)],
        recipe: &str,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut graph = delivery::ImportGraph::default();
        let clean = crate::select::clean;
        for (ti, t) in targets.iter().enumerate() {
            if refused.contains(&ti) {
                continue;
            }
            let mut uses: HashMap<PathBuf, delivery::EagerUse> = HashMap::new();
            for (et, u) in reports.iter().flat_map(|(_, r)| &r.eager) {
                if *et != ti {
                    continue;
                }
                let e = uses.entry(clean(&u.path)).or_insert_with(|| u.clone());
                if u.offset < e.offset {
                    *e = u.clone();
                }
            }
            let mut lazy: HashMap<PathBuf, Vec<delivery::LazyConstant>> = HashMap::new();
            for (lt, c) in reports.iter().flat_map(|(_, r)| &r.lazy) {
                if *lt == ti {
                    lazy.entry(clean(&c.path)).or_default().push(c.clone());
                }
            }
            if uses.is_empty() && lazy.is_empty() {
                continue;
            }
            self.report_chains(ws, &mut graph, &t.path, &uses, &lazy, recipe, &mut out);
        }
        out
    }

    /// With `strict`, after the rewrite too: the getters already in place (a cached
    /// module-level function without parameters whose last statement returns an
    /// instance of a settings class, or whose return annotation is one), and where each
    /// is called while a module is imported (`from M import get_settings` then `X =
    /// get_settings().x` at module level, `M.get_settings()`, in `M` itself), reported
    /// as the run that made them does. So `fixer check --set strict=true` keeps failing
    /// while an import builds the settings. The getters of this run's instances are
    /// judged by [`Self::delivered`].
    fn already_lazy(
        &self,
        ws: &Workspace,
        files: &Texts,
        subclasses: &HashSet<String>,
        modules: &ModuleCache,
        targets: &[Target],
        recipe: &str,
    ) -> Vec<Finding> {
        let clean = crate::select::clean;
        // 1. The getters: (file, module names, getter name).
        let getters: Vec<(PathBuf, Vec<String>, String)> = (0..files.len())
            .into_par_iter()
            .filter_map(|i| Some((i, files.get(ws, i)?)))
            .filter(|(_, t)| t.contains("cache") && self.may_define_instance(t, subclasses))
            .flat_map_iter(|(i, text)| {
                let path = &files.paths[i];
                let mut found = Vec::new();
                let Some(tree) = parse::parse(&text).filter(|t| parse::first_error(t).is_none())
                else {
                    return found;
                };
                let (classes, imported) = top_classes_and_imports(&tree, &text);
                let root = tree.root_node();
                let mut c = root.walk();
                for top in root.named_children(&mut c) {
                    if kind_of(top) != "decorated_definition" {
                        continue;
                    }
                    let Some(e) = factory_getter(top, &text, "\0") else {
                        continue;
                    };
                    if !e.cached
                        || targets
                            .iter()
                            .any(|t| t.path == *path && t.getter == e.name)
                    {
                        continue;
                    }
                    let returns = e.return_type.as_deref().unwrap_or("");
                    let returns = returns.trim_matches(|c| c == '"' || c == '\'');
                    let settings = |c: &str| {
                        !c.is_empty()
                            && (classes.contains_key(c) || imported.contains_key(c))
                            && self.is_settings_class(
                                ws,
                                path,
                                c,
                                (&classes, &imported),
                                0,
                                modules,
                            )
                    };
                    if settings(e.builds.as_deref().unwrap_or("")) || settings(returns) {
                        found.push((path.clone(), ws.project.module_names(path), e.name));
                    }
                }
                found
            })
            .collect();
        if getters.is_empty() {
            return Vec::new();
        }
        // 2. Their calls at import time, in every file that names one.
        let names: BTreeSet<&str> = getters.iter().map(|g| g.2.as_str()).collect();
        let Ok(ac) = aho_corasick::AhoCorasick::new(&names) else {
            return Vec::new();
        };
        let qualified: HashMap<String, usize> = getters
            .iter()
            .enumerate()
            .flat_map(|(gi, (_, ms, g))| ms.iter().map(move |m| (format!("{m}.{g}"), gi)))
            .collect();
        let calls: Vec<(usize, delivery::EagerUse)> = (0..files.len())
            .into_par_iter()
            .filter_map(|i| Some((i, files.get(ws, i)?)))
            .filter(|(_, text)| super::names_word(&ac, text))
            .flat_map_iter(|(i, text)| {
                let path = &files.paths[i];
                let mut out = Vec::new();
                let Some(tree) = module_tree(&text) else {
                    return out;
                };
                let model = crate::semantic::build(&tree, &text);
                for node in all_nodes(&tree) {
                    if kind_of(node) != "call" || !is_eager(node, &text) {
                        continue;
                    }
                    let Some(f) = node.child_by_field_name("function") else {
                        continue;
                    };
                    if !matches!(kind_of(f), "identifier" | "attribute") {
                        continue;
                    }
                    let dotted = node_text(f, &text);
                    let last = dotted.rsplit('.').next().unwrap_or(dotted);
                    if !names.contains(last) {
                        continue;
                    }
                    // Through an import, or the getter's own module calling it.
                    let gi = model
                        .qualified_name(f.start_byte(), dotted)
                        .and_then(|q| qualified.get(&q).copied())
                        .or_else(|| {
                            let own = model.reaching(f.start_byte(), dotted);
                            (kind_of(f) == "identifier"
                                && !own.is_empty()
                                && own
                                    .iter()
                                    .all(|b| b.kind == crate::semantic::BindingKind::Function))
                            .then(|| {
                                getters
                                    .iter()
                                    .position(|g| clean(&g.0) == clean(path) && g.2 == dotted)
                            })
                            .flatten()
                        });
                    let Some(gi) = gi else {
                        continue;
                    };
                    let (line, column) = line_col(&text, node.start_byte());
                    out.push((
                        gi,
                        delivery::EagerUse {
                            path: path.clone(),
                            offset: node.start_byte(),
                            line,
                            column,
                            shown: snippet(statement_of(node), &text),
                        },
                    ));
                }
                out
            })
            .collect();
        // 3. The chains, per getter.
        let mut out = Vec::new();
        let mut graph = delivery::ImportGraph::default();
        let lazy = HashMap::new();
        for (gi, (path, _, _)) in getters.iter().enumerate() {
            let mut uses: HashMap<PathBuf, delivery::EagerUse> = HashMap::new();
            for (_, u) in calls.iter().filter(|(g, _)| *g == gi) {
                let e = uses.entry(clean(&u.path)).or_insert_with(|| u.clone());
                if u.offset < e.offset {
                    *e = u.clone();
                }
            }
            if !uses.is_empty() {
                self.report_chains(ws, &mut graph, path, &uses, &lazy, recipe, &mut out);
            }
        }
        out
    }

    /// The chains by which importing the module at `path`, or a package above it,
    /// reaches an eager use of its settings (`uses`, `lazy` by file): one finding each.
    #[allow(clippy::too_many_arguments)]
    fn report_chains(
        &self,
        ws: &Workspace,
        graph: &mut delivery::ImportGraph,
        path: &Path,
        uses: &HashMap<PathBuf, delivery::EagerUse>,
        lazy: &HashMap<PathBuf, Vec<delivery::LazyConstant>>,
        recipe: &str,
        out: &mut Vec<Finding>,
    ) {
        let clean = crate::select::clean;
        let Some(module) = ws.project.module_names(path).into_iter().next() else {
            return;
        };
        let mut reported = false;
        for m in delivery::with_parents(&module) {
            let Some(chain) = graph.chain(ws, &m, path, uses, lazy) else {
                continue;
            };
            let own = ws.project.resolve(&m, Some(path)).map(|f| clean(&f));
            // Through a package above, already reported: the same chain.
            if reported && own.as_ref() != chain.first().map(|l| clean(&l.path)).as_ref() {
                continue;
            }
            reported = true;
            let Some(last) = chain.last() else {
                continue;
            };
            // At the eager use, or at the import of a lazy constant that runs the
            // module `__getattr__`.
            let at_use = uses
                .get(&clean(&last.path))
                .is_some_and(|u| u.line == last.line && u.shown == last.shown);
            let (path, line, column) = match uses
                .get(&clean(&last.path))
                .filter(|u| u.line == last.line && u.shown == last.shown)
            {
                Some(u) => (u.path.clone(), u.line, u.column),
                None => {
                    let at = chain.len().saturating_sub(2);
                    let l = chain.get(at).unwrap_or(last);
                    (l.path.clone(), l.line, 1)
                }
            };
            let links: Vec<String> = chain
                .iter()
                .map(|l| {
                    format!(
                        "{}:{} {}",
                        crate::output::display_path(&l.path).display(),
                        l.line,
                        l.shown
                    )
                })
                .collect();
            out.push(Finding {
                path,
                line,
                column,
                recipe: recipe.to_owned(),
                severity: if self.strict {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                message: format!(
                    "importing {m} still builds the settings: {}; {}{}",
                    links.join(" -> "),
                    if at_use {
                        "move that use into a function"
                    } else {
                        "import the module there and read the constant where it is used"
                    },
                    if self.strict {
                        ""
                    } else {
                        " (`--set strict=true` makes this an error)"
                    }
                ),
            });
        }
    }
}

fn finding(
    path: &Path,
    text: &str,
    offset: usize,
    severity: Severity,
    recipe: &str,
    message: String,
) -> Finding {
    Finding::at(path, text, offset, recipe, severity, message)
}

/// What binds `name` at `at` in the module, for a message: `an import from `m``, `a
/// function`, `an assignment`.
fn describe_binding(model: &crate::semantic::Model, _text: &str, name: &str, at: usize) -> String {
    use crate::semantic::BindingKind;
    let kind = model
        .bindings_in(0, name)
        .find(|b| b.start == at)
        .map(|b| b.kind.clone());
    match kind {
        Some(BindingKind::FromImport { module, .. }) => format!("an import from `{module}`"),
        Some(BindingKind::Import { full, .. }) => format!("the import of `{full}`"),
        Some(BindingKind::Function) => "a function".to_owned(),
        Some(BindingKind::Class) => "a class".to_owned(),
        _ => "a name bound".to_owned(),
    }
}

/// A module or import name as written, without the spaces a continuation line leaves.
fn compact(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The node of the definition, lambda or comprehension that makes `scope`.
fn scope_node<'t>(tree: &'t Tree, scope: &crate::semantic::Scope) -> Option<Node<'t>> {
    let mut n = tree
        .root_node()
        .descendant_for_byte_range(scope.start, scope.start)?;
    loop {
        if n.end_byte() == scope.end
            && n.start_byte() <= scope.start
            && matches!(
                kind_of(n),
                "function_definition"
                    | "class_definition"
                    | "lambda"
                    | "list_comprehension"
                    | "set_comprehension"
                    | "dictionary_comprehension"
                    | "generator_expression"
                    | "module"
            )
        {
            return Some(n);
        }
        n = n.parent()?;
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    line_col(text, offset).0
}

/// Where names point: `(module, attribute)` pairs that are an instance (its module and
/// every module that re-exports it), and the modules on the way to them.
struct Sources {
    map: HashMap<(String, String), usize>,
    /// Every dotted prefix of a module in `map`.
    prefixes: HashSet<String>,
    /// Per file: the attributes it exports that are an instance.
    exports: HashMap<PathBuf, Vec<(String, usize)>>,
    /// The names bound at module level in each instance's module, by dotted name.
    toplevel: HashMap<String, HashSet<String>>,
}

impl Sources {
    fn compute(ws: &Workspace, targets: &[Target], parsed: &HashMap<usize, Summary>) -> Sources {
        let mut map: HashMap<(String, String), usize> = HashMap::new();
        let mut exports: HashMap<PathBuf, Vec<(String, usize)>> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            for m in ws.project.module_names(&t.path) {
                map.insert((m, t.name.clone()), i);
            }
            exports
                .entry(t.path.clone())
                .or_default()
                .push((t.name.clone(), i));
        }
        loop {
            let mut added = Vec::new();
            for p in parsed.values() {
                for b in &p.module {
                    if let BindingKind::FromImport { module, name } = &b.kind {
                        let Some(abs) = absolute(ws, &p.path, &compact(module)) else {
                            continue;
                        };
                        if let Some(&t) = map.get(&(abs, compact(name))) {
                            for m in &p.names {
                                added.push((m.clone(), b.name.clone(), t, p.path.clone()));
                            }
                        }
                    }
                }
                for b in &p.module {
                    if let BindingKind::StarImport { module } = &b.kind {
                        let Some(abs) = absolute(ws, &p.path, &compact(module)) else {
                            continue;
                        };
                        for ((m, a), &t) in &map {
                            if *m == abs && !a.starts_with('_') {
                                for own in &p.names {
                                    added.push((own.clone(), a.clone(), t, p.path.clone()));
                                }
                            }
                        }
                    }
                }
            }
            let mut changed = false;
            for (m, a, t, path) in added {
                if let std::collections::hash_map::Entry::Vacant(e) = map.entry((m, a.clone())) {
                    e.insert(t);
                    changed = true;
                    let ex = exports.entry(path).or_default();
                    if !ex.contains(&(a.clone(), t)) {
                        ex.push((a, t));
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let mut toplevel: HashMap<String, HashSet<String>> = HashMap::new();
        for t in targets {
            let Some(p) = parsed.values().find(|p| p.path == t.path) else {
                continue;
            };
            let names: HashSet<String> = p.module.iter().map(|b| b.name.clone()).collect();
            for m in ws.project.module_names(&t.path) {
                toplevel.insert(m, names.clone());
            }
        }
        let mut prefixes = HashSet::new();
        for (m, _) in map.keys() {
            let parts: Vec<&str> = m.split('.').collect();
            for k in 1..=parts.len() {
                prefixes.insert(parts[..k].join("."));
            }
        }
        Sources {
            map,
            prefixes,
            exports,
            toplevel,
        }
    }
}

/// The absolute module name of an import's module text (`.settings`, `..config`, `a.b`).
fn absolute(ws: &Workspace, file: &Path, module: &str) -> Option<String> {
    let level = module.chars().take_while(|c| *c == '.').count();
    if level == 0 {
        return Some(module.to_owned());
    }
    ws.project.absolute_name(file, level, &module[level..])
}

/// Is the expression at `node` evaluated while its module is imported?
fn is_eager(node: Node<'_>, text: &str) -> bool {
    let mut child = node;
    while let Some(p) = child.parent() {
        match kind_of(p) {
            "function_definition" | "lambda" if p.child_by_field_name("body") == Some(child) => {
                return false
            }
            "if_statement" if p.child_by_field_name("consequence") == Some(child) => {
                let cond = p
                    .child_by_field_name("condition")
                    .map_or("", |c| node_text(c, text));
                if (cond.contains("__name__") && cond.contains("__main__"))
                    || cond.trim() == "TYPE_CHECKING"
                    || cond.trim() == "typing.TYPE_CHECKING"
                {
                    return false;
                }
            }
            "module" => return true,
            _ => {}
        }
        child = p;
    }
    true
}

/// Is the attribute node `node` written to (assigned, augmented, deleted)?
fn is_written(node: Node<'_>) -> bool {
    let mut child = node;
    while let Some(p) = child.parent() {
        match kind_of(p) {
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "tuple"
            | "list"
            | "parenthesized_expression"
            | "list_splat_pattern"
            | "expression_list" => {}
            "assignment" | "augmented_assignment" | "for_statement" => {
                return p.child_by_field_name("left") == Some(child)
            }
            "delete_statement" => return true,
            _ => return false,
        }
        child = p;
    }
    false
}

/// The whole lines of `range`: from its line's start to after its last line's newline.
fn whole_lines(text: &str, range: Range<usize>) -> Range<usize> {
    let start = imports::line_start(text, range.start);
    start..line_end(text, range.end)
}

/// Offset after the newline ending the line that holds `offset` (or the text's end).
fn line_end(text: &str, offset: usize) -> usize {
    text[offset..]
        .find('\n')
        .map_or(text.len(), |i| offset + i + 1)
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Blank lines just before `offset` (a line start).
fn blank_lines_before(text: &str, offset: usize) -> usize {
    let mut lines: Vec<&str> = text[..offset].split('\n').collect();
    lines.pop(); // the empty piece after the last newline
    lines.iter().rev().take_while(|l| is_blank(l)).count()
}

/// Blank lines from `offset` (a line start) on, and whether code follows them.
fn blank_lines_after(text: &str, offset: usize) -> (usize, bool) {
    let rest = &text[offset..];
    let mut n = 0;
    for line in rest.split_inclusive('\n') {
        if is_blank(line) {
            n += 1;
        } else {
            return (n, true);
        }
    }
    (n, false)
}

/// Byte length of the first `n` lines from `offset`.
fn lines_len(text: &str, offset: usize, n: usize) -> usize {
    text[offset..]
        .split_inclusive('\n')
        .take(n)
        .map(str::len)
        .sum()
}

/// The indentation unit of the file: that of the first indented block, else 4 spaces.
fn indent_unit(tree: &Tree, text: &str) -> String {
    let root = tree.root_node();
    let mut c = root.walk();
    for top in root.named_children(&mut c) {
        let def = if kind_of(top) == "decorated_definition" {
            top.child_by_field_name("definition")
        } else {
            Some(top)
        };
        let Some(body) = def.and_then(|d| d.child_by_field_name("body")) else {
            continue;
        };
        if let Some(first) = body.named_child(0) {
            let ls = imports::line_start(text, first.start_byte());
            let indent = &text[ls..first.start_byte()];
            if !indent.is_empty() && indent.chars().all(|c| c == ' ' || c == '\t') {
                return indent.to_owned();
            }
        }
    }
    "    ".to_owned()
}

/// `text` (a node's source, first line unindented) with `indent` added to each further
/// line, unless a string spans lines (its content must not change).
fn reindent(node: Node<'_>, text: &str, indent: &str, newline: &str) -> String {
    let src = node_text(node, text);
    let mut has_multiline_string = false;
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if kind_of(n) == "string" && node_text(n, text).contains('\n') {
            has_multiline_string = true;
            break;
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    if has_multiline_string || !src.contains('\n') {
        return src.to_owned();
    }
    let _ = newline;
    src.split('\n')
        .enumerate()
        .map(|(i, l)| {
            if i == 0 || l.trim().is_empty() {
                l.to_owned()
            } else {
                format!("{indent}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl LazySettings {
    /// The instances of one module (or the reasons one is refused).
    fn detect(
        &self,
        ws: &Workspace,
        path: &Path,
        text: &str,
        recipe: &str,
        modules: &ModuleCache,
    ) -> Vec<Result<Target, Finding>> {
        // Module level whole, and of the functions only those that name a possible
        // instance or what builds it (a getter that returns it, a factory the
        // assignment calls); a file that defines one must parse whole (checked below).
        let b = text.as_bytes();
        let mut anchors: Vec<usize> = assign_calls(text)
            .flat_map(|(name, call)| [name, call])
            .collect::<HashSet<&str>>()
            .into_iter()
            .flat_map(|w| memchr::memmem::find_iter(b, w.as_bytes()))
            .collect();
        anchors.sort_unstable();
        let focus = Focus {
            anchors,
            words: HashSet::new(),
            keep: crate::outline::Keep::Whole,
            bindings_only: false,
        };
        let Some(tree) = parse::parse_focused(text, &focus) else {
            return Vec::new();
        };
        if parse::first_error(&tree).is_some() {
            return Vec::new();
        }
        let out = self.detect_in(ws, path, text, &tree, recipe, modules);
        if !out.is_empty() && parse::parse(text).is_none_or(|t| parse::first_error(&t).is_some()) {
            return Vec::new();
        }
        out
    }

    /// [`Self::detect`] on a tree of `text` that holds its module level and the
    /// functions that may return or build an instance.
    fn detect_in(
        &self,
        ws: &Workspace,
        path: &Path,
        text: &str,
        tree: &Tree,
        recipe: &str,
        modules: &ModuleCache,
    ) -> Vec<Result<Target, Finding>> {
        if crate::suppress::file_ignored(text, recipe) {
            return Vec::new();
        }
        let root = tree.root_node();
        let (classes, imported) = top_classes_and_imports(tree, text);
        let mut candidates = Vec::new();
        let mut functions = Vec::new();
        let mut c = root.walk();
        for top in root.named_children(&mut c) {
            let def = if kind_of(top) == "decorated_definition" {
                top.child_by_field_name("definition")
            } else {
                Some(top)
            };
            if def.is_some_and(|d| kind_of(d) == "function_definition") {
                functions.push(top);
            } else if kind_of(top) == "expression_statement" {
                candidates.push(top);
            }
        }
        let mut out = Vec::new();
        let mut found: Vec<Target> = Vec::new();
        // An instance a suppression comment covers is left as it is, and its uses with it.
        let suppressed = crate::suppress::Suppressions::read(text, tree);
        for stmt in candidates {
            if suppressed.covers(recipe, stmt.start_position().row + 1) {
                continue;
            }
            let Some(assign) = stmt.named_child(0).filter(|a| kind_of(a) == "assignment") else {
                continue;
            };
            if stmt.named_child_count() != 1 {
                continue;
            }
            let (Some(left), Some(right)) = (
                assign.child_by_field_name("left"),
                assign.child_by_field_name("right"),
            ) else {
                continue;
            };
            if kind_of(left) != "identifier" || kind_of(right) != "call" {
                continue;
            }
            let Some(func) = right
                .child_by_field_name("function")
                .filter(|f| kind_of(f) == "identifier")
            else {
                continue;
            };
            let name = node_text(left, text);
            let class = node_text(func, text);
            if !self.instance.is_match(name) {
                continue;
            }
            // `settings = get_settings()`: a function of the module that builds them.
            let factory = functions.iter().find_map(|f| {
                let e = factory_getter(*f, text, name)?;
                let returns = e.return_type.as_deref().unwrap_or("");
                let returns = returns.trim_matches(|c| c == '"' || c == '\'');
                let built = e.builds.as_deref().unwrap_or("");
                let settings = |c: &str| {
                    (classes.contains_key(c) || imported.contains_key(c))
                        && self.is_settings_class(ws, path, c, (&classes, &imported), 0, modules)
                };
                (e.name == class
                    && node_text(right, text).ends_with("()")
                    && (settings(returns) || settings(built)))
                .then_some(e)
            });
            if factory.is_none() {
                if !(classes.contains_key(class) || imported.contains_key(class)) {
                    continue;
                }
                if !self.is_settings_class(ws, path, class, (&classes, &imported), 0, modules) {
                    continue;
                }
            }
            // One statement per line: the getter replaces whole lines.
            let ls = imports::line_start(text, stmt.start_byte());
            let after = &text[stmt.end_byte()..line_end(text, stmt.end_byte())];
            let after = after.trim();
            if !text[ls..stmt.start_byte()].trim().is_empty()
                || !(after.is_empty() || after.starts_with('#'))
            {
                out.push(Err(finding(
                    path,
                    text,
                    stmt.start_byte(),
                    Severity::Error,
                    recipe,
                    format!(
                        "cannot make `{name}` lazy: its assignment shares the line with another statement; put it on a line of its own and run again"
                    ),
                )));
                continue;
            }
            let existing = factory.or_else(|| {
                functions
                    .iter()
                    .find_map(|f| existing_getter(*f, text, name))
            });
            found.push(Target {
                path: path.to_path_buf(),
                name: name.to_owned(),
                returns: assign
                    .child_by_field_name("type")
                    .map_or(class, |t| node_text(t, text))
                    .to_owned(),
                getter: existing
                    .as_ref()
                    .map_or_else(|| self.getter.clone(), |e| e.name.clone()),
                stmt: stmt.byte_range(),
                call: right.byte_range(),
                existing,
            });
        }
        // Several instances of one module (`settings` and `test_settings`): each gets a
        // getter named after it, `get_NAME`, rather than all sharing `getter`.
        let mut shared: HashMap<String, usize> = HashMap::new();
        for t in &found {
            *shared.entry(t.getter.clone()).or_default() += 1;
        }
        for t in &mut found {
            if shared[&t.getter] > 1 && t.existing.is_none() {
                t.getter = format!("get_{}", t.name.trim_start_matches('_'));
            }
        }
        // The new getter never shadows a name the module already binds (an import of
        // another `get_settings`, a function, an assignment): it is named after its
        // instance instead (`get_NAME`), or refused when that name is bound too. An
        // existing getter that is reused keeps its own name (it is the binding).
        let model = crate::semantic::build(tree, text);
        // A name a star import of a project module brings in counts as bound too: a
        // getter defined after it would shadow it (and one made lazy before this run
        // would make a second run rename or refuse what the first left).
        let star_binds = |g: &str| -> Option<(usize, String)> {
            model.bindings_in(0, "*").find_map(|b| {
                let crate::semantic::BindingKind::StarImport { module } = &b.kind else {
                    return None;
                };
                let abs = absolute(ws, path, &compact(module))?;
                let file = ws.project.resolve(&abs, Some(path))?;
                let theirs = modules.star_names(ws, &file)?;
                theirs.contains(g).then(|| {
                    (
                        b.start,
                        format!("a name the star import of `{abs}` brings in"),
                    )
                })
            })
        };
        let bound_at = |g: &str| model.bindings_in(0, g).next().map(|b| b.start);
        let bound = |g: &str| -> Option<(usize, String)> {
            bound_at(g)
                .map(|at| (at, describe_binding(&model, text, g, at)))
                .or_else(|| star_binds(g))
        };
        let mut renamed: Vec<Finding> = Vec::new();
        let chosen: Vec<String> = found.iter().map(|t| t.getter.clone()).collect();
        for (i, t) in found.iter_mut().enumerate() {
            if t.existing.is_some() {
                continue;
            }
            let Some((at, what)) = bound(&t.getter) else {
                continue;
            };
            let alt = format!("get_{}", t.name.trim_start_matches('_'));
            let alt_free = alt != t.getter
                && bound(&alt).is_none()
                && chosen.iter().enumerate().all(|(j, g)| j == i || *g != alt);
            if alt_free {
                renamed.push(finding(
                    path,
                    text,
                    t.stmt.start,
                    Severity::Note,
                    recipe,
                    format!(
                        "the getter of `{}` is named `{alt}`: `{}` already names {what} at line {} of this module",
                        t.name,
                        t.getter,
                        line_of(text, at)
                    ),
                ));
                t.getter = alt;
            } else {
                let also = if alt == t.getter {
                    String::new()
                } else {
                    format!(", and `{alt}` is taken too")
                };
                renamed.push(finding(
                    path,
                    text,
                    at,
                    Severity::Error,
                    recipe,
                    format!(
                        "cannot make `{}` lazy: its getter `{}` would shadow {what} at line {} of this module{also}; choose the getter's name with `--set getter=NAME`",
                        t.name,
                        t.getter,
                        line_of(text, at)
                    ),
                ));
                t.getter = String::new();
            }
        }
        // Notes and refusals go out as findings alike (`Err` carries a finding).
        out.extend(renamed.into_iter().map(Err));
        found.retain(|t| !t.getter.is_empty());
        // Two instances of one module cannot share a getter name.
        let mut by_getter: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, t) in found.iter().enumerate() {
            by_getter.entry(t.getter.clone()).or_default().push(i);
        }
        for (i, t) in found.into_iter().enumerate() {
            let same = &by_getter[&t.getter];
            if same.len() > 1 {
                out.push(Err(finding(
                    path,
                    text,
                    t.stmt.start,
                    Severity::Error,
                    recipe,
                    format!(
                        "cannot make `{}` lazy: this module builds {} settings instances that would all get the getter `{}`; choose one with `--set instance=REGEX` (and name its getter with `--set getter=NAME`)",
                        t.name,
                        same.len(),
                        t.getter
                    ),
                )));
                let _ = i;
                continue;
            }
            out.push(Ok(t));
        }
        out
    }

    /// Does the class bound to `name` in this module count as settings?
    fn is_settings_class(
        &self,
        ws: &Workspace,
        path: &Path,
        name: &str,
        (classes, imported): (&Classes, &Imported),
        depth: usize,
        modules: &ModuleCache,
    ) -> bool {
        if depth > 4 {
            return false;
        }
        if self.class.is_match(name) {
            return true;
        }
        if let Some(bases) = classes.get(name) {
            return bases.iter().any(|b| {
                let b = b.split('[').next().unwrap_or(b).trim();
                let last = b.rsplit('.').next().unwrap_or(b);
                last == "BaseSettings"
                    || (b != name
                        && (classes.contains_key(b) || imported.contains_key(b))
                        && self.is_settings_class(
                            ws,
                            path,
                            b,
                            (classes, imported),
                            depth + 1,
                            modules,
                        ))
            });
        }
        if let Some((module, orig)) = imported.get(name) {
            if self.class.is_match(orig) {
                return true;
            }
            if orig == "BaseSettings" {
                return false;
            }
            // A class from another module of the project: look at its bases there.
            let Some(abs) = absolute(ws, path, module) else {
                return false;
            };
            let Some(file) = ws.project.resolve(&abs, Some(path)) else {
                return false;
            };
            let Some(other) = modules.get(ws, &file) else {
                return false;
            };
            let (classes2, imported2) = &*other;
            return classes2.contains_key(orig.as_str())
                && self.is_settings_class(
                    ws,
                    &file,
                    orig,
                    (classes2, imported2),
                    depth + 1,
                    modules,
                );
        }
        false
    }

    /// Every use of every instance in one file, and the getter itself in its module.
    fn analyze(
        &self,
        ws: &Workspace,
        p: &Parsed,
        targets: &[Target],
        sources: &Sources,
        recipe: &str,
    ) -> FileReport {
        let text: &str = &p.text;
        let newline = newline_of(text);
        let model = &p.model;
        let mut report = FileReport::default();
        let own: Vec<usize> = targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.path == p.path)
            .map(|(i, _)| i)
            .collect();
        let refuse = |report: &mut FileReport, t: usize, offset: usize, msg: String| {
            report.refusals.push((
                t,
                finding(
                    &p.path,
                    text,
                    offset,
                    Severity::Error,
                    recipe,
                    format!("cannot make `{}` lazy: {msg}", targets[t].name),
                ),
            ));
        };

        // What each binding of the file refers to.
        let classify = |b: &Binding| -> Kind {
            match &b.kind {
                BindingKind::FromImport { module, name: orig } => {
                    let Some(abs) = absolute(ws, &p.path, &compact(module)) else {
                        return Kind::Other;
                    };
                    let orig = compact(orig);
                    if let Some(&t) = sources.map.get(&(abs.clone(), orig.clone())) {
                        return Kind::Instance(t);
                    }
                    let d = format!("{abs}.{orig}");
                    if sources.prefixes.contains(&d) {
                        Kind::Module(d)
                    } else {
                        Kind::Other
                    }
                }
                // `import a.b.c` stands for `a`, `import a.b as m` for `a.b`.
                BindingKind::Import { module, .. } => {
                    let d = compact(module);
                    if sources.prefixes.contains(&d) {
                        Kind::Module(d)
                    } else {
                        Kind::Other
                    }
                }
                BindingKind::Assignment => own
                    .iter()
                    .find(|&&t| targets[t].name == b.name && targets[t].stmt.start == b.statement.0)
                    .map_or(Kind::Other, |&t| Kind::Instance(t)),
                _ => Kind::Other,
            }
        };
        // Names a star import brings in as an instance, at module level.
        let mut star: HashMap<String, (usize, usize)> = HashMap::new();
        for b in p.bindings(0, "*") {
            if let BindingKind::StarImport { module } = &b.kind {
                if let Some(abs) = absolute(ws, &p.path, &compact(module)) {
                    for ((m, a), &t) in &sources.map {
                        if *m == abs && !a.starts_with('_') {
                            star.insert(a.clone(), (t, b.statement.0));
                        }
                    }
                }
            }
        }

        // Scope by scope: a name bound to an instance must be bound to nothing else there,
        // and the getter's name must be free where it will be imported or defined.
        let mut interesting: HashSet<String> = star.keys().cloned().collect();
        let mut instance_scopes: HashMap<(ScopeId, String), usize> = HashMap::new();
        for (&scope_id, names) in &p.bound {
            for name in names.keys() {
                if name == "*" {
                    continue;
                }
                let bindings: Vec<&Binding> = p.bindings(scope_id, name).collect();
                let kinds: Vec<Kind> = bindings.iter().map(|b| classify(b)).collect();
                let star_here = (scope_id == 0).then(|| star.get(name)).flatten();
                let inst = kinds
                    .iter()
                    .find_map(|k| match k {
                        Kind::Instance(t) => Some(*t),
                        _ => None,
                    })
                    .or(star_here.map(|s| s.0));
                if kinds.iter().any(|k| matches!(k, Kind::Module(_))) {
                    interesting.insert(name.clone());
                }
                let Some(t) = inst else {
                    continue;
                };
                interesting.insert(name.clone());
                instance_scopes.insert((scope_id, name.clone()), t);
                // Every instance the name is bound to here (its own and an imported
                // one, say), each refused when the name is bound to anything else too.
                let mut others: Vec<usize> = kinds
                    .iter()
                    .filter_map(|k| match k {
                        Kind::Instance(o) if *o != t => Some(*o),
                        _ => None,
                    })
                    .collect();
                others.dedup();
                for t in std::iter::once(t).chain(others) {
                    let Some(b) = kinds
                        .iter()
                        .zip(&bindings)
                        .find_map(|(k, b)| (*k != Kind::Instance(t)).then_some(*b))
                    else {
                        continue;
                    };
                    let line = line_of(text, b.start);
                    let msg = if targets[t].path == p.path {
                        format!(
                            "the module binds `{name}` again at line {line}, so the instance is not the only value of the name; make that code use a getter by hand, or exclude the instance with `--set instance=REGEX`"
                        )
                    } else {
                        format!(
                            "`{name}` is bound to the settings instance and also bound at line {line} of this file; rename one of them and run again"
                        )
                    };
                    refuse(&mut report, t, b.start, msg);
                }
                if kinds.iter().any(|k| *k != Kind::Instance(t)) {
                    continue;
                }
            }
        }
        for (name, (t, _)) in &star {
            instance_scopes.entry((0, name.clone())).or_insert(*t);
        }
        // The getter's name in each scope that binds an instance: its own name, or, where
        // that name is taken (a function of the file, another instance's getter), an alias
        // for an imported instance: `get_ALIAS` for `import settings as ALIAS`, else
        // `_GETTER`.
        let mut local_getter: HashMap<(ScopeId, String), String> = HashMap::new();
        let mut order: Vec<(ScopeId, String, usize, usize, bool)> = instance_scopes
            .iter()
            .map(|((scope_id, name), &t)| {
                let bindings: Vec<&Binding> = p.bindings(*scope_id, name).collect();
                let start = bindings.first().map_or(0, |b| b.start);
                let imported = !bindings.is_empty()
                    && bindings
                        .iter()
                        .all(|b| matches!(b.kind, BindingKind::FromImport { .. }));
                (*scope_id, name.clone(), t, start, imported)
            })
            .collect();
        // Instances that cannot take an alias choose first.
        order.sort_by_key(|(scope_id, name, _, start, imported)| {
            (*imported, *scope_id, *start, name.clone())
        });
        let bound_otherwise = |scope_id: ScopeId, t: usize, cand: &str| -> Option<usize> {
            p.bindings(scope_id, cand)
                .find(|b| !match &b.kind {
                    // The getter imported already, from the instance's module or one
                    // that re-exports it; a `get_settings` from elsewhere is a clash.
                    BindingKind::FromImport { module, name } => {
                        compact(name) == targets[t].getter
                            && absolute(ws, &p.path, &compact(module)).is_some_and(|abs| {
                                sources.map.iter().any(|((m, _), &o)| o == t && *m == abs)
                            })
                    }
                    BindingKind::Function | BindingKind::Class => targets[t]
                        .existing
                        .as_ref()
                        .is_some_and(|e| e.def.contains(&b.start)),
                    _ => false,
                })
                .map(|b| b.start)
        };
        for (scope_id, name, t, start, imported) in &order {
            let g = &targets[*t].getter;
            let used_by_other = |cand: &str| {
                local_getter.iter().any(|((s, n), l)| {
                    *s == *scope_id && l == cand && instance_scopes[&(*s, n.clone())] != *t
                })
            };
            let free =
                |cand: &str| bound_otherwise(*scope_id, *t, cand).is_none() && !used_by_other(cand);
            if free(g) {
                local_getter.insert((*scope_id, name.clone()), g.clone());
                continue;
            }
            let alias = if name == &targets[*t].name {
                format!("_{g}")
            } else {
                format!("get_{}", name.trim_start_matches('_'))
            };
            if *imported && alias != *g && free(&alias) {
                local_getter.insert((*scope_id, name.clone()), alias);
                continue;
            }
            let in_own = targets[*t].path == p.path;
            if let Some(at) = bound_otherwise(*scope_id, *t, g) {
                refuse(
                    &mut report,
                    *t,
                    at,
                    if in_own {
                        format!(
                            "`{g}` already names something else at line {}; choose the getter's name with `--set getter=NAME`",
                            line_of(text, at)
                        )
                    } else {
                        format!(
                            "`{g}` already names something else at line {} of this file, where the getter would be imported; rename it or choose the getter's name with `--set getter=NAME`",
                            line_of(text, at)
                        )
                    },
                );
            } else {
                let others: BTreeSet<String> = local_getter
                    .iter()
                    .filter(|((s, _), l)| *s == *scope_id && *l == g)
                    .map(|((s, n), _)| {
                        format!(
                            "`{}`",
                            targets[instance_scopes[&(*s, n.clone())]].path.display()
                        )
                    })
                    .collect();
                refuse(
                    &mut report,
                    *t,
                    *start,
                    format!(
                        "this file uses the settings instances of `{}` and {}, whose getters would all be named `{g}` here; import one of them under another name (`import {} as OTHER`) and run again",
                        targets[*t].path.display(),
                        others.into_iter().collect::<Vec<_>>().join(" and "),
                        targets[*t].name,
                    ),
                );
            }
        }
        // A star-imported instance: the getter comes in by the same star import.
        for (name, (t, at)) in &star {
            let g = &targets[*t].getter;
            if let Some(b) = p.bindings(0, g).next() {
                refuse(
                    &mut report,
                    *t,
                    b.start,
                    format!(
                        "`{name}` comes from a star import at line {}, but `{g}` is bound at line {} too; rename it and run again",
                        line_of(text, *at),
                        line_of(text, b.start)
                    ),
                );
            }
        }

        let nodes = all_nodes(&p.tree);
        // The reads of the file, by where they start.
        let reads: HashMap<usize, &Reference> =
            model.references.iter().map(|r| (r.start, r)).collect();
        let read_at = |node: Node<'_>| {
            reads
                .get(&node.start_byte())
                .copied()
                .filter(|r| r.end == node.end_byte())
        };
        let skip: Vec<(usize, Range<usize>)> = own
            .iter()
            .flat_map(|&t| {
                let mut v = vec![(t, targets[t].stmt.clone())];
                if let Some(e) = &targets[t].existing {
                    v.push((t, e.def.clone()));
                }
                v
            })
            .collect();
        let mut eager_in_own: Vec<(usize, usize)> = Vec::new();

        // Uses: bare names and attribute chains through modules.
        for &node in &nodes {
            if kind_of(node) != "identifier" {
                continue;
            }
            if !interesting.contains(node_text(node, text)) {
                continue;
            }
            let Some(read) = read_at(node) else {
                continue;
            };
            // A value pattern (`case settings.X:`) reads the name, but no call can
            // stand in a pattern (see below: refused when it reads an instance).
            let in_pattern = node.parent().is_some_and(|p| kind_of(p) == "dotted_name");
            let name = read.name.as_str();
            // The scope whose binding of the name this read sees.
            let home = model.resolve(read);
            let mut kinds: Vec<Kind> = p.bindings(home, name).map(classify).collect();
            if home == 0 {
                if let Some((t, _)) = star.get(name) {
                    kinds.push(Kind::Instance(*t));
                }
            }
            let Some(first) = kinds.first().cloned() else {
                continue;
            };
            if kinds.iter().any(|k| *k != first) {
                continue; // refused above, or a name that is not only a module
            }
            if in_pattern {
                if let Kind::Instance(t) = first {
                    let pattern = node.parent().map_or(name, |p| node_text(p, text));
                    refuse(
                        &mut report,
                        t,
                        node.start_byte(),
                        format!(
                            "`case {pattern}:` reads the settings instance, and no call can stand in a pattern; read the value before the `match` and compare it in a guard (`case _ if ... == value:`), then run again"
                        ),
                    );
                }
                continue;
            }
            let (t, use_node, replaced) = match first {
                Kind::Instance(t) => (t, node, node),
                Kind::Module(d) => {
                    let mut prefix = d;
                    let mut cur = node;
                    let mut hit = None;
                    while let Some(parent) = cur.parent() {
                        if kind_of(parent) != "attribute"
                            || parent.child_by_field_name("object") != Some(cur)
                        {
                            break;
                        }
                        let Some(attr) = parent.child_by_field_name("attribute") else {
                            break;
                        };
                        let attr_name = node_text(attr, text);
                        if let Some(&t) = sources.map.get(&(prefix.clone(), attr_name.to_owned())) {
                            hit = Some((t, parent, attr));
                            break;
                        }
                        prefix = format!("{prefix}.{attr_name}");
                        cur = parent;
                    }
                    let Some((t, whole, attr)) = hit else {
                        continue;
                    };
                    if is_written(whole) {
                        refuse(
                            &mut report,
                            t,
                            whole.start_byte(),
                            format!(
                                "`{}` is assigned here, from outside its module; change that code to patch the settings' attributes (or the getter) and run again",
                                node_text(whole, text)
                            ),
                        );
                        continue;
                    }
                    (t, whole, attr)
                }
                Kind::Other => continue,
            };
            let target = &targets[t];
            if skip
                .iter()
                .any(|(st, r)| *st == t && r.contains(&replaced.start_byte()))
            {
                continue;
            }
            // The getter's name here: that of the scope binding the instance's name.
            let getter = if replaced == node {
                local_getter
                    .get(&(home, name.to_owned()))
                    .unwrap_or(&target.getter)
            } else {
                &target.getter
            };
            // The getter must be visible at the use: not shadowed by a nearer binding.
            let seen = model.lookup(read.scope, getter, read.start);
            if replaced == node
                && seen != home
                && seen != 0
                && p.bindings(seen, getter).next().is_some()
            {
                let at = scope_node(&p.tree, &model.scopes[seen])
                    .map_or(model.scopes[seen].start, |n| n.start_byte());
                refuse(
                    &mut report,
                    t,
                    at,
                    format!(
                        "`{getter}` is a local name in the function at line {}, where `{name}` is used; rename it and run again",
                        line_of(text, at)
                    ),
                );
                continue;
            }
            report.edits.push((
                t,
                Edit::replace(replaced.byte_range(), format!("{getter}()"), recipe),
            ));
            if is_eager(use_node, text) {
                let stmt = statement_of(use_node);
                let (line, _) = line_col(text, use_node.start_byte());
                if target.path == p.path {
                    eager_in_own.push((t, stmt.start_byte()));
                }
                let stmt_node = statement_of(use_node);
                let (sr, rr) = (stmt_node.byte_range(), replaced.byte_range());
                let after = format!(
                    "{}{getter}(){}",
                    &text[sr.start..rr.start],
                    &text[rr.end..sr.end]
                );
                report.eager.push((
                    t,
                    delivery::EagerUse {
                        path: p.path.clone(),
                        offset: use_node.start_byte(),
                        line,
                        column: line_col(text, use_node.start_byte()).1,
                        shown: snippet_of(&after),
                    },
                ));
                let shown = crate::output::display_path(&p.path);
                report.notes.push((
                    t,
                    finding(
                        &p.path,
                        text,
                        use_node.start_byte(),
                        Severity::Note,
                        recipe,
                        format!(
                            "eager use at import time: {}:{line}: `{}` runs while the module is imported and still builds the settings then; move it into a function to defer it",
                            shown.display(),
                            snippet(statement_of(use_node), text)
                        ),
                    ),
                ));
            }
        }

        if self.lazy_constants {
            self.lazy_constants_in(p, &own, newline, recipe, &mut report);
        }

        // Imports of an instance import the getter instead.
        let mut replaced_in_stmt: HashMap<usize, Vec<String>> = HashMap::new();
        let mut imported_once: HashSet<(usize, String, String)> = HashSet::new();
        let mut from_bindings: Vec<&Binding> = model
            .bindings
            .iter()
            .filter(|b| matches!(b.kind, BindingKind::FromImport { .. }))
            .collect();
        from_bindings.sort_by_key(|b| b.start);
        for b in from_bindings {
            let Kind::Instance(t) = classify(b) else {
                continue;
            };
            let scope_id = model.binding_scope(b);
            let name = b.name.as_str();
            let Some(ident) = p
                .tree
                .root_node()
                .descendant_for_byte_range(b.start, b.end)
                .filter(|n| kind_of(n) == "identifier")
            else {
                continue;
            };
            let Some(clause) = ident.parent() else {
                continue;
            };
            let Some(stmt) = clause.parent() else {
                continue;
            };
            let g = &targets[t].getter;
            let local = local_getter.get(&(scope_id, name.to_owned())).unwrap_or(g);
            let new_clause = if local == g {
                g.clone()
            } else {
                format!("{g} as {local}")
            };
            let mut c = stmt.walk();
            let already = stmt
                .children_by_field_name("name", &mut c)
                .any(|n| squash_spaces(node_text(n, text)) == squash_spaces(&new_clause));
            let module = stmt
                .child_by_field_name("module_name")
                .map_or("", |m| node_text(m, text));
            let key = (b.scope, module.to_owned(), new_clause.clone());
            let single = stmt.named_child_count() == 2;
            let done = replaced_in_stmt.entry(stmt.id()).or_default();
            if already || done.contains(&new_clause) {
                report
                    .edits
                    .push((t, Edit::delete(clause_with_comma(clause), recipe)));
            } else if single && !imported_once.insert(key) && removable(stmt, text) {
                // The same import of the getter is already made above.
                report.edits.push((
                    t,
                    Edit::delete(whole_lines(text, stmt.byte_range()), recipe),
                ));
            } else {
                done.push(new_clause.clone());
                report
                    .edits
                    .push((t, Edit::replace(clause.byte_range(), new_clause, recipe)));
            }
        }

        // `global NAME` of an instance: the name is gone.
        for &node in &nodes {
            if kind_of(node) != "global_statement" {
                continue;
            }
            let mut c = node.walk();
            let names: Vec<Node<'_>> = node.named_children(&mut c).collect();
            for n in &names {
                let name = node_text(*n, text);
                let Some(t) = instance_scopes.get(&(0, name.to_owned())) else {
                    continue;
                };
                let e = if names.len() > 1 {
                    Edit::delete(clause_with_comma(*n), recipe)
                } else if node.parent().is_some_and(|b| b.named_child_count() > 1)
                    && text[imports::line_start(text, node.start_byte())..node.start_byte()]
                        .trim()
                        .is_empty()
                    && text[node.end_byte()..line_end(text, node.end_byte())]
                        .trim()
                        .is_empty()
                {
                    Edit::delete(whole_lines(text, node.byte_range()), recipe)
                } else {
                    Edit::replace(node.byte_range(), "pass", recipe)
                };
                report.edits.push((*t, e));
            }
        }

        // `__all__` of a module that exports an instance.
        if let Some(exported) = sources.exports.get(&p.path) {
            self.rewrite_all(p, exported, targets, &own, recipe, &mut report);
            // `compat` keeps the name in the instance's module only: a package that
            // re-exports it no longer has it (or has a submodule of that name instead).
            for (attr, t) in exported.iter().filter(|_| self.compat) {
                // Re-exporters: packages, and modules that list the name in `__all__`.
                let is_init = p.path.file_name().is_some_and(|f| f == "__init__.py");
                let in_all = p.bindings(0, "__all__").next().is_some()
                    && (text.contains(&format!("\"{attr}\""))
                        || text.contains(&format!("'{attr}'")));
                if own.contains(t) || !(is_init || in_all) {
                    continue;
                }
                let Some(b) = p.bindings(0, attr).next() else {
                    continue;
                };
                let here = ws.project.module_names(&p.path);
                let module = here.first().map_or("this module", String::as_str);
                let submodule = is_init
                    && p.path.parent().is_some_and(|d| {
                        d.join(format!("{attr}.py")).is_file() || d.join(attr).is_dir()
                    });
                let now = if submodule {
                    format!("`{module}.{attr}` will be the submodule `{module}.{attr}`, not the settings")
                } else {
                    format!("`{module}` will have no `{attr}`")
                };
                report.notes.push((
                    *t,
                    finding(
                        &p.path,
                        text,
                        b.start,
                        Severity::Warning,
                        recipe,
                        format!(
                            "`compat` keeps `{attr}` importable from its own module only: {now}; code outside the project that imports it from here must import `{}` instead",
                            targets[*t].getter
                        ),
                    ),
                ));
            }
        }

        // The dotted module an expression (`config`, `app.core.config`) refers to.
        let module_expr = |node: Node<'_>| -> Option<String> {
            let mut chain = Vec::new();
            let mut cur = node;
            while kind_of(cur) == "attribute" {
                chain.push(node_text(cur.child_by_field_name("attribute")?, text));
                cur = cur.child_by_field_name("object")?;
            }
            if kind_of(cur) != "identifier" {
                return None;
            }
            let read = read_at(cur)?;
            let mut module: Option<String> = None;
            for b in p.bindings(model.resolve(read), &read.name) {
                let Kind::Module(d) = classify(b) else {
                    return None;
                };
                if module.get_or_insert_with(|| d.clone()) != &d {
                    return None;
                }
            }
            let mut d = module?;
            for a in chain.iter().rev() {
                d = format!("{d}.{a}");
            }
            Some(d)
        };
        // String references that `mock.patch` and friends would no longer find.
        for &node in &nodes {
            if kind_of(node) != "string" {
                continue;
            }
            let mut c = node.walk();
            let contents: Vec<Node<'_>> = node
                .named_children(&mut c)
                .filter(|n| kind_of(n) != "string_start" && kind_of(n) != "string_end")
                .collect();
            let [content] = contents.as_slice() else {
                continue;
            };
            if kind_of(content) != "string_content" {
                continue;
            }
            let s = node_text(*content, text);
            let parts: Vec<&str> = s.split('.').collect();
            let hit = (1..parts.len()).find_map(|k| {
                let m = parts[..k].join(".");
                // `pkg.settings.Settings`, where `pkg.settings` is also the module that
                // defines the instance: a path through that module, not the instance.
                let module = parts[..=k].join(".");
                if parts.get(k + 1).is_some_and(|n| {
                    sources
                        .toplevel
                        .get(&module)
                        .is_some_and(|names| names.contains(*n))
                }) {
                    return None;
                }
                sources
                    .map
                    .get(&(m.clone(), parts[k].to_owned()))
                    .map(|&t| (t, m))
            });
            if let Some((t, m)) = hit {
                let g = &targets[t].getter;
                let rest = &parts[m.split('.').count() + 1..];
                let message = match patch_rewrite(node, text, model, &m, g, rest, recipe) {
                    Patch::Rewrite(needs_import, edits) => {
                        report.edits.extend(edits.into_iter().map(|e| (t, e)));
                        if needs_import {
                            report.needs_import.insert((t, m.clone()));
                        }
                        continue;
                    }
                    Patch::Kept(why) if !rest.is_empty() => {
                        let (obj, attr) = patch_object(&m, g, rest);
                        format!(
                            "the string `{s}` names the settings instance, which the rewrite replaces by `{m}.{g}()`; {why}, so the patch is kept: patch the field inside the test instead, `with patch.object({obj}, \"{attr}\", ...):` (with `import {m}`)"
                        )
                    }
                    Patch::Kept(_) | Patch::Other => format!(
                        "the string `{s}` names the settings instance, which the rewrite replaces by `{m}.{g}()`; a `mock.patch` of it needs changing by hand"
                    ),
                };
                report.notes.push((
                    t,
                    finding(
                        &p.path,
                        text,
                        node.start_byte(),
                        Severity::Warning,
                        recipe,
                        message,
                    ),
                ));
                continue;
            }
            // `setattr(config, "settings", ...)`, `monkeypatch.setattr(config, "settings",
            // ...)`, `patch.object(config, "settings")`: the module loses that attribute.
            let Some(prev) = node
                .prev_named_sibling()
                .filter(|_| node.parent().is_some_and(|a| kind_of(a) == "argument_list"))
            else {
                continue;
            };
            let Some(m) = module_expr(prev) else {
                continue;
            };
            if let Some(&t) = sources.map.get(&(m.clone(), s.to_owned())) {
                let g = &targets[t].getter;
                if let Some(edits) = patch_object_rewrite(node, text, model, g, recipe) {
                    report.edits.extend(edits.into_iter().map(|e| (t, e)));
                    continue;
                }
                report.notes.push((
                    t,
                    finding(
                        &p.path,
                        text,
                        node.start_byte(),
                        Severity::Warning,
                        recipe,
                        format!(
                            "`{}, {}` names the settings instance as an attribute of `{m}`, which the rewrite replaces by `{m}.{g}()`; patch the settings' fields instead (`monkeypatch.setattr({m}.{g}(), \"FIELD\", ...)`, `patch.object({m}.{g}(), \"FIELD\", ...)`) by hand",
                            node_text(prev, text),
                            node_text(node, text),
                        ),
                    ),
                ));
            }
        }

        // `compat` in a package `__init__` next to a submodule of the instance's name
        // (`pkg/__init__.py` binds `settings`, `pkg/settings.py` exists): once the
        // submodule is imported, `pkg.settings` is the submodule, set on the package
        // by the import system, and the module `__getattr__` is never asked; before
        // the rewrite the assignment rebound it. Refused: compat could not keep its
        // promise.
        let is_init = p.path.file_name().is_some_and(|f| f == "__init__.py");
        for &t in own.iter().filter(|_| self.compat && is_init) {
            let name = &targets[t].name;
            let Some(dir) = p.path.parent() else {
                continue;
            };
            let sub = if dir.join(format!("{name}.py")).is_file() {
                format!("{name}.py")
            } else if dir.join(name).is_dir() {
                format!("{name}/")
            } else {
                continue;
            };
            let module = ws.project.module_names(&p.path);
            let module = module.first().map_or("the package", String::as_str);
            refuse(
                &mut report,
                t,
                targets[t].stmt.start,
                format!(
                    "`compat` cannot keep `{module}.{name}` the settings: the package has a submodule `{sub}`, and once it is imported `{module}.{name}` names the submodule (the import system sets it on the package; a module `__getattr__` is never asked); run without `compat` (code outside the project then imports `{}`), or rename the submodule",
                    targets[t].getter
                ),
            );
        }

        // The getter itself.
        for &t in &own {
            let neighbours: Vec<Range<usize>> = own
                .iter()
                .filter(|&&o| o != t)
                .map(|&o| whole_lines(text, targets[o].stmt.clone()))
                .collect();
            match self.define_getter(
                t,
                &targets[t],
                p,
                newline,
                (&eager_in_own, &neighbours),
                recipe,
            ) {
                Ok((edits, functools)) => {
                    report.edits.extend(edits.into_iter().map(|e| (t, e)));
                    if functools {
                        report.needs_functools.insert(t);
                    }
                }
                Err((offset, msg)) => refuse(&mut report, t, offset, msg),
            }
        }
        report
    }

    fn rewrite_all(
        &self,
        p: &Parsed,
        exported: &[(String, usize)],
        targets: &[Target],
        own: &[usize],
        recipe: &str,
        report: &mut FileReport,
    ) {
        let text: &str = &p.text;
        let root = p.tree.root_node();
        let mut c = root.walk();
        for top in root.named_children(&mut c) {
            let Some(assign) = top
                .named_child(0)
                .filter(|a| matches!(kind_of(a), "assignment" | "augmented_assignment"))
            else {
                continue;
            };
            let (Some(left), Some(right)) = (
                assign.child_by_field_name("left"),
                assign.child_by_field_name("right"),
            ) else {
                continue;
            };
            if node_text(left, text) != "__all__" || !matches!(kind_of(right), "list" | "tuple") {
                continue;
            }
            let mut c = right.walk();
            let items: Vec<Node<'_>> = right.named_children(&mut c).collect();
            let value = |n: &Node<'_>| -> Option<String> {
                (kind_of(n) == "string").then(|| {
                    node_text(*n, text)
                        .trim_matches(|c| c == '"' || c == '\'')
                        .to_owned()
                })
            };
            let present: Vec<String> = items.iter().filter_map(value).collect();
            for item in &items {
                let Some(v) = value(item) else {
                    continue;
                };
                for (attr, t) in exported {
                    if *attr != v {
                        continue;
                    }
                    let g = &targets[*t].getter;
                    let src = node_text(*item, text);
                    let quote = if src.ends_with('\'') { "'" } else { "\"" };
                    let keep = self.compat && own.contains(t);
                    let e = if present.contains(g) {
                        if keep {
                            continue;
                        }
                        Edit::delete(clause_with_comma(*item), recipe)
                    } else if keep {
                        Edit::insert(item.end_byte(), format!(", {quote}{g}{quote}"), recipe)
                    } else {
                        Edit::replace(item.byte_range(), format!("{quote}{g}{quote}"), recipe)
                    };
                    report.edits.push((*t, e));
                }
            }
        }
    }

    /// Edits that turn the instance into a cached getter; `Err((offset, why))` refuses.
    /// The flag says whether `import functools` is needed.
    fn define_getter(
        &self,
        ti: usize,
        t: &Target,
        p: &Parsed,
        newline: &str,
        (eager_in_own, neighbours): (&[(usize, usize)], &[Range<usize>]),
        recipe: &str,
    ) -> Result<(Vec<Edit>, bool), (usize, String)> {
        let text: &str = &p.text;
        let unit = indent_unit(&p.tree, text);
        let root = p.tree.root_node();
        let call = root
            .descendant_for_byte_range(t.call.start, t.call.end)
            .filter(|n| n.byte_range() == t.call)
            .ok_or((
                t.call.start,
                "internal: the call was not found again".to_owned(),
            ))?;
        let mut edits = Vec::new();
        if self.compat {
            if let Some(b) = p.bindings(0, "__getattr__").next() {
                return Err((
                    b.start,
                    format!(
                        "`compat` adds a module `__getattr__`, but the module defines one at line {}; add `{}` to it by hand, or run without compat",
                        line_of(text, b.start),
                        t.name
                    ),
                ));
            }
        }
        let compat_block = self.compat.then(|| {
            [
                "def __getattr__(name: str) -> object:".to_owned(),
                format!(
                    "{unit}\"\"\"Keep `{}` importable for code outside the project (PEP 562).\"\"\"",
                    t.name
                ),
                format!("{unit}if name == \"{}\":", t.name),
                format!("{unit}{unit}return {}()", t.getter),
                format!(
                    "{unit}raise AttributeError(f\"module {{__name__!r}} has no attribute {{name!r}}\")"
                ),
            ]
            .join(newline)
        });
        // `from functools import lru_cache` already there: use it, else `functools.`.
        let lru: Vec<&Binding> = p.bindings(0, "lru_cache").collect();
        let imported_lru = !lru.is_empty()
            && lru.iter().all(|b| {
                matches!(&b.kind, BindingKind::FromImport { module, name } if module == "functools" && name == "lru_cache")
            });
        let (decorator, needs_import) = if imported_lru {
            ("@lru_cache(maxsize=None)".to_owned(), false)
        } else {
            ("@functools.lru_cache(maxsize=None)".to_owned(), true)
        };
        let docstring = |name: &str| {
            [
                "\"\"\"Return the settings, built on first use and then cached.".to_owned(),
                String::new(),
                format!("{unit}Building them at import time would read the environment too early."),
                format!("{unit}Tests can call `{name}.cache_clear()` to build them again."),
                format!("{unit}\"\"\""),
            ]
            .join(newline)
        };
        let stmt_lines = whole_lines(text, t.stmt.clone());
        // A block of top-level code placed after the line ending at `at`.
        let block_after = |at: usize, block: &str| -> Edit {
            let mut s = String::new();
            if at == text.len() && !text.ends_with('\n') {
                s.push_str(newline);
            }
            let (blanks, more) = blank_lines_after(text, at);
            s.push_str(newline);
            s.push_str(newline);
            s.push_str(block);
            s.push_str(newline);
            if more {
                for _ in blanks..2 {
                    s.push_str(newline);
                }
            }
            Edit::insert(at, s, recipe)
        };
        // After a getter that replaced the instance: the compat block, and two blank
        // lines before the code that follows.
        let after_getter = |end: usize| -> Edit {
            match &compat_block {
                Some(b) => block_after(end, b),
                None => {
                    let (blanks, more) = blank_lines_after(text, end);
                    let n = if more {
                        2usize.saturating_sub(blanks)
                    } else {
                        0
                    };
                    Edit::insert(end, newline.repeat(n), recipe)
                }
            }
        };
        let render =
            |decorators: &[String], name: &str, ret: &str, doc: &str, cached: bool| -> String {
                let mut lines: Vec<String> = decorators.to_vec();
                if !cached {
                    lines.push(decorator.clone());
                }
                lines.push(format!("def {name}() -> {ret}:"));
                lines.push(format!("{unit}{doc}"));
                lines.push(format!(
                    "{unit}return {}",
                    reindent(call, text, &unit, newline)
                ));
                lines.join(newline)
            };
        // Padding so that a new top-level definition is set off by two blank lines.
        let pad_before = |at: usize| -> String {
            if at == 0 {
                return String::new();
            }
            let prev_line_start = imports::line_start(text, at.saturating_sub(1));
            if text[prev_line_start..at].trim_start().starts_with('#') {
                return String::new(); // a comment that belongs to the statement
            }
            // Right after another instance that becomes a getter: that one pads.
            let mut code_end = at;
            while code_end > 0 {
                let ls = imports::line_start(text, code_end - 1);
                if !is_blank(&text[ls..code_end]) {
                    break;
                }
                code_end = ls;
            }
            if neighbours.iter().any(|r| r.end == code_end) {
                return String::new();
            }
            newline.repeat(2usize.saturating_sub(blank_lines_before(text, at)))
        };
        // Removes whole lines, keeping at most two blank lines where they were.
        let remove_lines = |r: Range<usize>| -> Edit {
            let before = if r.start == 0 {
                2
            } else {
                blank_lines_before(text, r.start)
            };
            let (after, more) = blank_lines_after(text, r.end);
            if !more && r.start > 0 {
                // Nothing follows: the blank lines before go too.
                let mut start = r.start;
                for _ in 0..before {
                    start = imports::line_start(text, start - 1);
                }
                return Edit::delete(start..text.len(), recipe);
            }
            let extra = (before + after).saturating_sub(2).min(after);
            Edit::delete(r.start..r.end + lines_len(text, r.end, extra), recipe)
        };

        let Some(e) = &t.existing else {
            let mut s = pad_before(stmt_lines.start);
            s.push_str(&render(
                &[],
                &t.getter,
                &t.returns,
                &docstring(&t.getter),
                false,
            ));
            edits.push(Edit::replace(t.stmt.clone(), s, recipe));
            edits.push(after_getter(stmt_lines.end));
            return Ok((edits, needs_import));
        };

        if e.factory {
            // The function already builds the settings: the instance just goes, and the
            // function is cached so that every use gets the same settings.
            edits.push(remove_lines(stmt_lines));
            if !e.cached {
                edits.push(Edit::insert(
                    imports::line_start(text, e.def_start),
                    format!("{decorator}{newline}"),
                    recipe,
                ));
            }
            let line = imports::line_start(text, e.body_first);
            let body_indent = &text[line..e.body_first];
            match &e.docstring {
                None => edits.push(Edit::insert(
                    e.body_first,
                    format!("{}{newline}{body_indent}", docstring(&e.name)),
                    recipe,
                )),
                Some(d) => {
                    if let Some(new) = extend_docstring(d, &e.name, body_indent, newline) {
                        edits.push(Edit::replace(
                            e.body_first..e.body_first + d.len(),
                            new,
                            recipe,
                        ));
                    }
                }
            }
            return Ok((edits, needs_import && !e.cached));
        }
        let after_assignment = e.def.start > t.stmt.end;
        let eager_between = eager_in_own
            .iter()
            .any(|(tt, at)| *tt == ti && *at > t.stmt.end && *at < e.def.start);
        if after_assignment && eager_between {
            // Module-level code between the instance and the function needs the getter
            // before the function is defined: the getter takes the instance's place.
            if e.has_comments {
                return Err((
                    e.def.start,
                    format!(
                        "`{}` would move to line {} (code above it uses `{}` at import time), but it holds comments; move it there by hand and run again",
                        e.name,
                        line_of(text, t.stmt.start),
                        t.name
                    ),
                ));
            }
            let doc = match &e.docstring {
                Some(d) => {
                    extend_docstring(d, &e.name, &unit, newline).unwrap_or_else(|| d.clone())
                }
                None => docstring(&e.name),
            };
            let ret = e.return_type.clone().unwrap_or_else(|| t.returns.clone());
            let mut s = pad_before(stmt_lines.start);
            s.push_str(&render(&e.decorators, &e.name, &ret, &doc, e.cached));
            edits.push(Edit::replace(t.stmt.clone(), s, recipe));
            edits.push(after_getter(stmt_lines.end));
            edits.push(remove_lines(whole_lines(text, e.def.clone())));
            return Ok((edits, needs_import && !e.cached));
        }
        // The function stays where it is and builds the settings itself.
        edits.push(remove_lines(stmt_lines));
        let ret_line = imports::line_start(text, e.ret_ident.start);
        let body_indent: String = text[ret_line..]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        edits.push(Edit::replace(
            e.ret_ident.clone(),
            reindent(call, text, &body_indent, newline),
            recipe,
        ));
        if !e.cached {
            edits.push(Edit::insert(
                imports::line_start(text, e.def_start),
                format!("{decorator}{newline}"),
                recipe,
            ));
        }
        match &e.docstring {
            None => edits.push(Edit::insert(
                e.body_first,
                format!("{}{newline}{body_indent}", docstring(&e.name)),
                recipe,
            )),
            Some(d) => {
                if let Some(new) = extend_docstring(d, &e.name, &body_indent, newline) {
                    edits.push(Edit::replace(
                        e.body_first..e.body_first + d.len(),
                        new,
                        recipe,
                    ));
                }
            }
        }
        if e.return_type.is_none() && after_assignment {
            edits.push(Edit::insert(
                e.params_end,
                format!(" -> {}", t.returns),
                recipe,
            ));
        }
        if let Some(b) = &compat_block {
            edits.push(block_after(line_end(text, e.def.end), b));
        }
        Ok((edits, needs_import && !e.cached))
    }
}

/// An existing triple-quoted docstring with a line about `cache_clear()` added.
fn extend_docstring(doc: &str, getter: &str, indent: &str, newline: &str) -> Option<String> {
    if doc.contains("cache_clear") {
        return None;
    }
    let delim = ["\"\"\"", "'''"]
        .into_iter()
        .find(|d| doc.ends_with(d) && doc.len() >= 6)?;
    let body = doc[..doc.len() - 3].trim_end();
    if body.ends_with('\\') || body.len() < 3 {
        return None;
    }
    Some(format!(
        "{body}{newline}{newline}{indent}Cached: tests can call `{getter}.cache_clear()` to build the settings again.{newline}{indent}{delim}"
    ))
}

/// `text` with its runs of whitespace made single spaces (`a as  b` is `a as b`).
fn squash_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first line of a statement, shortened, for messages.
fn snippet(stmt: Node<'_>, text: &str) -> String {
    snippet_of(node_text(stmt, text))
}

/// A statement's text for a message: its first line, at most 60 characters, ` ...` when
/// there is more.
fn snippet_of(s: &str) -> String {
    let first = s.lines().next().unwrap_or("").trim_end();
    let mut out: String = first.chars().take(60).collect();
    if out.len() < first.len() || s.lines().nth(1).is_some() {
        out.push_str(" ...");
    }
    out
}

/// Can statement `stmt` go as whole lines (alone on its lines, not alone in its block)?
fn removable(stmt: Node<'_>, text: &str) -> bool {
    let alone = text[imports::line_start(text, stmt.start_byte())..stmt.start_byte()]
        .trim()
        .is_empty()
        && text[stmt.end_byte()..line_end(text, stmt.end_byte())]
            .trim()
            .is_empty();
    alone
        && stmt.parent().is_some_and(|b| {
            let mut c = b.walk();
            b.named_children(&mut c)
                .filter(|n| kind_of(n) != "comment")
                .count()
                > 1
        })
}

/// The range of an item of a comma-separated list together with one adjacent comma.
fn clause_with_comma(node: Node<'_>) -> Range<usize> {
    if let Some(prev) = node.prev_sibling().filter(|s| kind_of(s) == ",") {
        return prev.start_byte()..node.end_byte();
    }
    if let Some(next) = node.next_sibling().filter(|s| kind_of(s) == ",") {
        let end = next
            .next_sibling()
            .map_or(next.end_byte(), |n| n.start_byte());
        return node.start_byte()..end;
    }
    node.byte_range()
}

/// Class name -> the texts of its bases.
type Classes = HashMap<String, Vec<String>>;

/// The top-level classes and imports of the modules a class comes from, and the names a
/// star import of a module brings in, each module read and parsed once per run however
/// many instances it is asked about.
#[derive(Default)]
struct ModuleCache {
    classes: Mutex<HashMap<PathBuf, Option<Arc<ModuleClasses>>>>,
    star_names: Mutex<HashMap<PathBuf, Option<Arc<HashSet<String>>>>>,
}

/// A module's top-level classes (with their bases) and imported names.
type ModuleClasses = (Classes, Imported);

impl ModuleCache {
    fn get(&self, ws: &Workspace, file: &Path) -> Option<Arc<ModuleClasses>> {
        cached(&self.classes, file, || {
            let text = ws.read(file).ok().flatten()?;
            let tree = parse::parse(&text)?;
            Some(Arc::new(top_classes_and_imports(&tree, &text)))
        })
    }

    /// What `from M import *` binds, for the module in `file`: the names of its
    /// `__all__` when that is a literal, else every name it binds at module level (in
    /// any branch) that does not start with `_`. (A star import in `M` is not followed.)
    fn star_names(&self, ws: &Workspace, file: &Path) -> Option<Arc<HashSet<String>>> {
        cached(&self.star_names, file, || {
            let text = ws.read(file).ok().flatten()?;
            let info = crate::project_imports::ModInfo::from_text(&text);
            if !info.parsed {
                return None;
            }
            let names: HashSet<String> = match info.all {
                Some(all) if !info.all_dynamic => all.into_iter().collect(),
                _ => info
                    .bound
                    .into_keys()
                    .filter(|n| !n.starts_with('_'))
                    .collect(),
            };
            Some(Arc::new(names))
        })
    }
}

/// The entry of `map` for `file`, made by `make` on a miss (outside the lock: two
/// threads may both make it, with the same result).
fn cached<T>(
    map: &Mutex<HashMap<PathBuf, Option<Arc<T>>>>,
    file: &Path,
    make: impl FnOnce() -> Option<Arc<T>>,
) -> Option<Arc<T>> {
    let lock = || map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(hit) = lock().get(file) {
        return hit.clone();
    }
    let made = make();
    lock().insert(file.to_path_buf(), made.clone());
    made
}
/// Bound name -> (module as written, imported name).
type Imported = HashMap<String, (String, String)>;

/// Top-level class definitions (name -> base texts) and `from` imports (bound name ->
/// (module as written, imported name)) of a module.
fn top_classes_and_imports(tree: &Tree, text: &str) -> (Classes, Imported) {
    let root = tree.root_node();
    let mut classes = HashMap::new();
    let mut imported = HashMap::new();
    let mut c = root.walk();
    for top in root.named_children(&mut c) {
        let def = if kind_of(top) == "decorated_definition" {
            top.child_by_field_name("definition")
        } else {
            Some(top)
        };
        if let Some(def) = def.filter(|d| kind_of(d) == "class_definition") {
            let name = def
                .child_by_field_name("name")
                .map_or("", |n| node_text(n, text));
            let bases = def
                .child_by_field_name("superclasses")
                .map(|s| {
                    let mut c = s.walk();
                    s.named_children(&mut c)
                        .filter(|b| kind_of(b) != "keyword_argument")
                        .map(|b| node_text(b, text).to_owned())
                        .collect()
                })
                .unwrap_or_default();
            classes.insert(name.to_owned(), bases);
        } else if kind_of(top) == "import_from_statement" {
            if let Some(imp) = imports::read_import(top, text) {
                for s in imp.specs {
                    if let ImportSpec::From {
                        module,
                        name,
                        alias,
                    } = s
                    {
                        imported.insert(alias.unwrap_or_else(|| name.clone()), (module, name));
                    }
                }
            }
        }
    }
    (classes, imported)
}

/// A module-level function without parameters whose body (after an optional
/// docstring) is just `return NAME`.
fn existing_getter(top: Node<'_>, text: &str, name: &str) -> Option<Existing> {
    let def = if kind_of(top) == "decorated_definition" {
        top.child_by_field_name("definition")?
    } else {
        top
    };
    let params = def.child_by_field_name("parameters")?;
    if params.named_child_count() != 0 {
        return None;
    }
    let body = def.child_by_field_name("body")?;
    let mut c = body.walk();
    let all: Vec<Node<'_>> = body.named_children(&mut c).collect();
    let has_comments = all.iter().any(|n| kind_of(n) == "comment");
    let stmts: Vec<Node<'_>> = all
        .into_iter()
        .filter(|n| kind_of(n) != "comment")
        .collect();
    let (doc, ret) = match stmts.as_slice() {
        [ret] => (None, *ret),
        [doc, ret]
            if kind_of(doc) == "expression_statement"
                && doc.named_child_count() == 1
                && doc.named_child(0).is_some_and(|s| kind_of(s) == "string") =>
        {
            (Some(node_text(*doc, text).to_owned()), *ret)
        }
        _ => return None,
    };
    if kind_of(ret) != "return_statement" {
        return None;
    }
    let ident = ret.named_child(0)?;
    if ret.named_child_count() != 1
        || kind_of(ident) != "identifier"
        || node_text(ident, text) != name
    {
        return None;
    }
    let mut decorators = Vec::new();
    if kind_of(top) == "decorated_definition" {
        let mut c = top.walk();
        for d in top.named_children(&mut c) {
            if kind_of(d) == "decorator" {
                decorators.push(node_text(d, text).to_owned());
            }
        }
    }
    let cached = is_cached(&decorators);
    Some(Existing {
        name: node_text(def.child_by_field_name("name")?, text).to_owned(),
        def: top.byte_range(),
        def_start: def.start_byte(),
        decorators,
        cached,
        docstring: doc,
        ret_ident: ident.byte_range(),
        body_first: stmts[0].start_byte(),
        return_type: def
            .child_by_field_name("return_type")
            .map(|r| node_text(r, text).to_owned()),
        params_end: params.end_byte(),
        has_comments,
        factory: false,
        builds: None,
    })
}

/// A module-level function without parameters that does not mention `name`: the
/// function that `name = FUNCTION()` calls, which builds the settings itself.
fn factory_getter(top: Node<'_>, text: &str, name: &str) -> Option<Existing> {
    let def = if kind_of(top) == "decorated_definition" {
        top.child_by_field_name("definition")?
    } else {
        top
    };
    let params = def.child_by_field_name("parameters")?;
    if params.named_child_count() != 0 {
        return None;
    }
    let body = def.child_by_field_name("body")?;
    if parse::all_nodes_of(body)
        .iter()
        .any(|n| kind_of(n) == "identifier" && node_text(*n, text) == name)
    {
        return None;
    }
    let mut c = body.walk();
    let stmts: Vec<Node<'_>> = body
        .named_children(&mut c)
        .filter(|n| kind_of(n) != "comment")
        .collect();
    let first = stmts.first()?;
    let doc = (kind_of(first) == "expression_statement"
        && first.named_child_count() == 1
        && first.named_child(0).is_some_and(|s| kind_of(s) == "string"))
    .then(|| node_text(*first, text).to_owned());
    let builds = stmts
        .last()
        .filter(|r| kind_of(*r) == "return_statement")
        .and_then(|r| r.named_child(0))
        .filter(|c| kind_of(c) == "call")
        .and_then(|c| c.child_by_field_name("function"))
        .filter(|f| kind_of(f) == "identifier")
        .map(|f| node_text(f, text).to_owned());
    let mut decorators = Vec::new();
    if kind_of(top) == "decorated_definition" {
        let mut c = top.walk();
        for d in top.named_children(&mut c) {
            if kind_of(d) == "decorator" {
                decorators.push(node_text(d, text).to_owned());
            }
        }
    }
    let cached = is_cached(&decorators);
    Some(Existing {
        name: node_text(def.child_by_field_name("name")?, text).to_owned(),
        def: top.byte_range(),
        def_start: def.start_byte(),
        decorators,
        cached,
        docstring: doc,
        ret_ident: 0..0,
        body_first: first.start_byte(),
        return_type: def
            .child_by_field_name("return_type")
            .map(|r| node_text(r, text).to_owned()),
        params_end: params.end_byte(),
        has_comments: false,
        factory: true,
        builds,
    })
}

/// Is one of these decorators `lru_cache` or `cache` (any spelling)?
fn is_cached(decorators: &[String]) -> bool {
    decorators.iter().any(|d| {
        let d = d.trim_start_matches('@').trim();
        let head = d.split('(').next().unwrap_or(d).trim();
        let last = head.rsplit('.').next().unwrap_or(head);
        matches!(last, "lru_cache" | "cache")
    })
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    const SAMPLES: &[&str] = &[
        "settings = Settings()\n",
        "settings: AppSettings = AppSettings(env='x')\n",
        "a = 1; b = make(2)\r\nc=d (3)\n",
        "  indented = Settings()\nx == f(1)\nx := f(2)\ny = z\n",
        "s: dict[str, int] = {}\nt: T\n= u(\nv = w\n(\n",
        "x = 'a;b = c(' ; é = f(\n_private=_Make( )\n",
        "class A(B, C):\n    class Inner(Base)\nsubclass X(Y)\n\tclass  Z (\n  W,\n) :\nclass\tQ()\nclass R:\n",
        "class é(B)\nclass S(B\n",
        "class S(B\nclass T(C)\nclass U(D)\n",
        "a: x;b = f(1)\nc = g(2); d = h(3)\n",
        "",
        "class",
        "x =",
    ];

    /// `scan` gives, on every sample, the two groups of each match of `regex`.
    fn is_the_regex<'t, I: Iterator<Item = (&'t str, &'t str)>>(
        regex: &str,
        scan: impl Fn(&'t str) -> I,
    ) {
        let re = Regex::new(regex).unwrap();
        for text in SAMPLES {
            let by_regex: Vec<(&str, &str)> = re
                .captures_iter(text)
                .map(|c| (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str()))
                .collect();
            assert_eq!(scan(text).collect::<Vec<_>>(), by_regex, "{text:?}");
        }
    }

    #[test]
    fn assign_calls_is_the_regex() {
        is_the_regex(
            r"(?m)(?:^|;[ \t]*)([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[^=\n]*)?=[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(",
            super::assign_calls,
        );
    }

    #[test]
    fn class_headers_is_the_regex() {
        is_the_regex(
            r"(?m)^[ \t]*class[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(([^)]*)\)",
            super::class_headers,
        );
    }
}
