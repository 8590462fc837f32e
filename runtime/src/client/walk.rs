//! A listing one page at a time, with the position between pages as a value that can be saved
//! and resumed from (what a sync checkpoints), and the rate-limit hints of each page.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use super::error::{Error, Step};
use super::request::{Outgoing, append_query};
use super::{Connection, Method, url_check};
use crate::paginate::{Next, PageError, PaginateConfig, Paginator};

/// Where a listing stands between two pages: the next request's URL and the paginator's
/// counters. Saved after a page, it continues the listing with [`Connection::walk`]
/// (in another process, after a restart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagePosition {
    /// The next request's URL (on the connection's API; checked again on resume).
    pub url: String,
    /// The offset the next request carries (offset pagination).
    pub offset: i64,
    /// How many pages were received before it.
    pub pages: u64,
}

/// What a response said about the rate limit, from `Retry-After` and the usual
/// `X-RateLimit-*` / `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHints {
    /// `Retry-After`: wait this long before the next request.
    pub retry_after: Option<Duration>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// Requests allowed per window.
    pub limit: Option<u64>,
    /// When the window resets, from now.
    pub reset_after: Option<Duration>,
}

impl RateHints {
    /// Reads the hints from a response's headers (`header(name)` gives a value).
    pub fn read<'h>(header: impl Fn(&str) -> Option<&'h str>, now: SystemTime) -> RateHints {
        let number = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| header(n).and_then(|v| v.trim().parse::<u64>().ok()))
        };
        let reset = ["x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset"]
            .iter()
            .find_map(|n| header(n))
            .and_then(|v| {
                let v = v.trim().parse::<u64>().ok()?;
                let now_secs = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
                // A unix time (seconds) or a number of seconds from now.
                Some(if v > 1_000_000_000 {
                    Duration::from_secs(v.saturating_sub(now_secs))
                } else {
                    Duration::from_secs(v)
                })
            })
            .map(|d| d.min(Duration::from_secs(3600)));
        RateHints {
            retry_after: header("retry-after")
                .and_then(|v| crate::retry::parse_retry_after(v, now))
                .map(|d| d.min(Duration::from_secs(3600))),
            remaining: number(&[
                "x-ratelimit-remaining",
                "ratelimit-remaining",
                "x-rate-limit-remaining",
            ]),
            limit: number(&["x-ratelimit-limit", "ratelimit-limit", "x-rate-limit-limit"]),
            reset_after: reset,
        }
    }
}

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    /// The records, as the server sent them.
    pub records: Vec<serde_json::Value>,
    /// Where the listing continues; `None` after the last page.
    pub next: Option<PagePosition>,
    /// What the response said about the rate limit.
    pub rate: RateHints,
    /// The server's clock when it answered: its `Date` header (whole seconds), if it sent
    /// a valid one. A sync measures the provider's clock skew with it.
    pub date: Option<SystemTime>,
    /// The number of records the listing has, as this page states it (at
    /// [`ListingOptions::total_path`]; `None` without one, or when the page states none).
    pub total: Option<u64>,
}

/// A paginated listing read page by page (made by [`Connection::walk`]): the same requests,
/// checks and guards as [`Pages`](super::Pages), with the position after each page.
pub struct PageWalk {
    conn: Connection,
    endpoint: String,
    paginator: Paginator,
    /// The listing's URL without pagination params.
    url: Url,
    caller_query: Vec<(String, String)>,
    next: Option<Url>,
    total_path: Option<String>,
}

impl std::fmt::Debug for PageWalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageWalk")
            .field("provider", &self.conn.provider())
            .field("endpoint", &self.endpoint)
            .field("pages", &self.paginator.pages())
            .finish_non_exhaustive()
    }
}

