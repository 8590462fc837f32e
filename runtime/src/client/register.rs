//! Dynamic client registration (RFC 7591) for MCP_OAUTH2 providers whose catalog entry says
//! `client_registration: dynamic`: the application registers itself once at the entry's
//! `registration_url` and gets the [`OAuthClient`] its authorizations use.

use super::error::{self, Error, SMALL_BODY_BYTES, Step};
use super::oauth::{OAuthClient, authorization_spec};
use super::{Settings, url_check};
use crate::spec::SpecRef;

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
        let path = url.path().to_owned();
        let body = serde_json::json!({
            "redirect_uris": [redirect_uri],
            "client_name": client_name,
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        });
        let mut response = settings
            .http_client()?
            .post(url)
            .timeout(settings.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| error::transport(Step::Authorize, "POST", &path, e))?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| error::transport(Step::Authorize, "POST", &path, e))?
        {
            if bytes.len() + chunk.len() > SMALL_BODY_BYTES {
                return Err(Error::BodyTooLarge {
                    step: Step::Authorize,
                    method: "POST".to_owned(),
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
                method: "POST".to_owned(),
                path,
                status,
                message: error::provider_message(&bytes)
                    .map(|m| error::truncate(&m, error::MESSAGE_CHARS)),
                gave_up: None,
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
                method: "POST".to_owned(),
                path: path.clone(),
                status,
                message: e.to_string(),
            })?;
        let text = |key: &str| value.get(key).and_then(|v| v.as_str()).unwrap_or_default();
        if text("client_id").is_empty() {
            return Err(Error::Decode {
                method: "POST".to_owned(),
                path,
                status,
                message: "the registration response has no `client_id`".to_owned(),
            });
        }
        Ok(OAuthClient::new(text("client_id"), text("client_secret")))
    }
}
