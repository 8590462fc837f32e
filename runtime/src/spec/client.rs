//! What the HTTP client needs of a provider besides its templates: token request format,
//! pagination, retry headers, the credential check.

use crate::auth_mode::AuthMode;
use crate::paginate::PaginateConfig;
use crate::retry::RetryConfig;
use crate::validate::{List, Text};

/// How a client-credentials token request carries its params (`body_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum BodyFormat {
    /// `application/x-www-form-urlencoded`: the OAuth 2.0 standard and the catalog's default.
    #[default]
    Form,
    /// `application/json` (`body_format: json`), as Personio v1 takes it.
    Json,
}

/// How the client id and secret reach the token endpoint (`token_request_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum TokenAuth {
    /// In the request body, next to the other token params: the catalog's default.
    #[default]
    Body,
    /// As HTTP basic authentication (`token_request_auth_method: basic`).
    Basic,
}

/// A provider's credential check (`proxy.verification`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerificationSpec {
    /// `GET` or `POST`.
    pub method: Text,
    /// The endpoints, tried in order; the first success verifies.
    pub endpoints: List<Text>,
    /// The params placed in the host of `base_url_override`, e.g. `connectionConfig.company`:
    /// when the provider answers with a redirect, these are the values it did not recognise.
    pub host_params: List<Text>,
    /// `data`: a JSON body to send with the check.
    pub body: Option<Text>,
}

/// What the client needs of a provider besides its templates: a constant of generated code,
/// or part of a description loaded at run time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientSpec {
    /// The catalog key.
    pub key: Text,
    /// How the provider authenticates.
    pub auth_mode: AuthMode,
    /// How a token request carries its params.
    pub body_format: BodyFormat,
    /// How a token request carries the client id and secret.
    pub token_auth: TokenAuth,
    /// The `scope` param of the token request (the catalog's `default_scopes`, joined), when
    /// `token_params` do not set one.
    pub default_scope: Option<Text>,
    /// `proxy.paginate`, when the catalog gives one.
    pub paginate: Option<PaginateConfig>,
    /// `proxy.retry`.
    pub retry: RetryConfig,
    /// `proxy.verification`, when the catalog gives one.
    pub verification: Option<VerificationSpec>,
    /// Whether `proxy.query` carries a secret (then only an explicit opt-in lets requests
    /// put it into URLs: see `Settings::allow_secret_in_query`).
    pub query_has_secret: bool,
    /// Whether `proxy.headers` use nothing of the render context (no access token, time,
    /// random id or request): then the client renders them once, when connecting.
    pub static_headers: bool,
}
