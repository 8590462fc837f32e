//! Names and characters that generated code cannot carry: empty keys
//! ([`Rule::InvalidName`]) and bidirectional controls ([`Rule::BidiControl`]).

use crate::diagnostic::Diagnostic;
use crate::model::ProviderEntry;
use crate::rules::Rule;
use crate::yaml::{Node, NodeKind};

use super::Checker;

/// Whether `c` reverses or isolates text direction (rustc refuses these in comments and
/// literals: `text_direction_codepoint_in_comment`, `..._in_literal`).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl Checker<'_> {
    /// The entry's key and every key and string of it.
    pub(super) fn text(&mut self, entry: &ProviderEntry) {
        if entry.key.is_empty() {
            self.push(
                Diagnostic::new(Rule::InvalidName, entry.key_loc, "a provider key is empty")
                    .with_help("give the provider a key such as `acme`"),
            );
        }
        self.bidi(&entry.node);
    }

    fn bidi(&mut self, node: &Node) {
        match &node.kind {
            NodeKind::Str(s) => {
                if let Some((i, c)) = s.char_indices().find(|(_, c)| is_bidi_control(*c)) {
                    let loc = self.inner(node.loc, s, i, c.len_utf8());
                    self.push(
                        Diagnostic::new(
                            Rule::BidiControl,
                            loc,
                            format!(
                                "the text holds U+{:04X}, a character that reverses text direction",
                                c as u32
                            ),
                        )
                        .with_help("remove it: it makes text read differently from how it runs"),
                    );
                }
            }
            NodeKind::Seq(items) => items.iter().for_each(|n| self.bidi(n)),
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    self.bidi(k);
                    self.bidi(v);
                }
            }
            _ => {}
        }
    }
}
