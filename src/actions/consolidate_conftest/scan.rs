//! Reads one conftest.py into its top-level items (imports, `pytest_plugins`, fixtures,
//! hooks, other module code) with what each binds and uses, and test modules into the
//! names they mention. Only syntax: nothing is imported or run.

use std::collections::BTreeSet;

use tree_sitter::Node;

use std::ops::Range;

use crate::imports::{self, ImportSpec};
use crate::parse::{self, text as node_text};
use crate::semantic::{self, Model, ScopeId};

#[derive(Debug, Clone)]
pub struct Fixture {
    /// The fixture's name: `name=` of the decorator, else the function's.
    pub name: String,
    pub params: Vec<String>,
    /// Names it may request: parameters and identifier-like strings (`getfixturevalue`).
    pub deps: BTreeSet<String>,
    pub autouse: bool,
    /// Why it cannot be moved at all (its name or autouse flag is not a literal).
    pub unreadable: Option<String>,
    /// `scope="package"` (or a scope that is not a literal): its instance lives as long as
    /// the package of the conftest that defines it, so it may not change conftest.
    pub package_scope: bool,
}

/// One statement of a hook body, with its leading comments.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// From the start of its first line (indentation included) to its end.
    pub text: String,
    /// Normalized tokens; empty for a comment-only line.
    pub key: String,
    pub binds: BTreeSet<String>,
    pub docstring: bool,
}

#[derive(Debug, Clone)]
pub struct Hook {
    pub name: String,
    /// Normalized decorators; merged hooks must have the same.
    pub decorators_key: String,
    /// Decorators as written (every line, newline-terminated).
    pub decorators_text: String,
    /// (name, text as written) of every parameter.
    pub params: Vec<(String, String)>,
    pub splat: bool,
    pub ret: Option<String>,
    pub is_async: bool,
    /// The indentation of the body; `None` when mixed or on the `def` line.
    pub indent: Option<String>,
    pub body: Vec<Stmt>,
    /// A `return` or `yield` of its own (not of a nested function).
    pub returns: bool,
    /// Names bound in the body (not in nested functions).
    pub locals: BTreeSet<String>,
    pub mentions: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// A module-level import before any other module code: hoisted and merged.
    Import(Vec<ImportSpec>),
    Docstring,
    /// `pytest_plugins = ...`: the plugin names when they are literal strings.
    Plugins(Option<Vec<String>>),
    Fixture(Fixture),
    Hook(Box<Hook>),
    /// Anything else: constants, helpers, classes, `sys.path` tweaks, late imports.
    Code,
    /// Comments after the last statement.
    Comment,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub kind: Kind,
    /// The statement (with a comment on its last line).
    pub start: usize,
    pub end: usize,
    /// The end of the statement itself (without a comment on its last line).
    pub stmt_end: usize,
    /// Start of the line of its first leading comment (or of the statement).
    pub span_start: usize,
    /// After the newline that ends its last line.
    pub span_end: usize,
    pub line: usize,
    /// Normalized tokens (comments and layout aside).
    pub key: String,
    /// Module-level names it binds.
    pub binds: BTreeSet<String>,
    /// Names it uses that it does not bind itself.
    pub free: BTreeSet<String>,
    pub relative_import: bool,
    /// Why this item must stay in its conftest whatever else moves.
    pub pinned: Option<String>,
}

impl Item {
    pub fn name(&self) -> String {
        match &self.kind {
            Kind::Fixture(f) => f.name.clone(),
            Kind::Hook(h) => h.name.clone(),
            Kind::Plugins(_) => "pytest_plugins".into(),
            _ => self.binds.iter().next().cloned().unwrap_or_default(),
        }
    }
}

pub struct Scan {
    pub items: Vec<Item>,
    /// Why the file cannot be taken apart (it is then left as it is).
    pub frozen: Option<String>,
    pub future: BTreeSet<ImportSpec>,
}

/// The start of the first line at or after `offset` (a line start) that is not blank.
pub fn skip_blank_lines(text: &str, mut offset: usize) -> usize {
    while offset < text.len() {
        let end = line_end(text, offset);
        if !text[offset..end].trim().is_empty() {
            break;
        }
        offset = end;
    }
    offset
}

pub fn line_end(text: &str, offset: usize) -> usize {
    text[offset..]
        .find('\n')
        .map_or(text.len(), |i| offset + i + 1)
}

