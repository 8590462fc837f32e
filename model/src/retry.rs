//! Whether, and after how long, to send a failed request again.
//!
//! This module only decides; it does no I/O and knows no HTTP library. A client calls
//! [`RetryPolicy::decide`] with a failed attempt's status and a header lookup, and waits for
//! [`Decision::Retry`]'s delay (or gives up) itself. What a provider's `proxy.retry` in
//! providers.yaml says goes into a [`RetryConfig`]; the limits that are the client's choice
//! (attempts, delays, jitter) go into a [`RetryPolicy`].
//!
//! The rules, in the order [`RetryPolicy::decide`] applies them:
//!
//! 1. A status below 400 is never retried. A status of 400 or more is retryable when it matches
//!    the catalog's `error_code` patterns (`429`, `5xx`; see [`is_status_pattern`]), or, without
//!    `error_code`, when it is 429 or 5xx. It is also retryable when the catalog names a
//!    `remaining` header and the response's value of it is `0`.
//! 2. A request that is not idempotent (POST, PATCH; see [`is_idempotent`]) is retried only on
//!    429, where the server refused it before doing anything.
//! 3. At most [`RetryPolicy::max_attempts`] attempts are made in all.
//! 4. The delay is the server's hint when it gives one: `Retry-After` or one of the catalog's
//!    `after` headers (seconds or an HTTP date, [`parse_retry_after`]), or one of its `at`
//!    headers (a Unix time or an HTTP date, [`parse_retry_at`]). When several are present the
//!    longest wins; a time in the past means no wait; a hint longer than
//!    [`RetryPolicy::max_delay`] means giving up. Without a hint, the delay is exponential
//!    backoff with [`Jitter`].
//! 5. The time waited for one request, this delay included, stays within
//!    [`RetryPolicy::max_total_wait`]: the policy gives up rather than exceed it.
//!
//! The catalog's `in_body` (a wait time found in the error body by a regex) is not handled
//! here: it needs the body.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use terapi_model::retry::{Decision, FailedAttempt, RetryConfig, RetryPolicy, is_idempotent};
//!
//! let config = RetryConfig {
//!     at: vec!["x-ratelimit-reset".into()].into(),
//!     ..RetryConfig::EMPTY
//! };
//! let headers = |name: &str| (name == "retry-after").then_some("2");
//! let failed = FailedAttempt {
//!     attempt: 1,
//!     status: 429,
//!     idempotent: is_idempotent("GET"),
//!     headers: &headers,
//!     waited: Duration::ZERO,
//! };
//! let decision = RetryPolicy::DEFAULT.decide(&config, &failed, SystemTime::now(), 0.5);
//! assert_eq!(decision, Decision::Retry { after: Duration::from_secs(2) });
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::validate::{List, Text};

/// The standard header with a server's wait hint (RFC 9110 §10.2.3), always consulted.
const RETRY_AFTER: &str = "retry-after";

/// A Unix time above this many seconds (the year 33658) is taken to be in milliseconds.
const MILLIS_THRESHOLD: u64 = 1_000_000_000_000;

/// A provider's `proxy.retry` from providers.yaml, as generated code writes it out.
///
/// Header names are the catalog's: lowercase. This is also the form a provider description
/// holds ([`crate::spec::ClientSpec::retry`]): its lists are [`List`]s of [`Text`], borrowed
/// in a generated `static` and owned in a loaded description, so [`RetryConfig::EMPTY`] is a
/// constant to build from.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct RetryConfig {
    /// `at`: headers that hold the time to retry at, as a Unix time (seconds, or milliseconds
    /// above 10^12) or an HTTP date, e.g. `x-ratelimit-reset`.
    pub at: List<Text>,
    /// `after`: headers that hold how long to wait, as seconds or an HTTP date, e.g.
    /// `x-ratelimit-retry-after`. `Retry-After` is consulted without being listed here.
    pub after: List<Text>,
    /// `remaining`: a header whose value `0` makes a response with a status of 400 or more
    /// retryable, whatever its status, e.g. `x-ratelimit-remaining`.
    pub remaining: Option<Text>,
    /// `error_code`: status patterns (`429`, `5xx`; see [`is_status_pattern`]) that replace the
    /// default retryable statuses, 429 and 5xx. An empty list makes no status retryable (only
    /// `remaining` then can); a pattern that is not valid matches nothing.
    pub error_code: Option<List<Text>>,
}

impl RetryConfig {
    /// Whether the catalog states no retry setting at all (the description leaves it out).
    pub fn is_empty(&self) -> bool {
        *self == RetryConfig::default()
    }
}

impl RetryConfig {
    /// No `proxy.retry`: 429 and 5xx are retryable, and only `Retry-After` gives a hint.
    pub const EMPTY: Self = Self::new();

    /// The same as [`RetryConfig::EMPTY`].
    pub const fn new() -> Self {
        Self {
            at: List::Borrowed(&[]),
            after: List::Borrowed(&[]),
            remaining: None,
            error_code: None,
        }
    }
}

