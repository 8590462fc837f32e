//! Proxied requests: URL, provider headers and query, the access token, retries, and the
//! response read whole.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::Issued;
use super::error::{self, Error, SMALL_BODY_BYTES, Step, provider_message};
use super::url_check;
use super::{Connection, Method, RateBudget, RateHints};
use crate::render::{Headers, Request};
use crate::retry::{Decision, FailedAttempt, GiveUpReason, RetryConfig, is_idempotent};

/// A request being built: an endpoint below the provider's base URL, query params, headers
/// and a body. [`RequestBuilder::send`] adds the provider's headers, query and credentials.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    conn: Connection,
    method: Method,
    endpoint: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Body>,
    timeout: Option<Duration>,
    idempotent: Option<bool>,
    budget: Option<Arc<RateBudget>>,
    max_retries: Option<u32>,
    error: Option<Error>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("provider", &self.conn.provider())
            .field("method", &self.method)
            .field("endpoint", &self.endpoint)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A request body and its content type.
#[derive(Clone)]
pub(crate) struct Body {
    pub(crate) bytes: Vec<u8>,
    pub(crate) content_type: Option<String>,
}

/// What goes into a request besides the provider's headers.
pub(crate) struct Outgoing<'a> {
    pub(crate) step: Step,
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// The endpoint as the caller gave it, for `${endpoint}`-style templates.
    pub(crate) endpoint: &'a str,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) body: Option<&'a Body>,
    pub(crate) timeout: Duration,
    /// Which headers to add: the provider's (with its credentials) or only the
    /// verification's (for a check on another host).
    pub(crate) provider_headers: bool,
    pub(crate) verification_headers: bool,
    /// Whether the request may be sent twice with the effect of once; `None`: as its
    /// method says ([`is_idempotent`]). `Some(true)` also retries transport errors.
    pub(crate) idempotent: Option<bool>,
    /// Waited for before each attempt; each response's rate hints are given to it.
    pub(crate) budget: Option<&'a RateBudget>,
    /// Attempts in all at most, below the retry policy's (`None`: the policy's).
    pub(crate) max_attempts: Option<u32>,
    /// Whether the body of an error status is read whole, within
    /// [`Settings::max_body_bytes`](super::Settings::max_body_bytes), as a success's is
    /// (a proxy hands it to its caller), instead of its first [`SMALL_BODY_BYTES`].
    pub(crate) whole_bodies: bool,
}

/// A response read whole.
pub(crate) struct Raw {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: bytes::Bytes,
}

impl RequestBuilder {
    pub(crate) fn new(conn: Connection, method: Method, endpoint: String) -> Self {
        RequestBuilder {
            conn,
            method,
            endpoint,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            idempotent: None,
            budget: None,
            max_retries: None,
            error: None,
        }
    }

