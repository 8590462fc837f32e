//! The callback of an authorization: checked against its pending flow, then the code (or
//! OAuth 1.0a's verifier) exchanged for tokens, and the connection made with them.

use std::time::SystemTime;

use super::error::{CallbackError, Error};
use super::oauth::{
    PendingAuthorization, RESOURCE, TOKEN_ENDPOINT, WithMetadata, authorization_spec, read_callback,
};
use super::{Connection, Settings};
use crate::spec::SpecRef;
use crate::token::TokenSet;

impl Connection {
    /// Finishes an authorization: checks the callback against `pending` (redirect URI, state,
    /// expiry, a refusal), exchanges the code at the token URL (with the PKCE verifier and the
    /// OAuth client, as the catalog's `token_request_auth_method` says), and connects with the
    /// tokens granted. Save [`Connection::tokens`] to connect again later with
    /// [`Connection::from_tokens`].
    pub async fn from_callback(
        spec: impl Into<SpecRef>,
        pending: PendingAuthorization,
        callback_url: &str,
        settings: Settings,
    ) -> Result<Connection, Error> {
        let spec = spec.into();
        if *spec.key != *pending.provider {
            return Err(CallbackError::WrongProvider {
                pending: pending.provider.clone(),
                provider: spec.key.to_string(),
            }
            .into());
        }
        let auth = authorization_spec(&spec)?;
        let callback = read_callback(&pending, auth, callback_url, SystemTime::now())?;
        if auth.oauth1.is_some() {
            return super::oauth1_flow::finish(spec, pending, callback, settings).await;
        }
        let values = pending.values(&spec)?;
        // The callback's metadata may fill config params the token URL uses (`zoho`).
        let mut seed = callback
            .metadata
            .iter()
            .fold(TokenSet::new("-"), |t, (k, v)| t.with_metadata(k, v));
        let mut metadata = callback.metadata.clone();
        if let Some((token_endpoint, resource)) = &pending.discovered {
            for (key, value) in [(TOKEN_ENDPOINT, token_endpoint), (RESOURCE, resource)] {
                seed = seed.with_metadata(key, value.clone());
                metadata.insert(key.to_owned(), value.clone());
            }
        }
        let values = WithMetadata::new(&spec, values, &seed);
        let exchange = super::grant::CodeExchange {
            code: callback.code,
            redirect_uri: &pending.redirect_uri,
            verifier: pending.code_verifier.as_ref(),
        };
        let tokens = super::grant::exchange_code(
            spec.clone(),
            values,
            &pending.client,
            exchange,
            (seed, metadata),
            settings.clone(),
        )
        .await?;
        let values = pending.values(&spec)?;
        Connection::authorized(spec, values, pending.client, tokens, settings)
    }
}
