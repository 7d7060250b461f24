//! The sweeper over an in-memory archive, with a fake indexer that records what it is asked to index
//! (or an unreachable one, to see failures retried).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_runtime::fakes::FakeIndexer;
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::clients::{MeshClients, PeerAddresses};
use proto::pb::indexer_service_server::IndexerServiceServer;

use super::*;
use crate::config::GatewayConfig;
use crate::key_store::ApiKeyStore;
use crate::signing::UploadSigner;

const KEY: &str = "imap/swe/l0/2024/09/imap_swe_l0_raw_20240924_v001.0001.pkts";

struct Harness {
    state: GatewayState,
    archive: Arc<dyn ObjectStore>,
    indexed: Arc<Mutex<Vec<String>>>,
    _database: tempfile::TempDir,
}

/// A gateway state over a fresh archive; with `indexer_up`, a recording indexer on a free port.
async fn harness(indexer_up: bool) -> Harness {
    let indexed = Arc::new(Mutex::new(Vec::new()));
    let address = if indexer_up {
        let indexer = FakeIndexer { indexed: indexed.clone(), ..Default::default() };
        mesh_runtime::fakes::serve_on_free_port(
            tonic::transport::Server::builder().add_service(IndexerServiceServer::new(indexer)),
        )
        .await
    } else {
        "http://127.0.0.1:1".to_string()
    };
    let peers = PeerAddresses {
        indexer: address.clone(),
        depsvc: address.clone(),
        starter: address.clone(),
        processor: address.clone(),
        gateway: address,
    };
    let (pool, database) = mesh_runtime::store::testing::fresh_sqlite().await;
    crate::migrate(&pool).await.unwrap();
    let archive: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let clients = MeshClients::connect_lazy(&peers, &proto::clients::ClientSettings::default()).unwrap();
    let state = GatewayState::new(
        GatewayConfig::default(),
        archive.clone(),
        clients,
        ApiKeyStore::new(pool),
        UploadSigner::new(b"secret".to_vec()),
        None,
    );
    Harness { state, archive, indexed, _database: database }
}

async fn put(archive: &Arc<dyn ObjectStore>, location: &str, bytes: &'static [u8]) {
    archive.put(&ObjectPath::from(location), bytes.to_vec().into()).await.unwrap();
}

async fn read(archive: &Arc<dyn ObjectStore>, location: &str) -> Vec<u8> {
    archive.get(&ObjectPath::from(location)).await.unwrap().bytes().await.unwrap().to_vec()
}

