//! Logs and traces: tracing everywhere, exported over OTLP/gRPC when an endpoint is configured. A
//! tracer provider always exists so every span has real W3C ids to propagate; the server layer gives
//! every RPC a span parented on the caller's trace.

use std::task::{Context, Poll};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::RuntimeError;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/gRPC collector, e.g. `http://127.0.0.1:4317`; no export when unset.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of exported spans.
    pub service_name: String,
    /// tracing filter directives, e.g. `info,sqlx=warn`.
    pub log_filter: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            service_name: "imap-sdc".into(),
            log_filter: "info,sqlx=warn,h2=warn,tower=warn".into(),
        }
    }
}

impl TelemetryConfig {
    pub fn validate(&self, problems: &mut crate::config::Problems) {
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&self.log_filter) {
            problems.push(format!("telemetry.log_filter: {error}"));
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            problems.check(
                endpoint.starts_with("http://") || endpoint.starts_with("https://"),
                "telemetry.otlp_endpoint",
                || format!("{endpoint:?} is not an http:// or https:// URL"),
            );
        }
    }
}

/// Flushes exported spans when dropped.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.force_flush() {
            eprintln!("span export flush failed: {error}");
        }
        let _ = self.provider.shutdown();
    }
}

/// Installs the process-wide subscriber; `roles` is recorded on every exported span.
pub fn init(config: &TelemetryConfig, roles: &str) -> Result<TelemetryGuard, RuntimeError> {
    let failed = |error: Box<dyn std::error::Error + Send + Sync>| RuntimeError::Telemetry(error);
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new("imap.roles", roles.to_string()))
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|error| failed(error.into()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer("imap-sdc");
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter).map_err(|error| failed(error.into()))?;
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()
        .map_err(|error| failed(error.into()))?;
    Ok(TelemetryGuard { provider })
}

/// Server side: one span per RPC, named after the gRPC path and parented on the caller's trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerTraceLayer;

impl<S> tower::Layer<S> for ServerTraceLayer {
    type Service = ServerTrace<S>;
    fn layer(&self, inner: S) -> ServerTrace<S> {
        ServerTrace { inner }
    }
}

#[derive(Debug, Clone)]
pub struct ServerTrace<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for ServerTrace<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tracing::instrument::Instrumented<S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use tracing::Instrument;
        let path = request.uri().path().to_string();
        // A root here, parented only through `traceparent`: an in-process call runs inside the
        // caller's span, which must not become the server span's parent twice.
        let span = tracing::info_span!(parent: None, "rpc", otel.name = %path, otel.kind = "server");
        if let Some(traceparent) = request.headers().get("traceparent").and_then(|value| value.to_str().ok()) {
            proto::trace::adopt_parent(&span, traceparent);
        }
        self.inner.call(request).instrument(span)
    }
}
