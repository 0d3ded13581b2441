//! Following imports across a Python project the way the interpreter would, without
//! running anything. Shared by `module-to-package`, `move-module` and
//! `unresolved-imports`.
//!
//! - [`Layout`]: the project root (the nearest directory with `pyproject.toml`,
//!   `setup.cfg`, `setup.py` or `.git`) and its import roots, the directories that act
//!   as `sys.path` entries: those the configuration names (`[tool.setuptools.packages.find]
//!   where`, `[tool.setuptools] package-dir`, `[tool.pytest.ini_options] pythonpath`,
//!   poetry `packages.from`, hatch wheel `packages`, setup.cfg `package_dir` / `where` /
//!   `[tool:pytest] pythonpath`, pytest.ini and tox.ini `pythonpath`), the root itself
//!   and its `src/`; a file's own imports also see the directory above its outermost
//!   package (as pytest and a script's `sys.path[0]` do), but only that file: a test
//!   package named `sphinx` under `tests/` does not shadow the real one for `docs/`;
//! - [`Resolver`]: a dotted name (absolute or relative) to a [`Loc`] (module file,
//!   regular package, namespace package, extension module) or the reason it does not
//!   resolve; whether a top-level name belongs to the project (else it is third-party
//!   and not judged); what a module binds ([`ModInfo`]).
//!
//! Everything is seen as the run sees it: files created or deleted by an earlier recipe
//! of the same run count. Paths inside are absolute; [`Layout::ws_path`] turns them back
//! into the workspace's spelling.

use crate::parse::kind_of;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use tree_sitter::Node;

use crate::engine::Workspace;
use crate::parse::text as node_text;

mod scan;
pub(crate) use scan::is_word;

/// Top-level modules of the standard library ([`crate::stdlib`], plus `test` and the
/// interpreter's own `__future__` and `__main__`). A top-level name among them is never
/// judged as a project module: the interpreter has it loaded or finds it before a
/// namespace directory of the same name.
pub fn is_stdlib(top: &str) -> bool {
    matches!(top, "test" | "__future__" | "__main__") || crate::stdlib::is_stdlib(top)
}

/// Directories that are build output or tooling, never a namespace package of the project.
const NOT_NAMESPACES: &[&str] = &[
    "build",
    "dist",
    "doc",
    "docs",
    "site-packages",
    "node_modules",
    "htmlcov",
    "venv",
    ".venv",
    ".eggs",
    ".tox",
    "__pycache__",
];

/// Attributes every module has.
pub const MODULE_DUNDERS: &[&str] = &[
    "__name__",
    "__doc__",
    "__file__",
    "__path__",
    "__spec__",
    "__loader__",
    "__package__",
    "__builtins__",
    "__cached__",
    "__dict__",
];

pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

pub fn is_dotted(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_identifier)
}

/// `a/./b/../c` as `a/c`, without touching the disk.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The project root and the import roots.
#[derive(Debug, Clone)]
pub struct Layout {
    pub cwd: PathBuf,
    /// Absolute project root: the first of `projects`.
    pub root: PathBuf,
    /// Absolute root of the project of each path the run was given (the nearest
    /// directory above it with a project marker), each once: a run over two projects
    /// resolves each one's relative imports within it.
    pub projects: Vec<PathBuf>,
    /// Absolute import roots, in `sys.path` order.
    pub roots: Vec<PathBuf>,
    keep_absolute: bool,
}

/// Files that mark the root of a Python project (pytest's rootdir files among them).
const PROJECT_MARKERS: &[&str] = &[
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "manage.py",
    "pytest.ini",
];

/// The project root for a run given `start`, and the repository root above it when that
/// is another directory: the nearest directory with a project marker inside the
/// repository; else (a project in a subdirectory of a repository, or no repository)
/// the directory above the packages holding `start`, which is `start` itself unless it
/// is inside a package.
fn project_root(start: &Path) -> (PathBuf, Option<PathBuf>) {
    let repo = start.ancestors().find(|d| d.join(".git").exists());
    let marked = start
        .ancestors()
        .find(|d| PROJECT_MARKERS.iter().any(|m| d.join(m).is_file()))
        .filter(|m| repo.is_none_or(|g| m.starts_with(g)));
    let root = match marked {
        Some(m) => m.to_path_buf(),
        None => {
            let mut dir = start.to_path_buf();
            while dir.join("__init__.py").is_file() {
                match dir.parent() {
                    Some(p) => dir = p.to_path_buf(),
                    None => break,
                }
            }
            dir
        }
    };
    let repo = repo.map(Path::to_path_buf).filter(|g| *g != root);
    (root, repo)
}

impl Layout {
    pub fn discover(ws: &Workspace) -> Layout {
        let cwd = std::env::current_dir()
            .map(|c| normalize(&c))
            .unwrap_or_default();
        let keep_absolute = ws.roots.iter().any(|r| r.is_absolute());
        let abs = |p: &Path| normalize(&cwd.join(p));
        let starts: Vec<PathBuf> = ws
            .roots
            .iter()
            .map(|r| {
                let a = abs(r);
                if a.is_dir() {
                    a
                } else {
                    a.parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| a.clone())
                }
            })
            .collect();
        let mut projects: Vec<PathBuf> = Vec::new();
        let mut repos: Vec<PathBuf> = Vec::new();
        for start in if starts.is_empty() {
            vec![cwd.clone()]
        } else {
            starts
        } {
            let (root, repo) = project_root(&start);
            if !projects.contains(&root) {
                projects.push(root);
            }
            repos.extend(repo);
        }
        let mut roots: Vec<PathBuf> = Vec::new();
        // A repository above a project without markers is searched too, after it (a
        // run on a subdirectory still finds the packages at the repository's top).
        for root in projects.iter().chain(&repos) {
            roots.extend(
                config_roots(root)
                    .into_iter()
                    .map(|r| normalize(&root.join(r)))
                    .filter(|r| r.is_dir()),
            );
            roots.push(root.clone());
            let src = root.join("src");
            if src.is_dir() {
                roots.push(src);
            }
        }
        let mut seen = HashSet::new();
        roots.retain(|r| seen.insert(r.clone()));
        Layout {
            cwd,
            root: projects[0].clone(),
            projects,
            roots,
            keep_absolute,
        }
    }

    /// The root of the project `file` (absolute) belongs to: the innermost of
    /// [`Layout::projects`] holding it, else the first.
    pub fn root_of(&self, file: &Path) -> &Path {
        self.projects
            .iter()
            .filter(|r| file.starts_with(r))
            .max_by_key(|r| r.components().count())
            .unwrap_or(&self.root)
    }

    pub fn abs(&self, p: &Path) -> PathBuf {
        normalize(&self.cwd.join(p))
    }

    /// An absolute path as the workspace spells it (relative to the current directory
    /// when the run's paths were relative).
    pub fn ws_path(&self, abs: &Path) -> PathBuf {
        if self.keep_absolute {
            return abs.to_path_buf();
        }
        match abs.strip_prefix(&self.cwd) {
            Ok(r) if r.as_os_str().is_empty() => PathBuf::from("."),
            Ok(r) => r.to_path_buf(),
            Err(_) => abs.to_path_buf(),
        }
    }

    pub fn show(&self, abs: &Path) -> String {
        self.ws_path(abs).display().to_string()
    }
}

/// The directory above the outermost regular package holding `file`.
pub fn package_base(file: &Path) -> PathBuf {
    let mut dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    while dir.join("__init__.py").is_file() {
        match dir.parent() {
            Some(p) => dir = p.to_path_buf(),
            None => break,
        }
    }
    dir
}

