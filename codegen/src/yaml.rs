//! YAML text → a tree of [`Node`]s that remember where they stand in the file.
//!
//! serde-saphyr does the YAML parsing (duplicate keys rejected, exact positions); this module
//! only keeps its `Spanned` locations on every node, so that later stages can report any
//! problem at its line and column and read every problem of a file, not just the first.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diagnostic::Diagnostic;

pub use crate::loc::Loc;

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

/// Parses YAML text into a located tree. Syntax errors, duplicate keys, YAML features the
/// catalog format does not use and budget breaches (see [`Limits`]) come back as one located
/// diagnostic. A byte order mark at the start is skipped, as YAML allows; positions still
/// count it, so they stay byte offsets into `source`.
// A syntax error is returned once per file, so its size does not matter.
#[allow(clippy::result_large_err)]
pub fn parse(source: &str) -> Result<Node, Diagnostic> {
    parse_text(source)
}

/// [`parse`] for bytes as read from a file: invalid UTF-8 is an error located at the first
/// invalid byte (its offset, line and column), instead of a failure without a place.
#[allow(clippy::result_large_err)]
pub fn parse_bytes(bytes: &[u8]) -> Result<Node, Diagnostic> {
    match std::str::from_utf8(bytes) {
        Ok(source) => parse_text(source),
        Err(e) => Err(invalid_utf8(bytes, &e)),
    }
}

/// The located error for bytes that are not UTF-8: `e.valid_up_to()` bytes are, so the
/// position is counted in that prefix.
fn invalid_utf8(bytes: &[u8], e: &std::str::Utf8Error) -> Diagnostic {
    let at = e.valid_up_to();
    let prefix = bytes
        .get(..at)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or_default();
    let (line, col) = line_col(prefix);
    let len = e
        .error_len()
        .unwrap_or(bytes.len().saturating_sub(at))
        .max(1);
    let what = match e.error_len() {
        Some(_) => "invalid UTF-8",
        None => "incomplete UTF-8 sequence at the end of the file",
    };
    Diagnostic::new(
        crate::rules::Rule::InvalidUtf8,
        Loc {
            line,
            col,
            offset: at,
            len,
        },
        format!(
            "{what} at byte {at} (line {line}, column {col}): the catalog must be UTF-8 \
             (save it as UTF-8; a byte order mark at the start is allowed)"
        ),
    )
}

/// The byte order mark, which YAML skips at the start of a stream.
const BOM: char = '\u{FEFF}';

/// The 1-based line and column (in characters) just past the end of `prefix`, counting line
/// breaks as YAML does (`\n`, `\r\n` or a lone `\r`) and leading byte order marks as no
/// column, as the YAML parser does.
fn line_col(prefix: &str) -> (u32, u32) {
    let mut line: u32 = 1;
    let mut col: u32 = 1;
    let mut after_cr = false;
    for c in prefix.trim_start_matches(BOM).chars() {
        match c {
            '\n' if after_cr => {}
            '\n' | '\r' => {
                line = line.saturating_add(1);
                col = 1;
            }
            _ => col = col.saturating_add(1),
        }
        after_cr = c == '\r';
    }
    (line, col)
}

/// How much a catalog of a given size may expand to: the YAML budget scales with the input,
/// so that a catalog of any real size parses while an alias bomb (a few anchors repeated
/// through aliases, `&b [*a, *a, ...]`, "billion laughs") is refused as soon as its
/// expansion outgrows the text it came from, in time proportional to that text.
///
/// The guard against alias bombs is [`Limits::replayed`]: what aliases add, in parser events
/// (a scalar is one, a mapping or sequence two). The real 981-provider catalog has about one
/// event per 10 bytes, so half an event per byte lets aliases multiply a real catalog
/// several times over. The other limits bound the whole document, aliases included, and
/// without aliases are never reached: a YAML text has fewer nodes than bytes, and no more
/// bytes of strings than it has (tag spellings aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The input's length in bytes.
    pub input_bytes: usize,
    /// The most parser events that aliases may replay, in all.
    pub replayed: usize,
    /// The most nodes (scalars, mappings, sequences), aliases expanded.
    pub nodes: usize,
    /// The most parser events, aliases expanded.
    pub events: usize,
    /// The most bytes of strings (scalars and tags), aliases expanded.
    pub scalar_bytes: usize,
    /// The most nesting of mappings and sequences.
    pub depth: usize,
    /// The most nesting of aliases inside anchored nodes that are replayed by aliases.
    pub alias_nesting: usize,
}

