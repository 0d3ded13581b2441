//! Verification: a rewritten file is parsed again, and a rewrite that introduces a syntax
//! error is not written. fixer only rewrites files whose parsed parts were clean, so any
//! ERROR or MISSING node in what is parsed again is one the rewrite introduced; the
//! parts no change reaches hold the bytes they had and are not judged again (see
//! [`check_change`]).
//!
//! The pipeline: the tree-sitter parse ([`check_tree`]: the grammar), then the compile
//! rules on the changed statements ([`compile_rules`]: what the grammar accepts and
//! CPython's compiler refuses), confirmed against the old text so that a fault the file
//! already had is not held against the rewrite ([`check_rules`]).

pub mod compile_rules;

use std::ops::Range;

use crate::diag::line_col;
use crate::parse;

/// Why a rewritten text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxBreak {
    pub line: usize,
    pub column: usize,
    /// The byte of the new text it is at.
    pub at: usize,
    /// `None`: tree-sitter does not parse it; else the compile rule it breaks (what
    /// CPython would say).
    pub rule: Option<String>,
}

impl SyntaxBreak {
    fn at(text: &str, at: usize, rule: Option<String>) -> SyntaxBreak {
        let (line, column) = line_col(text, at);
        SyntaxBreak {
            line,
            column,
            at,
            rule,
        }
    }
}

/// Checks that `text` parses cleanly; returns the position of the first error if not.
pub fn check(text: &str) -> Result<(), SyntaxBreak> {
    let Some(tree) = parse::parse(text) else {
        return Err(SyntaxBreak::at(text, 0, None));
    };
    check_tree(text, &tree)?;
    let all = 0..text.len();
    let all = std::slice::from_ref(&all);
    check_rules(None, text, &tree, &[], all, all)
}

/// Like [`check`], with the tree of `text` already parsed.
pub fn check_tree(text: &str, tree: &tree_sitter::Tree) -> Result<(), SyntaxBreak> {
    match parse::error_offset(tree) {
        None => Ok(()),
        Some(at) => Err(SyntaxBreak::at(text, at, None)),
    }
}

/// Like [`check`], for `new`, which is `old` with some lines changed: a run of
/// statements (or a function or class) that no change reaches holds `old`'s bytes as
/// they were and needs no parse (see [`crate::outline`]): what is parsed is each changed
/// statement in its place, inside the headers of the blocks that hold it, with a `0`
/// for each run of statements around it, so a change that breaks the statements
/// around it (an opened bracket or string, an indentation, a removed header) is seen.
pub fn check_change(old: &str, new: &str) -> Result<(), SyntaxBreak> {
    let (focus, modified) = change_focus(old, new);
    let changed = line_ranges(new, &focus.anchors);
    // A masked parse is returned only when what it parsed is clean.
    if let Some((masked, trees)) = parse::parse_partial(new, &focus) {
        let elided: Vec<Range<usize>> = masked.regions.iter().map(|r| r.whole.clone()).collect();
        return check_rules(Some(old), new, &trees.tree, &elided, &changed, &modified);
    }
    let Some(tree) = parse::parse(new) else {
        return Err(SyntaxBreak::at(new, 0, None));
    };
    check_tree(new, &tree)?;
    check_rules(Some(old), new, &tree, &[], &changed, &modified)
}

/// What [`check_change`] parses of `new`: the lines that differ from `old` and those
/// next to them (see [`changed_lines`]), and the bytes that differ.
fn change_focus(old: &str, new: &str) -> (crate::outline::Focus<'static>, Vec<Range<usize>>) {
    let (anchors, modified) = changed_lines(old, new);
    let focus = crate::outline::Focus {
        anchors,
        words: Default::default(),
        keep: crate::outline::Keep::Focused,
        bindings_only: false,
    };
    (focus, modified)
}

