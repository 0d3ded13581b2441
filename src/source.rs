//! Reading a Python file into text and writing text back in the file's own encoding.
//!
//! Untouched bytes must stay byte-identical, so the decoded text keeps CRLF and tabs as
//! they are; only a UTF-8 BOM is set aside (and restored on encode), and a file in a
//! PEP 263 encoding other than UTF-8 is re-encoded with that same encoding.

use std::borrow::Cow;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How the bytes of a file map to its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    Utf8 {
        bom: bool,
    },
    /// ISO-8859-1 exactly: every byte is the code point of the same value.
    Latin1,
    /// Any other encoding named by a coding cookie and known to the Encoding Standard.
    Other(&'static encoding_rs::Encoding),
}

/// A decoded source file.
#[derive(Debug, Clone)]
pub struct Source {
    pub text: String,
    pub encoding: Encoding,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("not valid UTF-8 and no PEP 263 coding cookie names its encoding")]
    NotUtf8,
    #[error("unknown encoding `{0}` in its coding cookie")]
    UnknownEncoding(String),
    #[error("not valid `{0}`, the encoding its coding cookie names")]
    Invalid(String),
}

impl Source {
    /// Decodes a file's bytes; UTF-8 (the common case) takes them over without a copy.
    pub fn decode(bytes: impl Into<Vec<u8>>) -> Result<Source, DecodeError> {
        let mut bytes: Vec<u8> = bytes.into();
        if bytes.starts_with(BOM) {
            bytes.drain(..BOM.len());
            let text = String::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)?;
            return Ok(Source {
                text,
                encoding: Encoding::Utf8 { bom: true },
            });
        }
        let cookie = coding_cookie(&bytes);
        match cookie.as_deref().map(normalize_encoding_name) {
            None | Some(Cow::Borrowed("utf-8")) => match String::from_utf8(bytes) {
                Ok(text) => Ok(Source {
                    text,
                    encoding: Encoding::Utf8 { bom: false },
                }),
                Err(_) => match cookie {
                    Some(name) => Err(DecodeError::Invalid(name)),
                    None => Err(DecodeError::NotUtf8),
                },
            },
            Some(Cow::Borrowed("latin-1")) => Ok(Source {
                text: bytes.iter().map(|&b| char::from(b)).collect(),
                encoding: Encoding::Latin1,
            }),
            Some(name) => {
                let enc = encoding_rs::Encoding::for_label(name.as_bytes())
                    .ok_or_else(|| DecodeError::UnknownEncoding(name.to_string()))?;
                let (text, had_errors) = enc.decode_without_bom_handling(&bytes);
                if had_errors {
                    return Err(DecodeError::Invalid(name.to_string()));
                }
                Ok(Source {
                    text: text.into_owned(),
                    encoding: Encoding::Other(enc),
                })
            }
        }
    }

    /// The encoding a NEW file with this text gets: the one its PEP 263 cookie names
    /// (a moved latin-1 module keeps its cookie, so it stays latin-1), else UTF-8.
    pub fn for_new_text(text: &str) -> Source {
        let encoding = match coding_cookie(text.as_bytes())
            .as_deref()
            .map(normalize_encoding_name)
            .as_deref()
        {
            None | Some("utf-8") => Encoding::Utf8 { bom: false },
            Some("latin-1") => Encoding::Latin1,
            Some(name) => encoding_rs::Encoding::for_label(name.as_bytes())
                .map_or(Encoding::Utf8 { bom: false }, Encoding::Other),
        };
        Source {
            text: String::new(),
            encoding,
        }
    }

    /// Encodes `text` the way this file was encoded; `None` if a character cannot be
    /// represented in the file's encoding.
    pub fn encode(&self, text: &str) -> Option<Vec<u8>> {
        match &self.encoding {
            Encoding::Utf8 { bom } => {
                let mut out = Vec::with_capacity(text.len() + 3);
                if *bom {
                    out.extend_from_slice(BOM);
                }
                out.extend_from_slice(text.as_bytes());
                Some(out)
            }
            Encoding::Latin1 => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect(),
            Encoding::Other(enc) => {
                let (bytes, _, had_errors) = enc.encode(text);
                (!had_errors).then(|| bytes.into_owned())
            }
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match &self.encoding {
            Encoding::Utf8 { bom: false } => "utf-8",
            Encoding::Utf8 { bom: true } => "utf-8 with BOM",
            Encoding::Latin1 => "latin-1",
            Encoding::Other(enc) => enc.name(),
        }
    }
}

