//! The result cache: what a recipe's per-file stage found in a file, kept between runs so
//! that `fixer check` (and `apply`, `apply --dry-run`) does not read and analyse again a
//! file nothing has changed for.
//!
//! An entry is one file's result for one recipe. It is used when all of these are as
//! they were when it was stored:
//! - the file's content (its hash; a file whose size, modification time and inode are
//!   those recorded, and which was last modified well before the entry was stored, is
//!   not even read, as git trusts its index);
//! - the recipe: its TOML text and its parameters, which is where the configuration that
//!   governs the file (its `[recipes.ID]` parameters) and `--set` reach it;
//! - fixer's build: version, commit, and the executable's size and modification time;
//! - for a recipe whose per-file stage looks beyond the file (hoist-imports reads the
//!   conftests above it, the project's import graph and the installed environment): the
//!   whole project as well, as the size, modification time and inode of every Python
//!   and configuration file under each project root, the environment's site-packages
//!   directories and `VIRTUAL_ENV`. Any edit to a Python file of the project makes such
//!   a recipe analyse every file again once. A run given only files (pre-commit) does
//!   not cache such a recipe: the key would cost a walk of the whole project, to spare
//!   the analysis of a few files.
//!
//! Only results that are final for the file are stored: nothing to do, no change (with
//! the findings), not parsed (with why), and, for `check` without a diff, "pending with N
//! edits". A change itself is never cached: its text is made again. Project-wide actions
//! (move-module, lazy-settings, ...) are not cached at all: they run every time.
//!
//! The cache lives in `.fixer_cache/` at the project root (`--cache-dir`,
//! `FIXER_CACHE_DIR`), with a `.gitignore` of `*` inside, one directory per build and one
//! file per recipe and parameters. A file that cannot be read, is corrupt or was made by
//! another build is ignored and rebuilt, never an error; each is replaced by a rename, so
//! two runs at once leave one or the other's, whole.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::diag::{Finding, Severity};

/// The default cache directory's name, at the project root.
pub const DIR_NAME: &str = ".fixer_cache";
/// Bumped whenever what an entry holds changes meaning.
const FORMAT: u32 = 2;
/// A file modified less than this before the run that stored its entry began may have
/// changed again within the same timestamp: its content is hashed, not trusted by stat.
const RACY_NS: i128 = 2_000_000_000;

/// A file's identity on disk, as `stat` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    size: u64,
    mtime_ns: i128,
    ino: u64,
}

impl Stamp {
    pub fn of(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp::from_meta(&m))
    }

    fn from_meta(m: &std::fs::Metadata) -> Stamp {
        let mtime_ns = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(m);
        #[cfg(not(unix))]
        let ino = 0;
        Stamp {
            size: m.len(),
            mtime_ns,
            ino,
        }
    }
}

/// A finding of the file the entry is about, by its recipe.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Found {
    line: usize,
    column: usize,
    severity: Severity,
    message: String,
}

/// What the per-file stage of a recipe came to on a file, as far as it is stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Stored {
    /// Nothing to do: the prefilter or a suppression ruled the file out.
    Nothing,
    /// Not processed: why, and the line of the syntax error (0: none).
    Skip(String, usize),
    /// Looked at, not changed; the findings.
    Clean(Vec<Found>),
    /// Would change with this many edits, as the first pass (`check` without a diff)
    /// counts them; the findings.
    Pending(usize, Vec<Found>),
}

/// What a cached result hands back to the engine.
pub enum Hit {
    Nothing,
    Skip(String, usize),
    Done {
        pending: Option<usize>,
        findings: Vec<Finding>,
    },
}

