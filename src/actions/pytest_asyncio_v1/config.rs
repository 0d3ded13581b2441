//! The pytest-asyncio settings of a pytest configuration file, and the edit that adds
//! one: `pytest.ini`/`.pytest.ini` `[pytest]`, `pyproject.toml`
//! `[tool.pytest.ini_options]` (or pytest 9's native `[tool.pytest]`), `tox.ini`
//! `[pytest]` and `setup.cfg` `[tool:pytest]`. An INI edit touches one section (a line
//! added after its last setting); a TOML edit goes through `toml_edit`, which keeps
//! every comment and the layout of the rest of the file.

use std::path::{Path, PathBuf};

/// What pytest-asyncio reads from the configuration.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    /// `asyncio_mode`, or `--asyncio-mode` in `addopts` (which wins): `auto` or `strict`.
    pub mode: Option<String>,
    pub fixture_loop_scope: Option<String>,
    pub test_loop_scope: Option<String>,
}

impl Settings {
    pub fn auto(&self) -> bool {
        self.mode.as_deref() == Some("auto")
    }
}

/// The kind of a configuration file, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An INI file and the section pytest reads in it.
    Ini(&'static str),
    Pyproject,
}

/// The file pytest takes its configuration from in `dir`, the way pytest looks for it
/// in each directory on the way up: `pytest.ini`, `.pytest.ini` (always, even without a
/// `[pytest]` section), `pyproject.toml` with a `[tool.pytest...]` table, `tox.ini` with
/// `[pytest]`, `setup.cfg` with `[tool:pytest]`.
pub fn config_file_in(dir: &Path) -> Option<(PathBuf, Kind)> {
    for name in ["pytest.ini", ".pytest.ini"] {
        let p = dir.join(name);
        if p.is_file() {
            return Some((p, Kind::Ini("pytest")));
        }
    }
    let p = dir.join("pyproject.toml");
    if p.is_file() {
        let has_table = std::fs::read_to_string(&p)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .is_some_and(|doc| {
                doc.get("tool")
                    .and_then(|t| t.get("pytest"))
                    .is_some_and(toml::Value::is_table)
            });
        if has_table {
            return Some((p, Kind::Pyproject));
        }
    }
    for (name, section) in [("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")] {
        let p = dir.join(name);
        if p.is_file()
            && std::fs::read_to_string(&p)
                .is_ok_and(|t| crate::project_imports::parse_ini(&t).contains_key(section))
        {
            return Some((p, Kind::Ini(section)));
        }
    }
    None
}

/// The settings in `text`, a file of `kind`.
pub fn read(text: &str, kind: Kind) -> Settings {
    let pairs: Vec<(String, String)> = match kind {
        Kind::Ini(section) => crate::project_imports::parse_ini(text)
            .remove(section)
            .unwrap_or_default(),
        Kind::Pyproject => pyproject_pairs(text),
    };
    let mut s = Settings::default();
    let mut addopts_mode = None;
    for (k, v) in pairs {
        let v = v.trim().to_owned();
        match k.as_str() {
            "asyncio_mode" => s.mode = Some(v),
            "asyncio_default_fixture_loop_scope" if !v.is_empty() => s.fixture_loop_scope = Some(v),
            "asyncio_default_test_loop_scope" if !v.is_empty() => s.test_loop_scope = Some(v),
            "addopts" => addopts_mode = addopts_mode.or(mode_in_addopts(&v)),
            _ => {}
        }
    }
    if addopts_mode.is_some() {
        s.mode = addopts_mode;
    }
    s
}

/// `--asyncio-mode=auto` or `--asyncio-mode auto` in an `addopts` value.
fn mode_in_addopts(addopts: &str) -> Option<String> {
    let words: Vec<&str> = addopts.split_whitespace().collect();
    let mut mode = None;
    for (i, w) in words.iter().enumerate() {
        if let Some(v) = w.strip_prefix("--asyncio-mode=") {
            mode = Some(v.to_owned());
        } else if *w == "--asyncio-mode" {
            mode = words.get(i + 1).map(|v| (*v).to_owned());
        }
    }
    mode
}

