//! Rendering of header and URL templates whose structure the generator has already parsed.
//!
//! Generated code passes the literal text and the param values of a template as [`Part`]s.
//! Each value is checked or escaped for the place it lands in ([`Context`]), so that no
//! value can add a header line, change a URL's host, or leave a path segment.

use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use url::Url;

use crate::rules;

/// Where in a request a template value lands, which decides how it is checked or escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Context {
    /// An HTTP header value: printable ASCII only.
    Header,
    /// Part of a host name next to literal host text (`${company}.jobs.personio.de`):
    /// exactly one DNS label.
    HostLabel,
    /// The whole host name: DNS labels joined by dots.
    Hostname,
    /// A URL path: percent-encoded as one segment (`/` included).
    PathSegment,
    /// A URL query or fragment: percent-encoded as a value.
    Query,
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
            Context::PathSegment => "a URL path",
            Context::Query => "a URL query",
        }
    }
}

/// A value to place into a template.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    /// The template param, e.g. `connectionConfig.company`.
    pub param: &'static str,
    /// The value; `None` when an optional param is absent.
    pub value: Option<&'a str>,
    /// Whether the value is a secret (never shown in errors or `Debug`).
    pub secret: bool,
    /// Where the value lands.
    pub context: Context,
}

/// A piece of a template: literal text from providers.yaml, or a value.
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    /// Literal text, already checked by the generator.
    Lit(&'static str),
    /// A param value.
    Value(Value<'a>),
}

/// A template could not be rendered safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A value cannot be placed where the template puts it.
    #[error("template param `{param}` cannot be placed in {}: {}", .context.describe(), value_text(.value.as_deref()))]
    InvalidValue {
        /// The template param.
        param: &'static str,
        /// Where it would land.
        context: Context,
        /// The value, `None` for a secret.
        value: Option<String>,
    },
    /// An optional param that a URL needs is absent.
    #[error("template param `{param}` is needed to build the URL but is absent")]
    MissingValue {
        /// The template param.
        param: &'static str,
    },
    /// The rendered URL does not parse.
    #[error("the rendered URL for template `{template}` is not a valid URL: {reason}")]
    InvalidUrl {
        /// The template as written in providers.yaml.
        template: &'static str,
        /// The parser's reason.
        reason: String,
    },
    /// The rendered URL's scheme or host is not the one the template fixes.
    #[error(
        "the rendered URL for template `{template}` has host `{found}`, not the expected `{expected}`"
    )]
    HostChanged {
        /// The template as written in providers.yaml.
        template: &'static str,
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

impl Value<'_> {
    fn invalid(&self) -> RenderError {
        RenderError::InvalidValue {
            param: self.param,
            context: self.context,
            value: (!self.secret).then(|| self.value.unwrap_or_default().to_owned()),
        }
    }
}

/// One header to send with every proxied request.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    name: &'static str,
    value: String,
    sensitive: bool,
}

impl Header {
    /// The header name, lowercase as in providers.yaml.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The rendered value.
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

/// The headers a provider sends with every proxied request, in providers.yaml order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// The value of the header `name` (case-insensitive), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The headers in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Renders the header `name` from `parts` and adds it, unless one of its values is
    /// absent: then the header is omitted, never sent empty or with `${...}` text.
    pub fn push_rendered(
        &mut self,
        name: &'static str,
        parts: &[Part<'_>],
    ) -> Result<(), RenderError> {
        let mut value = String::new();
        let mut sensitive = is_sensitive_name(name);
        for part in parts {
            match part {
                Part::Lit(text) => value.push_str(text),
                Part::Value(v) => {
                    let Some(text) = v.value else { return Ok(()) };
                    if !rules::is_header_safe(text) {
                        return Err(v.invalid());
                    }
                    sensitive |= v.secret;
                    value.push_str(text);
                }
            }
        }
        self.0.push(Header {
            name,
            value,
            sensitive,
        });
        Ok(())
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

/// A URL template split by the generator: `scheme://host` fixed by the template (up to
/// host-label values), then the rest (port, path, query).
#[derive(Debug, Clone, Copy)]
pub struct UrlTemplate<'a> {
    /// The template as written in providers.yaml, for error messages.
    pub source: &'static str,
    /// The scheme, e.g. `https`.
    pub scheme: &'static str,
    /// The parts of the host.
    pub host: &'a [Part<'a>],
    /// The parts after the host.
    pub rest: &'a [Part<'a>],
}

