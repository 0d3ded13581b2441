//! What one test module or conftest holds for the migration: its re-implemented
//! `event_loop` fixtures (and whether each only makes, hands out and closes a loop),
//! its tests and fixtures (async or not, their asyncio marks and fixture decorators,
//! how they use a requested `event_loop`), and every asyncio mark. Names are read
//! through the semantic model: `pytest.mark.asyncio` is whatever the file binds to it
//! (`import pytest as pt` gives `pt.mark.asyncio`, `from pytest import mark` gives
//! `mark.asyncio`).

use std::ops::Range;

use tree_sitter::Node;

use crate::diag::line_col;
use crate::parse::text as node_text;
use crate::semantic::Model;

/// Where `loop_scope="S"` goes in a decorator or mark.
#[derive(Debug, Clone)]
pub enum KwSlot {
    /// `@pytest.mark.asyncio`: `(loop_scope="S")` after the name.
    Call(usize),
    /// `@pytest.fixture()`: `loop_scope="S"` inside the parentheses.
    Empty(usize),
    /// `@pytest.fixture(scope="x")`: `, loop_scope="S"` after the last argument.
    After(usize),
}

impl KwSlot {
    pub fn edit_text(&self, kw: &str) -> (usize, String) {
        match self {
            KwSlot::Call(at) => (*at, format!("({kw})")),
            KwSlot::Empty(at) => (*at, kw.to_owned()),
            KwSlot::After(at) => (*at, format!(", {kw}")),
        }
    }
}

/// One `pytest.mark.asyncio` (bare or called).
#[derive(Debug, Clone)]
pub struct Mark {
    pub line: usize,
    pub slot: KwSlot,
    pub loop_scope: Option<String>,
    /// The deprecated `scope=` keyword: its name's range and its value.
    pub scope_kw: Option<(Range<usize>, Option<String>)>,
    /// Both `scope=` and `loop_scope=`: pytest-asyncio refuses it.
    pub both: bool,
}

impl Mark {
    /// The loop scope the mark gives (under pytest-asyncio 1.x, `scope=` still counts).
    pub fn scope(&self) -> Option<&str> {
        self.loop_scope
            .as_deref()
            .or(self.scope_kw.as_ref().and_then(|(_, v)| v.as_deref()))
    }
}

#[derive(Debug, Clone)]
pub struct FixtureDec {
    /// The callee (`pytest.fixture`, `fixture`, `pytest_asyncio.fixture`).
    pub callee: Range<usize>,
    pub asyncio: bool,
    /// `scope=`: `function` when absent; `None` when not a string literal.
    pub scope: Option<String>,
    pub loop_scope: Option<String>,
    pub name: Option<String>,
    pub slot: KwSlot,
}

/// How a function uses the `event_loop` it requests.
#[derive(Debug, Clone)]
pub enum Uses {
    None,
    /// Only `event_loop.run_until_complete(X)`: (call range, `await X` text).
    RunUntilComplete(Vec<(Range<usize>, String)>),
    /// Any other use: the line and what it is.
    Other(usize, String),
}

#[derive(Debug, Clone)]
pub struct Func {
    pub name: String,
    pub line: usize,
    /// The `def` keyword (where `async ` goes).
    pub def_at: usize,
    /// The start of the line of the first decorator (or of `def`) and its indentation.
    pub stmt_line_start: usize,
    pub indent: String,
    pub is_async: bool,
    pub is_test: bool,
    pub class: Option<usize>,
    pub fixture: Option<FixtureDec>,
    pub marks: Vec<usize>,
    /// The `event_loop` parameter: what to delete to remove it.
    pub event_loop_param: Option<Range<usize>>,
    pub uses: Uses,
    /// Where `event_loop = asyncio.get_running_loop()` goes: offset and indentation
    /// (`None`: the body shares the `def` line).
    pub body_insert: Option<(usize, String, bool)>,
    /// `asyncio` at the body means the module (or is unbound).
    pub asyncio_free: bool,
}

