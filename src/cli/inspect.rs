//! `fixer inspect`: what fixer's own analyses see in a file, for people and for the
//! scripts that hold them against CPython.
//!
//! `fixer inspect scopes PATH...` prints the semantic model ([`crate::semantic`]) as JSON
//! Lines, one object per scope, in the shape of the standard library's `symtable`:
//! `{"path", "type", "name", "line", "symbols": {name: [flags]}}` where the flags are
//! the names of the `symtable.Symbol.is_*` predicates that hold. Directories are
//! walked as `apply` walks them; a file that does not parse is reported on stderr and
//! skipped (exit 0).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Exit, GlobalArgs};
use crate::output::Style;

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Scopes and symbols of each file, as JSON Lines shaped like CPython's symtable
    Scopes {
        /// Files or directories (default: .)
        paths: Vec<PathBuf>,
    },
    /// How a code pattern parses and what it compiles to (the tree, the query that finds
    /// candidates, the prefilter literal), to see why something does not match
    Pattern {
        /// The pattern, e.g. 'self.assertEqual($A, $B)'
        pattern: String,
        /// Strings match either quote style (as `strictness = "relaxed"`)
        #[arg(long)]
        relaxed: bool,
    },
}

pub fn run(args: &InspectArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let paths = match &args.what {
        What::Scopes { paths } => paths,
        What::Pattern { pattern, relaxed } => return inspect_pattern(pattern, *relaxed),
    };
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.clone()
    };
    let walk = crate::select::walk(&paths, 1)?;
    let err_style = Style::stderr(global.color);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for file in walk.files.iter() {
        let path = file.path();
        let shown = path.display().to_string();
        let text = match crate::engine::read_source(&path) {
            Ok(Some(source)) => source.text,
            Ok(None) => {
                warn(err_style, &shown, "does not exist");
                continue;
            }
            Err(e) => {
                warn(err_style, &shown, &e);
                continue;
            }
        };
        let Some(tree) = crate::parse::parse(&text) else {
            warn(err_style, &shown, "does not parse");
            continue;
        };
        if let Some(at) = crate::parse::error_offset(&tree) {
            let (line, col) = crate::diag::line_col(&text, at);
            warn(
                err_style,
                &format!("{shown}:{line}:{col}"),
                "does not parse; skipped",
            );
            continue;
        }
        let model = crate::semantic::build(&tree, &text);
        for scope in &model.scopes {
            let line = ScopeLine {
                path: &shown,
                kind: scope.kind.symtable_type(),
                name: &scope.name,
                line: scope.line,
                symbols: Symbols(scope),
            };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(Exit::Success)
}

/// `inspect pattern`: the pattern's tree, its metavariables, query and prefilter.
fn inspect_pattern(pattern: &str, relaxed: bool) -> anyhow::Result<Exit> {
    let p = match crate::recipe::pattern::Pattern::parse(pattern, relaxed) {
        Ok(p) => p,
        Err(e) => {
            let mut err = crate::diag::UserError::new(format!(
                "pattern line {}, column {}: {}",
                e.line, e.column, e.message
            ));
            if let Some(h) = e.help {
                err = err.help(h);
            }
            return Err(err.into());
        }
    };
    let mut out = String::new();
    out.push_str("pattern tree (punctuation and parentheses that do not change it left out):\n");
    out.push_str(&p.tree_sexp());
    let vars: Vec<String> = p
        .vars
        .iter()
        .map(|v| {
            if p.multi.contains(v) {
                format!("$$${v}")
            } else {
                format!("${v}")
            }
        })
        .collect();
    out.push_str(&format!(
        "metavariables: {}\n",
        if vars.is_empty() {
            "none".to_owned()
        } else {
            vars.join(", ")
        }
    ));
    out.push_str(&format!("query: {}\n", p.query_source()));
    out.push_str(&format!(
        "prefilter: {}\n",
        p.literal()
            .map_or("none (every file is parsed)".to_owned(), |l| format!(
                "files containing `{l}`"
            ))
    ));
    out.push_str(&format!(
        "strings: {}\n",
        if relaxed {
            "either quote style"
        } else {
            "the quote style as written"
        }
    ));
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(Exit::Success)
}

/// One line of `inspect scopes`, its keys in the documented order.
#[derive(serde::Serialize)]
struct ScopeLine<'a> {
    path: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    line: usize,
    symbols: Symbols<'a>,
}

/// A scope's symbols as a JSON object, in the order they first occur.
struct Symbols<'a>(&'a crate::semantic::Scope);

impl serde::Serialize for Symbols<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.symbols.len()))?;
        for (name, sym) in &self.0.symbols {
            map.serialize_entry(name, &crate::semantic::symtable_flags(self.0, sym))?;
        }
        map.end()
    }
}

fn warn(style: Style, place: &str, message: &str) {
    eprintln!("{}: {place}: {message}", style.paint("1;33", "warning"));
}
