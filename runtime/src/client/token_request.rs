//! TWO_STEP: a token from a request the catalog describes with the connection's credentials
//! (`token_url`, `token_params`, `token_headers`, `body_format`, `token_request_method`), read
//! from the response where `token_response` says, and renewed by the entry's refresh request
//! (`refresh_url`, `refresh_token_params` with `${refresh_token}`) when it has one and a refresh
//! token was given, else by the same request again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::Connection;
use super::error::{Error, Step};
use super::spec::BodyFormat;
use crate::render::QueryParams;
use crate::spec::TokenRequestSpec;
use crate::token::{MAX_LIFETIME, TokenSet};

impl Connection {
    /// New tokens for a TWO_STEP connection: the refresh request when `current` has a refresh
    /// token and the entry a refresh request (falling back to the login when the provider
    /// refuses it), else the login.
    pub(crate) async fn two_step_tokens(
        &self,
        current: Option<&TokenSet>,
    ) -> Result<TokenSet, Error> {
        if let Some(refresh_token) = current.and_then(TokenSet::refresh_token) {
            let obtained = [("refresh_token", refresh_token.expose())];
            let cx = crate::client::render_context().with_obtained(&obtained);
            // `None`: the entry has no refresh request of its own, so it logs in again.
            if let Some(params) = self.inner.binding.refresh_token_params(&cx) {
                let url = match &self.inner.refresh_url {
                    Some(url) => url.clone(),
                    None => self.two_step_url()?,
                };
                match self.two_step_request(&url, params).await {
                    Ok(tokens) => return Ok(tokens),
                    // The refresh token is gone: the credentials log in again.
                    Err(Error::Reauthorize { .. } | Error::Token { .. }) => {}
                    Err(other) => return Err(other),
                }
            }
        }
        // A login that sends a JWT (`${token}`) signs a new one each time.
        let jwt = match self.inner.spec.jwt {
            Some(_) => Some(self.sign_jwt()?.0),
            None => None,
        };
        let obtained: Vec<(&str, &str)> = jwt.iter().map(|t| ("token", t.expose())).collect();
        let cx = crate::client::render_context().with_obtained(&obtained);
        let params = self.inner.binding.token_params(&cx);
        let url = self.two_step_url()?;
        self.two_step_request(&url, params).await
    }

    fn two_step_url(&self) -> Result<url::Url, Error> {
        self.inner
            .token_url
            .clone()
            .ok_or_else(|| Error::Unsupported {
                provider: self.inner.spec.key.clone(),
                auth_mode: self.inner.spec.auth_mode,
                reason: crate::spec::Unsupported::NoTokenUrl(self.inner.spec.auth_mode),
            })
    }

    async fn two_step_request(
        &self,
        url: &url::Url,
        params: Result<QueryParams, crate::RenderError>,
    ) -> Result<TokenSet, Error> {
        let inner = &self.inner;
        let Some(spec) = inner.spec.token_request.as_ref() else {
            return Err(self.reauthorize("the description has no token request"));
        };
        let params = params.map_err(|source| Error::Render {
            step: Step::Token,
            source,
        })?;
        let (method, body) = if spec.get {
            (reqwest::Method::GET, None)
        } else {
            (
                reqwest::Method::POST,
                Some(encode(&params, inner.spec.body_format, spec)),
            )
        };
        let mut raw = self
            .token_exchange(method, url, body, reqwest::header::HeaderMap::new(), true)
            .await?;
        let mut url = url.clone();
        if !spec.steps.is_empty() {
            (url, raw) = self.steps(spec, url, raw).await?;
        }
        let url = &url;
        let lifetime_ms = inner.spec.default_lifetime_ms;
        read_tokens(&raw.body, spec, lifetime_ms, SystemTime::now()).map_err(|message| {
            self.mask(Error::Token {
                path: Some(url.path().to_owned()),
                status: raw.status,
                message,
            })
        })
    }
}

