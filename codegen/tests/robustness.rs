//! Robustness tests of `terapi-codegen`, through its public API (`lint`, `generate`):
//!
//! * property tests (proptest, fixed case count, no persisted regressions): arbitrary text
//!   never panics and every diagnostic is located inside the file; structured catalogs with
//!   hostile keys, descriptions, flags and patterns either generate code that parses (with
//!   no duplicate items and no description outside a comment) or fail with located errors;
//!   keys that map to the same Rust name are always reported;
//! * a deterministic mutation fuzzer (xorshift, fixed seed) over the example catalog and a
//!   slice of the real 981-provider catalog;
//! * the whole real catalog is linted once, and every location is checked against its text;
//! * minimal regression tests for the bugs found (they fail until the bugs are fixed).
//!
//! `TERAPI_ROBUSTNESS_SCALE=N` multiplies the cases and mutation rounds, and
//! `TERAPI_FUZZ_SEED=S` changes the fuzzing seeds, for a deeper run on demand.
//!
//! The real catalog is read from `../shared/corpus/providers-2026-08-21.yaml` beside the
//! repository (or the file named by `TERAPI_CORPUS`); the tests that need it are the slow tier
//! (`#[ignore]`d, run by `scripts/test-slow`), skipped with a note when it is absent, and fail
//! when it is absent in CI (`CI` set).

use std::collections::BTreeSet;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[path = "it/common/mod.rs"]
mod common;
/// The minimal valid catalog of the fast tests (`tests/it`).
static MINIMAL: std::sync::LazyLock<String> = std::sync::LazyLock::new(common::minimal);
use proptest::prelude::*;
use terapi_codegen::{Diagnostic, Diagnostics, Error, Options, Severity, generate, lint};

// ---------------------------------------------------------------------------------------
// Shared checks.
// ---------------------------------------------------------------------------------------

/// The real catalog, if it is there.
fn corpus() -> Option<String> {
    let path = std::env::var_os("TERAPI_CORPUS").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/corpus/providers-2026-08-21.yaml")
        },
        PathBuf::from,
    );
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the real catalog {} is not readable in CI: {e} (`.ci/run` expects ../shared beside the repository)",
                path.display()
            );
            eprintln!(
                "skipped: the real catalog {} is not readable: {e}",
                path.display()
            );
            None
        }
    }
}

/// The example catalog of the workspace.
fn example() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers.yaml");
    std::fs::read_to_string(&path).expect("the workspace's providers.yaml")
}

/// The 1-based line that byte `offset` of `source` is on.
fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The 1-based line and column (in characters) of byte `offset` of `source`, if it is a
/// char boundary.
fn position(source: &str, offset: usize) -> Option<(usize, usize)> {
    let before = source.get(..offset)?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    Some((line_of(source, offset), before[start..].chars().count() + 1))
}

/// The number of YAML line breaks (`\r\n`, `\r` or `\n`) in `source`.
fn yaml_line_breaks(source: &str) -> usize {
    source.matches('\n').count() + source.matches('\r').count() - source.matches("\r\n").count()
}

/// Whether `source` is clear of the two known location bugs (see the regression tests at
/// the end: YAML error offsets count characters, and a lone `\r` starts a line for the YAML
/// parser only), so that every location must agree exactly with its byte offset.
fn exact_locations_expected(source: &str) -> bool {
    source.is_ascii() && !source.contains('\r')
}

/// Why a location is outside `source` (or, where [`exact_locations_expected`], why its line
/// and column disagree with its byte offset), if it is.
fn out_of_range(source: &str, line: u32, col: u32, offset: usize) -> Option<String> {
    // Lines as the YAML parser counts them; `lone_carriage_return_...` covers the difference
    // to lines as `str::lines` (and the report's snippet) count them.
    let last_line = yaml_line_breaks(source) + 1;
    if line < 1 || col < 1 {
        return Some(format!("line {line}, col {col} is not 1-based"));
    }
    if offset > source.len() {
        return Some(format!(
            "offset {offset} is past the end ({} bytes)",
            source.len()
        ));
    }
    if line as usize > last_line {
        return Some(format!("line {line} is past the last line ({last_line})"));
    }
    if exact_locations_expected(source) {
        let at = position(source, offset);
        if at != Some((line as usize, col as usize)) {
            return Some(format!("offset {offset} is at {at:?}"));
        }
    }
    None
}

/// Why a diagnostic (or one of its notes) is located outside `source`, if it is.
fn bad_location(source: &str, d: &Diagnostic) -> Option<String> {
    let own = std::iter::once((&d.loc, d.message.as_str()));
    let notes = d.notes.iter().map(|(l, n)| (l, n.as_str()));
    own.chain(notes).find_map(|(loc, what)| {
        out_of_range(source, loc.line, loc.col, loc.offset).map(|why| {
            format!(
                "{}:{} (offset {}) `{what}`: {why}",
                loc.line, loc.col, loc.offset
            )
        })
    })
}

