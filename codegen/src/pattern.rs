//! The catalog's `pattern`s are ECMAScript regexes (compiled without flags, tested as a
//! search). This module translates them into the `regex` crate's syntax with the same
//! meaning; a pattern with lookaround or backreferences, which that engine lacks, is
//! translated for the backtracking engine of `fancy-regex` instead (same syntax otherwise).

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Valid ECMAScript that neither engine can run.
    Unsupported(String),
    /// Not a valid regex (in ECMAScript either).
    Invalid(String),
}

/// A translated pattern and the engine that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The pattern in the engine's syntax.
    pub regex: String,
    /// Whether it needs the backtracking engine (lookaround, backreferences).
    pub backtracking: bool,
}

/// Translates an ECMAScript pattern for the `regex` crate, or, when it uses lookaround or
/// backreferences, for `fancy-regex`.
pub fn translate(js: &str) -> Result<Translated, PatternError> {
    match translate_for(js, false) {
        Ok(regex) => Ok(Translated {
            regex,
            backtracking: false,
        }),
        Err(NeedsBacktracking) => translate_for(js, true)
            .map(|regex| Translated {
                regex,
                backtracking: true,
            })
            .map_err(|stop| match stop {
                Translation(e) => e,
                NeedsBacktracking => {
                    PatternError::Unsupported("a feature neither regex engine has".into())
                }
            })
            .and_then(|t| match fancy_regex::Regex::new(&t.regex) {
                Ok(_) => Ok(t),
                Err(e) => Err(PatternError::Invalid(e.to_string())),
            }),
        Err(Translation(e)) => Err(e),
    }
}

/// Why a translation stopped.
enum Stop {
    /// The pattern needs the backtracking engine.
    NeedsBacktracking,
    /// It cannot be used.
    Translation(PatternError),
}
use Stop::{NeedsBacktracking, Translation};

impl From<PatternError> for Stop {
    fn from(e: PatternError) -> Self {
        Translation(e)
    }
}

/// An ASCII word boundary (ECMAScript's `\b` without the `u` flag) for the backtracking
/// engine, which has no `(?-u:\b)`.
const ASCII_WORD_BOUNDARY: &str =
    r"(?:(?<=[0-9A-Za-z_])(?![0-9A-Za-z_])|(?<![0-9A-Za-z_])(?=[0-9A-Za-z_]))";
const ASCII_NOT_WORD_BOUNDARY: &str =
    r"(?:(?<=[0-9A-Za-z_])(?=[0-9A-Za-z_])|(?<![0-9A-Za-z_])(?![0-9A-Za-z_]))";

/// `\d`, `\w` and `\b` are ASCII-only in ECMAScript without the `u` flag, but Unicode-aware
/// in the `regex` crate; `.` excludes all four ECMAScript line terminators. A `{` that does
/// not start a quantifier is a literal in ECMAScript.
fn translate_for(js: &str, backtracking: bool) -> Result<String, Stop> {
    let chars: Vec<char> = js.chars().collect();
    let mut out = String::with_capacity(js.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(PatternError::Invalid("`\\` at end of pattern".into()).into());
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
                    ('b', false) if backtracking => ASCII_WORD_BOUNDARY.into(),
                    ('B', false) if backtracking => ASCII_NOT_WORD_BOUNDARY.into(),
                    ('b', false) => r"(?-u:\b)".into(),
                    ('B', false) => r"(?-u:\B)".into(),
                    ('b', true) => r"\x08".into(),
                    ('1'..='9', false) if backtracking => format!("\\{next}"),
                    ('1'..='9', false) => return Err(NeedsBacktracking),
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
                    return Err(
                        PatternError::Unsupported("an empty class `[]` or `[^]`".into()).into(),
                    );
                }
            }
            '[' => out.push_str(r"\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '(' if !in_class && chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i + 2..].iter().take(2).collect();
                let lookaround =
                    rest.starts_with('=') || rest.starts_with('!') || rest == "<=" || rest == "<!";
                if lookaround && !backtracking {
                    return Err(NeedsBacktracking);
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
        return Err(PatternError::Invalid("unclosed character class `[`".into()).into());
    }
    if backtracking {
        return Ok(out);
    }
    match regex::Regex::new(&out) {
        Ok(_) => Ok(out),
        Err(regex::Error::CompiledTooBig(_)) => Err(PatternError::Unsupported(
            "a repetition too large for the Rust regex engine to compile".into(),
        )
        .into()),
        Err(e) => Err(PatternError::Invalid(reason(&e)).into()),
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

/// A compiled pattern on the engine it needs, for checks at generation time.
pub enum Compiled {
    /// The `regex` crate.
    Plain(regex::Regex),
    /// `fancy-regex`.
    Backtracking(fancy_regex::Regex),
}

impl Compiled {
    /// Compiles a translation (`None` if it does not compile, which `translate` rules out).
    pub fn new(t: &Translated) -> Option<Self> {
        if t.backtracking {
            fancy_regex::Regex::new(&t.regex)
                .ok()
                .map(Compiled::Backtracking)
        } else {
            regex::Regex::new(&t.regex).ok().map(Compiled::Plain)
        }
    }

    /// Whether the pattern is found in `value` (a backtracking limit counts as no match).
    pub fn is_match(&self, value: &str) -> bool {
        match self {
            Compiled::Plain(re) => re.is_match(value),
            Compiled::Backtracking(re) => re.is_match(value).unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(js: &str, value: &str) -> bool {
        let t = translate(js).unwrap();
        if t.backtracking {
            fancy_regex::Regex::new(&t.regex)
                .unwrap()
                .is_match(value)
                .unwrap()
        } else {
            regex::Regex::new(&t.regex).unwrap().is_match(value)
        }
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
    fn lookaround_and_backreferences_run_on_the_backtracking_engine() {
        // salesforce's hostname: no Lightning domains.
        let salesforce = r"^(?!(?:.*\.)?[Ll][Ii][Gg][Hh][Tt][Nn][Ii][Nn][Gg]\.([Ff][Oo][Rr][Cc][Ee]|[Ss][Aa][Ll][Ee][Ss][Ff][Oo][Rr][Cc][Ee])\.[Cc][Oo][Mm]$)[a-zA-Z0-9]([a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?)*$";
        assert!(translate(salesforce).unwrap().backtracking);
        assert!(matches(salesforce, "acme.my.salesforce.com"));
        assert!(!matches(salesforce, "acme.lightning.force.com"));
        assert!(matches(r"^(a)\1$", "aa"));
        assert!(!matches(r"^(a)\1$", "ab"));
        assert!(matches(r"(?=\w)\bword\b", "a word"));
        assert!(!matches(r"(?=\w)\bword\b", "swordfish"));
        // `é` is no word character for ECMAScript's `\b` without the `u` flag.
        assert!(!matches(r"(?!z)\bé", "é"));
        assert!(matches(r"(?!z)é\b", "éa"));
        assert!(!translate(r"^\d+$").unwrap().backtracking);
    }

    #[test]
    fn reports_what_cannot_run_or_is_invalid() {
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
