//! The job store's semantics on both backends: every test body runs once on SQLite and once on
//! PostgreSQL (ignored, with the reason, when the build saw no DATABASE_URL). Time is an argument
//! (`now`, milliseconds), never slept.

use std::collections::{BTreeMap, HashSet};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use proto::ids::{JobId, WorkerId};
use proto::pb::{
    FileKind, FileRecord, JobState, ProductKey, ProductTime, Relationship, ResolvedInput, SourceType,
    StartReprocessingRequest,
};
use sqlx::AnyPool;
use starter::{CampaignPlan, Completion, JobFilter, JobStore, NewJob, Refusal, SCAN_BUDGET, StarterConfig};

mesh_runtime::on_both_backends!(
    concurrent_creators_make_exactly_one_job,
    replayed_events_never_duplicate,
    versions_follow_input_versions,
    concurrent_new_input_sets_get_distinct_versions,
    heartbeats_keep_the_lease,
    one_heartbeat_extends_every_listed_lease_of_thousands,
    expired_lease_requeues_and_late_report_is_ignored,
    transient_failures_retry_with_backoff_then_dead_letter,
    permanent_failure_is_final,
    lease_expiry_on_last_attempt_dead_letters,
    per_instrument_concurrency_limits,
    concurrency_limits_hold_under_concurrent_claimers,
    concurrent_claimers_never_share_a_job,
    cursor_only_moves_forward,
    provenance_is_queryable,
    campaign_progress_counts_jobs_by_state,
    archive_versions_are_a_floor,
    campaign_planning_is_done_only_when_marked,
    only_the_lease_holder_completes_and_operators_fail_jobs_by_name,
    jobs_by_input_file_page_through_a_hundred_thousand_in_bounded_steps,
    dead_evaluations_page_through_every_refusal_once,
);

const T0: i64 = 1_800_000_000_000;

fn nonzero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("not zero")
}
const SECOND: i64 = 1000;

async fn store(pool: AnyPool, configure: impl FnOnce(&mut StarterConfig)) -> JobStore {
    let mut config = StarterConfig::default();
    configure(&mut config);
    JobStore::open(pool, config).await.expect("open job store")
}

fn l0(instrument: &str, date: &str, version: &str) -> FileRecord {
    FileRecord {
        file_name: format!("imap_{instrument}_l0_raw_{date}_{version}.pkts"),
        kind: FileKind::Science.into(),
        instrument: instrument.into(),
        data_level: "l0".into(),
        descriptor: "raw".into(),
        start_date: date.into(),
        version: version.into(),
        ..Default::default()
    }
}

fn job(instrument: &str, date: &str, files: Vec<FileRecord>) -> NewJob {
    NewJob {
        product: ProductKey { instrument: instrument.into(), data_level: "l1a".into(), descriptor: "all".into() },
        time: ProductTime { date: date.into(), repointing: None },
        inputs: vec![ResolvedInput {
            source_type: SourceType::Science.into(),
            source: format!("{instrument} l0 raw"),
            relationship: Relationship::Hard.into(),
            files,
        }],
        campaign_id: String::new(),
        traceparent: String::new(),
    }
}

fn success(outputs: &[&str]) -> Completion {
    Completion {
        succeeded: true,
        retryable: false,
        error: String::new(),
        log: String::new(),
        outputs: outputs.iter().map(|name| name.to_string()).collect(),
        not_started: false,
    }
}

fn failure(retryable: bool, error: &str) -> Completion {
    Completion {
        succeeded: false,
        retryable,
        error: error.into(),
        log: "trace of the failure".into(),
        outputs: Vec::new(),
        not_started: false,
    }
}

async fn all_jobs(store: &JobStore) -> Vec<proto::pb::Job> {
    store.list(&JobFilter { limit: 10_000, ..Default::default() }).await.expect("list jobs")
}

async fn concurrent_creators_make_exactly_one_job(pool: AnyPool) {
    let store = Arc::new(store(pool, |_| {}).await);
    let new_job = job("mag", "20260101", vec![l0("mag", "20260101", "v001")]);
    let creators: Vec<_> = (0..32)
        .map(|_| {
            let (store, new_job) = (store.clone(), new_job.clone());
            tokio::spawn(async move { store.create(&new_job, None, T0).await.expect("create") })
        })
        .collect();
    let mut created = 0;
    for creator in creators {
        created += usize::from(creator.await.expect("creator task").is_some());
    }
    assert_eq!(created, 1, "exactly one creator wins");
    let jobs = all_jobs(&store).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].version, "v001.0001");
    assert_eq!(jobs[0].state(), JobState::Queued);
}

