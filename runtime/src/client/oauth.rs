//! The OAuth 2.0 authorization code flow (RFC 6749 §4.1) with PKCE (RFC 7636), for OAUTH2 and
//! MCP_OAUTH2 providers: the authorization URL and the pending flow ([`authorize`]), the
//! callback ([`Connection::from_callback`]), connections from saved tokens
//! ([`Connection::from_tokens`]), and the token sink that sees every renewal first.
//!
//! The token requests themselves (code exchange, refresh) are in `grant.rs`; the single-flight
//! renewal in `auth.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha2::Digest as _;
use url::Url;

use super::auth::TokenSink;
use super::error::{CallbackError, ConnectError, Error, Step};
use super::{Connection, Settings, url_check};
use crate::ClientAuth;
use crate::Secret;
use crate::Section;
use crate::spec::{AuthorizationSpec, ClientSupport, ParamValues, SpecRef, Values};
use crate::token::TokenSet;

/// Where a discovered token endpoint is kept in a connection's tokens, for its refreshes.
pub(crate) const TOKEN_ENDPOINT: &str = "oauth_token_endpoint";
/// Where the server URL (the `resource`) is kept.
pub(crate) const RESOURCE: &str = "oauth_resource";

/// What discovery found.
#[derive(Debug, Clone)]
pub(crate) struct Discovered {
    pub(crate) authorization_endpoint: Url,
    pub(crate) token_endpoint: Url,
    pub(crate) registration_endpoint: Option<Url>,
    pub(crate) scopes: Vec<String>,
    /// The MCP server's URL, the `resource` of every request.
    pub(crate) resource: String,
}

/// An application's registration with a provider: its OAuth client id and secret. Not a
/// credential of a connection: one client serves every user who authorizes the application.
///
/// It serializes with its secret in clear (for a store that encrypts it); `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    id: String,
    secret: Secret,
}

impl OAuthClient {
    /// A confidential client (an id and a secret).
    pub fn new(id: impl Into<String>, secret: impl Into<Secret>) -> Self {
        OAuthClient {
            id: id.into(),
            secret: secret.into(),
        }
    }

    /// A public client: an id without a secret (PKCE protects the exchange), as a
    /// dynamically registered MCP client usually is.
    pub fn public(id: impl Into<String>) -> Self {
        OAuthClient::new(id, "")
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The client secret (empty for a public client).
    pub(crate) fn secret(&self) -> &str {
        self.secret.expose()
    }
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .finish()
    }
}

/// What an OAuth client is stored as: its secret in clear (keep it encrypted at rest, as a
/// connection store does).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredClient {
    id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    secret: String,
}

impl serde::Serialize for OAuthClient {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StoredClient {
            id: self.id.clone(),
            secret: self.secret.expose().to_owned(),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for OAuthClient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let stored = StoredClient::deserialize(d)?;
        Ok(OAuthClient::new(stored.id, stored.secret))
    }
}

/// How long a pending authorization waits for its callback by default: 15 minutes.
pub const DEFAULT_AUTHORIZATION_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// What an application asks of an authorization: where the provider sends the user back, the
/// scopes, extra params of the authorization URL.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    redirect_uri: String,
    scopes: Option<Vec<String>>,
    params: Vec<(String, String)>,
    origin: Option<String>,
    settings: Option<Settings>,
    lifetime: Duration,
}

impl AuthorizationRequest {
    /// An authorization whose callback goes to `redirect_uri` (registered with the provider).
    pub fn new(redirect_uri: impl Into<String>) -> Self {
        AuthorizationRequest {
            redirect_uri: redirect_uri.into(),
            scopes: None,
            params: Vec::new(),
            origin: None,
            settings: None,
            lifetime: DEFAULT_AUTHORIZATION_LIFETIME,
        }
    }

    /// The scopes to request (instead of the catalog's `default_scopes`), joined with the
    /// catalog's `scope_separator`.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// A param of the authorization URL, set after the catalog's `authorization_params` (so
    /// it replaces one of the same name), e.g. `prompt=consent`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Applies `settings`' origin override ([`Settings::origin`]) to the authorization URL, as
    /// connections apply it to their URLs: for a local test server.
    pub fn settings(mut self, settings: &Settings) -> Self {
        self.origin = settings.origin.clone();
        self.settings = Some(settings.clone());
        self
    }

