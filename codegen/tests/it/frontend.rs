//! The front end against hostile and huge input, through the public API
//! (`terapi_codegen::yaml::parse`, `yaml::parse_bytes`, `lint`):
//!
//! * invalid UTF-8 is one error at the first invalid byte, with its line and column;
//! * alias bombs ("billion laughs", long strings repeated) are refused with a sentence that
//!   says what was exceeded, not a budget's `Debug` dump;
//! * a catalog 25 times the real one (its entries repeated under renamed keys, about 23 MB)
//!   parses: the YAML budget scales with the input instead of capping the node count (about
//!   20 s in a debug build); so does a 6-times catalog, beyond serde-saphyr's default 250,000
//!   nodes. Both read the real catalog in `../shared/corpus`, so they are in the slow tier
//!   (`cargo test -p terapi-codegen --test it -- --ignored`);
//! * `${now±N:UNIT}` offsets that do not fit and doubled signs are errors located at the
//!   placeholder, never a panic; so are calls nested too deep.
//!
//! No assertion depends on timing.

use crate::common::{Entry, at};
use terapi_codegen::yaml::{self, Node, NodeKind};
use terapi_codegen::{Diagnostic, Severity, lint};

/// The real catalog, beside the repository as in CI (`../shared/corpus/`).
const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/providers-2026-08-21.yaml"
);

fn corpus() -> String {
    std::fs::read_to_string(CORPUS).unwrap_or_else(|e| panic!("{CORPUS}: {e}"))
}

/// `copies` copies of `catalog`'s entries, the keys of copy `i` suffixed with `-copy{i}` (an
/// entry starts at a line in column 0 that is not a comment).
fn repeated(catalog: &str, copies: usize) -> String {
    let mut out = String::with_capacity(catalog.len() * copies + copies * 32 * 1024);
    for i in 0..copies {
        for line in catalog.lines() {
            match line.split_once(':') {
                Some((key, rest)) if !line.starts_with([' ', '#', '\t']) && !key.is_empty() => {
                    out.push_str(key);
                    out.push_str("-copy");
                    out.push_str(&i.to_string());
                    out.push(':');
                    out.push_str(rest);
                }
                _ => out.push_str(line),
            }
            out.push('\n');
        }
    }
    out
}

fn entries(root: &Node) -> usize {
    match &root.kind {
        NodeKind::Map(m) => m.len(),
        other => panic!("the root is not a mapping: {other:?}"),
    }
}

fn assert_repeated_catalog_parses(copies: usize) {
    let one = corpus();
    let single = entries(&yaml::parse(&one).expect("the real catalog parses"));
    let text = repeated(&one, copies);
    let root = yaml::parse(&text).unwrap_or_else(|d| {
        panic!(
            "{copies} copies ({} bytes): {}:{}: {}",
            text.len(),
            d.loc.line,
            d.loc.col,
            d.message
        )
    });
    assert_eq!(entries(&root), single * copies);
    // The last entry's location is exact, deep into the text.
    let NodeKind::Map(m) = &root.kind else {
        unreachable!()
    };
    let (key, _) = m.last().expect("entries");
    let key_text = key.as_str().expect("string keys");
    assert!(
        key_text.ends_with(&format!("-copy{}", copies - 1)),
        "{key_text}"
    );
    assert_eq!(
        text.get(key.loc.offset..key.loc.offset + key.loc.len),
        Some(key_text)
    );
}

#[test]
#[ignore = "slow tier: reads the real catalog in ../shared/corpus"]
fn a_catalog_six_times_the_real_one_parses() {
    // About 300,000 nodes: more than serde-saphyr's default budget allows any input.
    assert_repeated_catalog_parses(6);
}

/// About 20 s in a debug build (the CLI lints and generates it in about a second in a
/// release build: BENCHMARKS.md, "Summary").
#[test]
#[ignore = "slow tier: reads the real catalog in ../shared/corpus, and takes about 20 s in a debug build"]
fn a_catalog_25_times_the_real_one_parses() {
    assert_repeated_catalog_parses(25);
}

#[test]
fn invalid_utf8_is_located_at_its_first_byte() {
    let mut bytes = Vec::new();
    for i in 1..57 {
        bytes.extend_from_slice(format!("k{i}: value {i}\n").as_bytes());
    }
    let at = bytes.len() + "k57: ".len() + "é".len();
    bytes.extend_from_slice("k57: é".as_bytes());
    bytes.extend_from_slice(b"\xC0\xAF rest\n");
    let d = yaml::parse_bytes(&bytes).unwrap_err();
    assert_eq!(d.severity, Severity::Error);
    assert_eq!((d.loc.line, d.loc.col, d.loc.offset), (57, 7, at));
    assert_eq!(
        d.message,
        format!(
            "invalid UTF-8 at byte {at} (line 57, column 7): the catalog must be UTF-8 (save it \
             as UTF-8; a byte order mark at the start is allowed)"
        )
    );
    // The same text with the bytes replaced (as a report shows it) has the error's line.
    let shown = String::from_utf8_lossy(&bytes);
    assert_eq!(&shown[at - "k57: é".len()..at], "k57: é");
}

#[test]
fn a_byte_order_mark_at_the_start_is_accepted() {
    let text = format!("\u{FEFF}{}", include_str!("../../../providers.yaml"));
    assert!(yaml::parse_bytes(text.as_bytes()).is_ok());
    let ds = lint(&text);
    assert_eq!(ds.counts().0, 0, "{:?}", ds.sorted());
}