async fn replayed_events_never_duplicate(pool: AnyPool) {
    let store = store(pool, |_| {}).await;
    let files = vec![l0("swe", "20260101", "v001"), l0("swe", "20260102", "v001")];
    assert!(store.create(&job("swe", "20260101", files.clone()), None, T0).await.unwrap().is_some());
    // The same event replayed after a restart, and the inputs listed in another order.
    for replay in 0..5 {
        let mut files = files.clone();
        if replay % 2 == 1 {
            files.reverse();
        }
        assert_eq!(store.create(&job("swe", "20260101", files), None, T0 + replay).await.unwrap(), None);
    }
    // The job ran; a replay after it finished is still not a new job.
    let claimed = store.claim(&WorkerId::from("worker-a"), T0).await.unwrap().expect("claim");
    store.complete(&claimed.job_id(), &WorkerId::from("worker-a"), &success(&["out.cdf"]), T0 + SECOND).await.unwrap();
    assert_eq!(store.create(&job("swe", "20260101", files), None, T0 + 2 * SECOND).await.unwrap(), None);
    assert_eq!(all_jobs(&store).await.len(), 1);
}

async fn versions_follow_input_versions(pool: AnyPool) {
    let store = store(pool, |_| {}).await;
    let first =
        store.create(&job("hit", "20260101", vec![l0("hit", "20260101", "v001")]), None, T0).await.unwrap().unwrap();
    assert_eq!(store.get(&first).await.unwrap().version, "v001.0001");
    // Another date is another product: its own first version.
    let other_day =
        store.create(&job("hit", "20260102", vec![l0("hit", "20260102", "v001")]), None, T0).await.unwrap().unwrap();
    assert_eq!(store.get(&other_day).await.unwrap().version, "v001.0001");
    // A newer input version makes the next version; the identical input set never does.
    let second = store
        .create(&job("hit", "20260101", vec![l0("hit", "20260101", "v002")]), None, T0 + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.get(&second).await.unwrap().version, "v001.0002");
    assert_eq!(
        store.create(&job("hit", "20260101", vec![l0("hit", "20260101", "v002")]), None, T0 + 2).await.unwrap(),
        None
    );
    assert_eq!(
        store.create(&job("hit", "20260101", vec![l0("hit", "20260101", "v001")]), None, T0 + 3).await.unwrap(),
        None
    );
    let third = store
        .create(&job("hit", "20260101", vec![l0("hit", "20260101", "v003")]), None, T0 + 4)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.get(&third).await.unwrap().version, "v001.0003");
    assert_eq!(all_jobs(&store).await.len(), 4);
}

async fn concurrent_new_input_sets_get_distinct_versions(pool: AnyPool) {
    let store = Arc::new(store(pool, |_| {}).await);
    let creators: Vec<_> = (1..=8)
        .flat_map(|version| std::iter::repeat_n(version, 3))
        .map(|version| {
            let store = store.clone();
            let new_job = job("lo", "20260101", vec![l0("lo", "20260101", &format!("v{version:03}"))]);
            tokio::spawn(async move { store.create(&new_job, None, T0).await.expect("create") })
        })
        .collect();
    let mut created = 0;
    for creator in creators {
        created += usize::from(creator.await.unwrap().is_some());
    }
    assert_eq!(created, 8, "one job per distinct input set");
    let versions: HashSet<String> = all_jobs(&store).await.into_iter().map(|job| job.version).collect();
    let expected: HashSet<String> = (1..=8).map(|minor| format!("v001.{minor:04}")).collect();
    assert_eq!(versions, expected, "no version twice, none skipped");
}

async fn heartbeats_keep_the_lease(pool: AnyPool) {
    let store = store(pool, |config| config.lease = Duration::from_secs(120)).await;
    store.create(&job("mag", "20260101", vec![l0("mag", "20260101", "v001")]), None, T0).await.unwrap();
    let claimed = store.claim(&WorkerId::from("worker-a"), T0).await.unwrap().expect("claim");
    assert_eq!((claimed.state(), claimed.lease_owner.as_str(), claimed.attempts), (JobState::Running, "worker-a", 1));
    assert!(
        store.claim(&WorkerId::from("worker-b"), T0).await.unwrap().is_none(),
        "a running job is not handed out twice"
    );
    // Heartbeats every 100 s keep a 120 s lease alive well past its first expiry.
    for beat in 1..=3 {
        store.heartbeat(&WorkerId::from("worker-a"), &[claimed.job_id()], T0 + beat * 100 * SECOND).await.unwrap();
        assert_eq!(store.expire_leases(T0 + beat * 100 * SECOND + 119 * SECOND).await.unwrap(), 0);
    }
    // Another worker's heartbeat does not extend someone else's lease.
    store.heartbeat(&WorkerId::from("worker-b"), &[claimed.job_id()], T0 + 1000 * SECOND).await.unwrap();
    assert_eq!(store.expire_leases(T0 + 421 * SECOND).await.unwrap(), 1);
    assert_eq!(store.get(&claimed.job_id()).await.unwrap().state(), JobState::Queued);
}

