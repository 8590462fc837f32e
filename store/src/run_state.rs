//! A sync run's state besides its counts and position, held by [`crate::SyncRun`] and used
//! by the run's checks (`run_checks.rs`): the ids it has counted, the provider's clock skew
//! it measured, the records it sets aside with the next page. A leaf: both the runs and
//! their checks use it, neither through the other.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use serde_json::Value;

/// Empties the quarantine of a model (a new run starts it afresh).
pub(crate) const CLEAR_QUARANTINE: &str =
    "DELETE FROM terapi_quarantine WHERE connection_id = $1 AND model = $2";

/// The ids a run has counted (as keyed 64-bit hashes: memory stays small).
#[derive(Default)]
pub(crate) struct Seen {
    hasher: RandomState,
    ids: HashSet<u64>,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Seen({} ids)", self.ids.len())
    }
}

impl Seen {
    /// Whether `id` is new to the run (and remembers it).
    pub(crate) fn first(&mut self, id: &str) -> bool {
        self.ids.insert(self.hasher.hash_one(id))
    }
}

/// A checked run's extra state (its `Debug` shows no record).
#[derive(Default)]
pub(crate) struct Checks {
    pub(crate) seen: Seen,
    /// The smallest provider-minus-local clock difference measured (ms).
    pub(crate) skew_ms: Option<i64>,
    /// Records to set aside with the next page: (page, index, reason, data).
    pub(crate) pending: Vec<(u64, u64, String, Value)>,
}

impl std::fmt::Debug for Checks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checks")
            .field("seen", &self.seen)
            .field("skew_ms", &self.skew_ms)
            .field("pending", &self.pending.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_debug_shows_no_record_and_counts_ids_once() {
        let mut checks = Checks::default();
        checks.pending.push((
            1,
            0,
            "why".into(),
            serde_json::json!({"name": "Ada Lovelace"}),
        ));
        assert!(checks.seen.first("7"));
        assert!(!checks.seen.first("7"));
        assert!(checks.seen.first("8"));
        let shown = format!("{checks:?}");
        assert!(!shown.contains("Ada"), "{shown}");
        assert!(
            shown.contains("Seen(2 ids)") && shown.contains("pending: 1"),
            "{shown}"
        );
    }
}
