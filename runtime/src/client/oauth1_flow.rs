//! OAuth 1.0a's three legs (RFC 5849 §2) for OAUTH1 providers: temporary credentials from the
//! entry's `request_url` (signed with the application's client), the user sent to
//! `authorization_url` with them, and token credentials from `token_url` for the callback's
//! `oauth_verifier`. Requests are signed with [`crate::oauth1`] (in `request.rs`).

use std::time::{SystemTime, UNIX_EPOCH};

use url::Url;

use super::error::{CallbackError, Error, Step};
use super::oauth::{
    AuthorizationRequest, Callback, OAuthClient, PendingAuthorization, authorization_spec,
};
use super::{Connection, Settings, url_check};
use crate::Secret;
use crate::oauth1::{Credentials, SignatureMethod};
use crate::spec::{OAuth1Spec, SpecRef, Values};
use crate::token::TokenSet;

fn settings_of(spec: &SpecRef) -> Result<&OAuth1Spec, Error> {
    authorization_spec(spec)?
        .oauth1
        .as_ref()
        .ok_or_else(|| Error::Url {
            step: Step::Authorize,
            message: format!("{} does not use OAuth 1.0a", spec.key),
        })
}

fn method(spec: &OAuth1Spec) -> Result<SignatureMethod, Error> {
    spec.signature_method
        .parse()
        .map_err(|e: crate::oauth1::OAuth1Error| Error::Url {
            step: Step::Authorize,
            message: e.to_string(),
        })
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Connection {
    /// The `Authorization: OAuth …` header for a request (RFC 5849 §3.5.1): signed with the
    /// client and `token` (temporary or token credentials), over the method, the URL with its
    /// query, `extra` protocol params and a form body's params.
    pub(crate) fn oauth1_header(
        &self,
        method_name: &str,
        url: &Url,
        extra: &[(&str, &str)],
        body_form: &[(&str, &str)],
        token: Option<(&str, &str)>,
    ) -> Result<reqwest::header::HeaderValue, Error> {
        let spec = self
            .inner
            .spec
            .authorization
            .as_ref()
            .and_then(|a| a.oauth1.as_ref())
            .ok_or_else(|| self.reauthorize("the description has no OAuth 1.0a settings"))?;
        let signature_method = method(spec)?;
        let (consumer_key, consumer_secret) = self.client().unwrap_or_default();
        let creds = Credentials {
            consumer_key,
            consumer_secret,
            token: token.map(|t| t.0),
            token_secret: token.map(|t| t.1),
        };
        let header = crate::oauth1::authorization_header(
            method_name,
            url,
            extra,
            body_form,
            &creds,
            signature_method,
            &crate::oauth1::nonce(),
            now_unix(),
            None,
        );
        let mut value = reqwest::header::HeaderValue::from_str(&header).map_err(|_| {
            super::request::header_error("authorization", "cannot carry the OAuth 1.0a signature")
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// One signed request for credentials (temporary or token), answered as a form.
    async fn oauth1_credentials(
        &self,
        get: bool,
        url: &Url,
        extra: &[(&str, &str)],
        body_form: &[(&str, &str)],
        token: Option<(&str, &str)>,
    ) -> Result<crate::oauth1::FormResponse, Error> {
        let method = if get {
            reqwest::Method::GET
        } else {
            reqwest::Method::POST
        };
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            self.oauth1_header(method.as_str(), url, extra, body_form, token)?,
        );
        headers.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("*/*"),
        );
        let body = (!get).then(|| {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(body_form);
            (
                form.finish().into_bytes(),
                "application/x-www-form-urlencoded",
            )
        });
        let raw = self
            .token_exchange(method, url, body, headers, true)
            .await?;
        crate::oauth1::parse_form_response(&raw.body).map_err(|e| {
            self.mask(Error::Token {
                path: Some(url.path().to_owned()),
                status: raw.status,
                message: e.to_string(),
            })
        })
    }

    /// Starts an OAuth 1.0a authorization (OAUTH1): asks the provider for temporary
    /// credentials (with the redirect URI, carrying a random `state`, as `oauth_callback`), and
    /// returns the pending authorization whose `url()` sends the user to `authorization_url`
    /// with them, the scopes (joined with the catalog's `scope_separator`) and the catalog's
    /// `authorization_params`. [`Connection::from_callback`] finishes it.
    pub async fn authorize_oauth1(
        spec: impl Into<SpecRef>,
        config: &dyn Values,
        client: &OAuthClient,
        request: AuthorizationRequest,
    ) -> Result<PendingAuthorization, Error> {
        let spec: SpecRef = spec.into();
        let oauth1 = settings_of(&spec)?.clone();
        let auth = authorization_spec(&spec)?.clone();
        let settings = request.connection_settings();
        let binding = super::bound::SpecBinding::connect(
            spec.clone(),
            super::oauth::owned_values(&spec, config)?,
        )?;
        let conn = Connection::for_token_exchange(
            Box::new(binding),
            settings.clone(),
            client.clone(),
            TokenSet::new("-"),
        )?;
        let request_url = prepare(&oauth1.request_url, &settings, "the request URL")?;
        let state = super::oauth::random_state()?;
        let mut callback = Url::parse(request.redirect_uri()).map_err(|_| Error::Url {
            step: Step::Authorize,
            message: "the redirect URI is not a URL".to_owned(),
        })?;
        callback.query_pairs_mut().append_pair("state", &state);
        let params: Vec<(&str, &str)> = oauth1
            .request_params
            .iter()
            .map(|p| (&*p.from, &*p.to))
            .collect();
        let temporary = conn
            .oauth1_credentials(
                oauth1.request_get,
                &request_url,
                &[("oauth_callback", callback.as_str())],
                &params,
                None,
            )
            .await?;
        let mut url = spec
            .authorization_url
            .as_ref()
            .and_then(|u| spec.render_url(u, config))
            .ok_or_else(|| Error::Url {
                step: Step::Authorize,
                message: "the provider has no `authorization_url` the client can render".to_owned(),
            })?
            .map_err(|source| Error::Render {
                step: Step::Authorize,
                source,
            })?;
        if let Some(origin) = &settings.origin {
            url = url_check::with_origin(&url, &url_check::parse_origin(origin)?);
        }
        url_check::require_secure(&url, settings.origin.is_some(), "the authorization URL")?;
        let scopes = match request.scope_list() {
            Some(scopes) => scopes.join(&auth.scope_separator),
            None => auth
                .default_scopes
                .iter()
                .map(|s| &**s)
                .collect::<Vec<_>>()
                .join(&auth.scope_separator),
        };
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("oauth_token", temporary.oauth_token.expose());
            if !scopes.is_empty() {
                query.append_pair("scope", &scopes);
            }
            let cx = crate::client::render_context();
            for param in spec
                .render_named(&spec.authorization_params, config, &cx)
                .map_err(|source| Error::Render {
                    step: Step::Authorize,
                    source,
                })?
                .iter()
            {
                query.append_pair(param.name(), param.value());
            }
            for (name, value) in request.extra_params() {
                query.append_pair(name, value);
            }
        }
        Ok(PendingAuthorization::oauth1(
            &spec,
            config,
            client,
            url,
            state,
            (temporary.oauth_token, temporary.oauth_token_secret),
            &request,
        ))
    }
}

/// The callback's leg: token credentials for the verifier, and the connection.
pub(crate) async fn finish(
    spec: SpecRef,
    pending: PendingAuthorization,
    callback: Callback,
    settings: Settings,
) -> Result<Connection, Error> {
    let oauth1 = settings_of(&spec)?.clone();
    let Some((token, secret)) = pending.request_token() else {
        return Err(CallbackError::StateMismatch.into());
    };
    // The user authorized these temporary credentials, not others.
    if callback.oauth_token.as_deref() != Some(token.expose()) {
        return Err(CallbackError::StateMismatch.into());
    }
    let values = pending.values(&spec)?;
    let binding = super::bound::SpecBinding::connect(spec.clone(), values)?;
    let conn = Connection::for_token_exchange(
        Box::new(binding),
        settings.clone(),
        pending.client().clone(),
        TokenSet::new("-"),
    )?;
    let url = conn.inner.token_url.clone().ok_or_else(|| Error::Url {
        step: Step::Authorize,
        message: "the provider has no `token_url` the client can render".to_owned(),
    })?;
    let granted = conn
        .oauth1_credentials(
            oauth1.token_get,
            &url,
            &[("oauth_verifier", callback.code.expose())],
            &[],
            Some((token.expose(), secret.expose())),
        )
        .await?;
    let tokens = TokenSet::new(Secret::new(granted.oauth_token.expose()))
        .with_token_secret(granted.oauth_token_secret);
    let values = pending.values(&spec)?;
    Connection::authorized(spec, values, pending.client().clone(), tokens, settings)
}

/// A fixed URL of the entry with the settings' origin override, checked.
fn prepare(url: &str, settings: &Settings, what: &str) -> Result<Url, Error> {
    let url = Url::parse(url).map_err(|_| Error::Url {
        step: Step::Authorize,
        message: format!("{what} does not parse"),
    })?;
    let url = match &settings.origin {
        Some(origin) => url_check::with_origin(&url, &url_check::parse_origin(origin)?),
        None => url,
    };
    url_check::require_secure(&url, settings.origin.is_some(), what)?;
    Ok(url)
}
