//! Requests to the token endpoint, as the catalog describes them: the client credentials grant
//! (OAUTH2_CC), the authorization code exchange and the refresh grant (OAUTH2, MCP_OAUTH2).
//! One way to post them ([`Connection::post_token`]): the body format, where the OAuth client
//! goes, retries on 429 and 5xx, bounded bodies, masked errors, `invalid_grant` as
//! [`Error::Reauthorize`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use url::Url;

use super::Connection;
use super::error::{Error, Step, provider_message};
use super::oauth::OAuthClient;
use super::spec::{BodyFormat, TokenAuth};
use crate::Secret;
use crate::spec::{SpecRef, Values};
use crate::token::{Token, TokenError, TokenSet, parse_token_response};

/// What the code exchange sends besides the catalog's params.
pub(crate) struct CodeExchange<'a> {
    pub(crate) code: Secret,
    pub(crate) redirect_uri: &'a str,
    pub(crate) verifier: Option<&'a Secret>,
}

/// A number, or a string holding one.
fn number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Which request the catalog's params are for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Params {
    /// The client credentials grant: `token_params` as they are.
    Token,
    /// The code exchange: `token_params`.
    Exchange,
    /// The refresh grant: `refresh_params`, else `token_params`.
    Refresh,
}

/// `token_type`s (compared without case) of tokens that need more than a bearer header.
const UNSUPPORTED_TOKEN_TYPES: &[&str] = &["MAC", "DPoP"];

/// Token params that the flow itself sets: a catalog's value for them is not sent.
const FLOW_PARAMS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "client_id",
    "client_secret",
];

/// Exchanges the code of a callback for tokens: the connection config `values` render the
/// token URL and params; `metadata` (from the callback) joins the token response's.
pub(crate) async fn exchange_code<V: Values + 'static>(
    spec: SpecRef,
    values: V,
    client: &OAuthClient,
    exchange: CodeExchange<'_>,
    (seed, metadata): (TokenSet, BTreeMap<String, String>),
    settings: super::Settings,
) -> Result<TokenSet, Error> {
    let binding = super::bound::SpecBinding::connect(spec, values)?;
    let conn = Connection::for_token_exchange(Box::new(binding), settings, client.clone(), seed)?;
    let mut fields = vec![
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("code".to_owned(), exchange.code.expose().to_owned()),
        ("redirect_uri".to_owned(), exchange.redirect_uri.to_owned()),
    ];
    conn.catalog_params(&mut fields, Params::Exchange)?;
    if let Some(verifier) = exchange.verifier {
        fields.push(("code_verifier".to_owned(), verifier.expose().to_owned()));
    }
    if let Some(resource) = metadata.get(super::oauth::RESOURCE) {
        fields.push(("resource".to_owned(), resource.clone()));
    }
    fields.extend(conn.body_client());
    let url = conn.token_url()?;
    let body = conn.post_token(&url, fields).await?;
    let mut tokens = conn.read_token_set(&url, &body)?;
    tokens.add_metadata(metadata);
    Ok(tokens)
}

impl Connection {
    /// The token URL, rendered and checked at connect.
    fn token_url(&self) -> Result<Url, Error> {
        let inner = &self.inner;
        inner.token_url.clone().ok_or_else(|| Error::Unsupported {
            provider: inner.spec.key.clone(),
            auth_mode: inner.spec.auth_mode,
            reason: crate::spec::Unsupported::NoTokenUrl(inner.spec.auth_mode),
        })
    }

    /// The OAuth client as body fields, when the catalog sends it in the body (a public
    /// client's empty secret is left out).
    fn body_client(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        let names = match self.inner.spec.token_auth {
            TokenAuth::Body => ("client_id", "client_secret"),
            TokenAuth::UsernamePassword => ("username", "password"),
            TokenAuth::Basic => return fields,
        };
        if let Some((id, secret)) = self.client() {
            fields.push((names.0.to_owned(), id.to_owned()));
            if !secret.is_empty() || self.inner.client.is_none() {
                fields.push((names.1.to_owned(), secret.to_owned()));
            }
        }
        fields
    }

