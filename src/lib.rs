//! Typed configs, validators and headers for the API providers of terapi's `providers.yaml`.
//!
//! Everything under [`Provider`] and the provider modules ([`personio`], [`personio_v2`],
//! [`personio_recruiting`]) is generated at build time from the catalog by
//! `terapi-codegen`; `generated/providers.rs` in the repository is the same code, committed
//! so reviewers see what a catalog edit changes.
//!
//! ```
//! use terapi_providers::{personio_recruiting, Provider};
//! use serde_json::json;
//!
//! let provider: Provider = "personio-recruiting".parse()?;
//! assert_eq!(provider.auth_mode(), terapi_providers::AuthMode::ApiKey);
//!
//! let config = personio_recruiting::ConnectionConfig::from_json(&json!({
//!     "companyId": "33434", "company": "company-b", "partnerId": "ACME", "appId": "MY_APPLICATION"
//! }))?;
//! let credentials = personio_recruiting::Credentials::from_json(&json!({ "apiKey": "secret" }))?;
//!
//! let headers = personio_recruiting::proxy_headers(&config, &credentials)?;
//! assert_eq!(headers.get("x-company-id"), Some("33434"));
//! assert!(!format!("{credentials:?}").contains("secret"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub use ::terapi_runtime::{
    AuthMode, Header, Headers, ParamSpec, RenderError, Secret, Section, UnknownProvider,
    ValidationError, ValidationErrorKind, ValidationErrors,
};

::terapi_runtime::include_providers!();
