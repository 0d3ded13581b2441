//! # hoist-imports
//!
//! ## What it does
//! Moves imports out of function and method bodies (at any depth: methods, functions
//! nested in functions) to module level: after the module docstring, the `from
//! __future__` imports and the existing top-of-module import block. A name imported by
//! several functions is hoisted once; a `from m import x` joins an existing module-level
//! `from m import ...`; a local import that the module already has is just removed.
//! Comments attached to an import (on the lines right above it, on its line, inside its
//! parentheses) travel with it. The body left behind stays clean: no stray blank line at
//! its top, `pass` when nothing is left, the docstring first.
//!
//! ## Why
//! A test that imports the code under test inside each test function re-executes that
//! import whenever something drops the module from `sys.modules` between tests, and
//! some libraries (torch, anything with a C extension registering global state) cannot
//! be executed twice: every test after the first fails. Module-level imports run once.
//!
//! ## Example
//! ```python
//! def test_update_status(redis):
//!     from src.worker.pipeline import update_status
//!
//!     update_status(redis, "task:1")
//! ```
//! becomes
//! ```python
//! from src.worker.pipeline import update_status
//!
//!
//! def test_update_status(redis):
//!     update_status(redis, "task:1")
//! ```
//!
//! ## When it keeps an import (reported as a note, `kept: <reason>`)
//! A module-level import runs once, at collection, before any fixture or `setUp`; a
//! local one runs when, and each time, its line is reached. An import moves only when
//! nothing can tell the difference. The safety model, in the order it is applied (the
//! note names the first rule that keeps the import, and its place as `file:line`):
//!
//! 0. **Where it is written**: the line says `# fixer: keep`, `# noqa: PLC0415` (or a
//!    bare `# noqa`) or `# pylint: disable=import-outside-toplevel`; `from __future__`;
//!    in a class body (it binds a class attribute); under `try` (an optional
//!    dependency), `if`/`elif`/`else` (`if TYPE_CHECKING:` too), `with`, `for`/`while`
//!    or `match`, or in a function defined under one of them; `from x import *`; a
//!    relative import in a file that is not part of a package; it shares its line with
//!    other code (`;`, `def f(): import x`); module-level code that later imports
//!    depend on (`sys.path` changes...) comes after a definition, so no module-level
//!    place is sure to run after it (every local import of the file is kept). In
//!    library code (not `test_*.py`, `*_test.py`, `conftest.py`, nor under a `tests/` or
//!    `test/` directory), an import whose module the file does not already import at
//!    module level: a deferral there is usually deliberate, and at module level the
//!    import would load whenever the module is imported.
//! 1. **Names** (asked of the shared semantic model, [`crate::semantic`], which
//!    resolves them as CPython's compiler does): the name is already bound at module level
//!    to something else (a def, a class, an assignment, an import of another object,
//!    possibly a `from x import *`) or is a builtin; it is a parameter,
//!    `global`/`nonlocal`, otherwise bound, or used before the function's first import
//!    of it; bound in an enclosing function, or `nonlocal` in a nested one; another
//!    function imports a different object under that name. Then, across the imports of
//!    one function: **every statement that binds a name there moves, or none does** (a
//!    kept `import pkg.sub` keeps `import pkg`, which binds `pkg` too; two `import
//!    json` with `del sys.modules["json"]` between stay together).
//! 2. **Cycles**: the imported module is this file, or a project module that imports
//!    this file (directly or through a chain: hoisting would close an import cycle).
//! 3. **What runs before it**: it is inside a `pytest_*` hook; or, in its function
//!    (the outermost one, after its docstring) before the import, there is a mention of
//!    the imported module's top-level name as a word, in code or in a string (up to the
//!    function's own first import of that module: later mentions are its uses), or
//!    anything touching `sys.modules`, `sys.path`, import hooks (`meta_path`,
//!    `path_hooks`), `importlib`/`__import__`/`import_module`/`reload`, the environment
//!    (`os.environ`, `setenv`, `delenv`, `putenv`, `chdir`), `warnings`, a `return`, a
//!    `raise`, a skip (`pytest.skip`, `skipTest`, `pytest.importorskip`) or
//!    `makepyfile`. The same barriers, except `return`/`raise` and with `sys.modules`
//!    only when changed (`del`, `pop`, item assignment, ...; a snapshot taken to clean up
//!    after the test is none), in the setup that runs before it: its class's `setUp`,
//!    `setUpClass`, `setup_method`, `setup_class`, `setup`; the module's
//!    `setup_module`/`setUpModule`/`setup_function`; autouse fixtures of its class, its
//!    file and the `conftest.py` files from its directory up to the project root; the
//!    fixtures it requests (parameters, `usefixtures`) and the fixtures those request,
//!    up to their `yield`. A test that checks what is printed, warned or logged while
//!    it runs (the fixtures `capsys`, `capfd`, `capsysbinary`, `capfdbinary`,
//!    `recwarn`, `caplog`) keeps its imports too: their output would come at collection
//!    (an import inside `with pytest.warns(...)`, `assertWarns` and the like is already
//!    kept as under `with`).
//! 4. **Markers**: the test or its class has a skip or xfail marker, written out or
//!    through a module-level name bound to one (`requires_numpy =
//!    pytest.mark.skipif(...)`, then `@requires_numpy`); the module's `pytestmark` holds
//!    one (also through such a name).
//! 5. **A module that may be missing**: its top-level module is neither in the project
//!    (the import roots, the project root and its `src/`), nor the standard library,
//!    nor installed in the environment fixer can see: `$VIRTUAL_ENV`, else `.venv` or
//!    `venv` at the project root (`kept: may be missing at collection`). When no
//!    environment is found, nothing is known and third-party modules move (a test suite
//!    run from a system Python still gets its imports hoisted).
//! 6. **A comment that says it is local on purpose**, on the comment lines right above
//!    the import or on its lines, with one of the words `here`, `lazy`/`lazily`,
//!    `local`/`locally`, `avoid`, `circular`, `cycle`, `optional`, `defer`/`deferred`,
//!    `delay`, `inside`, `runtime`, `without`, or the phrases `so that`, `import time`,
//!    `run time`, `not installed`, `only when`, `only if`, `on demand`, `must be
//!    imported` (case aside).
//! 7. **The body's shape**: a bare string right after the imports that open a body
//!    without a docstring would become its docstring once they go; a test (`test*`)
//!    whose body is nothing but imports (and a docstring, comments, `pass`) tests that
//!    they work: both keep their imports.
//!
//! Comment lines right above a moved import go with it only when they describe it (they
//! say `import`, or name its module or a name it binds); otherwise they are about the
//! test and stay. The summary counts imports moved, not edits.

mod barriers;
mod env;

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use barriers::{Region, SetupDef};

use tree_sitter::{Node, Tree};

use super::{Action, ActionArgs, FileAction, FileCx, FileOutcome};
use crate::diag::Severity;
use crate::edit::Edit;
use crate::import_graph::ImportGraph;
use crate::imports::{self, line_start, ImportSpec, InsertPoint, TopImport};
use crate::parse::{kind_of, text as node_text};

pub const NAME: &str = "hoist-imports";

pub fn build(args: ActionArgs) -> Result<Action, String> {
    args.finish(NAME)?;
    Ok(Action::File(Box::new(HoistImports::default())))
}

#[derive(Default)]
pub struct HoistImports {
    /// Cross-file facts for the import-cycle check, computed on first use.
    graph: ImportGraph,
    /// Per directory (absolute): its `conftest.py`'s fixtures, read once, `None` when it
    /// has none. Read only for files with a local import left to decide on.
    conftests: Mutex<HashMap<PathBuf, Option<Arc<Conftest>>>>,
    /// Per directory (absolute): its project root (see [`crate::select::project_root`]).
    roots: Mutex<HashMap<PathBuf, Option<PathBuf>>>,
    /// Per project root: the Python environment fixer can see, if any.
    envs: Mutex<HashMap<Option<PathBuf>, Option<Arc<env::Installed>>>>,
}

/// A `conftest.py`: its text and module-level fixtures.
struct Conftest {
    path: PathBuf,
    text: String,
    defs: Vec<SetupDef>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl HoistImports {
    /// The project root of a directory (absolute), cached.
    fn project_root(&self, dir: &Path) -> Option<PathBuf> {
        if let Some(r) = lock(&self.roots).get(dir) {
            return r.clone();
        }
        let root = crate::select::project_root(dir);
        lock(&self.roots).insert(dir.to_path_buf(), root.clone());
        root
    }

    /// The environment of a project root, found and listed once.
    fn environment(&self, root: Option<&Path>) -> Option<Arc<env::Installed>> {
        let key = root.map(Path::to_path_buf);
        if let Some(e) = lock(&self.envs).get(&key) {
            return e.clone();
        }
        let found = env::find(root).map(Arc::new);
        lock(&self.envs).insert(key, found.clone());
        found
    }

    /// The `conftest.py` of a directory (absolute), read once.
    fn conftest(&self, ws: &crate::engine::Workspace, dir: &Path) -> Option<Arc<Conftest>> {
        if let Some(c) = lock(&self.conftests).get(dir) {
            return c.clone();
        }
        let path = dir.join("conftest.py");
        let found = match ws.read(&path) {
            Ok(Some(text)) => {
                let defs = barriers::read_setup_defs(&text)
                    .into_iter()
                    .filter(|d| d.fixture && d.indent == 0)
                    .collect();
                Some(Arc::new(Conftest {
                    path,
                    text: text.to_string(),
                    defs,
                }))
            }
            _ => None,
        };
        lock(&self.conftests).insert(dir.to_path_buf(), found.clone());
        found
    }
}

static IMPORT_WORD: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"import"));
static MODULE_MARKERS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    aho_corasick::AhoCorasick::new(MODULE_ENVIRONMENT.iter().chain(&["pytestmark"]))
        .expect("valid literals")
});
static GLOBAL_WORD: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"global"));

impl FileAction for HoistImports {
    /// The conftests above a file, the import graph and the installed environment all
    /// decide whether an import may move.
    fn reads_project(&self) -> bool {
        true
    }

    /// An indented `import`/`from ... import` line whose enclosing lines lead to a `def`
    /// or `class` (not only to a module-level `if`/`try`/...): a byte scan, no parse.
    fn may_match(&self, text: &str) -> bool {
        let bytes = text.as_bytes();
        IMPORT_WORD
            .find_iter(bytes)
            .any(|pos| may_be_local_import(bytes, pos))
    }

