//! A per-connection request budget: the generic cell rate algorithm (GCRA, as governor
//! and most rate limiters implement it) at the provider's documented rate, tightened by what
//! responses say (`Retry-After`, an exhausted `X-RateLimit-Remaining` until its reset) and by
//! a 429 that got through the client's retries.
//!
//! GCRA keeps one instant, the theoretical arrival time (TAT) of the next request: a request
//! at `now` is within the budget when `now >= TAT - (burst - 1) * interval`, and then moves
//! TAT to `max(TAT, now) + interval` (`interval` = a minute / `per_minute`). So `burst`
//! requests may go at once after a pause, and then one per interval. It is a dozen lines;
//! governor would bring about a dozen crates into every build of the client.
//!
//! The budget keeps time with tokio's clock, so a test that pauses tokio's time sees the
//! budget wait in paused time too.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::RateHints;
use crate::sync::Budget;

/// The GCRA state: when the next request would arrive at the exact rate.
#[derive(Debug)]
struct Gcra {
    /// The theoretical arrival time; `None` before the first request.
    tat: Option<Instant>,
    /// A minute divided by the rate.
    interval: Duration,
    /// How far ahead of its TAT a request may go: `(burst - 1) * interval`.
    tolerance: Duration,
}

impl Gcra {
    fn new(budget: Budget) -> Gcra {
        let interval = Duration::from_secs(60) / budget.per_minute.max(1);
        Gcra {
            tat: None,
            interval,
            tolerance: interval * (budget.burst.max(1) - 1),
        }
    }

    /// Counts a request at `now` if the budget allows it; else the instant it will.
    fn check(&mut self, now: Instant) -> Result<(), Instant> {
        let tat = self.tat.map_or(now, |t| t.max(now));
        let earliest = tat.checked_sub(self.tolerance).unwrap_or(now);
        if now >= earliest {
            self.tat = Some(tat + self.interval);
            Ok(())
        } else {
            Err(earliest)
        }
    }
}

/// The budget of one connection: share it (in an `Arc`) between the syncs and actions of
/// that connection ([`Connection::rate_budget`](super::Connection::rate_budget) keeps one per
/// connection, shared by its clones).
#[derive(Debug)]
pub struct RateBudget {
    limiter: Mutex<Gcra>,
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
        RateBudget {
            limiter: Mutex::new(Gcra::new(budget)),
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
            let now = Instant::now();
            let allowed = self
                .limiter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .check(now);
            match allowed {
                Ok(()) => return,
                Err(not_before) => tokio::time::sleep_until(not_before).await,
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
        let now = Instant::now();
        let not_before = budget.limiter.lock().unwrap().check(now).unwrap_err();
        assert!(not_before > now && not_before <= now + Duration::from_secs(1));
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

    #[tokio::test(start_paused = true)]
    async fn after_a_pause_the_burst_is_back_and_the_rate_holds() {
        let budget = RateBudget::new(Budget {
            per_minute: 600,
            burst: 5,
        });
        let start = Instant::now();
        for _ in 0..5 {
            budget.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        for _ in 0..10 {
            budget.acquire().await;
        }
        // Then one per 100 ms: ten more take a second.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        tokio::time::sleep(Duration::from_secs(60)).await;
        let again = Instant::now();
        for _ in 0..5 {
            budget.acquire().await;
        }
        assert_eq!(
            again.elapsed(),
            Duration::ZERO,
            "a pause restores the burst, not more"
        );
        budget.acquire().await;
        assert_eq!(again.elapsed(), Duration::from_millis(100));
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
