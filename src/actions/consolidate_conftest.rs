//! `consolidate-conftest`: merges the conftest.py files of a test hierarchy into one
//! conftest.py, without changing which fixture any test gets.
//!
//! What it does: the target is the conftest.py of the lowest common directory of every
//! test file pytest collects under PATH (`python_files`, default `test_*.py`,
//! `*_test.py`; every module with `--doctest-modules`; created if missing; the `target`
//! parameter names another directory). Every conftest.py between PATH and the target, and
//! every one below the target, is merged into it: identical fixtures (comments and layout
//! aside) become one; hooks (`pytest_*` functions) become one function per hook, bodies
//! in the order pytest called them (`pytest_configure` outermost conftest first, the
//! others innermost first), a statement that appears identically in several bodies run
//! once, parameters unified; module-level imports are merged; other module code is carried
//! over in order. A conftest left empty is deleted (`keep = "disabled"`: renamed to
//! `conftest.py.disabled`).
//!
//! Verified by pytest (`verify.rs`): when a Python that can import pytest is found (the
//! `python` parameter, else `$VIRTUAL_ENV`'s, else the rootdir's `.venv`/`venv`), the
//! suite is collected in the rootdir (`pytest --collect-only` with a plugin fixer writes
//! to a temporary directory) recording, per collected item, the definition (file, line)
//! of each fixture it gets; the plan is applied to a temporary copy of the tree and
//! collected again. A conftest whose move changes any item's definitions, or the set of
//! collected items, is kept as it is and the plan made again (at most 3 rounds, then
//! nothing merges). Without such a Python the static analysis decides alone, with a
//! warning that the plan was not verified.
//!
//! What pytest collects (`collection.rs`): the rootdir's `norecursedirs`, `testpaths`,
//! `python_files`, `addopts` and the conftests' `collect_ignore*`: a conftest pytest never
//! loads takes no part (`kept: pytest does not collect ...`). A directory with its own
//! pytest configuration (a nested rootdir) is a boundary nothing merges across. Only the
//! selected files (`--include`/`--exclude`) change.
//!
//! Why: several conftests that repeat fixtures and setup hooks run that setup twice (a
//! model registry that raises "index already exists" on the second registration) and
//! leave readers guessing which `db_session` a test gets.
//!
//! Example:
//! ```text
//! backend/conftest.py            pytest_configure: register_models(); db_session
//! backend/tests/conftest.py      pytest_configure: register_models(); db_session
//! backend/tests/backtest/conftest.py   db_session (seeded), strategy
//! ```
//! becomes one `backend/tests/conftest.py` with one `pytest_configure` that registers
//! once, one `db_session` and `strategy`; `backend/conftest.py` is deleted; the backtest
//! conftest keeps only its overriding `db_session`.
//!
//! What stays, and why (each reported as a note): a fixture that overrides pytest's own
//! (`tmp_path`, ...) or a plugin's (`pytest_plugins`, installed `pytest11` entry points);
//! a fixture of the rootdir conftest when the target is below it; a conftest whose
//! fixture a module looks up by name where it is not visible (`getfixturevalue`); a
//! fixture that overrides a same-named fixture with a different body (pytest picks the
//! closest conftest, so moving it would change what some tests get); any fixture or hook whose move would change the fixture
//! chain some test resolves (checked for every test module and every name it mentions,
//! autouse fixtures included); startup hooks (`pytest_addoption`, ...) above the target;
//! per-directory hooks that would apply to other tests; hooks that return, yield, wrap or
//! bind locals another body uses; code using `__file__` or relative imports; whatever uses
//! module code that stays; `pytest_plugins` unless the target is the rootdir conftest.
//!
//! Also whole conftests stay as they are when a module imports from them
//! (`from .conftest import DATA`) or when their module code can skip or stop the
//! collection (`pytest.importorskip`); so do `collect_ignore`, code using `__name__`-like
//! module attributes, `scope="package"` fixtures, and `pytest_sessionstart`.
//!
//! Refuses: with `target` given, a fixture moved down that tests outside the target use
//! (an error naming them). A name bound differently by two conftests that would share the
//! target, or a name a moved fixture uses that means something else there, leaves the
//! conftest that brings it as it is (reported as warnings); the others still merge.

mod collection;
mod scan;
mod verify;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rayon::prelude::*;
use std::path::{Path, PathBuf};

use super::{Action, ActionArgs, ProjectAction, Selection};
use crate::diag::{Finding, Severity, UserError};
use crate::edit;
use crate::engine::Workspace;
use crate::imports::{self, ImportSpec};
use crate::select::clean;
use crate::source::newline_of;
use scan::{Hook, Item, Kind};

pub struct ConsolidateConftest {
    target: Option<String>,
    keep_disabled: bool,
    /// The Python that verifies the plan (`python` parameter).
    python: Option<String>,
}

pub fn build(mut args: ActionArgs) -> Result<Action, String> {
    let target = args.string("target")?.filter(|s| !s.trim().is_empty());
    let keep = args.string("keep")?.unwrap_or_default();
    let keep_disabled = match keep.trim() {
        "" | "delete" => false,
        "disabled" => true,
        other => {
            return Err(format!(
                "`keep` must be `delete` or `disabled`, not `{other}`"
            ))
        }
    };
    let python = args.string("python")?.filter(|s| !s.trim().is_empty());
    args.finish("consolidate-conftest")?;
    Ok(Action::Project(Box::new(ConsolidateConftest {
        target,
        keep_disabled,
        python,
    })))
}

/// Hooks pytest calls once for the whole session, whatever conftest defines them.
const GLOBAL_HOOKS: &[&str] = &[
    "pytest_configure",
    "pytest_unconfigure",
    "pytest_sessionfinish",
    "pytest_collection_modifyitems",
    "pytest_collection_finish",
    "pytest_deselected",
    "pytest_runtestloop",
    "pytest_terminal_summary",
    "pytest_report_teststatus",
    "pytest_report_collectionfinish",
    "pytest_warning_recorded",
    "pytest_keyboard_interrupt",
    "pytest_internalerror",
    "pytest_enter_pdb",
    "pytest_leave_pdb",
    "pytest_plugin_registered",
];

/// Global hooks whose merged bodies run outermost conftest first; the others run in the
/// order pytest calls them once every conftest is loaded: the innermost first.
const OUTER_FIRST_HOOKS: &[&str] = &["pytest_configure", "pytest_plugin_registered"];

/// Hooks pytest calls before it collects: only conftests it loads at startup (the rootdir's,
/// those above the test paths) get them, so they move neither up nor down.
const BEFORE_COLLECTION_HOOKS: &[&str] = &["pytest_sessionstart", "pytest_collection"];

/// Sorts conftests in the order pytest registers them: those above the PATH root
/// outermost first, then the way collection walks the directories.
fn registration_key(c: &Conftest) -> (bool, i64, Vec<String>) {
    match &c.rel {
        None => (false, c.depth, Vec::new()),
        Some(r) => (
            true,
            0,
            r.components()
                .map(|x| x.as_os_str().to_string_lossy().into_owned())
                .collect(),
        ),
    }
}

/// Hooks pytest only honours in conftests it loads at startup: they may move up, not down.
const STARTUP_HOOKS: &[&str] = &[
    "pytest_addoption",
    "pytest_addhooks",
    "pytest_report_header",
    "pytest_cmdline_main",
    "pytest_cmdline_parse",
    "pytest_cmdline_preparse",
    "pytest_load_initial_conftests",
];

/// Hooks pytest calls per test item, only from the conftests above the item.
const ITEM_HOOKS: &[&str] = &[
    "pytest_pycollect_makeitem",
    "pytest_generate_tests",
    "pytest_make_parametrize_id",
    "pytest_itemcollected",
    "pytest_runtest_protocol",
    "pytest_runtest_logstart",
    "pytest_runtest_logfinish",
    "pytest_runtest_setup",
    "pytest_runtest_call",
    "pytest_runtest_teardown",
    "pytest_runtest_makereport",
    "pytest_runtest_logreport",
    "pytest_pyfunc_call",
    "pytest_fixture_setup",
    "pytest_fixture_post_finalizer",
    "pytest_assertrepr_compare",
    "pytest_assertion_pass",
    "pytest_exception_interact",
    "pytest_markeval_namespace",
];

/// Module attributes that differ from one conftest to another.
const MODULE_DUNDERS: &[&str] = &[
    "__file__",
    "__name__",
    "__package__",
    "__spec__",
    "__path__",
    "__loader__",
    "__cached__",
];

#[derive(Debug, Clone)]
struct Conftest {
    /// The path for the workspace and for findings.
    path: PathBuf,
    /// Its directory relative to the PATH root; `None` above the root (read only).
    rel: Option<PathBuf>,
    depth: i64,
    /// Its directory, absolute.
    dir_abs: PathBuf,
    text: String,
    exists: bool,
    items: Vec<Item>,
    frozen: Option<String>,
    future: BTreeSet<ImportSpec>,
    merged: bool,
}

impl Conftest {
    fn fixture(&self, i: usize) -> Option<&scan::Fixture> {
        match &self.items[i].kind {
            Kind::Fixture(f) => Some(f),
            _ => None,
        }
    }

    fn hook(&self, i: usize) -> Option<&Hook> {
        match &self.items[i].kind {
            Kind::Hook(h) => Some(h),
            _ => None,
        }
    }

    /// Binding keys of a module-level name: what it is bound to.
    fn bindings(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for it in &self.items {
            if !it.binds.contains(name) {
                continue;
            }
            match &it.kind {
                Kind::Import(specs) => out.extend(
                    specs
                        .iter()
                        .filter(|s| s.bound_name() == name)
                        .map(spec_key),
                ),
                Kind::Hook(h) => {
                    out.insert(format!("hook {}", h.name));
                }
                _ => {
                    out.insert(it.key.clone());
                }
            }
        }
        out
    }
}

/// What an import binds its name to: `import a.b` and `import a.c` both bind `a`.
fn spec_key(spec: &ImportSpec) -> String {
    match spec {
        ImportSpec::Import {
            module,
            alias: None,
        } => format!("import {}", module.split('.').next().unwrap_or(module)),
        ImportSpec::Import {
            module,
            alias: Some(_),
        } => format!("import {module}"),
        ImportSpec::From { module, name, .. } => format!("from {module} import {name}"),
    }
}

struct TestFile {
    path: PathBuf,
    dir: PathBuf,
    /// Counts for the lowest common directory (not under a nested rootdir).
    counts: bool,
    /// Names it may request, directly or through fixtures, plus every autouse name.
    relevant: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Fate {
    /// Goes to the target (a hook: into the merged hook).
    Move,
    /// Identical to the fixture kept in the target (conftest index): removed.
    Same(usize),
    Stay(String),
}

#[derive(Default)]
struct Plan {
    target: usize,
    fates: BTreeMap<(usize, usize), Fate>,
    /// Hook name -> its definitions merged into the target, in the order pytest called them.
    hook_groups: BTreeMap<String, Vec<(usize, usize)>>,
    /// Hook name -> statements that ran in several bodies and now run once.
    hook_dropped: BTreeMap<String, Vec<String>>,
    /// Fixture name -> tests outside the target that would lose it.
    lost: BTreeMap<String, BTreeSet<PathBuf>>,
    emptied: BTreeSet<usize>,
    sources: Vec<usize>,
    target_is_rootdir: bool,
}

impl ProjectAction for ConsolidateConftest {
    fn run(&self, ws: &Workspace, recipe: &str) -> Result<Vec<Finding>, UserError> {
        self.run_in(ws, recipe, None)
    }

