//! Two indexer replicas on one PostgreSQL database: one leads, the other stands by and takes over
//! within twice the lease when the leader stops renewing; the deposed leader's writes are refused
//! (fencing) and the event log stays gap-free, with every file exactly once.

use std::time::Duration;

use imap_filename::ImapFileName;
use mesh_runtime::Shutdown;
use mesh_runtime::leader::{LeaderState, Leadership};
use proto::error::{ErrorCode, HasErrorCode};
use sqlx::AnyPool;
use tokio::time::Instant;

use super::error::IndexerError;
use super::tracker::{FileTracker, Provenance};

const LEASE: Duration = Duration::from_millis(600);

fn name(day: u32) -> ImapFileName {
    ImapFileName::parse(&format!("imap_swapi_l0_raw_202409{day:02}_v001.pkts")).unwrap()
}

/// One replica: its place in the election (campaigning until `stop` is aborted, like a process
/// that froze or was cut off: it never gives the lease up) and its tracker.
struct Replica {
    leadership: Leadership,
    tracker: FileTracker,
    campaign: tokio::task::JoinHandle<()>,
}

async fn replica(pool: &AnyPool) -> Replica {
    let leadership = Leadership::join(pool, "indexer", LEASE).await.unwrap();
    let tracker = FileTracker::open(pool.clone()).await.unwrap().with_leadership(leadership.clone());
    let campaign = tokio::spawn(leadership.clone().run(Shutdown::never()));
    Replica { leadership, tracker, campaign }
}

async fn wait_for_leader(leadership: &Leadership, within: Duration) -> Duration {
    let started = Instant::now();
    let reached = tokio::time::timeout(within, leadership.wait_until_leader(&Shutdown::never())).await;
    assert_eq!(reached, Ok(true), "{} did not lead within {within:?}", leadership.holder());
    started.elapsed()
}

async fn event_files(tracker: &FileTracker) -> Vec<(u64, String)> {
    let events = tracker.events_after(0, 10_000).await.unwrap();
    events.into_iter().map(|event| (event.seq, event.file.unwrap().file_name)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(has_database_url), ignore = "needs DATABASE_URL (a PostgreSQL server to make test databases on)")]
async fn a_standby_takes_over_and_the_deposed_leaders_writes_are_refused() {
    let pool = mesh_runtime::store::testing::fresh_postgres().await;
    let first = replica(&pool).await;
    wait_for_leader(&first.leadership, 2 * LEASE).await;
    let second = replica(&pool).await;
    first.tracker.index(&name(1), 1, &Provenance::default(), "").await.unwrap();
    let refused = second.tracker.index(&name(2), 1, &Provenance::default(), "").await.unwrap_err();
    assert!(matches!(refused, IndexerError::Store(mesh_runtime::RuntimeError::NotLeader { .. })), "{refused}");
    assert_eq!(refused.error_code(), ErrorCode::Unavailable, "a client retries a standby's refusal");
    assert_eq!(second.leadership.state(), LeaderState::Standby);

    // The leader freezes: it stops renewing but still believes it leads.
    first.campaign.abort();
    let frozen_at = Instant::now();
    wait_for_leader(&second.leadership, 3 * LEASE).await;
    let takeover = frozen_at.elapsed();
    println!("takeover after the leader stopped renewing: {takeover:?} (lease {LEASE:?})");
    assert!(takeover <= 2 * LEASE, "takeover took {takeover:?}, more than twice the lease");
    assert!(first.leadership.is_leader(), "the frozen leader has not noticed yet");

    let fenced = first.tracker.index(&name(3), 1, &Provenance::default(), "").await.unwrap_err();
    assert!(matches!(fenced, IndexerError::Store(mesh_runtime::RuntimeError::NotLeader { .. })), "{fenced}");
    assert_eq!(first.leadership.state(), LeaderState::Deposed, "a refused write deposes the old leader");
    let written = second.tracker.index(&name(3), 1, &Provenance::default(), "").await.unwrap();
    assert_eq!(written.event_seq, 2, "the log continues without a gap");
    let files = event_files(&second.tracker).await;
    assert_eq!(files, vec![(1, name(1).file_name().to_string()), (2, name(3).file_name().to_string())]);
    second.campaign.abort();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(has_database_url), ignore = "needs DATABASE_URL (a PostgreSQL server to make test databases on)")]
async fn files_arriving_through_a_takeover_are_indexed_once_each_in_a_gap_free_log() {
    let pool = mesh_runtime::store::testing::fresh_postgres().await;
    let first = replica(&pool).await;
    wait_for_leader(&first.leadership, 2 * LEASE).await;
    let second = replica(&pool).await;
    let replicas = [&first, &second];
    let days: Vec<u32> = (1..=28).collect();
    let mut refusals = 0;
    for day in &days {
        // The leader freezes at day 10; files keep arriving (the frozen leader still takes them
        // while its lease lasts); from day 20 on the standby has taken over.
        if *day == 10 {
            first.campaign.abort();
        }
        if *day == 20 {
            wait_for_leader(&second.leadership, 3 * LEASE).await;
        }
        // A client retries a refusal until it reaches whichever replica leads.
        let deadline = Instant::now() + 4 * LEASE;
        'delivered: loop {
            for replica in replicas {
                match replica.tracker.index(&name(*day), 1, &Provenance::default(), "").await {
                    Ok(_) => break 'delivered,
                    Err(error) => {
                        assert_eq!(error.error_code(), ErrorCode::Unavailable, "{error}");
                        refusals += 1;
                    }
                }
            }
            assert!(Instant::now() < deadline, "day {day} reached no leader");
            tokio::time::sleep(LEASE / 10).await;
        }
    }
    assert!(second.leadership.is_leader());
    assert_eq!(first.leadership.state(), LeaderState::Deposed);
    assert!(refusals > 0, "the deposed leader refused what reached it");
    let files = event_files(&second.tracker).await;
    let expected: Vec<(u64, String)> =
        days.iter().enumerate().map(|(index, day)| (index as u64 + 1, name(*day).file_name().to_string())).collect();
    assert_eq!(files, expected, "every file once, in order, with gap-free sequence numbers");
    second.campaign.abort();
    pool.close().await;
}