impl Limits {
    /// Replayed events allowed for any catalog, however small.
    pub const REPLAYED_FLOOR: usize = 20_000;
    /// Input bytes per replayed event allowed.
    pub const BYTES_PER_REPLAYED: usize = 2;
    /// Nodes allowed for any catalog, however small.
    pub const NODES_FLOOR: usize = 100_000;
    /// String bytes allowed for any catalog, however small.
    pub const SCALAR_BYTES_FLOOR: usize = 16 * 1024 * 1024;
    /// String bytes allowed per byte of input.
    pub const SCALAR_BYTES_PER_BYTE: usize = 4;
    /// Nesting of mappings and sequences (serde-saphyr's default).
    pub const DEPTH: usize = 64;
    /// Nesting of alias replays (serde-saphyr's default).
    pub const ALIAS_NESTING: usize = 64;

    /// The limits for a catalog of `input_bytes` bytes.
    pub fn for_input(input_bytes: usize) -> Limits {
        let replayed = (input_bytes / Self::BYTES_PER_REPLAYED).max(Self::REPLAYED_FLOOR);
        // One node per byte, plus what aliases may replay.
        let nodes = input_bytes.max(Self::NODES_FLOOR).saturating_add(replayed);
        Limits {
            input_bytes,
            replayed,
            nodes,
            // A scalar is one event, a mapping or sequence two (start and end); the stream
            // and document start and end events come on top.
            events: nodes.saturating_mul(2).saturating_add(16),
            scalar_bytes: input_bytes
                .saturating_mul(Self::SCALAR_BYTES_PER_BYTE)
                .max(Self::SCALAR_BYTES_FLOOR),
            depth: Self::DEPTH,
            alias_nesting: Self::ALIAS_NESTING,
        }
    }

    /// serde-saphyr's options for these limits: duplicate keys rejected, no snippet (we
    /// render our own), the absolute alias, anchor and merge key counts lifted to the
    /// input's size (each costs bytes of text; what they expand to is bounded by the replay,
    /// node, event and string budgets), and its alias/anchor ratio heuristic off (a catalog
    /// may use one anchor in every entry; its expansion is what is bounded).
    fn options(&self) -> serde_saphyr::Options {
        let per_input = self.input_bytes.max(50_000);
        let budget = serde_saphyr::budget! {
            max_events: self.events,
            max_nodes: self.nodes,
            max_total_scalar_bytes: self.scalar_bytes,
            max_depth: self.depth,
            max_aliases: per_input,
            max_anchors: per_input,
            max_merge_keys: per_input,
            max_recorded_anchor_events: self.events,
            max_recorded_anchor_bytes: self.scalar_bytes,
            enforce_alias_anchor_ratio: false,
        };
        serde_saphyr::options! {
            budget: budget,
            alias_limits: serde_saphyr::alias_limits! {
                max_total_replayed_events: self.replayed,
                max_replay_stack_depth: self.alias_nesting,
            },
            duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
            with_snippet: false,
        }
    }
}

/// The stack a parse runs on. serde-saphyr recurses per level of nesting, some 35 KiB a
/// level in a debug build, so [`Limits::DEPTH`] levels overflow a 2 MiB stack (a test's
/// thread, a tokio worker's) before the depth budget refuses them.
const PARSE_STACK: usize = 16 * 1024 * 1024;

