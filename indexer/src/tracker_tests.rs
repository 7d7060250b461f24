//! The file tracker's contract (indexing, provenance, queries, releases), run against SQLite and
//! PostgreSQL (ignored, with the reason, when the build saw no DATABASE_URL).

use imap_filename::ImapFileName;
use proto::pb::{FileKind, FileRecord, QueryFilesRequest, ReleaseFilesRequest};
use sqlx::AnyPool;

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::Arc;

use super::tracker::{FileTracker, NewFile, Provenance};

mesh_runtime::on_both_backends!(
    indexing_is_idempotent_and_logs_one_event_per_new_file,
    provenance_is_recorded_and_filled_in_later,
    queries_filter_by_fields_dates_and_validity,
    a_release_marks_its_range_except_the_withheld_once,
    a_release_withholding_files_outside_its_range_changes_nothing,
    a_batch_indexes_as_one_file_after_another_would,
    batches_raced_against_single_files_index_each_file_once_with_one_event,
    appended_batches_raced_against_single_files_append_each_file_once,
    paging_visits_every_matching_file_once_in_bounded_pages,
    quarantine_pages_visit_every_refusal_once_newest_first,
    an_appended_batch_says_which_names_got_which_event,
    a_batch_larger_than_one_statement_appends_every_file_in_order,
    concurrent_index_calls_committed_together_answer_as_one_after_another,
    a_batch_of_queries_answers_each_as_it_would_alone,
    a_new_files_record_is_the_one_read_back,
);

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

async fn indexing_is_idempotent_and_logs_one_event_per_new_file(pool: AnyPool) {
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
}

async fn provenance_is_recorded_and_filled_in_later(pool: AnyPool) {
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
}

