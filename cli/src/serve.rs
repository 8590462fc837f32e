//! `terapi serve`: the HTTP API of terapi-server over the store and catalog of the command
//! line, until SIGTERM or Ctrl-C; then in-flight requests finish and leases are released.

use std::collections::BTreeMap;
use std::time::Duration;

use terapi_runtime::Secret;
use terapi_server::{OAuthApp, OutgoingWebhooks, RateLimit, Server, ServerConfig};
use terapi_store::StoreError;
use tokio::net::TcpListener;

use crate::args::ApiServeArgs;
use crate::context::Context;
use crate::fail::Failure;

/// The variable a first key may come from (stored as an admin key if it is not yet).
const BOOTSTRAP_KEY: &str = "TERAPI_API_KEY";
/// The variable of the outgoing webhooks' signing secret.
const WEBHOOK_SECRET: &str = "TERAPI_WEBHOOK_SECRET";

pub async fn run(context: &Context, args: ApiServeArgs) -> Result<(), Failure> {
    init_logs(args.log_json);
    let addr: std::net::SocketAddr = args
        .listen
        .parse()
        .map_err(|_| Failure::usage(format!("--listen `{}`: not ADDR:PORT", args.listen)))?;
    let mut signals = crate::signals::Signals::install()?;
    let opened = context.open_store().await?;
    if opened.keys.primary_id().is_none() {
        return Err(StoreError::NoKey.into());
    }
    let store = opened.store;
    if let Ok(secret) = std::env::var(BOOTSTRAP_KEY) {
        let key = store
            .ensure_api_key("bootstrap", &secret, &["admin".to_owned()])
            .await
            .map_err(|e| Failure::usage(format!("{BOOTSTRAP_KEY}: {e}")))?;
        if key.revoked {
            eprintln!(
                "warning: the key in {BOOTSTRAP_KEY} was revoked (`terapi keys revoke {}`): it is refused",
                key.id
            );
        }
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::usage(format!("--listen {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::usage(format!("--listen {addr}: {e}")))?;
    let public = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let public_url = url::Url::parse(&public)
        .map_err(|_| Failure::usage(format!("--public-url `{public}`: not a URL")))?;
    let mut config = ServerConfig::new(public_url);
    config.connect_origins = connect_origins(&args.connect_origins)?;
    config.session_ttl = Duration::from_secs(args.session_minutes.clamp(1, 24 * 60) * 60);
    config.rate_limit = RateLimit {
        per_minute: args.rate_limit,
        burst: args.rate_limit.clamp(1, 30),
    };
    config.limits.max_connections = args.max_connections.max(1);
    config.oauth_apps = oauth_apps(&args.oauth_apps, context)?;
    if let Some(url) = &args.webhook_url {
        let url = url::Url::parse(url)
            .map_err(|_| Failure::usage(format!("--webhook-url `{url}`: not a URL")))?;
        let secret = std::env::var(WEBHOOK_SECRET).map_err(|_| {
            Failure::usage(format!(
                "--webhook-url needs the signing secret in {WEBHOOK_SECRET}"
            ))
        })?;
        let mut webhooks = OutgoingWebhooks::new(url, Secret::new(secret));
        webhooks.retry_for = Duration::from_secs(25 * 3600);
        config.webhooks = Some(webhooks);
    }
    let server = Server::new(
        store,
        context.catalog.specs().clone(),
        context.workflows.integrations().clone(),
        context.settings.clone(),
        config,
    );
    eprintln!("listening on http://{bound}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<crate::signals::Signal>();
    let stopping = async move {
        let signal = signals.wait().await;
        let _ = stop_tx.send(signal);
    };
    server.run(listener, stopping).await;
    match stop_rx.await {
        Ok(signal) => {
            eprintln!(
                "stopped by {}: in-flight requests finished, leases released",
                signal.name()
            );
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

/// `--connect-origin`s: `https://HOST[:PORT]` (or http on loopback), no path.
fn connect_origins(origins: &[String]) -> Result<Vec<String>, Failure> {
    origins
        .iter()
        .map(|origin| {
            let bad = |why: &str| Failure::usage(format!("--connect-origin `{origin}`: {why}"));
            let url = url::Url::parse(origin).map_err(|_| bad("not a URL"))?;
            let loopback = crate::context::loopback_host(&url).ok_or_else(|| bad("no host"))?;
            match url.scheme() {
                "https" => {}
                "http" if loopback => {}
                _ => return Err(bad("use https://HOST[:PORT] (http only on loopback)")),
            }
            if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
                return Err(bad("an origin is a scheme, a host and a port only"));
            }
            Ok(url.origin().ascii_serialization())
        })
        .collect()
}

/// `--oauth-app PROVIDER=CLIENT_ID[:SCOPES]`, each secret from its variable.
fn oauth_apps(apps: &[String], context: &Context) -> Result<BTreeMap<String, OAuthApp>, Failure> {
    let mut out = BTreeMap::new();
    for app in apps {
        let (provider, rest) = app.split_once('=').ok_or_else(|| {
            Failure::usage(format!("--oauth-app `{app}`: not PROVIDER=CLIENT_ID"))
        })?;
        context.catalog.get(provider)?;
        let (client_id, scopes) = match rest.split_once(':') {
            Some((id, scopes)) => (
                id,
                scopes
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            None => (rest, Vec::new()),
        };
        if client_id.is_empty() {
            return Err(Failure::usage(format!("--oauth-app `{app}`: no client id")));
        }
        let var = format!(
            "TERAPI_OAUTH_SECRET_{}",
            provider
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                })
                .collect::<String>()
        );
        let secret = std::env::var(&var).map_err(|_| {
            Failure::usage(format!(
                "--oauth-app {provider}: its client secret goes in {var}"
            ))
        })?;
        out.insert(
            provider.to_owned(),
            OAuthApp::new(client_id.to_owned(), Secret::new(secret), scopes),
        );
    }
    Ok(out)
}

/// Logs to stderr: text or JSON lines, `RUST_LOG` to filter (info by default); colours only
/// on a terminal (a log file or collector gets plain text).
fn init_logs(json: bool) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
