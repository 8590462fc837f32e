//! Access tokens: obtained as the catalog says (client credentials, or a refresh of the
//! tokens a user granted), cached, renewed shortly before expiry or after a 401, and shared by
//! concurrent requests (one token request at a time, per connection). Renewed tokens of an
//! authorization go to the connection's token sink, and are used only once it has them. A
//! connection kept in a store renews through it ([`SharedTokens`]): refreshes of an
//! authorization, and tokens obtained from the credentials, which the store keeps for every
//! process until they expire.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use reqwest::header::HeaderValue;

use super::Connection;
use super::error::Error;
use super::shared::{Renewal, SharedTokens};
use crate::ClientAuth;
use crate::Secret;
use crate::token::{Token, TokenSet};

/// Where a connection hands its renewed tokens, and waits until they are saved before it
/// uses them: so that a rotated refresh token is never lost (a process that dies right after
/// a refresh has already saved what the provider now expects).
///
/// Called after every renewal with the whole new [`TokenSet`]. Any async function
/// `Fn(TokenSet) -> impl Future<Output = Result<(), E>>` is a sink.
pub trait TokenSink: Send + Sync + 'static {
    /// Saves `tokens`; the connection uses them once this succeeds.
    fn save(&self, tokens: TokenSet) -> SinkFuture<'_>;
}

/// What [`TokenSink::save`] returns.
pub type SinkFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> + Send + 'a>>;

impl<F, Fut, E> TokenSink for F
where
    F: Fn(TokenSet) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn save(&self, tokens: TokenSet) -> SinkFuture<'_> {
        let fut = self(tokens);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

/// The cached token. The async mutex is held while a token is requested, so that concurrent
/// callers wait for that one request instead of sending their own (single flight); a fresh
/// token is read without it.
#[derive(Default)]
pub(crate) struct TokenCache {
    /// The current token, for the fast path.
    current: std::sync::RwLock<Option<Arc<Issued>>>,
    /// The tokens last saved and installed (authorization code), for `tokens()` while a
    /// renewal holds the state.
    installed: std::sync::RwLock<Option<TokenSet>>,
    state: tokio::sync::Mutex<State>,
    /// Token requests made.
    pub(super) requests: AtomicU64,
    /// Token requests finished (success or failure).
    finished: AtomicU64,
    /// Where renewed tokens of an authorization go first.
    sink: std::sync::RwLock<Option<Arc<dyn TokenSink>>>,
    /// The store that renews an authorization's tokens for every process sharing them.
    shared: std::sync::RwLock<Option<Arc<dyn SharedTokens>>>,
}

/// A token and its `Authorization` header value, made once per token.
pub(crate) struct Issued {
    token: Token,
    bearer: HeaderValue,
}

