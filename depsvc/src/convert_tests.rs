//! Kernels as the indexer records them become inputs of the mission graph's jobs.

use imap_filename::{Date, ImapFileName};
use proto::pb;

use super::file_record;
use crate::graph::{Graph, InputSource, MemoryCatalog, ProductKey, ProductTime, Resolution, resolve};

/// The indexer's record of a file: the kernel type as the descriptor for SPICE files.
fn indexed(file_name: &str) -> pb::FileRecord {
    let name = ImapFileName::parse(file_name).expect("a mission name");
    let descriptor = match &name {
        ImapFileName::Spice(kernel) => kernel.kernel_type.as_str().to_string(),
        _ => name.descriptor().unwrap_or_default().to_string(),
    };
    pb::FileRecord {
        file_name: file_name.into(),
        kind: pb::FileKind::from(name.kind()).into(),
        instrument: name.instrument().unwrap_or_default().into(),
        data_level: name.data_level().unwrap_or_default().into(),
        descriptor,
        start_date: name.start_date().map(|date| date.yyyymmdd()).unwrap_or_default(),
        end_date: name.end_date().map(|date| date.yyyymmdd()).unwrap_or_default(),
        version: name.version_text().unwrap_or_default(),
        ..pb::FileRecord::default()
    }
}

fn resolved_files(resolution: &Resolution) -> Vec<String> {
    let Resolution::Ready { inputs } = resolution else { panic!("not ready: {resolution:?}") };
    inputs.iter().flat_map(|input| input.files.iter().map(|file| file.file_name.clone())).collect()
}

#[test]
fn undated_kernels_are_valid_for_all_time_and_keep_their_type() {
    let record = file_record(&indexed("naif0012.tls")).expect("kernels are graph inputs");
    assert_eq!((record.descriptor.as_str(), record.coverage_end()), ("leapseconds", None));
    assert!(record.start_date < Date::from_ymd(2010, 1, 1).expect("date"));
    assert!(InputSource::spice("leapseconds").matches(&record));
    let dated = file_record(&indexed("imap_2025_100_2025_101_001.ah.bc")).expect("attitude");
    assert_eq!(dated.coverage_end(), Date::from_ymd(2025, 4, 11));
}

#[test]
fn mission_job_takes_the_newest_kernel_of_each_type_and_waits_for_a_missing_one() {
    let graph = Graph::mission_yaml();
    let job = ProductKey::new("swapi", "l1", "hk");
    let time = ProductTime::on(Date::from_ymd(2024, 9, 24).expect("date"));
    let mut catalog: MemoryCatalog = ["imap_swapi_l0_raw_20240924_v001.pkts", "naif0011.tls", "naif0012.tls"]
        .into_iter()
        .filter_map(|name| file_record(&indexed(name)))
        .collect();

    let waiting = resolve(&graph, &catalog, &job, time).expect("resolves");
    let Resolution::Waiting { missing } = &waiting else { panic!("the clock kernel is missing: {waiting:?}") };
    let missing: Vec<String> = missing.iter().map(|input| input.source.to_string()).collect();
    assert_eq!(missing, ["spice spacecraft_clock"]);

    for name in ["imap_sclk_0000.tsc", "imap_sclk_0001.tsc"] {
        catalog.insert(file_record(&indexed(name)).expect("clock"));
    }
    let ready = resolve(&graph, &catalog, &job, time).expect("resolves");
    assert_eq!(resolved_files(&ready), ["imap_swapi_l0_raw_20240924_v001.pkts", "naif0012.tls", "imap_sclk_0001.tsc"]);
}
