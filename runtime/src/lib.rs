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

/// The items of a generated provider module that depend on this crate's features: serde for
/// its typed params (deserializing checks every param, as `Params::from_json` does; a section
/// without a secret serializes as a map by key), and its `Connection` when the `client`
/// feature is on. Generated code calls it once per provider, so that it adapts to the feature
/// by itself; not meant for hand-written code.
#[doc(hidden)]
#[macro_export]
macro_rules! typed_provider {
    ($marker:ident, connection = $kind:ident, serialize($($ser:ident),*), deserialize($($de:ident),*)) => {
        $(
            impl $crate::__private::serde::Serialize for $ser {
                fn serialize<S: $crate::__private::serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> ::core::result::Result<S::Ok, S::Error> {
                    $crate::spec::serialize_section(<$ser as $crate::Params>::params(), self, serializer)
                }
            }
        )*
        $(
            impl<'de> $crate::__private::serde::Deserialize<'de> for $de {
                fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    $crate::spec::deserialize_checked(deserializer, <$de as $crate::Params>::from_json)
                }
            }

            impl ::core::convert::TryFrom<$crate::__private::serde_json::Value> for $de {
                type Error = $crate::ValidationErrors;

                fn try_from(
                    value: $crate::__private::serde_json::Value,
                ) -> ::core::result::Result<Self, Self::Error> {
                    <$de as $crate::Params>::from_json(&value)
                }
            }
        )*
        $crate::__connection!($kind, $marker);
    };
}

/// A generated provider's `Connection`, with the `client` feature: `typed` (credentials
/// given), `authorized` (a user authorizes in a browser) or `none` (the client cannot serve
/// the provider; its description says why).
#[cfg(feature = "client")]
#[doc(hidden)]
#[macro_export]
macro_rules! __connection {
    (typed, $marker:ident) => {
        /// A connection to this provider: the typed config and credentials, an HTTP client,
        /// and (for OAuth) the cached access token.
        ///
        /// Made with `Connection::new(config, credentials)` or `with_settings`; it
        /// dereferences to the runtime's `Connection`, which sends requests (`request`),
        /// paginates (`paginate`) and checks the credentials (`verify`).
        pub type Connection = $crate::client::TypedConnection<$marker>;
    };
    (authorized, $marker:ident) => {
        /// A connection to this provider that a user authorized (OAuth): the typed config,
        /// the tokens, an HTTP client.
        ///
        /// Start with `Connection::authorize(&config, &client, request)` (or
        /// `start_authorization`, async, for OAUTH1 and MCP_OAUTH2_GENERIC), send the user to
        /// the pending authorization's `url()`, then make it with
        /// `Connection::from_callback(pending, &callback_url, settings)`; later, from saved
        /// `tokens()`, with `Connection::from_tokens`. It dereferences to the runtime's
        /// `Connection` (`request`, `paginate`, `verify`).
        pub type Connection = $crate::client::AuthorizedConnection<$marker>;
    };
    (none, $marker:ident) => {};
}

/// Without the `client` feature, a generated provider has no `Connection`.
#[cfg(not(feature = "client"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __connection {
    ($($any:tt)*) => {};
}