    /// How long the pending authorization waits for its callback (default
    /// [`DEFAULT_AUTHORIZATION_LIFETIME`]).
    pub fn valid_for(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }
}

impl AuthorizationRequest {
    pub(crate) fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
    pub(crate) fn scope_list(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }
    pub(crate) fn extra_params(&self) -> &[(String, String)] {
        &self.params
    }
    pub(crate) fn connection_settings(&self) -> Settings {
        self.settings.clone().unwrap_or_default()
    }
}

/// An authorization under way: the URL to send the user to, and what the callback needs (the
/// state, the PKCE verifier, the redirect URI, the connection config, the OAuth client).
///
/// It serializes (secrets in clear: keep it where the application keeps secrets), so that the
/// callback may reach any replica. It is single-use: [`Connection::from_callback`] consumes it.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub(crate) provider: String,
    pub(crate) url: Url,
    pub(crate) state: Secret,
    pub(crate) code_verifier: Option<Secret>,
    /// OAuth 1.0a's temporary credentials (token and secret).
    pub(crate) request_token: Option<(Secret, Secret)>,
    /// Discovered endpoints (MCP_OAUTH2_GENERIC): the token endpoint and the resource.
    pub(crate) discovered: Option<(String, String)>,
    pub(crate) redirect_uri: String,
    pub(crate) client: OAuthClient,
    pub(crate) config: BTreeMap<String, Secret>,
    pub(crate) created_at: SystemTime,
    pub(crate) expires_at: SystemTime,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("provider", &self.provider)
            .field("redirect_uri", &self.redirect_uri)
            .field("client", &self.client)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl PendingAuthorization {
    /// The authorization URL: where to send the user.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The catalog key of the provider.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The `state` param: what the callback must carry back (a store may index pending
    /// authorizations by it).
    pub fn state(&self) -> &str {
        self.state.expose()
    }

    /// When the callback is no longer accepted.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The OAuth client.
    pub fn client(&self) -> &OAuthClient {
        &self.client
    }

    /// The connection config the authorization was started with, as JSON (secrets in clear).
    pub fn config_json(&self) -> serde_json::Value {
        config_json(&self.config)
    }
}

impl PendingAuthorization {
    /// A pending OAuth 1.0a authorization: `url` carries the temporary credentials.
    pub(crate) fn oauth1(
        spec: &crate::spec::ProviderSpec,
        config: &dyn Values,
        client: &OAuthClient,
        url: Url,
        state: String,
        request_token: (Secret, Secret),
        request: &AuthorizationRequest,
    ) -> Self {
        let now = crate::token::whole_seconds(SystemTime::now());
        PendingAuthorization {
            provider: spec.key.to_string(),
            url,
            state: Secret::new(state),
            code_verifier: None,
            request_token: Some(request_token),
            discovered: None,
            redirect_uri: request.redirect_uri.clone(),
            client: client.clone(),
            config: config_values(spec, config),
            created_at: now,
            expires_at: now.checked_add(request.lifetime).unwrap_or(now),
        }
    }