/// [`parse_here`] on a thread of its own with [`PARSE_STACK`] (on the caller's thread when no
/// thread can be started).
#[allow(clippy::result_large_err)]
fn parse_text(source: &str) -> Result<Node, Diagnostic> {
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("yaml".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || parse_here(source));
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => parse_here(source),
        }
    })
}

#[allow(clippy::result_large_err)]
fn parse_here(source: &str) -> Result<Node, Diagnostic> {
    let start = Loc {
        line: 1,
        col: 1,
        offset: 0,
        len: 0,
    };
    let content = source.trim_start_matches(BOM);
    if content.trim().is_empty() {
        return Ok(Node {
            kind: NodeKind::Map(Vec::new()),
            loc: start,
        });
    }
    let limits = Limits::for_input(source.len());
    serde_saphyr::from_str_with_options::<Spanned<Raw>>(source, limits.options())
        .map(node)
        .map_err(|e| {
            let loc = e.location().map_or(start, |l| {
                // An error's span may count characters rather than bytes: derive the byte
                // offset from the line and column, which are exact.
                let line = u32::try_from(l.line()).unwrap_or(u32::MAX).max(1);
                let col = u32::try_from(l.column()).unwrap_or(u32::MAX).max(1);
                Loc {
                    line,
                    col,
                    offset: byte_offset(source, line, col),
                    len: 1,
                }
            });
            let rule = if is_budget(&e) {
                crate::rules::Rule::SizeBudget
            } else {
                crate::rules::Rule::YamlSyntax
            };
            Diagnostic::new(
                rule,
                loc,
                format!("invalid YAML: {}", yaml_message(&e, &limits)),
            )
        })
}

/// The `invalid-utf8` error for bytes that are not UTF-8 (`None` when they are).
pub fn utf8_error(bytes: &[u8]) -> Option<Diagnostic> {
    std::str::from_utf8(bytes)
        .err()
        .map(|e| invalid_utf8(bytes, &e))
}

/// Whether a YAML error is a breach of the size budget (an alias bomb), not a syntax error.
fn is_budget(e: &serde_saphyr::Error) -> bool {
    use serde_saphyr::Error as E;
    let mut e = e;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = e {
        e = error;
    }
    matches!(
        e,
        E::Budget { .. }
            | E::AliasReplayLimitExceeded { .. }
            | E::AliasReplayCounterOverflow { .. }
            | E::AliasExpansionLimitExceeded { .. }
            | E::AliasReplayStackDepthExceeded { .. }
    )
}