impl RetryConfig {
    /// Whether a response with `status` and these headers may be retried, by rule 1 of the
    /// [module docs](self).
    fn is_retryable<'h>(&self, status: u16, headers: &dyn Fn(&str) -> Option<&'h str>) -> bool {
        if status < 400 {
            return false;
        }
        let by_status = match &self.error_code {
            Some(patterns) => patterns.iter().any(|p| status_matches(p, status)),
            None => status == 429 || (500..600).contains(&status),
        };
        by_status
            || self
                .remaining
                .as_deref()
                .and_then(headers)
                .is_some_and(|v| v.trim() == "0")
    }

    /// The longest valid wait hint among this config's headers and `Retry-After`.
    fn hint<'h>(
        &self,
        headers: &dyn Fn(&str) -> Option<&'h str>,
        now: SystemTime,
    ) -> Option<Duration> {
        let at = self
            .at
            .iter()
            .filter_map(|name| parse_retry_at(headers(name)?, now));
        let after = self
            .after
            .iter()
            .map(|name| &**name)
            .chain([RETRY_AFTER])
            .filter_map(|name| parse_retry_after(headers(name)?, now));
        at.chain(after).max()
    }
}

/// Whether `pattern` is a valid `error_code` status pattern: three digits (`429`) or a digit
/// and `xx` (`5xx`, any status from 500 to 599). `x` may be upper case.
pub fn is_status_pattern(pattern: &str) -> bool {
    match pattern.as_bytes() {
        [a, b, c] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => true,
        [a, b, c] => a.is_ascii_digit() && [b, c].iter().all(|x| matches!(x, b'x' | b'X')),
        _ => false,
    }
}

/// Whether `status` matches the `error_code` pattern `pattern`; an invalid pattern matches
/// nothing.
fn status_matches(pattern: &str, status: u16) -> bool {
    if !is_status_pattern(pattern) {
        return false;
    }
    let digits = status.to_string();
    let digits = digits.as_bytes();
    digits.len() == 3
        && pattern
            .bytes()
            .zip(digits)
            .all(|(p, d)| p == *d || matches!(p, b'x' | b'X'))
}

/// Whether a request with `method` may be sent twice with the same effect as once, so that
/// it may be retried after a failure the server may have acted on: GET, HEAD, OPTIONS, PUT,
/// DELETE and TRACE (RFC 9110 §9.2.2).
///
/// Methods are case-sensitive (RFC 9110 §9.1): `get` is not GET, and is taken as not
/// idempotent, the safe side. A client that sends a POST with an idempotency key may pass
/// `idempotent: true` to [`RetryPolicy::decide`] itself.
pub fn is_idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "TRACE"
    )
}

/// How long a `Retry-After`-style value asks to wait, as of `now`.
///
/// The value is a number of seconds (`120`; a fraction such as `1.5` is accepted too) or an
/// HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, or the two obsolete formats of RFC 9110
/// §5.6.7). A date in the past gives zero. A number too large for a `u64` saturates
/// at `u64::MAX` seconds. Anything else (empty, negative, `5s`) gives `None`. Surrounding
/// whitespace is ignored.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Some(seconds) = parse_decimal(value) {
        return Some(seconds.into_duration());
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// How long to wait, as of `now`, until the time an `at`-style value (`X-RateLimit-Reset`)
/// names.
///
/// The value is a Unix time in seconds (`1767225600`; a fraction is accepted), in
/// milliseconds when it is above 10^12, or an HTTP date. A time in the past gives zero, and
/// a number too large saturates (at [`Duration::MAX`] where a [`SystemTime`] cannot hold
/// the time). Anything else gives `None`. Surrounding whitespace is ignored.
pub fn parse_retry_at(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let at = match parse_decimal(value) {
        Some(number) if number.whole > MILLIS_THRESHOLD => {
            Duration::from_millis(number.whole)
                + Duration::from_nanos(u64::from(number.nanos) / 1_000)
        }
        Some(number) => number.into_duration(),
        None => {
            let date = httpdate::parse_http_date(value).ok()?;
            return Some(date.duration_since(now).unwrap_or(Duration::ZERO));
        }
    };
    match UNIX_EPOCH.checked_add(at) {
        Some(at) => Some(at.duration_since(now).unwrap_or(Duration::ZERO)),
        None => Some(Duration::MAX),
    }
}

/// A non-negative decimal number: a whole part and the first nine digits of its fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    /// The whole part, saturated at `u64::MAX`.
    whole: u64,
    /// The fraction in billionths.
    nanos: u32,
}

impl Decimal {
    fn into_duration(self) -> Duration {
        Duration::new(self.whole, self.nanos)
    }
}

