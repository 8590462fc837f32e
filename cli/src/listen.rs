//! The callback of a browser authorization, served with axum on a loopback address: the one
//! request to the redirect URI's path that carries the pending authorization's `state`
//! finishes it; the browser gets a short HTML page. Anything else (another path, another
//! method, a callback with another state) is answered and ignored. It is served by
//! `terapi_sync::serve` with its default limits: hyper bounds the request head (431 when it
//! is too large), a head that does not arrive in time or an idle connection is dropped, and
//! connections are capped; a GET has no body to read.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse as _, Response};
use axum::routing::get;
use terapi_runtime::client::PendingAuthorization;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use crate::fail::Failure;

/// How long the server may take to stop once the callback is answered: the answer is written
/// by then; a connection that never finishes its request holds nothing up longer.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

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

/// A callback with the awaited state, and where its answer goes.
struct Callback {
    url: String,
    answer: oneshot::Sender<Response>,
}

/// What the handlers share.
struct Shared {
    /// The redirect URI's origin: the callback URL is the origin and the request target.
    origin: String,
    state: String,
    callbacks: mpsc::Sender<Callback>,
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
        self.serve(redirect_uri, pending.state(), pending.expires_at(), finish)
            .await
    }

    /// [`Listener::wait`] for the callback that carries `state`, until `expires_at`.
    async fn serve<F, Fut>(
        self,
        redirect_uri: &Url,
        state: &str,
        expires_at: SystemTime,
        finish: F,
    ) -> Result<(String, String), Failure>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<(String, String), Failure>>,
    {
        let path = redirect_uri.path();
        if !path.starts_with('/') {
            return Err(Failure::usage(format!(
                "--redirect-uri {redirect_uri}: --listen serves a path (http://ADDR/PATH)"
            )));
        }
        let (callbacks, mut received) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            origin: redirect_uri.origin().ascii_serialization(),
            state: state.to_owned(),
            callbacks,
        });
        let app = Router::new()
            // The path is matched literally (a URL's path has no `{`, `}`).
            .without_v07_checks()
            // A HEAD would be routed to the GET handler: only a GET finishes the authorization.
            .route(
                path,
                get(callback)
                    .head(method_not_allowed)
                    .fallback(method_not_allowed),
            )
            .fallback(not_found)
            .with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(terapi_sync::serve::serve(
            self.listener,
            app,
            terapi_sync::serve::Limits::default(),
            async {
                let _ = stopped.await;
            },
        ));
        let left = expires_at
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let found = tokio::select! {
            () = tokio::time::sleep(left) => Err(Failure::failed(
                "the authorization expired before its callback arrived: start it again",
            )),
            callback = received.recv() => {
                callback.ok_or_else(|| Failure::usage("the callback listener stopped"))
            }
        };
        // Another callback with the state is answered that this one came first.
        drop(received);
        let outcome = match found {
            Ok(callback) => {
                let outcome = finish(callback.url).await;
                let page = match &outcome {
                    Ok((id, provider)) => {
                        let text = format!(
                            "The connection {} ({}) is saved. You can close this tab.",
                            html(id),
                            html(provider)
                        );
                        answer(StatusCode::OK, "Authorized", &text)
                    }
                    Err(failure) => {
                        let text = format!(
                            "{} See the terminal for what to do.",
                            html(failure.message())
                        );
                        answer(StatusCode::BAD_REQUEST, "Authorization failed", &text)
                    }
                };
                // The browser may be gone: nothing to do about it.
                let _ = callback.answer.send(page);
                outcome
            }
            Err(failure) => Err(failure),
        };
        // Graceful: the answer is written before the server stops.
        let _ = stop.send(());
        let _ = tokio::time::timeout(STOP_TIMEOUT, server).await;
        outcome
    }
}