/// The byte offset of 1-based `line` and `col` (in characters), counting line breaks as YAML
/// does (`\n`, `\r\n` or a lone `\r`); clamped to the end of the line and of the text. A
/// byte order mark at the start is not a column, as for the YAML parser.
pub fn byte_offset(source: &str, line: u32, col: u32) -> usize {
    let mut current = 1;
    let mut chars = source.char_indices().peekable();
    while chars.next_if(|(_, c)| *c == BOM).is_some() {}
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

/// serde-saphyr's error as one sentence, without its location (we render ours): budget
/// breaches and alias limits in words, with the limit that was hit (serde-saphyr prints
/// those as `budget breached: Nodes { nodes: 100001 }`); other messages as it words them,
/// less its advice on its own options, with control characters escaped.
fn yaml_message(e: &serde_saphyr::Error, limits: &Limits) -> String {
    use serde_saphyr::Error as E;
    let mut e = e;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = e {
        e = error;
    }
    let expansion = |what: String| {
        format!(
            "the catalog expands to more than {what} once its YAML aliases (`*name`) are \
             replaced by what their anchors (`&name`) hold: {}; aliases must not multiply \
             the document (as an alias bomb, \"billion laughs\", does)",
            allowance(limits),
        )
    };
    match e {
        E::Budget { breach, .. } => budget_message(breach, limits, expansion),
        E::AliasReplayLimitExceeded { .. } => {
            expansion(format!("{} parser events", limits.replayed))
        }
        E::AliasReplayCounterOverflow { .. } => expansion("what can be counted".into()),
        E::AliasExpansionLimitExceeded {
            max_expansions_per_anchor,
            ..
        } => format!(
            "an anchor (`&name`) is used by more than {max_expansions_per_anchor} aliases \
             (`*name`)"
        ),
        E::AliasReplayStackDepthExceeded { max_depth, .. } => format!(
            "YAML aliases nest more than {max_depth} deep (an alias to an anchored node that \
             holds an alias to another, and so on)"
        ),
        E::UnknownAnchor { .. } => {
            "this alias (`*name`) refers to no anchor (`&name`) defined before it".into()
        }
        E::DuplicateMappingKey { key: Some(k), .. } => {
            format!("duplicate mapping key: {}", one_line(k))
        }
        E::DuplicateMappingKey { key: None, .. } => "duplicate mapping key".into(),
        E::MultipleDocuments { .. } => {
            "a second YAML document starts here; a catalog is one document".into()
        }
        E::InvalidUtf8Input => "the catalog is not valid UTF-8".into(),
        E::Eof { .. } => "unexpected end of the file".into(),
        E::NonFiniteFloat { value, .. } => format!(
            "`{}` is not a finite number; quote it if it is meant as text",
            one_line(value)
        ),
        other => {
            use serde_saphyr::MessageFormatter;
            let text = serde_saphyr::DefaultMessageFormatter.format_message(other);
            let text = text
                .split(", set DuplicateKeyPolicy")
                .next()
                .unwrap_or_default();
            one_line(text)
        }
    }
}

/// What a catalog may expand to under `limits`, in words.
fn allowance(limits: &Limits) -> String {
    format!(
        "a catalog of {} bytes may replay at most {} events through aliases (one per {} bytes, \
         at least {}), and hold {} nodes and {} bytes of strings in all",
        limits.input_bytes,
        limits.replayed,
        Limits::BYTES_PER_REPLAYED,
        Limits::REPLAYED_FLOOR,
        limits.nodes,
        limits.scalar_bytes,
    )
}

/// A budget breach in words.
fn budget_message(
    breach: &serde_saphyr::budget::BudgetBreach,
    limits: &Limits,
    expansion: impl Fn(String) -> String,
) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    match breach {
        B::Nodes { .. } => expansion(format!(
            "{} nodes (values, mappings and sequences)",
            limits.nodes
        )),
        B::Events { .. } => expansion(format!("{} parser events", limits.events)),
        B::ScalarBytes { .. } => expansion(format!("{} bytes of strings", limits.scalar_bytes)),
        B::RecordedAnchorEvents { .. } | B::RecordedAnchorBytes { .. } => format!(
            "the anchored nodes (`&name`) of the catalog hold more than {} parser events or \
             {} bytes of strings in all (an anchor inside an anchor counts twice)",
            limits.events, limits.scalar_bytes
        ),
        B::Depth { .. } => format!(
            "mappings and sequences nest more than {} deep here",
            limits.depth
        ),
        B::Documents { documents } => {
            format!("the file holds {documents} YAML documents or more; a catalog is one document")
        }
        B::Aliases { aliases } => {
            format!("the catalog has {aliases} YAML aliases (`*name`), more than its size allows")
        }
        B::Anchors { anchors } => {
            format!("the catalog has {anchors} YAML anchors (`&name`), more than its size allows")
        }
        B::MergeKeys { merge_keys } => format!(
            "the catalog has {merge_keys} YAML merge keys (`<<`), more than its size allows"
        ),
        B::AliasAnchorRatio { aliases, anchors } => format!(
            "the catalog has {aliases} YAML aliases (`*name`) for {anchors} anchors (`&name`), \
             too many aliases per anchor"
        ),
        B::SequenceUnbalanced => {
            "a mapping or sequence ends here that never started (the YAML is unbalanced)".into()
        }
        B::InputBytes { input_bytes } => {
            format!("the catalog is larger than the YAML reader allows ({input_bytes} bytes)")
        }
        _ => "the catalog is larger or more complex than the YAML parser's limits allow".into(),
    }
}

