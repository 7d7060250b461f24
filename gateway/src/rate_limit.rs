//! Request rate limits per caller: a token bucket per api key id, or per client address for
//! anonymous callers. A bucket holds up to `burst` requests and refills at `per_second`; a request
//! finding it empty is refused (429 with `Retry-After`: when the next token arrives). Keys with the
//! operator scope have their own rate, or none. In memory, so per gateway replica: N replicas
//! behind a load balancer let a caller through N times the configured rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::attempts::Client;
use super::auth::Caller;
use super::key_store::Scope;

/// Callers remembered at most; beyond that, full (idle) buckets are forgotten first.
const MAX_TRACKED_CALLERS: usize = 100_000;

/// `[gateway.rate_limit]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per second each api key (each client address, for anonymous callers) may make on
    /// average; 0 turns the limit off.
    pub per_second: u32,
    /// Requests a caller may make back to back after being idle.
    pub burst: u32,
    /// The rate of keys with the operator scope; 0 exempts them.
    pub operator_per_second: u32,
    pub operator_burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        // Generous for people and scripts (a client fetching a day's files), tight enough that
        // one caller cannot take a replica's whole capacity; operators' tools are exempt.
        RateLimitConfig { per_second: 50, burst: 200, operator_per_second: 0, operator_burst: 400 }
    }
}

/// One caller's allowance: refills continuously, at most `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rate {
    per_second: f64,
    burst: f64,
}

impl Rate {
    /// `None` when unlimited.
    fn of(per_second: u32, burst: u32) -> Option<Rate> {
        // A burst below one request would refuse everything.
        (per_second > 0).then(|| Rate { per_second: f64::from(per_second), burst: f64::from(burst.max(1)) })
    }
}

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Bucketed {
    Key(String),
    Address(Client),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<Bucketed, Bucket>>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter { config, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `caller`'s bucket (its key's, else its address's); `Err(wait)` when
    /// the bucket is empty: how long until the next request would be admitted.
    pub fn admit(&self, caller: &Caller, client: Client, now: Instant) -> Result<(), Duration> {
        let (who, rate) = match &caller.key {
            Some(key) if key.allows(Scope::Operator) => {
                (Bucketed::Key(key.id.clone()), Rate::of(self.config.operator_per_second, self.config.operator_burst))
            }
            Some(key) => (Bucketed::Key(key.id.clone()), Rate::of(self.config.per_second, self.config.burst)),
            None => (Bucketed::Address(client), Rate::of(self.config.per_second, self.config.burst)),
        };
        let Some(rate) = rate else { return Ok(()) };
        let mut buckets = self.buckets.lock().expect("rate limit buckets");
        if buckets.len() >= MAX_TRACKED_CALLERS && !buckets.contains_key(&who) {
            forget_idle(&mut buckets, rate, now);
        }
        let bucket = buckets.entry(who).or_insert(Bucket { tokens: rate.burst, refilled: now });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate.per_second).min(rate.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate.per_second))
    }
}

