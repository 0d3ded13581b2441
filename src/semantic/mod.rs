//! # The semantic model: what a name means, once, for every action
//!
//! Built from the tree-sitter tree of one file (or of the parts a partial parse keeps),
//! it answers the questions every action used to answer on its own: which scopes
//! there are, what each binds and refers to, which binding a reference may see, and
//! what `x` in `x.y.z` stands for through imports and aliases.
//!
//! It follows CPython's own two passes (`Python/symtable.c`), so its answers are the
//! compiler's, not a guess at them:
//! 1. [`build`] walks the tree once and records, per scope, every name with how it
//!    occurs there (bound by an assignment, a parameter, an import; declared
//!    `global`/`nonlocal`; used), and each binding and reference with its place;
//! 2. [`analyze`] resolves each name of each scope to local, cell, free, global
//!    (declared or implicit), as CPython does: class scopes are not visible to the
//!    functions inside them, a walrus in a comprehension binds in the nearest
//!    function (or module), `global` in any function marks the module's name.
//!
//! `fixer inspect scopes` prints the result in the shape of the standard library's
//! `symtable` module, and `bench/symtable_check.py` holds it against `symtable` on any
//! tree (0 differences on CPython's standard library, Django and SymPy).
//!
//! Scope kinds: module, class, function, lambda, and one per comprehension (Python
//! 3.11 semantics: a comprehension is its own function scope, its first iterable is
//! evaluated outside it). Annotations are evaluated where CPython evaluates them, and
//! not at all under `from __future__ import annotations`. Names are mangled inside
//! classes (`__x` in class `C` is `_C__x`), as the compiler does.

mod analyze;
mod build;

use std::collections::HashMap;

pub use build::build;

/// Index of a scope in [`Model::scopes`]; the module is 0.
pub type ScopeId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Module,
    Class,
    Function,
    Lambda,
    /// `[...]`, `{...}` (set or dict) or `(... for ...)`.
    Comprehension(Comprehension),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comprehension {
    List,
    Set,
    Dict,
    Generator,
}

impl ScopeKind {
    /// Whether names bound here are visible to nested functions (CPython's
    /// `FunctionBlock`: functions, lambdas and comprehensions).
    pub fn is_function_like(self) -> bool {
        !matches!(self, ScopeKind::Module | ScopeKind::Class)
    }

    /// The scope's type as `symtable` reports it.
    pub fn symtable_type(self) -> &'static str {
        match self {
            ScopeKind::Module => "module",
            ScopeKind::Class => "class",
            _ => "function",
        }
    }
}

/// How a name occurs in a scope (the compiler's `DEF_*` flags).
pub mod flags {
    /// Declared `global` (in this scope; on the module: in any scope).
    pub const GLOBAL: u16 = 1;
    /// Bound by an assignment form, `def`, `class`, `for`, `with`, `except`, `del`...
    pub const ASSIGNED: u16 = 1 << 1;
    pub const PARAMETER: u16 = 1 << 2;
    /// Declared `nonlocal` (or the target of a walrus in a comprehension).
    pub const NONLOCAL: u16 = 1 << 3;
    /// Read.
    pub const USED: u16 = 1 << 4;
    pub const IMPORTED: u16 = 1 << 5;
    /// Annotated (`x: int`).
    pub const ANNOTATED: u16 = 1 << 6;
    /// An iteration variable of a comprehension.
    pub const COMPREHENSION_ITER: u16 = 1 << 7;
    /// Anything that binds the name in this scope.
    pub const BOUND: u16 = ASSIGNED | PARAMETER | IMPORTED;
}

/// Where a name of a scope lives at run time, as CPython resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolution {
    #[default]
    Local,
    /// Local, and a nested function reads it.
    Cell,
    /// Bound in an enclosing function.
    Free,
    /// Declared `global`.
    GlobalExplicit,
    /// Not bound here nor in an enclosing function: a module global or a builtin.
    GlobalImplicit,
}

#[derive(Debug, Clone, Default)]
pub struct Symbol {
    pub flags: u16,
    pub resolution: Resolution,
}

