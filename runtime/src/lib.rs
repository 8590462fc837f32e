//! Support library for the code that `terapi-codegen` generates from a `providers.yaml` catalog.
//!
//! Generated code is thin: it declares, per provider, the params a connection needs
//! ([`ParamSpec`]), and calls into this crate to validate JSON input ([`Fields`]), to keep
//! secrets out of `Debug` and `Display` ([`Secret`]) and to render header and URL templates
//! with context-aware checks ([`render`]). Everything here is tested once, instead of being
//! emitted again for each of a catalog's providers.
//!
//! Nothing in this crate depends on `syn` or `quote`; it is a normal run-time dependency.
#![forbid(unsafe_code)]

mod auth_mode;
#[cfg(feature = "client")]
pub mod client;
mod error;
mod func;
pub mod jwt;
pub mod now;
pub mod oauth1;
pub mod paginate;
pub mod render;
pub mod retry;
pub mod rules;
mod secret;
mod section;
pub mod spec;
pub mod token;
mod validate;

pub use auth_mode::{AuthMode, ClientAuth, Implied, UnknownAuthMode};
pub use error::{UnknownProvider, ValidationError, ValidationErrorKind, ValidationErrors};
pub use render::{Header, Headers, QueryParams, RenderContext, RenderError};
pub use secret::Secret;
pub use validate::{Fields, List, ParamSpec, Pattern, Rule, Section, Text};

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
