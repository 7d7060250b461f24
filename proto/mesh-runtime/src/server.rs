//! The server side of every listener, one stack for gRPC and REST alike, outermost first:
//!
//! 1. [`ServerTraceLayer`]: one span per request, parented on the caller's trace, so even a
//!    refused request is seen. On the internal listener ([`serve_internal`], mutual TLS, and calls
//!    inside the process, [`crate::local`]) the authorisation table ([`AuthorizeLayer`]) comes
//!    next: a caller without a certificate, or calling an RPC its role may not, is refused before
//!    it takes a slot. [`GrpcMetricsLayer`] then counts the request, by method and code.
//! 2. [`LoadShedLayer`]: at most `concurrency_limit` requests are handled at once; one more is
//!    answered at once, before any work, with gRPC `RESOURCE_EXHAUSTED` or HTTP 429 and
//!    `Retry-After` (transient: callers back off and come back). Health checks are never shed, so
//!    a busy node is not restarted for being busy.
//! 3. [`RequestTimeoutLayer`]: an admitted request is answered within `request_timeout`, or the
//!    caller's own `grpc-timeout` when shorter (`DEADLINE_EXCEEDED`, HTTP 504), which also frees
//!    its slot. Streaming RPCs and uploads are long by design and not bounded.
//!
//! HTTP/2 settings (`max_concurrent_streams`, keepalive) go on the tonic server itself; message
//! size limits on each service, as it is registered ([`crate::role::ServiceRegistry`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use proto::client_stack::is_streaming;
use proto::error::ErrorCode;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tonic::body::Body;
use tonic::transport::server::TcpIncoming;
use tower::layer::util::{Identity, Stack};
use tower::{Layer, Service};

use crate::authz::AuthorizeLayer;
use crate::config::ServerConfig;
use crate::metrics::GrpcMetricsLayer;
use crate::telemetry::ServerTraceLayer;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Serves `router` (gRPC services and REST routes) on `listener` through the server stack until
/// `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    config: &ServerConfig,
    router: axum::Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    connection_settings(config)
        .accept_http1(true)
        .layer(ServerTraceLayer)
        .layer(crate::metrics::GrpcMetricsLayer)
        .layer(LoadShedLayer::new(config.concurrency_limit.get()))
        .layer(RequestTimeoutLayer::new(config.request_timeout))
        .add_routes(tonic::service::Routes::from(router))
        // Without TCP_NODELAY a small unary answer waits for the peer's delayed ACK (~40 ms).
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), shutdown)
        .await
}

/// Serves the mesh services on the internal listener: mutual TLS (callers present a certificate
/// signed by the mesh CA) and `layers` ([`InternalLayers`]: the authorisation table before load
/// shedding, so refused callers take no slot); otherwise the same stack as [`serve`].
pub async fn serve_internal(
    config: &ServerConfig,
    layers: InternalLayers,
    router: axum::Router,
    listener: TcpListener,
    tls: tonic::transport::ServerTlsConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    connection_settings(config)
        .tls_config(tls)?
        .layer(layers.0)
        .add_routes(tonic::service::Routes::from(router))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), shutdown)
        .await
}

type InternalStack = Stack<
    RequestTimeoutLayer,
    Stack<LoadShedLayer, Stack<GrpcMetricsLayer, Stack<AuthorizeLayer, Stack<ServerTraceLayer, Identity>>>>,
>;

/// The internal services' layers, outermost first: trace, authorisation, metrics, load shedding,
/// timeout. The internal listener and calls made inside the process ([`crate::local`]) are given
/// clones of one, so they share one load-shedding limit.
#[derive(Clone)]
pub struct InternalLayers(pub(crate) InternalStack);

impl InternalLayers {
    pub fn new(config: &ServerConfig) -> InternalLayers {
        InternalLayers(
            tower::ServiceBuilder::new()
                .layer(ServerTraceLayer)
                .layer(AuthorizeLayer)
                .layer(GrpcMetricsLayer)
                .layer(LoadShedLayer::new(config.concurrency_limit.get()))
                .layer(RequestTimeoutLayer::new(config.request_timeout))
                .into_inner(),
        )
    }
}

