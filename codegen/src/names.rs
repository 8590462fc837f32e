//! Rust identifiers from catalog keys: case conversion with heck, then sanitizing, so that
//! any key (keywords, leading digits, `-`, `.`, Unicode) gives a valid, lint-clean name.
//! Collisions are detected by the caller ([`crate::check`]) and reported as errors.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// Keywords (strict, reserved and edition-2024 ones) that cannot be plain identifiers.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keeps ASCII letters, digits and single underscores; anything else becomes `_`.
fn ascii_only(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.trim_matches('_').to_owned()
}

/// A name for a key that has no ASCII letters or digits at all: its bytes in hex.
fn hex_name(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn finish(name: String, key: &str, prefix: &str) -> String {
    let name = if name.is_empty() {
        format!("{prefix}{}", hex_name(key))
    } else {
        name
    };
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{prefix}{name}")
    } else if KEYWORDS.contains(&name.as_str()) {
        format!("{name}_")
    } else {
        name
    }
}

/// A snake_case identifier (modules, fields): `personio-v2` → `personio_v2`,
/// `companyId` → `company_id`, `type` → `type_`, `1password` → `_1password`.
pub fn snake(key: &str) -> String {
    finish(ascii_only(&key.to_snake_case()), key, "_")
}

/// An UpperCamelCase identifier (enum variants): `personio-v2` → `PersonioV2`,
/// `self` → `Self_`, `3cx` → `P3cx`.
pub fn camel(key: &str) -> String {
    finish(ascii_only(&key.to_upper_camel_case()), key, "P")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_names() {
        let cases = [
            ("personio", "personio"),
            ("personio-v2", "personio_v2"),
            ("personio-recruiting", "personio_recruiting"),
            ("companyId", "company_id"),
            ("partnerId", "partner_id"),
            ("installation.uuid", "installation_uuid"),
            ("accounts-server", "accounts_server"),
            ("APP_ID", "app_id"),
            ("type", "type_"),
            ("self", "self_"),
            ("crate", "crate_"),
            ("Self", "self_"),
            ("1password-events", "_1password_events"),
            ("3cx", "_3cx"),
            ("größe", "gr_e"),
            ("ü", "_c3bc"),
            ("-", "_2d"),
            ("__", "_5f5f"),
        ];
        for (key, want) in cases {
            assert_eq!(snake(key), want, "{key}");
            syn::parse_str::<syn::Ident>(&snake(key)).unwrap();
        }
    }

    #[test]
    fn camel_names() {
        let cases = [
            ("personio", "Personio"),
            ("personio-v2", "PersonioV2"),
            ("self", "Self_"),
            ("Self", "Self_"),
            ("super", "Super"),
            ("3cx", "P3cx"),
            ("1password-events", "P1passwordEvents"),
            ("ü", "Pc3bc"),
        ];
        for (key, want) in cases {
            assert_eq!(camel(key), want, "{key}");
            syn::parse_str::<syn::Ident>(&camel(key)).unwrap();
        }
    }
}
