//! Pagination as the catalog's `proxy.paginate` describes it (offset, cursor, link) and as
//! Personio's APIs shape it: which query params the first request carries, where a page's
//! records are, and what the next request is — with guards against a `next` link to another
//! host, against a cursor or link that repeats, and against a page that repeats the one
//! before it (the same ids, whatever the kind, given where ids are). No I/O: an HTTP client drives it.

use std::collections::BTreeSet;

use serde_json::Value;
use url::Url;

use crate::validate::Text;

/// How pages follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PageKind {
    /// `offset`: a number in the query, advanced by one page or by the records received.
    Offset,
    /// `cursor`: an opaque value from the response, sent back in the query.
    Cursor,
    /// `link`: the next page's URL, from a `Link` header or the response body.
    Link,
}

/// How an offset advances (`offset_calculation_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OffsetStep {
    /// By one per page (`per-page`: the offset is a page number).
    PerPage,
    /// By the number of records received (`by-response-size`, the default: an item offset).
    ByResponseSize,
}

/// A provider's pagination, as generated from `proxy.paginate` (a constant of generated
/// code, or owned when the catalog was loaded at run time).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaginateConfig {
    /// The kind.
    pub kind: PageKind,
    /// The query param for the page size (`limit_name_in_request`).
    pub limit_name: Option<Text>,
    /// Path of the records in the body (`response_path`, lodash style: `data.items`,
    /// `results[0].rows`); the body itself when absent.
    pub response_path: Option<Text>,
    /// Cursor: path of the next cursor in the body.
    pub cursor_path: Option<Text>,
    /// Cursor: the query param that sends it back.
    pub cursor_name: Option<Text>,
    /// Link: the `rel` of the next page in the `Link` header (usually `next`).
    pub link_rel: Option<Text>,
    /// Link: path of the next page's URL in the body.
    pub link_path: Option<Text>,
    /// Offset: the query param.
    pub offset_name: Option<Text>,
    /// Offset: the first value (default 0).
    pub offset_start: i64,
    /// Offset: how it advances.
    pub offset_step: OffsetStep,
    /// Path of the total page count in the body (Personio v1: `metadata.total_pages`): no
    /// request is made past the last page.
    pub total_pages_path: Option<Text>,
}

/// Why pagination stopped with an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// The records are not an array at the configured path.
    #[error("the response has no array of records at `{path}`")]
    NoRecords {
        /// The path.
        path: String,
    },
    /// The next link points to another host (following it would send credentials there).
    #[error("the next page's link goes to `{found}`, not to the API's own host `{expected}`")]
    ForeignHost {
        /// The API's scheme and host.
        expected: String,
        /// The link's scheme and host.
        found: String,
    },
    /// The next link leaves the base URL's path (`../../x` from `/v2`): it would reach
    /// another API of the host with this API's credentials.
    #[error("the next page's link goes to `{found}`, outside the API's base path `{base}`")]
    OutsideBase {
        /// The base URL's path.
        base: String,
        /// The link's path (without its query).
        found: String,
    },
    /// The next link carries a user name or password.
    #[error("the next page's link carries user info (`user@` or `user:password@`)")]
    LinkUserinfo,
    /// The next link is not a URL.
    #[error("the next page's link is not a valid URL")]
    InvalidLink,
    /// The next offset does not fit in 64 bits (an `offset_start_value` near the limit).
    #[error("the next page's offset overflows")]
    OffsetOverflow,
    /// The listing has more pages than [`Paginator::max_pages`] allows.
    #[error("the listing has more than {max} pages, the limit set for it")]
    TooManyPages {
        /// The limit.
        max: u64,
    },
    /// The server sent a cursor or link that was already followed (it would loop forever).
    #[error(
        "the server repeated a cursor or link it had already sent; stopping instead of looping"
    )]
    Repeated,
    /// The server sent the same page again (the same records' ids, with
    /// [`Paginator::id_path`]) where the next one was asked for: an offset or cursor it
    /// ignores.
    #[error(
        "page {page} repeats the page before it (the same records); stopping instead of looping"
    )]
    RepeatedPage {
        /// The repeated page's number in the listing (1 = the first).
        page: u64,
    },
}

