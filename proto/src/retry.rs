//! The one retry policy of the mesh: how many attempts (a number, or until stopped), capped
//! exponential backoff with jitter, which errors are worth another attempt (by default the
//! transient rows of the [error table](crate::error)), and a stop signal (the node's shutdown)
//! that ends every wait at once. Each use configures its own policy; every retry loop in the tree
//! is one of these.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::time::Duration;

use crate::error::{ErrorCode, HasErrorCode};

/// What tells a retry loop to stop waiting: the node's shutdown (`mesh_runtime::Shutdown`
/// implements it), or [`NeverStop`].
pub trait StopSignal {
    fn is_stopped(&self) -> bool;
    /// Resolves once stopping has been asked for. Owned (boxed), so a retry future that waits on
    /// it stays `Send` whatever borrows it holds.
    fn stopped(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// For work that must run to its end (a completion report while draining) and for tools.
#[derive(Debug, Clone, Copy, Default)]
pub struct NeverStop;

impl StopSignal for NeverStop {
    fn is_stopped(&self) -> bool {
        false
    }

    fn stopped(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(std::future::pending())
    }
}

/// How a retried call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T, E> {
    /// It succeeded.
    Done(T),
    /// It failed in a way another attempt cannot fix; the error says why.
    Refused(E),
    /// Every allowed attempt failed transiently; the last error.
    Exhausted(E),
    /// Stopping was asked for while waiting to try again: nothing may be recorded as handled.
    Stopped,
}

impl<T, E> Outcome<T, E> {
    /// The value, or the error that ended the retries (`None` when stopped).
    pub fn into_result(self) -> Result<T, Option<E>> {
        match self {
            Outcome::Done(value) => Ok(value),
            Outcome::Refused(error) | Outcome::Exhausted(error) => Err(Some(error)),
            Outcome::Stopped => Err(None),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `None`: until success, a permanent error or stop.
    pub max_attempts: Option<NonZeroU32>,
    /// Wait before the first retry; it doubles with each further one.
    pub first_delay: Duration,
    /// The cap of the doubling.
    pub max_delay: Duration,
    /// Which errors are worth another attempt.
    pub transient: fn(ErrorCode) -> bool,
}

impl RetryPolicy {
    /// Retries transient errors until success, a permanent error, or stop.
    pub const fn until_stopped(first_delay: Duration, max_delay: Duration) -> RetryPolicy {
        RetryPolicy { max_attempts: None, first_delay, max_delay, transient: ErrorCode::is_transient }
    }

    /// At most `attempts` attempts in all.
    pub const fn attempts(attempts: NonZeroU32, first_delay: Duration, max_delay: Duration) -> RetryPolicy {
        RetryPolicy { max_attempts: Some(attempts), first_delay, max_delay, transient: ErrorCode::is_transient }
    }

    /// Treats every error as worth another attempt (reconnecting a stream whatever broke it).
    pub const fn retrying_every_error(self) -> RetryPolicy {
        RetryPolicy { transient: |_| true, ..self }
    }

    /// The wait before retry number `retry` (1 for the first): the capped doubling, less a random
    /// part of up to half, so callers that failed together do not all come back together.
    pub fn delay_before(&self, retry: u32) -> Duration {
        let doubled = self.first_delay.saturating_mul(1 << retry.saturating_sub(1).min(20));
        let capped = doubled.min(self.max_delay);
        let half = capped / 2;
        half + half.mul_f64(random_fraction())
    }

    /// A backoff for loops that make their own attempts (stream reconnects).
    pub fn backoff(&self) -> Backoff {
        Backoff { policy: *self, retries: 0 }
    }

    /// Calls `call` until it succeeds, fails permanently, runs out of attempts, or `stop` fires
    /// while waiting to try again. `what` names the call in the log.
    pub async fn run<T, E, F, Fut>(&self, what: &str, stop: &impl StopSignal, mut call: F) -> Outcome<T, E>
    where
        E: HasErrorCode,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut backoff = self.backoff();
        loop {
            let error = match call().await {
                Ok(value) => return Outcome::Done(value),
                Err(error) => error,
            };
            let code = error.error_code();
            if !(self.transient)(code) {
                return Outcome::Refused(error);
            }
            if backoff.out_of_attempts() {
                tracing::warn!(call = what, %error, %code, attempts = backoff.retries + 1, "giving up after transient failures");
                return Outcome::Exhausted(error);
            }
            tracing::warn!(call = what, %error, %code, "transient failure, retrying");
            if !backoff.wait(stop).await {
                return Outcome::Stopped;
            }
        }
    }
}

/// Where a retry loop is in its policy.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    retries: u32,
}

impl Backoff {
    /// After a success: the next failure waits the first delay again.
    pub fn reset(&mut self) {
        self.retries = 0;
    }

