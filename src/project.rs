//! The Python project behind the files: where imports resolve from (the walked roots,
//! their `src/` directories, and the directory above each top-level package), and the
//! module name of a file. Actions use it to follow imports across files.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct Project {
    /// Directories that act as `sys.path` entries, most specific first.
    pub import_roots: Vec<PathBuf>,
}

impl Project {
    pub fn new(walk_roots: &[PathBuf]) -> Project {
        let mut import_roots = Vec::new();
        for root in walk_roots {
            let dir = if root.is_dir() {
                root.clone()
            } else {
                root.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            };
            let src = dir.join("src");
            if src.is_dir() {
                import_roots.push(crate::select::clean(&src));
            }
            import_roots.push(crate::select::clean(&dir));
        }
        import_roots.dedup();
        Project { import_roots }
    }

    /// The directory above the outermost package that contains `file` (its `sys.path`
    /// entry when the package is imported by its full name).
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

    /// Every dotted name under which `file` can be imported from the import roots and
    /// its package base, most specific (shortest) first.
    pub fn module_names(&self, file: &Path) -> Vec<String> {
        let mut bases: Vec<PathBuf> = self.import_roots.clone();
        bases.push(Project::package_base(file));
        let mut names: Vec<String> = bases
            .iter()
            .filter_map(|b| module_name_under(b, file))
            .collect();
        names.sort_by_key(|n| (n.len(), n.clone()));
        names.dedup();
        names
    }

    /// The file of an absolute module name, if it is part of the project: `a/b.py` or
    /// `a/b/__init__.py` under an import root or `from_file`'s package base.
    pub fn resolve(&self, module: &str, from_file: Option<&Path>) -> Option<PathBuf> {
        let rel: PathBuf = module.split('.').collect();
        let mut bases = self.import_roots.clone();
        if let Some(f) = from_file {
            bases.push(Project::package_base(f));
        }
        for base in bases {
            let file = base.join(&rel).with_extension("py");
            if file.is_file() {
                return Some(crate::select::clean(&file));
            }
            let init = base.join(&rel).join("__init__.py");
            if init.is_file() {
                return Some(crate::select::clean(&init));
            }
        }
        None
    }

    /// The absolute name of a relative import (`from ..a import b` in `from_file`):
    /// `level` dots and the module text after them.
    pub fn absolute_name(&self, from_file: &Path, level: usize, rest: &str) -> Option<String> {
        let own = self.module_names(from_file).into_iter().last()?;
        let mut parts: Vec<&str> = own.split('.').collect();
        let is_package = from_file.file_name().is_some_and(|n| n == "__init__.py");
        // The package of a module is its name minus the last part; a package is its own.
        let drop = if is_package { level - 1 } else { level };
        if drop > parts.len() {
            return None;
        }
        parts.truncate(parts.len() - drop);
        if !rest.is_empty() {
            parts.push(rest);
        }
        (!parts.is_empty()).then(|| parts.join("."))
    }
}

fn module_name_under(base: &Path, file: &Path) -> Option<String> {
    let rel = if base == Path::new(".") && file.is_relative() {
        file
    } else {
        file.strip_prefix(base).ok()?
    };
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".py")?;
    if stem != "__init__" {
        parts.push(stem.to_owned());
    }
    if parts.is_empty()
        || parts
            .iter()
            .any(|p| p == ".." || p.contains('-') || p.contains(' '))
    {
        return None;
    }
    Some(parts.join("."))
}

/// The site-packages directories of a virtualenv (or of the environment of `python`).
pub fn site_packages(venv: &Path) -> Vec<PathBuf> {
    let mut sites = Vec::new();
    for lib in ["lib", "lib64"] {
        if let Ok(entries) = std::fs::read_dir(venv.join(lib)) {
            for e in entries.flatten() {
                let site = e.path().join("site-packages");
                if e.file_name().to_string_lossy().starts_with("python") && site.is_dir() {
                    sites.push(site);
                }
            }
        }
    }
    let win = venv.join("Lib").join("site-packages");
    if win.is_dir() {
        sites.push(win);
    }
    sites
}
