//! `unresolved-imports`: every import of a project module that cannot work.
//!
//! What it does: resolves each import of a project module statically, the way the
//! interpreter's path finder would (absolute and relative; regular, namespace and
//! extension modules; `src/` layouts and the import roots the configuration names), and
//! reports as errors:
//! - a module that does not exist, or a "package" that is a plain module
//!   (`'a.b' is a module, not a package`), with the fix when one exists
//!   (`fixer apply module-to-package --set module=a.b --set submodule=c`);
//! - a name that `from M import name` cannot find in M: not bound by any statement of M
//!   (conditional and `try` imports included), not a submodule, not provided by a star
//!   import, `__getattr__` or a namespace built at run time;
//! - an import cycle among module-level imports that fails: executing the modules in
//!   import order (parents first, submodules as `from pkg import sub` loads them), a
//!   `from M import name` runs while M is partially initialized and has not bound `name`.
//!
//! Why: a wrong import path fails at collection time, one test file at a time, often
//! only in CI; a static pass names every one with its fix, in a second.
//!
//! Example: `tests/test_perf.py` has
//! `from src.agent_orchestration.performance.response_time_monitor import get_monitor`
//! while `src/agent_orchestration/performance.py` is a file:
//! `tests/test_perf.py:1:1: error[unresolved-imports]: cannot import
//! 'src.agent_orchestration.performance.response_time_monitor':
//! 'src.agent_orchestration.performance' is a module, not a package (fix: fixer apply
//! module-to-package --set module=src.agent_orchestration.performance --set
//! submodule=response_time_monitor)`.
//!
//! What it does not judge: imports whose first name is not a project module or package
//! (third-party and standard library), imports inside a `try` that catches ImportError
//! (the code expects them to fail), names of modules whose namespace is built at run
//! time (`globals()`, `sys.modules`, `exec`, module `__getattr__`), files that do not
//! parse. Most modules are read without a parse (see [`crate::project_imports`]'s
//! `scan`): in those, a syntax error inside an expression or an unread body goes
//! unseen and the file is judged. It changes no file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::actions::{Action, ActionArgs, ProjectAction};
use crate::diag::{Finding, Severity, UserError};
use crate::engine::Workspace;
use crate::fast_hash::{FastHash, IdMap};
use crate::project_imports::{ImportSite, Loc, ModInfo, Resolver, Unresolved, MODULE_DUNDERS};

pub fn build(args: ActionArgs) -> Result<Action, String> {
    args.finish("unresolved-imports")?;
    Ok(Action::Project(Box::new(UnresolvedImports)))
}

pub struct UnresolvedImports;

impl ProjectAction for UnresolvedImports {
    fn run(&self, ws: &Workspace, recipe: &str) -> Result<Vec<Finding>, UserError> {
        let r = Resolver::new(ws);
        let files: Vec<PathBuf> = ws.python_files().iter().map(|p| r.layout.abs(p)).collect();
        let mut findings: Vec<Finding> = files
            .par_iter()
            .flat_map_iter(|f| {
                // A module that does not parse is not judged: reported as skipped when
                // it holds an import (one this run could not check).
                if !r.module_info(f).parsed {
                    if let Some(skipped) = r
                        .read(f)
                        .filter(|t| t.contains("import"))
                        .and_then(|t| crate::engine::Skipped::unparsable(&t, recipe, false))
                    {
                        ws.skip_with(&r.layout.ws_path(f), skipped);
                    }
                }
                check_file(&r, f, recipe)
            })
            .collect();
        let checked: HashSet<(PathBuf, usize)> =
            findings.iter().map(|f| (f.path.clone(), f.line)).collect();
        let cycles = cycles(&r, &files, rayon::current_num_threads(), recipe);
        findings.extend(
            cycles
                .into_iter()
                .filter(|f| !checked.contains(&(f.path.clone(), f.line))),
        );
        Ok(findings)
    }
}

