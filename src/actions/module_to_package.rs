//! `module-to-package`: turns the module `pkg/mod.py` into the package `pkg/mod/`.
//!
//! What it does: moves the code of `pkg/mod.py` to `pkg/mod/NAME.py` (NAME is the
//! `submodule` argument), adds one dot to each of its relative imports (it now sits one
//! package deeper), and writes `pkg/mod/__init__.py` re-exporting the module's public
//! names: `__all__` when the module defines it literally, else every top-level name that
//! does not start with `_` and that the module defines (functions, classes, constants;
//! the names it only imports too when a project file star-imports it), plus the names
//! other project files import from it, private ones too; every
//! top-level name, private ones too, when the module defines pytest fixtures or hooks
//! (pytest reads a plugin's whole namespace, which `__getattr__` does not extend; a
//! plugin that binds names as it runs has the package copy its namespace on import);
//! `DocTestSuite("pkg.mod")` becomes `DocTestSuite("pkg.mod.NAME")`, where the code
//! and its doctests now are. So `import
//! pkg.mod`, `from pkg.mod import X` and `pkg.mod.X` keep working, and
//! `pkg.mod.NAME` now exists. String literals that name something the module defines
//! (`mock.patch("pkg.mod.X")`) are pointed at `pkg.mod.NAME.X`, where the code now
//! lives, so a patch still reaches the code that uses `X`. Uses of the module object
//! itself (`import pkg.mod` then `pkg.mod.X`, `from pkg import mod`, so also
//! `mod.X = 1`, `patch.object(mod, "X")`, `monkeypatch.setattr(mod, "X", ...)`) are
//! pointed at `pkg.mod.NAME` as well: the package is another module object, and
//! setting its attributes would not reach the code's globals (`from pkg.mod import X`
//! stays, and so does `from . import mod` in `pkg/__init__.py`, which must keep
//! binding the package). The package's `__getattr__` hands out every other name of
//! `NAME` (private ones too), and a stub `pkg/mod.pyi` becomes `pkg/mod/__init__.pyi`.
//!
//! Why: code and tests that import `pkg.mod.NAME` fail with "'pkg.mod' is not a package"
//! until the module becomes a package; doing it by hand loses re-exports or breaks the
//! relative imports of the moved code. `unresolved-imports` suggests this fix.
//!
//! Example: `fixer apply module-to-package --set module=app.performance --set
//! submodule=response_time_monitor` turns `app/performance.py` (defining
//! `get_monitor`) into `app/performance/response_time_monitor.py` and
//! `app/performance/__init__.py` with `from .response_time_monitor import get_monitor`.
//!
//! When it refuses (exit 2): the module does not exist or is not a `.py` file of the
//! project, `pkg/mod/` already exists next to `pkg/mod.py`, the module does not parse,
//! the submodule name is not an identifier. When `pkg.mod` is already a package it
//! changes nothing and says so. It warns when the code uses `__file__` (paths relative to
//! it now start one directory deeper) or runs as a script (`python -m pkg.mod` needs a
//! `__main__.py` now).

use std::collections::BTreeSet;
use std::path::Path;

use rayon::prelude::*;

use crate::actions::{Action, ActionArgs, ProjectAction};
use crate::diag::{Finding, Severity, UserError};
use crate::engine::Workspace;
use crate::project_imports::{
    is_dotted, is_identifier, is_word, ImportKind, Loc, ModInfo, Resolver,
};

pub fn build(mut args: ActionArgs) -> Result<Action, String> {
    let module = args
        .string("module")?
        .ok_or("`module` is required (the dotted name of the module)")?;
    let submodule = args
        .string("submodule")?
        .ok_or("`submodule` is required (the name of the new submodule)")?;
    args.finish("module-to-package")?;
    Ok(Action::Project(Box::new(ModuleToPackage {
        module,
        submodule,
    })))
}

pub struct ModuleToPackage {
    module: String,
    submodule: String,
}