    /// What the analysis reads inside functions: every import statement (whether or
    /// not its function is a test: the prefilter's walk up is a guess, this must not
    /// miss one) and `global` statement, and the names the imports bind (bindings, uses
    /// before the import, `nonlocal` declarations and clashes are all about those
    /// names). Read from the bytes: a look-alike in a string only keeps more to parse.
    fn focus<'a>(&self, text: &'a str) -> Option<crate::outline::Focus<'a>> {
        let b = text.as_bytes();
        let mut focus = crate::outline::Focus {
            words: local_import_names(b)?,
            ..Default::default()
        };
        for p in IMPORT_WORD.find_iter(b) {
            let word_start = p == 0 || !is_ident_byte(b[p - 1]);
            if word_start && !matches!(import_at(b, p), ImportAt::No) {
                // Module-level imports stay too (the hoisted ones join them).
                focus.anchors.push(p);
            }
        }
        for p in GLOBAL_WORD.find_iter(b) {
            let word_start = p == 0 || !is_ident_byte(b[p - 1]);
            if word_start && b.get(p + 6).is_some_and(|c| !is_ident_byte(*c)) {
                focus.anchors.push(p);
            }
        }
        // Module-level code the insertion point and the skip check read.
        focus
            .anchors
            .extend(MODULE_MARKERS.find_iter(b).map(|m| m.start()));
        focus.anchors.sort_unstable();
        focus.words.insert(b"nonlocal");
        Some(focus)
    }

    fn run(&self, cx: &FileCx<'_>) -> FileOutcome {
        if !has_local_import(cx.tree) {
            // Indented imports under module-level `if`/`try` pass the prefilter.
            return FileOutcome::default();
        }
        let model = crate::semantic::build(cx.tree, cx.text);
        let facts = Facts::collect(cx.tree, cx.text, &model);
        if !facts.imports.iter().any(|i| i.scope != 0) {
            return FileOutcome::default();
        }
        Plan::new(self, cx, &facts).finish()
    }
}

// ---------------------------------------------------------------------------------------
// The prefilter and the focus.

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Adds the words after an `import` keyword that ends at `from` (the names and aliases
/// of its statement, and a few more: module path parts) to `names`. `false` when the
/// statement runs past what this reads (64 KiB).
fn imported_words<'a>(b: &'a [u8], from: usize, names: &mut HashSet<&'a [u8]>) -> bool {
    const MAX: usize = 1 << 16;
    let rest = &b[from..b.len().min(from + MAX)];
    let start = rest
        .iter()
        .take_while(|c| **c == b' ' || **c == b'\t')
        .count();
    let parenthesized = rest.get(start) == Some(&b'(');
    let mut i = start;
    while i < rest.len() {
        let c = rest[i];
        match c {
            b')' if parenthesized => return true,
            b'\n' | b';' if !parenthesized => return true,
            b'#' => {
                if !parenthesized {
                    return true;
                }
                i = memchr::memchr(b'\n', &rest[i..]).map_or(rest.len(), |k| i + k);
            }
            b'\\' => i += 2,
            _ if is_ident_byte(c) && !c.is_ascii_digit() => {
                let s = i;
                while i < rest.len() && is_ident_byte(rest[i]) {
                    i += 1;
                }
                if &rest[s..i] != b"as" {
                    names.insert(&rest[s..i]);
                }
            }
            _ => i += 1,
        }
    }
    from + MAX >= b.len()
}

/// Every name an import inside a function or class may bind (and a few more words),
/// read from the bytes; `None` when a statement is too long to read.
fn local_import_names(b: &[u8]) -> Option<HashSet<&[u8]>> {
    let mut names = HashSet::new();
    for p in IMPORT_WORD.find_iter(b) {
        let word_start = p == 0 || !is_ident_byte(b[p - 1]);
        if word_start
            && matches!(import_at(b, p), ImportAt::Inline | ImportAt::Line { .. })
            && !imported_words(b, p + 6, &mut names)
        {
            return None;
        }
    }
    Some(names)
}

/// Where the word `import` at `pos` stands in its line.
enum ImportAt {
    /// Not the keyword of an import statement.
    No,
    /// After a colon or semicolon: `def f(): import x`, `x = 1; import y`.
    Inline,
    /// Starting an indented line (`import x`, `from x import y`), with its indentation.
    Line { start: usize, indent: usize },
    /// Starting a line at column 0: a module-level import.
    TopLevel,
}

fn import_at(b: &[u8], pos: usize) -> ImportAt {
    let after = b.get(pos + 6).copied();
    if !matches!(after, Some(b' ' | b'\t' | b'(' | b'\\')) {
        return ImportAt::No;
    }
    let start = memchr::memrchr(b'\n', &b[..pos]).map_or(0, |i| i + 1);
    let prefix = &b[start..pos];
    let indent = prefix
        .iter()
        .take_while(|c| **c == b' ' || **c == b'\t')
        .count();
    let rest = &prefix[indent..];
    let stmt_start = rest.is_empty()
        || (rest.starts_with(b"from") && rest.get(4).is_some_and(|c| c.is_ascii_whitespace()));
    if !stmt_start {
        // After a colon or semicolon: `import x`, or `from x import y`.
        let mut before = rest.trim_ascii_end();
        if let Some(module) = before.rsplit(|c| c.is_ascii_whitespace()).next() {
            let head = before[..before.len() - module.len()].trim_ascii_end();
            if head.ends_with(b"from") && !module.is_empty() {
                let head = head[..head.len() - 4].trim_ascii_end();
                if head.is_empty() || head.ends_with(b":") || head.ends_with(b";") {
                    before = head;
                }
            }
        }
        if before.ends_with(b":") || before.ends_with(b";") {
            return ImportAt::Inline;
        }
        return ImportAt::No;
    }
    if indent == 0 {
        return ImportAt::TopLevel;
    }
    ImportAt::Line { start, indent }
}

fn may_be_local_import(b: &[u8], pos: usize) -> bool {
    let (start, indent) = match import_at(b, pos) {
        ImportAt::No | ImportAt::TopLevel => return false,
        ImportAt::Inline => return true,
        ImportAt::Line { start, indent } => (start, indent),
    };
    // Walk up through less-indented lines: a `def`/`class` header means a local import;
    // reaching column 0 at a module-level `if`/`try`/`with`/... means a guarded
    // module-level import. Anything else (a string's lines at column 0) stays a maybe.
    let mut current = indent;
    let mut end = start;
    while end > 0 {
        let line_end = end - 1;
        let s = memchr::memrchr(b'\n', &b[..line_end]).map_or(0, |i| i + 1);
        let line = &b[s..line_end];
        end = s;
        let ind = line
            .iter()
            .take_while(|c| **c == b' ' || **c == b'\t')
            .count();
        let body = line[ind..].trim_ascii_end();
        if body.is_empty() || body.starts_with(b"#") || ind >= current {
            continue;
        }
        current = ind;
        if starts_with_word(body, b"def")
            || starts_with_word(body, b"async")
            || starts_with_word(body, b"class")
        {
            return true;
        }
        if ind == 0 {
            const GUARDS: [&[u8]; 10] = [
                b"if", b"elif", b"else", b"try", b"except", b"finally", b"with", b"for", b"while",
                b"match",
            ];
            return !GUARDS.iter().any(|g| starts_with_word(body, g));
        }
    }
    true
}

fn starts_with_word(s: &[u8], word: &[u8]) -> bool {
    s.starts_with(word)
        && s.get(word.len())
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
}

use crate::fast_hash::FastHash;
use crate::semantic::{flags, Binding, BindingKind, Model, ScopeId, ScopeKind as SemKind, Symbol};

// ---------------------------------------------------------------------------------------
// Facts about the file: the semantic model (scopes, bindings, references), the tree
// nodes of its scopes, and every import statement with its innermost guard.

struct LocalImport<'t> {
    node: Node<'t>,
    info: TopImport,
    /// The model's scope the statement is in.
    scope: ScopeId,
    /// Innermost enclosing `try`/`if`/`with`/`for`/`while`/`match`, and what it is.
    guard: Option<(Node<'t>, &'static str)>,
}

struct Facts<'t> {
    model: &'t Model,
    /// Per scope of the model: the `function_definition`/`class_definition` node that
    /// makes it (the root for the module; `None` for lambdas and comprehensions, which
    /// hold no statement).
    nodes: Vec<Option<Node<'t>>>,
    imports: Vec<LocalImport<'t>>,
    /// Indexes into the model, so each question is a lookup: the bindings of each
    /// (scope, name), the first read of each (see [`Facts::first_use`]), the import
    /// statement at each start.
    bindings: HashMap<(ScopeId, &'t str), Vec<usize>, FastHash>,
    first_uses: HashMap<(ScopeId, &'t str), usize, FastHash>,
    statements: HashMap<usize, usize, FastHash>,
}

impl<'t> Facts<'t> {
    fn collect(tree: &'t Tree, text: &str, model: &'t Model) -> Facts<'t> {
        let root = tree.root_node();
        // The nodes of definitions, by where the model starts their scopes (a
        // function's at its parameters, a class's at its body).
        let mut defs: HashMap<usize, Node<'t>, FastHash> = HashMap::default();
        let mut imports = Vec::new();
        let mut cursor = root.walk();
        'walk: loop {
            let node = cursor.node();
            let kind = kind_of(node);
            let is_import = matches!(
                kind,
                "import_statement" | "import_from_statement" | "future_import_statement"
            );
            if is_import {
                if let Some(info) = imports::read_import(node, text) {
                    imports.push(LocalImport {
                        node,
                        info,
                        scope: model.scope_at(node.start_byte()),
                        guard: guard_of(node, text),
                    });
                }
            } else if kind == "function_definition" || kind == "class_definition" {
                let field = if kind == "class_definition" {
                    "body"
                } else {
                    "parameters"
                };
                let at = node.child_by_field_name(field).unwrap_or(node).start_byte();
                defs.insert(at, node);
            }
            if !is_import && cursor.goto_first_child() {
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
        let nodes = model
            .scopes
            .iter()
            .map(|s| match s.kind {
                SemKind::Module => Some(root),
                SemKind::Function | SemKind::Class => defs.get(&s.start).copied(),
                _ => None,
            })
            .collect();
        let mut facts = Facts {
            model,
            nodes,
            imports,
            bindings: HashMap::default(),
            first_uses: HashMap::default(),
            statements: HashMap::default(),
        };
        facts.index();
        facts
    }

    fn index(&mut self) {
        let model = self.model;
        for (i, b) in model.bindings.iter().enumerate() {
            self.bindings
                .entry((b.scope, b.name.as_str()))
                .or_default()
                .push(i);
        }
        let scopes = &model.scopes;
        for r in &model.references {
            // A read in a lambda or comprehension counts for the scope it sits in,
            // when it reads that scope's variable.
            let mut home = r.scope;
            while matches!(
                scopes[home].kind,
                SemKind::Lambda | SemKind::Comprehension(_)
            ) {
                match scopes[home].parent {
                    Some(p) => home = p,
                    None => break,
                }
            }
            if home != r.scope && model.defining_scope(r.scope, &r.name) != home {
                continue;
            }
            let at = self
                .first_uses
                .entry((home, r.name.as_str()))
                .or_insert(r.start);
            *at = (*at).min(r.start);
        }
        for (i, imp) in self.imports.iter().enumerate() {
            self.statements.insert(imp.node.start_byte(), i);
        }
    }

    fn kind(&self, scope: ScopeId) -> SemKind {
        self.model.scopes[scope].kind
    }

    fn name(&self, scope: ScopeId) -> &str {
        &self.model.scopes[scope].name
    }

    /// The node of a module, function or class scope (the root when unknown).
    fn node(&self, scope: ScopeId) -> Node<'t> {
        self.nodes[scope]
            .or(self.nodes[0])
            .expect("the module scope has the root node")
    }

    /// The function and class scopes enclosing `scope`, innermost first (not the module).
    fn ancestors(&self, scope: ScopeId) -> impl Iterator<Item = ScopeId> + '_ {
        let scopes = &self.model.scopes;
        std::iter::successors(scopes[scope].parent, move |s| scopes[*s].parent).filter(|s| *s != 0)
    }

    /// The symbol of `name` (as an import spells it) in `scope`, under the name the
    /// compiler stores (normalized, mangled in a class).
    fn symbol(&self, scope: ScopeId, name: &str) -> Option<&Symbol> {
        self.model.scopes[scope].symbol(&self.model.stored_name(scope, name))
    }

    /// Does `scope` make `name` its own (bound, annotated, `global` or `nonlocal`)?
    fn claims(&self, scope: ScopeId, name: &str) -> bool {
        self.symbol(scope, name).is_some_and(|s| {
            s.has(flags::BOUND | flags::ANNOTATED | flags::GLOBAL | flags::NONLOCAL)
        })
    }

    /// The bindings of `name` in `scope`, in source order.
    fn bindings(&self, scope: ScopeId, name: &str) -> Vec<&'t Binding> {
        let stored = self.model.stored_name(scope, name);
        self.bindings
            .get(&(scope, &*stored))
            .map_or_else(Vec::new, |ids| {
                ids.iter().map(|&i| &self.model.bindings[i]).collect()
            })
    }

    /// The first read of `name` in `scope` itself or in the lambdas and comprehensions
    /// in it that read the same variable (they run, or may run, right where they are).
    fn first_use(&self, scope: ScopeId, name: &str) -> Option<usize> {
        let stored = self.model.stored_name(scope, name);
        self.first_uses.get(&(scope, &*stored)).copied()
    }

    /// The import statement (index into `imports`) a binding comes from.
    fn import_of(&self, b: &Binding) -> Option<usize> {
        self.statements.get(&b.statement.0).copied()
    }
}

