//! `pytest-asyncio-v1`: migrates a test suite written for pytest-asyncio 0.21/0.23 to
//! pytest-asyncio 1.x, following the steps of pytest-asyncio's own migration guides.
//!
//! What it does, in the test files and conftests it is given:
//! - A re-implemented `event_loop` fixture that only makes a loop
//!   (`asyncio.new_event_loop()`, a policy's `new_event_loop()`), yields or returns it
//!   and closes it is removed. What it governed (its conftest's directory and below, or
//!   its module; the deepest one wins) keeps running in a loop of the fixture's scope:
//!   through `asyncio_default_fixture_loop_scope` and `asyncio_default_test_loop_scope`
//!   when the fixture is in the rootdir's conftest, else through `loop_scope=` on the
//!   tests' asyncio marks (`@pytest.mark.asyncio(loop_scope="session")`, on the mark
//!   closest to the test: its own, its class's or the module's `pytestmark`) and on the
//!   async fixtures' decorators.
//! - A request of `event_loop`: an async test or fixture loses the parameter and, when
//!   it uses the name, opens with `event_loop = asyncio.get_running_loop()`; a sync one
//!   whose only uses are `event_loop.run_until_complete(X)` becomes `async def` with
//!   `await X`, marked `@pytest.mark.asyncio` (tests, strict mode) or decorated
//!   `@pytest_asyncio.fixture` (fixtures, strict mode).
//! - `@pytest.mark.asyncio(scope=...)` becomes `loop_scope=...`; in strict mode an
//!   `async def` under `@pytest.fixture` becomes `@pytest_asyncio.fixture`; an async
//!   fixture of scope X gets `loop_scope="X"` when the default set below would give it
//!   another loop than the one it had (pytest-asyncio 0.23 ran it in a loop of its
//!   own scope).
//! - `asyncio_default_fixture_loop_scope` is set when unset (pytest-asyncio 1.x warns
//!   otherwise), in the file that holds the pytest configuration (pytest.ini,
//!   pyproject.toml, tox.ini, setup.cfg, found as pytest finds it), edited in place.
//!
//! Why: pytest-asyncio 1.0 removed the `event_loop` fixture. A suite that overrides it
//! to share one loop runs its tests in fresh loops under 1.x while a session fixture's
//! resources stay bound to another: "attached to a different loop".
//!
//! Example: `tests/conftest.py` in the rootdir defines a session-scoped `event_loop`
//! and a session-scoped async `engine` fixture. `fixer apply pytest-asyncio-v1 .`
//! removes the `event_loop` fixture and adds `asyncio_default_fixture_loop_scope =
//! session` and `asyncio_default_test_loop_scope = session` to `pytest.ini`.
//!
//! What it keeps, with a warning: an `event_loop` fixture that does anything else
//! (a policy, debug mode, an exception handler, uvloop; that belongs in an
//! `event_loop_policy` fixture or the mark's `loop_factories`), or that something still
//! requests in a way it cannot rewrite (a sync use other than `run_until_complete`,
//! `"event_loop"` by name); a mark with both `scope=` and `loop_scope=`; a
//! configuration file outside the given paths (the warning says what to add). It never
//! binds an added `import asyncio`/`pytest`/`pytest_asyncio` over a name in use. It
//! changes nothing in a tree without pytest-asyncio (no `pytest_asyncio`,
//! `mark.asyncio` or `asyncio_mode`).

mod config;
mod scan;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::actions::{Action, ActionArgs, ProjectAction, Selection};
use crate::diag::{Finding, Severity, UserError};
use crate::edit::Edit;
use crate::engine::{Skipped, Workspace};
use crate::imports::ImportSpec;
use config::Kind;
use scan::{Func, Scan, Uses};

pub fn build(args: ActionArgs) -> Result<Action, String> {
    args.finish("pytest-asyncio-v1")?;
    Ok(Action::Project(Box::new(PytestAsyncioV1)))
}

struct PytestAsyncioV1;

impl ProjectAction for PytestAsyncioV1 {
    fn run(&self, ws: &Workspace, recipe: &str) -> Result<Vec<Finding>, UserError> {
        run_in(ws, recipe, None)
    }