/// A processor holding over a thousand leases: one heartbeat extends every listed lease, not an
/// unlisted one of the same worker, and nobody's for another worker.
async fn one_heartbeat_extends_every_listed_lease_of_thousands(pool: AnyPool) {
    let store = store(pool, |config| {
        config.lease = Duration::from_secs(60);
        config.default_instrument_concurrency = nonzero(10_000);
    })
    .await;
    let jobs: u64 = 1_300;
    for day in 0..jobs {
        let date = format!("2026{:02}{:02}", 1 + day / 28 % 12, 1 + day % 28);
        let version = format!("v{:03}", 1 + day / (28 * 12));
        store.create(&job("mag", &date, vec![l0("mag", &date, &version)]), None, T0).await.unwrap();
    }
    let worker = WorkerId::from("worker-a");
    let mut held = Vec::new();
    while let Some(claimed) = store.claim(&worker, T0).await.unwrap() {
        held.push(claimed.job_id());
    }
    assert_eq!(held.len() as u64, jobs);
    let not_listed = held.pop().expect("one job");
    let others = store.claim(&WorkerId::from("worker-b"), T0).await.unwrap();
    assert!(others.is_none(), "worker-a holds every job");
    // One listed job ended before the heartbeat: listing it changes nothing.
    let finished = held[0].clone();
    store.complete(&finished, &worker, &success(&["done.cdf"]), T0 + 20 * SECOND).await.unwrap();
    store.heartbeat(&worker, &held, T0 + 50 * SECOND).await.unwrap();
    store.heartbeat(&WorkerId::from("worker-b"), std::slice::from_ref(&not_listed), T0 + 50 * SECOND).await.unwrap();
    store.heartbeat(&worker, &[], T0 + 50 * SECOND).await.unwrap();
    assert_eq!(store.expire_leases(T0 + 61 * SECOND).await.unwrap(), 1, "only the unlisted lease lapses");
    assert_eq!(store.get(&not_listed).await.unwrap().state(), JobState::Queued);
    assert_eq!(store.expire_leases(T0 + 110 * SECOND).await.unwrap(), 0, "not before the extended end");
    assert_eq!(store.expire_leases(T0 + 111 * SECOND).await.unwrap(), jobs - 2, "every listed lease ran to 110 s");
    assert_eq!(store.get(&finished).await.unwrap().state(), JobState::Succeeded);
}

async fn expired_lease_requeues_and_late_report_is_ignored(pool: AnyPool) {
    let store = store(pool, |config| config.lease = Duration::from_secs(60)).await;
    store.create(&job("mag", "20260101", vec![l0("mag", "20260101", "v001")]), None, T0).await.unwrap();
    let claimed = store.claim(&WorkerId::from("worker-a"), T0).await.unwrap().expect("claim");
    assert_eq!(store.expire_leases(T0 + 60 * SECOND).await.unwrap(), 0, "not expired at the exact deadline");
    assert_eq!(store.expire_leases(T0 + 61 * SECOND).await.unwrap(), 1, "processor died: lease expired");
    let requeued = store.get(&claimed.job_id()).await.unwrap();
    assert_eq!(requeued.state(), JobState::Queued);
    assert!(requeued.error.contains("lease expired"), "{}", requeued.error);
    let reclaimed =
        store.claim(&WorkerId::from("worker-b"), T0 + 62 * SECOND).await.unwrap().expect("handed out again");
    assert_eq!((reclaimed.id.as_str(), reclaimed.attempts), (claimed.id.as_str(), 2));
    // The first processor wakes up and reports: nothing changes, worker-b still owns the job.
    let state_after_late_report = store
        .complete(&claimed.job_id(), &WorkerId::from("worker-a"), &success(&["stale.cdf"]), T0 + 63 * SECOND)
        .await
        .unwrap();
    assert_eq!(state_after_late_report, JobState::Running);
    assert_eq!(
        store
            .complete(&claimed.job_id(), &WorkerId::from("worker-b"), &success(&["fresh.cdf"]), T0 + 64 * SECOND)
            .await
            .unwrap(),
        JobState::Succeeded
    );
    let finished = store.get(&claimed.job_id()).await.unwrap();
    assert_eq!(finished.outputs, vec!["fresh.cdf".to_string()]);
    assert_eq!(
        store
            .complete(&claimed.job_id(), &WorkerId::from("worker-b"), &failure(true, "again"), T0 + 65 * SECOND)
            .await
            .unwrap(),
        JobState::Succeeded
    );
}

