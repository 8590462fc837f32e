//! How a server is set up: its public URL, the origins of connect pages, limits, the OAuth
//! apps it connects with, and where its webhooks go.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use terapi_runtime::Secret;
use terapi_sync::serve::Limits;

/// The settings of a [`Server`](crate::Server).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The URL the server is reached at from browsers and providers (`connect_link`, the
    /// OAuth redirect URI `{public_url}/oauth/callback`), without a trailing slash.
    pub public_url: url::Url,
    /// Origins of pages allowed to call the end-user routes from a browser (CORS) and to
    /// receive the OAuth result by `postMessage`; none by default.
    pub connect_origins: Vec<String>,
    /// How long a connect session lasts (30 minutes by default).
    pub session_ttl: Duration,
    /// The connection limits of [`terapi_sync::serve`].
    pub limits: Limits,
    /// The largest JSON request body (1 MiB by default).
    pub max_json_body: usize,
    /// The largest body sent to or answered by a provider through the proxy (10 MiB by
    /// default).
    pub max_proxy_body: usize,
    /// The largest input of an action (25 MiB by default: multipart uploads).
    pub max_action_body: usize,
    /// The time a request may take once its body arrived (60 s by default).
    pub request_timeout: Duration,
    /// Requests per client address on routes that take no key (the end-user routes, failed
    /// authentications).
    pub rate_limit: RateLimit,
    /// The OAuth apps the server connects end users with, by provider key.
    pub oauth_apps: BTreeMap<String, OAuthApp>,
    /// Where events are posted, if anywhere.
    pub webhooks: Option<OutgoingWebhooks>,
}

impl ServerConfig {
    /// The defaults, reached at `public_url`.
    pub fn new(public_url: url::Url) -> ServerConfig {
        ServerConfig {
            public_url,
            connect_origins: Vec::new(),
            session_ttl: Duration::from_secs(30 * 60),
            limits: Limits::default(),
            max_json_body: 1024 * 1024,
            max_proxy_body: 10 * 1024 * 1024,
            max_action_body: 25 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            rate_limit: RateLimit::default(),
            oauth_apps: BTreeMap::new(),
            webhooks: None,
        }
    }

    /// The OAuth redirect URI: `{public_url}/oauth/callback`.
    pub fn callback_url(&self) -> String {
        format!(
            "{}/oauth/callback",
            self.public_url.as_str().trim_end_matches('/')
        )
    }
}

/// Requests per client address per minute, with a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per minute (120 by default).
    pub per_minute: u32,
    /// Requests allowed at once (30 by default).
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_minute: 120,
            burst: 30,
        }
    }
}

/// An OAuth app (client) registered with a provider.
#[derive(Clone)]
pub struct OAuthApp {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// The scopes asked for (the catalog's defaults when empty).
    pub scopes: Vec<String>,
}

impl OAuthApp {
    /// An app with its client id, secret and scopes.
    pub fn new(client_id: String, client_secret: Secret, scopes: Vec<String>) -> OAuthApp {
        OAuthApp {
            client_id,
            client_secret,
            scopes,
        }
    }
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Where the server posts its events, and the secret it signs them with.
#[derive(Clone)]
pub struct OutgoingWebhooks {
    /// The application's receiver.
    pub url: url::Url,
    /// The signing secret (`X-Terapi-Hmac-Sha256`), not an API key.
    pub secret: Secret,
    /// How long a delivery is retried (at least 24 hours; 25 by default).
    pub retry_for: Duration,
}

impl OutgoingWebhooks {
    /// Webhooks to `url`, signed with `secret`, retried for 25 hours.
    pub fn new(url: url::Url, secret: Secret) -> OutgoingWebhooks {
        OutgoingWebhooks {
            url,
            secret,
            retry_for: Duration::from_secs(25 * 3600),
        }
    }
}

impl fmt::Debug for OutgoingWebhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingWebhooks")
            .field("url", &self.url.as_str())
            .field("secret", &"***")
            .field("retry_for", &self.retry_for)
            .finish()
    }
}
