//! Parsing with tree-sitter-python. One parser per thread, reused across files.

use std::cell::RefCell;
use tree_sitter::{Language, Node, Parser, Tree};

pub fn language() -> Language {
    tree_sitter_python::LANGUAGE.into()
}

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Parses Python source; `None` only if tree-sitter gives up (cancellation or timeout,
/// which fixer never sets), so callers may treat it as a parse failure.
pub fn parse(text: &str) -> Option<Tree> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let parser = slot.get_or_insert_with(|| {
            let mut p = Parser::new();
            p.set_language(&language())
                .expect("tree-sitter-python matches the tree-sitter ABI");
            p
        });
        parser.parse(text, None)
    })
}

/// The first ERROR or MISSING node in document order, if the tree has any.
pub fn first_error(tree: &Tree) -> Option<Node<'_>> {
    let root = tree.root_node();
    if !root.has_error() {
        return None;
    }
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            return Some(node);
        }
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return None;
            }
        }
    }
}

/// The source text of a node.
pub fn text<'a>(node: Node<'_>, source: &'a str) -> &'a str {
    &source[node.byte_range()]
}