/// Is any import statement of the tree inside a `def` or `class`?
fn has_local_import(tree: &Tree) -> bool {
    let mut cursor = tree.root_node().walk();
    let mut depth = 0usize;
    // Definitions open at each depth of the walk.
    let mut defs: Vec<usize> = Vec::new();
    loop {
        let node = cursor.node();
        match kind_of(node) {
            "import_statement" | "import_from_statement" if !defs.is_empty() => return true,
            "function_definition" | "class_definition" => defs.push(depth),
            _ => {}
        }
        let leaf = matches!(kind_of(node), "import_statement" | "import_from_statement");
        if !leaf && cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        loop {
            if defs.last() == Some(&depth) {
                defs.pop();
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return false;
            }
            depth -= 1;
        }
    }
}

/// The innermost `try`/`if`/`with`/`for`/`while`/`match` around an import, and what it
/// means for the import.
fn guard_of<'t>(node: Node<'t>, text: &str) -> Option<(Node<'t>, &'static str)> {
    let mut n = node.parent();
    while let Some(g) = n {
        let what = match kind_of(g) {
            "try_statement" => "under `try`: the import may be optional",
            "if_statement" => {
                let cond = g
                    .child_by_field_name("condition")
                    .map_or("", |c| node_text(c, text));
                if cond.contains("TYPE_CHECKING") {
                    "under `if TYPE_CHECKING:`"
                } else {
                    "under `if`: the import may be conditional"
                }
            }
            "with_statement" => "under `with`: the import may depend on its context",
            "while_statement" => "in a `while` loop",
            "for_statement" => "in a `for` loop",
            "match_statement" => "under `match`",
            _ => {
                n = g.parent();
                continue;
            }
        };
        return Some((g, what));
    }
    None
}

/// What object a spec binds its name to, for comparing two imports of one name.
fn object_key(spec: &ImportSpec) -> String {
    match spec {
        ImportSpec::Import {
            module,
            alias: None,
        } => module.split('.').next().unwrap_or(module).to_owned(),
        ImportSpec::Import { module, .. } => module.clone(),
        ImportSpec::From { module, name, .. } if module.ends_with('.') => format!("{module}{name}"),
        ImportSpec::From { module, name, .. } => format!("{module}.{name}"),
    }
}

/// What an import loads, dotted: the module of `import a.b`, `a.b.n` for `from a.b import n`.
fn loaded_key(spec: &ImportSpec) -> String {
    match spec {
        ImportSpec::Import { module, .. } => module.clone(),
        ImportSpec::From { module, name, .. } if module.ends_with('.') => format!("{module}{name}"),
        ImportSpec::From { module, name, .. } => format!("{module}.{name}"),
    }
}

const BUILTINS: &[&str] = &[
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "copyright",
    "credits",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "exit",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "license",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "quit",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
    "__import__",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BaseException",
    "BaseExceptionGroup",
    "BlockingIOError",
    "BrokenPipeError",
    "BufferError",
    "BytesWarning",
    "ChildProcessError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "DeprecationWarning",
    "EOFError",
    "EncodingWarning",
    "EnvironmentError",
    "Exception",
    "ExceptionGroup",
    "FileExistsError",
    "FileNotFoundError",
    "FloatingPointError",
    "FutureWarning",
    "GeneratorExit",
    "IOError",
    "ImportError",
    "ImportWarning",
    "IndentationError",
    "IndexError",
    "InterruptedError",
    "IsADirectoryError",
    "KeyError",
    "KeyboardInterrupt",
    "LookupError",
    "MemoryError",
    "ModuleNotFoundError",
    "NameError",
    "NotADirectoryError",
    "NotImplemented",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PendingDeprecationWarning",
    "PermissionError",
    "ProcessLookupError",
    "RecursionError",
    "ReferenceError",
    "ResourceWarning",
    "RuntimeError",
    "RuntimeWarning",
    "StopAsyncIteration",
    "StopIteration",
    "SyntaxError",
    "SyntaxWarning",
    "SystemError",
    "SystemExit",
    "TabError",
    "TimeoutError",
    "TypeError",
    "UnboundLocalError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "UnicodeError",
    "UnicodeTranslateError",
    "UnicodeWarning",
    "UserWarning",
    "ValueError",
    "Warning",
    "ZeroDivisionError",
    "Ellipsis",
];

/// Module-level code that later imports may depend on (placed before them on purpose).
const MODULE_ENVIRONMENT: &[&str] = &[
    "sys.path",
    "sys.modules",
    "os.environ",
    "chdir",
    "importorskip",
    "skip(",
    "import_module",
    "setup(",
    "configure(",
    ".use(",
    "warnings.",
    "register_assert_rewrite",
];

// ---------------------------------------------------------------------------------------
// The decision per import, then the edits.

/// A local import that moves: its statement, the lines it occupies and what it brings.
struct Move<'t> {
    node: Node<'t>,
    /// From the first attached comment line to the end of the statement's line.
    unit: std::ops::Range<usize>,
    /// The statement's indentation.
    indent: String,
    /// The block the statement is in.
    block: Node<'t>,
}

/// A statement to add at module level.
enum NewStmt {
    /// `from module import names`: the comments that came with them go above it, or,
    /// when it comes from a single statement, that statement as written (`verbatim`).
    From {
        module: String,
        names: Vec<String>,
        comments: Vec<String>,
        verbatim: Option<String>,
        sources: usize,
    },
    Plain {
        stmt: String,
        comments: Vec<String>,
        verbatim: Option<String>,
    },
}

struct Plan<'p, 't, 'a> {
    action: &'p HoistImports,
    cx: &'p FileCx<'a>,
    facts: &'p Facts<'t>,
    top: Vec<TopImport>,
    findings: Vec<crate::diag::Finding>,
    moves: Vec<Move<'t>>,
    merges: Vec<(usize, Vec<String>)>,
    new: Vec<NewStmt>,
    added: HashSet<ImportSpec>,
    /// The module's own conditional skip (`pytestmark = pytest.mark.skipif(...)`).
    module_skip: Option<String>,
    /// The file's fixtures and setup methods, read when an import gets that far.
    setup: OnceCell<Vec<SetupDef>>,
    /// The conftests above the file, nearest first, read when an import gets that far.
    conftests: OnceCell<Vec<Arc<Conftest>>>,
    /// The file's absolute path, found when first needed.
    absolute: OnceCell<PathBuf>,
    /// Comment lines to add above an existing module-level import (by index in `top`)
    /// that hoisted names join.
    merge_comments: Vec<(usize, Vec<String>)>,
}

impl<'p, 't, 'a> Plan<'p, 't, 'a> {
    fn new(action: &'p HoistImports, cx: &'p FileCx<'a>, facts: &'p Facts<'t>) -> Self {
        Plan {
            action,
            cx,
            facts,
            top: imports::module_imports(cx.tree, cx.text),
            findings: Vec::new(),
            moves: Vec::new(),
            merges: Vec::new(),
            new: Vec::new(),
            added: HashSet::new(),
            module_skip: module_skip_mark(cx.tree, cx.text, facts.model),
            setup: OnceCell::new(),
            conftests: OnceCell::new(),
            absolute: OnceCell::new(),
            merge_comments: Vec::new(),
        }
    }