/// Why `generate`'s result breaks the contract, if it does: an `Ok` must parse with syn and
/// have no duplicate items; an `Err` must be a catalog error with located errors, rendered
/// with `providers.yaml:LINE:COL`.
fn bad_result(source: &str, result: &Result<terapi_codegen::Generated, Error>) -> Option<String> {
    match result {
        Ok(generated) => {
            for d in &generated.warnings {
                if let Some(why) = bad_location(source, d) {
                    return Some(format!("warning: {why}"));
                }
            }
            let file = match syn::parse_file(&generated.code) {
                Ok(file) => file,
                Err(e) => return Some(format!("Ok output does not parse: {e}")),
            };
            duplicate_items(&file.items, "crate")
        }
        Err(e @ Error::Catalog { diagnostics, .. }) => {
            if !diagnostics.has_errors() {
                return Some("Error::Catalog without an error".into());
            }
            let text = e.to_string();
            for d in diagnostics.sorted() {
                if let Some(why) = bad_location(source, d) {
                    return Some(why);
                }
                let headline = format!("providers.yaml:{}:{}: ", d.loc.line, d.loc.col);
                if !text.contains(&headline) {
                    return Some(format!("the report lacks `{headline}`:\n{text}"));
                }
                // The snippet points where the headline does (except at the very end after
                // a final line break, which the snippet shows at the end of the last line).
                let snippet = format!("--> providers.yaml:{}:{}\n", d.loc.line, d.loc.col);
                let at_end = d.loc.offset >= source.len() && source.ends_with('\n');
                if exact_locations_expected(source) && !at_end && !text.contains(&snippet) {
                    return Some(format!("the report lacks `{snippet}`:\n{text}"));
                }
            }
            None
        }
        Err(e) => Some(format!("unexpected error kind: {e}")),
    }
}

