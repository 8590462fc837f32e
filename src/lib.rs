//! Typed configs, validators and headers for the API providers of terapi's `providers.yaml`.
//!
//! Everything under [`Provider`] and the provider modules ([`personio`], [`personio_v2`],
//! [`personio_recruiting`]) is generated at build time from the catalog by
//! `terapi-codegen`; `generated/providers.rs` in the repository is the same code, committed
//! so reviewers see what a catalog edit changes.
//!
//! ```
//! use terapi_providers::{personio_recruiting, Params as _, Provider, TypedProvider as _};
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
//! let headers = personio_recruiting::Marker::proxy_headers(&config, &credentials)?;
//! assert_eq!(headers.get("x-company-id"), Some("33434"));
//! assert!(!format!("{credentials:?}").contains("secret"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `client` feature (on by default), each provider module also has a `Connection`
//! that talks to the API: it requests and renews OAuth tokens, joins endpoints to the base
//! URL with the provider's headers, retries 429 and 5xx, paginates, and checks credentials.
//! The crate-level [`Connection`] picks the provider by key, with JSON params:
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use terapi_providers::{Connection, Params as _, personio};
//! use futures_util::TryStreamExt as _;
//! use serde_json::json;
//!
//! let conn = Connection::from_json(
//!     "personio",
//!     &json!({ "partnerId": "ACME", "appId": "MY_APPLICATION" }),
//!     &json!({ "client_id": "id", "client_secret": "secret" }),
//! )?;
//! let employees: Vec<serde_json::Value> = conn
//!     .paginate("/company/employees")
//!     .limit(100)
//!     .try_collect()
//!     .await?;
//! let _typed = personio::Connection::new(
//!     personio::ConnectionConfig::from_json(&json!({}))?,
//!     personio::Credentials::from_json(&json!({ "client_id": "id", "client_secret": "s" }))?,
//! )?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub use ::terapi_runtime::{
    AuthMode, Header, Headers, ParamSpec, Params, RenderError, Secret, Section, TypedProvider,
    UnknownProvider, ValidationError, ValidationErrorKind, ValidationErrors,
};

/// The HTTP client of the runtime: settings, errors, requests, responses, pages.
#[cfg(feature = "client")]
pub use ::terapi_runtime::client;
/// How a listing's pages follow each other (Personio's own shapes included).
pub use ::terapi_runtime::paginate::PaginateConfig;
/// Retry limits for [`client::Settings::retry`].
pub use ::terapi_runtime::retry::RetryPolicy;

::terapi_runtime::include_providers!();

/// A file an action uploads, and the problems of an action's input.
pub use ::terapi_runtime::integration::{FileUpload, InputErrors, InputProblem};

/// Personio's workflows, from `integrations.yaml`: per provider its syncs (`syncs::all()`,
/// what `terapi_sync::sync` runs) and typed actions (`actions`, with the `client` feature),
/// and the `models` they store, take and return (Personio's records typed from its own
/// OpenAPI documents).
pub mod integrations {
    ::terapi_runtime::include_integrations!();
}
