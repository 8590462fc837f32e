//! URL rules of the client: `https` only (loopback `http` through an explicit origin
//! override), endpoints that stay below the base URL, and the origin override itself.

use std::net::IpAddr;

use url::{Host, Url};

use super::error::{Error, Step};

/// Whether `url`'s host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn url_error(step: Step, message: String) -> Error {
    Error::Url { step, message }
}

/// Scheme, host and port, for messages.
pub(crate) fn origin_text(url: &Url) -> String {
    match url.port() {
        Some(port) => format!(
            "{}://{}:{port}",
            url.scheme(),
            url.host_str().unwrap_or_default()
        ),
        None => format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default()),
    }
}

/// Parses and checks an origin override: `https://host[:port]`, or `http://` on loopback;
/// no credentials, path, query or fragment.
pub(crate) fn parse_origin(text: &str) -> Result<Url, Error> {
    let bad = |why: &str| url_error(Step::Connect, format!("the origin override `{text}` {why}"));
    let url = Url::parse(text.trim()).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not hold credentials"));
    }
    if url.host().is_none() {
        return Err(bad("has no host"));
    }
    if !(url.path().is_empty() || url.path() == "/")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad("must be only a scheme, a host and a port"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(bad(
            "uses plain http on a host that is not loopback; use https",
        )),
        _ => Err(bad("must use https (or http on loopback)")),
    }
}

/// `url` with the scheme, host and port of `origin`, keeping path and query.
pub(crate) fn with_origin(url: &Url, origin: &Url) -> Url {
    let mut out = origin.clone();
    out.set_path(url.path());
    out.set_query(url.query());
    out
}

/// `https`, or `http` on loopback when `overridden` (the origin override is the only way to
/// reach a plain-http server).
pub(crate) fn require_secure(url: &Url, overridden: bool, what: &str) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if overridden && is_loopback(url) => Ok(()),
        scheme => Err(url_error(
            Step::Connect,
            format!(
                "{what} `{}` uses {scheme}; only https is allowed (plain http only on loopback through `Settings::origin`)",
                origin_text(url)
            ),
        )),
    }
}

/// Whether `a` and `b` have the same scheme, host and port.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// `endpoint` joined below `base`: `base`'s path without its trailing `/`, then the
/// endpoint's path; the endpoint's own `?query` kept. Refuses absolute URLs, `//host`,
/// backslashes, fragments, control characters and `.`/`..` segments, and checks that the
/// result keeps `base`'s scheme, host and port.
pub(crate) fn join(base: &Url, endpoint: &str, step: Step) -> Result<Url, Error> {
    let bad = |why: &str| {
        // The endpoint's query stays out of messages: it may carry a secret.
        let shown = match endpoint.split_once('?') {
            Some((path, _)) => format!("{path}?…"),
            None => endpoint.to_owned(),
        };
        url_error(step, format!("endpoint `{}`: {why}", shown.escape_debug()))
    };
    if endpoint.chars().any(|c| c.is_control()) {
        return Err(bad("contains a control character"));
    }
    if endpoint.contains('\\') {
        return Err(bad("contains a backslash"));
    }
    if endpoint.contains('#') {
        return Err(bad("contains a fragment (`#`)"));
    }
    if endpoint.starts_with("//") {
        return Err(bad("starts with `//`, which names another host"));
    }
    if Url::parse(endpoint).is_ok() || endpoint.split('/').next().is_some_and(|s| s.contains(':')) {
        return Err(bad("is an absolute URL; give a path below the base URL"));
    }
    let (path, query) = match endpoint.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (endpoint, None),
    };
    for segment in path.split('/') {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if decoded == "." || decoded == ".." {
            return Err(bad(
                "has a `.` or `..` segment, which would leave the base URL's path",
            ));
        }
    }
    let mut url = base.clone();
    let base_path = base.path().trim_end_matches('/');
    let rest = path.trim_start_matches('/');
    if rest.is_empty() {
        url.set_path(if base_path.is_empty() { "/" } else { base_path });
    } else {
        url.set_path(&format!("{base_path}/{rest}"));
    }
    url.set_query(query.filter(|q| !q.is_empty()));
    if !same_origin(&url, base) {
        return Err(bad("leaves the provider's host"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.personio.de/v1").unwrap()
    }

    #[test]
    fn joins_below_the_base_path() {
        let j = |e: &str| join(&base(), e, Step::Request).map(|u| u.to_string());
        assert_eq!(
            j("/company/employees").unwrap(),
            "https://api.personio.de/v1/company/employees"
        );
        assert_eq!(
            j("company/employees").unwrap(),
            "https://api.personio.de/v1/company/employees"
        );
        assert_eq!(j("").unwrap(), "https://api.personio.de/v1");
        assert_eq!(
            j("/a?b=1&c=2").unwrap(),
            "https://api.personio.de/v1/a?b=1&c=2"
        );
        assert_eq!(j("/a b").unwrap(), "https://api.personio.de/v1/a%20b");
        let slash = Url::parse("https://api.x.com/").unwrap();
        assert_eq!(
            join(&slash, "/p", Step::Request).unwrap().as_str(),
            "https://api.x.com/p"
        );
        assert_eq!(
            join(&slash, "", Step::Request).unwrap().as_str(),
            "https://api.x.com/"
        );
    }

    #[test]
    fn refuses_endpoints_that_leave_the_base() {
        for e in [
            "https://evil.com/x",
            "//evil.com/x",
            "/../admin",
            "/a/%2e%2e/admin",
            "/a/./b",
            "\\evil.com",
            "/a#frag",
            "/a\r\nX-Injected: 1",
            "mailto:x@evil.com",
            "evil.com:443/x",
        ] {
            let err = join(&base(), e, Step::Request).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Url {
                        step: Step::Request,
                        ..
                    }
                ),
                "{e}: {err}"
            );
        }
    }

    #[test]
    fn origin_override_rules() {
        assert!(parse_origin("http://127.0.0.1:8080").is_ok());
        assert!(parse_origin("http://[::1]:8080").is_ok());
        assert!(parse_origin("http://localhost:1").is_ok());
        assert!(parse_origin("https://staging.example.com").is_ok());
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "http://u:p@127.0.0.1",
            "http://127.0.0.1/path",
            "http://127.0.0.1/?q",
            "not a url",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
        let o = parse_origin("http://127.0.0.1:9").unwrap();
        assert_eq!(
            with_origin(
                &Url::parse("https://api.personio.de/v1/auth?x=1").unwrap(),
                &o
            )
            .as_str(),
            "http://127.0.0.1:9/v1/auth?x=1"
        );
        assert!(require_secure(&Url::parse("http://127.0.0.1:9/").unwrap(), false, "u").is_err());
        assert!(require_secure(&Url::parse("http://127.0.0.1:9/").unwrap(), true, "u").is_ok());
        assert!(require_secure(&Url::parse("http://example.com/").unwrap(), true, "u").is_err());
    }
}
