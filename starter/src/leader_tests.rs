//! Two starter replicas on one PostgreSQL database: the standby writes nothing; once it has taken
//! over, the deposed leader can neither lease nor complete a job (fencing), so a job its processor
//! finishes late is decided by the new leader alone.

use std::time::Duration;

use mesh_runtime::Shutdown;
use mesh_runtime::leader::{LeaderState, Leadership};
use proto::error::{ErrorCode, HasErrorCode};
use proto::ids::WorkerId;
use proto::pb::{JobState, ProductKey, ProductTime};
use proto::time::now_millis;
use sqlx::AnyPool;

use super::config::StarterConfig;
use super::jobs::{Completion, JobStore, NewJob};

const LEASE: Duration = Duration::from_millis(600);

async fn replica(pool: &AnyPool) -> (JobStore, tokio::task::JoinHandle<()>) {
    let leadership = Leadership::join(pool, "starter", LEASE).await.unwrap();
    let store =
        JobStore::open(pool.clone(), StarterConfig::default()).await.unwrap().with_leadership(leadership.clone());
    (store, tokio::spawn(leadership.run(Shutdown::never())))
}

async fn lead(store: &JobStore) {
    let reached = tokio::time::timeout(3 * LEASE, store.leadership().wait_until_leader(&Shutdown::never())).await;
    assert_eq!(reached, Ok(true), "{} did not lead", store.leadership().holder());
}

fn new_job(date: &str) -> NewJob {
    NewJob {
        product: ProductKey { instrument: "swapi".into(), data_level: "l1".into(), descriptor: "sci".into() },
        time: ProductTime { date: date.into(), repointing: None },
        inputs: Vec::new(),
        campaign_id: String::new(),
        traceparent: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(has_database_url), ignore = "needs DATABASE_URL (a PostgreSQL server to make test databases on)")]
async fn a_deposed_starter_can_neither_lease_nor_complete() {
    let pool = mesh_runtime::store::testing::fresh_postgres().await;
    let (first, first_campaign) = replica(&pool).await;
    lead(&first).await;
    let (second, second_campaign) = replica(&pool).await;
    let worker = WorkerId::from("processor-a");

    let job = first.create(&new_job("20250101"), None, now_millis()).await.unwrap().expect("created");
    let refused = second.create(&new_job("20250102"), None, now_millis()).await.unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::Unavailable, "a standby writes nothing: {refused}");
    let leased = first.claim(&worker, now_millis()).await.unwrap().expect("leased");
    assert_eq!(leased.job_id(), job);

    // The leader freezes (never gives the lease up); the standby takes over.
    first_campaign.abort();
    lead(&second).await;
    let done = Completion {
        succeeded: true,
        retryable: false,
        error: String::new(),
        log: String::new(),
        outputs: vec!["imap_swapi_l1_sci_20250101_v001.cdf".into()],
        not_started: false,
    };
    let late = first.complete(&job, &worker, &done, now_millis()).await.unwrap_err();
    assert_eq!(late.error_code(), ErrorCode::Unavailable, "{late}");
    assert_eq!(first.leadership().state(), LeaderState::Deposed);
    assert!(first.claim(&worker, now_millis()).await.is_err(), "a deposed starter leases nothing");
    assert_eq!(second.get(&job).await.unwrap().state(), JobState::Running, "the refused completion wrote nothing");
    assert_eq!(second.complete(&job, &worker, &done, now_millis()).await.unwrap(), JobState::Succeeded);
    second_campaign.abort();
    pool.close().await;
}
