//! Suppression comments, read from the file itself:
//! - `# fixer: ignore` or `# fixer: ignore[recipe-id, ...]` on a line, or on the first
//!   line of a statement (then the whole statement, a `def` or `class` included);
//! - `# fixer: ignore-file` or `# fixer: ignore-file[recipe-id, ...]` in the first 10
//!   lines of a file.

use tree_sitter::{Node, Tree};

const MARKER: &str = "fixer:";
const FILE_HEAD_LINES: usize = 10;

/// Which recipes a comment names: all of them, or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    All,
    Only(Vec<String>),
}

impl Scope {
    fn covers(&self, recipe: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(ids) => ids.iter().any(|i| i == recipe),
        }
    }
}

/// Parses `ignore` / `ignore-file` with an optional `[ids]` after the marker.
fn parse_directive(comment: &str, word: &str) -> Option<Scope> {
    let at = comment.find(MARKER)?;
    let rest = comment[at + MARKER.len()..].trim_start();
    let rest = rest.strip_prefix(word)?;
    if rest.starts_with('-') {
        return None; // `ignore-file` is not `ignore`
    }
    match rest.strip_prefix('[') {
        Some(list) => {
            let list = &list[..list.find(']')?];
            Some(Scope::Only(
                list.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
            ))
        }
        None => Some(Scope::All),
    }
}

/// Is the whole file suppressed for `recipe` by an `ignore-file` comment in its head?
pub fn file_ignored(text: &str, recipe: &str) -> bool {
    if memchr::memmem::find(text.as_bytes(), b"ignore-file").is_none() {
        return false;
    }
    text.lines()
        .take(FILE_HEAD_LINES)
        .filter_map(|l| l.find('#').map(|i| &l[i..]))
        .filter_map(|c| parse_directive(c, "ignore-file"))
        .any(|s| s.covers(recipe))
}

/// The line ranges (1-based, inclusive) a file's `ignore` comments cover.
#[derive(Debug, Default)]
pub struct Suppressions {
    ranges: Vec<(usize, usize, Scope)>,
}

impl Suppressions {
    pub fn read(text: &str, tree: &Tree) -> Suppressions {
        let mut out = Suppressions::default();
        if memchr::memmem::find(text.as_bytes(), MARKER.as_bytes()).is_none() {
            return out;
        }
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            if node.kind() == "comment" {
                if let Some(scope) = parse_directive(&text[node.byte_range()], "ignore") {
                    let line = node.start_position().row;
                    let end = statement_starting_on(tree.root_node(), line)
                        .map_or(line, |s| s.end_position().row);
                    out.ranges.push((line + 1, end + 1, scope));
                }
                continue;
            }
            let mut cursor = node.walk();
            stack.extend(node.children(&mut cursor));
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn covers(&self, recipe: &str, line: usize) -> bool {
        self.ranges
            .iter()
            .any(|(a, b, s)| (*a..=*b).contains(&line) && s.covers(recipe))
    }
}

/// The outermost statement that starts on `row` (0-based).
fn statement_starting_on(root: Node<'_>, row: usize) -> Option<Node<'_>> {
    let mut node = root;
    loop {
        let mut cursor = node.walk();
        let child = node
            .named_children(&mut cursor)
            .find(|c| c.start_position().row <= row && row <= c.end_position().row)?;
        if child.start_position().row == row && is_statement(child) {
            return Some(child);
        }
        node = child;
    }
}

fn is_statement(node: Node<'_>) -> bool {
    let k = node.kind();
    k.ends_with("_statement") || k.ends_with("_definition") || k == "decorated_definition"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scopes() {
        assert_eq!(
            parse_directive("# fixer: ignore", "ignore"),
            Some(Scope::All)
        );
        assert_eq!(
            parse_directive("# noqa  # fixer: ignore[a, b]", "ignore"),
            Some(Scope::Only(vec!["a".into(), "b".into()]))
        );
        assert_eq!(parse_directive("# fixer: ignore-file", "ignore"), None);
        assert_eq!(
            parse_directive("# fixer: ignore-file[x]", "ignore-file"),
            Some(Scope::Only(vec!["x".into()]))
        );
    }

    #[test]
    fn a_comment_on_the_first_line_covers_the_statement() {
        let text = "x = f(  # fixer: ignore[r]\n    1,\n)\ny = 2\n";
        let tree = crate::parse::parse(text).unwrap();
        let s = Suppressions::read(text, &tree);
        assert!(s.covers("r", 1) && s.covers("r", 3));
        assert!(!s.covers("r", 4));
        assert!(!s.covers("other", 1));
    }

    #[test]
    fn ignore_file_in_the_head() {
        assert!(file_ignored("# fixer: ignore-file\nimport x\n", "any"));
        assert!(file_ignored("# fixer: ignore-file[a]\n", "a"));
        assert!(!file_ignored("# fixer: ignore-file[a]\n", "b"));
    }
}