/// HTTP/2 settings both listeners share.
fn connection_settings(config: &ServerConfig) -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .max_concurrent_streams(config.max_concurrent_streams.get())
        .http2_keepalive_interval(Some(config.keepalive_interval))
        .http2_keepalive_timeout(Some(config.keepalive_timeout))
}

pub(crate) fn is_grpc<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| content_type.starts_with("application/grpc"))
}

/// The answer to a request refused with `code`: a trailers-only gRPC status for gRPC callers, the
/// HTTP status with a JSON string body (like every REST refusal of the gateway) for the rest.
fn refusal(grpc: bool, code: ErrorCode, message: &str) -> http::Response<Body> {
    if grpc {
        return code.status(message).into_http();
    }
    let body = serde_json::to_string(message).unwrap_or_default();
    let mut response = http::Response::new(Body::new(body));
    *response.status_mut() = code.http_status();
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

// === LoadShedLayer ===

/// Handles at most `limit` requests at once and refuses the rest at once.
#[derive(Debug, Clone)]
pub struct LoadShedLayer {
    slots: Arc<Semaphore>,
}

impl LoadShedLayer {
    /// One semaphore for the whole listener, whatever connection a request comes on.
    pub fn new(limit: usize) -> LoadShedLayer {
        LoadShedLayer { slots: Arc::new(Semaphore::new(limit)) }
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;
    fn layer(&self, inner: S) -> LoadShed<S> {
        LoadShed { inner, slots: self.slots.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct LoadShed<S> {
    inner: S,
    slots: Arc<Semaphore>,
}

/// How long an overloaded node asks REST clients to wait, in seconds.
const RETRY_AFTER_SECONDS: &str = "1";

impl<S, B> Service<http::Request<B>> for LoadShed<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path().starts_with("/grpc.health.") {
            let call = self.inner.call(request);
            return Box::pin(call);
        }
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            let mut response =
                refusal(is_grpc(&request), ErrorCode::ResourceExhausted, "overloaded, try again shortly");
            if !is_grpc(&request) {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from_static(RETRY_AFTER_SECONDS));
            }
            tracing::warn!(path = request.uri().path(), "overloaded, request shed");
            return Box::pin(async move { Ok(response) });
        };
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await;
            drop(slot);
            response
        })
    }
}

// === RequestTimeoutLayer ===

/// Answers a request that is not answered within `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeoutLayer {
    timeout: Duration,
}

impl RequestTimeoutLayer {
    pub fn new(timeout: Duration) -> RequestTimeoutLayer {
        RequestTimeoutLayer { timeout }
    }
}

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;
    fn layer(&self, inner: S) -> RequestTimeout<S> {
        RequestTimeout { inner, timeout: self.timeout }
    }
}

#[derive(Debug, Clone)]
pub struct RequestTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S, B> Service<http::Request<B>> for RequestTimeout<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let grpc = is_grpc(&request);
        let unbounded = if grpc { is_streaming(request.uri().path()) } else { request.method() == http::Method::PUT };
        // A caller's own deadline, when shorter, is kept too: tonic's listener keeps it itself, a
        // call inside the process ([`crate::local`]) only here.
        let caller_deadline = if grpc { caller_timeout(&request) } else { None };
        let call = self.inner.call(request);
        if unbounded {
            return Box::pin(call);
        }
        let timeout = caller_deadline.map_or(self.timeout, |deadline| deadline.min(self.timeout));
        Box::pin(async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(response) => response,
                Err(_) => Ok(refusal(grpc, ErrorCode::DeadlineExceeded, &format!("not answered within {timeout:?}"))),
            }
        })
    }
}

