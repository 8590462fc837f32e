//! The catalog's `pattern`s are ECMAScript regexes (compiled without flags, tested as a
//! search). This module translates them into the `regex` crate's syntax with the same
//! meaning, and says which cannot be run by that engine.

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Valid ECMAScript that the `regex` engine cannot run (lookaround, backreferences).
    Unsupported(String),
    /// Not a valid regex (in ECMAScript either).
    Invalid(String),
}

/// `\d`, `\w` and `\b` are ASCII-only in ECMAScript without the `u` flag, but Unicode-aware
/// in the `regex` crate; `.` excludes all four ECMAScript line terminators. A `{` that does
/// not start a quantifier is a literal in ECMAScript.
pub fn translate(js: &str) -> Result<String, PatternError> {
    let chars: Vec<char> = js.chars().collect();
    let mut out = String::with_capacity(js.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(PatternError::Invalid("`\\` at end of pattern".into()));
                };
                i += 2;
                let text: String = match (next, in_class) {
                    ('d', false) => "[0-9]".into(),
                    ('d', true) => "0-9".into(),
                    ('D', false) => "[^0-9]".into(),
                    ('D', true) => "[:^digit:]".into(),
                    ('w', false) => "[0-9A-Za-z_]".into(),
                    ('w', true) => "0-9A-Za-z_".into(),
                    ('W', false) => "[^0-9A-Za-z_]".into(),
                    ('W', true) => "[:^word:]".into(),
                    ('b', false) => r"(?-u:\b)".into(),
                    ('B', false) => r"(?-u:\B)".into(),
                    ('b', true) => r"\x08".into(),
                    ('1'..='9', false) => {
                        return Err(PatternError::Unsupported(format!(
                            "backreference `\\{next}` (the Rust regex engine has none)"
                        )));
                    }
                    (c, _) if c.is_ascii_alphanumeric() => format!("\\{c}"),
                    // An escaped punctuation or other character is that character.
                    (c, _) => regex_syntax_escape(c),
                };
                out.push_str(&text);
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // A `]` first in a class is a literal in the `regex` crate but ends an empty
                // class in ECMAScript (`[]` never matches, `[^]` matches anything).
                if chars.get(i + 1) == Some(&']') {
                    return Err(PatternError::Unsupported(
                        "an empty class `[]` or `[^]`".into(),
                    ));
                }
            }
            '[' => out.push_str(r"\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '(' if !in_class && chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i + 2..].iter().take(2).collect();
                if rest.starts_with('=') || rest.starts_with('!') || rest == "<=" || rest == "<!" {
                    return Err(PatternError::Unsupported(
                        "lookaround such as `(?=`, `(?!`, `(?<=` or `(?<!` (the Rust regex engine has none)".into(),
                    ));
                }
                out.push('(');
            }
            '.' if !in_class => out.push_str(r"[^\n\r\u{2028}\u{2029}]"),
            '{' if !in_class && !starts_quantifier(&chars[i..]) => out.push_str(r"\{"),
            '}' if !in_class => {
                // Closing a quantifier is copied with it below; a lone `}` is a literal.
                out.push_str(r"\}");
            }
            '{' if !in_class => {
                let end = i + chars[i..].iter().position(|&c| c == '}').unwrap_or(0);
                out.extend(&chars[i..=end]);
                i = end + 1;
                continue;
            }
            c => out.push(c),
        }
        i += 1;
    }
    if in_class {
        return Err(PatternError::Invalid("unclosed character class `[`".into()));
    }
    match regex::Regex::new(&out) {
        Ok(_) => Ok(out),
        Err(regex::Error::CompiledTooBig(_)) => Err(PatternError::Unsupported(
            "the pattern is too large for the Rust regex engine".into(),
        )),
        Err(e) => Err(PatternError::Invalid(reason(&e))),
    }
}

/// Whether `{` starts `{n}`, `{n,}` or `{n,m}`.
fn starts_quantifier(chars: &[char]) -> bool {
    let Some(end) = chars.iter().position(|&c| c == '}') else {
        return false;
    };
    let inner: String = chars[1..end].iter().collect();
    let mut parts = inner.splitn(2, ',');
    let min_ok = parts
        .next()
        .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    let max_ok = parts
        .next()
        .is_none_or(|m| m.bytes().all(|b| b.is_ascii_digit()));
    min_ok && max_ok
}

fn regex_syntax_escape(c: char) -> String {
    let mut s = String::new();
    if regex::escape(&c.to_string()) != c.to_string() {
        s.push('\\');
    }
    s.push(c);
    s
}

/// The one-line reason of a regex error (the crate's message spans several lines).
fn reason(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .map_or_else(
            || text.lines().last().unwrap_or_default().to_owned(),
            str::to_owned,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(js: &str, value: &str) -> bool {
        regex::Regex::new(&translate(js).unwrap())
            .unwrap()
            .is_match(value)
    }

    #[test]
    fn ascii_classes_like_ecmascript() {
        assert!(matches(r"^\d+$", "123"));
        assert!(
            !matches(r"^\d+$", "١٢٣"),
            "Arabic-Indic digits are not \\d in ECMAScript"
        );
        assert!(!matches(r"^\w+$", "größe"));
        assert!(matches(r"^[\w.-]+$", "a.b-c_d"));
        assert!(matches(r"^[^\W]+$", "abc"));
        assert!(!matches(r"^[\D]$", "5"));
        assert!(matches(r"^a.c$", "abc"));
        assert!(!matches(r"^a.c$", "a\u{2028}c"));
    }

    #[test]
    fn escapes_and_literal_braces() {
        assert!(matches(r"^https?:\/\/[a-z]+\:\d{2,4}$", "https://abc:8080"));
        assert!(matches(r"^{x}$", "{x}"));
        assert!(matches(r"^a{2}$", "aa"));
        assert!(matches(r"^[a-z]{1,}$", "abc"));
        assert!(matches(r"\bword\b", "a word here"));
    }

    #[test]
    fn reports_what_cannot_run_or_is_invalid() {
        let e = translate(r"^(?!.*\.salesforce\.com).*$").unwrap_err();
        assert!(
            matches!(e, PatternError::Unsupported(ref m) if m.contains("lookaround")),
            "{e:?}"
        );
        assert!(matches!(
            translate(r"(a)\1"),
            Err(PatternError::Unsupported(_))
        ));
        // freshteam's pattern: a range from `\` to `+` is out of order, in ECMAScript too.
        let e = translate(r"^[a-zA-Z0-9_!@#$%^&*()\\-+=]+$").unwrap_err();
        assert!(
            matches!(e, PatternError::Invalid(ref m) if m.contains("range")),
            "{e:?}"
        );
        assert!(matches!(translate("[a-"), Err(PatternError::Invalid(_))));
        assert!(matches!(translate("(a"), Err(PatternError::Invalid(_))));
    }
}