/// A GET of the redirect URI's path: the callback if it has the state, answered by
/// [`Listener::serve`].
async fn callback(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let target = uri
        .path_and_query()
        .map_or(uri.path(), |target| target.as_str());
    let url = format!("{}{target}", shared.origin);
    if !state_matches(&url, &shared.state) {
        return answer(
            StatusCode::BAD_REQUEST,
            "Not this authorization",
            "This is not the callback of the authorization that terapi is waiting for.",
        );
    }
    let (tx, rx) = oneshot::channel();
    let already = || {
        answer(
            StatusCode::BAD_REQUEST,
            "Already received",
            "terapi has already received the callback of this authorization.",
        )
    };
    if shared
        .callbacks
        .send(Callback { url, answer: tx })
        .await
        .is_err()
    {
        return already();
    }
    rx.await.unwrap_or_else(|_| already())
}

async fn method_not_allowed() -> Response {
    answer(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", "")
}

async fn not_found() -> Response {
    answer(StatusCode::NOT_FOUND, "Not found", "")
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

/// A page with a title and a paragraph of (escaped) HTML, not to be cached, nor to be sent on
/// as a referrer; the connection closes after it.
fn answer(status: StatusCode, title: &str, text: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>terapi: {title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONNECTION, "close"),
        ],
        Html(page),
    )
        .into_response()
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

    const STATE: &str = "the-state";

    /// A listener on 127.0.0.1:0 and its redirect URI.
    async fn listener() -> (Listener, Url) {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        assert!(listener.port_was_zero());
        let redirect_uri = listener.redirect_uri().unwrap();
        (listener, redirect_uri)
    }

    fn client() -> reqwest::Client {
        terapi_runtime::client::install_tls_provider();
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    async fn send(request: reqwest::RequestBuilder) -> (u16, String) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn answers_others_then_finishes_the_callback_with_its_state() {
        let (listener, redirect_uri) = listener().await;
        let origin = redirect_uri.origin().ascii_serialization();
        let expires_at = SystemTime::now() + Duration::from_secs(60);
        let (finished, mut finished_with) = mpsc::unbounded_channel();
        let (release, released) = oneshot::channel::<()>();
        let serving = tokio::spawn({
            let redirect_uri = redirect_uri.clone();
            async move {
                listener
                    .serve(&redirect_uri, STATE, expires_at, |url| async move {
                        finished.send(url).unwrap();
                        released.await.unwrap();
                        Ok(("n<1>".to_owned(), "acme & co".to_owned()))
                    })
                    .await
            }
        });
        let client = client();
        let (status, page) = send(client.get(format!("{origin}/favicon.ico"))).await;
        assert_eq!(status, 404);
        assert!(page.contains("Not found"), "{page}");
        for method in [reqwest::Method::POST, reqwest::Method::HEAD] {
            let (status, _) = send(client.request(method, redirect_uri.clone())).await;
            assert_eq!(status, 405);
        }
        let (status, page) = send(client.get(format!("{redirect_uri}?code=1&state=other"))).await;
        assert_eq!(status, 400);
        assert!(page.contains("Not this authorization"), "{page}");
        let (status, _) = send(client.get(format!("{redirect_uri}?code=1"))).await;
        assert_eq!(status, 400);
        // hyper refuses a head that is too large.
        let big = client
            .get(redirect_uri.clone())
            .header("x-big", "a".repeat(512 * 1024))
            .send()
            .await;
        assert!(big.is_err() || big.unwrap().status() == 431);
        assert!(finished_with.try_recv().is_err(), "nothing finished yet");

        // A connection that sends nothing (a browser's preconnect) does not hold up the stop.
        let _idle = tokio::net::TcpStream::connect(redirect_uri.socket_addrs(|| None).unwrap()[0])
            .await
            .unwrap();

        let callback = format!("{redirect_uri}?code=1&state={STATE}");
        let first = tokio::spawn(client.get(&callback).send());
        assert_eq!(finished_with.recv().await.unwrap(), callback);
        // While it is being finished, the same callback again is refused.
        let (status, page) = send(client.get(&callback)).await;
        assert_eq!(status, 400);
        assert!(page.contains("Already received"), "{page}");
        let started = std::time::Instant::now();
        release.send(()).unwrap();
        let response = first.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("Authorized")
                && page.contains("n&lt;1&gt; (acme &amp; co)")
                && !page.contains("n<1>"),
            "{page}"
        );
        let outcome = tokio::time::timeout(Duration::from_secs(10), serving)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            outcome.unwrap(),
            ("n<1>".to_owned(), "acme & co".to_owned())
        );
        assert!(started.elapsed() < STOP_TIMEOUT, "{:?}", started.elapsed());
        // The server stopped.
        assert!(client.get(&callback).send().await.is_err());
    }

    #[tokio::test]
    async fn a_failure_to_finish_is_on_the_page() {
        let (listener, redirect_uri) = listener().await;
        let expires_at = SystemTime::now() + Duration::from_secs(60);
        let serving = tokio::spawn({
            let redirect_uri = redirect_uri.clone();
            async move {
                listener
                    .serve(&redirect_uri, STATE, expires_at, |_| async {
                        Err(Failure::failed("the code <was> used"))
                    })
                    .await
            }
        });
        let (status, page) = send(client().get(format!("{redirect_uri}?state={STATE}"))).await;
        assert_eq!(status, 400);
        assert!(
            page.contains("Authorization failed") && page.contains("the code &lt;was&gt; used"),
            "{page}"
        );
        let failure = serving.await.unwrap().unwrap_err();
        assert_eq!(failure.message(), "the code <was> used");
    }

    #[tokio::test]
    async fn gives_up_when_the_authorization_expires() {
        let (listener, redirect_uri) = listener().await;
        let expires_at = SystemTime::now() + Duration::from_millis(200);
        let failure = tokio::time::timeout(
            Duration::from_secs(10),
            listener.serve(&redirect_uri, STATE, expires_at, |_| async {
                unreachable!("no callback")
            }),
        )
        .await
        .unwrap()
        .unwrap_err();
        assert!(failure.message().contains("expired"), "{failure:?}");
        assert_eq!(failure.code(), crate::fail::FAILED);
    }

    /// Connections that trickle their request head are dropped after the header timeout,
    /// and the callback is answered meanwhile.
    #[tokio::test]
    async fn slow_clients_are_dropped_and_the_callback_answered() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (listener, redirect_uri) = listener().await;
        let addr = redirect_uri.socket_addrs(|| None).unwrap()[0];
        let expires_at = SystemTime::now() + Duration::from_secs(120);
        let serving = tokio::spawn({
            let redirect_uri = redirect_uri.clone();
            async move {
                listener
                    .serve(&redirect_uri, STATE, expires_at, |_| async {
                        Ok(("c".to_owned(), "p".to_owned()))
                    })
                    .await
            }
        });
        let slow: Vec<_> = (0..50)
            .map(|_| {
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let _ = stream.write_all(b"GET /callback HTTP/1.1\r\n").await;
                    let mut buf = [0u8; 256];
                    while started.elapsed() < Duration::from_secs(30) {
                        let read =
                            tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf))
                                .await;
                        if matches!(read, Ok(Ok(0) | Err(_))) {
                            return Some(started.elapsed());
                        }
                        if stream.write_all(b"x-slow: 1\r\n").await.is_err() {
                            return Some(started.elapsed());
                        }
                    }
                    None
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = std::time::Instant::now();
        let (status, _) = send(client().get(format!("{redirect_uri}?state={STATE}"))).await;
        assert_eq!(status, 200);
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "{:?}",
            sent.elapsed()
        );
        serving.await.unwrap().unwrap();
        for task in slow {
            let closed = task.await.unwrap();
            assert!(
                closed.is_some_and(|after| after < Duration::from_secs(20)),
                "{closed:?}"
            );
        }
    }
}
