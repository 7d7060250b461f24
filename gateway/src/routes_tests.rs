//! The REST surface without the rest of the mesh: an in-memory archive, a fresh SQLite database and
//! peers that cannot be reached (so everything here is decided by the gateway itself).

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use http::{Request, StatusCode};
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::clients::{ClientSettings, MeshClients, PeerAddresses};
use tower::ServiceExt;

use crate::config::GatewayConfig;
use crate::key_store::Scope;
use crate::role::GatewayRole;
use futures_util::StreamExt;
use mesh_runtime::archive::ArchivePresigner;

const NAME: &str = "imap_swe_l0_raw_20240924_v001.0001.pkts";
const KEY: &str = "imap/swe/l0/2024/09/imap_swe_l0_raw_20240924_v001.0001.pkts";

struct Fixture {
    role: GatewayRole,
    archive: Arc<dyn ObjectStore>,
    reader: String,
    uploader: String,
    pool: sqlx::AnyPool,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    fixture_with(GatewayConfig::default()).await
}

async fn fixture_with(config: GatewayConfig) -> Fixture {
    fixture_over(config, Arc::new(InMemory::new())).await
}

async fn fixture_over(config: GatewayConfig, archive: Arc<dyn ObjectStore>) -> Fixture {
    fixture_signed_by(config, archive, None).await
}

/// A gateway whose archive clients reach directly, as with S3: an S3 signer with made-up
/// credentials (signing needs no network) over an in-memory archive.
async fn direct_fixture() -> Fixture {
    let bucket = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("imap-archive")
        .with_region("us-west-2")
        .with_access_key_id("AKIDEXAMPLE")
        .with_secret_access_key("example-secret")
        .build()
        .unwrap();
    let presigner = ArchivePresigner::new(Arc::new(bucket), Some("sdc".into()));
    fixture_signed_by(GatewayConfig::default(), Arc::new(InMemory::new()), Some(presigner)).await
}

async fn fixture_signed_by(
    config: GatewayConfig,
    archive: Arc<dyn ObjectStore>,
    presigner: Option<ArchivePresigner>,
) -> Fixture {
    let (pool, dir) = mesh_runtime::store::testing::fresh_sqlite().await;
    let role = replica(config, &pool, archive.clone(), presigner).await;
    let reader = role.state.keys.create("reader", &[Scope::Read]).await.unwrap().secret;
    let uploader = role.state.keys.create("uploader", &[Scope::Upload]).await.unwrap().secret;
    Fixture { role, archive, reader, uploader, pool, _dir: dir }
}

/// One more gateway over the same database and archive, as a deployment's second replica.
async fn replica(
    config: GatewayConfig,
    pool: &sqlx::AnyPool,
    archive: Arc<dyn ObjectStore>,
    presigner: Option<ArchivePresigner>,
) -> GatewayRole {
    let unreachable = "http://127.0.0.1:1".to_string();
    let peers = PeerAddresses {
        indexer: unreachable.clone(),
        depsvc: unreachable.clone(),
        starter: unreachable.clone(),
        processor: unreachable.clone(),
        gateway: unreachable,
    };
    let clients = MeshClients::connect_lazy(&peers, &ClientSettings::default()).unwrap();
    GatewayRole::new(config, pool.clone(), archive, presigner, clients).await.unwrap()
}

async fn send(
    fixture: &Fixture,
    method: &str,
    uri: &str,
    api_key: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(uri).header("host", "gateway.test");
    if let Some(key) = api_key {
        request = request.header("x-api-key", key);
    }
    let response = fixture.role.router().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).to_string())
}