/// What to request next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The last page was received.
    Done,
    /// The same URL with these query params (replacing the pagination params).
    Query(Vec<(String, String)>),
    /// This URL (from a link), already checked to be on the API's host.
    Url(Url),
}

/// The state of one paginated listing.
#[derive(Debug, Clone)]
pub struct Paginator {
    config: PaginateConfig,
    limit: Option<u32>,
    origin: Url,
    offset: i64,
    page: u64,
    max_pages: Option<u64>,
    seen: BTreeSet<String>,
    /// Where a record's id is (for [`PageError::RepeatedPage`]).
    id_path: Option<Text>,
    /// The previous page's fingerprint (SHA-256 of its ids).
    previous: Option<[u8; 32]>,
}

/// The value at a lodash-style path (`a.b[0].c`).
pub fn value_at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let mut current = value;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, indexes) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            current = current.get(name)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let n: usize = index.strip_suffix(']')?.parse().ok()?;
            current = current.get(n)?;
        }
    }
    Some(current)
}

/// The URL of `rel` in a `Link` header (`<https://…>; rel="next", <…>; rel="prev"`).
pub fn link_with_rel<'h>(header: &'h str, rel: &str) -> Option<&'h str> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let matches = params.split(';').any(|p| {
            let Some((k, v)) = p.trim().split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(rel))
        });
        matches.then_some(target)
    })
}

impl Paginator {
    /// A listing of the API at `origin` (its base URL: links must stay on its host), with an
    /// optional page size.
    pub fn new(config: PaginateConfig, origin: Url, limit: Option<u32>) -> Self {
        Paginator {
            offset: config.offset_start,
            config,
            limit,
            origin,
            page: 0,
            max_pages: None,
            seen: BTreeSet::new(),
            id_path: None,
            previous: None,
        }
    }

    /// Records have their id at `path` (lodash style): a page with the same ids as the page
    /// before it is [`PageError::RepeatedPage`], whatever the kind of pagination.
    pub fn id_path(mut self, path: impl Into<Text>) -> Self {
        self.id_path = Some(path.into());
        self
    }

    /// A page's fingerprint: the SHA-256 of its records' ids (`None` without an id path, or
    /// when a record has no id there).
    fn fingerprint(&self, records: &[Value]) -> Option<[u8; 32]> {
        use sha2::Digest as _;
        let path = self.id_path.as_deref()?;
        let mut hash = sha2::Sha256::new();
        for r in records {
            match value_at(r, path)? {
                Value::String(s) => hash.update(format!("s{}:{s}", s.len()).as_bytes()),
                Value::Number(n) => hash.update(format!("n{n};").as_bytes()),
                _ => return None,
            }
        }
        Some(hash.finalize().into())
    }

    /// Whether this (second) page may be the first one again: page numbers counted from 0
    /// against an API whose pages may start at 1 (Personio's absence periods do not say)
    /// give the first page at offsets 0 and 1. Once, on the second page, that is no loop.
    fn first_page_twice(&self) -> bool {
        self.page == 2
            && self.config.kind == PageKind::Offset
            && self.config.offset_step == OffsetStep::PerPage
            && self.config.offset_start == 0
    }

    /// At most `max` pages: asking for one more is [`PageError::TooManyPages`] (never a
    /// silent stop, which would pass for the end of the listing).
    pub fn max_pages(mut self, max: u64) -> Self {
        self.max_pages = Some(max);
        self
    }

    /// Continues a listing that stood at `offset` after `pages` pages (a [`Paginator::offset`]
    /// and [`Paginator::pages`] saved between two pages). Cursors and links seen before are
    /// not known again; the page cap counts from `pages`.
    pub fn resume_at(mut self, offset: i64, pages: u64) -> Self {
        self.offset = offset;
        self.page = pages;
        self
    }