    fn finish(mut self) -> FileOutcome {
        let n = self.facts.imports.len();
        let late = late_environment(self.cx.tree, self.cx.text);
        // An import under `# fixer: ignore[hoist-imports]` stays, and nothing is added
        // for it at the top.
        let suppressed = crate::suppress::Suppressions::read(self.cx.text, self.cx.tree);
        let mut verdicts: Vec<Option<Result<Move<'t>, String>>> = (0..n)
            .map(|idx| {
                let imp = &self.facts.imports[idx];
                let line = imp.node.start_position().row + 1;
                (imp.scope != 0 && !suppressed.covers(self.cx.recipe, line)).then(|| match late {
                    Some(line) => Err(format!(
                        "module-level code at line {line}, after a definition, changes where imports come from; no place at module level is sure to come after it"
                    )),
                    None => self.decide(idx),
                })
            })
            .collect();
        self.bind_together(&mut verdicts);
        for (idx, verdict) in verdicts.into_iter().enumerate() {
            match verdict {
                None => {}
                Some(Err(reason)) => {
                    let imp = &self.facts.imports[idx];
                    let f = self.cx.finding(
                        imp.node.start_byte(),
                        Severity::Note,
                        format!("kept: {reason}"),
                    );
                    self.findings.push(f);
                }
                Some(Ok(mv)) => self.take(idx, mv),
            }
        }
        let mut edits = Vec::new();
        if !self.moves.is_empty() {
            // The imports added at the top and the local ones they replace stand or
            // fall together: verification refusing one removal drops them all, so no
            // half-moved import is left (found by the fuzzer, seed 91003).
            edits = self.removal_edits();
            edits.extend(self.insertion_edits());
            edits = edits.into_iter().map(|e| e.grouped(0)).collect();
        }
        FileOutcome {
            edits,
            findings: self.findings,
        }
    }

