//! What pytest collects, read from its configuration without running it: the rootdir's
//! `norecursedirs`, `testpaths`, `python_files` and `addopts` (`--doctest-modules`,
//! `--ignore`, `--ignore-glob`), from
//! pytest.ini / .pytest.ini / pyproject.toml `[tool.pytest.ini_options]` (or pytest 9's
//! `[tool.pytest]`) / tox.ini `[pytest]` / setup.cfg `[tool:pytest]`; `collect_ignore`
//! and `collect_ignore_glob` of the conftests; nested rootdirs (a directory with a
//! pytest configuration of its own); and the fixture names pytest itself and the plugins
//! fixer can see (`pytest_plugins` modules, installed `pytest11` entry points) define.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// pytest's default `norecursedirs`.
pub const DEFAULT_NORECURSE: &[&str] = &[
    "*.egg",
    ".*",
    "_darcs",
    "build",
    "CVS",
    "dist",
    "node_modules",
    "venv",
    "{arch}",
];

/// Fixtures pytest itself defines (its builtin plugins, pytester's included).
pub const BUILTIN_FIXTURES: &[&str] = &[
    "cache",
    "capfd",
    "capfdbinary",
    "caplog",
    "capsys",
    "capsysbinary",
    "capteesys",
    "doctest_namespace",
    "monkeypatch",
    "pytestconfig",
    "record_property",
    "record_testsuite_property",
    "record_xml_attribute",
    "recwarn",
    "request",
    "subtests",
    "tmp_path",
    "tmp_path_factory",
    "tmpdir",
    "tmpdir_factory",
    "pytester",
    "testdir",
    "linecomp",
    "LineMatcher",
    "_pytest",
];

#[derive(Debug, Clone, Default)]
pub struct PytestConfig {
    /// The file it was read from (`None`: no configuration, pytest's defaults).
    pub file: Option<PathBuf>,
    /// `None`: pytest's default.
    pub norecursedirs: Option<Vec<String>>,
    pub testpaths: Vec<String>,
    pub python_files: Vec<String>,
    pub doctest_modules: bool,
    /// `--ignore PATH` / `--ignore-glob GLOB` of `addopts` (relative to the rootdir,
    /// where pytest is run): (the path or glob, is a glob).
    pub ignore: Vec<(String, bool)>,
}

impl PytestConfig {
    /// Reads what matters of `addopts`, split into words.
    fn addopts(&mut self, words: &[String]) {
        let mut it = words.iter();
        while let Some(w) = it.next() {
            self.doctest_modules |= w == "--doctest-modules";
            for (flag, glob) in [("--ignore", false), ("--ignore-glob", true)] {
                let value = match w.strip_prefix(flag) {
                    Some("") => it.next().map(String::as_str),
                    Some(v) => v.strip_prefix('='),
                    None => None,
                };
                if let Some(v) = value {
                    let v = v.trim_matches(|c| c == '"' || c == '\'');
                    let v = v.strip_prefix("./").unwrap_or(v).trim_end_matches('/');
                    self.ignore.push((v.to_owned(), glob));
                }
            }
        }
    }

    /// Is `rel` (relative to the rootdir) ignored by `--ignore`/`--ignore-glob` in
    /// `addopts`?
    pub fn ignored_by_addopts(&self, rel: &Path) -> Option<String> {
        let s = rel.to_string_lossy();
        let (entry, glob) = self.ignore.iter().find(|(e, glob)| {
            if *glob {
                fnmatch(e, &s)
            } else {
                rel == Path::new(e)
            }
        })?;
        Some(format!(
            "pytest does not collect {} (addopts {}{entry}{})",
            rel.display(),
            if *glob { "--ignore-glob=" } else { "--ignore=" },
            self.file
                .as_ref()
                .map(|f| format!(" in {}", f.display()))
                .unwrap_or_default()
        ))
    }

