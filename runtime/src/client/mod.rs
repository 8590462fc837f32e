//! The HTTP client that generated connections drive (feature `client`, on by default).
//!
//! A [`Connection`] is one provider's typed, validated config and credentials (a
//! [`Binding`], written by generated code) plus an HTTP client. It:
//!
//! - **authenticates**: OAuth 2.0 client credentials (the token is requested as the catalog
//!   says, cached, renewed shortly before it expires and once after a 401, and concurrent
//!   requests share one token request), API keys and basic auth through the rendered
//!   `proxy.headers`;
//! - **proxies** requests: [`Connection::request`] joins the base URL and an endpoint, adds the
//!   provider's headers and query, checks that the URL's scheme and host are the ones the
//!   catalog fixes, never follows redirects, and refuses plain `http` except on loopback when
//!   set explicitly with [`Settings::origin`];
//! - **retries** 429 and 5xx (only 429 for requests that are not idempotent) with bounded
//!   exponential backoff and jitter, honouring `Retry-After` and the catalog's `proxy.retry`
//!   headers ([`crate::retry`]); [`RequestBuilder::idempotent`] overrides what the method
//!   says;
//! - **keeps a request budget** per connection ([`Connection::rate_budget`], a
//!   [`RateBudget`]) that requests sent with [`RequestBuilder::rate_budget`] wait for;
//! - **runs declared actions** ([`action::run`]): an integrations file's writes, their input
//!   checked against its model before anything is sent;
//! - **paginates**: [`Connection::paginate`] is a `Stream` of records over every page
//!   ([`crate::paginate`]);
//! - **verifies** credentials: [`Connection::verify`] runs the catalog's `proxy.verification`.
//!
//! Every failure is one [`Error`] that names the [`Step`]; secrets never reach a URL, a log
//! line, `Debug` or an error message.

/// A typed wrapper of the runtime's connection: it dereferences to it, clones with it and
/// prints as it does.
macro_rules! connection_wrapper {
    ($name:ident) => {
        impl<P> std::ops::Deref for $name<P> {
            type Target = super::Connection;
            fn deref(&self) -> &super::Connection {
                &self.inner
            }
        }

        impl<P> Clone for $name<P> {
            fn clone(&self) -> Self {
                $name {
                    inner: self.inner.clone(),
                    provider: std::marker::PhantomData,
                }
            }
        }

        impl<P> std::fmt::Debug for $name<P> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.inner.fmt(f)
            }
        }
    };
}

pub mod action;
mod auth;
mod authorized;
mod bound;
mod budget;
mod callback;
mod discover;
mod error;
mod grant;
pub mod oauth;
mod oauth1_flow;
mod pages;
mod register;
mod request;
mod shared;
#[cfg(feature = "signing")]
mod signed;
mod spec;
mod token_request;
#[cfg(not(feature = "signing"))]
mod unsigned;
mod url_check;
mod verify;
mod walk;

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use url::Url;

pub use crate::token::TokenSet;
pub use auth::TokenSink;
pub use authorized::AuthorizedConnection;
pub use bound::TypedConnection;
pub use budget::RateBudget;
pub use error::CallbackError;
pub use error::{ConnectError, Error, SMALL_BODY_BYTES, Step, TransportKind, validated};
pub use oauth::{
    AuthorizationRequest, OAuthClient, PendingAuthorization, authorize, authorize_json,
};
pub use pages::Pages;
pub use request::{RequestBuilder, Response};
pub use reqwest::Method;
pub use shared::{RenewFuture, Renewal, SharedTokens};
pub use spec::{Binding, BodyFormat, ClientSpec, TokenAuth, VerificationSpec};
pub use verify::Verified;
pub use walk::{ListingOptions, Page, PagePosition, PageWalk, RateHints};

pub use crate::paginate::{PageError, PaginateConfig};
pub use crate::retry::{GiveUpReason, Jitter, RetryPolicy};

use crate::ClientAuth;

/// How a [`Connection`] talks to its provider: timeouts, retries, token renewal, and the
/// test-only origin override. `Settings::default()` is what [`Connection`]s get unless told
/// otherwise.
#[derive(Debug, Clone)]
pub struct Settings {
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    token_margin: Duration,
    default_token_lifetime: Duration,
    origin: Option<String>,
    allow_secret_in_query: bool,
    user_agent: String,
    max_body_bytes: usize,
    rate_budget: Option<Arc<RateBudget>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::DEFAULT,
            token_margin: Duration::from_secs(60),
            default_token_lifetime: Duration::from_secs(24 * 60 * 60),
            origin: None,
            allow_secret_in_query: false,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            rate_budget: None,
        }
    }
}

