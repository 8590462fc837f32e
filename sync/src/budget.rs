//! Request budgets per connection. A [`RateBudget`] (governor's GCRA at the provider's
//! documented rate, tightened by what responses say) is the runtime's
//! (`terapi_runtime::client::RateBudget`), which actions use too; [`Budgets`] keeps one per
//! connection id for a process's workers and webhook appliers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub use terapi_runtime::client::RateBudget;
use terapi_runtime::sync::Budget;

/// The budgets of many connections, one per connection: give the same `Budgets` (clones
/// share them) to the [`Worker`](crate::Worker) and the webhook
/// [`Applier`](crate::webhook::Applier) of a process, so that a connection's syncs and the
/// fetches its events cause share one budget.
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    by_connection: Arc<Mutex<BTreeMap<String, Arc<RateBudget>>>>,
}

impl Budgets {
    /// No budget yet.
    pub fn new() -> Budgets {
        Budgets::default()
    }

    /// The budget of `connection`, made at `budget` by its first user.
    pub fn get(&self, connection: &str, budget: Budget) -> Arc<RateBudget> {
        let mut map = self.by_connection.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            map.entry(connection.to_owned())
                .or_insert_with(|| Arc::new(RateBudget::new(budget))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_budget_per_connection_shared_by_clones() {
        let budgets = Budgets::new();
        let other = budgets.clone();
        let a = budgets.get("a", Budget::default());
        let again = other.get(
            "a",
            Budget {
                per_minute: 1,
                burst: 1,
            },
        );
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(again.budget(), Budget::default(), "the first one made it");
        assert!(!Arc::ptr_eq(&a, &budgets.get("b", Budget::default())));
    }
}
