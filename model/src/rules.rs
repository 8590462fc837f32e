//! Value rules that have a name: checks clearer than a bare regex, or beyond one.

/// The `pattern` spellings that the generator recognizes as UPPER_SNAKE_CASE and replaces by
/// [`is_upper_snake_case`], which also enforces the 64-character limit a regex cannot state
/// without lookahead, and whose error message says what the rule is.
pub const UPPER_SNAKE_CASE_PATTERNS: &[&str] = &[
    "^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$",
    "^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$",
];

/// The longest value [`is_upper_snake_case`] accepts.
pub const UPPER_SNAKE_CASE_MAX_LEN: usize = 64;

/// [`is_upper_snake_case`] as an ECMAScript regex (no flags, used with `test`), for a
/// browser's form: the lookahead states the length limit that the catalog's spellings
/// ([`UPPER_SNAKE_CASE_PATTERNS`]) cannot. A test checks that it accepts exactly what the
/// rule accepts.
pub const UPPER_SNAKE_CASE_ECMASCRIPT: &str = "^(?=[A-Z0-9_]{1,64}$)[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$";

/// What [`UPPER_SNAKE_CASE_ECMASCRIPT`] means, in the words of the validator's error
/// message.
pub const UPPER_SNAKE_CASE_MESSAGE: &str = "UPPER_SNAKE_CASE: an uppercase letter, then uppercase \
     letters and digits, words joined by single underscores, at most 64 characters; e.g. \
     MY_APPLICATION";

/// UPPER_SNAKE_CASE: an uppercase ASCII letter first, then uppercase letters and digits,
/// words joined by single underscores (no leading, trailing or double underscore), at most
/// 64 characters. `MY_APPLICATION`, `ACME2` and `MY_APP_V2` pass; `my_app`, `_ACME`,
/// `MY__APP`, `2ACME` and the empty string fail.
pub fn is_upper_snake_case(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > UPPER_SNAKE_CASE_MAX_LEN || !bytes[0].is_ascii_uppercase()
    {
        return false;
    }
    let mut previous_underscore = false;
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'0'..=b'9' => previous_underscore = false,
            b'_' if !previous_underscore => previous_underscore = true,
            _ => return false,
        }
    }
    !previous_underscore
}

/// One DNS label (RFC 1123): 1 to 63 ASCII letters, digits and hyphens, neither first nor last
/// a hyphen. This is what a value placed inside a host name must be, so that it cannot add a
/// label, a port, a path or user info (`evil.com/`, `x@evil.com#`, `a\evil.com`).
pub fn is_dns_label(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A host name: one or more DNS labels joined by dots, at most 253 characters.
pub fn is_hostname(value: &str) -> bool {
    !value.is_empty() && value.len() <= 253 && value.split('.').all(is_dns_label)
}

/// Whether a value may be sent in an HTTP header: visible ASCII, spaces and tabs only, so
/// no CR, LF, NUL, other controls or non-ASCII bytes that some servers read differently.
pub fn is_header_safe(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_snake_case_table() {
        for ok in [
            "MY_APPLICATION",
            "ACME",
            "ACME2",
            "MY_APP_V2",
            "A",
            "A_1",
            "A1_B2_C3",
        ] {
            assert!(is_upper_snake_case(ok), "{ok} should pass");
        }
        for bad in [
            "my_app",
            "My_App",
            "_ACME",
            "ACME_",
            "MY__APP",
            "2ACME",
            "ACME-CORP",
            "",
            "ACME CORP",
            "ÄCME",
            "ACME\n",
            "_",
            "A__",
            "MY_ÄPP",
        ] {
            assert!(!is_upper_snake_case(bad), "{bad:?} should fail");
        }
        let max = format!("A{}", "B".repeat(UPPER_SNAKE_CASE_MAX_LEN - 1));
        assert!(is_upper_snake_case(&max));
        assert!(!is_upper_snake_case(&format!("{max}C")));
    }

    #[test]
    fn upper_snake_case_patterns_agree_with_the_rule_on_short_values() {
        for source in UPPER_SNAKE_CASE_PATTERNS {
            let re = regex::Regex::new(source).unwrap();
            for value in [
                "MY_APPLICATION",
                "ACME2",
                "my_app",
                "_ACME",
                "ACME_",
                "MY__APP",
                "2ACME",
                "",
            ] {
                assert_eq!(
                    re.is_match(value),
                    is_upper_snake_case(value),
                    "{source} on {value:?}"
                );
            }
        }
    }

    #[test]
    fn ecmascript_pattern_agrees_with_the_rule() {
        let re = fancy_regex::Regex::new(UPPER_SNAKE_CASE_ECMASCRIPT).unwrap();
        let agrees = |value: &str| {
            assert_eq!(
                re.is_match(value).unwrap(),
                is_upper_snake_case(value),
                "{value:?}"
            );
        };
        // Every string of up to 5 characters over an alphabet with each kind of character.
        let alphabet = ['A', 'Z', '0', '9', '_', 'a', '-', ' ', '\n', '\u{c4}'];
        let mut values = vec![String::new()];
        for _ in 0..5 {
            let mut longer = Vec::new();
            for v in &values {
                agrees(v);
                for c in alphabet {
                    longer.push(format!("{v}{c}"));
                }
            }
            values = longer;
        }
        values.iter().for_each(|v| agrees(v));
        // Around the length limit, with the last character varied.
        for len in 55..=70 {
            for tail in ["B", "_", "_C", "9", "a", "\n"] {
                let head = "A".repeat(len);
                agrees(&format!("{head}{tail}"));
                agrees(&format!("{}{tail}", "A_".repeat(len / 2)));
                agrees(&format!("A{}{tail}", "_1".repeat(len / 2)));
            }
        }
        // Pseudo-random strings mostly of the rule's own characters.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut v = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 80) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                v.push(match state % 40 {
                    0..=19 => (b'A' + (state % 26) as u8) as char,
                    20..=29 => (b'0' + (state % 10) as u8) as char,
                    30..=36 => '_',
                    37 => 'x',
                    38 => '\n',
                    _ => '.',
                });
            }
            agrees(&v);
        }
        assert_eq!(
            UPPER_SNAKE_CASE_MAX_LEN, 64,
            "the pattern and the message say 64"
        );
    }

    #[test]
    fn message_says_what_the_validator_says() {
        let error = crate::ValidationError::new(
            crate::Section::ConnectionConfig,
            "partnerId",
            crate::ValidationErrorKind::UpperSnakeCase { value: None },
        )
        .to_string();
        let explanation = UPPER_SNAKE_CASE_MESSAGE
            .strip_prefix("UPPER_SNAKE_CASE: ")
            .unwrap();
        assert!(
            error.contains(&format!("UPPER_SNAKE_CASE ({explanation})")),
            "{error}"
        );
    }

    #[test]
    fn dns_label_table() {
        for ok in ["company-b", "acme", "a", "0", "x1-2", "Company-B"] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "evil.com/",
            "evil.com#",
            "evil.com?",
            "x@evil.com#",
            "a\\evil.com",
            "a.b",
            "a b",
            "ä",
            "a:80",
            &"a".repeat(64),
        ] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
        assert!(is_hostname("api.example.com"));
        assert!(!is_hostname("api..example.com"));
        assert!(!is_hostname("example.com/evil"));
    }

    #[test]
    fn header_safety() {
        assert!(is_header_safe("Bearer abc-123_~"));
        for bad in ["a\r\nx-evil: 1", "a\n", "a\0", "é", "\u{7f}"] {
            assert!(!is_header_safe(bad), "{bad:?}");
        }
    }
}