    fn run_selected(
        &self,
        ws: &Workspace,
        recipe: &str,
        selection: &Selection<'_>,
    ) -> Result<Vec<Finding>, UserError> {
        self.run_in(ws, recipe, Some(&selection.files(ws)))
    }
}

impl ConsolidateConftest {
    fn run_in(
        &self,
        ws: &Workspace,
        recipe: &str,
        selected: Option<&HashSet<PathBuf>>,
    ) -> Result<Vec<Finding>, UserError> {
        let roots: Vec<PathBuf> = ws
            .roots
            .iter()
            .map(|r| clean(r))
            .filter(|r| r.is_dir())
            .collect();
        if self.target.is_some() && roots.len() != 1 {
            return Err(UserError::new(
                "parameter `target` needs exactly one directory to consolidate",
            )
            .help("give one PATH, e.g. `fixer apply consolidate-conftest backend --set target=backend/tests`"));
        }
        let mut findings = Vec::new();
        for root in roots {
            self.run_root(ws, recipe, &root, selected, &mut findings)?;
        }
        Ok(findings)
    }
}

/// `path` relative to `root` (both as the walk gives them), if it is under it.
fn rel_to(path: &Path, root: &Path) -> Option<PathBuf> {
    if root == Path::new(".") {
        return (path.is_relative()
            && !path
                .components()
                .any(|c| c == std::path::Component::ParentDir))
        .then(|| path.to_path_buf());
    }
    path.strip_prefix(root).ok().map(Path::to_path_buf)
}

fn ws_path(root: &Path, rel: &Path) -> PathBuf {
    clean(&root.join(rel))
}

fn shown(root: &Path, rel: &Path) -> String {
    ws_path(root, rel).display().to_string()
}

/// pytest's rootdir, approximately: the nearest directory at or above `dir` with a pytest
/// configuration, else with `setup.py`/`pyproject.toml`, else the current directory.
fn find_rootdir(dir: &Path, cwd: &Path) -> PathBuf {
    let has = |d: &Path, f: &str, section: Option<&str>| {
        let p = d.join(f);
        p.is_file()
            && section.is_none_or(|s| std::fs::read_to_string(&p).is_ok_and(|t| t.contains(s)))
    };
    for d in dir.ancestors() {
        if collection::config_of(d).is_some() {
            return d.to_path_buf();
        }
    }
    for d in dir.ancestors() {
        if has(d, "setup.py", None) || has(d, "pyproject.toml", None) {
            return d.to_path_buf();
        }
    }
    if dir.starts_with(cwd) {
        cwd.to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

fn note(path: &Path, line: usize, recipe: &str, message: String) -> Finding {
    Finding {
        path: path.to_path_buf(),
        line,
        column: if line == 0 { 0 } else { 1 },
        recipe: recipe.to_owned(),
        severity: Severity::Note,
        message,
    }
}

/// A warning about a whole root (the plan as pytest saw it).
fn warning(path: &Path, recipe: &str, message: String) -> Finding {
    Finding {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        recipe: recipe.to_owned(),
        severity: Severity::Warning,
        message,
    }
}

impl ConsolidateConftest {
    fn run_root(
        &self,
        ws: &Workspace,
        recipe: &str,
        root: &Path,
        selected: Option<&HashSet<PathBuf>>,
        findings: &mut Vec<Finding>,
    ) -> Result<(), UserError> {
        let files: Vec<(PathBuf, PathBuf)> = ws
            .python_files()
            .into_iter()
            .filter_map(|p| rel_to(&p, root).map(|r| (p, r)))
            .collect();
        let cwd = std::env::current_dir()
            .and_then(|d| d.canonicalize())
            .map_err(|e| UserError::new(format!("cannot read the current directory: {e}")))?;
        let root_abs = root
            .canonicalize()
            .map_err(|e| UserError::new(format!("cannot resolve `{}`: {e}", root.display())))?;
        let rootdir = find_rootdir(&root_abs, &cwd);
        let config = collection::config_of(&rootdir).unwrap_or_default();
        // A path under the PATH root, relative to the rootdir.
        let from_rootdir = |rel: &Path| -> Option<PathBuf> {
            root_abs
                .join(rel)
                .strip_prefix(&rootdir)
                .ok()
                .map(Path::to_path_buf)
        };

        // Every conftest that decides what a test under the root gets.
        let mut conftests: Vec<Conftest> = Vec::new();
        let mut unreadable: Vec<(PathBuf, String)> = Vec::new();
        let mut load = |path: PathBuf, rel: Option<PathBuf>, depth: i64, dir_abs: PathBuf| match ws
            .read(&path)
        {
            Ok(Some(text)) => match scan::scan(&text) {
                Some(s) => conftests.push(Conftest {
                    path,
                    rel,
                    depth,
                    dir_abs,
                    text: text.to_string(),
                    exists: true,
                    frozen: s.frozen.or_else(|| duplicate_names(&s.items)),
                    items: s.items,
                    future: s.future,
                    merged: false,
                }),
                None => unreadable.push((path, "it does not parse".into())),
            },
            Ok(None) => {}
            Err(e) => unreadable.push((path, e)),
        };
        for (k, d) in root_abs.ancestors().skip(1).enumerate() {
            if !d.starts_with(&rootdir) {
                break;
            }
            let p = d.join("conftest.py");
            if p.is_file() {
                let shown = p.strip_prefix(&cwd).map_or(p.clone(), Path::to_path_buf);
                load(shown, None, -(k as i64) - 1, d.to_path_buf());
            }
        }
        for (p, r) in &files {
            if r.file_name().is_some_and(|n| n == "conftest.py") {
                let dir = r.parent().map(Path::to_path_buf).unwrap_or_default();
                let depth = dir.components().count() as i64;
                load(p.clone(), Some(dir.clone()), depth, root_abs.join(&dir));
            }
        }
        if !unreadable.is_empty() {
            for (p, why) in unreadable {
                findings.push(Finding {
                    path: p,
                    line: 0,
                    column: 0,
                    recipe: recipe.to_owned(),
                    severity: Severity::Warning,
                    message: format!("{why}; no conftest was merged"),
                });
            }
            return Ok(());
        }

        // What pytest collects: a conftest it never loads takes no part, nor do the tests
        // it never collects.
        let mut ignores: Vec<(PathBuf, String, bool)> = Vec::new();
        for c in &conftests {
            if let Ok(d) = c.dir_abs.strip_prefix(&rootdir) {
                for (entry, glob) in collection::collect_ignores(&c.text) {
                    ignores.push((d.to_path_buf(), entry, glob));
                }
            }
        }
        conftests.retain(|c| {
            let why = c
                .dir_abs
                .strip_prefix(&rootdir)
                .ok()
                .and_then(|d| collection::uncollected_dir(d, &config, &ignores));
            match why {
                Some(why) => {
                    findings.push(note(&c.path, 0, recipe, format!("kept: {why}")));
                    false
                }
                None => true,
            }
        });
        let tests: Vec<&(PathBuf, PathBuf)> = files
            .iter()
            .filter(|(_, r)| {
                let name = r.file_name().and_then(|n| n.to_str()).unwrap_or("");
                from_rootdir(r).is_some_and(|f| {
                    let test = config.is_test_file(&f)
                        || (config.doctest_modules && name != "conftest.py" && name != "setup.py");
                    let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
                    test && collection::uncollected_dir(&dir, &config, &ignores).is_none()
                        && collection::ignored(&f, &ignores).is_none()
                        && config.ignored_by_addopts(&f).is_none()
                        && collection::in_testpaths(&dir, &config)
                })
            })
            .collect();
        if tests.is_empty() {
            findings.push(note(
                root,
                0,
                recipe,
                format!(
                    "no test files ({}) that pytest collects under {}: nothing to consolidate",
                    if config.python_files.is_empty() {
                        "test_*.py, *_test.py".to_owned()
                    } else {
                        config.python_files.join(", ")
                    },
                    root.display()
                ),
            ));
            return Ok(());
        }

        // Directories below the rootdir with a pytest configuration of their own.
        let mut boundaries: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
        {
            let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
            for (_, r) in &files {
                for d in r.ancestors().skip(1) {
                    if d.as_os_str().is_empty() || !seen.insert(d.to_path_buf()) {
                        continue;
                    }
                    if let Some(file) =
                        collection::config_of(&root_abs.join(d)).and_then(|c| c.file)
                    {
                        boundaries.insert(d.to_path_buf(), file);
                    }
                }
            }
        }
        let side = |rel: &Path| -> Option<PathBuf> {
            rel.ancestors()
                .find(|a| boundaries.contains_key(*a))
                .map(Path::to_path_buf)
        };

        // Nothing that could merge (no conftest, or just the one at the tests' lowest
        // common directory, and no `target`): done before reading the tests.
        if self.target.is_none() {
            let mut dirs = tests
                .iter()
                .map(|(_, r)| r.parent().map(Path::to_path_buf).unwrap_or_default());
            let first = dirs.next().unwrap_or_default();
            let common: PathBuf = dirs.fold(first, |acc, d| {
                acc.components()
                    .zip(d.components())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect()
            });
            match conftests.as_slice() {
                [] => return Ok(()),
                [only] if only.rel.as_ref() == Some(&common) => return Ok(()),
                _ => {}
            }
        }
        // A conftest that other code imports stays where it is. (This reads every file
        // of the project: only once something could merge.)
        freeze_imported(ws, &mut conftests);
        // A conftest outside the selection (`--include`/`--exclude`) is not changed.
        if let Some(sel) = selected {
            for c in conftests.iter_mut().filter(|c| c.rel.is_some()) {
                if c.frozen.is_none() && !sel.contains(&c.path) {
                    c.frozen = Some(
                        "it is not among the selected files (--include/--exclude); it is left as it is"
                            .to_owned(),
                    );
                }
            }
        }

        // The tests, and every name each may request.
        let mut all_autouse = BTreeSet::new();
        let mut deps_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for c in &conftests {
            for it in &c.items {
                if let Kind::Fixture(f) = &it.kind {
                    if f.autouse {
                        all_autouse.insert(f.name.clone());
                    }
                    deps_of
                        .entry(f.name.clone())
                        .or_default()
                        .extend(f.deps.iter().cloned());
                }
            }
        }
        // Only whether a test names a fixture is asked below: a test that names none as
        // a whole word is not parsed. Read on all cores; in the walk's order.
        // (Only the names of the conftests' fixtures: a name another fixture requests
        // joins a test's names through that fixture, whatever the test's text.)
        let fixtures: Vec<&str> = deps_of.keys().map(String::as_str).collect();
        let named = aho_corasick::AhoCorasick::new(&fixtures).ok();
        type Mentions<'a> = (&'a PathBuf, &'a PathBuf, BTreeSet<String>, Vec<String>);
        let mentions: Vec<Mentions> = tests
            .par_iter()
            .filter_map(|(p, r)| {
                let text = ws.read(p).ok().flatten()?;
                let names_one = named.as_ref().is_none_or(|ac| super::names_word(ac, &text));
                let mentions = match names_one && !fixtures.is_empty() {
                    true => scan::mentions(&text).unwrap_or_default(),
                    false => BTreeSet::new(),
                };
                Some((p, r, mentions, lookups(&text)))
            })
            .collect();
        let mut test_files = Vec::new();
        // (the directory of a file, relative to the root; a fixture name it looks up).
        let mut looked_up: Vec<(PathBuf, PathBuf, String)> = Vec::new();
        for c in &conftests {
            if let Some(r) = &c.rel {
                for n in lookups(&c.text) {
                    looked_up.push((c.path.clone(), r.clone(), n));
                }
            }
        }
        for (p, r, mut relevant, names) in mentions {
            let dir = r.parent().map(Path::to_path_buf).unwrap_or_default();
            for n in names {
                looked_up.push((p.clone(), dir.clone(), n));
            }
            relevant.extend(all_autouse.iter().cloned());
            let mut todo: Vec<String> = relevant.iter().cloned().collect();
            while let Some(n) = todo.pop() {
                if let Some(deps) = deps_of.get(&n) {
                    for d in deps {
                        if relevant.insert(d.clone()) {
                            todo.push(d.clone());
                        }
                    }
                }
            }
            test_files.push(TestFile {
                path: p.clone(),
                counts: side(&dir).is_none(),
                dir,
                relevant,
            });
        }
        if !test_files.iter().any(|t| t.counts) {
            for t in &mut test_files {
                t.counts = true;
            }
        }
        // A fixture looked up by name (`request.getfixturevalue("x")`) where it is not
        // visible now: the lookup tests visibility, and a move could make it succeed.
        for (file, dir, name) in &looked_up {
            for c in conftests.iter_mut() {
                let Some(r) = &c.rel else { continue };
                if c.frozen.is_some() || under(dir, r) {
                    continue;
                }
                let defines = c
                    .items
                    .iter()
                    .any(|it| matches!(&it.kind, Kind::Fixture(f) if &f.name == name));
                if defines {
                    c.frozen = Some(format!(
                        "{} looks `{name}` up by name (getfixturevalue), which it does not see now; it is left as it is",
                        file.display()
                    ));
                }
            }
        }

        // Fixtures pytest itself or a plugin defines: a conftest fixture of that name
        // overrides it for the tests below, and stays there.
        // A path with a directory in it is taken from the current directory (not made
        // canonical: a virtualenv's python is a link, and must stay the venv's).
        // `python=none`: no Python is asked (no verification, no installed plugins).
        let no_python = self.python.as_deref().map(str::trim) == Some("none");
        let mut python = self.python.as_ref().filter(|_| !no_python).map(|p| {
            let p = PathBuf::from(p.trim());
            if p.is_relative() && p.components().count() > 1 {
                cwd.join(p)
            } else {
                p
            }
        });
        if python.is_none() && !no_python {
            python = std::env::var_os("VIRTUAL_ENV")
                .map(|v| venv_python(Path::new(&v)))
                .filter(|p| p.is_file());
        }
        if python.is_none() && !no_python {
            python = [".venv", "venv"]
                .iter()
                .map(|n| venv_python(&rootdir.join(n)))
                .find(|p| p.is_file());
        }
        // Plugins named in `pytest_plugins` (or by those) that fixer cannot read.
        let unread_plugins: Vec<String>;
        let mut external: BTreeMap<String, String> = collection::BUILTIN_FIXTURES
            .iter()
            .map(|n| ((*n).to_owned(), "pytest".to_owned()))
            .collect();
        {
            let mut modules: Vec<String> = Vec::new();
            for c in &conftests {
                for it in &c.items {
                    if let Kind::Plugins(Some(v)) = &it.kind {
                        modules.extend(v.iter().cloned());
                    }
                }
            }
            let mut dirs = vec![rootdir.clone(), rootdir.join("src"), root_abs.clone()];
            let mut sites = Vec::new();
            if let Some(env) = python
                .as_deref()
                .and_then(Path::parent)
                .and_then(Path::parent)
            {
                sites = crate::project::site_packages(env);
            }
            dirs.extend(sites.iter().cloned());
            let mut installed = collection::installed_plugins(&sites);
            installed.retain(|m| !modules.contains(m));
            let (listed, unread) = collection::plugin_fixtures(&modules, &dirs);
            for (n, p) in listed {
                external
                    .entry(n)
                    .or_insert(format!("plugin `{p}` (pytest_plugins)"));
            }
            unread_plugins = unread;
            for (n, p) in collection::plugin_fixtures(&installed, &dirs).0 {
                external
                    .entry(n)
                    .or_insert(format!("installed plugin `{p}`"));
            }
        }

        // The target: the lowest common directory of the tests, or `target`.
        let explicit = match &self.target {
            None => None,
            Some(t) => {
                let p = clean(Path::new(t.trim()));
                let dir = if p.file_name().is_some_and(|n| n == "conftest.py") {
                    p.parent()
                        .map(Path::to_path_buf)
                        .filter(|d| !d.as_os_str().is_empty())
                        .unwrap_or_else(|| PathBuf::from("."))
                } else {
                    p
                };
                let rel = rel_to(&dir, root).ok_or_else(|| {
                    UserError::new(format!(
                        "parameter `target`: `{t}` is not inside `{}`",
                        root.display()
                    ))
                    .help("give a directory under PATH (or PATH itself)")
                })?;
                if !ws_path(root, &rel).is_dir() {
                    return Err(UserError::new(format!(
                        "parameter `target`: `{t}` is not a directory"
                    ))
                    .help("give an existing directory, or its conftest.py"));
                }
                Some(rel)
            }
        };
        let first_target = explicit.clone().unwrap_or_else(|| {
            let mut dirs = test_files
                .iter()
                .filter(|t| t.counts)
                .map(|t| t.dir.clone());
            let first = dirs.next().unwrap_or_default();
            dirs.fold(first, |acc, d| {
                acc.components()
                    .zip(d.components())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect()
            })
        });
        if let Some(why) = from_rootdir(&first_target)
            .and_then(|d| collection::uncollected_dir(&d, &config, &ignores))
        {
            findings.push(note(
                root,
                0,
                recipe,
                format!("nothing merged: {why}, and it holds the target"),
            ));
            return Ok(());
        }
        let target_path = ws_path(root, &first_target.join("conftest.py"));
        if let Some(sel) = selected {
            let walked = ws.files.iter().any(|f| f.path() == target_path);
            if walked && !sel.contains(&target_path) {
                findings.push(note(
                    &target_path,
                    0,
                    recipe,
                    "nothing merged: the target is not among the selected files (--include/--exclude)".to_owned(),
                ));
                return Ok(());
            }
        }
        let ctx = Ctx {
            rootdir: rootdir.clone(),
            root_abs: root_abs.clone(),
            boundaries: boundaries.clone(),
            external,
            unread_plugins,
        };

        // The plan, checked by pytest when a Python with pytest is at hand: a conftest
        // whose move changes what some item gets is kept as it is, and the plan made again.
        // Whether it can import pytest is asked once something is to be verified.
        let mut python_ok: Option<Result<PathBuf, String>> = None;
        let mut baseline: Option<Result<verify::Collected, String>> = None;
        let collect_args: Vec<String> = match root_abs.strip_prefix(&rootdir) {
            Ok(r) if r.as_os_str().is_empty() => Vec::new(),
            Ok(r) => vec![r.display().to_string()],
            Err(_) => vec![root_abs.display().to_string()],
        };
        let mut round = 0;
        loop {
            let mut out = Vec::new();
            let mut round_findings = Vec::new();
            let result = self.attempt(
                ws,
                recipe,
                root,
                &mut conftests.clone(),
                &test_files,
                &first_target,
                explicit.is_some(),
                &ctx,
                &mut round_findings,
                &mut out,
            )?;
            let Some((plan, cs)) = result.filter(|_| !out.is_empty()) else {
                findings.extend(round_findings);
                return Ok(());
            };
            let checked = python_ok.get_or_insert_with(|| match &python {
                None if no_python => Err("python=none".to_owned()),
                None => Err("no Python with pytest found".to_owned()),
                Some(p) if verify::has_pytest(p) => Ok(p.clone()),
                Some(p) => Err(format!("`{}` cannot import pytest", p.display())),
            });
            let python = match checked {
                Ok(p) => p.clone(),
                Err(why) => {
                    round_findings.push(warning(
                        root,
                        recipe,
                        format!(
                            "the plan was not verified by pytest ({why}; help: --set python=PATH)"
                        ),
                    ));
                    findings.extend(round_findings);
                    return commit(ws, recipe, out);
                }
            };
            let python = &python;
            let before = baseline.get_or_insert_with(|| {
                verify::collect(python, &rootdir, &collect_args).and_then(|c| {
                    if c.items.is_empty() {
                        Err("`pytest --collect-only` collected no items".to_owned())
                    } else {
                        Ok(c)
                    }
                })
            });
            let before = match before {
                Ok(b) => b,
                Err(why) => {
                    round_findings.push(warning(
                        root,
                        recipe,
                        format!(
                            "the plan was not verified by pytest: {why} (in {}, with {})",
                            display_abs(&rootdir),
                            python.display()
                        ),
                    ));
                    findings.extend(round_findings);
                    return commit(ws, recipe, out);
                }
            };
            let check = check_plan(
                python,
                &rootdir,
                &cwd,
                &collect_args,
                before,
                &conftests,
                &cs,
                &plan,
                &out,
            );
            let blamed = match check {
                Ok(b) => b,
                Err(why) => {
                    round_findings.push(warning(
                        root,
                        recipe,
                        format!("the plan was not verified by pytest: {why}"),
                    ));
                    findings.extend(round_findings);
                    return commit(ws, recipe, out);
                }
            };
            if blamed.is_empty() {
                round_findings.push(note(
                    root,
                    0,
                    recipe,
                    format!(
                        "verified by pytest: the {} items it collects get the same fixtures after the merge",
                        before.items.len()
                    ),
                ));
                findings.extend(round_findings);
                return commit(ws, recipe, out);
            }
            round += 1;
            if round >= 3 {
                findings.push(warning(root, recipe, "the merge still changed what pytest collects after 3 rounds of keeping conftests out; nothing was merged".to_owned()));
                return Ok(());
            }
            let mut progress = false;
            for (k, why) in blamed {
                if k < conftests.len() && conftests[k].frozen.is_none() {
                    conftests[k].frozen = Some(format!("{why}; it is left as it is"));
                    progress = true;
                }
            }
            if !progress {
                findings.push(warning(root, recipe, "the merge changed what pytest collects, and no conftest to keep out explains it; nothing was merged".to_owned()));
                return Ok(());
            }
        }
    }

    /// One plan, assembled into `out` (nothing written to the workspace); the plan and
    /// its conftests when something merges.
    #[allow(clippy::too_many_arguments)]
    fn attempt(
        &self,
        ws: &Workspace,
        recipe: &str,
        root: &Path,
        conftests: &mut [Conftest],
        test_files: &[TestFile],
        first_target: &Path,
        explicit: bool,
        ctx: &Ctx,
        findings: &mut Vec<Finding>,
        out: &mut Vec<Write>,
    ) -> Result<Option<(Plan, Vec<Conftest>)>, UserError> {
        // A clash freezes the conftests that bring it, and the plan starts again.
        let mut clash_notes: Vec<(PathBuf, usize, String)> = Vec::new();
        let mut result = None;
        loop {
            let mut target_rel = first_target.to_path_buf();
            let (plan, cs) = loop {
                let mut cs = conftests.to_vec();
                let plan = plan(&mut cs, test_files, root, &target_rel, ctx);
                if !plan.lost.is_empty() {
                    if explicit {
                        let list: Vec<String> = plan
                            .lost
                            .iter()
                            .map(|(n, ts)| {
                                let ts: Vec<String> =
                                    ts.iter().map(|t| t.display().to_string()).collect();
                                format!("`{n}` ({})", ts.join(", "))
                            })
                            .collect();
                        return Err(UserError::new(format!(
                            "consolidate-conftest: moving fixtures down to {} would hide them from tests outside it that use them: {}",
                            ws_path(root, &target_rel.join("conftest.py")).display(),
                            list.join("; ")
                        ))
                        .help("choose a `target` that contains these tests, or leave `target` empty to choose automatically"));
                    }
                    if let Some(parent) = target_rel.parent() {
                        target_rel = parent.to_path_buf();
                        continue;
                    }
                }
                break (plan, cs);
            };
            if plan.sources.is_empty() {
                break;
            }
            let Some(clashes) = self.assemble(
                ws,
                recipe,
                root,
                &target_rel,
                &cs,
                &plan,
                explicit,
                findings,
                out,
            )?
            else {
                result = Some((plan, cs));
                break;
            };
            let mut progress = false;
            for &k in &clashes.blamed {
                if k < conftests.len() && conftests[k].frozen.is_none() {
                    conftests[k].frozen = Some(format!(
                        "a name it brings means something else in {}; it is left as it is",
                        cs[plan.target].path.display()
                    ));
                    progress = true;
                }
            }
            let stuck = !progress;
            for (path, line, message) in clashes.messages {
                let message = if stuck {
                    format!("{message}; no conftest was merged")
                } else {
                    message
                };
                if !clash_notes.iter().any(|c| c.0 == path && c.2 == message) {
                    clash_notes.push((path, line, message));
                }
            }
            if stuck {
                break;
            }
        }
        for (path, line, message) in clash_notes {
            findings.push(Finding {
                path,
                line,
                column: if line == 0 { 0 } else { 1 },
                recipe: recipe.to_owned(),
                severity: Severity::Warning,
                message,
            });
        }
        Ok(result)
    }
}

/// Names the merge would give two meanings: nothing was written.
struct Clashes {
    /// The sources that bring the second meaning.
    blamed: Vec<usize>,
    messages: Vec<(PathBuf, usize, String)>,
}

/// A conftest that some module imports (`from .conftest import CONSTANT`) is left as it
/// is: what that module imports must stay where it is.
fn freeze_imported(ws: &Workspace, conftests: &mut [Conftest]) {
    let canon: Vec<Option<PathBuf>> = conftests
        .iter()
        .map(|c| c.path.canonicalize().ok())
        .collect();
    // Every file that imports a conftest, read on all cores (most name none).
    let importers: Vec<(PathBuf, PathBuf, Vec<String>)> = ws
        .python_files()
        .into_par_iter()
        .filter_map(|file| {
            let text = ws.read(&file).ok().flatten()?;
            if !text.contains("conftest") {
                return None;
            }
            let from = file.canonicalize().ok()?;
            let imports = scan::conftest_imports(&text);
            (!imports.is_empty()).then_some((file, from, imports))
        })
        .collect();
    for (file, from, imports) in importers {
        for m in imports {
            let dots = m.chars().take_while(|&c| c == '.').count();
            let parts: Vec<&str> = m[dots..].split('.').filter(|p| !p.is_empty()).collect();
            let Some((last, dirs)) = parts.split_last() else {
                continue;
            };
            let file_name = format!("{last}.py");
            let hits = |c: &Path| -> bool {
                if dots > 0 {
                    let mut base = from.parent().map(Path::to_path_buf).unwrap_or_default();
                    for _ in 1..dots {
                        base = base.parent().map(Path::to_path_buf).unwrap_or_default();
                    }
                    let mut want = base;
                    want.extend(dirs.iter());
                    return want.join(&file_name) == c;
                }
                let mut suffix: PathBuf = dirs.iter().collect();
                suffix.push(&file_name);
                c.ends_with(&suffix)
                    && (!dirs.is_empty() || c.parent().is_some_and(|d| from.starts_with(d)))
            };
            for (k, c) in canon.iter().enumerate() {
                if c.as_deref().is_some_and(hits) && conftests[k].frozen.is_none() {
                    conftests[k].frozen = Some(format!(
                        "{} imports from it (`{m}`); it is left as it is",
                        file.display()
                    ));
                }
            }
        }
    }
}

/// A conftest that defines one fixture or function name twice is left as it is.
fn duplicate_names(items: &[Item]) -> Option<String> {
    let mut seen = BTreeSet::new();
    for it in items {
        let name = match &it.kind {
            Kind::Fixture(f) => format!("fixture `{}`", f.name),
            Kind::Hook(h) => format!("`{}`", h.name),
            _ => continue,
        };
        if !seen.insert(name.clone()) {
            return Some(format!("it defines {name} twice; it is left as it is"));
        }
    }
    None
}

fn under(dir: &Path, base: &Path) -> bool {
    dir.starts_with(base)
}

/// What the plan needs to know of the project besides its conftests and tests.
struct Ctx {
    rootdir: PathBuf,
    root_abs: PathBuf,
    /// Nested rootdirs (relative to the PATH root) -> their pytest configuration file.
    boundaries: BTreeMap<PathBuf, PathBuf>,
    /// Fixture names pytest or a plugin defines -> who defines them.
    external: BTreeMap<String, String>,
    /// `pytest_plugins` modules fixer cannot read: any fixture name may be theirs.
    unread_plugins: Vec<String>,
}

impl Ctx {
    /// The nested rootdir a directory (relative to the PATH root) is in, if any.
    fn side<'a>(&self, rel: &'a Path) -> Option<&'a Path> {
        rel.ancestors().find(|a| self.boundaries.contains_key(*a))
    }
}

/// What a run writes, kept until the plan is verified.
#[derive(Debug, Clone)]
enum Write {
    /// (path, text, edits)
    Text(PathBuf, String, usize),
    Delete(PathBuf),
}

fn commit(ws: &Workspace, recipe: &str, out: Vec<Write>) -> Result<(), UserError> {
    for w in out {
        match w {
            Write::Text(p, t, n) => ws
                .write(&p, t, recipe, n)
                .map_err(|e| UserError::new(format!("{}: {e}", p.display())))?,
            Write::Delete(p) => ws.delete(&p, recipe).map_err(UserError::new)?,
        }
    }
    Ok(())
}

/// Does a module-level statement (its normalized tokens) do something when run, beyond
/// defining a function, a class or a name: a call, or an assignment to an item or
/// attribute?
fn side_effect(key: &str) -> bool {
    if ["def ", "async ", "class ", "@ ", "import ", "from "]
        .iter()
        .any(|p| key.starts_with(p))
    {
        return false;
    }
    let target = key.split(" = ").next().unwrap_or(key);
    key.contains(" (")
        || (key.contains(" = ") && (target.contains(" [ ") || target.contains(" . ")))
}

/// The Python of a virtualenv.
fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// The fixture names a module looks up by string: `getfixturevalue("x")`.
fn lookups(text: &str) -> Vec<String> {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let Some(re) = RE.get_or_init(|| {
        regex::Regex::new(r#"getfixture(?:value)?\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']"#).ok()
    }) else {
        return Vec::new();
    };
    if !text.contains("getfixture") {
        return Vec::new();
    }
    re.captures_iter(text)
        .filter_map(|c| c.get(1).map(|m| m.as_str().to_owned()))
        .collect()
}

fn plan(
    cs: &mut Vec<Conftest>,
    tests: &[TestFile],
    root: &Path,
    target_rel: &Path,
    ctx: &Ctx,
) -> Plan {
    let (rootdir, root_abs) = (ctx.rootdir.as_path(), ctx.root_abs.as_path());
    // Which conftests merge: those on the way from the root down to the target, and all
    // below it.
    for c in cs.iter_mut() {
        c.merged = c
            .rel
            .as_deref()
            .is_some_and(|r| under(target_rel, r) || under(r, target_rel));
    }
    let target = match cs.iter().position(|c| c.rel.as_deref() == Some(target_rel)) {
        Some(t) => t,
        None => {
            cs.push(Conftest {
                path: ws_path(root, &target_rel.join("conftest.py")),
                rel: Some(target_rel.to_path_buf()),
                depth: target_rel.components().count() as i64,
                dir_abs: root_abs.join(target_rel),
                text: String::new(),
                exists: false,
                items: Vec::new(),
                frozen: None,
                future: BTreeSet::new(),
                merged: true,
            });
            cs.len() - 1
        }
    };
    let mut sources: Vec<usize> = (0..cs.len())
        .filter(|&i| cs[i].merged && i != target)
        .collect();
    sources.sort_by(|&a, &b| (cs[a].depth, &cs[a].path).cmp(&(cs[b].depth, &cs[b].path)));
    let mut plan = Plan {
        target,
        sources: sources.clone(),
        target_is_rootdir: root_abs.join(target_rel) == rootdir,
        ..Plan::default()
    };
    if sources.is_empty() {
        return plan;
    }
    // `from __future__` imports change how the moved code compiles: they must agree.
    let target_future = if cs[target].exists {
        cs[target].future.clone()
    } else {
        cs[sources[0]].future.clone()
    };
    let target_shown = cs[target].path.display().to_string();
    for &s in &sources {
        if cs[s].frozen.is_none() && cs[s].future != target_future {
            cs[s].frozen = Some(format!(
                "its `from __future__` imports differ from those of {target_shown}"
            ));
        }
    }
    // Nothing merges across a nested rootdir.
    let target_side = ctx.side(target_rel).map(Path::to_path_buf);
    for &s in &sources {
        let Some(rel) = cs[s].rel.clone() else {
            continue;
        };
        let side = ctx.side(&rel).map(Path::to_path_buf);
        if cs[s].frozen.is_none() && side != target_side {
            let (dir, file) = match (&side, &target_side) {
                (Some(d), _) | (None, Some(d)) => (d.clone(), ctx.boundaries[d].clone()),
                (None, None) => continue,
            };
            cs[s].frozen = Some(format!(
                "{} has a pytest configuration of its own ({}), a rootdir when pytest runs there: nothing merges across it",
                shown(root, &dir),
                display_abs(&file)
            ));
        }
    }
    let target_is_rootdir = plan.target_is_rootdir;

    // Reasons that pin an item where it is, whatever the others do.
    let mut pins: BTreeMap<(usize, usize), String> = BTreeMap::new();
    for &s in &sources {
        let c = &cs[s];
        for (i, it) in c.items.iter().enumerate() {
            if let Some(why) = &c.frozen {
                pins.insert((s, i), why.clone());
            } else if let Some(why) = &it.pinned {
                pins.insert((s, i), why.clone());
            } else if let Some(x) = MODULE_DUNDERS.iter().find(|x| it.free.contains(**x)) {
                pins.insert(
                    (s, i),
                    if *x == "__file__" {
                        "it uses `__file__`, which would name another directory".to_owned()
                    } else {
                        format!("it uses `{x}`, which would name another module")
                    },
                );
            } else if it.relative_import {
                pins.insert(
                    (s, i),
                    "a relative import would import from another package in the target".into(),
                );
            } else if let Kind::Fixture(f) = &it.kind {
                let in_rootdir = c.dir_abs == rootdir;
                if let Some(who) = ctx.external.get(&f.name) {
                    pins.insert(
                        (s, i),
                        format!(
                            "it overrides the `{}` of {who} for the tests under {}; moved, it would override it for others",
                            f.name,
                            shown(root, c.rel.as_deref().unwrap_or(Path::new("")))
                        ),
                    );
                } else if let Some(p) = ctx.unread_plugins.first() {
                    pins.insert(
                        (s, i),
                        format!(
                            "it may override a fixture of plugin `{p}` (pytest_plugins), which fixer cannot read; moved, it would override it for others (help: --set python=PATH of a Python that has the plugin installed)"
                        ),
                    );
                } else if in_rootdir && !target_is_rootdir {
                    pins.insert(
                        (s, i),
                        "it is in the rootdir conftest, which every item pytest collects sees (doctests, other `python_files` too); it does not move down".into(),
                    );
                } else if let Some(why) = &f.unreadable {
                    pins.insert((s, i), why.clone());
                } else if f.package_scope {
                    pins.insert(
                        (s, i),
                        "its scope is `package` (or not a literal): in another conftest its instance would be shared by other packages".into(),
                    );
                }
            }
        }
    }

    let tests_under = |dir: &Path| -> BTreeSet<&Path> {
        tests
            .iter()
            .filter(|t| under(&t.dir, dir))
            .map(|t| t.path.as_path())
            .collect()
    };
    let target_tests = tests_under(target_rel);

    loop {
        plan.fates.clear();
        plan.hook_groups.clear();
        plan.hook_dropped.clear();
        plan.lost.clear();
        plan_fixtures(cs, tests, root, target_rel, &pins, &mut plan);
        // Hooks.
        let mut hook_defs: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
        for (ci, c) in cs.iter().enumerate().filter(|(_, c)| c.merged) {
            for (i, it) in c.items.iter().enumerate() {
                if let Kind::Hook(h) = &it.kind {
                    hook_defs.entry(h.name.clone()).or_default().push((ci, i));
                }
            }
        }
        for (name, defs) in &hook_defs {
            let mut group: Vec<(usize, usize)> = Vec::new();
            let mut movable = Vec::new();
            for &(ci, i) in defs {
                if ci == target {
                    group.push((ci, i));
                    continue;
                }
                let rel = cs[ci].rel.clone().unwrap_or_default();
                let why = if let Some(p) = pins.get(&(ci, i)) {
                    Some(p.clone())
                } else if BEFORE_COLLECTION_HOOKS.contains(&name.as_str()) {
                    Some(format!(
                        "pytest calls `{name}` only in the conftests it loads at startup; in {target_shown} it could run where it did not, or not run"
                    ))
                } else if GLOBAL_HOOKS.contains(&name.as_str()) {
                    None
                } else if STARTUP_HOOKS.contains(&name.as_str()) {
                    (!under(&rel, target_rel)).then(|| format!(
                        "pytest honours `{name}` only in conftests it loads at startup; moved down to {target_shown} it could come too late"
                    ))
                } else if ITEM_HOOKS.contains(&name.as_str()) {
                    (tests_under(&rel) != target_tests).then(|| format!(
                        "`{name}` applies to the tests under {}; in {target_shown} it would apply to other tests",
                        shown(root, &rel)
                    ))
                } else {
                    Some(format!(
                        "`{name}` is called per directory (or is not a pytest hook fixer knows); moving it could change what pytest collects"
                    ))
                };
                match why {
                    Some(why) => {
                        plan.fates.insert((ci, i), Fate::Stay(why));
                    }
                    None => {
                        movable.push((ci, i));
                        group.push((ci, i));
                    }
                }
            }
            if movable.is_empty() {
                continue;
            }
            // The order pytest calls them in: it registers conftests outermost first,
            // then as it collects them, and calls the last registered first, except for
            // `pytest_configure`, which a conftest found while collecting gets at once.
            group.sort_by_key(|&(ci, _)| registration_key(&cs[ci]));
            if !OUTER_FIRST_HOOKS.contains(&name.as_str()) {
                group.reverse();
            }
            let merged = if group.len() > 1 {
                let hooks: Vec<(&Path, &Hook)> = group
                    .iter()
                    .filter_map(|&(ci, i)| cs[ci].hook(i).map(|h| (cs[ci].path.as_path(), h)))
                    .collect();
                mergeable(&hooks)
            } else {
                Ok(())
            };
            match merged {
                Ok(()) => {
                    for m in &movable {
                        plan.fates.insert(*m, Fate::Move);
                    }
                    plan.hook_groups.insert(name.clone(), group);
                }
                Err(why) => {
                    for m in &movable {
                        plan.fates.insert(*m, Fate::Stay(why.clone()));
                    }
                }
            }
        }
        // pytest_plugins and other module code.
        for &s in &sources {
            for (i, it) in cs[s].items.iter().enumerate() {
                let fate = match &it.kind {
                    Kind::Plugins(values) => Some(if let Some(p) = pins.get(&(s, i)) {
                        Fate::Stay(p.clone())
                    } else if !plan.target_is_rootdir {
                        Fate::Stay(format!(
                            "pytest reads `pytest_plugins` only from the rootdir conftest ({}) and the conftests it loads at startup; move it there by hand",
                            display_abs(&rootdir.join("conftest.py"))
                        ))
                    } else if values.is_none() {
                        Fate::Stay("its value is not a literal list of module names".into())
                    } else {
                        Fate::Move
                    }),
                    Kind::Code | Kind::Comment => Some(match pins.get(&(s, i)) {
                        Some(p) => Fate::Stay(p.clone()),
                        None => Fate::Move,
                    }),
                    _ => None,
                };
                if let Some(f) = fate {
                    plan.fates.insert((s, i), f);
                }
            }
        }
        // A conftest that keeps anything keeps its module code, and with it whatever
        // uses that code.
        let mut new_pin = false;
        plan.emptied.clear();
        for &s in &sources {
            let c = &cs[s];
            let keeps =
                |plan: &Plan, i: usize| matches!(plan.fates.get(&(s, i)), Some(Fate::Stay(_)));
            let emptied = (0..c.items.len()).all(|i| {
                matches!(
                    c.items[i].kind,
                    Kind::Import(_) | Kind::Docstring | Kind::Comment
                ) || !keeps(&plan, i)
            });
            if emptied {
                plan.emptied.insert(s);
                continue;
            }
            for (i, it) in c.items.iter().enumerate() {
                if matches!(it.kind, Kind::Code | Kind::Comment) && !keeps(&plan, i) {
                    pins.insert(
                        (s, i),
                        "it goes with the fixtures and hooks that stay in this conftest".into(),
                    );
                    new_pin = true;
                }
            }
            let staying: BTreeSet<String> = c
                .items
                .iter()
                .enumerate()
                .filter(|(i, it)| {
                    pins.contains_key(&(s, *i)) && !matches!(it.kind, Kind::Import(_))
                        || keeps(&plan, *i)
                })
                .flat_map(|(_, it)| it.binds.iter().cloned())
                .collect();
            for (i, it) in c.items.iter().enumerate() {
                if pins.contains_key(&(s, i)) || keeps(&plan, i) {
                    continue;
                }
                if matches!(it.kind, Kind::Import(_) | Kind::Docstring) {
                    continue;
                }
                if let Some(x) = it.free.intersection(&staying).next() {
                    pins.insert(
                        (s, i),
                        format!("it uses `{x}`, which stays in {}", c.path.display()),
                    );
                    new_pin = true;
                }
            }
        }
        if !new_pin {
            break;
        }
    }
    plan
}

/// Decides every fixture name: identical definitions merge into the target; a different
/// one stays where it overrides; then every test's fixture chain is checked, and a name
/// whose move would change any chain stays entirely.
fn plan_fixtures(
    cs: &[Conftest],
    tests: &[TestFile],
    root: &Path,
    target_rel: &Path,
    pins: &BTreeMap<(usize, usize), String>,
    plan: &mut Plan,
) {
    let target = plan.target;
    let target_shown = cs[target].path.display().to_string();
    let mut defs: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (ci, c) in cs.iter().enumerate() {
        for (i, it) in c.items.iter().enumerate() {
            if let Kind::Fixture(f) = &it.kind {
                defs.entry(f.name.clone()).or_default().push((ci, i));
            }
        }
    }
    let rel_of = |ci: usize| cs[ci].rel.clone().unwrap_or_default();
    for (name, all) in &defs {
        let merged: Vec<(usize, usize)> = all
            .iter()
            .copied()
            .filter(|&(ci, _)| cs[ci].merged)
            .collect();
        if !merged.iter().any(|&(ci, _)| ci != target) {
            continue;
        }
        let mut above: Vec<(usize, usize)> = merged
            .iter()
            .copied()
            .filter(|&(ci, _)| under(target_rel, &rel_of(ci)))
            .collect();
        above.sort_by_key(|&(ci, _)| std::cmp::Reverse(cs[ci].depth));
        let below: Vec<(usize, usize)> = merged
            .iter()
            .copied()
            .filter(|&(ci, _)| !under(target_rel, &rel_of(ci)))
            .collect();
        let key = |(ci, i): (usize, usize)| cs[ci].items[i].key.as_str();
        let below_keys: BTreeSet<&str> = below.iter().map(|&d| key(d)).collect();
        let slot: Option<(usize, usize)> = above.first().copied().or_else(|| {
            (below_keys.len() == 1)
                .then(|| below.first().copied())
                .flatten()
        });
        // The definition the target keeps: the target's own, else the outermost mover.
        let keeper: Option<usize> = slot.and_then(|sd| {
            let sk = key(sd);
            let mut same: Vec<(usize, usize)> = merged
                .iter()
                .copied()
                .filter(|&d| key(d) == sk && (d.0 == target || !pins.contains_key(&d)))
                .collect();
            same.sort_by_key(|&(ci, _)| (ci != target, cs[ci].depth));
            same.first().map(|d| d.0)
        });
        let slot_path = slot.map(|(ci, _)| cs[ci].path.display().to_string());
        let mut proposal: Vec<((usize, usize), Fate)> = Vec::new();
        for &d in &merged {
            if d.0 == target {
                continue;
            }
            let fate = if let Some(p) = pins.get(&d) {
                Fate::Stay(p.clone())
            } else if slot.is_some_and(|s| key(s) == key(d)) {
                match keeper {
                    Some(k) if k == d.0 => Fate::Move,
                    Some(k) => Fate::Same(k),
                    None => Fate::Move,
                }
            } else if under(target_rel, &rel_of(d.0)) {
                Fate::Stay(format!(
                    "it differs from `{name}` in {}, which every test under {} gets instead; left in place",
                    slot_path.clone().unwrap_or_default(),
                    shown(root, target_rel)
                ))
            } else if let Some(sp) = &slot_path {
                Fate::Stay(format!(
                    "it overrides a different `{name}` (in {sp}) for the tests under {}",
                    shown(root, &rel_of(d.0))
                ))
            } else {
                Fate::Stay(format!(
                    "conftests below {target_shown} define different `{name}` fixtures; each keeps its own"
                ))
            };
            proposal.push((d, fate));
        }
        // Check every test's chain for this name.
        let moved = |d: (usize, usize)| -> Option<&Fate> {
            proposal.iter().find(|(p, _)| *p == d).map(|(_, f)| f)
        };
        let chain = |t: &TestFile, after: bool| -> Vec<String> {
            let mut cands: Vec<(i64, usize, usize)> = Vec::new();
            for &(ci, i) in all {
                let mut loc = ci;
                if after {
                    match moved((ci, i)) {
                        Some(Fate::Move) => loc = target,
                        Some(Fate::Same(_)) => continue,
                        _ => {}
                    }
                }
                let visible = cs[loc].rel.as_deref().is_none_or(|r| under(&t.dir, r));
                if visible {
                    cands.push((cs[loc].depth, ci, i));
                }
            }
            cands.sort_by_key(|c| std::cmp::Reverse(c.0));
            let mut out = Vec::new();
            let mut k = 0;
            while k < cands.len() {
                let (depth, ci, i) = cands[k];
                let same_level: BTreeSet<&str> = cands
                    .iter()
                    .filter(|c| c.0 == depth)
                    .map(|c| cs[c.1].items[c.2].key.as_str())
                    .collect();
                if same_level.len() > 1 {
                    out.push("<conflict>".to_owned());
                    return out;
                }
                out.push(cs[ci].items[i].key.clone());
                let requests_self = cs[ci].fixture(i).is_some_and(|f| f.params.contains(name));
                if !requests_self {
                    break;
                }
                k += cands[k..].iter().take_while(|c| c.0 == depth).count();
            }
            out
        };
        let mut mismatch: Option<(&TestFile, bool)> = None;
        let mut lost = BTreeSet::new();
        for t in tests {
            if !t.relevant.contains(name) {
                continue;
            }
            let before = chain(t, false);
            let after = chain(t, true);
            if before == after {
                continue;
            }
            let gained_plain = before.is_empty()
                && !after.is_empty()
                && !all.iter().any(|&(ci, i)| {
                    cs[ci].items[i].key == after[0] && cs[ci].fixture(i).is_some_and(|f| f.autouse)
                });
            if gained_plain {
                continue;
            }
            if after.is_empty() && !under(&t.dir, target_rel) {
                lost.insert(t.path.clone());
            }
            let autouse_gain = before.is_empty() && !after.is_empty();
            mismatch.get_or_insert((t, autouse_gain));
        }
        match mismatch {
            None => {
                for (d, f) in proposal {
                    plan.fates.insert(d, f);
                }
            }
            Some((t, autouse_gain)) => {
                if !lost.is_empty() {
                    plan.lost.insert(name.clone(), lost);
                }
                for (d, f) in proposal {
                    let f = match f {
                        Fate::Stay(why) => Fate::Stay(why),
                        _ if autouse_gain => Fate::Stay(format!(
                            "it is autouse: in {target_shown} it would also run for {}",
                            t.path.display()
                        )),
                        _ => Fate::Stay(format!(
                            "moving it would change which `{name}` pytest gives {}",
                            t.path.display()
                        )),
                    };
                    plan.fates.insert(d, f);
                }
            }
        }
    }
}

/// Can these definitions of one hook become one function? (in call order)
fn mergeable(hooks: &[(&Path, &Hook)]) -> Result<(), String> {
    let name = &hooks[0].1.name;
    let (p0, h0) = hooks[0];
    for &(p, h) in hooks {
        if h.decorators_key != h0.decorators_key {
            return Err(format!(
                "the decorators of `{name}` differ between {} and {}; the definitions cannot become one function",
                p0.display(),
                p.display()
            ));
        }
        if h.decorators_key.contains("wrapper") {
            return Err(format!(
                "`{name}` in {} is a hook wrapper; wrappers cannot be merged",
                p.display()
            ));
        }
        if h.returns {
            return Err(format!(
                "`{name}` in {} returns or yields, so the bodies cannot run one after another",
                p.display()
            ));
        }
        if h.splat {
            return Err(format!(
                "`{name}` in {} takes `*args`/`**kwargs`",
                p.display()
            ));
        }
        if h.is_async != h0.is_async {
            return Err(format!("`{name}` is async in one conftest only"));
        }
        match (&h.indent, &h0.indent) {
            (Some(a), Some(b)) if a == b => {}
            _ => {
                return Err(format!(
                    "the bodies of `{name}` are indented differently (or share the `def` line)"
                ))
            }
        }
    }
    for &(pa, a) in hooks {
        for &(pb, b) in hooks {
            if std::ptr::eq(a, b) {
                continue;
            }
            for x in &a.locals {
                if !b.mentions.contains(x) {
                    continue;
                }
                let stmts = |h: &Hook| -> BTreeSet<String> {
                    h.body
                        .iter()
                        .filter(|s| s.binds.contains(x))
                        .map(|s| s.key.clone())
                        .collect()
                };
                let (sa, sb) = (stmts(a), stmts(b));
                if sa.is_empty() || sa != sb {
                    return Err(format!(
                        "`{x}` is a local variable of `{name}` in {} and is also used in {}; one body would see the other's",
                        pa.display(),
                        pb.display()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The merged hook (bodies in call order, a statement already there skipped), with the
/// statements skipped.
fn render_hook(hooks: &[&Hook]) -> (String, Vec<String>) {
    let h0 = hooks[0];
    // One parameter per name; an annotated spelling wins over a bare one.
    let mut params: Vec<&(String, String)> = Vec::new();
    for h in hooks {
        for p in &h.params {
            match params.iter().position(|q| q.0 == p.0) {
                None => params.push(p),
                Some(k) if !params[k].1.contains(':') && p.1.contains(':') => params[k] = p,
                Some(_) => {}
            }
        }
    }
    let mut out = unix(&h0.decorators_text);
    if h0.is_async {
        out.push_str("async ");
    }
    out.push_str(&format!(
        "def {}({})",
        h0.name,
        params
            .iter()
            .map(|p| p.1.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(r) = hooks.iter().find_map(|h| h.ret.as_ref()) {
        out.push_str(&format!(" -> {r}"));
    }
    out.push(':');
    // (key, text) of the statements kept; a dropped duplicate's own comments join the
    // statement that is kept.
    let mut body: Vec<(&str, String)> = Vec::new();
    let mut dropped = Vec::new();
    // The first docstring, whichever body it was in, opens the merged body.
    if let Some(doc) = hooks
        .iter()
        .flat_map(|h| h.body.iter())
        .find(|s| s.docstring)
    {
        body.push((doc.key.as_str(), unix(&doc.text)));
    }
    for h in hooks {
        for s in &h.body {
            if s.docstring {
                continue;
            }
            let text = unix(&s.text);
            let kept = (!s.key.is_empty())
                .then(|| body.iter().position(|(key, _)| *key == s.key))
                .flatten();
            let Some(kept) = kept else {
                body.push((s.key.as_str(), text));
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            let code_at = lines
                .iter()
                .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .unwrap_or(lines.len());
            dropped.push(lines.get(code_at).map_or("", |l| l.trim()).to_owned());
            let comments: Vec<&str> = lines[..code_at]
                .iter()
                .copied()
                .filter(|l| !body[kept].1.lines().any(|m| m == *l))
                .collect();
            if !comments.is_empty() {
                body[kept].1 = format!("{}\n{}", comments.join("\n"), body[kept].1);
            }
        }
    }
    for (_, text) in body {
        out.push('\n');
        out.push_str(&text);
    }
    (out, dropped)
}

/// `s` with `\n` for each newline; a lone `\r` is one too, for Python.
fn unix(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

fn to_nl(s: &str, nl: &str) -> String {
    let s = unix(s);
    if nl == "\n" {
        s
    } else {
        s.replace('\n', nl)
    }
}

fn item_text(c: &Conftest, it: &Item) -> String {
    unix(&c.text[it.span_start..it.span_end])
        .trim_end()
        .to_owned()
}

struct Chunk {
    text: String,
    /// Blank lines before it in its conftest, when it followed the previous chunk there.
    gap: Option<usize>,
}

fn join_chunks(chunks: &[Chunk]) -> String {
    let mut out = String::new();
    for (k, c) in chunks.iter().enumerate() {
        if k > 0 {
            match c.gap {
                Some(g) => out.push_str(&"\n".repeat(1 + g.min(2))),
                None => out.push_str("\n\n\n"),
            }
        }
        out.push_str(&c.text);
    }
    out
}

impl ConsolidateConftest {
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        ws: &Workspace,
        recipe: &str,
        _root: &Path,
        target_rel: &Path,
        cs: &[Conftest],
        plan: &Plan,
        explicit: bool,
        findings: &mut Vec<Finding>,
        out: &mut Vec<Write>,
    ) -> Result<Option<Clashes>, UserError> {
        let target = plan.target;
        let t = &cs[target];
        let tshown = t.path.display().to_string();
        let fate = |c: usize, i: usize| plan.fates.get(&(c, i));
        let moving = |c: usize, i: usize| matches!(fate(c, i), Some(Fate::Move | Fate::Same(_)));

        // What the target receives.
        let mut specs: Vec<ImportSpec> = Vec::new();
        let mut late_specs: Vec<ImportSpec> = Vec::new();
        let mut early_specs: BTreeSet<ImportSpec> = BTreeSet::new();
        let mut outer: Vec<Chunk> = Vec::new();
        let mut tail: Vec<Chunk> = Vec::new();
        let mut plugins: Vec<String> = Vec::new();
        let mut code_keys: BTreeSet<String> = t
            .items
            .iter()
            .filter(|it| matches!(it.kind, Kind::Code))
            .map(|it| it.key.clone())
            .collect();
        let mut dup_code: Vec<(usize, usize)> = Vec::new();
        let mut incoming: Vec<(usize, usize)> = Vec::new();
        let mut last_code: Option<(usize, usize)> = None;
        // Module-level name -> (source, what it binds it to) of everything that comes in.
        let mut contributed: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
        for &s in &plan.sources {
            let c = &cs[s];
            let is_outer = c
                .rel
                .as_deref()
                .is_some_and(|r| under(target_rel, r) && r != target_rel);
            let emptied = plan.emptied.contains(&s);
            let used: BTreeSet<String> = c
                .items
                .iter()
                .enumerate()
                .filter(|(i, _)| moving(s, *i))
                .flat_map(|(_, it)| it.free.iter().cloned())
                .collect();
            for (i, it) in c.items.iter().enumerate() {
                match &it.kind {
                    Kind::Import(list) => {
                        for spec in list {
                            if spec.module() == "__future__" {
                                continue;
                            }
                            if emptied || used.contains(spec.bound_name()) {
                                contributed
                                    .entry(spec.bound_name().to_owned())
                                    .or_default()
                                    .push((s, spec_key(spec)));
                                if !specs.contains(spec) {
                                    specs.push(spec.clone());
                                }
                                // Loaded after the target's module code (an inner
                                // conftest) or before it (an outer one).
                                if is_outer {
                                    late_specs.retain(|x| x != spec);
                                } else if !late_specs.contains(spec)
                                    && specs.iter().filter(|x| *x == spec).count() == 1
                                    && !early_specs.contains(spec)
                                {
                                    late_specs.push(spec.clone());
                                }
                                if is_outer {
                                    early_specs.insert(spec.clone());
                                }
                            }
                        }
                    }
                    Kind::Plugins(Some(values)) if moving(s, i) => {
                        for v in values {
                            if !plugins.contains(v) {
                                plugins.push(v.clone());
                            }
                        }
                    }
                    Kind::Code | Kind::Comment if moving(s, i) => {
                        if !it.key.is_empty() && !code_keys.insert(it.key.clone()) {
                            dup_code.push((s, i));
                            continue;
                        }
                        incoming.push((s, i));
                        let list = if is_outer { &mut outer } else { &mut tail };
                        let gap = (i > 0 && last_code == Some((s, i - 1))).then(|| {
                            c.text[c.items[i - 1].span_end..it.span_start]
                                .matches('\n')
                                .count()
                        });
                        last_code = Some((s, i));
                        list.push(Chunk {
                            text: item_text(c, it),
                            gap,
                        });
                    }
                    Kind::Fixture(_) if matches!(fate(s, i), Some(Fate::Move)) => {
                        incoming.push((s, i));
                        tail.push(Chunk {
                            text: item_text(c, it),
                            gap: None,
                        });
                    }
                    Kind::Hook(h) if matches!(fate(s, i), Some(Fate::Move)) => {
                        incoming.push((s, i));
                        let group = &plan.hook_groups[&h.name];
                        if group.iter().any(|d| d.0 == target) || group[0] != (s, i) {
                            continue;
                        }
                        let text = if group.len() == 1 {
                            item_text(c, it)
                        } else {
                            let hooks: Vec<&Hook> =
                                group.iter().filter_map(|&(a, b)| cs[a].hook(b)).collect();
                            let lead = unix(&c.text[it.span_start..it.start]);
                            format!("{lead}{}", render_hook(&hooks).0)
                        };
                        tail.push(Chunk { text, gap: None });
                    }
                    _ => {}
                }
            }
        }

        // Names: one meaning per module-level name in the target.
        let mut bound: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut orig_bound: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for it in &t.items {
            for n in &it.binds {
                let keys = t.bindings(n);
                bound
                    .entry(n.clone())
                    .or_default()
                    .extend(keys.iter().cloned());
                orig_bound.entry(n.clone()).or_default().extend(keys);
            }
        }
        for spec in &specs {
            bound
                .entry(spec.bound_name().to_owned())
                .or_default()
                .insert(spec_key(spec));
        }
        for &(s, i) in &incoming {
            let it = &cs[s].items[i];
            for n in &it.binds {
                let key = match &it.kind {
                    Kind::Hook(h) => format!("hook {}", h.name),
                    _ => it.key.clone(),
                };
                bound.entry(n.clone()).or_default().insert(key.clone());
                contributed.entry(n.clone()).or_default().push((s, key));
            }
        }
        // The sources that bring a second meaning of `n`: those that differ from the
        // target's own (or, when it has none, from the outermost source's).
        let culprits = |n: &str| -> BTreeSet<usize> {
            let list = contributed.get(n).map(Vec::as_slice).unwrap_or_default();
            let first = orig_bound
                .get(n)
                .filter(|k| !k.is_empty())
                .cloned()
                .or_else(|| list.first().map(|(_, k)| [k.clone()].into()))
                .unwrap_or_default();
            list.iter()
                .filter(|(_, k)| !first.contains(k))
                .map(|(s, _)| *s)
                .collect()
        };
        let mut clashes: Vec<(PathBuf, usize, String)> = Vec::new();
        let mut blamed: BTreeSet<usize> = BTreeSet::new();
        for (n, keys) in &bound {
            if keys.len() > 1 && n != "pytest_plugins" {
                blamed.extend(culprits(n));
                // The files grouped by what they bind the name to: identical bindings
                // are one meaning.
                let mut groups: Vec<(BTreeSet<String>, Vec<String>)> = Vec::new();
                for c in std::iter::once(t).chain(plan.sources.iter().map(|&s| &cs[s])) {
                    if !c.items.iter().any(|it| it.binds.contains(n)) {
                        continue;
                    }
                    let b = c.bindings(n);
                    let path = c.path.display().to_string();
                    match groups.iter_mut().find(|g| g.0 == b) {
                        Some(g) => g.1.push(path),
                        None => groups.push((b, vec![path])),
                    }
                }
                let meanings: Vec<String> = groups
                    .iter()
                    .map(|(b, paths)| {
                        let what: Vec<String> =
                            b.iter().map(|k| format!("`{}`", short(k))).collect();
                        format!("{} in {}", what.join(" or "), paths.join(" and "))
                    })
                    .collect();
                clashes.push((
                    t.path.clone(),
                    0,
                    format!(
                        "name clash: `{n}` is bound to different things: {}",
                        meanings.join("; ")
                    ),
                ));
            }
        }
        let empty = BTreeSet::new();
        let mut checked: Vec<(usize, usize)> = incoming.clone();
        checked.extend(
            plan.fates
                .iter()
                .filter(|(_, f)| matches!(f, Fate::Same(_)))
                .map(|(d, _)| *d),
        );
        for &(s, i) in &checked {
            let c = &cs[s];
            let it = &c.items[i];
            for x in &it.free {
                let src = c.bindings(x);
                let dst = bound.get(x).unwrap_or(&empty);
                if &src != dst && !(src.is_empty() && dst.is_empty()) {
                    blamed.insert(s);
                    clashes.push((
                        c.path.clone(),
                        it.line,
                        format!(
                            "name clash: `{}` uses `{x}`, which means something else in {tshown}",
                            it.name()
                        ),
                    ));
                }
            }
        }
        for it in &t.items {
            for x in &it.free {
                if orig_bound.get(x) != bound.get(x) && bound.contains_key(x) {
                    blamed.extend(culprits(x));
                    clashes.push((
                        t.path.clone(),
                        it.line,
                        format!(
                            "name clash: `{}` uses `{x}`, which the merge would rebind",
                            it.name()
                        ),
                    ));
                }
            }
        }
        if !clashes.is_empty() {
            clashes.sort();
            clashes.dedup();
            return Ok(Some(Clashes {
                blamed: blamed.into_iter().collect(),
                messages: clashes,
            }));
        }
        if incoming.is_empty()
            && dup_code.is_empty()
            && !plan.fates.values().any(|f| matches!(f, Fate::Same(_)))
            && plan.emptied.is_empty()
        {
            self.report(recipe, cs, plan, findings, &tshown);
            return Ok(None);
        }

        // Build the target.
        let nl = if t.exists {
            newline_of(&t.text)
        } else {
            plan.sources
                .first()
                .map_or("\n", |&s| newline_of(&cs[s].text))
        };
        let mut text = t.text.clone();
        if !t.exists {
            // A new target starts with the head (docstring, futures, imports) of the
            // outermost conftest that is emptied, as written.
            let head = plan
                .sources
                .iter()
                .find(|s| plan.emptied.contains(s))
                .map(|&s| {
                    let c = &cs[s];
                    let end = c
                        .items
                        .iter()
                        .take_while(|it| matches!(it.kind, Kind::Docstring | Kind::Import(_)))
                        .last()
                        .map_or(0, |it| it.span_end);
                    c.text[..end].trim_end().to_owned()
                });
            match head {
                Some(h) if !h.is_empty() => {
                    text.push_str(&to_nl(&h, nl));
                    text.push_str(nl);
                }
                _ => {
                    for f in cs[plan.sources[0]].future.iter().map(ImportSpec::render) {
                        text.push_str(&f);
                        text.push_str(nl);
                    }
                }
            }
        }
        // Hooks the target already has: replaced by the merged function.
        let mut edits = Vec::new();
        for (name, group) in &plan.hook_groups {
            let Some(&(_, ti)) = group.iter().find(|d| d.0 == target) else {
                continue;
            };
            let hooks: Vec<&Hook> = group.iter().filter_map(|&(a, b)| cs[a].hook(b)).collect();
            let (merged, _) = render_hook(&hooks);
            let it = &t.items[ti];
            edits.push(edit::Edit::replace(
                it.start..it.stmt_end,
                to_nl(&merged, nl),
                recipe,
            ));
            let _ = name;
        }
        if !plugins.is_empty() {
            if let Some(it) = t
                .items
                .iter()
                .find(|it| matches!(it.kind, Kind::Plugins(_)))
            {
                let mut all = match &it.kind {
                    Kind::Plugins(Some(v)) => v.clone(),
                    _ => Vec::new(),
                };
                for p in &plugins {
                    if !all.contains(p) {
                        all.push(p.clone());
                    }
                }
                edits.push(edit::Edit::replace(
                    it.start..it.end,
                    render_plugins(&all),
                    recipe,
                ));
            } else {
                outer.insert(
                    0,
                    Chunk {
                        text: render_plugins(&plugins),
                        gap: None,
                    },
                );
            }
        }
        let (edits, _) = edit::resolve(edits);
        text = edit::apply(&text, &edits);
        if !specs.is_empty() {
            // The imports of inner conftests ran after the target's module code: after
            // its last statement that does something (`os.environ["MODE"] = ...`), they
            // come after it, not in the first import block.
            let after_code = scan::scan(&text).and_then(|sc| {
                sc.items
                    .iter()
                    .rev()
                    .find(|it| matches!(it.kind, Kind::Code) && side_effect(&it.key))
                    .map(|it| it.span_end)
            });
            let mut top = specs.clone();
            if let (Some(at), Some(tree)) = (after_code, crate::parse::parse(&text)) {
                top.retain(|x| !late_specs.contains(x));
                let needed: Vec<String> = late_specs
                    .iter()
                    .filter(|x| {
                        !imports::ensure(&text, &tree, &[(*x).clone()], nl, recipe).is_empty()
                    })
                    .map(ImportSpec::render)
                    .collect();
                if !needed.is_empty() {
                    let mut ins = String::new();
                    if !text[..at].ends_with('\n') {
                        ins.push_str(nl);
                    }
                    ins.push_str(nl);
                    for line in &needed {
                        ins.push_str(line);
                        ins.push_str(nl);
                    }
                    text.insert_str(at, &ins);
                }
            }
            if let Some(tree) = crate::parse::parse(&text) {
                let (e, _) = edit::resolve(imports::ensure(&text, &tree, &top, nl, recipe));
                text = edit::apply(&text, &e);
            }
        }
        if !outer.is_empty() {
            let block = to_nl(&join_chunks(&outer), nl);
            if text.trim().is_empty() {
                text = format!("{block}{nl}");
            } else if let Some(tree) = crate::parse::parse(&text) {
                let point = imports::insertion_point(&tree, &text);
                let mut ins = String::new();
                if point.needs_newline {
                    ins.push_str(nl);
                }
                let at_code = point.offset < text.len();
                if point.offset > 0 {
                    ins.push_str(nl);
                }
                ins.push_str(&block);
                ins.push_str(nl);
                if at_code && !text[point.offset..].starts_with(nl) {
                    ins.push_str(nl);
                }
                text.insert_str(point.offset, &ins);
            }
        }
        if !tail.is_empty() {
            let block = to_nl(&join_chunks(&tail), nl);
            // The blank lines at the end go; the last line of code keeps its bytes, and
            // its newline when it has one (a lone `\r` gives way to the file's newline).
            let code_end = text.trim_end().len();
            let rest = &text[code_end..];
            let body = match rest.find('\n') {
                Some(i) => format!("{}{nl}", &text[..code_end + i + 1]),
                None => format!(
                    "{}{nl}{nl}",
                    &text[..rest.find('\r').map_or(text.len(), |i| code_end + i)]
                ),
            };
            text = if code_end == 0 {
                format!("{block}{nl}")
            } else {
                format!("{body}{nl}{block}{nl}")
            };
        }
        if text != t.text {
            out.push(Write::Text(t.path.clone(), text, incoming.len().max(1)));
        }

        // The sources: emptied ones go; the others lose what moved.
        for &s in &plan.sources {
            let c = &cs[s];
            if plan.emptied.contains(&s) {
                out.push(Write::Delete(c.path.clone()));
                if self.keep_disabled {
                    let disabled = c.path.with_file_name("conftest.py.disabled");
                    if ws.exists(&disabled) {
                        return Err(UserError::new(format!(
                            "cannot rename {} to {}: that file exists",
                            c.path.display(),
                            disabled.display()
                        ))
                        .help("remove it, or use `--set keep=delete`"));
                    }
                    out.push(Write::Text(disabled, c.text.clone(), 1));
                }
                continue;
            }
            let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
            for (i, it) in c.items.iter().enumerate() {
                let gone = match &it.kind {
                    Kind::Fixture(_) | Kind::Hook(_) | Kind::Plugins(_) => moving(s, i),
                    _ => false,
                };
                if !gone {
                    continue;
                }
                let range = if i > 0 {
                    c.items[i - 1].span_end..it.span_end
                } else {
                    let next = c.items.get(1).map_or(c.text.len(), |n| n.span_start);
                    it.span_start..next
                };
                // Neighbouring deletions overlap (the first item's takes the blank lines
                // after it): they become one.
                match ranges.last_mut() {
                    Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                    _ => ranges.push(range),
                }
            }
            let edits: Vec<edit::Edit> = ranges
                .into_iter()
                .map(|r| {
                    // What is deleted from the top takes the blank lines after it.
                    let end = if c.items.first().is_some_and(|f| f.span_start == r.start) {
                        scan::skip_blank_lines(&c.text, r.end)
                    } else {
                        r.end
                    };
                    edit::Edit::delete(r.start..end, recipe)
                })
                .collect();
            if !edits.is_empty() {
                let n = edits.len();
                let (edits, _) = edit::resolve(edits);
                let new = edit::apply(&c.text, &edits);
                out.push(Write::Text(c.path.clone(), new, n));
            }
        }
        if !t.exists {
            findings.push(note(
                &t.path,
                0,
                recipe,
                if explicit {
                    "created: the conftest named by `target`".to_owned()
                } else {
                    "created: the conftest of the lowest common directory of the tests".to_owned()
                },
            ));
        }
        for &(s, i) in &dup_code {
            let it = &cs[s].items[i];
            findings.push(note(
                &cs[s].path,
                it.line,
                recipe,
                format!("this module-level statement is already in {tshown}; it now runs once"),
            ));
        }
        self.report(recipe, cs, plan, findings, &tshown);
        Ok(None)
    }

    /// The plan, as notes at each definition.
    fn report(
        &self,
        recipe: &str,
        cs: &[Conftest],
        plan: &Plan,
        findings: &mut Vec<Finding>,
        tshown: &str,
    ) {
        let mut reported_hooks = BTreeSet::new();
        for &s in &plan.sources {
            let c = &cs[s];
            let mut code_noted = false;
            for (i, it) in c.items.iter().enumerate() {
                let Some(f) = plan.fates.get(&(s, i)) else {
                    continue;
                };
                let msg = match (&it.kind, f) {
                    (Kind::Fixture(fx), Fate::Move) => format!(
                        "fixture `{}` moves to {tshown}",
                        fx.name
                    ),
                    (Kind::Fixture(fx), Fate::Same(k)) => format!(
                        "fixture `{}` is the same as in {} (comments and layout aside): one copy is kept in {tshown}",
                        fx.name,
                        if *k == s { tshown.to_owned() } else { cs[*k].path.display().to_string() }
                    ),
                    (Kind::Fixture(fx), Fate::Stay(why)) => {
                        format!("fixture `{}` stays: {why}", fx.name)
                    }
                    (Kind::Hook(h), Fate::Move) => {
                        let group = &plan.hook_groups[&h.name];
                        if group.len() == 1 {
                            format!("hook `{}` moves to {tshown}", h.name)
                        } else {
                            let others: Vec<String> = group
                                .iter()
                                .filter(|d| d.0 != s && d.0 != plan.target)
                                .map(|d| cs[d.0].path.display().to_string())
                                .collect();
                            let with = if others.is_empty() {
                                String::new()
                            } else {
                                format!(" with the one in {}", others.join(", "))
                            };
                            let mut m = format!(
                                "hook `{}` merged{with} into one `{}` in {tshown}, bodies in the order pytest called them",
                                h.name, h.name
                            );
                            if reported_hooks.insert(h.name.clone()) {
                                let hooks: Vec<&Hook> =
                                    group.iter().filter_map(|&(a, b)| cs[a].hook(b)).collect();
                                let (_, dropped) = render_hook(&hooks);
                                if !dropped.is_empty() {
                                    let d: Vec<String> =
                                        dropped.iter().map(|x| format!("`{x}`")).collect();
                                    m.push_str(&format!(
                                        "; ran in more than one body, now once: {}",
                                        d.join(", ")
                                    ));
                                }
                            }
                            m
                        }
                    }
                    (Kind::Hook(h), Fate::Stay(why)) => format!("hook `{}` stays: {why}", h.name),
                    (Kind::Plugins(_), Fate::Move) => {
                        format!("`pytest_plugins` merged into {tshown}, the rootdir conftest")
                    }
                    (Kind::Plugins(_), Fate::Stay(why)) => {
                        format!("`pytest_plugins` stays: {why}")
                    }
                    (Kind::Code, Fate::Stay(why)) if !code_noted => {
                        code_noted = true;
                        format!("module code stays: {why}")
                    }
                    _ => continue,
                };
                findings.push(note(&c.path, it.line, recipe, msg));
            }
            if plan.emptied.contains(&s) {
                findings.push(note(
                    &c.path,
                    0,
                    recipe,
                    if self.keep_disabled {
                        format!("emptied: everything it defined is in {tshown}; renamed to conftest.py.disabled")
                    } else {
                        format!("emptied: everything it defined is in {tshown}; deleted")
                    },
                ));
            }
        }
    }
}

/// A binding as shown in a message: its first 60 characters.
fn short(key: &str) -> String {
    match key.char_indices().nth(60) {
        Some((i, _)) => format!("{} ...", &key[..i]),
        None => key.to_owned(),
    }
}

/// An absolute path as the user sees it: relative to the current directory when under it.
fn display_abs(p: &Path) -> String {
    let cwd = std::env::current_dir().and_then(|d| d.canonicalize()).ok();
    match cwd.as_deref().and_then(|c| p.strip_prefix(c).ok()) {
        Some(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Some(rel) => rel.display().to_string(),
        None => p.display().to_string(),
    }
}

fn render_plugins(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
    format!("pytest_plugins = [{}]", quoted.join(", "))
}

/// Applies the plan (`out`) to a copy of the rootdir's tree, collects it with pytest and
/// compares with `before`: the conftests (indices into `conftests`) to keep out of the
/// merge, each with why. Empty: every item gets the same definitions.
#[allow(clippy::too_many_arguments)]
fn check_plan(
    python: &Path,
    rootdir: &Path,
    cwd: &Path,
    args: &[String],
    before: &verify::Collected,
    conftests: &[Conftest],
    cs: &[Conftest],
    plan: &Plan,
    out: &[Write],
) -> Result<Vec<(usize, String)>, String> {
    let tmp =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let copy = tmp
        .path()
        .canonicalize()
        .map_err(|e| format!("cannot resolve the temporary directory: {e}"))?
        .join("tree");
    verify::copy_tree(rootdir, &copy).map_err(|e| {
        format!(
            "cannot copy {} to a temporary directory: {e}",
            display_abs(rootdir)
        )
    })?;
    for w in out {
        let (p, text) = match w {
            Write::Text(p, t, _) => (p, Some(t)),
            Write::Delete(p) => (p, None),
        };
        let abs = clean(&cwd.join(p));
        let rel = abs.strip_prefix(rootdir).map_err(|_| {
            format!(
                "{} is outside the rootdir {}",
                p.display(),
                display_abs(rootdir)
            )
        })?;
        let dst = copy.join(rel);
        let _ = std::fs::remove_file(&dst);
        if let Some(t) = text {
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot write the copy of {}: {e}", p.display()))?;
            }
            std::fs::write(&dst, t)
                .map_err(|e| format!("cannot write the copy of {}: {e}", p.display()))?;
        }
    }

    // The sources whose move changes something, and what each moved.
    let moved_sources: Vec<usize> = plan
        .sources
        .iter()
        .copied()
        .filter(|&s| {
            s < conftests.len()
                && (plan.emptied.contains(&s)
                    || plan
                        .fates
                        .iter()
                        .any(|(d, f)| d.0 == s && matches!(f, Fate::Move | Fate::Same(_))))
        })
        .collect();
    let moved = |s: usize, pred: &dyn Fn(&Item) -> bool| -> bool {
        cs[s].items.iter().enumerate().any(|(i, it)| {
            pred(it) && matches!(plan.fates.get(&(s, i)), Some(Fate::Move | Fate::Same(_)))
        })
    };
    let hook_or_code: Vec<usize> = moved_sources
        .iter()
        .copied()
        .filter(|&s| {
            moved(s, &|it| {
                matches!(it.kind, Kind::Hook(_) | Kind::Code | Kind::Plugins(_))
            })
        })
        .collect();
    let mut blamed: BTreeMap<usize, String> = BTreeMap::new();
    let mut differs = false;
    let mut blame = |list: &[usize], why: &str| {
        differs = true;
        for &s in list {
            blamed.entry(s).or_insert_with(|| why.to_owned());
        }
    };

    let after = match verify::collect(python, &copy, args) {
        Ok(a) => a,
        Err(why) => {
            blame(
                &moved_sources,
                &format!("with the merge, pytest no longer collects the suite ({why})"),
            );
            return Ok(blamed.into_iter().collect());
        }
    };
    let (ids_before, ids_after) = (before.ids(), after.ids());
    if ids_before != ids_after {
        let gone = ids_before.difference(&ids_after).next();
        let new = ids_after.difference(&ids_before).next();
        let why = match (gone, new) {
            (Some(g), _) => format!("with the merge, pytest no longer collects `{g}`"),
            (None, Some(n)) => format!("with the merge, pytest collects `{n}`, which it did not"),
            (None, None) => String::new(),
        };
        if hook_or_code.is_empty() {
            blame(&moved_sources, &why);
        } else {
            blame(&hook_or_code, &why);
        }
    }

    // Where a definition is, the same before and after: a conftest fixture by its name
    // and text, any other by its file (relative to the tree) and line.
    let mut scans: BTreeMap<PathBuf, Option<scan::Scan>> = BTreeMap::new();
    // A conftest the copy's run imported from the original tree: the check is void.
    let mut from_original: Option<String> = None;
    // `bases`: the trees a definition may come from, as it is read (the copy's run may
    // still import a module from the original tree: an editable install of the project).
    let mut key = |file: &str, line: usize, bases: &[&Path]| -> (String, String) {
        let p = Path::new(file);
        let canon = p.canonicalize().ok();
        let found = bases.iter().find_map(|b| {
            p.strip_prefix(b)
                .ok()
                .or_else(|| canon.as_deref().and_then(|c| c.strip_prefix(b).ok()))
                .map(|r| (b.to_path_buf(), r.to_path_buf()))
        });
        let Some((base, rel)) = found else {
            return (format!("{file}:{line}"), format!("{file}:{line}"));
        };
        let base = base.as_path();
        if base != bases[0] && rel.file_name().is_some_and(|n| n == "conftest.py") {
            from_original.get_or_insert_with(|| rel.display().to_string());
        }
        let shown = format!("{}:{line}", rel.display());
        if rel.file_name().is_some_and(|n| n == "conftest.py") {
            let s = scans.entry(base.join(&rel)).or_insert_with(|| {
                std::fs::read_to_string(base.join(&rel))
                    .ok()
                    .and_then(|t| scan::scan(&t))
            });
            if let Some(s) = s {
                // The item that contains the line: the last to start at or before it.
                let hit = s.items.iter().rev().find(|it| it.line <= line);
                if let Some(Item {
                    kind: Kind::Fixture(f),
                    key,
                    ..
                }) = hit
                {
                    return (format!("fixture {} {key}", f.name), shown);
                }
            }
        }
        (shown.clone(), shown)
    };
    for (id, chains_b) in &before.items {
        let Some(chains_a) = after.items.get(id) else {
            continue;
        };
        let names: BTreeSet<&String> = chains_b.keys().chain(chains_a.keys()).collect();
        for name in names {
            let empty = Vec::new();
            let b: Vec<(String, String)> = chains_b
                .get(name)
                .unwrap_or(&empty)
                .iter()
                .map(|(f, l)| key(f, *l, &[rootdir]))
                .collect();
            let a: Vec<(String, String)> = chains_a
                .get(name)
                .unwrap_or(&empty)
                .iter()
                .map(|(f, l)| key(f, *l, &[copy.as_path(), rootdir]))
                .collect();
            let kb: Vec<&String> = b.iter().map(|x| &x.0).collect();
            let ka: Vec<&String> = a.iter().map(|x| &x.0).collect();
            if kb == ka {
                continue;
            }
            let at = |v: &[(String, String)]| {
                v.last()
                    .map_or_else(|| "nowhere".to_owned(), |x| x.1.clone())
            };
            let why = format!(
                "with the merge, pytest gives `{id}` the `{name}` of {} instead of {}",
                at(&a),
                at(&b)
            );
            let of_name: Vec<usize> = moved_sources
                .iter()
                .copied()
                .filter(|&s| {
                    moved(
                        s,
                        &|it| matches!(&it.kind, Kind::Fixture(f) if &f.name == name),
                    )
                })
                .collect();
            if !of_name.is_empty() {
                blame(&of_name, &why);
            } else if !hook_or_code.is_empty() {
                blame(&hook_or_code, &why);
            } else {
                blame(&moved_sources, &why);
            }
        }
    }
    if let Some(c) = from_original {
        return Err(format!(
            "collecting the merged copy, pytest imported {c} of the original tree (is the project on `sys.path` another way, such as an editable install of its tests?)"
        ));
    }
    if differs && blamed.is_empty() {
        // A difference no moved conftest explains: nothing may merge.
        blamed.insert(usize::MAX, String::new());
    }
    Ok(blamed.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_finds_getfixturevalue_names() {
        let text = "def test(request):\n    request.getfixturevalue('secret')\n    request.getfixturevalue(\"other\")\n    request.getfixturevalue(name)\n";
        assert_eq!(lookups(text), ["secret", "other"]);
        assert!(lookups("x = 1\n").is_empty());
    }

    #[test]
    fn side_effect_is_a_call_or_an_item_assignment() {
        assert!(side_effect("os . environ [ \"MODE\" ] = \"test\""));
        assert!(side_effect("register_models ( )"));
        assert!(side_effect("settings . DEBUG = True"));
        assert!(!side_effect("DEFAULT_USER = \"ada\""));
        assert!(!side_effect("def make_user ( ) : return { }"));
        assert!(!side_effect("import os"));
    }
}