/// How a listing is read: made with [`ListingOptions::default`] and its setters.
#[derive(Debug, Clone, Default)]
pub struct ListingOptions {
    pub(crate) config: Option<PaginateConfig>,
    pub(crate) limit: Option<u32>,
    pub(crate) max_pages: Option<u64>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) id_path: Option<String>,
    pub(crate) total_path: Option<String>,
    pub(crate) total_pages_path: Option<String>,
}

impl ListingOptions {
    /// Paginated as `config` says instead of the catalog's `proxy.paginate`.
    pub fn pagination(mut self, config: PaginateConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// The page size, sent as the config's limit param.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// At most `max` pages (an error instead of one more).
    pub fn max_pages(mut self, max: u64) -> Self {
        self.max_pages = Some(max);
        self
    }

    /// Records have their id at `path` (lodash style): a page with the same ids as the one
    /// before it is an error ([`PageError::RepeatedPage`]) instead of a loop, whatever the
    /// kind of pagination.
    pub fn id_path(mut self, path: impl Into<String>) -> Self {
        self.id_path = Some(path.into());
        self
    }

    /// The body states the listing's number of records at `path` (lodash style: Personio
    /// v1's `metadata.total_elements`): each [`Page::total`] reads it.
    pub fn total_path(mut self, path: impl Into<String>) -> Self {
        self.total_path = Some(path.into());
        self
    }

    /// The body states the number of pages at `path` (Personio v1's `metadata.total_pages`),
    /// which the catalog format has no key for: no request is made past the last page. It
    /// applies to the pagination in use (the catalog's, or [`ListingOptions::pagination`]).
    pub fn total_pages_path(mut self, path: impl Into<String>) -> Self {
        self.total_pages_path = Some(path.into());
        self
    }

    /// A query param sent with every page (a filter, say).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }
}

impl PageWalk {
    pub(crate) fn start(
        conn: &Connection,
        endpoint: String,
        options: ListingOptions,
        from: Option<&PagePosition>,
    ) -> Result<PageWalk, Error> {
        let mut config = options
            .config
            .or_else(|| conn.spec().paginate.clone())
            .ok_or_else(|| Error::NoPagination {
                provider: conn.spec().key.clone(),
            })?;
        if let Some(path) = options.total_pages_path {
            config.total_pages_path = Some(path.into());
        }
        let url = url_check::join(&conn.inner.base, &endpoint, Step::Request)?;
        let mut paginator = Paginator::new(config, conn.inner.base.clone(), options.limit);
        if let Some(max) = options.max_pages {
            paginator = paginator.max_pages(max);
        }
        if let Some(path) = &options.id_path {
            paginator = paginator.id_path(path.clone());
        }
        let next = match from {
            None => {
                let mut first = url.clone();
                append_query(&mut first, &options.query);
                append_query(&mut first, &paginator.first_query());
                first
            }
            Some(position) => {
                let at = Url::parse(&position.url).map_err(|e| Error::Url {
                    step: Step::Request,
                    message: format!("the saved page position is not a URL ({e})"),
                })?;
                if !url_check::same_origin(&at, &url)
                    || !at
                        .path()
                        .starts_with(conn.inner.base.path().trim_end_matches('/'))
                    || !at.username().is_empty()
                    || at.password().is_some()
                {
                    return Err(Error::Url {
                        step: Step::Request,
                        message: format!(
                            "the saved page position leads to {} {}, not below the connection's API {}",
                            url_check::origin_text(&at),
                            at.path(),
                            url_check::origin_text(&url)
                        ),
                    });
                }
                paginator = paginator.resume_at(position.offset, position.pages);
                at
            }
        };
        Ok(PageWalk {
            conn: conn.clone(),
            endpoint,
            paginator,
            url,
            caller_query: options.query,
            next: Some(next),
            total_path: options.total_path,
        })
    }

    /// The listing's path (for messages).
    pub(crate) fn path(&self) -> &str {
        self.url.path()
    }

