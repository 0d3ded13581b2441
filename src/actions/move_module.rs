//! `move-module`: moves a module or a package and rewrites every reference to it.
//!
//! What it does: moves `a/b/c.py` (or every file of the package `a/b/c/`) to the place
//! of `x.y.z`, in the same import root, creating the `__init__.py` files missing on the
//! way, and rewrites, in every Python file of the run:
//! - `import a.b.c [as m]`, `from a.b.c[.sub] import X`, `from a.b import c [as m]`
//!   (the name leaves the list, comments and parentheses stay, and
//!   `from x.y import z as c` follows), aliases kept;
//! - relative imports that reach it (`from ..b import c`, `from .c import X`), and the
//!   moved code's own relative imports, recomputed from its new place (relative when
//!   the new place is in the same package, else absolute);
//! - dotted uses through a plain import: `import a.b.c` then `a.b.c.X`, and `import a.b`
//!   then `a.b.c.X` (which gets `import x.y.z`);
//! - string literals that are exactly a dotted path under the old name:
//!   `mock.patch("a.b.c.X")`, `importlib.import_module("a.b.c")`, `"a.b.c:main"`;
//! - entry points and module lists in `pyproject.toml` and `setup.cfg`.
//!
//! Names are matched by what they resolve to, not by their spelling: `pkg.mod` in a
//! `src/` layout and `src.pkg.mod` are both found, and each is rewritten in its own
//! frame.
//!
//! Why: restructuring by hand misses an alias, a relative import or a `mock.patch`
//! string, and the breakage shows up at run time.
//!
//! Example: `fixer apply move-module --set from=app.utils --set to=app.core.text`
//! moves `app/utils.py` to `app/core/text.py` (creating `app/core/__init__.py`) and turns
//! `from app import utils` into `from app.core import text as utils`.
//!
//! With `shim = true` the old module stays, re-exporting the new one (the same module
//! object, through `sys.modules`) with a DeprecationWarning, for code outside the
//! project.
//!
//! When it refuses (exit 2): the old module is not in the project, the target exists,
//! the target is inside the moved package, a package the target needs is a module
//! (`to=pkg.other.mod` with `pkg/other.py`: `pkg/other/` would shadow it), a moved file
//! is not text. A reference that
//! cannot be expressed from where it is written is reported and left as it is.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use tree_sitter::Node;

use crate::actions::{Action, ActionArgs, ProjectAction};
use crate::diag::{line_col, Finding, Severity, UserError};
use crate::edit::Edit;
use crate::engine::Workspace;
use crate::imports::ImportSpec;
use crate::parse::text as node_text;
use crate::project_imports::{is_dotted, string_value, Loc, Resolver};

pub fn build(mut args: ActionArgs) -> Result<Action, String> {
    let from = args
        .string("from")?
        .ok_or("`from` is required (the dotted name of the module to move)")?;
    let to = args
        .string("to")?
        .ok_or("`to` is required (the dotted name it gets)")?;
    let shim = args.bool("shim", false)?;
    let keep_stale = args.bool("keep-stale", false)?;
    args.finish("move-module")?;
    Ok(Action::Project(Box::new(MoveModule {
        from,
        to,
        shim,
        keep_stale,
    })))
}

mod stale;

pub struct MoveModule {
    from: String,
    to: String,
    shim: bool,
    /// Move even when references it cannot rewrite would go stale (see [`stale`]),
    /// reporting them as warnings.
    keep_stale: bool,
}

/// The move, resolved: old and new stems (paths without `.py`) in one import root.
struct Plan<'a, 'w> {
    r: &'a Resolver<'w>,
    old: PathBuf,
    new: PathBuf,
    /// The import root `from` resolved in.
    frame: PathBuf,
    /// Old file -> new file, for every moved file.
    moved: BTreeMap<PathBuf, PathBuf>,
    /// Directories that get an `__init__.py`.
    new_inits: BTreeSet<PathBuf>,
    recipe: &'a str,
    /// `module-to-package`: leave `from <old> import X` alone (the package re-exports
    /// `X`) and string literals too (it retargets those itself).
    keep_from: bool,
}

/// `spec` in place of the module name of a `from` import, spaced from `from` and
/// `import` where the relative name it replaces needed no space (`from. import x`,
/// `from .import x`).
fn module_name_edit(node: Node<'_>, text: &str, mut spec: String, origin: &str) -> Edit {
    let range = node.byte_range();
    let b = text.as_bytes();
    let word = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    if word(spec.as_bytes().first()) && range.start > 0 && word(b.get(range.start - 1)) {
        spec.insert(0, ' ');
    }
    if word(spec.as_bytes().last()) && word(b.get(range.end)) {
        spec.push(' ');
    }
    Edit::replace(range, spec, origin)
}

/// The old module's text after the move; `newline` is the moved file's own.
fn shim_text(from: &str, to: &str, newline: &str) -> String {
    [
        format!("\"\"\"`{from}` has moved to `{to}`; this module keeps old imports working.\"\"\""),
        "import importlib".to_owned(),
        "import sys".to_owned(),
        "import warnings".to_owned(),
        String::new(),
        "warnings.warn(".to_owned(),
        format!("    \"{from} has moved to {to}; import it from there\","),
        "    DeprecationWarning,".to_owned(),
        "    stacklevel=2,".to_owned(),
        ")".to_owned(),
        format!("sys.modules[__name__] = importlib.import_module(\"{to}\")"),
        String::new(),
    ]
    .join(newline)
}

