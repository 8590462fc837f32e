//! What generated code hands to the client: a provider's static description ([`ClientSpec`])
//! and its [`Binding`], the typed config and credentials that render its templates.

use url::Url;

use crate::auth_mode::AuthMode;
use crate::paginate::PaginateConfig;
use crate::render::{Headers, QueryParams, RenderContext, RenderError};
use crate::retry::RetryConfig;

/// How a client-credentials token request carries its params (`body_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyFormat {
    /// `application/x-www-form-urlencoded`: the OAuth 2.0 standard and the catalog's default.
    #[default]
    Form,
    /// `application/json` (`body_format: json`), as Personio v1 takes it.
    Json,
}

/// How the client id and secret reach the token endpoint (`token_request_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenAuth {
    /// In the request body, next to the other token params: the catalog's default.
    #[default]
    Body,
    /// As HTTP basic authentication (`token_request_auth_method: basic`).
    Basic,
}

/// A provider's credential check (`proxy.verification`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationSpec {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The endpoints, tried in order; the first success verifies.
    pub endpoints: &'static [&'static str],
    /// The params placed in the host of `base_url_override`, e.g. `connectionConfig.company`:
    /// when the provider answers with a redirect, these are the values it did not recognise.
    pub host_params: &'static [&'static str],
    /// `data`: a JSON body to send with the check.
    pub body: Option<&'static str>,
}

/// A provider's static description, written out by generated code as a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSpec {
    /// The catalog key.
    pub key: &'static str,
    /// How the provider authenticates.
    pub auth_mode: AuthMode,
    /// How a token request carries its params.
    pub body_format: BodyFormat,
    /// How a token request carries the client id and secret.
    pub token_auth: TokenAuth,
    /// The `scope` param of the token request (the catalog's `default_scopes`, joined), when
    /// `token_params` do not set one.
    pub default_scope: Option<&'static str>,
    /// `proxy.paginate`, when the catalog gives one.
    pub paginate: Option<PaginateConfig>,
    /// `proxy.retry`.
    pub retry: RetryConfig<'static>,
    /// `proxy.verification`, when the catalog gives one.
    pub verification: Option<VerificationSpec>,
    /// Whether `proxy.query` carries a secret (then only an explicit opt-in lets requests
    /// put it into URLs: see `Settings::allow_secret_in_query`).
    pub query_has_secret: bool,
    /// Whether `proxy.headers` use nothing of the render context (no access token, time,
    /// random id or request): then the client renders them once, when connecting.
    pub static_headers: bool,
}

/// A provider's typed connection config and credentials, as generated code binds them to the
/// templates of its catalog entry. Implemented by generated code; each method renders one
/// part of the catalog entry with every value checked for where it lands.
pub trait Binding: Send + Sync + 'static {
    /// The static description.
    fn spec(&self) -> &'static ClientSpec;
    /// `proxy.base_url`, rendered.
    fn base_url(&self) -> Result<Url, RenderError>;
    /// `token_url`, rendered (client-credentials providers).
    fn token_url(&self) -> Option<Result<Url, RenderError>> {
        None
    }
    /// `proxy.verification.base_url_override`, rendered.
    fn verification_base_url(&self) -> Option<Result<Url, RenderError>> {
        None
    }
    /// `proxy.headers`, rendered with `cx`.
    fn headers(&self, cx: &RenderContext<'_>) -> Result<Headers, RenderError>;
    /// `proxy.query`, rendered with `cx` (values unencoded).
    fn query(&self, _cx: &RenderContext<'_>) -> Result<QueryParams, RenderError> {
        Ok(QueryParams::new())
    }
    /// `proxy.verification.headers`, rendered with `cx`.
    fn verification_headers(&self, _cx: &RenderContext<'_>) -> Result<Headers, RenderError> {
        Ok(Headers::new())
    }
    /// `token_params`, rendered with `cx` (values unencoded).
    fn token_params(&self, _cx: &RenderContext<'_>) -> Result<QueryParams, RenderError> {
        Ok(QueryParams::new())
    }
    /// The OAuth client (`client_id`, `client_secret` credentials).
    fn client_credentials(&self) -> Option<(&str, &str)> {
        None
    }
    /// Every secret value of the config and credentials, to be masked in the provider's error
    /// messages (an API that echoes a key in its error body does not get it into ours).
    fn secrets(&self) -> Vec<&str> {
        Vec::new()
    }
    /// HTTP basic credentials (`username`, optional `password`).
    fn basic_credentials(&self) -> Option<(&str, Option<&str>)> {
        None
    }
}