    /// Name analysis, across the imports of one function: every statement that binds a
    /// name there moves, or none does. An import kept for any reason keeps every other
    /// import of the same function that binds one of its names (`import pkg` beside a
    /// kept `import pkg.sub`: hoisting the first would leave `pkg` local, unbound until
    /// the second runs). Repeated until nothing more is kept (one statement may bind
    /// several names).
    fn bind_together(&self, verdicts: &mut [Option<Result<Move<'t>, String>>]) {
        let facts = self.facts;
        let text = self.cx.text;
        loop {
            let mut changed = false;
            for idx in 0..verdicts.len() {
                if !matches!(verdicts[idx], Some(Ok(_))) {
                    continue;
                }
                let imp = &facts.imports[idx];
                let kept = imp.info.specs.iter().find_map(|spec| {
                    let name = spec.bound_name();
                    facts.imports.iter().enumerate().find_map(|(j, other)| {
                        (j != idx
                            && other.scope == imp.scope
                            && matches!(verdicts[j], Some(Err(_)))
                            && other.info.specs.iter().any(|s| s.bound_name() == name))
                        .then_some((name, other))
                    })
                });
                if let Some((name, other)) = kept {
                    verdicts[idx] = Some(Err(format!(
                        "`{name}` is also bound by the import kept at {} (`{}`): every binding of a name in `{}` moves together or none does",
                        self.loc(other.node.start_byte()),
                        one_line(node_text(other.node, text)),
                        facts.name(imp.scope)
                    )));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// `path:line` of an offset of this file.
    /// A test module or conftest.py (as pytest names them, or under a `tests`/`test`
    /// directory of the project), where imports are hoisted; any other file is library
    /// code.
    fn is_test_file(&self) -> bool {
        let path = self.cx.path;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "conftest.py" || name.starts_with("test_") || name.ends_with("_test.py") {
            return true;
        }
        let dir = path.parent().unwrap_or(Path::new(""));
        let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let root = self.action.project_root(&abs);
        let inside = root
            .as_deref()
            .and_then(|r| abs.strip_prefix(r).ok())
            .unwrap_or(dir);
        inside
            .components()
            .any(|c| matches!(c.as_os_str().to_str(), Some("tests" | "test")))
    }

    /// Does a module-level import of this file already load what `spec` imports?
    fn loaded_at_top(&self, spec: &ImportSpec) -> bool {
        let key = loaded_key(spec);
        self.top.iter().flat_map(|t| &t.specs).any(|s| {
            let top = loaded_key(s);
            top == key
                || matches!(s, ImportSpec::Import { module, .. }
                    if module.strip_prefix(key.as_str()).is_some_and(|r| r.starts_with('.')))
        })
    }

    fn loc(&self, offset: usize) -> String {
        loc_in(self.cx.path, self.cx.text, offset)
    }

    /// Ok: how the import moves; Err: why it stays.
    fn decide(&self, idx: usize) -> Result<Move<'t>, String> {
        let text = self.cx.text;
        let facts = self.facts;
        let imp = &facts.imports[idx];
        let scope = imp.scope;
        let scope_name = facts.name(scope);
        let line_from = line_start(text, imp.node.start_byte());
        let line_to = text[imp.node.end_byte()..]
            .find('\n')
            .map_or(text.len(), |i| imp.node.end_byte() + i);
        if let Some(mark) = keep_marker(&text[line_from..line_to]) {
            return Err(format!("marked `{mark}`"));
        }
        if imp.info.future {
            return Err("`from __future__` imports belong at the top of the module".into());
        }
        if facts.kind(scope) == SemKind::Class {
            return Err("in a class body: the import binds a class attribute".into());
        }
        if let Some((guard, what)) = imp.guard {
            let function = innermost_function(facts, imp.scope);
            if guard.start_byte() < facts.node(function).start_byte() {
                let kind = kind_of(guard).trim_end_matches("_statement");
                return Err(format!(
                    "`{}` is defined conditionally (under `{kind}`): the import may not work everywhere",
                    facts.name(function)
                ));
            }
            return Err(what.to_owned());
        }
        if imp.info.wildcard {
            return Err("`from ... import *` cannot move".into());
        }
        let relative = imp
            .info
            .from_module
            .as_deref()
            .is_some_and(|m| m.starts_with('.'));
        if relative {
            let dir = self.cx.path.parent().unwrap_or(Path::new(""));
            if !self.cx.workspace.exists(&dir.join("__init__.py")) {
                return Err(
                    "relative import in a file that is not part of a package (no `__init__.py` beside it)"
                        .into(),
                );
            }
        }
        // The import must be alone on its lines.
        let before = &text[line_from..imp.node.start_byte()];
        let after = text[imp.node.end_byte()..line_to].trim();
        if !before.trim().is_empty() || !(after.is_empty() || after.starts_with('#')) {
            return Err("it shares its line with other code".into());
        }
        // Library code: a local import is often a deliberate deferral (start-up time, an
        // optional dependency); at module level it would load whenever the module is
        // imported. It moves only when the module already loads the same thing there.
        if !self.is_test_file() {
            if let Some(spec) = imp.info.specs.iter().find(|s| !self.loaded_at_top(s)) {
                return Err(format!(
                    "in library code, a deferred import: `{}` is not imported at module level, where it would load whenever this module is imported (tests and conftest.py files are hoisted)",
                    loaded_key(spec)
                ));
            }
        }
        // Names, as the semantic model resolves them.
        let model = &facts.model;
        let wildcard = model
            .bindings
            .iter()
            .any(|b| b.scope == 0 && matches!(b.kind, BindingKind::StarImport { .. }));
        let same_object = |b: &Binding, key: &str| match &b.kind {
            BindingKind::Import { module, .. } => module == key,
            BindingKind::FromImport { module, name } => {
                let full = if module.ends_with('.') {
                    format!("{module}{name}")
                } else {
                    format!("{module}.{name}")
                };
                full == key
            }
            _ => false,
        };
        for spec in &imp.info.specs {
            let name = spec.bound_name();
            let key = object_key(spec);
            if BUILTINS.contains(&name) {
                return Err(format!(
                    "`{name}` is a builtin: at module level it would replace the builtin for the whole module"
                ));
            }
            let own = facts.symbol(scope, name);
            if own.is_some_and(|s| s.has(flags::GLOBAL)) {
                return Err(format!("`{name}` is declared `global` in `{scope_name}`"));
            }
            if own.is_some_and(|s| s.has(flags::NONLOCAL)) {
                return Err(format!("`{name}` is declared `nonlocal` in `{scope_name}`"));
            }
            // At module level: bound there, or declared `global` by a function.
            for b in facts.bindings(0, name) {
                let what = match &b.kind {
                    _ if same_object(b, &key) => continue,
                    BindingKind::Import { .. }
                    | BindingKind::FromImport { .. }
                    | BindingKind::StarImport { .. } => format!(
                        "an import of something else: `{}`",
                        one_line(&text[b.statement.0..b.statement.1])
                    ),
                    BindingKind::Function => "a function".to_owned(),
                    BindingKind::Class => "a class".to_owned(),
                    _ => "an assignment".to_owned(),
                };
                let line = crate::diag::line_col(text, b.start).0;
                return Err(format!(
                    "`{name}` is already bound at module level (line {line}: {what})"
                ));
            }
            if let Some(d) = model.declarations.iter().find(|d| {
                d.global && d.scope != scope && d.name == *model.stored_name(d.scope, name)
            }) {
                let line = crate::diag::line_col(text, d.start).0;
                return Err(format!(
                    "`{name}` is already bound at module level (line {line}: a `global` declaration in `{}`)",
                    model.scopes[d.scope].name
                ));
            }
            if wildcard {
                return Err(format!(
                    "the module has `from ... import *`, which may already bind `{name}`"
                ));
            }
            // In its own function.
            for b in facts.bindings(scope, name) {
                let line = crate::diag::line_col(text, b.start).0;
                match &b.kind {
                    _ if same_object(b, &key) => continue,
                    BindingKind::Import { .. } | BindingKind::FromImport { .. } => {
                        return Err(format!(
                            "`{name}` is bound differently in `{scope_name}` (line {line}: `{}`)",
                            one_line(&text[b.statement.0..b.statement.1])
                        ));
                    }
                    BindingKind::Parameter => {
                        return Err(format!("`{name}` is a parameter of `{scope_name}`"))
                    }
                    BindingKind::Assignment => {
                        return Err(format!(
                            "`{name}` is also assigned in `{scope_name}` (line {line})"
                        ))
                    }
                    other => {
                        let what = match other {
                            BindingKind::Annotation => "an annotation, which makes it local",
                            BindingKind::ExceptAs => "`except ... as`",
                            BindingKind::MatchCapture => "a `case` pattern",
                            BindingKind::Deletion => "`del`",
                            BindingKind::Function => "a `def`",
                            BindingKind::Class => "a `class`",
                            _ => "an import",
                        };
                        return Err(format!(
                            "`{name}` is also bound in `{scope_name}` (line {line}: {what})"
                        ));
                    }
                }
            }
            // A use before the first import of the name in the function (with every
            // import of the name moving together, a use between two of them is fine).
            let first_import = facts
                .bindings(scope, name)
                .iter()
                .filter(|b| facts.import_of(b).is_some())
                .map(|b| b.statement.0)
                .min()
                .unwrap_or(imp.node.start_byte());
            if let Some(at) = facts.first_use(scope, name) {
                if at < first_import {
                    let line = crate::diag::line_col(text, at).0;
                    return Err(format!(
                        "`{name}` is used in `{scope_name}` before the import (line {line})"
                    ));
                }
            }
            for s in facts.ancestors(scope) {
                if facts.kind(s) == SemKind::Function && facts.claims(s, name) {
                    return Err(format!(
                        "`{name}` is also bound in the enclosing function `{}`",
                        facts.name(s)
                    ));
                }
            }
            for d in model.declarations.iter().filter(|d| !d.global) {
                if d.name == *model.stored_name(d.scope, name)
                    && facts.ancestors(d.scope).any(|a| a == scope)
                {
                    return Err(format!(
                        "`{name}` is `nonlocal` in `{}`, nested in `{scope_name}`",
                        model.scopes[d.scope].name
                    ));
                }
            }
            // In other functions.
            for other in &facts.imports {
                if other.scope == 0 || other.scope == scope {
                    continue;
                }
                if let Some(s) = other
                    .info
                    .specs
                    .iter()
                    .find(|s| s.bound_name() == name && object_key(s) != key)
                {
                    let line = crate::diag::line_col(text, other.node.start_byte()).0;
                    return Err(format!(
                        "`{name}` is bound differently in `{}` (line {line}: `{}`)",
                        facts.name(other.scope),
                        s.render()
                    ));
                }
            }
        }
        // Cross-file: the module must not be this file, nor import it.
        self.check_cycle(imp)?;
        // What runs before the import.
        self.check_timing(idx)?;
        let indent = text[line_from..imp.node.start_byte()].to_owned();
        let unit_end = if line_to < text.len() {
            line_to + 1
        } else {
            line_to
        };
        let mut unit_start = attached_comments_start(text, line_from, unit_end, &indent);
        if !describes_import(&text[unit_start..line_from], &imp.info) {
            // Comments about the test stay in it.
            unit_start = line_from;
        }
        let block = imp.node.parent().unwrap_or(imp.node);
        Ok(Move {
            node: imp.node,
            unit: unit_start..unit_end,
            indent,
            block,
        })
    }

    /// The outermost function around an import (the test, for a helper nested in it).
    fn outermost(&self, scope: usize) -> usize {
        let facts = self.facts;
        std::iter::once(scope)
            .chain(facts.ancestors(scope))
            .take_while(|s| facts.kind(*s) == SemKind::Function)
            .last()
            .unwrap_or(scope)
    }

    /// When the import runs: what runs before it in its function, in the setup of its
    /// class and in the fixtures of its test, markers, a module that may be missing, a
    /// comment that says it is local on purpose, a string after it that would become the
    /// docstring, a test that is nothing but imports. See the module's doc.
    fn check_timing(&self, idx: usize) -> Result<(), String> {
        let text = self.cx.text;
        let facts = self.facts;
        let imp = &facts.imports[idx];
        let start = imp.node.start_byte();
        for s in std::iter::once(imp.scope).chain(facts.ancestors(imp.scope)) {
            if facts.kind(s) == SemKind::Function && facts.name(s).starts_with("pytest_") {
                return Err(format!(
                    "inside the pytest hook `{}`, which runs at a set point of the session",
                    facts.name(s)
                ));
            }
        }
        let outermost = self.outermost(imp.scope);
        let outer = facts.node(outermost);
        let modules = module_words(&imp.info);
        // 1. The function before the import (after its docstring).
        let from = barriers::skip_docstring(text, body_start(outer, text)).min(start);
        // A mention of the module after an earlier import of it in the function is a
        // use of that import (which moves with this one or keeps it, see
        // `bind_together`): mentions count up to the first such import.
        let mention_end = facts
            .imports
            .iter()
            .filter(|o| {
                (from..start).contains(&o.node.start_byte())
                    && module_words(&o.info).iter().any(|m| modules.contains(m))
            })
            .map(|o| o.node.start_byte())
            .min()
            .unwrap_or(start);
        let mention = barriers::find(&text[from..mention_end], &modules, Region::Function);
        let other = barriers::find(&text[from..start], &[], Region::Function);
        let first = match (mention, other) {
            (Some(a), Some(b)) => Some(if a.at <= b.at { a } else { b }),
            (a, b) => a.or(b),
        };
        if let Some(b) = first {
            return Err(format!(
                "it runs after {} at {}: at module level it would run before it",
                b.what,
                self.loc(from + b.at)
            ));
        }
        // 2. Setup outside the function: setup methods, autouse and requested fixtures.
        self.check_setup(outermost, &modules)?;
        self.check_captures(outermost)?;
        // 3. Markers, through names bound at module level.
        for s in std::iter::once(imp.scope).chain(facts.ancestors(imp.scope)) {
            if let Some(deco) = decorators(facts.node(s), text) {
                if let Some(why) = skip_marker(text, deco, facts.model) {
                    return Err(format!(
                        "`{}` has {why}: the import may need what the marker guards against",
                        facts.name(s)
                    ));
                }
            }
        }
        if let Some(m) = &self.module_skip {
            return Err(format!(
                "the module is skipped conditionally ({m}): at module level the import would run first"
            ));
        }
        // 4. A module that may be missing.
        if let Some(why) = self.may_be_missing(imp) {
            return Err(why);
        }
        // 5. A comment that says the import is local on purpose.
        if let Some((at, word)) = deliberate_comment(text, imp.node) {
            return Err(format!(
                "the comment at {} says it is local on purpose (`{word}`)",
                self.loc(at)
            ));
        }
        // 6. A string right after the leading imports would become the docstring.
        if let Some(at) = string_would_become_docstring(text, imp.node) {
            return Err(format!(
                "the string at {} would become the docstring of `{}` once the imports before it go",
                self.loc(at),
                facts.name(imp.scope)
            ));
        }
        // 7. A test that is nothing but imports tests that they work.
        let name = facts.name(imp.scope);
        if name.starts_with("test") && only_imports(text, facts.node(imp.scope)) {
            return Err(format!(
                "`{name}` does nothing but import: the test is the import"
            ));
        }
        Ok(())
    }

    /// This file's absolute path (found once).
    fn absolute_path(&self) -> &Path {
        self.absolute
            .get_or_init(|| crate::git::absolute(self.cx.path))
    }

    /// The fixtures and setup of this file, read once per file.
    fn setup_defs(&self) -> &[SetupDef] {
        self.setup
            .get_or_init(|| barriers::read_setup_defs(self.cx.text))
    }

    /// Setup that runs before the function `scope`: the setup methods of its class, the
    /// module's setup functions, autouse fixtures (its class, its file, the conftests
    /// above it) and the fixtures it requests (parameters, `usefixtures`), and theirs.
    fn check_setup(&self, scope: usize, modules: &[&str]) -> Result<(), String> {
        let facts = self.facts;
        let text = self.cx.text;
        let node = facts.node(scope);
        let class = facts.model.scopes[scope]
            .parent
            .filter(|p| facts.kind(*p) == SemKind::Class)
            .map(|p| facts.node(p).byte_range());
        let defs = self.setup_defs();
        let in_class = |d: &SetupDef| class.as_ref().is_some_and(|r| r.contains(&d.at));
        let conftests = self
            .conftests
            .get_or_init(|| self.conftests_above())
            .as_slice();
        // (where, the definition) for each setup that applies.
        let mut todo: Vec<(Option<&Conftest>, &SetupDef)> = Vec::new();
        for d in defs {
            let applies = if d.fixture {
                d.autouse && (d.indent == 0 || in_class(d))
            } else if d.indent == 0 {
                ["setup_module", "setUpModule", "setup_function"].contains(&d.name.as_str())
            } else {
                in_class(d) && d.name != "setup_function" && d.name != "setup_module"
            };
            if applies {
                todo.push((None, d));
            }
        }
        for c in conftests {
            todo.extend(c.defs.iter().filter(|d| d.autouse).map(|d| (Some(&**c), d)));
        }
        let mut requested: Vec<String> = facts
            .model
            .bindings
            .iter()
            .filter(|b| {
                b.scope == scope
                    && b.kind == BindingKind::Parameter
                    && b.name != "self"
                    && b.name != "cls"
            })
            .map(|b| b.name.clone())
            .collect();
        if let Some(deco) = decorators(node, text) {
            requested.extend(usefixtures(deco));
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut i = 0;
        loop {
            while let Some(name) = requested.pop() {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let found = defs
                    .iter()
                    .filter(|d| d.fixture && d.name == name)
                    .find(|d| in_class(d))
                    .or_else(|| {
                        defs.iter()
                            .find(|d| d.fixture && d.indent == 0 && d.name == name)
                    })
                    .map(|d| (None, d))
                    .or_else(|| {
                        conftests.iter().find_map(|c| {
                            c.defs
                                .iter()
                                .find(|d| d.name == name)
                                .map(|d| (Some(&**c), d))
                        })
                    });
                if let Some(f) = found {
                    todo.push(f);
                }
            }
            let Some(&(file, d)) = todo.get(i) else { break };
            i += 1;
            if file.is_none() && node.byte_range().contains(&(d.at + d.indent)) {
                // The function itself (a `setUp` or fixture with the import in it).
                continue;
            }
            requested.extend(d.params.iter().cloned());
            let (path, code) = match file {
                Some(c) => (c.path.as_path(), c.text.as_str()),
                None => (self.cx.path, text),
            };
            if let Some(b) = barriers::find(&code[d.setup.clone()], modules, Region::Setup) {
                let what = if d.fixture { "fixture" } else { "setup" };
                return Err(format!(
                    "the {what} `{}` runs first and has {} at {}: at module level the import would run before it",
                    d.name,
                    b.what,
                    loc_in(path, code, d.setup.start + b.at)
                ));
            }
        }
        Ok(())
    }

    /// The conftests of this file's directory and those above it, nearest first, up
    /// to the project root (none found: the current directory, else only its own).
    fn conftests_above(&self) -> Vec<Arc<Conftest>> {
        let ws = self.cx.workspace;
        let file = self.absolute_path();
        let Some(dir) = file.parent() else {
            return Vec::new();
        };
        // Up to the project root; without one, up to the outermost of the current
        // directory and the path given that hold the file (where pytest would be run:
        // the answer must not depend on which of the two the run started from).
        let stop = self.action.project_root(dir).unwrap_or_else(|| {
            std::env::current_dir()
                .ok()
                .into_iter()
                .chain(ws.roots.iter().map(|r| crate::git::absolute(r)))
                .filter(|c| dir.starts_with(c))
                .min_by_key(|c| c.components().count())
                .unwrap_or_else(|| dir.to_path_buf())
        });
        let mut out = Vec::new();
        for d in dir.ancestors() {
            if let Some(c) = self.action.conftest(ws, d) {
                if c.path != file {
                    out.push(c);
                }
            }
            if d == stop || !d.starts_with(&stop) {
                break;
            }
        }
        out
    }

    /// A test that checks what is printed, warned or logged during the whole test
    /// (`capsys`, `recwarn`, ...) would see the import's own output, which at module level
    /// comes at collection. (An import inside `with pytest.warns(...)` is under `with`.)
    fn check_captures(&self, scope: usize) -> Result<(), String> {
        const FIXTURES: &[&str] = &[
            "capsys",
            "capfd",
            "capsysbinary",
            "capfdbinary",
            "recwarn",
            "caplog",
        ];
        if let Some(b) = self.facts.model.bindings.iter().find(|b| {
            b.scope == scope
                && b.kind == BindingKind::Parameter
                && FIXTURES.contains(&b.name.as_str())
        }) {
            return Err(format!(
                "the test checks what is printed, warned or logged (`{}` at {}): the import's own output would come at collection",
                b.name,
                self.loc(b.start)
            ));
        }
        Ok(())
    }

    /// Why a third-party import may fail at collection: its module is neither in the
    /// project, nor the standard library, nor installed in the environment fixer can
    /// see. `None` when no environment is found (nothing is known then).
    fn may_be_missing(&self, imp: &LocalImport<'t>) -> Option<String> {
        let tops: Vec<&str> = match &imp.info.from_module {
            Some(m) if m.starts_with('.') => return None,
            Some(m) => vec![m.split('.').next().unwrap_or(m)],
            None => imp
                .info
                .specs
                .iter()
                .map(|s| s.module().split('.').next().unwrap_or(""))
                .collect(),
        };
        let ws = self.cx.workspace;
        let dir = self.absolute_path().parent()?;
        let mut env: Option<Option<Arc<env::Installed>>> = None;
        for top in tops {
            if top.is_empty() || top == "__future__" || crate::stdlib::is_stdlib(top) {
                continue;
            }
            let root = self.action.project_root(dir);
            let in_project = self.action.graph.caches().finds(ws, self.cx.path, top)
                || root.as_deref().is_some_and(|r| {
                    [r.to_path_buf(), r.join("src")]
                        .iter()
                        .any(|b| b.join(top).is_dir() || b.join(format!("{top}.py")).is_file())
                });
            if in_project {
                continue;
            }
            let env = env.get_or_insert_with(|| self.action.environment(root.as_deref()));
            let Some(installed) = env else {
                return None;
            };
            if !installed.has(top) {
                return Some(format!(
                    "may be missing at collection: `{top}` is neither in the project, nor the standard library, nor installed in `{}`",
                    crate::output::display_path(&installed.dir).display()
                ));
            }
        }
        None
    }

    fn check_cycle(&self, imp: &LocalImport<'t>) -> Result<(), String> {
        let ws = self.cx.workspace;
        let path = self.cx.path;
        let graph = self.action.graph.caches();
        let mut targets = Vec::new();
        match &imp.info.from_module {
            Some(m) => {
                let level = m.len() - m.trim_start_matches('.').len();
                let names: Vec<&str> = imp
                    .info
                    .specs
                    .iter()
                    .filter_map(|s| match s {
                        ImportSpec::From { name, .. } => Some(name.as_str()),
                        ImportSpec::Import { .. } => None,
                    })
                    .collect();
                targets.extend(graph.targets(ws, path, level, m.trim_start_matches('.'), &names));
            }
            None => {
                for s in &imp.info.specs {
                    targets.extend(graph.targets(ws, path, 0, s.module(), &[]));
                }
            }
        }
        for t in &targets {
            if t == path {
                return Err("the imported module is this file itself".into());
            }
        }
        for t in &targets {
            if graph.reaches(ws, t, path) {
                let chain = graph
                    .chain(ws, t, path)
                    .unwrap_or_default()
                    .iter()
                    .map(|p| format!("`{}`", crate::output::display_path(p).display()))
                    .collect::<Vec<_>>()
                    .join(" -> ");
                return Err(format!(
                    "import cycle: the imported module imports this file ({chain})"
                ));
            }
        }
        Ok(())
    }

    /// Records a decided move: what to add at module level, and the removal. One
    /// `from m import` per module (comments included), no spec added twice.
    fn take(&mut self, idx: usize, mv: Move<'t>) {
        let text = self.cx.text;
        let imp = &self.facts.imports[idx];
        let needed: Vec<ImportSpec> = imp
            .info
            .specs
            .iter()
            .filter(|s| !imports::already_imported(&self.top, s) && !self.added.contains(*s))
            .cloned()
            .collect();
        let unit_text = &text[mv.unit.clone()];
        let comments = comment_texts(unit_text);
        let all_needed = needed.len() == imp.info.specs.len();
        let verbatim = (!comments.is_empty() && all_needed).then(|| dedent(unit_text, &mv.indent));
        let mut comments = Some(comments);
        match (&imp.info.from_module, needed.is_empty()) {
            (_, true) => {}
            (Some(module), false) => {
                let names: Vec<String> = needed.iter().map(ImportSpec::name_clause).collect();
                let top = imports::mergeable_from(&self.top, module)
                    .and_then(|t| self.top.iter().position(|x| std::ptr::eq(x, t)));
                match top {
                    Some(t) => {
                        match self.merges.iter_mut().find(|m| m.0 == t) {
                            Some(m) => m.1.extend(names),
                            None => self.merges.push((t, names)),
                        }
                        let c = comments.take().unwrap_or_default();
                        if !c.is_empty() {
                            match self.merge_comments.iter_mut().find(|m| m.0 == t) {
                                Some(m) => m.1.extend(c),
                                None => self.merge_comments.push((t, c)),
                            }
                        }
                    }
                    None => {
                        let existing = self.new.iter_mut().find_map(|n| match n {
                            NewStmt::From {
                                module: m,
                                names,
                                comments,
                                sources,
                                ..
                            } if m == module => Some((names, comments, sources)),
                            _ => None,
                        });
                        match existing {
                            Some((n, c, sources)) => {
                                n.extend(names);
                                c.extend(comments.take().unwrap_or_default());
                                *sources += 1;
                            }
                            None => self.new.push(NewStmt::From {
                                module: module.clone(),
                                names,
                                comments: comments.take().unwrap_or_default(),
                                verbatim,
                                sources: 1,
                            }),
                        }
                    }
                }
            }
            (None, false) => {
                if verbatim.is_some() {
                    self.new.push(NewStmt::Plain {
                        stmt: String::new(),
                        comments: Vec::new(),
                        verbatim,
                    });
                } else {
                    for spec in &needed {
                        self.new.push(NewStmt::Plain {
                            stmt: spec.render(),
                            comments: comments.take().unwrap_or_default(),
                            verbatim: None,
                        });
                    }
                }
            }
        }
        self.added.extend(imp.info.specs.iter().cloned());
        self.moves.push(mv);
    }

    fn removal_edits(&self) -> Vec<Edit> {
        let text = self.cx.text;
        let nl = self.cx.newline;
        let origin = self.cx.recipe;
        let mut edits = Vec::new();
        let mut by_block: Vec<(Node<'t>, Vec<&Move<'t>>)> = Vec::new();
        for mv in &self.moves {
            match by_block.iter_mut().find(|(b, _)| b.id() == mv.block.id()) {
                Some((_, v)) => v.push(mv),
                None => by_block.push((mv.block, vec![mv])),
            }
        }
        for (block, moves) in by_block {
            let removed: HashSet<usize> = moves.iter().map(|m| m.node.id()).collect();
            let mut c = block.walk();
            let emptied = block
                .named_children(&mut c)
                .filter(|n| kind_of(n) != "comment")
                .all(|n| removed.contains(&n.id()));
            // Runs of moves separated by nothing but blank lines.
            let mut runs: Vec<(usize, usize, &str, usize)> = Vec::new();
            for mv in &moves {
                match runs.last_mut() {
                    Some(run) if text[run.1..mv.unit.start].trim().is_empty() => {
                        run.1 = mv.unit.end;
                        run.3 += 1;
                    }
                    _ => runs.push((mv.unit.start, mv.unit.end, &mv.indent, 1)),
                }
            }
            // Each removal counts the imports it moves (the summary's count).
            for (i, (mut s, mut e, indent, count)) in runs.into_iter().enumerate() {
                if emptied {
                    if i == 0 {
                        let mut pass = format!("{indent}pass");
                        pass.push_str(if text[..e].ends_with('\n') { nl } else { "" });
                        edits.push(Edit::replace(s..e, pass, origin).weighted(count));
                    } else {
                        edits.push(Edit::delete(s..e, origin).weighted(count));
                    }
                    continue;
                }
                // The start of the blank lines right above the run.
                let mut above = s;
                while let Some(l) = previous_line(text, above) {
                    if !l.trim().is_empty() {
                        break;
                    }
                    above = line_start(text, above - 1);
                }
                let ends_block = e >= block.end_byte();
                if !ends_block && previous_line(text, above).is_some_and(is_header) {
                    // First in the body: no blank line may open it.
                    s = above;
                    e = skip_blank_lines(text, e);
                } else if !ends_block && docstring_ends_before(block, text, above) {
                    // Right after the docstring: keep the spacing the docstring had.
                    e = skip_blank_lines(text, e);
                } else if !ends_block
                    && above == s
                    && previous_line(text, s).is_some_and(|l| l.trim_start().starts_with('#'))
                {
                    // Under a comment that stays (it is about the test): the comment
                    // now opens the code after it.
                    e = skip_blank_lines(text, e);
                } else if above < s && (e == text.len() || next_line(text, e).trim().is_empty()) {
                    // Between two blank runs: keep one of them.
                    s = above;
                }
                edits.push(Edit::delete(s..e, origin).weighted(count));
            }
        }
        edits
    }

    fn insertion_edits(&self) -> Vec<Edit> {
        let text = self.cx.text;
        let nl = self.cx.newline;
        let origin = self.cx.recipe;
        let mut edits = Vec::new();
        for (t, names) in &self.merges {
            edits.extend(
                imports::merge_into_from(text, &self.top[*t], names, nl, origin)
                    .into_iter()
                    .map(|e| e.weighted(0)),
            );
        }
        for (t, comments) in &self.merge_comments {
            let at = line_start(text, self.top[*t].start);
            let block: String = comments.iter().map(|c| format!("{c}{nl}")).collect();
            edits.push(Edit::insert(at, block, origin).weighted(0));
        }
        if self.new.is_empty() {
            return edits;
        }
        let (point, after_import) = hoist_point(self.cx.tree, text, &self.top);
        let mut block = String::new();
        if point.needs_newline {
            block.push_str(nl);
        }
        if point.after_docstring {
            block.push_str(nl);
        }
        for stmt in &self.new {
            let line = match stmt {
                NewStmt::From {
                    verbatim: Some(v),
                    sources: 1,
                    ..
                }
                | NewStmt::Plain {
                    verbatim: Some(v), ..
                } => v.clone(),
                NewStmt::From {
                    module,
                    names,
                    comments,
                    ..
                } => {
                    let mut s: String = comments.iter().map(|c| format!("{c}{nl}")).collect();
                    s.push_str(&format!("from {module} import {}", names.join(", ")));
                    s
                }
                NewStmt::Plain { stmt, comments, .. } => {
                    let mut s: String = comments.iter().map(|c| format!("{c}{nl}")).collect();
                    s.push_str(stmt);
                    s
                }
            };
            block.push_str(&line);
            if !line.ends_with('\n') {
                block.push_str(nl);
            }
        }
        if !after_import && point.offset < text.len() {
            // A new import block: set the code after it off (two lines before a def).
            let rest = &text[point.offset..];
            let blank = count_blank_lines(rest);
            let next = rest.lines().nth(blank).unwrap_or("").trim_start();
            let want = if ["def ", "class ", "async ", "@"]
                .iter()
                .any(|p| next.starts_with(p))
            {
                2
            } else {
                1
            };
            for _ in blank..want {
                block.push_str(nl);
            }
        }
        edits.push(Edit::insert(point.offset, block, origin).weighted(0));
        edits
    }
}

fn innermost_function(facts: &Facts<'_>, scope: ScopeId) -> ScopeId {
    std::iter::once(scope)
        .chain(facts.ancestors(scope))
        .find(|s| facts.kind(*s) == SemKind::Function)
        .unwrap_or(scope)
}

/// `path:line` of an offset in a file's text.
fn loc_in(path: &Path, text: &str, offset: usize) -> String {
    format!(
        "{}:{}",
        crate::output::display_path(path).display(),
        crate::diag::line_col(text, offset).0
    )
}

/// The top-level names of what an import imports (`a` for `import a.b`, `from a.b import
/// c`; the first part after the dots of a relative import), as code would mention them.
fn module_words(info: &TopImport) -> Vec<&str> {
    let mut out: Vec<&str> = match &info.from_module {
        Some(m) => vec![m.trim_start_matches('.').split('.').next().unwrap_or("")],
        None => info
            .specs
            .iter()
            .map(|s| s.module().split('.').next().unwrap_or(""))
            .collect(),
    };
    out.retain(|m| !m.is_empty());
    out.dedup();
    out
}

/// Where a function's body starts: after the `:` that ends its header (read from the
/// text: a partial parse may have left the first statements out of the tree).
fn body_start(def: Node<'_>, text: &str) -> usize {
    let after = def
        .child_by_field_name("return_type")
        .or_else(|| def.child_by_field_name("parameters"))
        .map_or(def.start_byte(), |n| n.end_byte());
    text[after..]
        .find(':')
        .map_or(def.end_byte(), |i| after + i + 1)
}

/// The skip or xfail a decorator list carries: directly (`@pytest.mark.skipif(...)`,
/// `@unittest.skipIf`) or through a module-level name bound to one
/// (`requires_numpy = pytest.mark.skipif(...)`, then `@requires_numpy`).
fn skip_marker(text: &str, decorators: &str, model: &Model) -> Option<String> {
    if decorators.contains("skip") || decorators.contains("xfail") {
        return Some("a skip marker".into());
    }
    for line in decorators.lines() {
        let Some(rest) = line.trim_start().strip_prefix('@') else {
            continue;
        };
        let name: &str = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if let Some((at, value)) = marker_value(text, model, name) {
            if value.contains("skip") || value.contains("xfail") {
                return Some(format!(
                    "the marker `@{name}`, bound to a skip at line {}",
                    crate::diag::line_col(text, at).0
                ));
            }
        }
    }
    None
}

/// What the module-level name `name` is bound to, for a marker: the semantic model's
/// last module-level assignment of it (its statement); when the model has none (a
/// partial parse elides module-level code it does not need), the lines' `NAME = value`.
fn marker_value<'a>(text: &'a str, model: &Model, name: &str) -> Option<(usize, &'a str)> {
    if name.is_empty() {
        return None;
    }
    model
        .bindings_in(0, name)
        .filter(|b| b.kind == BindingKind::Assignment)
        .last()
        .map(|b| (b.start, &text[b.statement.0..b.statement.1]))
        .or_else(|| module_assignment(text, name))
}

/// A module-level `NAME = value` or `NAME: T = value` (its offset and its text up to the
/// next line at column 0 that does not close a bracket), read from the lines.
fn module_assignment<'a>(text: &'a str, name: &str) -> Option<(usize, &'a str)> {
    if name.is_empty() {
        return None;
    }
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(at) = barriers::find_word(b, name.as_bytes(), from) {
        from = at + 1;
        if at > 0 && b[at - 1] != b'\n' {
            continue;
        }
        let mut rest = text[at + name.len()..].trim_start_matches([' ', '\t']);
        if let Some(annotated) = rest.strip_prefix(':') {
            // `NAME: T = value`: the `=` on the same line, after the annotation.
            let line = annotated.split('\n').next().unwrap_or("");
            match line.find('=').filter(|&i| !line[i..].starts_with("==")) {
                Some(i) => rest = &annotated[i..],
                None => continue,
            }
        }
        let Some(value) = rest.strip_prefix('=').filter(|v| !v.starts_with('=')) else {
            continue;
        };
        let start = text.len() - value.len();
        let mut end = start;
        for line in text[start..].split_inclusive('\n') {
            let first = line.chars().next();
            if end > start
                && first.is_some_and(|c| !c.is_whitespace() && !matches!(c, ')' | ']' | '}'))
            {
                break;
            }
            end += line.len();
        }
        return Some((at, &text[start..end]));
    }
    None
}

/// The fixture names of `@pytest.mark.usefixtures("a", "b")` decorators.
fn usefixtures(decorators: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in decorators.split("usefixtures(").skip(1) {
        let args = part.split(')').next().unwrap_or("");
        for a in args.split(',') {
            let a = a.trim().trim_matches(['"', '\'']);
            if !a.is_empty() && a.chars().all(|c| c.is_alphanumeric() || c == '_') {
                out.push(a.to_owned());
            }
        }
    }
    out
}

/// A comment next to the import (on the comment lines right above it, on its lines)
/// that says it is local on purpose: its offset and the word that says so.
fn deliberate_comment(text: &str, node: Node<'_>) -> Option<(usize, &'static str)> {
    let line_from = line_start(text, node.start_byte());
    let line_to = text[node.end_byte()..]
        .find('\n')
        .map_or(text.len(), |i| node.end_byte() + i);
    let indent = &text[line_from..node.start_byte()];
    let mut start = line_from;
    while start > 0 {
        let prev = line_start(text, start - 1);
        let line = &text[prev..start];
        match line.strip_prefix(indent) {
            Some(rest) if rest.starts_with('#') => start = prev,
            _ => break,
        }
    }
    let mut at = start;
    for line in text[start..line_to].split_inclusive('\n') {
        if let Some(i) = line.find('#') {
            if let Some(word) = barriers::deliberate(&line[i..]) {
                return Some((at + i, word));
            }
        }
        at += line.len();
    }
    None
}

/// The bare string that would become the docstring of the import's function once the
/// imports that open the body go: the import is among the statements that open the body
/// (no docstring before them) and a string statement follows them.
fn string_would_become_docstring(text: &str, node: Node<'_>) -> Option<usize> {
    let is_import = |n: Node<'_>| {
        matches!(
            kind_of(n),
            "import_statement" | "import_from_statement" | "comment"
        )
    };
    let block = node.parent().filter(|b| kind_of(b) == "block")?;
    let def = block
        .parent()
        .filter(|d| kind_of(d) == "function_definition")?;
    // Only imports (and comments) from the body's start to this import.
    let mut first = node;
    while let Some(p) = first.prev_sibling().filter(|p| is_import(*p)) {
        first = p;
    }
    let head = &text[body_start(def, text)..first.start_byte()];
    if barriers::blank_comments(head).trim() != "" {
        return None;
    }
    let mut last = node;
    while let Some(n) = last.next_sibling().filter(|n| is_import(*n)) {
        last = n;
    }
    let after = last.end_byte();
    barriers::string_statement_at(text, after)
        .then(|| after + (text[after..].len() - text[after..].trim_start().len()))
}

/// Is the body of the function `def` nothing but imports (and a docstring, comments,
/// `pass`)? Read from the text between the statements the tree has.
fn only_imports(text: &str, def: Node<'_>) -> bool {
    let Some(block) = def.child_by_field_name("body") else {
        return false;
    };
    let mut at = barriers::skip_docstring(text, body_start(def, text));
    let mut c = block.walk();
    let mut any = false;
    for child in block.children(&mut c) {
        if child.end_byte() <= at {
            continue;
        }
        let gap = &text[at.min(child.start_byte())..child.start_byte()];
        if !only_filler(gap) {
            return false;
        }
        match kind_of(child) {
            "import_statement" | "import_from_statement" => any = true,
            "comment" | "pass_statement" => {}
            // A partial parse stands a `0` for statements it elides: read their text.
            _ if only_filler(&text[child.byte_range()]) => {}
            _ => return false,
        }
        at = child.end_byte();
    }
    any && only_filler(&text[at.min(def.end_byte())..def.end_byte()])
}

/// Is this code nothing but blank lines, comments and `pass`?
fn only_filler(code: &str) -> bool {
    barriers::blank_comments(code)
        .split([';', '\n', '\r'])
        .all(|part| matches!(part.trim(), "" | "pass"))
}

/// The comments of an import's lines (those above it, on its lines, inside it), as
/// written from their `#` (an import statement holds no string).
fn comment_texts(unit: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.find('#').map(|i| l[i..].trim_end().to_owned()))
        .collect()
}

/// Do comment lines above an import describe it (they name the word `import`, a name it
/// binds or its module)? Otherwise they are about the code of the test, and stay.
fn describes_import(comments: &str, info: &TopImport) -> bool {
    if comments.trim().is_empty() {
        return true;
    }
    let lower = comments.to_ascii_lowercase();
    let says_import = ["import", "imports", "imported", "importing"]
        .iter()
        .any(|w| barriers::find_word(lower.as_bytes(), w.as_bytes(), 0).is_some());
    // Names as written (case matters: `A` is a name, `a` a word of the comment).
    let mut words: Vec<&str> = Vec::new();
    for spec in &info.specs {
        let module = spec.module().trim_start_matches('.');
        words.push(module);
        words.extend(module.split('.'));
        words.push(spec.bound_name());
        if let ImportSpec::From { name, .. } = spec {
            words.push(name);
        }
    }
    says_import
        || words
            .iter()
            .filter(|w| w.len() > 1)
            .any(|w| barriers::find_word(comments.as_bytes(), w.as_bytes(), 0).is_some())
}

/// The comment that keeps an import where it is, if its lines carry one.
fn keep_marker(lines: &str) -> Option<&'static str> {
    let comments: Vec<&str> = lines
        .lines()
        .filter_map(|l| l.split_once('#').map(|(_, c)| c))
        .collect();
    for c in comments {
        let c = c.trim();
        if c.contains("fixer: keep") {
            return Some("# fixer: keep");
        }
        if c.contains("import-outside-toplevel") {
            return Some("# pylint: disable=import-outside-toplevel");
        }
        if let Some(rest) = c.strip_prefix("noqa").or_else(|| c.strip_prefix("NOQA")) {
            let rest = rest.trim_start();
            match rest.strip_prefix(':') {
                None => return Some("# noqa"),
                Some(codes) if codes.contains("PLC0415") => return Some("# noqa: PLC0415"),
                Some(_) => {}
            }
        }
    }
    None
}

