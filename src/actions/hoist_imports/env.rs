//! The Python environment fixer can see, to tell whether a third-party module is
//! installed: the active virtualenv (`$VIRTUAL_ENV`), else `.venv` or `venv` at the
//! project root. Its site-packages directories are listed once (top-level modules and
//! packages, `*.dist-info/top_level.txt`, directories named by `.pth` files and the
//! mappings of setuptools' editable finders). No environment found: nothing is known,
//! and every third-party module counts as installed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Installed {
    /// The environment's directory, for notes.
    pub dir: PathBuf,
    names: HashSet<String>,
}

impl Installed {
    /// Is the top-level module `top` installed?
    pub fn has(&self, top: &str) -> bool {
        self.names.contains(top)
    }
}

/// The environment of a project whose root is `root` (`None`: no project root found),
/// if one can be found and read.
pub fn find(root: Option<&Path>) -> Option<Installed> {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .or_else(|| {
            let root = root?;
            [".venv", "venv"]
                .iter()
                .map(|n| root.join(n))
                .find(|p| p.join("pyvenv.cfg").is_file() || p.join("lib").is_dir())
        })?;
    let sites = crate::project::site_packages(&venv);
    if sites.is_empty() {
        return None;
    }
    let mut out = Installed {
        dir: venv,
        names: HashSet::new(),
    };
    for site in &sites {
        list_modules(site, &mut out.names, true);
    }
    Some(out)
}

/// Adds the top-level modules of a `sys.path` directory to `names`; `site` also reads
/// its `.pth` files, `top_level.txt` files and editable finders.
fn list_modules(dir: &Path, names: &mut HashSet<String>, site: bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name();
        let name = file_name.to_string_lossy();
        let path = e.path();
        if path.is_dir() {
            if name.ends_with(".dist-info") || name.ends_with(".egg-info") {
                if let Ok(t) = std::fs::read_to_string(path.join("top_level.txt")) {
                    names.extend(
                        t.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(String::from),
                    );
                }
            } else if !name.contains('.') && !name.contains('-') {
                names.insert(name.into_owned());
            }
            continue;
        }
        if site && name.ends_with(".pth") {
            let Ok(t) = std::fs::read_to_string(&path) else {
                continue;
            };
            for line in t.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if line.starts_with("import ") {
                    continue;
                }
                let p = dir.join(line);
                if p.is_dir() {
                    list_modules(&p, names, false);
                }
            }
            continue;
        }
        if site && name.starts_with("__editable__") && name.ends_with("_finder.py") {
            if let Ok(t) = std::fs::read_to_string(&path) {
                finder_mapping(&t, names);
            }
        }
        for ext in [".py", ".so", ".pyd"] {
            if name.ends_with(ext) {
                let stem = name.split('.').next().unwrap_or("");
                if !stem.is_empty() {
                    names.insert(stem.to_owned());
                }
            }
        }
    }
}

/// The keys of `MAPPING = {'pkg': '...', ...}` in a setuptools editable finder.
fn finder_mapping(text: &str, names: &mut HashSet<String>) {
    let Some(start) = text.find("MAPPING") else {
        return;
    };
    let rest = &text[start..];
    let Some(open) = rest.find('{') else { return };
    let Some(close) = rest[open..].find('}') else {
        return;
    };
    for item in rest[open + 1..open + close].split(',') {
        if let Some((key, _)) = item.split_once(':') {
            let key = key.trim().trim_matches(['\'', '"']);
            if !key.is_empty() {
                names.insert(key.to_owned());
            }
        }
    }
}