impl ProjectAction for MoveModule {
    fn run(&self, ws: &Workspace, recipe: &str) -> Result<Vec<Finding>, UserError> {
        let (from, to) = (&self.from, &self.to);
        for (key, v) in [("from", from), ("to", to)] {
            if !is_dotted(v) {
                return Err(UserError::new(format!(
                    "parameter `{key}`: `{v}` is not a dotted module name"
                ))
                .help("give names as they are imported, e.g. --set from=a.b.c --set to=x.y.z"));
            }
        }
        if from == to {
            return Err(UserError::new("`from` and `to` are the same module"));
        }
        let r = Resolver::new(ws);
        let note = |path: &Path, message: String| Finding {
            path: r.layout.ws_path(path),
            line: 0,
            column: 0,
            recipe: recipe.to_owned(),
            severity: Severity::Note,
            message,
        };
        // A directory left empty by an earlier move is not a module any more.
        let empty =
            |l: &Loc| matches!(l, Loc::Namespace(d) if d.iter().all(|d| r.list(d).is_empty()));
        let target = r.resolve(to, None).ok().filter(|l| !empty(l));
        let source = match r.resolve(from, None) {
            Ok(l) if empty(&l) => Err(crate::project_imports::Unresolved::BeyondRoot),
            other => other,
        };
        let loc = match source {
            Ok(loc @ (Loc::File(_) | Loc::Package { .. })) => {
                let is_shim = loc
                    .file()
                    .and_then(|f| r.read(f))
                    .is_some_and(|t| t.contains(&format!("importlib.import_module(\"{to}\")")));
                if is_shim && target.is_some() {
                    let at = loc.file().map(Path::to_path_buf).unwrap_or_default();
                    return Ok(vec![note(
                        &at,
                        format!("`{from}` has already moved to `{to}` (this is its shim); nothing to do"),
                    )]);
                }
                loc
            }
            Ok(other) => {
                return Err(UserError::new(format!(
                    "`{from}` is {} ({}); only a module or a regular package can be moved",
                    if matches!(other, Loc::Namespace(_)) {
                        "a namespace package"
                    } else {
                        "an extension module"
                    },
                    r.layout.show(&other.stem())
                )))
            }
            Err(_) => {
                if let Some(t) = target {
                    let at = t.file().map(Path::to_path_buf).unwrap_or_else(|| t.stem());
                    // A file the move could not parse may still name the old module:
                    // the move is not finished while it is there.
                    skip_unparsable_mentions(ws, &r, from, recipe);
                    return Ok(vec![note(
                        &at,
                        format!(
                            "`{from}` does not exist and `{to}` does: already moved; nothing to do"
                        ),
                    )]);
                }
                return Err(no_module(ws, &r, from, "from"));
            }
        };
        let old = loc.stem();
        let mut frame = old.clone();
        for _ in from.split('.') {
            frame = frame.parent().map(Path::to_path_buf).unwrap_or_default();
        }
        let new = to.split('.').fold(frame.clone(), |p, part| p.join(part));
        let is_package = matches!(loc, Loc::Package { .. });
        let new_file = new.with_extension("py");
        if r.is_file(&new_file) || r.is_dir(&new) || target.is_some() {
            let at = if r.is_file(&new_file) {
                new_file
            } else {
                new.clone()
            };
            return Err(UserError::new(format!(
                "the target `{to}` already exists: {}",
                r.layout.show(&at)
            ))
            .help("choose another `to`, or move or remove the existing module first"));
        }
        if new.starts_with(&old) {
            return Err(UserError::new(format!(
                "`{to}` is inside `{from}`: a package cannot move into itself"
            )));
        }
        // A package the move would create where a module of that name is: the new
        // directory would shadow the module (`from pkg.other import g` would fail).
        let parts: Vec<&str> = to.split('.').collect();
        let mut dir = frame.clone();
        for (i, part) in parts.iter().enumerate().take(parts.len() - 1) {
            dir = dir.join(part);
            let module = dir.with_extension("py");
            if r.is_file(&module) && !r.is_file(&dir.join("__init__.py")) {
                let name = parts[..=i].join(".");
                return Err(UserError::new(format!(
                    "the target `{to}` needs a package `{name}`, but `{name}` is the module {}: \
                     the new directory would shadow it",
                    r.layout.show(&module)
                ))
                .help(format!(
                    "turn `{name}` into a package first (`fixer apply module-to-package --set \
                     module={name} --set submodule=...`), or choose another `to`"
                )));
            }
        }
        // Files to move.
        let mut moved = BTreeMap::new();
        if is_package {
            let mut stack = vec![old.clone()];
            while let Some(d) = stack.pop() {
                for name in r.list(&d).iter() {
                    let p = d.join(name);
                    if r.is_dir(&p) {
                        stack.push(p);
                    } else if r.is_file(&p) {
                        let rel = p.strip_prefix(&old).unwrap_or(&p).to_path_buf();
                        moved.insert(p, new.join(rel));
                    }
                }
            }
        } else if let Some(f) = loc.file() {
            moved.insert(f.to_path_buf(), new_file.clone());
            // Its type stub goes with it.
            let stub = old.with_extension("pyi");
            if r.is_file(&stub) {
                moved.insert(stub, new.with_extension("pyi"));
            }
        }
        // `__init__.py` files on the way: in new directories always; in existing ones
        // when the old place was a regular package (a namespace layout stays one).
        let old_parent_regular = old
            .parent()
            .is_some_and(|p| r.is_file(&p.join("__init__.py")));
        let mut new_inits = BTreeSet::new();
        let mut d = new.parent().map(Path::to_path_buf);
        while let Some(dir) = d {
            if dir == frame || !dir.starts_with(&frame) {
                break;
            }
            if !r.is_dir(&dir) || (old_parent_regular && !r.is_file(&dir.join("__init__.py"))) {
                new_inits.insert(dir.clone());
            }
            d = dir.parent().map(Path::to_path_buf);
        }
        let plan = Plan {
            r: &r,
            old,
            new,
            frame,
            moved,
            new_inits,
            recipe,
            keep_from: false,
        };

        // Rewrite every Python file (moved ones at their new place).
        let mut files: BTreeSet<PathBuf> =
            ws.python_files().iter().map(|p| r.layout.abs(p)).collect();
        // Type stubs next to the walked files import the module too.
        let dirs: BTreeSet<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for d in dirs {
            for name in r.list(&d).iter().filter(|n| n.ends_with(".pyi")) {
                files.insert(d.join(name));
            }
        }
        files.extend(
            plan.moved
                .keys()
                .filter(|p| p.extension().is_some_and(|e| e == "py" || e == "pyi"))
                .cloned(),
        );
        let files: Vec<PathBuf> = files.into_iter().collect();
        let old_last = from.rsplit('.').next().unwrap_or(from);
        let results: Vec<(PathBuf, Option<String>, Vec<Finding>)> = files
            .par_iter()
            .map(|f| {
                let Some(text) = r.read(f) else {
                    return (f.clone(), None, Vec::new());
                };
                let (new_text, findings) = plan.rewrite_or_skip(ws, f, &text, old_last);
                (f.clone(), new_text, findings)
            })
            .collect();
        let mut findings = Vec::new();
        let mut texts: HashMap<PathBuf, String> = HashMap::new();
        for (f, t, fs) in results {
            findings.extend(fs);
            if let Some(t) = t {
                texts.insert(f, t);
            }
        }
        // References no rewrite can follow: refuse while any is left (before anything
        // is written), unless told to move anyway.
        let mut left = Vec::new();
        if let Some(init) = plan.old.parent().map(|p| p.join("__init__.py")) {
            let text = texts
                .get(&init)
                .map(|t| Arc::<str>::from(t.as_str()))
                .or_else(|| r.read(&init));
            if let (false, false, Some(text)) = (self.shim, plan.moved.contains_key(&init), text) {
                let package = from.rsplit_once('.').map_or("", |(p, _)| p);
                left.extend(stale::in_parent_all(&init, &text, package, old_last));
            }
        }
        if !self.shim {
            left.extend(stale::in_bytes_literals(&r, &files, from));
        }
        left.extend(stale::in_text_files(
            &r,
            &ws.roots,
            r.layout.root_of(&plan.old),
            &plan.moved,
            is_package.then_some((plan.old.as_path(), plan.new.as_path())),
        ));
        if !left.is_empty() && !self.keep_stale {
            let list: Vec<String> = left
                .iter()
                .map(|s| {
                    format!(
                        "  {}:{}:{}: {}",
                        r.layout.show(&s.path),
                        s.line,
                        s.column,
                        s.what
                    )
                })
                .collect();
            let mut help = "update them by hand (a file that also names the new place counts as \
                            updated), then run again; or add --set keep-stale=true to move anyway \
                            and have them reported"
                .to_owned();
            if !self.shim && left.iter().any(|s| s.what.starts_with("`__all__`")) {
                help.push_str("; --set shim=true keeps the name `__all__` lists");
            }
            return Err(UserError::new(format!(
                "moving `{from}` would leave {} reference{} that fixer cannot rewrite:\n{}",
                left.len(),
                if left.len() == 1 { "" } else { "s" },
                list.join("\n")
            ))
            .help(help));
        }
        findings.extend(left.into_iter().map(|s| Finding {
            path: r.layout.ws_path(&s.path),
            line: s.line,
            column: s.column,
            recipe: recipe.to_owned(),
            severity: Severity::Warning,
            message: format!("left stale: {}", s.what),
        }));
        let io = UserError::new;
        let write = |abs: &Path, text: String| {
            ws.write(&r.layout.ws_path(abs), text, recipe, 1)
                .map_err(io)
        };
        // The shim takes the place of the module's file, and keeps its newline.
        let shim = self.shim.then(|| {
            let path = if is_package {
                plan.old.join("__init__.py")
            } else {
                plan.old.with_extension("py")
            };
            let newline = r
                .read(&path)
                .map_or("\n", |t| crate::source::newline_of(&t));
            (path, newline)
        });
        for (old_file, new_path) in &plan.moved {
            let text = match texts.remove(old_file) {
                Some(t) => t,
                None => match r.read(old_file) {
                    Some(t) => t.to_string(),
                    None => {
                        return Err(UserError::new(format!(
                            "{} cannot be moved: it is not text",
                            r.layout.show(old_file)
                        ))
                        .help("move the package's binary files by hand, then run again"))
                    }
                },
            };
            write(new_path, text)?;
            ws.delete(&r.layout.ws_path(old_file), recipe).map_err(io)?;
        }
        for (f, t) in texts {
            write(&f, t)?;
        }
        for dir in &plan.new_inits {
            let name = plan.absolute(dir).unwrap_or_else(|| r.layout.show(dir));
            write(
                &dir.join("__init__.py"),
                format!("\"\"\"The `{name}` package.\"\"\"\n"),
            )?;
        }
        for cfg in ["pyproject.toml", "setup.cfg"] {
            let path = r.layout.root_of(&plan.old).join(cfg);
            if let Some(text) = r.read(&path) {
                if let Some(new_text) = plan.rewrite_config(&text, cfg == "setup.cfg") {
                    write(&path, new_text)?;
                }
            }
        }
        if let Some((path, newline)) = shim {
            write(&path, shim_text(from, to, newline))?;
        }
        Ok(findings)
    }
}