/// A re-implemented `event_loop` fixture at module level.
#[derive(Debug, Clone)]
pub struct LoopFixture {
    pub line: usize,
    /// The statement with its decorators and the blank lines after it.
    pub range: Range<usize>,
    pub scope: String,
    /// `Err(what it also does)` when it does more than make, yield and close a loop.
    pub plain: Result<(), String>,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub loop_fixtures: Vec<LoopFixture>,
    pub funcs: Vec<Func>,
    pub marks: Vec<Mark>,
    /// Marks of each class (decorators and `pytestmark`), by class index.
    pub class_marks: Vec<Vec<usize>>,
    pub module_marks: Vec<usize>,
    /// `"event_loop"` as a string (`usefixtures`, `getfixturevalue`): line.
    pub by_name: Vec<usize>,
    /// Names bound at module level that an added import could rebind, if they are
    /// bound to anything else: (`asyncio`, `pytest`, `pytest_asyncio`) are free.
    pub pytest_free: bool,
    pub pytest_asyncio_free: bool,
}

fn line_of(text: &str, at: usize) -> usize {
    line_col(text, at).0
}

fn dotted_text(node: Node<'_>, text: &str) -> Option<String> {
    match node.kind() {
        "identifier" => Some(node_text(node, text).to_owned()),
        "attribute" => {
            let obj = dotted_text(node.child_by_field_name("object")?, text)?;
            let attr = node.child_by_field_name("attribute")?;
            Some(format!("{obj}.{}", node_text(attr, text)))
        }
        _ => None,
    }
}

/// The qualified name of the dotted expression `node`.
fn qualified(model: &Model, node: Node<'_>, text: &str) -> Option<String> {
    model.qualified_name(node.start_byte(), &dotted_text(node, text)?)
}

fn string_value(node: Node<'_>, text: &str) -> Option<String> {
    crate::project_imports::string_value(node, text)
}

/// A name that may be bound by an added `import NAME`: unbound, or bound to that module.
fn free(model: &Model, at: usize, name: &str) -> bool {
    match model.qualified_name(at, name) {
        Some(q) => q == name || q == format!("builtins.{name}"),
        None => false,
    }
}

fn kw_slot(call_or_attr: Node<'_>) -> KwSlot {
    if call_or_attr.kind() != "call" {
        return KwSlot::Call(call_or_attr.end_byte());
    }
    let Some(args) = call_or_attr.child_by_field_name("arguments") else {
        return KwSlot::Call(call_or_attr.end_byte());
    };
    let mut c = args.walk();
    let named: Vec<Node<'_>> = args
        .named_children(&mut c)
        .filter(|n| n.kind() != "comment")
        .collect();
    match named.last() {
        None => KwSlot::Empty(args.start_byte() + 1),
        Some(last) => KwSlot::After(last.end_byte()),
    }
}

