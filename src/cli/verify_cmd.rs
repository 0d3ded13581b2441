//! `fixer verify-change OLD NEW` (hidden): asks fixer's verification whether it would
//! accept `NEW` as a rewrite of `OLD` (exit 0) or refuse it (exit 1, the reason on
//! stdout). For scripts that hold the verification against CPython, such as
//! `bench/compile_check.py`: with `--jsonl`, pairs are read from stdin as JSON Lines
//! (`{"old": "...", "new": "..."}`) and one answer per line is written to stdout
//! (`{"accepted": true}` or `{"accepted": false, "line": L, "column": C, "rule": "..."}`,
//! `rule` null for a tree-sitter syntax error), so one process judges many pairs.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Args;

use super::{Exit, GlobalArgs};
use crate::diag::UserError;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The file before the change
    #[arg(required_unless_present = "jsonl")]
    old: Option<PathBuf>,
    /// The file after the change
    #[arg(required_unless_present = "jsonl")]
    new: Option<PathBuf>,
    /// Read `{"old": ..., "new": ...}` pairs from stdin, one per line
    #[arg(long)]
    jsonl: bool,
}

#[derive(serde::Deserialize)]
struct Pair {
    old: String,
    new: String,
}

/// The verdict on one pair, as a JSON object.
fn answer(old: &str, new: &str) -> serde_json::Value {
    match crate::verify::check_change(old, new) {
        Ok(()) => serde_json::json!({"accepted": true}),
        Err(b) => serde_json::json!({
            "accepted": false,
            "line": b.line,
            "column": b.column,
            "rule": b.rule,
        }),
    }
}

pub fn run(args: &VerifyArgs, _global: &GlobalArgs) -> anyhow::Result<Exit> {
    if args.jsonl {
        let stdin = std::io::stdin();
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for line in stdin.lock().lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let reply = match serde_json::from_str::<Pair>(&line) {
                Ok(p) => answer(&p.old, &p.new),
                Err(e) => serde_json::json!({"error": e.to_string()}),
            };
            writeln!(out, "{reply}")?;
            out.flush()?;
        }
        return Ok(Exit::Success);
    }
    let read = |p: &Option<PathBuf>| -> anyhow::Result<String> {
        let p = p
            .as_ref()
            .ok_or_else(|| UserError::new("verify-change takes OLD and NEW"))?;
        std::fs::read_to_string(p)
            .map_err(|e| UserError::new(format!("cannot read {}: {e}", p.display())).into())
    };
    let (old, new) = (read(&args.old)?, read(&args.new)?);
    let reply = answer(&old, &new);
    println!("{reply}");
    Ok(if reply["accepted"] == serde_json::Value::Bool(true) {
        Exit::Success
    } else {
        Exit::Findings
    })
}
