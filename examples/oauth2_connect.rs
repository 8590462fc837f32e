//! Connects to an OAuth 2.0 (authorization code) provider of a catalog: prints the
//! authorization URL, receives the provider's redirect on a loopback listener, exchanges the
//! code (with PKCE), and prints what was granted: never a token.
//!
//! ```text
//! OAUTH2_CATALOG=providers.yaml OAUTH2_PROVIDER=xero \
//! OAUTH2_CLIENT_ID=... OAUTH2_CLIENT_SECRET=... \
//!     cargo run --example oauth2_connect
//! ```
//!
//! Optional: `OAUTH2_CONFIG` (the connection config as a JSON object, default `{}`),
//! `OAUTH2_SCOPES` (comma-separated; default the catalog's `default_scopes`), `OAUTH2_LISTEN`
//! (the loopback address of the callback, default `127.0.0.1:8765`; register
//! `http://<it>/callback` as a redirect URI with the provider), `OAUTH2_ORIGIN` (e.g.
//! `http://127.0.0.1:8080`: replaces the scheme, host and port of the provider's URLs, for a
//! local test server), `OAUTH2_TIMEOUT_S` (how long to wait for the callback, default 300).
//!
//! Output: the authorization URL on the first line of stdout, then, once the user has
//! authorized, one line with the provider, the token's expiry and whether a refresh token was
//! granted. Exit status: 0 on success, 1 when the authorization or the provider failed, 2 for
//! a missing or invalid variable. Errors are one line on stderr and never show a secret.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use terapi_codegen::Options;
use terapi_runtime::client::{AuthorizationRequest, Connection, OAuthClient, Settings};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const NAME: &str = "oauth2_connect";

enum Failure {
    /// A missing or invalid variable.
    Usage(String),
    /// The authorization or the provider failed.
    Api(String),
}

fn var(name: &str) -> Result<String, Failure> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        Ok(_) | Err(std::env::VarError::NotPresent) => {
            Err(Failure::Usage(format!("{name} is not set")))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Failure::Usage(format!("{name} is not valid UTF-8")))
        }
    }
}

fn optional(name: &str) -> Result<Option<String>, Failure> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Failure::Usage(format!("{name} is not valid UTF-8")))
        }
    }
}

/// Reads one HTTP request's head from the browser (at most 16 KiB) and returns its target.
async fn callback_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() + n > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = std::str::from_utf8(&head).ok()?.lines().next()?.to_owned();
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.to_owned()),
        _ => None,
    }
}

async fn answer(stream: &mut tokio::net::TcpStream, status: &str, text: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn run() -> Result<String, Failure> {
    let catalog_path = var("OAUTH2_CATALOG")?;
    let key = var("OAUTH2_PROVIDER")?;
    let client = OAuthClient::new(var("OAUTH2_CLIENT_ID")?, var("OAUTH2_CLIENT_SECRET")?);
    let config: serde_json::Value = match optional("OAUTH2_CONFIG")? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Failure::Usage(format!("OAUTH2_CONFIG is not JSON ({e})")))?,
        None => serde_json::json!({}),
    };
    let listen: SocketAddr = optional("OAUTH2_LISTEN")?
        .unwrap_or_else(|| "127.0.0.1:8765".to_owned())
        .parse()
        .map_err(|_| {
            Failure::Usage("OAUTH2_LISTEN is not an address such as 127.0.0.1:8765".into())
        })?;
    if !listen.ip().is_loopback() {
        return Err(Failure::Usage(
            "OAUTH2_LISTEN must be a loopback address".into(),
        ));
    }
    let timeout =
        match optional("OAUTH2_TIMEOUT_S")? {
            Some(s) => Duration::from_secs(s.parse().map_err(|_| {
                Failure::Usage("OAUTH2_TIMEOUT_S is not a number of seconds".into())
            })?),
            None => Duration::from_secs(300),
        };
    let mut settings = Settings::new();
    if let Some(origin) = optional("OAUTH2_ORIGIN")? {
        settings = settings.origin(origin);
    }
    let loaded =
        terapi_codegen::load_file(std::path::Path::new(&catalog_path), &Options::default())
            .map_err(|e| {
                Failure::Usage(
                    e.to_string()
                        .lines()
                        .next()
                        .unwrap_or("the catalog does not load")
                        .to_owned(),
                )
            })?;
    let spec = Arc::new(
        loaded
            .provider(&key)
            .map_err(|e| Failure::Usage(e.to_string()))?
            .clone(),
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::Usage(format!("cannot listen on {listen} ({e})")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::Usage(format!("cannot listen on {listen} ({e})")))?;
    let redirect = format!("http://{bound}/callback");
    let mut request = AuthorizationRequest::new(redirect.clone()).settings(&settings);
    if let Some(scopes) = optional("OAUTH2_SCOPES")? {
        request = request.scopes(scopes.split(',').map(str::trim).filter(|s| !s.is_empty()));
    }
    let pending = terapi_runtime::client::authorize_json(spec.clone(), &config, &client, request)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", pending.url());
    let _ = stdout.flush();
    let deadline = tokio::time::Instant::now() + timeout;
    let callback = loop {
        let (mut stream, _) = tokio::time::timeout_at(deadline, listener.accept())
            .await
            .map_err(|_| Failure::Api(format!("no callback within {} s", timeout.as_secs())))?
            .map_err(|e| Failure::Api(format!("the callback listener failed ({e})")))?;
        match callback_target(&mut stream).await {
            Some(target) if target.starts_with("/callback") => {
                answer(
                    &mut stream,
                    "200 OK",
                    "Authorized; you can close this window.\n",
                )
                .await;
                break format!("http://{bound}{target}");
            }
            // A browser's favicon request, say.
            _ => answer(&mut stream, "404 Not Found", "not found\n").await,
        }
    };
    let conn = Connection::from_callback(spec, pending, &callback, settings)
        .await
        .map_err(|e| Failure::Api(e.to_string()))?;
    let tokens = conn
        .tokens()
        .ok_or_else(|| Failure::Api("the connection holds no tokens".into()))?;
    let expiry = match tokens.expires_at() {
        Some(at) => format!(
            "the access token expires in {} s",
            at.duration_since(SystemTime::now())
                .unwrap_or_default()
                .as_secs()
        ),
        None => "the access token states no expiry".to_owned(),
    };
    let refresh = if tokens.refresh_token().is_some() {
        "a refresh token was granted"
    } else {
        "no refresh token was granted"
    };
    Ok(format!("connected to {key}: {expiry}; {refresh}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("{NAME}: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Api(message)) => {
            eprintln!("{NAME}: {message}");
            ExitCode::from(1)
        }
    }
}
