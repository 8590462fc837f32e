//! A per-connection request budget: governor's GCRA at the provider's documented rate,
//! tightened by what responses say (`Retry-After`, an exhausted `X-RateLimit-Remaining`
//! until its reset) and by a 429 that got through the client's retries.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use terapi_runtime::client::RateHints;
use tokio::time::Instant;

use terapi_runtime::sync::Budget;

/// The budget of one connection: share it (in an `Arc`) between the syncs of that
/// connection.
#[derive(Debug)]
pub struct RateBudget {
    limiter: DefaultDirectRateLimiter,
    /// No request before this (a server's hint).
    paused_until: Mutex<Option<Instant>>,
    budget: Budget,
}

/// The longest pause a hint can impose (a server asking for more is capped).
const MAX_PAUSE: Duration = Duration::from_secs(300);

impl RateBudget {
    /// A budget of `budget.per_minute` requests per minute, `budget.burst` at once.
    pub fn new(budget: Budget) -> RateBudget {
        let per_minute = NonZeroU32::new(budget.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(budget.burst).unwrap_or(NonZeroU32::MIN);
        RateBudget {
            limiter: RateLimiter::direct(Quota::per_minute(per_minute).allow_burst(burst)),
            paused_until: Mutex::new(None),
            budget,
        }
    }

    /// The budget it keeps.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Waits until one more request is within the budget.
    pub async fn acquire(&self) {
        let pause = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = pause
            && until > Instant::now()
        {
            tokio::time::sleep_until(until).await;
        }
        self.limiter.until_ready().await;
    }

    /// Takes a response's hints into account: no request before `Retry-After`, nor before
    /// the window's reset once no request is left in it.
    pub fn observe(&self, hints: &RateHints) {
        let mut pause = hints.retry_after;
        if hints.remaining == Some(0) {
            pause = pause.max(hints.reset_after.or(Some(Duration::from_secs(1))));
        }
        if let Some(p) = pause {
            self.pause_for(p);
        }
    }

    /// A request was refused with 429 after the client's retries: pause (at least 1 s, as
    /// Personio advises).
    pub fn refused(&self, retry_after: Option<Duration>) {
        self.pause_for(
            retry_after
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_secs(1)),
        );
    }

    fn pause_for(&self, pause: Duration) {
        let until = Instant::now() + pause.min(MAX_PAUSE);
        let mut slot = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none_or(|u| u < until) {
            *slot = Some(until);
        }
    }

    /// When the next request may go at the earliest (for tests and progress).
    pub fn paused_until(&self) -> Option<Instant> {
        *self.paused_until.lock().unwrap_or_else(|e| e.into_inner())
    }
}

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

    #[tokio::test]
    async fn the_burst_is_allowed_and_then_no_more() {
        let budget = RateBudget::new(Budget {
            per_minute: 60,
            burst: 3,
        });
        for _ in 0..3 {
            budget.acquire().await;
        }
        // A fourth request now would exceed the budget: it waits for the next cell.
        assert!(budget.limiter.check().is_err());
    }

    #[test]
    fn an_exhausted_window_pauses_until_its_reset() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let budget = RateBudget::new(Budget::default());
            assert!(budget.paused_until().is_none());
            budget.observe(&RateHints {
                remaining: Some(3),
                reset_after: Some(Duration::from_secs(30)),
                ..RateHints::default()
            });
            assert!(budget.paused_until().is_none());
            budget.observe(&RateHints {
                remaining: Some(0),
                reset_after: Some(Duration::from_secs(30)),
                ..RateHints::default()
            });
            let until = budget.paused_until().unwrap();
            assert!(until > Instant::now() + Duration::from_secs(29));
            budget.refused(None);
            // A shorter pause does not shorten a longer one.
            assert_eq!(budget.paused_until().unwrap(), until);
        });
    }
}
