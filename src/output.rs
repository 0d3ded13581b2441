//! Output: unified diffs, findings and the summary, with colour only where it helps.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::diag::{Finding, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour for a stream: `always`, `never`, or (auto) on a terminal without NO_COLOR.
    pub fn new(choice: ColorChoice, terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        };
        Style { color }
    }

    pub fn stdout(choice: ColorChoice) -> Style {
        Style::new(choice, std::io::stdout().is_terminal())
    }

    pub fn stderr(choice: ColorChoice) -> Style {
        Style::new(choice, std::io::stderr().is_terminal())
    }

    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn severity(&self, s: Severity) -> String {
        match s {
            Severity::Error => self.paint("1;31", "error"),
            Severity::Warning => self.paint("1;33", "warning"),
            Severity::Note => self.paint("1;36", "note"),
        }
    }
}

/// The path as shown to the user: relative to the current directory (with `..` when
/// outside it), so that diff headers apply with `patch -p1` from here.
pub fn display_path(path: &Path) -> PathBuf {
    if !path.is_absolute() {
        return crate::select::clean(path);
    }
    let Ok(cwd) = std::env::current_dir() else {
        return path.to_path_buf();
    };
    let (mut p, mut c) = (path.components().peekable(), cwd.components().peekable());
    while let (Some(a), Some(b)) = (p.peek(), c.peek()) {
        if a != b {
            break;
        }
        p.next();
        c.next();
    }
    let mut out = PathBuf::new();
    for _ in c {
        out.push("..");
    }
    for part in p {
        out.push(part);
    }
    out
}

/// A unified diff with 3 lines of context; `None` for either side is /dev/null.
pub fn unified_diff(path: &Path, old: Option<&str>, new: Option<&str>, style: Style) -> String {
    let shown = display_path(path);
    let a = match old {
        Some(_) => format!("a/{}", shown.display()),
        None => "/dev/null".to_owned(),
    };
    let b = match new {
        Some(_) => format!("b/{}", shown.display()),
        None => "/dev/null".to_owned(),
    };
    let (old, new) = (old.unwrap_or(""), new.unwrap_or(""));
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string();
    colour_diff(&text, style)
}

/// A unified diff's text, coloured as the style says: headers bold, hunk ranges cyan,
/// removed lines red, added lines green.
pub fn colour_diff(text: &str, style: Style) -> String {
    if !style.color {
        return text.to_owned();
    }
    text.lines()
        .map(|l| {
            if l.starts_with("---") || l.starts_with("+++") {
                style.bold(l)
            } else if l.starts_with('+') {
                style.paint("32", l)
            } else if l.starts_with('-') {
                style.paint("31", l)
            } else if l.starts_with("@@") {
                style.paint("36", l)
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// `path:line:col: severity[recipe]: message`
pub fn finding(f: &Finding, style: Style) -> String {
    let path = display_path(&f.path);
    let location = match (f.line, f.column) {
        (0, _) => format!("{}", path.display()),
        (l, 0) => format!("{}:{l}", path.display()),
        (l, c) => format!("{}:{l}:{c}", path.display()),
    };
    format!(
        "{}: {}[{}]: {}",
        style.bold(&location),
        style.severity(f.severity),
        f.recipe,
        f.message
    )
}

/// The unified diff of one change of a run: a modified, created or deleted file.
pub fn change_diff(path: &Path, change: &crate::engine::Change, style: Style) -> String {
    let old = change.original.as_ref().map(|s| s.text.as_str());
    unified_diff(path, old, change.current.as_deref(), style)
}
