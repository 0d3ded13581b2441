//! The first pass of the semantic model: one walk of the tree that opens a scope for
//! each module, class, function, lambda and comprehension, and records in it every
//! name with how it occurs (the flags of [`super::flags`]), plus each binding and
//! reference with its bytes. What each form means is CPython's: the targets of every
//! assignment form bind, defaults, decorators, class bases and (unless
//! `from __future__ import annotations`) annotations are read in the enclosing scope,
//! a comprehension's first iterable is read outside it, a walrus inside one binds in
//! the nearest function or the module.

use crate::parse::kind_of;
use tree_sitter::{Node, Tree};

use super::{
    flags, mangle, Binding, BindingKind, Comprehension, Declaration, Model, Reference, Scope,
    ScopeId, ScopeKind,
};

/// Builds the model of `text`, whose tree is `tree` (a whole parse or a partial one:
/// what a partial parse elided is simply not seen).
pub fn build(tree: &Tree, text: &str) -> Model {
    let root = tree.root_node();
    let mut b = Builder {
        text,
        model: Model {
            scopes: Vec::new(),
            bindings: Vec::new(),
            references: Vec::new(),
            declarations: Vec::new(),
            future_annotations: false,
        },
        stack: Vec::new(),
        iter_target: false,
    };
    b.open(
        ScopeKind::Module,
        "top".into(),
        0,
        root.start_byte(),
        root.end_byte(),
    );
    b.block(root);
    b.stack.pop();
    let mut model = b.model;
    super::analyze::analyze(&mut model);
    model
}

struct Frame {
    id: ScopeId,
    /// The innermost enclosing class's name, for mangling.
    private: Option<String>,
}

struct Builder<'t> {
    text: &'t str,
    model: Model,
    stack: Vec<Frame>,
    /// Visiting the target of a comprehension's `for`.
    iter_target: bool,
}

/// The grammar's field ids, looked up once (a lookup by name compares strings).
struct Fields {
    alias: u16,
    body: u16,
    definition: u16,
    left: u16,
    module_name: u16,
    name: u16,
    object: u16,
    parameters: u16,
    return_type: u16,
    right: u16,
    superclasses: u16,
    type_: u16,
    value: u16,
}

static FIELDS: std::sync::LazyLock<Fields> = std::sync::LazyLock::new(|| {
    let language = crate::parse::language();
    let id = |name: &str| {
        language
            .field_id_for_name(name)
            .map_or(u16::MAX, std::num::NonZeroU16::get)
    };
    Fields {
        alias: id("alias"),
        body: id("body"),
        definition: id("definition"),
        left: id("left"),
        module_name: id("module_name"),
        name: id("name"),
        object: id("object"),
        parameters: id("parameters"),
        return_type: id("return_type"),
        right: id("right"),
        superclasses: id("superclasses"),
        type_: id("type"),
        value: id("value"),
    }
});

fn named_children<'a>(node: Node<'a>) -> NamedChildren<'a> {
    NamedChildren {
        cursor: (node.child_count() > 0).then(|| node.walk()),
        started: false,
    }
}

/// The named children of a node, walked with a cursor of their own (so the walk
/// can recurse into the builder while it goes).
struct NamedChildren<'a> {
    cursor: Option<tree_sitter::TreeCursor<'a>>,
    started: bool,
}

impl<'a> Iterator for NamedChildren<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        let cursor = self.cursor.as_mut()?;
        loop {
            let moved = if self.started {
                cursor.goto_next_sibling()
            } else {
                self.started = true;
                cursor.goto_first_child()
            };
            if !moved {
                self.cursor = None;
                return None;
            }
            if cursor.node().is_named() {
                return Some(cursor.node());
            }
        }
    }
}