fn finding(
    r: &Resolver<'_>,
    file: &Path,
    site: &ImportSite,
    recipe: &str,
    message: String,
) -> Finding {
    Finding {
        path: r.layout.ws_path(file),
        line: site.line,
        column: site.column,
        recipe: recipe.to_owned(),
        severity: Severity::Error,
        message,
    }
}

/// The import problems of one file.
pub fn check_file(r: &Resolver<'_>, file: &Path, recipe: &str) -> Vec<Finding> {
    let info = r.module_info(file);
    let mut out = Vec::new();
    for site in &info.imports {
        if site.guarded {
            continue;
        }
        if site.level == 0 {
            let top = site.module.split('.').next().unwrap_or(&site.module);
            if !r.is_project_top(top, Some(file)) {
                continue;
            }
        }
        let shown = format!("{}{}", ".".repeat(site.level), site.module);
        let resolved = if site.level == 0 {
            r.resolve(&site.module, Some(file))
        } else {
            r.resolve_relative(file, site.level, &site.module)
        };
        let loc = match resolved {
            Ok(loc) => loc,
            Err(why) => {
                if let Some(m) = module_problem(r, file, site, &shown, &why) {
                    out.push(finding(r, file, site, recipe, m));
                }
                continue;
            }
        };
        if !site.from || site.star {
            continue;
        }
        for (name, _) in &site.names {
            if r.has_name(&loc, name) {
                continue;
            }
            let place = loc
                .file()
                .map(|f| format!(" ({})", r.layout.show(f)))
                .unwrap_or_default();
            let mut m = format!("cannot import name '{name}' from '{shown}'{place}");
            if let Some(near) = near_names(r, &loc, name) {
                m.push_str(&format!(" (did you mean '{near}'?)"));
            }
            out.push(finding(r, file, site, recipe, m));
        }
    }
    out
}

fn module_problem(
    r: &Resolver<'_>,
    file: &Path,
    site: &ImportSite,
    shown: &str,
    why: &Unresolved,
) -> Option<String> {
    match why {
        Unresolved::NotAPackage {
            module,
            file: module_file,
            next,
        } => {
            let mut m = format!("cannot import '{shown}': '{module}' is a module, not a package");
            // The fix applies when the missing submodule is the last part and the module
            // has every name the import wants from it.
            let last = shown.rsplit('.').next().unwrap_or(shown);
            let names_ok = !site.from
                || site.star
                || site
                    .names
                    .iter()
                    .all(|(n, _)| r.has_name(&Loc::File(module_file.clone()), n));
            if last == next && !names_ok {
                let missing: Vec<String> = site
                    .names
                    .iter()
                    .filter(|(n, _)| !r.has_name(&Loc::File(module_file.clone()), n))
                    .map(|(n, _)| format!("'{n}'"))
                    .collect();
                m.push_str(&format!(
                    "; {} does not define {}, so making it a package would not help",
                    r.layout.show(module_file),
                    missing.join(", ")
                ));
            }
            if last == next && names_ok && crate::project_imports::is_identifier(next) {
                let absolute = if module.starts_with('.') {
                    r.module_name(module_file).map(|(n, _)| n)
                } else {
                    Some(module.clone())
                };
                if let Some(abs) = absolute {
                    m.push_str(&format!(
                        " (fix: fixer apply module-to-package --set module={abs} --set submodule={next})"
                    ));
                }
            }
            Some(m)
        }
        Unresolved::Missing { module, parent } => {
            if parent.as_ref().is_some_and(|p| installs_import_hook(r, p)) {
                // Its submodules come from an import hook (`tlz` maps `tlz.x` to
                // `cytoolz.x` or `toolz.x`): nothing to judge by reading files.
                return None;
            }
            let mut m = format!("cannot import '{shown}': no module named '{module}'");
            if let Some(p) = parent {
                let last = module.rsplit('.').next().unwrap_or(module);
                if let Some(near) = near_names(r, p, last) {
                    m.push_str(&format!(" (did you mean '{near}'?)"));
                }
            }
            Some(m)
        }
        Unresolved::BeyondTopLevel { package } => Some(format!(
            "cannot import '{shown}': attempted relative import beyond top-level package \
             '{package}'"
        )),
        Unresolved::BeyondRoot => Some(format!(
            "cannot import '{shown}': the relative import climbs above the project root {}",
            r.layout.show(r.layout.root_of(&r.layout.abs(file)))
        )),
    }
}