/// `None` when the file does not parse.
pub fn scan(text: &str) -> Option<Scan> {
    let tree = parse::parse(text)?;
    if parse::first_error(&tree).is_some() {
        return None;
    }
    let root = tree.root_node();
    let model = semantic::build(&tree, text);
    let mut items: Vec<Item> = Vec::new();
    let mut pending: Option<usize> = None;
    let mut frozen = None;
    let mut future = BTreeSet::new();
    let mut code_seen = false;
    let mut cursor = root.walk();
    let children: Vec<Node> = root.named_children(&mut cursor).collect();
    for node in children {
        if node.kind() == "comment" {
            if pending.is_none() {
                if let Some(prev) = items.last_mut() {
                    if !text[prev.end..node.start_byte()].contains('\n') {
                        prev.end = node.end_byte();
                        prev.span_end = line_end(text, prev.end);
                        continue;
                    }
                }
                pending = Some(imports::line_start(text, node.start_byte()));
            }
            continue;
        }
        let first = items.is_empty() && pending.is_none();
        let span_start = pending
            .take()
            .unwrap_or_else(|| imports::line_start(text, node.start_byte()));
        if items.last().is_some_and(|p| p.span_end > span_start) {
            frozen.get_or_insert_with(|| {
                "two statements share a line; it is left as it is".to_owned()
            });
        }
        let mut item = Item {
            kind: Kind::Code,
            start: node.start_byte(),
            end: node.end_byte(),
            stmt_end: node.end_byte(),
            span_start,
            span_end: line_end(text, node.end_byte()),
            line: crate::diag::line_col(text, node.start_byte()).0,
            key: norm_key(node, text),
            binds: BTreeSet::new(),
            free: BTreeSet::new(),
            relative_import: false,
            pinned: None,
        };
        match node.kind() {
            "import_statement" | "import_from_statement" | "future_import_statement" => {
                let imp = imports::read_import(node, text);
                let specs: Vec<ImportSpec> =
                    imp.as_ref().map(|i| i.specs.clone()).unwrap_or_default();
                let relative = imp
                    .as_ref()
                    .and_then(|i| i.from_module.as_deref())
                    .is_some_and(|m| m.starts_with('.'));
                let wildcard = imp.as_ref().is_some_and(|i| i.wildcard);
                if wildcard {
                    frozen.get_or_insert_with(|| {
                        "`import *` hides which names it binds; it is left as it is".to_owned()
                    });
                }
                if node.kind() == "future_import_statement" {
                    future.extend(specs.iter().cloned());
                }
                item.binds = specs
                    .iter()
                    .filter(|s| s.module() != "__future__")
                    .map(|s| s.bound_name().to_owned())
                    .collect();
                item.relative_import = relative;
                if !code_seen && !relative && !wildcard {
                    item.kind = Kind::Import(specs);
                } else {
                    code_seen = true;
                }
            }
            "expression_statement" if first && is_string_statement(node) => {
                item.kind = Kind::Docstring;
            }
            "expression_statement" if plugins_assignment(node, text).is_some() => {
                item.kind = Kind::Plugins(plugins_assignment(node, text).flatten());
                item.free = module_reads(&model, node.byte_range());
                item.free.remove("pytest_plugins");
            }
            "decorated_definition" | "function_definition" => {
                let def = if node.kind() == "decorated_definition" {
                    node.child_by_field_name("definition")
                } else {
                    Some(node)
                };
                match def.filter(|d| d.kind() == "function_definition") {
                    Some(def) => classify_function(node, def, text, &model, &mut item),
                    None => {
                        code_seen = true;
                        item.binds = scope_binds(&model, 0, node.byte_range());
                        item.free = minus(&module_reads(&model, node.byte_range()), &item.binds);
                    }
                }
                if matches!(item.kind, Kind::Code) {
                    code_seen = true;
                }
            }
            _ => {
                code_seen = true;
                item.binds = scope_binds(&model, 0, node.byte_range());
                item.free = minus(&module_reads(&model, node.byte_range()), &item.binds);
            }
        }
        if matches!(item.kind, Kind::Import(_)) || item.relative_import {
            item.free.clear();
        }
        if matches!(item.kind, Kind::Code) {
            if let Some(n) = item
                .binds
                .iter()
                .find(|n| PER_DIRECTORY.contains(&n.as_str()))
            {
                item.pinned = Some(format!(
                    "pytest reads `{n}` from each conftest, relative to its directory"
                ));
            }
            if let Some(w) = skip_at_import(node, text) {
                frozen.get_or_insert_with(|| {
                    format!("its module code can stop the collection of its directory (`{w}`); it is left as it is")
                });
            }
        }
        items.push(item);
    }
    if let Some(p) = pending {
        items.push(Item {
            kind: Kind::Comment,
            start: p,
            end: text.len(),
            stmt_end: text.len(),
            span_start: p,
            span_end: text.len(),
            line: crate::diag::line_col(text, p).0,
            key: String::new(),
            binds: BTreeSet::new(),
            free: BTreeSet::new(),
            relative_import: false,
            pinned: None,
        });
    }
    Some(Scan {
        items,
        frozen,
        future,
    })
}