/// `text` on one line: line breaks and other control characters escaped (`\n`), so that
/// a message is one line and shows what the file holds.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The Unicode bidirectional controls, which reorder the text around them on a terminal.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
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

    #[test]
    fn invalid_utf8_is_located_at_its_first_byte() {
        let d = parse_bytes(b"a: 1\nb: x\xFFy\n").unwrap_err();
        assert_eq!(
            (d.loc.line, d.loc.col, d.loc.offset, d.loc.len),
            (2, 5, 9, 1)
        );
        assert_eq!(
            d.message,
            "invalid UTF-8 at byte 9 (line 2, column 5): the catalog must be UTF-8 (save it as \
             UTF-8; a byte order mark at the start is allowed)"
        );
        // Columns count characters; `\r\n` and a lone `\r` end lines as for YAML.
        let bytes = ["a: é\r\nb: \u{1F600}\rc: é".as_bytes(), b"\xC3x"].concat();
        let d = parse_bytes(&bytes).unwrap_err();
        assert_eq!((d.loc.line, d.loc.col, d.loc.offset), (3, 5, 20));
        assert!(
            d.message.starts_with("invalid UTF-8 at byte 20 "),
            "{}",
            d.message
        );
        // Cut off inside a sequence at the end of the file.
        let d = parse_bytes(b"a: \xE2\x82").unwrap_err();
        assert_eq!(
            (d.loc.line, d.loc.col, d.loc.offset, d.loc.len),
            (1, 4, 3, 2)
        );
        assert!(
            d.message
                .starts_with("incomplete UTF-8 sequence at the end of the file at byte 3")
        );
        // Valid bytes are parsed like text.
        assert_eq!(parse_bytes(b"a: 1\n"), parse("a: 1\n"));
    }

    #[test]
    fn a_leading_byte_order_mark_is_skipped_and_offsets_stay_byte_offsets() {
        let source = "\u{FEFF}a: 1\nb: x\n";
        let n = parse(source).unwrap();
        let (a, one) = &n.as_map().unwrap()[0];
        // The parser does not count the mark as a column; offsets are into `source`.
        assert_eq!((a.loc.line, a.loc.col, a.loc.offset), (1, 1, 3));
        assert_eq!((one.loc.line, one.loc.col, one.loc.offset), (1, 4, 6));
        assert_eq!(byte_offset(source, 1, 4), 6);
        assert_eq!(byte_offset(source, 2, 4), 11);
        // An error on the first line is at the same place with or without the mark.
        let plain = parse("a: [\n").unwrap_err();
        let marked = parse("\u{FEFF}a: [\n").unwrap_err();
        assert_eq!(
            (plain.loc.line, plain.loc.col),
            (marked.loc.line, marked.loc.col)
        );
        assert_eq!(marked.loc.offset, plain.loc.offset + 3);
        // And for invalid UTF-8 after it.
        let d = parse_bytes(b"\xEF\xBB\xBFa: \xFF").unwrap_err();
        assert_eq!((d.loc.line, d.loc.col, d.loc.offset), (1, 4, 6));
        // A file of only the mark (and blanks) is an empty catalog, as an empty file is.
        assert_eq!(parse("\u{FEFF}\n").unwrap().kind, NodeKind::Map(Vec::new()));
        // A mark inside the document is an error, located.
        let d = parse("a: 1\n\u{FEFF}b: 2\n").unwrap_err();
        assert_eq!(d.loc.line, 2);
    }

    #[test]
    fn limits_scale_with_the_input() {
        let small = Limits::for_input(100);
        assert_eq!(small.replayed, Limits::REPLAYED_FLOOR);
        assert_eq!(small.scalar_bytes, Limits::SCALAR_BYTES_FLOOR);
        let big = Limits::for_input(25_000_000);
        assert_eq!(big.replayed, 12_500_000);
        assert_eq!(big.nodes, 37_500_000);
        assert_eq!(big.scalar_bytes, 100_000_000);
        let huge = Limits::for_input(usize::MAX);
        assert_eq!(huge.events, usize::MAX);
    }

    /// `levels` levels of ten aliases to the level before: 10^levels scalars.
    fn laughs(levels: usize) -> String {
        let mut s = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..=levels {
            let p = i - 1;
            s.push_str(&format!(
                "l{i}: &l{i} [{}]\n",
                vec![format!("*l{p}"); 10].join(", ")
            ));
        }
        s
    }

    #[test]
    fn alias_bombs_are_refused_in_sentences() {
        let d = parse(&laughs(9)).unwrap_err();
        assert!(
            d.message.starts_with(
                "invalid YAML: the catalog expands to more than 20000 parser events once its \
                 YAML aliases (`*name`) are replaced by what their anchors (`&name`) hold"
            ),
            "{}",
            d.message
        );
        assert!(!d.message.contains('{'), "{}", d.message);
        assert!(d.loc.line >= 2, "{:?}", d.loc);
        // A little aliasing is fine.
        assert!(parse(&laughs(3)).is_ok());
        // Long strings repeated: the string budget.
        let long = "x".repeat(100_000);
        let text = format!(
            "a: &a {long}\nb: &b [{}]\nc: &c [{}]\nd: [{}]\n",
            ["*a"; 10].join(", "),
            ["*b"; 10].join(", "),
            ["*c"; 10].join(", ")
        );
        let d = parse(&text).unwrap_err();
        assert!(
            d.message.starts_with(
                "invalid YAML: the catalog expands to more than 16777216 bytes of strings once"
            ),
            "{}",
            d.message
        );
    }

    #[test]
    fn one_anchor_in_every_entry_is_fine() {
        // serde-saphyr's default heuristic refuses more than 10 aliases per anchor.
        let mut text = String::from("common: &common {type: string, title: Key}\n");
        for i in 0..500 {
            text.push_str(&format!("p{i}: *common\n"));
        }
        let n = parse(&text).unwrap();
        assert_eq!(n.as_map().unwrap().len(), 501);
    }

    #[test]
    fn budget_messages_are_sentences() {
        use serde_saphyr::budget::BudgetBreach as B;
        let limits = Limits::for_input(1_000);
        let expansion = |what: String| format!("more than {what}");
        for breach in [
            B::Events { events: 1 },
            B::Aliases { aliases: 1 },
            B::Anchors { anchors: 1 },
            B::Depth { depth: 65 },
            B::Documents { documents: 1025 },
            B::Nodes { nodes: 1 },
            B::ScalarBytes {
                total_scalar_bytes: 1,
            },
            B::MergeKeys { merge_keys: 1 },
            B::AliasAnchorRatio {
                aliases: 1,
                anchors: 1,
            },
            B::SequenceUnbalanced,
            B::InputBytes { input_bytes: 1 },
            B::RecordedAnchorEvents {
                recorded_anchor_events: 1,
            },
            B::RecordedAnchorBytes {
                recorded_anchor_bytes: 1,
            },
            B::InclusionDepth { depth: 1 },
        ] {
            let text = budget_message(&breach, &limits, expansion);
            assert!(
                !text.contains(['{', '}', '_']) && text.contains(' '),
                "{breach:?}: {text}"
            );
        }
    }

    #[test]
    fn messages_are_one_line() {
        let d = parse("\"a\\nb\": 1\n\"a\\nb\": 2\n").unwrap_err();
        assert_eq!(d.message, "invalid YAML: duplicate mapping key: a\\nb");
        let d = parse("\"\\u202Ex\": 1\n\"\\u202Ex\": 2\n").unwrap_err();
        assert_eq!(d.message, "invalid YAML: duplicate mapping key: \\u{202e}x");
    }
}
