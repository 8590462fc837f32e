//! Pending authorizations: kept (sealed) between the redirect and the callback, found again
//! by the SHA-256 of their state, used once, by the first callback that passes the checks (a
//! wrong one leaves it for the right one); the callback's tokens saved as the connection.

use sha2::Digest as _;
use terapi_runtime::client::{Connection, PendingAuthorization, Settings};

use crate::backend::{PendingRow, Val};
use crate::error::StoreError;
use crate::keys::Binding;
use crate::record::{ConnectionRecord, now_ms, to_ms};
use crate::store::{Store, check_id};

impl Store {
    /// Keeps a pending authorization (started with `Connection::start_authorization` or a
    /// provider module's `authorize`) until its callback: [`Store::finish_authorization`]
    /// then saves the connection as `id`. Expired ones are removed here.
    pub async fn save_pending(
        &self,
        id: &str,
        pending: &PendingAuthorization,
    ) -> Result<(), StoreError> {
        self.save_pending_with(id, pending, None).await
    }

    /// [`Store::save_pending`] with a context the application gets back from
    /// [`Store::finish_authorization_with`] (e.g. who started the flow and where to tell
    /// the result), sealed with the flow.
    pub async fn save_pending_with(
        &self,
        id: &str,
        pending: &PendingAuthorization,
        context: Option<serde_json::Value>,
    ) -> Result<(), StoreError> {
        check_id(id)?;
        let now = now_ms();
        self.backend.purge_pending(now).await?;
        let hash = state_hash(pending.state());
        let plain = serde_json::to_vec(&PendingSealed {
            connection_id: id.to_owned(),
            pending,
            context,
        })
        .map_err(|e| StoreError::Corrupt {
            what: "a pending authorization".to_owned(),
            message: e.to_string(),
        })?;
        let bound = Binding::pending(&hash, id, pending.provider());
        let (key_id, secrets) = self.keys.seal(&bound, &plain)?;
        self.backend
            .put_pending(PendingRow {
                state_hash: hash,
                connection_id: id.to_owned(),
                provider: pending.provider().to_owned(),
                key_id,
                secrets,
                created_at: now,
                expires_at: to_ms(pending.expires_at()),
            })
            .await
    }

    /// Finishes an authorization from its callback URL: finds its pending authorization by
    /// the `state`, checks the callback against it (provider, redirect URI with its port,
    /// expiry, a refusal, the code), and only then uses it (each is used once: of two
    /// callbacks that pass, one gets [`StoreError::NoPendingAuthorization`]), exchanges the
    /// code, saves the connection with its tokens under the id given to
    /// [`Store::save_pending`], and returns the id and the connection (renewing through this
    /// store). A callback refused by the checks leaves the pending authorization for the
    /// right one.
    pub async fn finish_authorization(
        &self,
        callback_url: &str,
        settings: Settings,
    ) -> Result<(String, Connection), StoreError> {
        let (id, conn, _) = self
            .finish_authorization_with(callback_url, settings)
            .await?;
        Ok((id, conn))
    }

    /// The context of the pending authorization a callback URL names, if the flow is still
    /// pending (nothing is checked or used: for telling a failed callback's result to the
    /// right place).
    pub async fn pending_context(
        &self,
        callback_url: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let url = url::Url::parse(callback_url).map_err(|_| StoreError::NoState)?;
        let Some(state) = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
        else {
            return Ok(None);
        };
        let hash = state_hash(&state);
        let Some(found) = self.peek_pending(&hash).await? else {
            return Ok(None);
        };
        let (_, opened) = self.open_pending(&hash, &found)?;
        Ok(opened.context)
    }

    /// [`Store::finish_authorization`], also giving the context saved with the flow
    /// ([`Store::save_pending_with`]).
    pub async fn finish_authorization_with(
        &self,
        callback_url: &str,
        settings: Settings,
    ) -> Result<(String, Connection, Option<serde_json::Value>), StoreError> {
        let url = url::Url::parse(callback_url).map_err(|_| StoreError::NoState)?;
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .ok_or(StoreError::NoState)?;
        let hash = state_hash(&state);
        // Read, not taken: a callback that fails the checks does not use up the flow.
        let found = self
            .peek_pending(&hash)
            .await?
            .ok_or(StoreError::NoPendingAuthorization)?;
        let (_, opened) = self.open_pending(&hash, &found)?;
        let spec = self.spec(&opened.connection_id, &found.provider)?;
        Connection::check_callback(spec, &opened.pending, callback_url)?;
        // Single use, atomically: only the caller whose DELETE returns the row exchanges.
        let row = self
            .backend
            .take_pending(&hash)
            .await?
            .ok_or(StoreError::NoPendingAuthorization)?;
        let (what, opened) = self.open_pending(&hash, &row)?;
        let spec = self.spec(&opened.connection_id, &row.provider)?;
        let client = opened.pending.client().clone();
        let config = opened.pending.config_json();
        let conn = Connection::from_callback(spec, opened.pending, callback_url, settings).await?;
        let tokens = conn.tokens().ok_or_else(|| StoreError::Corrupt {
            what,
            message: "the authorization gave no tokens".to_owned(),
        })?;
        let record = ConnectionRecord::authorized(row.provider.clone(), config, client, tokens);
        self.save_connection(&opened.connection_id, &record).await?;
        self.share(&opened.connection_id, &conn);
        Ok((opened.connection_id, conn, opened.context))
    }

    /// The pending authorization of `hash`, if there is one, left in place.
    async fn peek_pending(&self, hash: &str) -> Result<Option<PendingRow>, StoreError> {
        const PEEK: &str = "SELECT connection_id, provider, key_id, secrets, created_at, expires_at FROM terapi_pending WHERE state_hash = $1";
        let rows = self.backend.query(PEEK, vec![Val::text(hash)]).await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let corrupt = || StoreError::Corrupt {
            what: format!("pending authorization {}", hash.get(..12).unwrap_or(hash)),
            message: "a column of its row is missing".to_owned(),
        };
        let mut values = row.into_iter();
        let mut next = || values.next().ok_or_else(corrupt);
        Ok(Some(PendingRow {
            state_hash: hash.to_owned(),
            connection_id: next()?.into_text().ok_or_else(corrupt)?,
            provider: next()?.into_text().ok_or_else(corrupt)?,
            key_id: next()?.into_text().ok_or_else(corrupt)?,
            secrets: next()?.into_bytes().ok_or_else(corrupt)?,
            created_at: next()?.as_int().ok_or_else(corrupt)?,
            expires_at: next()?.as_int().ok_or_else(corrupt)?,
        }))
    }

    /// A pending authorization's row opened: what it is called in errors, and its content.
    fn open_pending(
        &self,
        hash: &str,
        row: &PendingRow,
    ) -> Result<(String, PendingOpened), StoreError> {
        let bound = Binding::pending(hash, &row.connection_id, &row.provider);
        let what = bound.what().to_owned();
        let plain = self.keys.open(&bound, &row.key_id, &row.secrets)?;
        let opened: PendingOpened =
            serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt {
                what: what.clone(),
                message: e.to_string(),
            })?;
        Ok((what, opened))
    }
}

#[derive(serde::Serialize)]
struct PendingSealed<'a> {
    connection_id: String,
    pending: &'a PendingAuthorization,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingOpened {
    connection_id: String,
    pending: PendingAuthorization,
    #[serde(default)]
    context: Option<serde_json::Value>,
}

fn state_hash(state: &str) -> String {
    hex::encode(sha2::Sha256::digest(state.as_bytes()))
}
