//! The trigger against a real job store (SQLite, and PostgreSQL where the build saw DATABASE_URL):
//! shutdown never moves the cursor past unevaluated work, campaigns survive a restart, a late
//! completion reports the real state, database errors are retried, and versions never collide with
//! the archive. Peers are small in-process fakes; time is passed as `now`, never slept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mesh_runtime::fakes::FakeIndexer;
use mesh_runtime::{Shutdown, ShutdownSignal};
use proto::clients::{DependencyClient, IndexerClient, lazy_channel};
use proto::ids::WorkerId;
use proto::pb::dependency_service_server::{DependencyService, DependencyServiceServer};
use proto::pb::indexer_service_server::IndexerServiceServer;
use proto::pb::*;
use sqlx::AnyPool;
use tokio::sync::{Notify, mpsc};
use tonic::{Request, Response, Status};

use crate::StarterConfig;
use crate::campaigns::{CampaignPlan, plan_campaign, resume_campaigns};
use crate::cursor::CursorTracker;
use crate::jobs::{Completion, JobFilter, JobStore, NewJob};
use crate::role::StarterShared;
use crate::trigger::{Candidate, EVALUATION_RETRY, Queued, TriggerContext, highest_version};
use proto::retry::Outcome;

mesh_runtime::on_both_backends!(
    downstream_cut_off_by_shutdown_commits_nothing,
    evaluation_cut_off_by_shutdown_leaves_the_event_unfinished,
    campaign_lookup_database_error_is_retried_not_no_campaign,
    restart_mid_campaign_plans_the_rest,
    a_long_campaign_is_planned_a_chunk_at_a_time_and_a_restart_goes_on_from_its_progress,
    archive_version_raises_the_new_job_version,
    completion_after_lease_expiry_reports_the_real_state,
    events_finished_in_a_burst_are_saved_up_to_the_newest,
);

const T0: i64 = 1_800_000_000_000;
/// Candidates the queues hold together here: small, so campaigns wait for room.
const QUEUE_ROOM: usize = 64;
/// Nothing listens here: every call fails as Unavailable (transient).
const NOBODY: &str = "http://127.0.0.1:1";

fn product() -> ProductKey {
    ProductKey { instrument: "mag".into(), data_level: "l1a".into(), descriptor: "x".into() }
}

fn run(date: &str) -> ProductRun {
    ProductRun { product: Some(product()), time: Some(ProductTime { date: date.into(), repointing: None }) }
}

include!("../tests/common/level0.rs");

fn l0(date: &str) -> FileRecord {
    level0_file("mag", date)
}

fn event(seq: u64, file: FileRecord) -> FileEvent {
    FileEvent { seq, file: Some(file), traceparent: String::new() }
}

/// depsvc with one product, `mag l1a x`, made from `mag l0 raw` of the same day.
#[derive(Default)]
struct FakeDepsvc {
    gate: Arc<Gate>,
}

/// Holds resolving back from a day on while closed (answering UNAVAILABLE, which the queue
/// retries until shutdown) and tells the test when that day is reached; records the days resolved.
#[derive(Default)]
struct Gate {
    from_day: String,
    closed: std::sync::atomic::AtomicBool,
    reached: Notify,
    resolved: Mutex<Vec<String>>,
}

#[tonic::async_trait]
impl DependencyService for FakeDepsvc {
    async fn downstream(&self, request: Request<DownstreamRequest>) -> Result<Response<DownstreamResponse>, Status> {
        let file = request.into_inner().file.unwrap_or_default();
        Ok(Response::new(DownstreamResponse { runs: vec![run(&file.start_date)] }))
    }