/// For `module-to-package`: points every use of the module object `module` (a `.py`
/// file, about to become the package `module/` with its code in `module/sub.py`) at
/// the submodule, where the code and its globals now live: `import pkg.mod [as m]`,
/// `from pkg import mod`, `pkg.mod.X` through any import, so that `m.X = ...`,
/// `patch.object(m, "X")` and `monkeypatch.setattr(m, "X", ...)` still reach the code.
/// `from pkg.mod import X` stays (the package re-exports `X`). Returns the new texts
/// of the files that change (among `files`, `file` itself excluded) and warnings.
/// "no module `name` in the project", with where it looked and, as help, the modules
/// that come closest (or how to spell the parameter `key`).
pub fn no_module(ws: &Workspace, r: &Resolver<'_>, name: &str, key: &str) -> UserError {
    let looked: Vec<String> = r.layout.roots.iter().map(|p| r.layout.show(p)).collect();
    let err = UserError::new(format!(
        "no module `{name}` in the project (looked under {})",
        looked.join(", ")
    ));
    let near = r.closest_modules(ws, name);
    if near.is_empty() {
        err.help(format!(
            "give the dotted name as it is imported from the project root, e.g. --set {key}=pkg.mod"
        ))
    } else {
        let list: Vec<String> = near.iter().map(|n| format!("`{n}`")).collect();
        let mut help = format!("the closest modules: {}", list.join(", "));
        // `projA.pkg.mod` for `pkg.mod`: the project is in a subdirectory.
        if let Some(dir) = near[0].strip_suffix(&format!(".{name}")) {
            help.push_str(&format!(
                " (to name it `{name}`, give the path of its project: {})",
                dir.replace('.', "/")
            ));
        }
        err.help(help)
    }
}

