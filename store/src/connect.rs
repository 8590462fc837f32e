//! Connections made from a store: the record opened, the provider found in the catalog, and
//! the tokens renewed through the store ([`StoredTokens`]): refreshes of an authorized
//! provider's, and tokens obtained from the credentials (OAUTH2_CC, TWO_STEP, BILL), which the
//! store keeps so that every process reuses one until it expires.

use terapi_runtime::client::{Connection, Settings};

use crate::error::StoreError;
use crate::store::{FromStore, Store};

impl Store {
    /// A connection to the provider of the stored connection `id`, renewing its tokens
    /// through this store (see the crate docs): a token obtained from the credentials by
    /// another process (or an earlier one) is reused while it is fresh, and a new one is kept
    /// for the others. A connection whose refresh was refused gets
    /// [`terapi_runtime::client::Error::Reauthorize`] at once.
    pub async fn connect(&self, id: &str, settings: Settings) -> Result<Connection, StoreError> {
        let row = self
            .backend
            .get(id)
            .await?
            .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
        let spec = self.spec(id, &row.provider)?;
        if let Some(reason) = &row.reauthorize {
            return Err(StoreError::Client(
                terapi_runtime::client::Error::Reauthorize {
                    provider: spec.key.clone(),
                    reason: reason.clone(),
                },
            ));
        }
        let record = self.open_row(&row)?;
        match (record.client, record.tokens) {
            (Some(client), Some(tokens)) => {
                let conn = Connection::from_tokens(spec, &record.config, client, tokens, settings)?;
                self.share(id, &conn);
                Ok(conn)
            }
            _ => {
                let conn =
                    Connection::from_json(spec, &record.config, &record.credentials, settings)?;
                // Only the modes whose token is obtained from the credentials ask the store.
                self.share(id, &conn);
                Ok(conn)
            }
        }
    }
}

impl FromStore for Connection {
    async fn from_store(
        store: &Store,
        id: &str,
        settings: Settings,
    ) -> Result<Connection, StoreError> {
        store.connect(id, settings).await
    }
}