async fn transient_failures_retry_with_backoff_then_dead_letter(pool: AnyPool) {
    let store = store(pool, |config| {
        config.max_attempts = nonzero(3);
        config.retry_backoff = Duration::from_secs(10);
    })
    .await;
    store.create(&job("codice", "20260101", vec![l0("codice", "20260101", "v001")]), None, T0).await.unwrap();
    let mut now = T0;
    // Attempt n fails at `now`; the retry waits 10 s, then 20 s.
    for (attempt, backoff) in [(1, 10), (2, 20)] {
        let claimed = store.claim(&WorkerId::from("worker"), now).await.unwrap().expect("runnable");
        assert_eq!(claimed.attempts, attempt);
        now += SECOND;
        assert_eq!(
            store
                .complete(&claimed.job_id(), &WorkerId::from("worker"), &failure(true, "archive unavailable"), now)
                .await
                .unwrap(),
            JobState::Queued
        );
        assert!(
            store.claim(&WorkerId::from("worker"), now + backoff * SECOND - 1).await.unwrap().is_none(),
            "backoff of attempt {attempt} not respected"
        );
        now += backoff * SECOND;
    }
    let last = store.claim(&WorkerId::from("worker"), now).await.unwrap().expect("third attempt");
    assert_eq!(last.attempts, 3);
    assert_eq!(
        store
            .complete(
                &last.job_id(),
                &WorkerId::from("worker"),
                &failure(true, "archive unavailable: disk full"),
                now + SECOND
            )
            .await
            .unwrap(),
        JobState::Dead
    );
    let dead = store.get(&last.job_id()).await.unwrap();
    assert_eq!(dead.error, "archive unavailable: disk full", "the reason is kept");
    assert_eq!(dead.log, "trace of the failure");
    assert!(dead.finished_at.is_some());
    assert!(
        store.claim(&WorkerId::from("worker"), now + 1000 * SECOND).await.unwrap().is_none(),
        "dead jobs never run again"
    );
    let dead_letters = store.list(&JobFilter { state: JobState::Dead, ..Default::default() }).await.unwrap();
    assert_eq!(dead_letters.len(), 1);
}

async fn permanent_failure_is_final(pool: AnyPool) {
    let store = store(pool, |_| {}).await;
    store.create(&job("idex", "20260101", vec![l0("idex", "20260101", "v001")]), None, T0).await.unwrap();
    let claimed = store.claim(&WorkerId::from("worker"), T0).await.unwrap().unwrap();
    let outcome = store
        .complete(
            &claimed.job_id(),
            &WorkerId::from("worker"),
            &failure(false, "input imap_idex_l0_raw_20260101_v001.pkts is unusable: truncated packet"),
            T0 + SECOND,
        )
        .await
        .unwrap();
    assert_eq!(outcome, JobState::Failed);
    let failed = store.get(&claimed.job_id()).await.unwrap();
    assert!(failed.error.contains("truncated packet"));
    assert_eq!(failed.attempts, 1);
    assert!(store.claim(&WorkerId::from("worker"), T0 + 3600 * SECOND).await.unwrap().is_none());
    assert_eq!(store.expire_leases(T0 + 3600 * SECOND).await.unwrap(), 0);
}

async fn lease_expiry_on_last_attempt_dead_letters(pool: AnyPool) {
    let store = store(pool, |config| {
        config.max_attempts = nonzero(2);
        config.lease = Duration::from_secs(10);
    })
    .await;
    store.create(&job("ultra", "20260101", vec![l0("ultra", "20260101", "v001")]), None, T0).await.unwrap();
    let first = store.claim(&WorkerId::from("worker-a"), T0).await.unwrap().unwrap();
    assert_eq!(store.expire_leases(T0 + 11 * SECOND).await.unwrap(), 1);
    assert_eq!(store.get(&first.job_id()).await.unwrap().state(), JobState::Queued);
    store.claim(&WorkerId::from("worker-b"), T0 + 12 * SECOND).await.unwrap().unwrap();
    assert_eq!(store.expire_leases(T0 + 23 * SECOND).await.unwrap(), 1);
    let dead = store.get(&first.job_id()).await.unwrap();
    assert_eq!(dead.state(), JobState::Dead);
    assert!(dead.error.contains("last allowed attempt"), "{}", dead.error);
}

