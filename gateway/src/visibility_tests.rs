//! Under `anonymous_access = "released"`, no route shows an anonymous or read-only caller the name
//! of a file no release has made public. The peers are fakes that answer with an unreleased file
//! wherever a real mesh could (listings, provenance, jobs, quarantine, dead evaluations), and every
//! route of the router is walked, under both `status_access` settings.

use std::pin::Pin;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use http::{Request, StatusCode};
use imap_filename::ImapFileName;
use object_store::ObjectStoreExt;
use object_store::memory::InMemory;
use proto::clients::{ClientSettings, MeshClients, PeerAddresses};
use proto::pb::dependency_service_server::{DependencyService, DependencyServiceServer};
use proto::pb::indexer_service_server::{IndexerService, IndexerServiceServer};
use proto::pb::processor_service_server::{ProcessorService, ProcessorServiceServer};
use proto::pb::starter_service_server::{StarterService, StarterServiceServer};
use proto::pb::*;
use tonic::{Request as GrpcRequest, Response as GrpcResponse, Status};
use tower::ServiceExt;

use crate::config::{GatewayConfig, StatusAccess};
use crate::key_store::Scope;
use crate::release::AnonymousAccess;
use crate::role::GatewayRole;

const RELEASED: &str = "imap_swe_l1b_sci_20240924_v001.cdf";
const UNRELEASED: &str = "imap_swe_l1a_sci_20240925_v001.cdf";

fn record(name: &str, released: bool) -> FileRecord {
    let parsed = ImapFileName::parse(name).unwrap();
    FileRecord {
        file_name: name.into(),
        archive_key: parsed.archive_path(),
        kind: FileKind::Science.into(),
        instrument: "swe".into(),
        data_level: if released { "l1b" } else { "l1a" }.into(),
        descriptor: "sci".into(),
        start_date: if released { "20240924" } else { "20240925" }.into(),
        version: "v001".into(),
        extension: "cdf".into(),
        released,
        // The released file was made from the unreleased one.
        parent_files: if released { vec![UNRELEASED.into()] } else { vec![] },
        produced_by_job: "job-1".into(),
        ..Default::default()
    }
}

fn job() -> Job {
    let input = FileRecord { file_name: UNRELEASED.into(), ..Default::default() };
    Job {
        id: "job-1".into(),
        inputs: vec![ResolvedInput { files: vec![input], ..Default::default() }],
        outputs: vec![RELEASED.into()],
        log: format!("read {UNRELEASED}"),
        ..Default::default()
    }
}

struct Peers;

