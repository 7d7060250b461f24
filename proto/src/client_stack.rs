//! Every outbound gRPC call goes through one tower stack, outermost first:
//!
//! 1. [`TraceContextLayer`]: adds the caller's W3C `traceparent`, once, so every attempt below
//!    carries it and a file's journey stays one trace.
//! 2. [`DeadlineLayer`]: bounds a unary call as a whole, retries included (a hung peer answers
//!    `DEADLINE_EXCEEDED` instead of holding the caller forever) and tells the callee the
//!    deadline (`grpc-timeout`) so it can stop working on an answer nobody waits for. Streaming
//!    RPCs (found in the descriptor set) are long-lived by design and never cut.
//! 3. [`UnaryRetryLayer`]: a unary call that failed transiently (the peer restarting, shedding
//!    load) is sent again a bounded number of times; its body is small, so it is buffered to be
//!    re-sent. Above the limit so a backoff wait holds no slot.
//! 4. A concurrency limit: how many calls one client has in flight at once, so a burst queues
//!    here instead of piling onto a peer.
//! 5. [`Failover`] over the lazily connecting channels, one per address of the peer: a peer given
//!    as several replicas (two indexers, one of them leading) is called at the one that last
//!    answered; a connection failure or `UNAVAILABLE` (a standby refusing a write, a replica
//!    gone) moves the next call on to the next replica, so the resend above reaches the leader
//!    and a reconnecting stream (the processor's work stream) finds the new one.
//!
//! Message size limits are set on the generated clients (see [`crate::clients`]).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use prost::Message;
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt};

use crate::error::{ErrorCode, HasErrorCode};
use crate::retry::{NeverStop, RetryPolicy};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The gRPC paths (`/package.Service/Method`) of every RPC that streams in either direction,
/// read from the contracts' descriptor set rather than listed by hand.
pub static STREAMING_PATHS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let descriptors = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET)
        .expect("the contracts' descriptor set is valid protobuf");
    let mut paths = HashSet::new();
    for file in &descriptors.file {
        for service in &file.service {
            for method in &service.method {
                if method.client_streaming() || method.server_streaming() {
                    paths.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
    }
    paths
});

/// Whether a request path names a streaming RPC.
pub fn is_streaming(path: &str) -> bool {
    STREAMING_PATHS.contains(path)
}

// === TraceContextLayer ===

/// Adds the current span's `traceparent` to every outgoing request.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextLayer;

impl<S> Layer<S> for TraceContextLayer {
    type Service = TraceContext<S>;
    fn layer(&self, inner: S) -> TraceContext<S> {
        TraceContext { inner }
    }
}

#[derive(Debug, Clone)]
pub struct TraceContext<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for TraceContext<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<B>) -> S::Future {
        // Read here, synchronously, while the caller's span is the current one.
        let traceparent = crate::trace::current_traceparent();
        if !traceparent.is_empty()
            && let Ok(value) = http::HeaderValue::from_str(&traceparent)
        {
            request.headers_mut().insert("traceparent", value);
        }
        self.inner.call(request)
    }
}

// === DeadlineLayer ===

/// Bounds each unary call by `deadline`; streaming calls pass untouched.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    deadline: Duration,
}

impl DeadlineLayer {
    pub fn new(deadline: Duration) -> DeadlineLayer {
        DeadlineLayer { deadline }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline { inner, deadline: self.deadline }
    }
}

#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    deadline: Duration,
}

impl<S, B> Service<http::Request<B>> for Deadline<S>
where
    S: Service<http::Request<B>> + Send,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(context).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if is_streaming(request.uri().path()) {
            let call = self.inner.call(request);
            return Box::pin(async move { call.await.map_err(Into::into) });
        }
        let deadline = self.deadline;
        // A deadline the caller set itself (tonic's `Request::set_timeout`) is kept.
        if !request.headers().contains_key("grpc-timeout")
            && let Ok(value) = http::HeaderValue::from_str(&format!("{}m", deadline.as_millis().min(99_999_999)))
        {
            request.headers_mut().insert("grpc-timeout", value);
        }
        let path = request.uri().path().to_string();
        let call = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(deadline, call).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(Box::new(tonic::Status::deadline_exceeded(format!(
                    "{path} did not answer within {deadline:?}"
                ))) as BoxError),
            }
        })
    }
}

// === UnaryRetryLayer ===

/// Sends a unary call again while it fails transiently, within `policy`'s attempts.
#[derive(Debug, Clone, Copy)]
pub struct UnaryRetryLayer {
    policy: RetryPolicy,
}