    /// A pending authorization at discovered endpoints (MCP_OAUTH2_GENERIC).
    pub(crate) fn discovered(
        spec: &crate::spec::ProviderSpec,
        config: &dyn Values,
        client: &OAuthClient,
        request: AuthorizationRequest,
        found: Discovered,
    ) -> Result<Self, Error> {
        let state = random_token()?;
        let verifier = random_token()?;
        let mut url = found.authorization_endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", &client.id);
            q.append_pair("redirect_uri", &request.redirect_uri);
            let scopes = request.scopes.clone().unwrap_or_default().join(" ");
            if !scopes.is_empty() {
                q.append_pair("scope", &scopes);
            }
            q.append_pair("state", &state);
            q.append_pair("code_challenge", &pkce_challenge(&verifier));
            q.append_pair("code_challenge_method", "S256");
            q.append_pair("resource", &found.resource);
            for (name, value) in &request.params {
                q.append_pair(name, value);
            }
        }
        let now = crate::token::whole_seconds(SystemTime::now());
        Ok(PendingAuthorization {
            provider: spec.key.to_string(),
            url,
            state: Secret::new(state),
            code_verifier: Some(Secret::new(verifier)),
            request_token: None,
            discovered: Some((found.token_endpoint.to_string(), found.resource)),
            redirect_uri: request.redirect_uri.clone(),
            client: client.clone(),
            config: config_values(spec, config),
            created_at: now,
            expires_at: now.checked_add(request.lifetime).unwrap_or(now),
        })
    }

    /// The temporary credentials of an OAuth 1.0a authorization.
    pub(crate) fn request_token(&self) -> Option<&(Secret, Secret)> {
        self.request_token.as_ref()
    }

    /// The connection config it was started with, validated again against `spec`'s params.
    pub(crate) fn values(&self, spec: &crate::spec::ProviderSpec) -> Result<ParamValues, Error> {
        ParamValues::from_json(spec, &config_json(&self.config), &serde_json::json!({})).map_err(
            |e| Error::Url {
                step: Step::Authorize,
                message: format!("the pending authorization's connection config: {e}"),
            },
        )
    }
}

/// The config values by param key.
fn config_values(
    spec: &crate::spec::ProviderSpec,
    config: &dyn Values,
) -> BTreeMap<String, Secret> {
    spec.config
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            config
                .value(Section::ConnectionConfig, i)
                .map(|v| (p.key.to_string(), Secret::new(v)))
        })
        .collect()
}

/// `config` as owned values (validated again).
pub(crate) fn owned_values(
    spec: &crate::spec::ProviderSpec,
    config: &dyn Values,
) -> Result<ParamValues, Error> {
    ParamValues::from_json(
        spec,
        &config_json(&config_values(spec, config)),
        &serde_json::json!({}),
    )
    .map_err(|e| Error::Url {
        step: Step::Authorize,
        message: format!("the connection config: {e}"),
    })
}

/// A random `state`.
pub(crate) fn random_state() -> Result<String, Error> {
    random_token()
}

fn config_json(config: &BTreeMap<String, Secret>) -> serde_json::Value {
    serde_json::Value::Object(
        config
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().into()))
            .collect(),
    )
}

