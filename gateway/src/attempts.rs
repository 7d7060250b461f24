//! Failed authentication attempts, counted per client address: past `limit` failures within
//! `window`, that address is refused (429 with `Retry-After`) until its window ends, before any key
//! is looked at, so guessing secrets costs time. In memory, per replica.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses remembered at most; beyond that the oldest windows are forgotten first.
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// Where a request came from; `None` when the transport did not say (all such share one count).
pub type Client = Option<IpAddr>;

#[derive(Debug)]
pub struct FailedAttempts {
    limit: u32,
    window: Duration,
    by_client: Mutex<HashMap<Client, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl FailedAttempts {
    pub fn new(limit: u32, window: Duration) -> FailedAttempts {
        FailedAttempts { limit, window, by_client: Mutex::new(HashMap::new()) }
    }

    /// `Err(wait)` while `client` has used up its failures: how long until it may try again.
    pub fn check(&self, client: Client, now: Instant) -> Result<(), Duration> {
        let by_client = self.by_client.lock().expect("failed attempts");
        match by_client.get(&client) {
            Some(window) if window.failures >= self.limit => {
                let ends = window.started + self.window;
                if ends > now { Err(ends - now) } else { Ok(()) }
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure of `client`.
    pub fn record_failure(&self, client: Client, now: Instant) {
        let mut by_client = self.by_client.lock().expect("failed attempts");
        if by_client.len() >= MAX_TRACKED_CLIENTS && !by_client.contains_key(&client) {
            by_client.retain(|_, window| window.started + self.window > now);
            if by_client.len() >= MAX_TRACKED_CLIENTS {
                let oldest = by_client.iter().min_by_key(|(_, window)| window.started).map(|(client, _)| *client);
                if let Some(oldest) = oldest {
                    by_client.remove(&oldest);
                }
            }
        }
        let window = by_client.entry(client).or_insert(Window { started: now, failures: 0 });
        if window.started + self.window <= now {
            *window = Window { started: now, failures: 0 };
        }
        window.failures = window.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_failures_until_its_window_ends() {
        let attempts = FailedAttempts::new(3, Duration::from_secs(60));
        let (guesser, neighbour): (Client, Client) = (Some([10, 0, 0, 1].into()), Some([10, 0, 0, 2].into()));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(attempts.check(guesser, start), Ok(()));
            attempts.record_failure(guesser, start);
        }
        let later = start + Duration::from_secs(20);
        assert_eq!(attempts.check(guesser, later), Err(Duration::from_secs(40)));
        assert_eq!(attempts.check(neighbour, later), Ok(()));
        let after_window = start + Duration::from_secs(60);
        assert_eq!(attempts.check(guesser, after_window), Ok(()));
        attempts.record_failure(guesser, after_window);
        assert_eq!(attempts.check(guesser, after_window), Ok(()), "a new window counts from zero");
    }
}
