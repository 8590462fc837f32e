//! What a sync reads: a [`SyncSpec`] per model, declared in an integrations file (see
//! [`crate::integration`]) or in Rust.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use crate::paginate::PaginateConfig;

type Text = Cow<'static, str>;

/// A [`SyncSpec`] that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sync spec `{model}`: {reason}")]
pub struct SpecError {
    /// The model.
    pub model: String,
    /// Why.
    pub reason: String,
}

/// Whether `name` is a model name the store takes: 1 to 64 of `a-z`, `0-9`, `-`, `_`, `.`.
pub fn is_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// How an incremental run asks for what changed since the last complete run started.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Incremental {
    /// The query param (`updated_since`, `updated_at.gt`).
    pub param: Text,
    /// How the time is written.
    pub format: SinceFormat,
    /// Asked for this much earlier than the cursor: a provider that reads the time in
    /// another zone, or stamps changes late. The cursor itself is already in the provider's
    /// clock when it is behind (measured from each page's `Date` header). Records fetched
    /// twice are unchanged by hash, so an overlap costs requests, not correctness.
    pub overlap: Duration,
}

/// How the incremental filter's time is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SinceFormat {
    /// `2026-12-01T10:15:30Z` (RFC 3339, UTC, seconds).
    Rfc3339,
    /// `2026-12-01T10:15:30` (UTC without a zone: Personio v1's `updated_since`).
    NaiveUtc,
    /// `2026-12-01` (a UTC date).
    Date,
}

impl SinceFormat {
    /// `t` written in this format.
    pub fn write(self, t: SystemTime) -> String {
        let t = time::OffsetDateTime::from(t);
        let (y, m, d) = (t.year(), u8::from(t.month()), t.day());
        let (hh, mm, ss) = (t.hour(), t.minute(), t.second());
        match self {
            SinceFormat::Rfc3339 => format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"),
            SinceFormat::NaiveUtc => format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}"),
            SinceFormat::Date => format!("{y:04}-{m:02}-{d:02}"),
        }
    }
}

/// Records listed per record of another model (Personio v2's employments, per person).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Parent {
    /// The parent model (synced before; its current records are walked in id order).
    pub model: Text,
    /// The endpoint with `{id}` for the parent's id: `/persons/{id}/employments`.
    pub endpoint: Text,
    /// The parent record's endpoint, with `{id}` (`/persons/{id}`): a listing that answers
    /// 404 is taken for a parent gone only when this answers 404 too. `None`: never (the run
    /// fails instead).
    pub fetch_one: Option<Text>,
}

/// A request budget: what a sync may send per connection, kept under the provider's
/// documented limit instead of provoking 429s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Budget {
    /// Requests per minute.
    pub per_minute: u32,
    /// Requests at once after a pause.
    pub burst: u32,
}

impl Default for Budget {
    /// 60 per minute, bursts of 5: for a provider that documents no limit.
    fn default() -> Self {
        Budget {
            per_minute: 60,
            burst: 5,
        }
    }
}

/// A model to sync: where its records are listed, how pages follow, where a record's id is,
/// how an incremental run filters, and whether records hold personal data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncSpec {
    /// The provider key it is for (`personio`).
    pub provider: Text,
    /// The model's name in the store (`employees`).
    pub model: Text,
    /// The listing's endpoint below the provider's base URL.
    pub endpoint: Text,
    /// Pages as this says; `None`: the catalog's `proxy.paginate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<PaginateConfig>,
    /// The page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Where a record's id is (lodash style: `attributes.id.value`, `id`).
    pub id_path: Text,
    /// Query params sent with every page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<(Text, Text)>,
    /// How an incremental run filters; `None`: every run is full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<Incremental>,
    /// Whether records hold personal data (then encrypted in the store).
    pub personal: bool,
    /// Listed per record of another model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Parent>,
    /// One record's endpoint, with `{id}` (and `{parent}` for a child model): what a
    /// webhook's event is applied with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_one: Option<Text>,
    /// The request budget.
    pub budget: Budget,
    /// A complete full run holds its deletions when they are more than this percentage of
    /// the model's records (0 to 100; default 10), and always after an empty listing while
    /// the model has records (`terapi_store::DeleteGuard`).
    pub max_delete_percent: u8,
    /// Where a page states the listing's number of records (Personio v1:
    /// `metadata.total_elements`): a run whose record count differs is not complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_path: Option<Text>,
    /// Where a page states the listing's number of pages (Personio v1:
    /// `metadata.total_pages`), which the catalog format has no key for: no request past the
    /// last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pages_path: Option<Text>,
    /// Where a record states when it last changed, as an RFC 3339 time (`updated_at`). A
    /// page without a readable `Date` header bounds the provider's clock by its newest
    /// change, so the incremental cursor never follows only this host's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_path: Option<Text>,
    /// The model its records are typed as (a model of the integrations file), if declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Text>,
    /// How often a worker runs it (`runs: every 1h`); `None`: when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Duration>,
    /// Set when generated code could not read its description back: [`SyncSpec::check`]
    /// fails with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<Text>,
}

