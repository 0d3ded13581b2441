//! Partial parsing: tree-sitter parses the parts of a file an action looks at, not the
//! rest.
//!
//! Most of a run's time goes to parsing the files that pass a recipe's prefilter, and an
//! action often needs only a few functions of such a file: hoist-imports looks at the
//! functions that contain a local import and at module-level code, never at the body of
//! another function. An action says which places it looks at (its *focus*, byte
//! offsets); [`mask`] then makes a copy of the file in which the body of every `def` and
//! `class` that contains none of those places is blanked: its bytes become spaces (line
//! breaks stay) and a `0` stands where its first statement began. The copy has the
//! file's length, lines and byte offsets, so its tree serves the real text: node ranges,
//! positions and edits mean the same in both. A class that contains a focus is not
//! blanked but its other methods are; a function that contains one is kept whole
//! (nested functions, `nonlocal`, everything).
//!
//! The scan that finds the bodies follows Python's logical lines: strings (triple-quoted,
//! prefixed, f-strings with nested quotes), comments, brackets and backslash
//! continuations. When it meets anything it does not follow (tabs in indentation, a form
//! feed, a lone carriage return, an unterminated string, unbalanced brackets), it gives
//! up and the engine parses the whole file; the engine also parses the whole file when
//! the copy's tree has an error, or when an edit would touch a blanked body.

use std::ops::Range;

/// A file with the bodies its actions do not look at blanked out.
#[derive(Debug, Clone)]
pub struct Masked {
    /// Same length, lines and offsets as the file.
    pub text: String,
    /// The blanked bodies, in order.
    pub regions: Vec<Range<usize>>,
}

impl Masked {
    /// Does any of `edits` (offsets in the file) touch a blanked body? Such an edit
    /// needs the whole tree.
    pub fn touches(&self, edits: &[crate::edit::Edit]) -> bool {
        edits.iter().any(|e| {
            let r = &e.range;
            self.regions.iter().any(|m| {
                if r.is_empty() {
                    m.start < r.start && r.start < m.end
                } else {
                    r.start < m.end && m.start < r.end
                }
            })
        })
    }

    /// What tree-sitter is to read of the copy: everything but the blanked bodies, of
    /// which it reads the `0` only.
    pub fn included_ranges(&self) -> Vec<tree_sitter::Range> {
        let b = self.text.as_bytes();
        let mut out = Vec::with_capacity(self.regions.len() + 1);
        let mut row = 0;
        let mut counted = 0;
        let mut point = |at: usize| {
            row += memchr::memchr_iter(b'\n', &b[counted..at]).count();
            counted = at;
            let line_start = memchr::memrchr(b'\n', &b[..at]).map_or(0, |i| i + 1);
            tree_sitter::Point {
                row,
                column: at - line_start,
            }
        };
        let mut from = (0, point(0));
        for r in self.regions.iter().filter(|r| r.len() > 1) {
            let to = r.start + 1;
            out.push(tree_sitter::Range {
                start_byte: from.0,
                end_byte: to,
                start_point: from.1,
                end_point: point(to),
            });
            from = (r.end, point(r.end));
        }
        out.push(tree_sitter::Range {
            start_byte: from.0,
            end_byte: u32::MAX as usize,
            start_point: from.1,
            end_point: tree_sitter::Point {
                row: u32::MAX as usize,
                column: u32::MAX as usize,
            },
        });
        out
    }

    /// The copy after `edits` (sorted, non-overlapping, none touching a blanked body)
    /// are applied to it and to the file alike.
    pub fn apply(&self, edits: &[crate::edit::Edit]) -> Masked {
        let text = crate::edit::apply(&self.text, edits);
        let regions = self
            .regions
            .iter()
            .map(|m| {
                let shift = |at: usize| -> usize {
                    let mut out = at as isize;
                    for e in edits.iter().filter(|e| e.range.end <= m.start) {
                        out += e.content.len() as isize - e.range.len() as isize;
                    }
                    out.max(0) as usize
                };
                shift(m.start)..shift(m.end)
            })
            .collect();
        Masked { text, regions }
    }
}

/// Blanks the body of every `def`/`class` of `text` that contains no offset of `focus`
/// (sorted). `None` when nothing would be blanked or the scan gives up.
pub fn mask(text: &str, focus: &[usize]) -> Option<Masked> {
    let lines = logical_lines(text.as_bytes())?;
    let mut regions = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if line.kind == Kind::Other || !line.opens_block {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < lines.len() && lines[j].indent > line.indent {
            j += 1;
        }
        if j == i + 1 {
            // A block header without an indented body: not valid Python.
            return None;
        }
        let body = lines[i + 1].start..lines[j - 1].end;
        let first = focus.partition_point(|&f| f < body.start);
        let focused = focus.get(first).is_some_and(|&f| f < body.end);
        if !focused {
            regions.push(body);
            i = j;
        } else if line.kind == Kind::Def {
            i = j;
        } else {
            i += 1;
        }
    }
    if regions.is_empty() {
        return None;
    }
    // The parser reads only the `0` of a body (see [`Masked::included_ranges`]); the
    // rest of the first character becomes spaces so that the copy stays UTF-8.
    let mut bytes = text.as_bytes().to_vec();
    for r in &regions {
        let first = text[r.start..].chars().next().map_or(1, char::len_utf8);
        bytes[r.start] = b'0';
        for b in &mut bytes[r.start + 1..r.start + first] {
            *b = b' ';
        }
    }
    let text = String::from_utf8(bytes).ok()?;
    Some(Masked { text, regions })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Def,
    Class,
    Other,
}