impl Symbol {
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

#[derive(Debug, Clone)]
pub struct Scope {
    pub kind: ScopeKind,
    /// The function's or class's name; `top`, `lambda`, `listcomp`... otherwise.
    pub name: String,
    /// 1-based line of the `def`/`class`/`lambda` keyword or the comprehension's
    /// opening bracket; 0 for the module.
    pub line: usize,
    /// The bytes of the node that makes the scope (the whole file for the module).
    pub start: usize,
    pub end: usize,
    pub parent: Option<ScopeId>,
    pub children: Vec<ScopeId>,
    /// Names in the order they first occur.
    pub symbols: Vec<(String, Symbol)>,
    index: HashMap<String, usize, crate::fast_hash::FastHash>,
}

impl Scope {
    pub fn symbol(&self, name: &str) -> Option<&Symbol> {
        self.index.get(name).map(|&i| &self.symbols[i].1)
    }

    fn symbol_mut(&mut self, name: &str) -> &mut Symbol {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.symbols.push((name.to_owned(), Symbol::default()));
                self.index.insert(name.to_owned(), self.symbols.len() - 1);
                self.symbols.len() - 1
            }
        };
        &mut self.symbols[i].1
    }
}

/// What made a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingKind {
    /// `x = ...`, `x += ...`, `x: T = ...`, `for x in`, `with ... as x`, a walrus,
    /// unpacking and starred targets.
    Assignment,
    /// `x: T` with no value: declares, binds nothing at run time.
    Annotation,
    /// `import a.b.c` (binds `a`; `module` is `a`, `full` is `a.b.c`), or
    /// `import a.b as c` (binds `c`; `module` is `a.b`).
    Import {
        module: String,
        full: String,
    },
    /// `from m import x as y`: `module` is `m` (with its leading dots), `name` is `x`.
    FromImport {
        module: String,
        name: String,
    },
    /// `from m import *`.
    StarImport {
        module: String,
    },
    Function,
    Class,
    Parameter,
    /// `except E as x`: unbound again at the end of the handler.
    ExceptAs,
    /// A capture or `as` name in a `case` pattern.
    MatchCapture,
    /// `del x`.
    Deletion,
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub name: String,
    pub scope: ScopeId,
    pub kind: BindingKind,
    /// The name's bytes (for a `from m import *`, the `*`).
    pub start: usize,
    pub end: usize,
    /// The statement (or clause) that binds: an import statement, the `def`.
    pub statement: (usize, usize),
}

#[derive(Debug, Clone)]
pub struct Reference {
    pub name: String,
    pub scope: ScopeId,
    pub start: usize,
    pub end: usize,
}

/// A `global` or `nonlocal` declaration of one name.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub name: String,
    pub scope: ScopeId,
    /// `global` (else `nonlocal`).
    pub global: bool,
    /// The name's bytes in the statement.
    pub start: usize,
    pub end: usize,
}

/// The model of one file.
#[derive(Debug, Clone)]
pub struct Model {
    pub scopes: Vec<Scope>,
    pub bindings: Vec<Binding>,
    pub references: Vec<Reference>,
    /// Every `global` and `nonlocal` declaration, in source order.
    pub declarations: Vec<Declaration>,
    /// `from __future__ import annotations`: annotations are never evaluated.
    pub future_annotations: bool,
}

impl Model {
    pub fn module(&self) -> &Scope {
        &self.scopes[0]
    }

