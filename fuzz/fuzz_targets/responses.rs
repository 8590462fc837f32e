//! What a provider's server sends back never panics the runtime's readers, whatever the bytes:
//! token responses (every lifetime shape), pages and their next links (any body, any `Link`
//! header), retry hints (any header value). The input's first line is a header value (a `Link`
//! header, a `Retry-After`), the rest a JSON body.
//!
//! The same bytes are also read as an OAuth 1.0a credentials response (a form), a PEM key (as
//! users paste them), a JWT signing key, and the header line as an authorization callback URL.
//!
//! Besides not panicking: a token's expiry is after `now` and within `token::MAX_LIFETIME`
//! (also for an authorization's `TokenSet`, whose refresh token is never empty);
//! a next link that is followed stays on the base URL's scheme, host and port, under its path,
//! with no user info; a next offset never wraps.
#![no_main]

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use terapi_runtime::paginate::{Next, OffsetStep, PageKind, PaginateConfig, Paginator};
use terapi_runtime::retry::{parse_retry_after, parse_retry_at};
use terapi_runtime::token::{MAX_LIFETIME, TokenSet, parse_token_response};
use url::Url;

/// Personio's two list shapes (as the repository's catalog states them, v1 with its page
/// count), and three variations of them.
const OFFSET: PaginateConfig = PaginateConfig {
    kind: PageKind::Offset,
    limit_name: Some(Cow::Borrowed("limit")),
    response_path: Some(Cow::Borrowed("data")),
    cursor_path: None,
    cursor_name: None,
    link_rel: None,
    link_path: None,
    offset_name: Some(Cow::Borrowed("offset")),
    offset_start: 0,
    offset_step: OffsetStep::ByResponseSize,
    total_pages_path: Some(Cow::Borrowed("metadata.total_pages")),
};

const LINK: PaginateConfig = PaginateConfig {
    kind: PageKind::Link,
    limit_name: Some(Cow::Borrowed("limit")),
    response_path: Some(Cow::Borrowed("_data")),
    cursor_path: None,
    cursor_name: None,
    link_rel: None,
    link_path: Some(Cow::Borrowed("_meta.links.next.href")),
    offset_name: None,
    offset_start: 0,
    offset_step: OffsetStep::ByResponseSize,
    total_pages_path: None,
};

fn configs() -> [PaginateConfig; 5] {
    let cursor = PaginateConfig {
        kind: PageKind::Cursor,
        cursor_path: Some(Cow::Borrowed("meta.next")),
        cursor_name: Some(Cow::Borrowed("cursor")),
        response_path: Some(Cow::Borrowed("results")),
        ..LINK
    };
    let link_header = PaginateConfig {
        kind: PageKind::Link,
        link_rel: Some(Cow::Borrowed("next")),
        link_path: None,
        response_path: Some(Cow::Borrowed("")),
        ..LINK
    };
    let per_page = PaginateConfig {
        offset_step: OffsetStep::PerPage,
        offset_start: i64::MAX - 3,
        total_pages_path: None,
        ..OFFSET
    };
    [
        OFFSET,
        LINK,
        cursor,
        link_header,
        per_page,
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (header, body) = text.split_once('\n').unwrap_or((text, ""));
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let _ = parse_retry_after(header, now);
    let _ = parse_retry_at(header, now);
    let _ = terapi_runtime::oauth1::parse_form_response(data);
    if let Ok(pem) = terapi_runtime::jwt::normalize_pem(body) {
        assert!(
            pem.starts_with("-----BEGIN ") && pem.ends_with("-----\n"),
            "{pem}"
        );
    }
    let _ = terapi_runtime::jwt::public_key_fingerprint(body);
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return;
    };
    for path in [None, Some(header), Some("authed_user")] {
        if let Ok(tokens) = TokenSet::from_response(&value, now, path) {
            assert!(!tokens.access_token().expose().is_empty());
            assert!(
                tokens
                    .refresh_token()
                    .is_none_or(|r| !r.expose().is_empty())
            );
            if let Some(at) = tokens.expires_at() {
                let life = at.duration_since(now).expect("not before it arrives");
                assert!(life > Duration::ZERO && life <= MAX_LIFETIME, "{life:?}");
            }
            let saved = serde_json::to_string(&tokens).expect("serializes");
            let back: TokenSet = serde_json::from_str(&saved).expect("reads back");
            assert_eq!(back, tokens);
        }
    }
    if let Ok(token) = parse_token_response(&value, now, Duration::from_secs(86_400)) {
        let life = token
            .expires_at()
            .duration_since(now)
            .expect("a token never expires before it arrives");
        assert!(life > Duration::ZERO && life <= MAX_LIFETIME, "{life:?}");
    }
    let base = Url::parse("https://api.example.com/v2").expect("base");
    let current = Url::parse("https://api.example.com/v2/items?page=1").expect("current");
    for config in configs() {
        let mut pages = Paginator::new(config, base.clone(), Some(10)).max_pages(3);
        // A few rounds: repeated links and cursors, the page cap, offsets near the limit.
        for _ in 0..4 {
            match pages.next(&current, &value, Some(header)) {
                Ok(Next::Url(url)) => {
                    assert_eq!(url.scheme(), base.scheme(), "{url}");
                    assert_eq!(url.host_str(), base.host_str(), "{url}");
                    assert_eq!(
                        url.port_or_known_default(),
                        base.port_or_known_default(),
                        "{url}"
                    );
                    assert!(
                        url.username().is_empty() && url.password().is_none(),
                        "{url}"
                    );
                    assert!(
                        url.path() == "/v2" || url.path().starts_with("/v2/"),
                        "{url}"
                    );
                }
                Ok(Next::Query(query)) => {
                    for (name, value) in &query {
                        if name == "offset" {
                            assert!(value.parse::<i64>().is_ok_and(|o| o >= 0), "{value}");
                        }
                    }
                }
                Ok(Next::Done) | Err(_) => break,
            }
        }
    }
});