/// `text` with one more leading dot on every relative import.
pub fn deepen_relative_imports(text: &str, extra: usize) -> Option<String> {
    let tree = crate::parse::parse(text)?;
    let mut edits = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind() == "import_prefix" {
            edits.push(crate::edit::Edit::insert(
                node.start_byte(),
                ".".repeat(extra),
                "module-to-package",
            ));
            continue;
        }
        let mut c = node.walk();
        stack.extend(node.children(&mut c));
    }
    let (edits, _) = crate::edit::resolve(edits);
    Some(crate::edit::apply(text, &edits))
}

impl ProjectAction for ModuleToPackage {
    fn run(&self, ws: &Workspace, recipe: &str) -> Result<Vec<Finding>, UserError> {
        let (module, sub) = (&self.module, &self.submodule);
        if !is_dotted(module) {
            return Err(UserError::new(format!(
                "parameter `module`: `{module}` is not a dotted module name"
            ))
            .help("give it as you would import it, e.g. --set module=pkg.mod"));
        }
        if !is_identifier(sub) {
            return Err(UserError::new(format!(
                "parameter `submodule`: `{sub}` is not a Python identifier"
            ))
            .help(format!(
                "the new submodule is imported as `{module}.SUBMODULE`; use letters, digits and `_`"
            )));
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
        let file = match r.resolve(module, None) {
            Ok(Loc::File(f)) => f,
            Ok(loc @ (Loc::Package { .. } | Loc::Namespace(_))) => {
                let at = loc
                    .file()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| loc.stem());
                let has_sub = r.submodule(&loc, sub).is_some();
                return Ok(vec![note(
                    &at,
                    format!(
                        "`{module}` is already a package{}; nothing to do",
                        if has_sub {
                            format!(" with the submodule `{sub}`")
                        } else {
                            String::new()
                        }
                    ),
                )]);
            }
            Ok(Loc::Opaque(p)) => {
                return Err(UserError::new(format!(
                    "`{module}` is an extension module ({}), not Python source",
                    r.layout.show(&p)
                )))
            }
            Err(_) => {
                return Err(crate::actions::move_module::no_module(
                    ws, &r, module, "module",
                ))
            }
        };
        let dir = file.with_extension("");
        if r.is_dir(&dir) {
            return Err(UserError::new(format!(
                "{} and the directory {} both exist; `{module}` cannot become a package",
                r.layout.show(&file),
                r.layout.show(&dir)
            ))
            .help("merge or remove one of them by hand first"));
        }
        let text = r
            .read(&file)
            .ok_or_else(|| UserError::new(format!("cannot read {}", r.layout.show(&file))))?;
        let info = ModInfo::from_text(&text);
        if !info.parsed {
            return Err(UserError::new(format!(
                "{} does not parse; fix its syntax first",
                r.layout.show(&file)
            )));
        }
        let moved = deepen_relative_imports(&text, 1)
            .ok_or_else(|| UserError::new(format!("{} does not parse", r.layout.show(&file))))?;

        // What the module binds when its code has run, as the semantic model sees it:
        // a name whose last module-level binding is a `del` (six's loop variable,
        // `del attr`) is gone, and re-exporting it would fail the package's import.
        let model = crate::parse::parse(&text).map(|t| crate::semantic::build(&t, &text));
        let deleted: BTreeSet<String> = model
            .as_ref()
            .map(|m| {
                let mut last: std::collections::HashMap<&str, bool> = Default::default();
                for b in m.bindings.iter().filter(|b| b.scope == 0) {
                    last.insert(
                        b.name.as_str(),
                        b.kind == crate::semantic::BindingKind::Deletion,
                    );
                }
                last.into_iter()
                    .filter(|(_, gone)| *gone)
                    .map(|(n, _)| n.to_owned())
                    .collect()
            })
            .unwrap_or_default();
        // Reads of `__name__` at module level, outside `if __name__ == "__main__":`.
        let reads_name = model.as_ref().is_some_and(|m| {
            m.references
                .iter()
                .any(|r| r.scope == 0 && r.name == "__name__" && !in_main_guard(&text, r.start))
        });
        // The names other project files import from the module (`from pkg.mod import
        // X`), and whether one star-imports it (which, without `__all__`, takes every
        // public name, its imports' too: `__getattr__` does not serve `*`).
        let files: Vec<_> = ws.python_files().iter().map(|p| r.layout.abs(p)).collect();
        let imported_by_others: Vec<(Vec<String>, bool)> = files
            .par_iter()
            .filter(|f| **f != file)
            .flat_map_iter(|f| {
                let fi = r.module_info(f);
                let mut out = Vec::new();
                for site in fi.imports.iter().filter(|s| s.from) {
                    let target = if site.level == 0 {
                        if site.module != *module {
                            continue;
                        }
                        r.resolve(&site.module, Some(f))
                    } else {
                        r.resolve_relative(f, site.level, &site.module)
                    };
                    if target.ok().as_ref().and_then(Loc::file) == Some(file.as_path()) {
                        out.push((
                            site.names.iter().map(|(n, _)| n.clone()).collect(),
                            site.star,
                        ));
                    }
                }
                out
            })
            .collect();
        let star_imported = imported_by_others.iter().any(|(_, star)| *star);
        let wanted: BTreeSet<String> = imported_by_others
            .into_iter()
            .filter(|(_, star)| !star)
            .flat_map(|(names, _)| names)
            .collect();
        // The names the package re-exports.
        let mut names: Vec<String> = Vec::new();
        let mut seen = BTreeSet::new();
        // Only names an import can name: `__all__` may list any string.
        let mut add = |n: &str, names: &mut Vec<String>| {
            if is_word(n) && !deleted.contains(n) && seen.insert(n.to_owned()) {
                names.push(n.to_owned());
            }
        };
        match (&info.all, info.all_dynamic) {
            (Some(all), false) => {
                add("__all__", &mut names);
                for n in all {
                    add(n, &mut names);
                }
            }
            // What the module defines; the names it only imports come through
            // `__getattr__` (or below, when another file imports them from it), unless a
            // star import of the module takes them.
            _ => {
                for (n, kind) in &info.top_level {
                    let imported = matches!(kind, ImportKind::FromImport { .. });
                    if !n.starts_with('_')
                        && (*kind == ImportKind::Defined || (imported && star_imported))
                    {
                        add(n, &mut names);
                    }
                }
            }
        }
        // A pytest plugin is read through its namespace (`dir(module)`: fixtures and
        // hooks, private names included), which `__getattr__` does not extend: the
        // package re-exports every name the module binds at top level.
        if is_pytest_plugin(&text) {
            for (n, kind) in &info.top_level {
                if *kind != ImportKind::PlainImport && n != "__getattr__" {
                    add(n, &mut names);
                }
            }
        }
        // Names other project files import from the module, private ones too.
        for n in wanted {
            if info.bound.contains_key(&n) {
                add(&n, &mut names);
            }
        }

        let nl = crate::source::newline_of(&text);
        let mut init = format!(
            "\"\"\"Re-exports `{module}.{sub}`, so that imports from `{module}` keep working.\"\"\"{nl}"
        );
        if !names.is_empty() {
            init.push_str(nl);
            let one_line = format!("from .{sub} import {}", names.join(", "));
            if one_line.len() <= 88 {
                init.push_str(&one_line);
                init.push_str(nl);
            } else {
                init.push_str(&format!("from .{sub} import ({nl}"));
                for n in &names {
                    init.push_str(&format!("    {n},{nl}"));
                }
                init.push_str(&format!("){nl}"));
            }
        }
        // A pytest plugin that binds names at run time (`globals()[f"_{scope}_runner"] =
        // ...`, as pytest-asyncio makes its runner fixtures): pytest reads the plugin's
        // namespace, so the package takes every name the module has once it has run.
        if is_pytest_plugin(&text) && info.dynamic {
            init.push_str(&format!(
                "{nl}from . import {sub} as _{sub}{nl}{nl}# pytest reads a plugin's whole namespace, which `{module}.{sub}` builds as it runs.{nl}globals().update({{{nl}    k: v{nl}    for k, v in vars(_{sub}).items(){nl}    if not (k.startswith(\"__\") and k.endswith(\"__\")){nl}}}){nl}"
            ));
        }
        // Every other name of the module (private ones, its imports) stays reachable as
        // `pkg.mod.NAME` too, as code generated at run time or other projects may use it.
        init.push_str(&format!(
            "{nl}{nl}def __getattr__(name):{nl}    \"\"\"The names of `{module}.{sub}` not re-exported above.\"\"\"{nl}    import importlib{nl}{nl}    return getattr(importlib.import_module(__name__ + \".{sub}\"), name){nl}"
        ));
        // `mock.patch("pkg.mod.X")` must patch where the code now lives, not the
        // re-export: dotted strings through a name the module binds follow the code.
        // Uses of the module object (`import pkg.mod`, `from pkg import mod`, then
        // `mod.X = 1`, `patch.object(mod, "X")`) follow the code to the submodule too:
        // the package is another module object, and setting its attributes would not
        // reach the code's globals.
        let (redirected, mut findings) = crate::actions::move_module::redirect_module_object(
            ws, &r, module, &file, sub, &files, recipe,
        );
        let mut redirected: std::collections::HashMap<_, _> = redirected.into_iter().collect();
        let prefix = format!("{module}.");
        let mut patched: Vec<(std::path::PathBuf, String)> = files
            .par_iter()
            .filter(|f| **f != file)
            .filter_map(|f| {
                let text: String = match redirected.get(f) {
                    Some(t) => t.clone(),
                    None => r.read(f)?.to_string(),
                };
                if !text.contains(&prefix) && !text.contains("DocTestSuite") {
                    return None;
                }
                let new = retarget_strings(&text, module, sub, &info)?;
                Some((f.clone(), new))
            })
            .collect();
        for (f, _) in &patched {
            redirected.remove(f);
        }
        patched.extend(redirected);
        for (f, t) in patched {
            ws.write(&r.layout.ws_path(&f), t, recipe, 1)
                .map_err(UserError::new)?;
        }
        let init_path = dir.join("__init__.py");
        let sub_path = dir.join(format!("{sub}.py"));
        let io = |e: String| UserError::new(e);
        ws.write(&r.layout.ws_path(&init_path), init, recipe, 1)
            .map_err(io)?;
        // The moved code's own strings follow as the other files' do: a message and the
        // test that matches it stay in step.
        let moved = retarget_strings(&moved, module, sub, &info).unwrap_or(moved);
        ws.write(&r.layout.ws_path(&sub_path), moved, recipe, 1)
            .map_err(io)?;
        ws.delete(&r.layout.ws_path(&file), recipe).map_err(io)?;
        // A type stub `pkg/mod.pyi` would shadow the package for type checkers: it
        // becomes the package's stub, `pkg/mod/__init__.pyi`, one level deeper.
        let stub = file.with_extension("pyi");
        if let Some(stub_text) = r.read(&stub) {
            if let Some(deeper) = deepen_relative_imports(&stub_text, 1) {
                ws.write(
                    &r.layout.ws_path(&dir.join("__init__.pyi")),
                    deeper,
                    recipe,
                    1,
                )
                .map_err(io)?;
                ws.delete(&r.layout.ws_path(&stub), recipe).map_err(io)?;
            }
        }

        let warn = |message: String| Finding {
            path: r.layout.ws_path(&sub_path),
            line: 0,
            column: 0,
            recipe: recipe.to_owned(),
            severity: Severity::Warning,
            message,
        };
        if info.uses_file {
            findings.push(warn(format!(
                "the code uses `__file__`: paths relative to it now start from {}, one directory deeper",
                r.layout.show(&dir)
            )));
        }
        if text.contains("__name__ == \"__main__\"") || text.contains("__name__ == '__main__'") {
            findings.push(warn(format!(
                "the module runs as a script: `python -m {module}` now needs `{module}/__main__.py` (or run `python -m {module}.{sub}`)"
            )));
        }
        if reads_name {
            findings.push(warn(format!(
                "the code reads `__name__` at module level (a logger's name, an import hook's prefix): it is now `{module}.{sub}`, not `{module}`"
            )));
        }
        if info.bound.contains_key(sub.as_str()) {
            findings.push(warn(format!(
                "the module defines `{sub}` itself: `{module}.{sub}` is that name, not the new submodule, once the package re-exports it"
            )));
        }
        Ok(findings)
    }
}