/// What `node` calls (`a.b` of `a.b(...)`), or `node` itself when it is no call.
fn callee_of(node: Node<'_>) -> Option<Node<'_>> {
    if node.kind() == "call" {
        node.child_by_field_name("function")
    } else {
        Some(node)
    }
}

/// The keyword arguments of a call: (name, value); none for a bare name.
fn keywords(call: Node<'_>) -> Vec<(Node<'_>, Node<'_>)> {
    let Some(args) = call.child_by_field_name("arguments") else {
        return Vec::new();
    };
    let mut c = args.walk();
    args.named_children(&mut c)
        .filter(|a| a.kind() == "keyword_argument")
        .filter_map(|a| {
            Some((
                a.child_by_field_name("name")?,
                a.child_by_field_name("value")?,
            ))
        })
        .collect()
}

/// Reads a `pytest.mark.asyncio` (bare or called) at `node`, else `None`.
fn read_mark(model: &Model, node: Node<'_>, text: &str) -> Option<Mark> {
    let callee = callee_of(node)?;
    if qualified(model, callee, text).as_deref() != Some("pytest.mark.asyncio") {
        return None;
    }
    let mut mark = Mark {
        line: line_of(text, node.start_byte()),
        slot: kw_slot(node),
        loop_scope: None,
        scope_kw: None,
        both: false,
    };
    for (k, v) in keywords(node) {
        match node_text(k, text) {
            "loop_scope" => {
                mark.loop_scope = Some(string_value(v, text).unwrap_or_else(|| "?".into()))
            }
            "scope" => mark.scope_kw = Some((k.byte_range(), string_value(v, text))),
            _ => {}
        }
    }
    mark.both = mark.loop_scope.is_some() && mark.scope_kw.is_some();
    Some(mark)
}

fn read_fixture(model: &Model, dec: Node<'_>, text: &str) -> Option<FixtureDec> {
    let expr = dec.named_child(0)?;
    let callee = callee_of(expr)?;
    let q = qualified(model, callee, text)?;
    let asyncio = match q.as_str() {
        "pytest.fixture" => false,
        "pytest_asyncio.fixture" => true,
        _ => return None,
    };
    let mut f = FixtureDec {
        callee: callee.byte_range(),
        asyncio,
        scope: Some("function".into()),
        loop_scope: None,
        name: None,
        slot: kw_slot(expr),
    };
    for (k, v) in keywords(expr) {
        match node_text(k, text) {
            "scope" => f.scope = string_value(v, text),
            "loop_scope" => {
                f.loop_scope = Some(string_value(v, text).unwrap_or_else(|| "?".into()))
            }
            "name" => f.name = string_value(v, text),
            _ => {}
        }
    }
    Some(f)
}

pub fn scan(text: &str, tree: &tree_sitter::Tree, model: &Model) -> Scan {
    let root = tree.root_node();
    let mut s = Scan {
        pytest_free: free(model, text.len(), "pytest"),
        pytest_asyncio_free: free(model, text.len(), "pytest_asyncio"),
        ..Scan::default()
    };
    // Every asyncio mark, wherever it is; decorators and pytestmark are tied to their
    // function, class or module below.
    let mut mark_at: std::collections::HashMap<usize, usize> = Default::default();
    for node in crate::parse::all_nodes(tree) {
        if matches!(node.kind(), "call" | "attribute") {
            // The callee of a call is read with the call.
            let is_callee = node.parent().is_some_and(|p| {
                p.kind() == "call" && p.child_by_field_name("function") == Some(node)
            });
            if is_callee {
                continue;
            }
            if let Some(m) = read_mark(model, node, text) {
                mark_at.insert(node.start_byte(), s.marks.len());
                s.marks.push(m);
            }
        }
        if node.kind() == "string" {
            if let Some(v) = string_value(node, text) {
                if v == "event_loop" {
                    s.by_name.push(line_of(text, node.start_byte()));
                }
            }
        }
    }
    let marks_in = |node: Node<'_>| -> Vec<usize> {
        crate::parse::all_nodes_of(node)
            .into_iter()
            .filter_map(|n| mark_at.get(&n.start_byte()).copied())
            .collect()
    };
    let mut c = root.walk();
    for stmt in root.named_children(&mut c) {
        match def_of(stmt) {
            Some((def, decs)) if def.kind() == "function_definition" => {
                s.func(model, text, stmt, def, &decs, None, &marks_in);
            }
            Some((class, decs)) if class.kind() == "class_definition" => {
                let idx = s.class_marks.len();
                let mut cm: Vec<usize> = decs.iter().flat_map(|d| marks_in(*d)).collect();
                let name = class
                    .child_by_field_name("name")
                    .map(|n| node_text(n, text))
                    .unwrap_or("");
                let Some(body) = class.child_by_field_name("body") else {
                    s.class_marks.push(cm);
                    continue;
                };
                let mut bc = body.walk();
                let members: Vec<Node<'_>> = body.named_children(&mut bc).collect();
                for m in &members {
                    if let Some(value) = pytestmark_value(*m, text) {
                        cm.extend(marks_in(value));
                    }
                }
                s.class_marks.push(cm);
                let test_class = name.starts_with("Test");
                for m in members {
                    if let Some((def, decs)) = def_of(m) {
                        if def.kind() == "function_definition" {
                            let class = Some(idx).filter(|_| test_class);
                            s.func(model, text, m, def, &decs, class, &marks_in);
                        }
                    }
                }
            }
            _ => {
                if let Some(value) = pytestmark_value(stmt, text) {
                    let m = marks_in(value);
                    s.module_marks.extend(m);
                }
            }
        }
    }
    s
}

