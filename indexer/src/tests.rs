//! The indexer's contract, run against SQLite and (when `DATABASE_URL` is set) PostgreSQL.

use std::sync::Arc;

use imap_filename::ImapFileName;
use mesh_runtime::store::testing::{fresh_postgres, fresh_sqlite};
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::pb::{FileKind, QueryFilesRequest, ReleaseFilesRequest};
use sqlx::AnyPool;

use super::config::IndexerConfig;
use super::inbox::Ingestor;
use super::tracker::{FileTracker, Provenance};

async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(AnyPool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (sqlite, _dir) = fresh_sqlite().await;
    test(sqlite).await;
    if let Some(postgres) = fresh_postgres().await {
        test(postgres).await;
    }
}

fn name(text: &str) -> ImapFileName {
    ImapFileName::parse(text).unwrap()
}

/// A tracker that has indexed `files`, which arrived from outside.
async fn tracker_with(pool: AnyPool, files: &[&str]) -> FileTracker {
    let tracker = FileTracker::open(pool).await.unwrap();
    for file in files {
        tracker.index(&name(file), 1, &Provenance::default(), "").await.unwrap();
    }
    tracker
}

#[tokio::test]
async fn indexing_is_idempotent_and_logs_one_event_per_new_file() {
    on_every_backend(|pool| async move {
        let tracker = FileTracker::open(pool).await.unwrap();
        let first =
            tracker.index(&name("imap_swapi_l0_raw_20240924_v001.pkts"), 10, &Provenance::default(), "").await.unwrap();
        let again =
            tracker.index(&name("imap_swapi_l0_raw_20240924_v001.pkts"), 10, &Provenance::default(), "").await.unwrap();
        let second = tracker
            .index(&name("imap_mag_l1a_norm-mago_20240924_v001.0001.cdf"), 5, &Provenance::default(), "")
            .await
            .unwrap();
        assert!(first.newly_indexed && !again.newly_indexed && second.newly_indexed);
        assert_eq!((first.event_seq, again.event_seq, second.event_seq), (1, 1, 2));
        let events = tracker.events_after(0, 10).await.unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].file.as_ref().unwrap().file_name, "imap_mag_l1a_norm-mago_20240924_v001.0001.cdf");
        assert_eq!(tracker.events_after(1, 10).await.unwrap().len(), 1);
        assert_eq!(*tracker.subscribe_latest().borrow(), 2);
    })
    .await;
}

#[tokio::test]
async fn provenance_is_recorded_and_filled_in_later() {
    on_every_backend(|pool| async move {
        let tracker = FileTracker::open(pool).await.unwrap();
        let output = name("imap_swe_l1b_sci_20240924_v001.0001.cdf");
        tracker.index(&output, 1, &Provenance::default(), "").await.unwrap();
        let provenance = Provenance {
            produced_by_job: "job-1".into(),
            parent_files: vec!["imap_swe_l1a_sci_20240924_v001.0001.cdf".into()],
        };
        let outcome = tracker.index(&output, 1, &provenance, "").await.unwrap();
        assert!(!outcome.newly_indexed);
        assert_eq!(outcome.file.produced_by_job, "job-1");
        assert_eq!(outcome.file.parent_files, provenance.parent_files);
    })
    .await;
}

