//! A provider's description (`describe::provider`, the model `load` returns too) written out
//! as `static` data: its JSON in one string literal (all ASCII, `\u` escapes for the rest),
//! read back by the runtime's `spec::Embedded` on first use.

use proc_macro2::TokenStream;
use quote::quote;
use terapi_model::spec::ProviderSpec;

use super::Emitter;

impl Emitter<'_> {
    /// The description as one string literal of JSON, read back by the runtime's
    /// `spec::Embedded` on first use.
    pub(super) fn spec_literal(&self, spec: &ProviderSpec) -> TokenStream {
        match serde_json::to_string(spec) {
            Ok(json) => {
                let json = ascii(&json);
                quote!(#json)
            }
            // Only a model the generator built wrongly fails to serialize.
            Err(e) => {
                let message = format!("terapi-codegen: the description does not serialize: {e}");
                quote!(::core::compile_error!(#message))
            }
        }
    }
}

/// `json` with every character outside ASCII written as a JSON `\u` escape, so that the
/// literal holds no direction control or other invisible character.
fn ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn non_ascii_becomes_json_escapes_that_read_back() {
        let text = "Zürich \u{202e} 😀";
        let json = super::ascii(&serde_json::to_string(text).unwrap());
        assert!(json.is_ascii(), "{json}");
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
    }
}
