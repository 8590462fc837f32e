//! YAML text → a tree of [`Node`]s that remember where they stand in the file.
//!
//! serde-saphyr does the YAML parsing (duplicate keys rejected, exact positions); this module
//! only keeps its `Spanned` locations on every node, so that later stages can report any
//! problem at its line and column and read every problem of a file, not just the first.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diagnostic::Diagnostic;

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
    fn from_saphyr(loc: &serde_saphyr::Location) -> Loc {
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
        Loc {
            line: self.line,
            col: self.col + skip as u32 + prefix.chars().count() as u32,
            offset: self.offset + skip + byte_index,
            len,
        }
    }
}

/// A YAML value with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: NodeKind,
    /// Where it is.
    pub loc: Loc,
}

/// The YAML value kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What kind of value this is, for messages ("a string", "a mapping", ...).
    pub fn describe(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a sequence",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value under the string key `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// Every string in this subtree, with its location, in file order.
    pub fn strings(&self) -> Vec<(&str, Loc)> {
        let mut out = Vec::new();
        self.collect_strings(&mut out);
        out
    }

    fn collect_strings<'a>(&'a self, out: &mut Vec<(&'a str, Loc)>) {
        match &self.kind {
            NodeKind::Str(s) => out.push((s, self.loc)),
            NodeKind::Seq(items) => items.iter().for_each(|n| n.collect_strings(out)),
            NodeKind::Map(entries) => entries.iter().for_each(|(_, v)| v.collect_strings(out)),
            _ => {}
        }
    }
}

struct Raw(NodeKind);

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw(NodeKind::Null))
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw(NodeKind::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw(NodeKind::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw(NodeKind::Int(v)))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Raw, E> {
        i64::try_from(v)
            .map(|v| Raw(NodeKind::Int(v)))
            .map_err(|_| E::custom("integer is too large"))
    }
    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Raw, E> {
        i64::try_from(v)
            .map(|v| Raw(NodeKind::Int(v)))
            .map_err(|_| E::custom("integer is too large"))
    }
    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Raw, E> {
        i64::try_from(v)
            .map(|v| Raw(NodeKind::Int(v)))
            .map_err(|_| E::custom("integer is too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw(NodeKind::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw(NodeKind::Str(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw(NodeKind::Str(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(node(item));
        }
        Ok(Raw(NodeKind::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<Spanned<Raw>, Spanned<Raw>>()? {
            entries.push((node(k), node(v)));
        }
        Ok(Raw(NodeKind::Map(entries)))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

fn node(spanned: Spanned<Raw>) -> Node {
    Node {
        kind: spanned.value.0,
        loc: Loc::from_saphyr(&spanned.referenced),
    }
}

/// Parses YAML text into a located tree. Syntax errors, duplicate keys and YAML features
/// the catalog format does not use come back as one located diagnostic.
// A syntax error is returned once per file, so its size does not matter.
#[allow(clippy::result_large_err)]
pub fn parse(source: &str) -> Result<Node, Diagnostic> {
    if source.trim().is_empty() {
        return Ok(Node {
            kind: NodeKind::Map(Vec::new()),
            loc: Loc {
                line: 1,
                col: 1,
                offset: 0,
                len: 0,
            },
        });
    }
    serde_saphyr::from_str::<Spanned<Raw>>(source)
        .map(node)
        .map_err(|e| {
            let loc = e.location().map_or(
                Loc {
                    line: 1,
                    col: 1,
                    offset: 0,
                    len: 0,
                },
                |l| {
                    // An error's span may count characters rather than bytes: derive the byte offset
                    // from the line and column, which are exact.
                    let line = u32::try_from(l.line()).unwrap_or(u32::MAX).max(1);
                    let col = u32::try_from(l.column()).unwrap_or(u32::MAX).max(1);
                    Loc {
                        line,
                        col,
                        offset: byte_offset(source, line, col),
                        len: 1,
                    }
                },
            );
            Diagnostic::new(
                crate::rules::Rule::YamlSyntax,
                loc,
                format!("invalid YAML: {}", yaml_message(&e)),
            )
        })
}

/// The `invalid-utf8` error for bytes that are not UTF-8: at the first invalid sequence,
/// naming its byte offset, line and column.
pub fn utf8_error(bytes: &[u8]) -> Diagnostic {
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    };
    // The prefix is valid UTF-8 by construction.
    let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
    let line = prefix.matches('\n').count() + 1;
    let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Diagnostic::new(
        crate::rules::Rule::InvalidUtf8,
        Loc {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
            offset: valid,
            len: 1,
        },
        format!(
            "the catalog is not UTF-8: an invalid byte sequence starts at byte {valid} (line {line}, column {col})"
        ),
    )
    .with_help("save the file as UTF-8")
}

/// The byte offset of 1-based `line` and `col` (in characters), counting line breaks as YAML
/// does (`\n`, `\r\n` or a lone `\r`); clamped to the end of the line and of the text.
pub fn byte_offset(source: &str, line: u32, col: u32) -> usize {
    let mut current = 1;
    let mut chars = source.char_indices().peekable();
    while current < line {
        match chars.next() {
            None => return source.len(),
            Some((_, '\n')) => current += 1,
            Some((_, '\r')) => {
                if chars.peek().is_some_and(|(_, c)| *c == '\n') {
                    chars.next();
                }
                current += 1;
            }
            Some(_) => {}
        }
    }
    let mut offset = chars.peek().map_or(source.len(), |(i, _)| *i);
    for _ in 1..col {
        match chars.next() {
            Some((_, '\n' | '\r')) | None => break,
            Some((i, c)) => offset = i + c.len_utf8(),
        }
    }
    offset
}

/// serde-saphyr's message without its own location prefix and snippet (we render ours).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "line 2 column 1: duplicate mapping key: a, set DuplicateKeyPolicy in Options if acceptable"
    let msg = match first.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest,
        _ => first,
    };
    msg.split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(msg)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_locations() {
        let n = parse("a:\n    b: 'x y'\n    c: [1, true]\n").unwrap();
        let b = n.get("a").unwrap().get("b").unwrap();
        assert_eq!(b.kind, NodeKind::Str("x y".into()));
        assert_eq!((b.loc.line, b.loc.col), (2, 8));
        let inner = b.loc.inner("a:\n    b: 'x y'\n", "x y", 2, 1);
        assert_eq!((inner.line, inner.col), (2, 11));
    }

    #[test]
    fn duplicate_keys_are_located_errors() {
        let d = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!((d.loc.line, d.loc.col), (2, 1));
        assert_eq!(d.message, "invalid YAML: duplicate mapping key: a");
    }

    #[test]
    fn syntax_errors_are_located() {
        let d = parse("a: [\n").unwrap_err();
        assert_eq!(d.loc.line, 1);
        assert!(d.message.starts_with("invalid YAML: "), "{}", d.message);
    }
}