    /// Adds query params (unencoded; they are percent-encoded when the URL is built).
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        self.query.extend(
            pairs
                .iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())),
        );
        self
    }

    /// Adds a header. It may add to the provider's headers, never replace one: a name the
    /// provider's headers (or its credentials) already set makes `send` fail with
    /// [`Error::Header`], as does a name or value that is not valid in HTTP.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A JSON body (`application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body = Some(Body {
                    bytes,
                    content_type: Some("application/json".to_owned()),
                });
            }
            Err(e) => {
                self.error = Some(Error::Url {
                    step: Step::Request,
                    message: format!("the JSON body cannot be serialized: {e}"),
                });
            }
        }
        self
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            form.append_pair(k.as_ref(), v.as_ref());
        }
        self.body = Some(Body {
            bytes: form.finish().into_bytes(),
            content_type: Some("application/x-www-form-urlencoded".to_owned()),
        });
        self
    }

    /// A body as bytes, with its content type (e.g. a `multipart/form-data` body built by
    /// the caller, with its boundary).
    pub fn body(mut self, bytes: impl Into<Vec<u8>>, content_type: impl Into<String>) -> Self {
        self.body = Some(Body {
            bytes: bytes.into(),
            content_type: Some(content_type.into()),
        });
        self
    }

    /// The time limit of each attempt (default: [`Settings::timeout`](super::Settings::timeout)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether sending the request twice has the effect of sending it once, which replaces
    /// what its method says (GET, PUT and DELETE are, POST and PATCH are not; see
    /// [`is_idempotent`]). A request that is not idempotent is retried only after a 429,
    /// which the server did not act on. One marked idempotent with `true` here is retried
    /// after a retryable status (429, 5xx) and also after a transport error (a dropped
    /// connection, a timeout), within the retry policy.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    /// Sends each attempt (retries and a resend after a token renewal included) within
    /// `budget`: waits for it first, and gives it each response's rate hints
    /// ([`RateHints`]).
    pub fn rate_budget(mut self, budget: Arc<RateBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// At most `retries` retries (attempts after the first): lowers the retry policy's
    /// limit for this request, never raises it. `0` sends the request once (a resend after a
    /// token renewal on 401 still happens).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// Sends the request as [`RequestBuilder::send`] does (the provider's headers, query and
    /// credentials, the token renewed once after a 401, retries), and answers the provider's
    /// response whatever its status: for a proxy that hands it to its caller. Every body is
    /// read whole within [`Settings::max_body_bytes`](super::Settings::max_body_bytes)
    /// ([`Error::BodyTooLarge`] beyond, whatever the status); the body of a status from 300
    /// up has the connection's secrets masked (`***`) where the provider echoes them, when it
    /// is text. Errors are those of a request that got no answer (URL, headers, token,
    /// transport, body size).
    pub async fn send_any(self) -> Result<Response, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let conn = &self.conn;
        let outgoing = self.outgoing(true)?;
        let exchanged = conn.exchange(&outgoing).await.map_err(|e| conn.mask(e))?;
        let raw = exchanged.raw;
        let body = if raw.status >= 300 {
            match std::str::from_utf8(&raw.body) {
                Ok(text) => bytes::Bytes::from(conn.mask_text(text)),
                Err(_) => raw.body,
            }
        } else {
            raw.body
        };
        Ok(Response {
            status: raw.status,
            headers: raw.headers,
            body,
            method: outgoing.method.as_str().to_owned(),
            path: outgoing.url.path().to_owned(),
        })
    }

    /// The exchange this request makes: its URL below the base URL with its query, its
    /// headers, body, timeout, retries and budget; `whole_bodies`: every body read within
    /// the connection's limit (a proxy's), else error bodies cut to a message's length.
    fn outgoing(&self, whole_bodies: bool) -> Result<Outgoing<'_>, Error> {
        let conn = &self.conn;
        let mut url = url_check::join(&conn.inner.base, &self.endpoint, Step::Request)?;
        append_query(&mut url, &self.query);
        Ok(Outgoing {
            step: Step::Request,
            method: self.method.clone(),
            url,
            endpoint: &self.endpoint,
            headers: &self.headers,
            body: self.body.as_ref(),
            timeout: self.timeout.unwrap_or(conn.inner.settings.timeout),
            provider_headers: true,
            verification_headers: false,
            idempotent: self.idempotent,
            budget: self.budget.as_deref(),
            max_attempts: self.max_retries.map(|r| r.saturating_add(1)),
            whole_bodies,
        })
    }

    /// Sends the request: builds the URL below the base URL, adds the provider's query and
    /// headers and its credentials (an access token, requested or renewed as needed), retries
    /// as the retry policy allows, and reads the response.
    ///
    /// A status from 200 to 299 is a [`Response`]; a redirect is [`Error::Redirect`] (never
    /// followed); any other status is [`Error::Status`] with the provider's message.
    pub async fn send(self) -> Result<Response, Error> {
        self.send_keeping_body().await.map_err(|(error, _)| error)
    }

    /// [`RequestBuilder::send`], with the body (as received, its first
    /// [`SMALL_BODY_BYTES`]) of a response whose status is an error.
    pub(crate) async fn send_keeping_body(self) -> Result<Response, (Error, Option<bytes::Bytes>)> {
        if let Some(error) = self.error {
            return Err((error, None));
        }
        let conn = &self.conn;
        let outgoing = self.outgoing(false).map_err(|e| (e, None))?;
        let exchanged = conn.exchange(&outgoing).await.map_err(|e| (e, None))?;
        let body = (exchanged.raw.status >= 400).then(|| exchanged.raw.body.clone());
        conn.finish(exchanged, &outgoing).map_err(|e| (e, body))
    }
}

/// Appends query params to a URL (percent-encoded).
pub(crate) fn append_query(url: &mut Url, pairs: &[(String, String)]) {
    if !pairs.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
}

