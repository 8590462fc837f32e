//! Rendering of header and URL templates whose structure the generator has already parsed.
//!
//! Generated code passes the literal text and the param values of a template as [`Part`]s.
//! Each value is checked or escaped for the place it lands in ([`Context`]), so that no
//! value can add a header line, change a URL's host, or leave a path segment.

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use url::Url;

pub use crate::func::Func;
pub use crate::now::{NowSpec, NowToken};
use crate::{now, rules};

/// Where in a request a template value lands, which decides how it is checked or escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Context {
    /// An HTTP header value: printable ASCII only.
    Header,
    /// Part of a host name next to literal host text (`${company}.jobs.personio.de`):
    /// exactly one DNS label.
    HostLabel,
    /// The whole host name: DNS labels joined by dots.
    Hostname,
    /// The whole host of a self-hosted server, with an optional port and base path
    /// (`git.example.com:8443/gitlab`), where the param's pattern allows them: a host name,
    /// then `:digits`, then a path; no user info, query, fragment, backslash or space. The
    /// rendered URL must keep that host.
    Authority,
    /// A port: digits only.
    Port,
    /// A URL path: percent-encoded as one segment (`/` included).
    PathSegment,
    /// A URL query or fragment: percent-encoded as a value (in a list of query params, the
    /// value is kept as is and encoded when the URL is built).
    Query,
    /// A whole base URL (`${connectionConfig.instance_url}`): an absolute `https` (or
    /// `http`) URL with a host and no user info, query or fragment.
    Url,
    /// An argument of a template function: used as is; the function's result is checked
    /// for the context the call stands in.
    Raw,
}

impl Context {
    fn describe(self) -> &'static str {
        match self {
            Context::Header => {
                "an HTTP header, which takes printable ASCII only (no CR, LF, NUL or other control characters)"
            }
            Context::HostLabel => {
                "a host name, where it must be one DNS label (letters, digits and inner hyphens, at most 63)"
            }
            Context::Hostname => "a host name, where it must be DNS labels joined by dots",
            Context::Authority => {
                "a server address, where it must be a host name with an optional `:port` and `/path`, and no user info, query or fragment"
            }
            Context::Port => "a port, where it must be digits",
            Context::PathSegment => "a URL path",
            Context::Query => "a URL query",
            Context::Url => {
                "a base URL, where it must be an absolute https URL with a host and no user info"
            }
            Context::Raw => "a function argument",
        }
    }

    /// Whether `value` may stand in this context as it is (escaping contexts accept all).
    fn accepts(self, value: &str) -> bool {
        match self {
            Context::Header => rules::is_header_safe(value),
            Context::HostLabel => rules::is_dns_label(value),
            Context::Hostname => rules::is_hostname(value),
            Context::Authority => is_authority(value),
            Context::Port => {
                !value.is_empty() && value.len() <= 5 && value.bytes().all(|b| b.is_ascii_digit())
            }
            Context::Url => Url::parse(value).is_ok_and(|u| {
                matches!(u.scheme(), "https" | "http")
                    && u.host_str().is_some()
                    && u.username().is_empty()
                    && u.password().is_none()
                    && u.query().is_none()
                    && u.fragment().is_none()
            }),
            Context::PathSegment | Context::Query | Context::Raw => true,
        }
    }
}

/// `host[:port][/path]`: a host name, an optional port of digits, an optional path without
/// query, fragment, backslash, space or control characters.
fn is_authority(value: &str) -> bool {
    let (host_port, path) = value.split_at(value.find('/').unwrap_or(value.len()));
    let (host, port) = match host_port.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host_port, None),
    };
    rules::is_hostname(host)
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'\\'))
}

/// A value to place into a template.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    /// The template param, e.g. `connectionConfig.company`.
    pub param: &'a str,
    /// The value; `None` when it is absent (an optional param, or a context value such as
    /// the access token that the caller did not supply).
    pub value: Option<&'a str>,
    /// Whether the value is a secret (never shown in errors or `Debug`).
    pub secret: bool,
    /// Where the value lands.
    pub context: Context,
}

/// A call of a template function.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The function.
    pub func: Func,
    /// The arguments, each rendered from its parts.
    pub args: &'a [&'a [Part<'a>]],
    /// Where the result lands.
    pub context: Context,
}