/// 32 bytes from the operating system's generator, base64url without padding (43 characters).
fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Url {
        step: Step::Authorize,
        message: format!("no random bytes from the operating system ({e})"),
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The S256 challenge of a PKCE verifier (RFC 7636 §4.2).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// The description's authorization code settings, or why the provider has none.
pub(crate) fn authorization_spec(spec: &SpecRef) -> Result<&AuthorizationSpec, Error> {
    let unsupported = |reason| Error::Unsupported {
        provider: spec.key.clone(),
        auth_mode: spec.auth_mode,
        reason,
    };
    let client = match &spec.client {
        ClientSupport::Supported(client) => client,
        ClientSupport::Unsupported(reason) => return Err(unsupported(reason.clone())),
    };
    if !spec
        .auth_mode
        .client_auth()
        .is_some_and(ClientAuth::authorizes)
    {
        return Err(Error::Url {
            step: Step::Authorize,
            message: format!(
                "{} ({}) is not authorized in a browser: it connects with its config and credentials (`Connection::from_json`)",
                spec.key, spec.auth_mode
            ),
        });
    }
    client
        .authorization
        .as_ref()
        .ok_or_else(|| unsupported(crate::spec::Unsupported::AuthMode(spec.auth_mode)))
}

/// Starts an authorization for the provider `spec` describes, with its connection config
/// `config`: renders the catalog's `authorization_url` and `authorization_params`, and adds
/// `response_type=code`, the client id, the redirect URI, the scopes (the request's, else the
/// catalog's `default_scopes`, joined with its `scope_separator`), a random `state`, and the
/// PKCE S256 challenge of a random verifier (unless the catalog says `disable_pkce`).
/// `authorization_url_replacements` rename params (an empty name removes one).
///
/// The URL must be `https` (or loopback `http` through [`AuthorizationRequest::settings`]'
/// origin override).
pub fn authorize(
    spec: impl Into<SpecRef>,
    config: &dyn Values,
    client: &OAuthClient,
    request: AuthorizationRequest,
) -> Result<PendingAuthorization, Error> {
    let spec = spec.into();
    let auth = authorization_spec(&spec)?;
    if auth.discovery {
        return Err(Error::Url {
            step: Step::Authorize,
            message: format!(
                "{} discovers its endpoints from the MCP server first: start it with `authorize_discovered`",
                spec.key
            ),
        });
    }
    let render_error = |source| Error::Render {
        step: Step::Authorize,
        source,
    };
    let url = spec
        .authorization_url
        .as_ref()
        .and_then(|u| spec.render_url(u, config))
        .ok_or_else(|| Error::Url {
            step: Step::Authorize,
            message: "the provider has no `authorization_url` the client can render".to_owned(),
        })?
        .map_err(render_error)?;
    let mut url = match request.origin.as_deref() {
        Some(origin) => url_check::with_origin(&url, &url_check::parse_origin(origin)?),
        None => url,
    };
    url_check::require_secure(&url, request.origin.is_some(), "the authorization URL")?;
    let state = random_token()?;
    let verifier = auth.pkce.then(random_token).transpose()?;
    let scopes = match &request.scopes {
        Some(scopes) => scopes.join(&auth.scope_separator),
        None => auth
            .default_scopes
            .iter()
            .map(|s| &**s)
            .collect::<Vec<_>>()
            .join(&auth.scope_separator),
    };
    // The template's own query first, then the flow's params, then the catalog's, then the
    // request's: a later one of the same name replaces an earlier one in place.
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut set = |name: &str, value: String| match params.iter_mut().find(|(n, _)| n == name) {
        Some(entry) => entry.1 = value,
        None => params.push((name.to_owned(), value)),
    };
    set("response_type", "code".to_owned());
    set("client_id", client.id.clone());
    set("redirect_uri", request.redirect_uri.clone());
    if !scopes.is_empty() {
        set("scope", scopes);
    }
    set("state", state.clone());
    let cx = crate::client::render_context().with_client(&client.id, client.secret());
    for param in spec
        .render_named(&spec.authorization_params, config, &cx)
        .map_err(render_error)?
        .iter()
    {
        set(param.name(), param.value().to_owned());
    }
    if auth.oauth1.is_some() {
        return Err(Error::Url {
            step: Step::Authorize,
            message: format!(
                "{} uses OAuth 1.0a, which asks the provider for temporary credentials first: start it with `authorize_oauth1`",
                spec.key
            ),
        });
    }
    if let Some(verifier) = &verifier {
        set("code_challenge", pkce_challenge(verifier));
        set("code_challenge_method", "S256".to_owned());
    }
    for (name, value) in &request.params {
        set(name, value.clone());
    }
    for replacement in auth.replacements.iter() {
        let from = replacement.from.trim_end_matches('=');
        let to = replacement.to.trim_end_matches('=');
        if let Some(i) = params.iter().position(|(n, _)| n == from) {
            if to.is_empty() {
                params.remove(i);
            } else {
                params[i].0 = to.to_owned();
            }
        }
    }
    url.set_query(None);
    url.query_pairs_mut().extend_pairs(&params);
    let config_values = config_values(&spec, config);
    // Whole seconds, as stored: a saved pending authorization reads back equal.
    let now = crate::token::whole_seconds(SystemTime::now());
    Ok(PendingAuthorization {
        provider: spec.key.to_string(),
        url,
        state: Secret::new(state),
        code_verifier: verifier.map(Secret::new),
        request_token: None,
        discovered: None,
        redirect_uri: request.redirect_uri,
        client: client.clone(),
        config: config_values,
        created_at: now,
        expires_at: now.checked_add(request.lifetime).unwrap_or(now),
    })
}

/// [`authorize`] with the connection config as JSON, validated against the description's
/// params first (every problem at once).
pub fn authorize_json(
    spec: impl Into<SpecRef>,
    config: &serde_json::Value,
    client: &OAuthClient,
    request: AuthorizationRequest,
) -> Result<PendingAuthorization, ConnectError> {
    let spec = spec.into();
    // A provider that is not authorized in a browser says so before its params are checked.
    authorization_spec(&spec)?;
    let values = ParamValues::from_json(&spec, config, &serde_json::json!({}))?;
    Ok(authorize(spec, &values, client, request)?)
}

/// What a callback carries: the code and the metadata the catalog keeps.
pub(crate) struct Callback {
    pub(crate) code: Secret,
    pub(crate) metadata: BTreeMap<String, String>,
    /// `oauth_token` (OAuth 1.0a: the temporary credentials the user authorized).
    pub(crate) oauth_token: Option<String>,
}

/// Checks `callback_url` against `pending`: the redirect URI, the expiry, the state (in
/// constant time), a refusal (`error`), and reads the code and the metadata params.
pub(crate) fn read_callback(
    pending: &PendingAuthorization,
    auth: &AuthorizationSpec,
    callback_url: &str,
    now: SystemTime,
) -> Result<Callback, CallbackError> {
    let url = Url::parse(callback_url).map_err(|_| CallbackError::NotAUrl)?;
    if let Ok(expected) = Url::parse(&pending.redirect_uri)
        && (url.scheme() != expected.scheme()
            || url.host_str() != expected.host_str()
            || url.port_or_known_default() != expected.port_or_known_default()
            || url.path() != expected.path())
    {
        // Scheme, host, port (when not the scheme's default) and path: never the query.
        let port = expected.port().map(|p| format!(":{p}")).unwrap_or_default();
        return Err(CallbackError::WrongRedirect {
            expected: format!(
                "{}://{}{port}{}",
                expected.scheme(),
                expected.host_str().unwrap_or_default(),
                expected.path()
            ),
        });
    }
    let query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let state_ok = get("state").is_some_and(|s| constant_time_eq(s, pending.state.expose()));
    if !state_ok {
        return Err(CallbackError::StateMismatch);
    }
    if now > pending.expires_at {
        return Err(CallbackError::Expired {
            valid_for_s: pending
                .expires_at
                .duration_since(pending.created_at)
                .unwrap_or_default()
                .as_secs(),
        });
    }
    if let Some(error) = get("error") {
        return Err(CallbackError::Denied {
            error: super::error::truncate(error, 100),
            description: get("error_description")
                .map(|d| super::error::truncate(d, super::error::MESSAGE_CHARS)),
        });
    }
    let code = get(&auth.code_param)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| CallbackError::MissingCode {
            param: auth.code_param.to_string(),
        })?;
    let metadata = auth
        .redirect_uri_metadata
        .iter()
        .filter_map(|name| {
            get(name)
                .filter(|v| !v.is_empty())
                .map(|v| (name.to_string(), v.to_owned()))
        })
        .collect();
    Ok(Callback {
        code: Secret::new(code),
        metadata,
        oauth_token: get("oauth_token").map(str::to_owned),
    })
}

