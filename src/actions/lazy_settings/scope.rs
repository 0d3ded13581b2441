//! Python name binding, as far as `lazy-settings` needs it: which scope (module,
//! function, lambda, class body, comprehension) binds a name, and which binding an
//! identifier refers to. Follows Python's rules: a name assigned anywhere in a function
//! is local to it unless declared `global`/`nonlocal`; class bodies are not visible from
//! the functions nested in them; default values, decorators and annotations are
//! evaluated in the enclosing scope.

use crate::fast_hash::{IdMap, IdSet};
use crate::parse::kind_of;
use std::collections::{HashMap, HashSet};

use tree_sitter::{Node, Tree};

use crate::parse::text as node_text;

/// How a name is bound at one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    /// `import a.b.c` (binds `a`) or `import a.b.c as m` (binds `m`).
    Import { module: String, alias: bool },
    /// `from M import NAME [as ALIAS]`; `module` as written (leading dots kept).
    From { module: String, name: String },
    /// `from M import *`, recorded under the name `*`.
    Star { module: String },
    /// Assignment, `for`, `with ... as`, `except ... as`, walrus, `del`.
    Assign,
    /// A parameter of a function or lambda.
    Param,
    /// `def NAME` / `class NAME`.
    Def,
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub site: Site,
    /// The identifier (or import clause) that binds.
    pub node_id: usize,
    pub start: usize,
    /// The statement that binds (for import statements: the import statement).
    pub stmt_start: usize,
    /// Where that statement ends.
    pub stmt_end: usize,
}

#[derive(Debug, Default)]
pub struct ScopeInfo {
    pub bindings: HashMap<String, Vec<Binding>>,
    pub globals: HashSet<String>,
    pub nonlocals: HashSet<String>,
}

/// Every scope of a file and what it binds.
pub struct Scopes {
    pub scopes: IdMap<ScopeInfo>,
    pub module_id: usize,
    /// Identifiers that bind a name (never a use).
    pub binding_ids: IdSet,
}

const COMPREHENSIONS: &[&str] = &[
    "list_comprehension",
    "set_comprehension",
    "dictionary_comprehension",
    "generator_expression",
];

/// Is `node` a scope of its own?
pub fn is_scope(node: Node<'_>) -> bool {
    matches!(
        kind_of(node),
        "module" | "function_definition" | "class_definition" | "lambda"
    ) || COMPREHENSIONS.contains(&kind_of(node))
}

/// The scope in which the expression at `node` is evaluated.
pub fn scope_of(node: Node<'_>) -> Node<'_> {
    let mut child = node;
    while let Some(p) = child.parent() {
        match kind_of(p) {
            "module" => return p,
            "function_definition" | "class_definition" | "lambda"
                if p.child_by_field_name("body") == Some(child) =>
            {
                return p
            }
            k if COMPREHENSIONS.contains(&k) => return p,
            _ => {}
        }
        child = p;
    }
    child
}

/// The identifiers bound by an assignment target (not attributes or subscripts).
pub fn target_names<'t>(node: Node<'t>, out: &mut Vec<Node<'t>>) {
    match kind_of(node) {
        "identifier" => out.push(node),
        "pattern_list"
        | "tuple_pattern"
        | "list_pattern"
        | "tuple"
        | "list"
        | "parenthesized_expression"
        | "list_splat_pattern"
        | "list_splat"
        | "expression_list"
        | "as_pattern_target" => {
            let mut c = node.walk();
            for child in node.named_children(&mut c) {
                target_names(child, out);
            }
        }
        _ => {}
    }
}

