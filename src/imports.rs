//! Module-level imports: what a module already imports, where a new import goes (after
//! the docstring, `from __future__` imports and the top-of-module import block), and how
//! a name joins an existing `from X import ...`. Shared by `add-imports` and the actions.

use crate::parse::kind_of;
use tree_sitter::{Node, Tree};

use crate::edit::Edit;
use crate::parse::text as node_text;

/// One imported name: `import a.b [as c]` or `from m import n [as c]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImportSpec {
    Import {
        module: String,
        alias: Option<String>,
    },
    From {
        module: String,
        name: String,
        alias: Option<String>,
    },
}

impl ImportSpec {
    /// Parses one statement; `from m import a, b` gives one spec per name.
    pub fn parse_all(stmt: &str) -> Result<Vec<ImportSpec>, String> {
        let stmt = stmt.trim();
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let alias_of = |part: &str| -> Result<(String, Option<String>), String> {
            let w = words(part);
            match w.as_slice() {
                [n] => Ok((n.clone(), None)),
                [n, kw, a] if kw == "as" => Ok((n.clone(), Some(a.clone()))),
                _ => Err(format!(
                    "cannot read `{part}` as a name with an optional `as` alias"
                )),
            }
        };
        if let Some(rest) = stmt.strip_prefix("from ") {
            let (module, names) = rest
                .split_once(" import ")
                .ok_or_else(|| format!("`{stmt}` is not `from MODULE import NAME`"))?;
            let names = names.trim().trim_start_matches('(').trim_end_matches(')');
            names
                .split(',')
                .filter(|n| !n.trim().is_empty())
                .map(|n| {
                    let (name, alias) = alias_of(n)?;
                    Ok(ImportSpec::From {
                        module: module.trim().to_owned(),
                        name,
                        alias,
                    })
                })
                .collect()
        } else if let Some(rest) = stmt.strip_prefix("import ") {
            rest.split(',')
                .map(|n| {
                    let (module, alias) = alias_of(n)?;
                    Ok(ImportSpec::Import { module, alias })
                })
                .collect()
        } else {
            Err(format!("`{stmt}` is not an import statement"))
        }
    }

    /// Parses a statement that imports exactly one name.
    pub fn parse(stmt: &str) -> Result<ImportSpec, String> {
        let mut all = ImportSpec::parse_all(stmt)?;
        match all.len() {
            1 => Ok(all.remove(0)),
            _ => Err(format!("`{stmt}` must import exactly one name")),
        }
    }

    /// The name this import binds in the importing module.
    pub fn bound_name(&self) -> &str {
        match self {
            ImportSpec::Import { alias: Some(a), .. } | ImportSpec::From { alias: Some(a), .. } => {
                a
            }
            ImportSpec::Import {
                module,
                alias: None,
            } => module.split('.').next().unwrap_or(module),
            ImportSpec::From {
                name, alias: None, ..
            } => name,
        }
    }

    pub fn module(&self) -> &str {
        match self {
            ImportSpec::Import { module, .. } | ImportSpec::From { module, .. } => module,
        }
    }

    /// `name [as alias]` as written in an import list.
    pub fn name_clause(&self) -> String {
        let (n, a) = match self {
            ImportSpec::Import { module, alias } => (module, alias),
            ImportSpec::From { name, alias, .. } => (name, alias),
        };
        match a {
            Some(a) => format!("{n} as {a}"),
            None => n.clone(),
        }
    }

    pub fn render(&self) -> String {
        match self {
            ImportSpec::Import { .. } => format!("import {}", self.name_clause()),
            ImportSpec::From { module, .. } => {
                format!("from {module} import {}", self.name_clause())
            }
        }
    }
}

