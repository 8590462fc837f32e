//! What the code that `terapi-codegen` generates from a `providers.yaml` catalog names: the
//! provider model of [`terapi_model`] (re-exported here under the same paths: [`spec`],
//! [`Fields`], [`Secret`], [`render`], ...), and with the `client` feature (on by default) the
//! HTTP client: [`client::Connection`]s that authenticate with every auth mode of the
//! catalog, renew and share tokens, proxy requests, retry and paginate.
//!
//! Generated code is thin: per provider a marker type implementing [`TypedProvider`] and typed
//! `ConnectionConfig` and `Credentials` implementing [`Params`]; their behaviour is the
//! provided methods of those traits, tested once here instead of emitted per provider.
//! The choice of the client is this crate's `client` feature alone: generated code adapts to
//! it without any setting of the generator.
//!
//! Features: `client` (default: reqwest with rustls on *ring*, tokio) and `signing` (default:
//! JWT, APP_STORE and OAuth 1.0a RSA-SHA1 keys, `ed25519Sign` and `fingerprint` in templates;
//! RSA, EC and Ed25519 code). Without `signing`, the client reports those modes as unsupported.
#![forbid(unsafe_code)]

pub use terapi_model::*;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "signing")]
pub mod jwt;
#[cfg(feature = "client")]
pub mod oauth1;
#[cfg(feature = "signing")]
mod signing;
#[cfg(feature = "signing")]
pub use signing::{KeySigning, SIGNING};

/// Re-exports that generated code uses through fully qualified paths, so that a crate which
/// includes generated code needs no direct dependency on them. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use serde_json;
    pub use url;
}

/// The `serde_json` version this crate's `from_json` functions take.
pub use serde_json;
/// The `url` version that URL-rendering functions return.
pub use url;

/// Includes the code that `terapi_codegen::Builder` wrote into `OUT_DIR`.
///
/// `terapi_runtime::include_providers!()` includes `providers.rs`, the Builder's default
/// output file; `terapi_runtime::include_providers!("my_catalog.rs")` includes another one.
#[macro_export]
macro_rules! include_providers {
    () => {
        ::core::include!(::core::concat!(::core::env!("OUT_DIR"), "/providers.rs"));
    };
    ($file:literal) => {
        ::core::include!(::core::concat!(::core::env!("OUT_DIR"), "/", $file));
    };
}