    /// Adds the catalog's `token_params` (or, for a refresh, its `refresh_params` when it has
    /// them), rendered, to `fields`: not those already there, nor, in the authorization code
    /// flow, those the flow sets itself.
    fn catalog_params(
        &self,
        fields: &mut Vec<(String, String)>,
        which: Params,
    ) -> Result<(), Error> {
        let refresh = which == Params::Refresh;
        let inner = &self.inner;
        let mut cx = crate::client::render_context();
        if let Some((id, secret)) = self.client() {
            cx = cx.with_client(id, secret);
        }
        let params = match (refresh, inner.binding.refresh_params(&cx)) {
            (true, Some(params)) => params,
            _ => inner.binding.token_params(&cx),
        }
        .map_err(|source| Error::Render {
            step: Step::Token,
            source,
        })?;
        for p in &params {
            let flow = which != Params::Token && FLOW_PARAMS.contains(&p.name());
            if !flow && !fields.iter().any(|(n, _)| n == p.name()) {
                fields.push((p.name().to_owned(), p.value().to_owned()));
            }
        }
        Ok(())
    }

    /// One client credentials token request (with retries on 429 and 5xx), as the catalog
    /// describes it; the token as a [`TokenSet`] (what a store keeps).
    pub(crate) async fn client_credentials_token(&self) -> Result<TokenSet, Error> {
        let inner = &self.inner;
        let url = self.token_url()?;
        let mut fields = self.body_client();
        self.catalog_params(&mut fields, Params::Token)?;
        if let Some(scope) = &inner.spec.default_scope
            && !fields.iter().any(|(name, _)| name == "scope")
        {
            fields.push(("scope".to_owned(), scope.to_string()));
        }
        let mut body = self.post_token(&url, fields).await?;
        if inner.spec.expires_in_milliseconds
            && let Some(ms) = body.get("expires_in").and_then(number)
        {
            body["expires_in"] = serde_json::Value::from(ms / 1000.0);
        }
        let default_lifetime = match inner.spec.default_lifetime_ms {
            Some(ms) if ms > 0 => std::time::Duration::from_millis(ms),
            // `0`: no expiry stated or implied; the longest lifetime the client assumes.
            Some(_) => crate::token::MAX_LIFETIME,
            None => inner.settings.default_token_lifetime,
        };
        let token: Token = parse_token_response(&body, SystemTime::now(), default_lifetime)
            .map_err(|e| self.token_failure(&url, 200, e))?;
        self.check_token_type(&url, &body, None)?;
        Ok(TokenSet::new(token.secret().clone()).with_expires_at(token.expires_at()))
    }