fn param_names<'t>(params: Node<'t>, out: &mut Vec<Node<'t>>) {
    let mut c = params.walk();
    for p in params.named_children(&mut c) {
        match kind_of(p) {
            "identifier" => out.push(p),
            "default_parameter" | "typed_default_parameter" => {
                if let Some(n) = p.child_by_field_name("name") {
                    target_names(n, out);
                }
            }
            "typed_parameter" => {
                let mut c2 = p.walk();
                for ch in p.named_children(&mut c2) {
                    if p.child_by_field_name("type") == Some(ch) {
                        continue;
                    }
                    match kind_of(ch) {
                        "identifier" => out.push(ch),
                        "list_splat_pattern" | "dictionary_splat_pattern" => {
                            let mut c3 = ch.walk();
                            out.extend(
                                ch.named_children(&mut c3)
                                    .filter(|n| kind_of(n) == "identifier"),
                            );
                        }
                        _ => {}
                    }
                }
            }
            "list_splat_pattern" | "dictionary_splat_pattern" => {
                let mut c3 = p.walk();
                out.extend(
                    p.named_children(&mut c3)
                        .filter(|n| kind_of(n) == "identifier"),
                );
            }
            "tuple_pattern" => target_names(p, out),
            _ => {}
        }
    }
}

/// Every node of the tree, in document order.
pub fn all_nodes(tree: &Tree) -> Vec<Node<'_>> {
    all_nodes_of(tree.root_node())
}

/// `node` and every node under it, in document order.
pub fn all_nodes_of(node: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        out.push(n);
        let mut c = n.walk();
        let children: Vec<Node<'_>> = n.children(&mut c).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// Each node's parent, by node id, from one walk of the tree: `Node::parent` searches
/// down from the root every time, which is quadratic over a large module.
struct Parents<'t>(IdMap<Node<'t>>);

impl<'t> Parents<'t> {
    /// Every node of the tree in document order, and their parents.
    fn walk(tree: &'t Tree) -> (Vec<Node<'t>>, Parents<'t>) {
        let mut out = Vec::new();
        let mut parents = IdMap::default();
        let mut stack = vec![tree.root_node()];
        while let Some(n) = stack.pop() {
            out.push(n);
            let mut c = n.walk();
            let start = stack.len();
            for child in n.children(&mut c) {
                parents.insert(child.id(), n);
                stack.push(child);
            }
            stack[start..].reverse();
        }
        (out, Parents(parents))
    }

