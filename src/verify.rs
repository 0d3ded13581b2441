//! Verification: a rewritten file is parsed again, and a rewrite that introduces a syntax
//! error is not written. fixer only rewrites files whose parsed parts were clean, so any
//! ERROR or MISSING node in what is parsed again is one the rewrite introduced; the
//! parts no change reaches hold the bytes they had and are not judged again (see
//! [`check_change`]).

use crate::diag::line_col;
use crate::parse;

/// Why a rewritten text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxBreak {
    pub line: usize,
    pub column: usize,
}

/// Checks that `text` parses cleanly; returns the position of the first error if not.
pub fn check(text: &str) -> Result<(), SyntaxBreak> {
    let Some(tree) = parse::parse(text) else {
        return Err(SyntaxBreak { line: 1, column: 1 });
    };
    check_tree(text, &tree)
}

/// Like [`check`], with the tree of `text` already parsed.
pub fn check_tree(text: &str, tree: &tree_sitter::Tree) -> Result<(), SyntaxBreak> {
    match parse::first_error(tree) {
        None => Ok(()),
        Some(node) => {
            let (line, column) = line_col(text, node.start_byte());
            Err(SyntaxBreak { line, column })
        }
    }
}

/// Like [`check`], for `new`, which is `old` with some lines changed: a run of
/// statements (or a function or class) that no change reaches holds `old`'s bytes as
/// they were and needs no parse (see [`crate::outline`]): what is parsed is each changed
/// statement in its place, inside the headers of the blocks that hold it, with a `0`
/// for each run of statements around it, so a change that breaks the statements
/// around it (an opened bracket or string, an indentation, a removed header) is seen.
pub fn check_change(old: &str, new: &str) -> Result<(), SyntaxBreak> {
    let focus = crate::outline::Focus {
        anchors: changed_lines(old, new),
        words: Default::default(),
        keep: crate::outline::Keep::Focused,
        bindings_only: false,
    };
    // A masked parse is returned only when what it parsed is clean.
    if parse::parse_partial(new, &focus).is_some() {
        return Ok(());
    }
    check(new)
}

/// The first byte after the indentation of every line of `new` that differs from `old`,
/// and of the lines on both sides of a deletion (inside the statement the line belongs
/// to: the indentation before a block's first statement is outside the block).
fn changed_lines(old: &str, new: &str) -> Vec<usize> {
    let b = new.as_bytes();
    let mut starts = vec![0];
    starts.extend(memchr::memchr_iter(b'\n', b).map(|i| i + 1));
    let at = |line: usize| {
        let start = starts.get(line).copied().unwrap_or(b.len());
        start
            + b[start..]
                .iter()
                .take_while(|c| matches!(c, b' ' | b'\t' | b'\x0c'))
                .count()
    };
    let mut anchors = Vec::new();
    let diff = similar::TextDiff::from_lines(old, new);
    for op in diff.ops() {
        let lines = op.new_range();
        match op.tag() {
            similar::DiffTag::Equal => {}
            similar::DiffTag::Delete => {
                anchors.push(at(lines.start.saturating_sub(1)));
                anchors.push(at(lines.start));
            }
            _ => anchors.extend(lines.map(at)),
        }
    }
    anchors.sort_unstable();
    anchors.dedup();
    anchors
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "import os\n\n\ndef f():\n    return os.sep\n\n\ndef g(x):\n    if x:\n        return 1\n    return 2\n";

    #[test]
    fn a_change_is_verified_where_it_is_and_around_it() {
        assert_eq!(check_change(OLD, OLD), Ok(()));
        let fine = OLD.replace("return 1", "return (\n            1\n        )");
        assert_eq!(check_change(OLD, &fine), Ok(()));
        let broken = OLD.replace("return 1", "return (1");
        assert!(check_change(OLD, &broken).is_err());
        let broken = OLD.replace("return 2", "return 2 +");
        assert!(check_change(OLD, &broken).is_err());
        // A removed header: what was the body ends the function before.
        let merged = OLD.replace("def g(x):\n", "");
        assert_eq!(check_change(OLD, &merged), check(&merged));
        // A change on the first line of a body, or on a line alone in its block.
        let broken = OLD.replace("return os.sep", "return os.sep +");
        assert!(check_change(OLD, &broken).is_err());
        let broken = OLD.replace("        return 1", "        return 1 +");
        assert!(check_change(OLD, &broken).is_err());
        let fine = OLD.replace("    return os.sep", "    x = 1\n    return os.sep");
        assert_eq!(check_change(OLD, &fine), Ok(()));
        // A clause without its statement.
        let broken = OLD.replace(
            "    return os.sep",
            "    return os.sep\n    else:\n        pass",
        );
        assert!(check_change(OLD, &broken).is_err());
        let broken = OLD.replace("def g(x):\n    if x:", "def g(x):\n    if x:\n  y = 1");
        assert_eq!(check_change(OLD, &broken), check(&broken));
        // An opened string swallows the rest of the file: found.
        let broken = OLD.replace("return os.sep", "return '''os.sep");
        assert!(check_change(OLD, &broken).is_err());
    }
}