/// A piece of a template: literal text from providers.yaml, a value, or a function call.
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    /// Literal text, already checked by the generator.
    Lit(&'a str),
    /// A value.
    Value(Value<'a>),
    /// A function call.
    Call(Call<'a>),
}

/// A template could not be rendered safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A value cannot be placed where the template puts it.
    #[error("template param `{param}` cannot be placed in {}: {}", .context.describe(), value_text(.value.as_deref()))]
    InvalidValue {
        /// The template param.
        param: String,
        /// Where it would land.
        context: Context,
        /// The value, `None` for a secret.
        value: Option<String>,
    },
    /// A value that a URL needs is absent (in every alternative of the template).
    #[error("template param `{param}` is needed to build the URL but is absent")]
    MissingValue {
        /// The template param.
        param: String,
    },
    /// A template function failed (its reason never includes argument values).
    #[error("template function `{}` failed: {reason}", .func.name())]
    Function {
        /// The function.
        func: Func,
        /// Why.
        reason: String,
    },
    /// The rendered URL does not parse.
    #[error("the rendered URL for template `{template}` is not a valid URL: {reason}")]
    InvalidUrl {
        /// The template as written in providers.yaml.
        template: String,
        /// The parser's reason.
        reason: String,
    },
    /// The rendered URL's scheme or host is not the one the template fixes.
    #[error(
        "the rendered URL for template `{template}` has host `{found}`, not the expected `{expected}`"
    )]
    HostChanged {
        /// The template as written in providers.yaml.
        template: String,
        /// The expected scheme and host.
        expected: String,
        /// What the URL parser found.
        found: String,
    },
}

fn value_text(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("value {v:?} is not allowed there"),
        None => "the secret value (not shown) is not allowed there".to_owned(),
    }
}

/// The details of the request being sent, for templates that sign or describe it
/// (`${method}`, `${path}`, `${awsSigV4(...)}`, ...).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// The endpoint as the caller gave it, e.g. `/company/employees`.
    pub endpoint: &'a str,
    /// The host the request goes to.
    pub host: &'a str,
    /// The URL path.
    pub path: &'a str,
    /// The query params, unencoded.
    pub query: &'a [(&'a str, &'a str)],
    /// The body as sent.
    pub body: &'a [u8],
    /// The body's content type.
    pub content_type: Option<&'a str>,
}

/// What templates may use besides a connection's params: the access token, the OAuth client,
/// the current time and a random id (one each per context, so that all headers of one
/// request agree), and the request being sent.
#[derive(Clone)]
pub struct RenderContext<'a> {
    /// `${accessToken}`.
    pub access_token: Option<&'a str>,
    /// `${clientId}`.
    pub client_id: Option<&'a str>,
    /// `${clientSecret}`.
    pub client_secret: Option<&'a str>,
    /// The request, for request-dependent templates.
    pub request: Option<Request<'a>>,
    /// Fields of the credentials the platform obtained (`${credentials.token}`, ...).
    pub obtained: &'a [(&'a str, &'a str)],
    now: SystemTime,
    /// `${random}`: fixed by [`RenderContext::at`], else made on first use (a UUID costs a
    /// system call, and most templates never ask for one).
    random: std::sync::OnceLock<String>,
    /// The template functions' cryptography, which the model leaves to the runtime.
    crypto: Option<&'a dyn Crypto>,
}

/// The cryptography of the template language, which this crate leaves to `terapi-runtime`
/// (so that a build script compiles no hash or signature code): the digests behind
/// `${sha256Hex(..)}`, `${sha256Base64(..)}`, `${hmacSha1Hex(..)}` and `${awsSigV4(..)}`, and
/// the key-based `${ed25519Sign(..)}` and `${fingerprint(..)}`.
///
/// `terapi-runtime` implements it (`terapi_runtime::CRYPTO`: digests with its `client`
/// feature, signatures with `signing`), and its client puts it in every context it renders
/// with; a context without one reports those functions as unavailable.
pub trait Crypto: Send + Sync {
    /// SHA-256 of `data`.
    fn sha256(&self, data: &[u8]) -> [u8; 32];
    /// HMAC-SHA256 of `data` under `key`.
    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> [u8; 32];
    /// HMAC-SHA1 of `data` under `key`.
    fn hmac_sha1(&self, key: &[u8], data: &[u8]) -> [u8; 20];
    /// The Base64 Ed25519 signature of `message` with a PKCS#8 PEM private key.
    fn ed25519_sign(&self, message: &str, pkcs8_pem: &str) -> Result<String, String>;
    /// `SHA256:` and the Base64 SHA-256 of the public key of a PEM private key.
    fn public_key_fingerprint(&self, pem: &str) -> Result<String, String>;
}

impl fmt::Debug for RenderContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: Option<&str>| v.map(|_| "***");
        f.debug_struct("RenderContext")
            .field("access_token", &hidden(self.access_token))
            .field("client_id", &hidden(self.client_id))
            .field("client_secret", &hidden(self.client_secret))
            .field("request", &self.request)
            .field(
                "obtained",
                &self
                    .obtained
                    .iter()
                    .map(|(k, _)| (k, "***"))
                    .collect::<Vec<_>>(),
            )
            .field("now", &self.now)
            .field("random", &self.random.get())
            .field("crypto", &self.crypto.is_some())
            .finish()
    }
}

