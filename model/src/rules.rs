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
