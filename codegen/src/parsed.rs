//! Every string of an entry, parsed once as a template: the rules, the inference of older
//! catalogs and the compiler all read these, and nobody parses a template twice.

use std::collections::BTreeMap;

use crate::template::{self, Expr, Template, TemplateError};
use crate::yaml::{Loc, Node};

/// The sections of an entry that define params; their strings are not templates.
pub const DEFINITION_SECTIONS: &[&str] = &[
    "connection_config",
    "credentials",
    "integration_config",
    "assertion_option",
];

/// One string of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedString {
    /// The text.
    pub text: String,
    /// Where it stands.
    pub loc: Loc,
    /// The top-level key of the entry it stands under (`proxy`, `token_url`, ...).
    pub section: String,
    /// The template, or why it does not parse.
    pub parsed: Result<Template, TemplateError>,
}

/// The strings of one entry, in file order, each parsed once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Templates {
    items: Vec<ParsedString>,
    by_offset: BTreeMap<usize, usize>,
}

impl Templates {
    /// Parses every string of `entry` outside the definition sections.
    pub fn of(entry: &Node) -> Self {
        let mut out = Templates::default();
        for (k, v) in entry.as_map().unwrap_or_default() {
            let Some(section) = k.as_str() else { continue };
            if DEFINITION_SECTIONS.contains(&section) {
                continue;
            }
            for (text, loc) in v.strings() {
                out.by_offset.insert(loc.offset, out.items.len());
                out.items.push(ParsedString {
                    text: text.to_owned(),
                    loc,
                    section: section.to_owned(),
                    parsed: template::parse(text, true),
                });
            }
        }
        out
    }

    /// Every string, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &ParsedString> {
        self.items.iter()
    }

    /// The parse of the string `text` at `loc` (`None` for a value that was not a string in
    /// the YAML, such as a number read as text, or a template of a mode's own, whose default
    /// location may be that of another string).
    pub fn at(&self, loc: Loc, text: &str) -> Option<&Result<Template, TemplateError>> {
        self.by_offset
            .get(&loc.offset)
            .map(|&i| &self.items[i])
            .filter(|item| item.text == text)
            .map(|item| &item.parsed)
    }

    /// Every placeholder of every template that parses, with the string it stands in, its
    /// alternative's index and how many alternatives the template has.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder<'_>> {
        self.items.iter().flat_map(|s| {
            let Ok(t) = &s.parsed else {
                return Vec::new();
            };
            let count = t.alternatives.len();
            t.alternatives
                .iter()
                .enumerate()
                .flat_map(|(alt, pieces)| {
                    template::exprs(pieces)
                        .into_iter()
                        .map(move |(expr, offset, len)| Placeholder {
                            string: s,
                            expr,
                            offset,
                            len,
                            alternative: alt,
                            alternatives: count,
                        })
                })
                .collect()
        })
    }
}

/// One placeholder of an entry.
#[derive(Debug, Clone, Copy)]
pub struct Placeholder<'t> {
    /// The string it stands in.
    pub string: &'t ParsedString,
    /// What it refers to.
    pub expr: &'t Expr,
    /// Byte offset of its `$` in the string.
    pub offset: usize,
    /// Byte length.
    pub len: usize,
    /// The index of its alternative (`A || B`: 0 or 1).
    pub alternative: usize,
    /// How many alternatives its template has.
    pub alternatives: usize,
}

impl Placeholder<'_> {
    /// Whether a later alternative stands in when this one cannot render (the left side of
    /// `A || B`).
    pub fn has_fallback(&self) -> bool {
        self.alternative + 1 < self.alternatives
    }

    /// The location of the placeholder in the source.
    pub fn loc(&self, source: &str) -> Loc {
        self.string
            .loc
            .inner(source, &self.string.text, self.offset, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_is_found_by_its_location_and_its_text() {
        let root = crate::yaml::parse(
            "p:\n    proxy:\n        base_url: https://${connectionConfig.host}/v1\n",
        )
        .unwrap();
        let templates = Templates::of(root.get("p").unwrap());
        let (text, loc) = templates
            .iter()
            .map(|s| (s.text.clone(), s.loc))
            .next()
            .unwrap();
        assert!(matches!(templates.at(loc, &text), Some(Ok(_))));
        // Another text at that location (a template of a mode's own, whose location is a
        // default) is not given this string's parse, whose offsets would not fit it.
        assert!(templates.at(loc, "${now}").is_none());
    }
}