/// The `grpc-timeout` a gRPC caller sent: at most 8 digits and a unit (`H`, `M`, `S`, `m`, `u`,
/// `n`); `None` when absent or malformed (the configured timeout then applies alone).
fn caller_timeout<B>(request: &http::Request<B>) -> Option<Duration> {
    let value = request.headers().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::routing::get;
    use tokio::sync::Notify;

    use super::*;

    /// A node whose `/slow` route holds its slot until released, with one slot in all.
    async fn one_slot_server(release: Arc<Notify>, entered: Arc<Notify>) -> String {
        let router = axum::Router::new().route(
            "/slow",
            get(move || {
                let (release, entered) = (release.clone(), entered.clone());
                async move {
                    entered.notify_one();
                    release.notified().await;
                    "done"
                }
            }),
        );
        let (_, health) = tonic_health::server::health_reporter();
        let router = router.merge(tonic::service::Routes::new(health).into_axum_router());
        let config = ServerConfig { concurrency_limit: std::num::NonZeroUsize::MIN, ..ServerConfig::default() };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { serve(&config, router, listener, std::future::pending()).await });
        address
    }

    #[tokio::test]
    async fn an_overloaded_node_sheds_load_but_answers_health_checks() {
        let (release, entered) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let address = one_slot_server(release.clone(), entered.clone()).await;
        let slow = tokio::spawn(http_get(address.clone(), "/slow"));
        entered.notified().await;

        let shed = http_get(address.clone(), "/slow").await;
        assert!(shed.starts_with("HTTP/1.1 429"), "{shed}");
        assert!(shed.to_ascii_lowercase().contains(&format!("retry-after: {RETRY_AFTER_SECONDS}\r\n")), "{shed}");

        let channel = proto::clients::lazy_channel(&address).unwrap();
        let mut depsvc = proto::pb::dependency_service_client::DependencyServiceClient::new(channel.clone());
        let status = depsvc.get_graph(proto::pb::GetGraphRequest {}).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");

        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let serving = health.check(tonic_health::pb::HealthCheckRequest::default()).await.unwrap().into_inner();
        assert_eq!(serving.status(), tonic_health::pb::health_check_response::ServingStatus::Serving);

        release.notify_one();
        assert!(slow.await.unwrap().starts_with("HTTP/1.1 200"), "the admitted request finishes");
    }

    /// A plain HTTP/1.1 GET; the whole response as text.
    async fn http_get(address: String, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(address.trim_start_matches("http://")).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    fn grpc_request(timeout: Option<&str>) -> http::Request<Body> {
        let mut request = http::Request::builder()
            .uri("/imap.sdc.v1.DependencyService/GetGraph")
            .header(http::header::CONTENT_TYPE, "application/grpc");
        if let Some(timeout) = timeout {
            request = request.header("grpc-timeout", timeout);
        }
        request.body(Body::empty()).unwrap()
    }

    #[test]
    fn reads_the_callers_grpc_timeout() {
        assert_eq!(caller_timeout(&grpc_request(Some("250m"))), Some(Duration::from_millis(250)));
        assert_eq!(caller_timeout(&grpc_request(Some("3S"))), Some(Duration::from_secs(3)));
        assert_eq!(caller_timeout(&grpc_request(Some("2H"))), Some(Duration::from_secs(7200)));
        assert_eq!(caller_timeout(&grpc_request(Some("40u"))), Some(Duration::from_micros(40)));
        for malformed in ["", "m", "12", "123456789S", "-5m", "5x", "5 m"] {
            assert_eq!(caller_timeout(&grpc_request(Some(malformed))), None, "{malformed:?}");
        }
        assert_eq!(caller_timeout(&grpc_request(None)), None);
    }

    /// A handler that never answers, behind a timeout of an hour: a caller asking for 50 ms gets
    /// DEADLINE_EXCEEDED after 50 ms (the clock is paused and jumps), not after the hour.
    #[tokio::test(start_paused = true)]
    async fn a_callers_shorter_deadline_is_kept() {
        let never = tower::service_fn(|_: http::Request<Body>| {
            std::future::pending::<Result<http::Response<Body>, std::convert::Infallible>>()
        });
        let mut service = RequestTimeoutLayer::new(Duration::from_secs(3600)).layer(never);
        let started = tokio::time::Instant::now();
        let response = service.call(grpc_request(Some("50m"))).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_millis(50));
        let status = tonic::Status::from_header_map(response.headers()).expect("a gRPC status");
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);

        let started = tokio::time::Instant::now();
        service.call(grpc_request(Some("2H"))).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(3600), "a longer deadline leaves the node's own");
    }
}