async fn per_instrument_concurrency_limits(pool: AnyPool) {
    let store = store(pool, |config| {
        config.default_instrument_concurrency = nonzero(2);
        config.instrument_concurrency = BTreeMap::from([("mag".to_string(), nonzero(1))]);
    })
    .await;
    for day in 1..=3 {
        let date = format!("202601{day:02}");
        store.create(&job("mag", &date, vec![l0("mag", &date, "v001")]), None, T0 + day).await.unwrap();
        store.create(&job("swe", &date, vec![l0("swe", &date, "v001")]), None, T0 + day).await.unwrap();
    }
    let mut running: BTreeMap<String, Vec<JobId>> = BTreeMap::new();
    while let Some(claimed) = store.claim(&WorkerId::from("worker"), T0 + SECOND).await.unwrap() {
        running.entry(claimed.product.clone().unwrap().instrument).or_default().push(claimed.job_id());
    }
    assert_eq!(running["mag"].len(), 1, "mag is limited to one running job");
    assert_eq!(running["swe"].len(), 2, "others to the default of two");
    // A finished mag job frees mag's slot, and only mag's.
    store.complete(&running["mag"][0], &WorkerId::from("worker"), &success(&[]), T0 + 2 * SECOND).await.unwrap();
    let next = store.claim(&WorkerId::from("worker"), T0 + 3 * SECOND).await.unwrap().expect("mag slot free");
    assert_eq!(next.product.unwrap().instrument, "mag");
    assert!(store.claim(&WorkerId::from("worker"), T0 + 3 * SECOND).await.unwrap().is_none());
}

async fn concurrency_limits_hold_under_concurrent_claimers(pool: AnyPool) {
    let store = Arc::new(
        store(pool, |config| config.instrument_concurrency = BTreeMap::from([("mag".to_string(), nonzero(2))])).await,
    );
    for day in 1..=10 {
        let date = format!("202601{day:02}");
        store.create(&job("mag", &date, vec![l0("mag", &date, "v001")]), None, T0).await.unwrap();
    }
    let claimers: Vec<_> = (0..8)
        .map(|worker| {
            let store = store.clone();
            tokio::spawn(async move {
                store.claim(&WorkerId::from(format!("worker-{worker}")), T0).await.expect("claim").is_some()
            })
        })
        .collect();
    let mut claimed = 0;
    for claimer in claimers {
        claimed += usize::from(claimer.await.unwrap());
    }
    assert_eq!(claimed, 2, "eight racing claimers, a limit of two");
}

async fn concurrent_claimers_never_share_a_job(pool: AnyPool) {
    let store = Arc::new(store(pool, |config| config.default_instrument_concurrency = nonzero(100)).await);
    for day in 1..=12 {
        let date = format!("202601{day:02}");
        store.create(&job("hi", &date, vec![l0("hi", &date, "v001")]), None, T0).await.unwrap();
    }
    let claimers: Vec<_> = (0..6)
        .map(|worker| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut claimed = Vec::new();
                while let Some(job) = store.claim(&WorkerId::from(format!("worker-{worker}")), T0).await.expect("claim")
                {
                    claimed.push(job.id);
                }
                claimed
            })
        })
        .collect();
    let mut all_claimed = Vec::new();
    for claimer in claimers {
        all_claimed.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<&String> = all_claimed.iter().collect();
    assert_eq!(all_claimed.len(), 12, "every job handed out");
    assert_eq!(distinct.len(), 12, "no job handed out twice");
}

async fn cursor_only_moves_forward(pool: AnyPool) {
    let store = store(pool, |_| {}).await;
    assert_eq!(store.read_cursor("starter").await.unwrap(), 0);
    store.write_cursor("starter", 5).await.unwrap();
    store.write_cursor("starter", 3).await.unwrap();
    assert_eq!(store.read_cursor("starter").await.unwrap(), 5, "a late, lower commit never moves the cursor back");
    store.write_cursor("starter", 9).await.unwrap();
    assert_eq!(store.read_cursor("starter").await.unwrap(), 9);
    assert_eq!(store.read_cursor("another-consumer").await.unwrap(), 0, "cursors are per consumer");
}