/// Import roots named by the project's configuration, relative to the root.
fn config_roots(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(t) = std::fs::read_to_string(root.join("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
    {
        let get = |path: &[&str]| -> Option<&toml::Value> {
            let mut v = t.get(path[0])?;
            for k in &path[1..] {
                v = v.get(k)?;
            }
            Some(v)
        };
        let strings = |v: Option<&toml::Value>| -> Vec<String> {
            match v {
                Some(toml::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            }
        };
        out.extend(strings(get(&[
            "tool",
            "setuptools",
            "packages",
            "find",
            "where",
        ])));
        if let Some(s) = get(&["tool", "setuptools", "package-dir", ""]).and_then(|v| v.as_str()) {
            out.push(s.to_owned());
        }
        out.extend(strings(get(&[
            "tool",
            "pytest",
            "ini_options",
            "pythonpath",
        ])));
        if let Some(toml::Value::Array(pkgs)) = get(&["tool", "poetry", "packages"]) {
            for p in pkgs {
                if let Some(from) = p.get("from").and_then(|f| f.as_str()) {
                    out.push(from.to_owned());
                }
            }
        }
        for p in strings(get(&[
            "tool", "hatch", "build", "targets", "wheel", "packages",
        ])) {
            if let Some(parent) = Path::new(&p).parent() {
                out.push(parent.display().to_string());
            }
        }
    }
    for (file, sections) in [
        (
            "setup.cfg",
            &["options", "options.packages.find", "tool:pytest"][..],
        ),
        ("pytest.ini", &["pytest"][..]),
        ("tox.ini", &["pytest"][..]),
    ] {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        let ini = parse_ini(&text);
        for section in sections {
            let Some(keys) = ini.get(*section) else {
                continue;
            };
            for (key, value) in keys {
                match (*section, key.as_str()) {
                    ("options", "package_dir") => {
                        for line in value.lines() {
                            if let Some((k, v)) = line.split_once('=') {
                                if k.trim().is_empty() && !v.trim().is_empty() {
                                    out.push(v.trim().to_owned());
                                }
                            }
                        }
                    }
                    ("options.packages.find", "where") | (_, "pythonpath") => {
                        out.extend(value.split_whitespace().map(str::to_owned));
                    }
                    _ => {}
                }
            }
        }
    }
    out.retain(|r| !r.is_empty() && r != ".");
    out
}

/// A minimal INI reader: section -> [(key, value)], continuation lines joined by `\n`.
pub fn parse_ini(text: &str) -> HashMap<String, Vec<(String, String)>> {
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[')
            && trimmed.ends_with(']')
            && !line.starts_with(char::is_whitespace)
        {
            section = trimmed[1..trimmed.len() - 1].trim().to_owned();
            continue;
        }
        let entries = out.entry(section.clone()).or_default();
        if line.starts_with(char::is_whitespace) {
            if let Some((_, v)) = entries.last_mut() {
                v.push('\n');
                v.push_str(trimmed);
            }
            continue;
        }
        if let Some((k, v)) = trimmed.split_once(['=', ':']) {
            entries.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

/// Where a module is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loc {
    /// A module file, `a/b.py`.
    File(PathBuf),
    /// A regular package: its `__init__.py` and directory.
    Package { init: PathBuf, dir: PathBuf },
    /// A namespace package: its directories.
    Namespace(Vec<PathBuf>),
    /// An extension module: exists, but what it binds cannot be known.
    Opaque(PathBuf),
}

impl Loc {
    /// The Python file that runs when the module is imported.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Loc::File(f) | Loc::Package { init: f, .. } => Some(f),
            _ => None,
        }
    }

    /// Where its submodules are found.
    pub fn dirs(&self) -> Vec<PathBuf> {
        match self {
            Loc::Package { dir, .. } => vec![dir.clone()],
            Loc::Namespace(d) => d.clone(),
            _ => Vec::new(),
        }
    }

    /// The path without `.py`: `a/b` for `a/b.py`, `a/b/` and `a/b/__init__.py`.
    pub fn stem(&self) -> PathBuf {
        match self {
            Loc::File(f) | Loc::Opaque(f) => f.with_extension(""),
            Loc::Package { dir, .. } => dir.clone(),
            Loc::Namespace(d) => d.first().cloned().unwrap_or_default(),
        }
    }

    pub fn is_package(&self) -> bool {
        matches!(self, Loc::Package { .. } | Loc::Namespace(_))
    }
}

/// Why a dotted name does not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// `module` is a file, so `module.next` cannot be a submodule.
    NotAPackage {
        module: String,
        file: PathBuf,
        next: String,
    },
    /// No module `module` (the first missing prefix); `parent` is where it was looked for.
    Missing { module: String, parent: Option<Loc> },
    /// A relative import that climbs above the project root.
    BeyondRoot,
    /// A relative import that climbs above the top-level package `package`, which sits
    /// directly in an import root (Python: "attempted relative import beyond top-level
    /// package").
    BeyondTopLevel { package: String },
}

/// A snapshot of the files as the run sees them, with directory listings cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    None,
    File,
    Dir,
}

struct Fs {
    kinds: Mutex<HashMap<PathBuf, Kind>>,
    changed: HashMap<PathBuf, bool>,
    created_dirs: HashSet<PathBuf>,
    listing: Mutex<HashMap<PathBuf, Arc<BTreeSet<String>>>>,
}

impl Fs {
    fn new(ws: &Workspace, layout: &Layout) -> Fs {
        let mut changed = HashMap::new();
        let mut created_dirs = HashSet::new();
        for (p, exists) in ws.changed_paths() {
            let a = layout.abs(&p);
            if exists {
                for anc in a.ancestors().skip(1) {
                    if !created_dirs.insert(anc.to_path_buf()) {
                        break;
                    }
                }
            }
            changed.insert(a, exists);
        }
        Fs {
            kinds: Mutex::new(HashMap::new()),
            changed,
            created_dirs,
            listing: Mutex::new(HashMap::new()),
        }
    }

    fn is_file(&self, p: &Path) -> bool {
        match self.changed.get(p) {
            Some(e) => *e,
            None => self.kind(p) == Kind::File,
        }
    }

    fn is_dir(&self, p: &Path) -> bool {
        self.created_dirs.contains(p) || self.kind(p) == Kind::Dir
    }

    /// What is on disk at `p`, cached.
    fn kind(&self, p: &Path) -> Kind {
        let lock = || self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = lock().get(p) {
            return *k;
        }
        let k = match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => Kind::Dir,
            Ok(_) => Kind::File,
            Err(_) => Kind::None,
        };
        lock().insert(p.to_path_buf(), k);
        k
    }

    fn list(&self, dir: &Path) -> Arc<BTreeSet<String>> {
        if let Some(l) = self.lock().get(dir) {
            return l.clone();
        }
        let mut names: BTreeSet<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n != "__pycache__")
                    .collect()
            })
            .unwrap_or_default();
        for (p, exists) in &self.changed {
            if p.parent() == Some(dir) {
                if let Some(n) = p.file_name() {
                    let n = n.to_string_lossy().into_owned();
                    if *exists {
                        names.insert(n);
                    } else {
                        names.remove(&n);
                    }
                }
            }
        }
        for d in &self.created_dirs {
            if d.parent() == Some(dir) {
                if let Some(n) = d.file_name() {
                    names.insert(n.to_string_lossy().into_owned());
                }
            }
        }
        let names = Arc::new(names);
        self.lock().insert(dir.to_path_buf(), names.clone());
        names
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<BTreeSet<String>>>> {
        self.listing.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type ResolveKey = (Option<PathBuf>, String);

/// Resolves imports over the project, with caches; shareable across threads.
pub struct Resolver<'w> {
    pub ws: &'w Workspace,
    pub layout: Layout,
    fs: Fs,
    resolved: Mutex<HashMap<ResolveKey, Result<Loc, Unresolved>>>,
    infos: Mutex<HashMap<PathBuf, Arc<ModInfo>>>,
    bases: Mutex<HashMap<PathBuf, PathBuf>>,
    tops: Mutex<HashMap<ResolveKey, bool>>,
}