/// Compares two strings in time that depends on their lengths only.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A connection's values with the metadata of its tokens filling connection config params
/// that the user left empty (a `${connectionConfig.instance_url}` from the token response).
pub(crate) struct WithMetadata<V> {
    pub(crate) values: V,
    /// Per config param, the metadata value of its key.
    pub(crate) filled: Vec<Option<String>>,
}

impl<V: Values> WithMetadata<V> {
    pub(crate) fn new(spec: &crate::spec::ProviderSpec, values: V, tokens: &TokenSet) -> Self {
        let filled = spec
            .config
            .iter()
            .map(|p| tokens.metadata().get(&*p.key).cloned())
            .collect();
        WithMetadata { values, filled }
    }
}

impl<V: Values> Values for WithMetadata<V> {
    fn value(&self, section: Section, index: usize) -> Option<&str> {
        match self.values.value(section, index) {
            Some(v) if !v.is_empty() => Some(v),
            other => match section {
                Section::ConnectionConfig => {
                    self.filled.get(index).and_then(Option::as_deref).or(other)
                }
                Section::Credentials => other,
            },
        }
    }
}

impl Connection {
    /// A connection from tokens saved earlier ([`Connection::tokens`]), with the connection
    /// config as JSON (validated against the description's params).
    pub fn from_tokens(
        spec: impl Into<SpecRef>,
        config: &serde_json::Value,
        client: OAuthClient,
        tokens: TokenSet,
        settings: Settings,
    ) -> Result<Connection, ConnectError> {
        let spec = spec.into();
        let values = ParamValues::from_json(&spec, config, &serde_json::json!({}))?;
        Ok(Connection::authorized(
            spec, values, client, tokens, settings,
        )?)
    }