    async fn resolve(&self, request: Request<ResolveRequest>) -> Result<Response<ResolveResponse>, Status> {
        let date = request.into_inner().time.unwrap_or_default().date;
        if self.gate.closed.load(std::sync::atomic::Ordering::SeqCst) && date >= self.gate.from_day {
            self.gate.reached.notify_one();
            return Err(Status::unavailable("held back by the test"));
        }
        self.gate.resolved.lock().unwrap().push(date.clone());
        let input = ResolvedInput {
            source_type: SourceType::Science.into(),
            source: "mag l0 raw".into(),
            relationship: Relationship::Hard.into(),
            files: vec![l0(&date)],
        };
        Ok(Response::new(ResolveResponse { ready: true, inputs: vec![input], missing: Vec::new() }))
    }

    async fn get_graph(&self, _: Request<GetGraphRequest>) -> Result<Response<GetGraphResponse>, Status> {
        let edge = GraphEdge {
            product: Some(product()),
            input: "mag l0 raw".into(),
            relationship: Relationship::Hard.into(),
            window: String::new(),
        };
        Ok(Response::new(GetGraphResponse { products: vec![product()], edges: vec![edge], dot: String::new() }))
    }
}

/// Serves the fakes on a free local port; returns its address.
async fn fake_peers(archive: Vec<FileRecord>) -> String {
    gated_peers(archive, Arc::default()).await
}

/// [`fake_peers`] whose depsvc resolves through `gate`.
async fn gated_peers(archive: Vec<FileRecord>, gate: Arc<Gate>) -> String {
    let router = tonic::transport::Server::builder()
        .add_service(DependencyServiceServer::new(FakeDepsvc { gate }))
        .add_service(IndexerServiceServer::new(FakeIndexer { archive, ..Default::default() }));
    mesh_runtime::fakes::serve_on_free_port(router).await
}

async fn context(store: Arc<JobStore>, peers: &str, shutdown: Shutdown) -> Arc<TriggerContext> {
    Arc::new(TriggerContext {
        store,
        depsvc: DependencyClient::new(lazy_channel(peers).expect("address")),
        indexer: IndexerClient::new(lazy_channel(peers).expect("address")),
        consumer: "starter".into(),
        job_available: Arc::new(Notify::new()),
        cursor: Mutex::new(CursorTracker::new(0)),
        cursor_writes: Arc::default(),
        queues: Mutex::new(HashMap::new()),
        queue_room: Arc::new(tokio::sync::Semaphore::new(QUEUE_ROOM)),
        campaign_outstanding: Mutex::new(HashMap::new()),
        waiting: Mutex::default(),
        shutdown,
        tasks: tokio_util::task::TaskTracker::new(),
    })
}

async fn open(pool: AnyPool) -> Arc<JobStore> {
    Arc::new(JobStore::open(pool, StarterConfig::default()).await.expect("open job store"))
}

/// A shutdown already asked for (the signal is kept so `wait` resolves because of it).
fn stopping() -> (ShutdownSignal, Shutdown) {
    let (signal, shutdown) = ShutdownSignal::new();
    signal.trigger();
    (signal, shutdown)
}

/// Routes the `mag` queue to the test, which then evaluates candidates itself, in order.
fn capture_mag_queue(trigger: &TriggerContext) -> mpsc::UnboundedReceiver<Queued> {
    let (sender, receiver) = mpsc::unbounded_channel();
    trigger.queues.lock().unwrap().insert("mag".into(), sender);
    receiver
}

fn drain(receiver: &mut mpsc::UnboundedReceiver<Queued>) -> Vec<Candidate> {
    std::iter::from_fn(|| receiver.try_recv().ok()).map(|queued| queued.candidate).collect()
}

/// The next `count` candidates, as the campaign's driver hands them over.
async fn receive(receiver: &mut mpsc::UnboundedReceiver<Queued>, count: usize) -> Vec<Candidate> {
    let mut received = Vec::new();
    while received.len() < count {
        let next = tokio::time::timeout(std::time::Duration::from_secs(30), receiver.recv()).await;
        received.push(next.expect("the driver hands runs over").expect("queue open").candidate);
    }
    received
}

