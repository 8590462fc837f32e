//! An integrations file (syncs, actions, models) read, checked and generated: either an error
//! that says something (never `Error::Internal`, the generator's own bugs), or Rust that parses
//! (`syn::parse_file`) with no character rustc refuses in source (a bidirectional control, a
//! carriage return); and an action's input (the JSON after the file) checked against each
//! declared model without a panic, whatever its nesting.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use terapi_codegen::{Error, generate_integrations, lint_integrations};

/// The providers the file may name (the repository's catalog's).
const PROVIDERS: &[&str] = &["personio", "personio-recruiting", "personio-v2"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `---` splits the file from an input to validate.
    let (file, input) = text.split_once("\n---json\n").unwrap_or((text, "{}"));
    let (integrations, _, _) = lint_integrations(file, Some(PROVIDERS), &Default::default());
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(input) {
        for model in &integrations.models {
            let _ = model.validate(&integrations, &value);
        }
    }
    match generate_integrations(
        Path::new("fuzz.yaml"),
        file,
        Some(PROVIDERS),
        &Default::default(),
        true,
    ) {
        Ok(generated) => {
            if let Err(e) = syn::parse_file(&generated.code) {
                panic!("the output does not parse: {e}\n{}", generated.code);
            }
            for (number, line) in generated.code.split('\n').enumerate() {
                for c in line.chars() {
                    if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\r') {
                        panic!("line {} of the output holds {c:?}: {line:?}", number + 1);
                    }
                }
            }
        }
        Err(Error::Internal(why)) => panic!("an internal error of the generator: {why}"),
        Err(e) => assert!(!e.to_string().trim().is_empty(), "an error without text: {e:?}"),
    }
});