async fn provenance_is_queryable(pool: AnyPool) {
    let store = store(pool, |_| {}).await;
    let inputs = vec![l0("swapi", "20260101", "v001")];
    store.create(&job("swapi", "20260101", inputs.clone()), None, T0).await.unwrap();
    store.create(&job("swapi", "20260102", vec![l0("swapi", "20260102", "v001")]), None, T0).await.unwrap();
    let claimed = store.claim(&WorkerId::from("worker"), T0).await.unwrap().unwrap();
    let output = format!("imap_swapi_l1a_sci_{}_v001.0001.cdf", claimed.time.as_ref().unwrap().date);
    store.complete(&claimed.job_id(), &WorkerId::from("worker"), &success(&[&output]), T0 + SECOND).await.unwrap();

    let made_it = store.list(&JobFilter { output_file: output.clone(), ..Default::default() }).await.unwrap();
    assert_eq!(made_it.len(), 1, "exactly one job made {output}");
    assert_eq!(made_it[0].id, claimed.id);
    let input_names: Vec<&str> =
        made_it[0].inputs.iter().flat_map(|input| input.files.iter().map(|file| file.file_name.as_str())).collect();
    assert_eq!(input_names.len(), 1);
    assert!(input_names[0].starts_with("imap_swapi_l0_raw_"));
    // `_` is a LIKE wildcard: a name differing in one character must not match.
    let lookalike = output.replacen("_sci_", "xsci_", 1);
    assert!(store.list(&JobFilter { output_file: lookalike, ..Default::default() }).await.unwrap().is_empty());
    let readers =
        store.list(&JobFilter { input_file: inputs[0].file_name.clone(), ..Default::default() }).await.unwrap();
    assert_eq!(readers.len(), 1);
    assert_eq!(readers[0].time.as_ref().unwrap().date, "20260101");
}

async fn campaign_progress_counts_jobs_by_state(pool: AnyPool) {
    let store = store(pool, |_| {}).await;
    let plan = CampaignPlan {
        id: "schedule-maps-20261201T0300".into(),
        request: StartReprocessingRequest {
            start_date: "20261031".into(),
            end_date: "20261130".into(),
            data_level: "l3".into(),
            ..Default::default()
        },
        origin: "schedule maps".into(),
    };
    assert!(store.record_campaign(&plan, 4, T0).await.unwrap());
    assert!(!store.record_campaign(&plan, 4, T0).await.unwrap(), "a schedule firing is planned once");
    for day in 1..=3 {
        let date = format!("202611{day:02}");
        let mut new_job = job("glows", &date, vec![l0("glows", &date, "v001")]);
        new_job.campaign_id = plan.id.clone();
        store.create(&new_job, None, T0).await.unwrap();
    }
    // The same inputs outside the campaign are a separate, ordinary job.
    store.create(&job("glows", "20261101", vec![l0("glows", "20261101", "v001")]), None, T0).await.unwrap();
    let claimed = store.claim(&WorkerId::from("worker"), T0).await.unwrap().unwrap();
    assert_eq!(claimed.campaign_id, plan.id);
    store.complete(&claimed.job_id(), &WorkerId::from("worker"), &success(&[]), T0 + SECOND).await.unwrap();
    store.claim(&WorkerId::from("worker"), T0 + SECOND).await.unwrap().unwrap();

    let progress = store.campaign_progress(&plan.id).await.unwrap();
    assert_eq!((progress.planned_runs, progress.origin.as_str()), (4, "schedule maps"));
    assert_eq!(
        (progress.queued, progress.running, progress.succeeded, progress.failed, progress.dead),
        (1, 1, 1, 0, 0)
    );
    let campaign_jobs = store.list(&JobFilter { campaign_id: plan.id.clone(), ..Default::default() }).await.unwrap();
    assert_eq!(campaign_jobs.len(), 3);
    assert!(store.campaign_progress("no-such-campaign").await.is_err());
}

/// The archive may hold versions no job made (a team's own upload): a new job's version exceeds
/// both the table's and the archive's highest.
async fn archive_versions_are_a_floor(pool: AnyPool) {
    let store = store(pool, |_| {}).await;
    let version = |text: &str| Some(text.parse::<imap_filename::Version>().unwrap());
    let first = store
        .create(&job("mag", "20250101", vec![l0("mag", "20250101", "v001")]), version("v001.0001"), T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.get(&first).await.unwrap().version, "v001.0002");
    let second = store
        .create(&job("mag", "20250101", vec![l0("mag", "20250101", "v002")]), version("v002.0007"), T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.get(&second).await.unwrap().version, "v002.0008");
    // A floor below the table's versions (or a legacy one) changes nothing.
    let third = store
        .create(&job("mag", "20250101", vec![l0("mag", "20250101", "v003")]), version("v001.0005"), T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.get(&third).await.unwrap().version, "v002.0009");
    let other_day = store
        .create(&job("mag", "20250102", vec![l0("mag", "20250102", "v001")]), version("v009"), T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.get(&other_day).await.unwrap().version, "v001.0001");
    // An identical input set is still deduplicated whatever the floor.
    assert_eq!(
        store
            .create(&job("mag", "20250101", vec![l0("mag", "20250101", "v001")]), version("v005.0001"), T0)
            .await
            .unwrap(),
        None
    );
}