    /// A connection to an authorization code provider with `tokens` and its config `values`.
    pub fn authorized(
        spec: impl Into<SpecRef>,
        values: impl Values + 'static,
        client: OAuthClient,
        tokens: TokenSet,
        settings: Settings,
    ) -> Result<Connection, Error> {
        let spec = spec.into();
        authorization_spec(&spec)?;
        let values = WithMetadata::new(&spec, values, &tokens);
        let binding = super::bound::SpecBinding::connect(spec, values)?;
        Connection::from_parts(Box::new(binding), settings, Some((client, tokens)))
    }

    /// The connection's current tokens: those a user granted (authorization code, OAuth
    /// 1.0a), what to save and what [`Connection::from_tokens`] takes; or those obtained from
    /// its credentials (client credentials, TWO_STEP, BILL) once it has asked for some, which
    /// a store keeps beside the credentials so that other processes reuse them. `None` for
    /// other modes, or before a first token.
    pub fn tokens(&self) -> Option<TokenSet> {
        self.inner.token.tokens()
    }

    /// Hands every renewal's tokens to `sink` and waits for it before using them (see
    /// [`TokenSink`]). Clones of the connection share the sink.
    pub fn set_token_sink(&self, sink: impl TokenSink) {
        self.inner.token.set_sink(std::sync::Arc::new(sink));
    }

    /// Renews the tokens through `shared` (a connection store other processes use too)
    /// instead of on its own: see [`super::SharedTokens`]. Clones of the connection share it.
    pub fn set_shared_tokens(&self, shared: std::sync::Arc<dyn super::SharedTokens>) {
        self.inner.token.set_shared(shared);
    }
}

/// What a pending authorization is stored as.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredPending {
    provider: String,
    url: String,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_verifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_token: Option<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    discovered: Option<(String, String)>,
    redirect_uri: String,
    client_id: String,
    client_secret: String,
    config: BTreeMap<String, String>,
    created_at: u64,
    expires_at: u64,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl serde::Serialize for PendingAuthorization {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StoredPending {
            provider: self.provider.clone(),
            url: self.url.to_string(),
            state: self.state.expose().to_owned(),
            code_verifier: self.code_verifier.as_ref().map(|v| v.expose().to_owned()),
            request_token: self
                .request_token
                .as_ref()
                .map(|(t, s)| (t.expose().to_owned(), s.expose().to_owned())),
            discovered: self.discovered.clone(),
            redirect_uri: self.redirect_uri.clone(),
            client_id: self.client.id.clone(),
            client_secret: self.client.secret().to_owned(),
            config: self
                .config
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                .collect(),
            created_at: unix(self.created_at),
            expires_at: unix(self.expires_at),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for PendingAuthorization {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let p = StoredPending::deserialize(d)?;
        let url = Url::parse(&p.url).map_err(|_| D::Error::custom("`url` is not a URL"))?;
        if p.state.len() < 16 {
            return Err(D::Error::custom("`state` is too short"));
        }
        let time = |secs: u64, what: &str| {
            UNIX_EPOCH
                .checked_add(Duration::from_secs(secs))
                .ok_or_else(|| D::Error::custom(format!("`{what}` is out of range")))
        };
        Ok(PendingAuthorization {
            provider: p.provider,
            url,
            state: Secret::new(p.state),
            code_verifier: p.code_verifier.map(Secret::new),
            request_token: p
                .request_token
                .map(|(t, s)| (Secret::new(t), Secret::new(s))),
            discovered: p.discovered,
            redirect_uri: p.redirect_uri,
            client: OAuthClient::new(p.client_id, p.client_secret),
            config: p
                .config
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
            created_at: time(p.created_at, "created_at")?,
            expires_at: time(p.expires_at, "expires_at")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[test]
    fn debug_masks_secrets() {
        let client = OAuthClient::new("id-1", "very-secret");
        assert!(!format!("{client:?}").contains("very-secret"));
    }
}
