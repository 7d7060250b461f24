//! `imap-sdc bench state`: the event path with a mission's worth of state. Fills the tracker with
//! N files (and so N events) through the tracker's own batch append, starts an indexer and depsvc
//! on it, then times what a large state makes slow: a new consumer replaying the whole log
//! (SubscribeEvents from 0), and resolutions against the big file table (depsvc Resolve, and the
//! tracker query behind it), with the node's resident memory before, during and after.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use imap_filename::{Date, ImapFileName};
use indexer::{FileTracker, NewFile, Provenance};
use mesh_runtime::ShutdownSignal;
use mesh_runtime::authz::Caller;
use mesh_runtime::tls::MeshIdentity;
use proto::pb::{FileKind, ProductKey, ProductTime, QueryFilesRequest, ResolveRequest, SubscribeEventsRequest};
use proto::time::now_millis;

use super::{BenchDatabase, percentiles, round};

/// Instruments the files are spread over, one day of each in turn; the resolutions ask for the
/// first one's level-1 product, whose input series holds `files / INSTRUMENTS.len()` files.
const INSTRUMENTS: [&str; 10] = ["swapi", "codice", "hit", "mag", "swe", "lo", "hi", "ultra", "glows", "idex"];

/// Files appended per transaction while filling.
const FILL_BATCH: usize = 10_000;

#[derive(Parser, Debug)]
#[command(name = "imap-sdc bench state", about = "Time replay and resolution with a large tracker")]
pub struct StateBenchArgs {
    /// Files (and events) in the tracker.
    #[arg(long, default_value_t = 1_000_000)]
    files: u32,
    /// Resolutions to time.
    #[arg(long, default_value_t = 2000)]
    resolutions: u32,
    /// A PostgreSQL server (`postgres://...`): the bench creates a fresh database there and drops
    /// it afterwards. SQLite in a temporary folder when unset.
    #[arg(long)]
    database_url: Option<String>,
}

/// Runs `imap-sdc bench state ARGS` (the words after `state`) and returns the JSON line.
pub async fn state(args: &[String]) -> anyhow::Result<String> {
    let args =
        StateBenchArgs::try_parse_from(std::iter::once("imap-sdc bench state".to_string()).chain(args.iter().cloned()))
            .map_err(|error| anyhow::anyhow!("{error}"))?;
    if args.files < INSTRUMENTS.len() as u32 {
        bail!("--files must be at least {}", INSTRUMENTS.len());
    }
    let work_dir = std::env::temp_dir().join(format!("imap-sdc-bench-state-{}-{}", std::process::id(), now_millis()));
    let database = BenchDatabase::create(args.database_url.as_deref(), &work_dir).await?;
    let outcome = run(&args, &work_dir, &database.url).await;
    database.drop().await;
    let _ = std::fs::remove_dir_all(&work_dir);
    outcome
}

