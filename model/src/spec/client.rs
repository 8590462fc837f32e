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
    /// As `username` and `password` in the body (`token_request_auth_method: custom`).
    UsernamePassword,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scope: Option<Text>,
    /// `proxy.paginate`, when the catalog gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paginate: Option<PaginateConfig>,
    /// `proxy.retry`.
    #[serde(default, skip_serializing_if = "RetryConfig::is_empty")]
    pub retry: RetryConfig,
    /// `proxy.verification`, when the catalog gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationSpec>,
    /// Whether `proxy.query` carries a secret (then only an explicit opt-in lets requests
    /// put it into URLs: see `Settings::allow_secret_in_query`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub query_has_secret: bool,
    /// Whether `proxy.headers` use nothing of the render context (no access token, time,
    /// random id or request): then the client renders them once, when connecting.
    pub static_headers: bool,
    /// `token_expiration_buffer`: how long before its expiry a token is renewed, in seconds
    /// (else `Settings::token_margin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expiration_buffer: Option<u64>,
    /// `expires_in_unit: milliseconds`: the token response's `expires_in` is in milliseconds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expires_in_milliseconds: bool,
    /// `token_expires_in_ms`: the lifetime of a token whose response states none (`0`: it
    /// does not expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_lifetime_ms: Option<u64>,
    /// The authorization code flow's settings (OAUTH2, MCP_OAUTH2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationSpec>,
    /// How a JWT is signed (JWT, and TWO_STEP entries whose token request sends one as
    /// `${token}`); its templates are the description's `jwt` list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtSettings>,
    /// How a token is obtained by a request of the catalog's own (TWO_STEP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_request: Option<TokenRequestSpec>,
}

/// How a JWT is signed (`signature`, `token`): the key's protocol, the HMAC secret's encoding,
/// the lifetime, and which claims are lists.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JwtSettings {
    /// `signature.protocol`: `RSA`, `EC` or `HMAC`.
    pub protocol: Text,
    /// `signature.hmac_secret_encoding`: `hex` (the default) or `utf8`.
    pub hmac_encoding: Text,
    /// `token.expires_in_ms`: the token's lifetime (`exp - iat`).
    pub lifetime_ms: u64,
}

/// A token obtained by a request the catalog describes (TWO_STEP): its method and body
/// format, and where the response holds the token, its refresh token and its lifetime. The
/// templates (`token_params`, `token_headers`, `refresh_token_params`) and the URLs
/// (`token_url`, `refresh_url`) live in the description.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenRequestSpec {
    /// `token_request_method: GET` (no body), else `POST` (with the description's
    /// `body_format`, JSON unless the entry says otherwise).
    pub get: bool,
    /// `token_params` whose catalog value is a number or a boolean: sent as such in a JSON body.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub typed_params: List<Text>,
    /// `token_response.token`: the token's path in the response; empty when the whole body is
    /// the token.
    pub token_path: Text,
    /// `token_response.refresh_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_path: Option<Text>,
    /// `token_response.token_expiration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_path: Option<Text>,
    /// `token_response.token_expiration_strategy: expireIn` (seconds, or `1h`, `30m`); else
    /// `expireAt` (a time).
    pub expires_in: bool,
    /// Whether requests carry the token as `Authorization: Bearer` (unless the headers set
    /// `authorization`); BILL's go in its own headers.
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub bearer: bool,
    /// `additional_steps`: requests after the first, each reading the responses before it as
    /// `${stepK.path}` (step 1 is the first request); the last response holds the token.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub steps: List<StepSpec>,
}

/// One of TWO_STEP's `additional_steps`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepSpec {
    /// `token_request_method: GET` (no body), else POST.
    pub get: bool,
    /// `body_format: form`, else JSON.
    pub form: bool,
    /// The step's URL, rendered as text and checked as a URL when sent (it may come from an
    /// earlier response: `${step1.IdentityServiceUrl}/...`).
    pub url: super::NamedTemplate,
    /// `token_params`.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub params: List<super::NamedTemplate>,
    /// `token_headers`.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub headers: List<super::NamedTemplate>,
}

fn yes() -> bool {
    true
}