impl Connection {
    /// `additional_steps`: each step rendered with the responses before it
    /// (`${stepK.path}`), its URL checked like every URL the client sends to (https, or
    /// loopback `http` under the origin override, which also maps it; no user info), sent with
    /// its own headers. Returns the last step's URL and response.
    async fn steps(
        &self,
        spec: &TokenRequestSpec,
        first_url: url::Url,
        first: super::request::Raw,
    ) -> Result<(url::Url, super::request::Raw), Error> {
        let inner = &self.inner;
        let mut responses: Vec<Value> =
            vec![serde_json::from_slice(&first.body).unwrap_or(Value::Null)];
        let mut last = (first_url, first);
        for step in spec.steps.iter() {
            let obtained_owned = flatten(&responses);
            let obtained: Vec<(&str, &str)> = obtained_owned
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let cx = crate::client::render_context().with_obtained(&obtained);
            let render = |templates: &[crate::spec::NamedTemplate]| {
                inner
                    .binding
                    .templates(templates, &cx)
                    .map_err(|source| Error::Render {
                        step: Step::Token,
                        source,
                    })
            };
            let rendered = render(std::slice::from_ref(&step.url))?;
            let text = rendered.get("url").ok_or_else(|| Error::Url {
                step: Step::Token,
                message: format!(
                    "step {} of the token request: its URL has a value missing",
                    responses.len() + 1
                ),
            })?;
            let url = self.step_url(text, responses.len() + 1)?;
            let params = render(&step.params)?;
            let mut headers = reqwest::header::HeaderMap::new();
            super::request::insert_headers(&mut headers, &render(&step.headers)?)?;
            let body = (!step.get).then(|| {
                let format = if step.form {
                    BodyFormat::Form
                } else {
                    BodyFormat::Json
                };
                encode(&params, format, spec)
            });
            let method = if step.get {
                reqwest::Method::GET
            } else {
                reqwest::Method::POST
            };
            let raw = self
                .token_exchange(method, &url, body, headers, false)
                .await?;
            responses.push(serde_json::from_slice(&raw.body).unwrap_or(Value::Null));
            last = (url, raw);
        }
        Ok(last)
    }

    /// A step's rendered URL, checked.
    fn step_url(&self, text: &str, number: usize) -> Result<url::Url, Error> {
        let refuse = |why: &str| Error::Url {
            step: Step::Token,
            message: format!("step {number} of the token request: {why}"),
        };
        let url = url::Url::parse(text).map_err(|_| refuse("its URL does not parse"))?;
        if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("its URL needs a host and no user info"));
        }
        let origin = self.inner.settings.origin.as_deref();
        let url = match origin {
            Some(origin) => {
                super::url_check::with_origin(&url, &super::url_check::parse_origin(origin)?)
            }
            None => url,
        };
        super::url_check::require_secure(&url, origin.is_some(), "a token request step's URL")?;
        Ok(url)
    }
}

/// The scalar values of the responses so far as `stepK.path` (step 1 the first), with list
/// items as `path[i]` and `path.i`; at most 512 of them.
fn flatten(responses: &[Value]) -> Vec<(String, String)> {
    fn walk(value: &Value, path: String, out: &mut Vec<(String, String)>) {
        if out.len() >= 512 {
            return;
        }
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    walk(v, format!("{path}.{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate().take(32) {
                    walk(v, format!("{path}[{i}]"), out);
                    walk(v, format!("{path}.{i}"), out);
                }
            }
            Value::String(s) => out.push((path, s.clone())),
            Value::Number(n) => out.push((path, n.to_string())),
            Value::Bool(b) => out.push((path, b.to_string())),
            Value::Null => {}
        }
    }
    let mut out = Vec::new();
    for (i, response) in responses.iter().enumerate() {
        walk(response, format!("step{}", i + 1), &mut out);
    }
    out
}

/// The request body: a form, or a JSON object whose values are strings, except the params the
/// catalog wrote as numbers or booleans.
fn encode(
    params: &QueryParams,
    format: BodyFormat,
    spec: &TokenRequestSpec,
) -> (Vec<u8>, &'static str) {
    match format {
        BodyFormat::Form => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(params.iter().map(|p| (p.name(), p.value())));
            (
                form.finish().into_bytes(),
                "application/x-www-form-urlencoded",
            )
        }
        BodyFormat::Json => {
            let map: serde_json::Map<String, Value> = params
                .iter()
                .map(|p| {
                    let typed = spec.typed_params.iter().any(|t| **t == *p.name());
                    let value = match serde_json::from_str::<Value>(p.value()) {
                        Ok(v @ (Value::Number(_) | Value::Bool(_))) if typed => v,
                        _ => Value::from(p.value()),
                    };
                    (p.name().to_owned(), value)
                })
                .collect();
            (
                Value::Object(map).to_string().into_bytes(),
                "application/json",
            )
        }
    }
}