/// Rewrites string literals `"module.X[.rest]"` (X bound by the module) to
/// `"module.sub.X[.rest]"`; `None` when nothing changes.
fn retarget_strings(text: &str, module: &str, sub: &str, info: &ModInfo) -> Option<String> {
    let tree = crate::parse::parse(text)?;
    if crate::parse::first_error(&tree).is_some() {
        return None;
    }
    let mut edits = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind() == "string" {
            let map = |d: &str| {
                let rest = d.strip_prefix(module)?.strip_prefix('.')?;
                let first = rest.split('.').next()?;
                (first != sub && info.bound.contains_key(first))
                    .then(|| format!("{module}.{sub}.{rest}"))
            };
            let value = crate::project_imports::string_value(node, text);
            let mut c = node.walk();
            let content = node
                .named_children(&mut c)
                .find(|n| n.kind() == "string_content");
            let whole = value.zip(content).and_then(|(value, content)| {
                let new = if value == module && is_doctest_target(node, text) {
                    // `DocTestSuite("pkg.mod")` finds the doctests of the objects whose
                    // `__module__` is that module: they now live in the submodule.
                    format!("{module}.{sub}")
                } else {
                    crate::actions::move_module::rewrite_token(&value, map)?
                };
                Some(crate::edit::Edit::replace(
                    content.byte_range(),
                    new,
                    "module-to-package",
                ))
            });
            match whole {
                Some(e) => edits.push(e),
                // Every dotted word in a longer string, as move-module does.
                None => {
                    for w in crate::project_imports::dotted_words(node, text) {
                        if let Some(new) = map(&w.name) {
                            edits.push(crate::edit::Edit::replace(
                                w.range.clone(),
                                w.spell(&new),
                                "module-to-package",
                            ));
                        }
                    }
                }
            }
            continue;
        }
        let mut c = node.walk();
        stack.extend(node.children(&mut c));
    }
    if edits.is_empty() {
        return None;
    }
    let (edits, _) = crate::edit::resolve(edits);
    Some(crate::edit::apply(text, &edits))
}