fn shared(store: &Arc<JobStore>, trigger: &Arc<TriggerContext>, config: StarterConfig) -> Arc<StarterShared> {
    Arc::new(StarterShared { store: store.clone(), trigger: trigger.clone(), config })
}

async fn all_jobs(store: &JobStore) -> Vec<Job> {
    store.list(&JobFilter { limit: 1000, ..Default::default() }).await.expect("list jobs")
}

#[tokio::test]
async fn retry_outcomes_tell_refusal_from_shutdown() {
    let never = Shutdown::never();
    let done = EVALUATION_RETRY.run("ok", &never, || async { Ok::<_, Status>(7) }).await;
    assert!(matches!(done, Outcome::Done(7)));
    let refused =
        EVALUATION_RETRY.run("refused", &never, || async { Err::<u32, _>(Status::invalid_argument("bad")) }).await;
    assert!(matches!(refused, Outcome::Refused(status) if status.code() == tonic::Code::InvalidArgument));
    let (_signal, shutdown) = stopping();
    let stopped =
        EVALUATION_RETRY.run("down", &shutdown, || async { Err::<u32, _>(Status::unavailable("down")) }).await;
    assert!(matches!(stopped, Outcome::Stopped));
}

#[test]
fn highest_version_looks_only_at_the_same_product_and_day() {
    let record = |descriptor: &str, date: &str, version: &str| FileRecord {
        instrument: "mag".into(),
        data_level: "l1a".into(),
        descriptor: descriptor.into(),
        start_date: date.into(),
        version: version.into(),
        ..Default::default()
    };
    let files = vec![
        record("x", "20250101", "v001.0002"),
        record("x", "20250101", "v001.0010"),
        record("x", "20250101", "v002"),
        record("y", "20250101", "v003.0001"),
        record("x", "20250102", "v004.0001"),
    ];
    let time = ProductTime { date: "20250101".into(), repointing: None };
    assert_eq!(highest_version(&files, &product(), &time).map(|version| version.to_string()), Some("v001.0010".into()));
    assert_eq!(highest_version(&files[3..], &product(), &time), None);
}

/// A downstream call cut off by shutdown used to count as "no candidates": the event was
/// dispatched with no work and the cursor committed past it.
async fn downstream_cut_off_by_shutdown_commits_nothing(pool: AnyPool) {
    let store = open(pool).await;
    let (_signal, shutdown) = stopping();
    let trigger = context(store.clone(), NOBODY, shutdown).await;
    assert!(!trigger.handle_event(event(5, l0("20250101"))).await, "the event is reported unhandled");
    assert_eq!(store.read_cursor("starter").await.unwrap(), 0, "the cursor did not move");
    assert_eq!(trigger.cursor.lock().unwrap().highest_dispatched(), 0, "the event was not dispatched");
}

/// A resolve cut off by shutdown used to count as evaluated: the event was finished and the
/// cursor committed past it.
async fn evaluation_cut_off_by_shutdown_leaves_the_event_unfinished(pool: AnyPool) {
    let store = open(pool).await;
    let (_signal, shutdown) = stopping();
    let trigger = context(store.clone(), NOBODY, shutdown).await;
    trigger.cursor.lock().unwrap().dispatched(5, 1);
    let candidate =
        Candidate { seq: Some(5), run: run("20250101"), campaign_id: String::new(), traceparent: String::new() };
    assert!(!trigger.process(&candidate).await, "the evaluation is reported cut off");
    assert_eq!(trigger.cursor.lock().unwrap().committable(), 4, "event 5 is still unfinished");
    assert_eq!(store.read_cursor("starter").await.unwrap(), 0, "the cursor did not move");
    // Nor does a cut-off campaign run count as planned.
    let mut chunk_evaluated = trigger.start_campaign_chunk("c", 1).expect("one run");
    let planned = Candidate { seq: None, run: run("20250101"), campaign_id: "c".into(), traceparent: String::new() };
    assert!(!trigger.process(&planned).await);
    assert_eq!(trigger.campaign_outstanding.lock().unwrap().get("c").map(|chunk| chunk.remaining), Some(1));
    assert!(chunk_evaluated.try_recv().is_err(), "the chunk is not evaluated");
}