/// The compile rules ([`compile_rules`]) on the statements of `new` that `changed`
/// reaches; `tree` is the tree of `new` (masked: `elided` are the runs its elided parts
/// stand for); `modified` are the bytes that differ from `old` (`changed` also holds
/// the lines next to them), an empty range where something was deleted. A fault
/// outside the changed ranges counts only when `old` (the text
/// before the change, if any) does not have it as often: a file CPython already
/// rejected is not held against the rewrite.
pub fn check_rules(
    old: Option<&str>,
    new: &str,
    tree: &tree_sitter::Tree,
    elided: &[Range<usize>],
    changed: &[Range<usize>],
    modified: &[Range<usize>],
) -> Result<(), SyntaxBreak> {
    let changed = &widen(new, changed);
    let found = match compile_rules::check(new, tree, changed, modified, elided) {
        compile_rules::Verdict::Found(v) => v,
        // What was found without the elided parts stands (a statement's own fault).
        compile_rules::Verdict::NeedsWholeTree(partial) if !partial.is_empty() => partial,
        compile_rules::Verdict::NeedsWholeTree(_) => {
            let Some(whole) = parse::parse(new) else {
                return Err(SyntaxBreak::at(new, 0, None));
            };
            // What the masked parse elided (a docstring's text) is parsed now too; a
            // syntax error there counts where a change is (elsewhere the file had it:
            // a partial parse leaves such a function alone).
            if let Err(b) = check_tree(new, &whole) {
                if changed.iter().any(|r| r.start <= b.at && b.at <= r.end) {
                    return Err(b);
                }
                // The whole tree is broken where no change is: its statements are
                // not to be trusted, and what the partial tree shows was judged.
                return Ok(());
            }
            match compile_rules::check(new, &whole, changed, modified, &[]) {
                compile_rules::Verdict::Found(v) => v,
                compile_rules::Verdict::NeedsWholeTree(v) => v,
            }
        }
    };
    if found.is_empty() {
        return Ok(());
    }
    let inside = |at: usize| {
        changed
            .iter()
            .any(|r| r.start <= at && at < r.end.max(r.start + 1))
    };
    if let Some(v) = found.iter().filter(|v| inside(v.at)).min_by_key(|v| v.at) {
        return Err(SyntaxBreak::at(new, v.at, Some(v.message.clone())));
    }
    let Some(old) = old else {
        return match found.iter().min_by_key(|v| v.at) {
            Some(v) => Err(SyntaxBreak::at(new, v.at, Some(v.message.clone()))),
            None => Ok(()),
        };
    };
    // Outside the changed lines: new only if the old text has it fewer times.
    let before: Vec<compile_rules::Violation> = match parse::parse(old) {
        Some(t) => {
            let all = 0..old.len();
            let all = std::slice::from_ref(&all);
            match compile_rules::check(old, &t, all, all, &[]) {
                compile_rules::Verdict::Found(v) => v,
                compile_rules::Verdict::NeedsWholeTree(v) => v,
            }
        }
        None => Vec::new(),
    };
    let mut sorted: Vec<&compile_rules::Violation> = found.iter().collect();
    sorted.sort_by_key(|v| v.at);
    for v in sorted {
        let now = found.iter().filter(|o| o.message == v.message).count();
        let was = before.iter().filter(|o| o.message == v.message).count();
        if now > was {
            return Err(SyntaxBreak::at(new, v.at, Some(v.message.clone())));
        }
    }
    Ok(())
}

/// `changed` with each range that starts a line (after its indentation) reaching back
/// over the lines without code before it (blank, comments) to the end of the last line
/// with code: a change there (the statements of a block made a blank line) belongs to
/// no statement, and what it did is seen in the one before it (an empty block sits at
/// the end of its header).
fn widen(text: &str, changed: &[Range<usize>]) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out: Vec<Range<usize>> = changed.to_vec();
    out.sort_by_key(|r| r.start);
    let blank = |line: &[u8]| {
        let code = line
            .iter()
            .position(|c| !matches!(c, b' ' | b'\t' | b'\x0c' | b'\r'));
        code.is_none_or(|i| line[i] == b'#')
    };
    // No range reaches back past the one before it: each byte is walked once.
    let mut floor = 0;
    for r in &mut out {
        let start = r.start.min(b.len());
        let mut cur = memchr::memrchr(b'\n', &b[..start]).map_or(0, |i| i + 1);
        if cur < floor || !blank(&b[cur..start]) {
            floor = floor.max(r.end);
            continue;
        }
        while cur > floor {
            // `cur - 1` is the newline ending the line before.
            let prev = memchr::memrchr(b'\n', &b[..cur - 1]).map_or(0, |i| i + 1);
            if !blank(&b[prev..cur - 1]) {
                r.start = cur - 1;
                break;
            }
            cur = prev;
        }
        floor = floor.max(r.end);
    }
    out
}

/// Each anchor (the first byte of a changed line) to the end of its line.
fn line_ranges(text: &str, anchors: &[usize]) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    anchors
        .iter()
        .map(|&a| {
            let end = memchr::memchr(b'\n', &b[a.min(b.len())..]).map_or(b.len(), |i| a + i);
            a..end
        })
        .collect()
}

