//! Pending authorizations: kept (sealed) between the redirect and the callback, found again
//! by the SHA-256 of their state, used once; the callback's tokens saved as the connection.

use sha2::Digest as _;
use terapi_runtime::client::{Connection, PendingAuthorization, Settings};

use crate::backend::PendingRow;
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
        check_id(id)?;
        let now = now_ms();
        self.backend.purge_pending(now).await?;
        let hash = state_hash(pending.state());
        let plain = serde_json::to_vec(&PendingSealed {
            connection_id: id.to_owned(),
            pending,
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
    /// the `state` (each is used once), checks the callback, exchanges the code, saves the
    /// connection with its tokens under the id given to [`Store::save_pending`], and returns
    /// the id and the connection (renewing through this store).
    pub async fn finish_authorization(
        &self,
        callback_url: &str,
        settings: Settings,
    ) -> Result<(String, Connection), StoreError> {
        let url = url::Url::parse(callback_url).map_err(|_| StoreError::NoState)?;
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .ok_or(StoreError::NoState)?;
        let hash = state_hash(&state);
        let row = self
            .backend
            .take_pending(&hash)
            .await?
            .ok_or(StoreError::NoPendingAuthorization)?;
        let bound = Binding::pending(&hash, &row.connection_id, &row.provider);
        let what = bound.what().to_owned();
        let plain = self.keys.open(&bound, &row.key_id, &row.secrets)?;
        let opened: PendingOpened =
            serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt {
                what: what.clone(),
                message: e.to_string(),
            })?;
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
        Ok((opened.connection_id, conn))
    }
}

#[derive(serde::Serialize)]
struct PendingSealed<'a> {
    connection_id: String,
    pending: &'a PendingAuthorization,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingOpened {
    connection_id: String,
    pending: PendingAuthorization,
}

fn state_hash(state: &str) -> String {
    hex::encode(sha2::Sha256::digest(state.as_bytes()))
}