/// One logical line: from its first token to the line break that ends it.
#[derive(Debug)]
struct Line {
    start: usize,
    end: usize,
    indent: usize,
    kind: Kind,
    /// Ends with `:`: a compound statement whose body is on the following lines.
    opens_block: bool,
}

/// How deep f-strings may nest before the scan gives up.
const MAX_NESTING: usize = 32;

fn logical_lines(b: &[u8]) -> Option<Vec<Line>> {
    let n = b.len();
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        // The start of a physical line outside any logical line: indentation first.
        let mut indent = 0;
        while i < n && b[i] == b' ' {
            i += 1;
            indent += 1;
        }
        match b.get(i) {
            None => break,
            Some(b'\n') => {
                i += 1;
                continue;
            }
            Some(b'\r') if b.get(i + 1) == Some(&b'\n') => {
                i += 2;
                continue;
            }
            Some(b'#') => {
                i = memchr::memchr(b'\n', &b[i..]).map_or(n, |k| i + k + 1);
                continue;
            }
            Some(b'\t' | b'\x0c' | b'\r' | b'\\') => return None,
            Some(_) => {}
        }
        let start = i;
        let mut depth = 0usize;
        let mut last = 0u8;
        let end = loop {
            let Some(&c) = b.get(i) else {
                if depth != 0 {
                    return None;
                }
                break n;
            };
            match c {
                b'\n' if depth == 0 => {
                    let end = i;
                    i += 1;
                    break end;
                }
                b'\r' if b.get(i + 1) != Some(&b'\n') => return None,
                b'#' => i = memchr::memchr(b'\n', &b[i..]).map_or(n, |k| i + k),
                b'\\' => match b.get(i + 1) {
                    Some(b'\n') => i += 2,
                    Some(b'\r') if b.get(i + 2) == Some(&b'\n') => i += 3,
                    _ => {
                        last = c;
                        i += 1;
                    }
                },
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    last = c;
                    i += 1;
                }
                b')' | b']' | b'}' => {
                    depth = depth.checked_sub(1)?;
                    last = c;
                    i += 1;
                }
                b'"' | b'\'' => {
                    i = skip_string(b, i, 0)?;
                    last = c;
                }
                b' ' | b'\t' | b'\x0c' | b'\r' | b'\n' => i += 1,
                _ => {
                    last = c;
                    i += 1;
                }
            }
        };
        let head = &b[start..end];
        let kind = if starts_with_word(head, b"def") {
            Kind::Def
        } else if starts_with_word(head, b"class") {
            Kind::Class
        } else if starts_with_word(head, b"async")
            && starts_with_word(head[5..].trim_ascii_start(), b"def")
        {
            Kind::Def
        } else {
            Kind::Other
        };
        lines.push(Line {
            start,
            end,
            indent,
            kind,
            opens_block: last == b':',
        });
    }
    Some(lines)
}

fn starts_with_word(s: &[u8], word: &[u8]) -> bool {
    s.starts_with(word)
        && s.get(word.len())
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
}

/// Is the string whose quote is at `q` an f-string (or a t-string)? Its prefix says.
fn is_formatted(b: &[u8], q: usize) -> bool {
    let mut k = q;
    while k > 0 && q - k < 2 && b[k - 1].is_ascii_alphabetic() {
        k -= 1;
    }
    let prefix = &b[k..q];
    let before_is_ident =
        k > 0 && (b[k - 1].is_ascii_alphanumeric() || b[k - 1] == b'_' || b[k - 1] >= 0x80);
    !before_is_ident
        && prefix.iter().all(|c| b"rRbBuUfFtT".contains(c))
        && prefix.iter().any(|c| b"fFtT".contains(c))
}

