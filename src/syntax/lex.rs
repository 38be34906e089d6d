//! The tokens of a `.sem` text, comments included: what the formatter lays out and the
//! editor reads around the cursor. The grammar (`grammar/sem.pest`) stays the one parser;
//! this lexer only has to cut the text where the grammar does, which the formatter
//! checks on every file it writes (the tokens out equal the tokens in).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `# …` to the end of the line (`## …` is a doc comment).
    Comment,
    /// `"…"` with its escapes.
    Str,
    /// A name or keyword, plain or `` `quoted` ``.
    Word,
    Number,
    /// An operator or a bracket: `==`, `<>`, `||`, `->`, `...`, `{`, `.`, …
    Punct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a str,
    /// Byte offset of the token's first byte.
    pub start: usize,
    /// Line breaks between the previous token (or the start of the text) and this one.
    pub newlines_before: usize,
}

impl Token<'_> {
    pub fn end(&self) -> usize {
        self.start + self.text.len()
    }
    pub fn is(&self, text: &str) -> bool {
        self.text == text && self.kind != TokenKind::Str && self.kind != TokenKind::Comment
    }
}

const MULTI_PUNCT: [&str; 8] = ["...", "==", "!=", "<>", "<=", ">=", "||", "->"];

/// Every token of `text`, in order. Never fails: a character the language does not use is a
/// one-character `Punct`, an unclosed string or quoted name runs to the end of its line.
pub fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = vec![];
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut newlines = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            newlines += usize::from(c == '\n');
            i += c.len_utf8();
            continue;
        }
        let start = i;
        let kind = match c {
            '#' => {
                // the comment ends at its last visible character: whitespace after it (a
                // CRLF file's `\r` among it) is layout, as anywhere else
                i += text[i..line_end(text, i)].trim_end().len();
                TokenKind::Comment
            }
            '"' => {
                i += 1;
                while i < text.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' && i + 1 < text.len() && bytes[i + 1] != b'\n' {
                        1 + char_len(text, i + 1)
                    } else {
                        char_len(text, i)
                    };
                }
                if i < text.len() && bytes[i] == b'"' {
                    i += 1;
                }
                TokenKind::Str
            }
            '`' => {
                i += 1;
                while i < text.len() && bytes[i] != b'`' && bytes[i] != b'\n' {
                    i += char_len(text, i);
                }
                if i < text.len() && bytes[i] == b'`' {
                    i += 1;
                }
                TokenKind::Word
            }
            c if c.is_ascii_digit() => {
                i = digits(text, i);
                // `1.5`, `1.5e-3`; `1.` followed by a name is not a number's fraction
                if text[i..].starts_with('.') && text[i + 1..].starts_with(|d: char| d.is_ascii_digit()) {
                    i = digits(text, i + 1);
                    let rest = &text[i..];
                    if rest.starts_with(['e', 'E']) {
                        let sign = usize::from(rest[1..].starts_with(['+', '-']));
                        if rest[1 + sign..].starts_with(|d: char| d.is_ascii_digit()) {
                            i = digits(text, i + 1 + sign);
                        }
                    }
                }
                TokenKind::Number
            }
            c if c == '_' || unicode_ident::is_xid_start(c) => {
                i += c.len_utf8();
                while let Some(n) = text[i..].chars().next().filter(|n| unicode_ident::is_xid_continue(*n)) {
                    i += n.len_utf8();
                }
                TokenKind::Word
            }
            _ => {
                i += MULTI_PUNCT
                    .iter()
                    .find(|p| text[i..].starts_with(*p))
                    .map_or(c.len_utf8(), |p| p.len());
                TokenKind::Punct
            }
        };
        out.push(Token {
            kind,
            text: &text[start..i],
            start,
            newlines_before: std::mem::take(&mut newlines),
        });
    }
    out
}

fn char_len(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(1, char::len_utf8)
}

fn digits(text: &str, i: usize) -> usize {
    i + text[i..].bytes().take_while(u8::is_ascii_digit).count()
}

fn line_end(text: &str, i: usize) -> usize {
    text[i..].find('\n').map_or(text.len(), |n| i + n)
}

/// The `## …` doc comment lines right above the line holding `offset` (no blank line
/// between), without their `##` and one following space; None when there are none.
pub fn doc_above(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |n| n + 1);
    let mut lines = vec![];
    let mut end = line_start;
    while end > 0 {
        let prev_start = text[..end - 1].rfind('\n').map_or(0, |n| n + 1);
        let line = text[prev_start..end - 1].trim();
        let Some(doc) = line.strip_prefix("##") else { break };
        lines.push(doc.strip_prefix(' ').unwrap_or(doc).trim_end().to_string());
        end = prev_start;
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<&str> {
        tokens(s).iter().map(|t| t.text).collect()
    }

    #[test]
    fn cuts_where_the_grammar_does() {
        assert_eq!(
            texts("a.b==1.5e3 # c\n\"x\\\"y\" `q n` <> ... 1.x"),
            [
                "a",
                ".",
                "b",
                "==",
                "1.5e3",
                "# c",
                "\"x\\\"y\"",
                "`q n`",
                "<>",
                "...",
                "1",
                ".",
                "x"
            ]
        );
        assert_eq!(tokens("a\n\n b")[1].newlines_before, 2);
    }

    #[test]
    fn doc_lines_above_a_declaration() {
        let t = "# plain\n## first\n##second\n  x: int64";
        assert_eq!(doc_above(t, t.find('x').unwrap()).as_deref(), Some("first\nsecond"));
        assert_eq!(doc_above("## a\n\nx", 6), None);
    }
}
