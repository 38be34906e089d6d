//! Files and byte spans.

use std::path::PathBuf;

/// Index of a file in [`SourceMap`]. File 0 is the standard library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }
    pub fn to(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }
    pub fn is_empty(self) -> bool {
        self.end == self.start
    }
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path the file was read from (for imports and Delta paths).
    pub path: PathBuf,
    /// The name shown in diagnostics.
    pub name: String,
    /// The text; invalid UTF-8 was replaced (and reported).
    pub text: String,
    /// Where lines start, built on first use: positions of thousands of diagnostics in a
    /// file of megabytes cost a search each, not a scan of the file.
    index: std::sync::OnceLock<LineIndex>,
}

/// Line starts and character counts of a file's text.
#[derive(Debug, Clone)]
struct LineIndex {
    /// Byte offset of each line's first byte.
    line_starts: Vec<usize>,
    /// Every `CHECKPOINT` bytes (at a char boundary at or after it): (byte offset, chars
    /// before it), so counting the chars before any offset reads at most a few KiB.
    checkpoints: Vec<(usize, usize)>,
}

const CHECKPOINT: usize = 4096;

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let mut checkpoints = vec![(0, 0)];
        let (mut chars, mut next) = (0, CHECKPOINT);
        for (i, _) in text.char_indices() {
            if i >= next {
                checkpoints.push((i, chars));
                next = i + CHECKPOINT;
            }
            chars += 1;
        }
        LineIndex {
            line_starts,
            checkpoints,
        }
    }

    /// Characters before byte `offset` (a char boundary).
    fn chars_before(&self, text: &str, offset: usize) -> usize {
        let k = self.checkpoints.partition_point(|(b, _)| *b <= offset) - 1;
        let (b, c) = self.checkpoints[k];
        c + text.get(b..offset).map(|t| t.chars().count()).unwrap_or(0)
    }
}

impl SourceFile {
    fn index(&self) -> &LineIndex {
        self.index.get_or_init(|| LineIndex::new(&self.text))
    }

    /// The length in bytes of the line that holds byte `offset`.
    pub fn line_len(&self, offset: usize) -> usize {
        let ix = self.index();
        let line = ix.line_starts.partition_point(|s| *s <= offset).max(1) - 1;
        let end = ix.line_starts.get(line + 1).map(|e| e - 1).unwrap_or(self.text.len());
        end.saturating_sub(ix.line_starts[line])
    }
}

#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    pub files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, name: String, text: String) -> FileId {
        self.files.push(SourceFile {
            path,
            name,
            text,
            index: Default::default(),
        });
        FileId((self.files.len() - 1) as u32)
    }
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }
    pub fn text(&self, span: Span) -> &str {
        let t = &self.get(span.file).text;
        t.get(span.start as usize..span.end as usize).unwrap_or("")
    }
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, file: FileId, offset: usize) -> (usize, usize) {
        let f = self.get(file);
        let mut offset = offset.min(f.text.len());
        while !f.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let ix = f.index();
        let line = ix.line_starts.partition_point(|s| *s <= offset);
        let line_start = ix.line_starts[line - 1];
        let col = ix.chars_before(&f.text, offset) - ix.chars_before(&f.text, line_start) + 1;
        (line, col)
    }
}
