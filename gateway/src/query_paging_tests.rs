//! The gateway reads the file tracker a page at a time: `/query` gathers every page up to
//! `gateway.max_query_files` and refuses a broader query; `/api/files` hands pages through with the
//! `x-next-page-token` header. The indexer is a fake that answers pages of seven files.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use http::{Request, StatusCode};
use mesh_runtime::fakes::FakeIndexer;
use object_store::memory::InMemory;
use proto::clients::{ClientSettings, MeshClients, PeerAddresses};
use proto::pb::indexer_service_server::IndexerServiceServer;
use proto::pb::{FileKind, FileRecord};
use tower::ServiceExt;

use crate::config::{GatewayConfig, StatusAccess};
use crate::role::GatewayRole;

const FILES: usize = 100;

fn archive() -> Vec<FileRecord> {
    let first = imap_filename::Date::parse_yyyymmdd("20250101").unwrap();
    (0..FILES)
        .map(|day| {
            let date = first.add_days(day as i32).yyyymmdd();
            let name = format!("imap_swe_l1a_sci_{date}_v001.cdf");
            FileRecord {
                archive_key: imap_filename::ImapFileName::parse(&name).unwrap().archive_path(),
                file_name: name,
                kind: FileKind::Science.into(),
                instrument: "swe".into(),
                data_level: "l1a".into(),
                descriptor: "sci".into(),
                start_date: date,
                version: "v001".into(),
                extension: "cdf".into(),
                ..Default::default()
            }
        })
        .collect()
}

async fn gateway(max_query_files: u32) -> (GatewayRole, tempfile::TempDir) {
    let indexer = FakeIndexer { archive: archive(), page_size: NonZeroUsize::new(7), ..Default::default() };
    let router = tonic::transport::Server::builder().add_service(IndexerServiceServer::new(indexer));
    let address = mesh_runtime::fakes::serve_on_free_port(router).await;
    let clients = MeshClients::connect_lazy(&PeerAddresses::all_at(&address), &ClientSettings::default()).unwrap();
    let config = GatewayConfig {
        status_access: StatusAccess::Open,
        max_query_files: NonZeroU32::new(max_query_files).unwrap(),
        ..Default::default()
    };
    let (pool, dir) = mesh_runtime::store::testing::fresh_sqlite().await;
    (GatewayRole::new(config, pool, Arc::new(InMemory::new()), None, clients).await.unwrap(), dir)
}

async fn get(role: &GatewayRole, uri: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::builder().uri(uri).header("host", "gateway.test").body(Body::empty()).unwrap();
    let response = role.router().oneshot(request).await.unwrap();
    let status = response.status();
    let token = response.headers().get("x-next-page-token").map(|value| value.to_str().unwrap().to_string());
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, token, String::from_utf8_lossy(&bytes).to_string())
}

fn paths(body: &str) -> Vec<String> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(body).unwrap();
    rows.iter().map(|row| row["file_path"].as_str().or(row["archive_key"].as_str()).unwrap().to_string()).collect()
}

#[tokio::test]
async fn query_gathers_every_page_up_to_its_cap_and_refuses_more() {
    let expected: Vec<String> = archive().into_iter().map(|file| file.archive_key).collect();
    let (role, _dir) = gateway(FILES as u32).await;
    let (status, _, body) = get(&role, "/query?instrument=swe").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(paths(&body), expected, "all fifteen pages, each file once");

    let (narrow, _dir) = gateway(FILES as u32 - 1).await;
    let (status, _, body) = get(&narrow, "/query?instrument=swe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains(&format!("more than {} files match", FILES - 1)) && body.contains("narrow"), "{body}");
}

#[tokio::test]
async fn api_files_hands_pages_through_with_the_next_page_token() {
    let (role, _dir) = gateway(1).await;
    let (mut visited, mut uri, mut pages) = (Vec::new(), "/api/files?instrument=swe&limit=5".to_string(), 0);
    loop {
        let (status, token, body) = get(&role, &uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = paths(&body);
        assert!(page.len() <= 5, "a page holds at most the limit: {}", page.len());
        visited.extend(page);
        pages += 1;
        match token {
            Some(token) => uri = format!("/api/files?instrument=swe&limit=5&page_token={token}"),
            None => break,
        }
    }
    assert_eq!(pages, FILES / 5);
    assert_eq!(visited, archive().into_iter().map(|file| file.archive_key).collect::<Vec<_>>());
}
