//! Ready-made specs for Personio, from `../shared/reference/personio-sync-and-webhooks.md`.
//!
//! - `personio` (API v1): `employees` (`/company/employees`: `limit` ≤ 100 and an item
//!   `offset`, `metadata.total_pages`; incremental through `updated_since`), `attendances`
//!   (`/company/attendances`: its required `start_date`/`end_date` window, `updated_from`)
//!   and `absence-periods` (`/company/absence-periods`: a page-level offset, `updated_from`).
//!   v1 lists show no deletions: only a complete full run finds them. Employees and
//!   attendances state `metadata.total_elements`: a run that lists another number of
//!   records is not complete (nothing deleted; the next run starts over).
//! - `personio-v2`: `persons` (`/persons`: `limit` ≤ 50 and `_meta.links.next`; incremental
//!   through `updated_at.gt`) and `employments` (per person: `/persons/{id}/employments`;
//!   Personio has no company-wide employment list; a person's listing that answers 404
//!   counts as the person gone only when `/persons/{id}` answers 404 too).
//!
//! Pagination is the catalog's (`proxy.paginate` of each entry), with v1's page count
//! (`metadata.total_pages`, which the catalog format has no key for), except where an
//! endpoint departs from it (absence periods count pages, not records).
//!
//! Budgets: v1 employees are limited to 300 requests per minute in bursts of 15 per second;
//! the other endpoints document no limit, and the same budget is used for them.

use std::borrow::Cow;
use std::time::Duration;

use terapi_runtime::client::PaginateConfig;
use terapi_runtime::paginate::{OffsetStep, PageKind};

use terapi_runtime::sync::{SinceFormat, SyncSpec};

/// `personio` v1 employees: incremental through `updated_since`. The time is sent as UTC
/// without a zone and Personio's reading of it is not documented, so it overlaps by a day.
pub fn employees() -> SyncSpec {
    SyncSpec::new("personio", "employees", "/company/employees")
        .limit(100)
        .id_path("attributes.id.value")
        .total_path("metadata.total_elements")
        .total_pages_path("metadata.total_pages")
        .updated_path("attributes.last_modified_at.value")
        .incremental(
            "updated_since",
            SinceFormat::NaiveUtc,
            Duration::from_secs(24 * 3600),
        )
        .budget(300, 15)
}

/// `personio` v1 attendances (`start_date`/`end_date` are required: a window from 2000 to
/// 2099), incremental through `updated_from`.
pub fn attendances() -> SyncSpec {
    SyncSpec::new("personio", "attendances", "/company/attendances")
        .limit(200)
        .query("start_date", "2000-01-01")
        .query("end_date", "2099-12-31")
        .id_path("id")
        .total_path("metadata.total_elements")
        .total_pages_path("metadata.total_pages")
        .updated_path("updated_at")
        .incremental(
            "updated_from",
            SinceFormat::Rfc3339,
            Duration::from_secs(3600),
        )
        .budget(300, 15)
}

/// `personio` v1 absence periods (hour units). Their `offset` is a page number since
/// 2023-08-25, and whether the first page is 0 or 1 is not documented: the run starts at 0
/// and ends on a short or empty page (at worst the first page is read twice, which is
/// unchanged by hash), never on `total_pages`, which would cut the last page off if pages
/// start at 1.
pub fn absence_periods() -> SyncSpec {
    SyncSpec::new("personio", "absence-periods", "/company/absence-periods")
        .pagination(PaginateConfig {
            kind: PageKind::Offset,
            limit_name: Some(Cow::Borrowed("limit")),
            response_path: Some(Cow::Borrowed("data")),
            cursor_path: None,
            cursor_name: None,
            link_rel: None,
            link_path: None,
            offset_name: Some(Cow::Borrowed("offset")),
            offset_start: 0,
            offset_step: OffsetStep::PerPage,
            total_pages_path: None,
        })
        .limit(200)
        .id_path("attributes.id")
        .updated_path("attributes.updated_at")
        .incremental(
            "updated_from",
            SinceFormat::Rfc3339,
            Duration::from_secs(3600),
        )
        .budget(300, 15)
}

/// `personio-v2` persons: incremental through `updated_at.gt`.
pub fn persons() -> SyncSpec {
    SyncSpec::new("personio-v2", "persons", "/persons")
        .limit(50)
        .id_path("id")
        .updated_path("updated_at")
        .incremental(
            "updated_at.gt",
            SinceFormat::Rfc3339,
            Duration::from_secs(60),
        )
        .fetch_one("/persons/{id}")
        .budget(300, 15)
}

/// `personio-v2` employments, listed per person (sync `persons` first).
pub fn employments() -> SyncSpec {
    SyncSpec::new("personio-v2", "employments", "/persons/{id}/employments")
        .per_parent("persons", "/persons/{id}/employments")
        .parent_fetch_one("/persons/{id}")
        .limit(50)
        .id_path("id")
        .updated_path("updated_at")
        .incremental(
            "updated_at.gt",
            SinceFormat::Rfc3339,
            Duration::from_secs(60),
        )
        .fetch_one("/persons/{parent}/employments/{id}")
        .budget(300, 15)
}

/// Every ready-made spec.
pub fn all() -> Vec<SyncSpec> {
    vec![
        employees(),
        attendances(),
        absence_periods(),
        persons(),
        employments(),
    ]
}

/// The ready-made spec of `model` for `provider`.
pub fn spec(provider: &str, model: &str) -> Option<SyncSpec> {
    all()
        .into_iter()
        .find(|s| s.provider == provider && s.model == model)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ready_made_specs_check() {
        for spec in super::all() {
            spec.check().unwrap();
        }
        assert!(super::spec("personio", "employees").is_some());
        assert!(super::spec("personio-v2", "employees").is_none());
    }
}