#[tokio::test]
async fn queries_filter_by_fields_dates_and_validity() {
    on_every_backend(|pool| async move {
        let tracker = tracker_with(
            pool,
            &[
                "imap_mag_l1a_norm-mago_20240923_v001.0001.cdf",
                "imap_mag_l1a_norm-mago_20240924_v001.0001.cdf",
                "imap_mag_l1a_norm-mago_20240924_v001.0002.cdf",
                "imap_hi_l1a_45sensor-de_20240924-repoint00042_v001.0001.cdf",
                "imap_mag_calibration_20240101_v001.cdf",
                "imap_mag_offsets_20240101_20240131_v002.cdf",
            ],
        )
        .await;
        let query = |request: QueryFilesRequest| {
            let tracker = &tracker;
            async move { tracker.query(&request).await.unwrap().into_iter().map(|file| file.file_name).collect::<Vec<_>>() }
        };
        let day = query(QueryFilesRequest { kind: FileKind::Science.into(), instrument: "mag".into(), start_date_min: "20240924".into(), start_date_max: "20240924".into(), ..Default::default() }).await;
        assert_eq!(day, ["imap_mag_l1a_norm-mago_20240924_v001.0001.cdf", "imap_mag_l1a_norm-mago_20240924_v001.0002.cdf"]);
        let version = query(QueryFilesRequest { version: "v001.0002".into(), ..Default::default() }).await;
        assert_eq!(version.len(), 1);
        let repointing = query(QueryFilesRequest { repointing_min: Some(40), repointing_max: Some(50), ..Default::default() }).await;
        assert_eq!(repointing, ["imap_hi_l1a_45sensor-de_20240924-repoint00042_v001.0001.cdf"]);
        // Ancillary validity: the open-ended calibration is valid in March, the January offsets are not.
        let valid_in_march = query(QueryFilesRequest { kind: FileKind::Ancillary.into(), start_date_max: "20240305".into(), end_date_min: "20240301".into(), ..Default::default() }).await;
        assert_eq!(valid_in_march, ["imap_mag_calibration_20240101_v001.cdf"]);
        let bad = tracker.query(&QueryFilesRequest { start_date_min: "2024-09-24".into(), ..Default::default() }).await;
        assert!(bad.unwrap_err().to_string().contains("invalid query"));
    })
    .await;
}

const MANIFEST_KEY: &str = "imap/release/hit/imap_hit_data-release-001_20260101_20260131_v001.txt";

/// A January hit release over files inside and outside its scope.
async fn tracker_for_a_january_release(pool: AnyPool) -> FileTracker {
    tracker_with(
        pool,
        &[
            "imap_hit_l1a_sci_20260101_v001.0001.cdf",
            "imap_hit_l1a_sci_20260110_v001.0001.png",
            "imap_hit_l1b_sci_20260115_v001.0001.cdf",
            "imap_hit_l2_sci_20260131_v001.0001.cdf",
            "imap_hit_l1a_sci_20260201_v001.0001.cdf",
            "imap_mag_l1a_norm-mago_20260115_v001.0001.cdf",
            "imap_hit_calibration_20260101_v001.cdf",
            "imap_hit_data-release-001_20260101_20260131_v001.txt",
        ],
    )
    .await
}

fn january_release(withheld: &[&str]) -> ReleaseFilesRequest {
    ReleaseFilesRequest {
        instrument: "hit".into(),
        start_date: "20260101".into(),
        end_date: "20260131".into(),
        withheld_files: withheld.iter().map(|name| name.to_string()).collect(),
        manifest_key: MANIFEST_KEY.into(),
    }
}

async fn released_names(tracker: &FileTracker) -> Vec<String> {
    let request = QueryFilesRequest { released_only: true, ..Default::default() };
    tracker.query(&request).await.unwrap().into_iter().map(|file| file.file_name).collect()
}

#[tokio::test]
async fn a_release_marks_its_range_except_the_withheld_once() {
    on_every_backend(|pool| async move {
        let tracker = tracker_for_a_january_release(pool).await;
        assert!(released_names(&tracker).await.is_empty(), "nothing is released before a release");
        let withheld = "imap_hit_l1b_sci_20260115_v001.0001.cdf";
        let first = tracker.release(&january_release(&[withheld, withheld])).await.unwrap();
        assert_eq!((first.released, first.newly_released, first.withheld), (3, 3, 1), "{first:?}");
        assert!(first.unmatched_withheld.is_empty());
        // Science and quicklook files of hit starting in January, both ends included; not the
        // withheld one, the February one, mag's, the ancillary file or the manifest itself.
        let expected = [
            "imap_hit_l1a_sci_20260101_v001.0001.cdf",
            "imap_hit_l1a_sci_20260110_v001.0001.png",
            "imap_hit_l2_sci_20260131_v001.0001.cdf",
        ];
        assert_eq!(released_names(&tracker).await, expected);
        let record = tracker.get(expected[0]).await.unwrap().unwrap();
        assert!(record.released && record.released_at.is_some(), "{record:?}");
        assert_eq!(record.release_manifest, MANIFEST_KEY);
        let kept_back = tracker.get(withheld).await.unwrap().unwrap();
        assert!(!kept_back.released && kept_back.released_at.is_none() && kept_back.release_manifest.is_empty());

        // Applying it again changes nothing, not even the release time.
        let again = tracker.release(&january_release(&[withheld])).await.unwrap();
        assert_eq!((again.released, again.newly_released, again.withheld), (3, 0, 1), "{again:?}");
        assert_eq!(tracker.get(expected[0]).await.unwrap().unwrap().released_at, record.released_at);
        // Not withholding it any more releases it, and only it.
        let later = tracker.release(&january_release(&[])).await.unwrap();
        assert_eq!((later.released, later.newly_released, later.withheld), (4, 1, 0), "{later:?}");
    })
    .await;
}