    /// The innermost scope whose node holds `offset`.
    pub fn scope_at(&self, offset: usize) -> ScopeId {
        let mut id = 0;
        'down: loop {
            for &c in &self.scopes[id].children {
                let s = &self.scopes[c];
                if s.start <= offset && offset < s.end {
                    id = c;
                    continue 'down;
                }
            }
            return id;
        }
    }

    /// The scope where `name`, read in `scope`, is looked up at run time: the scope
    /// itself when it binds the name, the enclosing function that does for a free
    /// name, the module for a global (also when the module does not bind it: then it
    /// is a builtin or unbound).
    pub fn defining_scope(&self, scope: ScopeId, name: &str) -> ScopeId {
        match self.scopes[scope].symbol(name).map(|sym| sym.resolution) {
            Some(Resolution::Local | Resolution::Cell) => return scope,
            Some(Resolution::GlobalExplicit | Resolution::GlobalImplicit) => return 0,
            Some(Resolution::Free) | None => {}
        }
        // Free (or not recorded here): the nearest enclosing function that binds it,
        // skipping classes, whose names nested functions do not see.
        let mut parent = self.scopes[scope].parent;
        while let Some(p) = parent {
            let s = &self.scopes[p];
            if s.kind == ScopeKind::Module {
                return 0;
            }
            if s.kind != ScopeKind::Class {
                match s.symbol(name).map(|sym| sym.resolution) {
                    Some(Resolution::Local | Resolution::Cell) => return p,
                    Some(Resolution::GlobalExplicit) => return 0,
                    _ => {}
                }
            }
            parent = s.parent;
        }
        0
    }

    /// Every binding of `name` in `scope`, in source order.
    pub fn bindings_in(&self, scope: ScopeId, name: &str) -> impl Iterator<Item = &Binding> {
        let name = name.to_owned();
        self.bindings
            .iter()
            .filter(move |b| b.scope == scope && b.name == name)
    }

    /// The bindings a read of `name` at `offset` may see: every binding of the name
    /// in the scope it resolves to (the model is not flow-sensitive: which of them
    /// runs last is for the caller to judge).
    pub fn reaching(&self, offset: usize, name: &str) -> Vec<&Binding> {
        let scope = self.scope_at(offset);
        let defining = self.defining_scope(scope, name);
        self.bindings_in(defining, name).collect()
    }

    /// Whether a read of `name` at `offset` comes, in its own scope, before every
    /// statement that binds the name there (so it would fail with
    /// `UnboundLocalError` in a function).
    pub fn used_before_binding(&self, offset: usize, name: &str) -> bool {
        let scope = self.scope_at(offset);
        let mut bindings = self.bindings_in(scope, name).peekable();
        bindings.peek().is_some() && bindings.all(|b| b.statement.0 > offset)
    }

    /// The qualified name of a dotted expression (`x`, `x.y.z`) read at `offset`, through
    /// the imports that bind its first name: with `import a.b as m`, `m.c` is `a.b.c`;
    /// with `from p import q`, `q.r` is `p.q.r`; with `import a.b`, `a.b.c` is `a.b.c`.
    /// A name bound in the file by a def, class or assignment is `<module>.name` as
    /// written; a name nothing binds is a builtin, `builtins.name`. `None` when the
    /// first name's binding is ambiguous (bound to different things).
    pub fn qualified_name(&self, offset: usize, dotted: &str) -> Option<String> {
        let (head, rest) = match dotted.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (dotted, None),
        };
        let reaching = self.reaching(offset, head);
        let mut answer: Option<String> = None;
        for b in &reaching {
            let base = match &b.kind {
                BindingKind::Import { module, full } => {
                    if module == full && module != head {
                        // `import a.b as c`: c is a.b.
                        module.clone()
                    } else if module == head {
                        // `import a.b.c` binds `a`; `a.b.c.d` is itself.
                        head.to_owned()
                    } else {
                        module.clone()
                    }
                }
                BindingKind::FromImport { module, name } => {
                    if module.ends_with('.') {
                        format!("{module}{name}")
                    } else {
                        format!("{module}.{name}")
                    }
                }
                BindingKind::Deletion | BindingKind::Annotation => continue,
                _ => return None,
            };
            match &answer {
                Some(a) if *a != base => return None,
                _ => answer = Some(base),
            }
        }
        let base = match answer {
            Some(a) => a,
            None if reaching.is_empty() => format!("builtins.{head}"),
            None => return None,
        };
        Some(match rest {
            Some(r) => format!("{base}.{r}"),
            None => base,
        })
    }

    /// The name the compiler stores for `name` written in `scope`: NFKC-normalized, and
    /// mangled (`__x` as `_C__x`) under the innermost class around or at `scope`.
    pub fn stored_name<'n>(&self, scope: ScopeId, name: &'n str) -> std::borrow::Cow<'n, str> {
        let mut class = None;
        let mut s = Some(scope);
        while let Some(id) = s {
            if self.scopes[id].kind == ScopeKind::Class {
                class = Some(self.scopes[id].name.as_str());
                break;
            }
            s = self.scopes[id].parent;
        }
        let normal = build::identifier(name);
        match (normal, mangle(class, name)) {
            (std::borrow::Cow::Borrowed(_), m) => m,
            (std::borrow::Cow::Owned(n), _) => mangle(class, &n).into_owned().into(),
        }
    }

    /// The scope whose bindings a read of `name` in `scope` at `offset` sees at run
    /// time: [`Self::defining_scope`], except that in a class body a read that comes
    /// before (or inside) the statement of every binding of the name there sees the
    /// module's (`settings = settings` in a class reads the global: the class namespace
    /// does not hold the name yet, and `LOAD_NAME` falls through to the globals). A
    /// compound statement that binds (`for`, `with`) counts as a whole.
    pub fn lookup(&self, scope: ScopeId, name: &str, offset: usize) -> ScopeId {
        let s = &self.scopes[scope];
        if s.kind == ScopeKind::Class
            && matches!(
                s.symbol(name).map(|sym| sym.resolution),
                Some(Resolution::Local | Resolution::Cell)
            )
        {
            let mut bindings = self.bindings_in(scope, name).peekable();
            if bindings.peek().is_some() && bindings.all(|b| b.statement.1 > offset) {
                return 0;
            }
        }
        self.defining_scope(scope, name)
    }

    /// [`Self::lookup`] for a recorded read.
    pub fn resolve(&self, reference: &Reference) -> ScopeId {
        self.lookup(reference.scope, &reference.name, reference.start)
    }

    /// The scope a binding binds its name in at run time: where it is written, or the
    /// module for a name declared `global` there, or the enclosing function for one
    /// declared `nonlocal`.
    pub fn binding_scope(&self, binding: &Binding) -> ScopeId {
        match self.scopes[binding.scope]
            .symbol(&binding.name)
            .map(|sym| sym.resolution)
        {
            Some(Resolution::GlobalExplicit) => 0,
            Some(Resolution::Free) => self.defining_scope(binding.scope, &binding.name),
            _ => binding.scope,
        }
    }

    /// Every binding that binds `name` in `scope` at run time, in source order: those of
    /// [`Self::bindings_in`] and those of the nested scopes that declare the name
    /// `global` (for the module) or `nonlocal` (see [`Self::binding_scope`]).
    pub fn bindings_of(&self, scope: ScopeId, name: &str) -> Vec<&Binding> {
        let mut out: Vec<&Binding> = self
            .bindings
            .iter()
            .filter(|b| b.name == name && self.binding_scope(b) == scope)
            .collect();
        out.sort_by_key(|b| b.start);
        out
    }

    /// Every name bound or read anywhere in the file (to choose a fresh one).
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.scopes
            .iter()
            .flat_map(|s| s.symbols.iter().map(|(n, _)| n.as_str()))
    }
}