impl<'w> Resolver<'w> {
    pub fn new(ws: &'w Workspace) -> Resolver<'w> {
        let layout = Layout::discover(ws);
        let fs = Fs::new(ws, &layout);
        Resolver {
            ws,
            layout,
            fs,
            resolved: Mutex::new(HashMap::new()),
            infos: Mutex::new(HashMap::new()),
            bases: Mutex::new(HashMap::new()),
            tops: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_file(&self, p: &Path) -> bool {
        self.fs.is_file(p)
    }

    pub fn is_dir(&self, p: &Path) -> bool {
        self.fs.is_dir(p)
    }

    pub fn list(&self, dir: &Path) -> Arc<BTreeSet<String>> {
        self.fs.list(dir)
    }

    /// The text of a file as the run sees it.
    pub fn read(&self, abs: &Path) -> Option<Arc<str>> {
        self.ws.read(&self.layout.ws_path(abs)).ok().flatten()
    }

    /// The directory above the outermost package holding `file` (as the run sees it).
    pub fn package_base(&self, file: &Path) -> PathBuf {
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(b) = self.lock_bases().get(&dir) {
            return b.clone();
        }
        let mut base = dir.clone();
        while self.fs.is_file(&base.join("__init__.py")) {
            match base.parent() {
                Some(p) => base = p.to_path_buf(),
                None => break,
            }
        }
        self.lock_bases().insert(dir, base.clone());
        base
    }

    fn lock_bases(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, PathBuf>> {
        self.bases.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `sys.path` a file's imports see: its package base first (pytest's and a
    /// script's own directory), then the import roots.
    /// The project's modules whose dotted names come closest to `name`, best first:
    /// those ending in `.name` (the module under another root, `projA.pkg.mod` for
    /// `pkg.mod`), then those with its last part, then the most alike.
    pub fn closest_modules(&self, ws: &Workspace, name: &str) -> Vec<String> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for p in ws.python_files() {
            let abs = self.layout.abs(&p);
            let stem = if abs.file_name().is_some_and(|n| n == "__init__.py") {
                abs.parent().map(Path::to_path_buf).unwrap_or_default()
            } else {
                abs.with_extension("")
            };
            if let Some(dotted) = self
                .layout
                .roots
                .iter()
                .chain(std::iter::once(&self.layout.cwd))
                .filter_map(|r| stem.strip_prefix(r).ok())
                .map(|rel| {
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .filter(|d| is_dotted(d))
                .min_by_key(|d| d.len())
            {
                names.insert(dotted);
            }
        }
        let last = name.rsplit('.').next().unwrap_or(name);
        let suffix = format!(".{name}");
        let mut out: Vec<String> = names
            .iter()
            .filter(|n| n.ends_with(&suffix))
            .cloned()
            .collect();
        let same_last = |n: &&String| n.rsplit('.').next() == Some(last);
        out.extend(
            names
                .iter()
                .filter(same_last)
                .filter(|n| !out.contains(n))
                .cloned()
                .collect::<Vec<_>>(),
        );
        if out.is_empty() {
            out = crate::diag::closest(name, names.iter().map(String::as_str))
                .into_iter()
                .map(str::to_owned)
                .collect();
        }
        out.truncate(3);
        out
    }

    pub fn roots_for(&self, file: Option<&Path>) -> Vec<PathBuf> {
        let mut roots = Vec::with_capacity(self.layout.roots.len() + 1);
        if let Some(f) = file {
            roots.push(self.package_base(f));
        }
        for r in &self.layout.roots {
            if !roots.contains(r) {
                roots.push(r.clone());
            }
        }
        roots
    }

    /// One name in a search path, as `importlib`'s path finder looks: a regular package
    /// or a module in the first directory that has one, else the namespace portions.
    pub fn find_in(&self, dirs: &[PathBuf], part: &str) -> Option<Loc> {
        let mut portions = Vec::new();
        for d in dirs {
            let names = self.fs.list(d);
            if names.contains(part) {
                let sub = d.join(part);
                if self.fs.is_dir(&sub) {
                    let init = sub.join("__init__.py");
                    if self.fs.is_file(&init) {
                        return Some(Loc::Package { init, dir: sub });
                    }
                    if self
                        .fs
                        .list(&sub)
                        .iter()
                        .any(|n| n.starts_with("__init__."))
                    {
                        return Some(Loc::Opaque(sub));
                    }
                }
            }
            let file = format!("{part}.py");
            if names.contains(&file) && self.fs.is_file(&d.join(&file)) {
                return Some(Loc::File(d.join(file)));
            }
            let prefix = format!("{part}.");
            if let Some(ext) = names
                .range(prefix.clone()..)
                .take_while(|n| n.starts_with(&prefix))
                .find(|n| n.ends_with(".so") || n.ends_with(".pyd") || n.ends_with(".pyc"))
            {
                return Some(Loc::Opaque(d.join(ext)));
            }
            if names.contains(part) && self.fs.is_dir(&d.join(part)) {
                portions.push(d.join(part));
            }
        }
        (!portions.is_empty()).then_some(Loc::Namespace(portions))
    }

    /// Resolves an absolute dotted name for an import written in `file`.
    pub fn resolve(&self, name: &str, file: Option<&Path>) -> Result<Loc, Unresolved> {
        let base = file.map(|f| self.package_base(f));
        let key = (base.clone(), name.to_owned());
        if let Some(r) = self.lock_resolved().get(&key) {
            return r.clone();
        }
        let roots = self.roots_for(file);
        let r = self.resolve_in(&roots, name, "");
        self.lock_resolved().insert(key, r.clone());
        r
    }

    fn lock_resolved(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ResolveKey, Result<Loc, Unresolved>>> {
        self.resolved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves `parts` in `dirs`; `prefix` is the dotted name already resolved.
    fn resolve_in(&self, dirs: &[PathBuf], name: &str, prefix: &str) -> Result<Loc, Unresolved> {
        let parts: Vec<&str> = name.split('.').collect();
        let mut dirs = dirs.to_vec();
        let mut so_far = prefix.to_owned();
        let mut parent: Option<Loc> = None;
        for (i, part) in parts.iter().enumerate() {
            if !so_far.is_empty() {
                so_far.push('.');
            }
            so_far.push_str(part);
            let Some(loc) = self.find_in(&dirs, part) else {
                return Err(Unresolved::Missing {
                    module: so_far,
                    parent,
                });
            };
            if i + 1 == parts.len() {
                return Ok(loc);
            }
            match &loc {
                Loc::File(f) => {
                    if self.module_info(f).dynamic_path {
                        return Ok(Loc::Opaque(f.clone()));
                    }
                    return Err(Unresolved::NotAPackage {
                        module: so_far,
                        file: f.clone(),
                        next: parts[i + 1].to_owned(),
                    });
                }
                Loc::Opaque(_) => return Ok(loc),
                _ => {
                    if let Some(init) = loc.file() {
                        if self.module_info(init).dynamic_path {
                            return Ok(Loc::Opaque(init.to_path_buf()));
                        }
                    }
                    dirs = loc.dirs();
                }
            }
            parent = Some(loc);
        }
        Err(Unresolved::Missing {
            module: so_far,
            parent,
        })
    }

    /// The package directory a relative import with `level` dots starts from.
    pub fn relative_base(&self, file: &Path, level: usize) -> Result<PathBuf, Unresolved> {
        let mut dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = self.layout.root_of(file);
        // The file's `__package__` is the chain of regular packages above it. When the
        // outermost of them sits in an import root (not inside a namespace package,
        // whose name would lengthen the chain), `level` dots may climb no higher.
        let base = self.package_base(file);
        let chain: Vec<String> = dir
            .strip_prefix(&base)
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if !chain.is_empty()
            && level > chain.len()
            && (base == root || self.layout.roots.contains(&base))
        {
            return Err(Unresolved::BeyondTopLevel {
                package: chain[0].clone(),
            });
        }
        for _ in 1..level {
            if dir == root || !dir.starts_with(root) {
                return Err(Unresolved::BeyondRoot);
            }
            match dir.parent() {
                Some(p) => dir = p.to_path_buf(),
                None => return Err(Unresolved::BeyondRoot),
            }
        }
        if !dir.starts_with(root) {
            return Err(Unresolved::BeyondRoot);
        }
        Ok(dir)
    }

    /// Resolves `from <level dots><rest> import ...` written in `file`.
    pub fn resolve_relative(
        &self,
        file: &Path,
        level: usize,
        rest: &str,
    ) -> Result<Loc, Unresolved> {
        let dir = self.relative_base(file, level)?;
        let shown = ".".repeat(level);
        let pkg = self.dir_loc(&dir);
        if rest.is_empty() {
            return Ok(pkg);
        }
        self.resolve_in(&[dir], rest, &shown).map_err(|e| match e {
            Unresolved::Missing { module, parent } => Unresolved::Missing {
                module: module.replacen(&format!("{shown}."), &shown, 1),
                parent: parent.or(Some(pkg)),
            },
            Unresolved::NotAPackage { module, file, next } => Unresolved::NotAPackage {
                module: module.replacen(&format!("{shown}."), &shown, 1),
                file,
                next,
            },
            other => other,
        })
    }

    /// A directory as a package.
    pub fn dir_loc(&self, dir: &Path) -> Loc {
        let init = dir.join("__init__.py");
        if self.fs.is_file(&init) {
            Loc::Package {
                init,
                dir: dir.to_path_buf(),
            }
        } else {
            Loc::Namespace(vec![dir.to_path_buf()])
        }
    }

    /// Does the top-level name `top`, imported from `file`, belong to the project? Else
    /// the import is third-party (or the standard library) and not judged.
    pub fn is_project_top(&self, top: &str, file: Option<&Path>) -> bool {
        if is_stdlib(top) || !is_identifier(top) {
            return false;
        }
        let key = (file.map(|f| self.package_base(f)), top.to_owned());
        let lock = || self.tops.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = lock().get(&key) {
            return *t;
        }
        let t = self.is_project_top_uncached(top, file);
        lock().insert(key, t);
        t
    }

    fn is_project_top_uncached(&self, top: &str, file: Option<&Path>) -> bool {
        let roots = self.roots_for(file);
        match self.find_in(&roots, top) {
            None => false,
            Some(Loc::Namespace(dirs)) => {
                !NOT_NAMESPACES.contains(&top)
                    && !top.ends_with("egg-info")
                    && dirs.iter().any(|d| self.has_python(d, 3))
            }
            Some(_) => true,
        }
    }

    fn has_python(&self, dir: &Path, depth: usize) -> bool {
        let names = self.fs.list(dir);
        if names.iter().any(|n| n.ends_with(".py")) {
            return true;
        }
        depth > 0
            && names.iter().any(|n| {
                !n.starts_with('.') && {
                    let p = dir.join(n);
                    self.fs.is_dir(&p) && self.has_python(&p, depth - 1)
                }
            })
    }

    /// Is `name` a submodule of `loc`?
    pub fn submodule(&self, loc: &Loc, name: &str) -> Option<Loc> {
        let dirs = loc.dirs();
        if dirs.is_empty() {
            return None;
        }
        self.find_in(&dirs, name)
    }

    /// The dotted name of `file` (absolute) under the first import root holding it, with
    /// that root.
    pub fn module_name(&self, file: &Path) -> Option<(String, PathBuf)> {
        let mut roots = self.layout.roots.clone();
        roots.push(self.package_base(file));
        roots
            .iter()
            .filter_map(|r| name_under(r, file).map(|n| (n, r.clone())))
            .next()
    }

    /// What a module file binds and imports (parsed once, cached).
    pub fn module_info(&self, file: &Path) -> Arc<ModInfo> {
        if let Some(i) = self.lock_infos().get(file) {
            return i.clone();
        }
        let info = Arc::new(match self.read(file) {
            Some(text) => ModInfo::from_text(&text),
            None => ModInfo::default(),
        });
        self.lock_infos().insert(file.to_path_buf(), info.clone());
        info
    }

    fn lock_infos(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<ModInfo>>> {
        self.infos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Can `name` be imported from the module at `loc` (`from M import name`)? Looks at
    /// what the module binds anywhere at module level, its submodules, `__getattr__`,
    /// dynamic namespaces and star imports (followed through the project).
    pub fn has_name(&self, loc: &Loc, name: &str) -> bool {
        self.has_name_depth(loc, name, 0)
    }

    fn has_name_depth(&self, loc: &Loc, name: &str, depth: usize) -> bool {
        if depth > 8 || MODULE_DUNDERS.contains(&name) {
            return true;
        }
        if self.submodule(loc, name).is_some() {
            return true;
        }
        let Some(file) = loc.file() else {
            return matches!(loc, Loc::Opaque(_));
        };
        let info = self.module_info(file);
        if !info.parsed || info.dynamic || info.bound.contains_key(name) {
            return true;
        }
        info.stars.iter().any(
            |&(level, ref module)| match self.star_target(file, level, module) {
                None => true,
                Some(target) => {
                    let exports = self.star_exports(&target, depth + 1);
                    exports.is_none_or(|e| e.contains(name))
                }
            },
        )
    }

    /// The module a star import in `file` refers to; `None` when it is third-party or
    /// does not resolve (then anything may come from it).
    fn star_target(&self, file: &Path, level: usize, module: &str) -> Option<Loc> {
        if level == 0 {
            let top = module.split('.').next().unwrap_or(module);
            if !self.is_project_top(top, Some(file)) {
                return None;
            }
            self.resolve(module, Some(file)).ok()
        } else {
            self.resolve_relative(file, level, module).ok()
        }
    }

    /// The names `from M import *` binds; `None` when they cannot be known.
    pub fn star_exports(&self, loc: &Loc, depth: usize) -> Option<HashSet<String>> {
        if depth > 8 {
            return None;
        }
        let file = loc.file()?;
        let info = self.module_info(file);
        if !info.parsed || info.dynamic || info.all_dynamic {
            return None;
        }
        if let Some(all) = &info.all {
            return Some(all.iter().cloned().collect());
        }
        let mut out: HashSet<String> = info
            .bound
            .keys()
            .filter(|n| !n.starts_with('_'))
            .cloned()
            .collect();
        for (level, module) in &info.stars {
            let target = self.star_target(file, *level, module)?;
            out.extend(self.star_exports(&target, depth + 1)?);
        }
        Some(out)
    }
}

/// The dotted name of `file` under `base`, if every part is an identifier.
pub fn name_under(base: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(base).ok()?;
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".py").unwrap_or(&last);
    if stem != "__init__" {
        parts.push(stem.to_owned());
    }
    (!parts.is_empty() && parts.iter().all(|p| is_identifier(p))).then(|| parts.join("."))
}

/// One import written in a module.
#[derive(Debug, Clone)]
pub struct ImportSite {
    /// Byte range of the statement.
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub column: usize,
    /// Leading dots of a `from` import; 0 for absolute.
    pub level: usize,
    /// The module: `a.b` in `import a.b` and `from a.b import c`; after the dots for a
    /// relative import (maybe empty).
    pub module: String,
    /// `from` import (else plain `import module [as alias]`).
    pub from: bool,
    pub alias: Option<String>,
    /// Names of a `from` import with their aliases.
    pub names: Vec<(String, Option<String>)>,
    pub star: bool,
    /// Inside a `try` that catches ImportError (or wider), or `suppress(ImportError)`.
    pub guarded: bool,
    /// Runs when the module is imported: not inside a function, not under
    /// `if TYPE_CHECKING:`.
    pub runtime: bool,
}

impl ImportSite {
    /// A site with no module yet, of the statement at `range` (at `line_col`) where
    /// `ctx` is.
    fn at(range: std::ops::Range<usize>, (line, column): (usize, usize), ctx: Ctx) -> ImportSite {
        ImportSite {
            start: range.start,
            end: range.end,
            line,
            column,
            level: 0,
            module: String::new(),
            from: false,
            alias: None,
            names: Vec::new(),
            star: false,
            guarded: ctx.guarded,
            runtime: !ctx.in_def && !ctx.type_checking,
        }
    }
}

/// What happens, in order, when a module runs: names bound and imports made.
#[derive(Debug, Clone)]
pub enum Event {
    Import(usize),
}

/// What a module binds and imports.
#[derive(Debug, Default)]
pub struct ModInfo {
    /// It parsed; when not, nothing is judged about it.
    pub parsed: bool,
    /// Names bound at module level (in any branch), with the index of the first
    /// import-time event before which they are bound (`usize::MAX`-free: the count of
    /// `events` seen when the binding runs).
    pub bound: HashMap<String, usize, crate::fast_hash::FastHash>,
    /// Its namespace cannot be known statically (`globals()`, `sys.modules`, `exec`,
    /// module `__getattr__`, ...).
    pub dynamic: bool,
    /// It changes `__path__` or `sys.modules`: submodules cannot be judged.
    pub dynamic_path: bool,
    /// `__all__` as literal strings.
    pub all: Option<Vec<String>>,
    /// `__all__` is computed.
    pub all_dynamic: bool,
    /// Star imports: (level, module).
    pub stars: Vec<(usize, String)>,
    /// Event index of each star import (for the import-order simulation).
    pub star_events: Vec<usize>,
    pub imports: Vec<ImportSite>,
    /// Import-time events, in order (indices into `imports`).
    pub events: Vec<Event>,
    /// Top-level statements that bind a name: (name, statement byte range), module
    /// level only, in order (for re-exports).
    pub top_level: Vec<(String, ImportKind)>,
    pub uses_file: bool,
}

/// How a top-level name is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// def, class, assignment, ...
    Defined,
    /// `import m` / `import m as n`.
    PlainImport,
    /// `from m import n`.
    FromImport { relative: bool },
}

#[derive(Clone, Copy)]
struct Ctx {
    module_scope: bool,
    guarded: bool,
    type_checking: bool,
    in_def: bool,
    /// Under `if __name__ == "__main__":`: runs as a script, never on import.
    main_block: bool,
    top: bool,
}

impl Ctx {
    /// A module's own statements.
    const MODULE: Ctx = Ctx {
        module_scope: true,
        guarded: false,
        type_checking: false,
        in_def: false,
        main_block: false,
        top: true,
    };
}

impl ModInfo {
    pub fn from_text(text: &str) -> ModInfo {
        // Most modules read from their bytes (see [`scan`]); for the others, functions
        // without an import or `global` bind nothing this reads, nor do values and
        // parameter lists: not parsed.
        let scanned = if *crate::parse::FULL_PARSE {
            None
        } else {
            scan::read(text)
        };
        match scanned {
            Some(info) => info.finish(text),
            None => ModInfo::read(text, &crate::parse::module_focus(text)),
        }
    }

    fn read(text: &str, focus: &crate::outline::Focus<'_>) -> ModInfo {
        let info = ModInfo::default();
        let Some(tree) = crate::parse::parse_focused(text, focus) else {
            return info;
        };
        if crate::parse::first_error(&tree).is_some() {
            return info;
        }
        let mut w = Walker { text, info };
        w.block(tree.root_node(), Ctx::MODULE);
        w.info.parsed = true;
        w.info.finish(text)
    }

    /// What the text says beyond the statements read: a namespace built at run time.
    fn finish(self, text: &str) -> ModInfo {
        let mut info = self;
        info.dynamic = [
            "globals()",
            "sys.modules",
            "exec(",
            "vars()",
            "__dict__",
            "import_module(*",
        ]
        .iter()
        .any(|m| text.contains(m));
        info.dynamic_path = text.contains("__path__") || text.contains("sys.modules[__name__]");
        info.uses_file = text.contains("__file__");
        if info.bound.contains_key("__getattr__") {
            info.dynamic = true;
        }
        info
    }
}

struct Walker<'a> {
    text: &'a str,
    info: ModInfo,
}

fn catches_import_error(node: Node<'_>, text: &str) -> bool {
    let mut cursor = node.walk();
    let clauses: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
    clauses.into_iter().any(|clause| {
        matches!(kind_of(clause), "except_clause" | "except_group_clause")
            && except_catches_import_error(node_text(clause, text))
    })
}

/// Does the `except` clause starting `clause` catch ImportError: a bare `except:`, or
/// one naming ImportError, ModuleNotFoundError, Exception or BaseException?
fn except_catches_import_error(clause: &str) -> bool {
    let head = clause.split(':').next().unwrap_or(clause);
    let words: Vec<&str> = head
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words.len() == 1
        || words.iter().any(|w| {
            matches!(
                *w,
                "ImportError" | "ModuleNotFoundError" | "Exception" | "BaseException"
            )
        })
}

/// What an `if` condition says about its block: only for type checkers
/// (`TYPE_CHECKING`, not negated), and run as a script only (`__name__ == "__main__"`).
fn if_guards(cond: &str) -> (bool, bool) {
    let tc = cond.contains("TYPE_CHECKING") && !cond.contains("not ");
    let compact: String = cond
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == '\'' { '"' } else { c })
        .collect();
    let main = compact == "__name__==\"__main__\"" || compact == "\"__main__\"==__name__";
    (tc, main)
}

impl ModInfo {
    /// `name` bound where `ctx` is (nothing outside module scope), before the events so
    /// far.
    fn bind(&mut self, name: &str, ctx: Ctx, kind: ImportKind) {
        if !ctx.module_scope {
            return;
        }
        let at = self.events.len();
        self.bound.entry(name.to_owned()).or_insert(at);
        if ctx.top {
            self.top_level.push((name.to_owned(), kind));
        }
    }

    /// `name` deleted by a module-level `del`: not bound once the module has run, until
    /// bound again.
    fn unbind(&mut self, name: &str) {
        self.bound.remove(name);
        self.top_level.retain(|(n, _)| n != name);
    }

    /// An import site found where `ctx` is: an event when it runs on import, and the
    /// names it binds (a plain import's first name or alias; a `from` import's names,
    /// or its module as a star import).
    fn add_import(&mut self, site: ImportSite, ctx: Ctx) {
        let idx = self.imports.len();
        let binds: Vec<(String, ImportKind)> = if !site.from {
            let module = &site.module;
            let name = site
                .alias
                .clone()
                .unwrap_or_else(|| module.split('.').next().unwrap_or(module).to_owned());
            vec![(name, ImportKind::PlainImport)]
        } else {
            let relative = site.level > 0;
            site.names
                .iter()
                .filter(|_| !site.star)
                .map(|(n, a)| {
                    (
                        a.clone().unwrap_or_else(|| n.clone()),
                        ImportKind::FromImport { relative },
                    )
                })
                .collect()
        };
        let star = site.star.then(|| (site.level, site.module.clone()));
        let event = site.runtime && !ctx.main_block && (ctx.module_scope || !ctx.in_def);
        self.imports.push(site);
        if event {
            self.events.push(Event::Import(idx));
        }
        if let Some(star) = star.filter(|_| ctx.module_scope) {
            self.stars.push(star);
            self.star_events.push(self.events.len());
        }
        for (name, kind) in binds {
            self.bind(&name, ctx, kind);
        }
    }
}

impl Walker<'_> {
    fn bind(&mut self, name: &str, ctx: Ctx, kind: ImportKind) {
        self.info.bind(name, ctx, kind);
    }

    fn block(&mut self, node: Node<'_>, ctx: Ctx) {
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
        for child in children {
            self.stmt(child, ctx);
        }
    }

    fn stmt(&mut self, node: Node<'_>, ctx: Ctx) {
        let text = self.text;
        let nested = Ctx { top: false, ..ctx };
        match kind_of(node) {
            "import_statement" | "import_from_statement" | "future_import_statement" => {
                self.import(node, ctx)
            }
            "function_definition" => {
                if let Some(n) = node.child_by_field_name("name") {
                    self.bind(node_text(n, text), ctx, ImportKind::Defined);
                }
                if let Some(body) = node.child_by_field_name("body") {
                    self.block(
                        body,
                        Ctx {
                            module_scope: false,
                            in_def: true,
                            top: false,
                            ..ctx
                        },
                    );
                }
            }
            "class_definition" => {
                if let Some(n) = node.child_by_field_name("name") {
                    self.bind(node_text(n, text), ctx, ImportKind::Defined);
                }
                if let Some(body) = node.child_by_field_name("body") {
                    self.block(
                        body,
                        Ctx {
                            module_scope: false,
                            top: false,
                            ..ctx
                        },
                    );
                }
            }
            "decorated_definition" => {
                // A test marked as expected to fail may import what does not exist.
                let head = node
                    .child_by_field_name("definition")
                    .map_or("", |d| &text[node.start_byte()..d.start_byte()])
                    .to_ascii_lowercase();
                let expected_failure = head.contains("xfail") || head.contains("skip");
                if let Some(d) = node.child_by_field_name("definition") {
                    self.stmt(
                        d,
                        Ctx {
                            guarded: ctx.guarded || expected_failure,
                            ..ctx
                        },
                    );
                }
            }
            "delete_statement" if ctx.top => {
                // `del name` at module level (not in a branch) unbinds it for every
                // importer after the module has run.
                let mut names = Vec::new();
                let mut cursor = node.walk();
                for n in node.named_children(&mut cursor) {
                    match kind_of(n) {
                        "identifier" => names.push(node_text(n, text)),
                        "expression_list" => {
                            let mut c = n.walk();
                            names.extend(
                                n.named_children(&mut c)
                                    .filter(|m| kind_of(*m) == "identifier")
                                    .map(|m| node_text(m, text)),
                            );
                        }
                        _ => {}
                    }
                }
                for name in names {
                    self.info.unbind(name);
                }
            }
            "global_statement" => {
                let mut cursor = node.walk();
                for n in node.named_children(&mut cursor) {
                    if kind_of(n) == "identifier" {
                        let at = self.info.events.len();
                        self.info
                            .bound
                            .entry(node_text(n, text).to_owned())
                            .or_insert(at);
                    }
                }
            }
            "if_statement" => {
                let cond = node
                    .child_by_field_name("condition")
                    .map_or("", |c| node_text(c, text));
                self.walrus(node.child_by_field_name("condition"), ctx);
                let (tc, main) = if_guards(cond);
                if let Some(c) = node.child_by_field_name("consequence") {
                    self.block(
                        c,
                        Ctx {
                            type_checking: ctx.type_checking || tc,
                            main_block: ctx.main_block || main,
                            ..nested
                        },
                    );
                }
                let mut cursor = node.walk();
                for alt in node.children_by_field_name("alternative", &mut cursor) {
                    self.walrus(alt.child_by_field_name("condition"), ctx);
                    if let Some(b) = alt.child_by_field_name("consequence").or_else(|| {
                        let mut c = alt.walk();
                        let b = alt.named_children(&mut c).find(|n| kind_of(n) == "block");
                        b
                    }) {
                        self.block(b, nested);
                    }
                }
            }
            "try_statement" => {
                let guarded = catches_import_error(node, text);
                if let Some(body) = node.child_by_field_name("body") {
                    self.block(
                        body,
                        Ctx {
                            guarded: ctx.guarded || guarded,
                            ..nested
                        },
                    );
                }
                let mut cursor = node.walk();
                for clause in node.named_children(&mut cursor) {
                    match kind_of(clause) {
                        "except_clause"
                        | "except_group_clause"
                        | "else_clause"
                        | "finally_clause" => {
                            let mut c = clause.walk();
                            for b in clause.named_children(&mut c) {
                                if kind_of(b) == "block" {
                                    self.block(b, nested);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            "with_statement" => {
                let head = node
                    .child_by_field_name("body")
                    .map_or(node_text(node, text), |b| {
                        &text[node.start_byte()..b.start_byte()]
                    });
                // `suppress(ImportError)`, `pytest.raises(ImportError)`, `assertRaises(...)`.
                let guarded = head.contains("ImportError") || head.contains("ModuleNotFoundError");
                let mut cursor = node.walk();
                for c in node.named_children(&mut cursor) {
                    if kind_of(c) == "with_clause" {
                        self.targets_in(c, ctx, "as_pattern_target");
                    }
                }
                if let Some(body) = node.child_by_field_name("body") {
                    self.block(
                        body,
                        Ctx {
                            guarded: ctx.guarded || guarded,
                            ..nested
                        },
                    );
                }
            }
            "for_statement" | "while_statement" => {
                if let Some(left) = node.child_by_field_name("left") {
                    self.targets(left, ctx);
                }
                self.walrus(node.child_by_field_name("condition"), ctx);
                if let Some(b) = node.child_by_field_name("body") {
                    self.block(b, nested);
                }
                if let Some(alt) = node.child_by_field_name("alternative") {
                    let mut c = alt.walk();
                    for b in alt.named_children(&mut c) {
                        if kind_of(b) == "block" {
                            self.block(b, nested);
                        }
                    }
                }
            }
            "match_statement" => {
                if let Some(body) = node.child_by_field_name("body") {
                    let mut c = body.walk();
                    for case in body.named_children(&mut c) {
                        self.targets_in(case, ctx, "identifier");
                        if let Some(b) = case.child_by_field_name("consequence") {
                            self.block(b, nested);
                        }
                    }
                }
            }
            "type_alias_statement" => {
                if let Some(l) = node.child_by_field_name("left") {
                    let name = node_text(l, text);
                    let name = name.split('[').next().unwrap_or(name).trim();
                    self.bind(name, ctx, ImportKind::Defined);
                }
            }
            "expression_statement" => {
                let mut cursor = node.walk();
                let exprs: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
                for e in exprs {
                    self.expression(e, ctx);
                }
            }
            "block" => self.block(node, nested),
            _ => {}
        }
    }

    fn expression(&mut self, e: Node<'_>, ctx: Ctx) {
        let text = self.text;
        match kind_of(e) {
            "assignment" => {
                let has_value = e.child_by_field_name("right").is_some();
                if let Some(left) = e.child_by_field_name("left") {
                    if has_value {
                        self.targets(left, ctx);
                    }
                    if ctx.module_scope && node_text(left, text) == "__all__" {
                        if let Some(r) = e.child_by_field_name("right") {
                            self.all_from(r, false);
                        }
                    }
                }
                if let Some(r) = e.child_by_field_name("right") {
                    if kind_of(r) == "assignment" {
                        self.expression(r, ctx);
                    } else {
                        self.walrus(Some(r), ctx);
                    }
                }
            }
            "augmented_assignment" => {
                if let Some(left) = e.child_by_field_name("left") {
                    if kind_of(left) == "identifier" {
                        self.bind(node_text(left, text), ctx, ImportKind::Defined);
                    }
                    if ctx.module_scope && node_text(left, text) == "__all__" {
                        if let Some(r) = e.child_by_field_name("right") {
                            self.all_from(r, true);
                        }
                    }
                }
            }
            "call" if ctx.module_scope => {
                let callee = e
                    .child_by_field_name("function")
                    .map_or("", |f| node_text(f, text));
                if callee == "__all__.extend" || callee == "__all__.append" {
                    let arg = e
                        .child_by_field_name("arguments")
                        .and_then(|a| a.named_child(0));
                    match arg {
                        Some(a) if callee.ends_with("append") && kind_of(a) == "string" => {
                            match string_value(a, text) {
                                Some(s) => self.info.all.get_or_insert_with(Vec::new).push(s),
                                None => self.info.all_dynamic = true,
                            }
                        }
                        Some(a) if callee.ends_with("extend") => self.all_from(a, true),
                        _ => self.info.all_dynamic = true,
                    }
                }
                self.walrus(Some(e), ctx);
            }
            _ => self.walrus(Some(e), ctx),
        }
    }

    fn all_from(&mut self, value: Node<'_>, extend: bool) {
        let text = self.text;
        let mut names = Vec::new();
        let ok = match kind_of(value) {
            "list" | "tuple" | "set" => {
                let mut c = value.walk();
                let items: Vec<Node<'_>> = value.named_children(&mut c).collect();
                items.iter().all(|i| match string_value(*i, text) {
                    Some(s) if kind_of(i) == "string" => {
                        names.push(s);
                        true
                    }
                    _ => kind_of(i) == "comment",
                })
            }
            _ => false,
        };
        if !ok {
            self.info.all_dynamic = true;
            return;
        }
        if extend {
            self.info.all.get_or_insert_with(Vec::new).extend(names);
        } else {
            self.info.all = Some(names);
        }
    }

    /// Names bound by `:=` anywhere in an expression (outside lambdas).
    fn walrus(&mut self, node: Option<Node<'_>>, ctx: Ctx) {
        let Some(node) = node else { return };
        if !ctx.module_scope || !node_text(node, self.text).contains(":=") {
            return;
        }
        if kind_of(node) == "named_expression" {
            if let Some(n) = node.child_by_field_name("name") {
                self.bind(node_text(n, self.text), ctx, ImportKind::Defined);
            }
        }
        if kind_of(node) == "lambda" {
            return;
        }
        let mut c = node.walk();
        let children: Vec<Node<'_>> = node.named_children(&mut c).collect();
        for ch in children {
            self.walrus(Some(ch), ctx);
        }
    }

    fn targets(&mut self, node: Node<'_>, ctx: Ctx) {
        match kind_of(node) {
            "identifier" => self.bind(node_text(node, self.text), ctx, ImportKind::Defined),
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "list_splat_pattern"
            | "expression_list"
            | "tuple"
            | "list"
            | "parenthesized_expression" => {
                let mut c = node.walk();
                let children: Vec<Node<'_>> = node.named_children(&mut c).collect();
                for ch in children {
                    self.targets(ch, ctx);
                }
            }
            _ => {}
        }
    }

    fn targets_in(&mut self, node: Node<'_>, ctx: Ctx, kind: &str) {
        if kind_of(node) == kind {
            if kind == "identifier" {
                self.bind(node_text(node, self.text), ctx, ImportKind::Defined);
            } else {
                let mut c = node.walk();
                let children: Vec<Node<'_>> = node.named_children(&mut c).collect();
                for ch in children {
                    self.targets(ch, ctx);
                }
            }
            return;
        }
        if matches!(kind_of(node), "block" | "lambda") {
            return;
        }
        let mut c = node.walk();
        let children: Vec<Node<'_>> = node.named_children(&mut c).collect();
        for ch in children {
            self.targets_in(ch, ctx, kind);
        }
    }

    fn import(&mut self, node: Node<'_>, ctx: Ctx) {
        let text = self.text;
        let Some(imp) = crate::imports::read_import(node, text) else {
            return;
        };
        let at = crate::diag::line_col(text, node.start_byte());
        let base = ImportSite::at(node.byte_range(), at, ctx);
        if imp.future {
            return;
        }
        match &imp.from_module {
            None => {
                for spec in &imp.specs {
                    if let crate::imports::ImportSpec::Import { module, alias } = spec {
                        let site = ImportSite {
                            module: module.clone(),
                            alias: alias.clone(),
                            ..base.clone()
                        };
                        self.info.add_import(site, ctx);
                    }
                }
            }
            Some(written) => {
                let level = written.chars().take_while(|c| *c == '.').count();
                let module: String = written[level..]
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                let names: Vec<(String, Option<String>)> = imp
                    .specs
                    .iter()
                    .filter_map(|s| match s {
                        crate::imports::ImportSpec::From { name, alias, .. } => {
                            Some((name.clone(), alias.clone()))
                        }
                        _ => None,
                    })
                    .collect();
                let site = ImportSite {
                    level,
                    module,
                    from: true,
                    names,
                    star: imp.wildcard,
                    ..base
                };
                self.info.add_import(site, ctx);
            }
        }
    }
}

/// The value of a plain string literal (no f-string, no implicit concatenation, no
/// escapes needed for dotted names).
/// A dotted name written inside a string literal: where, the name (regex escapes of its
/// dots removed), and the separator it is written with (`.`, `\.`, `\\.`), for a new name
/// written the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DottedWord {
    pub range: std::ops::Range<usize>,
    pub name: String,
    pub sep: String,
}

impl DottedWord {
    /// `name` written with this word's separator.
    pub fn spell(&self, name: &str) -> String {
        name.replace('.', &self.sep)
    }
}

/// Every dotted name of two parts or more in the literal text of the string `node` (an
/// f-string's parts outside its replacement fields; not a byte string): the words of a
/// message such as `"must be an instance of pkg.mod.Field."`, or `r"pkg\.mod\.Field"` in
/// a pattern. A word starts after a character that is not part of a name, a dot or a
/// backslash.
pub fn dotted_words(node: Node<'_>, text: &str) -> Vec<DottedWord> {
    let mut out = Vec::new();
    if kind_of(node) != "string" {
        return out;
    }
    let mut c = node.walk();
    let children: Vec<Node<'_>> = node.named_children(&mut c).collect();
    if children.iter().any(|ch| {
        kind_of(*ch) == "string_start" && node_text(*ch, text).to_ascii_lowercase().contains('b')
    }) {
        return out;
    }
    let b = text.as_bytes();
    let is_name = |c: u8| c == b'_' || c.is_ascii_alphanumeric() || c >= 0x80;
    let is_start = |c: u8| c == b'_' || c.is_ascii_alphabetic() || c >= 0x80;
    for ch in children
        .iter()
        .filter(|ch| kind_of(**ch) == "string_content")
    {
        let (start, end) = (ch.start_byte(), ch.end_byte());
        let mut i = start;
        while i < end {
            let boundary =
                i == start || !(is_name(b[i - 1]) || b[i - 1] == b'.' || b[i - 1] == b'\\');
            if !(boundary && is_start(b[i])) {
                i += 1;
                continue;
            }
            let word_start = i;
            let mut parts = Vec::new();
            let mut sep = String::new();
            loop {
                let p0 = i;
                while i < end && is_name(b[i]) {
                    i += 1;
                }
                parts.push(&text[p0..i]);
                // A separator, then the start of a name.
                let seps: [&[u8]; 3] = [b".", b"\\.", b"\\\\."];
                let Some(s) = seps.iter().find(|s| {
                    b[i..end].starts_with(s) && i + s.len() < end && is_start(b[i + s.len()])
                }) else {
                    break;
                };
                if sep.is_empty() {
                    sep = String::from_utf8_lossy(s).into_owned();
                } else if sep.as_bytes() != *s {
                    break;
                }
                i += s.len();
            }
            if parts.len() >= 2 && text.is_char_boundary(word_start) && text.is_char_boundary(i) {
                out.push(DottedWord {
                    range: word_start..i,
                    name: parts.join("."),
                    sep,
                });
            }
        }
    }
    out
}

pub fn string_value(node: Node<'_>, text: &str) -> Option<String> {
    if kind_of(node) != "string" {
        return None;
    }
    let mut c = node.walk();
    let mut content = None;
    for ch in node.named_children(&mut c) {
        match kind_of(ch) {
            "string_start" => {
                let start = node_text(ch, text).to_ascii_lowercase();
                if start.contains('f') || start.contains('b') {
                    return None;
                }
            }
            "string_content" => content = Some(node_text(ch, text).to_owned()),
            "string_end" => {}
            _ => return None,
        }
    }
    Some(content.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_names_in_branches_but_not_in_functions() {
        let info = ModInfo::from_text(
            "import os.path\nfrom a import b as c\ntry:\n    from x import y\nexcept ImportError:\n    y = None\nif TYPE_CHECKING:\n    from t import T\ndef f():\n    global g\n    z = 1\nclass K:\n    w = 1\nfor i, (j, k) in []: pass\nwith open() as (fh, gh): pass\n__all__ = ['f', 'K']\n__all__ += ['c']\n",
        );
        for n in [
            "os", "c", "y", "T", "f", "g", "K", "i", "j", "k", "fh", "gh", "__all__",
        ] {
            assert!(info.bound.contains_key(n), "{n}");
        }
        for n in ["z", "w", "b"] {
            assert!(!info.bound.contains_key(n), "{n}");
        }
        assert_eq!(
            info.all.as_deref(),
            Some(&["f".to_owned(), "K".to_owned(), "c".to_owned()][..])
        );
        let y = info.imports.iter().find(|i| i.module == "x").unwrap();
        assert!(y.guarded);
        let t = info.imports.iter().find(|i| i.module == "t").unwrap();
        assert!(!t.runtime);
    }

    #[test]
    fn eliding_values_and_parameters_reads_the_same() {
        let text = concat!(
            "\"\"\"Doc.\"\"\"\n",
            "# -*- a comment -*-\n",
            "import os, sys as system  # why\n",
            "from . import (a,  # first\n",
            "    b as c)\n",
            "x = {'k': [1, 2], 'l': (lambda v=1: v)}  # a value\n",
            "y: dict[str, int] = dict(a=1, b=2)\n",
            "p = q = 3\n",
            "a2 = (  # a comment inside\n    v) = 4\n",
            "r = 1; s = 2\n",
            "(t, u) = v, w = 4, 5\n",
            "n = (m := 6)\n",
            "f = lambda z=1: z\n",
            "o = 1 if x == y else 2 <= 3\n",
            "n += 1\n",
            "__all__ = ['x', 'y']\n",
            "__all__ += ['p']\n",
            "e = \\\n    7\n",
            "\n",
            "@decorate(1)\n",
            "def g(a, b=(1, ')'), *args, # note\n",
            "      **kw) -> int:\n",
            "    import json\n",
            "    global h\n",
            "    return json\n",
            "\n",
            "class K(Base, metaclass=Meta):\n",
            "    k = 1\n",
            "    def method(self, d=x):\n",
            "        from .m import thing\n",
            "\n",
            "def é(ü, ö=1):\n",
            "    pass\n",
            "if True:\n",
            "    i = [x for x in range(3)]\n",
            "try:\n",
            "    import missing\n",
            "except ImportError:\n",
            "    missing = None\n",
        );
        let focus = crate::parse::module_focus(text);
        assert!(focus.bindings_only);
        let masked = crate::outline::mask(text, &focus).unwrap();
        let compact = masked.compact();
        for gone in ["'k'", "dict(a", "a comment", "metaclass", "**kw", "ü, ö"] {
            assert!(!compact.contains(gone), "{gone} in {compact}");
        }
        for kept in [
            "p = q = 3",
            "r = 1; s = 2",
            "m := 6",
            "z=1",
            "'p'",
            "'y'",
            "v) = 4",
        ] {
            assert!(compact.contains(kept), "{kept} not in {compact}");
        }
        let whole = crate::outline::Focus {
            bindings_only: false,
            ..crate::parse::module_focus(text)
        };
        let fast = ModInfo::read(text, &focus);
        assert!(fast.parsed);
        assert_eq!(
            format!("{fast:?}"),
            format!("{:?}", ModInfo::read(text, &whole))
        );
    }

    #[test]
    fn names_under_roots() {
        assert_eq!(
            name_under(Path::new("/p/src"), Path::new("/p/src/a/b/__init__.py")).as_deref(),
            Some("a.b")
        );
        assert_eq!(name_under(Path::new("/p"), Path::new("/p/a-b/c.py")), None);
    }

    #[test]
    fn reads_ini_sections() {
        let ini =
            parse_ini("[options]\npackage_dir =\n    =src\n[tool:pytest]\npythonpath = src lib\n");
        assert_eq!(ini["options"][0].1, "\n=src");
        assert_eq!(ini["tool:pytest"][0].1, "src lib");
    }
}