async fn campaign_planning_is_done_only_when_marked(pool: AnyPool) {
    let store = store(pool, |_| {}).await;
    let plan = |id: &str| CampaignPlan {
        id: id.into(),
        request: StartReprocessingRequest {
            start_date: "20250101".into(),
            end_date: "20250131".into(),
            instrument: "mag".into(),
            ..Default::default()
        },
        origin: "request".into(),
    };
    assert!(store.record_campaign(&plan("a"), 31, T0).await.unwrap());
    assert!(store.record_campaign(&plan("b"), 31, T0 + 1).await.unwrap());
    let unfinished: Vec<String> =
        store.unfinished_campaigns().await.unwrap().into_iter().map(|unfinished| unfinished.plan.id).collect();
    assert_eq!(unfinished, vec!["a".to_string(), "b".to_string()]);
    store.finish_campaign_planning("a", T0 + 2).await.unwrap();
    store.record_campaign_progress("b", "20250110").await.unwrap();
    let unfinished = store.unfinished_campaigns().await.unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].plan.id, "b");
    assert_eq!(unfinished[0].plan.request.end_date, "20250131");
    assert_eq!(unfinished[0].plan.request.instrument, "mag");
    assert_eq!(unfinished[0].planned_through.map(|day| day.yyyymmdd()), Some("20250110".to_string()));
    // A finished campaign's progress is left as it is.
    store.record_campaign_progress("a", "20250131").await.unwrap();
    assert_eq!(store.unfinished_campaigns().await.unwrap().len(), 1);
}

async fn only_the_lease_holder_completes_and_operators_fail_jobs_by_name(pool: AnyPool) {
    let store = store(pool, |_| {}).await;
    store.create(&job("swe", "20260101", vec![l0("swe", "20260101", "v001")]), None, T0).await.unwrap();
    store.create(&job("swe", "20260102", vec![l0("swe", "20260102", "v001")]), None, T0).await.unwrap();
    let running = store.claim(&WorkerId::from("worker-a"), T0).await.unwrap().expect("claim");
    // The old operator bypass: a report without a worker marked any running job succeeded.
    let bypass = store.complete(&running.job_id(), &WorkerId::from(""), &success(&["forged.cdf"]), T0 + SECOND).await;
    let refusal = bypass.expect_err("a completion without a worker is refused").to_string();
    assert!(refusal.contains("FailJob"), "{refusal}");
    assert_eq!(store.get(&running.job_id()).await.unwrap().state(), JobState::Running);

    let failed = store.fail(&running.job_id(), "stuck on a bad file", "night-shift (api key 0a1b)", T0 + SECOND).await;
    assert_eq!(failed.unwrap(), JobState::Failed);
    let job = store.get(&running.job_id()).await.unwrap();
    assert_eq!(job.state(), JobState::Failed);
    assert!(job.log.contains("failed by operator night-shift (api key 0a1b): stuck on a bad file"), "{}", job.log);
    assert!(job.error.contains("night-shift"), "{}", job.error);
    // The processor's late report changes nothing; a finished job cannot be failed again.
    let (worker, late_report) = (WorkerId::from("worker-a"), success(&["x.cdf"]));
    let late = store.complete(&running.job_id(), &worker, &late_report, T0 + 2 * SECOND).await;
    assert_eq!(late.unwrap(), JobState::Failed);
    assert!(store.fail(&running.job_id(), "again", "night-shift", T0 + 3 * SECOND).await.is_err());
    // A queued job can be failed too, but not anonymously.
    let queued = all_jobs(&store).await.into_iter().find(|job| job.state() == JobState::Queued).expect("queued");
    assert!(store.fail(&queued.job_id(), "bad inputs", " ", T0).await.is_err());
    assert_eq!(store.fail(&queued.job_id(), "", "ops", T0).await.unwrap(), JobState::Failed);
    assert!(store.get(&queued.job_id()).await.unwrap().log.contains("ops: no reason given"));
}

