//! The callback of a browser authorization, served on a loopback address: the one request
//! to the redirect URI's path that carries the pending authorization's `state` finishes it;
//! the browser gets a short HTML page. Anything else (another path, another method, a
//! callback with another state) is answered and ignored.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use terapi_runtime::client::PendingAuthorization;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use url::Url;

use crate::fail::Failure;

/// The most a request head may have.
const MAX_HEAD: usize = 16 * 1024;
/// How long a browser may take to send its request once connected.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// `--listen`: an address and port on loopback only (the callback carries the authorization
/// code).
pub fn parse_loopback(text: &str) -> Result<SocketAddr, Failure> {
    let addr: SocketAddr = text.parse().map_err(|_| {
        Failure::usage(format!(
            "--listen `{}`: expected an address and a port, e.g. 127.0.0.1:8080",
            text.escape_default()
        ))
    })?;
    if !addr.ip().is_loopback() {
        return Err(Failure::usage(format!(
            "--listen {addr}: only a loopback address is served (127.0.0.1, [::1]): the callback carries the authorization code"
        )));
    }
    Ok(addr)
}

/// A bound callback listener.
pub struct Listener {
    listener: TcpListener,
    addr: SocketAddr,
    port_was_zero: bool,
}

pub async fn bind(addr: SocketAddr) -> Result<Listener, Failure> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::usage(format!("--listen {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::usage(format!("--listen {addr}: {e}")))?;
    Ok(Listener {
        listener,
        addr: bound,
        port_was_zero: addr.port() == 0,
    })
}

/// A request to the redirect URI's path, still to be answered.
struct Incoming {
    target: String,
    stream: TcpStream,
}

impl Listener {
    /// Whether the port was picked by the system (`--listen ADDR:0`).
    pub fn port_was_zero(&self) -> bool {
        self.port_was_zero
    }

    /// `http://ADDR/callback`, with the port actually bound.
    pub fn redirect_uri(&self) -> Result<Url, Failure> {
        Url::parse(&format!("http://{}/callback", self.addr))
            .map_err(|e| Failure::usage(format!("--listen {}: {e}", self.addr)))
    }

    /// Serves until the callback of `pending` arrives (or it expires), then `finish`es it
    /// with the callback URL and answers the browser.
    pub async fn wait<F, Fut>(
        self,
        redirect_uri: &Url,
        pending: &PendingAuthorization,
        finish: F,
    ) -> Result<(String, String), Failure>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<(String, String), Failure>>,
    {
        let (tx, mut rx) = mpsc::channel::<Incoming>(4);
        let accept = tokio::spawn(accept(self.listener, redirect_uri.path().to_owned(), tx));
        let origin = redirect_uri.origin().ascii_serialization();
        let left = pending
            .expires_at()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let expired = tokio::time::sleep(left);
        tokio::pin!(expired);
        let found = loop {
            let incoming = tokio::select! {
                () = &mut expired => break Err(Failure::failed(
                    "the authorization expired before its callback arrived: start it again",
                )),
                incoming = rx.recv() => match incoming {
                    Some(incoming) => incoming,
                    None => break Err(Failure::usage("the callback listener stopped")),
                },
            };
            let callback_url = format!("{origin}{}", incoming.target);
            if state_matches(&callback_url, pending.state()) {
                break Ok((incoming, callback_url));
            }
            respond(
                incoming.stream,
                400,
                "Bad Request",
                &page(
                    "Not this authorization",
                    "This is not the callback of the authorization that terapi is waiting for.",
                ),
            )
            .await;
        };
        accept.abort();
        let (incoming, callback_url) = found?;
        match finish(callback_url).await {
            Ok((id, provider)) => {
                let text = format!(
                    "The connection {} ({}) is saved. You can close this tab.",
                    html(&id),
                    html(&provider)
                );
                respond(incoming.stream, 200, "OK", &page("Authorized", &text)).await;
                Ok((id, provider))
            }
            Err(failure) => {
                let text = format!(
                    "{} See the terminal for what to do.",
                    html(failure.message())
                );
                respond(
                    incoming.stream,
                    400,
                    "Bad Request",
                    &page("Authorization failed", &text),
                )
                .await;
                Err(failure)
            }
        }
    }
}

/// Accepts connections and reads each request head in its own task: requests to `path`
/// go to `tx`, others are answered here.
async fn accept(listener: TcpListener, path: String, tx: mpsc::Sender<Incoming>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like: try again shortly.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let tx = tx.clone();
        let path = path.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
                Ok(Ok(Some(head))) => head,
                Ok(Ok(None)) => {
                    respond(stream, 400, "Bad Request", &page("Bad request", "")).await;
                    return;
                }
                _ => return,
            };
            let (method, target) = head;
            let target_path = target.split(['?', '#']).next().unwrap_or_default();
            if method != "GET" {
                respond(
                    stream,
                    405,
                    "Method Not Allowed",
                    &page("Method not allowed", ""),
                )
                .await;
            } else if target_path != path {
                respond(stream, 404, "Not Found", &page("Not found", "")).await;
            } else {
                let _ = tx.send(Incoming { target, stream }).await;
            }
        });
    }
}

/// The method and the target of an HTTP/1 request head; `None` when it is not one.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<(String, String)>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&chunk[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if head.len() > MAX_HEAD {
            return Ok(None);
        }
    }
    let Some(line) = head.split(|&b| b == b'\r').next() else {
        return Ok(None);
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return Ok(None);
    };
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None)
            if target.starts_with('/') && version.starts_with("HTTP/1.") =>
        {
            Ok(Some((method.to_owned(), target.to_owned())))
        }
        _ => Ok(None),
    }
}

/// Whether `url`'s `state` is `state` (compared in time that depends on the lengths only).
fn state_matches(url: &str, state: &str) -> bool {
    let Ok(url) = Url::parse(url) else {
        return false;
    };
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .is_some_and(|(_, v)| {
            v.len() == state.len()
                && v.bytes()
                    .zip(state.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
}

async fn respond(mut stream: TcpStream, status: u16, reason: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         content-type: text/html; charset=utf-8\r\n\
         content-length: {}\r\n\
         cache-control: no-store\r\n\
         referrer-policy: no-referrer\r\n\
         x-content-type-options: nosniff\r\n\
         connection: close\r\n\r\n",
        body.len()
    );
    // The browser may be gone: nothing to do about it.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A page with a title and a paragraph of (escaped) HTML.
fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>terapi: {title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>\n"
    )
}

fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_served() {
        assert!(parse_loopback("127.0.0.1:0").is_ok());
        assert!(parse_loopback("[::1]:8080").is_ok());
        assert!(parse_loopback("0.0.0.0:0").is_err());
        assert!(parse_loopback("[::]:0").is_err());
        assert!(parse_loopback("192.168.1.2:80").is_err());
        assert!(parse_loopback("localhost:80").is_err());
    }

    #[test]
    fn states_and_escapes() {
        assert!(state_matches("http://127.0.0.1/cb?code=1&state=abc", "abc"));
        assert!(!state_matches(
            "http://127.0.0.1/cb?code=1&state=abd",
            "abc"
        ));
        assert!(!state_matches("http://127.0.0.1/cb?code=1", "abc"));
        assert_eq!(html("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