/// Skips, as files that may refer to `module`, those that name its last part but do not
/// parse.
fn skip_unparsable_mentions(ws: &Workspace, r: &Resolver<'_>, module: &str, recipe: &str) {
    let last = module.rsplit('.').next().unwrap_or(module);
    ws.python_files().par_iter().for_each(|p| {
        let abs = r.layout.abs(p);
        if let Some(skipped) = r
            .read(&abs)
            .filter(|t| t.contains(last))
            .and_then(|t| crate::engine::Skipped::unparsable(&t, recipe, true))
        {
            ws.skip_with(p, skipped);
        }
    });
}

/// A file's new text (`None`: unchanged) and the findings on it.
type Rewritten = (Option<String>, Vec<Finding>);

pub fn redirect_module_object(
    ws: &Workspace,
    r: &Resolver<'_>,
    module: &str,
    file: &Path,
    sub: &str,
    files: &[PathBuf],
    recipe: &str,
) -> (Vec<(PathBuf, String)>, Vec<Finding>) {
    let old = file.with_extension("");
    let mut frame = old.clone();
    for _ in module.split('.') {
        frame = frame.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    let plan = Plan {
        r,
        new: old.join(sub),
        old: old.clone(),
        frame,
        moved: BTreeMap::new(),
        new_inits: BTreeSet::from([old]),
        recipe,
        keep_from: true,
    };
    let old_last = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let results: Vec<(PathBuf, Option<String>, Vec<Finding>)> = files
        .par_iter()
        .filter(|f| f.as_path() != file)
        .filter_map(|f| {
            let text = r.read(f)?;
            if !text.contains(old_last.as_str()) {
                return None;
            }
            let (new_text, findings) = plan.rewrite_or_skip(ws, f, &text, &old_last);
            Some((f.clone(), new_text, findings))
        })
        .collect();
    let mut texts = Vec::new();
    let mut findings = Vec::new();
    for (f, t, fs) in results {
        findings.extend(fs);
        if let Some(t) = t {
            texts.push((f, t));
        }
    }
    (texts, findings)
}

/// One rewrite of a dotted prefix in attribute chains: `old` (as written, compact)
/// becomes `new`; `import_needed`: the file must `import new`.
struct ChainRewrite {
    old: String,
    new: String,
    import_needed: bool,
}

impl Plan<'_, '_> {
    fn map_stem(&self, stem: &Path) -> Option<PathBuf> {
        let rest = stem.strip_prefix(&self.old).ok()?;
        Some(self.new.join(rest))
    }

    /// The dotted name of a stem under `root`.
    fn name_in(root: &Path, stem: &Path) -> Option<String> {
        let rel = stem.strip_prefix(root).ok()?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        (!parts.is_empty()
            && parts
                .iter()
                .all(|p| crate::project_imports::is_identifier(p)))
        .then(|| parts.join("."))
    }

    /// An absolute name for a stem: in the move's frame first, then any import root.
    fn absolute(&self, stem: &Path) -> Option<String> {
        std::iter::once(&self.frame)
            .chain(self.r.layout.roots.iter())
            .find_map(|root| Self::name_in(root, stem))
    }

    /// `name` (absolute, as written in `file`) rewritten when a prefix of it is the
    /// moved module; the prefix length in parts too.
    fn map_absolute(&self, name: &str, file: Option<&Path>) -> Option<(String, usize)> {
        let old_last = self.old.file_name()?.to_str()?;
        let parts: Vec<&str> = name.split('.').collect();
        for k in 1..=parts.len() {
            if parts[k - 1] != old_last {
                continue;
            }
            let prefix = parts[..k].join(".");
            let Ok(loc) = self.r.resolve(&prefix, file) else {
                continue;
            };
            if loc.stem() != self.old {
                continue;
            }
            // `module-to-package`: `pkg.mod.sub...` names the new submodule already.
            if self.keep_from
                && parts.get(k).copied() == self.new.file_name().and_then(|n| n.to_str())
            {
                return None;
            }
            // The frame this spelling resolves in.
            let mut root = self.old.clone();
            for _ in 0..k {
                root = root.parent()?.to_path_buf();
            }
            let mut new = Self::name_in(&root, &self.new)?;
            for p in &parts[k..] {
                new.push('.');
                new.push_str(p);
            }
            return Some((new, k));
        }
        None
    }

    /// `from <spec> import ...` for `target` (a stem) written in a file in `dir`:
    /// relative when every directory up to the common package is a package.
    fn relative_spec(&self, dir: &Path, target: &Path) -> Option<String> {
        let common: PathBuf = dir
            .ancestors()
            .find(|a| target.starts_with(a))?
            .to_path_buf();
        let is_pkg = |d: &Path| {
            self.r.is_file(&d.join("__init__.py"))
                || self.new_inits.contains(d)
                || d.strip_prefix(&self.new)
                    .is_ok_and(|rel| self.r.is_file(&self.old.join(rel).join("__init__.py")))
        };
        let up: Vec<&Path> = dir.ancestors().take_while(|a| *a != common).collect();
        if !up.iter().all(|d| is_pkg(d)) || !is_pkg(&common) {
            return None;
        }
        let root = self.r.layout.root_of(&common);
        if !common.starts_with(root) || common == root {
            return None;
        }
        let down = target.strip_prefix(&common).ok()?;
        let parts: Vec<String> = down
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(format!("{}{}", ".".repeat(up.len() + 1), parts.join(".")))
    }

    /// The module spec for `target` written in `dir`: relative if `prefer_relative`
    /// and possible, else absolute.
    fn spec(&self, dir: &Path, target: &Path, prefer_relative: bool) -> Option<String> {
        if prefer_relative {
            if let Some(s) = self.relative_spec(dir, target) {
                return Some(s);
            }
        }
        self.absolute(target)
    }

    /// The new text of `file` (`None`: unchanged) and what was found; `Err` with the
    /// syntax error (and its line) when it does not parse.
    /// [`Plan::rewrite_python`]; a file that does not parse is skipped, marked as one
    /// that may refer to the module when its text holds the module's last name (the
    /// cheapest test every spelling of an import of it passes).
    fn rewrite_or_skip(
        &self,
        ws: &Workspace,
        file: &Path,
        text: &str,
        old_last: &str,
    ) -> Rewritten {
        match self.rewrite_python(file, text) {
            Ok(done) => done,
            Err((reason, line)) => {
                if text.contains(old_last) {
                    ws.skip_with(
                        &self.r.layout.ws_path(file),
                        crate::engine::Skipped {
                            reason,
                            line,
                            recipe: Some(self.recipe.to_owned()),
                            may_refer: true,
                        },
                    );
                }
                (None, Vec::new())
            }
        }
    }

    fn rewrite_python(&self, file: &Path, text: &str) -> Result<Rewritten, (String, usize)> {
        let Some(tree) = crate::parse::parse(text) else {
            return Err(("tree-sitter could not parse it".to_owned(), 0));
        };
        if let Some(error) = crate::parse::syntax_error_in(&tree, text) {
            return Err(error);
        }
        // What each name means here (a chain `pkg.mod.X` is the module's only when
        // `pkg` is the import's binding, not a parameter or a local of that name).
        let model = crate::semantic::build(&tree, text);
        let old_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let new_dir = self
            .moved
            .get(file)
            .and_then(|n| n.parent())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| old_dir.clone());
        let is_moved = self.moved.contains_key(file);
        let nl = crate::source::newline_of(text);
        let origin = self.recipe;
        let mut edits: Vec<Edit> = Vec::new();
        let mut findings = Vec::new();
        let mut chains: Vec<ChainRewrite> = Vec::new();
        // Modules the rewritten `import x.y.z` statements import already.
        let mut plain_new: BTreeSet<String> = BTreeSet::new();
        let mut warn = |offset: usize, message: String| {
            let (line, column) = line_col(text, offset);
            findings.push(Finding {
                path: self.r.layout.ws_path(file),
                line,
                column,
                recipe: self.recipe.to_owned(),
                severity: Severity::Warning,
                message,
            });
        };
        let old_last = self
            .old
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let new_last = self
            .new
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();

        let mut stack = vec![tree.root_node()];
        let mut strings = Vec::new();
        let mut attributes = Vec::new();
        while let Some(node) = stack.pop() {
            match node.kind() {
                "import_statement" => {
                    let mut c = node.walk();
                    for name in node.children_by_field_name("name", &mut c) {
                        let (dotted, alias) = if name.kind() == "aliased_import" {
                            (
                                name.child_by_field_name("name"),
                                name.child_by_field_name("alias"),
                            )
                        } else {
                            (Some(name), None)
                        };
                        let Some(dotted) = dotted else { continue };
                        let written: String = node_text(dotted, text)
                            .chars()
                            .filter(|c| !c.is_whitespace())
                            .collect();
                        if let Some((new_name, k)) = self.map_absolute(&written, Some(file)) {
                            let mut replacement = new_name.clone();
                            if alias.is_none() {
                                plain_new.insert(new_name.clone());
                                let old_prefix =
                                    written.split('.').take(k).collect::<Vec<_>>().join(".");
                                let new_prefix = new_name
                                    .split('.')
                                    .take(
                                        new_name.split('.').count()
                                            - (written.split('.').count() - k),
                                    )
                                    .collect::<Vec<_>>()
                                    .join(".");
                                chains.push(ChainRewrite {
                                    old: old_prefix.clone(),
                                    new: new_prefix,
                                    import_needed: false,
                                });
                                // Keep the old root name bound when the file uses it for
                                // something else.
                                let root = written.split('.').next().unwrap_or("");
                                if let Some((parent, _)) = old_prefix.rsplit_once('.') {
                                    if root != new_name.split('.').next().unwrap_or("")
                                        && uses_root_elsewhere(
                                            &tree,
                                            text,
                                            &model,
                                            root,
                                            &old_prefix,
                                        )
                                    {
                                        replacement = format!("{new_name}, {parent}");
                                    }
                                }
                            }
                            edits.push(Edit::replace(dotted.byte_range(), replacement, origin));
                        } else if let Ok(loc) = {
                            // What the statement binds: the root name of `import a.b.x`
                            // (through which `a.b.c.X` is reachable once `a.b.c` is
                            // imported anywhere), or the module under its alias.
                            let bound = if alias.is_none() {
                                written.split('.').next().unwrap_or("").to_owned()
                            } else {
                                written.clone()
                            };
                            self.r.resolve(&bound, Some(file)).map(|l| (l, bound))
                        } {
                            let (loc, written) = loc;
                            // `import a.b` (or `import a.b as m`), then `a.b.c.X`.
                            if loc.is_package()
                                && self.old.starts_with(loc.stem())
                                && self.old != loc.stem()
                            {
                                if let Ok(rest) = self.old.strip_prefix(loc.stem()) {
                                    let rest: Vec<String> = rest
                                        .components()
                                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                                        .collect();
                                    let binding = alias
                                        .map(|a| node_text(a, text).to_owned())
                                        .unwrap_or_else(|| written.clone());
                                    let mut root = loc.stem();
                                    for _ in written.split('.') {
                                        root = root
                                            .parent()
                                            .map(Path::to_path_buf)
                                            .unwrap_or_default();
                                    }
                                    if let Some(new_full) = Self::name_in(&root, &self.new) {
                                        chains.push(ChainRewrite {
                                            old: format!("{binding}.{}", rest.join(".")),
                                            new: new_full,
                                            import_needed: true,
                                        });
                                    }
                                }
                            }
                        }
                    }
                    continue;
                }
                "import_from_statement" => {
                    self.rewrite_from(
                        node,
                        text,
                        file,
                        &new_dir,
                        is_moved,
                        &old_last,
                        &new_last,
                        nl,
                        &mut edits,
                        &mut chains,
                        &mut warn,
                    );
                    continue;
                }
                "string" => {
                    strings.push(node);
                    // An f-string's replacement fields are code: `f"{pkg.mod.X}"`.
                    let mut c = node.walk();
                    stack.extend(
                        node.children(&mut c)
                            .filter(|n| n.kind() == "interpolation"),
                    );
                    continue;
                }
                "attribute" => {
                    let parent_is_chain = node.parent().is_some_and(|p| {
                        p.kind() == "attribute"
                            && p.child_by_field_name("object")
                                .is_some_and(|o| o.id() == node.id())
                    });
                    if !parent_is_chain {
                        attributes.push(node);
                    }
                }
                _ => {}
            }
            let mut c = node.walk();
            stack.extend(node.children(&mut c));
        }

        // Dotted uses through imports.
        let mut imports_needed: BTreeSet<String> = BTreeSet::new();
        for attr in attributes {
            let mut n = attr;
            // Walk down the chain to find the node whose text is a rewritten prefix.
            loop {
                let written: String = node_text(n, text)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                if let Some(cr) = chains.iter().find(|c| c.old == written) {
                    // module-to-package: the module itself compared (`pkg.mod == m`,
                    // `m is pkg.mod`) stays the package, the object every import of
                    // `pkg.mod` gives; only its namespace moved.
                    let compared = n.id() == attr.id()
                        && attr
                            .parent()
                            .is_some_and(|p| p.kind() == "comparison_operator");
                    if self.keep_from && compared {
                        break;
                    }
                    let head = chain_head(n);
                    let name = node_text(head, text);
                    let reaching = model.reaching(head.start_byte(), name);
                    let imported = |b: &&crate::semantic::Binding| {
                        matches!(
                            b.kind,
                            crate::semantic::BindingKind::Import { .. }
                                | crate::semantic::BindingKind::FromImport { .. }
                        )
                    };
                    if !reaching.iter().all(imported) || reaching.is_empty() {
                        if let Some(other) = reaching.iter().find(|b| !imported(b)) {
                            let line = line_col(text, other.start).0;
                            warn(
                                n.start_byte(),
                                format!(
                                    "kept: `{written}` is not the module here: `{name}` is also bound at line {line}, so the chain may not mean the module; fix it by hand if it does"
                                ),
                            );
                        }
                        break;
                    }
                    edits.push(Edit::replace(n.byte_range(), cr.new.clone(), origin));
                    if cr.import_needed {
                        imports_needed.insert(cr.new.clone());
                    }
                    break;
                }
                match n.child_by_field_name("object") {
                    Some(o) if n.kind() == "attribute" => n = o,
                    _ => break,
                }
            }
        }
        // String literals that are dotted paths under the old name.
        if self.keep_from {
            strings.clear();
        }
        for s in strings {
            if !node_text(s, text).contains(old_last.as_str()) {
                continue;
            }
            // The whole literal a reference (`mock.patch("a.b.c.X")`, `"a.b.c:main"`,
            // `import_module("c")`), else every dotted word in it: a message and the
            // test that matches it (`match="... a.b.c.X"`) move together.
            let whole = string_value(s, text)
                .zip(content_node(s))
                .and_then(|(value, content)| {
                    let call_arg = s.parent().is_some_and(|p| p.kind() == "argument_list");
                    let new_value = rewrite_token(&value, |d| {
                        if !d.contains('.') && !call_arg {
                            return None;
                        }
                        self.map_absolute(d, Some(file)).map(|(n, _)| n)
                    })?;
                    Some(Edit::replace(content.byte_range(), new_value, origin))
                });
            if let Some(e) = whole {
                edits.push(e);
                continue;
            }
            for w in crate::project_imports::dotted_words(s, text) {
                if !w.name.contains(old_last.as_str()) {
                    continue;
                }
                if let Some((new, _)) = self.map_absolute(&w.name, Some(file)) {
                    edits.push(Edit::replace(w.range.clone(), w.spell(&new), origin));
                }
            }
        }
        imports_needed.retain(|m| !plain_new.contains(m));
        if !imports_needed.is_empty() {
            let specs: Vec<ImportSpec> = imports_needed
                .into_iter()
                .map(|m| ImportSpec::Import {
                    module: m,
                    alias: None,
                })
                .collect();
            edits.extend(crate::imports::ensure(text, &tree, &specs, nl, origin));
        }
        if edits.is_empty() {
            return Ok((None, findings));
        }
        let (edits, _) = crate::edit::resolve(edits);
        let _ = &old_dir;
        Ok((Some(crate::edit::apply(text, &edits)), findings))
    }

    #[allow(clippy::too_many_arguments)]
    fn rewrite_from(
        &self,
        node: Node<'_>,
        text: &str,
        file: &Path,
        new_dir: &Path,
        is_moved: bool,
        old_last: &str,
        new_last: &str,
        nl: &str,
        edits: &mut Vec<Edit>,
        chains: &mut Vec<ChainRewrite>,
        warn: &mut impl FnMut(usize, String),
    ) {
        let origin = self.recipe;
        let Some(module_node) = node.child_by_field_name("module_name") else {
            return;
        };
        let written: String = node_text(module_node, text)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let level = written.chars().take_while(|c| *c == '.').count();
        let rest = &written[level..];
        // The module the statement imports from, as a stem, and whether it moves.
        let (module_stem, relative) = if level == 0 {
            if let Some((new_name, k)) = self.map_absolute(&written, Some(file)) {
                if !(self.keep_from && k == written.split('.').count()) {
                    edits.push(Edit::replace(module_node.byte_range(), new_name, origin));
                }
                return;
            }
            match self.r.resolve(&written, Some(file)) {
                Ok(loc) => (loc.stem(), false),
                Err(_) => return,
            }
        } else {
            let Ok(base) = self.r.relative_base(file, level) else {
                return;
            };
            let target = rest
                .split('.')
                .filter(|p| !p.is_empty())
                .fold(base, |p, part| p.join(part));
            if self.keep_from && target == self.old {
                return;
            }
            if let Some(new_target) = self.map_stem(&target) {
                match self.spec(new_dir, &new_target, true) {
                    Some(s) => edits.push(module_name_edit(module_node, text, s, origin)),
                    None => warn(
                        node.start_byte(),
                        format!(
                            "cannot express the new place of `{written}` from here; left as it is"
                        ),
                    ),
                }
                return;
            }
            if is_moved {
                // The moved code's own relative import, from its new place.
                match self.spec(new_dir, &target, true) {
                    Some(s) if s != written => {
                        edits.push(module_name_edit(module_node, text, s, origin))
                    }
                    Some(_) => {}
                    None => warn(
                        node.start_byte(),
                        format!("cannot express `{written}` from the new place; left as it is"),
                    ),
                }
            }
            (target, true)
        };
        // `from a.b import c [as m]`: the moved module as a name.
        let mut c = node.walk();
        let names: Vec<Node<'_>> = node.children_by_field_name("name", &mut c).collect();
        // Every name of a list is the moved module (`from a.b import (c, c as d)`): the
        // whole statement becomes the new ones, as removing each name from the list
        // would leave it empty.
        let imported = |name: &Node<'_>| {
            if name.kind() == "aliased_import" {
                name.child_by_field_name("name")
                    .map_or("", |x| node_text(x, text))
            } else {
                node_text(*name, text)
            }
        };
        let all_moved = names.len() > 1
            && names
                .iter()
                .all(|n| imported(n) == old_last && module_stem.join(old_last) == self.old)
            && !(self.keep_from
                && self.old.parent().map(|p| p.join("__init__.py")).as_deref() == Some(file));
        let mut whole: Vec<String> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let (n, alias) = if name.kind() == "aliased_import" {
                (
                    name.child_by_field_name("name")
                        .map(|x| node_text(x, text))
                        .unwrap_or(""),
                    name.child_by_field_name("alias")
                        .map(|x| node_text(x, text)),
                )
            } else {
                (node_text(*name, text), None)
            };
            let binding = alias.unwrap_or(n);
            // `module-to-package`: in the parent package's `__init__.py`, `from . import
            // mod` sets the attribute `pkg.mod`, which must stay the new package.
            if self.keep_from
                && binding == old_last
                && self.old.parent().map(|p| p.join("__init__.py")).as_deref() == Some(file)
            {
                continue;
            }
            if n == old_last && module_stem.join(n) == self.old {
                let new_parent = self.new.parent().map(Path::to_path_buf).unwrap_or_default();
                let stmt_dir = if is_moved {
                    new_dir
                } else {
                    file.parent().unwrap_or(new_dir)
                };
                let new_stmt = if new_parent == self.frame {
                    Some(if binding == new_last {
                        format!("import {new_last}")
                    } else {
                        format!("import {new_last} as {binding}")
                    })
                } else {
                    self.spec(stmt_dir, &new_parent, relative).map(|spec| {
                        if binding == new_last {
                            format!("from {spec} import {new_last}")
                        } else {
                            format!("from {spec} import {new_last} as {binding}")
                        }
                    })
                };
                let Some(new_stmt) = new_stmt else {
                    warn(
                        node.start_byte(),
                        format!("cannot express the new place of `{n}` from here; left as it is"),
                    );
                    continue;
                };
                let comments = comments_in(node, text);
                if all_moved {
                    if !whole.contains(&new_stmt) {
                        whole.push(new_stmt);
                    }
                } else if names.len() == 1 && !comments.is_empty() {
                    // Keep the comments: in place when the statement stays a `from`
                    // import, else after the new statement.
                    match new_stmt
                        .strip_prefix("from ")
                        .and_then(|r| r.split_once(" import "))
                    {
                        Some((spec, imported)) => {
                            edits.push(module_name_edit(
                                module_node,
                                text,
                                spec.to_owned(),
                                origin,
                            ));
                            edits.push(Edit::replace(
                                name.byte_range(),
                                imported.to_owned(),
                                origin,
                            ));
                        }
                        None => edits.push(Edit::replace(
                            node.byte_range(),
                            format!("{new_stmt}  {}", comments.join(" ")),
                            origin,
                        )),
                    }
                } else if names.len() == 1 {
                    edits.push(Edit::replace(node.byte_range(), new_stmt, origin));
                } else {
                    // Remove the name (and its comma) from the list, keep the rest.
                    let range = if i + 1 < names.len() {
                        name.start_byte()..names[i + 1].start_byte()
                    } else {
                        let prev_end = names[i - 1].end_byte();
                        prev_end..name.end_byte()
                    };
                    let removed = &text[range.clone()];
                    // The name alone on its line of a parenthesised list: the line goes,
                    // and its comment follows the name to the new statement.
                    let ls = crate::imports::line_start(text, name.start_byte());
                    let le = text[name.end_byte()..]
                        .find('\n')
                        .map(|i| name.end_byte() + i + 1);
                    let own_line = le.and_then(|le| {
                        let after = text[name.end_byte()..le].trim();
                        let after = after.strip_prefix(',').unwrap_or(after).trim_start();
                        (text[ls..name.start_byte()].trim().is_empty()
                            && text[node.start_byte()..name.start_byte()].contains('(')
                            && (after.is_empty() || after.starts_with('#')))
                        .then(|| (le, after.to_owned()))
                    });
                    let mut new_stmt = new_stmt;
                    if let Some((le, comment)) = own_line {
                        edits.push(Edit::delete(ls..le, origin));
                        if !comment.is_empty() {
                            new_stmt = format!("{new_stmt}  {comment}");
                        }
                    } else if removed.contains('#') {
                        // A comment between the names: keep it, drop only the name.
                        let mut end = text[name.end_byte()..]
                            .find(',')
                            .filter(|i| !text[name.end_byte()..name.end_byte() + i].contains('\n'))
                            .map_or(name.end_byte(), |i| name.end_byte() + i + 1);
                        while text[end..].starts_with([' ', '\t']) {
                            end += 1;
                        }
                        edits.push(Edit::delete(name.start_byte()..end, origin));
                    } else {
                        edits.push(Edit::delete(range, origin));
                    }
                    let start = crate::imports::line_start(text, node.start_byte());
                    let indent: String = text[start..node.start_byte()]
                        .chars()
                        .take_while(|c| c.is_whitespace())
                        .collect();
                    let line_end = text[node.end_byte()..]
                        .find('\n')
                        .map_or(text.len(), |i| node.end_byte() + i + 1);
                    let prefix = if line_end == text.len() && !text.ends_with('\n') {
                        nl
                    } else {
                        ""
                    };
                    edits.push(Edit::insert(
                        line_end,
                        format!("{prefix}{indent}{new_stmt}{nl}"),
                        origin,
                    ));
                }
            } else if module_stem.join(n) != self.old
                && self.old.starts_with(module_stem.join(n))
                && self.r.is_dir(&module_stem.join(n))
            {
                // `from a import b`, then `b.c.X`.
                if let Ok(rest) = self.old.strip_prefix(module_stem.join(n)) {
                    let rest: Vec<String> = rest
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    if let Some(new_full) = self.absolute(&self.new) {
                        chains.push(ChainRewrite {
                            old: format!("{binding}.{}", rest.join(".")),
                            new: new_full,
                            import_needed: true,
                        });
                    }
                }
            }
        }
        if all_moved && !whole.is_empty() {
            let start = crate::imports::line_start(text, node.start_byte());
            let indent: String = text[start..node.start_byte()]
                .chars()
                .take_while(|c| c.is_whitespace())
                .collect();
            let mut stmts = whole.join(&format!("{nl}{indent}"));
            let comments = comments_in(node, text);
            if !comments.is_empty() {
                stmts = format!("{stmts}  {}", comments.join(" "));
            }
            edits.push(Edit::replace(node.byte_range(), stmts, origin));
        }
    }

    /// Rewrites quoted strings (pyproject.toml) or values (setup.cfg).
    fn rewrite_config(&self, text: &str, ini: bool) -> Option<String> {
        let old_last = self.old.file_name()?.to_str()?.to_owned();
        if !text.contains(&old_last) {
            return None;
        }
        let map = |d: &str| {
            if !d.contains('.') {
                return None;
            }
            self.map_absolute(d, None).map(|(n, _)| n)
        };
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        if ini {
            for line in text.split_inclusive('\n') {
                let body = line.trim_end_matches(['\n', '\r']);
                let eol = &line[body.len()..];
                let new_body = if body.starts_with(char::is_whitespace) {
                    rewrite_token(body, map)
                } else if let Some((k, v)) = body.split_once('=') {
                    rewrite_token(v, map).map(|v| format!("{k}={v}"))
                } else {
                    None
                };
                match new_body {
                    Some(b) => {
                        changed = true;
                        out.push_str(&b);
                        out.push_str(eol);
                    }
                    None => out.push_str(line),
                }
            }
        } else {
            let re = regex::Regex::new(r#""([^"\n]*)"|'([^'\n]*)'"#).ok()?;
            let mut last = 0;
            for cap in re.captures_iter(text) {
                let Some(m) = cap.get(1).or_else(|| cap.get(2)) else {
                    continue;
                };
                if let Some(new) = rewrite_token(m.as_str(), map) {
                    out.push_str(&text[last..m.start()]);
                    out.push_str(&new);
                    last = m.end();
                    changed = true;
                }
            }
            out.push_str(&text[last..]);
        }
        changed.then_some(out)
    }
}

