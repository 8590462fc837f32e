//! Helpers shared by the test modules: the catalog builder ([`Entry`], [`catalog`], [`at`])
//! and the diagnostics helpers of `diagnostics.rs`, `templates.rs` and `rules.rs`.
#![allow(dead_code)] // each test module uses some of them

mod catalog;
pub use catalog::*;

use terapi_codegen::{Diagnostic, Severity, lint};

/// The YAML text of a raw string literal that starts with a newline (dropped, so that the
/// first line of the catalog is line 1), for the few catalogs written out because their
/// text is the point of the test.
pub fn src(text: &str) -> &str {
    text.strip_prefix('\n').unwrap_or(text)
}

/// Every diagnostic of `source`, sorted by position.
pub fn diagnostics(source: &str) -> Vec<Diagnostic> {
    lint(source).sorted().into_iter().cloned().collect()
}

/// A readable list of diagnostics for assertion messages.
pub fn dump(ds: &[Diagnostic]) -> String {
    ds.iter()
        .map(|d| {
            format!(
                "  {}:{} {}: {} (help: {:?}, notes: {:?})",
                d.loc.line,
                d.loc.col,
                d.severity,
                d.message,
                d.help,
                d.notes
                    .iter()
                    .map(|(l, n)| format!("{}:{} {n}", l.line, l.col))
                    .collect::<Vec<_>>()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one diagnostic whose message contains `needle`.
pub fn find<'a>(ds: &'a [Diagnostic], needle: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = ds.iter().filter(|d| d.message.contains(needle)).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one diagnostic containing {needle:?}, got:\n{}",
        dump(ds)
    );
    found[0]
}

/// Asserts the severity of `d` and its place, a `(line, column)` as [`at`] gives it.
pub fn assert_at(d: &Diagnostic, severity: Severity, (line, col): (u32, u32)) {
    assert_eq!(
        (d.severity, d.loc.line, d.loc.col),
        (severity, line, col),
        "wrong severity or place for: {}",
        d.message
    );
}

pub fn assert_help(d: &Diagnostic, want: &str) {
    assert_eq!(
        d.help.as_deref(),
        Some(want),
        "wrong help for: {}",
        d.message
    );
}

/// A minimal valid catalog (one API_KEY provider using its one connection param).
pub fn minimal() -> String {
    Entry::api_key("acme")
        .base_url("https://${connectionConfig.subdomain}.acme.example")
        .header("authorization", "Bearer ${apiKey}")
        .config(
            Param::new("subdomain")
                .title("Subdomain")
                .description("Your subdomain.")
                .pattern("^[a-z0-9-]+$"),
        )
        .no_credentials()
        .credential(Param::api_key().secret(true))
        .yaml()
}
