//! A position in a catalog's text: what every node and diagnostic carries.

/// A position in the source: 1-based line and column (in characters), and the byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
    /// Byte offset of the start.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Loc {
    /// The position serde-saphyr reports for a node.
    pub(crate) fn from_saphyr(loc: &serde_saphyr::Location) -> Loc {
        let span = loc.span();
        let (offset, len) = match (span.byte_offset(), span.byte_len()) {
            (Some(o), Some(l)) => (o, l),
            _ => (span.offset(), span.len()),
        };
        Loc {
            line: u32::try_from(loc.line()).unwrap_or(u32::MAX),
            col: u32::try_from(loc.column()).unwrap_or(u32::MAX),
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
            len: usize::try_from(len).unwrap_or(0),
        }
    }

    /// The position `byte_index` bytes into the string `value` that this node holds, when
    /// the source spells the string on one line (plain or quoted without escapes before
    /// that point); else the node's own position.
    pub fn inner(&self, source: &str, value: &str, byte_index: usize, len: usize) -> Loc {
        let Some(prefix) = value.get(..byte_index) else {
            return *self;
        };
        let Some(raw) = source.get(self.offset..) else {
            return *self;
        };
        if prefix.contains('\n') {
            return *self;
        }
        // A plain scalar cannot start with a quote, so a leading quote is the quoting.
        let skip = usize::from(raw.starts_with(['\'', '"']));
        if !raw[skip..].starts_with(prefix) {
            return *self;
        }
        let chars = u32::try_from(skip + prefix.chars().count()).unwrap_or(u32::MAX);
        Loc {
            line: self.line,
            col: self.col.saturating_add(chars),
            offset: self.offset.saturating_add(skip).saturating_add(byte_index),
            len,
        }
    }
}
