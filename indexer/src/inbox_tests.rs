//! The inbox: files dropped there move into the archive or, refused, into quarantine with the
//! reason; a file still being written is left alone until it settles; the archive rescan finds
//! objects written straight into the archive.

use std::collections::BTreeSet;
use std::sync::Arc;

use imap_filename::ImapFileName;
use mesh_runtime::store::testing::fresh_sqlite;
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, ObjectStoreExt};

use super::config::IndexerConfig;
use super::inbox::Ingestor;
use proto::pb::QueryFilesRequest;

use super::tracker::{FileTracker, Provenance};

#[tokio::test]
async fn inbox_links_good_files_into_a_local_archive_and_quarantines_bad_ones() {
    inbox_moves_good_files_into_the_archive_and_quarantines_bad_ones(true).await;
}

#[tokio::test]
async fn inbox_copies_good_files_into_the_archive_and_quarantines_bad_ones() {
    inbox_moves_good_files_into_the_archive_and_quarantines_bad_ones(false).await;
}

/// `link`: the ingestor knows the archive is a local directory.
async fn inbox_moves_good_files_into_the_archive_and_quarantines_bad_ones(link: bool) {
    let (pool, _database_dir) = fresh_sqlite().await;
    let home = tempfile::tempdir().expect("create temp dir");
    let archive_dir = home.path().join("archive");
    std::fs::create_dir_all(&archive_dir).unwrap();
    let archive: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&archive_dir).unwrap());
    let config = IndexerConfig {
        inbox_dir: Some(home.path().join("inbox")),
        quarantine_dir: Some(home.path().join("quarantine")),
        settle_time: std::time::Duration::ZERO,
        rescan_min_age: std::time::Duration::ZERO,
        ..Default::default()
    };
    std::fs::create_dir_all(home.path().join("inbox")).unwrap();
    std::fs::write(home.path().join("inbox/imap_swapi_l0_raw_20240924_v001.pkts"), b"packets").unwrap();
    std::fs::write(home.path().join("inbox/imap_cooker_l0_raw_20240924_v001.pkts"), b"bad").unwrap();
    let tracker = Arc::new(FileTracker::open(pool).await.unwrap());
    let archive_dir = link.then(|| archive_dir.clone());
    let ingestor = Ingestor { tracker, archive: archive.clone(), archive_dir, config };
    assert_eq!(ingestor.drain_inbox().await.unwrap().0, 2);

    let stored = archive
        .get(&"imap/swapi/l0/2024/09/imap_swapi_l0_raw_20240924_v001.pkts".into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored.as_ref(), b"packets");
    assert!(std::fs::read_dir(home.path().join("inbox")).unwrap().next().is_none(), "inbox emptied");
    let quarantined = ingestor.tracker.quarantined(10, "").await.unwrap().files;
    assert_eq!(quarantined.len(), 1);
    assert!(quarantined[0].reason.contains("unknown instrument \"cooker\""), "{}", quarantined[0].reason);
    let kept = std::fs::read(&quarantined[0].quarantine_key).unwrap();
    assert_eq!(kept, b"bad", "refused bytes are kept aside");
    assert!(
        std::fs::read_to_string(format!("{}.reason.txt", quarantined[0].quarantine_key)).unwrap().contains("cooker")
    );

    // The same name with different bytes is refused, not overwritten.
    std::fs::write(home.path().join("inbox/imap_swapi_l0_raw_20240924_v001.pkts"), b"other").unwrap();
    ingestor.drain_inbox().await.unwrap();
    let reasons: Vec<String> =
        ingestor.tracker.quarantined(10, "").await.unwrap().files.into_iter().map(|file| file.reason).collect();
    assert!(
        reasons.iter().any(|reason| reason.contains("already exists in the archive with different content")),
        "{reasons:?}"
    );

    // An object written straight into the archive (e.g. before a crash) is found by the rescan.
    archive
        .put(&"imap/mag/l1a/2024/09/imap_mag_l1a_norm-mago_20240924_v001.0001.cdf".into(), b"cdf".to_vec().into())
        .await
        .unwrap();
    assert_eq!(ingestor.scan_archive().await.unwrap(), 1);
    assert_eq!(ingestor.scan_archive().await.unwrap(), 0);
}

