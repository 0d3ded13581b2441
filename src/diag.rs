//! Findings: messages at a file and line that recipes and actions report, with or
//! without edits (`kept: <reason>`, import problems, conflicts, refused rewrites).

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informs; never changes the exit code (`kept: ...`, `eager use at import time`).
    Note,
    /// Something the user should look at; never changes the exit code.
    Warning,
    /// A problem the recipe marks as an error: `check` exits 1 while it stands.
    Error,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub path: PathBuf,
    /// 1-based line, 0 when the finding is about the whole file.
    pub line: usize,
    /// 1-based column in characters, 0 when unknown.
    pub column: usize,
    pub recipe: String,
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    /// A finding of `recipe` at byte `offset` of `text`, the file at `path`.
    pub fn at(
        path: &std::path::Path,
        text: &str,
        offset: usize,
        recipe: &str,
        severity: Severity,
        message: String,
    ) -> Finding {
        let (line, column) = line_col(text, offset);
        Finding {
            path: path.to_path_buf(),
            line,
            column,
            recipe: recipe.to_owned(),
            severity,
            message,
        }
    }
}

/// 1-based (line, column) of a byte offset; the column counts characters.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    let column = text
        .get(line_start..offset)
        .map_or(offset - line_start, |s| s.chars().count())
        + 1;
    (line, column)
}

/// An error the user can act on: printed as `error: <message>` and, when a likely fix
/// exists, `help: <help>`; the run exits with code 2.
#[derive(Debug, Clone)]
pub struct UserError {
    pub message: String,
    pub help: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> UserError {
        UserError {
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> UserError {
        self.help = Some(help.into());
        self
    }
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// The known names closest to `name`, best first, for "did you mean" help.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(s, k)| *s > 0.7 || k.contains(name) || name.contains(k))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}