impl Stored {
    /// The result to store for a file `recipe` looked at (`pending`: the edits of its
    /// change, if any), `None` when it is not to be stored (findings about other files,
    /// a change whose text would be needed).
    pub fn done(
        path: &Path,
        recipe: &str,
        pending: Option<usize>,
        findings: &[Finding],
        first_pass_only: bool,
    ) -> Option<Stored> {
        let found = findings
            .iter()
            .map(|f| {
                (f.path == path && f.recipe == recipe).then(|| Found {
                    line: f.line,
                    column: f.column,
                    severity: f.severity,
                    message: f.message.clone(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        match pending {
            None => Some(Stored::Clean(found)),
            Some(n) if first_pass_only => Some(Stored::Pending(n, found)),
            Some(_) => None,
        }
    }

    fn hit(&self, path: &Path, recipe: &str, first_pass_only: bool) -> Option<Hit> {
        let findings = |found: &[Found]| {
            found
                .iter()
                .map(|f| Finding {
                    path: path.to_path_buf(),
                    line: f.line,
                    column: f.column,
                    recipe: recipe.to_owned(),
                    severity: f.severity,
                    message: f.message.clone(),
                })
                .collect()
        };
        Some(match self {
            Stored::Nothing => Hit::Nothing,
            Stored::Skip(why, line) => Hit::Skip(why.clone(), *line),
            Stored::Clean(found) => Hit::Done {
                pending: None,
                findings: findings(found),
            },
            Stored::Pending(n, found) if first_pass_only => Hit::Done {
                pending: Some(*n),
                findings: findings(found),
            },
            Stored::Pending(..) => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    /// When the run that read the file for this entry began (ns since the epoch): a
    /// file modified less than [`RACY_NS`] before may have changed again unseen.
    since: i128,
    hash: u64,
    /// The project's fingerprint, for a recipe that looks beyond the file.
    context: Option<u64>,
    result: Stored,
}

/// One recipe's entries, as one file on disk.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    format: u32,
    build: String,
    recipe: String,
    entries: HashMap<PathBuf, Entry>,
}

/// One recipe's entries: those read at the start, those of this run.
struct Store {
    path: PathBuf,
    recipe: String,
    /// Entries read.
    old: HashMap<PathBuf, Entry>,
    /// Entries this run made or dropped (a hit by stamp changes nothing).
    new: Mutex<HashMap<PathBuf, Option<Entry>>>,
}

/// How a lookup went: a result, or what to record once the file is done.
pub enum Probe {
    Hit(Hit),
    Miss(Miss),
}

/// The cache of one recipe's per-file stage (see [`Cache::stage`]).
pub struct Stage<'c> {
    cache: &'c Cache,
    /// The walked files' stamps, by index.
    stamps: &'c [Option<Stamp>],
    store: Arc<Store>,
    /// The project's fingerprint, for a recipe that looks beyond the file.
    context: Option<u64>,
}

impl Stage<'_> {
    /// Looks up the walked file `index` (at `path`). A hit by stamp reads nothing and
    /// leaves the entry as it is.
    pub fn probe(&self, (index, path): (usize, &Path), first_pass_only: bool) -> Probe {
        let store = &self.store;
        let key = self.cache.cwd.join(path);
        let stamp = self.stamps.get(index).copied().flatten();
        if let (Some(stamp), Some(old)) = (stamp, store.old.get(&key)) {
            let trusted = old.stamp == stamp && stamp.mtime_ns + RACY_NS < old.since;
            if trusted && old.context == self.context {
                if let Some(hit) = old.result.hit(path, &store.recipe, first_pass_only) {
                    return Probe::Hit(hit);
                }
            }
        }
        Probe::Miss(Miss {
            store: store.clone(),
            key,
            stamp,
            context: self.context,
            since: self.cache.started_ns,
        })
    }
}

/// A file not answered by its stamp alone.
pub struct Miss {
    store: Arc<Store>,
    key: PathBuf,
    stamp: Option<Stamp>,
    context: Option<u64>,
    since: i128,
}

/// The cache of one run.
pub struct Cache {
    dir: PathBuf,
    build: String,
    started_ns: i128,
    cwd: PathBuf,
    stores: Mutex<HashMap<u64, Arc<Store>>>,
    context: OnceLock<u64>,
    roots: Vec<PathBuf>,
    /// The walked files' stamps, by index, taken when a stage first asks, before it
    /// reads any file.
    stamps: OnceLock<Vec<Option<Stamp>>>,
    context_files: Vec<PathBuf>,
    /// Some root is a directory (not only files, as pre-commit gives).
    walks_dirs: bool,
}

/// The identity of this build of fixer: version, commit, and the executable itself (a
/// rebuild from the same commit is another build), with the debugging knob that makes
/// it parse differently (`FIXER_FULL_PARSE`, whose runs are compared with others').
fn build_id() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| Stamp::of(&p))
        .map(|s| (s.size, s.mtime_ns));
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    exe.hash(&mut h);
    std::env::var_os("FIXER_FULL_PARSE").hash(&mut h);
    format!(
        "{}-{}-{:016x}",
        env!("CARGO_PKG_VERSION"),
        env!("FIXER_BUILD_COMMIT"),
        h.finish()
    )
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// The content hash of a file's text.
pub fn content_hash(text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

impl Cache {
    /// The cache in `dir` (created when first written), for a run over `roots` whose
    /// walk found `context_files` (see [`crate::select::Walk::context_files`]).
    pub fn new(dir: PathBuf, roots: &[PathBuf], context_files: &[PathBuf]) -> Cache {
        Cache {
            dir,
            build: build_id(),
            started_ns: now_ns(),
            cwd: std::env::current_dir().unwrap_or_default(),
            stores: Mutex::new(HashMap::new()),
            context: OnceLock::new(),
            roots: roots.to_vec(),
            stamps: OnceLock::new(),
            context_files: context_files.to_vec(),
            walks_dirs: roots.iter().any(|r| r.is_dir()),
        }
    }

    /// The stamps of the walked `files`, by index, taken once, in parallel.
    fn stamps(&self, files: &crate::select::Files) -> &[Option<Stamp>] {
        use rayon::prelude::*;
        self.stamps.get_or_init(|| {
            (0..files.len())
                .into_par_iter()
                .map(|i| Stamp::of(&files.get(i).path()))
                .collect()
        })
    }

    /// The default directory: `FIXER_CACHE_DIR`, else `.fixer_cache` at the project root
    /// of the current directory (the current directory when there is none).
    pub fn default_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("FIXER_CACHE_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(d);
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        crate::select::project_root(&cwd)
            .unwrap_or(cwd)
            .join(DIR_NAME)
    }

    fn store(&self, recipe: &str, fingerprint: u64) -> Arc<Store> {
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        stores
            .entry(fingerprint)
            .or_insert_with(|| {
                let path = self
                    .dir
                    .join(&self.build)
                    .join(format!("{recipe}-{fingerprint:016x}.json"));
                let read = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<StoreFile>(&b).ok())
                    .filter(|f| f.format == FORMAT && f.build == self.build && f.recipe == recipe);
                Arc::new(Store {
                    path,
                    recipe: recipe.to_owned(),
                    old: read.map(|f| f.entries).unwrap_or_default(),
                    new: Mutex::new(HashMap::new()),
                })
            })
            .clone()
    }

    /// The cache for the per-file stage of a recipe (its id and fingerprint), `None`
    /// when the stage is not to use it. `reads_project`: the stage looks beyond each
    /// file (see [`crate::actions::FileAction::reads_project`]); then it is cached only
    /// on a project as it is on disk (`on_disk`: no earlier recipe of the run changed a
    /// file) and in a run that walks directories (a run given files only, as pre-commit
    /// gives them, analyses just those: the key would cost a walk of the whole project).
    /// `files`: the walked files (the stage's are among them). Runs in the caller's
    /// thread pool.
    pub fn stage<'c>(
        &'c self,
        recipe: &str,
        fingerprint: u64,
        reads_project: bool,
        on_disk: bool,
        files: &crate::select::Files,
    ) -> Option<Stage<'c>> {
        if reads_project && !(on_disk && self.walks_dirs) {
            return None;
        }
        let stamps = self.stamps(files);
        Some(Stage {
            cache: self,
            stamps,
            store: self.store(recipe, fingerprint),
            context: reads_project.then(|| self.context(files, stamps)),
        })
    }

    /// The fingerprint of everything outside a file that a recipe looking beyond it may
    /// read (see the module's doc), made once per run.
    fn context(&self, files: &crate::select::Files, stamps: &[Option<Stamp>]) -> u64 {
        *self
            .context
            .get_or_init(|| self.project_fingerprint(files, stamps))
    }

    /// Writes every store this run used. Failures are ignored: the cache is an aid.
    pub fn save(&self) {
        let stores: Vec<Arc<Store>> = self
            .stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        if stores.is_empty() || self.prepare().is_none() {
            return;
        }
        for store in stores {
            let new = std::mem::take(&mut *store.new.lock().unwrap_or_else(|e| e.into_inner()));
            if new.is_empty() {
                // Used and unchanged: only its age is refreshed (see `prepare`).
                let _ = std::fs::File::options()
                    .write(true)
                    .open(&store.path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                continue;
            }
            let mut entries = store.old.clone();
            for (k, v) in new {
                match v {
                    Some(e) => entries.insert(k, e),
                    None => entries.remove(&k),
                };
            }
            let file = StoreFile {
                format: FORMAT,
                build: self.build.clone(),
                recipe: store.recipe.clone(),
                entries,
            };
            let _ = write_atomic(&store.path, &file);
        }
    }

    /// Makes the cache directory (with its `.gitignore` and `CACHEDIR.TAG`) and this
    /// build's directory in it, and removes those of other builds.
    fn prepare(&self) -> Option<()> {
        let fresh = !self.dir.exists();
        std::fs::create_dir_all(self.dir.join(&self.build)).ok()?;
        if fresh || !self.dir.join(".gitignore").exists() {
            let _ = std::fs::write(
                self.dir.join(".gitignore"),
                "# Made by fixer: its cache is not for version control.\n*\n",
            );
            let _ = std::fs::write(
                self.dir.join("CACHEDIR.TAG"),
                format!(
                    "{TAG_SIGNATURE}\n# This is fixer's cache directory (see fixer's README).\n"
                ),
            );
        }
        if let Ok(dirs) = std::fs::read_dir(&self.dir) {
            for d in dirs.flatten() {
                let stale = d.file_type().is_ok_and(|t| t.is_dir()) && d.file_name() != *self.build;
                if stale {
                    let _ = std::fs::remove_dir_all(d.path());
                }
            }
        }
        // Stores of recipe texts and parameters no run has used for a month go.
        let month = std::time::Duration::from_secs(30 * 24 * 3600);
        if let Ok(files) = std::fs::read_dir(self.dir.join(&self.build)) {
            for f in files.flatten() {
                let old = f
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > month);
                if old {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
        Some(())
    }
}

impl Store {
    fn record(&self, key: PathBuf, entry: Option<Entry>) {
        self.new
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, entry);
    }
}

impl Miss {
    /// The stored result for this exact text, if there is one.
    pub fn by_hash(&self, hash: u64, path: &Path, first_pass_only: bool) -> Option<Hit> {
        let old = self.store.old.get(&self.key)?;
        if old.hash != hash || old.context != self.context {
            return None;
        }
        let hit = old.result.hit(path, &self.store.recipe, first_pass_only)?;
        // The stamp it was read with, from now on trusted once old enough.
        if let Some(stamp) = self.stamp {
            let entry = Entry {
                stamp,
                since: self.since,
                ..old.clone()
            };
            self.store.record(self.key.clone(), Some(entry));
        }
        Some(hit)
    }

    /// Records the result of the file whose text hashed to `hash` (`None`: nothing to
    /// keep, and the old entry goes, unless it is for this very text: a `check`'s
    /// "pending" stays through an `apply --dry-run`, which cannot use it).
    pub fn record(self, hash: u64, result: Option<Stored>) {
        let same = |e: &Entry| e.hash == hash && e.context == self.context;
        if result.is_none() && self.store.old.get(&self.key).is_some_and(same) {
            return;
        }
        let entry = match (self.stamp, result) {
            (Some(stamp), Some(result)) => Some(Entry {
                stamp,
                since: self.since,
                hash,
                context: self.context,
                result,
            }),
            _ => None,
        };
        self.store.record(self.key, entry);
    }

    /// The file is not this run's to cache (an earlier recipe changed it).
    pub fn forget(self) {
        self.store.record(self.key, None);
    }
}

/// The first line of the `CACHEDIR.TAG` fixer writes (the standard's signature).
const TAG_SIGNATURE: &str = "Signature: 8a477f597d28d172789f06886806bc55";

/// Removes the cache directory `dir`; `Ok(false)` when there is none. A directory
/// without fixer's `CACHEDIR.TAG` is not one fixer made, and is left alone (an error).
pub fn remove(dir: &Path) -> Result<bool, crate::diag::UserError> {
    if !dir.exists() {
        return Ok(false);
    }
    let tag = std::fs::read_to_string(dir.join("CACHEDIR.TAG")).unwrap_or_default();
    if !(tag.starts_with(TAG_SIGNATURE) && tag.contains("fixer")) {
        return Err(crate::diag::UserError::new(format!(
            "{} is not a fixer cache (it has no CACHEDIR.TAG of fixer's); left alone",
            crate::output::display_path(dir).display()
        ))
        .help("remove it yourself if it should go, or name the cache with --cache-dir"));
    }
    std::fs::remove_dir_all(dir).map_err(|e| {
        crate::diag::UserError::new(format!(
            "cannot remove {}: {e}",
            crate::output::display_path(dir).display()
        ))
    })?;
    Ok(true)
}

fn write_atomic(path: &Path, file: &StoreFile) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(std::io::BufWriter::new(tmp.as_file_mut()), file)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Files whose change may change what a recipe that looks beyond a file finds: Python
/// sources (the import graph, conftests), `.pth` files, and project configuration.
pub fn counts_for_context(name: &str) -> bool {
    name.ends_with(".py")
        || name.ends_with(".pyi")
        || name.ends_with(".pth")
        || matches!(
            name,
            "pyproject.toml" | "setup.cfg" | "setup.py" | "pytest.ini" | "tox.ini" | "fixer.toml"
        )
}

impl Cache {
    /// The stamps of every file [`counts_for_context`] under the project roots of the
    /// run's roots (as the walk honours `.gitignore`), of the environments'
    /// site-packages directories, and `VIRTUAL_ENV`, as one hash. When the roots are
    /// those project roots, the walk has seen every such file already.
    fn project_fingerprint(&self, files: &crate::select::Files, stamps: &[Option<Stamp>]) -> u64 {
        let abs = |p: &Path| self.cwd.join(p);
        let mut dirs: Vec<PathBuf> = self
            .roots
            .iter()
            .map(|r| {
                let a = abs(r);
                let dir = if a.is_dir() {
                    a
                } else {
                    a.parent().map(Path::to_path_buf).unwrap_or(a)
                };
                crate::select::project_root(&dir).unwrap_or(dir)
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        let outer: Vec<PathBuf> = dirs
            .iter()
            .filter(|d| !dirs.iter().any(|o| o != *d && d.starts_with(o)))
            .cloned()
            .collect();
        let walked_roots: Vec<PathBuf> = self
            .roots
            .iter()
            .filter(|r| r.is_dir())
            .map(|r| crate::git::absolute(r))
            .collect();
        let mut found: Vec<(PathBuf, Option<Stamp>)> = if outer
            .iter()
            .all(|d| walked_roots.contains(&crate::git::absolute(d)))
        {
            files
                .iter()
                .zip(stamps)
                .map(|(f, s)| (abs(&f.path()), *s))
                .chain(self.context_files.iter().map(|p| (abs(p), Stamp::of(p))))
                .collect()
        } else {
            walk_stamps(&outer)
        };
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        found.hash(&mut h);
        let virtual_env = std::env::var_os("VIRTUAL_ENV");
        virtual_env.hash(&mut h);
        let venvs = outer
            .iter()
            .flat_map(|d| [d.join(".venv"), d.join("venv")])
            .chain(virtual_env.map(PathBuf::from));
        for venv in venvs {
            for site in crate::project::site_packages(&venv) {
                (Stamp::of(&site), site).hash(&mut h);
            }
        }
        h.finish()
    }
}

/// The stamps of every file [`counts_for_context`] under `dirs`, walked as the run's
/// walk is.
fn walk_stamps(dirs: &[PathBuf]) -> Vec<(PathBuf, Option<Stamp>)> {
    type Found = Vec<(PathBuf, Option<Stamp>)>;
    /// One walker thread's finds, handed over when it is done.
    struct Collector<'a> {
        local: Found,
        found: &'a Mutex<Found>,
    }
    impl Drop for Collector<'_> {
        fn drop(&mut self) {
            self.found
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&mut self.local);
        }
    }
    let found: Mutex<Found> = Mutex::new(Vec::new());
    for dir in dirs {
        crate::select::walk_builder(dir, true)
            .build_parallel()
            .run(|| {
                let mut c = Collector {
                    local: Vec::new(),
                    found: &found,
                };
                Box::new(move |entry| {
                    let Ok(entry) = entry else {
                        return ignore::WalkState::Continue;
                    };
                    let name = entry.file_name().to_string_lossy();
                    if entry.file_type().is_some_and(|t| t.is_file()) && counts_for_context(&name) {
                        let stamp = entry.metadata().ok().map(|m| Stamp::from_meta(&m));
                        c.local.push((entry.path().to_path_buf(), stamp));
                    }
                    ignore::WalkState::Continue
                })
            });
    }
    found.into_inner().unwrap_or_else(|e| e.into_inner())
}