impl Default for RenderContext<'_> {
    fn default() -> Self {
        RenderContext::new()
    }
}

impl<'a> RenderContext<'a> {
    /// A context at the current time, and no token or request. Its `${random}` is a fresh
    /// UUID, made when a template first uses it.
    pub fn new() -> Self {
        RenderContext::with_time(SystemTime::now(), std::sync::OnceLock::new())
    }

    /// A context at a fixed time with a fixed `${random}` (for tests and replays).
    pub fn at(now: SystemTime, random: String) -> Self {
        RenderContext::with_time(now, std::sync::OnceLock::from(random))
    }

    fn with_time(now: SystemTime, random: std::sync::OnceLock<String>) -> Self {
        RenderContext {
            access_token: None,
            client_id: None,
            client_secret: None,
            request: None,
            obtained: &[],
            now,
            random,
            crypto: None,
        }
    }

    /// With the cryptography of the template functions (`terapi_runtime::CRYPTO`).
    pub fn with_crypto(mut self, crypto: &'a dyn Crypto) -> Self {
        self.crypto = Some(crypto);
        self
    }

    /// The cryptography of this context, if it has it.
    pub fn crypto(&self) -> Option<&'a dyn Crypto> {
        self.crypto
    }

    /// With an access token for `${accessToken}`.
    pub fn with_access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// With the OAuth client for `${clientId}` and `${clientSecret}`.
    pub fn with_client(mut self, id: &'a str, secret: &'a str) -> Self {
        self.client_id = Some(id);
        self.client_secret = Some(secret);
        self
    }

    /// With fields of the credentials the platform obtained, by name.
    pub fn with_obtained(mut self, fields: &'a [(&'a str, &'a str)]) -> Self {
        self.obtained = fields;
        self
    }

    /// With the request being sent.
    pub fn with_request(mut self, request: Request<'a>) -> Self {
        self.request = Some(request);
        self
    }

    /// The time `${now}` stands for.
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// The value of a context variable; `None` when the context does not have it.
    pub fn var(&self, var: &Var<'_>) -> Option<Cow<'a, str>> {
        let request = self.request.as_ref();
        Some(match var {
            Var::AccessToken => Cow::Borrowed(self.access_token?),
            Var::ClientId => Cow::Borrowed(self.client_id?),
            Var::ClientSecret => Cow::Borrowed(self.client_secret?),
            Var::Random => Cow::Owned(self.random.get_or_init(crate::random::uuid_v4).clone()),
            Var::Now(spec) => Cow::Owned(now::format(self.now, spec)),
            Var::Method => Cow::Borrowed(request?.method),
            Var::Endpoint => Cow::Borrowed(request?.endpoint),
            Var::Host => Cow::Borrowed(request?.host),
            Var::Path => Cow::Borrowed(request?.path),
            Var::Params | Var::UrlCanonicalParams => Cow::Owned(canonical_params(request?.query)),
            Var::BodyCanonicalParams => {
                Cow::Owned(String::from_utf8_lossy(request?.body).into_owned())
            }
            Var::ContentType => Cow::Borrowed(request?.content_type?),
            Var::Obtained(name) => Cow::Borrowed(self.obtained.iter().find(|(k, _)| k == name)?.1),
        })
    }
}

/// The query params sorted by name and value, percent-encoded, joined by `&`.
fn canonical_params(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY_VALUE),
                utf8_percent_encode(v, QUERY_VALUE)
            )
        })
        .collect();
    pairs.sort();
    pairs.join("&")
}

/// A template variable that the [`RenderContext`] supplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Var<'a> {
    /// `${accessToken}`.
    AccessToken,
    /// `${clientId}`.
    ClientId,
    /// `${clientSecret}`.
    ClientSecret,
    /// `${random}`: a UUID, the same for all templates rendered with one context.
    Random,
    /// `${now...}`.
    Now(NowSpec<'a>),
    /// `${method}`.
    Method,
    /// `${endpoint}`.
    Endpoint,
    /// `${host}`.
    Host,
    /// `${path}`.
    Path,
    /// `${params}`: the canonical query params.
    Params,
    /// `${urlCanonicalParams}`.
    UrlCanonicalParams,
    /// `${bodyCanonicalParams}`: the body as sent.
    BodyCanonicalParams,
    /// `${contentType}`.
    ContentType,
    /// `${credentials.x}` for a field of the credentials the platform obtains (a TWO_STEP
    /// token, its cookies, a field of the raw token response).
    Obtained(&'a str),
}

/// The variables a bare template name stands for.
const NAMED_VARS: &[(&str, Var<'static>)] = &[
    ("accessToken", Var::AccessToken),
    ("clientId", Var::ClientId),
    ("clientSecret", Var::ClientSecret),
    ("random", Var::Random),
    ("method", Var::Method),
    ("endpoint", Var::Endpoint),
    ("host", Var::Host),
    ("path", Var::Path),
    ("params", Var::Params),
    ("urlCanonicalParams", Var::UrlCanonicalParams),
    ("bodyCanonicalParams", Var::BodyCanonicalParams),
    ("contentType", Var::ContentType),
];

impl Var<'static> {
    /// The variable a bare template name stands for (`now` forms excluded).
    pub fn from_name(name: &str) -> Option<Var<'static>> {
        NAMED_VARS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

impl Var<'_> {
    /// The bare template name of the variable; `None` for `now` forms and obtained fields.
    pub fn name(&self) -> Option<&'static str> {
        NAMED_VARS.iter().find(|(_, v)| v == self).map(|(n, _)| *n)
    }
}

