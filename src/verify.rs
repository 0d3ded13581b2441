//! Verification: a rewritten file is parsed again, and a rewrite that introduces a syntax
//! error is not written. fixer only rewrites files that parsed cleanly, so any ERROR or
//! MISSING node in the output is one the rewrite introduced.

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