impl UnaryRetryLayer {
    pub fn new(policy: RetryPolicy) -> UnaryRetryLayer {
        UnaryRetryLayer { policy }
    }
}

impl<S> Layer<S> for UnaryRetryLayer {
    type Service = UnaryRetry<S>;
    fn layer(&self, inner: S) -> UnaryRetry<S> {
        UnaryRetry { inner, policy: self.policy }
    }
}

#[derive(Debug, Clone)]
pub struct UnaryRetry<S> {
    inner: S,
    policy: RetryPolicy,
}

/// Why an attempt failed, when it did.
fn failure_code<ResBody>(result: &Result<http::Response<ResBody>, BoxError>) -> Option<ErrorCode> {
    match result {
        // tonic answers a refused unary call with a trailers-only response: the status is a header.
        Ok(response) => {
            let status = response.headers().get("grpc-status")?.to_str().ok()?.parse::<i32>().ok()?;
            (status != 0).then(|| ErrorCode::from_grpc(tonic::Code::from_i32(status)))
        }
        Err(error) => Some(error_code_of(error.as_ref())),
    }
}

/// The code of a transport error: a `Status` found in it, else what tonic would make of it.
fn error_code_of(error: &(dyn std::error::Error + Send + Sync + 'static)) -> ErrorCode {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(status) = current.downcast_ref::<tonic::Status>() {
            return status.error_code();
        }
        source = current.source();
    }
    // Connection refused or reset and the like: the peer is not there right now.
    ErrorCode::Unavailable
}

impl<S> Service<http::Request<Body>> for UnaryRetry<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<Result<http::Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Each attempt waits for the inner service's readiness itself (below the concurrency limit).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let policy = self.policy;
        if is_streaming(request.uri().path()) {
            return Box::pin(async move { inner.oneshot(request).await.map_err(Into::into) });
        }
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes: Bytes = body.collect().await.map_err(BoxError::from)?.to_bytes();
            let attempt = |inner: S| {
                let request =
                    http::Request::from_parts(parts.clone(), Body::new(http_body_util::Full::new(bytes.clone())));
                async move { inner.oneshot(request).await.map_err(Into::into) }
            };
            let mut backoff = policy.backoff();
            loop {
                let result = attempt(inner.clone()).await;
                match failure_code(&result) {
                    Some(code) if (policy.transient)(code) => {
                        // The call's deadline (above) bounds the waiting; nothing else stops it.
                        if !backoff.wait(&NeverStop).await {
                            return result;
                        }
                        tracing::debug!(path = parts.uri.path(), %code, "transient failure, sending the call again");
                    }
                    _ => return result,
                }
            }
        })
    }
}

// === Failover ===

/// Calls one of several replicas of a peer: the one that last answered. A call that finds it gone
/// (connection failure) or refusing (`UNAVAILABLE`) moves the choice on to the next replica for
/// the calls after it; the failed call itself is resent, if at all, by [`UnaryRetry`] above.
#[derive(Debug, Clone)]
pub struct Failover<S> {
    replicas: Arc<[S]>,
    /// Index of the replica calls go to now, shared by every clone of this client.
    current: Arc<AtomicUsize>,
}

impl<S> Failover<S> {
    /// Fails over among `replicas`, starting at the first. Needs at least one.
    pub fn new(replicas: Vec<S>) -> Failover<S> {
        assert!(!replicas.is_empty(), "a peer has at least one address");
        Failover { replicas: replicas.into(), current: Arc::new(AtomicUsize::new(0)) }
    }
}

impl<S, B, R> Service<http::Request<B>> for Failover<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
    R: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = BoxError;
    type Future = BoxFuture<Result<http::Response<R>, BoxError>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The chosen replica's readiness is awaited in the call (oneshot); which one is chosen is
        // only known then.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let chosen = self.current.load(Ordering::Relaxed);
        let replica = self.replicas[chosen].clone();
        let (current, count) = (self.current.clone(), self.replicas.len());
        Box::pin(async move {
            let result = replica.oneshot(request).await.map_err(Into::into);
            if count > 1 && failure_code(&result) == Some(ErrorCode::Unavailable) {
                // Only from the replica that failed: a concurrent call may have moved on already.
                let next = (chosen + 1) % count;
                if current.compare_exchange(chosen, next, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                    tracing::debug!(from = chosen, to = next, "peer replica unavailable, moving on to the next");
                }
            }
            result
        })
    }
}
