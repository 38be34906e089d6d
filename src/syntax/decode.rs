//! Guards before the grammar: bytes that are not UTF-8, NUL bytes, oversize files, nesting too deep.

use super::*;

use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::{FileId, Span};

/// Decodes raw bytes: invalid UTF-8, NUL bytes and oversize files are diagnostics.
/// Returns the text to show (lossy) and whether it may be parsed. A UTF-8 byte order mark
/// (which some editors write first) is not part of the text.
pub fn decode(file: FileId, bytes: &[u8]) -> (String, Option<Diagnostic>) {
    let bytes = bytes.strip_prefix(BYTE_ORDER_MARK.as_bytes()).unwrap_or(bytes);
    if bytes.len() > MAX_FILE_BYTES {
        let text = String::from_utf8_lossy(&bytes[..1024.min(bytes.len())]).into_owned();
        let d = Diagnostic::error(
            Code::E0007,
            Span::new(file, 0, 0),
            format!("file is {} bytes; the limit is {MAX_FILE_BYTES}", bytes.len()),
        )
        .label("this file")
        .help("split the workspace into several files with `import`");
        return (text, Some(d));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            if let Some(p) = s.find('\0') {
                let d = Diagnostic::error(Code::E0006, Span::new(file, p, p + 1), "file contains a NUL byte")
                    .label("NUL byte here")
                    .help("`.sem` files are text; remove the byte or check that this is the right file");
                return (s.to_string(), Some(d));
            }
            (s.to_string(), None)
        }
        Err(e) => {
            let at = e.valid_up_to();
            let text = String::from_utf8_lossy(bytes).into_owned();
            // the replacement character is 3 bytes long in the lossy text
            let d = Diagnostic::error(
                Code::E0002,
                Span::new(file, at, at + 3),
                format!("invalid UTF-8 at byte {at}"),
            )
            .label("not UTF-8")
            .help("save the file as UTF-8");
            (text, Some(d))
        }
    }
}

/// The byte order mark, U+FEFF, as the first character of a file.
pub(crate) const BYTE_ORDER_MARK: &str = "\u{feff}";

/// Rejects nesting deeper than [`MAX_DEPTH`] before the recursive-descent grammar sees it.
pub(crate) fn check_depth(file: FileId, text: &str) -> Option<Diagnostic> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut prefix_run = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'`' => {
                i += 1;
                while i < b.len() && b[i] != c && b[i] != b'\n' {
                    if b[i] == b'\\' && c == b'"' {
                        i += 1;
                    }
                    i += 1;
                }
                prefix_run = 0;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(too_deep(file, i, i + 1));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' => {
                prefix_run += 1;
                if prefix_run > MAX_DEPTH {
                    return Some(too_deep(file, i, i + 1));
                }
            }
            b'n' if b[i..].starts_with(b"not")
                && (i == 0 || !is_ident_byte(b[i - 1]))
                && !b.get(i + 3).is_some_and(|x| is_ident_byte(*x)) =>
            {
                prefix_run += 1;
                if prefix_run > MAX_DEPTH {
                    return Some(too_deep(file, i, i + 3));
                }
                i += 3;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => prefix_run = 0,
        }
        i += 1;
    }
    None
}

pub(crate) fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

pub(crate) fn too_deep(file: FileId, start: usize, end: usize) -> Diagnostic {
    Diagnostic::error(
        Code::E0003,
        Span::new(file, start, end),
        format!("nesting deeper than {MAX_DEPTH} levels"),
    )
    .label("too deep here")
    .help("split the expression into named parts with `derive`")
}
