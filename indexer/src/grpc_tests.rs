//! The event stream as consumers see it (SubscribeEvents), on SQLite and PostgreSQL: a replay
//! spanning several reads of the log arrives in order with no gap and no duplicate, the live tail
//! follows it, and a consumer resumes from any sequence number.

use std::sync::Arc;

use futures_util::StreamExt;
use imap_filename::{Date, ImapFileName};
use mesh_runtime::ShutdownSignal;
use proto::pb::SubscribeEventsRequest;
use proto::pb::indexer_service_server::IndexerService;
use sqlx::AnyPool;
use tonic::Request;

use super::config::IndexerConfig;
use super::grpc::IndexerGrpc;
use super::inbox::Ingestor;
use super::tracker::{FileTracker, NewFile, Provenance};

mesh_runtime::on_both_backends!(a_replay_over_many_reads_is_ordered_gap_free_and_resumable);

/// More events than the first reads of a subscription hold together (1,000, then 2,000, 4,000…),
/// ending inside a read.
const LOGGED: usize = 10_500;

/// The file of the `index`th day from 2010-01-01.
fn file(index: usize) -> NewFile {
    let day = Date::parse_yyyymmdd("20100101").unwrap().add_days(index as i32);
    let name = ImapFileName::parse(&format!("imap_swapi_l0_raw_{}_v001.pkts", day.yyyymmdd())).unwrap();
    NewFile { name, size_bytes: 1, provenance: Provenance::default(), traceparent: format!("trace-{index}") }
}

/// The next `count` events of `stream` as (seq, file name, traceparent).
async fn next_events(
    stream: &mut <IndexerGrpc as IndexerService>::SubscribeEventsStream,
    count: usize,
) -> Vec<(u64, String, String)> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        let response = stream.next().await.expect("the stream stays open").expect("no error");
        let event = response.event.expect("each message carries an event");
        events.push((event.seq, event.file.expect("the event's file").file_name, event.traceparent));
    }
    events
}

async fn a_replay_over_many_reads_is_ordered_gap_free_and_resumable(pool: AnyPool) {
    let tracker = Arc::new(FileTracker::open(pool).await.unwrap());
    let files: Vec<NewFile> = (0..LOGGED).map(file).collect();
    for batch in files.chunks(4_000) {
        tracker.append_batch(batch).await.unwrap();
    }
    let (stop, shutdown) = ShutdownSignal::new();
    let tasks = tokio_util::task::TaskTracker::new();
    let grpc = IndexerGrpc {
        ingestor: Arc::new(Ingestor {
            tracker: tracker.clone(),
            archive: Arc::new(object_store::memory::InMemory::new()),
            archive_dir: None,
            config: IndexerConfig::default(),
        }),
        shutdown,
        tasks: tasks.clone(),
    };
    let subscribe = |after_seq: u64| {
        grpc.subscribe_events(Request::new(SubscribeEventsRequest { consumer: "test".into(), after_seq }))
    };
    let expected = |index: usize| {
        let file = file(index);
        ((index + 1) as u64, file.name.file_name(), file.traceparent)
    };

    // From the start: every event once, in order, with its own file and trace.
    let mut from_start = subscribe(0).await.unwrap().into_inner();
    let replayed = next_events(&mut from_start, LOGGED).await;
    assert_eq!(replayed, (0..LOGGED).map(expected).collect::<Vec<_>>());

    // Caught up, the stream follows what is appended next.
    let later: Vec<NewFile> = (LOGGED..LOGGED + 3).map(file).collect();
    tracker.append_batch(&later).await.unwrap();
    assert_eq!(next_events(&mut from_start, 3).await, (LOGGED..LOGGED + 3).map(expected).collect::<Vec<_>>());

    // A consumer resuming from its cursor gets exactly what follows it, across reads.
    let cursor = 2_345;
    let mut resumed = subscribe(cursor as u64).await.unwrap().into_inner();
    let rest = next_events(&mut resumed, LOGGED + 3 - cursor).await;
    assert_eq!(rest, (cursor..LOGGED + 3).map(expected).collect::<Vec<_>>());

    // Both streams go on with the next event, and with nothing twice.
    tracker.append_batch(&[file(LOGGED + 3)]).await.unwrap();
    assert_eq!(next_events(&mut from_start, 1).await, vec![expected(LOGGED + 3)]);
    assert_eq!(next_events(&mut resumed, 1).await, vec![expected(LOGGED + 3)]);

    stop.trigger();
    tasks.close();
    tasks.wait().await;
}