/// Module-level names pytest reads from every conftest, for that conftest's directory.
const PER_DIRECTORY: &[&str] = &["collect_ignore", "collect_ignore_glob"];

/// Calls that, run while a conftest is imported, skip or stop what is collected below it.
const SKIPS: &[&str] = &[
    "importorskip",
    "skip",
    "exit",
    "xfail",
    "fail",
    "SkipTest",
    "Skipped",
];

/// The first of `SKIPS` that the statement calls (or raises) when the module is
/// imported: function bodies aside.
fn skip_at_import(node: Node<'_>, text: &str) -> Option<String> {
    let last_name = |f: Node<'_>| -> Option<String> {
        let f = if f.kind() == "call" {
            f.child_by_field_name("function")?
        } else {
            f
        };
        let id = match f.kind() {
            "identifier" => f,
            "attribute" => f.child_by_field_name("attribute")?,
            _ => return None,
        };
        let t = node_text(id, text);
        SKIPS.contains(&t).then(|| t.to_owned())
    };
    let mut stack = vec![node];
    let mut cursor = node.walk();
    while let Some(n) = stack.pop() {
        match n.kind() {
            "call" => {
                if let Some(w) = n.child_by_field_name("function").and_then(last_name) {
                    return Some(w);
                }
            }
            "raise_statement" => {
                if let Some(w) = n.named_child(0).and_then(last_name) {
                    return Some(w);
                }
            }
            "lambda" => continue,
            "function_definition" => {
                let body = n.child_by_field_name("body");
                let mut c = n.walk();
                stack.extend(n.children(&mut c).filter(|ch| Some(*ch) != body));
                continue;
            }
            _ => {}
        }
        stack.extend(n.children(&mut cursor).collect::<Vec<_>>());
    }
    None
}

fn minus(a: &BTreeSet<String>, b: &BTreeSet<String>) -> BTreeSet<String> {
    a.difference(b).cloned().collect()
}