/// The catalog-level client items of generated code, with the `client` feature: a
/// `Connection` to any provider chosen by its key with JSON params, `authorize` and
/// `start_authorization`. Generated code calls it once; not meant for hand-written code.
#[cfg(feature = "client")]
#[doc(hidden)]
#[macro_export]
macro_rules! catalog_client {
    ($provider:ident) => {
        /// A connection to any provider of the catalog, chosen by its key at run time, with
        /// its params as JSON, for callers that have a key and two JSON objects
        /// (`connection_config` and `credentials`).
        ///
        /// It dereferences to the runtime's `Connection` (`request`, `paginate`, `verify`).
        #[derive(::core::fmt::Debug, ::core::clone::Clone)]
        pub struct Connection($crate::client::Connection);

        impl Connection {
            /// Validates `connection_config` and `credentials` for the provider `key` and
            /// connects with the default settings. Every validation problem of both objects
            /// is reported at once.
            pub fn from_json(
                key: &::core::primitive::str,
                connection_config: &$crate::__private::serde_json::Value,
                credentials: &$crate::__private::serde_json::Value,
            ) -> ::core::result::Result<Self, $crate::client::ConnectError> {
                Self::from_json_with(
                    key,
                    connection_config,
                    credentials,
                    $crate::client::Settings::default(),
                )
            }

            /// [`Connection::from_json`] with `settings`.
            pub fn from_json_with(
                key: &::core::primitive::str,
                connection_config: &$crate::__private::serde_json::Value,
                credentials: &$crate::__private::serde_json::Value,
                settings: $crate::client::Settings,
            ) -> ::core::result::Result<Self, $crate::client::ConnectError> {
                let provider: $provider = key.parse()?;
                $crate::client::Connection::from_json(
                    provider.spec(),
                    connection_config,
                    credentials,
                    settings,
                )
                .map(Connection)
            }

            /// Finishes an authorization started with [`authorize`]: checks the callback
            /// and exchanges its code (the provider is the pending authorization's).
            pub async fn from_callback(
                pending: $crate::client::PendingAuthorization,
                callback_url: &::core::primitive::str,
                settings: $crate::client::Settings,
            ) -> ::core::result::Result<Self, $crate::client::ConnectError> {
                let provider: $provider = pending.provider().parse()?;
                Ok(Connection(
                    $crate::client::Connection::from_callback(
                        provider.spec(),
                        pending,
                        callback_url,
                        settings,
                    )
                    .await?,
                ))
            }

            /// A connection to the authorization code provider `key` from tokens saved
            /// earlier, with its connection config as JSON.
            pub fn from_tokens(
                key: &::core::primitive::str,
                connection_config: &$crate::__private::serde_json::Value,
                client: $crate::client::OAuthClient,
                tokens: $crate::client::TokenSet,
                settings: $crate::client::Settings,
            ) -> ::core::result::Result<Self, $crate::client::ConnectError> {
                let provider: $provider = key.parse()?;
                $crate::client::Connection::from_tokens(
                    provider.spec(),
                    connection_config,
                    client,
                    tokens,
                    settings,
                )
                .map(Connection)
            }

            /// The runtime's untyped connection.
            pub fn into_inner(self) -> $crate::client::Connection {
                self.0
            }
        }

        /// Starts an authorization of the provider `key` (OAuth 2.0 authorization code) with
        /// its connection config as JSON: the URL to send the user to, and the pending flow
        /// that [`Connection::from_callback`] finishes.
        pub fn authorize(
            key: &::core::primitive::str,
            connection_config: &$crate::__private::serde_json::Value,
            client: &$crate::client::OAuthClient,
            request: $crate::client::AuthorizationRequest,
        ) -> ::core::result::Result<
            $crate::client::PendingAuthorization,
            $crate::client::ConnectError,
        > {
            let provider: $provider = key.parse()?;
            $crate::client::authorize_json(provider.spec(), connection_config, client, request)
        }

        /// [`authorize`] for every mode that authorizes in a browser, OAUTH1 (temporary
        /// credentials first) and MCP_OAUTH2_GENERIC (its endpoints discovered first)
        /// included.
        pub async fn start_authorization(
            key: &::core::primitive::str,
            connection_config: &$crate::__private::serde_json::Value,
            client: &$crate::client::OAuthClient,
            request: $crate::client::AuthorizationRequest,
        ) -> ::core::result::Result<
            $crate::client::PendingAuthorization,
            $crate::client::ConnectError,
        > {
            let provider: $provider = key.parse()?;
            $crate::client::Connection::start_authorization_json(
                provider.spec(),
                connection_config,
                client,
                request,
            )
            .await
        }

        impl ::core::ops::Deref for Connection {
            type Target = $crate::client::Connection;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }
    };
}

/// Without the `client` feature, generated code has no catalog-level client items.
#[cfg(not(feature = "client"))]
#[doc(hidden)]
#[macro_export]
macro_rules! catalog_client {
    ($($any:tt)*) => {};
}
