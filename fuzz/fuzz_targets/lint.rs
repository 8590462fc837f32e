//! `lint` never panics, whatever the bytes, and every diagnostic is located inside the text:
//! line and column 1-based, the byte offset within it (at its end at most). The report that
//! renders them (snippets with carets) must not panic either. Bytes that are not UTF-8 go
//! to `yaml::parse_bytes`, whose error must point at the first invalid byte.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use terapi_codegen::yaml::Loc;
use terapi_codegen::{lint, render_report, yaml};

fn assert_located(text_len: usize, loc: &Loc, what: &str) {
    assert!(
        loc.line >= 1 && loc.col >= 1,
        "not 1-based: {loc:?}: {what}"
    );
    assert!(
        loc.offset <= text_len,
        "offset past the end ({text_len} bytes): {loc:?}: {what}"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(e) => {
            let d = yaml::parse_bytes(data).expect_err("invalid UTF-8 must be an error");
            assert_eq!(d.loc.offset, e.valid_up_to(), "{}", d.message);
            assert_located(data.len(), &d.loc, &d.message);
            return;
        }
    };
    let diagnostics = lint(text);
    for d in diagnostics.sorted() {
        assert_located(text.len(), &d.loc, &d.message);
        for (loc, note) in &d.notes {
            assert_located(text.len(), loc, note);
        }
        assert!(!d.message.is_empty(), "an empty message at {:?}", d.loc);
    }
    let report = render_report(Path::new("fuzz.yaml"), text, &diagnostics);
    assert!(!report.is_empty());
});