    /// The offset the next request carries (offset pagination; else the start value).
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// How many pages were received.
    pub fn pages(&self) -> u64 {
        self.page
    }

    /// Where a page's records are (`response_path`; empty: the body itself).
    pub fn response_path(&self) -> &str {
        self.config.response_path.as_deref().unwrap_or("")
    }

    fn limit_param(&self) -> Option<(String, String)> {
        Some((
            self.config.limit_name.as_deref()?.to_owned(),
            self.limit?.to_string(),
        ))
    }

    /// The pagination query params of the first request.
    pub fn first_query(&self) -> Vec<(String, String)> {
        let mut query: Vec<(String, String)> = self.limit_param().into_iter().collect();
        if let (PageKind::Offset, Some(name)) =
            (self.config.kind, self.config.offset_name.as_deref())
        {
            query.push((name.to_owned(), self.offset.to_string()));
        }
        query
    }

    /// The records of a page.
    pub fn records<'v>(&self, body: &'v Value) -> Result<&'v [Value], PageError> {
        let path = self.config.response_path.as_deref().unwrap_or("");
        value_at(body, path)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .ok_or_else(|| PageError::NoRecords {
                path: path.to_owned(),
            })
    }

    /// What to request after the page `body` (received from `current`, with its `Link`
    /// header if any).
    pub fn next(
        &mut self,
        current: &Url,
        body: &Value,
        link_header: Option<&str>,
    ) -> Result<Next, PageError> {
        let records = self.records(body)?;
        let received = records.len();
        self.page += 1;
        if received == 0 {
            return Ok(Next::Done);
        }
        let fingerprint = self.fingerprint(records);
        if fingerprint.is_some()
            && std::mem::replace(&mut self.previous, fingerprint) == fingerprint
            && !self.first_page_twice()
        {
            return Err(PageError::RepeatedPage { page: self.page });
        }
        if let Some(total) = self
            .config
            .total_pages_path
            .as_deref()
            .and_then(|p| value_at(body, p))
            .and_then(Value::as_u64)
            && self.page >= total
        {
            return Ok(Next::Done);
        }
        let next = self.next_page(current, body, link_header, received)?;
        if let (Some(max), Next::Query(_) | Next::Url(_)) = (self.max_pages, &next)
            && self.page >= max
        {
            return Err(PageError::TooManyPages { max });
        }
        Ok(next)
    }

    fn next_page(
        &mut self,
        current: &Url,
        body: &Value,
        link_header: Option<&str>,
        received: usize,
    ) -> Result<Next, PageError> {
        match self.config.kind {
            PageKind::Offset => {
                if self.limit.is_some_and(|l| received < l as usize) {
                    return Ok(Next::Done);
                }
                let step = match self.config.offset_step {
                    OffsetStep::PerPage => 1,
                    OffsetStep::ByResponseSize => {
                        i64::try_from(received).map_err(|_| PageError::OffsetOverflow)?
                    }
                };
                self.offset = self
                    .offset
                    .checked_add(step)
                    .ok_or(PageError::OffsetOverflow)?;
                Ok(Next::Query(self.first_query()))
            }
            PageKind::Cursor => {
                let cursor = self
                    .config
                    .cursor_path
                    .as_deref()
                    .and_then(|p| value_at(body, p));
                let cursor = match cursor {
                    Some(Value::String(s)) if !s.is_empty() => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Ok(Next::Done),
                };
                if !self.seen.insert(cursor.clone()) {
                    return Err(PageError::Repeated);
                }
                let mut query: Vec<(String, String)> = self.limit_param().into_iter().collect();
                if let Some(name) = self.config.cursor_name.as_deref() {
                    query.push((name.to_owned(), cursor));
                }
                Ok(Next::Query(query))
            }
            PageKind::Link => {
                let from_header = self
                    .config
                    .link_rel
                    .as_deref()
                    .zip(link_header)
                    .and_then(|(rel, h)| link_with_rel(h, rel));
                let from_body = self
                    .config
                    .link_path
                    .as_deref()
                    .and_then(|p| value_at(body, p))
                    .and_then(Value::as_str);
                let Some(link) = from_header.or(from_body).filter(|l| !l.trim().is_empty()) else {
                    return Ok(Next::Done);
                };
                let url = current
                    .join(link.trim())
                    .map_err(|_| PageError::InvalidLink)?;
                if url.scheme() != self.origin.scheme()
                    || url.host_str() != self.origin.host_str()
                    || url.port_or_known_default() != self.origin.port_or_known_default()
                {
                    return Err(PageError::ForeignHost {
                        expected: format!(
                            "{}://{}",
                            self.origin.scheme(),
                            self.origin.host_str().unwrap_or_default()
                        ),
                        found: format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default()),
                    });
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(PageError::LinkUserinfo);
                }
                let base = self.origin.path().trim_end_matches('/');
                let path = url.path();
                if !base.is_empty()
                    && path != base
                    && !path
                        .strip_prefix(base)
                        .is_some_and(|rest| rest.starts_with('/'))
                {
                    return Err(PageError::OutsideBase {
                        base: self.origin.path().to_owned(),
                        found: path.to_owned(),
                    });
                }
                if !self.seen.insert(url.as_str().to_owned()) || url == *current {
                    return Err(PageError::Repeated);
                }
                Ok(Next::Url(url))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Personio's shapes, as the repository's catalog states them for the client (with the
    // total page count of v1 lists added), for the tests of each kind.
    /// Personio's v1 lists (`/v1/company/employees`): `limit` and an item `offset`, records
    /// in `data`, `metadata.total_pages` as the end.
    const PERSONIO_V1: PaginateConfig = PaginateConfig {
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

    /// Personio's v2 lists (`/v2/persons`): `limit`, records in `_data`, the next page's URL
    /// in `_meta.links.next.href` (absolute or relative), absent on the last page.
    const PERSONIO_V2: PaginateConfig = PaginateConfig {
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
    use serde_json::json;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn paths_and_link_headers() {
        let v = json!({"a": {"b": [{"c": 1}, {"c": 2}]}});
        assert_eq!(value_at(&v, "a.b[1].c"), Some(&json!(2)));
        assert_eq!(value_at(&v, ""), Some(&v));
        assert_eq!(value_at(&v, "a.x"), None);
        assert_eq!(value_at(&v, "a.b[9]"), None);
        let h =
            r#"<https://api.x.com/p?page=1>; rel="prev", <https://api.x.com/p?page=3>; rel="next""#;
        assert_eq!(link_with_rel(h, "next"), Some("https://api.x.com/p?page=3"));
        assert_eq!(link_with_rel(h, "last"), None);
    }

    #[test]
    fn personio_v1_offsets_by_items_and_stops_at_total_pages() {
        let base = url("https://api.personio.de/v1/company/employees");
        let mut p = Paginator::new(PERSONIO_V1, base.clone(), Some(2));
        assert_eq!(
            p.first_query(),
            [("limit".into(), "2".into()), ("offset".into(), "0".into())]
        );
        let page = |n: u64| json!({"success": true, "metadata": {"total_pages": 2, "current_page": n}, "data": [{}, {}]});
        assert_eq!(p.records(&page(0)).unwrap().len(), 2);
        assert_eq!(
            p.next(&base, &page(0), None).unwrap(),
            Next::Query(vec![
                ("limit".into(), "2".into()),
                ("offset".into(), "2".into())
            ])
        );
        assert_eq!(
            p.next(&base, &page(1), None).unwrap(),
            Next::Done,
            "page T-1 is the last"
        );
    }

    #[test]
    fn offsets_per_page_and_short_pages() {
        let cfg = PaginateConfig {
            offset_step: OffsetStep::PerPage,
            total_pages_path: None,
            offset_start: 1,
            ..PERSONIO_V1
        };
        let base = url("https://api.x.com/items");
        let mut p = Paginator::new(cfg, base.clone(), Some(3));
        let full = json!({"data": [1, 2, 3]});
        assert_eq!(
            p.next(&base, &full, None).unwrap(),
            Next::Query(vec![
                ("limit".into(), "3".into()),
                ("offset".into(), "2".into())
            ])
        );
        assert_eq!(
            p.next(&base, &json!({"data": [1]}), None).unwrap(),
            Next::Done
        );
        assert_eq!(
            p.next(&base, &json!({"data": []}), None).unwrap(),
            Next::Done
        );
        assert_eq!(
            p.next(&base, &json!({"items": []}), None),
            Err(PageError::NoRecords {
                path: "data".into()
            })
        );
    }

    #[test]
    fn cursors_advance_and_must_not_repeat() {
        let cfg = PaginateConfig {
            kind: PageKind::Cursor,
            cursor_path: Some(Cow::Borrowed("meta.next_cursor")),
            cursor_name: Some(Cow::Borrowed("cursor")),
            response_path: Some(Cow::Borrowed("results")),
            ..PERSONIO_V2
        };
        let base = url("https://api.x.com/list");
        let mut p = Paginator::new(cfg.clone(), base.clone(), None);
        let page = |c: &str| json!({"results": [1], "meta": {"next_cursor": c}});
        assert_eq!(
            p.next(&base, &page("abc"), None).unwrap(),
            Next::Query(vec![("cursor".into(), "abc".into())])
        );
        assert_eq!(p.next(&base, &page("abc"), None), Err(PageError::Repeated));
        let mut p = Paginator::new(cfg, base.clone(), None);
        assert_eq!(p.next(&base, &page(""), None).unwrap(), Next::Done);
    }

    #[test]
    fn links_stay_under_the_base_path_and_carry_no_user_info() {
        let page =
            |href: &str| json!({"_data": [{}], "_meta": {"links": {"next": {"href": href}}}});
        let current = url("https://api.x.com/v2/items");
        for (origin, link, expected) in [
            ("https://api.x.com/v2", "../../x", Some("/x")),
            ("https://api.x.com/v2", "/v2x/items", Some("/v2x/items")),
            (
                "https://api.x.com/v2/",
                "/v1/items?page=2",
                Some("/v1/items"),
            ),
            ("https://api.x.com/v2", "/v2/items/../../v3", Some("/v3")),
            ("https://api.x.com/v2", "/v2/other?page=2", None),
            ("https://api.x.com/v2", "/v2?page=2", None),
            ("https://api.x.com/v2/", "items?page=2", None),
            ("https://api.x.com", "/anything?page=2", None),
        ] {
            let mut p = Paginator::new(PERSONIO_V2, url(origin), None);
            let got = p.next(&current, &page(link), None);
            match expected {
                Some(found) => assert_eq!(
                    got,
                    Err(PageError::OutsideBase {
                        base: url(origin).path().to_owned(),
                        found: found.to_owned(),
                    }),
                    "{origin} + {link}"
                ),
                None => assert!(
                    matches!(got, Ok(Next::Url(_))),
                    "{origin} + {link}: {got:?}"
                ),
            }
        }
        for link in [
            "https://user:pw@api.x.com/v2/items?page=2",
            "https://user@api.x.com/v2/items?page=2",
            "https://:pw@api.x.com/v2/items?page=2",
        ] {
            let mut p = Paginator::new(PERSONIO_V2, url("https://api.x.com/v2"), None);
            assert_eq!(
                p.next(&current, &page(link), None),
                Err(PageError::LinkUserinfo),
                "{link}"
            );
        }
    }

    #[test]
    fn offsets_near_the_limit_are_an_error_not_a_panic() {
        let base = url("https://api.x.com/list");
        let two = json!({"data": [{}, {}]});
        for (start, step) in [
            (i64::MAX - 1, OffsetStep::ByResponseSize),
            (i64::MAX, OffsetStep::PerPage),
        ] {
            let cfg = PaginateConfig {
                offset_start: start,
                offset_step: step,
                total_pages_path: None,
                ..PERSONIO_V1
            };
            let mut p = Paginator::new(cfg, base.clone(), None);
            assert_eq!(
                p.next(&base, &two, None),
                Err(PageError::OffsetOverflow),
                "{start}"
            );
        }
        let cfg = PaginateConfig {
            offset_start: i64::MAX - 2,
            total_pages_path: None,
            ..PERSONIO_V1
        };
        let mut p = Paginator::new(cfg, base.clone(), None);
        assert_eq!(
            p.next(&base, &two, None).unwrap(),
            Next::Query(vec![("offset".into(), i64::MAX.to_string())])
        );
    }

    #[test]
    fn a_page_cap_is_an_error_past_the_last_allowed_page_only() {
        let cfg = PaginateConfig {
            kind: PageKind::Cursor,
            cursor_path: Some(Cow::Borrowed("next")),
            cursor_name: Some(Cow::Borrowed("cursor")),
            response_path: Some(Cow::Borrowed("results")),
            ..PERSONIO_V2
        };
        let base = url("https://api.x.com/list");
        let page = |c: &str| json!({"results": [1], "next": c});
        let mut p = Paginator::new(cfg.clone(), base.clone(), None).max_pages(2);
        assert!(matches!(
            p.next(&base, &page("a"), None),
            Ok(Next::Query(_))
        ));
        assert_eq!(
            p.next(&base, &page("b"), None),
            Err(PageError::TooManyPages { max: 2 })
        );
        // A listing that ends at the cap is complete.
        let mut p = Paginator::new(cfg, base.clone(), None).max_pages(2);
        assert!(matches!(
            p.next(&base, &page("a"), None),
            Ok(Next::Query(_))
        ));
        assert_eq!(p.next(&base, &page(""), None).unwrap(), Next::Done);
    }

    #[test]
    fn personio_v2_follows_relative_and_absolute_links_on_its_host_only() {
        let base = url("https://api.personio.de/v2/persons");
        let mut p = Paginator::new(PERSONIO_V2, base.clone(), Some(50));
        let page = |next: Option<&str>| match next {
            Some(href) => json!({"_data": [{}], "_meta": {"links": {"next": {"href": href}}}}),
            None => json!({"_data": [{}], "_meta": {"links": {}}}),
        };
        let Next::Url(u) = p
            .next(&base, &page(Some("/v2/persons?cursor=a")), None)
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(u.as_str(), "https://api.personio.de/v2/persons?cursor=a");
        let Next::Url(u2) = p
            .next(
                &u,
                &page(Some("https://api.personio.de/v2/persons?cursor=b")),
                None,
            )
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            p.next(
                &u2,
                &page(Some("https://api.personio.de/v2/persons?cursor=b")),
                None
            ),
            Err(PageError::Repeated)
        );
        let mut p = Paginator::new(PERSONIO_V2, base.clone(), None);
        for evil in [
            "https://evil.com/v2/persons",
            "//evil.com/x",
            "http://api.personio.de/v2/persons",
            "https://api.personio.de:8443/x",
        ] {
            assert!(
                matches!(
                    p.next(&base, &page(Some(evil)), None),
                    Err(PageError::ForeignHost { .. })
                ),
                "{evil}"
            );
        }
        assert_eq!(p.next(&base, &page(None), None).unwrap(), Next::Done);
    }

    #[test]
    fn a_page_that_repeats_the_one_before_is_an_error_for_every_kind() {
        let base = url("https://api.x.com/v2/items");
        let v1 = |ids: &[u64]| {
            let data: Vec<Value> = ids
                .iter()
                .map(|i| json!({"attributes": {"id": {"value": i}}, "n": 1}))
                .collect();
            json!({"metadata": {"total_pages": 1000}, "data": data})
        };
        // Offset: the same ids again (even with other content) at the next offset.
        let mut p =
            Paginator::new(PERSONIO_V1, base.clone(), Some(2)).id_path("attributes.id.value");
        assert!(matches!(
            p.next(&base, &v1(&[1, 2]), None),
            Ok(Next::Query(_))
        ));
        assert!(matches!(
            p.next(&base, &v1(&[3, 4]), None),
            Ok(Next::Query(_))
        ));
        let mut changed = v1(&[3, 4]);
        changed["data"][0]["n"] = json!(2);
        assert_eq!(
            p.next(&base, &changed, None),
            Err(PageError::RepeatedPage { page: 3 })
        );
        // Page numbers from 0 where pages may start at 1: the first page twice is no loop,
        // a third time is.
        let per_page = PaginateConfig {
            offset_step: OffsetStep::PerPage,
            offset_start: 0,
            total_pages_path: None,
            ..PERSONIO_V1
        };
        let mut p = Paginator::new(per_page, base.clone(), Some(2)).id_path("attributes.id.value");
        assert!(matches!(
            p.next(&base, &v1(&[1, 2]), None),
            Ok(Next::Query(_))
        ));
        assert!(matches!(
            p.next(&base, &v1(&[1, 2]), None),
            Ok(Next::Query(_))
        ));
        assert_eq!(
            p.next(&base, &v1(&[1, 2]), None),
            Err(PageError::RepeatedPage { page: 3 })
        );
        // Without an id path (or an id) pages are not compared.
        let mut p = Paginator::new(PERSONIO_V1, base.clone(), Some(2));
        assert!(matches!(p.next(&base, &changed, None), Ok(Next::Query(_))));
        assert!(matches!(p.next(&base, &changed, None), Ok(Next::Query(_))));
        let mut p = Paginator::new(PERSONIO_V1, base.clone(), Some(2)).id_path("id");
        assert!(matches!(p.next(&base, &changed, None), Ok(Next::Query(_))));
        assert!(matches!(p.next(&base, &changed, None), Ok(Next::Query(_))));
        // Cursor: a new cursor each time, the same page.
        let cfg = PaginateConfig {
            kind: PageKind::Cursor,
            cursor_path: Some(Cow::Borrowed("next")),
            cursor_name: Some(Cow::Borrowed("cursor")),
            response_path: Some(Cow::Borrowed("results")),
            ..PERSONIO_V2
        };
        let mut p = Paginator::new(cfg, base.clone(), None).id_path("id");
        let page = |c: &str| json!({"results": [{"id": "a"}, {"id": "b"}], "next": c});
        assert!(matches!(
            p.next(&base, &page("1"), None),
            Ok(Next::Query(_))
        ));
        assert_eq!(
            p.next(&base, &page("2"), None),
            Err(PageError::RepeatedPage { page: 2 })
        );
        // Link: a new link each time, the same page; ids "1" and 1 are not the same.
        let mut p = Paginator::new(PERSONIO_V2, url("https://api.x.com/v2"), None).id_path("id");
        let page = |id: Value, next: &str| json!({"_data": [{"id": id}], "_meta": {"links": {"next": {"href": next}}}});
        assert!(matches!(
            p.next(&base, &page(json!("1"), "/v2/items?c=1"), None),
            Ok(Next::Url(_))
        ));
        assert!(matches!(
            p.next(&base, &page(json!(1), "/v2/items?c=2"), None),
            Ok(Next::Url(_))
        ));
        assert_eq!(
            p.next(&base, &page(json!(1), "/v2/items?c=3"), None),
            Err(PageError::RepeatedPage { page: 3 })
        );
    }

    #[test]
    fn link_headers() {
        let cfg = PaginateConfig {
            link_rel: Some(Cow::Borrowed("next")),
            link_path: None,
            response_path: None,
            ..PERSONIO_V2
        };
        let base = url("https://api.github.com/repos");
        let mut p = Paginator::new(cfg, base.clone(), None);
        let body = json!([1, 2]);
        let h = r#"<https://api.github.com/repos?page=2>; rel="next""#;
        assert_eq!(
            p.next(&base, &body, Some(h)).unwrap(),
            Next::Url(url("https://api.github.com/repos?page=2"))
        );
        assert_eq!(p.next(&base, &body, None).unwrap(), Next::Done);
    }
}