/// The comments inside a statement, in order.
fn comments_in<'t>(node: Node<'_>, text: &'t str) -> Vec<&'t str> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind() == "comment" {
            out.push((n.start_byte(), node_text(n, text)));
            continue;
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    out.sort();
    out.into_iter().map(|(_, t)| t).collect()
}

/// The `string_content` child of a string without interpolation.
fn content_node(s: Node<'_>) -> Option<Node<'_>> {
    let mut c = s.walk();
    let found = s
        .named_children(&mut c)
        .find(|n| n.kind() == "string_content");
    found
}

/// `[name = ]dotted[:attr][ [extras]]` with `dotted` mapped; `None` when the text is not
/// of that form or the name does not map.
pub fn rewrite_token(s: &str, map: impl Fn(&str) -> Option<String>) -> Option<String> {
    let re = regex::Regex::new(
        r"^(\s*(?:[\w.\-]+\s*=\s*)?)([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)((?::[\w.]+)?(?:\s*\[[^\]]*\])?\s*)$",
    )
    .ok()?;
    let cap = re.captures(s)?;
    let dotted = cap.get(2)?.as_str();
    let new = map(dotted)?;
    Some(format!("{}{new}{}", &cap[1], &cap[3]))
}

/// Does the file read the name `root` other than through `old_prefix...` chains? (Asked
/// of the semantic model: reads of a local or parameter of that name do not count; an
/// import of another `root.x` keeps the root bound anyway.)
fn uses_root_elsewhere(
    tree: &tree_sitter::Tree,
    text: &str,
    model: &crate::semantic::Model,
    root: &str,
    old_prefix: &str,
) -> bool {
    use crate::semantic::BindingKind;
    let keeps_root = model.bindings.iter().any(|b| {
        b.name == root
            && matches!(&b.kind, BindingKind::Import { full, .. }
                if full == root || !(full == old_prefix || full.starts_with(&format!("{old_prefix}."))))
    });
    if keeps_root {
        return false;
    }
    model.references.iter().filter(|r| r.name == root).any(|r| {
        // Only reads that see the import (somewhere, an `import` binds what they see).
        let sees_import = model
            .reaching(r.start, root)
            .iter()
            .any(|b| matches!(b.kind, BindingKind::Import { .. }));
        if !sees_import {
            return false;
        }
        let Some(mut n) = tree.root_node().descendant_for_byte_range(r.start, r.end) else {
            return true;
        };
        while let Some(p) = n.parent() {
            let is_object = p.kind() == "attribute"
                && p.child_by_field_name("object")
                    .is_some_and(|o| o.id() == n.id());
            if !is_object {
                break;
            }
            n = p;
        }
        let t: String = node_text(n, text)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        !(t == old_prefix || t.starts_with(&format!("{old_prefix}.")))
    })
}

/// The identifier a chain `a.b.c` starts with (the node itself when it is not one).
fn chain_head(mut n: Node<'_>) -> Node<'_> {
    while n.kind() == "attribute" {
        match n.child_by_field_name("object") {
            Some(o) => n = o,
            None => break,
        }
    }
    n
}