#[tokio::test]
async fn downloads_never_leave_the_archive() {
    let fixture = fixture().await;
    fixture.archive.put(&KEY.into(), b"level zero".to_vec().into()).await.unwrap();
    let (status, body) = send(&fixture, "GET", &format!("/download/{KEY}"), None, vec![]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "level zero"));
    for refused in [
        "/download/imap/swe/l0/2024/09/../../../../etc/passwd",
        "/download/imap/swe/l0/2024/09/%2e%2e/x",
        "/download//etc/passwd",
        "/download/imap/swe/l0/2024/10/imap_swe_l0_raw_20240924_v001.0001.pkts",
        "/api-key/download/imap%2fswe",
    ] {
        let (status, body) = send(&fixture, "GET", refused, Some(&fixture.reader), vec![]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}: {body}");
    }
    let (status, body) =
        send(&fixture, "GET", "/download/imap/swe/l0/2024/09/imap_swe_l0_raw_20240925_v001.0001.pkts", None, vec![])
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn upload_urls_need_the_upload_scope_and_a_new_valid_name() {
    let fixture = fixture().await;
    let (status, body) = send(&fixture, "GET", &format!("/upload/{NAME}"), None, vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("IMAP_API_KEY"), "{body}");
    assert_eq!(
        send(&fixture, "GET", &format!("/api-key/upload/{NAME}"), None, vec![]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&fixture, "GET", &format!("/authorized/upload/{NAME}"), None, vec![]).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = send(&fixture, "GET", &format!("/api-key/upload/{NAME}"), Some(&fixture.reader), vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("upload"), "{body}");
    let (status, body) = send(
        &fixture,
        "GET",
        "/api-key/upload/imap_swe_l0_raw_20240931_v001.0001.pkts",
        Some(&fixture.uploader),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("20240931"), "{body}");

    let (status, body) =
        send(&fixture, "GET", &format!("/api-key/upload/{NAME}"), Some(&fixture.uploader), vec![]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url: String = serde_json::from_str(&body).unwrap();
    assert!(url.starts_with(&format!("http://gateway.test/upload-object/{KEY}?expires=")), "{url}");
    assert!(url.contains("&signature="), "{url}");

    fixture.archive.put(&KEY.into(), b"already here".to_vec().into()).await.unwrap();
    let (status, body) =
        send(&fixture, "GET", &format!("/api-key/upload/{NAME}"), Some(&fixture.uploader), vec![]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("FileAlreadyExists"), "{body}");
}

#[tokio::test]
async fn with_a_direct_archive_uploads_and_downloads_get_real_s3_presigned_urls() {
    let fixture = direct_fixture().await;
    let (status, body) = send(&fixture, "GET", &format!("/api-key/upload/{NAME}"), Some(&fixture.reader), vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) =
        send(&fixture, "GET", &format!("/api-key/upload/{NAME}"), Some(&fixture.uploader), vec![]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url: String = serde_json::from_str(&body).unwrap();
    let staged = format!("https://s3.us-west-2.amazonaws.com/imap-archive/sdc/staging/{KEY}/");
    assert!(url.starts_with(&staged), "the PUT goes to a staging object of the bucket: {url}");
    for signed in ["X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Expires=3600", "X-Amz-Signature="] {
        assert!(url.contains(signed), "{signed} missing from {url}");
    }

    // An upload that arrived but is not placed yet, and a placed file, both refuse the name.
    let waiting =
        url.strip_prefix("https://s3.us-west-2.amazonaws.com/imap-archive/sdc/").unwrap().split('?').next().unwrap();
    fixture.archive.put(&waiting.into(), b"uploaded".to_vec().into()).await.unwrap();
    let (status, body) =
        send(&fixture, "GET", &format!("/api-key/upload/{NAME}"), Some(&fixture.uploader), vec![]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("FileAlreadyExists"), "{body}");

    let (status, _) = send(&fixture, "GET", &format!("/download/{KEY}"), None, vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    fixture.archive.put(&KEY.into(), b"level zero".to_vec().into()).await.unwrap();
    let request = http::Request::get(format!("/download/{KEY}")).body(Body::empty()).unwrap();
    let response = fixture.role.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[http::header::LOCATION].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("https://s3.us-west-2.amazonaws.com/imap-archive/sdc/{KEY}?")), "{location}");
    assert!(location.contains("X-Amz-Expires=86400") && location.contains("X-Amz-Signature="), "{location}");
    let body: serde_json::Value =
        serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert_eq!(body["download_url"], location.as_str());

    // Bearer callers send their Authorization header on the PUT and the redirected GET too, which
    // S3 refuses next to a presigned signature: they go through the gateway instead.
    let bearer = format!("Bearer {}", fixture.uploader);
    let other = "imap_swe_l0_raw_20240925_v001.0001.pkts";
    let request = http::Request::get(format!("/authorized/upload/{other}"))
        .header("authorization", &bearer)
        .header("host", "gateway.test");
    let response = fixture.role.router().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let url: String = serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert!(url.starts_with("http://gateway.test/upload-object/imap/swe/l0/2024/09/"), "{url}");
    let request = http::Request::get(format!("/authorized/download/{KEY}")).header("authorization", &bearer);
    let response = fixture.role.router().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(to_bytes(response.into_body(), usize::MAX).await.unwrap().as_ref(), b"level zero");
}

#[tokio::test]
async fn the_upload_itself_needs_a_valid_unexpired_signature() {
    let fixture = fixture().await;
    let signer = &fixture.role.state.signer;
    let expired = signer.grant(KEY, 1);
    let (status, body) = send(
        &fixture,
        "PUT",
        &format!("/upload-object/{KEY}?expires=1&signature={}", expired.signature),
        None,
        b"x".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("expired"), "{body}");

    let (status, body) = send(&fixture, "PUT", &format!("/upload-object/{KEY}"), None, b"x".to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("signature"), "{body}");

    let valid = signer.grant(KEY, crate::signing::unix_now() + 60);
    let forged = format!("/upload-object/{KEY}?expires={}&signature={}", valid.expires + 1, valid.signature);
    assert_eq!(send(&fixture, "PUT", &forged, None, b"x".to_vec()).await.0, StatusCode::FORBIDDEN);
    assert!(fixture.archive.head(&KEY.into()).await.is_err(), "nothing stored by refused uploads");

    // Accepted: the bytes land in the archive; indexing waits (202) because no indexer runs here.
    let accepted = format!("/upload-object/{KEY}?expires={}&signature={}", valid.expires, valid.signature);
    let (status, body) = send(&fixture, "PUT", &accepted, None, b"packets".to_vec()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body.contains("not indexed yet (indexer:"), "{body}");
    let stored = fixture.archive.get(&KEY.into()).await.unwrap().bytes().await.unwrap();
    assert_eq!(stored.as_ref(), b"packets");
    let (status, body) = send(&fixture, "PUT", &accepted, None, b"again".to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn bad_queries_and_reprocessing_without_admin_are_refused_here() {
    let fixture = fixture().await;
    let (status, body) = send(&fixture, "GET", "/query?instrument=swe&colour=red", None, vec![]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        send(&fixture, "GET", "/spice-query?start_date=20250101", None, vec![]).await.0,
        StatusCode::BAD_REQUEST
    );
    let reprocess = "/reprocess?start_date=20240924&end_date=20240925&reprocessing=True";
    assert_eq!(send(&fixture, "POST", reprocess, None, vec![]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&fixture, "POST", &format!("/api-key{reprocess}"), Some(&fixture.uploader), vec![]).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&fixture, "GET", "/api-key/query?instrument=swe", Some("imapsdc_unknown"), vec![]).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn releases_need_an_admin_key_under_api_key_and_a_supported_type() {
    let fixture = fixture().await;
    let admin = fixture.role.state.keys.create("operator", &[Scope::Admin]).await.unwrap().secret;
    let query = "release?release_type=release&manifest_file=imap_swe_data-release-001_20240924_20240924_v001.txt";
    let target = format!("/api-key/{query}");
    assert_eq!(send(&fixture, "GET", &target, None, vec![]).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = send(&fixture, "GET", &target, Some(&fixture.reader), vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("'admin' scope"), "{body}");
    // As upstream, the release exists only under /api-key.
    for elsewhere in [format!("/{query}"), format!("/authorized/{query}")] {
        assert_eq!(
            send(&fixture, "GET", &elsewhere, Some(&admin), vec![]).await.0,
            StatusCode::NOT_FOUND,
            "{elsewhere}"
        );
    }
    let (status, body) = send(&fixture, "GET", &target.replace("=release&", "=unrelease&"), Some(&admin), vec![]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("not supported"), "{body}");
    // An acceptable request goes on to the file tracker, which does not run here.
    let (status, body) = send(&fixture, "GET", &target, Some(&admin), vec![]).await;
    assert!(status.is_server_error() && body.contains("indexer"), "{status} {body}");
}

#[tokio::test]
async fn under_the_released_rule_only_callers_without_upload_or_operator_scope_ask_the_tracker() {
    let config =
        GatewayConfig { anonymous_access: crate::release::AnonymousAccess::Released, ..GatewayConfig::default() };
    let fixture = fixture_with(config).await;
    fixture.archive.put(&KEY.into(), b"level zero".to_vec().into()).await.unwrap();
    let (status, body) =
        send(&fixture, "GET", &format!("/api-key/download/{KEY}"), Some(&fixture.uploader), vec![]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "level zero"));
    // Only the file tracker knows whether the file is released, and it does not run here.
    for key in [None, Some(fixture.reader.as_str())] {
        let (status, body) = send(&fixture, "GET", &format!("/download/{KEY}"), key, vec![]).await;
        assert!(status.is_server_error() && body.contains("indexer"), "{status} {body}");
    }
}

#[tokio::test]
async fn openapi_document_and_page_are_served() {
    let fixture = fixture().await;
    let (status, body) = send(&fixture, "GET", "/api/openapi.json", None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    for path in [
        "/query",
        "/api-key/query",
        "/authorized/upload/{filename}",
        "/reprocess",
        "/api-key/release",
        "/api/jobs",
        "/api/graph.svg",
    ] {
        assert!(document["paths"].get(path).is_some(), "openapi lacks {path}");
    }
    assert_eq!(send(&fixture, "GET", "/", None, vec![]).await.0, StatusCode::UNAUTHORIZED);
    let (status, page) = send(&fixture, "GET", "/", Some(&fixture.reader), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("/api/queues") && page.contains("/api/graph.svg"));
}

#[tokio::test]
async fn oversized_uploads_are_refused_and_leave_nothing_behind() {
    let fixture = fixture_with(GatewayConfig {
        max_upload_bytes: std::num::NonZeroU64::new(10).unwrap(),
        ..GatewayConfig::default()
    })
    .await;
    let grant = fixture.role.state.signer.grant(KEY, crate::signing::unix_now() + 60);
    let target = format!("/upload-object/{KEY}?expires={}&signature={}", grant.expires, grant.signature);
    // Declared too large: refused before reading the body.
    let declared = Request::builder()
        .method("PUT")
        .uri(&target)
        .header("content-length", "11")
        .body(Body::from(vec![0u8; 11]))
        .unwrap();
    let response = fixture.role.router().oneshot(declared).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed without a length: refused once the limit is passed, the partial upload aborted.
    let chunks = futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![1u8; 4])));
    let streamed = Request::builder().method("PUT").uri(&target).body(Body::from_stream(chunks)).unwrap();
    let response = fixture.role.router().oneshot(streamed).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(fixture.archive.head(&KEY.into()).await.is_err(), "an aborted upload stores nothing");
}

/// A body that sends its first part, waits until every racing upload has sent its own (so all have
/// passed the existence check), then sends the rest.
fn racing_body(body: &'static [u8], all_started: Arc<tokio::sync::Barrier>) -> Body {
    let (head, tail) = body.split_at(body.len() / 2);
    let parts = futures_util::stream::unfold(0, move |step| {
        let all_started = all_started.clone();
        async move {
            match step {
                0 => Some((Ok::<_, std::io::Error>(head.to_vec()), 1)),
                1 => {
                    all_started.wait().await;
                    Some((Ok(tail.to_vec()), 2))
                }
                _ => None,
            }
        }
    });
    Body::from_stream(parts)
}

async fn concurrent_uploads_on_two_replicas_store_exactly_one(archive: Arc<dyn ObjectStore>) {
    const FIRST: &[u8] = b"the first replica's packets";
    const SECOND: &[u8] = b"the second replica's packets, a little longer";
    let fixture = fixture_over(GatewayConfig::default(), archive).await;
    let other = replica(GatewayConfig::default(), &fixture.pool, fixture.archive.clone(), None).await;
    let grant = fixture.role.state.signer.grant(KEY, crate::signing::unix_now() + 60);
    let target = format!("/upload-object/{KEY}?expires={}&signature={}", grant.expires, grant.signature);
    let all_started = Arc::new(tokio::sync::Barrier::new(2));
    let put = |role: &GatewayRole, body: &'static [u8]| {
        let request =
            Request::builder().method("PUT").uri(&target).body(racing_body(body, all_started.clone())).unwrap();
        let router = role.router();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (status, String::from_utf8_lossy(&bytes).to_string())
        }
    };
    let (first, second) = tokio::join!(put(&fixture.role, FIRST), put(&other, SECOND));

    // The winner's bytes are stored; indexing waits (202) because no indexer runs here.
    let stored_by =
        |(status, body): &(StatusCode, String)| *status == StatusCode::ACCEPTED && body.contains("\"indexed\":false");
    let refused =
        |(status, body): &(StatusCode, String)| *status == StatusCode::CONFLICT && body.contains("FileAlreadyExists");
    let winner = match (stored_by(&first), refused(&first), stored_by(&second), refused(&second)) {
        (true, false, false, true) => FIRST,
        (false, true, true, false) => SECOND,
        _ => panic!("not one stored and one refused: {first:?} {second:?}"),
    };
    let stored = fixture.archive.get(&KEY.into()).await.unwrap().bytes().await.unwrap();
    assert_eq!(stored.as_ref(), winner, "the stored file is the winner's body, complete");
    // The loser's staging object is gone; the winner's stays until the file is indexed (the
    // sweeper finishes the job once an indexer answers).
    let everything: Vec<_> = fixture.archive.list(None).map(|meta| meta.unwrap().location.to_string()).collect().await;
    assert_eq!(everything.len(), 2, "{everything:?}");
    let waiting = everything
        .iter()
        .find(|location| location.starts_with(&format!("receiving/{KEY}/")))
        .expect("the winner's staging");
    assert!(everything.contains(&KEY.to_string()), "{everything:?}");
    assert_eq!(fixture.archive.get(&waiting.as_str().into()).await.unwrap().bytes().await.unwrap().as_ref(), winner);
}

#[tokio::test]
async fn concurrent_uploads_of_one_key_store_exactly_one_in_memory() {
    concurrent_uploads_on_two_replicas_store_exactly_one(Arc::new(InMemory::new())).await;
}

#[tokio::test]
async fn concurrent_uploads_of_one_key_store_exactly_one_on_disk() {
    let dir = tempfile::tempdir().expect("create temp dir");
    let archive = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    concurrent_uploads_on_two_replicas_store_exactly_one(Arc::new(archive)).await;
}

#[tokio::test]
async fn callers_past_their_rate_get_429_with_retry_after_each_key_and_address_on_its_own() {
    let rate_limit = crate::rate_limit::RateLimitConfig { per_second: 1, burst: 2, ..Default::default() };
    let fixture = fixture_with(GatewayConfig { rate_limit, ..GatewayConfig::default() }).await;
    let request = |uri: &str, key: Option<&str>, address: [u8; 4]| {
        let mut request = Request::builder().uri(uri).header("host", "gateway.test");
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let mut request = request.body(Body::empty()).unwrap();
        let address = std::net::SocketAddr::from((address, 40000));
        request.extensions_mut().insert(axum::extract::ConnectInfo(address));
        fixture.role.router().oneshot(request)
    };
    let anonymous = [198, 51, 100, 1];
    // The peers are unreachable: whatever else the answer is, it is not a refusal for the rate.
    for _ in 0..2 {
        let response = request("/query?instrument=swe", None, anonymous).await.unwrap();
        assert_ne!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let refused = request("/query?instrument=swe", None, anonymous).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()[http::header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert_eq!(retry_after, 1, "the next token comes within a second");
    let body = to_bytes(refused.into_body(), usize::MAX).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("too many requests"));
    // Health is never limited; another address and a key (from the same address) have their own buckets.
    assert_eq!(request("/api/health", None, anonymous).await.unwrap().status(), StatusCode::OK);
    let neighbour = request("/query?instrument=swe", None, [198, 51, 100, 2]).await.unwrap();
    assert_ne!(neighbour.status(), StatusCode::TOO_MANY_REQUESTS);
    let keyed = request("/api-key/query?instrument=swe", Some(&fixture.reader), anonymous).await.unwrap();
    assert_ne!(keyed.status(), StatusCode::TOO_MANY_REQUESTS);
}