/// A module-level import statement, as written.
#[derive(Debug, Clone)]
pub struct TopImport {
    pub start: usize,
    pub end: usize,
    pub specs: Vec<ImportSpec>,
    /// For `from m import ...`: the module text as written (with leading dots).
    pub from_module: Option<String>,
    pub wildcard: bool,
    /// End of the last imported name (or its alias) in a `from` import.
    pub last_name_end: usize,
    pub parenthesized: bool,
    pub future: bool,
}

/// Reads an import statement node (`import_statement`, `import_from_statement` or
/// `future_import_statement`) into its specs.
pub fn read_import(node: Node<'_>, text: &str) -> Option<TopImport> {
    let kind = kind_of(node);
    let mut specs = Vec::new();
    let mut from_module = None;
    let mut wildcard = false;
    let mut last_name_end = node.end_byte();
    let future = kind == "future_import_statement";
    let mut cursor = node.walk();
    match kind {
        "import_statement" => {
            for child in node.children_by_field_name("name", &mut cursor) {
                let (module, alias) = name_and_alias(child, text);
                specs.push(ImportSpec::Import { module, alias });
            }
        }
        "import_from_statement" | "future_import_statement" => {
            let module = if future {
                "__future__".to_owned()
            } else {
                node_text(node.child_by_field_name("module_name")?, text).to_owned()
            };
            for child in node.named_children(&mut cursor) {
                if kind_of(child) == "wildcard_import" {
                    wildcard = true;
                }
            }
            let mut cursor = node.walk();
            for child in node.children_by_field_name("name", &mut cursor) {
                let (name, alias) = name_and_alias(child, text);
                last_name_end = child.end_byte();
                specs.push(ImportSpec::From {
                    module: module.clone(),
                    name,
                    alias,
                });
            }
            from_module = Some(module);
        }
        _ => return None,
    }
    let parenthesized = text[node.byte_range()].contains('(');
    Some(TopImport {
        start: node.start_byte(),
        end: node.end_byte(),
        specs,
        from_module,
        wildcard,
        last_name_end,
        parenthesized,
        future,
    })
}

fn name_and_alias(node: Node<'_>, text: &str) -> (String, Option<String>) {
    if kind_of(node) == "aliased_import" {
        let name = node
            .child_by_field_name("name")
            .map_or("", |n| node_text(n, text));
        let alias = node
            .child_by_field_name("alias")
            .map(|n| node_text(n, text).to_owned());
        (compact(name), alias)
    } else {
        (compact(node_text(node, text)), None)
    }
}

/// A dotted name without the spaces Python allows inside it.
fn compact(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Every import statement that is a direct child of the module.
pub fn module_imports(tree: &Tree, text: &str) -> Vec<TopImport> {
    let root = tree.root_node();
    let mut cursor = root.walk();
    root.named_children(&mut cursor)
        .filter_map(|n| read_import(n, text))
        .collect()
}

/// Where a new module-level import goes.
#[derive(Debug, Clone, Copy)]
pub struct InsertPoint {
    /// Byte offset at the start of a line (or the end of the text).
    pub offset: usize,
    /// The text before `offset` does not end with a newline (import block on the last line).
    pub needs_newline: bool,
    /// Only a docstring precedes: the new block is set off by a blank line.
    pub after_docstring: bool,
}

/// After the module docstring, `from __future__` imports and the top-of-module import
/// block; at the first statement when the module has none of these.
pub fn insertion_point(tree: &Tree, text: &str) -> InsertPoint {
    let root = tree.root_node();
    let mut cursor = root.walk();
    let mut end: Option<usize> = None;
    let mut after_docstring = false;
    let mut first_statement: Option<usize> = None;
    // Comments (a shebang, a licence header) do not stop a docstring from being first.
    let statements = root
        .named_children(&mut cursor)
        .filter(|c| kind_of(c) != "comment");
    for (i, child) in statements.enumerate() {
        let is_docstring = i == 0 && is_docstring(child);
        let is_import = matches!(
            kind_of(child),
            "import_statement" | "import_from_statement" | "future_import_statement"
        );
        if first_statement.is_none() && !is_docstring {
            first_statement = Some(child.start_byte());
        }
        if is_docstring && end.is_none() {
            end = Some(child.end_byte());
            after_docstring = true;
        } else if is_import {
            end = Some(child.end_byte());
            after_docstring = false;
        } else {
            break;
        }
    }
    match end {
        Some(end) => {
            let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
            InsertPoint {
                offset: line_end,
                needs_newline: !text[..line_end].ends_with('\n'),
                after_docstring,
            }
        }
        None => {
            let offset = first_statement.map_or(text.len(), |s| line_start(text, s));
            InsertPoint {
                offset,
                needs_newline: offset > 0 && !text[..offset].ends_with('\n'),
                after_docstring: false,
            }
        }
    }
}

fn is_docstring(node: Node<'_>) -> bool {
    kind_of(node) == "expression_statement"
        && node.named_child_count() == 1
        && node.named_child(0).is_some_and(|c| kind_of(c) == "string")
}

pub fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// Is `spec` already imported at module level (same module, name and alias)?
pub fn already_imported(imports: &[TopImport], spec: &ImportSpec) -> bool {
    imports.iter().any(|i| i.specs.iter().any(|s| s == spec))
}

/// A mergeable `from <module> import ...` at module level (not `*`, not `__future__`).
pub fn mergeable_from<'a>(imports: &'a [TopImport], module: &str) -> Option<&'a TopImport> {
    imports
        .iter()
        .find(|i| !i.wildcard && !i.future && i.from_module.as_deref() == Some(module))
}