impl SyncSpec {
    /// A full-only spec of `model` listed at `endpoint`, ids at `id`, personal data.
    pub fn new(
        provider: impl Into<Text>,
        model: impl Into<Text>,
        endpoint: impl Into<Text>,
    ) -> SyncSpec {
        SyncSpec {
            provider: provider.into(),
            model: model.into(),
            endpoint: endpoint.into(),
            pagination: None,
            limit: None,
            id_path: Cow::Borrowed("id"),
            query: Vec::new(),
            incremental: None,
            personal: true,
            parent: None,
            fetch_one: None,
            budget: Budget::default(),
            max_delete_percent: 10,
            total_path: None,
            total_pages_path: None,
            updated_path: None,
            output: None,
            schedule: None,
            unreadable: None,
        }
    }

    /// Records are typed as the model `name`.
    pub fn output(mut self, name: impl Into<Text>) -> Self {
        self.output = Some(name.into());
        self
    }

    /// A worker runs it every `every`.
    pub fn schedule(mut self, every: Duration) -> Self {
        self.schedule = Some(every);
        self
    }

    /// Where a record's id is.
    pub fn id_path(mut self, path: impl Into<Text>) -> Self {
        self.id_path = path.into();
        self
    }

    /// Pages as `config` says.
    pub fn pagination(mut self, config: PaginateConfig) -> Self {
        self.pagination = Some(config);
        self
    }