/// The decorators of a def or class, as text.
fn decorators<'a>(def: Node<'_>, text: &'a str) -> Option<&'a str> {
    let parent = def.parent()?;
    (kind_of(parent) == "decorated_definition")
        .then(|| &text[parent.start_byte()..def.start_byte()])
}

/// A module-level `pytestmark = ...skip...` or module-level skip call, as written.
fn module_skip_mark(tree: &Tree, text: &str, model: &Model) -> Option<String> {
    let root = tree.root_node();
    let mut c = root.walk();
    for child in root.named_children(&mut c) {
        let t = node_text(child, text);
        if !t.starts_with("pytestmark") {
            continue;
        }
        if t.contains("skip") || t.contains("xfail") {
            return Some("`pytestmark`".into());
        }
        // `pytestmark = requires_numpy` or `[requires_numpy, ...]`: through the names.
        let value = t.split_once('=').map_or("", |(_, v)| v);
        for name in value.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if let Some((at, v)) = marker_value(text, model, name) {
                if v.contains("skip") || v.contains("xfail") {
                    return Some(format!(
                        "`pytestmark` holds `{name}`, bound to a skip at line {}",
                        crate::diag::line_col(text, at).0
                    ));
                }
            }
        }
    }
    None
}

/// The line of module-level code that later imports may depend on (`sys.path`
/// changes...) when a `def` or `class` comes before it: hoisted imports go before the
/// first definition, so they would run before that code. Read from the text where a
/// definition starts (a line opening with `def`, `async def`, `class` or `@`), so that
/// a partial parse, which may elide the definition, gives the same answer.
fn late_environment(tree: &Tree, text: &str) -> Option<usize> {
    let root = tree.root_node();
    let mut c = root.walk();
    let first_definition = text
        .split_inclusive('\n')
        .scan(0usize, |at, line| {
            let start = *at;
            *at += line.len();
            Some((start, line))
        })
        .find(|(_, line)| {
            ["def ", "async def ", "class ", "@"]
                .iter()
                .any(|k| line.starts_with(k))
        })
        .map(|(start, _)| start)?;
    for child in root.named_children(&mut c) {
        if child.start_byte() < first_definition || is_definition(child, text) {
            continue;
        }
        if matches!(
            kind_of(child),
            "comment" | "import_statement" | "import_from_statement" | "future_import_statement"
        ) {
            continue;
        }
        if is_main_guard(child, text) {
            // Runs only when the file is run as a script, never on import.
            continue;
        }
        let t = node_text(child, text);
        if MODULE_ENVIRONMENT.iter().any(|m| t.contains(m)) {
            return Some(child.start_position().row + 1);
        }
    }
    None
}