/// The pytest table of a pyproject.toml: `[tool.pytest.ini_options]`, else pytest 9's
/// `[tool.pytest]`. Values as pytest sees them: strings as they are, lists joined.
fn pyproject_pairs(text: &str) -> Vec<(String, String)> {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(pytest) = doc.get("tool").and_then(|t| t.get("pytest")) else {
        return Vec::new();
    };
    let table = pytest
        .get("ini_options")
        .and_then(toml::Value::as_table)
        .or_else(|| pytest.as_table());
    let Some(table) = table else {
        return Vec::new();
    };
    table
        .iter()
        .map(|(k, v)| {
            let v = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// `text` (a file of `kind`, possibly empty for a new file) with `settings` added, in
/// order. `Err` says why it cannot be edited (a file that does not parse, a table
/// written inline).
pub fn add(
    text: &str,
    kind: Kind,
    settings: &[(&str, String)],
    newline: &str,
) -> Result<String, String> {
    match kind {
        Kind::Ini(section) => Ok(add_ini(text, section, settings, newline)),
        Kind::Pyproject => add_toml(text, settings),
    }
}

fn add_ini(text: &str, section: &str, settings: &[(&str, String)], newline: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = |l: &str| {
        let t = l.trim();
        t.starts_with('[') && t.ends_with(']') && t[1..t.len() - 1].trim() == section
    };
    let added: String = settings
        .iter()
        .map(|(k, v)| format!("{k} = {v}{newline}"))
        .collect();
    let Some(at) = lines.iter().position(|l| header(l)) else {
        // No such section: a new one at the end.
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(newline);
        }
        if !out.trim().is_empty() {
            out.push_str(newline);
        }
        out.push_str(&format!("[{section}]{newline}{added}"));
        return out;
    };
    // After the last line of the section that is neither blank nor a comment.
    let mut last = at;
    for (i, l) in lines.iter().enumerate().skip(at + 1) {
        let t = l.trim_start();
        if t.starts_with('[') && !l.starts_with([' ', '\t']) {
            break;
        }
        if !t.trim().is_empty() && !t.starts_with('#') && !t.starts_with(';') {
            last = i;
        }
    }
    let offset: usize = lines[..=last].iter().map(|l| l.len()).sum();
    let mut out = String::with_capacity(text.len() + added.len() + 2);
    out.push_str(&text[..offset]);
    if !out.ends_with('\n') {
        out.push_str(newline);
    }
    out.push_str(&added);
    out.push_str(&text[offset..]);
    out
}

fn add_toml(text: &str, settings: &[(&str, String)]) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| format!("does not parse as TOML: {e}"))?;
    let native = doc
        .get("tool")
        .and_then(|t| t.get("pytest"))
        .is_some_and(|p| p.is_table_like() && p.get("ini_options").is_none());
    let tool = doc
        .entry("tool")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_like_mut()
        .ok_or("`tool` is not a table")?;
    let pytest = tool
        .entry("pytest")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_like_mut()
        .ok_or("`tool.pytest` is not a table")?;
    let table = if native {
        pytest
    } else {
        pytest
            .entry("ini_options")
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
            .as_table_like_mut()
            .ok_or("`tool.pytest.ini_options` is not a table")?
    };
    for (k, v) in settings {
        table.insert(k, toml_edit::value(v.as_str()));
    }
    let out = doc.to_string();
    out.parse::<toml::Table>()
        .map_err(|e| format!("the edited file would not parse: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_settings_go_after_the_last_setting_of_the_section() {
        let text = "[pytest]\n# mode\nasyncio_mode = strict\n\n# tail\n[flake8]\nx = 1\n";
        let out = add_ini(
            text,
            "pytest",
            &[("asyncio_default_fixture_loop_scope", "function".into())],
            "\n",
        );
        assert_eq!(
            out,
            "[pytest]\n# mode\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n\n# tail\n[flake8]\nx = 1\n"
        );
    }

    #[test]
    fn a_missing_section_is_added_at_the_end() {
        let out = add_ini(
            "[metadata]\nname = x",
            "tool:pytest",
            &[("k", "v".into())],
            "\r\n",
        );
        assert_eq!(
            out,
            "[metadata]\nname = x\r\n\r\n[tool:pytest]\r\nk = v\r\n"
        );
    }

    #[test]
    fn toml_keeps_comments() {
        let text = "[project]\nname = \"x\" # the name\n\n[tool.pytest.ini_options]\n# strict\nasyncio_mode = \"strict\"\n\n[tool.ruff]\nline-length = 99\n";
        let out = add_toml(
            text,
            &[("asyncio_default_fixture_loop_scope", "function".into())],
        )
        .unwrap_or_default();
        assert!(out.contains("# the name"), "{out}");
        assert!(out.contains(
            "asyncio_mode = \"strict\"\nasyncio_default_fixture_loop_scope = \"function\"\n"
        ));
        assert!(out.ends_with("[tool.ruff]\nline-length = 99\n"), "{out}");
    }

    #[test]
    fn toml_without_a_pytest_table_gets_one() {
        let out = add_toml("[project]\nname = \"x\"\n", &[("k", "v".into())]).unwrap_or_default();
        assert_eq!(
            out,
            "[project]\nname = \"x\"\n\n[tool.pytest.ini_options]\nk = \"v\"\n"
        );
    }

    #[test]
    fn addopts_mode_wins() {
        let s = read(
            "[pytest]\nasyncio_mode = strict\naddopts = -q --asyncio-mode=auto\n",
            Kind::Ini("pytest"),
        );
        assert!(s.auto());
    }
}
