//! The REST surface: the data-access API under the bare URL, `/api-key` and `/authorized` (the
//! release only under `/api-key`), the status API under `/api`, the OpenAPI document and the live
//! page; one tracing span per request.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::{Extension, Json, Router};
use http::{Method, header};
use proto::pb::{GetGraphRequest, ListJobsRequest};
use tracing::Instrument;

use super::auth::{AccessPath, Caller};
use super::error::GatewayError;
use super::state::GatewayState;
use super::{data_access, graph_svg, release, status};

pub(crate) const PAGE: &str = include_str!("../static/index.html");
pub(crate) const OPENAPI: &str = include_str!("../static/openapi.json");
/// How many of the newest jobs colour the products of the graph picture.
const RECENT_JOBS_COLOURED: u32 = 500;

/// One route of the REST surface. The router is built from these lists and the OpenAPI test reads
/// the same lists, so no route exists undocumented and no documented route is missing.
pub(crate) struct Route {
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<Arc<GatewayState>>,
}

fn route<H, T>(method: Method, path: &'static str, handler: H) -> Route
where
    H: Handler<T, Arc<GatewayState>>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("every method used here is routable");
    Route { method, path, handler: axum::routing::on(filter, handler) }
}

/// The mission's data-access API, the same under each of its mounts (only the caller's
/// identification differs); a release is only ever requested with an API key, as upstream.
fn data_access_routes(access: AccessPath) -> Vec<Route> {
    let mut routes = vec![
        route(Method::GET, "/upload/{*filename}", data_access::presign_upload),
        route(Method::GET, "/download/{*key}", data_access::download),
        route(Method::GET, "/query", data_access::query),
        route(Method::GET, "/spice-query", data_access::spice_query),
        route(Method::GET, "/repoint-table", data_access::kernel_table),
        route(Method::GET, "/spin-table", data_access::kernel_table),
        route(Method::POST, "/reprocess", data_access::reprocess),
    ];
    if access == AccessPath::ApiKey {
        routes.push(route(Method::GET, "/release", release::release));
    }
    routes
}

/// Where the data-access API is mounted, and how callers there identify themselves.
const DATA_ACCESS_MOUNTS: [(&str, AccessPath); 3] =
    [("", AccessPath::Open), ("/api-key", AccessPath::ApiKey), ("/authorized", AccessPath::Authorized)];

/// The gateway's own routes: uploads through the gateway, the status API, its document, the page.
fn own_routes() -> Vec<Route> {
    let mut upload_object = route(Method::PUT, "/upload-object/{*key}", data_access::receive_upload);
    // The body is streamed to the archive, so axum's in-memory body limit does not apply here.
    upload_object.handler = upload_object.handler.layer(DefaultBodyLimit::disable());
    vec![
        upload_object,
        route(Method::GET, "/api/files", status::files),
        route(Method::GET, "/api/files/{file_name}", status::file),
        route(Method::GET, "/api/jobs", status::jobs),
        route(Method::GET, "/api/jobs/{id}", status::job),
        route(Method::POST, "/api/jobs/{id}/fail", status::fail_job),
        route(Method::GET, "/api/campaigns/{id}", status::campaign),
        route(Method::GET, "/api/queues", status::queues),
        route(Method::GET, "/api/dead-evaluations", status::dead_evaluations),
        route(Method::GET, "/api/graph", status::graph),
        route(Method::GET, "/api/graph.svg", graph_picture),
        route(Method::GET, "/api/quarantine", status::quarantine),
        route(Method::GET, "/api/processor", status::processor),
        route(Method::GET, "/api/health", || async { Json(serde_json::json!({"status": "ok"})) }),
        route(Method::GET, "/api/openapi.json", || async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        route(Method::GET, "/", status::page),
        route(Method::GET, "/ui", status::page),
    ]
}

/// Every (method, path) the router answers, paths as axum writes them (`{*key}` for a rest).
pub fn route_table() -> Vec<(Method, String)> {
    let mounted = DATA_ACCESS_MOUNTS.into_iter().flat_map(|(prefix, access)| {
        data_access_routes(access).into_iter().map(move |route| (route.method, format!("{prefix}{}", route.path)))
    });
    mounted.chain(own_routes().into_iter().map(|route| (route.method, route.path.to_string()))).collect()
}

pub fn router(state: Arc<GatewayState>) -> Router {
    let mut router = Router::new();
    for (prefix, access) in DATA_ACCESS_MOUNTS {
        let mounted = data_access_routes(access)
            .into_iter()
            .fold(Router::new(), |mounted, route| mounted.route(route.path, route.handler))
            .layer(Extension(access));
        router = if prefix.is_empty() { router.merge(mounted) } else { router.nest(prefix, mounted) };
    }
    own_routes()
        .into_iter()
        .fold(router, |router, route| router.route(route.path, route.handler))
        .layer(middleware::from_fn(request_span))
        .with_state(state)
}

/// `GET /api/graph.svg`: the product graph as a picture.
async fn graph_picture(
    State(state): State<Arc<GatewayState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, GatewayError> {
    status::Viewer::of(&state, &caller)?;
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

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod openapi_tests;

#[cfg(test)]
#[path = "visibility_tests.rs"]
mod visibility_tests;

#[cfg(test)]
#[path = "query_paging_tests.rs"]
mod query_paging_tests;