    fn run_selected(
        &self,
        ws: &Workspace,
        recipe: &str,
        selection: &Selection<'_>,
    ) -> Result<Vec<Finding>, UserError> {
        run_in(ws, recipe, Some(&selection.files(ws)))
    }
}

const SCOPES: [&str; 5] = ["function", "class", "module", "package", "session"];

fn rank(scope: &str) -> usize {
    SCOPES.iter().position(|s| *s == scope).unwrap_or(0)
}

fn finding(path: &Path, line: usize, recipe: &str, severity: Severity, msg: String) -> Finding {
    Finding {
        path: path.to_path_buf(),
        line,
        column: if line == 0 { 0 } else { 1 },
        recipe: recipe.to_owned(),
        severity,
        message: msg,
    }
}

/// A file that could not be read (its error) or parsed (why it is skipped).
type Unread = (PathBuf, Option<Skipped>, Option<String>);

/// One parsed file of the run.
struct File {
    /// As the walk gives it, and absolute.
    path: PathBuf,
    abs: PathBuf,
    text: Arc<str>,
    scan: Scan,
}

impl File {
    fn is_conftest(&self) -> bool {
        self.abs.file_name().is_some_and(|n| n == "conftest.py")
    }
}

/// What governs a file's tests: the scope of its `event_loop` fixture.
struct Governor {
    scope: String,
}