impl UrlTemplate<'_> {
    /// Renders the URL, checking each value for its context, then checks that the parsed
    /// URL has the scheme and host that the template and the values give.
    pub fn render(&self) -> Result<Url, RenderError> {
        let mut host = String::new();
        for part in self.host {
            match part {
                Part::Lit(text) => host.push_str(text),
                Part::Value(v) => {
                    let text = v
                        .value
                        .ok_or(RenderError::MissingValue { param: v.param })?;
                    let ok = match v.context {
                        Context::Hostname => rules::is_hostname(text),
                        _ => rules::is_dns_label(text),
                    };
                    if !ok {
                        return Err(v.invalid());
                    }
                    host.push_str(text);
                }
            }
        }
        let mut text = format!("{}://{host}", self.scheme);
        for part in self.rest {
            match part {
                Part::Lit(t) => text.push_str(t),
                Part::Value(v) => {
                    let value = v
                        .value
                        .ok_or(RenderError::MissingValue { param: v.param })?;
                    let set = if v.context == Context::Query {
                        QUERY_VALUE
                    } else {
                        PATH_SEGMENT
                    };
                    text.extend(utf8_percent_encode(value, set));
                }
            }
        }
        let url = Url::parse(&text).map_err(|e| RenderError::InvalidUrl {
            template: self.source,
            reason: e.to_string(),
        })?;
        let expected = host.to_ascii_lowercase();
        if url.scheme() != self.scheme || url.host_str() != Some(expected.as_str()) {
            return Err(RenderError::HostChanged {
                template: self.source,
                expected: format!("{}://{expected}", self.scheme),
                found: format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default()),
            });
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val<'a>(param: &'static str, value: Option<&'a str>, context: Context) -> Part<'a> {
        Part::Value(Value {
            param,
            value,
            secret: false,
            context,
        })
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
        UrlTemplate {
            source: "https://${connectionConfig.company}.jobs.personio.de",
            scheme: "https",
            host: &host,
            rest: &[Part::Lit("/xml")],
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
        let url = UrlTemplate {
            source: "t",
            scheme: "https",
            host: &[Part::Lit("api.example.com")],
            rest: &rest,
        }
        .render()
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example.com/v1/..%2Fa%20b%2F%3F%23?q=x%26y%3Dz%20%23"
        );
    }

    #[test]
    fn absent_value_in_url_is_an_error() {
        let host = [val("connectionConfig.company", None, Context::HostLabel)];
        let err = UrlTemplate {
            source: "t",
            scheme: "https",
            host: &host,
            rest: &[],
        }
        .render()
        .unwrap_err();
        assert_eq!(
            err,
            RenderError::MissingValue {
                param: "connectionConfig.company"
            }
        );
    }

    #[test]
    fn headers_omit_absent_values_and_reject_injection() {
        let mut headers = Headers::new();
        headers
            .push_rendered(
                "x-personio-app-id",
                &[val("connectionConfig.appId", None, Context::Header)],
            )
            .unwrap();
        assert!(headers.is_empty());
        headers
            .push_rendered(
                "x-personio-app-id",
                &[val(
                    "connectionConfig.appId",
                    Some("MY_APP"),
                    Context::Header,
                )],
            )
            .unwrap();
        assert_eq!(headers.get("X-Personio-App-Id"), Some("MY_APP"));
        for evil in ["A\r\nx-evil: 1", "A\n", "A\0", "Ä"] {
            let err = headers
                .push_rendered(
                    "x-a",
                    &[val("connectionConfig.appId", Some(evil), Context::Header)],
                )
                .unwrap_err();
            assert!(matches!(err, RenderError::InvalidValue { .. }));
        }
        assert_eq!(headers.len(), 1);
    }

    #[test]
    fn secret_headers_are_redacted() {
        let mut headers = Headers::new();
        let key = Part::Value(Value {
            param: "apiKey",
            value: Some("sk-123"),
            secret: true,
            context: Context::Header,
        });
        headers
            .push_rendered("authorization", &[Part::Lit("Bearer "), key])
            .unwrap();
        let h = headers.iter().next().unwrap();
        assert!(h.is_sensitive());
        assert_eq!(h.value(), "Bearer sk-123");
        assert!(!format!("{headers:?}").contains("sk-123"));
        let err = headers
            .push_rendered(
                "authorization",
                &[Part::Value(Value {
                    value: Some("sk\n1"),
                    ..match key {
                        Part::Value(v) => v,
                        Part::Lit(_) => unreachable!(),
                    }
                })],
            )
            .unwrap_err();
        assert!(!err.to_string().contains("sk"), "{err}");
    }
}