/// Is this module-level statement a definition: a `def`, `class` or decorated one, or
/// the placeholder a partial parse leaves for one it elides (an expression statement
/// cannot start with `def`, `class`, `async def` or `@`), so that whole and partial
/// parses read the module alike (found by the fuzzer, seed 92001).
fn is_definition(node: Node<'_>, text: &str) -> bool {
    match kind_of(node) {
        "function_definition" | "class_definition" | "decorated_definition" => true,
        "expression_statement" => {
            let t = node_text(node, text);
            t.starts_with('@')
                || ["def", "class", "async"].iter().any(|k| {
                    t.strip_prefix(k)
                        .is_some_and(|rest| rest.starts_with([' ', '\t']))
                })
        }
        _ => false,
    }
}

/// Is this `if __name__ == "__main__":` (either way round, either quotes)?
fn is_main_guard(node: Node<'_>, text: &str) -> bool {
    if kind_of(node) != "if_statement" {
        return false;
    }
    let Some(cond) = node.child_by_field_name("condition") else {
        return false;
    };
    let compact: String = node_text(cond, text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == '\'' { '"' } else { c })
        .collect();
    compact == "__name__==\"__main__\"" || compact == "\"__main__\"==__name__"
}

/// Where hoisted imports go: after the docstring, `from __future__` imports and the
/// top import block, and after any module-level code before the first def or class that
/// later imports may depend on (`sys.path` changes, `importorskip`, `django.setup()`,
/// `matplotlib.use(...)`), with the imports that follow it. Also says whether a
/// module-level import ends right before the point (the new lines extend a block).
fn hoist_point(tree: &Tree, text: &str, top: &[TopImport]) -> (InsertPoint, bool) {
    let line_after = |end: usize| text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
    let mut point = imports::insertion_point(tree, text);
    let root = tree.root_node();
    let mut c = root.walk();
    let mut env_end: Option<usize> = None;
    for child in root.named_children(&mut c) {
        if is_definition(child, text) {
            break;
        }
        match kind_of(child) {
            "comment"
            | "import_statement"
            | "import_from_statement"
            | "future_import_statement" => {}
            _ => {
                let t = node_text(child, text);
                if MODULE_ENVIRONMENT.iter().any(|m| t.contains(m)) {
                    env_end = Some(child.end_byte());
                }
            }
        }
    }
    if let Some(env) = env_end {
        // After that code and the run of imports (and comments) right after it.
        let mut end = env;
        let mut c = root.walk();
        for child in root.named_children(&mut c) {
            if child.start_byte() < env {
                continue;
            }
            match kind_of(child) {
                "import_statement" | "import_from_statement" | "comment" => end = child.end_byte(),
                _ => break,
            }
        }
        let offset = line_after(end);
        if offset > point.offset {
            point = InsertPoint {
                offset,
                needs_newline: !text[..offset].ends_with('\n'),
                after_docstring: false,
            };
        }
    }
    let after_import = !point.after_docstring
        && top
            .iter()
            .any(|i| line_after(i.end) == point.offset || i.end == point.offset);
    (point, after_import)
}