/// The newline a file uses: the first line ending found, `\n` when there is none.
pub fn newline_of(text: &str) -> &'static str {
    match memchr::memchr(b'\n', text.as_bytes()) {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// The offset of the first lone `\r` (one not followed by `\n`) of `text`, if any.
///
/// For CPython a lone `\r` ends a line (old Mac newlines); for tree-sitter-python it
/// ends none inside a comment (`# c\rimport os` is all comment), and fixer's own line
/// handling (line starts, the newline it writes, [`newline_of`]) knows only `\n` and
/// `\r\n`. So what fixer reads in such a file is not always what Python runs, and a
/// rewrite of it could change code fixer did not see: such a file is never rewritten
/// (see [`LONE_CR`]).
pub fn lone_cr(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    memchr::memchr_iter(b'\r', b).find(|&i| b.get(i + 1) != Some(&b'\n'))
}

/// Why a file with a lone `\r` is left as it is (see [`lone_cr`]).
pub const LONE_CR: &str =
    "a lone \\r ends a line in it (old Mac newlines), which fixer does not rewrite; convert its newlines to \\n or \\r\\n first";

/// Why a file with a line that holds only a backslash continuation is left as it is
/// (see [`unreadable`]).
pub const LONE_BACKSLASH: &str =
    "a line in it holds only a backslash continuation, where tree-sitter-python can misread the indentation of the block (CPython does not), so fixer does not rewrite it; join the line with the next first";

/// Where and why fixer must not rewrite `text`, because what it reads there is not
/// always what Python runs: a lone `\r` (see [`lone_cr`]), or a line that holds only
/// indentation and a backslash continuation (`    \` before `    return x`): at the
/// start of a block tree-sitter-python ends the block after the next line and reads the
/// lines after it one level out, without an error (CPython joins the lines and reads
/// one block). Such a line inside a string counts too (the scan does not follow
/// strings): such a file is left as it is, never misread.
pub fn unreadable(text: &str) -> Option<(usize, &'static str)> {
    if let Some(at) = lone_cr(text) {
        return Some((at, LONE_CR));
    }
    let b = text.as_bytes();
    memchr::memchr_iter(b'\\', b)
        .find(|&i| {
            let start = memchr::memrchr(b'\n', &b[..i]).map_or(0, |j| j + 1);
            let blank_before = b[start..i]
                .iter()
                .all(|c| matches!(c, b' ' | b'\t' | b'\x0c'));
            let ends_line = matches!(b.get(i + 1), Some(b'\n'))
                || (b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n'));
            blank_before && ends_line
        })
        .map(|at| (at, LONE_BACKSLASH))
}

/// The encoding named by a PEP 263 cookie on line 1 or 2, lowercased.
fn coding_cookie(bytes: &[u8]) -> Option<String> {
    let re = cookie_regex();
    for (i, line) in bytes.split(|&b| b == b'\n').take(2).enumerate() {
        let line = String::from_utf8_lossy(line);
        let trimmed = line.trim_start();
        if !trimmed.starts_with('#') {
            // PEP 263: the cookie may be on line 2 only when line 1 is a comment or blank.
            if i == 0 && !trimmed.is_empty() {
                return None;
            }
            continue;
        }
        if let Some(c) = re.captures(&line) {
            return Some(c[1].to_ascii_lowercase());
        }
    }
    None
}

fn cookie_regex() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)").expect("valid regex")
    })
}

/// Maps the spellings CPython accepts for UTF-8 and Latin-1 to one name each.
fn normalize_encoding_name(name: &str) -> Cow<'_, str> {
    let n = name.replace('_', "-");
    if n == "utf-8" || n == "utf8" || n.starts_with("utf-8-") {
        return Cow::Borrowed("utf-8");
    }
    if matches!(
        n.as_str(),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" | "iso-latin-1"
    ) || n.starts_with("latin-1-")
        || n.starts_with("iso-8859-1-")
    {
        return Cow::Borrowed("latin-1");
    }
    Cow::Owned(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_bom_across_decode_and_encode() {
        let bytes = b"\xEF\xBB\xBFx = 1\r\n";
        let src = Source::decode(bytes).unwrap();
        assert_eq!(src.text, "x = 1\r\n");
        assert_eq!(src.encode(&src.text).unwrap(), bytes);
    }

    #[test]
    fn decodes_latin1_by_cookie_and_encodes_back() {
        let bytes = b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\n";
        let src = Source::decode(bytes).unwrap();
        assert!(src.text.contains("'été'"));
        assert_eq!(src.encode(&src.text).unwrap(), bytes);
        assert!(src.encode("x = '\u{20ac}'").is_none());
    }

    #[test]
    fn rejects_non_utf8_without_cookie() {
        assert_eq!(
            Source::decode(b"x = '\xe9'\n").unwrap_err(),
            DecodeError::NotUtf8
        );
    }

    #[test]
    fn cookie_on_second_line_after_shebang() {
        let bytes = b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\nx = '\x80'\n";
        let src = Source::decode(bytes).unwrap();
        assert!(src.text.contains('\u{20ac}'));
        assert_eq!(src.encode(&src.text).unwrap(), bytes);
    }

    #[test]
    fn finds_a_lone_cr() {
        assert_eq!(lone_cr("a\r\nb\n"), None);
        assert_eq!(lone_cr("a\rb\r\n"), Some(1));
        assert_eq!(lone_cr("a\r\nb\r"), Some(4));
        assert_eq!(lone_cr(""), None);
    }

    #[test]
    fn detects_crlf() {
        assert_eq!(newline_of("a\r\nb\n"), "\r\n");
        assert_eq!(newline_of("a\nb\r\n"), "\n");
        assert_eq!(newline_of("a"), "\n");
    }
}
