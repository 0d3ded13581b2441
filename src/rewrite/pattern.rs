//! A `pattern` rewrite's match: the pattern itself, then its conditions (`inside`,
//! `has` and their negations) and the constraints on its metavariables (`where`).

use tree_sitter::Node;

use crate::recipe::compile::CompiledPattern;
use crate::recipe::pattern::{Bindings, Pattern};

/// The metavariables' nodes when `node` matches `cp`, conditions and constraints
/// included.
pub fn matches<'t>(cp: &CompiledPattern, node: Node<'t>, text: &'t str) -> Option<Bindings<'t>> {
    let mut b = Bindings::new();
    if !cp.pattern.matches(node, text, &mut b) {
        return None;
    }
    for (p, wanted) in &cp.inside {
        let mut up = node.parent();
        let mut found = false;
        while let Some(a) = up {
            if kind_matches(p, a) && p.matches(a, text, &mut Bindings::new()) {
                found = true;
                break;
            }
            up = a.parent();
        }
        if found != *wanted {
            return None;
        }
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

fn kind_matches(p: &Pattern, n: Node<'_>) -> bool {
    n.kind() == p.kind() || n.kind() == "parenthesized_expression"
}

/// Whether a node below `node` (not `node` itself) matches `p`.
fn descendant_matches(p: &Pattern, node: Node<'_>, text: &str) -> bool {
    let mut stack = Vec::new();
    let mut c = node.walk();
    stack.extend(node.children(&mut c));
    while let Some(n) = stack.pop() {
        if kind_matches(p, n) && p.matches(n, text, &mut Bindings::new()) {
            return true;
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    false
}
