//! The receiver: a `tower` service (use it from axum with `route_service`) that answers a
//! delivery only after the event is stored, and before it is applied.
//!
//! In order: `POST` only; a body declared over the limit is refused (413) from its
//! `Content-Length`; the `Authorization` value must be a subscription's token (the store
//! finds it by its SHA-256 and compares in constant time; 401 otherwise), checked before any
//! of the body is read; the subscription's connection must still be in the store (410
//! otherwise: Personio does not retry a 4xx); the subscription must be within its rate
//! (429 with `Retry-After` otherwise); then the body is read, within the limit (413) and its
//! deadline (408, when served by [`serve`](crate::serve::serve)); the envelope must validate
//! (422); its `company_id` must be the subscription's (pinned at the first valid delivery;
//! 403 otherwise). Then the event is stored, deduplicated (202 new, 200 a redelivery), and
//! the applier is woken. A store failure answers 503, which Personio retries.
//!
//! Concurrent deliveries share commits: a writer task stores what arrived meanwhile in one
//! transaction, so 100 deliveries at once cost a few commits, not 100.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use serde_json::json;
use terapi_store::{NewEvent, Store};
use tokio::sync::{Notify, mpsc, oneshot};

use super::envelope::Envelope;
use super::routes::{Route, personio_routes};
use terapi_runtime::sync::Budget;

/// How the receiver works.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// The largest body read (64 KiB by default; Personio's envelopes are small).
    pub max_body: usize,
    /// Which events are about which model.
    pub routes: Vec<Route>,
    /// Deliveries accepted per subscription (600 per minute in bursts of 300 by default);
    /// more are answered 429 with `Retry-After`, before their body is read. Personio does
    /// not retry a 4xx: keep it above the busiest burst of real changes (a missed change
    /// is found by the next sync).
    pub rate: Budget,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            max_body: 64 * 1024,
            routes: personio_routes(),
            rate: Budget {
                per_minute: 600,
                burst: 300,
            },
        }
    }
}

/// The deliveries of each subscription, by its id (only subscriptions whose token was
/// presented get an entry, so it stays as small as the store's subscriptions).
struct Rates {
    limiter: governor::DefaultKeyedRateLimiter<String>,
}

impl Rates {
    fn new(rate: Budget) -> Rates {
        let per_minute =
            std::num::NonZeroU32::new(rate.per_minute).unwrap_or(std::num::NonZeroU32::MIN);
        let burst = std::num::NonZeroU32::new(rate.burst).unwrap_or(std::num::NonZeroU32::MIN);
        Rates {
            limiter: governor::RateLimiter::keyed(
                governor::Quota::per_minute(per_minute).allow_burst(burst),
            ),
        }
    }

    /// `None` when the delivery is within the rate, else how long to wait (whole seconds, at
    /// least 1).
    fn check(&self, subscription: &str) -> Option<u64> {
        use governor::clock::Clock as _;
        match self.limiter.check_key(&subscription.to_owned()) {
            Ok(()) => None,
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
                Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).map(|s| s.max(1))
            }
        }
    }
}

type Reply = oneshot::Sender<Result<Option<i64>, String>>;

struct Inner {
    store: Store,
    config: ReceiverConfig,
    rates: Rates,
    writes: mpsc::Sender<(NewEvent, Reply)>,
    notify: Arc<Notify>,
}

/// The webhook receiver (cheap to clone; clones share the writer).
#[derive(Clone)]
pub struct WebhookReceiver {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("max_body", &self.inner.config.max_body)
            .finish_non_exhaustive()
    }
}

impl WebhookReceiver {
    /// A receiver storing into `store`; it wakes `notify` after each stored event (give the
    /// same to the [`Applier`](super::Applier)). Starts its writer task on the current
    /// tokio runtime.
    pub fn new(store: Store, config: ReceiverConfig, notify: Arc<Notify>) -> WebhookReceiver {
        let (writes, rx) = mpsc::channel(1024);
        tokio::spawn(writer(store.clone(), rx));
        WebhookReceiver {
            inner: Arc::new(Inner {
                store,
                rates: Rates::new(config.rate),
                config,
                writes,
                notify,
            }),
        }
    }
}