/// The name CPython stores for `name` inside class `class` (private name mangling).
pub fn mangle<'a>(class: Option<&str>, name: &'a str) -> std::borrow::Cow<'a, str> {
    let Some(class) = class else {
        return name.into();
    };
    if !name.starts_with("__") || name.ends_with("__") || name.contains('.') {
        return name.into();
    }
    let stripped = class.trim_start_matches('_');
    if stripped.is_empty() {
        return name.into();
    }
    format!("_{stripped}{name}").into()
}

/// The `is_*` predicates of the standard library's `symtable.Symbol` that hold for
/// `sym` in `scope`, in the order `fixer inspect scopes` prints them.
pub fn symtable_flags(scope: &Scope, sym: &Symbol) -> Vec<&'static str> {
    // As `symtable` decides it: by the scope's name, so a function named `top` counts
    // (CPython 3.11's Lib/symtable.py).
    let module = scope.name == "top";
    let bound_in_module = module && sym.has(flags::BOUND);
    let r = sym.resolution;
    let mut out = Vec::new();
    if matches!(r, Resolution::Local | Resolution::Cell) || bound_in_module {
        out.push("local");
    }
    if matches!(r, Resolution::GlobalExplicit | Resolution::GlobalImplicit) || bound_in_module {
        out.push("global");
    }
    if r == Resolution::GlobalExplicit {
        out.push("declared_global");
    }
    if sym.has(flags::NONLOCAL) {
        out.push("nonlocal");
    }
    if r == Resolution::Free {
        out.push("free");
    }
    if sym.has(flags::IMPORTED) {
        out.push("imported");
    }
    if sym.has(flags::PARAMETER) {
        out.push("parameter");
    }
    if sym.has(flags::ASSIGNED) {
        out.push("assigned");
    }
    if sym.has(flags::USED) {
        out.push("referenced");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(src: &str) -> Model {
        let tree = crate::parse::parse(src).expect("parses");
        build(&tree, src)
    }

    fn flags_of(m: &Model, scope: &str, name: &str) -> Vec<&'static str> {
        let s = m.scopes.iter().find(|s| s.name == scope).expect("scope");
        let sym = s.symbol(name).expect("symbol");
        symtable_flags(s, sym)
    }

    #[test]
    fn import_of_a_submodule_binds_its_package() {
        let m = model("def f():\n    import pkg\n    import pkg.sub\n    pkg.x\n");
        let f = m.scopes.iter().position(|s| s.name == "f").expect("f");
        assert_eq!(m.bindings_in(f, "pkg").count(), 2);
        assert_eq!(
            flags_of(&m, "f", "pkg"),
            ["local", "imported", "referenced"]
        );
    }

    #[test]
    fn class_scope_is_not_seen_by_methods() {
        let m = model("class C:\n    x = 1\n    def m(self):\n        return x\n");
        assert_eq!(flags_of(&m, "m", "x"), ["global", "referenced"]);
    }

    #[test]
    fn walrus_in_comprehension_binds_in_function() {
        let m = model("def f():\n    [y := i for i in range(3)]\n");
        assert_eq!(flags_of(&m, "f", "y"), ["local", "assigned"]);
        assert_eq!(
            flags_of(&m, "listcomp", "y"),
            ["nonlocal", "free", "assigned"]
        );
    }

    #[test]
    fn use_before_binding_and_qualified_names() {
        let src = "import os.path as p\nfrom a import b\ndef f():\n    x.y\n    x = 1\n";
        let m = model(src);
        let use_at = src.find("x.y").expect("x.y");
        assert!(m.used_before_binding(use_at, "x"));
        let end = src.len() - 1;
        assert_eq!(
            m.qualified_name(end, "p.join").as_deref(),
            Some("os.path.join")
        );
        assert_eq!(m.qualified_name(end, "b.c").as_deref(), Some("a.b.c"));
        assert_eq!(
            m.qualified_name(end, "len").as_deref(),
            Some("builtins.len")
        );
    }

    #[test]
    fn class_body_reads_before_its_binding_see_the_module() {
        let src =
            "from m import s\nclass C:\n    s = s\n    t = s\n    def k(self):\n        return s\n";
        let m = model(src);
        let reads: Vec<(usize, ScopeId)> = m
            .references
            .iter()
            .filter(|r| r.name == "s")
            .map(|r| (r.start, m.resolve(r)))
            .collect();
        let class = m.scopes.iter().position(|s| s.name == "C").expect("C");
        let first = src.find("= s").expect("s = s") + 2;
        let second = src.find("t = s").expect("t = s") + 4;
        let method = src.rfind('s').expect("return s");
        assert_eq!(reads, vec![(first, 0), (second, class), (method, 0)]);
    }

    #[test]
    fn global_and_nonlocal_bindings_bind_in_the_scope_they_name() {
        let src = "s = 1\ndef f():\n    global s\n    s = 2\n\
                   def g():\n    t = 1\n    def h():\n        nonlocal t\n        t = 2\n";
        let m = model(src);
        assert_eq!(m.bindings_in(0, "s").count(), 1);
        assert_eq!(m.bindings_of(0, "s").len(), 2);
        let g = m.scopes.iter().position(|s| s.name == "g").expect("g");
        let h = m.scopes.iter().position(|s| s.name == "h").expect("h");
        assert_eq!(m.bindings_of(g, "t").len(), 2);
        assert!(m.bindings_of(h, "t").is_empty());
    }

    #[test]
    fn names_are_mangled_in_classes() {
        let m = model("class _C:\n    __x = 1\n    def m(self):\n        return __y\n");
        assert!(m.scopes[1].symbol("_C__x").is_some());
        assert!(m.scopes[2].symbol("_C__y").is_some());
    }
}