/// Why the items of one scope are not unique, if they are not (recursively through modules,
/// enums and structs).
fn duplicate_items(items: &[syn::Item], scope: &str) -> Option<String> {
    let mut types = BTreeSet::new();
    let mut values = BTreeSet::new();
    let check = |set: &mut BTreeSet<String>, name: String| {
        if set.insert(name.clone()) {
            None
        } else {
            Some(format!("duplicate item `{name}` in `{scope}`"))
        }
    };
    for item in items {
        let found = match item {
            syn::Item::Mod(m) => {
                let name = m.ident.to_string();
                if let Some((_, inner)) = &m.content
                    && let Some(why) = duplicate_items(inner, &name)
                {
                    return Some(why);
                }
                check(&mut types, name)
            }
            syn::Item::Struct(s) => {
                let fields: Vec<String> = s
                    .fields
                    .iter()
                    .filter_map(|f| f.ident.as_ref().map(ToString::to_string))
                    .collect();
                if let Some(why) = unique(&fields, &format!("struct {}", s.ident)) {
                    return Some(why);
                }
                check(&mut types, s.ident.to_string())
            }
            syn::Item::Enum(e) => {
                let variants: Vec<String> =
                    e.variants.iter().map(|v| v.ident.to_string()).collect();
                if let Some(why) = unique(&variants, &format!("enum {}", e.ident)) {
                    return Some(why);
                }
                check(&mut types, e.ident.to_string())
            }
            syn::Item::Trait(t) => check(&mut types, t.ident.to_string()),
            syn::Item::Type(t) => check(&mut types, t.ident.to_string()),
            syn::Item::Fn(f) => check(&mut values, f.sig.ident.to_string()),
            syn::Item::Const(c) => check(&mut values, c.ident.to_string()),
            syn::Item::Static(s) => check(&mut values, s.ident.to_string()),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn unique(names: &[String], what: &str) -> Option<String> {
    let mut seen = BTreeSet::new();
    names
        .iter()
        .find(|n| !seen.insert(n.as_str()))
        .map(|n| format!("duplicate `{n}` in {what}"))
}

/// Runs `lint` and `generate` on `source`; why they break their contract, if they do
/// (a panic included).
fn violation(source: &str) -> Option<String> {
    let linted = catch_unwind(AssertUnwindSafe(|| lint(source)));
    let Ok(linted) = linted else {
        return Some("lint panicked".into());
    };
    for d in linted.sorted() {
        if let Some(why) = bad_location(source, d) {
            return Some(format!("lint: {why}"));
        }
    }
    let generated = catch_unwind(AssertUnwindSafe(|| {
        let result = generate(Path::new("providers.yaml"), source, &Options::default());
        let why = bad_result(source, &result);
        (result.is_ok(), why)
    }));
    match generated {
        Err(_) => Some("generate (or rendering its report) panicked".into()),
        Ok((_, Some(why))) => Some(format!("generate: {why}")),
        Ok((_, None)) => None,
    }
}

/// Lines of code (not comments, not string literals) of generated code that contain `needle`.
fn code_lines_with<'c>(code: &'c str, needle: &str) -> Vec<&'c str> {
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//") && l.contains(needle))
        .filter(|l| !is_string_literal(l))
        .collect()
}

/// Whether a line is one string literal (the embedded JSON description, which carries the
/// catalog's text escaped), as Rust reads it.
fn is_string_literal(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('"') && syn::parse_str::<syn::LitStr>(t.trim_end_matches(',')).is_ok()
}

/// How many times the default amount of work to do: `TERAPI_ROBUSTNESS_SCALE` (default 1),
/// for a deeper run on demand.
fn scale() -> u32 {
    std::env::var("TERAPI_ROBUSTNESS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// Mixed into every fuzzing seed: `TERAPI_FUZZ_SEED` (default 0), to explore other inputs.
fn seed_offset() -> u64 {
    std::env::var("TERAPI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 256 * scale(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// 1a. Arbitrary text.
// ---------------------------------------------------------------------------------------

/// Pieces that matter to YAML, to templates and to the checks.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    "\n", "\n", "\n", "    ", "    ", "        ", " ", ":", ": ", "- ", "-", "${", "}", "||",
    "'", "\"", "\t", "\r", "\r\n", "#", "{", "[", "]", ",", "&a", "*a", "!!str ", "? ", "|",
    ">", "\\", "%", "\u{0}", "\u{feff}", "\u{85}", "\u{2028}", "é", "日本", "💥", "ǅ",
    "connectionConfig.", "credentials.", "apiKey", "acme", "type", "self", "display_name",
    "auth_mode", "API_KEY", "docs", "proxy", "base_url", "headers", "connection_config",
    "credentials", "pattern", "string", "https://", ".example", "alias", "true", "1",
    "99999999999999999999", "~", "---", "...",
];

fn arbitrary_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(TOKENS).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
        1 => "[a-z_]{1,8}",
    ];
    prop_oneof![
        1 => any::<String>(),
        4 => prop::collection::vec(piece, 0..80).prop_map(|v| v.concat()),
    ]
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn arbitrary_text_never_panics_and_is_located_in_range(text in arbitrary_text()) {
        if let Some(why) = violation(&text) {
            prop_assert!(false, "{}", why);
        }
    }

    /// Arbitrary text spliced into a valid catalog, so that it reaches the checks.
    #[test]
    fn arbitrary_text_inside_a_catalog_never_panics(
        at in 0..MINIMAL.len(),
        text in arbitrary_text(),
    ) {
        let at = (0..=at).rev().find(|&i| MINIMAL.is_char_boundary(i)).unwrap_or(0);
        let source = format!("{}{text}{}", &MINIMAL[..at], &MINIMAL[at..]);
        if let Some(why) = violation(&source) {
            prop_assert!(false, "{}", why);
        }
    }
}

// ---------------------------------------------------------------------------------------
// 1b. Structured catalogs with hostile content.
// ---------------------------------------------------------------------------------------

#[rustfmt::skip]
const PROVIDER_KEYS: &[&str] = &[
    "type", "self", "Self", "crate", "super", "async", "fn", "match", "1password", "3cx",
    "größe", "日本", "foo-bar", "foo_bar", "fooBar", "FOO_BAR", "foo.bar", "a-b.c", "acme",
    "ab1", "ab-1", "_",
];

#[rustfmt::skip]
const PARAM_KEYS: &[&str] = &[
    "type", "self", "Self", "match", "fn", "crate", "2fa", "größe", "日本", "a.b", "x-y",
    "foo-bar", "foo_bar", "fooBar", "FOO_BAR", "companyId", "company_id", "_", "__", "-",
    "apiKey",
];

const DESCRIPTIONS: &[&str] = &[
    "A plain description.",
    "\"); std::process::exit(1); (\"",
    "\"#); std::process::exit(1); (r#\"",
    "```\nstd::process::exit(1);\n```",
    "```rust\nfn main() { std::process::exit(1) }\n```",
    "*/ std::process::exit(1); /*",
    "see [x] and [x](https://e.example) and <b>bold</b> <script>",
    "line one\n\n    indented code\nline three",
    "\r\nCR\rLF\u{0}NUL\u{7f}DEL\u{2028}LS",
    "${connectionConfig.other} || }",
    "\\\\ \\n \\\" '' \t tab",
    "",
    "   ",
    "#![deny(warnings)] #[doc = \"x\"]",
    "https://example.com/a_b*c*",
    "日本語 größe 💥",
];

const TITLES: &[&str] = &["Title", "\"quoted\" \\ back", "", "ǅ 💥", "a\nb"];

const PATTERNS: &[&str] = &[
    "^[a-z0-9-]+$",
    "^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$",
    "^[0-9]+$",
    ".*",
    "^\\d{3}$",
    "^(?:a|b)$",
    "^[^\"\\\\]*$",
    "^\\/x\\:$",
    "(?!x)",
    "[z-a]",
    "(",
    "^[a-zA-Z0-9_!@#$%^&*()\\-+=]+$",
    "\\",
    "a{2,1}",
    "",
];

const DISPLAY_NAMES: &[&str] = &["Acme", "\"); (\"", "\\\"#", "a\nb", "\u{0}", "💥"];

/// One generated param.
#[derive(Debug, Clone)]
struct Param {
    key: &'static str,
    title: Option<&'static str>,
    description: Option<&'static str>,
    optional: Option<bool>,
    secret: Option<bool>,
    pattern: Option<&'static str>,
}

/// One generated provider.
#[derive(Debug, Clone)]
struct Provider {
    key: &'static str,
    display_name: &'static str,
    params: Vec<Param>,
    api_key: Param,
}

fn param(keys: &'static [&'static str]) -> impl Strategy<Value = Param> {
    (
        prop::sample::select(keys),
        prop::option::of(prop::sample::select(TITLES)),
        prop::option::of(prop::sample::select(DESCRIPTIONS)),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::sample::select(PATTERNS)),
    )
        .prop_map(
            |(key, title, description, optional, secret, pattern)| Param {
                key,
                title,
                description,
                optional,
                secret,
                pattern,
            },
        )
}

