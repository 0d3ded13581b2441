//! Machine-readable reports of a run: JSON, GitHub workflow annotations and SARIF 2.1.0.
//! Each has one entry per changed file (with its diff) and one per finding.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use crate::diag::Severity;
use crate::engine::{Change, Outcome};
use crate::output::{change_diff, display_path, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Github,
    Sarif,
}

/// One change or finding, flattened for the formats below.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub kind: &'static str,
    /// The first recipe; `recipes` lists all that changed the file.
    pub recipe: String,
    pub recipes: Vec<String>,
    pub file: String,
    pub start_line: usize,
    pub end_line: usize,
    /// The column (1-based, in characters) of a finding; changes span lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_column: Option<usize>,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

pub fn entries(outcome: &Outcome) -> Vec<Entry> {
    let mut out = Vec::new();
    for (path, change) in &outcome.changes {
        let old = change.original.as_ref().map(|s| s.text.as_str());
        let new = change.current.as_deref();
        let (start_line, end_line) = changed_lines(old.unwrap_or(""), new.unwrap_or(""));
        let recipes: Vec<String> = change.recipes.keys().cloned().collect();
        let verb = match (old, new) {
            (None, _) => "would be created",
            (_, None) => "would be deleted",
            _ => "would be changed",
        };
        out.push(Entry {
            kind: "change",
            recipe: recipes.first().cloned().unwrap_or_default(),
            message: format!("{verb} by {}", recipes.join(", ")),
            recipes,
            file: display_path(path).display().to_string(),
            start_line,
            end_line,
            start_column: None,
            severity: Severity::Error,
            diff: Some(change_diff(path, change, Style { color: false })),
        });
    }
    for f in &outcome.findings {
        out.push(Entry {
            kind: "finding",
            recipe: f.recipe.clone(),
            recipes: vec![f.recipe.clone()],
            file: display_path(&f.path).display().to_string(),
            start_line: f.line.max(1),
            end_line: f.line.max(1),
            start_column: (f.line > 0 && f.column > 0).then_some(f.column),
            severity: f.severity,
            message: f.message.clone(),
            diff: None,
        });
    }
    // Every skipped file, in every format: a warning at its syntax error's line.
    for (path, why) in &outcome.skipped {
        let recipe = why.recipe.clone().unwrap_or_else(|| "fixer".to_owned());
        out.push(Entry {
            kind: "skipped",
            recipes: vec![recipe.clone()],
            recipe,
            file: display_path(path).display().to_string(),
            start_line: why.line.max(1),
            end_line: why.line.max(1),
            start_column: None,
            severity: Severity::Warning,
            message: skipped_message(why),
            diff: None,
        });
    }
    out
}

/// `skipped: <reason>`, and what it means when the file may refer to what changed.
pub fn skipped_message(why: &crate::engine::Skipped) -> String {
    if why.may_refer {
        format!(
            "skipped: {}; it may refer to what the recipe changes, and was not updated (fix it and run again)",
            why.reason
        )
    } else {
        format!("skipped: {}", why.reason)
    }
}

/// First and last line (1-based, of the old text) that the change touches.
fn changed_lines(old: &str, new: &str) -> (usize, usize) {
    let diff = similar::TextDiff::from_lines(old, new);
    let ops: Vec<_> = diff
        .ops()
        .iter()
        .filter(|op| op.tag() != similar::DiffTag::Equal)
        .collect();
    match (ops.first(), ops.last()) {
        (Some(first), Some(last)) => {
            let start = first.old_range().start + 1;
            let end = last.old_range().end.max(first.old_range().start + 1);
            (start, end.max(start))
        }
        _ => (1, 1),
    }
}