impl Var<'_> {
    /// Whether the variable's value is a secret.
    pub fn is_secret(&self) -> bool {
        matches!(
            self,
            Var::AccessToken | Var::ClientSecret | Var::Obtained(_)
        )
    }
}

/// A rendered template: its text and whether a secret went into it.
pub(crate) struct Rendered {
    pub(crate) text: String,
    pub(crate) sensitive: bool,
}

impl Rendered {
    pub(crate) fn new() -> Self {
        Rendered {
            text: String::new(),
            sensitive: false,
        }
    }

    /// Appends a present value, checked or escaped for `context`.
    pub(crate) fn push_value(
        &mut self,
        param: &str,
        text: &str,
        secret: bool,
        context: Context,
    ) -> Result<(), RenderError> {
        if !context.accepts(text) {
            return Err(invalid_value(param, text, secret, context));
        }
        self.sensitive |= secret;
        match context {
            Context::PathSegment => self.text.extend(utf8_percent_encode(text, PATH_SEGMENT)),
            Context::Query => self.text.extend(utf8_percent_encode(text, QUERY_VALUE)),
            // The path that follows the template's host starts with its own `/`.
            Context::Authority => self.text.push_str(text.trim_end_matches('/')),
            _ => self.text.push_str(text),
        }
        Ok(())
    }

    /// Appends the result of `func` on rendered `args`; `Ok(false)` when the function has no
    /// value (the template's alternative is then incomplete).
    pub(crate) fn push_call(
        &mut self,
        func: Func,
        args: &[String],
        context: Context,
        cx: &RenderContext<'_>,
    ) -> Result<bool, RenderError> {
        let result = func
            .apply(args, cx)
            .map_err(|reason| RenderError::Function { func, reason })?;
        let Some(result) = result else {
            return Ok(false);
        };
        if !context.accepts(&result) {
            return Err(RenderError::Function {
                func,
                reason: format!("its result cannot be placed in {}", context.describe()),
            });
        }
        self.text.push_str(&result);
        Ok(true)
    }
}

pub(crate) fn invalid_value(
    param: &str,
    text: &str,
    secret: bool,
    context: Context,
) -> RenderError {
    RenderError::InvalidValue {
        param: param.to_owned(),
        context,
        value: (!secret).then(|| text.to_owned()),
    }
}