/// [`Settings::max_body_bytes`] by default: 32 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

const DEFAULT_USER_AGENT: &str = concat!("terapi-runtime/", env!("CARGO_PKG_VERSION"));

impl Settings {
    /// The defaults: 30 s per request, 10 s to connect, [`RetryPolicy::DEFAULT`], tokens
    /// renewed 60 s before they expire (24 h assumed when a token response gives no
    /// lifetime), `https` only.
    pub fn new() -> Self {
        Settings::default()
    }

    /// The longest time one HTTP exchange (a token request, one attempt of a request) may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest time to wait for a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The retry limits (attempts, delays, total wait).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long before its expiry a token is renewed (default 60 s), at most half of the
    /// token's lifetime: a token issued for 30 s is renewed after 15 s, not before every
    /// request.
    pub fn token_margin(mut self, margin: Duration) -> Self {
        self.token_margin = margin;
        self
    }

    /// The lifetime assumed for a token whose response states none, or only a zero, negative or
    /// unreadable one (default 24 h; see [`crate::token`] for how lifetimes are read).
    pub fn default_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_token_lifetime = lifetime;
        self
    }

    /// Replaces the scheme, host and port of the catalog's base URL, token URL and
    /// verification URL with `origin`'s, keeping their paths: for a local test server or a
    /// recording proxy, e.g. `http://127.0.0.1:8080`. It must be `https`, or `http` on a
    /// loopback address (`127.0.0.0/8`, `::1`, `localhost`); anything else makes connecting
    /// fail with [`Error::Url`].
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Allows providers whose `proxy.query` carries a secret (an `api_key=` query param) to
    /// put it into request URLs, where proxies and server logs see it. Off by default:
    /// connecting to such a provider fails with [`Error::Unsupported`] until this is set.
    pub fn allow_secret_in_query(mut self, allow: bool) -> Self {
        self.allow_secret_in_query = allow;
        self
    }

    /// The largest response body a request reads (default [`DEFAULT_MAX_BODY_BYTES`], 32 MiB):
    /// a larger one is [`Error::BodyTooLarge`], refused from its `Content-Length` when it
    /// declares one, else once that many bytes have arrived. Token responses and the bodies
    /// of error statuses are read up to [`SMALL_BODY_BYTES`] whatever this says (an error
    /// body's rest is dropped, the status error keeps the message found in that part).
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// The request budget of the connections made with these settings (and their clones):
    /// one the caller shares, e.g. with the syncs of the same account. Without it, a
    /// connection makes its own on first use ([`Connection::rate_budget`]).
    pub fn rate_budget(mut self, budget: Arc<RateBudget>) -> Self {
        self.rate_budget = Some(budget);
        self
    }

    /// The `User-Agent` header (default `terapi-runtime/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    fn http_client(&self) -> Result<reqwest::Client, Error> {
        static DEFAULT: OnceLock<Result<reqwest::Client, Error>> = OnceLock::new();
        let build = || {
            install_tls_provider();
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(self.connect_timeout)
                .user_agent(self.user_agent.clone())
                .build()
                .map_err(|e| error::transport(Step::Connect, "-", "-", e))
        };
        let default = Settings::default();
        if self.connect_timeout == default.connect_timeout && self.user_agent == default.user_agent
        {
            DEFAULT.get_or_init(build).clone()
        } else {
            build()
        }
    }
}

