//! Parsing with tree-sitter-python. One parser per thread, reused across files.

use std::cell::RefCell;
use std::sync::LazyLock;
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
        let parser = slot.get_or_insert_with(new_parser);
        parser.parse(text, None)
    })
}

/// `FIXER_FULL_PARSE=1`: parse whole files even where a recipe reads only parts of them
/// (to compare, or to rule partial parses out when something looks wrong).
pub static FULL_PARSE: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var_os("FIXER_FULL_PARSE").is_some_and(|v| v != "0"));

/// A tree of `text` for a reader that looks only at `focus` (see [`crate::outline`]):
/// of the parts it needs when they parse cleanly, else of the whole file.
pub fn parse_focused(text: &str, focus: &crate::outline::Focus<'_>) -> Option<Tree> {
    match parse_partial(text, focus) {
        Some((_, trees)) => Some(trees.tree),
        None => parse(text),
    }
}

/// The masked copy of `text` for `focus` and its trees, when partial parses are on,
/// something can be elided and what is kept parses cleanly; `None`: parse it whole.
pub fn parse_partial(
    text: &str,
    focus: &crate::outline::Focus<'_>,
) -> Option<(crate::outline::Masked, MaskedTrees)> {
    if *FULL_PARSE {
        return None;
    }
    let masked = crate::outline::mask(text, focus)?;
    let trees = parse_masked(&masked).filter(|t| !t.tree.root_node().has_error())?;
    Some((masked, trees))
}

/// The focus of a reader of what a module binds and imports: every import (at any
/// depth) and `global` statement; functions without one need no parse, and in those
/// with one only these statements (and what holds them) are parsed; module and class
/// level are parsed for what they bind (values, parameter lists, class bases and
/// comments elided).
pub fn module_focus(text: &str) -> crate::outline::Focus<'_> {
    let b = text.as_bytes();
    let mut anchors: Vec<usize> = memchr::memmem::find_iter(b, b"import")
        .chain(memchr::memmem::find_iter(b, b"global"))
        .collect();
    anchors.sort_unstable();
    crate::outline::Focus {
        anchors,
        words: Default::default(),
        keep: crate::outline::Keep::ModuleLevel,
        bindings_only: true,
    }
}

/// The trees of a masked copy of a file (see [`crate::outline`]).
pub struct MaskedTrees {
    /// The tree of the copy's compact text, which tree-sitter parsed.
    compact: Tree,
    compact_text: String,
    /// That tree with the elided parts put back as edits: its nodes have their offsets
    /// and positions in the file.
    pub tree: Tree,
}

/// Parses a masked copy of a file.
pub fn parse_masked(masked: &crate::outline::Masked) -> Option<MaskedTrees> {
    let compact_text = masked.compact();
    let compact = parse(&compact_text)?;
    Some(expand(masked, compact_text, compact))
}

/// Parses `new`, which is `old` with `edits` (offsets in the file, none touching an
/// elided part) applied, reusing what the edits left of `prev`, the trees of `old`.
pub fn reparse_masked(
    prev: &MaskedTrees,
    old: &crate::outline::Masked,
    edits: &[crate::edit::Edit],
    new: &crate::outline::Masked,
) -> Option<MaskedTrees> {
    let compact_edits: Vec<crate::edit::Edit> = edits
        .iter()
        .map(|e| crate::edit::Edit {
            range: old.to_compact(e.range.start)..old.to_compact(e.range.end),
            content: e.content.clone(),
            origin: String::new(),
            weight: e.weight,
            group: e.group,
        })
        .collect();
    let compact_text = new.compact();
    let compact = reparse_edited(
        &prev.compact,
        &prev.compact_text,
        &compact_edits,
        &compact_text,
    )?;
    Some(expand(new, compact_text, compact))
}

fn expand(masked: &crate::outline::Masked, compact_text: String, compact: Tree) -> MaskedTrees {
    let mut tree = compact.clone();
    for e in masked.expansions() {
        tree.edit(&e);
    }
    MaskedTrees {
        compact,
        compact_text,
        tree,
    }
}

fn new_parser() -> Parser {
    let mut p = Parser::new();
    p.set_language(&language())
        .expect("tree-sitter-python matches the tree-sitter ABI");
    p
}

/// The tree of `new`, which is `old` with `edits` (sorted, non-overlapping, as
/// [`crate::edit::resolve`] returns them) applied, parsed incrementally from `tree`, the
/// tree of `old`: tree-sitter reuses every subtree the edits did not touch.
pub fn reparse_edited(
    tree: &Tree,
    old: &str,
    edits: &[crate::edit::Edit],
    new: &str,
) -> Option<Tree> {
    let mut edited = tree.clone();
    // From the last edit to the first: each edit's offsets are still those of `old`.
    for e in edits.iter().rev() {
        let start = point_at(old, e.range.start);
        let new_end = match memchr::memrchr(b'\n', e.content.as_bytes()) {
            Some(i) => tree_sitter::Point {
                row: start.row + memchr::memchr_iter(b'\n', e.content.as_bytes()).count(),
                column: e.content.len() - i - 1,
            },
            None => tree_sitter::Point {
                row: start.row,
                column: start.column + e.content.len(),
            },
        };
        edited.edit(&tree_sitter::InputEdit {
            start_byte: e.range.start,
            old_end_byte: e.range.end,
            new_end_byte: e.range.start + e.content.len(),
            start_position: start,
            old_end_position: point_at(old, e.range.end),
            new_end_position: new_end,
        });
    }
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let parser = slot.get_or_insert_with(new_parser);
        parser.parse(new, Some(&edited))
    })
}