/// Parses `digits` or `digits.digits`; nothing else (no sign, exponent or empty part).
fn parse_decimal(value: &str) -> Option<Decimal> {
    let (whole, fraction) = match value.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (value, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !fraction.is_none_or(all_digits) {
        return None;
    }
    let whole = whole.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    let nanos = fraction
        .unwrap_or("")
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    Some(Decimal { whole, nanos })
}

/// How backoff delays are spread out, so that clients that failed together do not all retry
/// at the same moment.
///
/// With `d` the exponential delay and `r` the random value in [0, 1) given to
/// [`RetryPolicy::decide`]:
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Exactly `d`.
    None,
    /// `d * r`: anywhere from 0 to `d`.
    Full,
    /// `d / 2 + d / 2 * r`: from half of `d` to `d`, so a retry always waits a little. The
    /// default.
    #[default]
    Equal,
}

impl Jitter {
    fn apply(self, delay: Duration, random: f64) -> Duration {
        match self {
            Jitter::None => delay,
            Jitter::Full => scale(delay, random),
            Jitter::Equal => {
                let half = delay / 2;
                half + scale(delay - half, random)
            }
        }
    }
}

/// `delay * random`, with `random` clamped to [0, 1] (NaN counts as 0), without panicking.
fn scale(delay: Duration, random: f64) -> Duration {
    const ONE: u128 = 1 << 32;
    let random = if random.is_nan() {
        0.0
    } else {
        random.clamp(0.0, 1.0)
    };
    // `random` in 32-bit fixed point: at most 2^32, times at most 2^95 nanoseconds.
    let factor = (random * ONE as f64) as u128;
    let nanos = delay.as_nanos() * factor / ONE;
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

/// The client's limits for retrying one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included: 4 means up to 3 retries. 0 counts as 1.
    pub max_attempts: u32,
    /// The backoff delay after the first attempt; it doubles after each further one.
    pub base_delay: Duration,
    /// The longest single delay: backoff stops growing here, and a server that asks to wait
    /// longer is given up on.
    pub max_delay: Duration,
    /// The longest time to wait, in all, between the attempts of one request.
    pub max_total_wait: Duration,
    /// How backoff delays are spread; server hints are used as they are.
    pub jitter: Jitter,
}

impl RetryPolicy {
    /// 4 attempts, 1 s base delay, 30 s longest delay, 60 s in all, equal jitter.
    pub const DEFAULT: Self = Self {
        max_attempts: 4,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(30),
        max_total_wait: Duration::from_secs(60),
        jitter: Jitter::Equal,
    };

    /// Whether to retry after `failed`, and after how long, by the rules of the
    /// [module docs](self).
    ///
    /// `now` is the time the response arrived, against which HTTP dates and Unix times in
    /// headers are measured. `random` is a value in [0, 1) for [`Jitter`] (others are clamped),
    /// taken as a parameter so that the decision is deterministic.
    pub fn decide(
        &self,
        config: &RetryConfig,
        failed: &FailedAttempt<'_, '_>,
        now: SystemTime,
        random: f64,
    ) -> Decision {
        let status = failed.status;
        let give_up = |reason| Decision::GiveUp { reason };
        if !config.is_retryable(status, failed.headers) {
            return give_up(GiveUpReason::NotRetryable { status });
        }
        if !failed.idempotent && status != 429 {
            return give_up(GiveUpReason::NotIdempotent { status });
        }
        if failed.attempt >= self.max_attempts.max(1) {
            return give_up(GiveUpReason::AttemptsExhausted {
                attempts: failed.attempt,
            });
        }
        let delay = match config.hint(failed.headers, now) {
            Some(requested) if requested > self.max_delay => {
                return give_up(GiveUpReason::ServerWaitTooLong {
                    requested,
                    limit: self.max_delay,
                });
            }
            Some(requested) => requested,
            None => self.jitter.apply(self.backoff(failed.attempt), random),
        };
        if failed.waited.saturating_add(delay) > self.max_total_wait {
            return give_up(GiveUpReason::TotalWaitExceeded {
                waited: failed.waited,
                delay,
                limit: self.max_total_wait,
            });
        }
        Decision::Retry { after: delay }
    }

    /// `base_delay * 2^(attempt - 1)`, at most `max_delay`, before jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        1u32.checked_shl(attempt.saturating_sub(1))
            .and_then(|factor| self.base_delay.checked_mul(factor))
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What [`RetryPolicy::decide`] needs to know about an attempt that failed.
///
/// `'a` borrows the header lookup, `'h` the header values it returns.
#[derive(Clone, Copy)]
pub struct FailedAttempt<'a, 'h> {
    /// Which attempt failed: 1 for the first request, 2 for the first retry, and so on.
    pub attempt: u32,
    /// The response's status.
    pub status: u16,
    /// Whether the request may be sent again after the server may have acted on it: see
    /// [`is_idempotent`].
    pub idempotent: bool,
    /// Looks up a response header by name. Names are passed lowercase, as providers.yaml
    /// writes them; the lookup should match them case-insensitively, as HTTP header maps do.
    pub headers: &'a dyn Fn(&str) -> Option<&'h str>,
    /// The time already waited before the earlier retries of this request.
    pub waited: Duration,
}

impl fmt::Debug for FailedAttempt<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailedAttempt")
            .field("attempt", &self.attempt)
            .field("status", &self.status)
            .field("idempotent", &self.idempotent)
            .field("waited", &self.waited)
            .finish_non_exhaustive()
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send the request again after waiting this long.
    Retry {
        /// How long to wait first.
        after: Duration,
    },
    /// Return the failure to the caller.
    GiveUp {
        /// Why.
        reason: GiveUpReason,
    },
}

