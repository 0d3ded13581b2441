//! Matching a recipe's queries against one tree, and turning matches into edits (from
//! `replace` + `with` templates) and findings (from `message`).

use std::path::Path;

use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, QueryCursor, Tree};

use crate::diag::{line_col, Finding};
use crate::edit::Edit;
use crate::imports::ImportSpec;
use crate::recipe::compile::{CompiledRewrite, TemplatePart};

mod names;

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
    // Built on the first rewrite that adds imports where it matched.
    let mut model: Option<crate::semantic::Model> = None;
    for rw in rewrites {
        let mut made_edit = false;
        let plan = match plan_imports(rw, &mut cursor, text, tree, &mut model) {
            Ok(plan) => plan,
            Err((site, message)) => {
                let (line, column) = line_col(text, site);
                out.findings.push(Finding {
                    path: path.to_path_buf(),
                    line,
                    column,
                    recipe: recipe.to_owned(),
                    severity: crate::diag::Severity::Error,
                    message: format!("rewrite refused: {message}"),
                });
                continue;
            }
        };
        let renames = plan.as_ref().map_or(&[][..], |p| &p.renames[..]);
        let mut first_site: Option<usize> = None;
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
                        TemplatePart::Literal(l) => {
                            let l = if renames.is_empty() {
                                std::borrow::Cow::Borrowed(l.as_str())
                            } else {
                                std::borrow::Cow::Owned(names::rename(l, renames))
                            };
                            match indent {
                                Some(ind) => {
                                    s.push_str(&l.replace('\n', &format!("{newline}{ind}")))
                                }
                                None => s.push_str(&l),
                            }
                        }
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
                        first_site.get_or_insert(range.start);
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
            match plan {
                Some(plan) => {
                    if let Some(site) = first_site {
                        let (line, column) = line_col(text, site);
                        for note in plan.notes {
                            out.findings.push(Finding {
                                path: path.to_path_buf(),
                                line,
                                column,
                                recipe: recipe.to_owned(),
                                severity: crate::diag::Severity::Note,
                                message: format!("add-imports: {note}"),
                            });
                        }
                    }
                    out.imports.extend(plan.specs);
                }
                None => out.imports.extend(rw.add_imports.iter().cloned()),
            }
        }
    }
    out
}

/// The plan for `rw`'s `add-imports` in this file (see [`names`]): `None` when it adds
/// none or matches nowhere; `Err((offset, message))` when it must be refused.
fn plan_imports(
    rw: &CompiledRewrite,
    cursor: &mut QueryCursor,
    text: &str,
    tree: &Tree,
    model: &mut Option<crate::semantic::Model>,
) -> Result<Option<names::Plan>, (usize, String)> {
    let (Some(replace), Some(template)) = (rw.replace, &rw.template) else {
        return Ok(None);
    };
    if rw.add_imports.is_empty() {
        return Ok(None);
    }
    let mut sites = Vec::new();
    let mut matches = cursor.matches(&rw.query, tree.root_node(), text.as_bytes());
    while let Some(m) = matches.next() {
        if let Some(c) = m.captures.iter().find(|c| c.index == replace) {
            sites.push(c.node.start_byte());
        }
    }
    let Some(&first) = sites.first() else {
        return Ok(None);
    };
    let literal: String = template
        .iter()
        .map(|p| match p {
            TemplatePart::Literal(l) => l.as_str(),
            TemplatePart::Capture(_) => " ",
        })
        .collect();
    let model = model.get_or_insert_with(|| crate::semantic::build(tree, text));
    names::plan(&rw.add_imports, model, text, &sites, &literal)
        .map(Some)
        .map_err(|m| (first, m))
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
