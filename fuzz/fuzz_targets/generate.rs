//! `generate` either fails with an error that says something, or writes Rust that parses
//! (`syn::parse_file`) and holds no character rustc refuses in source: no bidirectional
//! control (U+202A–U+202E, U+2066–U+2069: rustc denies them in literals and comments) and no
//! carriage return (a bare one is an error in literals and doc comments; the output ends its
//! lines with `\n` only, so any `\r` is one). Other control characters are accepted by rustc
//! in comments and literals (checked with rustc 1.95), so they are not refused here.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use terapi_codegen::{Options, generate};

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
            let code = &generated.code;
            if let Some((at, c, why)) = code
                .char_indices()
                .find_map(|(at, c)| refused(c).map(|why| (at, c, why)))
            {
                let line_start = code[..at].rfind('\n').map_or(0, |i| i + 1);
                let line_end = code[at..].find('\n').map_or(code.len(), |i| at + i);
                panic!(
                    "line {} of the output holds {why} ({c:?}): {:?}",
                    code[..at].matches('\n').count() + 1,
                    &code[line_start..line_end]
                );
            }
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.trim().is_empty(), "an error without text: {e:?}");
        }
    }
});
