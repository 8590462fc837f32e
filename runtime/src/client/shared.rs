//! Tokens shared with other processes: a connection kept in a store (several replicas, or a
//! command line beside a service) renews through the store, which decides under its own lease
//! whether to refresh or to hand over the tokens another process has just renewed. The store
//! saves renewed tokens before it returns them, so nothing uses a rotated refresh token that
//! is not saved.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use super::Connection;
use super::error::Error;
use crate::token::TokenSet;

/// Where a connection's tokens live when other processes share them (see `terapi-store`).
///
/// A connection with shared tokens calls [`SharedTokens::renew`] instead of refreshing on its
/// own, once per renewal (concurrent requests of one connection wait for that one call). An
/// implementation takes its lease, re-reads the tokens, and either returns tokens another
/// process renewed ([`Renewal::can_use`]) or calls [`Renewal::refresh`] once and saves its
/// answer before returning it.
pub trait SharedTokens: Send + Sync + 'static {
    /// The tokens to use from now on.
    fn renew<'a>(&'a self, renewal: Renewal<'a>) -> RenewFuture<'a>;
}

/// What [`SharedTokens::renew`] returns.
pub type RenewFuture<'a> = Pin<Box<dyn Future<Output = Result<TokenSet, Error>> + Send + 'a>>;

/// One renewal of a connection's tokens, handed to its [`SharedTokens`].
pub struct Renewal<'a> {
    pub(crate) conn: &'a Connection,
    pub(crate) held: &'a TokenSet,
    pub(crate) margin: Duration,
    pub(crate) default_lifetime: Duration,
}

impl Renewal<'_> {
    /// The tokens the connection holds: expiring, or refused by the provider.
    pub fn held(&self) -> &TokenSet {
        self.held
    }

    /// The connection's catalog key.
    pub fn provider(&self) -> &str {
        &self.conn.inner.spec.key
    }

    /// Whether `tokens` (read from the store) can be used without a refresh: another process
    /// renewed them (their access token is not the one held) and they are fresh.
    pub fn can_use(&self, tokens: &TokenSet) -> bool {
        tokens.access_token().expose() != self.held.access_token().expose()
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

    /// An [`Error::Reauthorize`] for this connection, with `reason`.
    pub fn reauthorize(&self, reason: &str) -> Error {
        self.conn.reauthorize(reason)
    }
}