/// Does the package `p` make its own submodules at import time: its `__init__.py` (or a
/// module beside it) installs an import hook (`sys.meta_path`, `sys.path_hooks`) or
/// rewrites its `__path__`?
fn installs_import_hook(r: &Resolver<'_>, p: &Loc) -> bool {
    let Loc::Package { dir, .. } = p else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(r.layout.abs(dir)) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        path.extension().is_some_and(|x| x == "py")
            && r.read(&path).is_some_and(|t| {
                t.contains("meta_path") || t.contains("path_hooks") || t.contains("__path__ =")
            })
    })
}

/// The closest name a module has (binding or submodule), for "did you mean".
fn near_names(r: &Resolver<'_>, loc: &Loc, name: &str) -> Option<String> {
    let mut known: Vec<String> = Vec::new();
    for d in loc.dirs() {
        for n in r.list(&d).iter() {
            let stem = n.strip_suffix(".py").unwrap_or(n);
            if crate::project_imports::is_identifier(stem) && stem != "__init__" {
                known.push(stem.to_owned());
            }
        }
    }
    if let Some(f) = loc.file() {
        known.extend(r.module_info(f).bound.keys().cloned());
    }
    let near = crate::diag::closest(name, known.iter().map(String::as_str));
    near.iter()
        .find(|n| strsim::jaro_winkler(name, n) > 0.85 && **n != name)
        .map(|n| (*n).to_owned())
}