/// Is `offset` in an `if __name__ == "__main__":` at column 0 (its condition, or a
/// line after it: the block that runs only as a script ends a module, by custom)?
fn in_main_guard(text: &str, offset: usize) -> bool {
    let is_guard = |l: &str| {
        let c: String = l.chars().filter(|c| !c.is_whitespace()).collect();
        l.starts_with("if") && (c == "if__name__==\"__main__\":" || c == "if__name__=='__main__':")
    };
    let offset = offset.min(text.len());
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    text[..line_end].lines().any(is_guard)
}

/// Is the string `node` the first argument of `DocTestSuite(...)` (or
/// `doctest.DocTestSuite(...)`), which reads the doctests of that module's own code?
fn is_doctest_target(node: tree_sitter::Node<'_>, text: &str) -> bool {
    let Some(args) = node.parent().filter(|p| p.kind() == "argument_list") else {
        return false;
    };
    if args.named_child(0).map(|n| n.id()) != Some(node.id()) {
        return false;
    }
    let Some(call) = args.parent().filter(|p| p.kind() == "call") else {
        return false;
    };
    let Some(function) = call.child_by_field_name("function") else {
        return false;
    };
    let name = crate::parse::text(function, text);
    name.rsplit('.').next() == Some("DocTestSuite")
}

/// Does the module define pytest fixtures or hooks (so pytest, once it loads it as a
/// plugin or conftest, reads its whole namespace)?
fn is_pytest_plugin(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("def pytest_")
            || l.starts_with("async def pytest_")
            || l.starts_with("@pytest.fixture")
            || l.starts_with("@fixture")
            || l.starts_with("@pytest_asyncio.fixture")
            || l.starts_with("@pytest.hookimpl")
            || l.starts_with("@hookimpl")
    })
}