/// A database error looking up the producing job's campaign used to mean "no campaign": the
/// follow-on job left its campaign. Now it is retried (here until shutdown).
async fn campaign_lookup_database_error_is_retried_not_no_campaign(pool: AnyPool) {
    let store = open(pool.clone()).await;
    let peers = fake_peers(Vec::new()).await;
    let new_job = NewJob {
        product: product(),
        time: ProductTime { date: "20250101".into(), repointing: None },
        inputs: Vec::new(),
        campaign_id: "c1".into(),
        traceparent: String::new(),
    };
    let producer = store.create(&new_job, None, T0).await.unwrap().expect("job");
    let output = FileRecord { produced_by_job: producer.into(), ..l0("20250101") };
    let working = context(store.clone(), &peers, Shutdown::never()).await;
    assert!(matches!(working.campaign_of_file(&output).await, Outcome::Done(campaign) if campaign == "c1"));

    pool.close().await;
    let (_signal, shutdown) = stopping();
    let trigger = context(store.clone(), &peers, shutdown).await;
    let mut queue = capture_mag_queue(&trigger);
    assert!(!trigger.handle_event(event(9, output)).await, "the event is reported unhandled");
    assert!(drain(&mut queue).is_empty(), "no candidate left without its campaign");
    assert_eq!(trigger.cursor.lock().unwrap().highest_dispatched(), 0);
}

/// Planned runs live on in-memory queues: a restart used to lose the rest of a campaign, and a
/// scheduled firing re-fired after restart was skipped as "already planned".
async fn restart_mid_campaign_plans_the_rest(pool: AnyPool) {
    let store = open(pool).await;
    let peers = fake_peers(Vec::new()).await;
    let plan = CampaignPlan {
        id: "schedule-maps-20250201T0300".into(),
        request: StartReprocessingRequest {
            start_date: "20250101".into(),
            end_date: "20250102".into(),
            instrument: "mag".into(),
            ..Default::default()
        },
        origin: "schedule maps".into(),
    };

    // First life: planned, one of two runs evaluated, then the starter stops.
    let (stop, shutdown) = ShutdownSignal::new();
    let first = context(store.clone(), &peers, shutdown).await;
    let mut queue = capture_mag_queue(&first);
    let planned = plan_campaign(shared(&store, &first, StarterConfig::default()), plan.clone()).await.expect("planned");
    assert_eq!(planned.planned_runs, 2);
    let candidates = receive(&mut queue, 2).await;
    assert!(first.process(&candidates[0]).await);
    assert_eq!(all_jobs(&store).await.len(), 1);
    stop.trigger();
    first.tasks.close();
    first.tasks.wait().await;
    assert_eq!(store.unfinished_campaigns().await.unwrap().len(), 1, "half a campaign is not planned");

    // Second life: the schedule re-fires (already recorded) and the start re-plans the campaign.
    let second = context(store.clone(), &peers, Shutdown::never()).await;
    let second_shared = shared(&store, &second, StarterConfig::default());
    assert_eq!(plan_campaign(second_shared.clone(), plan.clone()).await.expect("re-fired").planned_runs, 0);
    let mut queue = capture_mag_queue(&second);
    let resumed = tokio::spawn(resume_campaigns(second_shared));
    let candidates = receive(&mut queue, 2).await;
    for candidate in &candidates {
        assert_eq!(candidate.campaign_id, plan.id);
        assert!(second.process(candidate).await);
    }
    resumed.await.expect("resumed");
    let jobs = all_jobs(&store).await;
    assert_eq!(jobs.len(), 2, "the run done before the restart is not duplicated");
    assert!(jobs.iter().all(|job| job.campaign_id == plan.id));
    assert!(store.unfinished_campaigns().await.unwrap().is_empty(), "planning is done after the last run");

    // A third start has nothing to re-plan.
    let third = context(store.clone(), &peers, Shutdown::never()).await;
    let mut queue = capture_mag_queue(&third);
    resume_campaigns(shared(&store, &third, StarterConfig::default())).await;
    assert!(drain(&mut queue).is_empty());
}