/// The first byte after the indentation of every line of `new` that differs from `old`,
/// and of the lines on both sides of a deletion (inside the statement the line belongs
/// to: the indentation before a block's first statement is outside the block). A
/// deletion, or a changed line without code (blank, a comment: no statement holds it,
/// so its own anchor reaches none), also anchors the nearest lines with code before
/// and after it: what the change did is seen in the statements around it (a block
/// whose statements all became a blank line is empty). Also the bytes of `new` that
/// differ from `old`: the lines inserted or replaced, and an empty range at the start of
/// the line after each deletion.
fn changed_lines(old: &str, new: &str) -> (Vec<usize>, Vec<Range<usize>>) {
    let b = new.as_bytes();
    let mut starts = vec![0];
    starts.extend(memchr::memchr_iter(b'\n', b).map(|i| i + 1));
    let indent = |start: usize, also_cr: bool| {
        b[start.min(b.len())..]
            .iter()
            .take_while(|&&c| matches!(c, b' ' | b'\t' | b'\x0c') || (also_cr && c == b'\r'))
            .count()
    };
    let at = |line: usize| {
        let start = starts.get(line).copied().unwrap_or(b.len());
        start + indent(start, false)
    };
    let has_code = |line: usize| {
        let start = starts.get(line).copied().unwrap_or(b.len());
        !matches!(
            b.get(start + indent(start, true)),
            None | Some(b'\n' | b'#')
        )
    };
    // For each line, the nearest line with code before it, and at or after it.
    let code: Vec<bool> = (0..starts.len()).map(has_code).collect();
    let mut before = Vec::with_capacity(code.len());
    let mut last = None;
    for (i, &c) in code.iter().enumerate() {
        before.push(last);
        if c {
            last = Some(i);
        }
    }
    let mut from = vec![None; code.len() + 1];
    for (i, &c) in code.iter().enumerate().rev() {
        from[i] = if c { Some(i) } else { from[i + 1] };
    }
    // The lines with code next to the lines `range` of `new` (outside it).
    let around = |range: std::ops::Range<usize>, anchors: &mut Vec<usize>| {
        let prev = before.get(range.start).copied().flatten();
        let next = from.get(range.end).copied().flatten();
        anchors.extend(prev.into_iter().chain(next).map(at));
    };
    let mut anchors = Vec::new();
    let mut modified = Vec::new();
    let line_start = |line: usize| starts.get(line).copied().unwrap_or(b.len());
    let diff = similar::TextDiff::from_lines(old, new);
    for op in diff.ops() {
        let lines = op.new_range();
        match op.tag() {
            similar::DiffTag::Equal => {}
            similar::DiffTag::Delete => {
                modified.push(line_start(lines.start)..line_start(lines.start));
                anchors.push(at(lines.start.saturating_sub(1)));
                anchors.push(at(lines.start));
                around(lines.start..lines.start, &mut anchors);
            }
            _ => {
                modified.push(line_start(lines.start)..line_start(lines.end));
                if lines.clone().any(|l| !code.get(l).copied().unwrap_or(true)) {
                    around(lines.clone(), &mut anchors);
                }
                // A decorator belongs to the statement after it: a line changed
                // below one is judged with it (a mask would stand in for it alone).
                if let Some(prev) = before.get(lines.start).copied().flatten() {
                    if b.get(at(prev)) == Some(&b'@') {
                        anchors.push(at(prev));
                    }
                }
                anchors.extend(lines.map(at));
            }
        }
    }
    anchors.sort_unstable();
    anchors.dedup();
    (anchors, modified)
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
        // A dedent to no enclosing level, which tree-sitter parses (CPython does not).
        let broken = OLD.replace("def g(x):\n    if x:", "def g(x):\n    if x:\n  y = 1");
        assert!(check_change(OLD, &broken).is_err());
        assert!(check(&broken).is_err());
        // An opened string swallows the rest of the file: found.
        let broken = OLD.replace("return os.sep", "return '''os.sep");
        assert!(check_change(OLD, &broken).is_err());
    }

    /// The compile rules' verdict on `new` as [`check_change`] judges it: masked.
    fn masked_verdict(old: &str, new: &str) -> compile_rules::Verdict {
        let (focus, modified) = change_focus(old, new);
        let changed = widen(new, &line_ranges(new, &focus.anchors));
        let (masked, trees) = parse::parse_partial(new, &focus).expect("a masked parse");
        let elided: Vec<Range<usize>> = masked.regions.iter().map(|r| r.whole.clone()).collect();
        compile_rules::check(new, &trees.tree, &changed, &modified, &elided)
    }

    #[test]
    fn a_statement_only_next_to_a_change_needs_no_whole_tree() {
        // What hoist-imports does: an import added at the top (and a blank line after
        // it, which anchors the docstring before and the definition after), and a
        // function's first statement removed (which anchors its header and docstring).
        let old = "\"\"\"Module.\n\nMore.\n\"\"\"\nimport os\n\n\n@dec\nasync def f():\n    \"\"\"Doc.\n\n    More.\n    \"\"\"\n    import json\n    x = await json.g()\n    for y in x:\n        print(y)\n\n\nclass C:\n    \"\"\"Doc.\"\"\"\n\n    def m(self):\n        return 1\n";
        let new = old
            .replace("import os\n\n", "import os\n\nimport json\n\n")
            .replace("    import json\n", "");
        assert_eq!(check_change(old, &new), Ok(()));
        assert!(
            matches!(masked_verdict(old, &new), compile_rules::Verdict::Found(v) if v.is_empty())
        );
        // A changed header still judges all it holds, elided or not: the whole tree.
        for (from, to, rule) in [
            (
                "async def f():",
                "def f():",
                "'await' outside async function",
            ),
            ("class C:", "def C():", ""),
        ] {
            let bad = new.replace(from, to);
            let verdict = masked_verdict(old, &bad);
            assert!(
                matches!(verdict, compile_rules::Verdict::NeedsWholeTree(_)),
                "{to}"
            );
            if !rule.is_empty() {
                assert_eq!(
                    check_change(old, &bad)
                        .err()
                        .and_then(|b| b.rule)
                        .as_deref(),
                    Some(rule)
                );
            }
        }
        // A docstring's text changed is judged whole too.
        let bad = new.replace(
            "    \"\"\"Doc.\n\n    More.",
            "    b\"\"\"Doc.\n\n    Mor\u{e9}.",
        );
        assert!(matches!(
            masked_verdict(old, &bad),
            compile_rules::Verdict::NeedsWholeTree(_)
        ));
    }

    #[test]
    fn a_line_changed_below_a_decorator_is_judged_with_it() {
        // Found by bench/compile_check.py: a statement inserted between a decorator
        // and its `def` was accepted, the decorator masked as a statement of its own.
        let old = "def f():\n    @dec\n    def g(self):\n        pass\n    return g\n";
        let new = old.replace("    @dec\n", "    @dec\n    nonlocal x\n");
        assert!(check_change(old, &new).is_err());
        let fine = old.replace("def g(self)", "def g(self, x)");
        assert_eq!(check_change(old, &fine), Ok(()));
    }

    #[test]
    fn a_changed_indentation_is_judged_against_the_unchanged_statements() {
        // Found by the fuzzer (seed 96002): a recipe put a tab before the first
        // statement of a body; the next statement, unchanged, then dedents to no
        // enclosing level, which tree-sitter reads leniently and CPython refuses.
        let old = "def f():\n    seen = 1\n    import os\n\n    return seen\n";
        let new = old.replace("    seen", "    \tseen");
        // (tree-sitter reads the dedented line as one of the module, indented.)
        assert!(check_change(old, &new).is_err());
        // Columns as CPython counts them: `  \t` is 8 columns wide with tabs of 8, 3
        // with tabs of 1, so eight spaces after it are TabError.
        let new = old
            .replace("    seen", "  \tseen")
            .replace("    import", "        import")
            .replace("    return", "        return");
        assert!(check_change(old, &new).is_err());
        // Within one block tree-sitter keeps: the same columns both ways or TabError.
        let block = "if x:\n  \ta = 1\n  \tb = 2\n";
        let new = block.replace("  \tb", "        b");
        assert!(check_change(block, &new).is_err());
        // A tab that is 8 columns wide both ways is not that.
        let tabs = old.replace("    ", "\t");
        let new = tabs.replace("\tseen = 1", "\tseen = 2");
        assert_eq!(check_change(&tabs, &new), Ok(()));
    }

    #[test]
    fn two_statements_on_one_line_without_a_semicolon_are_refused() {
        // Found by the fuzzer (seed 70010): tree-sitter invents a hidden `_newline`
        // between `'x'` and `from`, which no cursor visits; CPython rejects the line.
        let broken = "import os\nNAME = 'x'from os import sep\n";
        let err = check(broken).unwrap_err();
        assert_eq!((err.line, err.column), (2, 11));
        let old = "import os\nNAME = 'x'\nfrom os import sep\n";
        assert_eq!(check(old), Ok(()));
        assert!(check_change(old, broken).is_err());
        let tree = crate::parse::parse(broken).unwrap();
        assert_eq!(crate::parse::error_offset(&tree), Some(20));
    }

    #[test]
    fn a_block_emptied_to_a_line_without_code_is_refused() {
        // Found by the fuzzer (seed 30048): the statements of a body replaced by `\r\n`
        // (or a blank line, a comment) left the changed range in no statement, and the
        // empty block was not judged.
        let old = "import os\n\n\ndef f():\n    import json\n    assert json\n\n\ndef g():\n    return 1\n";
        for body in [
            "    \r\n",
            "    \n",
            "",
            "    # c\n",
            "    \x0c\n",
            "\r\n",
            "  \r  \n",
        ] {
            let new = old.replace("    import json\n    assert json\n", body);
            assert!(check(&new).is_err(), "{body:?}");
            assert!(check_change(old, &new).is_err(), "{body:?}");
        }
        // As the engine verifies a pass: the tree of the new text, and the range of the
        // edit that replaced the statements (from the first one's start).
        let at = old.find("import json").unwrap();
        for with in ["\r\n", "", "# c", "\x0c", "\n    \n"] {
            let new = old.replace("import json\n    assert json", with);
            let tree = parse::parse(&new).unwrap();
            let changed = at..at + with.len();
            assert!(
                check_rules(
                    Some(old),
                    &new,
                    &tree,
                    &[],
                    std::slice::from_ref(&changed),
                    std::slice::from_ref(&changed)
                )
                .is_err(),
                "{with:?}"
            );
        }
        let comment = old.replace("    import json\n", "    # c\n");
        assert_eq!(check_change(old, &comment), Ok(()));
    }

    const LOOPS: &str = "import os\n\n\ndef f(xs):\n    total = 0\n    for x in xs:\n        total += x\n        print(x)\n    print(total)\n    return total\n\n\nasync def g():\n    value = 1\n    print(value)\n\n    def h():\n        print(2)\n\n    return h\n";

    fn rule(r: Result<(), SyntaxBreak>) -> Option<String> {
        r.err().and_then(|b| b.rule)
    }

    #[test]
    fn a_changed_statement_is_judged_in_the_context_the_masked_parse_keeps() {
        // `break` in the loop, kept around the changed line: fine; after it: refused.
        let fine = LOOPS.replace("        print(x)", "        break");
        assert_eq!(check_change(LOOPS, &fine), Ok(()));
        let bad = LOOPS.replace("    print(total)", "    break");
        assert_eq!(
            rule(check_change(LOOPS, &bad)).as_deref(),
            Some("'break' outside loop")
        );
        // `await` in the async function, not in the function nested in it.
        let fine = LOOPS.replace("    print(value)", "    await value");
        assert_eq!(check_change(LOOPS, &fine), Ok(()));
        let bad = LOOPS.replace("        print(2)", "        await value");
        assert_eq!(
            rule(check_change(LOOPS, &bad)).as_deref(),
            Some("'await' outside async function")
        );
        // `nonlocal value` in h: the binding is in a part of g the change does not reach.
        let fine = LOOPS.replace("        print(2)", "        nonlocal value");
        assert_eq!(check_change(LOOPS, &fine), Ok(()));
        let bad = LOOPS.replace("        print(2)", "        nonlocal nothing");
        assert_eq!(
            rule(check_change(LOOPS, &bad)).as_deref(),
            Some("no binding for nonlocal 'nothing' found")
        );
        // `global total` after a binding the change does not reach.
        let bad = LOOPS.replace("    print(total)", "    global total");
        assert_eq!(
            rule(check_change(LOOPS, &bad)).as_deref(),
            Some("name 'total' is assigned to before global declaration")
        );
        // A yield makes g an async generator, whose `return h` has a value.
        let bad = LOOPS.replace("    print(value)", "    yield value");
        assert_eq!(
            rule(check_change(LOOPS, &bad)).as_deref(),
            Some("'return' with value in async generator")
        );
        // The file's own fault, untouched, is not held against a change.
        let old = LOOPS.replace("    print(total)", "    print(*total)\n    x = *total");
        let new = old.replace("        print(x)", "        print(x + 1)");
        assert_eq!(check_change(&old, &new), Ok(()));
    }
}