fn run_in(
    ws: &Workspace,
    recipe: &str,
    selected: Option<&HashSet<PathBuf>>,
) -> Result<Vec<Finding>, UserError> {
    let mut findings = Vec::new();
    let mut done: HashSet<PathBuf> = HashSet::new();
    for root in &ws.roots {
        let root_abs =
            crate::project_imports::normalize(&std::path::absolute(root).map_err(|e| {
                UserError::new(format!("cannot resolve `{}`: {e}", root.display()))
            })?);
        let base = if root.is_dir() {
            root_abs.clone()
        } else {
            root_abs.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let paths: Vec<PathBuf> = ws
            .python_files()
            .into_iter()
            .filter(|p| selected.is_none_or(|s| s.contains(p)))
            .filter(|p| {
                let abs = absolute(p);
                abs.starts_with(&base) && !done.contains(&abs)
            })
            .collect();
        done.extend(paths.iter().map(|p| absolute(p)));
        run_root(ws, recipe, root, &base, paths, &mut findings)?;
    }
    Ok(findings)
}

fn absolute(p: &Path) -> PathBuf {
    crate::project_imports::normalize(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

/// pytest's rootdir and configuration file for a run on `dir`.
fn rootdir_of(dir: &Path) -> (PathBuf, Option<(PathBuf, Kind)>) {
    for d in dir.ancestors() {
        if let Some(c) = config::config_file_in(d) {
            return (d.to_path_buf(), Some(c));
        }
    }
    for d in dir.ancestors() {
        if d.join("pyproject.toml").is_file() || d.join("setup.py").is_file() {
            return (d.to_path_buf(), None);
        }
    }
    (dir.to_path_buf(), None)
}

fn run_root(
    ws: &Workspace,
    recipe: &str,
    root: &Path,
    base: &Path,
    paths: Vec<PathBuf>,
    findings: &mut Vec<Finding>,
) -> Result<(), UserError> {
    let parsed: Vec<Result<File, Unread>> = paths
        .into_par_iter()
        .filter_map(|path| {
            let text = match ws.read(&path) {
                Ok(Some(t)) => t,
                Ok(None) => return None,
                Err(e) => return Some(Err((path, None, Some(e)))),
            };
            if !text.contains("asyncio") && !text.contains("event_loop") {
                return None;
            }
            let Some(tree) = crate::parse::parse(&text).filter(|t| !t.root_node().has_error())
            else {
                let skipped = Skipped::unparsable(&text, recipe, text.contains("event_loop"));
                return Some(Err((path, skipped, None)));
            };
            let model = crate::semantic::build(&tree, &text);
            let scan = scan::scan(&text, &tree, &model);
            let abs = absolute(&path);
            Some(Ok(File {
                path,
                abs,
                text,
                scan,
            }))
        })
        .collect();
    let mut files = Vec::new();
    for p in parsed {
        match p {
            Ok(f) => files.push(f),
            Err((path, Some(skipped), _)) => ws.skip_with(&path, skipped),
            Err((path, None, Some(e))) => ws.skip(&path, e),
            Err(_) => {}
        }
    }
    files.sort_by(|a, b| a.abs.cmp(&b.abs));

    let (rootdir, config_file) = rootdir_of(base);
    let (config_text, settings) = match &config_file {
        Some((p, kind)) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| UserError::new(format!("cannot read `{}`: {e}", p.display())))?;
            let s = config::read(&text, *kind);
            (Some(text), s)
        }
        None => (None, config::Settings::default()),
    };
    let evidence = settings.mode.is_some()
        || settings.fixture_loop_scope.is_some()
        || files
            .iter()
            .any(|f| f.text.contains("pytest_asyncio") || f.text.contains("mark.asyncio"));
    if !evidence {
        return Ok(());
    }
    let auto = settings.auto();

    // The `event_loop` fixture of each region: a conftest's directory, or a module.
    let mut region: HashMap<PathBuf, (usize, usize)> = HashMap::new(); // key -> (file, fixture)
    for (i, f) in files.iter().enumerate() {
        if let Some(j) = f.scan.loop_fixtures.len().checked_sub(1) {
            let key = if f.is_conftest() {
                f.abs.parent().map(Path::to_path_buf).unwrap_or_default()
            } else {
                f.abs.clone()
            };
            region.insert(key, (i, j));
        }
    }
    let governor_of = |f: &File| -> Option<(usize, usize)> {
        if let Some(g) = region.get(&f.abs) {
            return Some(*g);
        }
        f.abs
            .parent()?
            .ancestors()
            .find_map(|d| region.get(d).copied())
    };
    let governors: Vec<Option<(usize, usize)>> = files.iter().map(&governor_of).collect();

    // What keeps each plain fixture: a request it cannot rewrite.
    let mut blocked: HashMap<(usize, usize), (PathBuf, usize, String)> = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        let Some(g) = governors[i] else { continue };
        let why = f
            .scan
            .funcs
            .iter()
            .find_map(|func| {
                conversion(func, &f.scan, auto)
                    .err()
                    .map(|w| (func.line, format!("`{}` {w}", func.name)))
            })
            .or_else(|| {
                f.scan
                    .by_name
                    .first()
                    .map(|l| (*l, "requests `\"event_loop\"` by name".to_owned()))
            });
        if let Some((line, why)) = why {
            blocked.entry(g).or_insert((f.path.clone(), line, why));
        }
    }
    let removed = |g: (usize, usize)| {
        files[g.0].scan.loop_fixtures[g.1].plain.is_ok()
            && files[g.0].scan.loop_fixtures[g.1].scope != "?"
            && !blocked.contains_key(&g)
    };

    // The configuration: the rootdir's conftest fixture sets the defaults.
    let root_governor = region
        .get(&rootdir)
        .filter(|g| files[g.0].is_conftest())
        .filter(|_| rootdir.starts_with(base))
        .map(|g| files[g.0].scan.loop_fixtures[g.1].scope.clone())
        .filter(|s| s != "?");
    let mut add: Vec<(&str, String)> = Vec::new();
    if settings.fixture_loop_scope.is_none() {
        let s = root_governor.clone().unwrap_or_else(|| "function".into());
        add.push(("asyncio_default_fixture_loop_scope", s));
    }
    if settings.test_loop_scope.is_none() {
        if let Some(s) = root_governor.clone().filter(|s| s != "function") {
            add.push(("asyncio_default_test_loop_scope", s));
        }
    }
    let mut config_written = add.is_empty();
    if !add.is_empty() {
        let (target, kind, text) = match (&config_file, &config_text) {
            (Some((p, k)), Some(t)) => (p.clone(), *k, t.clone()),
            _ if rootdir.join("pyproject.toml").is_file() => {
                let p = rootdir.join("pyproject.toml");
                let t = std::fs::read_to_string(&p)
                    .map_err(|e| UserError::new(format!("cannot read `{}`: {e}", p.display())))?;
                (p, Kind::Pyproject, t)
            }
            _ => (
                rootdir.join("pytest.ini"),
                Kind::Ini("pytest"),
                String::new(),
            ),
        };
        let shown = ws_path(root, base, &target);
        let wanted = add
            .iter()
            .map(|(k, v)| format!("`{k} = {v}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        if !target.starts_with(base) {
            findings.push(finding(
                &target,
                0,
                recipe,
                Severity::Warning,
                format!(
                    "the pytest configuration is outside the given paths: add {wanted} to it (pytest-asyncio 1.x warns while `asyncio_default_fixture_loop_scope` is unset)"
                ),
            ));
        } else {
            let newline = if text.is_empty() {
                "\n"
            } else {
                crate::source::newline_of(&text)
            };
            match config::add(&text, kind, &add, newline) {
                Ok(new) => {
                    ws.write(&shown, new, recipe, add.len())
                        .map_err(UserError::new)?;
                    config_written = true;
                }
                Err(e) => findings.push(finding(
                    &shown,
                    0,
                    recipe,
                    Severity::Warning,
                    format!("cannot add {wanted}: the file {e}"),
                )),
            }
        }
    }
    let lookup = |k: &str| add.iter().find(|(a, _)| *a == k).map(|(_, v)| v.clone());
    let fixture_default = settings.fixture_loop_scope.clone().or_else(|| {
        config_written
            .then(|| lookup("asyncio_default_fixture_loop_scope"))
            .flatten()
    });
    let test_default = settings
        .test_loop_scope
        .clone()
        .or_else(|| {
            config_written
                .then(|| lookup("asyncio_default_test_loop_scope"))
                .flatten()
        })
        .unwrap_or_else(|| "function".into());
    let cx = Cx {
        recipe,
        auto,
        fixture_default_before: settings.fixture_loop_scope.is_some(),
        fixture_default,
        test_default,
    };

    for (i, f) in files.iter().enumerate() {
        let governor = governors[i].map(|g| Governor {
            scope: files[g.0].scan.loop_fixtures[g.1].scope.clone(),
        });
        let mut out = Plan::default();
        // The file's own event_loop fixtures.
        for (j, lf) in f.scan.loop_fixtures.iter().enumerate() {
            let key = (i, j);
            let governs = region.values().any(|g| *g == key);
            if governs && removed(key) {
                out.edits
                    .push(Edit::delete(lf.range.clone(), recipe.to_owned()));
                let how = if root_governor.is_some() && region.get(&rootdir) == Some(&key) {
                    "through the configuration's default loop scopes".to_owned()
                } else {
                    "through `loop_scope=` on their marks and fixtures".to_owned()
                };
                out.findings.push(finding(
                    &f.path,
                    lf.line,
                    recipe,
                    Severity::Note,
                    format!(
                        "removed the `event_loop` fixture (scope `{}`): what it governed runs in a `{}` loop {how}",
                        lf.scope, lf.scope
                    ),
                ));
            } else {
                let why = match (&lf.plain, blocked.get(&key)) {
                    _ if !governs => "another `event_loop` fixture below it in the file replaces it".to_owned(),
                    (Err(what), _) => format!(
                        "it also does {what}: pytest-asyncio 1.x no longer uses an `event_loop` fixture; move that into an `event_loop_policy` fixture or the mark's `loop_factories`"
                    ),
                    (_, Some((path, line, why))) => format!(
                        "{}:{line}: {why}; rewrite that by hand (`asyncio.get_running_loop()` in an async test)",
                        path.display()
                    ),
                    _ => "its `scope=` is not a string literal".to_owned(),
                };
                out.findings.push(finding(
                    &f.path,
                    lf.line,
                    recipe,
                    Severity::Warning,
                    format!("kept the `event_loop` fixture: {why}"),
                ));
            }
        }
        plan_file(f, governor.as_ref(), &cx, &mut out);
        if out.edits.is_empty() {
            findings.extend(out.findings);
            continue;
        }
        // Imports go in last, on the current text.
        let tree = crate::parse::parse(&f.text);
        if let Some(tree) = tree {
            let specs: Vec<ImportSpec> = out
                .imports
                .iter()
                .filter_map(|m| ImportSpec::parse(&format!("import {m}")).ok())
                .collect();
            let newline = crate::source::newline_of(&f.text);
            // First: an import at the top of the file goes before a mark or `async ` added
            // at the same offset.
            let mut edits = crate::imports::ensure(&f.text, &tree, &specs, newline, recipe);
            edits.append(&mut out.edits);
            out.edits = edits;
        }
        let count = out.edits.len();
        let (edits, conflicts) = crate::edit::resolve(out.edits);
        for c in conflicts {
            out.findings.push(finding(
                &f.path,
                crate::diag::line_col(&f.text, c.dropped.range.start).0,
                recipe,
                Severity::Warning,
                "two changes overlap here; this one was left out (run again to apply it)"
                    .to_owned(),
            ));
        }
        let new = crate::edit::apply(&f.text, &edits);
        if new != *f.text {
            ws.write(&f.path, new, recipe, count)
                .map_err(UserError::new)?;
        }
        findings.extend(out.findings);
    }
    Ok(())
}

/// The path of `abs` as the run names files (under `root` as given).
fn ws_path(root: &Path, base: &Path, abs: &Path) -> PathBuf {
    let root_dir = if root.is_dir() {
        root.to_path_buf()
    } else {
        root.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    match abs.strip_prefix(base) {
        Ok(rel) if root_dir.as_os_str().is_empty() => rel.to_path_buf(),
        Ok(rel) => crate::project_imports::normalize(&root_dir.join(rel)),
        Err(_) => abs.to_path_buf(),
    }
}

struct Cx<'a> {
    recipe: &'a str,
    auto: bool,
    fixture_default_before: bool,
    /// `asyncio_default_fixture_loop_scope` after the run (`None`: unset).
    fixture_default: Option<String>,
    test_default: String,
}

#[derive(Default)]
struct Plan {
    edits: Vec<Edit>,
    findings: Vec<Finding>,
    imports: BTreeSet<&'static str>,
}

/// What becomes of a function's `event_loop` request: `Ok(true)` it turns async,
/// `Ok(false)` nothing or the parameter only, `Err` why it cannot be rewritten.
fn conversion(f: &Func, s: &Scan, auto: bool) -> Result<bool, String> {
    if f.event_loop_param.is_none() {
        return Ok(false);
    }
    match (&f.uses, f.is_async) {
        (Uses::Other(line, what), _) => Err(format!("{what} (line {line})")),
        (Uses::None, true) => Ok(false),
        (Uses::None, false) => {
            Err("requests `event_loop` without using it (for the current loop it sets?)".into())
        }
        (Uses::RunUntilComplete(_), true) => match f.body_insert {
            Some(_) if f.asyncio_free => Ok(false),
            Some(_) => Err(taken("asyncio", "`asyncio.get_running_loop()`")),
            None => Err("uses `event_loop` in a body on the `def` line".into()),
        },
        // Becoming async needs the mark (tests) or the decorator (fixtures) in strict
        // mode: refused where the name it needs is bound to something else.
        (Uses::RunUntilComplete(_), false) if !auto && f.is_test && !s.pytest_free => {
            Err(taken("pytest", "`@pytest.mark.asyncio`"))
        }
        (Uses::RunUntilComplete(_), false)
            if !auto
                && f.fixture.as_ref().is_some_and(|d| !d.asyncio)
                && !s.pytest_asyncio_free =>
        {
            Err(taken("pytest_asyncio", "`@pytest_asyncio.fixture`"))
        }
        (Uses::RunUntilComplete(_), false) => Ok(true),
    }
}

/// Why a change is left out: it needs `what`, and `name` is bound to something else.
fn taken(name: &str, what: &str) -> String {
    format!("needs {what}, and `{name}` names something else here")
}

/// The warning for a change to `func` left out for [`taken`].
fn taken_warning(f: &File, func: &Func, recipe: &str, name: &str, what: &str) -> Finding {
    finding(
        &f.path,
        func.line,
        recipe,
        Severity::Warning,
        format!("`{}` {}: change it by hand", func.name, taken(name, what)),
    )
}

fn plan_file(f: &File, governor: Option<&Governor>, cx: &Cx<'_>, out: &mut Plan) {
    let s = &f.scan;
    let recipe = cx.recipe;
    let newline = crate::source::newline_of(&f.text);
    let mut marks_done: HashSet<usize> = HashSet::new();
    // `scope=` on asyncio marks becomes `loop_scope=`.
    for (i, m) in s.marks.iter().enumerate() {
        if m.both {
            out.findings.push(finding(
                &f.path,
                m.line,
                recipe,
                Severity::Warning,
                "this asyncio mark has both `scope=` and `loop_scope=`; pytest-asyncio refuses it: keep only `loop_scope=`".into(),
            ));
        } else if let Some((range, _)) = &m.scope_kw {
            out.edits.push(Edit::replace(
                range.clone(),
                "loop_scope",
                recipe.to_owned(),
            ));
            marks_done.insert(i);
        }
    }
    for func in &s.funcs {
        // A request is rewritten under a kept `event_loop` fixture too: an async test
        // meant the running loop, a sync one the loop its async fixtures ran in.
        let conv = conversion(func, s, cx.auto);
        let to_async = matches!(conv, Ok(true));
        if let Err(why) = &conv {
            if governor.is_none() {
                out.findings.push(finding(
                    &f.path,
                    func.line,
                    recipe,
                    Severity::Warning,
                    format!(
                        "`{}` {why}: pytest-asyncio 1.x has no `event_loop` fixture; rewrite it by hand (`asyncio.get_running_loop()` in an async test)",
                        func.name
                    ),
                ));
            }
        }
        let will_be_async = func.is_async || to_async;
        // A mark added above an undecorated `def` goes before the `async ` added to it.
        if func.is_test && will_be_async {
            plan_test_mark(
                f,
                func,
                governor,
                to_async,
                cx,
                newline,
                &mut marks_done,
                out,
            );
        }
        if conv.is_ok() {
            rewrite_request(f, func, to_async, recipe, out);
        }
        if let Some(fd) = &func.fixture {
            if !will_be_async {
                continue;
            }
            let mut asyncio_fixture = fd.asyncio || cx.auto;
            let mut redecorated = false;
            if !asyncio_fixture && (to_async || func.is_async) {
                if s.pytest_asyncio_free {
                    out.edits.push(Edit::replace(
                        fd.callee.clone(),
                        "pytest_asyncio.fixture",
                        recipe.to_owned(),
                    ));
                    out.imports.insert("pytest_asyncio");
                    asyncio_fixture = true;
                    redecorated = true;
                } else {
                    out.findings.push(taken_warning(
                        f,
                        func,
                        recipe,
                        "pytest_asyncio",
                        "`@pytest_asyncio.fixture`",
                    ));
                }
            }
            if !asyncio_fixture || fd.loop_scope.is_some() {
                continue;
            }
            let Some(own) = fd.scope.clone() else {
                continue;
            };
            let intended = match governor {
                Some(g) if rank(&g.scope) >= rank(&own) => Some(g.scope.clone()),
                Some(_) => Some(own.clone()),
                None if !cx.fixture_default_before => Some(own.clone()),
                None => None,
            };
            let effective = cx.fixture_default.clone().unwrap_or_else(|| own.clone());
            if let Some(want) = intended.filter(|w| *w != effective) {
                // `loop_scope=` is pytest_asyncio.fixture's: an auto-mode
                // `@pytest.fixture` takes that decorator to carry it.
                if !fd.asyncio && !redecorated {
                    if !s.pytest_asyncio_free {
                        out.findings.push(taken_warning(
                            f,
                            func,
                            recipe,
                            "pytest_asyncio",
                            &format!("`@pytest_asyncio.fixture(loop_scope=\"{want}\")`"),
                        ));
                        continue;
                    }
                    out.edits.push(Edit::replace(
                        fd.callee.clone(),
                        "pytest_asyncio.fixture",
                        recipe.to_owned(),
                    ));
                    out.imports.insert("pytest_asyncio");
                }
                let (at, text) = fd.slot.edit_text(&format!("loop_scope=\"{want}\""));
                out.edits.push(Edit::insert(at, text, recipe.to_owned()));
            }
        }
    }
}

/// Removes the `event_loop` parameter and rewrites its uses.
fn rewrite_request(f: &File, func: &Func, to_async: bool, recipe: &str, out: &mut Plan) {
    let Some(param) = &func.event_loop_param else {
        return;
    };
    out.edits
        .push(Edit::delete(param.clone(), recipe.to_owned()));
    match &func.uses {
        Uses::RunUntilComplete(calls) if to_async => {
            out.edits
                .push(Edit::insert(func.def_at, "async ", recipe.to_owned()));
            for (range, awaited) in calls {
                out.edits.push(Edit::replace(
                    range.clone(),
                    awaited.clone(),
                    recipe.to_owned(),
                ));
            }
        }
        Uses::RunUntilComplete(_) => {
            // An async function that reads the name: bind it to the running loop.
            if let Some((at, indent, newline_first)) = &func.body_insert {
                let nl = crate::source::newline_of(&f.text);
                let line = format!("{indent}event_loop = asyncio.get_running_loop()");
                let text = if *newline_first {
                    format!("{nl}{line}")
                } else {
                    format!("{line}{nl}")
                };
                out.edits.push(Edit::insert(*at, text, recipe.to_owned()));
                out.imports.insert("asyncio");
            }
        }
        _ => {}
    }
}

/// The loop scope of a test after the run, and the mark that gives it.
#[allow(clippy::too_many_arguments)]
fn plan_test_mark(
    f: &File,
    func: &Func,
    governor: Option<&Governor>,
    to_async: bool,
    cx: &Cx<'_>,
    newline: &str,
    marks_done: &mut HashSet<usize>,
    out: &mut Plan,
) {
    let s = &f.scan;
    let class_marks = func
        .class
        .and_then(|c| s.class_marks.get(c))
        .map(Vec::as_slice)
        .unwrap_or_default();
    // The closest mark: the function's, then its class's, then the module's.
    let closest = func
        .marks
        .first()
        .or(class_marks.first())
        .or(s.module_marks.first())
        .copied();
    let current = closest
        .and_then(|m| s.marks[m].scope())
        .map(str::to_owned)
        .unwrap_or_else(|| cx.test_default.clone());
    let need = governor
        .map(|g| g.scope.clone())
        .filter(|want| *want != current && closest.is_none_or(|m| s.marks[m].scope().is_none()));
    let marked = closest.is_some() || cx.auto;
    match (need, closest) {
        (Some(want), Some(m)) if marks_done.insert(m) => {
            let (at, text) = s.marks[m].slot.edit_text(&format!("loop_scope=\"{want}\""));
            out.edits.push(Edit::insert(at, text, cx.recipe.to_owned()));
        }
        (Some(want), None) if cx.auto || to_async => {
            add_mark(f, func, Some(&want), newline, cx.recipe, out);
        }
        (None, None) if to_async && !marked => {
            add_mark(f, func, None, newline, cx.recipe, out);
        }
        _ => {}
    }
}

fn add_mark(
    f: &File,
    func: &Func,
    scope: Option<&str>,
    newline: &str,
    recipe: &str,
    out: &mut Plan,
) {
    if !f.scan.pytest_free {
        out.findings.push(taken_warning(
            f,
            func,
            recipe,
            "pytest",
            "`@pytest.mark.asyncio`",
        ));
        return;
    }
    let args = scope.map_or(String::new(), |s| format!("(loop_scope=\"{s}\")"));
    out.edits.push(Edit::insert(
        func.stmt_line_start,
        format!("{}@pytest.mark.asyncio{args}{newline}", func.indent),
        recipe.to_owned(),
    ));
    out.imports.insert("pytest");
}
