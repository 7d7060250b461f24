//! Job provenance and reprocessing campaigns through the Starter's gRPC API, on a real node:
//! which job made a file, which jobs read one, a campaign's plan and its progress by state, a
//! scheduled run, and clear refusals of bad requests.

mod support;

use std::time::Duration;

use imap_sdc::config::Config;
use mesh_runtime::ShutdownSignal;
use proto::clients::{IndexerClient, StarterClient};
use proto::pb::{
    GetCampaignRequest, GetJobRequest, Job, JobState, ListJobsRequest, QueryFilesRequest, StartReprocessingRequest,
};
use support::{TempDir, wait_for};

const DATES: [&str; 3] = ["20260301", "20260302", "20260303"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provenance_and_campaign_progress_are_queryable() {
    let home = TempDir::new("jobs-grpc");
    let (listeners, _, url) = support::bind_listeners().await;
    let config = node_config(&home);
    // Made here (as the node would on start) so the test holds the operator's certificate at once.
    let cert_dir = imap_sdc::node::prepare_certificates(&config).unwrap();
    let (stop, shutdown) = ShutdownSignal::new();
    let node =
        tokio::spawn(async move { imap_sdc::node::run(config, listeners, async move { shutdown.wait().await }).await });

    let inbox = home.path().join("data/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for date in DATES {
        std::fs::write(inbox.join(format!("imap_swe_l0_raw_{date}_v001.pkts")), support::synthetic_level0(4)).unwrap();
    }
    let operator = support::operator_channel(&cert_dir, &url);
    let starter = StarterClient::new(operator.clone());
    let indexer = IndexerClient::new(operator);
    let jobs = settled_jobs(&starter, ListJobsRequest::default(), 6).await;
    assert!(jobs.iter().all(|job| job.state() == JobState::Succeeded), "{jobs:?}");

    // Which job made this file? The indexer names the job, the starter finds it by output.
    let level1b = format!("imap_swe_l1b_sci_{}_v001.0001.cdf", DATES[0]);
    let file = indexer
        .clone()
        .query_files(QueryFilesRequest { file_name: level1b.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .files;
    assert_eq!(file.len(), 1, "{level1b} indexed once");
    let made_by = list(&starter, ListJobsRequest { output_file: level1b.clone(), ..Default::default() }).await;
    assert_eq!(made_by.len(), 1);
    assert_eq!(made_by[0].id, file[0].produced_by_job, "indexer and starter agree on the producing job");
    let job =
        starter.clone().get_job(GetJobRequest { id: made_by[0].id.clone() }).await.unwrap().into_inner().job.unwrap();
    let inputs: Vec<&str> =
        job.inputs.iter().flat_map(|input| input.files.iter().map(|file| file.file_name.as_str())).collect();
    assert_eq!(inputs, [format!("imap_swe_l1a_sci_{}_v001.0001.cdf", DATES[0])]);
    assert_eq!(file[0].parent_files, inputs);
    // And the other way: which jobs read this file?
    let level0 = format!("imap_swe_l0_raw_{}_v001.pkts", DATES[1]);
    let readers = list(&starter, ListJobsRequest { input_file: level0, ..Default::default() }).await;
    assert_eq!(readers.len(), 1);
    assert_eq!(readers[0].product.as_ref().unwrap().data_level, "l1a");

    // A campaign over the three days reprocesses L1A, whose new outputs re-make L1B, all in
    // the campaign, each at the next version.
    let campaign = starter
        .clone()
        .start_reprocessing(StartReprocessingRequest {
            start_date: DATES[0].into(),
            end_date: DATES[2].into(),
            instrument: "swe".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(campaign.planned_runs, 3, "one kickoff product (swe l1a sci) over three days");
    let campaign_jobs =
        settled_jobs(&starter, ListJobsRequest { campaign_id: campaign.campaign_id.clone(), ..Default::default() }, 6)
            .await;
    assert!(campaign_jobs.iter().all(|job| job.version == "v001.0002"), "{campaign_jobs:?}");
    let progress = starter
        .clone()
        .get_campaign(GetCampaignRequest { id: campaign.campaign_id.clone() })
        .await
        .unwrap()
        .into_inner()
        .campaign
        .unwrap();
    assert_eq!(
        (progress.succeeded, progress.queued, progress.running, progress.failed, progress.dead),
        (6, 0, 0, 0, 0)
    );
    assert_eq!(
        (progress.start_date.as_str(), progress.end_date.as_str(), progress.origin.as_str()),
        (DATES[0], DATES[2], "request")
    );
    let level1b_versions = indexer
        .clone()
        .query_files(QueryFilesRequest { data_level: "l1b".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .files
        .iter()
        .filter(|file| file.start_date == DATES[0])
        .map(|file| file.version.clone())
        .collect::<Vec<_>>();
    assert_eq!(level1b_versions.len(), 2, "{level1b_versions:?}");
    assert_eq!(list(&starter, ListJobsRequest::default()).await.len(), 12, "the first six plus the campaign's six");

    // The schedule fired when the node started: its campaign is recorded with its origin.
    let scheduled = wait_for("the scheduled run", Duration::from_secs(30), || {
        let starter = starter.clone();
        async move {
            for minutes_ago in 0..3 {
                let request = GetCampaignRequest { id: scheduled_campaign_id(minutes_ago) };
                if let Ok(progress) = starter.clone().get_campaign(request).await {
                    return progress.into_inner().campaign;
                }
            }
            None
        }
    })
    .await;
    assert_eq!(scheduled.origin, "schedule every-minute");
    assert_eq!(scheduled.planned_runs, 2, "swe l1a sci on yesterday and today");

    // Refusals say what is wrong.
    let unknown = starter.clone().get_campaign(GetCampaignRequest { id: "no-such-campaign".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let backwards = starter
        .clone()
        .start_reprocessing(StartReprocessingRequest {
            start_date: DATES[2].into(),
            end_date: DATES[0].into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), tonic::Code::InvalidArgument);
    assert!(backwards.message().contains("is before start_date"), "{}", backwards.message());
    let nothing = starter
        .clone()
        .start_reprocessing(StartReprocessingRequest {
            start_date: DATES[0].into(),
            end_date: DATES[0].into(),
            instrument: "glows".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(nothing.message().contains("no product in the graph matches"), "{}", nothing.message());

    stop.trigger();
    node.await.unwrap().unwrap();
}

fn node_config(home: &TempDir) -> Config {
    let mut config = Config {
        roles: "indexer,depsvc,starter,processor".parse().unwrap(),
        data_dir: home.path().join("data"),
        ..Default::default()
    };
    config.depsvc.graph_file = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/graph/two-level.toml").into());
    // Real level-0 decoding needs the test packet definition; a processor without that
    // setting (placeholder science) needs nothing.
    let xtce_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xtce");
    if let Ok(processor) = toml::from_str::<processor::ProcessorConfig>(&format!("xtce_dir = {xtce_dir:?}")) {
        config.processor = processor;
    }
    config.processor.slots = std::num::NonZeroU32::new(2);
    // Fires every minute; at start it makes up the current minute's run at once.
    config.starter.schedules = vec![starter::ScheduleConfig {
        name: "every-minute".into(),
        cron: "* * * * *".into(),
        products: "swe l1a *".into(),
        start_days: -1,
        end_days: 0,
    }];
    config
}

/// The id of the scheduled run of the minute `minutes_ago` before now (what `schedule.rs` names).
fn scheduled_campaign_id(minutes_ago: i64) -> String {
    let minute = proto::time::now_millis() / 60_000 - minutes_ago;
    let text = proto::time::rfc3339_millis(minute * 60_000);
    format!("schedule-every-minute-{}", text[..16].replace([':', '-'], ""))
}

async fn list(starter: &StarterClient, request: ListJobsRequest) -> Vec<Job> {
    starter.clone().list_jobs(request).await.expect("list jobs").into_inner().jobs
}

/// Waits until `request` lists `count` jobs, none queued or running.
async fn settled_jobs(starter: &StarterClient, request: ListJobsRequest, count: usize) -> Vec<Job> {
    wait_for(&format!("{count} finished jobs"), Duration::from_secs(120), || {
        let (mut starter, request) = (starter.clone(), request.clone());
        async move {
            let jobs = starter.list_jobs(request).await.ok()?.into_inner().jobs;
            let finished = jobs.iter().all(|job| !matches!(job.state(), JobState::Queued | JobState::Running));
            (jobs.len() >= count && finished).then_some(jobs)
        }
    })
    .await
}