impl<'t> Builder<'t> {
    fn text_of(&self, node: Node<'_>) -> &'t str {
        &self.text[node.byte_range()]
    }

    fn cur(&self) -> ScopeId {
        self.stack.last().map_or(0, |f| f.id)
    }

    fn private(&self) -> Option<&str> {
        self.stack.last().and_then(|f| f.private.as_deref())
    }

    fn open(&mut self, kind: ScopeKind, name: String, line: usize, start: usize, end: usize) {
        let id = self.model.scopes.len();
        let parent = self.stack.last().map(|f| f.id);
        self.model.scopes.push(Scope {
            kind,
            name: name.clone(),
            line,
            start,
            end,
            parent,
            children: Vec::new(),
            symbols: Vec::new(),
            index: Default::default(),
        });
        if let Some(p) = parent {
            self.model.scopes[p].children.push(id);
        }
        let private = if kind == ScopeKind::Class {
            Some(name)
        } else {
            self.stack.last().and_then(|f| f.private.clone())
        };
        self.stack.push(Frame { id, private });
    }

    /// Marks `name` in `scope` (mangled as the current class requires); a `global`
    /// declaration marks the module's name too, as the compiler does.
    fn add(&mut self, scope: ScopeId, name: &str, flag: u16) -> String {
        let name = mangle(self.private(), &identifier(name)).into_owned();
        let mut f = flag;
        if self.iter_target && scope == self.cur() {
            f |= flags::COMPREHENSION_ITER;
        }
        self.model.scopes[scope].symbol_mut(&name).flags |= f;
        if flag & flags::GLOBAL != 0 && scope != 0 {
            self.model.scopes[0].symbol_mut(&name).flags |= flags::GLOBAL;
        }
        name
    }

    fn bind(&mut self, node: Node<'_>, kind: BindingKind, statement: Node<'_>, flag: u16) {
        let scope = self.cur();
        self.bind_in(scope, node, kind, statement, flag);
    }

    fn bind_in(
        &mut self,
        scope: ScopeId,
        node: Node<'_>,
        kind: BindingKind,
        statement: Node<'_>,
        flag: u16,
    ) {
        let name = self.add(scope, self.text_of(node), flag);
        self.model.bindings.push(Binding {
            name,
            scope,
            kind,
            start: node.start_byte(),
            end: node.end_byte(),
            statement: (statement.start_byte(), statement.end_byte()),
        });
    }

    fn use_name(&mut self, node: Node<'_>) {
        let scope = self.cur();
        let name = self.add(scope, self.text_of(node), flags::USED);
        self.model.references.push(Reference {
            name,
            scope,
            start: node.start_byte(),
            end: node.end_byte(),
        });
    }

    // ---- statements ----

    fn block(&mut self, node: Node<'_>) {
        for child in named_children(node) {
            self.statement(child);
        }
    }

    fn statement(&mut self, node: Node<'_>) {
        match kind_of(node) {
            "comment" | "pass_statement" | "break_statement" | "continue_statement" => {}
            "block" | "module" => self.block(node),
            "decorated_definition" => {
                for child in named_children(node) {
                    if kind_of(child) == "decorator" {
                        self.expressions(child);
                    }
                }
                if let Some(def) = node.child_by_field_id(FIELDS.definition) {
                    self.statement(def);
                }
            }
            "function_definition" => self.function(node),
            "class_definition" => self.class(node),
            "expression_statement" => {
                for child in named_children(node) {
                    self.expression_or_assignment(child, node);
                }
            }
            "delete_statement" => {
                for child in named_children(node) {
                    self.target(child, BindingKind::Deletion, node);
                }
            }
            "global_statement" | "nonlocal_statement" => {
                let flag = if kind_of(node) == "global_statement" {
                    flags::GLOBAL
                } else {
                    flags::NONLOCAL
                };
                for child in named_children(node) {
                    if kind_of(child) == "identifier" {
                        let scope = self.cur();
                        let name = self.add(scope, self.text_of(child), flag);
                        self.model.declarations.push(Declaration {
                            name,
                            scope,
                            global: flag == flags::GLOBAL,
                            start: child.start_byte(),
                            end: child.end_byte(),
                        });
                    }
                }
            }
            "import_statement" => self.import(node),
            "import_from_statement" | "future_import_statement" => self.import_from(node),
            "if_statement" | "elif_clause" | "while_statement" => {
                for child in named_children(node) {
                    match kind_of(child) {
                        "block" | "elif_clause" | "else_clause" => self.statement(child),
                        _ => self.expression(child),
                    }
                }
            }
            "else_clause" | "finally_clause" => self.block_children(node),
            "for_statement" => {
                if let Some(right) = node.child_by_field_id(FIELDS.right) {
                    self.expression(right);
                }
                if let Some(left) = node.child_by_field_id(FIELDS.left) {
                    self.target(left, BindingKind::Assignment, node);
                }
                self.block_children(node);
            }
            "try_statement" => {
                for child in named_children(node) {
                    match kind_of(child) {
                        "except_clause" | "except_group_clause" => self.except_clause(child),
                        _ => self.statement(child),
                    }
                }
            }
            "with_statement" => {
                for child in named_children(node) {
                    if kind_of(child) == "with_clause" {
                        for item in named_children(child) {
                            self.with_item(item, node);
                        }
                    } else {
                        self.statement(child);
                    }
                }
            }
            "match_statement" => {
                for child in named_children(node) {
                    if kind_of(child) == "block" {
                        for case in named_children(child) {
                            self.case_clause(case);
                        }
                    } else {
                        self.expression(child);
                    }
                }
            }
            "type_alias_statement" => self.type_alias(node),
            // return, raise, assert, print, exec and anything unusual: what they read.
            _ => self.expressions(node),
        }
    }

    /// `type X = ...` (Python 3.12: its value is evaluated lazily, in its own scope),
    /// or what tree-sitter-python takes for one: `type(obj).attr = value`, an
    /// assignment to an attribute of a call of `type`.
    fn type_alias(&mut self, node: Node<'_>) {
        let left = node
            .child_by_field_id(FIELDS.left)
            .and_then(|l| l.named_child(0));
        let right = node
            .child_by_field_id(FIELDS.right)
            .and_then(|r| r.named_child(0));
        match left {
            Some(name) if kind_of(name) == "identifier" => {
                self.bind(name, BindingKind::Assignment, node, flags::ASSIGNED);
            }
            Some(target) if matches!(kind_of(target), "attribute" | "subscript") => {
                if let Some(keyword) = node.child(0) {
                    self.use_name(keyword);
                }
                if let Some(r) = right {
                    self.expression(r);
                }
                self.target(target, BindingKind::Assignment, node);
            }
            _ => {}
        }
    }

    /// The `block`s among `node`'s children (a loop's body and `else`...).
    fn block_children(&mut self, node: Node<'_>) {
        for child in named_children(node) {
            if matches!(kind_of(child), "block" | "else_clause") {
                self.statement(child);
            }
        }
    }

    fn function(&mut self, node: Node<'_>) {
        let Some(name) = node.child_by_field_id(FIELDS.name) else {
            return;
        };
        self.bind(name, BindingKind::Function, node, flags::ASSIGNED);
        let params = node.child_by_field_id(FIELDS.parameters);
        if let Some(p) = params {
            self.parameter_defaults(p);
        }
        if let Some(r) = node.child_by_field_id(FIELDS.return_type) {
            self.annotation(r);
        }
        let start = params.unwrap_or(node).start_byte();
        let text = identifier(self.text_of(name)).into_owned();
        self.open(
            ScopeKind::Function,
            text,
            node.start_position().row + 1,
            start,
            node.end_byte(),
        );
        if let Some(p) = params {
            self.parameters(p);
        }
        if let Some(body) = node.child_by_field_id(FIELDS.body) {
            self.block(body);
        }
        self.stack.pop();
    }

    fn class(&mut self, node: Node<'_>) {
        let Some(name) = node.child_by_field_id(FIELDS.name) else {
            return;
        };
        self.bind(name, BindingKind::Class, node, flags::ASSIGNED);
        if let Some(bases) = node.child_by_field_id(FIELDS.superclasses) {
            self.expression(bases);
        }
        let body = node.child_by_field_id(FIELDS.body);
        let text = identifier(self.text_of(name)).into_owned();
        self.open(
            ScopeKind::Class,
            text,
            node.start_position().row + 1,
            body.unwrap_or(node).start_byte(),
            node.end_byte(),
        );
        if let Some(body) = body {
            self.block(body);
        }
        self.stack.pop();
    }

    /// Defaults and annotations of a parameter list: read in the enclosing scope.
    fn parameter_defaults(&mut self, params: Node<'_>) {
        for p in named_children(params) {
            if let Some(v) = p.child_by_field_id(FIELDS.value) {
                self.expression(v);
            }
            if let Some(t) = p.child_by_field_id(FIELDS.type_) {
                self.annotation(t);
            }
        }
    }

    /// The names a parameter list binds, in the new scope.
    fn parameters(&mut self, params: Node<'_>) {
        for p in named_children(params) {
            let name = match kind_of(p) {
                "identifier" => Some(p),
                "default_parameter" | "typed_default_parameter" => p.child_by_field_id(FIELDS.name),
                "typed_parameter" => p.named_child(0).map(|n| match kind_of(n) {
                    "list_splat_pattern" | "dictionary_splat_pattern" => {
                        n.named_child(0).unwrap_or(n)
                    }
                    _ => n,
                }),
                "list_splat_pattern" | "dictionary_splat_pattern" => p.named_child(0),
                _ => None,
            };
            if let Some(n) = name.filter(|n| kind_of(n) == "identifier") {
                self.bind(n, BindingKind::Parameter, p, flags::PARAMETER);
            }
        }
    }

    fn annotation(&mut self, node: Node<'_>) {
        if !self.model.future_annotations {
            self.expression(node);
        }
    }

    fn import(&mut self, node: Node<'_>) {
        let mut cursor = node.walk();
        let names: Vec<Node<'_>> = node.children_by_field_name("name", &mut cursor).collect();
        for name in names {
            match kind_of(name) {
                "dotted_name" => {
                    let full = self.text_of(name).to_owned();
                    let Some(first) = name.named_child(0) else {
                        continue;
                    };
                    let module = self.text_of(first).to_owned();
                    self.bind(
                        first,
                        BindingKind::Import { module, full },
                        node,
                        flags::IMPORTED,
                    );
                }
                "aliased_import" => {
                    let (Some(dotted), Some(alias)) = (
                        name.child_by_field_id(FIELDS.name),
                        name.child_by_field_id(FIELDS.alias),
                    ) else {
                        continue;
                    };
                    let full = self.text_of(dotted).to_owned();
                    self.bind(
                        alias,
                        BindingKind::Import {
                            module: full.clone(),
                            full,
                        },
                        node,
                        flags::IMPORTED,
                    );
                }
                _ => {}
            }
        }
    }

    fn import_from(&mut self, node: Node<'_>) {
        let module = match node.child_by_field_id(FIELDS.module_name) {
            Some(m) => self.text_of(m).to_owned(),
            None => "__future__".to_owned(),
        };
        let mut cursor = node.walk();
        let names: Vec<Node<'_>> = node.children_by_field_name("name", &mut cursor).collect();
        for name in names {
            let (imported, bound) = match kind_of(name) {
                "dotted_name" => (name, name),
                "aliased_import" => match (
                    name.child_by_field_id(FIELDS.name),
                    name.child_by_field_id(FIELDS.alias),
                ) {
                    (Some(n), Some(a)) => (n, a),
                    _ => continue,
                },
                _ => continue,
            };
            let imported = self.text_of(imported).to_owned();
            if module == "__future__" && imported == "annotations" {
                self.model.future_annotations = true;
            }
            self.bind(
                bound,
                BindingKind::FromImport {
                    module: module.clone(),
                    name: imported,
                },
                node,
                flags::IMPORTED,
            );
        }
        for child in named_children(node) {
            if kind_of(child) == "wildcard_import" {
                self.model.bindings.push(Binding {
                    name: "*".into(),
                    scope: self.cur(),
                    kind: BindingKind::StarImport {
                        module: module.clone(),
                    },
                    start: child.start_byte(),
                    end: child.end_byte(),
                    statement: (node.start_byte(), node.end_byte()),
                });
            }
        }
    }

    fn except_clause(&mut self, node: Node<'_>) {
        for child in named_children(node) {
            match kind_of(child) {
                "block" => self.block(child),
                "as_pattern" => self.as_pattern(child, BindingKind::ExceptAs, node),
                _ => {
                    if node_field_is(node, child, "alias") {
                        self.target(child, BindingKind::ExceptAs, node);
                    } else {
                        self.expression(child);
                    }
                }
            }
        }
    }

    fn with_item(&mut self, item: Node<'_>, statement: Node<'_>) {
        match item.child_by_field_id(FIELDS.value) {
            Some(v) => self.with_value(v, statement),
            None => self.expressions(item),
        }
    }

    /// `with (m() as x):` and `with (a() as x, b() as y,):` read to tree-sitter as a
    /// parenthesized `as` pattern or a tuple of them: each is an item of its own.
    fn with_value(&mut self, value: Node<'_>, statement: Node<'_>) {
        match kind_of(value) {
            "as_pattern" => self.as_pattern(value, BindingKind::Assignment, statement),
            "tuple" | "parenthesized_expression"
                if named_children(value).any(|c| kind_of(c) == "as_pattern") =>
            {
                for child in named_children(value) {
                    self.with_value(child, statement);
                }
            }
            _ => self.expression(value),
        }
    }

    /// `value as target` of a `with` item or an `except` clause.
    fn as_pattern(&mut self, node: Node<'_>, kind: BindingKind, statement: Node<'_>) {
        for child in named_children(node) {
            if kind_of(child) == "as_pattern_target" {
                for t in named_children(child) {
                    self.target(t, kind.clone(), statement);
                }
            } else {
                self.expression(child);
            }
        }
    }

    fn case_clause(&mut self, case: Node<'_>) {
        for child in named_children(case) {
            match kind_of(child) {
                "block" => self.block(child),
                "if_clause" => self.expressions(child),
                "comment" => {}
                _ => self.pattern(child, case),
            }
        }
    }

    /// A `case` pattern: captures bind, value patterns and class names are read.
    fn pattern(&mut self, node: Node<'_>, case: Node<'_>) {
        match kind_of(node) {
            "dotted_name" => {
                let Some(first) = node.named_child(0) else {
                    return;
                };
                if node.named_child_count() == 1 {
                    self.capture(first, case);
                } else {
                    self.use_name(first);
                }
            }
            "identifier" => self.capture(node, case),
            "splat_pattern" => {
                if let Some(n) = node.named_child(0) {
                    self.capture(n, case);
                }
            }
            "class_pattern" => {
                for (i, child) in named_children(node).enumerate() {
                    if i == 0 && kind_of(child) == "dotted_name" {
                        if let Some(first) = child.named_child(0) {
                            self.use_name(first);
                        }
                    } else {
                        self.pattern(child, case);
                    }
                }
            }
            "keyword_pattern" => {
                for (i, child) in named_children(node).enumerate() {
                    if i > 0 {
                        self.pattern(child, case);
                    }
                }
            }
            "dict_pattern" => {
                let mut cursor = node.walk();
                for (i, child) in node.children(&mut cursor).enumerate() {
                    if !child.is_named() {
                        continue;
                    }
                    let field = node.field_name_for_child(i as u32);
                    if field == Some("key") {
                        if kind_of(child) == "dotted_name" {
                            if let Some(first) = child.named_child(0) {
                                self.use_name(first);
                            }
                        }
                    } else {
                        self.pattern(child, case);
                    }
                }
            }
            "case_pattern" | "as_pattern" | "list_pattern" | "tuple_pattern" | "union_pattern" => {
                for child in named_children(node) {
                    self.pattern(child, case);
                }
            }
            // Literals: nothing to bind or read.
            _ => {}
        }
    }

    fn capture(&mut self, name: Node<'_>, case: Node<'_>) {
        if self.text_of(name) != "_" {
            self.bind(name, BindingKind::MatchCapture, case, flags::ASSIGNED);
        }
    }

    // ---- expressions ----

    /// An expression statement's child: an assignment form, or an expression.
    fn expression_or_assignment(&mut self, node: Node<'_>, statement: Node<'_>) {
        match kind_of(node) {
            "assignment" => self.assignment(node, statement),
            "augmented_assignment" => {
                if let Some(right) = node.child_by_field_id(FIELDS.right) {
                    self.expression_or_assignment(right, statement);
                }
                if let Some(left) = node.child_by_field_id(FIELDS.left) {
                    self.target(left, BindingKind::Assignment, statement);
                }
            }
            _ => self.expression(node),
        }
    }

    fn assignment(&mut self, node: Node<'_>, statement: Node<'_>) {
        let left = node.child_by_field_id(FIELDS.left);
        let right = node.child_by_field_id(FIELDS.right);
        if let Some(r) = right {
            self.expression_or_assignment(r, statement);
        }
        let Some(ty) = node.child_by_field_id(FIELDS.type_) else {
            if let Some(l) = left {
                self.target(l, BindingKind::Assignment, statement);
            }
            return;
        };
        // Annotated: a plain name is declared (and bound with a value); a name in
        // parentheses only with a value; an attribute or subscript target is read.
        match left {
            Some(l) if kind_of(l) == "identifier" => {
                let kind = if right.is_some() {
                    BindingKind::Assignment
                } else {
                    BindingKind::Annotation
                };
                self.bind(l, kind, statement, flags::ASSIGNED | flags::ANNOTATED);
            }
            Some(l) if is_parenthesized_name(l) => {
                if let (Some(_), Some(n)) = (right, l.named_child(0)) {
                    self.bind(n, BindingKind::Assignment, statement, flags::ASSIGNED);
                }
            }
            Some(l) => self.target(l, BindingKind::Assignment, statement),
            None => {}
        }
        self.annotation(ty);
    }

    /// A target in a store (or `del`) context.
    fn target(&mut self, node: Node<'_>, kind: BindingKind, statement: Node<'_>) {
        match kind_of(node) {
            "identifier" => self.bind(node, kind, statement, flags::ASSIGNED),
            "tuple"
            | "list"
            | "tuple_pattern"
            | "list_pattern"
            | "pattern_list"
            | "expression_list"
            | "parenthesized_expression"
            | "list_splat_pattern"
            | "list_splat"
            | "as_pattern_target" => {
                for child in named_children(node) {
                    self.target(child, kind.clone(), statement);
                }
            }
            "comment" => {}
            _ => self.expression(node),
        }
    }

    /// Every expression among `node`'s named children.
    fn expressions(&mut self, node: Node<'_>) {
        for child in named_children(node) {
            self.expression(child);
        }
    }

    fn expression(&mut self, node: Node<'_>) {
        match kind_of(node) {
            "identifier" => self.use_name(node),
            "attribute" => {
                if let Some(o) = node.child_by_field_id(FIELDS.object) {
                    self.expression(o);
                }
            }
            "keyword_argument" => {
                if let Some(v) = node.child_by_field_id(FIELDS.value) {
                    self.expression(v);
                }
            }
            "lambda" => self.lambda(node),
            "list_comprehension" => self.comprehension(node, Comprehension::List),
            "set_comprehension" => self.comprehension(node, Comprehension::Set),
            "dictionary_comprehension" => self.comprehension(node, Comprehension::Dict),
            "generator_expression" => self.comprehension(node, Comprehension::Generator),
            "named_expression" => self.walrus(node),
            "string" => self.string(node),
            "assignment" | "augmented_assignment" => {
                // Only inside an f-string's `{x=}`-like oddity or an error: read.
                self.expression_or_assignment(node, node)
            }
            "comment"
            | "integer"
            | "float"
            | "true"
            | "false"
            | "none"
            | "ellipsis"
            | "string_content"
            | "escape_sequence"
            | "type_conversion"
            | "line_continuation"
            | "keyword_separator"
            | "positional_separator"
            | "wildcard_import" => {}
            _ => self.expressions(node),
        }
    }

    /// The expressions inside an f-string's replacement fields.
    fn string(&mut self, node: Node<'_>) {
        for child in named_children(node) {
            match kind_of(child) {
                "interpolation" | "format_expression" => {
                    for part in named_children(child) {
                        match kind_of(part) {
                            "format_specifier" => self.string(part),
                            "type_conversion" => {}
                            _ => self.expression(part),
                        }
                    }
                }
                "format_specifier" => self.string(child),
                _ => {}
            }
        }
    }

    fn lambda(&mut self, node: Node<'_>) {
        let params = node.child_by_field_id(FIELDS.parameters);
        if let Some(p) = params {
            self.parameter_defaults(p);
        }
        self.open(
            ScopeKind::Lambda,
            "lambda".into(),
            node.start_position().row + 1,
            params
                .or_else(|| node.child_by_field_id(FIELDS.body))
                .unwrap_or(node)
                .start_byte(),
            node.end_byte(),
        );
        if let Some(p) = params {
            self.parameters(p);
        }
        if let Some(body) = node.child_by_field_id(FIELDS.body) {
            self.expression(body);
        }
        self.stack.pop();
    }

    fn comprehension(&mut self, node: Node<'_>, kind: Comprehension) {
        let clauses: Vec<Node<'_>> = named_children(node)
            .filter(|c| matches!(kind_of(c), "for_in_clause" | "if_clause"))
            .collect();
        // The first iterable is evaluated in the enclosing scope.
        let first = clauses.iter().position(|c| kind_of(c) == "for_in_clause");
        if let Some(f) = first {
            self.iterables(clauses[f]);
        }
        let name = match kind {
            Comprehension::List => "listcomp",
            Comprehension::Set => "setcomp",
            Comprehension::Dict => "dictcomp",
            Comprehension::Generator => "genexpr",
        };
        self.open(
            ScopeKind::Comprehension(kind),
            name.into(),
            node.start_position().row + 1,
            node.start_byte(),
            node.end_byte(),
        );
        for (i, clause) in clauses.iter().enumerate() {
            if kind_of(clause) == "if_clause" {
                self.expressions(*clause);
                continue;
            }
            if Some(i) != first {
                self.iterables(*clause);
            }
            if let Some(left) = clause.child_by_field_id(FIELDS.left) {
                self.iter_target = true;
                self.target(left, BindingKind::Assignment, *clause);
                self.iter_target = false;
            }
        }
        if let Some(body) = node.child_by_field_id(FIELDS.body) {
            self.expression(body);
        }
        self.stack.pop();
    }

    fn iterables(&mut self, clause: Node<'_>) {
        let mut cursor = clause.walk();
        let rights: Vec<Node<'_>> = clause
            .children_by_field_name("right", &mut cursor)
            .filter(|n| n.is_named())
            .collect();
        for r in rights {
            self.expression(r);
        }
    }

    fn walrus(&mut self, node: Node<'_>) {
        if let Some(v) = node.child_by_field_id(FIELDS.value) {
            self.expression(v);
        }
        let Some(name) = node.child_by_field_id(FIELDS.name) else {
            return;
        };
        let cur = self.cur();
        if matches!(self.model.scopes[cur].kind, ScopeKind::Comprehension(_)) {
            // Binds in the nearest enclosing scope that is not a comprehension.
            let target = self
                .stack
                .iter()
                .rev()
                .map(|f| f.id)
                .find(|&id| !matches!(self.model.scopes[id].kind, ScopeKind::Comprehension(_)));
            match target.map(|t| (t, self.model.scopes[t].kind)) {
                Some((t, ScopeKind::Function | ScopeKind::Lambda)) => {
                    let text = self.text_of(name);
                    // Declared global in that function: global here too.
                    let declared = mangle(self.private(), &identifier(text)).into_owned();
                    let global = self.model.scopes[t]
                        .symbol(&declared)
                        .is_some_and(|s| s.has(flags::GLOBAL));
                    let how = if global {
                        flags::GLOBAL
                    } else {
                        flags::NONLOCAL
                    };
                    self.add(cur, text, how | flags::ASSIGNED);
                    self.bind_in(t, name, BindingKind::Assignment, node, flags::ASSIGNED);
                }
                Some((0, ScopeKind::Module)) => {
                    let text = self.text_of(name);
                    self.add(cur, text, flags::GLOBAL | flags::ASSIGNED);
                    self.bind_in(0, name, BindingKind::Assignment, node, 0);
                }
                // In a class body CPython refuses it; read it as a plain binding.
                _ => self.bind(name, BindingKind::Assignment, node, flags::ASSIGNED),
            }
        } else {
            self.bind(name, BindingKind::Assignment, node, flags::ASSIGNED);
        }
    }
}

/// An identifier as the compiler stores it: NFKC-normalized (PEP 3131), so `ｗ` is `w`.
pub(super) fn identifier(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    if text.is_ascii() {
        text.into()
    } else {
        text.nfkc().collect::<String>().into()
    }
}

/// `(x)` as an annotated target: a name in parentheses.
fn is_parenthesized_name(node: Node<'_>) -> bool {
    matches!(kind_of(node), "tuple_pattern" | "parenthesized_expression")
        && node.named_child_count() == 1
        && node
            .named_child(0)
            .is_some_and(|n| kind_of(n) == "identifier")
        && !node
            .children(&mut node.walk())
            .any(|c| !c.is_named() && kind_of(c) == ",")
}

fn node_field_is(parent: Node<'_>, child: Node<'_>, field: &str) -> bool {
    let mut cursor = parent.walk();
    let found = parent
        .children_by_field_name(field, &mut cursor)
        .any(|c| c.id() == child.id());
    found
}