type Events = Pin<Box<dyn futures_util::Stream<Item = Result<SubscribeEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl IndexerService for Peers {
    type SubscribeEventsStream = Events;

    async fn index_file(&self, _: GrpcRequest<IndexFileRequest>) -> Result<GrpcResponse<IndexFileResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn index_files(&self, _: GrpcRequest<IndexFilesRequest>) -> Result<GrpcResponse<IndexFilesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn subscribe_events(&self, _: GrpcRequest<SubscribeEventsRequest>) -> Result<GrpcResponse<Events>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn query_files(
        &self,
        request: GrpcRequest<QueryFilesRequest>,
    ) -> Result<GrpcResponse<QueryFilesResponse>, Status> {
        let released_only = request.into_inner().released_only;
        let files = [record(RELEASED, true), record(UNRELEASED, false)]
            .into_iter()
            .filter(|file| file.released || !released_only)
            .collect();
        Ok(GrpcResponse::new(QueryFilesResponse { files, ..Default::default() }))
    }
    async fn batch_query_files(
        &self,
        _: GrpcRequest<BatchQueryFilesRequest>,
    ) -> Result<GrpcResponse<BatchQueryFilesResponse>, Status> {
        Err(Status::unimplemented("the gateway does not batch"))
    }
    async fn get_file(&self, request: GrpcRequest<GetFileRequest>) -> Result<GrpcResponse<GetFileResponse>, Status> {
        match request.into_inner().file_name.as_str() {
            RELEASED => Ok(GrpcResponse::new(GetFileResponse { file: Some(record(RELEASED, true)) })),
            UNRELEASED => Ok(GrpcResponse::new(GetFileResponse { file: Some(record(UNRELEASED, false)) })),
            other => Err(Status::not_found(format!("{other} not tracked"))),
        }
    }
    async fn list_quarantine(
        &self,
        _: GrpcRequest<ListQuarantineRequest>,
    ) -> Result<GrpcResponse<ListQuarantineResponse>, Status> {
        let file = QuarantinedFile { original_key: UNRELEASED.into(), ..Default::default() };
        Ok(GrpcResponse::new(ListQuarantineResponse { files: vec![file], ..Default::default() }))
    }
    async fn release_files(
        &self,
        _: GrpcRequest<ReleaseFilesRequest>,
    ) -> Result<GrpcResponse<ReleaseFilesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

#[tonic::async_trait]
impl StarterService for Peers {
    type WorkStream = Pin<Box<dyn futures_util::Stream<Item = Result<WorkResponse, Status>> + Send>>;

    async fn work(
        &self,
        _: GrpcRequest<tonic::Streaming<WorkRequest>>,
    ) -> Result<GrpcResponse<Self::WorkStream>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn complete_job(
        &self,
        _: GrpcRequest<CompleteJobRequest>,
    ) -> Result<GrpcResponse<CompleteJobResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn fail_job(&self, request: GrpcRequest<FailJobRequest>) -> Result<GrpcResponse<FailJobResponse>, Status> {
        let request = request.into_inner();
        if request.operator.is_empty() || request.job_id != "job-1" {
            return Err(Status::invalid_argument("fail_job needs an operator and a known job"));
        }
        Ok(GrpcResponse::new(FailJobResponse { state: JobState::Failed.into() }))
    }
    async fn list_jobs(&self, _: GrpcRequest<ListJobsRequest>) -> Result<GrpcResponse<ListJobsResponse>, Status> {
        Ok(GrpcResponse::new(ListJobsResponse { jobs: vec![job()], ..Default::default() }))
    }
    async fn get_job(&self, _: GrpcRequest<GetJobRequest>) -> Result<GrpcResponse<GetJobResponse>, Status> {
        Ok(GrpcResponse::new(GetJobResponse { job: Some(job()) }))
    }
    async fn start_reprocessing(
        &self,
        _: GrpcRequest<StartReprocessingRequest>,
    ) -> Result<GrpcResponse<StartReprocessingResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_queues(&self, _: GrpcRequest<GetQueuesRequest>) -> Result<GrpcResponse<GetQueuesResponse>, Status> {
        Ok(GrpcResponse::new(GetQueuesResponse::default()))
    }
    async fn get_campaign(
        &self,
        _: GrpcRequest<GetCampaignRequest>,
    ) -> Result<GrpcResponse<GetCampaignResponse>, Status> {
        Ok(GrpcResponse::new(GetCampaignResponse { campaign: Some(CampaignProgress::default()) }))
    }
    async fn list_dead_evaluations(
        &self,
        _: GrpcRequest<ListDeadEvaluationsRequest>,
    ) -> Result<GrpcResponse<ListDeadEvaluationsResponse>, Status> {
        let evaluation = DeadEvaluation { message: format!("{UNRELEASED} refused"), ..Default::default() };
        Ok(GrpcResponse::new(ListDeadEvaluationsResponse { evaluations: vec![evaluation], ..Default::default() }))
    }
}

#[tonic::async_trait]
impl ProcessorService for Peers {
    async fn get_status(&self, _: GrpcRequest<GetStatusRequest>) -> Result<GrpcResponse<GetStatusResponse>, Status> {
        let status = ProcessorStatus { running_jobs: vec![UNRELEASED.into()], ..Default::default() };
        Ok(GrpcResponse::new(GetStatusResponse { status: Some(status) }))
    }
    async fn cancel_job(&self, _: GrpcRequest<CancelJobRequest>) -> Result<GrpcResponse<CancelJobResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

#[tonic::async_trait]
impl DependencyService for Peers {
    async fn downstream(&self, _: GrpcRequest<DownstreamRequest>) -> Result<GrpcResponse<DownstreamResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn resolve(&self, _: GrpcRequest<ResolveRequest>) -> Result<GrpcResponse<ResolveResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_graph(&self, _: GrpcRequest<GetGraphRequest>) -> Result<GrpcResponse<GetGraphResponse>, Status> {
        Ok(GrpcResponse::new(GetGraphResponse::default()))
    }
}

/// A gateway under the released rule, its peers the fakes above, both files in its archive.
async fn gateway(status_access: StatusAccess) -> (GatewayRole, tempfile::TempDir) {
    let address = mesh_runtime::fakes::serve_on_free_port(
        tonic::transport::Server::builder()
            .add_service(IndexerServiceServer::new(Peers))
            .add_service(StarterServiceServer::new(Peers))
            .add_service(ProcessorServiceServer::new(Peers))
            .add_service(DependencyServiceServer::new(Peers)),
    )
    .await;
    let peers = PeerAddresses {
        indexer: address.clone(),
        depsvc: address.clone(),
        starter: address.clone(),
        processor: address.clone(),
        gateway: address,
    };
    let clients = MeshClients::connect_lazy(&peers, &ClientSettings::default()).unwrap();
    let archive = Arc::new(InMemory::new());
    for name in [RELEASED, UNRELEASED] {
        let key = ImapFileName::parse(name).unwrap().archive_path();
        archive.put(&key.as_str().into(), b"cdf".to_vec().into()).await.unwrap();
    }
    let config = GatewayConfig { anonymous_access: AnonymousAccess::Released, status_access, ..Default::default() };
    let (pool, dir) = mesh_runtime::store::testing::fresh_sqlite().await;
    (GatewayRole::new(config, pool, archive, None, clients).await.unwrap(), dir)
}

/// Every route of the router, its parameters naming the unreleased file (or the job that read it).
fn every_route() -> Vec<(http::Method, String)> {
    let key = ImapFileName::parse(UNRELEASED).unwrap().archive_path();
    crate::route_table()
        .into_iter()
        .map(|(method, path)| {
            let path = path
                .replace("{*filename}", UNRELEASED)
                .replace("{*key}", &key)
                .replace("{file_name}", UNRELEASED)
                .replace("{id}", "job-1");
            (method, path)
        })
        .collect()
}

async fn send(role: &GatewayRole, method: &http::Method, uri: &str, key: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(uri).header("host", "gateway.test");
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = role.router().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).to_string())
}