#[tokio::test]
async fn a_release_withholding_files_outside_its_range_changes_nothing() {
    on_every_backend(|pool| async move {
        let tracker = tracker_for_a_january_release(pool).await;
        let outside = [
            "imap_hit_l1a_sci_20260201_v001.0001.cdf",
            "imap_mag_l1a_norm-mago_20260115_v001.0001.cdf",
            "imap_hit_calibration_20260101_v001.cdf",
            "imap_hit_l1a_sci_20260105_v001.0001.cdf",
        ];
        let refused = tracker.release(&january_release(&outside)).await.unwrap();
        let mut expected = outside.map(String::from).to_vec();
        expected.sort();
        assert_eq!(refused.unmatched_withheld, expected);
        assert_eq!((refused.released, refused.newly_released), (0, 0));
        assert!(released_names(&tracker).await.is_empty(), "a refused release changes nothing");

        let backwards =
            ReleaseFilesRequest { start_date: "20260131".into(), end_date: "20260101".into(), ..january_release(&[]) };
        assert!(tracker.release(&backwards).await.unwrap_err().to_string().contains("after end date"));
        let bad_date = ReleaseFilesRequest { end_date: "2026-01-31".into(), ..january_release(&[]) };
        assert!(tracker.release(&bad_date).await.unwrap_err().to_string().contains("invalid release"));
    })
    .await;
}

#[tokio::test]
async fn inbox_moves_good_files_into_the_archive_and_quarantines_bad_ones() {
    let (pool, _database_dir) = fresh_sqlite().await;
    let home = tempfile::tempdir().expect("create temp dir");
    let archive_dir = home.path().join("archive");
    std::fs::create_dir_all(&archive_dir).unwrap();
    let archive: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&archive_dir).unwrap());
    let config = IndexerConfig {
        inbox_dir: Some(home.path().join("inbox")),
        quarantine_dir: Some(home.path().join("quarantine")),
        settle_millis: 0,
        rescan_min_age_seconds: 0,
        ..Default::default()
    };
    std::fs::create_dir_all(home.path().join("inbox")).unwrap();
    std::fs::write(home.path().join("inbox/imap_swapi_l0_raw_20240924_v001.pkts"), b"packets").unwrap();
    std::fs::write(home.path().join("inbox/imap_cooker_l0_raw_20240924_v001.pkts"), b"bad").unwrap();
    let ingestor =
        Ingestor { tracker: Arc::new(FileTracker::open(pool).await.unwrap()), archive: archive.clone(), config };
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
    let quarantined = ingestor.tracker.quarantined(10).await.unwrap();
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
        ingestor.tracker.quarantined(10).await.unwrap().into_iter().map(|file| file.reason).collect();
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
    let config = IndexerConfig { inbox_dir: Some(inbox.clone()), settle_millis: 60_000, ..Default::default() };
    let ingestor = Ingestor { tracker: Arc::new(FileTracker::open(pool).await.unwrap()), archive, config };
    std::fs::write(inbox.join("imap_swapi_l0_raw_20240924_v001.pkts"), b"still copying").unwrap();
    let (handled, look_again) = ingestor.drain_inbox().await.unwrap();
    assert_eq!(handled, 0, "a file written just now may still be growing");
    assert!(look_again.is_some_and(|wait| wait <= std::time::Duration::from_secs(60)));
    assert!(inbox.join("imap_swapi_l0_raw_20240924_v001.pkts").exists());
}