/// The longest range allowed, planned a chunk of days at a time through the real (bounded)
/// queues, each chunk more than the queues hold (the driver waits for room): a restart in the third chunk finds the first two recorded, goes on from there without
/// evaluating a day of them again, and the campaign completes with exactly one job per day.
async fn a_long_campaign_is_planned_a_chunk_at_a_time_and_a_restart_goes_on_from_its_progress(pool: AnyPool) {
    let store = open(pool).await;
    let config = StarterConfig { campaign_chunk_days: std::num::NonZeroU32::new(300).unwrap(), ..Default::default() };
    let (chunk, span) = (config.campaign_chunk_days.get() as i32, config.max_campaign_days.get() as i32);
    assert!(chunk as usize > QUEUE_ROOM);
    let start = imap_filename::Date::parse_yyyymmdd("20150101").unwrap();
    let end = start.add_days(span - 1);
    let held_from = start.add_days(2 * chunk);
    let gate = Arc::new(Gate { from_day: held_from.yyyymmdd(), closed: true.into(), ..Default::default() });
    let peers = gated_peers(Vec::new(), gate.clone()).await;
    let plan = CampaignPlan {
        id: "long".into(),
        request: StartReprocessingRequest {
            start_date: start.yyyymmdd(),
            end_date: end.yyyymmdd(),
            instrument: "mag".into(),
            ..Default::default()
        },
        origin: "request".into(),
    };

    // First life: stopped once the third chunk's first day is being evaluated.
    let (stop, shutdown) = ShutdownSignal::new();
    let first = context(store.clone(), &peers, shutdown).await;
    let planned = plan_campaign(shared(&store, &first, config.clone()), plan.clone()).await.expect("planned");
    assert_eq!(planned.planned_runs, span as u32);
    tokio::time::timeout(std::time::Duration::from_secs(120), gate.reached.notified())
        .await
        .expect("the campaign reaches its third chunk");
    stop.trigger();
    first.tasks.close();
    first.tasks.wait().await;
    let unfinished = store.unfinished_campaigns().await.unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].planned_through, Some(held_from.add_days(-1)), "two whole chunks recorded");
    let jobs = all_jobs_of(&store, "long").await;
    assert_eq!(jobs.len(), 2 * chunk as usize, "nothing past the chunk in flight was planned");
    gate.resolved.lock().unwrap().clear();

    // Second life: goes on from the third chunk and completes.
    gate.closed.store(false, std::sync::atomic::Ordering::SeqCst);
    let second = context(store.clone(), &peers, Shutdown::never()).await;
    tokio::time::timeout(std::time::Duration::from_secs(600), resume_campaigns(shared(&store, &second, config)))
        .await
        .expect("the campaign completes");
    let resolved = gate.resolved.lock().unwrap().clone();
    assert_eq!(resolved.first(), Some(&held_from.yyyymmdd()), "the restart goes on from the recorded progress");
    assert_eq!(resolved.len(), (span - 2 * chunk) as usize, "no day evaluated twice");
    assert!(store.unfinished_campaigns().await.unwrap().is_empty(), "planning is done");
    assert_eq!(store.campaign_progress("long").await.unwrap().planned_through, end.yyyymmdd());
    let jobs = all_jobs_of(&store, "long").await;
    let days: std::collections::BTreeSet<String> = jobs.iter().map(|job| job.time.clone().unwrap().date).collect();
    assert_eq!((jobs.len(), days.len()), (span as usize, span as usize), "one job per day, none twice");
    assert_eq!(days.first(), Some(&start.yyyymmdd()));
    assert_eq!(days.last(), Some(&end.yyyymmdd()));
}