/// Makes room: buckets that have refilled completely are the same as no bucket at all; if every
/// caller is busy, the one idle longest goes.
fn forget_idle(buckets: &mut HashMap<Bucketed, Bucket>, rate: Rate, now: Instant) {
    let full_after = Duration::from_secs_f64(rate.burst / rate.per_second);
    buckets.retain(|_, bucket| now.saturating_duration_since(bucket.refilled) < full_after);
    if buckets.len() >= MAX_TRACKED_CALLERS {
        let idlest = buckets.iter().min_by_key(|(_, bucket)| bucket.refilled).map(|(who, _)| who.clone());
        if let Some(idlest) = idlest {
            buckets.remove(&idlest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_store::ApiKey;

    fn key(id: &str, scopes: &[Scope]) -> Caller {
        let key = ApiKey {
            id: id.into(),
            name: id.into(),
            scopes: scopes.to_vec(),
            created_at: 0,
            revoked: false,
            expires_at: None,
        };
        Caller { key: Some(key) }
    }

    #[test]
    fn each_key_gets_its_burst_then_its_rate() {
        let limiter = RateLimiter::new(RateLimitConfig { per_second: 2, burst: 3, ..Default::default() });
        let (reader, other) = (key("reader", &[Scope::Read]), key("other", &[Scope::Read]));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.admit(&reader, None, start), Ok(()));
        }
        assert_eq!(limiter.admit(&reader, None, start), Err(Duration::from_millis(500)), "the next token in 1/2 s");
        assert_eq!(limiter.admit(&other, None, start), Ok(()), "another key has its own bucket");
        let later = start + Duration::from_millis(500);
        assert_eq!(limiter.admit(&reader, None, later), Ok(()));
        assert!(limiter.admit(&reader, None, later).is_err());
        // Idle for long, the bucket holds its burst again, no more.
        let idle = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(limiter.admit(&reader, None, idle), Ok(()));
        }
        assert!(limiter.admit(&reader, None, idle).is_err());
    }

    #[test]
    fn anonymous_callers_share_a_bucket_per_address() {
        let limiter = RateLimiter::new(RateLimitConfig { per_second: 1, burst: 1, ..Default::default() });
        let anonymous = Caller { key: None };
        let (first, second): (Client, Client) = (Some([192, 0, 2, 1].into()), Some([192, 0, 2, 2].into()));
        let now = Instant::now();
        assert_eq!(limiter.admit(&anonymous, first, now), Ok(()));
        assert_eq!(limiter.admit(&anonymous, first, now), Err(Duration::from_secs(1)));
        assert_eq!(limiter.admit(&anonymous, second, now), Ok(()));
        // A key is its own caller, whatever address it calls from.
        assert_eq!(limiter.admit(&key("team", &[Scope::Upload]), first, now), Ok(()));
    }

    #[test]
    fn operators_have_their_own_rate_or_none() {
        let own = RateLimitConfig { per_second: 1, burst: 1, operator_per_second: 10, operator_burst: 5 };
        let limiter = RateLimiter::new(own);
        let operator = key("ops", &[Scope::Operator]);
        let now = Instant::now();
        for _ in 0..5 {
            assert_eq!(limiter.admit(&operator, None, now), Ok(()));
        }
        assert_eq!(limiter.admit(&operator, None, now), Err(Duration::from_millis(100)));
        let exempt = RateLimiter::new(RateLimitConfig { operator_per_second: 0, ..own_config(1) });
        for _ in 0..1000 {
            assert_eq!(exempt.admit(&operator, None, now), Ok(()));
        }
        assert!(exempt.admit(&key("reader", &[Scope::Read]), None, now).is_ok());
        assert!(exempt.admit(&key("reader", &[Scope::Read]), None, now).is_err());
        let off = RateLimiter::new(RateLimitConfig { per_second: 0, ..own_config(1) });
        for _ in 0..1000 {
            assert_eq!(off.admit(&Caller { key: None }, None, now), Ok(()));
        }
    }

    fn own_config(per_second: u32) -> RateLimitConfig {
        RateLimitConfig { per_second, burst: 1, operator_per_second: per_second, operator_burst: 1 }
    }

    #[test]
    fn a_full_table_forgets_idle_callers_first() {
        let limiter = RateLimiter::new(RateLimitConfig { per_second: 1, burst: 1, ..Default::default() });
        let now = Instant::now();
        let anonymous = Caller { key: None };
        {
            let mut buckets = limiter.buckets.lock().unwrap();
            for index in 0..MAX_TRACKED_CALLERS as u32 {
                let address = Some(std::net::IpAddr::from(index.to_be_bytes()));
                buckets.insert(Bucketed::Address(address), Bucket { tokens: 0.0, refilled: now });
            }
        }
        let busy: Client = Some([0, 0, 0, 7].into());
        let later = now + Duration::from_millis(100);
        assert!(limiter.admit(&anonymous, busy, later).is_err(), "a busy caller is remembered");
        assert_eq!(limiter.admit(&anonymous, Some([203, 0, 113, 9].into()), later), Ok(()));
        assert!(limiter.buckets.lock().unwrap().len() <= MAX_TRACKED_CALLERS);
    }
}