/// Stores what arrived in one transaction per turn.
async fn writer(store: Store, mut rx: mpsc::Receiver<(NewEvent, Reply)>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (events, replies): (Vec<NewEvent>, Vec<Reply>) = batch.into_iter().unzip();
        match store.put_events(&events).await {
            Ok(ids) => {
                for (reply, id) in replies.into_iter().zip(ids) {
                    let _ = reply.send(Ok(id));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn refuse(status: StatusCode, why: &str) -> Response<Full<Bytes>> {
    answer(status, json!({ "error": why }))
}

impl Inner {
    async fn handle<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: http_body::Body + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if request.method() != http::Method::POST {
            return refuse(StatusCode::METHOD_NOT_ALLOWED, "deliveries are POSTed");
        }
        let max = self.config.max_body;
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the body is over the limit");
        }
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty() && t.len() <= 1024);
        let Some(token) = token else {
            return refuse(StatusCode::UNAUTHORIZED, "no token");
        };
        let webhook = match self.store.webhook_for_delivery(token).await {
            Ok(Some((w, true))) => w,
            Ok(Some((_, false))) => {
                return refuse(
                    StatusCode::GONE,
                    "the connection of this subscription was removed",
                );
            }
            Ok(None) => return refuse(StatusCode::UNAUTHORIZED, "unknown token"),
            Err(_) => {
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store is not available",
                );
            }
        };
        if let Some(wait) = self.rates.check(&webhook.id) {
            let mut response = refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "too many deliveries for this subscription",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(wait));
            return response;
        }
        let body = match Limited::new(request.into_body(), max).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                return if e
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    refuse(StatusCode::PAYLOAD_TOO_LARGE, "the body is over the limit")
                } else if e.downcast_ref::<crate::serve::BodyTimeout>().is_some() {
                    refuse(StatusCode::REQUEST_TIMEOUT, "the body was not sent in time")
                } else {
                    refuse(StatusCode::BAD_REQUEST, "the body could not be read")
                };
            }
        };
        let envelope = match Envelope::parse(&body) {
            Ok(e) => e,
            Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
        };
        match &webhook.company_id {
            Some(company) if *company != envelope.company_id => {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "the delivery names another company than its subscription",
                );
            }
            Some(_) => {}
            None => {
                if self
                    .store
                    .pin_webhook_company(&webhook.id, &envelope.company_id)
                    .await
                    .is_err()
                {
                    return refuse(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the store is not available",
                    );
                }
            }
        }
        if envelope.event_name == "ping" {
            return answer(StatusCode::OK, json!({ "status": "pong" }));
        }
        let Some(route) = self
            .config
            .routes
            .iter()
            .find(|r| envelope.event_name.starts_with(r.prefix))
        else {
            return answer(StatusCode::ACCEPTED, json!({ "status": "ignored" }));
        };
        if route.ids(&envelope.payload).is_none() {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the payload names no record this receiver knows how to find",
            );
        }
        let event = NewEvent {
            connection: webhook.connection.clone(),
            webhook_id: webhook.id.clone(),
            dedupe: envelope.dedupe_key(),
            event_name: envelope.event_name.clone(),
            occurred_at_ms: envelope.occurred_at_ms,
            envelope: envelope.raw,
        };
        let (reply, stored) = oneshot::channel();
        if self.writes.send((event, reply)).await.is_err() {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is not available",
            );
        }
        match stored.await {
            Ok(Ok(Some(id))) => {
                self.notify.notify_one();
                answer(
                    StatusCode::ACCEPTED,
                    json!({ "status": "stored", "id": id }),
                )
            }
            Ok(Ok(None)) => answer(StatusCode::OK, json!({ "status": "duplicate" })),
            Ok(Err(_)) | Err(_) => refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is not available",
            ),
        }
    }
}

impl<B> tower::Service<Request<B>> for WebhookReceiver
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { Ok(inner.handle(request).await) })
    }
}
