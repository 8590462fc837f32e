//! Client-credentials tokens: requested as the catalog says, cached, renewed shortly before
//! expiry or after a 401, and shared by concurrent requests (one token request at a time).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use base64::Engine as _;
use reqwest::header::HeaderValue;

use super::Connection;
use super::error::{Error, Step, provider_message};
use super::spec::{BodyFormat, TokenAuth};
use crate::render::RenderContext;
use crate::secret::Secret;
use crate::token::{Token, TokenError, parse_token_response};

/// The cached token. The async mutex is held while a token is requested, so that concurrent
/// callers wait for that one request instead of sending their own (single flight); a fresh
/// token is read without it.
#[derive(Default)]
pub(crate) struct TokenCache {
    /// The current token, for the fast path.
    current: std::sync::RwLock<Option<Arc<Issued>>>,
    state: tokio::sync::Mutex<State>,
    /// Token requests made.
    requests: AtomicU64,
    /// Token requests finished (success or failure).
    finished: AtomicU64,
}

/// A token and its `Authorization` header value, made once per token.
pub(crate) struct Issued {
    token: Token,
    bearer: HeaderValue,
}

impl Issued {
    /// The token, for `${accessToken}`.
    pub(crate) fn secret(&self) -> &Secret {
        self.token.secret()
    }

    /// `Bearer <token>`, marked sensitive.
    pub(crate) fn bearer(&self) -> &HeaderValue {
        &self.bearer
    }
}

#[derive(Default)]
struct State {
    token: Option<Arc<Issued>>,
    /// The last failure and the value of `finished` it set.
    failure: Option<(u64, Error)>,
}

impl TokenCache {
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The current token, if any.
    pub(crate) fn current(&self) -> Option<Arc<Issued>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_current(&self, token: Option<Arc<Issued>>) {
        // A poisoned lock only means a panic elsewhere while holding it; the value is whole.
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = token;
    }
}

impl Connection {
    /// A fresh access token: the cached one, unless it expires within the margin or is
    /// `stale` (the one a 401 just refused), else a new one from the token endpoint.
    /// Callers that wait while a token request is under way get its result: its token, or
    /// its error, without a request of their own.
    pub(crate) async fn access_token(
        &self,
        stale: Option<&Arc<Issued>>,
    ) -> Result<Arc<Issued>, Error> {
        let cache = &self.inner.token;
        let margin = self.inner.settings.token_margin;
        let usable = |issued: &Arc<Issued>| {
            issued.token.is_fresh(SystemTime::now(), margin)
                && stale.is_none_or(|s| !Arc::ptr_eq(s, issued))
        };
        if let Some(issued) = cache
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|i| usable(i))
        {
            return Ok(Arc::clone(issued));
        }
        let queued_at = cache.finished.load(Ordering::Acquire);
        let mut state = cache.state.lock().await;
        if let Some(issued) = state.token.as_ref().filter(|i| usable(i)) {
            return Ok(Arc::clone(issued));
        }
        if let Some((at, error)) = &state.failure
            && *at > queued_at
        {
            return Err(error.clone());
        }
        cache.requests.fetch_add(1, Ordering::Relaxed);
        let result = self.request_token().await.and_then(|token| {
            let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.secret().expose()))
                .map_err(|_| Error::Token {
                    path: self.inner.token_url.as_ref().map(|u| u.path().to_owned()),
                    status: 200,
                    message: "the access token has characters a header cannot carry".to_owned(),
                })?;
            bearer.set_sensitive(true);
            Ok(Arc::new(Issued { token, bearer }))
        });
        let finished = cache.finished.fetch_add(1, Ordering::AcqRel) + 1;
        match result {
            Ok(issued) => {
                state.token = Some(Arc::clone(&issued));
                state.failure = None;
                cache.set_current(Some(Arc::clone(&issued)));
                Ok(issued)
            }
            Err(error) => {
                state.token = None;
                state.failure = Some((finished, error.clone()));
                cache.set_current(None);
                Err(error)
            }
        }
    }

    /// One token request (with retries on 429 and 5xx), as the catalog describes it.
    async fn request_token(&self) -> Result<Token, Error> {
        let inner = &self.inner;
        let (Some(url), Some((id, secret))) =
            (inner.token_url.as_ref(), inner.binding.client_credentials())
        else {
            // `Connection::from_boxed` checked both for OAUTH2_CC.
            return Err(Error::Unsupported {
                provider: inner.spec.key.clone(),
                auth_mode: inner.spec.auth_mode,
                reason: crate::spec::Unsupported::NoTokenUrl(inner.spec.auth_mode),
            });
        };
        let path = url.path().to_owned();
        let cx = RenderContext::new().with_client(id, secret);
        let params = inner
            .binding
            .token_params(&cx)
            .map_err(|source| Error::Render {
                step: Step::Token,
                source,
            })?;
        let mut fields: Vec<(&str, &str)> = Vec::new();
        if inner.spec.token_auth == TokenAuth::Body {
            fields.push(("client_id", id));
            fields.push(("client_secret", secret));
        }
        for p in &params {
            if !fields.iter().any(|(name, _)| *name == p.name()) {
                fields.push((p.name(), p.value()));
            }
        }
        if let Some(scope) = &inner.spec.default_scope
            && !fields.iter().any(|(name, _)| *name == "scope")
        {
            fields.push(("scope", &**scope));
        }
        let (body, content_type) = match inner.spec.body_format {
            BodyFormat::Form => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.extend_pairs(&fields);
                (
                    form.finish().into_bytes(),
                    "application/x-www-form-urlencoded",
                )
            }
            BodyFormat::Json => {
                let map: serde_json::Map<String, serde_json::Value> = fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                    .collect();
                (
                    serde_json::Value::Object(map).to_string().into_bytes(),
                    "application/json",
                )
            }
        };
        let basic = (inner.spec.token_auth == TokenAuth::Basic).then(|| {
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(id), enc(secret));
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        let (raw, _gave_up) = self
            .with_retries(true, || {
                let mut request = inner
                    .http
                    .post(url.clone())
                    .timeout(inner.settings.timeout)
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .body(body.clone());
                if let Some(basic) = &basic {
                    let mut value = reqwest::header::HeaderValue::from_str(basic)
                        .unwrap_or(reqwest::header::HeaderValue::from_static(""));
                    value.set_sensitive(true);
                    request = request.header(reqwest::header::AUTHORIZATION, value);
                }
                self.send_once(Step::Token, "POST", &path, request)
            })
            .await?;
        // A provider that echoes the client id or secret in its message does not get it
        // into ours.
        let token_error = |message: String| {
            self.mask(Error::Token {
                path: Some(path.clone()),
                status: raw.status,
                message,
            })
        };
        if (300..400).contains(&raw.status) {
            return Err(token_error(
                "the token endpoint redirected; not followed".to_owned(),
            ));
        }
        if !(200..300).contains(&raw.status) {
            return Err(token_error(
                provider_message(&raw.body)
                    .unwrap_or_else(|| "no error message in the response".to_owned()),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&raw.body)
            .map_err(|e| token_error(format!("the token response is not JSON ({e})")))?;
        parse_token_response(
            &value,
            SystemTime::now(),
            inner.settings.default_token_lifetime,
        )
        .map_err(|e| match e {
            TokenError::Rejected { message } => token_error(message),
            other => token_error(other.to_string()),
        })
    }
}
