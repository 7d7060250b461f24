//! The REST surface: the data-access API under the bare URL, `/api-key` and `/authorized` (the
//! release only under `/api-key`), the status API under `/api`, the OpenAPI document and the live
//! page; one tracing span per request.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use http::header;
use proto::pb::{GetGraphRequest, ListJobsRequest};
use tracing::Instrument;

use super::auth::AccessPath;
use super::error::GatewayError;
use super::state::GatewayState;
use super::{data_access, graph_svg, release, status};

const PAGE: &str = include_str!("../static/index.html");
const OPENAPI: &str = include_str!("../static/openapi.json");
/// How many of the newest jobs colour the products of the graph picture.
const RECENT_JOBS_COLOURED: u32 = 500;

pub fn router(state: Arc<GatewayState>) -> Router {
    let data_access_routes = || {
        Router::new()
            .route("/upload/{*filename}", get(data_access::presign_upload))
            .route("/download/{*key}", get(data_access::download))
            .route("/query", get(data_access::query))
            .route("/spice-query", get(data_access::spice_query))
            .route("/repoint-table", get(data_access::kernel_table))
            .route("/spin-table", get(data_access::kernel_table))
            .route("/reprocess", post(data_access::reprocess))
    };
    Router::new()
        .merge(data_access_routes().layer(Extension(AccessPath::Open)))
        // As upstream, a release is only ever requested with an API key.
        .nest(
            "/api-key",
            data_access_routes().route("/release", get(release::release)).layer(Extension(AccessPath::ApiKey)),
        )
        .nest("/authorized", data_access_routes().layer(Extension(AccessPath::Authorized)))
        // The body is streamed to the archive, so axum's in-memory body limit does not apply here.
        .route("/upload-object/{*key}", put(data_access::receive_upload).layer(DefaultBodyLimit::disable()))
        .route("/api/files", get(status::files))
        .route("/api/files/{file_name}", get(status::file))
        .route("/api/jobs", get(status::jobs))
        .route("/api/jobs/{id}", get(status::job))
        .route("/api/campaigns/{id}", get(status::campaign))
        .route("/api/queues", get(status::queues))
        .route("/api/graph", get(status::graph))
        .route("/api/graph.svg", get(graph_picture))
        .route("/api/quarantine", get(status::quarantine))
        .route("/api/processor", get(status::processor))
        .route("/api/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .route("/api/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/", get(|| async { Html(PAGE) }))
        .route("/ui", get(|| async { Html(PAGE) }))
        .layer(middleware::from_fn(request_span))
        .with_state(state)
}

/// `GET /api/graph.svg`: the product graph as a picture.
async fn graph_picture(
    State(state): State<Arc<GatewayState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, GatewayError> {
    let graph =
        state.clients.depsvc.clone().get_graph(GetGraphRequest {}).await.map_err(GatewayError::upstream("depsvc"))?;
    let instrument = params.get("instrument").map(String::as_str).filter(|name| !name.is_empty());
    let recent = ListJobsRequest { limit: RECENT_JOBS_COLOURED, ..Default::default() };
    let jobs = state
        .clients
        .starter
        .clone()
        .list_jobs(recent)
        .await
        .map_err(GatewayError::upstream("starter"))?
        .into_inner()
        .jobs;
    let mut latest_states = BTreeMap::new();
    // Newest first: the first job seen of a product is its latest.
    for job in &jobs {
        let label = job.product.clone().unwrap_or_default().to_string();
        latest_states.entry(label).or_insert_with(|| job.state());
    }
    let svg = graph_svg::render(graph.get_ref(), instrument, &latest_states);
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// One span per request, named after the route family; the caller is recorded once known.
async fn request_span(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "gateway.request",
        method = %request.method(),
        path = %request.uri().path(),
        caller = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    async move {
        let response = next.run(request).await;
        tracing::Span::current().record("status", response.status().as_u16());
        tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "request done");
        response
    }
    .instrument(span)
    .await
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