fn classify_function(node: Node<'_>, def: Node<'_>, text: &str, model: &Model, item: &mut Item) {
    let name = def
        .child_by_field_name("name")
        .map(|n| node_text(n, text).to_owned())
        .unwrap_or_default();
    let params_node = def.child_by_field_name("parameters");
    let params = params_node.map(|p| parameters(p, text)).unwrap_or_default();
    let body = def.child_by_field_name("body");
    // What the function reads from the module (its decorators, defaults and
    // annotations too), and what it binds there: its name, and any name its body
    // declares `global` and assigns.
    item.binds = scope_binds(model, 0, node.byte_range());
    item.binds.insert(name.clone());
    item.free = minus(&module_reads(model, node.byte_range()), &item.binds);
    let scope = body.map(|b| model.scope_at(b.start_byte()));
    let mut decorators = Vec::new();
    if node.kind() == "decorated_definition" {
        let mut c = node.walk();
        decorators = node
            .named_children(&mut c)
            .filter(|d| d.kind() == "decorator")
            .collect();
    }
    if let Some(fixture) = decorators.iter().find_map(|d| fixture_decorator(*d, text)) {
        let (fname, autouse, unreadable, package_scope) = fixture;
        let mut deps: BTreeSet<String> = params.iter().map(|(n, _)| n.clone()).collect();
        strings(node, text, &mut deps);
        item.kind = Kind::Fixture(Fixture {
            name: fname.unwrap_or_else(|| name.clone()),
            params: params.iter().map(|(n, _)| n.clone()).collect(),
            deps,
            autouse,
            unreadable,
            package_scope,
        });
        return;
    }
    if !name.starts_with("pytest_") {
        return;
    }
    let decorators_key = decorators
        .iter()
        .map(|d| norm_key(*d, text))
        .collect::<Vec<_>>()
        .join(" ");
    let decorators_text = text[node.start_byte()..def.start_byte()].to_owned();
    let splat = params_node.is_some_and(|p| {
        let mut c = p.walk();
        let found = p.named_children(&mut c).any(|x| {
            matches!(
                x.kind(),
                "list_splat_pattern" | "dictionary_splat_pattern" | "keyword_separator"
            )
        });
        found
    });
    let mut body_stmts: Vec<Stmt> = Vec::new();
    let mut indent: Option<String> = None;
    let mut mixed = false;
    if let Some(b) = body {
        // Each statement takes the lines between the previous one and itself (its
        // comments, which tree-sitter may hang on the function rather than the block).
        let mut c = def.walk();
        let colon = def
            .children(&mut c)
            .filter(|n| n.kind() == ":")
            .last()
            .map_or(b.start_byte(), |n| n.end_byte());
        let mut region = line_end(text, colon);
        let mut last_end: Option<usize> = None;
        let mut c = b.walk();
        for s in b.named_children(&mut c) {
            if s.kind() == "comment" {
                if let (Some(le), Some(prev)) = (last_end, body_stmts.last_mut()) {
                    if !text[le..s.start_byte()].contains('\n') {
                        prev.text.push_str(&text[le..s.end_byte()]);
                        last_end = Some(s.end_byte());
                        region = line_end(text, s.end_byte());
                    }
                }
                continue;
            }
            let ls = imports::line_start(text, s.start_byte());
            let lead = &text[ls..s.start_byte()];
            if s.start_byte() < region || !lead.chars().all(|ch| ch == ' ' || ch == '\t') {
                mixed = true;
            } else {
                match &indent {
                    None => indent = Some(lead.to_owned()),
                    Some(i) if i != lead => mixed = true,
                    _ => {}
                }
            }
            let from = skip_blank_lines(text, region.min(ls));
            body_stmts.push(Stmt {
                text: text[from..s.end_byte()].to_owned(),
                key: norm_key(s, text),
                binds: scope
                    .map_or_else(BTreeSet::new, |sc| scope_binds(model, sc, s.byte_range())),
                docstring: body_stmts.is_empty() && is_string_statement(s),
            });
            last_end = Some(s.end_byte());
            region = line_end(text, s.end_byte());
        }
        let rest = &text[region.min(b.end_byte())..b.end_byte()];
        if rest.contains('#') {
            body_stmts.push(Stmt {
                text: text[skip_blank_lines(text, region)..b.end_byte()]
                    .trim_end()
                    .to_owned(),
                key: String::new(),
                binds: BTreeSet::new(),
                docstring: false,
            });
        }
    }
    let mentions = body.map(|b| idents(b, text)).unwrap_or_default();
    let locals = body
        .zip(scope)
        .map(|(b, sc)| scope_binds(model, sc, b.byte_range()))
        .unwrap_or_default();
    item.kind = Kind::Hook(Box::new(Hook {
        name,
        decorators_key,
        decorators_text,
        params,
        splat,
        ret: def
            .child_by_field_name("return_type")
            .map(|r| node_text(r, text).to_owned()),
        is_async: node_text(def, text).starts_with("async"),
        indent: if mixed { None } else { indent },
        body: body_stmts,
        returns: body.is_some_and(|b| returns_or_yields(b)),
        locals,
        mentions,
    }));
}