/// Why [`RetryPolicy::decide`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The status is not one to retry on, and no `remaining` header said `0`.
    #[error("status {status} is not retryable")]
    NotRetryable {
        /// The response's status.
        status: u16,
    },
    /// The request is not idempotent and the status is not 429.
    #[error("the request is not idempotent, so it is retried only on status 429, not on {status}")]
    NotIdempotent {
        /// The response's status.
        status: u16,
    },
    /// The policy's number of attempts has been made.
    #[error("gave up after {attempts} attempts")]
    AttemptsExhausted {
        /// The attempts made.
        attempts: u32,
    },
    /// Waiting for the next attempt would make the total wait longer than the policy allows.
    #[error(
        "waiting {} more, after {}, would exceed the total wait limit of {}",
        Seconds(*.delay),
        Seconds(*.waited),
        Seconds(*.limit)
    )]
    TotalWaitExceeded {
        /// The time already waited.
        waited: Duration,
        /// The delay before the next attempt.
        delay: Duration,
        /// [`RetryPolicy::max_total_wait`].
        limit: Duration,
    },
    /// The server asked to wait longer than the policy's longest single delay.
    #[error(
        "the server asked to wait {}, longer than the limit of {}",
        Seconds(*.requested),
        Seconds(*.limit)
    )]
    ServerWaitTooLong {
        /// The wait that the server's headers asked for.
        requested: Duration,
        /// [`RetryPolicy::max_delay`].
        limit: Duration,
    },
}

