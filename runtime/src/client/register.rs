//! Dynamic client registration (RFC 7591) for MCP_OAUTH2 providers whose catalog entry says
//! `client_registration: dynamic`: the application registers itself once at the entry's
//! `registration_url` and gets the [`OAuthClient`] its authorizations use.

use super::error::{self, Error, SMALL_BODY_BYTES, Step};
use super::oauth::{OAuthClient, authorization_spec};
use super::{Settings, url_check};
use crate::spec::SpecRef;
use serde_json::Value;
use url::Url;

impl OAuthClient {
    /// Registers a client at the provider's `registration_url` (RFC 7591): a public client
    /// (`token_endpoint_auth_method: none`, PKCE protects its exchanges) for `redirect_uri`,
    /// named `client_name`, for the `authorization_code` and `refresh_token` grants. Keep the
    /// result: it is the application's registration, made once, not per connection.
    pub async fn register(
        spec: impl Into<SpecRef>,
        redirect_uri: &str,
        client_name: &str,
        settings: &Settings,
    ) -> Result<OAuthClient, Error> {
        let spec = spec.into();
        let auth = authorization_spec(&spec)?;
        let url_error = |message: String| Error::Url {
            step: Step::Authorize,
            message,
        };
        let Some(url) = auth.registration_url.as_deref() else {
            return Err(url_error(format!(
                "{} registers no clients dynamically (its catalog entry has no `registration_url`)",
                spec.key
            )));
        };
        let url = url::Url::parse(url)
            .map_err(|e| url_error(format!("the registration URL does not parse ({e})")))?;
        let origin = settings
            .origin
            .as_deref()
            .map(url_check::parse_origin)
            .transpose()?;
        let url = match &origin {
            Some(origin) => url_check::with_origin(&url, origin),
            None => url,
        };
        url_check::require_secure(&url, origin.is_some(), "the registration URL")?;
        OAuthClient::register_at(&url, redirect_uri, client_name, settings).await
    }

    /// Registers a public client at `url` (RFC 7591), already checked.
    pub(crate) async fn register_at(
        url: &url::Url,
        redirect_uri: &str,
        client_name: &str,
        settings: &Settings,
    ) -> Result<OAuthClient, Error> {
        let body = serde_json::json!({
            "redirect_uris": [redirect_uri],
            "client_name": client_name,
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        });
        let (status, value) = small_json(settings, reqwest::Method::POST, url, Some(&body))
            .await?
            .unwrap_or((404, serde_json::Value::Null));
        let text = |key: &str| value.get(key).and_then(|v| v.as_str()).unwrap_or_default();
        if text("client_id").is_empty() {
            return Err(Error::Decode {
                method: "POST".to_owned(),
                path: url.path().to_owned(),
                status,
                message: "the registration response has no `client_id`".to_owned(),
            });
        }
        Ok(OAuthClient::new(text("client_id"), text("client_secret")))
    }
}

/// A JSON document from `url` (at most [`SMALL_BODY_BYTES`]); `Ok(None)` for a 404.
pub(crate) async fn small_json(
    settings: &Settings,
    method: reqwest::Method,
    url: &Url,
    body: Option<&Value>,
) -> Result<Option<(u16, Value)>, Error> {
    let path = url.path().to_owned();
    let mut request = settings
        .http_client()?
        .request(method.clone(), url.clone())
        .timeout(settings.timeout)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| error::transport(Step::Authorize, method.as_str(), &path, e))?;
    let status = response.status().as_u16();
    if status == 404 && method == reqwest::Method::GET {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| error::transport(Step::Authorize, method.as_str(), &path, e))?
    {
        if bytes.len() + chunk.len() > SMALL_BODY_BYTES {
            return Err(Error::BodyTooLarge {
                step: Step::Authorize,
                method: method.as_str().to_owned(),
                path,
                status,
                limit: SMALL_BODY_BYTES as u64,
                declared: None,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    if !(200..300).contains(&status) {
        return Err(Error::Status {
            step: Step::Authorize,
            method: method.as_str().to_owned(),
            path,
            status,
            message: error::provider_message(&bytes)
                .map(|m| error::truncate(&m, error::MESSAGE_CHARS)),
            gave_up: None,
        });
    }
    let value = serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
        method: method.as_str().to_owned(),
        path,
        status,
        message: e.to_string(),
    })?;
    Ok(Some((status, value)))
}