/// Every job of a campaign, paging through the list.
async fn all_jobs_of(store: &JobStore, campaign_id: &str) -> Vec<Job> {
    let mut filter = JobFilter { campaign_id: campaign_id.into(), limit: 1000, ..Default::default() };
    let mut jobs = Vec::new();
    loop {
        let page = store.list_page(&filter).await.expect("list jobs");
        jobs.extend(page.jobs);
        if page.next_page_token.is_empty() {
            return jobs;
        }
        filter.page_token = page.next_page_token;
    }
}

/// The first job used to get v001.0001 even when a team had uploaded that version already.
async fn archive_version_raises_the_new_job_version(pool: AnyPool) {
    let store = open(pool).await;
    let uploaded = FileRecord {
        file_name: "imap_mag_l1a_x_20250101_v001.0001.cdf".into(),
        kind: FileKind::Science.into(),
        instrument: "mag".into(),
        data_level: "l1a".into(),
        descriptor: "x".into(),
        start_date: "20250101".into(),
        version: "v001.0001".into(),
        ..Default::default()
    };
    let peers = fake_peers(vec![uploaded]).await;
    let trigger = context(store.clone(), &peers, Shutdown::never()).await;
    let candidate =
        Candidate { seq: None, run: run("20250101"), campaign_id: String::new(), traceparent: String::new() };
    assert!(trigger.process(&candidate).await);
    let jobs = all_jobs(&store).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].version, "v001.0002");
}

/// Completion used to report the state it computed even when its UPDATE changed nothing
/// because the lease expired (and the job was requeued) between its read and its update.
async fn completion_after_lease_expiry_reports_the_real_state(pool: AnyPool) {
    let store = open(pool).await;
    let new_job = NewJob {
        product: product(),
        time: ProductTime { date: "20250101".into(), repointing: None },
        inputs: Vec::new(),
        campaign_id: String::new(),
        traceparent: String::new(),
    };
    store.create(&new_job, None, T0).await.unwrap().expect("job");
    let claimed = store.claim(&WorkerId::from("worker-a"), T0).await.unwrap().expect("claimed");
    let as_read = store.get(&claimed.job_id()).await.unwrap();
    assert_eq!(store.expire_leases(T0 + 10_000_000).await.unwrap(), 1);
    let done = Completion {
        succeeded: true,
        retryable: false,
        error: String::new(),
        log: String::new(),
        outputs: vec!["out.cdf".into()],
        not_started: false,
    };
    let reported = store.complete_as_read(as_read, &WorkerId::from("worker-a"), &done, T0 + 10_000_001).await.unwrap();
    assert_eq!(reported, JobState::Queued);
    assert_eq!(store.get(&claimed.job_id()).await.unwrap().state(), JobState::Queued);
}

/// The cursor is written at most every few tens of milliseconds: events finished meanwhile are
/// saved by a later write, in a task of its own, up to the newest; once shutdown begins, what
/// waits is saved at once.
async fn events_finished_in_a_burst_are_saved_up_to_the_newest(pool: AnyPool) {
    let store = open(pool).await;
    let (signal, shutdown) = ShutdownSignal::new();
    let trigger = context(store.clone(), NOBODY, shutdown).await;
    for seq in 1..=100 {
        trigger.commit(seq).await;
    }
    // The first value is written at once; the later ones by the task that waits out the spacing.
    trigger.tasks.close();
    trigger.tasks.wait().await;
    assert_eq!(store.read_cursor("starter").await.unwrap(), 100, "the newest value is saved");

    trigger.tasks.reopen();
    trigger.commit(101).await;
    trigger.commit(102).await;
    signal.trigger();
    trigger.tasks.close();
    trigger.tasks.wait().await;
    assert_eq!(store.read_cursor("starter").await.unwrap(), 102, "saved at shutdown");
    trigger.commit(103).await;
    assert_eq!(store.read_cursor("starter").await.unwrap(), 103, "after shutdown began, each value at once");
}