/// The value at a dotted path (`data.token`, `result[0].token`).
fn lookup<'v>(body: &'v Value, path: &str) -> Option<&'v Value> {
    if let Some(v) = body.get(path) {
        return Some(v);
    }
    path.split('.')
        .try_fold(body, |v, key| match key.split_once('[') {
            Some((name, index)) => {
                let v = if name.is_empty() { v } else { v.get(name)? };
                v.get(index.strip_suffix(']')?.parse::<usize>().ok()?)
            }
            None => v.get(key),
        })
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a token response as the entry's `token_response` says. Errors are messages without
/// values.
pub(crate) fn read_tokens(
    body: &[u8],
    spec: &TokenRequestSpec,
    lifetime_ms: Option<u64>,
    now: SystemTime,
) -> Result<TokenSet, String> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let token = if spec.token_path.is_empty() {
        // The whole body is the token (a JSON string, or plain text).
        match &json {
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(_) => None,
            None => std::str::from_utf8(body).ok().map(|s| s.trim().to_owned()),
        }
        .filter(|t| !t.is_empty())
    } else {
        json.as_ref()
            .and_then(|j| text(lookup(j, &spec.token_path)))
    }
    .ok_or_else(|| match &json {
        None => "the token response is not JSON".to_owned(),
        Some(_) => format!("the token response has no `{}`", spec.token_path),
    })?;
    let mut tokens = TokenSet::new(token.clone()).issued_at_time(now);
    let value = |path: &Option<crate::Text>| {
        let path = path.as_deref()?;
        json.as_ref().and_then(|j| lookup(j, path))
    };
    if let Some(refresh) = text(value(&spec.refresh_token_path)) {
        tokens = tokens.with_refresh_token(refresh);
    }
    let lifetime = match value(&spec.expiration_path) {
        Some(v) if spec.expires_in => expires_in(v),
        Some(v) => expires_at(v, now),
        None => None,
    }
    .or_else(|| match lifetime_ms {
        Some(0) | None => None,
        Some(ms) => Some(Duration::from_millis(ms)),
    })
    .or_else(|| jwt_lifetime(&token, now));
    if let Some(lifetime) = lifetime {
        tokens = tokens.with_expires_at(now + lifetime.min(MAX_LIFETIME));
    }
    Ok(tokens)
}

/// `expireIn`: seconds as a number or a numeric string, or a duration such as `1h`, `30m`,
/// `2 days` (the `ms` package's forms).
fn expires_in(v: &Value) -> Option<Duration> {
    let seconds = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(n) => n,
            Err(_) => duration(s.trim())?,
        },
        _ => return None,
    };
    (seconds.is_finite() && seconds > 0.0)
        .then(|| Duration::from_secs_f64(seconds.min(MAX_LIFETIME.as_secs_f64())))
}

/// `1h`, `30m`, `2 days`, `500ms` as seconds.
fn duration(s: &str) -> Option<f64> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let factor = match unit.as_str() {
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 0.001,
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        "y" | "yr" | "yrs" | "year" | "years" => 31_557_600.0,
        _ => return None,
    };
    Some(n * factor)
}

/// `expireAt`: Unix seconds or milliseconds (a number or a numeric string), or an RFC 3339
/// time, as the time left after `now`.
fn expires_at(v: &Value, now: SystemTime) -> Option<Duration> {
    let unix = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(n) => n,
            Err(_) => {
                let at = time::OffsetDateTime::parse(
                    s.trim(),
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()?;
                at.unix_timestamp_nanos() as f64 / 1e9
            }
        },
        _ => return None,
    };
    let unix = if unix > 1e12 { unix / 1000.0 } else { unix };
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    let left = unix - now;
    (left.is_finite() && left > 0.0)
        .then(|| Duration::from_secs_f64(left.min(MAX_LIFETIME.as_secs_f64())))
}