async fn queries_filter_by_fields_dates_and_validity(pool: AnyPool) {
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
        async move {
            tracker.query(&request).await.unwrap().files.into_iter().map(|file| file.file_name).collect::<Vec<_>>()
        }
    };
    let day = query(QueryFilesRequest {
        kind: FileKind::Science.into(),
        instrument: "mag".into(),
        start_date_min: "20240924".into(),
        start_date_max: "20240924".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(day, ["imap_mag_l1a_norm-mago_20240924_v001.0001.cdf", "imap_mag_l1a_norm-mago_20240924_v001.0002.cdf"]);
    let version = query(QueryFilesRequest { version: "v001.0002".into(), ..Default::default() }).await;
    assert_eq!(version.len(), 1);
    let repointing =
        query(QueryFilesRequest { repointing_min: Some(40), repointing_max: Some(50), ..Default::default() }).await;
    assert_eq!(repointing, ["imap_hi_l1a_45sensor-de_20240924-repoint00042_v001.0001.cdf"]);
    // Ancillary validity: the open-ended calibration is valid in March, the January offsets are not.
    let valid_in_march = query(QueryFilesRequest {
        kind: FileKind::Ancillary.into(),
        start_date_max: "20240305".into(),
        end_date_min: "20240301".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(valid_in_march, ["imap_mag_calibration_20240101_v001.cdf"]);
    // What depsvc asks for a day's science input: coverage meets the day (one-date names).
    let covering_the_day = query(QueryFilesRequest {
        kind: FileKind::Science.into(),
        instrument: "mag".into(),
        start_date_max: "20240924".into(),
        end_date_min: "20240924".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(covering_the_day, day);
    let bad = tracker.query(&QueryFilesRequest { start_date_min: "2024-09-24".into(), ..Default::default() }).await;
    assert!(bad.unwrap_err().to_string().contains("invalid query"));
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
    tracker.query(&request).await.unwrap().files.into_iter().map(|file| file.file_name).collect()
}

async fn a_release_marks_its_range_except_the_withheld_once(pool: AnyPool) {
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
}

async fn a_release_withholding_files_outside_its_range_changes_nothing(pool: AnyPool) {
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
}

fn new_file(text: &str, provenance: Provenance) -> NewFile {
    NewFile { name: name(text), size_bytes: 7, provenance, traceparent: String::new() }
}

/// SWAPI level-0 names of `count` consecutive days.
fn daily_level0_names(count: i32) -> Vec<String> {
    let first = imap_filename::Date::from_ymd(2024, 1, 1).unwrap();
    (0..count).map(|day| format!("imap_swapi_l0_raw_{}_v001.pkts", first.add_days(day).yyyymmdd())).collect()
}

async fn a_batch_indexes_as_one_file_after_another_would(pool: AnyPool) {
    let known = "imap_swe_l1b_sci_20240924_v001.0001.cdf";
    let tracker = tracker_with(pool, &[known]).await;
    let provenance = Provenance { produced_by_job: "job-7".into(), parent_files: vec!["parent.cdf".into()] };
    let batch = [
        new_file("imap_swapi_l0_raw_20240924_v001.pkts", Provenance::default()),
        new_file("imap_swapi_l0_raw_20240925_v001.pkts", Provenance::default()),
        new_file("imap_swapi_l0_raw_20240924_v001.pkts", Provenance::default()),
        new_file(known, provenance.clone()),
    ];
    let outcomes = tracker.index_batch(&batch).await.unwrap();
    let seen: Vec<(bool, u64)> = outcomes.iter().map(|outcome| (outcome.newly_indexed, outcome.event_seq)).collect();
    assert_eq!(seen, [(true, 2), (true, 3), (false, 2), (false, 1)]);
    // The known file had no producer yet; the batch fills its provenance in, as IndexFile does.
    assert_eq!(outcomes[3].file.produced_by_job, "job-7");
    assert_eq!(outcomes[3].file.parent_files, provenance.parent_files);
    let logged: Vec<(u64, String)> = tracker
        .events_after(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|event| (event.seq, event.file.unwrap().file_name))
        .collect();
    let expected = [
        (1, known.to_string()),
        (2, "imap_swapi_l0_raw_20240924_v001.pkts".to_string()),
        (3, "imap_swapi_l0_raw_20240925_v001.pkts".to_string()),
    ];
    assert_eq!(logged, expected);
    assert_eq!(*tracker.subscribe_latest().borrow(), 3);
    assert!(tracker.index_batch(&[]).await.unwrap().is_empty());
}

/// Writes 240 names into a new tracker in batches of 40 through `write_batch`, from the first name
/// on, while indexing them one file at a time (IndexFile) from the last back, so that the two meet
/// in the middle of some batch. Returns the tracker, the names, what the batches said (in name
/// order) and the single files' outcomes.
async fn race_batches_against_single_files<Said, Write, Writing>(
    pool: AnyPool,
    write_batch: Write,
) -> (Arc<FileTracker>, Vec<String>, Vec<Said>, Vec<super::tracker::IndexOutcome>)
where
    Said: Send + 'static,
    Write: Fn(Arc<FileTracker>, Vec<NewFile>) -> Writing + Send + 'static,
    Writing: std::future::Future<Output = Vec<Said>> + Send,
{
    let tracker = Arc::new(FileTracker::open(pool).await.unwrap());
    let names = daily_level0_names(240);
    let batches: Vec<Vec<NewFile>> = names
        .chunks(40)
        .map(|chunk| chunk.iter().map(|text| new_file(text, Provenance::default())).collect())
        .collect();
    let batched = {
        let tracker = tracker.clone();
        tokio::spawn(async move {
            let mut said = Vec::new();
            for files in batches {
                said.extend(write_batch(tracker.clone(), files).await);
            }
            said
        })
    };
    let single = {
        let (tracker, names) = (tracker.clone(), names.to_vec());
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for text in names.iter().rev() {
                outcomes.push(tracker.index(&name(text), 7, &Provenance::default(), "").await.unwrap());
            }
            outcomes.reverse();
            outcomes
        })
    };
    let (batched, single) = (batched.await.unwrap(), single.await.unwrap());
    (tracker, names, batched, single)
}

async fn index_batch_of(tracker: Arc<FileTracker>, files: Vec<NewFile>) -> Vec<super::tracker::IndexOutcome> {
    tracker.index_batch(&files).await.unwrap()
}

async fn append_batch_of(tracker: Arc<FileTracker>, files: Vec<NewFile>) -> Vec<super::tracker::Appended> {
    tracker.append_batch(&files).await.unwrap()
}

/// The log holds one event for each of `names` and nothing else, numbered from 1 without a gap;
/// the tracker holds each once. Returns each name's event.
async fn assert_logged_once_each(tracker: &FileTracker, names: &[String]) -> std::collections::HashMap<String, u64> {
    let events = tracker.events_after(0, 1000).await.unwrap();
    let sequence: Vec<u64> = events.iter().map(|event| event.seq).collect();
    assert_eq!(sequence, (1..=names.len() as u64).collect::<Vec<u64>>(), "gap-free, one event per file");
    let event_of: std::collections::HashMap<String, u64> =
        events.into_iter().map(|event| (event.file.unwrap().file_name, event.seq)).collect();
    assert_eq!(event_of.keys().collect::<BTreeSet<_>>(), names.iter().collect::<BTreeSet<_>>());
    let tracked = tracker.query(&QueryFilesRequest { instrument: "swapi".into(), ..Default::default() }).await.unwrap();
    assert_eq!(tracked.files.len(), names.len());
    event_of
}

async fn batches_raced_against_single_files_index_each_file_once_with_one_event(pool: AnyPool) {
    let (tracker, names, batched, single) = race_batches_against_single_files(pool, index_batch_of).await;
    for ((text, by_batch), by_single) in names.iter().zip(&batched).zip(&single) {
        assert_eq!((&by_batch.file.file_name, &by_single.file.file_name), (text, text));
        assert!(by_batch.newly_indexed != by_single.newly_indexed, "{text} is new to exactly one caller");
        assert_eq!(by_batch.event_seq, by_single.event_seq, "{text} has one event, whoever indexed it");
    }
    assert_logged_once_each(&tracker, &names).await;
    // Within one batch, the files it made new got their events in batch order.
    for chunk in batched.chunks(40) {
        let new_seqs: Vec<u64> = chunk.iter().filter(|outcome| outcome.newly_indexed).map(|o| o.event_seq).collect();
        assert!(new_seqs.windows(2).all(|pair| pair[1] == pair[0] + 1), "{new_seqs:?}");
    }
}

/// The inbox's path: appended batches (which do not read the events of names already known)
/// against single files, as above.
async fn appended_batches_raced_against_single_files_append_each_file_once(pool: AnyPool) {
    let (tracker, names, appended, single) = race_batches_against_single_files(pool, append_batch_of).await;
    let event_of = assert_logged_once_each(&tracker, &names).await;
    for ((text, by_batch), by_single) in names.iter().zip(&appended).zip(&single) {
        assert_eq!((&by_batch.file_name, &by_single.file.file_name), (text, text));
        assert!(by_batch.new_event_seq.is_some() != by_single.newly_indexed, "{text} is new to exactly one caller");
        assert_eq!(by_single.event_seq, event_of[text], "{text}: the single caller saw its one event");
        if let Some(seq) = by_batch.new_event_seq {
            assert_eq!(seq, event_of[text], "{text}: the batch reported the event it appended");
        }
    }
    for chunk in appended.chunks(40) {
        let new_seqs: Vec<u64> = chunk.iter().filter_map(|appended| appended.new_event_seq).collect();
        assert!(new_seqs.windows(2).all(|pair| pair[1] == pair[0] + 1), "{new_seqs:?}");
    }
}

/// Pages `request` through to the end; every page holds at most `maximum` files.
async fn every_page(tracker: &FileTracker, mut request: QueryFilesRequest, maximum: usize) -> Vec<FileRecord> {
    let mut visited = Vec::new();
    loop {
        let page = tracker.query(&request).await.unwrap();
        assert!(page.files.len() <= maximum, "a page of {} files, more than {maximum}", page.files.len());
        visited.extend(page.files);
        if page.next_page_token.is_empty() {
            return visited;
        }
        request.page_token = page.next_page_token;
    }
}

async fn paging_visits_every_matching_file_once_in_bounded_pages(pool: AnyPool) {
    const FILES: usize = 20_000;
    const MAXIMUM: u32 = 700;
    let tracker = FileTracker::open(pool).await.unwrap().with_max_page_size(NonZeroU32::new(MAXIMUM).unwrap());
    let first_day = imap_filename::Date::parse_yyyymmdd("20240101").unwrap();
    let names: Vec<String> = (0..FILES)
        .map(|index| {
            let instrument = if index % 4 == 0 { "swe" } else { "swapi" };
            let day = first_day.add_days((index % 2000) as i32).yyyymmdd();
            format!("imap_{instrument}_l1_sci_{day}_v{:03}.cdf", index / 2000 + 1)
        })
        .collect();
    // Batches arrive at different times, and many files share an arrival time.
    for batch in names.chunks(2_500) {
        let files: Vec<NewFile> = batch
            .iter()
            .map(|text| NewFile {
                name: name(text),
                size_bytes: 1,
                provenance: Provenance::default(),
                traceparent: String::new(),
            })
            .collect();
        tracker.index_batch(&files).await.unwrap();
    }

    // Asking for everything (limit 0) or for more than the maximum gets the maximum.
    for limit in [0, 1_000_000] {
        let page = tracker.query(&QueryFilesRequest { limit, ..Default::default() }).await.unwrap();
        assert_eq!(page.files.len(), MAXIMUM as usize);
        assert!(!page.next_page_token.is_empty());
    }
    let by_name = every_page(&tracker, QueryFilesRequest::default(), MAXIMUM as usize).await;
    // Every file once (the order is the database's collation of names).
    let visited: BTreeSet<&str> = by_name.iter().map(|file| file.file_name.as_str()).collect();
    assert_eq!(by_name.len(), FILES);
    assert_eq!(visited, names.iter().map(String::as_str).collect::<BTreeSet<_>>());

    // Filters apply in SQL, before the page bound: a filtered walk sees exactly its matches.
    let swe = QueryFilesRequest { instrument: "swe".into(), limit: 333, ..Default::default() };
    let swe_files = every_page(&tracker, swe, 333).await;
    assert_eq!(swe_files.len(), FILES / 4);
    assert!(swe_files.iter().all(|file| file.instrument == "swe"));

    let newest_first = QueryFilesRequest { newest_first: true, ..Default::default() };
    let by_arrival = every_page(&tracker, newest_first, MAXIMUM as usize).await;
    assert_eq!(by_arrival.len(), FILES);
    let arrival = |file: &FileRecord| file.ingestion_time.as_ref().map(proto::time::millis_of).unwrap();
    assert!(by_arrival.windows(2).all(|pair| arrival(&pair[0]) >= arrival(&pair[1])), "newest first");
    let arrived: BTreeSet<&str> = by_arrival.iter().map(|file| file.file_name.as_str()).collect();
    assert_eq!(arrived.len(), FILES, "each file once");

    let bad_token = QueryFilesRequest { newest_first: true, page_token: "nope".into(), ..Default::default() };
    assert!(tracker.query(&bad_token).await.is_err());
}

async fn quarantine_pages_visit_every_refusal_once_newest_first(pool: AnyPool) {
    let tracker = FileTracker::open(pool).await.unwrap().with_max_page_size(NonZeroU32::new(40).unwrap());
    for index in 0..250 {
        tracker.record_quarantine(&format!("inbox/{index:04}"), &format!("q/{index:04}"), "bad name").await.unwrap();
    }
    let mut visited = Vec::new();
    let mut token = String::new();
    loop {
        let page = tracker.quarantined(1000, &token).await.unwrap();
        assert!(page.files.len() <= 40);
        visited.extend(page.files.into_iter().map(|file| file.original_key));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<String> = (0..250).rev().map(|index| format!("inbox/{index:04}")).collect();
    assert_eq!(visited, expected);
    assert_eq!(tracker.quarantined(0, "").await.unwrap().files.len(), 40, "the default page, cut to the maximum");
}

async fn an_appended_batch_says_which_names_got_which_event(pool: AnyPool) {
    let known = "imap_swe_l1b_sci_20240924_v001.0001.cdf";
    let tracker = tracker_with(pool, &[known]).await;
    let batch = [
        new_file("imap_swapi_l0_raw_20240924_v001.pkts", Provenance::default()),
        new_file(known, Provenance::default()),
        new_file("imap_swapi_l0_raw_20240924_v001.pkts", Provenance::default()),
        new_file("imap_swapi_l0_raw_20240925_v001.pkts", Provenance::default()),
    ];
    let appended: Vec<(String, Option<u64>)> = tracker
        .append_batch(&batch)
        .await
        .unwrap()
        .into_iter()
        .map(|appended| (appended.file_name, appended.new_event_seq))
        .collect();
    let expected = [
        ("imap_swapi_l0_raw_20240924_v001.pkts".to_string(), Some(2)),
        (known.to_string(), None),
        ("imap_swapi_l0_raw_20240925_v001.pkts".to_string(), Some(3)),
    ];
    assert_eq!(appended, expected);
    assert_eq!(tracker.events_after(0, 10).await.unwrap().len(), 3);
}

async fn a_batch_larger_than_one_statement_appends_every_file_in_order(pool: AnyPool) {
    let tracker = FileTracker::open(pool).await.unwrap();
    let names = daily_level0_names(2100);
    let mut batch: Vec<NewFile> = names.iter().map(|text| new_file(text, Provenance::default())).collect();
    batch.push(new_file(&names[0], Provenance::default()));
    let appended = tracker.append_batch(&batch).await.unwrap();
    let said: Vec<(&str, Option<u64>)> =
        appended.iter().map(|appended| (appended.file_name.as_str(), appended.new_event_seq)).collect();
    let expected: Vec<(&str, Option<u64>)> =
        names.iter().zip(1..).map(|(name, seq)| (name.as_str(), Some(seq))).collect();
    assert_eq!(said, expected, "each name once, events in batch order");
    let logged: Vec<String> =
        tracker.events_after(0, 3000).await.unwrap().into_iter().map(|event| event.file.unwrap().file_name).collect();
    assert_eq!(logged, names);
    // Again: all known, nothing appended.
    assert!(tracker.append_batch(&batch).await.unwrap().iter().all(|appended| appended.new_event_seq.is_none()));
    assert_eq!(*tracker.subscribe_latest().borrow(), 2100);
}

/// Index calls made at once are written in group commits. Each caller still hears what indexing
/// its files alone would have said: each name is new to exactly one caller and has one event.
/// A producer's provenance fills in a file an upload made new in the same moment.
async fn concurrent_index_calls_committed_together_answer_as_one_after_another(pool: AnyPool) {
    let tracker = Arc::new(FileTracker::open(pool).await.unwrap());
    let names = daily_level0_names(60);
    let produced = Provenance { produced_by_job: "job-9".into(), parent_files: vec!["parent.pkts".into()] };
    // Three callers for each name: an upload, a producer, and a batch of the name with its neighbour.
    let mut calls = Vec::new();
    for (index, text) in names.iter().enumerate() {
        let neighbour = &names[(index + 1) % names.len()];
        calls.push(vec![new_file(text, Provenance::default())]);
        calls.push(vec![new_file(text, produced.clone())]);
        calls.push(vec![new_file(text, Provenance::default()), new_file(neighbour, Provenance::default())]);
    }
    let gate = Arc::new(tokio::sync::Barrier::new(calls.len()));
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|files| {
            let (tracker, gate) = (tracker.clone(), gate.clone());
            tokio::spawn(async move {
                gate.wait().await;
                tracker.index_batch(&files).await.unwrap()
            })
        })
        .collect();
    let mut new_to: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut said_events: Vec<(String, u64)> = Vec::new();
    for task in tasks {
        let outcomes = task.await.unwrap();
        for outcome in outcomes {
            if outcome.newly_indexed {
                *new_to.entry(outcome.file.file_name.clone()).or_default() += 1;
            }
            said_events.push((outcome.file.file_name, outcome.event_seq));
        }
    }
    let event_of = assert_logged_once_each(&tracker, &names).await;
    for text in &names {
        assert_eq!(new_to.get(text), Some(&1), "{text} is new to exactly one caller");
        let record = tracker.get(text).await.unwrap().unwrap();
        assert_eq!(record.produced_by_job, "job-9", "{text}: the producer's provenance is recorded");
    }
    for (text, seq) in said_events {
        assert_eq!(seq, event_of[&text], "{text}: every caller hears its one event");
    }
}

async fn a_batch_of_queries_answers_each_as_it_would_alone(pool: AnyPool) {
    const MAXIMUM: u32 = 50;
    let tracker = FileTracker::open(pool).await.unwrap().with_max_page_size(NonZeroU32::new(MAXIMUM).unwrap());
    let first_day = imap_filename::Date::parse_yyyymmdd("20240101").unwrap();
    let mut names: Vec<String> = (0..300)
        .map(|index| {
            let instrument = if index % 3 == 0 { "swe" } else { "swapi" };
            let day = first_day.add_days(index / 2).yyyymmdd();
            format!("imap_{instrument}_l1_sci-{}_{day}_v001.cdf", index % 2)
        })
        .collect();
    names.push("imap_hi_l1a_45sensor-de_20240924-repoint00042_v001.cdf".into());
    names.push("imap_swe_calibration_20240101_v001.cdf".into());
    for batch in names.chunks(100) {
        let files: Vec<NewFile> = batch.iter().map(|text| new_file(text, Provenance::default())).collect();
        tracker.index_batch(&files).await.unwrap();
    }
    let second_page_token = tracker.query(&QueryFilesRequest::default()).await.unwrap().next_page_token;
    let queries = vec![
        // More than a page, by name and newest first.
        QueryFilesRequest::default(),
        QueryFilesRequest { newest_first: true, limit: 7, ..Default::default() },
        // A second page, from the first's token.
        QueryFilesRequest { page_token: second_page_token, ..Default::default() },
        // What depsvc asks for a day's science, and for the tables valid on it.
        QueryFilesRequest {
            kind: FileKind::Science.into(),
            instrument: "swe".into(),
            start_date_max: "20240110".into(),
            end_date_min: "20240110".into(),
            ..Default::default()
        },
        QueryFilesRequest {
            kind: FileKind::Ancillary.into(),
            start_date_max: "20240305".into(),
            end_date_min: "20240301".into(),
            ..Default::default()
        },
        QueryFilesRequest { repointing_min: Some(40), repointing_max: Some(50), ..Default::default() },
        // Nothing matches.
        QueryFilesRequest { instrument: "codice".into(), ..Default::default() },
        // The same query twice keeps its place twice.
        QueryFilesRequest { instrument: "swe".into(), limit: 3, ..Default::default() },
        QueryFilesRequest { instrument: "swe".into(), limit: 3, ..Default::default() },
    ];
    let batch = tracker.query_batch(&queries).await.unwrap();
    assert_eq!(batch.len(), queries.len());
    for (query, answer) in queries.iter().zip(&batch) {
        let alone = tracker.query(query).await.unwrap();
        let batch_names: Vec<&str> = answer.files.iter().map(|file| file.file_name.as_str()).collect();
        let alone_names: Vec<&str> = alone.files.iter().map(|file| file.file_name.as_str()).collect();
        assert_eq!(batch_names, alone_names, "{query:?}");
        assert_eq!(answer.next_page_token, alone.next_page_token, "{query:?}");
        assert_eq!(answer.files, alone.files, "the same records");
    }
    assert_eq!(batch[0].files.len(), MAXIMUM as usize);
    assert_eq!(batch[1].files.len(), 7);
    assert_eq!(batch[3].files.len(), 1, "swe on 2024-01-10: {:?}", batch[3].files);
    assert_eq!(batch[5].files.len(), 1);
    assert!(batch[6].files.is_empty() && batch[6].next_page_token.is_empty());

    assert!(tracker.query_batch(&[]).await.unwrap().is_empty());
    let too_many = vec![QueryFilesRequest::default(); 65];
    let refused = tracker.query_batch(&too_many).await.unwrap_err().to_string();
    assert!(refused.contains("65 queries") && refused.contains("at most 64"), "{refused}");
    let bad_date = QueryFilesRequest { start_date_min: "2024-01-10".into(), ..Default::default() };
    let refused = tracker.query_batch(&[QueryFilesRequest::default(), bad_date]).await.unwrap_err();
    assert!(refused.to_string().contains("invalid query"), "{refused}");
}

async fn a_new_files_record_is_the_one_read_back(pool: AnyPool) {
    let tracker = tracker_with(pool, &["imap_swe_l1b_sci_20240924_v001.0001.cdf"]).await;
    let provenance =
        Provenance { produced_by_job: "job-9".into(), parent_files: vec!["a.pkts".into(), "b.cdf".into()] };
    let batch = [
        new_file("imap_swe_l1b_sci_20240924_v001.0001.cdf", provenance.clone()),
        new_file("imap_swe_l2_sci_20240924_v002.0003.cdf", provenance),
        new_file("imap_hi_l1a_45sensor-de_20240924-repoint00042_v001.cdf", Provenance::default()),
        new_file("imap_mag_offsets_20240101_20240131_v002.cdf", Provenance::default()),
        new_file("imap_2025_100_2025_101_001.ah.bc", Provenance::default()),
        new_file("naif0012.tls", Provenance::default()),
        new_file("imap_swapi_l0_raw_20240925_v001.pkts", Provenance::default()),
    ];
    let outcomes = tracker.index_batch(&batch).await.unwrap();
    assert_eq!(outcomes.iter().filter(|outcome| outcome.newly_indexed).count(), batch.len() - 1);
    for outcome in &outcomes {
        let stored = tracker.get(&outcome.file.file_name).await.unwrap().unwrap();
        assert_eq!(outcome.file, stored, "answered as stored");
    }
}