/// A successful response, read whole.
pub struct Response {
    status: u16,
    headers: HeaderMap,
    body: bytes::Bytes,
    method: String,
    path: String,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The status (200 to 299; any status from [`RequestBuilder::send_any`]).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body, taken out of the response.
    pub fn into_bytes(self) -> bytes::Bytes {
        self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded from JSON; [`Error::Decode`] when it is not JSON or not a `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| self.decode_error(e))
    }

    pub(crate) fn decode_error(&self, e: impl fmt::Display) -> Error {
        Error::Decode {
            method: self.method.clone(),
            path: self.path.clone(),
            status: self.status,
            message: e.to_string(),
        }
    }
}

/// Each secret as a server may echo it back: as it is, percent-encoded (as in a query or a
/// form body, `+` or `%20` for spaces), and each `user:secret` pair base64-encoded (as in a
/// `Basic` header), longest first so that a longer form is masked whole. Values shorter than 4
/// characters are left out: they would mask ordinary words, and no real credential is that
/// short.
pub(crate) fn secret_forms<'s>(
    secrets: &[&'s str],
    pairs: impl Iterator<Item = (&'s str, &'s str)>,
) -> Vec<String> {
    use base64::Engine as _;
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        forms.push((*secret).to_owned());
        forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
        forms.push(
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        );
    }
    for (user, secret) in pairs {
        if secret.len() >= 4 || user.len() >= 4 {
            let pair = format!("{user}:{secret}");
            forms.push(base64::engine::general_purpose::STANDARD.encode(&pair));
            forms.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&pair));
        }
    }
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();
    forms
}

impl Raw {
    /// A success as a [`Response`]; a redirect or an error status as an [`Error`], with why
    /// retrying stopped.
    pub(crate) fn into_response(
        self,
        out: &Outgoing<'_>,
        gave_up: Option<GiveUpReason>,
    ) -> Result<Response, Error> {
        let method = out.method.as_str().to_owned();
        let path = out.url.path().to_owned();
        match self.status {
            200..=299 => Ok(Response {
                status: self.status,
                headers: self.headers,
                body: self.body,
                method,
                path,
            }),
            300..=399 => Err(Error::Redirect {
                step: out.step,
                method,
                path,
                status: self.status,
                location: self.location(),
            }),
            status => Err(Error::Status {
                step: out.step,
                method,
                path,
                status,
                message: provider_message(&self.body),
                gave_up: gave_up.map(Box::new),
            }),
        }
    }

    /// The `Location` header's scheme, host and path (no query: it may carry tokens).
    pub(crate) fn location(&self) -> Option<String> {
        let text = self.headers.get(reqwest::header::LOCATION)?.to_str().ok()?;
        match Url::parse(text) {
            Ok(url) => Some(format!("{}{}", url_check::origin_text(&url), url.path())),
            Err(_) => Some(text.split(['?', '#']).next().unwrap_or_default().to_owned()),
        }
    }
}

/// The outcome of an exchange: the last response and, when retrying stopped on a retryable
/// status, why.
pub(crate) struct Exchanged {
    raw: Raw,
    gave_up: Option<GiveUpReason>,
}

impl Exchanged {
    pub(crate) fn raw(&self) -> &Raw {
        &self.raw
    }
}

pub(crate) fn header_error(name: &str, message: impl Into<String>) -> Error {
    Error::Header {
        name: name.to_owned(),
        message: message.into(),
    }
}

impl Connection {
    /// The response of an exchange, or its error with every secret of the connection masked
    /// in the provider's message.
    pub(crate) fn finish(
        &self,
        exchanged: Exchanged,
        out: &Outgoing<'_>,
    ) -> Result<Response, Error> {
        exchanged
            .raw
            .into_response(out, exchanged.gave_up)
            .map_err(|e| self.mask(e))
    }

    /// `error` with the connection's secrets (credentials, secret config params, the OAuth
    /// client, the current access token) replaced by `***` in the provider's message and in
    /// any redirect location, each in the forms a server may echo it (see [`secret_forms`]).
    /// The message is cut to its first 300 characters only after masking, so no part of a
    /// secret survives the cut.
    pub(crate) fn mask(&self, mut error: Error) -> Error {
        let (text, is_message) = match &mut error {
            Error::Status {
                message: Some(m), ..
            }
            | Error::Token { message: m, .. }
            | Error::Reauthorize { reason: m, .. } => (m, true),
            Error::Redirect {
                location: Some(l), ..
            }
            | Error::UnknownAccount {
                location: Some(l), ..
            } => (l, false),
            _ => return error,
        };
        for form in self.secret_forms() {
            if text.contains(&form) {
                *text = text.replace(&form, "***");
            }
        }
        if is_message {
            *text = error::truncate(text, error::MESSAGE_CHARS);
        }
        error
    }

    /// `text` with the connection's secrets replaced by `***`, as [`Connection::mask`] does
    /// in messages (whole: not cut).
    pub(crate) fn mask_text(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for form in self.secret_forms() {
            if text.contains(&form) {
                text = text.replace(&form, "***");
            }
        }
        text
    }

    /// Every form of every secret of the connection a server may echo.
    fn secret_forms(&self) -> Vec<String> {
        let inner = &self.inner;
        let mut secrets = inner.binding.secrets();
        let client = self.client();
        if let Some((id, secret)) = client {
            secrets.extend([id, secret]);
        }
        let token = inner.token.current();
        if let Some(token) = &token {
            secrets.push(token.secret().expose());
        }
        let tokens = inner.token.tokens();
        if let Some(tokens) = &tokens {
            secrets.push(tokens.access_token().expose());
            if let Some(refresh) = tokens.refresh_token() {
                secrets.push(refresh.expose());
            }
            if let Some(secret) = tokens.token_secret() {
                secrets.push(secret.expose());
            }
        }
        let pairs = client.into_iter().chain(
            inner
                .binding
                .basic_credentials()
                .map(|(user, password)| (user, password.unwrap_or_default())),
        );
        secret_forms(&secrets, pairs)
    }

    /// Sends `out` with the provider's headers and credentials: renews the token once after
    /// a 401, and retries as the policy allows.
    pub(crate) async fn exchange(&self, out: &Outgoing<'_>) -> Result<Exchanged, Error> {
        let method = out.method.as_str();
        let path = out.url.path();
        let idempotent = out.idempotent.unwrap_or_else(|| is_idempotent(method));
        let retry_transport = out.idempotent == Some(true);
        let oauth = out.provider_headers && self.inner.auth.uses_token();
        let budget = out.budget;
        let whole = out.whole_bodies;
        // One request within the budget: waits for it, and tells it what the response said.
        let send = move |request: reqwest::RequestBuilder| async move {
            if let Some(budget) = budget {
                budget.acquire().await;
            }
            let raw = self
                .send_once(out.step, method, path, request, whole)
                .await?;
            if let Some(budget) = budget {
                let lookup = |name: &str| raw.headers.get(name).and_then(|v| v.to_str().ok());
                budget.observe(&RateHints::read(lookup, SystemTime::now()));
            }
            Ok::<Raw, Error>(raw)
        };
        let (raw, gave_up) = self
            .with_retries(
                idempotent,
                retry_transport,
                out.max_attempts,
                move || async move {
                    let token = match oauth {
                        true => Some(self.access_token(None).await?),
                        false => None,
                    };
                    let raw = send(self.build(out, token.as_deref())?).await?;
                    match (raw.status, token) {
                        (401, Some(stale)) => {
                            let fresh = self.access_token(Some(&stale)).await?;
                            send(self.build(out, Some(&*fresh))?).await
                        }
                        _ => Ok(raw),
                    }
                },
            )
            .await?;
        Ok(Exchanged { raw, gave_up })
    }

    /// Calls `attempt` until it gives a response that is a success, or not retryable, or the
    /// retry policy gives up. Transport errors are returned at once, unless
    /// `retry_transport`: then they are retried as a 503 would be (backoff, within the
    /// policy's attempts and total wait), and the last one is returned.
    pub(crate) async fn with_retries<F, Fut>(
        &self,
        idempotent: bool,
        retry_transport: bool,
        max_attempts: Option<u32>,
        mut attempt: F,
    ) -> Result<(Raw, Option<GiveUpReason>), Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Raw, Error>>,
    {
        let lowered;
        let policy = match max_attempts {
            Some(max) if max < self.inner.settings.retry.max_attempts => {
                lowered = super::RetryPolicy {
                    max_attempts: max.max(1),
                    ..self.inner.settings.retry
                };
                &lowered
            }
            _ => &self.inner.settings.retry,
        };
        let config = &self.inner.spec.retry;
        let mut waited = Duration::ZERO;
        let mut number = 1;
        loop {
            let raw = match attempt().await {
                Ok(raw) => raw,
                Err(error @ Error::Transport { .. }) if retry_transport => {
                    let decision = {
                        let failed = FailedAttempt {
                            attempt: number,
                            status: 503,
                            idempotent: true,
                            headers: &|_| None,
                            waited,
                        };
                        policy.decide(
                            &RetryConfig::EMPTY,
                            &failed,
                            SystemTime::now(),
                            random_unit(),
                        )
                    };
                    match decision {
                        Decision::Retry { after } => {
                            tokio::time::sleep(after).await;
                            waited += after;
                            number += 1;
                            continue;
                        }
                        Decision::GiveUp { .. } => return Err(error),
                    }
                }
                Err(error) => return Err(error),
            };
            if raw.status < 400 {
                return Ok((raw, None));
            }
            let decision = {
                let lookup = |name: &str| raw.headers.get(name).and_then(|v| v.to_str().ok());
                let failed = FailedAttempt {
                    attempt: number,
                    status: raw.status,
                    idempotent,
                    headers: &lookup,
                    waited,
                };
                policy.decide(config, &failed, SystemTime::now(), random_unit())
            };
            match decision {
                Decision::Retry { after } => {
                    tokio::time::sleep(after).await;
                    waited += after;
                    number += 1;
                }
                Decision::GiveUp { reason } => return Ok((raw, Some(reason))),
            }
        }
    }

    /// Sends one request and reads its response, within the body limits: the whole body of a
    /// success up to [`Settings::max_body_bytes`](super::Settings::max_body_bytes) (a token
    /// response up to [`SMALL_BODY_BYTES`]); the first [`SMALL_BODY_BYTES`] of any other body,
    /// whose rest is never read; with `whole`, any body of a request (not a token request)
    /// as a success's.
    pub(crate) async fn send_once(
        &self,
        step: Step,
        method: &str,
        path: &str,
        request: reqwest::RequestBuilder,
        whole: bool,
    ) -> Result<Raw, Error> {
        let mut response = request
            .send()
            .await
            .map_err(|e| error::transport(step, method, path, e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let success = (200..300).contains(&status) || (whole && step != Step::Token);
        let limit = match step {
            Step::Token => SMALL_BODY_BYTES,
            _ if success => self.inner.settings.max_body_bytes,
            _ => SMALL_BODY_BYTES,
        };
        let too_large = |declared| Error::BodyTooLarge {
            step,
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            limit: limit as u64,
            declared,
        };
        let declared = response.content_length();
        if success && declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large(declared));
        }
        // Never more up front than the limit, nor than a first read needs when the length
        // is not declared.
        let capacity = declared.map_or(8 * 1024, |n| n.min(limit as u64) as usize);
        let mut body = bytes::BytesMut::with_capacity(capacity);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| error::transport(step, method, path, e))?
        {
            let room = limit - body.len();
            if chunk.len() > room {
                if success {
                    return Err(too_large(declared));
                }
                // An error body: its start holds the message; the rest is dropped unread.
                body.extend_from_slice(&chunk[..room]);
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Raw {
            status,
            headers,
            body: body.freeze(),
        })
    }

    /// The HTTP request for `out`: the provider's query and headers rendered for it (or the
    /// headers rendered once at connect, when no template depends on the request), the access
    /// token, the caller's headers (refused where they would replace the provider's).
    fn build(
        &self,
        out: &Outgoing<'_>,
        token: Option<&Issued>,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let inner = &self.inner;
        let step = out.step;
        let render_error = |source| Error::Render { step, source };
        let mut cx = crate::client::render_context();
        // A TWO_STEP template reads the token as `${credentials.token}`.
        let obtained;
        if let Some(token) = token {
            cx = cx.with_access_token(token.secret().expose());
            obtained = [("token", token.secret().expose())];
            cx = cx.with_obtained(&obtained);
        }
        if let Some((id, secret)) = self.client() {
            cx = cx.with_client(id, secret);
        }
        let mut url = out.url.clone();
        if out.provider_headers {
            let query = inner.binding.query(&cx).map_err(render_error)?;
            if !query.is_empty() {
                let taken: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
                if let Some(q) = query.iter().find(|q| taken.iter().any(|t| t == q.name())) {
                    return Err(Error::Url {
                        step,
                        message: format!(
                            "query param `{}` is set by the provider's `proxy.query`; the request may not set it too",
                            q.name()
                        ),
                    });
                }
                url.query_pairs_mut()
                    .extend_pairs(query.iter().map(|q| (q.name(), q.value())));
            }
        }
        let content_type = out.body.and_then(|b| b.content_type.as_deref());
        let cached = inner
            .static_headers
            .as_ref()
            .filter(|_| out.provider_headers);
        let mut map = cached.cloned().unwrap_or_default();
        let dynamic = out.provider_headers && cached.is_none();
        if dynamic || out.verification_headers {
            // Templates may sign or describe the request: give them all of it.
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let pair_refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let cx = cx.with_request(Request {
                method: out.method.as_str(),
                endpoint: out.endpoint,
                host: url.host_str().unwrap_or_default(),
                path: url.path(),
                query: &pair_refs,
                body: out.body.map(|b| b.bytes.as_slice()).unwrap_or_default(),
                content_type,
            });
            if dynamic {
                let provider = inner.binding.headers(&cx).map_err(render_error)?;
                insert_headers(&mut map, &provider)?;
            }
            if out.verification_headers {
                // The check's own headers replace the provider's of the same name (its own
                // `accept`, say).
                let verification = inner
                    .binding
                    .verification_headers(&cx)
                    .map_err(render_error)?;
                insert_headers(&mut map, &verification)?;
            }
        }
        if out.provider_headers
            && inner.auth == crate::ClientAuth::OAuth1
            && !map.contains_key(reqwest::header::AUTHORIZATION)
        {
            // Every request is signed: method, URL with its query, a form body's params.
            let tokens = inner.token.tokens();
            let token = tokens.as_ref().map(|t| {
                (
                    t.access_token().expose(),
                    t.token_secret().map_or("", |s| s.expose()),
                )
            });
            let form: Vec<(String, String)> = match (content_type, out.body) {
                (Some(ct), Some(body)) if ct.starts_with("application/x-www-form-urlencoded") => {
                    url::form_urlencoded::parse(&body.bytes)
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                }
                _ => Vec::new(),
            };
            let form: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let header = self.oauth1_header(out.method.as_str(), &url, &[], &form, token)?;
            map.insert(reqwest::header::AUTHORIZATION, header);
        }
        if out.provider_headers && !map.contains_key(reqwest::header::AUTHORIZATION) {
            // The token for OAUTH2_CC, the basic credentials for BASIC; headers the catalog
            // sets itself win.
            let bearer = inner.spec.token_request.as_ref().is_none_or(|t| t.bearer);
            let auth = match token {
                Some(token) if bearer => Some(token.bearer()),
                Some(_) => None,
                None => inner.basic_authorization.as_ref(),
            };
            if let Some(auth) = auth {
                map.insert(reqwest::header::AUTHORIZATION, auth.clone());
            }
        }
        for (name, value) in out.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| header_error(name, "is not a valid header name"))?;
            if map.contains_key(&header) {
                return Err(header_error(
                    name,
                    "is set by the provider (its `proxy.headers` or credentials); a request may add headers, not replace them",
                ));
            }
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(header_error(name, "the value contains a control character"));
            }
            let value = HeaderValue::from_str(value)
                .map_err(|_| header_error(name, "the value is not a valid header value"))?;
            map.append(header, value);
        }
        if let Some(content_type) = content_type
            && !map.contains_key(reqwest::header::CONTENT_TYPE)
        {
            let value = HeaderValue::from_str(content_type)
                .map_err(|_| header_error("content-type", "is not a valid header value"))?;
            map.insert(reqwest::header::CONTENT_TYPE, value);
        }
        let mut request = inner
            .http
            .request(out.method.clone(), url)
            .timeout(out.timeout)
            .headers(map);
        if let Some(body) = out.body {
            request = request.body(body.bytes.clone());
        }
        Ok(request)
    }
}

/// Adds rendered headers to `map`, replacing any of the same name; sensitive values are
/// marked so (the HTTP library then keeps them out of its `Debug`).
pub(crate) fn insert_headers(map: &mut HeaderMap, headers: &Headers) -> Result<(), Error> {
    for h in headers {
        let name = HeaderName::from_bytes(h.name().as_bytes())
            .map_err(|_| header_error(h.name(), "is not a valid header name"))?;
        let mut value = HeaderValue::from_str(h.value()).map_err(|_| {
            header_error(h.name(), "the rendered value is not a valid header value")
        })?;
        value.set_sensitive(h.is_sensitive());
        map.insert(name, value);
    }
    Ok(())
}

/// A random value in [0, 1) for retry jitter.
fn random_unit() -> f64 {
    let bits = u64::from_le_bytes(terapi_model::random::bytes::<8>()) & ((1u64 << 53) - 1);
    bits as f64 / (1u64 << 53) as f64
}
