//! What keeps one client from holding the server: rate limits per client address on the
//! routes that take no key (the end-user routes, and any request that failed to
//! authenticate), and CORS for the configured connect origins only.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{RateLimit, ServerConfig};

/// The paths of the end-user routes (a session token or nothing: rate limited per address).
pub(crate) const END_USER_PREFIXES: &[&str] = &["/auth/", "/oauth/", "/connect/"];

/// Whether `path` is outside the rate limits: the health and metrics routes, and the static
/// files of the connect page and the SDK (an office behind one address loads them for every
/// person; they cost nothing to serve and reveal nothing).
pub(crate) fn unmetered(path: &str) -> bool {
    matches!(path, "/health" | "/metrics" | "/sdk.js" | "/sdk.mjs")
        || path.starts_with("/connect/assets/")
}

/// Addresses that failed to authenticate too often, and until when they are refused.
const MAX_BLOCKED: usize = 100_000;

/// Rate limits per client address.
pub(crate) struct Limiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    blocked: Mutex<std::collections::HashMap<IpAddr, Instant>>,
    block_for: Duration,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Limiter {
        let limiter = NonZeroU32::new(limit.per_minute).map(|per_minute| {
            let burst = NonZeroU32::new(limit.burst).unwrap_or(per_minute);
            DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
        });
        let block_for = Duration::from_secs(60) / limit.per_minute.max(1);
        Limiter {
            limiter,
            blocked: Mutex::new(std::collections::HashMap::new()),
            block_for: block_for.max(Duration::from_millis(500)),
        }
    }

    /// Takes one request of `ip`'s allowance: `Err(seconds to wait)` when none is left.
    pub(crate) fn take(&self, ip: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            wait.as_secs().max(1)
        })
    }

    pub(crate) fn is_blocked(&self, ip: IpAddr) -> Option<u64> {
        let blocked = self.blocked.lock().ok()?;
        let until = *blocked.get(&ip)?;
        let now = Instant::now();
        (until > now).then(|| (until - now).as_secs().max(1))
    }

    pub(crate) fn block(&self, ip: IpAddr) {
        if let Ok(mut blocked) = self.blocked.lock() {
            let now = Instant::now();
            if blocked.len() >= MAX_BLOCKED {
                blocked.retain(|_, until| *until > now);
            }
            if blocked.len() < MAX_BLOCKED {
                blocked.insert(ip, now + self.block_for);
            }
        }
    }

    /// Forgets addresses whose allowance is full again (memory stays bounded by the
    /// addresses seen recently).
    pub(crate) fn tidy(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Ok(mut blocked) = self.blocked.lock() {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
    }
}

/// CORS for the connect origins: none configured, no CORS headers at all.
pub(crate) fn cors(config: &ServerConfig) -> Option<CorsLayer> {
    if config.connect_origins.is_empty() {
        return None;
    }
    let origins: Vec<http::HeaderValue> = config
        .connect_origins
        .iter()
        .filter_map(|o| http::HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([http::Method::GET, http::Method::POST])
            .allow_headers([http::header::AUTHORIZATION, http::header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600)),
    )
}