/// Start of the comment lines right above an import (same indentation, no blank line
/// between) that belong to it: the import must end its group (a blank line, another
/// import or the end of the block follows it).
fn attached_comments_start(text: &str, line_from: usize, unit_end: usize, indent: &str) -> usize {
    let next = next_line(text, unit_end);
    let next_trim = next.trim_start();
    let next_indent = next.len() - next_trim.len();
    let ends_group = unit_end >= text.len()
        || next.trim().is_empty()
        || next_trim.starts_with("import ")
        || next_trim.starts_with("from ")
        || next_indent < indent.len();
    if !ends_group {
        return line_from;
    }
    let mut start = line_from;
    while start > 0 {
        let prev_start = line_start(text, start - 1);
        let line = &text[prev_start..start];
        let Some(rest) = line.strip_prefix(indent) else {
            break;
        };
        if !rest.starts_with('#') {
            break;
        }
        start = prev_start;
    }
    start
}

/// The line before the one starting at `at` (without its newline).
fn previous_line(text: &str, at: usize) -> Option<&str> {
    if at == 0 {
        return None;
    }
    let s = line_start(text, at - 1);
    Some(&text[s..at - 1])
}

fn next_line(text: &str, at: usize) -> &str {
    let rest = &text[at.min(text.len())..];
    rest.split('\n').next().unwrap_or("")
}

fn skip_blank_lines(text: &str, mut at: usize) -> usize {
    while at < text.len() {
        let line = next_line(text, at);
        if !line.trim().is_empty() || at + line.len() >= text.len() {
            break;
        }
        at += line.len() + 1;
    }
    at
}

fn count_blank_lines(text: &str) -> usize {
    text.split('\n')
        .take_while(|l| l.trim().is_empty())
        .count()
        .min(text.matches('\n').count())
}

/// Does the block open with a docstring that ends on the line before `at`?
fn docstring_ends_before(block: Node<'_>, text: &str, at: usize) -> bool {
    let mut c = block.walk();
    let Some(first) = block
        .named_children(&mut c)
        .find(|n| kind_of(n) != "comment")
    else {
        return false;
    };
    kind_of(first) == "expression_statement"
        && first.named_child_count() == 1
        && first.named_child(0).is_some_and(|s| kind_of(s) == "string")
        && at > 0
        && line_start(text, at - 1) <= first.end_byte()
        && first.end_byte() < at
}

/// A block header line (`def f():`, `else:  # why`).
fn is_header(line: &str) -> bool {
    let code = match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    };
    code.trim_end().ends_with(':')
}

fn dedent(unit: &str, indent: &str) -> String {
    unit.split_inclusive('\n')
        .map(|l| {
            l.strip_prefix(indent)
                .unwrap_or_else(|| l.trim_start_matches([' ', '\t']))
        })
        .collect()
}

fn one_line(stmt: &str) -> String {
    stmt.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefilter(src: &str) -> bool {
        HoistImports::default().may_match(src)
    }

    #[test]
    fn prefilter_finds_function_local_imports() {
        assert!(prefilter("def f():\n    import os\n"));
        assert!(prefilter(
            "class A:\n    def f(self):\n        from a import b\n"
        ));
        assert!(prefilter("def f(): import os\n"));
        assert!(prefilter(
            "def f():\n    x = '''\nfoo\n'''\n    import os\n"
        ));
    }

    #[test]
    fn prefilter_skips_module_level_imports() {
        assert!(!prefilter("import os\nfrom a import b\n"));
        assert!(!prefilter(
            "try:\n    import ujson\nexcept ImportError:\n    import json\n"
        ));
        assert!(!prefilter("if TYPE_CHECKING:\n    from a import B\n"));
        assert!(!prefilter("x = 1  # important\n"));
    }

    #[test]
    fn keep_markers() {
        assert_eq!(
            keep_marker("import x  # fixer: keep"),
            Some("# fixer: keep")
        );
        assert_eq!(
            keep_marker("import x  # noqa: PLC0415"),
            Some("# noqa: PLC0415")
        );
        assert_eq!(
            keep_marker("import x  # noqa: E402, PLC0415"),
            Some("# noqa: PLC0415")
        );
        assert_eq!(keep_marker("import x  # noqa"), Some("# noqa"));
        assert_eq!(keep_marker("import x  # noqa: F401"), None);
        assert_eq!(keep_marker("import x"), None);
    }
}