#[tokio::test]
async fn anonymous_and_read_only_callers_never_see_an_unreleased_name_on_any_route() {
    for status_access in [StatusAccess::Open, StatusAccess::Keys] {
        let (role, _dir) = gateway(status_access).await;
        let reader = role.state.keys.create("reader", &[Scope::Read]).await.unwrap().secret;
        let operator = role.state.keys.create("operator", &[Scope::Operator]).await.unwrap().secret;
        let routes = every_route();
        assert!(routes.len() > 30, "the route table is walked: {}", routes.len());
        let mut seen_released = 0;
        for (method, uri) in &routes {
            for (who, key) in [("anonymous", None), ("reader", Some(reader.as_str()))] {
                for uri in [uri.clone(), format!("{uri}?instrument=swe&kind=science")] {
                    let (status, body) = send(&role, method, &uri, key).await;
                    // "Not found" tells nothing, even when it repeats the name asked for.
                    if status == StatusCode::NOT_FOUND {
                        continue;
                    }
                    assert!(
                        !body.contains(UNRELEASED),
                        "{status_access:?}: {who} sees the unreleased file on {method} {uri}: {status} {body}"
                    );
                    assert!(!status.is_server_error(), "{status_access:?}: {who} {method} {uri}: {status} {body}");
                    seen_released += usize::from(body.contains(RELEASED));
                }
            }
        }
        // The released file does show, and the same routes show an operator the unreleased one:
        // what is hidden is hidden by the caller's rights, not by the fakes.
        assert!(seen_released > 0, "{status_access:?}");
        for uri in
            ["/api/files?instrument=swe", &format!("/api/files/{RELEASED}"), "/api/jobs", "/query?instrument=swe"]
        {
            let (status, body) = send(&role, &http::Method::GET, uri, Some(&operator)).await;
            assert!(status.is_success() && body.contains(UNRELEASED), "operator {uri}: {status} {body}");
        }
        let key = ImapFileName::parse(UNRELEASED).unwrap().archive_path();
        let (status, _) = send(&role, &http::Method::GET, &format!("/download/{key}"), Some(&operator)).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn the_status_api_and_page_need_a_read_key_unless_open() {
    let (role, _dir) = gateway(StatusAccess::Keys).await;
    let uploader = role.state.keys.create("team", &[Scope::Upload]).await.unwrap().secret;
    let reader = role.state.keys.create("reader", &[Scope::Read]).await.unwrap().secret;
    for uri in ["/", "/ui", "/api/queues", "/api/graph", "/api/files", "/api/campaigns/c1"] {
        let (status, _) = send(&role, &http::Method::GET, uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(send(&role, &http::Method::GET, uri, Some(&uploader)).await.0, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(send(&role, &http::Method::GET, uri, Some(&reader)).await.0, StatusCode::OK, "{uri}");
    }
    // Load balancers and tools still reach these.
    for uri in ["/api/health", "/api/openapi.json"] {
        assert_eq!(send(&role, &http::Method::GET, uri, None).await.0, StatusCode::OK, "{uri}");
    }
    let response = role.router().oneshot(Request::builder().uri("/").body(Body::empty()).unwrap()).await.unwrap();
    assert!(response.headers()[http::header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic "));
    let (open, _dir) = gateway(StatusAccess::Open).await;
    assert_eq!(send(&open, &http::Method::GET, "/api/queues", None).await.0, StatusCode::OK);
    // Open means readable, not writable: failing a job still needs an operator.
    let (status, _) = send(&open, &http::Method::POST, "/api/jobs/job-1/fail", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let reader = open.state.keys.create("reader", &[Scope::Read]).await.unwrap().secret;
    let (status, _) = send(&open, &http::Method::POST, "/api/jobs/job-1/fail", Some(&reader)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let operator = open.state.keys.create("night-shift", &[Scope::Operator]).await.unwrap();
    let (status, body) =
        send(&open, &http::Method::POST, "/api/jobs/job-1/fail?reason=stuck", Some(&operator.secret)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["state"], "failed");
    assert_eq!(answer["failed_by"], format!("night-shift (api key {})", operator.key.id));
}