    /// The page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// A query param of every page.
    pub fn query(mut self, name: impl Into<Text>, value: impl Into<Text>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Incremental runs filter with `param`.
    pub fn incremental(
        mut self,
        param: impl Into<Text>,
        format: SinceFormat,
        overlap: Duration,
    ) -> Self {
        self.incremental = Some(Incremental {
            param: param.into(),
            format,
            overlap,
        });
        self
    }

    /// Whether records hold personal data (the default: yes).
    pub fn personal(mut self, personal: bool) -> Self {
        self.personal = personal;
        self
    }

    /// Listed per record of `model` at `endpoint` (with `{id}`).
    pub fn per_parent(mut self, model: impl Into<Text>, endpoint: impl Into<Text>) -> Self {
        self.parent = Some(Parent {
            model: model.into(),
            endpoint: endpoint.into(),
            fetch_one: None,
        });
        self
    }

    /// The parent record's endpoint (with `{id}`): what confirms that a parent whose listing
    /// answers 404 is gone. Call after [`SyncSpec::per_parent`].
    pub fn parent_fetch_one(mut self, endpoint: impl Into<Text>) -> Self {
        if let Some(parent) = &mut self.parent {
            parent.fetch_one = Some(endpoint.into());
        }
        self
    }

    /// Deletions of more than `percent` % of the records are held (see
    /// [`SyncSpec::max_delete_percent`]).
    pub fn max_delete_percent(mut self, percent: u8) -> Self {
        self.max_delete_percent = percent;
        self
    }

    /// Records state their last change at `path` (RFC 3339; see
    /// [`SyncSpec::updated_path`]).
    pub fn updated_path(mut self, path: impl Into<Text>) -> Self {
        self.updated_path = Some(path.into());
        self
    }

    /// Pages state the listing's number of records at `path`.
    pub fn total_path(mut self, path: impl Into<Text>) -> Self {
        self.total_path = Some(path.into());
        self
    }

    /// Pages state the listing's number of pages at `path`: the run ends on the last page
    /// instead of asking for an empty one after it.
    pub fn total_pages_path(mut self, path: impl Into<Text>) -> Self {
        self.total_pages_path = Some(path.into());
        self
    }

    /// One record's endpoint (with `{id}`, and `{parent}` for a child model).
    pub fn fetch_one(mut self, endpoint: impl Into<Text>) -> Self {
        self.fetch_one = Some(endpoint.into());
        self
    }

    /// The request budget.
    pub fn budget(mut self, per_minute: u32, burst: u32) -> Self {
        self.budget = Budget { per_minute, burst };
        self
    }

    /// Checks the spec: a model name the store takes, an endpoint, a budget above zero.
    pub fn check(&self) -> Result<(), SpecError> {
        let bad = |why: String| SpecError {
            model: self.model.escape_default().to_string(),
            reason: why,
        };
        if let Some(reason) = &self.unreadable {
            return Err(bad(reason.to_string()));
        }
        if !is_model_name(&self.model) {
            return Err(bad(
                "the model name is not 1 to 64 of `a-z`, `0-9`, `-`, `_` and `.`".to_owned(),
            ));
        }
        if !self.endpoint.starts_with('/') {
            return Err(bad(format!(
                "the endpoint `{}` does not start with `/`",
                self.endpoint
            )));
        }
        if self.budget.per_minute == 0 || self.budget.burst == 0 {
            return Err(bad("the budget allows no request".to_owned()));
        }
        if let Some(parent) = &self.parent
            && !parent.endpoint.contains("{id}")
        {
            return Err(bad(format!(
                "the per-parent endpoint `{}` has no `{{id}}`",
                parent.endpoint
            )));
        }
        if let Some(Parent {
            fetch_one: Some(one),
            ..
        }) = &self.parent
            && !one.contains("{id}")
        {
            return Err(bad(format!(
                "the parent record endpoint `{one}` has no `{{id}}`"
            )));
        }
        if self.max_delete_percent > 100 {
            return Err(bad(format!(
                "max_delete_percent is a percentage from 0 to 100, got {}",
                self.max_delete_percent
            )));
        }
        if self.id_path.is_empty() {
            return Err(bad("the record id path is empty".to_owned()));
        }
        if self.schedule == Some(Duration::ZERO) {
            return Err(bad("the schedule is zero".to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_formats() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_584_130);
        assert_eq!(SinceFormat::Rfc3339.write(t), "2025-12-01T10:15:30Z");
        assert_eq!(SinceFormat::NaiveUtc.write(t), "2025-12-01T10:15:30");
        assert_eq!(SinceFormat::Date.write(t), "2025-12-01");
    }

    #[test]
    fn specs_are_checked() {
        assert!(SyncSpec::new("p", "employees", "/x").check().is_ok());
        assert!(SyncSpec::new("p", "Employees", "/x").check().is_err());
        assert!(SyncSpec::new("p", "e", "x").check().is_err());
        assert!(SyncSpec::new("p", "e", "/x").budget(0, 1).check().is_err());
        assert!(
            SyncSpec::new("p", "e", "/x")
                .per_parent("persons", "/persons/employments")
                .check()
                .is_err()
        );
        assert!(
            SyncSpec::new("p", "e", "/x")
                .per_parent("persons", "/persons/{id}/employments")
                .parent_fetch_one("/persons")
                .check()
                .is_err()
        );
        let e = SyncSpec::new("p", "e", "/x")
            .max_delete_percent(101)
            .check()
            .unwrap_err();
        assert!(
            e.to_string().contains("max_delete_percent") && e.to_string().contains("101"),
            "{e}"
        );
        assert!(
            SyncSpec::new("p", "e", "/x")
                .max_delete_percent(100)
                .check()
                .is_ok()
        );
    }
}