/// 100,000 jobs, three of them reading one file and older than all the others (the worst case: the
/// whole table lies before them): every page looks at most SCAN_BUDGET rows and says where to go
/// on, and paging finds exactly the three.
async fn jobs_by_input_file_page_through_a_hundred_thousand_in_bounded_steps(pool: AnyPool) {
    const FILLERS: i64 = 100_000;
    let store = store(pool.clone(), |config| config.max_page_size = nonzero(50)).await;
    let wanted = l0("swe", "20260101", "v001");
    for date in ["20260101", "20260102", "20260103"] {
        store.create(&job("swe", date, vec![wanted.clone()]), None, T0).await.unwrap().expect("created");
    }
    let filler = store.create(&job("mag", "20260101", vec![l0("mag", "20260101", "v001")]), None, T0).await.unwrap();
    let filler = filler.expect("created").to_string();
    // In bulk: ids sort after the real (UUIDv7, "0...") ones, so they are the newest.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO jobs (id, instrument, data_level, descriptor, start_date, repointing, input_hash, campaign_id, \
         version, version_major, version_minor, inputs, state, attempts, lease_owner, lease_expires_at, not_before, \
         created_at, started_at, finished_at, error, log, outputs, traceparent) \
         SELECT CAST(10000000 + i AS TEXT), 'mag', 'l1a', 'all', '20260101', -1, CAST(i AS TEXT), '', \
         CAST(i AS TEXT), i, 0, (SELECT inputs FROM jobs WHERE id = $2), 'succeeded', 1, '', 0, 0, $3, 0, 0, '', '', '[]', '' \
         FROM n",
    )
    .bind(FILLERS)
    .bind(filler)
    .bind(T0)
    .execute(&pool)
    .await
    .unwrap();
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs").fetch_one(&pool).await.unwrap();
    assert_eq!(total, FILLERS + 4);

    let mut filter = JobFilter { input_file: wanted.file_name.clone(), limit: 10_000, ..Default::default() };
    let (mut found, mut pages) = (Vec::new(), 0);
    loop {
        let page = store.list_page(&filter).await.unwrap();
        pages += 1;
        assert!(page.jobs.len() <= 50, "the configured maximum page size holds");
        found.extend(page.jobs.into_iter().map(|job| job.time.unwrap().date));
        if page.next_page_token.is_empty() {
            break;
        }
        filter.page_token = page.next_page_token;
        assert!(pages < 100, "paging ends");
    }
    found.sort();
    assert_eq!(found, ["20260101", "20260102", "20260103"]);
    // Each page looked at SCAN_BUDGET rows at most: the fillers alone take this many pages.
    assert!(pages > (FILLERS / i64::from(SCAN_BUDGET)) as usize, "{pages} pages");
    // Without a file filter the page is one bounded query; the next token goes on from it.
    let newest = store.list_page(&JobFilter { limit: 1_000_000, ..Default::default() }).await.unwrap();
    assert_eq!(newest.jobs.len(), 50);
    assert_eq!(newest.next_page_token, newest.jobs.last().unwrap().id);
}

/// Refusals of two instruments, many recorded in the same millisecond: pages of at most the
/// configured maximum visit each one once, newest first, and the instrument filter holds in SQL.
async fn dead_evaluations_page_through_every_refusal_once(pool: AnyPool) {
    let store = store(pool, |config| config.max_page_size = nonzero(30)).await;
    for seq in 1..=500u64 {
        let instrument = if seq % 5 == 0 { "swe" } else { "mag" };
        let refusal = Refusal {
            product: ProductKey { instrument: instrument.into(), data_level: "l1a".into(), descriptor: "x".into() },
            time: ProductTime { date: "20260101".into(), repointing: None },
            event_seq: seq,
            campaign_id: String::new(),
            step: "resolve",
            code: proto::error::ErrorCode::InvalidArgument,
            message: format!("refusal {seq}"),
        };
        store.dead_letter_evaluation(&refusal).await.unwrap();
    }
    let walk = |instrument: &'static str| {
        let store = &store;
        async move {
            let (mut visited, mut token) = (Vec::new(), String::new());
            loop {
                let page = store.dead_evaluations(instrument, 1_000, &token).await.unwrap();
                assert!(page.evaluations.len() <= 30, "the configured maximum page size holds");
                visited.extend(page.evaluations);
                if page.next_page_token.is_empty() {
                    return visited;
                }
                token = page.next_page_token;
            }
        }
    };
    let every = walk("").await;
    let mut seqs: Vec<u64> = every.iter().map(|evaluation| evaluation.event_seq).collect();
    let recorded: Vec<i64> =
        every.iter().map(|evaluation| proto::time::millis_of(evaluation.recorded_at.as_ref().unwrap())).collect();
    assert!(recorded.windows(2).all(|pair| pair[0] >= pair[1]), "newest first");
    seqs.sort();
    assert_eq!(seqs, (1..=500).collect::<Vec<u64>>(), "each refusal exactly once");
    let swe = walk("swe").await;
    assert_eq!(swe.len(), 100);
    assert!(swe.iter().all(|evaluation| evaluation.product.as_ref().unwrap().instrument == "swe"));
    assert!(store.dead_evaluations("", 0, "not a token").await.is_err());
}
