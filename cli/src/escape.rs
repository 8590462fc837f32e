//! What reaches the terminal: every value that came from a user, a store or a provider (ids,
//! provider keys, webhook ids, URLs, messages) is printed through [`shown`], so a control
//! character (an escape sequence, a carriage return, a bidirectional override) is printed
//! escaped and never acts on the terminal. Values are compared raw, escaped only to print.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` would act on a terminal rather than show: C0 and C1 controls, DEL, and the
/// bidirectional formatting characters (which reorder what follows them).
fn acts(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` on one line with its control characters escaped (`\n`, `\t`, `\r`, else
/// `\u{1b}`); borrowed when there is none.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if acts(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `c` acts on a terminal and serde_json leaves it as it is in a string: all but the
/// C0 controls, which it escapes (outside strings only its whitespace occurs).
fn acts_in_json(c: char) -> bool {
    acts(c) && u32::from(c) >= 0x20
}

/// JSON text (as serde_json writes it, which escapes C0 controls in strings) with DEL, the
/// C1 controls and the bidirectional formatting characters escaped too (`\u009b`): the same
/// JSON value, nothing that acts on a terminal. These characters only occur inside strings
/// there; the layout's line breaks stay.
pub fn json(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_in_json) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts_in_json(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_the_rest_kept() {
        assert!(matches!(shown("acme-hr_1 é"), Cow::Borrowed("acme-hr_1 é")));
        assert_eq!(shown("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(shown("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(shown("\u{7f}\u{9b}x"), "\\u{7f}\\u{9b}x");
        assert_eq!(shown("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert!(!shown("\u{1b}]0;title\u{7}").contains('\u{1b}'));
    }

    #[test]
    fn json_stays_the_same_value() {
        let value = serde_json::json!({"id": "a\u{1b}b\u{9b}c\u{7f}\u{202e}", "n": 1});
        let text = serde_json::to_string(&value).unwrap();
        let escaped = json(&text);
        assert!(!escaped.chars().any(acts), "{escaped}");
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, value);
        assert!(matches!(json("{\"a\":1}"), Cow::Borrowed(_)));
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let escaped = json(&pretty);
        assert!(escaped.contains("\n  \""), "{escaped}");
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, value);
    }
}
