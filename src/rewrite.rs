//! Matching a recipe's queries against one tree, and turning matches into edits (from
//! `replace` + `with` templates) and findings (from `message`).

use std::path::Path;

use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, QueryCursor, Tree};

use crate::diag::{line_col, Finding};
use crate::edit::Edit;
use crate::imports::ImportSpec;
use crate::recipe::compile::{CompiledRewrite, TemplatePart};

#[derive(Default)]
pub struct Matches {
    pub edits: Vec<Edit>,
    pub findings: Vec<Finding>,
    /// Imports to ensure because a rewrite that asks for them made an edit.
    pub imports: Vec<ImportSpec>,
}

pub fn run(
    rewrites: &[CompiledRewrite],
    recipe: &str,
    path: &Path,
    text: &str,
    tree: &Tree,
    newline: &str,
) -> Matches {
    let mut out = Matches::default();
    let mut cursor = QueryCursor::new();
    for rw in rewrites {
        let mut made_edit = false;
        let mut matches = cursor.matches(&rw.query, tree.root_node(), text.as_bytes());
        while let Some(m) = matches.next() {
            let nodes_of = |index: u32| -> Vec<Node<'_>> {
                m.captures
                    .iter()
                    .filter(|c| c.index == index)
                    .map(|c| c.node)
                    .collect()
            };
            let render = |parts: &[TemplatePart], indent: Option<&str>| -> String {
                let mut s = String::new();
                for part in parts {
                    match part {
                        TemplatePart::Literal(l) => match indent {
                            Some(ind) => s.push_str(&l.replace('\n', &format!("{newline}{ind}"))),
                            None => s.push_str(l),
                        },
                        TemplatePart::Capture(i) => {
                            let nodes = nodes_of(*i);
                            if let (Some(first), Some(last)) = (nodes.first(), nodes.last()) {
                                s.push_str(&text[first.start_byte()..last.end_byte()]);
                            }
                        }
                    }
                }
                s
            };
            let anchor = rw
                .replace
                .and_then(|i| nodes_of(i).first().copied())
                .or_else(|| {
                    m.captures
                        .iter()
                        .map(|c| c.node)
                        .min_by_key(|n| n.start_byte())
                });
            let Some(anchor) = anchor else { continue };
            if let (Some(replace), Some(template)) = (rw.replace, &rw.template) {
                let nodes = nodes_of(replace);
                if let (Some(first), Some(last)) = (nodes.first(), nodes.last()) {
                    let range = first.start_byte()..last.end_byte();
                    let indent = indent_at(text, range.start);
                    let content = render(template, Some(&indent));
                    if text[range.clone()] != content {
                        out.edits
                            .push(Edit::replace(range, content, rw.label.clone()));
                        made_edit = true;
                    }
                }
            }
            if let Some((parts, severity)) = &rw.message {
                let (line, column) = line_col(text, anchor.start_byte());
                out.findings.push(Finding {
                    path: path.to_path_buf(),
                    line,
                    column,
                    recipe: recipe.to_owned(),
                    severity: *severity,
                    message: render(parts, None),
                });
            }
        }
        if made_edit {
            out.imports.extend(rw.add_imports.iter().cloned());
        }
    }
    out
}

/// The indentation that puts a continuation line at the column of `offset`: the line's
/// own leading whitespace (tabs kept), then a space per character up to `offset`.
fn indent_at(text: &str, offset: usize) -> String {
    let start = crate::imports::line_start(text, offset);
    let prefix = &text[start..offset];
    let lead: String = prefix
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let rest = prefix[lead.len()..].chars().count();
    format!("{lead}{}", " ".repeat(rest))
}