    fn parent(&self, node: Node<'t>) -> Option<Node<'t>> {
        self.0.get(&node.id()).copied()
    }

    /// [`scope_of`], through the map.
    fn scope_of(&self, node: Node<'t>) -> Node<'t> {
        let mut child = node;
        while let Some(p) = self.parent(child) {
            match kind_of(p) {
                "module" => return p,
                "function_definition" | "class_definition" | "lambda"
                    if p.child_by_field_name("body") == Some(child) =>
                {
                    return p
                }
                k if COMPREHENSIONS.contains(&k) => return p,
                _ => {}
            }
            child = p;
        }
        child
    }

    /// [`statement_of`], through the map.
    fn statement_of(&self, node: Node<'t>) -> Node<'t> {
        let mut n = node;
        while let Some(p) = self.parent(n) {
            if matches!(kind_of(p), "block" | "module") {
                return n;
            }
            n = p;
        }
        n
    }
}

impl Scopes {
    pub fn collect(tree: &Tree, text: &str) -> Scopes {
        let root = tree.root_node();
        let mut scopes: IdMap<ScopeInfo> = IdMap::default();
        scopes.insert(root.id(), ScopeInfo::default());
        let mut pending: Vec<(usize, String, Binding)> = Vec::new();
        let mut binding_ids = IdSet::default();
        let (nodes, parents) = Parents::walk(tree);
        for &node in &nodes {
            if is_scope(node) {
                scopes.entry(node.id()).or_default();
            }
        }
        let mut bind = |scope: Node<'_>, ident: Node<'_>, site: Site, stmt: Node<'_>| {
            binding_ids.insert(ident.id());
            let name = if matches!(site, Site::Star { .. }) {
                "*".to_owned()
            } else {
                node_text(ident, text).to_owned()
            };
            pending.push((
                scope.id(),
                name,
                Binding {
                    site,
                    node_id: ident.id(),
                    start: ident.start_byte(),
                    stmt_start: stmt.start_byte(),
                    stmt_end: stmt.end_byte(),
                },
            ));
        };
        for &node in &nodes {
            let mut targets = Vec::new();
            match kind_of(node) {
                "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => {
                    if let Some(left) = node.child_by_field_name("left") {
                        target_names(left, &mut targets);
                    }
                }
                "named_expression" => {
                    if let Some(n) = node.child_by_field_name("name") {
                        targets.push(n);
                    }
                }
                "as_pattern" => {
                    if let Some(a) = node.child_by_field_name("alias") {
                        target_names(a, &mut targets);
                    }
                }
                "except_clause" => {
                    if let Some(a) = node.child_by_field_name("alias") {
                        target_names(a, &mut targets);
                    }
                }
                // `case NAME:`, `case {"k": NAME}`, `case P(x=NAME)`, `case [*NAME]`,
                // `case P() as NAME`: capture patterns bind.
                "dotted_name" | "splat_pattern" | "identifier" => {
                    if let Some(n) = capture_name(node, &parents, text) {
                        targets.push(n);
                    }
                }
                "del_statement" => {
                    let mut c = node.walk();
                    for ch in node.named_children(&mut c) {
                        target_names(ch, &mut targets);
                    }
                }
                "function_definition" | "class_definition" => {
                    if let Some(n) = node.child_by_field_name("name") {
                        bind(parents.scope_of(node), n, Site::Def, node);
                    }
                    if let Some(params) = node.child_by_field_name("parameters") {
                        let mut names = Vec::new();
                        param_names(params, &mut names);
                        for n in names {
                            bind(node, n, Site::Param, node);
                        }
                    }
                }
                "lambda" => {
                    if let Some(params) = node.child_by_field_name("parameters") {
                        let mut names = Vec::new();
                        param_names(params, &mut names);
                        for n in names {
                            bind(node, n, Site::Param, node);
                        }
                    }
                }
                "import_statement" => {
                    let scope = parents.scope_of(node);
                    let mut c = node.walk();
                    for name in node.children_by_field_name("name", &mut c) {
                        let (module, alias) = if kind_of(name) == "aliased_import" {
                            (
                                name.child_by_field_name("name")
                                    .map_or(String::new(), |n| compact(node_text(n, text))),
                                name.child_by_field_name("alias"),
                            )
                        } else {
                            (compact(node_text(name, text)), None)
                        };
                        match alias {
                            Some(a) => bind(
                                scope,
                                a,
                                Site::Import {
                                    module,
                                    alias: true,
                                },
                                node,
                            ),
                            None => {
                                // `import a.b` binds `a`: its first identifier.
                                let first = if kind_of(name) == "dotted_name" {
                                    name.named_child(0)
                                } else {
                                    Some(name)
                                };
                                if let Some(first) = first {
                                    bind(
                                        scope,
                                        first,
                                        Site::Import {
                                            module,
                                            alias: false,
                                        },
                                        node,
                                    );
                                }
                            }
                        }
                    }
                }
                "import_from_statement" => {
                    let scope = parents.scope_of(node);
                    let module = node
                        .child_by_field_name("module_name")
                        .map_or(String::new(), |m| compact(node_text(m, text)));
                    let mut c = node.walk();
                    for ch in node.named_children(&mut c) {
                        if kind_of(ch) == "wildcard_import" {
                            let site = Site::Star {
                                module: module.clone(),
                            };
                            bind(scope, ch, site, node);
                        }
                    }
                    let mut c = node.walk();
                    for name in node.children_by_field_name("name", &mut c) {
                        let (orig, bound) = if kind_of(name) == "aliased_import" {
                            (
                                name.child_by_field_name("name")
                                    .map_or(String::new(), |n| compact(node_text(n, text))),
                                name.child_by_field_name("alias"),
                            )
                        } else {
                            (compact(node_text(name, text)), name.named_child(0))
                        };
                        if let Some(bound) = bound {
                            bind(
                                scope,
                                bound,
                                Site::From {
                                    module: module.clone(),
                                    name: orig,
                                },
                                node,
                            );
                        }
                    }
                }
                "global_statement" | "nonlocal_statement" => {
                    let scope = parents.scope_of(node);
                    let info = scopes.entry(scope.id()).or_default();
                    let mut c = node.walk();
                    for n in node.named_children(&mut c) {
                        let name = node_text(n, text).to_owned();
                        if kind_of(node) == "global_statement" {
                            info.globals.insert(name);
                        } else {
                            info.nonlocals.insert(name);
                        }
                    }
                }
                _ => {}
            }
            if !targets.is_empty() {
                let scope = parents.scope_of(node);
                let stmt = parents.statement_of(node);
                for t in targets {
                    bind(scope, t, Site::Assign, stmt);
                }
            }
        }
        let module_id = root.id();
        for (scope, name, binding) in pending {
            let info = scopes.entry(scope).or_default();
            if info.nonlocals.contains(&name) {
                continue; // binds in an enclosing function; not tracked further
            }
            let target = if scope != module_id && info.globals.contains(&name) {
                module_id
            } else {
                scope
            };
            scopes
                .entry(target)
                .or_default()
                .bindings
                .entry(name)
                .or_default()
                .push(binding);
        }
        Scopes {
            scopes,
            module_id,
            binding_ids,
        }
    }

    /// The scope that binds the name of identifier `ident`, and its bindings there;
    /// `None` for a builtin or undefined name.
    pub fn resolve<'a, 't>(
        &'a self,
        ident: Node<'t>,
        name: &str,
    ) -> Option<(Node<'t>, &'a [Binding])> {
        let mut scope = scope_of(ident);
        let mut first = true;
        loop {
            let is_class = kind_of(scope) == "class_definition";
            if first || !is_class {
                let info = self.scopes.get(&scope.id())?;
                // In a class body, a name read before the class binds it (`settings =
                // settings`) is looked up in the module.
                if is_class
                    && !info.globals.contains(name)
                    && info
                        .bindings
                        .get(name)
                        .is_some_and(|b| b.iter().all(|b| b.stmt_end > ident.start_byte()))
                {
                    let mut m = scope;
                    while let Some(p) = m.parent() {
                        m = p;
                    }
                    return self.module_bindings(name).map(|b| (m, b));
                }
                if info.globals.contains(name) && scope.id() != self.module_id {
                    let mut m = scope;
                    while let Some(p) = m.parent() {
                        m = p;
                    }
                    return self.module_bindings(name).map(|b| (m, b));
                }
                if !info.nonlocals.contains(name) {
                    if let Some(b) = info.bindings.get(name) {
                        return Some((scope, b.as_slice()));
                    }
                }
            }
            if scope.id() == self.module_id || scope.parent().is_none() {
                return None;
            }
            first = false;
            scope = scope_of(scope);
        }
    }

    pub fn module_bindings(&self, name: &str) -> Option<&[Binding]> {
        self.scopes
            .get(&self.module_id)?
            .bindings
            .get(name)
            .map(Vec::as_slice)
    }
}

/// The identifier a match-statement capture pattern binds at `node`, if it is one.
fn capture_name<'t>(node: Node<'t>, parents: &Parents<'t>, text: &str) -> Option<Node<'t>> {
    if !matches!(
        kind_of(node),
        "dotted_name" | "splat_pattern" | "identifier"
    ) {
        return None;
    }
    let parent = parents.parent(node)?;
    let ident = match kind_of(node) {
        // A one-part name in pattern position; `a.b` is a value pattern.
        "dotted_name" if node.named_child_count() == 1 => {
            let first_child = parent.named_child(0) == Some(node);
            let ok = match kind_of(parent) {
                "case_pattern" | "union_pattern" => true,
                "keyword_pattern" => !first_child,
                _ => false,
            };
            ok.then(|| node.named_child(0))??
        }
        "splat_pattern" => node.named_child(0).filter(|n| kind_of(n) == "identifier")?,
        // `PATTERN as NAME` inside a case.
        "identifier"
            if kind_of(parent) == "as_pattern"
                && parents
                    .parent(parent)
                    .is_some_and(|g| kind_of(g) == "case_pattern")
                && parent.named_child(parent.named_child_count().saturating_sub(1))
                    == Some(node)
                && parent.named_child_count() > 1 =>
        {
            node
        }
        _ => return None,
    };
    (kind_of(ident) == "identifier" && node_text(ident, text) != "_").then_some(ident)
}

/// The innermost statement containing `node` (a direct child of a block or the module).
pub fn statement_of(node: Node<'_>) -> Node<'_> {
    let mut n = node;
    while let Some(p) = n.parent() {
        if matches!(kind_of(p), "block" | "module") {
            return n;
        }
        n = p;
    }
    n
}

/// Could identifier `node` be a read of a variable (not a binding, attribute name,
/// keyword argument name, import clause or `global` declaration)?
pub fn is_reference(node: Node<'_>, scopes: &Scopes) -> bool {
    if kind_of(node) != "identifier" || scopes.binding_ids.contains(&node.id()) {
        return false;
    }
    let Some(p) = node.parent() else {
        return false;
    };
    match kind_of(p) {
        "attribute" => p.child_by_field_name("attribute") != Some(node),
        "keyword_argument" => p.child_by_field_name("name") != Some(node),
        "dotted_name" | "aliased_import" | "global_statement" | "nonlocal_statement"
        | "keyword_pattern" | "import_prefix" => false,
        "function_definition" | "class_definition" => p.child_by_field_name("name") != Some(node),
        _ => true,
    }
}

fn compact(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(src: &str, name: &str) -> Vec<(usize, Option<Site>)> {
        let tree = crate::parse::parse(src).unwrap();
        let scopes = Scopes::collect(&tree, src);
        all_nodes(&tree)
            .into_iter()
            .filter(|n| kind_of(n) == "identifier" && node_text(*n, src) == name)
            .filter(|n| is_reference(*n, &scopes))
            .map(|n| {
                let line = n.start_position().row + 1;
                let site = scopes.resolve(n, name).map(|(_, b)| b[0].site.clone());
                (line, site)
            })
            .collect()
    }

    #[test]
    fn locals_shadow_and_globals_reach_the_module() {
        let src = "from m import s\n\
                   def f(s):\n    return s\n\
                   def g():\n    s = 1\n    return s\n\
                   def h():\n    return s.x\n\
                   class C:\n    s = 2\n    def k(self):\n        return s\n\
                   obj.s\nf(s=1)\n";
        let got = uses(src, "s");
        let from = Some(Site::From {
            module: "m".into(),
            name: "s".into(),
        });
        assert_eq!(
            got,
            vec![
                (3, Some(Site::Param)),
                (6, Some(Site::Assign)),
                (8, from.clone()),
                (12, from),
            ]
        );
    }

    #[test]
    fn match_captures_bind() {
        let src = "from m import s\n\
                   def f(x):\n    match x:\n        case {\"k\": s}:\n            return s\n\
                   def g(x):\n    match x:\n        case P(a=s):\n            return s\n\
                   def h(x):\n    match x:\n        case [*s]:\n            return s\n\
                   def k(x):\n    match x:\n        case str() as s:\n            return s\n\
                   def v(x):\n    match x:\n        case m.s:\n            return s\n";
        let got = uses(src, "s");
        let lines: Vec<(usize, bool)> = got
            .into_iter()
            .map(|(l, site)| (l, site == Some(Site::Assign)))
            .collect();
        assert_eq!(
            lines,
            vec![(5, true), (9, true), (13, true), (17, true), (21, false)]
        );
    }

    #[test]
    fn class_body_reads_before_its_binding_reach_the_module() {
        let src = "from m import s\n\
                   class C:\n    s = s\n    t = s\n";
        let got = uses(src, "s");
        let from = Some(Site::From {
            module: "m".into(),
            name: "s".into(),
        });
        assert_eq!(got, vec![(3, from), (4, Some(Site::Assign))]);
    }

    #[test]
    fn global_assignment_binds_at_module_level() {
        let src = "s = 1\ndef f():\n    global s\n    s = 2\n";
        let tree = crate::parse::parse(src).unwrap();
        let scopes = Scopes::collect(&tree, src);
        assert_eq!(scopes.module_bindings("s").unwrap().len(), 2);
    }
}
