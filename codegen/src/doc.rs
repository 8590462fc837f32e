//! Doc comment text from YAML: escaped so that no description can break the build or the
//! docs (no code fences that become doctests, no intra-doc links, no HTML, no bare URLs).

use std::sync::LazyLock;

use regex::Regex;

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"https?://[^\s<>"`\\\[\]{}|^]+"#).expect("valid regex"));

/// `text` with each character that reverses text direction (U+202A–U+202E, U+2066–U+2069)
/// written as `[U+202E]`: rustc refuses them in comments, and they make text read differently
/// from how it runs. (The `bidi-control` rule reports them; this keeps the output valid when
/// that rule is allowed.)
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(crate::check::is_bidi_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if crate::check::is_bidi_control(c) {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Escapes YAML text for a doc comment line (or lines): each line trimmed (so nothing is an
/// indented code block), Markdown punctuation backslash-escaped, URLs as `<...>` autolinks.
pub fn escape(text: &str) -> Vec<String> {
    text.lines().map(str::trim).map(escape_line).collect()
}

fn escape_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut last = 0;
    for m in URL.find_iter(line) {
        escape_text(&line[last..m.start()], &mut out);
        let url = m
            .as_str()
            .trim_end_matches(['.', ',', ')', ';', ':', '!', '?', '\'']);
        out.push('<');
        out.push_str(url);
        out.push('>');
        escape_text(&m.as_str()[url.len()..], &mut out);
        last = m.end();
    }
    escape_text(&line[last..], &mut out);
    out
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        if c.is_control() {
            out.push(' ');
            continue;
        }
        if "\\`*_[]<>|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Doc lines for a URL: an autolink when it is a plain URL, else escaped text.
pub fn url(text: &str) -> String {
    if URL.find(text).is_some_and(|m| m.as_str() == text) {
        format!("<{text}>")
    } else {
        escape_line(text)
    }
}

/// Inline code for short identifiers or patterns: backticks that the text cannot close.
pub fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralizes_markdown_and_code() {
        assert_eq!(
            escape("```rust\npanic!()\n```"),
            ["\\`\\`\\`rust", "panic!()", "\\`\\`\\`"]
        );
        assert_eq!(escape("    indented code"), ["indented code"]);
        assert_eq!(
            escape("see [Foo] and <b>x</b> */"),
            ["see \\[Foo\\] and \\<b\\>x\\</b\\> \\*/"]
        );
        assert_eq!(
            escape("docs at https://example.com/a_b."),
            ["docs at <https://example.com/a_b>."]
        );
    }

    #[test]
    fn code_spans_cannot_be_closed_early() {
        assert_eq!(code("^[0-9]+$"), "`^[0-9]+$`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
    }
}