fn provider(key: &'static str) -> impl Strategy<Value = Provider> {
    (
        prop::sample::select(DISPLAY_NAMES),
        prop::collection::vec(param(PARAM_KEYS), 0..4),
        param(&["apiKey"]),
    )
        .prop_map(move |(display_name, mut params, api_key)| {
            // Keys of one mapping are distinct (a duplicate is a YAML error, tested elsewhere).
            let mut seen = BTreeSet::new();
            params.retain(|p| seen.insert(p.key));
            Provider {
                key,
                display_name,
                params,
                api_key,
            }
        })
}

fn catalog() -> impl Strategy<Value = Vec<Provider>> {
    prop::sample::subsequence(PROVIDER_KEYS, 1..=5)
        .prop_shuffle()
        .prop_flat_map(|keys| keys.into_iter().map(provider).collect::<Vec<_>>())
}

/// A YAML double-quoted scalar that holds exactly `s`.
fn dq(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A YAML single-quoted scalar that holds exactly `s` (which has no line break).
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn param_yaml(p: &Param, out: &mut String) {
    out.push_str(&format!("        {}:\n", sq(p.key)));
    out.push_str("            type: string\n");
    if let Some(t) = p.title {
        out.push_str(&format!("            title: {}\n", dq(t)));
    }
    if let Some(d) = p.description {
        out.push_str(&format!("            description: {}\n", dq(d)));
    }
    if let Some(b) = p.optional {
        out.push_str(&format!("            optional: {b}\n"));
    }
    if let Some(b) = p.secret {
        out.push_str(&format!("            secret: {b}\n"));
    }
    if let Some(pat) = p.pattern {
        out.push_str(&format!("            pattern: {}\n", dq(pat)));
    }
}

/// The catalog text: API_KEY providers whose params are all used in header templates.
fn catalog_yaml(providers: &[Provider]) -> String {
    catalog_yaml_with_spans(providers).0
}

/// [`catalog_yaml`], with the byte range of each provider's entry.
fn catalog_yaml_with_spans(providers: &[Provider]) -> (String, Vec<Range<usize>>) {
    let mut out = String::from("# generated by the robustness tests\n");
    let mut spans = Vec::new();
    for p in providers {
        let start = out.len();
        out.push_str(&format!("{}:\n", sq(p.key)));
        out.push_str(&format!("    display_name: {}\n", dq(p.display_name)));
        out.push_str("    auth_mode: API_KEY\n");
        out.push_str("    docs: https://example.com/docs\n");
        out.push_str("    proxy:\n");
        out.push_str("        base_url: https://api.example.com/v1\n");
        out.push_str("        headers:\n");
        out.push_str("            authorization: Bearer ${apiKey}\n");
        for (i, param) in p.params.iter().enumerate() {
            let template = format!("${{connectionConfig.{}}}", param.key);
            out.push_str(&format!("            x-p{i}: {}\n", sq(&template)));
        }
        if !p.params.is_empty() {
            out.push_str("    connection_config:\n");
            for param in &p.params {
                param_yaml(param, &mut out);
            }
        }
        out.push_str("    credentials:\n");
        param_yaml(&p.api_key, &mut out);
        spans.push(start..out.len());
    }
    (out, spans)
}

/// The Rust names a key maps to, as documented in `names.rs`: used to know which
/// generated catalogs must be rejected for a collision.
fn snake(key: &str) -> String {
    terapi_codegen::names::snake(key)
}

fn camel(key: &str) -> String {
    terapi_codegen::names::camel(key)
}

/// Whether two of `names` are equal.
fn collide(names: impl IntoIterator<Item = String>) -> bool {
    let mut seen = BTreeSet::new();
    names.into_iter().any(|k| !seen.insert(k))
}

/// Checks one structured catalog, generated with or without doc comments.
fn check_catalog(providers: &[Provider], docs: bool) -> Result<(), TestCaseError> {
    let (source, spans) = catalog_yaml_with_spans(providers);
    let options = Options {
        docs,
        ..Options::default()
    };
    let result = generate(Path::new("providers.yaml"), &source, &options);
    if let Some(why) = bad_result(&source, &result) {
        return Err(TestCaseError::fail(format!("{why}\ninput:\n{source}")));
    }
    // Pairs of providers whose keys map to the same module or variant name.
    let mut clashes = Vec::new();
    for (i, p) in providers.iter().enumerate() {
        for (j, q) in providers.iter().enumerate().skip(i + 1) {
            if snake(p.key) == snake(q.key) || camel(p.key) == camel(q.key) {
                clashes.push((i, j));
            }
        }
    }
    let field_clash = providers
        .iter()
        .any(|p| collide(p.params.iter().map(|q| snake(q.key))));
    match result {
        Ok(generated) => {
            prop_assert!(
                clashes.is_empty() && !field_clash,
                "keys that map to the same Rust name generated Ok:\n{source}"
            );
            let exits = code_lines_with(&generated.code, "process::exit");
            prop_assert!(
                exits.is_empty(),
                "a description left its comment: {exits:?}\ninput:\n{source}"
            );
        }
        Err(Error::Catalog { diagnostics, .. }) => {
            let reported = diagnostics
                .sorted()
                .iter()
                .any(|d| d.message.contains("both map to the Rust"));
            // A provider with another error is left out of the module and variant collision
            // check (the known bug of `collision_is_reported_next_to_other_errors`), so
            // only demand the report for pairs whose entries are otherwise clean.
            let has_other_error = |span: &Range<usize>| {
                diagnostics.sorted().iter().any(|d| {
                    d.severity == Severity::Error
                        && span.contains(&d.loc.offset)
                        && !d.message.contains("both map to the Rust")
                })
            };
            let clean_clash = clashes
                .iter()
                .any(|&(i, j)| !has_other_error(&spans[i]) && !has_other_error(&spans[j]));
            prop_assert!(
                reported || !(clean_clash || field_clash),
                "a name collision was not reported:\n{}\ninput:\n{source}",
                dump(&diagnostics)
            );
        }
        Err(e) => prop_assert!(false, "unexpected error: {e}"),
    }
    Ok(())
}

/// A readable list of diagnostics.
fn dump(diagnostics: &Diagnostics) -> String {
    diagnostics
        .sorted()
        .iter()
        .map(|d| {
            format!(
                "  {}:{} {}: {}",
                d.loc.line, d.loc.col, d.severity, d.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Pairs of keys that map to the same module, variant or field name.
const COLLIDING: &[(&str, &str)] = &[
    ("foo-bar", "foo_bar"),
    ("foo-bar", "fooBar"),
    ("foo_bar", "FOO_BAR"),
    ("fooBar", "foo.bar"),
    ("self", "Self"),
    ("1password", "_1password"),
    ("größe", "gr-e"),
    ("ab1", "ab-1"),
    ("type", "Type"),
];

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn hostile_catalogs_generate_parsable_code_or_located_errors(
        providers in catalog(),
        docs in prop::bool::weighted(0.8),
    ) {
        check_catalog(&providers, docs)?;
    }

    /// Two providers (or two params of one section) whose keys map to the same Rust name
    /// are always an error that says so, next to any other providers.
    #[test]
    fn colliding_names_are_always_reported(
        pair in prop::sample::select(COLLIDING),
        others in catalog(),
        in_params in any::<bool>(),
        swap in any::<bool>(),
    ) {
        let (a, b) = if swap { (pair.1, pair.0) } else { pair };
        // Only keys with the same snake_case name clash as fields.
        let in_params = in_params && snake(a) == snake(b);
        let plain = |key: &'static str| Param {
            key,
            title: Some("T"),
            description: None,
            optional: None,
            secret: None,
            pattern: None,
        };
        let mut providers: Vec<Provider> = others
            .into_iter()
            .filter(|p| {
                ![a, b].iter().any(|k| snake(k) == snake(p.key) || camel(k) == camel(p.key))
            })
            .collect();
        if in_params {
            providers.push(Provider {
                key: "clash",
                display_name: "Clash",
                params: vec![plain(a), plain(b)],
                api_key: plain("apiKey"),
            });
        } else {
            for key in [a, b] {
                providers.push(Provider {
                    key,
                    display_name: "Clash",
                    params: Vec::new(),
                    api_key: plain("apiKey"),
                });
            }
        }
        let source = catalog_yaml(&providers);
        let result = generate(Path::new("providers.yaml"), &source, &Options::default());
        let text = match &result {
            Err(e @ Error::Catalog { .. }) => e.to_string(),
            Ok(_) => return Err(TestCaseError::fail(format!("`{a}` and `{b}` gave Ok:\n{source}"))),
            Err(e) => return Err(TestCaseError::fail(format!("`{a}` and `{b}` gave {e}"))),
        };
        prop_assert!(text.contains("both map to the Rust"), "{}\ninput:\n{}", text, source);
        let names_both = text.contains(&format!("`{a}`")) && text.contains(&format!("`{b}`"));
        prop_assert!(names_both, "{}", text);
        check_catalog(&providers, true)?;
    }
}

// ---------------------------------------------------------------------------------------
// 2. Mutation fuzzing.
// ---------------------------------------------------------------------------------------

/// A xorshift64 generator: deterministic, no crates.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }
}

/// A char boundary of `s` at or before a random byte.
fn boundary(rng: &mut XorShift, s: &str) -> usize {
    let at = rng.below(s.len() + 1);
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

#[rustfmt::skip]
const INSERTS: &[&str] = &[
    "${", "}", "||", ":", "- ", "'", "\"", "\t", "é", "日", "💥", "\u{0}", "\r", "\n", " ",
    "#", "&", "*", "{", "[", "${connectionConfig.", "${apiKey}", "\u{2028}", "\u{feff}",
];

/// Applies one random mutation to `text`.
fn mutate(rng: &mut XorShift, text: &str) -> String {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let n = lines.len();
    match rng.below(10) {
        0 if n > 0 => {
            lines.remove(rng.below(n));
            lines.concat()
        }
        1 if n > 0 => {
            let i = rng.below(n);
            lines.insert(i, lines[i]);
            lines.concat()
        }
        2 if n > 1 => {
            let (i, j) = (rng.below(n), rng.below(n));
            lines.swap(i, j);
            lines.concat()
        }
        3 if n > 0 => {
            let i = rng.below(n);
            let body = lines[i].trim_start_matches(' ');
            let indent = *rng.pick(&["", " ", "  ", "   ", "    ", "        ", "\t", "     "]);
            let deeper = format!("{indent}{}", lines[i]);
            let changed = if rng.below(2) == 0 {
                format!("{indent}{body}")
            } else {
                deeper
            };
            let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            out[i] = changed;
            out.concat()
        }
        4 if !text.is_empty() => {
            let at = boundary(rng, text);
            let len = text[at..].chars().next().map_or(0, char::len_utf8);
            format!("{}{}", &text[..at], &text[at + len..])
        }
        5 => {
            let at = boundary(rng, text);
            let c = char::from_u32(rng.below(0x3000) as u32).unwrap_or('?');
            format!("{}{c}{}", &text[..at], &text[at..])
        }
        6 | 7 => {
            let at = boundary(rng, text);
            format!("{}{}{}", &text[..at], rng.pick(INSERTS), &text[at..])
        }
        8 => {
            let at = boundary(rng, text);
            text[..at].to_owned()
        }
        _ => {
            // Insert a char right after a `: ` or inside a value, where templates live.
            match text
                .match_indices(": ")
                .map(|(i, _)| i + 2)
                .collect::<Vec<_>>()
            {
                spots if !spots.is_empty() => {
                    let at = *rng.pick(&spots);
                    format!("{}{}{}", &text[..at], rng.pick(INSERTS), &text[at..])
                }
                _ => text.to_owned(),
            }
        }
    }
}

/// The first `lines` lines of the real catalog, cut before a provider key.
fn corpus_slice(corpus: &str, lines: usize) -> String {
    let mut out = String::new();
    for (i, line) in corpus.split_inclusive('\n').enumerate() {
        let top_level = line.starts_with(|c: char| c.is_ascii_alphanumeric());
        if i >= lines && top_level {
            break;
        }
        out.push_str(line);
    }
    out
}

/// A smaller text (removing line runs, then chars) that still fails [`violation`], within
/// a budget of tries. The panic hook is silenced meanwhile (only on this failure path).
fn minimize(source: &str) -> String {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    // The same kind of violation: its text without numbers, cut short.
    let kind = |why: &str| -> String {
        why.chars()
            .filter(|c| !c.is_ascii_digit())
            .take(40)
            .collect()
    };
    let want = violation(source).map(|why| kind(&why));
    let mut budget = 2000usize;
    let mut fails = |candidate: &str| {
        budget = budget.saturating_sub(1);
        budget > 0 && violation(candidate).map(|why| kind(&why)) == want
    };
    let mut text = source.to_owned();
    let mut chunk = text.split_inclusive('\n').count().max(1);
    while chunk >= 1 {
        let mut i = 0;
        loop {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            if i >= lines.len() {
                break;
            }
            let candidate = [&lines[..i], &lines[(i + chunk).min(lines.len())..]]
                .concat()
                .concat();
            if fails(&candidate) {
                text = candidate;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk /= 2;
    }
    let mut i = 0;
    while i < text.len() && text.len() < 2000 {
        let len = text[i..].chars().next().map_or(1, char::len_utf8);
        let candidate = format!("{}{}", &text[..i], &text[i + len..]);
        if fails(&candidate) {
            text = candidate;
        } else {
            i += len;
        }
    }
    std::panic::set_hook(hook);
    text
}

/// Mutates `base` `rounds` times (1-3 stacked mutations each, 2 on average) and checks
/// every result. Returns the number of mutations applied.
fn fuzz(name: &str, base: &str, seed: u64, rounds: usize) -> usize {
    let seed = (seed ^ seed_offset()) | 1;
    let mut rng = XorShift(seed);
    let mut mutations = 0;
    for round in 0..rounds * scale() as usize {
        let mut text = base.to_owned();
        for _ in 0..1 + rng.below(3) {
            text = mutate(&mut rng, &text);
            mutations += 1;
        }
        if let Some(why) = violation(&text) {
            let small = minimize(&text);
            let small_why = violation(&small).unwrap_or_default();
            panic!(
                "{name}, round {round} (seed {seed:#x}): {why}\nminimized input: {small:?}\n({small_why})"
            );
        }
    }
    mutations
}

#[test]
fn mutated_example_catalog_never_panics() {
    let n = fuzz("providers.yaml", &example(), 0x9E37_79B9_7F4A_7C15, 700);
    assert!(n >= 1000, "{n} mutations");
}

/// The real catalog's first ~3000 lines, cut before a provider key.
fn real_slice() -> Option<String> {
    corpus().map(|corpus| corpus_slice(&corpus, 3000))
}

#[test]
#[ignore = "slow tier: reads the real corpus in ../shared/corpus"]
fn mutated_real_catalog_windows_never_panic() {
    let Some(slice) = real_slice() else { return };
    let mut rng = XorShift((0xD1B5_4A32_D192_ED03 ^ seed_offset()) | 1);
    let blocks: Vec<usize> = slice
        .split_inclusive('\n')
        .scan(0, |at, line| {
            let start = *at;
            *at += line.len();
            Some((start, line))
        })
        .filter(|(_, line)| line.starts_with(|c: char| c.is_ascii_alphanumeric()))
        .map(|(start, _)| start)
        .collect();
    // Windows of 3 to 8 providers of the slice, cut at provider boundaries, keep each run
    // short (linting the whole slice takes about 0.4 s in debug mode).
    let mut n = 0;
    for round in 0..8 {
        let from = *rng.pick(&blocks);
        let to = blocks
            .iter()
            .copied()
            .filter(|&b| b > from)
            .nth(2 + rng.below(6))
            .unwrap_or(slice.len());
        n += fuzz(
            &format!("real catalog window {round} (bytes {from}..{to})"),
            &slice[from..to],
            rng.next(),
            80,
        );
    }
    assert!(n >= 1000, "{n} mutations");
}

#[test]
#[ignore = "slow tier: reads the real corpus in ../shared/corpus"]
fn mutated_real_catalog_slice_never_panics() {
    let Some(slice) = real_slice() else { return };
    let n = fuzz("real catalog slice", &slice, 0x2545_F491_4F6C_DD1D, 4);
    assert!(n >= 4, "{n} mutations");
}

// ---------------------------------------------------------------------------------------
// 3. The whole real catalog.
// ---------------------------------------------------------------------------------------

/// Lints the whole real catalog: no panic, and every location (notes included) is inside
/// the file, with its byte offset on the line and at the column (in characters) it names.
#[test]
#[ignore = "slow tier: reads the real corpus in ../shared/corpus"]
fn real_catalog_lints_with_every_location_on_its_line() {
    let Some(corpus) = corpus() else { return };
    let linted = catch_unwind(AssertUnwindSafe(|| lint(&corpus)));
    let linted = linted.expect("lint panicked on the real catalog");
    let ds = linted.sorted();
    assert!(!ds.is_empty(), "the real catalog has findings");
    let mut wrong = Vec::new();
    for d in &ds {
        if let Some(why) = bad_location(&corpus, d) {
            wrong.push(why);
            continue;
        }
        let notes = d.notes.iter().map(|(l, n)| (l, n.as_str()));
        for (loc, what) in std::iter::once((&d.loc, d.message.as_str())).chain(notes) {
            let at = position(&corpus, loc.offset);
            if at != Some((loc.line as usize, loc.col as usize)) {
                wrong.push(format!(
                    "{}:{} `{what}`: offset {} is at {at:?}",
                    loc.line, loc.col, loc.offset
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} locations are wrong:\n{}",
        wrong.len(),
        ds.len(),
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Regressions: minimal inputs for the bugs these tests found. They fail until fixed.
// ---------------------------------------------------------------------------------------

/// The report of `source`, which must fail to generate.
fn report(source: &str) -> String {
    generate(Path::new("providers.yaml"), source, &Options::default())
        .expect_err("the catalog is broken")
        .to_string()
}

/// Regression: a YAML syntax error's `loc.offset` once counted characters, not bytes, so
/// after any non-ASCII text (the real catalog has `Gebrüder Weiss`, `•` and an em dash) it
/// pointed before the error, and the report's caret disagreed with its headline.
#[test]
fn yaml_error_after_non_ascii_text_is_located_at_its_byte_offset() {
    let source = "acme:\n    display_name: Gebrüder Weiss\n    docs: [x\n";
    let linted = lint(source);
    let ds = linted.sorted();
    assert_eq!(ds.len(), 1, "{}", dump(&linted));
    let d = ds[0];
    assert!(d.message.starts_with("invalid YAML"), "{}", d.message);
    assert_eq!((d.loc.line, d.loc.col), (3, 11), "{}", d.message);
    assert_eq!(
        d.loc.offset,
        source.find('[').expect("a bracket"),
        "the offset of 3:11 is the byte of `[`"
    );
    let text = report(source);
    assert!(
        text.contains("--> providers.yaml:3:11\n"),
        "the snippet points elsewhere than the headline:\n{text}"
    );
}

/// A lone `\r` is a line break to the YAML parser, which counts the lines after it one
/// higher; the report's snippet must follow the same count (it once used `\n` only, and the
/// headline named a line the snippet did not show).
#[test]
fn lone_carriage_return_gives_one_line_number_in_the_whole_report() {
    let source = "a: 1\rb: [\n";
    let linted = lint(source);
    let d = linted.sorted()[0];
    // Lines as YAML counts them: `\n`, `\r\n` or a lone `\r` ends one.
    let on = 1 + source[..d.loc.offset]
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || *c == '\r')
        .count();
    let text = report(source);
    assert_eq!(
        d.loc.line as usize, on,
        "the headline's line is not the line of the offset:\n{text}"
    );
    let snippet = format!("--> providers.yaml:{}:{}\n", d.loc.line, d.loc.col);
    assert!(
        text.contains(&snippet),
        "the snippet points elsewhere than the headline:\n{text}"
    );
}

/// Regression: providers with any other error were once dropped before the module and
/// variant collision check, so a collision was only reported once everything else was fixed
/// (the checker reports every problem of a file at once).
#[test]
fn collision_is_reported_next_to_other_errors() {
    let source = "foo-bar:
    display_name: Foo
    auth_mode: API_KEY
    docs: https://example.com/docs
    proxy:
        base_url: https://api.example.com
    credentials:
        apiKey:
            type: string
foo_bar:
    display_name: Foo
    auth_mode: API_KEY
    docs: https://example.com/docs
    proxy:
        base_url: https://api.example.com
        headers:
            x-a: ${connectionConfig.nope}
    credentials:
        apiKey:
            type: string
";
    let linted = lint(source);
    let ds = linted.sorted();
    assert!(
        ds.iter()
            .any(|d| d.message.contains("does not declare") && d.loc.line == 17),
        "{}",
        dump(&linted)
    );
    let clash = ds.iter().find(|d| {
        d.message
            .contains("both map to the Rust module name `foo_bar`")
    });
    let Some(clash) = clash else {
        panic!("the collision is not reported:\n{}", dump(&linted));
    };
    assert_eq!((clash.loc.line, clash.loc.col), (10, 1));
}
