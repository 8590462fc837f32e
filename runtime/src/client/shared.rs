//! Tokens shared with other processes: a connection kept in a store (several replicas, or a
//! command line beside a service) renews through the store, which decides under its own lease
//! whether to refresh or to hand over the tokens another process has just renewed. The store
//! saves renewed tokens before it returns them, so nothing uses a rotated refresh token that
//! is not saved.
//!
//! Tokens obtained from a connection's credentials (client credentials, TWO_STEP, BILL, a JWT
//! exchanged at a token endpoint) take the same path: the store hands over a stored token
//! that is still fresh, else obtains one ([`Renewal::obtain`]) and keeps it, so that every
//! process using the connection shares one token until it expires.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use super::Connection;
use super::error::Error;
use crate::ClientAuth;
use crate::token::TokenSet;

/// Where a connection's tokens live when other processes share them (see `terapi-store`).
///
/// A connection with shared tokens calls [`SharedTokens::renew`] instead of refreshing on its
/// own, once per renewal (concurrent requests of one connection wait for that one call). An
/// implementation takes its lease, re-reads the tokens, and either returns tokens another
/// process renewed ([`Renewal::can_use`]) or calls [`Renewal::refresh`] (tokens a user
/// granted) or [`Renewal::obtain`] (tokens from the credentials,
/// [`Renewal::from_credentials`]) once and saves its answer before returning it.
pub trait SharedTokens: Send + Sync + 'static {
    /// The tokens to use from now on.
    fn renew<'a>(&'a self, renewal: Renewal<'a>) -> RenewFuture<'a>;
}

/// What [`SharedTokens::renew`] returns.
pub type RenewFuture<'a> = Pin<Box<dyn Future<Output = Result<TokenSet, Error>> + Send + 'a>>;

/// One renewal of a connection's tokens, handed to its [`SharedTokens`].
pub struct Renewal<'a> {
    pub(crate) conn: &'a Connection,
    /// `None`: a connection whose tokens come from its credentials has none yet.
    pub(crate) held: Option<&'a TokenSet>,
    pub(crate) margin: Duration,
    pub(crate) default_lifetime: Duration,
}

impl Renewal<'_> {
    /// The tokens the connection holds: expiring, or refused by the provider; `None` when a
    /// connection whose tokens come from its credentials has not had any yet.
    pub fn held(&self) -> Option<&TokenSet> {
        self.held
    }

    /// Whether the tokens are obtained from the connection's credentials (client
    /// credentials, TWO_STEP, BILL) rather than granted by a user: a store may hold none
    /// yet, a new one is asked for with [`Renewal::obtain`], and a refused request is not a
    /// grant gone (the credentials are what the provider refused).
    pub fn from_credentials(&self) -> bool {
        self.conn.inner.auth != ClientAuth::AuthorizationCode
    }

    /// The connection's catalog key.
    pub fn provider(&self) -> &str {
        &self.conn.inner.spec.key
    }

    /// Whether `tokens` (read from the store) can be used without a refresh: another process
    /// renewed them (their access token is not the one held) and they are fresh.
    pub fn can_use(&self, tokens: &TokenSet) -> bool {
        self.held
            .is_none_or(|held| tokens.access_token().expose() != held.access_token().expose())
            && tokens
                .token(self.default_lifetime)
                .is_fresh(SystemTime::now(), self.margin)
    }

    /// Refreshes `tokens` (the ones the store holds now, which may be newer than
    /// [`Renewal::held`]) at the provider: one token request. The answer must be saved
    /// before it is returned from [`SharedTokens::renew`]: the provider may have rotated the
    /// refresh token. An [`Error::Reauthorize`] means the grant is gone.
    pub async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, Error> {
        self.conn
            .inner
            .token
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.conn.refresh_tokens(tokens).await
    }

    /// New tokens from the connection's credentials ([`Renewal::from_credentials`]): one
    /// token request (a TWO_STEP refresh request when `stored` has a refresh token and the
    /// catalog one, else the login or the client credentials grant). Save the answer before
    /// returning it from [`SharedTokens::renew`], so that other processes use it too.
    pub async fn obtain(&self, stored: Option<&TokenSet>) -> Result<TokenSet, Error> {
        self.conn
            .inner
            .token
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.conn.obtain_tokens(stored).await
    }

    /// An [`Error::Reauthorize`] for this connection, with `reason`.
    pub fn reauthorize(&self, reason: &str) -> Error {
        self.conn.reauthorize(reason)
    }
}