impl Issued {
    /// The token with its `Authorization` value; an error when a header cannot carry it.
    fn new(token: Token) -> Result<Self, Error> {
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.secret().expose()))
            .map_err(|_| Error::Token {
                path: None,
                status: 200,
                message: "the access token has characters a header cannot carry".to_owned(),
            })?;
        bearer.set_sensitive(true);
        Ok(Issued { token, bearer })
    }

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
    /// The tokens of an authorization (authorization code): the refresh token lives here.
    tokens: Option<TokenSet>,
    /// Renewed tokens the sink has not taken yet: not used until it does.
    unsaved: bool,
    /// The grant is gone ([`Error::Reauthorize`]): every caller gets this, no request is sent.
    dead: Option<Error>,
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

    /// A cache holding the tokens of an authorization.
    pub(crate) fn with_tokens(tokens: TokenSet, default_lifetime: std::time::Duration) -> Self {
        let cache = TokenCache::default();
        let issued = Issued::new(tokens.token(default_lifetime))
            .ok()
            .map(Arc::new);
        *cache.installed.write().unwrap_or_else(|e| e.into_inner()) = Some(tokens.clone());
        let state = State {
            token: issued.clone(),
            tokens: Some(tokens),
            ..State::default()
        };
        cache.set_current(issued);
        TokenCache {
            state: tokio::sync::Mutex::new(state),
            ..cache
        }
    }

    /// The tokens of an authorization, as they are now.
    pub(crate) fn tokens(&self) -> Option<TokenSet> {
        // Only `access_token` holds the lock across an await; `try_lock` fails only then,
        // and the tokens are about to change: the last installed ones are returned.
        match self.state.try_lock() {
            Ok(state) => state.tokens.clone(),
            Err(_) => self
                .installed
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    pub(crate) fn set_sink(&self, sink: Arc<dyn TokenSink>) {
        *self.sink.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    pub(crate) fn set_shared(&self, shared: Arc<dyn SharedTokens>) {
        *self.shared.write().unwrap_or_else(|e| e.into_inner()) = Some(shared);
    }

    fn shared(&self) -> Option<Arc<dyn SharedTokens>> {
        self.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn sink(&self) -> Option<Arc<dyn TokenSink>> {
        self.sink.read().unwrap_or_else(|e| e.into_inner()).clone()
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
        let margin = renewal_margin(
            self.inner.spec.token_expiration_buffer,
            self.inner.settings.token_margin,
        );
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
        if let Some(error) = &state.dead {
            return Err(error.clone());
        }
        if state.unsaved {
            // Renewed tokens the sink has not taken: save them before anything uses them.
            let tokens = state.tokens.clone();
            if let Some(tokens) = tokens {
                self.save(&tokens).await?;
                state.unsaved = false;
                let issued = Arc::new(Issued::new(
                    tokens.token(self.inner.settings.default_token_lifetime),
                )?);
                state.token = Some(Arc::clone(&issued));
                cache.set_current(Some(Arc::clone(&issued)));
                *cache.installed.write().unwrap_or_else(|e| e.into_inner()) = Some(tokens);
                if usable(&issued) {
                    return Ok(issued);
                }
            }
        }
        let result = match self.inner.auth {
            ClientAuth::AuthorizationCode => {
                let Some(tokens) = state.tokens.clone() else {
                    return Err(self.reauthorize("the connection has no tokens"));
                };
                if tokens.refresh_token().is_none() {
                    // Nothing to renew with: the token is used until the provider refuses it
                    // or it has expired.
                    let expired = tokens
                        .expires_at()
                        .is_some_and(|at| at <= SystemTime::now());
                    return match (state.token.as_ref(), stale.is_some() || expired) {
                        (Some(issued), false) => Ok(Arc::clone(issued)),
                        _ => {
                            let error = self.reauthorize(if expired {
                                "the access token expired and no refresh token was granted"
                            } else {
                                "the provider refused the access token and no refresh token was granted"
                            });
                            state.dead = Some(error.clone());
                            cache.set_current(None);
                            Err(error)
                        }
                    };
                }
                if let Some(shared) = cache.shared() {
                    // Other processes share these tokens: the store decides, under its lease,
                    // whether to refresh or to hand over tokens one of them renewed, and has
                    // saved what it returns.
                    let renewal = Renewal {
                        conn: self,
                        held: Some(&tokens),
                        margin,
                        default_lifetime: self.inner.settings.default_token_lifetime,
                    };
                    match shared.renew(renewal).await {
                        Ok(renewed) => {
                            *cache.installed.write().unwrap_or_else(|e| e.into_inner()) =
                                Some(renewed.clone());
                            let issued = Issued::new(
                                renewed.token(self.inner.settings.default_token_lifetime),
                            )
                            .map(Arc::new);
                            state.tokens = Some(renewed);
                            issued
                        }
                        Err(error) => {
                            if error.needs_reauthorization() {
                                state.dead = Some(error.clone());
                            }
                            Err(error)
                        }
                    }
                } else {
                    cache.requests.fetch_add(1, Ordering::Relaxed);
                    match self.refresh_tokens(&tokens).await {
                        Ok(renewed) => {
                            // The provider may have rotated the refresh token: from now on only the
                            // new one works, so it is kept before anything else happens.
                            state.tokens = Some(renewed.clone());
                            match self.save(&renewed).await {
                                Ok(()) => {
                                    *cache.installed.write().unwrap_or_else(|e| e.into_inner()) =
                                        Some(renewed.clone());
                                    Issued::new(
                                        renewed.token(self.inner.settings.default_token_lifetime),
                                    )
                                    .map(Arc::new)
                                }
                                Err(error) => {
                                    state.unsaved = true;
                                    state.token = None;
                                    cache.set_current(None);
                                    cache.finished.fetch_add(1, Ordering::AcqRel);
                                    return Err(error);
                                }
                            }
                        }
                        Err(error) => {
                            if error.needs_reauthorization() {
                                state.dead = Some(error.clone());
                            }
                            Err(error)
                        }
                    }
                }
            }
            ClientAuth::SignedToken => {
                cache.requests.fetch_add(1, Ordering::Relaxed);
                self.signed_token()
                    .and_then(|token| Issued::new(token).map(Arc::new))
            }
            // TWO_STEP, BILL and OAUTH2_CC (the modes whose token comes from the credentials).
            _ => {
                // Tokens obtained from the credentials: through the store when other
                // processes share the connection (it hands over a stored token that is still
                // fresh, else obtains one and keeps it), else from the provider at once.
                let held = state.tokens.clone();
                let obtained = match cache.shared() {
                    Some(shared) => {
                        let renewal = Renewal {
                            conn: self,
                            held: held.as_ref(),
                            margin,
                            default_lifetime: self.inner.settings.default_token_lifetime,
                        };
                        shared.renew(renewal).await
                    }
                    None => {
                        cache.requests.fetch_add(1, Ordering::Relaxed);
                        self.obtain_tokens(held.as_ref()).await
                    }
                };
                match obtained {
                    Ok(tokens) => {
                        let issued =
                            Issued::new(tokens.token(self.inner.settings.default_token_lifetime))
                                .map(Arc::new);
                        *cache.installed.write().unwrap_or_else(|e| e.into_inner()) =
                            Some(tokens.clone());
                        state.tokens = Some(tokens);
                        issued
                    }
                    Err(error) => Err(error),
                }
            }
        };
        let finished = cache.finished.fetch_add(1, Ordering::AcqRel) + 1;
        match result {
            Ok(issued) => {
                state.token = Some(Arc::clone(&issued));
                if self.inner.auth == ClientAuth::AuthorizationCode {
                    state.unsaved = false;
                }
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
}

impl Connection {
    /// The access token requests are sent with, fresh: the cached one while it is (shared by
    /// concurrent callers and, for a stored connection, by every process: see
    /// [`SharedTokens`]), else renewed through the same single renewal requests use. With
    /// `force_refresh`, renewed now through that path, unless a token request was made during
    /// this call (its token is as new) or the tokens of an authorization have no refresh
    /// token (the current one is answered). For the modes that use no token (API keys, basic, OAuth
    /// 1.0a), `None`.
    ///
    /// The answer holds the tokens as the connection has them: the refresh token and the
    /// provider's raw fields of an authorization included. An [`Error::Reauthorize`] means the
    /// grant is gone.
    pub async fn fresh_tokens(&self, force_refresh: bool) -> Result<Option<TokenSet>, Error> {
        if !self.inner.auth.uses_token() {
            return Ok(None);
        }
        let cache = &self.inner.token;
        let before = cache.requests();
        let mut issued = self.access_token(None).await?;
        // Tokens a user granted without a refresh token cannot be renewed: forcing would
        // only declare the grant dead while its access token still works.
        let renewable = self.inner.auth != ClientAuth::AuthorizationCode
            || cache.tokens().is_some_and(|t| t.refresh_token().is_some());
        if force_refresh && renewable && cache.requests() == before {
            issued = self.access_token(Some(&issued)).await?;
        }
        let token = &issued.token;
        Ok(Some(match cache.tokens() {
            Some(tokens) if tokens.access_token().expose() == token.secret().expose() => tokens,
            _ => TokenSet::new(token.secret().clone()).with_expires_at(token.expires_at()),
        }))
    }

    /// New tokens from the connection's credentials: TWO_STEP's refresh request or login
    /// (with `current`'s refresh token, if any), or the client credentials grant.
    pub(crate) async fn obtain_tokens(
        &self,
        current: Option<&TokenSet>,
    ) -> Result<TokenSet, Error> {
        match self.inner.auth {
            ClientAuth::TokenRequest => self.two_step_tokens(current).await,
            _ => self.client_credentials_token().await,
        }
    }

    /// Hands `tokens` to the sink, if there is one, and waits for it.
    async fn save(&self, tokens: &TokenSet) -> Result<(), Error> {
        match self.inner.token.sink() {
            Some(sink) => sink
                .save(tokens.clone())
                .await
                .map_err(|e| Error::TokenSink {
                    message: super::error::truncate(&e.to_string(), super::error::MESSAGE_CHARS),
                }),
            None => Ok(()),
        }
    }
}

/// How long before its expiry a token is renewed: the catalog's `token_expiration_buffer`
/// when it has one, else the settings' margin (either at most half of a token's life: see
/// [`Token::is_fresh`]).
fn renewal_margin(
    catalog_buffer_s: Option<u64>,
    settings: std::time::Duration,
) -> std::time::Duration {
    catalog_buffer_s.map_or(settings, std::time::Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_catalogs_buffer_wins_over_the_settings_margin() {
        let minute = Duration::from_secs(60);
        assert_eq!(renewal_margin(Some(900), minute), Duration::from_secs(900));
        assert_eq!(renewal_margin(None, minute), minute);
        // A toast-like buffer of 60 s on a 10-minute token: fresh until 9 minutes.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let token = TokenSet::new("t")
            .issued_at_time(now)
            .with_expires_at(now + Duration::from_secs(600))
            .token(Duration::from_secs(86_400));
        let margin = renewal_margin(Some(60), Duration::from_secs(300));
        assert!(token.is_fresh(now + Duration::from_secs(539), margin));
        assert!(!token.is_fresh(now + Duration::from_secs(540), margin));
    }
}