/// The time left until a JWT's `exp`, when the token is one.
fn jwt_lifetime(token: &str, now: SystemTime) -> Option<Duration> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    expires_at(claims.get("exp")?, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(token: &str) -> TokenRequestSpec {
        TokenRequestSpec {
            get: false,
            typed_params: Default::default(),
            token_path: token.to_owned().into(),
            refresh_token_path: None,
            expiration_path: None,
            expires_in: false,
            bearer: true,
            steps: Default::default(),
        }
    }

    #[test]
    fn step_values_are_flattened_and_bounded() {
        let out = flatten(&[
            json!({"a": {"b": "x"}, "n": 2, "list": [{"id": "i0"}]}),
            json!({"token_endpoint": "https://t"}),
        ]);
        let get = |k: &str| out.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("step1.a.b"), Some("x"));
        assert_eq!(get("step1.n"), Some("2"));
        assert_eq!(get("step1.list[0].id"), Some("i0"));
        assert_eq!(get("step1.list.0.id"), Some("i0"));
        assert_eq!(get("step2.token_endpoint"), Some("https://t"));
        let huge: Vec<Value> = vec![Value::Array((0..10_000).map(|i| json!({"k": i})).collect())];
        assert!(flatten(&huge).len() <= 512);
    }

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn paths_and_whole_bodies() {
        let body = json!({"data": {"token": "t-1", "refresh": "r-1"}, "items": [{"jwt": "j"}]});
        let bytes = body.to_string().into_bytes();
        let mut s = spec("data.token");
        s.refresh_token_path = Some("data.refresh".into());
        let tokens = read_tokens(&bytes, &s, None, at()).unwrap();
        assert_eq!(tokens.access_token().expose(), "t-1");
        assert_eq!(tokens.refresh_token().unwrap().expose(), "r-1");
        assert_eq!(tokens.expires_at(), None);
        assert_eq!(
            read_tokens(&bytes, &spec("items[0].jwt"), None, at())
                .unwrap()
                .access_token()
                .expose(),
            "j"
        );
        assert_eq!(
            read_tokens(b" plain-token\n", &spec(""), None, at())
                .unwrap()
                .access_token()
                .expose(),
            "plain-token"
        );
        assert_eq!(
            read_tokens(b"\"quoted\"", &spec(""), None, at())
                .unwrap()
                .access_token()
                .expose(),
            "quoted"
        );
        assert_eq!(
            read_tokens(&bytes, &spec("nope"), None, at()).unwrap_err(),
            "the token response has no `nope`"
        );
        assert!(read_tokens(b"<html>", &spec("token"), None, at()).is_err());
    }

    #[test]
    fn lifetimes_by_strategy() {
        let life = |body: Value, path: &str, expires_in: bool, ms: Option<u64>| {
            let mut s = spec("token");
            s.expiration_path = Some(path.to_owned().into());
            s.expires_in = expires_in;
            read_tokens(body.to_string().as_bytes(), &s, ms, at())
                .unwrap()
                .expires_at()
                .map(|t| t.duration_since(at()).unwrap().as_secs())
        };
        assert_eq!(
            life(json!({"token": "a", "e": 3600}), "e", true, None),
            Some(3600)
        );
        assert_eq!(
            life(json!({"token": "a", "e": "3600"}), "e", true, None),
            Some(3600)
        );
        assert_eq!(
            life(json!({"token": "a", "e": "1h"}), "e", true, None),
            Some(3600)
        );
        assert_eq!(
            life(json!({"token": "a", "e": "30m"}), "e", true, None),
            Some(1800)
        );
        assert_eq!(
            life(json!({"token": "a", "e": "2 days"}), "e", true, None),
            Some(172_800)
        );
        assert_eq!(
            life(json!({"token": "a", "e": "soon"}), "e", true, None),
            None
        );
        assert_eq!(
            life(json!({"token": "a", "e": 1_800_000_600}), "e", false, None),
            Some(600)
        );
        assert_eq!(
            life(
                json!({"token": "a", "e": "1800000600000"}),
                "e",
                false,
                None
            ),
            Some(600)
        );
        assert_eq!(
            life(
                json!({"token": "a", "e": "2027-01-15T08:10:00Z"}),
                "e",
                false,
                None
            ),
            Some(600)
        );
        assert_eq!(
            life(json!({"token": "a"}), "e", false, Some(3_600_000)),
            Some(3600)
        );
        assert_eq!(life(json!({"token": "a"}), "e", false, Some(0)), None);
        assert_eq!(
            life(json!({"token": "a", "e": 1e300}), "e", true, None),
            Some(MAX_LIFETIME.as_secs())
        );
    }

    #[test]
    fn a_jwt_states_its_own_expiry() {
        use base64::Engine as _;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"exp": 1_800_000_900u64}).to_string());
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{claims}.sig");
        let body = json!({"token": token}).to_string();
        let tokens = read_tokens(body.as_bytes(), &spec("token"), None, at()).unwrap();
        assert_eq!(
            tokens.expires_at().unwrap().duration_since(at()).unwrap(),
            Duration::from_secs(900)
        );
    }

    #[test]
    fn json_bodies_keep_the_catalogs_numbers_and_booleans() {
        let mut params = QueryParams::new();
        let cx = crate::client::render_context();
        for (name, value) in [("n", "1"), ("s", "1"), ("b", "true")] {
            params
                .push_rendered(name, &[&[crate::render::Part::Lit(value)]], &cx)
                .unwrap();
        }
        let mut s = spec("token");
        s.typed_params = vec!["n".into(), "b".into()].into();
        let (body, ct) = encode(&params, BodyFormat::Json, &s);
        assert_eq!(ct, "application/json");
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"n": 1, "s": "1", "b": true})
        );
        let (body, ct) = encode(&params, BodyFormat::Form, &s);
        assert_eq!(ct, "application/x-www-form-urlencoded");
        assert_eq!(body, b"n=1&s=1&b=true");
    }
}