    /// The next page, or `None` after the last one (and after an error).
    pub async fn next_page(&mut self) -> Result<Option<Page>, Error> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let out = Outgoing {
            step: Step::Request,
            method: Method::GET,
            url: url.clone(),
            endpoint: &self.endpoint,
            headers: &[],
            body: None,
            timeout: self.conn.inner.settings.timeout,
            provider_headers: true,
            verification_headers: false,
            idempotent: None,
            budget: None,
            max_attempts: None,
            whole_bodies: false,
        };
        let exchanged = self.conn.exchange(&out).await?;
        let response = self.conn.finish(exchanged, &out)?;
        let rate = RateHints::read(|n| response.header(n), SystemTime::now());
        let date = response
            .header("date")
            .and_then(|v| httpdate::parse_http_date(v.trim()).ok());
        let mut body: serde_json::Value = response.json()?;
        let page_error = |source| Error::Page {
            path: url.path().to_owned(),
            source,
        };
        self.paginator.records(&body).map_err(page_error)?;
        let link = response.header("link");
        let next = match self.paginator.next(&url, &body, link).map_err(page_error)? {
            Next::Done => None,
            Next::Query(pagination) => {
                let mut next = self.url.clone();
                append_query(&mut next, &self.caller_query);
                append_query(&mut next, &pagination);
                Some(next)
            }
            Next::Url(next) => {
                if !url_check::same_origin(&next, &self.url) {
                    return Err(page_error(PageError::ForeignHost {
                        expected: url_check::origin_text(&self.url),
                        found: url_check::origin_text(&next),
                    }));
                }
                Some(next)
            }
        };
        let total = self
            .total_path
            .as_deref()
            .and_then(|p| crate::paginate::value_at(&body, p))
            .and_then(serde_json::Value::as_u64);
        let records = take_records(&mut body, &self.paginator);
        self.next = next;
        Ok(Some(Page {
            records,
            next: self.next.as_ref().map(|u| PagePosition {
                url: u.as_str().to_owned(),
                offset: self.paginator.offset(),
                pages: self.paginator.pages(),
            }),
            rate,
            date,
            total,
        }))
    }
}

/// Moves the records out of a page's body (already checked to be an array).
fn take_records(body: &mut serde_json::Value, paginator: &Paginator) -> Vec<serde_json::Value> {
    let path = paginator.response_path();
    let mut current = body;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, indexes) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            match current.get_mut(name) {
                Some(v) => current = v,
                None => return Vec::new(),
            }
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let Some(n) = index
                .strip_suffix(']')
                .and_then(|i| i.parse::<usize>().ok())
            else {
                return Vec::new();
            };
            match current.get_mut(n) {
                Some(v) => current = v,
                None => return Vec::new(),
            }
        }
    }
    match current.take() {
        serde_json::Value::Array(records) => records,
        _ => Vec::new(),
    }
}

impl Connection {
    /// A paginated listing read page by page, from its first page or from a saved
    /// [`PagePosition`] (see [`PageWalk`]).
    pub fn walk(
        &self,
        endpoint: impl Into<String>,
        options: ListingOptions,
        from: Option<&PagePosition>,
    ) -> Result<PageWalk, Error> {
        PageWalk::start(self, endpoint.into(), options, from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_hints_from_headers() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let headers = [
            ("retry-after", "3"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-limit", "300"),
            ("x-ratelimit-reset", "2000000030"),
        ];
        let h = RateHints::read(
            |n| headers.iter().find(|(k, _)| *k == n).map(|(_, v)| *v),
            now,
        );
        assert_eq!(h.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(h.remaining, Some(0));
        assert_eq!(h.limit, Some(300));
        assert_eq!(h.reset_after, Some(Duration::from_secs(30)));
        let none = RateHints::read(|_| None, now);
        assert_eq!(none, RateHints::default());
        let relative = RateHints::read(|n| (n == "ratelimit-reset").then_some("12"), now);
        assert_eq!(relative.reset_after, Some(Duration::from_secs(12)));
    }
}