/// Row and byte column of an offset.
fn point_at(text: &str, offset: usize) -> tree_sitter::Point {
    let before = &text.as_bytes()[..offset];
    let row = memchr::memchr_iter(b'\n', before).count();
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    tree_sitter::Point {
        row,
        column: offset - line_start,
    }
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
        if node.has_error() {
            // A hidden token the parser had to invent (`MISSING _newline` between two
            // statements on one line, `x = 'a'from b import c`) is no child a cursor
            // visits: the node that holds it is the error.
            let mut c = node.walk();
            if !node
                .children(&mut c)
                .any(|ch| ch.is_error() || ch.is_missing() || ch.has_error())
            {
                return Some(node);
            }
            if cursor.goto_first_child() {
                continue;
            }
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

/// Where the first syntax error of `tree` is: the start of the first error or missing
/// node, or, for a hidden token the parser invented (a missing newline between two
/// statements), the end of the named child it follows.
/// `text` does not parse: `does not parse (syntax error at L:C)` and the line L.
pub fn syntax_error(text: &str) -> Option<(String, usize)> {
    match parse(text) {
        Some(tree) => syntax_error_in(&tree, text),
        None => Some(("tree-sitter could not parse it".to_owned(), 0)),
    }
}

/// [`syntax_error`] of `text` parsed as `tree`.
pub fn syntax_error_in(tree: &Tree, text: &str) -> Option<(String, usize)> {
    let at = error_offset(tree)?;
    let (line, col) = crate::diag::line_col(text, at);
    Some((
        format!("does not parse (syntax error at {line}:{col})"),
        line,
    ))
}

pub fn error_offset(tree: &Tree) -> Option<usize> {
    let node = first_error(tree)?;
    if node.is_error() || node.is_missing() {
        return Some(node.start_byte());
    }
    // The hidden token shows only in the S-expression: its place among the named
    // children at depth one.
    let sexp = node.to_sexp();
    let (mut depth, mut named, mut quoted) = (0usize, 0usize, false);
    let mut chars = sexp.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        match ch {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                chars.next();
            }
            '(' if !quoted => {
                depth += 1;
                if depth == 2 {
                    if sexp[i + 1..].starts_with("MISSING") {
                        return Some(match named.checked_sub(1) {
                            Some(k) => node
                                .named_child(k)
                                .map_or(node.start_byte(), |c| c.end_byte()),
                            None => node.start_byte(),
                        });
                    }
                    named += 1;
                }
            }
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Some(node.start_byte())
}

/// Node kind and field names by id, read from the grammar once: `Node::kind` and
/// `TreeCursor::field_name` measure and validate a C string on every call, and the walk
/// in the analyses asks for every node of a file.
struct GrammarNames {
    kinds: Vec<&'static str>,
    fields: Vec<&'static str>,
}

static NAMES: LazyLock<GrammarNames> = LazyLock::new(|| {
    let lang = language();
    let kinds = (0..lang.node_kind_count())
        .map(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| lang.node_kind_for_id(i))
                .unwrap_or("")
        })
        .collect();
    // Field ids start at 1; index 0 stays empty.
    let fields = (0..=lang.field_count())
        .map(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| lang.field_name_for_id(i))
                .unwrap_or("")
        })
        .collect();
    GrammarNames { kinds, fields }
});

/// `node.kind()`, by table lookup.
pub fn kind_of<'t>(node: impl std::borrow::Borrow<Node<'t>>) -> &'static str {
    let node = node.borrow();
    match NAMES.kinds.get(usize::from(node.kind_id())) {
        Some(kind) if !kind.is_empty() => kind,
        // `ERROR` has an id outside the table.
        _ => node.kind(),
    }
}

/// `cursor.field_name()`, by table lookup.
pub fn field_of(cursor: &tree_sitter::TreeCursor<'_>) -> Option<&'static str> {
    let id = cursor.field_id()?;
    NAMES.fields.get(usize::from(id.get())).copied()
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

/// The source text of a node.
pub fn text<'a>(node: Node<'_>, source: &'a str) -> &'a str {
    &source[node.byte_range()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::{apply, resolve, Edit};

    #[test]
    fn incremental_reparse_matches_a_full_parse() {
        let old = "def f():\n    import os\n    return os\n\nx = 1\n";
        let (edits, _) = resolve(vec![
            Edit::insert(0, "import os\n\n\n", "t"),
            Edit::delete(9..23, "t"),
            Edit::replace(42..43, "(\n    2\n)", "t"),
        ]);
        let new = apply(old, &edits);
        let tree = parse(old).unwrap();
        let inc = reparse_edited(&tree, old, &edits, &new).unwrap();
        let full = parse(&new).unwrap();
        assert_eq!(inc.root_node().to_sexp(), full.root_node().to_sexp());
        assert!(first_error(&inc).is_none());
    }
}
