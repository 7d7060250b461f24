//! Prometheus metrics of a node, in the text exposition format at `GET /metrics` on the node's
//! listener. One process-wide registry: counters and histograms are recorded where things happen
//! ([`count`], [`observe`]); what a database or a role already knows (jobs by state, slots in use,
//! leadership) is read at scrape time by the collectors roles register ([`collect_with`]).
//! Hand-written on purpose: a few dozen lines instead of a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use tower::{Layer, Service};

/// Upper bounds (seconds) of every histogram: from a quick RPC to an hour-long job.
const BUCKETS: [f64; 18] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

type Labels = Vec<(&'static str, String)>;

/// A value a collector read at scrape time (a gauge).
#[derive(Debug, Clone)]
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: Labels,
    pub value: f64,
}

type Collector = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<Gauge>> + Send>> + Send + Sync>;

#[derive(Default)]
struct Histogram {
    /// Cumulative counts per bucket of [`BUCKETS`], then the count of all.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Registry {
    help: BTreeMap<&'static str, (&'static str, &'static str)>,
    counters: BTreeMap<(&'static str, Labels), f64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
    collectors: Vec<Collector>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(name, value)| (*name, value.to_string())).collect()
}

/// Adds `by` to the counter `name` (by convention ending in `_total`) with these labels.
pub fn count(name: &'static str, help: &'static str, pairs: &[(&'static str, &str)], by: f64) {
    let mut registry = registry().lock().expect("metrics lock");
    registry.help.insert(name, (help, "counter"));
    *registry.counters.entry((name, labels(pairs))).or_default() += by;
}

/// Records one observation (seconds) in the histogram `name` with these labels.
pub fn observe(name: &'static str, help: &'static str, pairs: &[(&'static str, &str)], seconds: f64) {
    let mut registry = registry().lock().expect("metrics lock");
    registry.help.insert(name, (help, "histogram"));
    let histogram = registry.histograms.entry((name, labels(pairs))).or_default();
    for (bucket, bound) in histogram.buckets.iter_mut().zip(BUCKETS) {
        if seconds <= bound {
            *bucket += 1;
        }
    }
    histogram.count += 1;
    histogram.sum += seconds;
}

/// The histograms named `name` so far: per label set (its values joined with `,`), how many
/// observations and their sum in seconds. For a benchmark that reports where its time went.
pub fn histogram_totals(name: &str) -> BTreeMap<String, (u64, f64)> {
    let registry = registry().lock().expect("metrics lock");
    registry
        .histograms
        .iter()
        .filter(|((histogram, _), _)| *histogram == name)
        .map(|((_, labels), histogram)| {
            let key = labels.iter().map(|(_, value)| value.as_str()).collect::<Vec<_>>().join(",");
            (key, (histogram.count, histogram.sum))
        })
        .collect()
}

/// Registers a reader of gauges, called at every scrape (a failing read returns nothing).
pub fn collect_with<F, Fut>(collector: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<Gauge>> + Send + 'static,
{
    let collector: Collector = Arc::new(move || Box::pin(collector()));
    registry().lock().expect("metrics lock").collectors.push(collector);
}

/// Everything in the text exposition format (version 0.0.4).
pub async fn render() -> String {
    let collectors = registry().lock().expect("metrics lock").collectors.clone();
    let mut gauges = Vec::new();
    for collector in collectors {
        gauges.extend(collector().await);
    }
    let registry = registry().lock().expect("metrics lock");
    let mut families: BTreeMap<&'static str, (&'static str, &'static str, Vec<String>)> = BTreeMap::new();
    for ((name, labels), value) in &registry.counters {
        let (help, kind) = registry.help[name];
        families.entry(name).or_insert((help, kind, Vec::new())).2.push(sample(name, labels, None, *value));
    }
    for ((name, labels), histogram) in &registry.histograms {
        let (help, kind) = registry.help[name];
        let lines = &mut families.entry(name).or_insert((help, kind, Vec::new())).2;
        let bucket_name = format!("{name}_bucket");
        for (count, bound) in histogram.buckets.iter().zip(BUCKETS) {
            lines.push(sample(&bucket_name, labels, Some(&bound.to_string()), *count as f64));
        }
        lines.push(sample(&bucket_name, labels, Some("+Inf"), histogram.count as f64));
        lines.push(sample(&format!("{name}_sum"), labels, None, histogram.sum));
        lines.push(sample(&format!("{name}_count"), labels, None, histogram.count as f64));
    }
    for gauge in &gauges {
        let lines = &mut families.entry(gauge.name).or_insert((gauge.help, "gauge", Vec::new())).2;
        lines.push(sample(gauge.name, &gauge.labels, None, gauge.value));
    }
    let mut text = String::new();
    for (name, (help, kind, lines)) in families {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for line in lines {
            text.push_str(&line);
        }
    }
    text
}

fn sample(name: &str, labels: &Labels, le: Option<&str>, value: f64) -> String {
    let mut pairs: Vec<String> = labels.iter().map(|(label, value)| format!("{label}=\"{}\"", escape(value))).collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    let labels = if pairs.is_empty() { String::new() } else { format!("{{{}}}", pairs.join(",")) };
    format!("{name}{labels} {value}\n")
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`, for Prometheus.
pub fn router() -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render().await)
        }),
    )
}

// === GrpcMetricsLayer ===

/// Counts gRPC requests served, by method and status code, and their latency until the response
/// head (the whole call for unary RPCs; a streaming RPC until it is established).
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> GrpcMetrics<S> {
        GrpcMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for GrpcMetrics<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let grpc = crate::server::is_grpc(&request);
        let method = request.uri().path().to_string();
        let call = self.inner.call(request);
        if !grpc || method.starts_with("/grpc.") {
            return Box::pin(call);
        }
        let started = Instant::now();
        Box::pin(async move {
            let response = call.await;
            if let Ok(response) = &response {
                // An error answered at once travels in the head (trailers-only); otherwise the
                // call was accepted, and a later failure sits in the trailers.
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|code| code.to_str().ok())
                    .and_then(|code| code.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from);
                let code = format!("{code:?}");
                let pairs = [("method", method.as_str()), ("code", code.as_str())];
                count(
                    "imap_sdc_grpc_server_requests_total",
                    "gRPC requests served, by method and status code",
                    &pairs,
                    1.0,
                );
                observe(
                    "imap_sdc_grpc_server_duration_seconds",
                    "gRPC request latency until the response head, by method and status code",
                    &pairs,
                    started.elapsed().as_secs_f64(),
                );
            }
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_counters_histograms_and_collected_gauges() {
        count("test_things_total", "things", &[("kind", "a\"b")], 2.0);
        observe("test_wait_seconds", "waits", &[], 0.2);
        observe("test_wait_seconds", "waits", &[], 7.0);
        collect_with(|| async {
            vec![Gauge { name: "test_depth", help: "depth", labels: vec![("queue", "x".into())], value: 3.0 }]
        });
        let text = render().await;
        assert!(text.contains("# TYPE test_things_total counter\ntest_things_total{kind=\"a\\\"b\"} 2\n"), "{text}");
        assert!(text.contains("test_wait_seconds_bucket{le=\"0.25\"} 1\n"), "{text}");
        assert!(text.contains("test_wait_seconds_bucket{le=\"10\"} 2\n"), "{text}");
        assert!(
            text.contains(
                "test_wait_seconds_bucket{le=\"+Inf\"} 2\ntest_wait_seconds_sum 7.2\ntest_wait_seconds_count 2\n"
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE test_depth gauge\ntest_depth{queue=\"x\"} 3\n"), "{text}");
    }

    #[test]
    fn histogram_totals_count_and_sum_each_label_set_of_one_histogram() {
        observe("test_stage_seconds", "stages", &[("stage", "link")], 0.5);
        observe("test_stage_seconds", "stages", &[("stage", "link")], 0.25);
        observe("test_stage_seconds", "stages", &[("stage", "track")], 1.0);
        observe("test_other_seconds", "others", &[("stage", "link")], 9.0);
        let totals = histogram_totals("test_stage_seconds");
        assert_eq!(totals.len(), 2);
        assert_eq!(totals["link"], (2, 0.75));
        assert_eq!(totals["track"], (1, 1.0));
        assert!(histogram_totals("test_never_observed_seconds").is_empty());
    }
}