#[tokio::test]
async fn inbox_leaves_files_alone_until_they_settle() {
    let (pool, _database_dir) = fresh_sqlite().await;
    let home = tempfile::tempdir().expect("create temp dir");
    let archive: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(home.path()).unwrap());
    let inbox = home.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let config = IndexerConfig {
        inbox_dir: Some(inbox.clone()),
        settle_time: std::time::Duration::from_secs(60),
        ..Default::default()
    };
    let ingestor =
        Ingestor { tracker: Arc::new(FileTracker::open(pool).await.unwrap()), archive, archive_dir: None, config };
    std::fs::write(inbox.join("imap_swapi_l0_raw_20240924_v001.pkts"), b"still copying").unwrap();
    let (handled, look_again) = ingestor.drain_inbox().await.unwrap();
    assert_eq!(handled, 0, "a file written just now may still be growing");
    assert!(look_again.is_some_and(|wait| wait <= std::time::Duration::from_secs(60)));
    assert!(inbox.join("imap_swapi_l0_raw_20240924_v001.pkts").exists());
}

#[tokio::test]
async fn uploads_at_the_last_minor_version_are_refused_but_a_jobs_output_is_indexed() {
    let (pool, _database_dir) = fresh_sqlite().await;
    let home = tempfile::tempdir().expect("create temp dir");
    let archive: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let config = IndexerConfig {
        inbox_dir: Some(home.path().join("inbox")),
        quarantine_dir: Some(home.path().join("quarantine")),
        settle_time: std::time::Duration::ZERO,
        ..Default::default()
    };
    std::fs::create_dir_all(home.path().join("inbox")).unwrap();
    std::fs::write(home.path().join("inbox/imap_swapi_l1_sci_20240924_v001.9999.cdf"), b"cdf").unwrap();
    let ingestor = Ingestor {
        tracker: Arc::new(FileTracker::open(pool).await.unwrap()),
        archive: archive.clone(),
        archive_dir: None,
        config,
    };
    ingestor.drain_inbox().await.unwrap();
    let quarantined = ingestor.tracker.quarantined(10, "").await.unwrap().files;
    assert!(quarantined[0].reason.contains("v001.9999 is the last minor version"), "{}", quarantined[0].reason);

    let key = "imap/swapi/l1/2024/09/imap_swapi_l1_sci_20240925_v001.9999.cdf";
    archive.put(&key.into(), b"cdf".to_vec().into()).await.unwrap();
    let upload = ingestor.index_key(key, &super::tracker::Provenance::default()).await.unwrap_err();
    assert!(upload.to_string().contains("upload it with a lower minor version"), "{upload}");
    let made_by_a_job = super::tracker::Provenance { produced_by_job: "job-1".into(), parent_files: Vec::new() };
    assert!(ingestor.index_key(key, &made_by_a_job).await.unwrap().newly_indexed);
}

mesh_runtime::on_both_backends!(
    an_inbox_drained_in_several_batches_logs_each_file_once_without_gaps,
    inbox_batches_raced_against_single_file_announcements_index_each_file_once,
);

/// SWAPI level-0 names of `count` consecutive days.
fn daily_level0_names(count: i32) -> Vec<String> {
    let first = imap_filename::Date::from_ymd(2024, 1, 1).unwrap();
    (0..count).map(|day| format!("imap_swapi_l0_raw_{}_v001.pkts", first.add_days(day).yyyymmdd())).collect()
}

/// An ingestor on `pool` whose archive is the directory `home/archive` (inbox files are linked
/// in), with `names` in its inbox, each holding its own name as bytes.
async fn linking_ingestor(pool: sqlx::AnyPool, home: &std::path::Path, names: &[String]) -> Ingestor {
    let (inbox, archive_dir) = (home.join("inbox"), home.join("archive"));
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&archive_dir).unwrap();
    for name in names {
        std::fs::write(inbox.join(name), name).unwrap();
    }
    let config = IndexerConfig {
        inbox_dir: Some(inbox),
        quarantine_dir: Some(home.join("quarantine")),
        settle_time: std::time::Duration::ZERO,
        ..Default::default()
    };
    let archive: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&archive_dir).unwrap());
    let tracker = Arc::new(FileTracker::open(pool).await.unwrap());
    Ingestor { tracker, archive, archive_dir: Some(archive_dir), config }
}

/// The event log from the start: sequence numbers and names, oldest first.
async fn logged_events(tracker: &FileTracker) -> (Vec<u64>, Vec<String>) {
    tracker
        .events_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|event| (event.seq, event.file.unwrap().file_name))
        .unzip()
}