/// Edits that add `names` (each `name [as alias]`) to an existing `from` import,
/// keeping its layout: same line for a one-line import, one name per line otherwise.
pub fn merge_into_from(
    text: &str,
    target: &TopImport,
    names: &[String],
    newline: &str,
    origin: &str,
) -> Vec<Edit> {
    let stmt = &text[target.start..target.end];
    let multiline = target.parenthesized && stmt.contains('\n');
    if !multiline {
        let clause: String = names.iter().map(|n| format!(", {n}")).collect();
        return vec![Edit::insert(target.last_name_end, clause, origin)];
    }
    // One name per line, at the indentation of the last name, after its comment if any.
    let after = &text[target.last_name_end..target.end];
    let has_comma = after.trim_start().starts_with(',');
    let last_line_start = line_start(text, target.last_name_end);
    let indent: String = text[last_line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let eol = text[target.last_name_end..target.end]
        .find('\n')
        .map(|i| target.last_name_end + i)
        .unwrap_or(target.last_name_end);
    let eol = if eol > 0 && text.as_bytes()[eol - 1] == b'\r' {
        eol - 1
    } else {
        eol
    };
    let mut edits = Vec::new();
    if !has_comma {
        edits.push(Edit::insert(target.last_name_end, ",", origin));
    }
    let lines: String = names
        .iter()
        .map(|n| format!("{newline}{indent}{n},"))
        .collect();
    if text[target.last_name_end..eol]
        .trim()
        .trim_start_matches(',')
        .trim_start()
        .starts_with(')')
    {
        // The closing parenthesis stands on the last name's line: `a, b)`.
        let clause: String = names.iter().map(|n| format!(", {n}")).collect();
        return vec![Edit::insert(target.last_name_end, clause, origin)];
    }
    edits.push(Edit::insert(eol, lines, origin));
    edits
}

/// Edits that ensure every spec is imported at module level: skipped when present,
/// merged into an existing `from` import of the same module, else added as a new line
/// at the [`insertion_point`].
pub fn ensure(
    text: &str,
    tree: &Tree,
    specs: &[ImportSpec],
    newline: &str,
    origin: &str,
) -> Vec<Edit> {
    let existing = module_imports(tree, text);
    let mut edits = Vec::new();
    let mut new_lines: Vec<(String, Vec<String>)> = Vec::new(); // (module or "", names)
    let mut merges: Vec<(usize, Vec<String>)> = Vec::new();
    for spec in specs {
        if already_imported(&existing, spec) {
            continue;
        }
        match spec {
            ImportSpec::From { module, .. } => {
                if let Some(target) = mergeable_from(&existing, module) {
                    let idx = existing
                        .iter()
                        .position(|e| std::ptr::eq(e, target))
                        .unwrap_or(0);
                    match merges.iter_mut().find(|(i, _)| *i == idx) {
                        Some((_, names)) if !names.contains(&spec.name_clause()) => {
                            names.push(spec.name_clause())
                        }
                        Some(_) => {}
                        None => merges.push((idx, vec![spec.name_clause()])),
                    }
                } else {
                    match new_lines.iter_mut().find(|(m, _)| m == module) {
                        Some((_, names)) if !names.contains(&spec.name_clause()) => {
                            names.push(spec.name_clause())
                        }
                        Some(_) => {}
                        None => new_lines.push((module.clone(), vec![spec.name_clause()])),
                    }
                }
            }
            ImportSpec::Import { .. } => {
                let line = spec.render();
                if !new_lines.iter().any(|(m, n)| m.is_empty() && n[0] == line) {
                    new_lines.push((String::new(), vec![line]));
                }
            }
        }
    }
    for (idx, names) in merges {
        edits.extend(merge_into_from(
            text,
            &existing[idx],
            &names,
            newline,
            origin,
        ));
    }
    if !new_lines.is_empty() {
        let render = |(m, names): &(String, Vec<String>)| {
            if m.is_empty() {
                names[0].clone()
            } else {
                format!("from {m} import {}", names.join(", "))
            }
        };
        let module_of = |(m, names): &(String, Vec<String>)| {
            if m.is_empty() {
                names[0]
                    .trim_start_matches("import ")
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_owned()
            } else {
                m.clone()
            }
        };
        let (stdlib, others): (Vec<_>, Vec<_>) = new_lines
            .iter()
            .partition(|e| crate::stdlib::is_stdlib(&module_of(e)));
        let mut rest: Vec<String> = others.into_iter().map(render).collect();
        let std_lines: Vec<String> = stdlib.into_iter().map(render).collect();
        if !std_lines.is_empty() {
            let lines: String = std_lines.iter().map(|l| format!("{l}{newline}")).collect();
            match stdlib_anchor(tree, text) {
                Some(StdlibAnchor::After(at)) => edits.push(Edit::insert(at, lines, origin)),
                Some(StdlibAnchor::Before(at)) => {
                    edits.push(Edit::insert(at, format!("{lines}{newline}"), origin))
                }
                None => {
                    rest.splice(0..0, std_lines);
                }
            }
        }
        if !rest.is_empty() {
            edits.push(insert_block(text, tree, &rest, newline, origin));
        }
    }
    edits
}

/// Where a standard-library import joins the top import block: after its last
/// standard-library import, else before its first other import (as its own group).
enum StdlibAnchor {
    After(usize),
    Before(usize),
}

fn stdlib_anchor(tree: &Tree, text: &str) -> Option<StdlibAnchor> {
    let root = tree.root_node();
    let mut cursor = root.walk();
    let mut last_std: Option<usize> = None;
    let mut first_other: Option<usize> = None;
    for (i, child) in root.named_children(&mut cursor).enumerate() {
        match kind_of(child) {
            "comment" | "future_import_statement" => continue,
            "expression_statement" if i == 0 && is_docstring(child) => continue,
            "import_statement" | "import_from_statement" => {
                let Some(import) = read_import(child, text) else {
                    break;
                };
                let module = import.specs.first().map(ImportSpec::module).unwrap_or("");
                if crate::stdlib::is_stdlib(module) {
                    last_std = Some(child.end_byte());
                } else if first_other.is_none() {
                    first_other = Some(child.start_byte());
                }
            }
            _ => break,
        }
    }
    match (last_std, first_other) {
        (Some(end), _) => {
            let line_end = text[end..].find('\n').map(|i| end + i + 1)?;
            Some(StdlibAnchor::After(line_end))
        }
        (None, Some(start)) => Some(StdlibAnchor::Before(line_start(text, start))),
        (None, None) => None,
    }
}

/// One edit that inserts whole statements (each a line, or several) at the insertion point.
pub fn insert_block(
    text: &str,
    tree: &Tree,
    statements: &[String],
    newline: &str,
    origin: &str,
) -> Edit {
    let point = insertion_point(tree, text);
    let mut block = String::new();
    if point.needs_newline {
        block.push_str(newline);
    }
    if point.after_docstring {
        block.push_str(newline);
    }
    for s in statements {
        block.push_str(&s.replace('\n', newline).replace("\r\r\n", "\r\n"));
        block.push_str(newline);
    }
    if point.offset == 0 && !text.is_empty() && point.offset < text.len() {
        // Before the first statement of a module without imports: set the code off.
        let next = &text[point.offset..];
        if !next.starts_with(newline) && !next.starts_with("import ") && !next.starts_with("from ")
        {
            block.push_str(newline);
        }
    }
    Edit::insert(point.offset, block, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, specs: &[&str]) -> String {
        let tree = crate::parse::parse(src).unwrap();
        let specs: Vec<ImportSpec> = specs
            .iter()
            .flat_map(|s| ImportSpec::parse_all(s).unwrap())
            .collect();
        let edits = ensure(src, &tree, &specs, "\n", "t");
        let (edits, conflicts) = crate::edit::resolve(edits);
        assert!(conflicts.is_empty());
        crate::edit::apply(src, &edits)
    }

    #[test]
    fn merges_into_existing_from_import() {
        assert_eq!(
            run(
                "from datetime import datetime\n\nx = 1\n",
                &["from datetime import timezone"]
            ),
            "from datetime import datetime, timezone\n\nx = 1\n"
        );
    }

    #[test]
    fn merges_into_parenthesized_multiline_import() {
        assert_eq!(
            run(
                "from m import (\n    a,  # note\n    b\n)\n",
                &["from m import c"]
            ),
            "from m import (\n    a,  # note\n    b,\n    c,\n)\n"
        );
    }

    #[test]
    fn skips_what_is_already_imported() {
        let src = "import os\nfrom a import b as c\n";
        assert_eq!(run(src, &["import os", "from a import b as c"]), src);
    }

    #[test]
    fn places_after_docstring_future_and_imports() {
        assert_eq!(
            run("\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\nimport os\n\nx = 1\n", &["import sys"]),
            "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\nimport os\nimport sys\n\nx = 1\n"
        );
        assert_eq!(
            run("\"\"\"Doc.\"\"\"\n\nx = 1\n", &["import sys"]),
            "\"\"\"Doc.\"\"\"\n\nimport sys\n\nx = 1\n"
        );
        assert_eq!(run("x = 1\n", &["import sys"]), "import sys\n\nx = 1\n");
        assert_eq!(run("import os", &["import sys"]), "import os\nimport sys\n");
    }

    #[test]
    fn standard_library_imports_join_their_group() {
        assert_eq!(
            run(
                "import os\n\nimport requests\nfrom app import x\n\ny = 1\n",
                &["import functools"]
            ),
            "import os\nimport functools\n\nimport requests\nfrom app import x\n\ny = 1\n"
        );
        assert_eq!(
            run(
                "import requests\n\ny = 1\n",
                &["import functools", "from app import z"]
            ),
            "import functools\n\nimport requests\nfrom app import z\n\ny = 1\n"
        );
        assert_eq!(
            run(
                "#!/usr/bin/env python\n\"\"\"Doc.\"\"\"\nimport os\n",
                &["import sys"]
            ),
            "#!/usr/bin/env python\n\"\"\"Doc.\"\"\"\nimport os\nimport sys\n"
        );
    }
}
