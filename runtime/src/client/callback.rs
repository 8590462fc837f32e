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
    /// Starts an authorization of any mode that authorizes in a browser, with the connection
    /// config as JSON (checked after the mode, so that a provider that is not authorized in a
    /// browser says so first): OAUTH2 and MCP_OAUTH2 at once ([`super::authorize`]), OAUTH1
    /// after asking for temporary credentials ([`Connection::authorize_oauth1`]),
    /// MCP_OAUTH2_GENERIC after discovering its endpoints ([`Connection::authorize_discovered`]).
    pub async fn start_authorization_json(
        spec: impl Into<SpecRef>,
        config: &serde_json::Value,
        client: &super::OAuthClient,
        request: super::AuthorizationRequest,
    ) -> Result<PendingAuthorization, super::ConnectError> {
        let spec = spec.into();
        authorization_spec(&spec)?;
        let values = crate::spec::ParamValues::from_json(&spec, config, &serde_json::json!({}))?;
        Ok(Connection::start_authorization(spec, &values, client, request).await?)
    }

    /// [`Connection::start_authorization_json`] with the config as values: the typed way in.
    pub async fn start_authorization(
        spec: impl Into<SpecRef>,
        config: &dyn crate::spec::Values,
        client: &super::OAuthClient,
        request: super::AuthorizationRequest,
    ) -> Result<PendingAuthorization, Error> {
        let spec = spec.into();
        let auth = authorization_spec(&spec)?;
        if auth.oauth1.is_some() {
            Connection::authorize_oauth1(spec, config, client, request).await
        } else if auth.discovery {
            Connection::authorize_discovered(spec, config, client, request).await
        } else {
            super::oauth::authorize(spec, config, client, request)
        }
    }

    /// Checks `callback_url` against `pending` as [`Connection::from_callback`] does first
    /// (the provider, the redirect URI with its port, the state, the expiry, a refusal, the
    /// code), without using the flow or asking the provider anything: a store keeps a pending
    /// authorization until a callback passes this, so that a wrong callback (a pasted URL
    /// with another port) does not use up the flow the real callback needs.
    pub fn check_callback(
        spec: impl Into<SpecRef>,
        pending: &PendingAuthorization,
        callback_url: &str,
    ) -> Result<(), Error> {
        let spec = spec.into();
        Connection::read_checked(&spec, pending, callback_url).map(drop)
    }

    /// The callback, checked against `pending` for the provider `spec`.
    fn read_checked(
        spec: &SpecRef,
        pending: &PendingAuthorization,
        callback_url: &str,
    ) -> Result<super::oauth::Callback, Error> {
        if *spec.key != *pending.provider {
            return Err(CallbackError::WrongProvider {
                pending: pending.provider.clone(),
                provider: spec.key.to_string(),
            }
            .into());
        }
        let auth = authorization_spec(spec)?;
        Ok(read_callback(
            pending,
            auth,
            callback_url,
            SystemTime::now(),
        )?)
    }

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
        let callback = Connection::read_checked(&spec, &pending, callback_url)?;
        let auth = authorization_spec(&spec)?;
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