/// One thing an import statement does when it runs.
#[derive(Debug, Clone)]
enum Step {
    /// Import the module in `file` (a no-op when already imported); then bind `attr`
    /// on the parent package.
    Exec {
        file: PathBuf,
        parent: Option<PathBuf>,
    },
    /// `from <module> import name`.
    FromName {
        module: PathBuf,
        loc: Loc,
        name: String,
        site: usize,
        guarded: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Unseen,
    Running(usize),
    Done,
}

/// A [`Step`] with modules as indices, for a fast simulation.
#[derive(Debug, Clone)]
enum IStep {
    Exec {
        file: usize,
        parent: Option<usize>,
    },
    FromName {
        module: usize,
        /// The import-time event of `module` before which `name` is bound
        /// ([`ModInfo::bound`]), looked up once.
        bound_at: Option<usize>,
        /// `name` can always be imported from `module` (a dynamic or unparsed module, a
        /// module dunder).
        always: bool,
        /// The submodule `name` names: `Some(Some(id))` a file, `Some(None)` a
        /// namespace package, `None` none.
        sub: Option<Option<usize>>,
        name: String,
        site: usize,
        guarded: bool,
    },
}

/// The modules of the simulation, interned, and their steps, planned once.
struct Sim<'a, 'w> {
    r: &'a Resolver<'w>,
    ids: HashMap<PathBuf, usize>,
    paths: Vec<PathBuf>,
    infos: Vec<Arc<ModInfo>>,
    steps: Vec<Option<Arc<Vec<Vec<IStep>>>>>,
}

/// Import cycles that fail, found by executing every project module's import-time
/// imports in order, each module as the first one imported.
fn cycles(r: &Resolver<'_>, files: &[PathBuf], jobs: usize, recipe: &str) -> Vec<Finding> {
    let mut sim = Sim {
        r,
        ids: HashMap::new(),
        paths: Vec::new(),
        infos: Vec::new(),
        steps: Vec::new(),
    };
    // Only a module in an import cycle can meet a partially initialized module, and
    // entering a cycle from outside is entering it at one of its members: simulate each
    // member of a cycle as the first module imported.
    let file_ids: Vec<usize> = files.iter().map(|f| sim.id(f)).collect();
    let entries = cycle_members(&mut sim, &file_ids);
    // Each entry: the packages above it (parents first, as `import a.b.c` runs
    // `a/__init__.py` and `a/b/__init__.py`), then the module.
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for (f, &fid) in files.iter().zip(&file_ids) {
        if !entries.contains(&fid) {
            continue;
        }
        // Up to the import root the module is named from: a directory without an
        // `__init__.py` inside a package (a namespace portion, `flask/sansio/`) does
        // not stop the walk, since `import flask.sansio.scaffold` still runs
        // `flask/__init__.py` first.
        let base = r
            .module_name(f)
            .map(|(_, root)| root)
            .unwrap_or_else(|| r.package_base(f));
        let mut inits: Vec<PathBuf> = f
            .ancestors()
            .skip(1)
            .take_while(|d| d.starts_with(&base) && *d != base)
            .map(|d| d.join("__init__.py"))
            .filter(|i| r.is_file(i) && i != f)
            .collect();
        inits.reverse();
        let mut chain: Vec<usize> = inits.iter().map(|i| sim.id(i)).collect();
        chain.push(fid);
        runs.push(chain);
    }
    // Plan every module a run can reach, so that the runs only read the plan.
    let mut queue: Vec<usize> = runs.iter().flatten().copied().collect();
    let mut planned = vec![false; sim.paths.len()];
    while let Some(f) = queue.pop() {
        if planned.len() <= f {
            planned.resize(f + 1, false);
        }
        if std::mem::replace(&mut planned[f], true) {
            continue;
        }
        queue.extend(sim.steps_of(f).iter().flatten().filter_map(IStep::module));
    }
    let plan = Plan {
        paths: &sim.paths,
        infos: &sim.infos,
        steps: sim
            .steps
            .iter()
            .map(|s| s.clone().unwrap_or_default())
            .collect(),
    };
    // The runs are independent: spread over threads (deep import chains recurse deeply,
    // hence the large stacks), then merged in order, the first message for a site kept.
    let threads = jobs.clamp(1, runs.len().max(1));
    let per_thread: Vec<Vec<(usize, Failures)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .filter_map(|t| {
                let (plan, runs) = (&plan, &runs);
                std::thread::Builder::new()
                    .stack_size(256 << 20)
                    .spawn_scoped(scope, move || {
                        let mut run = Run::new(plan);
                        (t..runs.len())
                            .step_by(threads)
                            .map(|k| (k, run.entry(&runs[k])))
                            .collect()
                    })
                    .ok()
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut by_run: Vec<(usize, Failures)> = per_thread.into_iter().flatten().collect();
    by_run.sort_by_key(|(k, _)| *k);
    // The modules each entry's run failed in: a cycle whose every member fails as the
    // first one imported (the package's `__init__` runs first in each) always fails.
    let mut failed_in: HashMap<usize, HashSet<usize>> = HashMap::new();
    for (k, found) in &by_run {
        if let Some(&entry) = runs[*k].last() {
            failed_in
                .entry(entry)
                .or_default()
                .extend(found.keys().map(|(file, _)| *file));
        }
    }
    let mut failures: BTreeMap<(PathBuf, usize), CycleFailure> = BTreeMap::new();
    for (_, found) in by_run {
        for ((file, site), failure) in found {
            failures
                .entry((sim.paths[file].clone(), site))
                .or_insert(failure);
        }
    }
    let name = |id: usize| {
        let file = &sim.paths[id];
        r.module_name(file)
            .map(|(n, _)| n)
            .unwrap_or_else(|| r.layout.show(file))
    };
    failures
        .into_iter()
        .filter_map(|((file, site), failure)| {
            let info = r.module_info(&file);
            let s = info.imports.get(site)?;
            let members: HashSet<usize> = failure.chain.iter().copied().collect();
            let always = members.iter().all(|m| {
                failed_in
                    .get(m)
                    .is_some_and(|f| f.iter().any(|x| members.contains(x)))
            });
            let chain: Vec<String> = failure.chain.iter().map(|&m| name(m)).collect();
            let partial = name(failure.chain[0]);
            let head = format!(
                "cannot import name '{}' from partially initialized module '{partial}' (import chain: {}",
                failure.name,
                chain.join(" -> ")
            );
            let mut f = if always {
                finding(r, &file, s, recipe, format!("circular import: {head}; whichever of them is imported first)"))
            } else {
                // Another order works: latent, a warning.
                let before = chain.get(1).cloned().unwrap_or_default();
                finding(
                    r,
                    &file,
                    s,
                    recipe,
                    format!("circular import, latent: {head}; fails when '{partial}' is imported before '{before}')"),
                )
            };
            if !always {
                f.severity = Severity::Warning;
            }
            Some(f)
        })
        .collect()
}

impl IStep {
    /// The module this step may execute, if any.
    fn module(&self) -> Option<usize> {
        match self {
            IStep::Exec { file, .. } => Some(*file),
            IStep::FromName {
                sub: Some(Some(s)), ..
            } => Some(*s),
            IStep::FromName { .. } => None,
        }
    }
}

impl Sim<'_, '_> {
    fn id(&mut self, file: &Path) -> usize {
        if let Some(&i) = self.ids.get(file) {
            return i;
        }
        let i = self.paths.len();
        self.ids.insert(file.to_path_buf(), i);
        self.paths.push(file.to_path_buf());
        self.infos.push(self.r.module_info(file));
        self.steps.push(None);
        i
    }

    fn steps_of(&mut self, id: usize) -> Arc<Vec<Vec<IStep>>> {
        if let Some(s) = &self.steps[id] {
            return s.clone();
        }
        let file = self.paths[id].clone();
        let info = self.infos[id].clone();
        let planned = plan(self.r, &file, &info);
        let mut out = Vec::with_capacity(planned.len());
        for event in planned {
            let mut steps = Vec::with_capacity(event.len());
            for step in event {
                steps.push(match step {
                    Step::Exec { file, parent } => IStep::Exec {
                        file: self.id(&file),
                        parent: parent.map(|p| self.id(&p)),
                    },
                    Step::FromName {
                        module,
                        loc,
                        name,
                        site,
                        guarded,
                    } => {
                        let sub = self
                            .r
                            .submodule(&loc, &name)
                            .map(|l| l.file().map(Path::to_path_buf));
                        let module = self.id(&module);
                        let info = &self.infos[module];
                        IStep::FromName {
                            module,
                            bound_at: info.bound.get(&name).copied(),
                            always: info.dynamic
                                || !info.parsed
                                || MODULE_DUNDERS.contains(&name.as_str()),
                            sub: sub.map(|f| f.map(|f| self.id(&f))),
                            name,
                            site,
                            guarded,
                        }
                    }
                });
            }
            out.push(steps);
        }
        let steps = Arc::new(out);
        self.steps[id] = Some(steps.clone());
        steps
    }
}

/// Failures of one run: (module id, import site) -> message.
/// (module id, import site) -> what failed there, for one entry.
type Failures = BTreeMap<(usize, usize), CycleFailure>;

/// A `from M import name` that met `M` partially initialized.
#[derive(Clone)]
struct CycleFailure {
    name: String,
    /// The import chain, module ids: the partially initialized module first and last.
    chain: Vec<usize>,
}

/// The planned simulation, read-only.
struct Plan<'a> {
    paths: &'a [PathBuf],
    infos: &'a [Arc<ModInfo>],
    steps: Vec<Arc<Vec<Vec<IStep>>>>,
}

/// One thread's simulation state, reset for each entry.
struct Run<'p, 'a> {
    plan: &'p Plan<'a>,
    status: Vec<(u32, Status)>,
    generation: u32,
    attrs: IdMap<HashSet<String, FastHash>>,
    stack: Vec<usize>,
    /// (module id, import site) -> message, for the current entry.
    failures: Failures,
    entry: usize,
}

impl<'p, 'a> Run<'p, 'a> {
    fn new(plan: &'p Plan<'a>) -> Self {
        Run {
            plan,
            status: vec![(0, Status::Unseen); plan.paths.len()],
            generation: 0,
            attrs: IdMap::default(),
            stack: Vec::new(),
            failures: BTreeMap::new(),
            entry: 0,
        }
    }

    /// Imports `chain` in order (the packages above the entry, then the entry) into a
    /// fresh interpreter; the failures met.
    fn entry(&mut self, chain: &[usize]) -> Failures {
        self.generation += 1;
        self.attrs.clear();
        self.stack.clear();
        self.entry = chain.last().copied().unwrap_or_default();
        let mut parent = None;
        for &id in chain {
            self.exec(id, parent);
            parent = Some(id);
        }
        std::mem::take(&mut self.failures)
    }

    fn status(&self, id: usize) -> Status {
        match self.status[id] {
            (g, s) if g == self.generation => s,
            _ => Status::Unseen,
        }
    }

    fn set_status(&mut self, id: usize, s: Status) {
        self.status[id] = (self.generation, s);
    }

    fn exec(&mut self, id: usize, parent: Option<usize>) {
        if self.status(id) != Status::Unseen {
            return;
        }
        let plan = self.plan;
        let steps = &plan.steps[id];
        self.stack.push(id);
        for (i, event) in steps.iter().enumerate() {
            self.set_status(id, Status::Running(i));
            for step in event {
                self.step(id, step);
            }
        }
        self.set_status(id, Status::Done);
        self.stack.pop();
        if let Some(p) = parent {
            if let Some(attr) = module_attr(&self.plan.paths[id]) {
                self.attrs.entry(p).or_default().insert(attr);
            }
        }
    }

    fn step(&mut self, file: usize, step: &IStep) {
        match step {
            IStep::Exec { file: f, parent } => self.exec(*f, *parent),
            IStep::FromName {
                module,
                bound_at,
                always,
                sub,
                name,
                site,
                guarded,
            } => {
                let module = *module;
                let plan = self.plan;
                let info = &plan.infos[module];
                let status = self.status(module);
                let bound_now = match status {
                    Status::Running(at) => {
                        bound_at.is_some_and(|b| b <= at)
                            || info.star_events.iter().any(|&s| s <= at)
                    }
                    Status::Done => bound_at.is_some() || !info.stars.is_empty(),
                    Status::Unseen => false,
                };
                if bound_now || *always || self.attrs.get(&module).is_some_and(|a| a.contains(name))
                {
                    return;
                }
                if let Some(sub) = sub {
                    if let Some(f) = sub {
                        self.exec(*f, Some(module));
                    }
                    return;
                }
                if *guarded || !matches!(status, Status::Running(_)) {
                    return;
                }
                let key = (file, *site);
                if self.failures.contains_key(&key) {
                    return;
                }
                let from = self.stack.iter().position(|p| *p == module).unwrap_or(0);
                let mut chain: Vec<usize> = self.stack[from..].to_vec();
                chain.push(module);
                self.failures.insert(
                    key,
                    CycleFailure {
                        name: name.clone(),
                        chain,
                    },
                );
            }
        }
    }
}

/// The attribute a module becomes on its parent package.
fn module_attr(file: &Path) -> Option<String> {
    let name = file.file_name()?.to_str()?;
    if name == "__init__.py" {
        file.parent()?.file_name()?.to_str().map(str::to_owned)
    } else {
        name.strip_suffix(".py").map(str::to_owned)
    }
}

/// The steps of every import-time event of a module, resolved once.
fn plan(r: &Resolver<'_>, file: &Path, info: &ModInfo) -> Vec<Vec<Step>> {
    let mut out = Vec::with_capacity(info.events.len());
    for ev in &info.events {
        let crate::project_imports::Event::Import(idx) = ev;
        let site = &info.imports[*idx];
        let mut steps = Vec::new();
        // The chain of modules the statement imports, parents first.
        let mut chain: Vec<Loc> = Vec::new();
        if site.level == 0 {
            let top = site.module.split('.').next().unwrap_or(&site.module);
            if !r.is_project_top(top, Some(file)) {
                out.push(steps);
                continue;
            }
            let parts: Vec<&str> = site.module.split('.').collect();
            for k in 1..=parts.len() {
                match r.resolve(&parts[..k].join("."), Some(file)) {
                    Ok(loc) => chain.push(loc),
                    Err(_) => break,
                }
            }
            if chain.len() != parts.len() {
                out.push(steps);
                continue;
            }
        } else {
            let Ok(base) = r.relative_base(file, site.level) else {
                out.push(steps);
                continue;
            };
            chain.push(r.dir_loc(&base));
            if !site.module.is_empty() {
                let parts: Vec<&str> = site.module.split('.').collect();
                for k in 1..=parts.len() {
                    match r.resolve_relative(file, site.level, &parts[..k].join(".")) {
                        Ok(loc) => chain.push(loc),
                        Err(_) => break,
                    }
                }
                if chain.len() != parts.len() + 1 {
                    out.push(steps);
                    continue;
                }
            }
        }
        let mut parent: Option<PathBuf> = None;
        for loc in &chain {
            if let Some(f) = loc.file() {
                if matches!(loc, Loc::File(_) | Loc::Package { .. }) {
                    steps.push(Step::Exec {
                        file: f.to_path_buf(),
                        parent: parent.clone(),
                    });
                }
                parent = Some(f.to_path_buf());
            } else {
                parent = None;
            }
        }
        if site.from && !site.star {
            if let Some(last) = chain.last() {
                if let Some(module) = last.file() {
                    for (name, _) in &site.names {
                        steps.push(Step::FromName {
                            module: module.to_path_buf(),
                            loc: last.clone(),
                            name: name.clone(),
                            site: *idx,
                            guarded: site.guarded,
                        });
                    }
                }
            }
        }
        out.push(steps);
    }
    out
}

/// The modules that are part of an import cycle (a strongly connected component of more
/// than one module, or a module importing itself), by Tarjan's algorithm.
fn cycle_members(sim: &mut Sim<'_, '_>, files: &[usize]) -> HashSet<usize> {
    // Nodes: every module reached from the files (interned as they are planned).
    let mut queue: Vec<usize> = files.to_vec();
    let mut seen: HashSet<usize> = HashSet::new();
    while let Some(f) = queue.pop() {
        if !seen.insert(f) {
            continue;
        }
        queue.extend(sim.steps_of(f).iter().flatten().filter_map(IStep::module));
    }
    let n = sim.paths.len();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in edges.iter_mut().enumerate() {
        if let Some(steps) = &sim.steps[i] {
            e.extend(steps.iter().flatten().filter_map(IStep::module));
        }
    }
    // Iterative Tarjan.
    let mut idx = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut counter = 0;
    let mut members = HashSet::new();
    for start in 0..n {
        if idx[start] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(start, 0)];
        idx[start] = counter;
        low[start] = counter;
        counter += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut next)) = work.last_mut() {
            if *next < edges[v].len() {
                let w = edges[v][*next];
                *next += 1;
                if idx[w] == usize::MAX {
                    idx[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(idx[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(u, _)) = work.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == idx[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 || edges[v].contains(&v) {
                    members.extend(component);
                }
            }
        }
    }
    members
}