/// How a provider's authorization code flow goes (OAUTH2, MCP_OAUTH2): the catalog's
/// `authorization_*`, scope, PKCE and metadata keys. The URLs and the params that are
/// templates live in the description (`authorization_url`, `authorization_params`,
/// `token_params`, `refresh_params`, `refresh_url`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthorizationSpec {
    /// `scope_separator` (default a space).
    pub scope_separator: Text,
    /// `default_scopes`: requested when the authorization request names none.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub default_scopes: List<Text>,
    /// PKCE with S256 (RFC 7636), unless `disable_pkce` (MCP_OAUTH2 always uses it).
    pub pkce: bool,
    /// The callback's query param that carries the code
    /// (`authorization_code_param_in_callback`, default `code`).
    pub code_param: Text,
    /// `token_response_metadata`: values of the token response kept for the connection
    /// config, by (dotted) name.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub token_response_metadata: List<Text>,
    /// `redirect_uri_metadata`: query params of the callback kept for the connection config.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub redirect_uri_metadata: List<Text>,
    /// `authorization_url_replacements`, in catalog order.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub replacements: List<Replacement>,
    /// `alternate_access_token_response_path`: where the token is when the response has no
    /// top-level `access_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_path: Option<Text>,
    /// `client_registration: dynamic` (MCP_OAUTH2): the client registers at this URL (RFC
    /// 7591) instead of being given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_url: Option<Text>,
    /// MCP_OAUTH2_GENERIC: the endpoints are discovered from the MCP server of the connection
    /// config (`mcp_server_url`), not written in the catalog.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discovery: bool,
    /// OAuth 1.0a (OAUTH1): the temporary credentials request and how requests are signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth1: Option<OAuth1Spec>,
}

/// OAuth 1.0a's settings (RFC 5849): where temporary credentials are requested
/// (`request_url`, with `request_params`), the methods, and the signature method. The
/// authorization URL is the description's `authorization_url`, the token URL its `token_url`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OAuth1Spec {
    /// `request_url`.
    pub request_url: Text,
    /// `request_params`, sent (and signed) in the temporary credentials request's body.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub request_params: List<Replacement>,
    /// `signature_method`: `HMAC-SHA1` (the default), `HMAC-SHA256` or `PLAINTEXT`.
    pub signature_method: Text,
    /// `request_http_method: GET`, else POST.
    pub request_get: bool,
    /// `token_http_method: GET`, else POST.
    pub token_get: bool,
}

/// One of `authorization_url_replacements`: text of the authorization URL replaced by other
/// text (where a provider wants a character the URL encoding changes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Replacement {
    /// The text to find.
    pub from: Text,
    /// What it becomes.
    pub to: Text,
}

