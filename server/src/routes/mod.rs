//! The routes, one module per part of the API; `router` puts them together with the layers
//! every route has: a request id (`X-Request-Id`, kept from the client when well formed) in
//! every log line, a deadline, rate limits per client address on the routes that take no
//! key, CORS for the connect origins only, and JSON for every error (404, 405, bad bodies).

use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

use crate::error::ApiError;
use crate::state::Server;

pub(crate) use crate::time::rfc3339;

mod actions;
mod auth;
mod connect;
mod connect_page;
mod connections;
mod health;
mod oauth;
mod provider_webhooks;
mod providers;
mod proxy;
pub(crate) mod records;
pub(crate) mod sync;

/// Every route.
pub(crate) fn router(server: Server) -> Router {
    let timeout = server.config().request_timeout;
    let cors = crate::limits::cors(server.config());
    let mut router = Router::new()
        .merge(health::routes())
        .merge(connect::routes())
        .merge(connect_page::routes(server.config()))
        .merge(auth::routes())
        .merge(oauth::routes())
        .merge(connections::routes())
        .merge(proxy::routes())
        .merge(sync::routes())
        .merge(records::routes())
        .merge(actions::routes())
        .merge(provider_webhooks::routes())
        .merge(providers::routes())
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take this method",
            )
        })
        .layer(middleware::from_fn_with_state(server.clone(), rate_limit))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            deadline(timeout, request, next)
        }))
        .layer(axum::extract::DefaultBodyLimit::max(
            server.config().max_json_body,
        ));
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    router
        .layer(middleware::from_fn_with_state(server.clone(), log))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RandomId))
        .with_state(server)
}

/// Request ids: 16 random bytes as hex, unless the client sent a well-formed one.
#[derive(Clone, Copy)]
struct RandomId;

impl MakeRequestId for RandomId {
    fn make_request_id<B>(&mut self, request: &http::Request<B>) -> Option<RequestId> {
        if let Some(id) = request.headers().get("x-request-id") {
            let ok = id.len() <= 64
                && id
                    .as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
            if ok && !id.is_empty() {
                return Some(RequestId::new(id.clone()));
            }
        }
        let id = hex::encode(crate::random::bytes::<16>());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// One log line per request: method, the route (not the path: ids and proxied paths stay
/// out of the log), status, time and the request id. Never a header, a query or a body.
async fn log(
    axum::extract::State(server): axum::extract::State<Server>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "-".to_owned(), |p| p.as_str().to_owned());
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let response = next.run(request).await;
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    server
        .inner
        .metrics
        .request(&route, response.status().as_u16());
    response
}

/// A request that takes longer than `timeout` once its head arrived: 503, JSON.
async fn deadline(timeout: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long",
        )
        .retry_after(1)
        .into_response(),
    }
}

/// A JSON body, refused with a JSON error naming the problem (never the body's content).
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => {
                use axum::extract::rejection::JsonRejection as R;
                let (status, message) = match &rejection {
                    R::MissingJsonContentType(_) => (
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "send the body as JSON, with `Content-Type: application/json`".to_owned(),
                    ),
                    R::JsonSyntaxError(_) => (
                        StatusCode::BAD_REQUEST,
                        "the body is not valid JSON".to_owned(),
                    ),
                    R::JsonDataError(e) => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!(
                            "the body does not have the expected shape: {}",
                            terapi_runtime::integration::serde_error_kind(&e.body_text())
                        ),
                    ),
                    R::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        (
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "the body is too large".to_owned(),
                        )
                    }
                    _ => (rejection.status(), "the body could not be read".to_owned()),
                };
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
                    _ => "invalid_request",
                };
                Err(ApiError::new(status, code, message))
            }
        }
    }
}

fn too_many(seconds: u64) -> Response {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many requests from this address: wait before retrying",
    )
    .retry_after(seconds)
    .into_response()
}

/// The rate limit layer: end-user routes and requests without credentials take from their
/// address's allowance; a request answered 401 takes one more, and an address whose
/// allowance is spent that way gets 429 instead of 401 for a while (guessing keys is slow
/// and tells nothing), while its requests with a valid key are served.
pub(crate) async fn rate_limit(
    State(server): State<Server>,
    request: Request,
    next: Next,
) -> Response {
    let ip = request
        .extensions()
        .get::<terapi_sync::serve::PeerAddr>()
        .map(|p| p.0.ip());
    let Some(ip) = ip else {
        return next.run(request).await;
    };
    let limiter = &server.inner.limiter;
    let path = request.uri().path();
    if crate::limits::unmetered(path) {
        return next.run(request).await;
    }
    // `/connect` (the connect page) and below it, not `/connections` (keys).
    let end_user = path == "/connect"
        || crate::limits::END_USER_PREFIXES
            .iter()
            .any(|p| path.starts_with(p));
    let anonymous = !request.headers().contains_key(http::header::AUTHORIZATION);
    if end_user || anonymous {
        if let Some(wait) = limiter.is_blocked(ip) {
            return too_many(wait);
        }
        if let Err(wait) = limiter.take(ip) {
            return too_many(wait);
        }
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        // A blocked address learns nothing from its guesses; a valid key is served.
        if let Some(wait) = limiter.is_blocked(ip) {
            return too_many(wait);
        }
        if let Err(wait) = limiter.take(ip) {
            limiter.block(ip);
            return too_many(wait);
        }
    }
    response
}

impl Server {
    /// The routes of the API, as an `axum` router.
    pub fn router(&self) -> Router {
        router(self.clone())
    }
}