async fn run(args: &StateBenchArgs, work_dir: &Path, database_url: &str) -> anyhow::Result<String> {
    let first_day = Date::parse_yyyymmdd("20100101").map_err(|error| anyhow::anyhow!("{error}"))?;
    let days = args.files / INSTRUMENTS.len() as u32;

    let pool = mesh_runtime::store::connect(database_url).await?;
    let tracker = FileTracker::open(pool.clone()).await?;
    let fill_started = Instant::now();
    let mut batch = Vec::with_capacity(FILL_BATCH);
    for index in 0..args.files {
        let instrument = INSTRUMENTS[index as usize % INSTRUMENTS.len()];
        let day = first_day.add_days((index / INSTRUMENTS.len() as u32) as i32);
        let name = ImapFileName::parse(&format!("imap_{instrument}_l0_raw_{}_v001.pkts", day.yyyymmdd()))?;
        batch.push(NewFile { name, size_bytes: 16_006, provenance: Provenance::default(), traceparent: String::new() });
        if batch.len() == FILL_BATCH || index + 1 == args.files {
            tracker.append_batch(&batch).await?;
            batch.clear();
        }
    }
    let fill_seconds = fill_started.elapsed().as_secs_f64();

    let config = super::node_config(work_dir, database_url, "indexer,depsvc", [])?;
    let listeners = crate::node::Listeners::bind(&config).await?;
    let internal_url = crate::node::reachable_url(&listeners.internal, "https")?;
    let cert_dir = config.cert_dir();
    let client_settings = config.mesh.client.settings();
    let (stop_node, node_stop) = ShutdownSignal::new();
    let node = tokio::spawn(crate::node::run_quietly(config, listeners, async move { node_stop.wait().await }));
    let identity = wait_for_certificates(&cert_dir, &node).await?;
    let channel = proto::clients::mesh_channel_with_tls(&internal_url, &client_settings, Some(&identity))?;
    let mut indexer = proto::clients::IndexerClient::new(channel.clone());
    let mut depsvc = proto::clients::DependencyClient::new(channel);

    // A new consumer reads the whole log from the start.
    let rss_before = resident_mb();
    let mut peak_rss = rss_before;
    let replay_started = Instant::now();
    let request = SubscribeEventsRequest { consumer: "bench-state".into(), after_seq: 0 };
    let mut events = subscribe_when_serving(&mut indexer, request, &node).await?;
    let mut replayed: u64 = 0;
    let mut last_seq = 0;
    while replayed < u64::from(args.files) {
        let Some(response) = events.message().await? else { bail!("the event stream ended after {replayed} events") };
        let seq = response.event.context("an empty event")?.seq;
        if seq <= last_seq {
            bail!("event {seq} came after {last_seq}");
        }
        last_seq = seq;
        replayed += 1;
        if replayed.is_multiple_of(100_000) {
            peak_rss = peak_rss.max(resident_mb());
        }
    }
    let replay_seconds = replay_started.elapsed().as_secs_f64().max(0.001);
    drop(events);
    let rss_after_replay = resident_mb();

    // Resolutions of the level-1 product of days spread over the whole range.
    let (mut resolve_ms, mut query_ms) = (Vec::new(), Vec::new());
    let mut ready = 0;
    let mut position: u64 = 0x9E37_79B9;
    for _ in 0..args.resolutions {
        position = position.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let day = first_day.add_days(((position >> 33) % u64::from(days)) as i32).yyyymmdd();
        let request = ResolveRequest {
            product: Some(ProductKey {
                instrument: INSTRUMENTS[0].into(),
                data_level: "l1".into(),
                descriptor: "all".into(),
            }),
            time: Some(ProductTime { date: day.clone(), repointing: None }),
        };
        let started = Instant::now();
        let resolution = depsvc.resolve(request).await?.into_inner();
        resolve_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        ready += u32::from(resolution.ready);
        // The query depsvc makes of the tracker for that input, without the two gRPC hops.
        let query = QueryFilesRequest {
            kind: FileKind::Science.into(),
            instrument: INSTRUMENTS[0].into(),
            data_level: "l0".into(),
            descriptor: "raw".into(),
            start_date_max: day.clone(),
            end_date_min: day,
            ..Default::default()
        };
        let started = Instant::now();
        tracker.query(&query).await?;
        query_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    peak_rss = peak_rss.max(resident_mb());
    let rss_after = resident_mb();
    pool.close().await;
    stop_node.trigger();
    node.await?.context("state bench node")?;

    let backend = match mesh_runtime::store::Backend::of_url(database_url) {
        Some(mesh_runtime::store::Backend::Postgres) => "postgres",
        _ => "sqlite",
    };
    let summary = serde_json::json!({
        "bench": "state",
        "database": backend,
        "files": args.files,
        "events": last_seq,
        "cpus": std::thread::available_parallelism().map(|count| count.get()).unwrap_or(1),
        "async_threads": tokio::runtime::Handle::current().metrics().num_workers(),
        "fill_files_per_second": round(f64::from(args.files) / fill_seconds),
        "replay_events_per_second": round(replayed as f64 / replay_seconds),
        "resolutions": args.resolutions,
        "resolutions_ready": ready,
        "resolve_ms": percentiles(&mut resolve_ms),
        "tracker_query_ms": percentiles(&mut query_ms),
        "rss_mb": {
            "before_replay": rss_before,
            "peak": peak_rss,
            "after_replay": rss_after_replay,
            "after_resolutions": rss_after,
        },
    });
    Ok(summary.to_string())
}

/// The operator's certificate, once the node has made the mesh's certificates.
async fn wait_for_certificates(
    cert_dir: &Path,
    node: &tokio::task::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<tonic::transport::ClientTlsConfig> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if node.is_finished() {
            bail!("the node stopped while starting");
        }
        if let Ok(identity) = MeshIdentity::load(cert_dir, Caller::Operator) {
            return Ok(identity.client_tls());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the node made no certificates within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens the subscription once the node listens (it does so after building its roles).
async fn subscribe_when_serving(
    indexer: &mut proto::clients::IndexerClient,
    request: SubscribeEventsRequest,
    node: &tokio::task::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<tonic::Streaming<proto::pb::SubscribeEventsResponse>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match indexer.subscribe_events(request.clone()).await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) if node.is_finished() || tokio::time::Instant::now() > deadline => {
                bail!("cannot subscribe to the node's events: {}", status.message())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The process's resident set now (VmRSS), 0 where the system does not report it.
fn resident_mb() -> f64 {
    super::proc_status_mb("VmRSS:").unwrap_or(0.0)
}