/// The definition of a statement and its decorators.
fn def_of(stmt: Node<'_>) -> Option<(Node<'_>, Vec<Node<'_>>)> {
    match stmt.kind() {
        "function_definition" | "class_definition" => Some((stmt, Vec::new())),
        "decorated_definition" => {
            let def = stmt.child_by_field_name("definition")?;
            let mut c = stmt.walk();
            let decs = stmt
                .named_children(&mut c)
                .filter(|n| n.kind() == "decorator")
                .collect();
            Some((def, decs))
        }
        _ => None,
    }
}

/// The value of `pytestmark = VALUE`.
fn pytestmark_value<'t>(stmt: Node<'t>, text: &str) -> Option<Node<'t>> {
    if stmt.kind() != "expression_statement" {
        return None;
    }
    let a = stmt.named_child(0).filter(|n| n.kind() == "assignment")?;
    let left = a.child_by_field_name("left")?;
    (node_text(left, text) == "pytestmark").then_some(())?;
    a.child_by_field_name("right")
}

impl Scan {
    #[allow(clippy::too_many_arguments)]
    fn func(
        &mut self,
        model: &Model,
        text: &str,
        stmt: Node<'_>,
        def: Node<'_>,
        decs: &[Node<'_>],
        class: Option<usize>,
        marks_in: &dyn Fn(Node<'_>) -> Vec<usize>,
    ) {
        let Some(name_node) = def.child_by_field_name("name") else {
            return;
        };
        let name = node_text(name_node, text).to_owned();
        let mut cursor = def.walk();
        let is_async = def.children(&mut cursor).any(|c| c.kind() == "async");
        let def_at = {
            let mut cursor = def.walk();
            let kw = def.children(&mut cursor).find(|c| c.kind() == "def");
            kw.map_or(def.start_byte(), |k| k.start_byte())
        };
        let fixture = decs.iter().find_map(|d| read_fixture(model, *d, text));
        let marks: Vec<usize> = decs.iter().flat_map(|d| marks_in(*d)).collect();
        let stmt_line_start = crate::imports::line_start(text, stmt.start_byte());
        let indent = text[stmt_line_start..stmt.start_byte()].to_owned();
        let line = line_of(text, def.start_byte());
        let is_test =
            fixture.is_none() && name.starts_with("test") && (class.is_some() || indent.is_empty());
        let fixture_name = fixture
            .as_ref()
            .map(|f| f.name.clone().unwrap_or_else(|| name.clone()));
        if class.is_none() && indent.is_empty() && fixture_name.as_deref() == Some("event_loop") {
            let fixture = fixture.as_ref();
            self.loop_fixtures.push(LoopFixture {
                line,
                range: removal_range(text, stmt),
                scope: fixture
                    .and_then(|f| f.scope.clone())
                    .unwrap_or_else(|| "?".into()),
                plain: plain_loop_fixture(def, text, asyncio_alias(model, text).as_deref()),
            });
            return;
        }
        if fixture.is_none() && !is_test {
            return;
        }
        let body = def.child_by_field_name("body");
        let (event_loop_param, uses) = match def.child_by_field_name("parameters") {
            Some(params) => match event_loop_parameter(params, text) {
                Some(range) => (
                    Some(range),
                    body.map_or(Uses::None, |b| uses_of(b, text, is_async)),
                ),
                None => (None, Uses::None),
            },
            None => (None, Uses::None),
        };
        let body_insert = body.and_then(|b| body_insert(b, def, text));
        let asyncio_free = body.is_some_and(|b| free(model, b.start_byte(), "asyncio"));
        self.funcs.push(Func {
            name,
            line,
            def_at,
            stmt_line_start,
            indent,
            is_async,
            is_test,
            class,
            fixture,
            marks,
            event_loop_param,
            uses,
            body_insert,
            asyncio_free,
        });
    }
}

/// The statement's lines and the blank lines after it (or, at the end of the file,
/// the blank lines before it).
fn removal_range(text: &str, stmt: Node<'_>) -> Range<usize> {
    let start = crate::imports::line_start(text, stmt.start_byte());
    let mut end = text[stmt.end_byte()..]
        .find('\n')
        .map_or(text.len(), |i| stmt.end_byte() + i + 1);
    let mut after = end;
    while after < text.len() {
        let line_end = text[after..]
            .find('\n')
            .map_or(text.len(), |i| after + i + 1);
        if !text[after..line_end].trim().is_empty() {
            break;
        }
        after = line_end;
    }
    if after < text.len() {
        end = after;
        return start..end;
    }
    // The last statement: take the blank lines before it instead.
    let mut begin = start;
    while begin > 0 {
        let prev = crate::imports::line_start(text, begin - 1);
        if !text[prev..begin].trim().is_empty() {
            break;
        }
        begin = prev;
    }
    begin..text.len()
}

/// The parameter `event_loop` in `params`, with one comma next to it.
fn event_loop_parameter(params: Node<'_>, text: &str) -> Option<Range<usize>> {
    let mut c = params.walk();
    let all: Vec<Node<'_>> = params
        .named_children(&mut c)
        .filter(|n| n.kind() != "comment")
        .collect();
    let name_of = |p: Node<'_>| -> Option<String> {
        match p.kind() {
            "identifier" => Some(node_text(p, text).to_owned()),
            "typed_parameter" => {
                let mut c = p.walk();
                let n = p
                    .named_children(&mut c)
                    .find(|n| n.kind() == "identifier")
                    .map(|n| node_text(n, text).to_owned());
                n
            }
            "default_parameter" | "typed_default_parameter" => p
                .child_by_field_name("name")
                .map(|n| node_text(n, text).to_owned()),
            _ => None,
        }
    };
    let i = all
        .iter()
        .position(|p| name_of(*p).as_deref() == Some("event_loop"))?;
    if i + 1 < all.len() {
        Some(all[i].start_byte()..all[i + 1].start_byte())
    } else if i > 0 {
        Some(all[i - 1].end_byte()..all[i].end_byte())
    } else {
        // The only parameter; a trailing comma goes with it.
        let end = text[all[i].end_byte()..params.end_byte()]
            .find(',')
            .map_or(all[i].end_byte(), |j| all[i].end_byte() + j + 1);
        Some(all[i].start_byte()..end)
    }
}

/// How the body of a function uses the name `event_loop`.
fn uses_of(body: Node<'_>, text: &str, is_async: bool) -> Uses {
    let mut calls = Vec::new();
    for n in crate::parse::all_nodes_of(body) {
        if n.kind() != "identifier" || node_text(n, text) != "event_loop" {
            continue;
        }
        let line = line_of(text, n.start_byte());
        if is_async {
            // Any read is fine: the name is bound to the running loop.
            if is_rebinding(n) {
                return Uses::Other(line, "assigns `event_loop`".into());
            }
            calls.push((n.byte_range(), String::new()));
            continue;
        }
        match run_until_complete(n, body, text) {
            Ok(c) => calls.push(c),
            Err(what) => return Uses::Other(line, what),
        }
    }
    if calls.is_empty() {
        Uses::None
    } else {
        Uses::RunUntilComplete(calls)
    }
}

fn is_rebinding(n: Node<'_>) -> bool {
    n.parent().is_some_and(|p| {
        matches!(
            p.kind(),
            "assignment" | "augmented_assignment" | "for_statement" | "named_expression"
        ) && p
            .child_by_field_name("left")
            .or(p.child_by_field_name("name"))
            == Some(n)
    })
}

/// `event_loop.run_until_complete(X)` around the identifier `n`: the call's range and
/// `await X`, parenthesised where the surrounding code needs it.
fn run_until_complete(
    n: Node<'_>,
    body: Node<'_>,
    text: &str,
) -> Result<(Range<usize>, String), String> {
    let other = |what: &str| Err(format!("uses `event_loop` {what}"));
    let Some(attr) = n
        .parent()
        .filter(|p| p.kind() == "attribute" && p.child_by_field_name("object") == Some(n))
    else {
        return other("other than as `event_loop.run_until_complete(...)`");
    };
    let method = attr
        .child_by_field_name("attribute")
        .map(|a| node_text(a, text))
        .unwrap_or("");
    if method != "run_until_complete" {
        return other(&format!("with `event_loop.{method}`"));
    }
    let Some(call) = attr
        .parent()
        .filter(|p| p.kind() == "call" && p.child_by_field_name("function") == Some(attr))
    else {
        return other("with `event_loop.run_until_complete` not called");
    };
    let Some(args) = call.child_by_field_name("arguments") else {
        return other("with an unreadable call");
    };
    let mut c = args.walk();
    let arg: Vec<Node<'_>> = args
        .named_children(&mut c)
        .filter(|a| a.kind() != "comment")
        .collect();
    let [arg] = arg.as_slice() else {
        return other("with `run_until_complete` given other than one argument");
    };
    if matches!(
        arg.kind(),
        "keyword_argument" | "list_splat" | "dictionary_splat"
    ) {
        return other("with `run_until_complete` given a keyword or unpacked argument");
    }
    // `await` only where the function's own code runs: not in a nested function,
    // lambda or generator expression (a comprehension is fine in an async function,
    // except a generator expression, which would become an async generator).
    let mut p = call.parent();
    while let Some(node) = p {
        if node == body {
            break;
        }
        match node.kind() {
            "function_definition" | "lambda" | "class_definition" => {
                return other("inside a nested function or lambda")
            }
            "generator_expression" => return other("inside a generator expression"),
            _ => {}
        }
        p = node.parent();
    }
    let inner = node_text(*arg, text);
    let primary = matches!(
        arg.kind(),
        "call"
            | "identifier"
            | "attribute"
            | "subscript"
            | "parenthesized_expression"
            | "list"
            | "tuple"
            | "dictionary"
            | "set"
            | "string"
            | "integer"
            | "float"
            | "true"
            | "false"
            | "none"
            | "await"
    );
    let awaited = if primary {
        format!("await {inner}")
    } else {
        format!("await ({inner})")
    };
    // `await X` binds looser than a call, attribute, subscript or `**`.
    let tight = call.parent().is_some_and(|p| match p.kind() {
        "attribute" => p.child_by_field_name("object") == Some(call),
        "subscript" => p.child_by_field_name("value") == Some(call),
        "call" => p.child_by_field_name("function") == Some(call),
        "binary_operator" => p
            .child(1)
            .is_some_and(|op| op.kind() == "**" && p.child_by_field_name("left") == Some(call)),
        "await" | "unary_operator" => true,
        _ => false,
    });
    let replacement = if tight {
        format!("({awaited})")
    } else {
        awaited
    };
    Ok((call.byte_range(), replacement))
}

/// Where a first statement goes in `body`: after a docstring, at the start of the line
/// of the next statement (offset, indentation, whether a newline must come first).
fn body_insert(body: Node<'_>, def: Node<'_>, text: &str) -> Option<(usize, String, bool)> {
    let mut c = body.walk();
    let stmts: Vec<Node<'_>> = body
        .named_children(&mut c)
        .filter(|n| n.kind() != "comment")
        .collect();
    let first = *stmts.first()?;
    if line_of(text, first.start_byte()) == line_of(text, def.start_byte()) {
        return None;
    }
    let ls = crate::imports::line_start(text, first.start_byte());
    let indent = text[ls..first.start_byte()].to_owned();
    if !indent.chars().all(|c| c == ' ' || c == '\t') {
        return None;
    }
    let docstring = first.kind() == "expression_statement"
        && first.named_child(0).is_some_and(|n| n.kind() == "string");
    if !docstring {
        return Some((ls, indent, false));
    }
    match stmts.get(1) {
        Some(next) => {
            let ls2 = crate::imports::line_start(text, next.start_byte());
            (text[ls2..next.start_byte()] == indent).then_some((ls2, indent, false))
        }
        None => Some((first.end_byte(), indent, true)),
    }
}

/// `Ok` when the body of an `event_loop` fixture only makes a loop, hands it out and
/// closes it; else what else it does.
fn plain_loop_fixture(def: Node<'_>, text: &str, alias: Option<&str>) -> Result<(), String> {
    let body = def
        .child_by_field_name("body")
        .ok_or_else(|| "has no body".to_owned())?;
    plain_block(body, text, alias)
}

fn plain_block(block: Node<'_>, text: &str, alias: Option<&str>) -> Result<(), String> {
    let mut c = block.walk();
    for stmt in block.named_children(&mut c) {
        plain_statement(stmt, text, alias)?;
    }
    Ok(())
}

/// `s` without whitespace, and with `alias.` (a name bound to the asyncio module)
/// spelled `asyncio.`.
fn squash(s: &str, alias: Option<&str>) -> String {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(alias) = alias else {
        return s;
    };
    let pat = format!("{alias}.");
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find(&pat) {
        out.push_str(&rest[..i]);
        let starts_word = out
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
        out.push_str(if starts_word { "asyncio." } else { &pat });
        rest = &rest[i + pat.len()..];
    }
    out.push_str(rest);
    out
}

/// The name other than `asyncio` that the module binds to the asyncio module
/// (`import asyncio as aio`), if any.
fn asyncio_alias(model: &Model, text: &str) -> Option<String> {
    let mut words = text.split(|c: char| c.is_whitespace() || c == ',');
    let mut prev: [&str; 3] = ["", "", ""];
    for w in words.by_ref() {
        if w.is_empty() {
            continue;
        }
        if prev == ["import", "asyncio", "as"]
            && is_identifier(w)
            && model.qualified_name(text.len(), w).as_deref() == Some("asyncio")
        {
            return Some(w.to_owned());
        }
        prev = [prev[1], prev[2], w];
    }
    None
}

fn plain_statement(stmt: Node<'_>, text: &str, alias: Option<&str>) -> Result<(), String> {
    let squash = |s: &str| squash(s, alias);
    let what = || {
        let first = node_text(stmt, text).lines().next().unwrap_or("").trim();
        Err(format!("`{first}`"))
    };
    match stmt.kind() {
        "comment" | "pass_statement" => Ok(()),
        "try_statement" => {
            let mut c = stmt.walk();
            for part in stmt.named_children(&mut c) {
                match part.kind() {
                    "block" => plain_block(part, text, alias)?,
                    "finally_clause" => {
                        let mut c = part.walk();
                        for b in part.named_children(&mut c) {
                            if b.kind() == "block" {
                                plain_block(b, text, alias)?;
                            }
                        }
                    }
                    "comment" => {}
                    _ => return what(),
                }
            }
            Ok(())
        }
        "return_statement" => {
            let value = stmt.named_child(0).map(|v| squash(node_text(v, text)));
            match value.as_deref() {
                Some(v) if is_identifier(v) || is_new_loop(v) => Ok(()),
                _ => what(),
            }
        }
        "expression_statement" => {
            let Some(e) = stmt.named_child(0) else {
                return what();
            };
            let s = squash(node_text(e, text));
            let ok = match e.kind() {
                "string" => true,
                "yield" => s
                    .strip_prefix("yield")
                    .is_some_and(|v| is_identifier(v) || is_new_loop(v)),
                "assignment" => match s.split_once('=') {
                    Some((l, r)) => {
                        is_identifier(l)
                            && (is_new_loop(r)
                                || r == "asyncio.get_event_loop_policy()"
                                || r == "asyncio.get_event_loop()")
                    }
                    None => false,
                },
                "call" => is_loop_cleanup(&s),
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                what()
            }
        }
        _ => what(),
    }
}

fn is_identifier(s: &str) -> bool {
    crate::project_imports::is_identifier(s)
}

/// `asyncio.new_event_loop()` or a policy's `new_event_loop()`.
fn is_new_loop(s: &str) -> bool {
    s == "asyncio.new_event_loop()"
        || s == "asyncio.get_event_loop_policy().new_event_loop()"
        || s.strip_suffix(".new_event_loop()")
            .is_some_and(is_identifier)
}

/// `loop.close()`, `loop.run_until_complete(loop.shutdown_asyncgens())` (or
/// `shutdown_default_executor()`), `asyncio.set_event_loop(loop)` or `(None)`.
fn is_loop_cleanup(s: &str) -> bool {
    if let Some(x) = s.strip_suffix(".close()") {
        return is_identifier(x);
    }
    if let Some(arg) = s
        .strip_prefix("asyncio.set_event_loop(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return is_identifier(arg);
    }
    let Some((x, rest)) = s.split_once(".run_until_complete(") else {
        return false;
    };
    is_identifier(x)
        && [".shutdown_asyncgens())", ".shutdown_default_executor())"]
            .iter()
            .any(|tail| rest.strip_suffix(tail) == Some(x))
}
