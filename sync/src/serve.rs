//! Serving HTTP/1.1 on a listener with limits, so that slow or idle clients cannot hold the
//! server: the webhook receiver and the `terapi` command line's servers use it.
//!
//! Per connection: the request head must arrive within [`Limits::header_timeout`] (hyper's
//! header read timeout; it also runs while a kept-alive connection waits for its next
//! request), the body within [`Limits::body_timeout`] of the head (reading it after that
//! fails with [`BodyTimeout`]), and a connection on which nothing moves for
//! [`Limits::idle_timeout`] while no request is being handled (a client that does not read
//! its answer) is closed. At most [`Limits::max_connections`] are open at once: the next
//! one is accepted when one closes. Request heads are read into at most
//! [`Limits::max_head_bytes`] (431 beyond).
//!
//! A service sees the body as a [`TimedBody`]; [`tower::Service`]s such as an axum `Router`
//! or the [`WebhookReceiver`](crate::webhook::WebhookReceiver) take it as it is.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// The boxed error of a body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The time a request's head may take to arrive, and a kept-alive connection may wait
    /// for its next request (5 s by default).
    pub header_timeout: Duration,
    /// The time a request's body may take to arrive, from its head (10 s by default).
    pub body_timeout: Duration,
    /// The time a connection may stay without reading or writing a byte while no request
    /// is handled (30 s by default).
    pub idle_timeout: Duration,
    /// Connections open at once (256 by default).
    pub max_connections: usize,
    /// The buffer a request head must fit in (16 KiB by default, at least 8 KiB).
    pub max_head_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 256,
            max_head_bytes: 16 * 1024,
        }
    }
}

/// The address of the client a request came from, in the request's extensions (for rate
/// limits per client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// The error of a [`TimedBody`] read after its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimeout {}

/// A request body that fails with [`BodyTimeout`] once its deadline has passed.
pub struct TimedBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    expired: bool,
}

impl std::fmt::Debug for TimedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedBody")
            .field("deadline", &self.deadline.deadline())
            .finish_non_exhaustive()
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.expired {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired = true;
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(|e| Box::new(e) as BoxError)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What a connection's watchdog reads: when a byte last moved, and how many requests are
/// being handled.
struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    handling: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A stream that records when bytes move.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Counts a request as handled while it lives.
struct Handling(Arc<Activity>);

impl Handling {
    fn new(activity: &Arc<Activity>) -> Handling {
        activity.handling.fetch_add(1, Ordering::Relaxed);
        Handling(Arc::clone(activity))
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.touch();
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `service` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets each connection finish the request it is handling, and returns when
/// every connection is closed (bound the wait with a timeout if a handler may hang).
///
/// Errors of single connections (a reset, a timeout) close that connection only. Failing
/// to accept (too many open files) waits a little and goes on.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request<TimedBody>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer),
                Err(_) => {
                    // EMFILE and the like: connections will close meanwhile.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = service.clone();
        let stopped = stopped.clone();
        connections.spawn(async move {
            connection(stream, PeerAddr(peer), service, limits, stopped).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
}

async fn connection<S, B>(
    stream: TcpStream,
    peer: PeerAddr,
    service: S,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) where
    S: tower::Service<Request<TimedBody>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity {
        started: Instant::now(),
        last_ms: AtomicU64::new(0),
        handling: AtomicUsize::new(0),
    });
    let io = TokioIo::new(Watched {
        stream,
        activity: Arc::clone(&activity),
    });
    let body_timeout = limits.body_timeout;
    let handler_activity = Arc::clone(&activity);
    let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
        let handling = Handling::new(&handler_activity);
        let deadline = Box::pin(tokio::time::sleep(body_timeout));
        let mut request = request.map(|inner| TimedBody {
            inner,
            deadline,
            expired: false,
        });
        request.extensions_mut().insert(peer);
        let service = service.clone();
        async move {
            let response = service.oneshot(request).await;
            drop(handling);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_head_bytes.max(8 * 1024))
        .keep_alive(true);
    let conn = builder.serve_connection(io, handler);
    tokio::pin!(conn);
    let mut stopping = *stopped.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let idle_at = if activity.handling.load(Ordering::Relaxed) > 0 {
            Instant::now() + limits.idle_timeout
        } else {
            activity.last() + limits.idle_timeout
        };
        tokio::select! {
            _ = conn.as_mut() => return,
            changed = stopped.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
            () = tokio::time::sleep_until(idle_at) => {
                let idle = activity.handling.load(Ordering::Relaxed) == 0
                    && activity.last() + limits.idle_timeout <= Instant::now();
                if idle {
                    // Dropping the connection closes it.
                    return;
                }
            }
        }
    }
}