pub fn json(outcome: &Outcome) -> String {
    let entries = entries(outcome);
    let changes = entries.iter().filter(|e| e.kind == "change").count();
    let doc = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "entries": entries,
        "summary": {
            "files_changed": changes,
            "edits": edits_per_recipe(outcome),
            "errors": outcome.findings.iter().filter(|f| f.severity == Severity::Error).count(),
            "skipped": outcome.skipped.iter().map(|(p, why)| json!({
                "file": display_path(p).display().to_string(),
                "reason": why.reason,
                "line": (why.line > 0).then_some(why.line),
                "recipe": why.recipe,
                "may_refer": why.may_refer,
            })).collect::<Vec<_>>(),
        }
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

pub fn edits_per_recipe(outcome: &Outcome) -> BTreeMap<String, usize> {
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for c in outcome.changes.values() {
        for (r, n) in &c.recipes {
            *per.entry(r.clone()).or_default() += n;
        }
    }
    per
}

/// GitHub Actions workflow commands: `::error file=...,line=...,title=...::message`.
pub fn github(outcome: &Outcome) -> String {
    let mut out = String::new();
    for e in entries(outcome) {
        let level = match e.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let title = format!("fixer ({})", e.recipe);
        let col = e
            .start_column
            .map_or(String::new(), |c| format!(",col={c}"));
        out.push_str(&format!(
            "::{level} file={},line={},endLine={}{col},title={}::{}\n",
            escape_property(&e.file),
            e.start_line,
            e.end_line,
            escape_property(&title),
            escape_data(&e.message)
        ));
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// SARIF 2.1.0, for code-scanning upload: one rule per recipe, results with locations.
pub fn sarif(outcome: &Outcome, descriptions: &BTreeMap<String, String>) -> String {
    let entries = entries(outcome);
    let mut rule_ids: Vec<String> = entries.iter().map(|e| e.recipe.clone()).collect();
    rule_ids.sort();
    rule_ids.dedup();
    let rules: Vec<_> = rule_ids
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": descriptions.get(id).cloned().unwrap_or_else(|| id.clone())},
            })
        })
        .collect();
    let results: Vec<_> = entries
        .iter()
        .map(|e| {
            let level = match e.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Note => "note",
            };
            json!({
                "ruleId": e.recipe,
                "ruleIndex": rule_ids.iter().position(|r| *r == e.recipe).unwrap_or(0),
                "level": level,
                "message": {"text": e.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&e.file)},
                        "region": match e.start_column {
                            Some(c) => json!({"startLine": e.start_line, "endLine": e.end_line, "startColumn": c}),
                            None => json!({"startLine": e.start_line, "endLine": e.end_line}),
                        }
                    }
                }]
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "fixer",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn uri(file: &str) -> String {
    Path::new(file)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().replace(' ', "%20"))
        .collect::<Vec<_>>()
        .join("/")
}

/// Per-recipe counts for `--statistics`.
pub fn statistics(outcome: &Outcome) -> String {
    #[derive(Default)]
    struct Row {
        files: usize,
        edits: usize,
        errors: usize,
        warnings: usize,
        notes: usize,
    }
    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
    for c in outcome.changes.values() {
        let c: &Change = c;
        for (r, n) in &c.recipes {
            let row = rows.entry(r).or_default();
            row.files += 1;
            row.edits += n;
        }
    }
    for f in &outcome.findings {
        let row = rows.entry(&f.recipe).or_default();
        match f.severity {
            Severity::Error => row.errors += 1,
            Severity::Warning => row.warnings += 1,
            Severity::Note => row.notes += 1,
        }
    }
    let width = rows.keys().map(|k| k.len()).max().unwrap_or(6).max(6);
    let mut out = format!(
        "{:width$}  {:>6}  {:>6}  {:>6}  {:>8}  {:>6}\n",
        "recipe", "files", "edits", "errors", "warnings", "notes"
    );
    for (r, row) in &rows {
        out.push_str(&format!(
            "{r:width$}  {:>6}  {:>6}  {:>6}  {:>8}  {:>6}\n",
            row.files, row.edits, row.errors, row.warnings, row.notes
        ));
    }
    out
}