/// Renders parts; `Ok(None)` when a value in them is absent.
fn render_parts(
    parts: &[Part<'_>],
    cx: &RenderContext<'_>,
) -> Result<Option<Rendered>, RenderError> {
    let mut out = Rendered::new();
    for part in parts {
        match part {
            Part::Lit(text) => out.text.push_str(text),
            Part::Value(v) => {
                let Some(text) = v.value else { return Ok(None) };
                out.push_value(v.param, text, v.secret, v.context)?;
            }
            Part::Call(call) => {
                let mut args = Vec::with_capacity(call.args.len());
                for arg in call.args {
                    let Some(r) = render_parts(arg, cx)? else {
                        return Ok(None);
                    };
                    out.sensitive |= r.sensitive;
                    args.push(r.text);
                }
                if !out.push_call(call.func, &args, call.context, cx)? {
                    return Ok(None);
                }
            }
        }
    }
    Ok(Some(out))
}

/// Renders the first alternative whose values are all present.
fn render_first(
    alternatives: &[&[Part<'_>]],
    cx: &RenderContext<'_>,
) -> Result<Option<Rendered>, RenderError> {
    for parts in alternatives {
        if let Some(r) = render_parts(parts, cx)? {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// One rendered header or query param.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    name: crate::validate::Text,
    value: String,
    sensitive: bool,
}

impl Header {
    /// The name, as in providers.yaml (header names lowercase).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rendered value (query values unencoded).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the value carries a secret (it is then redacted in `Debug` and should be
    /// marked sensitive in an HTTP client).
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = if self.sensitive { &"***" } else { &self.value };
        f.debug_struct("Header")
            .field("name", &self.name)
            .field("value", value)
            .finish()
    }
}

/// Rendered headers (or query params), in providers.yaml order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

/// Rendered query params: the same shape as [`Headers`]; values are unencoded.
pub type QueryParams = Headers;

impl Headers {
    /// None yet.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// The value of `name` (case-insensitive), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// In order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Renders `name` from the first alternative of its template (`A || B`) whose values are
    /// all present, and adds it; when no alternative is complete, the entry is omitted,
    /// never sent empty or with `${...}` text.
    pub fn push_rendered(
        &mut self,
        name: impl Into<crate::validate::Text>,
        alternatives: &[&[Part<'_>]],
        cx: &RenderContext<'_>,
    ) -> Result<(), RenderError> {
        if let Some(r) = render_first(alternatives, cx)? {
            self.push(name.into(), r);
        }
        Ok(())
    }

    /// Adds a rendered entry (sensitive when a secret went into it or its name is one of
    /// credentials).
    pub(crate) fn push(&mut self, name: crate::validate::Text, r: Rendered) {
        let sensitive = r.sensitive || is_sensitive_name(&name);
        self.0.push(Header {
            name,
            value: r.text,
            sensitive,
        });
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

fn is_sensitive_name(name: &str) -> bool {
    [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "api_key",
        "token",
        "access_token",
    ]
    .iter()
    .any(|n| n.eq_ignore_ascii_case(name))
}

/// Characters escaped in a path segment: controls, space, and everything that would end or
/// split the segment or change its meaning.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Characters escaped in a query value.
const QUERY_VALUE: &AsciiSet = &PATH_SEGMENT.add(b'&').add(b'=').add(b'+').add(b';');

/// Where a URL alternative's scheme and host come from.
#[derive(Debug, Clone, Copy)]
pub enum UrlBase<'a> {
    /// `scheme://host` fixed by the template, up to host-label values.
    Fixed {
        /// The scheme, e.g. `https`.
        scheme: &'a str,
        /// The parts of the host.
        host: &'a [Part<'a>],
    },
    /// A whole base URL from a value (`${connectionConfig.instance_url}`).
    Value(Value<'a>),
}

/// One alternative of a URL template: its base, then the rest (port, path, query).
#[derive(Debug, Clone, Copy)]
pub struct UrlAlternative<'a> {
    /// Scheme and host.
    pub base: UrlBase<'a>,
    /// The parts after the host.
    pub rest: &'a [Part<'a>],
}

/// A URL template split by the generator into alternatives (`A || B`).
#[derive(Debug, Clone, Copy)]
pub struct UrlTemplate<'a> {
    /// The template as written in providers.yaml, for error messages.
    pub source: &'a str,
    /// The alternatives, tried in order: the first whose values are all present is used.
    pub alternatives: &'a [UrlAlternative<'a>],
}

impl<'a> UrlTemplate<'a> {
    /// Renders the URL, checking each value for its context, then checks that the parsed
    /// URL keeps the scheme and host that the template and the values give.
    pub fn render(&self) -> Result<Url, RenderError> {
        // URL templates hold params only (no variables or functions), so the context is
        // never read; this one allocates nothing.
        let cx = RenderContext::at(SystemTime::UNIX_EPOCH, String::new());
        self.render_with(&cx)
    }

    fn render_with(&self, cx: &RenderContext<'_>) -> Result<Url, RenderError> {
        let mut first_missing = None;
        for alt in self.alternatives {
            match self.render_alternative(alt, cx)? {
                Ok(url) => return Ok(url),
                Err(param) => {
                    first_missing.get_or_insert(param);
                }
            }
        }
        Err(RenderError::MissingValue {
            param: first_missing.unwrap_or(self.source).to_owned(),
        })
    }

    /// `Ok(Err(param))` when a value of this alternative is absent.
    fn render_alternative(
        &self,
        alt: &UrlAlternative<'a>,
        cx: &RenderContext<'_>,
    ) -> Result<Result<Url, &'a str>, RenderError> {
        let missing = |parts: &[Part<'a>]| -> Option<&'a str> {
            parts.iter().find_map(|p| match p {
                Part::Value(v) if v.value.is_none() => Some(v.param),
                _ => None,
            })
        };
        let head = match alt.base {
            UrlBase::Fixed { scheme, host } => {
                let Some(h) = render_parts(host, cx)? else {
                    return Ok(Err(missing(host).unwrap_or(self.source)));
                };
                UrlHead::Fixed {
                    scheme,
                    host: h.text,
                }
            }
            UrlBase::Value(v) => {
                let Some(value) = v.value else {
                    return Ok(Err(v.param));
                };
                UrlHead::Whole {
                    param: v.param,
                    value,
                    secret: v.secret,
                    context: v.context,
                }
            }
        };
        let Some(rest) = render_parts(alt.rest, cx)? else {
            return Ok(Err(missing(alt.rest).unwrap_or(self.source)));
        };
        build_url(self.source, head, &rest.text).map(Ok)
    }
}

/// The scheme and host of a URL alternative, rendered.
pub(crate) enum UrlHead<'v> {
    /// Fixed by the template; `host` is the rendered host (with a self-hosted server's port
    /// and base path).
    Fixed { scheme: &'v str, host: String },
    /// A whole base URL from a value.
    Whole {
        param: &'v str,
        value: &'v str,
        secret: bool,
        context: Context,
    },
}

/// Joins a rendered head and rest, then checks that the parsed URL keeps the scheme and
/// host that the template and the values give.
pub(crate) fn build_url(source: &str, head: UrlHead<'_>, rest: &str) -> Result<Url, RenderError> {
    let (scheme, host, mut text) = match head {
        UrlHead::Fixed { scheme, host } => {
            // A self-hosted server's port and base path are not part of its host.
            let host_end = host.find([':', '/']).unwrap_or(host.len());
            (
                scheme.to_owned(),
                host[..host_end].to_ascii_lowercase(),
                format!("{scheme}://{host}"),
            )
        }
        UrlHead::Whole {
            param,
            value,
            secret,
            context,
        } => {
            let invalid = || invalid_value(param, value, secret, context);
            if !context.accepts(value) {
                return Err(invalid());
            }
            let url = Url::parse(value).map_err(|_| invalid())?;
            let host = url.host_str().unwrap_or_default().to_owned();
            (
                url.scheme().to_owned(),
                host,
                value.trim_end_matches('/').to_owned(),
            )
        }
    };
    text.push_str(rest);
    let url = Url::parse(&text).map_err(|e| RenderError::InvalidUrl {
        template: source.to_owned(),
        reason: e.to_string(),
    })?;
    if url.scheme() != scheme || url.host_str() != Some(host.as_str()) {
        return Err(RenderError::HostChanged {
            template: source.to_owned(),
            expected: format!("{scheme}://{host}"),
            found: format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default()),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn val<'a>(param: &'static str, value: Option<&'a str>, context: Context) -> Part<'a> {
        Part::Value(Value {
            param,
            value,
            secret: false,
            context,
        })
    }

    fn cx() -> RenderContext<'static> {
        RenderContext::at(
            UNIX_EPOCH + Duration::from_secs(1_795_891_507),
            "r-1".into(),
        )
    }

    fn fixed<'a>(host: &'a [Part<'a>], rest: &'a [Part<'a>]) -> UrlAlternative<'a> {
        UrlAlternative {
            base: UrlBase::Fixed {
                scheme: "https",
                host,
            },
            rest,
        }
    }

    fn jobs_url(company: &str) -> Result<Url, RenderError> {
        let host = [
            val(
                "connectionConfig.company",
                Some(company),
                Context::HostLabel,
            ),
            Part::Lit(".jobs.personio.de"),
        ];
        let alts = [fixed(&host, &[Part::Lit("/xml")])];
        UrlTemplate {
            source: "https://${connectionConfig.company}.jobs.personio.de",
            alternatives: &alts,
        }
        .render()
    }

    #[test]
    fn host_label_values_cannot_change_the_host() {
        assert_eq!(
            jobs_url("company-b").unwrap().as_str(),
            "https://company-b.jobs.personio.de/xml"
        );
        for evil in [
            "evil.com/",
            "evil.com#",
            "evil.com?",
            "x@evil.com#",
            "a\\evil.com",
            "a.b",
            "",
            "a:1",
        ] {
            let err = jobs_url(evil).unwrap_err();
            assert!(
                matches!(
                    err,
                    RenderError::InvalidValue {
                        context: Context::HostLabel,
                        ..
                    }
                ),
                "{evil}: {err}"
            );
        }
    }

    #[test]
    fn path_and_query_values_are_escaped() {
        let rest = [
            Part::Lit("/v1/"),
            val(
                "connectionConfig.id",
                Some("../a b/?#"),
                Context::PathSegment,
            ),
            Part::Lit("?q="),
            val("connectionConfig.q", Some("x&y=z #"), Context::Query),
        ];
        let alts = [fixed(&[Part::Lit("api.example.com")], &rest)];
        let url = UrlTemplate {
            source: "t",
            alternatives: &alts,
        }
        .render()
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example.com/v1/..%2Fa%20b%2F%3F%23?q=x%26y%3Dz%20%23"
        );
    }

    #[test]
    fn ports_are_digits() {
        let host = [Part::Lit("api.example.com")];
        let ok = [
            Part::Lit(":"),
            val("connectionConfig.port", Some("8443"), Context::Port),
        ];
        let alts = [fixed(&host, &ok)];
        assert_eq!(
            UrlTemplate {
                source: "t",
                alternatives: &alts
            }
            .render()
            .unwrap()
            .as_str(),
            "https://api.example.com:8443/"
        );
        let bad = [
            Part::Lit(":"),
            val("connectionConfig.port", Some("1@evil.com"), Context::Port),
        ];
        let alts = [fixed(&host, &bad)];
        assert!(matches!(
            UrlTemplate {
                source: "t",
                alternatives: &alts
            }
            .render(),
            Err(RenderError::InvalidValue { .. })
        ));
    }

    #[test]
    fn self_hosted_servers_keep_their_port_and_path_and_nothing_else() {
        let render = |value: &str| {
            let host = [val(
                "connectionConfig.host",
                Some(value),
                Context::Authority,
            )];
            let rest = [Part::Lit("/api/v4")];
            let alts = [fixed(&host, &rest)];
            UrlTemplate {
                source: "https://${connectionConfig.host}/api/v4",
                alternatives: &alts,
            }
            .render()
            .map(|u| u.to_string())
        };
        for (value, url) in [
            ("git.example.com", "https://git.example.com/api/v4"),
            (
                "git.example.com:8443",
                "https://git.example.com:8443/api/v4",
            ),
            (
                "git.example.com/gitlab",
                "https://git.example.com/gitlab/api/v4",
            ),
            (
                "git.example.com:8443/gitlab/",
                "https://git.example.com:8443/gitlab/api/v4",
            ),
            ("Git.Example.com", "https://git.example.com/api/v4"),
        ] {
            assert_eq!(render(value).as_deref(), Ok(url), "{value}");
        }
        for bad in [
            "evil.com@git.example.com",
            "user:pw@git.example.com",
            "git.example.com?x=1",
            "git.example.com#frag",
            "git.example.com\\evil.com",
            "git.example.com:84a3",
            "git.example.com:",
            "git.example.com:123456",
            "git.example.com/a b",
            "git.example.com/\n",
            "",
            ":8443",
            "/gitlab",
            "-bad-.example.com",
        ] {
            assert!(
                matches!(render(bad), Err(RenderError::InvalidValue { .. })),
                "{bad:?} was accepted: {:?}",
                render(bad)
            );
        }
    }

    #[test]
    fn fallbacks_use_the_first_complete_alternative() {
        let left = [val("connectionConfig.hostname", None, Context::Hostname)];
        let right = [Part::Lit("api.mercury.com")];
        let alts = [fixed(&left, &[]), fixed(&right, &[Part::Lit("/v1")])];
        let url = UrlTemplate {
            source: "t",
            alternatives: &alts,
        }
        .render()
        .unwrap();
        assert_eq!(url.as_str(), "https://api.mercury.com/v1");
        let left = [val(
            "connectionConfig.hostname",
            Some("eu.mercury.com"),
            Context::Hostname,
        )];
        let alts = [fixed(&left, &[]), fixed(&right, &[])];
        assert_eq!(
            UrlTemplate {
                source: "t",
                alternatives: &alts
            }
            .render()
            .unwrap()
            .as_str(),
            "https://eu.mercury.com/"
        );
    }

    #[test]
    fn absent_value_in_url_is_an_error() {
        let host = [val("connectionConfig.company", None, Context::HostLabel)];
        let alts = [fixed(&host, &[])];
        let err = UrlTemplate {
            source: "t",
            alternatives: &alts,
        }
        .render()
        .unwrap_err();
        assert_eq!(
            err,
            RenderError::MissingValue {
                param: "connectionConfig.company".to_owned()
            }
        );
    }

    #[test]
    fn whole_url_values_keep_their_host() {
        let render = |v: &str| {
            let alts = [UrlAlternative {
                base: UrlBase::Value(Value {
                    param: "connectionConfig.instance_url",
                    value: Some(v),
                    secret: false,
                    context: Context::Url,
                }),
                rest: &[Part::Lit("/api")],
            }];
            UrlTemplate {
                source: "${connectionConfig.instance_url}/api",
                alternatives: &alts,
            }
            .render()
        };
        assert_eq!(
            render("https://acme.my.salesforce.com/").unwrap().as_str(),
            "https://acme.my.salesforce.com/api"
        );
        for evil in [
            "https://user@evil.com",
            "javascript:alert(1)",
            "https://a.com?x=",
            "https://a.com#",
            "acme.com",
            "",
        ] {
            assert!(
                matches!(
                    render(evil),
                    Err(RenderError::InvalidValue {
                        context: Context::Url,
                        ..
                    })
                ),
                "{evil}"
            );
        }
    }

    #[test]
    fn headers_omit_absent_values_and_reject_injection() {
        let mut headers = Headers::new();
        headers
            .push_rendered(
                "x-personio-app-id",
                &[&[val("connectionConfig.appId", None, Context::Header)]],
                &cx(),
            )
            .unwrap();
        assert!(headers.is_empty());
        headers
            .push_rendered(
                "x-personio-app-id",
                &[&[val(
                    "connectionConfig.appId",
                    Some("MY_APP"),
                    Context::Header,
                )]],
                &cx(),
            )
            .unwrap();
        assert_eq!(headers.get("X-Personio-App-Id"), Some("MY_APP"));
        for evil in ["A\r\nx-evil: 1", "A\n", "A\0", "Ä"] {
            let err = headers
                .push_rendered(
                    "x-a",
                    &[&[val("connectionConfig.appId", Some(evil), Context::Header)]],
                    &cx(),
                )
                .unwrap_err();
            assert!(matches!(err, RenderError::InvalidValue { .. }));
        }
        assert_eq!(headers.len(), 1);
        // `A || B`: the default when the value is absent.
        let version = [val("connectionConfig.version", None, Context::Header)];
        headers
            .push_rendered(
                "notion-version",
                &[&version, &[Part::Lit("2022-06-28")]],
                &cx(),
            )
            .unwrap();
        assert_eq!(headers.get("notion-version"), Some("2022-06-28"));
    }

    #[test]
    fn secret_headers_are_redacted() {
        let mut headers = Headers::new();
        let key = Value {
            param: "apiKey",
            value: Some("sk-123"),
            secret: true,
            context: Context::Header,
        };
        headers
            .push_rendered(
                "x-token",
                &[&[Part::Lit("Bearer "), Part::Value(key)]],
                &cx(),
            )
            .unwrap();
        let h = headers.iter().next().unwrap();
        assert!(h.is_sensitive());
        assert_eq!(h.value(), "Bearer sk-123");
        assert!(!format!("{headers:?}").contains("sk-123"));
        let bad = Value {
            value: Some("sk\n1"),
            ..key
        };
        let err = headers
            .push_rendered("x-token", &[&[Part::Value(bad)]], &cx())
            .unwrap_err();
        assert!(!err.to_string().contains("sk"), "{err}");
    }

    #[test]
    fn calls_render_their_arguments_and_mark_secrets() {
        let user = Value {
            param: "credentials.username",
            value: Some("user"),
            secret: false,
            context: Context::Raw,
        };
        let pass = Value {
            param: "credentials.password",
            value: Some("pass"),
            secret: true,
            context: Context::Raw,
        };
        let arg: &[Part<'_>] = &[Part::Value(user), Part::Lit(":"), Part::Value(pass)];
        let call = Call {
            func: Func::Base64,
            args: &[arg],
            context: Context::Header,
        };
        let mut headers = Headers::new();
        headers
            .push_rendered(
                "x-basic",
                &[&[Part::Lit("Basic "), Part::Call(call)]],
                &cx(),
            )
            .unwrap();
        let h = headers.iter().next().unwrap();
        assert_eq!(h.value(), "Basic dXNlcjpwYXNz");
        assert!(h.is_sensitive());
        // An absent argument omits the header.
        let absent: &[Part<'_>] = &[Part::Value(Value {
            value: None,
            ..user
        })];
        let call = Call {
            func: Func::Base64,
            args: &[absent],
            context: Context::Header,
        };
        let mut headers = Headers::new();
        headers
            .push_rendered("x-basic", &[&[Part::Call(call)]], &cx())
            .unwrap();
        assert!(headers.is_empty());
    }

    #[test]
    fn context_variables() {
        let cx = cx().with_access_token("s3cr3t-v4lue");
        assert_eq!(cx.var(&Var::AccessToken).as_deref(), Some("s3cr3t-v4lue"));
        assert_eq!(cx.var(&Var::ClientId), None);
        assert_eq!(cx.var(&Var::Random).as_deref(), Some("r-1"));
        assert_eq!(cx.var(&Var::Method), None);
        let request = Request {
            method: "GET",
            endpoint: "/x",
            host: "h",
            path: "/x",
            query: &[("b", "2 3"), ("a", "1")],
            body: b"{}",
            content_type: Some("application/json"),
        };
        let cx = cx.with_request(request);
        assert_eq!(cx.var(&Var::Params).as_deref(), Some("a=1&b=2%203"));
        assert_eq!(cx.var(&Var::BodyCanonicalParams).as_deref(), Some("{}"));
        assert!(!format!("{cx:?}").contains("s3cr3t"));
        assert!(Var::AccessToken.is_secret() && !Var::Random.is_secret());
        assert_eq!(Var::from_name("accessToken"), Some(Var::AccessToken));
        assert_eq!(Var::from_name("nope"), None);
    }
}
