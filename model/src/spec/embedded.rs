//! A description as generated code holds it: its JSON text in the binary, read into a
//! [`ProviderSpec`] on first use.

use std::ops::Deref;
use std::sync::OnceLock;

use super::{ClientSupport, ProviderSpec, Unsupported};
use crate::auth_mode::AuthMode;

/// A `static` description: `terapi-codegen` writes the model it checked as JSON (one string
/// literal, cheap to compile), and the first use reads it back, the same data that
/// `terapi_codegen::load` returns.
pub struct Embedded {
    json: &'static str,
    spec: OnceLock<ProviderSpec>,
}

impl Embedded {
    /// The description written as `json` by the generator.
    pub const fn new(json: &'static str) -> Self {
        Embedded {
            json,
            spec: OnceLock::new(),
        }
    }

    /// The description. Text the generator wrote always reads back; if it ever did not (a
    /// generator and runtime of different versions), the description is one that connects to
    /// nothing and says why, instead of a panic.
    pub fn get(&self) -> &ProviderSpec {
        self.spec.get_or_init(|| {
            serde_json::from_str(self.json).unwrap_or_else(|e| ProviderSpec {
                key: "unreadable".into(),
                display_name: "unreadable".into(),
                docs_url: None,
                docs_connect: None,
                categories: Default::default(),
                auth_mode: AuthMode::None,
                config: Default::default(),
                credentials: Default::default(),
                base_url: None,
                token_url: None,
                verification_base_url: None,
                authorization_url: None,
                refresh_url: None,
                token_url_oauth2: None,
                token_url_app: None,
                headers: Default::default(),
                query: Default::default(),
                verification_headers: Default::default(),
                token_params: Default::default(),
                authorization_params: Default::default(),
                refresh_params: None,
                token_headers: Default::default(),
                jwt: Default::default(),
                refresh_token_params: None,
                client: ClientSupport::Unsupported(Unsupported::Unreadable(
                    format!(
                        "the generated description does not read back ({e}); regenerate with the terapi-codegen of this terapi-runtime"
                    )
                    .into(),
                )),
            })
        })
    }

    /// The JSON text.
    pub fn json(&self) -> &'static str {
        self.json
    }
}

impl Deref for Embedded {
    type Target = ProviderSpec;
    fn deref(&self) -> &ProviderSpec {
        self.get()
    }
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}