/// `(name=..., autouse, why unreadable, package scope)` when `dec` is `@pytest.fixture`
/// (any spelling ending in `fixture`, with or without a call).
fn fixture_decorator(
    dec: Node<'_>,
    text: &str,
) -> Option<(Option<String>, bool, Option<String>, bool)> {
    let expr = dec.named_child(0)?;
    let (callee, args) = if expr.kind() == "call" {
        (
            expr.child_by_field_name("function")?,
            expr.child_by_field_name("arguments"),
        )
    } else {
        (expr, None)
    };
    let callee: String = node_text(callee, text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if callee != "fixture" && !callee.ends_with(".fixture") {
        return None;
    }
    let mut name = None;
    let mut autouse = false;
    let mut unreadable = None;
    let mut package_scope = false;
    if let Some(args) = args {
        let mut c = args.walk();
        for a in args.named_children(&mut c) {
            if a.kind() != "keyword_argument" {
                continue;
            }
            let key = a.child_by_field_name("name").map(|n| node_text(n, text));
            let value = a.child_by_field_name("value");
            match (key, value) {
                (Some("name"), Some(v)) => match string_literal(v, text) {
                    Some(s) => name = Some(s),
                    None => unreadable = Some("its `name=` is not a string literal".to_owned()),
                },
                (Some("autouse"), Some(v)) => match node_text(v, text) {
                    "True" => autouse = true,
                    "False" => {}
                    _ => {
                        autouse = true;
                        unreadable = Some("its `autouse=` is not True or False".to_owned());
                    }
                },
                (Some("scope"), Some(v)) => {
                    package_scope = string_literal(v, text).is_none_or(|s| s == "package");
                }
                _ => {}
            }
        }
    }
    Some((name, autouse, unreadable, package_scope))
}

/// The value of a plain string literal (no f-string, no concatenation, no escapes).
pub fn string_literal(node: Node<'_>, text: &str) -> Option<String> {
    if node.kind() != "string" {
        return None;
    }
    let mut c = node.walk();
    let mut content = String::new();
    for ch in node.named_children(&mut c) {
        match ch.kind() {
            "string_start" => {
                let s = node_text(ch, text);
                if s.chars()
                    .any(|c| c.is_ascii_alphabetic() && c != 'r' && c != 'R')
                {
                    return None;
                }
            }
            "string_content" => content.push_str(node_text(ch, text)),
            "string_end" => {}
            _ => return None,
        }
    }
    Some(content)
}

/// `Some(plugins)` when `node` is `pytest_plugins = ...`; the inner `None` when the value
/// is not a literal string or list/tuple of strings.
fn plugins_assignment(node: Node<'_>, text: &str) -> Option<Option<Vec<String>>> {
    let a = node.named_child(0).filter(|a| a.kind() == "assignment")?;
    let left = a.child_by_field_name("left")?;
    if left.kind() != "identifier" || node_text(left, text) != "pytest_plugins" {
        return None;
    }
    let Some(right) = a.child_by_field_name("right") else {
        return Some(None);
    };
    if let Some(s) = string_literal(right, text) {
        return Some(Some(vec![s]));
    }
    if matches!(right.kind(), "list" | "tuple") {
        let mut c = right.walk();
        let values: Option<Vec<String>> = right
            .named_children(&mut c)
            .filter(|n| n.kind() != "comment")
            .map(|n| string_literal(n, text))
            .collect();
        return Some(values);
    }
    Some(None)
}

fn is_string_statement(node: Node<'_>) -> bool {
    node.kind() == "expression_statement"
        && node.named_child_count() == 1
        && node
            .named_child(0)
            .is_some_and(|c| matches!(c.kind(), "string" | "concatenated_string"))
}

fn parameters(p: Node<'_>, text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut c = p.walk();
    for x in p.named_children(&mut c) {
        let name = match x.kind() {
            "identifier" => Some(x),
            "default_parameter" | "typed_default_parameter" => x.child_by_field_name("name"),
            "typed_parameter" => x.named_child(0).filter(|n| n.kind() == "identifier"),
            _ => None,
        };
        if let Some(n) = name {
            out.push((node_text(n, text).to_owned(), node_text(x, text).to_owned()));
        }
    }
    out
}

/// Tokens of a node without comments, one space apart: equal for code that differs
/// only in comments and layout.
pub fn norm_key(node: Node<'_>, text: &str) -> String {
    let mut out = String::new();
    let mut cursor = node.walk();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind() == "comment" {
            continue;
        }
        if n.child_count() == 0 || n.kind() == "string_content" {
            if n.kind() == "," && is_trailing_comma(n) {
                continue;
            }
            let t = node_text(n, text);
            if !t.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(t);
            }
            continue;
        }
        let children: Vec<Node> = n.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// A comma just before a closing bracket, outside a tuple (`(1,)` needs it).
fn is_trailing_comma(n: Node<'_>) -> bool {
    if n.parent()
        .is_some_and(|p| matches!(p.kind(), "tuple" | "subscript"))
    {
        return false;
    }
    let mut next = n.next_sibling();
    while let Some(x) = next.filter(|x| x.kind() == "comment") {
        next = x.next_sibling();
    }
    next.is_some_and(|x| matches!(x.kind(), ")" | "]" | "}"))
}

/// Identifiers a node uses: not attribute names (`x.name`) nor keyword names (`f(name=)`).
pub fn idents(node: Node<'_>, text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![node];
    let mut cursor = node.walk();
    while let Some(n) = stack.pop() {
        if n.kind() == "identifier" {
            let skip = n.parent().is_some_and(|p| {
                (p.kind() == "attribute" && p.child_by_field_name("attribute") == Some(n))
                    || (p.kind() == "keyword_argument" && p.child_by_field_name("name") == Some(n))
            });
            if !skip {
                out.insert(node_text(n, text).to_owned());
            }
            continue;
        }
        stack.extend(n.children(&mut cursor).collect::<Vec<_>>());
    }
    out
}

/// Identifier-like string contents (`"db_session"` in `usefixtures` or `getfixturevalue`).
pub fn strings(node: Node<'_>, text: &str, out: &mut BTreeSet<String>) {
    let mut stack = vec![node];
    let mut cursor = node.walk();
    while let Some(n) = stack.pop() {
        if n.kind() == "string_content" {
            for part in node_text(n, text).split(|c: char| c == ',' || c.is_whitespace()) {
                if is_identifier(part) {
                    out.insert(part.to_owned());
                }
            }
            continue;
        }
        stack.extend(n.children(&mut cursor).collect::<Vec<_>>());
    }
}

pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// The names the code at `range` reads from the module (or the builtins) at run time,
/// in any scope of it: a name a function binds itself, or a comprehension, is not one.
fn module_reads(model: &Model, range: Range<usize>) -> BTreeSet<String> {
    model
        .references
        .iter()
        .filter(|r| range.contains(&r.start) && model.resolve(r) == 0)
        .map(|r| r.name.clone())
        .collect()
}

/// The names the statement at `range` binds in `scope` at run time (the module: 0, or
/// a hook's body): its assignments, definitions and imports, and those of nested
/// functions that declare the name `global` (or `nonlocal`); what nested functions and
/// comprehensions bind for themselves is left out.
fn scope_binds(model: &Model, scope: ScopeId, range: Range<usize>) -> BTreeSet<String> {
    model
        .bindings
        .iter()
        .filter(|b| range.contains(&b.start) && model.binding_scope(b) == scope)
        .map(|b| b.name.clone())
        .collect()
}

fn returns_or_yields(node: Node<'_>) -> bool {
    let mut stack = vec![node];
    let mut cursor = node.walk();
    while let Some(n) = stack.pop() {
        match n.kind() {
            "return_statement" | "yield" => return true,
            "function_definition" | "class_definition" | "lambda" => continue,
            _ => stack.extend(n.children(&mut cursor).collect::<Vec<_>>()),
        }
    }
    false
}

/// Every identifier and identifier-like string of a module: the names a test module
/// may request as fixtures.
pub fn mentions(text: &str) -> Option<BTreeSet<String>> {
    let tree = parse::parse(text)?;
    let root = tree.root_node();
    let mut out = idents(root, text);
    strings(root, text, &mut out);
    Some(out)
}

/// The conftest modules a module imports (anywhere in it), as written: `.conftest`,
/// `tests.conftest`, `conftest` (`from . import conftest` gives `.conftest`).
pub fn conftest_imports(text: &str) -> Vec<String> {
    let Some(tree) = parse::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let root = tree.root_node();
    let mut stack = vec![root];
    let mut cursor = root.walk();
    let is_conftest = |m: &str| m.rsplit('.').next() == Some("conftest");
    while let Some(n) = stack.pop() {
        if matches!(n.kind(), "import_statement" | "import_from_statement") {
            let Some(imp) = imports::read_import(n, text) else {
                continue;
            };
            if let Some(m) = &imp.from_module {
                if is_conftest(m) {
                    out.push(m.clone());
                    continue;
                }
            }
            for spec in &imp.specs {
                match spec {
                    ImportSpec::Import { module, .. } if is_conftest(module) => {
                        out.push(module.clone())
                    }
                    ImportSpec::From { module, name, .. } if name == "conftest" => {
                        let sep = if module.ends_with('.') { "" } else { "." };
                        out.push(format!("{module}{sep}conftest"));
                    }
                    _ => {}
                }
            }
            continue;
        }
        stack.extend(n.children(&mut cursor).collect::<Vec<_>>());
    }
    out
}