/// The offset just past the string whose opening quote is at `q`.
fn skip_string(b: &[u8], q: usize, nesting: usize) -> Option<usize> {
    if nesting > MAX_NESTING {
        return None;
    }
    let quote = b[q];
    let triple = b.get(q + 1) == Some(&quote) && b.get(q + 2) == Some(&quote);
    let formatted = is_formatted(b, q);
    let mut j = q + if triple { 3 } else { 1 };
    loop {
        let c = *b.get(j)?;
        match c {
            // Escapes the next character, in raw strings too (as far as ending goes).
            b'\\' => {
                j += if b.get(j + 1) == Some(&b'\r') && b.get(j + 2) == Some(&b'\n') {
                    3
                } else {
                    2
                };
            }
            _ if c == quote => {
                if !triple {
                    return Some(j + 1);
                }
                if b.get(j + 1) == Some(&quote) && b.get(j + 2) == Some(&quote) {
                    return Some(j + 3);
                }
                j += 1;
            }
            b'\n' | b'\r' if !triple => return None,
            b'{' if formatted => {
                if b.get(j + 1) == Some(&b'{') {
                    j += 2;
                } else {
                    j = skip_replacement(b, j + 1, nesting + 1)?;
                }
            }
            _ => j += 1,
        }
    }
}

/// The offset just past the `}` closing an f-string replacement field whose expression
/// starts at `j`.
fn skip_replacement(b: &[u8], mut j: usize, nesting: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        let c = *b.get(j)?;
        match c {
            b'{' | b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.checked_sub(1)?,
            b'}' => {
                if depth == 0 {
                    return Some(j + 1);
                }
                depth -= 1;
            }
            b'"' | b'\'' => {
                j = skip_string(b, j, nesting)?;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blanked(text: &str, focus_on: &[&str]) -> Option<String> {
        let focus: Vec<usize> = focus_on
            .iter()
            .map(|s| text.find(s).expect("focus text"))
            .collect();
        let mut focus = focus;
        focus.sort_unstable();
        mask(text, &focus).map(|m| {
            assert_eq!(m.text.len(), text.len());
            let tree = crate::parse::parse_masked(&m).unwrap();
            assert!(
                !tree.root_node().has_error(),
                "{}",
                tree.root_node().to_sexp()
            );
            seen(&m)
        })
    }

    /// The copy as the parser sees it: blanked bodies as spaces.
    fn seen(m: &Masked) -> String {
        let mut bytes = m.text.clone().into_bytes();
        for r in &m.regions {
            for b in &mut bytes[r.start + 1..r.end] {
                if *b != b'\n' && *b != b'\r' {
                    *b = b' ';
                }
            }
        }
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn blanks_bodies_without_focus() {
        let text = "import os\n\ndef f(x):\n    \"\"\"Doc.\"\"\"\n    return x\n\ndef g():\n    import json\n    return json\n";
        let out = blanked(text, &["import json"]).unwrap();
        assert_eq!(
            out,
            "import os\n\ndef f(x):\n    0         \n            \n\ndef g():\n    import json\n    return json\n"
        );
    }

    #[test]
    fn a_class_with_a_focus_keeps_its_header_and_blanks_other_methods() {
        let text = "class T:\n    x = 1\n\n    def a(self):\n        return 1\n\n    def b(self):\n        import os\n";
        let out = blanked(text, &["import os"]).unwrap();
        assert!(out.contains("    x = 1\n"));
        assert!(out.contains("    def a(self):\n        0       \n"));
        assert!(out.contains("        import os\n"));
    }

    #[test]
    fn follows_strings_brackets_and_continuations() {
        let text = concat!(
            "def f():\n",
            "    s = '''\n",
            "def not_a_function():\n",
            "    pass\n",
            "'''\n",
            "    t = f\"{d[\"k\"]} {x:{w}} {{\"\n",
            "    u = (1,\n",
            "2)\n",
            "    v = 1 + \\\n",
            "2\n",
            "    # comment at depth\n",
            "# comment at column 0\n",
            "    return s\n",
            "x = 1\n",
        );
        let out = blanked(text, &[]).unwrap();
        assert!(out.starts_with("def f():\n    0"));
        assert!(out.ends_with("\n            \nx = 1\n"));
        assert!(!out.contains("comment"));
        assert!(!out.contains("not_a_function"));
    }

    #[test]
    fn gives_up_on_what_it_does_not_follow() {
        assert!(blanked("def f():\n\treturn 1\n", &[]).is_none());
        assert!(blanked("def f():\n    return '\n", &[]).is_none());
        assert!(blanked("def f():\n    return (1\n", &[]).is_none());
        assert!(blanked("def f():\n    return '''x\n", &[]).is_none());
        assert!(blanked("def f():\n    pass\n", &["pass"]).is_none());
    }

    #[test]
    fn one_line_bodies_and_async_defs() {
        let text = "def f(): return 1\nasync def g():\n    await x\n";
        let out = blanked(text, &[]).unwrap();
        assert_eq!(out, "def f(): return 1\nasync def g():\n    0      \n");
    }

    #[test]
    fn crlf_keeps_line_breaks() {
        let text = "def f():\r\n    return 1\r\n\r\nx = 2\r\n";
        let out = blanked(text, &[]).unwrap();
        assert_eq!(out, "def f():\r\n    0       \r\n\r\nx = 2\r\n");
    }
}