    pub fn norecurse(&self) -> Vec<String> {
        match &self.norecursedirs {
            Some(v) => v.clone(),
            None => DEFAULT_NORECURSE.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Is the file `rel` (relative to the rootdir) a test module by `python_files`?
    pub fn is_test_file(&self, rel: &Path) -> bool {
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if self.python_files.is_empty() {
            return (name.starts_with("test_") && name.ends_with(".py"))
                || name.ends_with("_test.py");
        }
        self.python_files.iter().any(|p| path_match(p, rel, &name))
    }
}

/// The pytest configuration file of `dir` itself, if it has one, with its values.
pub fn config_of(dir: &Path) -> Option<PytestConfig> {
    for name in ["pytest.ini", ".pytest.ini"] {
        let p = dir.join(name);
        if p.is_file() {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let ini = crate::project_imports::parse_ini(&text);
            return Some(from_pairs(p, ini.get("pytest").map(Vec::as_slice)));
        }
    }
    let p = dir.join("pyproject.toml");
    if p.is_file() {
        if let Some(c) = std::fs::read_to_string(&p)
            .ok()
            .and_then(|t| from_pyproject(&p, &t))
        {
            return Some(c);
        }
    }
    for (name, section) in [("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")] {
        let p = dir.join(name);
        if !p.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let ini = crate::project_imports::parse_ini(&text);
        if let Some(pairs) = ini.get(section) {
            return Some(from_pairs(p, Some(pairs)));
        }
    }
    None
}

fn from_pairs(file: PathBuf, pairs: Option<&[(String, String)]>) -> PytestConfig {
    let mut c = PytestConfig {
        file: Some(file),
        ..PytestConfig::default()
    };
    for (k, v) in pairs.unwrap_or_default() {
        let words = || v.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        match k.as_str() {
            "norecursedirs" => c.norecursedirs = Some(words()),
            "testpaths" => c.testpaths = words(),
            "python_files" => c.python_files = words(),
            "addopts" => c.addopts(&words()),
            _ => {}
        }
    }
    c
}

fn from_pyproject(file: &Path, text: &str) -> Option<PytestConfig> {
    let doc: toml::Table = toml::from_str(text).ok()?;
    let pytest = doc.get("tool")?.get("pytest")?.as_table()?;
    // pytest 9 reads `[tool.pytest]` itself (native types); older ones `ini_options`.
    let table = pytest
        .get("ini_options")
        .and_then(|v| v.as_table())
        .unwrap_or(pytest);
    let words = |key: &str| -> Option<Vec<String>> {
        match table.get(key)? {
            toml::Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
            toml::Value::Array(a) => Some(
                a.iter()
                    .filter_map(|x| x.as_str())
                    .flat_map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                    .collect(),
            ),
            _ => None,
        }
    };
    let mut c = PytestConfig {
        file: Some(file.to_path_buf()),
        norecursedirs: words("norecursedirs"),
        testpaths: words("testpaths").unwrap_or_default(),
        python_files: words("python_files").unwrap_or_default(),
        ..PytestConfig::default()
    };
    c.addopts(&words("addopts").unwrap_or_default());
    Some(c)
}

/// pytest's `fnmatch_ex`: a pattern without `/` matches the last component (`name`), one
/// with `/` the whole path (`rel`, relative to the rootdir), as `*/PATTERN`.
fn path_match(pat: &str, rel: &Path, name: &str) -> bool {
    if pat.contains('/') {
        fnmatch(&format!("*/{pat}"), &format!("/{}", rel.to_string_lossy()))
    } else {
        fnmatch(pat, name)
    }
}

/// Python's `fnmatch` (case-sensitive, as on POSIX): `*` (which matches `/` too), `?`,
/// `[seq]`, `[!seq]`; braces are literal (`{arch}`), so they are escaped for globset.
pub fn fnmatch(pat: &str, name: &str) -> bool {
    static CACHE: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, Option<globset::GlobMatcher>>>,
    > = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = match cache.lock() {
        Ok(c) => c,
        Err(poisoned) => poisoned.into_inner(),
    };
    let matcher = cache.entry(pat.to_owned()).or_insert_with(|| {
        let escaped: String = pat
            .chars()
            .map(|c| match c {
                '{' => "[{]".to_owned(),
                '}' => "[}]".to_owned(),
                c => c.to_string(),
            })
            .collect();
        globset::GlobBuilder::new(&escaped)
            .literal_separator(false)
            .backslash_escape(false)
            .build()
            .ok()
            .map(|g| g.compile_matcher())
    });
    matcher.as_ref().is_some_and(|m| m.is_match(name))
}

/// Why pytest, run in `rootdir` with `config`, never collects (nor loads the conftest
/// of) the directory `rel` (relative to the rootdir); `ignores` are the
/// `collect_ignore*` entries of the conftests, as (conftest directory relative to the
/// rootdir, entry, is a glob).
pub fn uncollected_dir(
    rel: &Path,
    config: &PytestConfig,
    ignores: &[(PathBuf, String, bool)],
) -> Option<String> {
    let norecurse = config.norecurse();
    let mut so_far = PathBuf::new();
    for comp in rel.components() {
        let name = comp.as_os_str().to_string_lossy();
        so_far.push(comp.as_os_str());
        if norecurse
            .iter()
            .any(|p| path_match(p.trim_end_matches('/'), &so_far, &name))
        {
            return Some(format!(
                "pytest does not collect {} (norecursedirs = {}{})",
                so_far.display(),
                norecurse.join(" "),
                if config.norecursedirs.is_none() {
                    ", pytest's default"
                } else {
                    ""
                }
            ));
        }
        if let Some(why) = ignored(&so_far, ignores).or_else(|| config.ignored_by_addopts(&so_far))
        {
            return Some(why);
        }
    }
    if !config.testpaths.is_empty() {
        let inside = config.testpaths.iter().any(|t| {
            let t = t.trim_end_matches('/');
            let tp = Path::new(t);
            let glob = t.contains(['*', '?', '[']);
            // The directory is in a testpath, or above one (its conftest is loaded).
            if glob {
                let s = rel.to_string_lossy();
                fnmatch(t, &s)
                    || rel.ancestors().any(|a| fnmatch(t, &a.to_string_lossy()))
                    || t.starts_with(&*s)
            } else {
                rel.starts_with(tp) || tp.starts_with(rel)
            }
        });
        if !inside {
            return Some(format!(
                "pytest does not collect {} (testpaths = {})",
                if rel.as_os_str().is_empty() {
                    ".".to_owned()
                } else {
                    rel.display().to_string()
                },
                config.testpaths.join(" ")
            ));
        }
    }
    None
}

/// Is a test module in directory `dir` (relative to the rootdir) under the `testpaths`
/// (when set)?
pub fn in_testpaths(dir: &Path, config: &PytestConfig) -> bool {
    config.testpaths.is_empty()
        || config.testpaths.iter().any(|t| {
            let t = t.trim_end_matches('/');
            if t.contains(['*', '?', '[']) {
                dir.ancestors().any(|a| fnmatch(t, &a.to_string_lossy()))
            } else {
                dir.starts_with(t)
            }
        })
}

/// Is the path `rel` (relative to the rootdir) ignored by a conftest's `collect_ignore*`?
pub fn ignored(rel: &Path, ignores: &[(PathBuf, String, bool)]) -> Option<String> {
    for (dir, entry, glob) in ignores {
        let Ok(under) = rel.strip_prefix(dir) else {
            continue;
        };
        let hit = if *glob {
            fnmatch(entry, &under.to_string_lossy())
                || fnmatch(entry, &rel.to_string_lossy())
                || fnmatch(&format!("*{entry}"), &rel.to_string_lossy())
        } else {
            under == Path::new(entry.trim_end_matches('/'))
        };
        if hit {
            return Some(format!(
                "pytest does not collect {} (collect_ignore{} = \"{entry}\" in {})",
                rel.display(),
                if *glob { "_glob" } else { "" },
                dir.join("conftest.py").display()
            ));
        }
    }
    None
}

/// The string literals of `collect_ignore`/`collect_ignore_glob` statements of a conftest.
pub fn collect_ignores(text: &str) -> Vec<(String, bool)> {
    let Some(tree) = crate::parse::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let root = tree.root_node();
    let mut c = root.walk();
    for stmt in root.named_children(&mut c) {
        for (name, glob) in [("collect_ignore_glob", true), ("collect_ignore", false)] {
            let mentions = super::scan::idents(stmt, text);
            if !mentions.contains(name) {
                continue;
            }
            let mut strings = Vec::new();
            literal_strings(stmt, text, &mut strings);
            out.extend(strings.into_iter().map(|s| (s, glob)));
            break;
        }
    }
    out
}

fn literal_strings(node: tree_sitter::Node<'_>, text: &str, out: &mut Vec<String>) {
    if node.kind() == "string" {
        if let Some(s) = super::scan::string_literal(node, text) {
            out.push(s);
        }
        return;
    }
    let mut c = node.walk();
    for ch in node.children(&mut c) {
        literal_strings(ch, text, out);
    }
}

/// The names of the fixtures a Python module defines (`@pytest.fixture` functions at
/// module level), and the modules it star-imports (`from x import *`, as written) or
/// names in its own `pytest_plugins` (which pytest loads too).
pub fn module_fixtures(text: &str) -> (BTreeSet<String>, Vec<String>) {
    let mut names = BTreeSet::new();
    let mut stars = Vec::new();
    let Some(tree) = crate::parse::parse(text) else {
        return (names, stars);
    };
    if let Some(s) = super::scan::scan(text) {
        for it in &s.items {
            match &it.kind {
                super::scan::Kind::Fixture(f) => {
                    names.insert(f.name.clone());
                }
                super::scan::Kind::Plugins(Some(v)) => stars.extend(v.iter().cloned()),
                _ => {}
            }
        }
    }
    let root = tree.root_node();
    let mut c = root.walk();
    for stmt in root.named_children(&mut c) {
        if stmt.kind() == "import_from_statement" {
            if let Some(imp) = crate::imports::read_import(stmt, text) {
                if imp.wildcard {
                    if let Some(m) = imp.from_module {
                        stars.push(m);
                    }
                }
            }
        }
    }
    (names, stars)
}

/// Fixture names defined by plugins fixer can see: (name -> the plugin that defines it),
/// and the plugin modules it could not find (the fixtures they define are unknown).
/// `modules` are dotted names (`pytest_plugins` entries, followed through the plugins'
/// own `pytest_plugins` and star imports); `dirs` the directories they import from (the
/// rootdir, its `src/`, site-packages). pytest's own plugins (`pytester`, `_pytest.*`)
/// are known by [`BUILTIN_FIXTURES`].
pub fn plugin_fixtures(
    modules: &[String],
    dirs: &[PathBuf],
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut unread = Vec::new();
    let mut out = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<(String, String)> = modules.iter().map(|m| (m.clone(), m.clone())).collect();
    while let Some((module, plugin)) = todo.pop() {
        if !seen.insert(module.clone()) || seen.len() > 200 {
            continue;
        }
        let rel: PathBuf = module.split('.').collect();
        let file = dirs.iter().find_map(|d| {
            let f = d.join(&rel).with_extension("py");
            let init = d.join(&rel).join("__init__.py");
            [f, init].into_iter().find(|p| p.is_file())
        });
        let builtin = module == "pytester" || module == "_pytest" || module.starts_with("_pytest.");
        let Some((file, text)) =
            file.and_then(|f| std::fs::read_to_string(&f).ok().map(|t| (f, t)))
        else {
            if !builtin {
                unread.push(module);
            }
            continue;
        };
        let (names, stars) = module_fixtures(&text);
        for n in names {
            out.entry(n).or_insert_with(|| plugin.clone());
        }
        let package = if file.ends_with("__init__.py") {
            module.clone()
        } else {
            module
                .rsplit_once('.')
                .map(|x| x.0.to_owned())
                .unwrap_or_default()
        };
        for s in stars {
            let dots = s.chars().take_while(|&c| c == '.').count();
            let abs = if dots == 0 {
                s.clone()
            } else {
                let mut base: Vec<&str> = package.split('.').filter(|x| !x.is_empty()).collect();
                for _ in 1..dots {
                    base.pop();
                }
                let rest = &s[dots..];
                if !rest.is_empty() {
                    base.push(rest);
                }
                base.join(".")
            };
            todo.push((abs, plugin.clone()));
        }
    }
    unread.sort();
    (out, unread)
}

/// The modules of the installed pytest plugins (`pytest11` entry points).
pub fn installed_plugins(sites: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    for site in sites {
        let Ok(entries) = std::fs::read_dir(site) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_name().to_string_lossy().ends_with(".dist-info") {
                continue;
            }
            let Ok(t) = std::fs::read_to_string(e.path().join("entry_points.txt")) else {
                continue;
            };
            let mut in_group = false;
            for line in t.lines().map(str::trim) {
                if line.starts_with('[') {
                    in_group = line == "[pytest11]";
                    continue;
                }
                if !in_group {
                    continue;
                }
                if let Some((_, v)) = line.split_once('=') {
                    let m = v.trim().split(':').next().unwrap_or("").trim();
                    if !m.is_empty() {
                        out.push(m.to_owned());
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_is_pythons() {
        assert!(fnmatch("*.egg", "foo.egg"));
        assert!(fnmatch(".*", ".git"));
        assert!(!fnmatch(".*", "git"));
        assert!(fnmatch("{arch}", "{arch}"));
        assert!(!fnmatch("{arch}", "arch"));
        assert!(fnmatch("test_*.py", "test_a.py"));
        assert!(fnmatch("[!_]*", "a"));
        assert!(!fnmatch("[!_]*", "_a"));
    }

    #[test]
    fn pytest_nine_toml_and_path_patterns() {
        // pytest's own pyproject.toml: `[tool.pytest]`, patterns with a `/`.
        let text = "[tool.pytest]\naddopts = [\"-p\", \"pytester\"]\npython_files = [\"test_*.py\", \"testing/python/*.py\"]\ntestpaths = [\"testing\"]\nnorecursedirs = [\"testing/example_scripts\", \".*\"]\n";
        let c = from_pyproject(Path::new("pyproject.toml"), text).unwrap_or_default();
        assert_eq!(c.testpaths, ["testing"]);
        assert!(!c.doctest_modules);
        assert!(c.is_test_file(Path::new("testing/python/fixtures.py")));
        assert!(c.is_test_file(Path::new("testing/test_main.py")));
        assert!(!c.is_test_file(Path::new("testing/helpers.py")));
        assert!(uncollected_dir(Path::new("testing/example_scripts/a"), &c, &[]).is_some());
        assert!(uncollected_dir(Path::new("testing/python"), &c, &[]).is_none());
        let ini = from_pyproject(
            Path::new("pyproject.toml"),
            "[tool.pytest.ini_options]\naddopts = \"-ra --doctest-modules\"\n",
        )
        .unwrap_or_default();
        assert!(ini.doctest_modules);
    }

    #[test]
    fn norecursedirs_and_testpaths() {
        let c = PytestConfig {
            norecursedirs: Some(vec!["example_scripts".into()]),
            testpaths: vec!["testing".into()],
            ..PytestConfig::default()
        };
        assert!(uncollected_dir(Path::new("testing/example_scripts/x"), &c, &[]).is_some());
        assert!(uncollected_dir(Path::new("testing/python"), &c, &[]).is_none());
        assert!(uncollected_dir(Path::new(""), &c, &[]).is_none());
        assert!(uncollected_dir(Path::new("doc"), &c, &[]).is_some());
        let d = PytestConfig::default();
        assert!(uncollected_dir(Path::new("tests/build"), &d, &[]).is_some());
        let ig = [(PathBuf::from("tests"), "legacy".to_owned(), false)];
        assert!(uncollected_dir(Path::new("tests/legacy/a"), &d, &ig).is_some());
        assert!(uncollected_dir(Path::new("tests/legacy2"), &d, &ig).is_none());
    }

    #[test]
    fn ignore_options_in_addopts() {
        let ini = from_pairs(
            PathBuf::from("pytest.ini"),
            Some(&[(
                "addopts".to_owned(),
                "-ra --ignore=tests/legacy --ignore ./tests/old/ --ignore-glob=*/gen_*".to_owned(),
            )]),
        );
        let toml = from_pyproject(
            Path::new("pyproject.toml"),
            "[tool.pytest.ini_options]\naddopts = [\"--ignore\", \"tests/legacy\", \"--ignore-glob=*/gen_*\"]\n",
        )
        .unwrap();
        for c in [&ini, &toml] {
            let why = uncollected_dir(Path::new("tests/legacy/a"), c, &[]).unwrap();
            assert!(why.contains("addopts --ignore=tests/legacy"), "{why}");
            assert!(uncollected_dir(Path::new("tests/legacy2"), c, &[]).is_none());
            assert!(c.ignored_by_addopts(Path::new("tests/gen_x.py")).is_some());
            assert!(c.ignored_by_addopts(Path::new("tests/test_x.py")).is_none());
            assert!(!c.doctest_modules);
        }
        assert!(uncollected_dir(Path::new("tests/old"), &ini, &[]).is_some());
    }
}