async fn an_inbox_drained_in_several_batches_logs_each_file_once_without_gaps(pool: sqlx::AnyPool) {
    let home = tempfile::tempdir().expect("create temp dir");
    let names = daily_level0_names(130);
    let ingestor = linking_ingestor(pool, home.path(), &names).await;
    // Already tracked (it arrived before): it comes again with the same bytes and changes nothing.
    let known = &names[7];
    let known_key = ImapFileName::parse(known).unwrap().archive_path();
    ingestor.archive.put(&known_key.as_str().into(), known.clone().into_bytes().into()).await.unwrap();
    assert!(ingestor.index_key(&known_key, &Provenance::default()).await.unwrap().newly_indexed);

    // Batches of 50 new links sync the file system once; the last, of 30, each file.
    let (handled, _) = ingestor.drain_inbox_in_batches(50).await.unwrap();
    assert_eq!(handled, 130);

    let (sequence, logged) = logged_events(&ingestor.tracker).await;
    assert_eq!(sequence, (1..=130).collect::<Vec<u64>>(), "gap-free, one event per file");
    assert_eq!(logged.iter().collect::<BTreeSet<_>>(), names.iter().collect::<BTreeSet<_>>(), "each file once");
    assert_eq!(logged[0], *known);
    assert_eq!(*ingestor.tracker.subscribe_latest().borrow(), 130);
    assert!(std::fs::read_dir(home.path().join("inbox")).unwrap().next().is_none(), "inbox emptied");
    for name in &names {
        let key = ImapFileName::parse(name).unwrap().archive_path();
        let stored = ingestor.archive.get(&key.as_str().into()).await.unwrap().bytes().await.unwrap();
        assert_eq!(stored.as_ref(), name.as_bytes());
    }
    // Draining again finds nothing and logs nothing.
    assert_eq!(ingestor.drain_inbox().await.unwrap().0, 0);
    assert_eq!(logged_events(&ingestor.tracker).await.0.len(), 130);
}

async fn inbox_batches_raced_against_single_file_announcements_index_each_file_once(pool: sqlx::AnyPool) {
    let home = tempfile::tempdir().expect("create temp dir");
    let names = daily_level0_names(240);
    let ingestor = Arc::new(linking_ingestor(pool, home.path(), &names).await);
    // Every other file is also already in the archive and announced one by one (IndexFiles), from
    // the other end, while the inbox drains in batches: the two meet inside some batch.
    let announced: Vec<String> = names.iter().step_by(2).cloned().collect();
    for name in &announced {
        let key = ImapFileName::parse(name).unwrap().archive_path();
        ingestor.archive.put(&key.as_str().into(), name.clone().into_bytes().into()).await.unwrap();
    }
    let single = {
        let (ingestor, announced) = (ingestor.clone(), announced.clone());
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for name in announced.iter().rev() {
                let key = ImapFileName::parse(name).unwrap().archive_path();
                outcomes.push(ingestor.index_key(&key, &Provenance::default()).await.unwrap());
            }
            outcomes
        })
    };
    let drained = {
        let ingestor = ingestor.clone();
        tokio::spawn(async move { ingestor.drain_inbox_in_batches(40).await.unwrap().0 })
    };
    let (single, drained) = (single.await.unwrap(), drained.await.unwrap());
    assert_eq!(drained, 240);

    let (sequence, logged) = logged_events(&ingestor.tracker).await;
    assert_eq!(sequence, (1..=240).collect::<Vec<u64>>(), "gap-free, one event per file");
    let logged_once: BTreeSet<&String> = logged.iter().collect();
    assert_eq!(logged_once, names.iter().collect::<BTreeSet<_>>(), "each file once, none lost");
    let event_of: std::collections::HashMap<&String, u64> = logged.iter().zip(sequence).collect();
    for outcome in &single {
        let name = &outcome.file.file_name;
        assert_eq!(outcome.event_seq, event_of[name], "{name}: the announcement saw the file's one event");
    }
    let swapi = QueryFilesRequest { instrument: "swapi".into(), ..Default::default() };
    assert_eq!(ingestor.tracker.query(&swapi).await.unwrap().files.len(), 240);
    assert!(std::fs::read_dir(home.path().join("inbox")).unwrap().next().is_none(), "inbox emptied");
}