/// A connection to one provider: its rendered URLs, its binding (typed config and
/// credentials), an HTTP client, and the cached access token. Cheap to clone: clones share the
/// token and the HTTP connection pool.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    binding: Box<dyn Binding>,
    spec: ClientSpec,
    base: Url,
    token_url: Option<Url>,
    verification_base: Option<Url>,
    /// Whether the verification URL is on the base URL's host (then it gets the provider's
    /// headers and credentials).
    verification_on_api_host: bool,
    /// `proxy.headers` rendered once, when no template depends on the request
    /// ([`ClientSpec::static_headers`]).
    static_headers: Option<reqwest::header::HeaderMap>,
    /// How requests are authenticated: the auth mode's row of [`crate::AuthMode::client_auth`].
    auth: ClientAuth,
    /// `Authorization: Basic …` from the credentials (BASIC), made once.
    basic_authorization: Option<reqwest::header::HeaderValue>,
    http: reqwest::Client,
    settings: Settings,
    token: auth::TokenCache,
    /// The application's OAuth client (authorization code).
    client: Option<oauth::OAuthClient>,
    /// `refresh_url`, rendered (else refreshes go to the token URL).
    refresh_url: Option<Url>,
    /// The request budget, made on first use (or the one the settings share).
    budget: OnceLock<Arc<RateBudget>>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("provider", &self.inner.spec.key)
            .field("auth_mode", &self.inner.spec.auth_mode)
            .field("base_url", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection with [`Settings::default`].
    pub fn new(binding: impl Binding) -> Result<Connection, Error> {
        Connection::with_settings(binding, Settings::default())
    }

    /// A connection with `settings`. Renders the base URL (and the token and verification
    /// URLs), applies the origin override, and checks that each is `https` (or loopback
    /// `http` through the override) and that the auth mode is one this client implements.
    pub fn with_settings(binding: impl Binding, settings: Settings) -> Result<Connection, Error> {
        Connection::from_boxed(Box::new(binding), settings)
    }

    /// A connection to the provider `spec` describes (a generated `static` or a description
    /// loaded at run time), with `values` for its params.
    pub fn for_spec(
        spec: impl Into<crate::spec::SpecRef>,
        values: impl crate::spec::Values + 'static,
        settings: Settings,
    ) -> Result<Connection, Error> {
        Connection::with_settings(bound::SpecBinding::connect(spec.into(), values)?, settings)
    }

    /// Validates `connection_config` and `credentials` against `spec`'s params (every
    /// problem of both at once) and connects: the untyped way in, for providers known only at
    /// run time.
    pub fn from_json(
        spec: impl Into<crate::spec::SpecRef>,
        connection_config: &serde_json::Value,
        credentials: &serde_json::Value,
        settings: Settings,
    ) -> Result<Connection, ConnectError> {
        let spec = spec.into();
        let values = crate::spec::ParamValues::from_json(&spec, connection_config, credentials)?;
        Ok(Connection::for_spec(spec, values, settings)?)
    }

    /// [`Connection::with_settings`] for a boxed binding.
    pub fn from_boxed(binding: Box<dyn Binding>, settings: Settings) -> Result<Connection, Error> {
        Connection::from_parts(binding, settings, None)
    }

    /// A connection that only requests tokens (the code exchange, before the token response
    /// has given the values its base URL may need): its base URL is the token URL.
    pub(crate) fn for_token_exchange(
        binding: Box<dyn Binding>,
        settings: Settings,
        client: oauth::OAuthClient,
        seed: crate::token::TokenSet,
    ) -> Result<Connection, Error> {
        Connection::assemble(binding, settings, Some((client, Some(seed))), true)
    }

    /// A connection for `binding`; with the application's OAuth client and the tokens a user
    /// granted for authorization code providers (which need both).
    pub(crate) fn from_parts(
        binding: Box<dyn Binding>,
        settings: Settings,
        authorized: Option<(oauth::OAuthClient, crate::token::TokenSet)>,
    ) -> Result<Connection, Error> {
        Connection::assemble(
            binding,
            settings,
            authorized.map(|(client, tokens)| (client, Some(tokens))),
            false,
        )
    }

    fn assemble(
        binding: Box<dyn Binding>,
        settings: Settings,
        authorized: Option<(oauth::OAuthClient, Option<crate::token::TokenSet>)>,
        exchange_only: bool,
    ) -> Result<Connection, Error> {
        let spec = binding.spec().clone();
        let unsupported_because = |reason: crate::spec::Unsupported| Error::Unsupported {
            provider: spec.key.clone(),
            auth_mode: spec.auth_mode,
            reason,
        };
        // The mode's row decides the strategy; its required credentials must be there.
        let auth = spec.auth_mode.client_auth().ok_or_else(|| {
            unsupported_because(crate::spec::Unsupported::AuthMode(spec.auth_mode))
        })?;
        let has_required = match auth {
            ClientAuth::Templates => true,
            ClientAuth::Basic => binding.basic_credentials().is_some(),
            ClientAuth::ClientCredentials => binding.client_credentials().is_some(),
            ClientAuth::AuthorizationCode
            | ClientAuth::TokenRequest
            | ClientAuth::SignedToken
            | ClientAuth::OAuth1 => true,
        };
        if !has_required {
            return Err(unsupported_because(
                crate::spec::Unsupported::MissingCredentials(spec.auth_mode),
            ));
        }
        if auth.authorizes() != authorized.is_some() {
            return Err(unsupported_because(if auth.authorizes() {
                crate::spec::Unsupported::NeedsAuthorization(spec.auth_mode)
            } else {
                crate::spec::Unsupported::AuthMode(spec.auth_mode)
            }));
        }
        let (client, tokens) = match authorized {
            Some((client, tokens)) => (Some(client), tokens),
            None => (None, None),
        };
        if spec.query_has_secret && !settings.allow_secret_in_query {
            return Err(unsupported_because(crate::spec::Unsupported::SecretInQuery));
        }
        let origin = settings
            .origin
            .as_deref()
            .map(url_check::parse_origin)
            .transpose()?;
        let prepare = |url: Url, what: &str| -> Result<Url, Error> {
            let url = match &origin {
                Some(origin) => url_check::with_origin(&url, origin),
                None => url,
            };
            url_check::require_secure(&url, origin.is_some(), what)?;
            Ok(url)
        };
        let render = |r: Result<Url, crate::RenderError>| {
            r.map_err(|source| Error::Render {
                step: Step::Connect,
                source,
            })
        };
        // A token endpoint discovered at authorization (MCP_OAUTH2_GENERIC) travels with the
        // tokens.
        let discovered = tokens
            .as_ref()
            .and_then(|t| t.metadata().get(oauth::TOKEN_ENDPOINT))
            .map(|u| {
                Url::parse(u).map_err(|_| Error::Url {
                    step: Step::Connect,
                    message: "the discovered token endpoint is not a URL".to_owned(),
                })
            })
            .transpose()?;
        let token_url = match (binding.token_url(), discovered) {
            (Some(url), _) => Some(prepare(render(url)?, "the token URL")?),
            // Already mapped to the origin when it was discovered.
            (None, Some(url)) => {
                url_check::require_secure(&url, origin.is_some(), "the token URL")?;
                Some(url)
            }
            (None, None) => None,
        };
        let refresh_url = match binding.refresh_url() {
            Some(url) if !exchange_only => Some(prepare(render(url)?, "the refresh URL")?),
            _ => None,
        };
        let catalog_base = match (&token_url, exchange_only) {
            (Some(url), true) => url.clone(),
            _ => render(binding.base_url())?,
        };
        let base = prepare(catalog_base.clone(), "the base URL")?;
        if auth.uses_token() && auth != ClientAuth::SignedToken && token_url.is_none() {
            return Err(unsupported_because(crate::spec::Unsupported::NoTokenUrl(
                spec.auth_mode,
            )));
        }
        // Whether the check goes to the API's own host is decided on the catalog's URLs: the
        // origin override maps every host to one.
        let mut verification_on_api_host = true;
        let verification_base = match binding.verification_base_url() {
            Some(_) if exchange_only => None,
            Some(url) => {
                let url = render(url)?;
                verification_on_api_host = url_check::same_origin(&url, &catalog_base);
                Some(prepare(url, "the verification URL")?)
            }
            None => None,
        };
        let static_headers = if spec.static_headers && !exchange_only {
            let mut cx = crate::client::render_context();
            if let Some((id, secret)) = client
                .as_ref()
                .map(|c| (c.id(), c.secret()))
                .or_else(|| binding.client_credentials())
            {
                cx = cx.with_client(id, secret);
            }
            let headers = binding.headers(&cx).map_err(|source| Error::Render {
                step: Step::Connect,
                source,
            })?;
            let mut map = reqwest::header::HeaderMap::new();
            request::insert_headers(&mut map, &headers)?;
            Some(map)
        } else {
            None
        };
        let basic_authorization = match (auth, binding.basic_credentials()) {
            (ClientAuth::Basic, Some((user, password))) => {
                use base64::Engine as _;
                let pair = format!("{user}:{}", password.unwrap_or_default());
                let text = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                );
                // Base64 text is always a valid header value.
                let mut value = reqwest::header::HeaderValue::from_str(&text).map_err(|_| {
                    request::header_error("authorization", "the basic credentials cannot be sent")
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };
        let http = settings.http_client()?;
        Ok(Connection {
            inner: Arc::new(Inner {
                binding,
                spec,
                base,
                token_url,
                verification_base,
                verification_on_api_host,
                static_headers,
                auth,
                basic_authorization,
                token: match tokens {
                    Some(tokens) => {
                        auth::TokenCache::with_tokens(tokens, settings.default_token_lifetime)
                    }
                    None => auth::TokenCache::default(),
                },
                http,
                settings,
                client,
                refresh_url,
                budget: OnceLock::new(),
            }),
        })
    }

    /// The OAuth client: the application's (authorization code), else the credentials'
    /// (client credentials).
    pub(crate) fn client(&self) -> Option<(&str, &str)> {
        let inner = &self.inner;
        match &inner.client {
            Some(client) => Some((client.id(), client.secret())),
            None => inner.binding.client_credentials(),
        }
    }

    /// The catalog key of the provider.
    pub fn provider(&self) -> &str {
        &self.inner.spec.key
    }

    /// What the client knows of the provider besides its templates.
    pub fn spec(&self) -> &ClientSpec {
        &self.inner.spec
    }

    /// The base URL requests are joined to (after the origin override).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// A request to `endpoint`, a path below the base URL (`/company/employees`, optionally
    /// with a `?query`). Send it with [`RequestBuilder::send`].
    pub fn request(&self, method: Method, endpoint: impl Into<String>) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, endpoint.into())
    }

    /// `GET endpoint`.
    pub fn get(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.request(Method::GET, endpoint)
    }

    /// `POST endpoint`.
    pub fn post(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.request(Method::POST, endpoint)
    }

    /// Every record of a paginated listing, as the catalog's `proxy.paginate` describes it,
    /// each decoded as `T`.
    pub fn paginate<T>(&self, endpoint: impl Into<String>) -> Pages<T> {
        Pages::new(
            self.clone(),
            endpoint.into(),
            self.inner.spec.paginate.clone(),
        )
    }

    /// Every record of a paginated listing, paginated as `config` says instead of the
    /// catalog's (an endpoint that departs from the provider's usual shape).
    pub fn paginate_with<T>(
        &self,
        config: PaginateConfig,
        endpoint: impl Into<String>,
    ) -> Pages<T> {
        Pages::new(self.clone(), endpoint.into(), Some(config))
    }

    /// The connection's request budget, shared by its clones: the one given with
    /// [`Settings::rate_budget`], else one at `default` made by the first call (later calls
    /// get that one, whatever they pass).
    pub fn rate_budget(&self, default: crate::sync::Budget) -> Arc<RateBudget> {
        Arc::clone(self.inner.budget.get_or_init(|| {
            self.inner
                .settings
                .rate_budget
                .clone()
                .unwrap_or_else(|| Arc::new(RateBudget::new(default)))
        }))
    }

    /// How many token requests this connection (and its clones) have made.
    pub fn token_requests(&self) -> u64 {
        self.inner.token.requests()
    }
}

/// A context at the current time with the template functions' cryptography
/// ([`crate::CRYPTO`]).
pub(crate) fn render_context<'a>() -> crate::RenderContext<'a> {
    crate::RenderContext::new().with_crypto(&crate::CRYPTO)
}

/// Installs rustls's *ring* provider as the process's TLS crypto provider, unless one is
/// installed already (the application's own wins).
///
/// This crate builds reqwest with rustls but without a built-in provider (reqwest's default,
/// aws-lc, is a fifth of a downstream build's CPU); it calls this before building its own
/// client. An application that builds a `reqwest::Client` of its own before terapi's first
/// one calls it first, else reqwest finds no provider and panics.
pub fn install_tls_provider() {
    // rustls 0.23.48 deprecates *ring*'s provider for lacking post-quantum key exchange (aws-lc
    // has it); it is still supported and is what keeps aws-lc's build out of every downstream
    // crate. An application that wants post-quantum key exchange installs aws-lc's provider
    // before terapi's first request, and that one is used.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.install_default();
}
