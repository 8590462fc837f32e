//! Pagination as a `Stream` of records.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::de::DeserializeOwned;

use super::Connection;
use super::error::Error;
use super::walk::{ListingOptions, PageWalk};
use crate::paginate::PaginateConfig;

type Inner<T> = Pin<Box<dyn Stream<Item = Result<T, Error>> + Send>>;

/// Every record of a paginated listing, page after page, each decoded as `T` (use
/// `serde_json::Value` to take records as they are). Made by [`Connection::paginate`] and
/// [`Connection::paginate_with`]; set a page size with [`Pages::limit`] and more query params
/// with [`Pages::query`] before polling.
///
/// The stream ends after the last page. It yields one error and ends when a request fails,
/// when a record does not decode, when a page has no records array where the config says,
/// when a `next` link leads to another host (the token would go there), out of the base URL's
/// path or carries user info, when the server repeats a cursor or link (it would loop
/// forever), when an offset would overflow, or past [`Pages::max_pages`].
#[must_use = "streams do nothing unless polled"]
pub struct Pages<T> {
    setup: Option<Setup>,
    inner: Option<Inner<T>>,
    _records: PhantomData<fn() -> T>,
}

struct Setup {
    conn: Connection,
    endpoint: String,
    config: Option<PaginateConfig>,
    limit: Option<u32>,
    max_pages: Option<u64>,
    query: Vec<(String, String)>,
}

impl<T> std::fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Pages");
        if let Some(s) = &self.setup {
            d.field("provider", &s.conn.provider())
                .field("endpoint", &s.endpoint)
                .field("limit", &s.limit);
        }
        d.finish_non_exhaustive()
    }
}

impl<T> Pages<T> {
    pub(crate) fn new(conn: Connection, endpoint: String, config: Option<PaginateConfig>) -> Self {
        Pages {
            setup: Some(Setup {
                conn,
                endpoint,
                config,
                limit: None,
                max_pages: None,
                query: Vec::new(),
            }),
            inner: None,
            _records: PhantomData,
        }
    }

    /// The page size, sent as the config's limit param (Personio: at most 100 in v1).
    pub fn limit(mut self, limit: u32) -> Self {
        if let Some(s) = &mut self.setup {
            s.limit = Some(limit);
        }
        self
    }

    /// At most `max` pages: the stream yields [`PageError::TooManyPages`] instead of asking
    /// for one more (a server that never ends a listing cannot keep it going forever).
    ///
    /// [`PageError::TooManyPages`]: crate::paginate::PageError::TooManyPages
    pub fn max_pages(mut self, max: u64) -> Self {
        if let Some(s) = &mut self.setup {
            s.max_pages = Some(max);
        }
        self
    }

    /// Query params sent with every page (filters, say).
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        if let Some(s) = &mut self.setup {
            s.query.extend(
                pairs
                    .iter()
                    .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())),
            );
        }
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> Pages<T> {
    fn start(setup: Setup) -> Inner<T> {
        use futures_util::{StreamExt as _, TryStreamExt as _, stream};
        let options = ListingOptions {
            config: setup.config,
            limit: setup.limit,
            max_pages: setup.max_pages,
            query: setup.query,
            ..ListingOptions::default()
        };
        let walk = PageWalk::start(&setup.conn, setup.endpoint, options, None);
        match walk {
            Err(e) => stream::once(async move { Err(e) }).boxed(),
            Ok(walk) => {
                let path = walk.path().to_owned();
                stream::try_unfold(walk, |mut walk| async move {
                    Ok::<_, Error>(walk.next_page().await?.map(|page| (page.records, walk)))
                })
                .map_ok(move |records| {
                    let path = path.clone();
                    stream::iter(records.into_iter().map(move |record| {
                        serde_json::from_value::<T>(record).map_err(|e| Error::Decode {
                            method: "GET".to_owned(),
                            path: path.clone(),
                            status: 200,
                            message: format!("a record does not decode: {e}"),
                        })
                    }))
                })
                .try_flatten()
                .boxed()
            }
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> Stream for Pages<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.inner.is_none()
            && let Some(setup) = this.setup.take()
        {
            this.inner = Some(Self::start(setup));
        }
        let Some(inner) = &mut this.inner else {
            return Poll::Ready(None);
        };
        let item = inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Err(_))) = &item {
            // One error ends the listing.
            this.inner = None;
        }
        item
    }
}