/// Billion laughs: nine levels of ten aliases to the level before, 10^9 strings.
fn billion_laughs() -> String {
    let mut s = String::from("lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..=9 {
        let alias = format!("*lol{}", i - 1);
        let items = [alias.as_str(); 10].join(", ");
        s.push_str(&format!("lol{i}: &lol{i} [{items}]\n"));
    }
    s
}

fn assert_expansion_refused(d: &Diagnostic, what: &str) {
    let want = format!(
        "invalid YAML: the catalog expands to more than {what} once its YAML aliases (`*name`) \
         are replaced by what their anchors (`&name`) hold: a catalog of "
    );
    assert!(d.message.starts_with(&want), "{}", d.message);
    assert!(
        d.message.ends_with(
            "aliases must not multiply the document (as an alias bomb, \"billion laughs\", does)"
        ),
        "{}",
        d.message
    );
    assert!(!d.message.contains("budget breached"), "{}", d.message);
    assert!(d.loc.line >= 1 && d.loc.col >= 1);
}

#[test]
fn billion_laughs_is_refused() {
    let text = billion_laughs();
    let d = yaml::parse(&text).unwrap_err();
    assert_expansion_refused(&d, "20000 parser events");
    // The rule and the place: the first alias of `lol4`, where the replay passes the budget.
    assert_eq!(
        (d.rule, d.loc.line, d.loc.col),
        (terapi_codegen::Rule::SizeBudget, 5, 14)
    );
    // Through the whole pipeline: one located error.
    let ds = lint(&text);
    let errors: Vec<_> = ds.sorted().into_iter().collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0], &d);
}

#[test]
fn long_strings_repeated_through_aliases_are_refused() {
    let text = format!(
        "a: &a {}\nb: &b [{}]\nc: &c [{}]\nd: [{}]\n",
        "x".repeat(200_000),
        ["*a"; 10].join(", "),
        ["*b"; 10].join(", "),
        ["*c"; 10].join(", ")
    );
    let d = yaml::parse(&text).unwrap_err();
    assert_expansion_refused(&d, "16777216 bytes of strings");
}

#[test]
fn a_bomb_inside_a_large_catalog_is_refused_too() {
    // The allowance grows with the text, but a bomb grows faster.
    let mut text = repeated(include_str!("../../../providers.yaml"), 20);
    text.push_str(&billion_laughs());
    let d = yaml::parse(&text).unwrap_err();
    let allowed = text.len() / 2;
    assert!(allowed > 20_000);
    assert_expansion_refused(&d, &format!("{allowed} parser events"));
}

#[test]
fn duplicate_keys_are_still_refused_at_their_place() {
    let d = yaml::parse("a:\n    b: 1\n    c: 2\n    b: 3\n").unwrap_err();
    assert_eq!(d.message, "invalid YAML: duplicate mapping key: b");
    assert_eq!((d.loc.line, d.loc.col, d.loc.offset), (4, 5, 25));
}

/// A minimal catalog with `value` as its second header template.
fn with_header(value: &str) -> String {
    Entry::api_key("acme")
        .header("authorization", "Bearer ${apiKey}")
        .header("x-expires", value)
        .yaml()
}

/// The one error of `value` as a header: at its `$`, spanning the placeholder, with a
/// message containing `needle`.
fn assert_header_error(value: &str, needle: &str) {
    let text = with_header(value);
    let ds = lint(&text);
    let errors: Vec<&Diagnostic> = ds
        .sorted()
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{value}: {errors:?}");
    let d = errors[0];
    assert!(d.message.contains(needle), "{value}: {}", d.message);
    assert_eq!(
        (d.loc.line, d.loc.col),
        at(&text, &format!("x-expires: ‸{value}")),
        "{value}: {}",
        d.message
    );
    assert_eq!(&text[d.loc.offset..d.loc.offset + d.loc.len], value);
}

#[test]
fn now_offsets_that_overflow_are_located_errors() {
    for value in [
        "${now-9223372036854775808:seconds}",
        "${now+9223372036854775807:weeks}",
        "${now+18446744073709551616:seconds}",
        "${now+99999999999:days:X}",
    ] {
        assert_header_error(value, "the offset is too large");
    }
    // The minimum i64 with a doubled sign, as first reported: an error, not an overflow.
    assert_header_error("${now--9223372036854775808:seconds}", "one sign only");
}

#[test]
fn now_takes_exactly_one_sign() {
    for value in [
        "${now--5:minutes}",
        "${now+-5:minutes}",
        "${now-+5:minutes}",
        "${now++5:minutes}",
    ] {
        assert_header_error(value, "one sign only");
    }
    // One sign is fine.
    for value in ["${now-5:minutes:X}", "${now+5:minutes:X}"] {
        let ds = lint(&with_header(value));
        assert_eq!(ds.counts().0, 0, "{value}: {:?}", ds.sorted());
    }
}

#[test]
fn deeply_nested_calls_are_a_located_error() {
    let depth = 10_000;
    let value = format!(
        "{}${{apiKey}}{}",
        "${base64(".repeat(depth),
        ")}".repeat(depth)
    );
    let text = with_header(&value);
    let ds = lint(&text);
    let errors: Vec<&Diagnostic> = ds
        .sorted()
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .message
            .contains("function calls nest more than 16 deep"),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].loc.line, at(&text, "x-expires:").0);
}
