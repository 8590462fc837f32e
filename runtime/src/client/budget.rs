//! A per-connection request budget: governor's GCRA at the provider's documented rate,
//! tightened by what responses say (`Retry-After`, an exhausted `X-RateLimit-Remaining`
//! until its reset) and by a 429 that got through the client's retries.
//!
//! The budget keeps time with tokio's clock, so a test that pauses tokio's time sees the
//! budget wait in paused time too.

use std::num::NonZeroU32;
use std::ops::Add;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use super::RateHints;
use crate::sync::Budget;

/// A tokio instant, as governor measures time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TokioInstant(Instant);

impl Add<Nanos> for TokioInstant {
    type Output = TokioInstant;

    fn add(self, other: Nanos) -> TokioInstant {
        TokioInstant(self.0 + Duration::from(other))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        self.0.saturating_duration_since(earlier.0).into()
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        TokioInstant(
            self.0
                .checked_sub(Duration::from(duration))
                .unwrap_or(self.0),
        )
    }
}

/// tokio's clock (paused in tests that pause it).
#[derive(Debug, Clone, Copy, Default)]
struct TokioClock;

impl Clock for TokioClock {
    type Instant = TokioInstant;

    fn now(&self) -> TokioInstant {
        TokioInstant(Instant::now())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;

/// The budget of one connection: share it (in an `Arc`) between the syncs and actions of
/// that connection ([`Connection::rate_budget`](super::Connection::rate_budget) keeps one per
/// connection, shared by its clones).
#[derive(Debug)]
pub struct RateBudget {
    limiter: Limiter,
    /// No request before this (a server's hint).
    paused_until: Mutex<Option<Instant>>,
    budget: Budget,
}

/// The longest pause a hint can impose (a server asking for more is capped).
const MAX_PAUSE: Duration = Duration::from_secs(300);

impl RateBudget {
    /// A budget of `budget.per_minute` requests per minute, `budget.burst` at once (0 counts
    /// as 1).
    pub fn new(budget: Budget) -> RateBudget {
        let per_minute = NonZeroU32::new(budget.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(budget.burst).unwrap_or(NonZeroU32::MIN);
        RateBudget {
            limiter: RateLimiter::direct_with_clock(
                Quota::per_minute(per_minute).allow_burst(burst),
                TokioClock,
            ),
            paused_until: Mutex::new(None),
            budget,
        }
    }

    /// The budget it keeps.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Waits until one more request is within the budget, and counts it.
    pub async fn acquire(&self) {
        let pause = self.paused_until();
        if let Some(until) = pause
            && until > Instant::now()
        {
            tokio::time::sleep_until(until).await;
        }
        loop {
            match self.limiter.check() {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(TokioClock.now());
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test(start_paused = true)]
    async fn a_request_past_the_burst_waits_in_tokio_time() {
        let budget = RateBudget::new(Budget {
            per_minute: 60,
            burst: 1,
        });
        let start = Instant::now();
        budget.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        budget.acquire().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(990) && waited <= Duration::from_millis(1100),
            "{waited:?}"
        );
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