/// A wait as a person reads it: whole seconds, rounded up (`3 s`, `251606191863 s`), never
/// `Duration`'s `Debug` with nanoseconds.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        write!(f, "{whole} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &'static [&'static str]) -> List<Text> {
        items.iter().map(|s| Text::Borrowed(s)).collect()
    }

    /// 2026-01-01T00:00:00Z.
    const NOW_SECS: u64 = 1_767_225_600;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW_SECS)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn millis(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// No jitter, so that backoff delays are exact.
    const EXACT: RetryPolicy = RetryPolicy {
        jitter: Jitter::None,
        ..RetryPolicy::DEFAULT
    };

    /// Decides for the first attempt of an idempotent request, nothing waited yet.
    fn decide_with(
        policy: &RetryPolicy,
        config: &RetryConfig,
        status: u16,
        headers: &[(&str, &str)],
    ) -> Decision {
        decide_full(policy, config, 1, status, true, headers, Duration::ZERO)
    }

    fn decide_full(
        policy: &RetryPolicy,
        config: &RetryConfig,
        attempt: u32,
        status: u16,
        idempotent: bool,
        headers: &[(&str, &str)],
        waited: Duration,
    ) -> Decision {
        let lookup = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        let failed = FailedAttempt {
            attempt,
            status,
            idempotent,
            headers: &lookup,
            waited,
        };
        policy.decide(config, &failed, now(), 0.5)
    }

    fn retry(after: Duration) -> Decision {
        Decision::Retry { after }
    }

    fn give_up(reason: GiveUpReason) -> Decision {
        Decision::GiveUp { reason }
    }

    #[test]
    fn default_statuses() {
        for status in [429, 500, 502, 503, 599] {
            assert_eq!(
                decide_with(&EXACT, &RetryConfig::EMPTY, status, &[]),
                retry(secs(1)),
                "{status}"
            );
        }
        for status in [200, 304, 400, 401, 403, 404, 428, 600] {
            assert_eq!(
                decide_with(&EXACT, &RetryConfig::EMPTY, status, &[]),
                give_up(GiveUpReason::NotRetryable { status }),
                "{status}"
            );
        }
    }

    #[test]
    fn error_code_replaces_the_default_set() {
        let config = RetryConfig {
            error_code: Some(list(&["429", "5xx"])),
            ..RetryConfig::EMPTY
        };
        for status in [429, 500, 504] {
            assert_eq!(decide_with(&EXACT, &config, status, &[]), retry(secs(1)));
        }
        assert_eq!(
            decide_with(&EXACT, &config, 401, &[]),
            give_up(GiveUpReason::NotRetryable { status: 401 })
        );

        let only_503 = RetryConfig {
            error_code: Some(list(&["503"])),
            ..RetryConfig::EMPTY
        };
        assert_eq!(decide_with(&EXACT, &only_503, 503, &[]), retry(secs(1)));
        for status in [429, 500, 502] {
            assert_eq!(
                decide_with(&EXACT, &only_503, status, &[]),
                give_up(GiveUpReason::NotRetryable { status }),
                "{status}"
            );
        }

        // From the catalog: 403 and 401 added to 5xx, 429 left out.
        let github = RetryConfig {
            error_code: Some(list(&["403", "5xx", "401"])),
            ..RetryConfig::EMPTY
        };
        assert_eq!(decide_with(&EXACT, &github, 403, &[]), retry(secs(1)));
        assert_eq!(
            decide_with(&EXACT, &github, 429, &[]),
            give_up(GiveUpReason::NotRetryable { status: 429 })
        );

        let none = RetryConfig {
            error_code: Some(list(&[])),
            ..RetryConfig::EMPTY
        };
        assert_eq!(
            decide_with(&EXACT, &none, 503, &[]),
            give_up(GiveUpReason::NotRetryable { status: 503 })
        );
    }

    #[test]
    fn status_patterns() {
        for valid in ["429", "503", "5xx", "4XX", "000"] {
            assert!(is_status_pattern(valid), "{valid}");
        }
        for invalid in [
            "", "5x", "5xxx", "x29", "50x", "42", "4290", "500-502", " 429",
        ] {
            assert!(!is_status_pattern(invalid), "{invalid}");
        }
        assert!(status_matches("5xx", 500));
        assert!(status_matches("5XX", 599));
        assert!(!status_matches("5xx", 499));
        assert!(!status_matches("5xx", 600));
        assert!(status_matches("429", 429));
        assert!(!status_matches("429", 428));
        // Invalid patterns match nothing, not even what they look like.
        assert!(!status_matches("50x", 503));
        assert!(!status_matches("500-502", 501));
        assert!(!status_matches("1xx", 1000));
    }

    #[test]
    fn retry_after_seconds() {
        let decision = decide_with(&EXACT, &RetryConfig::EMPTY, 429, &[("Retry-After", "7")]);
        assert_eq!(decision, retry(secs(7)));
        assert_eq!(
            decide_with(&EXACT, &RetryConfig::EMPTY, 503, &[("retry-after", " 0 ")]),
            retry(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("1.5", now()), Some(millis(1500)));
        assert_eq!(
            parse_retry_after("0.123456789999", now()),
            Some(Duration::from_nanos(123_456_789))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now()),
            Some(secs(u64::MAX))
        );
    }

    #[test]
    fn retry_after_http_date() {
        // NOW_SECS + 42 s, in the three formats of RFC 9110 §5.6.7.
        for date in [
            "Thu, 01 Jan 2026 00:00:42 GMT",
            "Thursday, 01-Jan-26 00:00:42 GMT",
            "Thu Jan  1 00:00:42 2026",
        ] {
            assert_eq!(parse_retry_after(date, now()), Some(secs(42)), "{date}");
        }
        let decision = decide_with(
            &EXACT,
            &RetryConfig::EMPTY,
            429,
            &[("retry-after", "Thu, 01 Jan 2026 00:00:20 GMT")],
        );
        assert_eq!(decision, retry(secs(20)));
    }

    #[test]
    fn past_dates_mean_no_wait() {
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 23:59:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_at(&(NOW_SECS - 60).to_string(), now()),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_at("Sun, 06 Nov 1994 08:49:37 GMT", now()),
            Some(Duration::ZERO)
        );
        let decision = decide_with(
            &EXACT,
            &RetryConfig::EMPTY,
            503,
            &[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")],
        );
        assert_eq!(decision, retry(Duration::ZERO));
    }

    #[test]
    fn invalid_values_are_ignored() {
        for value in [
            "",
            " ",
            "-5",
            "+5",
            "5s",
            "1e3",
            "1.",
            ".5",
            "1.2.3",
            "soon",
            "0x10",
            "5 s",
            "Thu, 32 Jan 2026 00:00:00 GMT",
        ] {
            assert_eq!(parse_retry_after(value, now()), None, "{value:?}");
            assert_eq!(parse_retry_at(value, now()), None, "{value:?}");
        }
        let config = RetryConfig {
            at: list(&["x-ratelimit-reset"]),
            after: list(&["x-retry-after"]),
            ..RetryConfig::EMPTY
        };
        let headers = [
            ("retry-after", "soon"),
            ("x-ratelimit-reset", "tomorrow"),
            ("x-retry-after", "-3"),
        ];
        // Falls back to backoff: attempt 2 waits 2 s.
        assert_eq!(
            decide_full(&EXACT, &config, 2, 429, true, &headers, Duration::ZERO),
            retry(secs(2))
        );
    }

    #[test]
    fn at_epoch_seconds_and_milliseconds() {
        let config = RetryConfig {
            at: list(&["x-ratelimit-reset"]),
            ..RetryConfig::EMPTY
        };
        let in_seconds = (NOW_SECS + 12).to_string();
        assert_eq!(
            decide_with(&EXACT, &config, 429, &[("x-ratelimit-reset", &in_seconds)]),
            retry(secs(12))
        );
        let in_millis = ((NOW_SECS + 12) * 1000 + 500).to_string();
        assert_eq!(
            decide_with(&EXACT, &config, 429, &[("x-ratelimit-reset", &in_millis)]),
            retry(millis(12_500))
        );
        assert_eq!(
            parse_retry_at(&format!("{}.25", NOW_SECS + 3), now()),
            Some(millis(3250))
        );
        assert_eq!(
            parse_retry_at("Thu, 01 Jan 2026 00:00:09 GMT", now()),
            Some(secs(9))
        );
        // 10^12 itself is seconds (far in the future); above it, milliseconds.
        assert_eq!(
            parse_retry_at("1000000000000", now()),
            Some(secs(1_000_000_000_000 - NOW_SECS))
        );
        assert_eq!(parse_retry_at("1000000000001", now()), Some(Duration::ZERO));
        // A number too large saturates, far beyond any cap.
        assert!(parse_retry_at("99999999999999999999999", now()) > Some(secs(10u64.pow(15))));
        // An `at` header is not read as seconds to wait.
        assert_eq!(
            decide_with(
                &EXACT,
                &RetryConfig::EMPTY,
                429,
                &[("x-ratelimit-reset", &in_seconds)]
            ),
            retry(secs(1))
        );
    }

    #[test]
    fn config_after_headers() {
        let config = RetryConfig {
            after: list(&["x-ratelimit-retry-after", "x-toggl-quota-resets-in"]),
            ..RetryConfig::EMPTY
        };
        assert_eq!(
            decide_with(&EXACT, &config, 429, &[("x-toggl-quota-resets-in", "9")]),
            retry(secs(9))
        );
        assert_eq!(
            decide_with(
                &EXACT,
                &config,
                429,
                &[("X-RateLimit-Retry-After", "Thu, 01 Jan 2026 00:00:04 GMT")]
            ),
            retry(secs(4))
        );
        // Without the config, the same header is not a hint.
        assert_eq!(
            decide_with(
                &EXACT,
                &RetryConfig::EMPTY,
                429,
                &[("x-toggl-quota-resets-in", "9")]
            ),
            retry(secs(1))
        );
    }

    #[test]
    fn the_longest_hint_wins() {
        let config = RetryConfig {
            at: list(&["x-ratelimit-reset"]),
            after: list(&["x-retry-after"]),
            ..RetryConfig::EMPTY
        };
        let reset = (NOW_SECS + 5).to_string();
        let mut headers = vec![
            ("retry-after", "3"),
            ("x-ratelimit-reset", reset.as_str()),
            ("x-retry-after", "4"),
        ];
        assert_eq!(decide_with(&EXACT, &config, 429, &headers), retry(secs(5)));
        headers[0].1 = "6";
        assert_eq!(decide_with(&EXACT, &config, 429, &headers), retry(secs(6)));
        headers[2].1 = "8";
        assert_eq!(decide_with(&EXACT, &config, 429, &headers), retry(secs(8)));
    }

    #[test]
    fn hints_are_not_jittered() {
        let full = RetryPolicy {
            jitter: Jitter::Full,
            ..RetryPolicy::DEFAULT
        };
        assert_eq!(
            decide_with(&full, &RetryConfig::EMPTY, 429, &[("retry-after", "10")]),
            retry(secs(10))
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 100,
            max_total_wait: Duration::MAX,
            ..EXACT
        };
        let delays: Vec<_> = [1, 2, 3, 4, 5, 6, 7, 40, 99]
            .into_iter()
            .map(|attempt| {
                match decide_full(
                    &policy,
                    &RetryConfig::EMPTY,
                    attempt,
                    503,
                    true,
                    &[],
                    Duration::ZERO,
                ) {
                    Decision::Retry { after } => after.as_secs(),
                    other => panic!("attempt {attempt}: {other:?}"),
                }
            })
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30, 30]);
        assert_eq!(policy.backoff(0), secs(1));
        assert_eq!(policy.backoff(33), secs(30));
        assert_eq!(policy.backoff(u32::MAX), secs(30));
        let huge_base = RetryPolicy {
            base_delay: Duration::MAX,
            ..policy
        };
        assert_eq!(huge_base.backoff(3), secs(30));
    }

    #[test]
    fn jitter_bounds() {
        let d = secs(8);
        assert_eq!(Jitter::None.apply(d, 0.0), d);
        assert_eq!(Jitter::None.apply(d, 0.999), d);
        assert_eq!(Jitter::Full.apply(d, 0.0), Duration::ZERO);
        assert_eq!(Jitter::Full.apply(d, 0.5), secs(4));
        let full_high = Jitter::Full.apply(d, 0.999_999);
        assert!(full_high < d && full_high > millis(7_990), "{full_high:?}");
        assert_eq!(Jitter::Equal.apply(d, 0.0), secs(4));
        assert_eq!(Jitter::Equal.apply(d, 0.5), secs(6));
        let equal_high = Jitter::Equal.apply(d, 0.999_999);
        assert!(
            equal_high < d && equal_high > millis(7_990),
            "{equal_high:?}"
        );
        // Out-of-range values are clamped; none panics, even on the largest delay.
        assert_eq!(Jitter::Full.apply(d, -1.0), Duration::ZERO);
        assert_eq!(Jitter::Full.apply(d, f64::NAN), Duration::ZERO);
        assert_eq!(Jitter::Full.apply(d, 7.0), d);
        assert_eq!(Jitter::Full.apply(Duration::MAX, 1.0), Duration::MAX);
        assert!(Jitter::Equal.apply(Duration::MAX, 0.999) < Duration::MAX);

        // Through decide: attempt 3 backs off 4 s, spread from 2 s to 4 s by default.
        let decide_random = |random| {
            let no_headers = |_: &str| -> Option<&'static str> { None };
            let failed = FailedAttempt {
                attempt: 3,
                status: 503,
                idempotent: true,
                headers: &no_headers,
                waited: Duration::ZERO,
            };
            RetryPolicy::DEFAULT.decide(&RetryConfig::EMPTY, &failed, now(), random)
        };
        assert_eq!(decide_random(0.0), retry(secs(2)));
        match decide_random(0.999_999_9) {
            Decision::Retry { after } => assert!(after > millis(3_999) && after < secs(4)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn attempts_exhausted() {
        for attempt in 1..=3 {
            assert!(matches!(
                decide_full(
                    &EXACT,
                    &RetryConfig::EMPTY,
                    attempt,
                    503,
                    true,
                    &[],
                    Duration::ZERO
                ),
                Decision::Retry { .. }
            ));
        }
        for attempt in [4, 5, u32::MAX] {
            assert_eq!(
                decide_full(
                    &EXACT,
                    &RetryConfig::EMPTY,
                    attempt,
                    503,
                    true,
                    &[],
                    Duration::ZERO
                ),
                give_up(GiveUpReason::AttemptsExhausted { attempts: attempt })
            );
        }
        for max_attempts in [0, 1] {
            let once = RetryPolicy {
                max_attempts,
                ..EXACT
            };
            assert_eq!(
                decide_with(&once, &RetryConfig::EMPTY, 429, &[]),
                give_up(GiveUpReason::AttemptsExhausted { attempts: 1 })
            );
        }
    }

    #[test]
    fn total_wait_cap() {
        // Attempt 3 backs off 4 s: fine after 56 s of 60, too much after 57 s.
        assert_eq!(
            decide_full(&EXACT, &RetryConfig::EMPTY, 3, 503, true, &[], secs(56)),
            retry(secs(4))
        );
        assert_eq!(
            decide_full(&EXACT, &RetryConfig::EMPTY, 3, 503, true, &[], secs(57)),
            give_up(GiveUpReason::TotalWaitExceeded {
                waited: secs(57),
                delay: secs(4),
                limit: secs(60),
            })
        );
        // A server hint counts too, and a huge `waited` does not overflow.
        let hint = [("retry-after", "20")];
        assert_eq!(
            decide_full(&EXACT, &RetryConfig::EMPTY, 1, 429, true, &hint, secs(41)),
            give_up(GiveUpReason::TotalWaitExceeded {
                waited: secs(41),
                delay: secs(20),
                limit: secs(60),
            })
        );
        assert!(matches!(
            decide_full(
                &EXACT,
                &RetryConfig::EMPTY,
                1,
                429,
                true,
                &hint,
                Duration::MAX
            ),
            Decision::GiveUp {
                reason: GiveUpReason::TotalWaitExceeded { .. }
            }
        ));
    }

    #[test]
    fn non_idempotent_requests_retry_only_on_429() {
        assert!(!is_idempotent("POST"));
        assert!(!is_idempotent("PATCH"));
        assert_eq!(
            decide_full(
                &EXACT,
                &RetryConfig::EMPTY,
                1,
                503,
                false,
                &[],
                Duration::ZERO
            ),
            give_up(GiveUpReason::NotIdempotent { status: 503 })
        );
        assert_eq!(
            decide_full(
                &EXACT,
                &RetryConfig::EMPTY,
                1,
                429,
                false,
                &[],
                Duration::ZERO
            ),
            retry(secs(1))
        );
        assert_eq!(
            decide_full(
                &EXACT,
                &RetryConfig::EMPTY,
                1,
                429,
                false,
                &[("retry-after", "3")],
                Duration::ZERO
            ),
            retry(secs(3))
        );
        // A status that is not retryable at all says so, whatever the method.
        assert_eq!(
            decide_full(
                &EXACT,
                &RetryConfig::EMPTY,
                1,
                404,
                false,
                &[],
                Duration::ZERO
            ),
            give_up(GiveUpReason::NotRetryable { status: 404 })
        );
    }

    #[test]
    fn idempotent_methods() {
        for method in ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"] {
            assert!(is_idempotent(method), "{method}");
        }
        for method in ["POST", "PATCH", "CONNECT", "get", "Put", "", "QUERY"] {
            assert!(!is_idempotent(method), "{method}");
        }
    }

    #[test]
    fn remaining_zero_makes_a_response_retryable() {
        let config = RetryConfig {
            at: list(&["x-ratelimit-reset"]),
            remaining: Some("x-ratelimit-remaining".into()),
            error_code: Some(list(&["5xx"])),
            ..RetryConfig::EMPTY
        };
        let reset = (NOW_SECS + 25).to_string();
        assert_eq!(
            decide_with(
                &EXACT,
                &config,
                403,
                &[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &reset)
                ]
            ),
            retry(secs(25))
        );
        // No hint: backoff.
        assert_eq!(
            decide_with(&EXACT, &config, 429, &[("X-RateLimit-Remaining", " 0")]),
            retry(secs(1))
        );
        for headers in [
            &[("x-ratelimit-remaining", "1")][..],
            &[("x-ratelimit-remaining", "")],
            &[("x-ratelimit-remaining", "00x")],
            &[],
        ] {
            assert_eq!(
                decide_with(&EXACT, &config, 403, headers),
                give_up(GiveUpReason::NotRetryable { status: 403 }),
                "{headers:?}"
            );
        }
        // Without `remaining` in the config the header means nothing.
        assert_eq!(
            decide_with(
                &EXACT,
                &RetryConfig::EMPTY,
                403,
                &[("x-ratelimit-remaining", "0")]
            ),
            give_up(GiveUpReason::NotRetryable { status: 403 })
        );
        // A success is never retried, even with nothing remaining.
        assert_eq!(
            decide_with(&EXACT, &config, 200, &[("x-ratelimit-remaining", "0")]),
            give_up(GiveUpReason::NotRetryable { status: 200 })
        );
        // A POST refused with remaining 0 but a status other than 429 is not retried.
        assert_eq!(
            decide_full(
                &EXACT,
                &config,
                1,
                403,
                false,
                &[("x-ratelimit-remaining", "0")],
                Duration::ZERO
            ),
            give_up(GiveUpReason::NotIdempotent { status: 403 })
        );
    }

    #[test]
    fn a_hint_longer_than_the_cap_gives_up() {
        assert_eq!(
            decide_with(&EXACT, &RetryConfig::EMPTY, 429, &[("retry-after", "30")]),
            retry(secs(30))
        );
        assert_eq!(
            decide_with(&EXACT, &RetryConfig::EMPTY, 429, &[("retry-after", "31")]),
            give_up(GiveUpReason::ServerWaitTooLong {
                requested: secs(31),
                limit: secs(30),
            })
        );
        let config = RetryConfig {
            at: list(&["x-ratelimit-reset"]),
            ..RetryConfig::EMPTY
        };
        assert_eq!(
            decide_with(
                &EXACT,
                &config,
                429,
                &[("x-ratelimit-reset", "Thu, 01 Jan 2026 01:00:00 GMT")]
            ),
            give_up(GiveUpReason::ServerWaitTooLong {
                requested: secs(3600),
                limit: secs(30),
            })
        );
    }

    #[test]
    fn give_up_reasons_display() {
        let cases = [
            (
                GiveUpReason::NotRetryable { status: 404 },
                "status 404 is not retryable",
            ),
            (
                GiveUpReason::NotIdempotent { status: 503 },
                "the request is not idempotent, so it is retried only on status 429, not on 503",
            ),
            (
                GiveUpReason::AttemptsExhausted { attempts: 4 },
                "gave up after 4 attempts",
            ),
            (
                GiveUpReason::TotalWaitExceeded {
                    waited: secs(57),
                    delay: millis(4500),
                    limit: secs(60),
                },
                "waiting 5 s more, after 57 s, would exceed the total wait limit of 60 s",
            ),
            (
                GiveUpReason::ServerWaitTooLong {
                    requested: secs(3600),
                    limit: secs(30),
                },
                "the server asked to wait 3600 s, longer than the limit of 30 s",
            ),
            (
                // A reset time far in the future, as a hostile server may send it.
                GiveUpReason::ServerWaitTooLong {
                    requested: Duration::new(251_606_191_862, 112_745_658),
                    limit: secs(300),
                },
                "the server asked to wait 251606191863 s, longer than the limit of 300 s",
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn defaults() {
        assert_eq!(RetryConfig::default(), RetryConfig::EMPTY);
        assert_eq!(RetryConfig::new(), RetryConfig::EMPTY);
        assert_eq!(RetryPolicy::default(), RetryPolicy::DEFAULT);
        assert_eq!(RetryPolicy::DEFAULT.max_attempts, 4);
        assert_eq!(RetryPolicy::DEFAULT.base_delay, secs(1));
        assert_eq!(Jitter::default(), Jitter::Equal);
        let no_headers = |_: &str| -> Option<&'static str> { None };
        let failed = FailedAttempt {
            attempt: 2,
            status: 503,
            idempotent: true,
            headers: &no_headers,
            waited: secs(1),
        };
        assert_eq!(
            format!("{failed:?}"),
            "FailedAttempt { attempt: 2, status: 503, idempotent: true, waited: 1s, .. }"
        );
    }
}