async fn listing(archive: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<String> {
    let mut locations: Vec<String> =
        archive.list(Some(&ObjectPath::from(prefix))).map(|meta| meta.unwrap().location.to_string()).collect().await;
    locations.sort();
    locations
}

#[tokio::test]
async fn a_staged_upload_is_placed_on_its_key_indexed_and_its_staging_removed() {
    let harness = harness(true).await;
    let staging = StagingArea::Presigned.location(KEY);
    assert!(staging.as_ref().starts_with(&format!("staging/{KEY}/")), "{staging}");
    put(&harness.archive, staging.as_ref(), b"level zero").await;
    assert!(pending(harness.archive.as_ref(), KEY).await.unwrap());

    assert_eq!(sweep(&harness.state, StagingArea::Presigned, Duration::ZERO).await.unwrap().handled, 1);
    assert_eq!(read(&harness.archive, KEY).await, b"level zero");
    assert_eq!(*harness.indexed.lock().unwrap(), [KEY]);
    assert!(listing(&harness.archive, "staging").await.is_empty());
    assert!(!pending(harness.archive.as_ref(), KEY).await.unwrap());
}

#[tokio::test]
async fn an_upload_losing_to_a_different_file_is_kept_aside_with_its_reason() {
    let harness = harness(true).await;
    put(&harness.archive, KEY, b"first").await;
    put(&harness.archive, StagingArea::Presigned.location(KEY).as_ref(), b"second, different").await;

    assert_eq!(sweep(&harness.state, StagingArea::Presigned, Duration::ZERO).await.unwrap().handled, 1);
    assert_eq!(read(&harness.archive, KEY).await, b"first", "the archive's file is never overwritten");
    let rejected = listing(&harness.archive, "rejected").await;
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    let (kept, reason) = (&rejected[0], &rejected[1]);
    assert!(kept.starts_with(&format!("rejected/{KEY}.")) && reason == &format!("{kept}.reason.txt"), "{rejected:?}");
    assert_eq!(read(&harness.archive, kept).await, b"second, different");
    let reason = String::from_utf8(read(&harness.archive, reason).await).unwrap();
    assert!(reason.contains("already holds a different file"), "{reason}");
    assert!(harness.indexed.lock().unwrap().is_empty());
    assert!(listing(&harness.archive, "staging").await.is_empty());
}

#[tokio::test]
async fn a_repeat_of_the_same_bytes_is_dropped_and_the_file_still_indexed() {
    let harness = harness(true).await;
    put(&harness.archive, KEY, b"same").await;
    let staging = StagingArea::Presigned.location(KEY);
    put(&harness.archive, staging.as_ref(), b"same").await;
    assert_eq!(place(&harness.state, &staging, KEY, OnConflict::KeepAside).await.unwrap(), Placement::AlreadyThere);
    assert_eq!(*harness.indexed.lock().unwrap(), [KEY]);
    assert!(listing(&harness.archive, "staging").await.is_empty());
    assert_eq!(place(&harness.state, &staging, KEY, OnConflict::KeepAside).await.unwrap(), Placement::Gone);
}

#[tokio::test]
async fn an_unreachable_indexer_leaves_the_upload_staged_for_the_next_sweep() {
    let harness = harness(false).await;
    let staging = StagingArea::Presigned.location(KEY);
    put(&harness.archive, staging.as_ref(), b"level zero").await;
    assert!(place(&harness.state, &staging, KEY, OnConflict::KeepAside).await.is_err());
    assert_eq!(read(&harness.archive, KEY).await, b"level zero");
    assert_eq!(listing(&harness.archive, "staging").await, [staging.to_string()], "kept until indexed");
}

#[tokio::test]
async fn young_uploads_wait_and_junk_in_staging_is_kept_aside() {
    let harness = harness(true).await;
    put(&harness.archive, StagingArea::Presigned.location(KEY).as_ref(), b"level zero").await;
    assert_eq!(sweep(&harness.state, StagingArea::Presigned, Duration::from_secs(3600)).await.unwrap().handled, 0);
    assert_eq!(listing(&harness.archive, "staging").await.len(), 1);

    put(&harness.archive, "staging/not-an-archive-key/abc", b"junk").await;
    assert_eq!(sweep(&harness.state, StagingArea::Presigned, Duration::ZERO).await.unwrap().handled, 2);
    let rejected = listing(&harness.archive, "rejected").await;
    assert!(rejected.iter().any(|location| location.starts_with("rejected/not-an-archive-key/abc.")), "{rejected:?}");
    assert_eq!(read(&harness.archive, KEY).await, b"level zero");
}

#[tokio::test]
async fn an_upload_refused_at_once_leaves_nothing_behind() {
    let harness = harness(true).await;
    put(&harness.archive, KEY, b"first").await;
    let staging = StagingArea::Presigned.location(KEY);
    put(&harness.archive, staging.as_ref(), b"second, different").await;
    assert_eq!(place(&harness.state, &staging, KEY, OnConflict::Refuse).await.unwrap(), Placement::Refused);
    assert_eq!(read(&harness.archive, KEY).await, b"first");
    assert!(listing(&harness.archive, "staging").await.is_empty());
    assert!(listing(&harness.archive, "rejected").await.is_empty());
}

#[tokio::test]
async fn a_staged_upload_over_the_limit_is_kept_aside_not_placed() {
    let mut harness = harness(true).await;
    harness.state.config.max_upload_bytes = std::num::NonZeroU64::new(4).unwrap();
    put(&harness.archive, StagingArea::Presigned.location(KEY).as_ref(), b"five!").await;
    assert_eq!(sweep(&harness.state, StagingArea::Presigned, Duration::ZERO).await.unwrap().handled, 1);
    assert!(harness.archive.head(&ObjectPath::from(KEY)).await.is_err(), "not placed");
    let rejected = listing(&harness.archive, "rejected").await;
    let reason = String::from_utf8(read(&harness.archive, &rejected[1]).await).unwrap();
    assert!(reason.contains("over the upload limit of 4 bytes"), "{reason}");
}

#[tokio::test]
async fn a_staging_object_replaced_while_placed_is_not_deleted() {
    let harness = harness(true).await;
    let staging = StagingArea::Presigned.location(KEY);
    put(&harness.archive, staging.as_ref(), b"first put").await;
    let seen = harness.archive.head(&staging).await.unwrap();
    put(&harness.archive, staging.as_ref(), b"second put to the same url").await;
    delete_if_unchanged(harness.archive.as_ref(), &seen).await;
    assert_eq!(read(&harness.archive, staging.as_ref()).await, b"second put to the same url");
    let current = harness.archive.head(&staging).await.unwrap();
    delete_if_unchanged(harness.archive.as_ref(), &current).await;
    assert!(listing(&harness.archive, "staging").await.is_empty());
}

#[tokio::test]
async fn a_sweep_stops_at_the_first_upload_the_indexer_cannot_take() {
    let harness = harness(false).await;
    let other = "imap/swe/l0/2024/09/imap_swe_l0_raw_20240925_v001.0001.pkts";
    put(&harness.archive, StagingArea::Presigned.location(KEY).as_ref(), b"one").await;
    put(&harness.archive, StagingArea::Presigned.location(other).as_ref(), b"two").await;
    assert_eq!(sweep(&harness.state, StagingArea::Presigned, Duration::ZERO).await.unwrap().handled, 0);
    let mut placed = 0;
    for key in [KEY, other] {
        placed += usize::from(harness.archive.head(&ObjectPath::from(key)).await.is_ok());
    }
    assert_eq!(placed, 1, "the round stopped after the first failure");
    assert_eq!(listing(&harness.archive, "staging").await.len(), 2, "both wait for the next sweep");
}

#[tokio::test]
async fn two_replicas_sweeping_at_once_place_each_upload_once_and_keep_nothing_aside() {
    let harness = harness(true).await;
    let second_replica = GatewayState::new(
        GatewayConfig::default(),
        harness.archive.clone(),
        harness.state.clients.clone(),
        harness.state.keys.clone(),
        UploadSigner::new(b"secret".to_vec()),
        None,
    );
    let keys: Vec<String> =
        (20..30).map(|day| format!("imap/swe/l0/2024/09/imap_swe_l0_raw_202409{day}_v001.0001.pkts")).collect();
    for key in &keys {
        harness.archive.put(&StagingArea::Presigned.location(key), key.as_bytes().to_vec().into()).await.unwrap();
    }
    let (first, second) = tokio::join!(
        sweep(&harness.state, StagingArea::Presigned, Duration::ZERO),
        sweep(&second_replica, StagingArea::Presigned, Duration::ZERO)
    );
    assert!(
        first.unwrap().handled + second.unwrap().handled >= keys.len(),
        "every upload dealt with by one replica or both"
    );
    for key in &keys {
        assert_eq!(read(&harness.archive, key).await, key.as_bytes());
    }
    assert!(listing(&harness.archive, "staging").await.is_empty());
    assert!(listing(&harness.archive, "rejected").await.is_empty(), "identical bytes are never kept aside");
    let mut indexed = harness.indexed.lock().unwrap().clone();
    indexed.sort();
    indexed.dedup();
    assert_eq!(indexed, keys);
}
