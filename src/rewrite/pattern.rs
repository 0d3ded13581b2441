//! A `pattern` rewrite's match: the pattern itself, then its conditions (`inside`,
//! `has` and their negations) and the constraints on its metavariables (`where`).

use tree_sitter::Node;

use streaming_iterator::StreamingIterator;

use crate::recipe::compile::{CompiledPattern, Rule};
use crate::recipe::pattern::Bindings;

/// The metavariables' nodes when `node` matches `cp`, conditions and constraints
/// included.
pub fn matches<'t>(cp: &CompiledPattern, node: Node<'t>, text: &'t str) -> Option<Bindings<'t>> {
    let mut b = Bindings::new();
    if !cp.pattern.matches(node, text, &mut b) {
        return None;
    }
    for (r, wanted) in &cp.inside {
        let mut up = node.parent();
        let mut found = false;
        while let Some(a) = up {
            if rule_matches(r, a, text) {
                found = true;
                break;
            }
            up = a.parent();
        }
        if found != *wanted {
            return None;
        }
    }
    if !cp.any.is_empty() && !cp.any.iter().any(|r| rule_matches(r, node, text)) {
        return None;
    }
    if !cp.all.iter().all(|r| rule_matches(r, node, text)) {
        return None;
    }
    for (p, wanted) in &cp.has {
        if descendant_matches(p, node, text) != *wanted {
            return None;
        }
    }
    for (name, c) in &cp.constraints {
        let nodes = b.get(name)?;
        let t = match (nodes.first(), nodes.last()) {
            (Some(f), Some(l)) => &text[f.start_byte()..l.end_byte()],
            _ => "",
        };
        if c.regex.as_ref().is_some_and(|r| !r.is_match(t))
            || c.not_regex.as_ref().is_some_and(|r| r.is_match(t))
        {
            return None;
        }
        if let Some(k) = &c.kind {
            if !(nodes.len() == 1 && nodes[0].kind() == k) {
                return None;
            }
        }
    }
    Some(b)
}

/// Whether `n` is what `r` says: of its kind, matching its pattern, and a node its
/// query captures.
fn rule_matches(r: &Rule, n: Node<'_>, text: &str) -> bool {
    if r.kind.as_ref().is_some_and(|k| k != n.kind()) {
        return false;
    }
    if let Some(p) = &r.pattern {
        let kind_ok = n.kind() == p.kind() || n.kind() == "parenthesized_expression";
        if !kind_ok || !p.matches(n, text, &mut Bindings::new()) {
            return false;
        }
    }
    if let Some(q) = &r.query {
        let mut cursor = tree_sitter::QueryCursor::new();
        cursor.set_byte_range(n.byte_range());
        let mut found = false;
        let mut ms = cursor.matches(q, n, text.as_bytes());
        while let Some(m) = ms.next() {
            if m.captures.iter().any(|c| c.node == n) {
                found = true;
                break;
            }
        }
        if !found {
            return false;
        }
    }
    true
}

/// Whether a node below `node` (not `node` itself) matches `r`.
fn descendant_matches(r: &Rule, node: Node<'_>, text: &str) -> bool {
    let mut stack = Vec::new();
    let mut c = node.walk();
    stack.extend(node.children(&mut c));
    while let Some(n) = stack.pop() {
        if rule_matches(r, n, text) {
            return true;
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    false
}
