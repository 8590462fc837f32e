//! `generate` either fails with an error that says something (and is not
//! `Error::Internal`, which the generator returns for its own bugs), or writes Rust that parses
//! (`syn::parse_file`) and holds no character rustc refuses in source: no bidirectional
//! control (U+202A–U+202E, U+2066–U+2069: rustc denies them in literals and comments) and no
//! carriage return (a bare one is an error in literals and doc comments; the output ends its
//! lines with `\n` only, so any `\r` is one). Other control characters are accepted by rustc
//! in comments and literals (checked with rustc 1.95), so they are not refused here. The
//! `bidi-control` rule is allowed, so that such input reaches the emitter.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use terapi_codegen::{Error, Level, LintLevels, Options, Rule, generate};

/// The default options, but with `bidi-control` allowed, so that direction controls reach
/// the emitter, which must spell them out (doc comments) or escape them (literals).
static OPTIONS: LazyLock<Options> = LazyLock::new(|| {
    let mut lint_levels = LintLevels::default();
    lint_levels
        .set(Rule::BidiControl, Level::Allow)
        .expect("bidi-control is not fixed");
    Options {
        lint_levels,
        ..Options::default()
    }
});

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
    match generate(Path::new("fuzz.yaml"), text, &OPTIONS) {
        Ok(generated) => {
            if let Err(e) = syn::parse_file(&generated.code) {
                panic!("the output does not parse: {e}\n{}", generated.code);
            }
            // Line by line on `\n` only, so that a `\r` stays in its line.
            for (number, line) in generated.code.split('\n').enumerate() {
                for c in line.chars() {
                    if let Some(why) = refused(c) {
                        panic!(
                            "line {} of the output holds {why} ({c:?}): {line:?}",
                            number + 1
                        );
                    }
                }
            }
        }
        Err(Error::Internal(why)) => panic!("an internal error of the generator: {why}"),
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.trim().is_empty(), "an error without text: {e:?}");
        }
    }
});