    fn out_of_attempts(&self) -> bool {
        self.policy.max_attempts.is_some_and(|max| self.retries + 1 >= max.get())
    }

    /// Waits before the next attempt; false when out of attempts or when `stop` fired first.
    pub async fn wait(&mut self, stop: &impl StopSignal) -> bool {
        if self.out_of_attempts() || stop.is_stopped() {
            return false;
        }
        self.retries += 1;
        let delay = self.policy.delay_before(self.retries);
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = stop.stopped() => false,
        }
    }
}

/// A random number in [0, 1) from the standard library's per-instance hash keys, which is all
/// jitter needs.
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const FAST: RetryPolicy = RetryPolicy::until_stopped(Duration::from_millis(100), Duration::from_secs(5));

    /// A stop signal already given.
    struct Stopped;

    impl StopSignal for Stopped {
        fn is_stopped(&self) -> bool {
            true
        }

        fn stopped(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
            Box::pin(std::future::ready(()))
        }
    }

    #[test]
    fn delays_double_up_to_the_cap_with_at_most_half_taken_off() {
        for (retry, full) in [(1, 100), (2, 200), (3, 400), (6, 3200), (7, 5000), (40, 5000)] {
            let full = Duration::from_millis(full);
            for _ in 0..20 {
                let delay = FAST.delay_before(retry);
                assert!(
                    delay >= full / 2 && delay <= full,
                    "retry {retry}: {delay:?} not in [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let outcome = FAST
            .run("flaky", &NeverStop, || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(tonic::Status::unavailable("down")),
                    _ => Ok("up"),
                }
            })
            .await;
        assert!(matches!(outcome, Outcome::Done("up")));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_end_at_once_and_attempts_are_bounded() {
        let calls = AtomicU32::new(0);
        let refused = FAST
            .run("refused", &NeverStop, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(tonic::Status::invalid_argument("bad"))
            })
            .await;
        assert!(matches!(refused, Outcome::Refused(status) if status.code() == tonic::Code::InvalidArgument));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let three =
            RetryPolicy::attempts(NonZeroU32::new(3).unwrap(), Duration::from_millis(10), Duration::from_secs(1));
        let exhausted = three
            .run("down", &NeverStop, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(tonic::Status::unavailable("down"))
            })
            .await;
        assert!(matches!(exhausted, Outcome::Exhausted(_)));
        assert_eq!(calls.load(Ordering::SeqCst), 4, "one refused call, then three attempts");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_wait_at_once() {
        let started = tokio::time::Instant::now();
        let outcome = FAST.run("down", &Stopped, || async { Err::<(), _>(tonic::Status::unavailable("down")) }).await;
        assert!(matches!(outcome, Outcome::Stopped));
        assert_eq!(started.elapsed(), Duration::ZERO, "no time passed waiting");
        let everything = FAST.retrying_every_error();
        let outcome =
            everything.run("bad", &Stopped, || async { Err::<(), _>(tonic::Status::invalid_argument("")) }).await;
        assert!(matches!(outcome, Outcome::Stopped), "a policy that retries everything retries refusals too");
    }
}
