//! `generate` either fails with an error that says something, or writes Rust that parses
//! (`syn::parse_file`) and holds no character rustc refuses in source: no bidirectional
//! control (U+202A–U+202E, U+2066–U+2069: rustc denies them in literals and comments) and no
//! carriage return (a bare one is an error in literals and doc comments; the output ends its
//! lines with `\n` only, so any `\r` is one). Other control characters are accepted by rustc
//! in comments and literals (checked with rustc 1.95), so they are not refused here.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use terapi_codegen::{Options, generate};

/// A known bug outside the files this fuzzing work may change: the doc comments copy the
/// catalog's text with its bidirectional controls (a `display_name` or `description` with
/// U+202E gives `/// Acme \u{202e} ...`, which rustc refuses: `text_direction_codepoint_in_comment`;
/// reproducer in `known-bugs/bidi-in-doc-comment.yaml`). Until it is fixed, a bidirectional
/// control on a doc comment line is not reported, so that the fuzzer goes on to other
/// findings; anywhere else it still is. `TERAPI_FUZZ_STRICT=1` reports it too.
fn known_bug_tolerated(line: &str) -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    let strict = *STRICT.get_or_init(|| std::env::var_os("TERAPI_FUZZ_STRICT").is_some());
    let line = line.trim_start();
    !strict && (line.starts_with("///") || line.starts_with("//!"))
}

/// Why rustc would refuse `c` in generated source, if it would.
fn refused(c: char) -> Option<&'static str> {
    match c {
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => Some("a bidirectional control"),
        '\r' => Some("a carriage return"),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match generate(Path::new("fuzz.yaml"), text, &Options::default()) {
        Ok(generated) => {
            if let Err(e) = syn::parse_file(&generated.code) {
                panic!("the output does not parse: {e}\n{}", generated.code);
            }
            // Line by line on `\n` only, so that a `\r` stays in its line.
            for (number, line) in generated.code.split('\n').enumerate() {
                for c in line.chars() {
                    match refused(c) {
                        Some("a bidirectional control") if known_bug_tolerated(line) => {}
                        Some(why) => panic!(
                            "line {} of the output holds {why} ({c:?}): {line:?}",
                            number + 1
                        ),
                        None => {}
                    }
                }
            }
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.trim().is_empty(), "an error without text: {e:?}");
        }
    }
});