    /// Refuses a token response whose `token_type` (at the top, or beside a token found at
    /// the catalog's `access_token_path`) is one this client cannot honour: it sends every
    /// access token as `Authorization: Bearer`, and a `MAC` or `DPoP` token needs a proof
    /// made per request, so sending it as a bearer token would fail at every call (or leak
    /// it to an API that expects a proof). An absent `token_type`, `bearer` in any case,
    /// and provider-specific names of bearer tokens (Slack's `bot`, `user`) are accepted.
    fn check_token_type(
        &self,
        url: &Url,
        body: &serde_json::Value,
        access_token_path: Option<&str>,
    ) -> Result<(), Error> {
        let nested = access_token_path
            .filter(|_| body.get("access_token").is_none())
            .and_then(|path| {
                body.get(path)
                    .or_else(|| path.split('.').try_fold(body, |v, key| v.get(key)))
            });
        for holder in std::iter::once(body).chain(nested) {
            if let Some(kind) = holder.get("token_type").and_then(serde_json::Value::as_str)
                && UNSUPPORTED_TOKEN_TYPES
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(kind.trim()))
            {
                return Err(Error::Token {
                    path: Some(url.path().to_owned()),
                    status: 200,
                    message: format!(
                        "the token response's `token_type` is `{}`: this client sends bearer tokens only (`token_type` absent or `Bearer`), and a `MAC` or `DPoP` token needs a proof per request; it is not sent as a bearer token",
                        kind.trim()
                    ),
                });
            }
        }
        Ok(())
    }

    /// A refresh grant for `current`'s refresh token (the caller checked it has one).
    pub(crate) async fn refresh_tokens(&self, current: &TokenSet) -> Result<TokenSet, Error> {
        let inner = &self.inner;
        let Some(refresh_token) = current.refresh_token() else {
            return Err(
                self.reauthorize("the access token expired and no refresh token was granted")
            );
        };
        let url = match &inner.refresh_url {
            Some(url) => url.clone(),
            None => self.token_url()?,
        };
        let mut fields = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            (
                "refresh_token".to_owned(),
                refresh_token.expose().to_owned(),
            ),
        ];
        self.catalog_params(&mut fields, Params::Refresh)?;
        if let Some(resource) = current.metadata().get(super::oauth::RESOURCE) {
            fields.push(("resource".to_owned(), resource.clone()));
        }
        fields.extend(self.body_client());
        let body = self.post_token(&url, fields).await?;
        let fresh = self.read_token_set(&url, &body)?;
        Ok(current.renewed(fresh))
    }

    /// A token response as a [`TokenSet`], with the catalog's `token_response_metadata`.
    fn read_token_set(&self, url: &Url, body: &serde_json::Value) -> Result<TokenSet, Error> {
        let auth = self.inner.spec.authorization.as_ref();
        let path = auth.and_then(|a| a.access_token_path.as_deref());
        let mut tokens = TokenSet::from_response(body, SystemTime::now(), path)
            .map_err(|e| self.token_failure(url, 200, e))?;
        // After the refusals (an `error` answer says more than its `token_type`).
        self.check_token_type(url, body, path)?;
        if let Some(auth) = auth {
            tokens.add_metadata(crate::token::metadata(
                body,
                auth.token_response_metadata.iter().map(|k| &**k),
            ));
        }
        Ok(tokens)
    }

    /// [`Error::Reauthorize`] for this connection.
    pub(crate) fn reauthorize(&self, reason: &str) -> Error {
        Error::Reauthorize {
            provider: self.inner.spec.key.clone(),
            reason: reason.to_owned(),
        }
    }

    fn token_failure(&self, url: &Url, status: u16, error: TokenError) -> Error {
        match error {
            TokenError::InvalidGrant { message } => self.mask(Error::Reauthorize {
                provider: self.inner.spec.key.clone(),
                reason: message,
            }),
            TokenError::Rejected { message } => self.mask(Error::Token {
                path: Some(url.path().to_owned()),
                status,
                message,
            }),
            other => self.mask(Error::Token {
                path: Some(url.path().to_owned()),
                status,
                message: other.to_string(),
            }),
        }
    }

    /// Posts `fields` to the token endpoint `url` in the catalog's body format, with the
    /// OAuth client in the body or as basic auth, and returns the JSON of a 2xx answer.
    async fn post_token(
        &self,
        url: &Url,
        fields: Vec<(String, String)>,
    ) -> Result<serde_json::Value, Error> {
        let inner = &self.inner;
        let path = url.path().to_owned();
        let client = self.client();
        let mut basic = None;
        if let (TokenAuth::Basic, Some((id, secret))) = (inner.spec.token_auth, client) {
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(id), enc(secret));
            let mut value = reqwest::header::HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ))
            .map_err(|_| {
                super::request::header_error("authorization", "the OAuth client cannot be sent")
            })?;
            value.set_sensitive(true);
            basic = Some(value);
        }
        let (body, content_type) = match inner.spec.body_format {
            BodyFormat::Form => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.extend_pairs(&fields);
                (
                    form.finish().into_bytes(),
                    "application/x-www-form-urlencoded",
                )
            }
            BodyFormat::Json => {
                let map: serde_json::Map<String, serde_json::Value> = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                    .collect();
                (
                    serde_json::Value::Object(map).to_string().into_bytes(),
                    "application/json",
                )
            }
        };
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(basic) = basic {
            headers.insert(reqwest::header::AUTHORIZATION, basic);
        }
        let raw = self
            .token_exchange(
                reqwest::Method::POST,
                url,
                Some((body, content_type)),
                headers,
                true,
            )
            .await?;
        let token_error = |message: String| {
            self.mask(Error::Token {
                path: Some(path.clone()),
                status: raw.status,
                message,
            })
        };
        serde_json::from_slice(&raw.body)
            .map_err(|e| token_error(format!("the token response is not JSON ({e})")))
    }

    /// Sends a token request (with retries on 429 and 5xx): the catalog's `token_headers`
    /// first, then `headers` and the content type where the catalog sets none. A redirect or
    /// an error status is an error (`invalid_grant` is [`Error::Reauthorize`]); a success
    /// gives the response, its body read up to `SMALL_BODY_BYTES`.
    pub(crate) async fn token_exchange(
        &self,
        method: reqwest::Method,
        url: &Url,
        body: Option<(Vec<u8>, &str)>,
        headers: reqwest::header::HeaderMap,
        catalog_headers: bool,
    ) -> Result<super::request::Raw, Error> {
        let inner = &self.inner;
        let path = url.path().to_owned();
        let mut cx = crate::client::render_context();
        if let Some((id, secret)) = self.client() {
            cx = cx.with_client(id, secret);
        }
        let mut map = reqwest::header::HeaderMap::new();
        if catalog_headers {
            let catalog = inner
                .binding
                .token_headers(&cx)
                .map_err(|source| Error::Render {
                    step: Step::Token,
                    source,
                })?;
            super::request::insert_headers(&mut map, &catalog)?;
        }
        for (name, value) in &headers {
            if !map.contains_key(name) {
                map.insert(name.clone(), value.clone());
            }
        }
        if let Some((_, content_type)) = &body
            && !map.contains_key(reqwest::header::CONTENT_TYPE)
        {
            map.insert(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_str(content_type).map_err(|_| {
                    super::request::header_error("content-type", "is not a header value")
                })?,
            );
        }
        if !map.contains_key(reqwest::header::ACCEPT) {
            map.insert(
                reqwest::header::ACCEPT,
                reqwest::header::HeaderValue::from_static("application/json"),
            );
        }
        for value in map.values_mut() {
            value.set_sensitive(true);
        }
        let method_text = method.as_str().to_owned();
        let (raw, _gave_up) = self
            .with_retries(true, false, None, || {
                let mut request = inner
                    .http
                    .request(method.clone(), url.clone())
                    .timeout(inner.settings.timeout)
                    .headers(map.clone());
                if let Some((bytes, _)) = &body {
                    request = request.body(bytes.clone());
                }
                self.send_once(Step::Token, &method_text, &path, request, false)
            })
            .await?;
        // A provider that echoes a credential in its message does not get it into ours.
        let token_error = |message: String| {
            self.mask(Error::Token {
                path: Some(path.clone()),
                status: raw.status,
                message,
            })
        };
        if (300..400).contains(&raw.status) {
            return Err(token_error(
                "the token endpoint redirected; not followed".to_owned(),
            ));
        }
        if !(200..300).contains(&raw.status) {
            let json: Option<serde_json::Value> = serde_json::from_slice(&raw.body).ok();
            if let Some(json) = &json
                && json.get("error").and_then(|e| e.as_str()) == Some("invalid_grant")
            {
                return Err(self.mask(Error::Reauthorize {
                    provider: inner.spec.key.clone(),
                    reason: provider_message(&raw.body)
                        .unwrap_or_else(|| "invalid_grant".to_owned()),
                }));
            }
            return Err(token_error(
                provider_message(&raw.body)
                    .unwrap_or_else(|| "no error message in the response".to_owned()),
            ));
        }
        Ok(raw)
    }
}