/// Why the runtime's client cannot serve a provider as its entry describes it: the reason a
/// description holds (`ClientSupport::Unsupported`), which connecting reports as
/// `client::Error::Unsupported`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// The client does not implement the auth mode ([`AuthMode::client_auth`]).
    #[error("the client implements {served}; {0} is not implemented", served = served_modes())]
    AuthMode(AuthMode),
    /// The entry has no `proxy.base_url`.
    #[error("the entry has no `proxy.base_url`")]
    NoBaseUrl,
    /// `proxy.base_url` holds a credential.
    #[error("`proxy.base_url` carries a credential, which the client never puts into a URL")]
    BaseUrlCarriesCredential,
    /// The mode needs a token URL that the client can render.
    #[error(
        "{0} without a `token_url` the client can render (missing, per auth mode, or carrying a credential)"
    )]
    NoTokenUrl(AuthMode),
    /// The mode's required credentials ([`ClientAuth::required_credentials`]) are missing or
    /// optional.
    ///
    /// [`ClientAuth::required_credentials`]: crate::ClientAuth::required_credentials
    #[error("{0} needs {keys} among its credentials, not optional", keys = required_list(*.0))]
    MissingCredentials(AuthMode),
    /// A `body_format` other than `form` and `json`.
    #[error("`body_format: {0}` is not implemented")]
    BodyFormat(Text),
    /// A `token_request_auth_method` other than `basic`.
    #[error("`token_request_auth_method: {0}` is not implemented")]
    TokenRequestAuthMethod(Text),
    /// `token_headers`.
    #[error("`token_headers` are not implemented")]
    TokenHeaders,
    /// `require_client_certificate: true`.
    #[error("`require_client_certificate` (mutual TLS) is not implemented")]
    ClientCertificate,
    /// An `expires_in_unit` the client does not read.
    #[error("an `expires_in_unit` other than `seconds` and `milliseconds` is not implemented")]
    TokenLifetimeUnit,
    /// A `token_params` value that is a mapping or a list.
    #[error("`token_params.{0}` is not a single value; nested token params are not implemented")]
    NestedTokenParam(Text),
    /// A `proxy.paginate.type` other than offset, cursor and link (or none).
    #[error(
        "`proxy.paginate.type` {kind} is not one the client implements (offset, cursor, link)",
        kind = .0.as_deref().unwrap_or("missing")
    )]
    PaginationKind(Option<Text>),
    /// `proxy.query` puts a secret into request URLs, and the settings do not allow it (found
    /// at connect: `Settings::allow_secret_in_query`).
    #[error(
        "`proxy.query` puts a secret into request URLs, where logs and proxies see it; allow it explicitly with `Settings::allow_secret_in_query(true)`"
    )]
    SecretInQuery,
    /// The entry signs with a key (JWT, APP_STORE, a JWT login), and terapi-runtime was built
    /// without its `signing` feature (found at connect).
    #[error(
        "signing with a key (JWT) needs terapi-runtime's `signing` feature, which this build leaves out"
    )]
    SigningFeature,
    /// The entry has no `authorization_url` the client can render.
    #[error("the entry has no `authorization_url` the client can render")]
    NoAuthorizationUrl,
    /// `installation: outbound`: the provider installs the app from its side; there is no
    /// authorization URL to send a user to.
    #[error("`installation: outbound` (installed from the provider's side) is not implemented")]
    OutboundInstallation,
    /// `token_params.grant_type` is not `authorization_code`.
    #[error("`token_params.grant_type` is not `authorization_code`")]
    GrantType,
    /// A `client_registration` the client does not implement (`cimd`, or `dynamic` without a
    /// `registration_url`).
    #[error("`client_registration: {0}` is not implemented")]
    ClientRegistration(Text),
    /// A JWT the client cannot build from the entry's `token` settings (a claim that is a
    /// mapping, a key or claim whose template the client cannot render, an unknown protocol).
    #[error("the entry's JWT cannot be built: {0}")]
    JwtSettings(Text),
    /// TWO_STEP `additional_steps` whose templates the client cannot render.
    #[error("`additional_steps`: {0}")]
    AdditionalSteps(Text),
    /// TWO_STEP `assertion` (a SAML or JWT assertion made before the token request).
    #[error("`assertion` (a SAML or JWT assertion before the token request) is not implemented")]
    Assertion,
    /// TWO_STEP `token_response_headers` (cookies and headers kept from the token response).
    #[error("`token_response_headers` (cookies kept from the token response) are not implemented")]
    TokenResponseHeaders,
    /// A `GET` token request with `token_params`, which a GET has no body for.
    #[error("`token_request_method: GET` with `token_params` (a GET has no body for them)")]
    ParamsOnGet,
    /// OAUTH1 without a `request_url`, or with a `signature_method` the client does not sign
    /// with (`RSA-SHA1`).
    #[error("OAUTH1 {0}")]
    OAuth1(Text),
    /// The mode's connections start from an authorization (`from_callback`) or saved tokens
    /// (`from_tokens`), not from a config and credentials alone (found at connect).
    #[error(
        "{0} connections start from an authorization (`authorize`, then `from_callback`) or from saved tokens (`from_tokens`)"
    )]
    NeedsAuthorization(AuthMode),
    /// A generated description that does not read back (not expected: generated code and
    /// runtime of different versions).
    #[error("{0}")]
    Unreadable(Text),
}

fn served_modes() -> String {
    let modes: Vec<&str> = AuthMode::served().map(AuthMode::as_str).collect();
    match modes.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => "no auth mode".to_owned(),
    }
}

fn required_list(mode: AuthMode) -> String {
    let keys: Vec<String> = mode
        .client_auth()
        .map_or(&[][..], crate::ClientAuth::required_credentials)
        .iter()
        .map(|k| format!("`{k}`"))
        .collect();
    keys.join(" and ")
}
