//! Kernels as the indexer records them become inputs of the mission graph's jobs.

use imap_filename::{Date, ImapFileName};
use proto::pb;

use super::file_record;
use crate::graph::{
    Graph, InputSource, MemoryCatalog, ProductKey, ProductTime, Resolution, downstream_with_science, resolve,
};

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

/// The SWAPI runs a new file triggers in the mission's graph, as `level descriptor date`.
fn swapi_runs_triggered_by(catalog: &MemoryCatalog, file_name: &str) -> Vec<String> {
    let file = file_record(&indexed(file_name)).expect("a graph input");
    let today = Date::from_ymd(2025, 12, 31).expect("date");
    downstream_with_science(&Graph::mission_yaml(), catalog, &file, today)
        .into_iter()
        .filter(|(product, _)| product.instrument == "swapi")
        .map(|(product, time)| format!("{} {} {}", product.data_level, product.descriptor, time.date.yyyymmdd()))
        .collect()
}

#[test]
fn new_kernels_and_tables_rerun_only_the_swapi_jobs_their_trigger_rules_name() {
    let catalog: MemoryCatalog = [
        "imap_swapi_l0_raw_20240924_v001.pkts",
        "imap_swapi_l1_sci_20240924_v001.0001.cdf",
        "imap_swapi_l2_sci_20240924_v001.0001.cdf",
        "naif0012.tls",
        "imap_sclk_0000.tsc",
    ]
    .into_iter()
    .filter_map(|name| file_record(&indexed(name)))
    .collect();
    // Leapseconds and the clock never trigger SWAPI (`trigger_job: false`).
    assert!(swapi_runs_triggered_by(&catalog, "naif0013.tls").is_empty());
    assert!(swapi_runs_triggered_by(&catalog, "imap_sclk_0001.tsc").is_empty());
    // The predicted ephemeris triggers the L3 jobs, on the one day that has L2 science.
    let ephemeris = swapi_runs_triggered_by(&catalog, "imap_pred_20240901_20241001_v01.bsp");
    assert!(ephemeris.contains(&"l3a alpha-sw 20240924".to_string()), "{ephemeris:?}");
    assert!(ephemeris.iter().all(|run| run.starts_with("l3") && run.ends_with(" 20240924")), "{ephemeris:?}");
    // All three L3A jobs read the proton table; only proton-sw is triggered by it.
    let proton_table = "imap_swapi_proton-density-temperature-lut_20240101_v003.csv";
    assert_eq!(swapi_runs_triggered_by(&catalog, proton_table), ["l3a proton-sw 20240924"]);
    // The L2 tables trigger L2, on the day with L1 science only.
    let conversion = swapi_runs_triggered_by(&catalog, "imap_swapi_esa-unit-conversion_20240101_v002.csv");
    assert_eq!(conversion, ["l2 sci 20240924"]);
}

#[test]
fn a_new_planetary_ephemeris_wakes_only_the_maps_with_science() {
    // Undated, so valid since 1970: unnarrowed, it triggers every season map since then.
    let kernel = file_record(&indexed("de441.bsp")).expect("a kernel");
    let today = Date::from_ymd(2026, 12, 3).expect("date");
    let graph = Graph::mission_yaml();
    assert!(graph.downstream(&kernel, today).len() > 5000);
    let nothing_to_map: MemoryCatalog = ["imap_swapi_l2_sci_20240924_v001.0001.cdf"]
        .into_iter()
        .filter_map(|name| file_record(&indexed(name)))
        .collect();
    assert!(downstream_with_science(&graph, &nothing_to_map, &kernel, today).is_empty());
    // One pointing set of the 45° sensor: the 45° maps of the seasons holding it run, nothing else.
    let one_pointing: MemoryCatalog = ["imap_hi_l1c_45sensor-pset_20250520-repoint00010_v001.cdf"]
        .into_iter()
        .filter_map(|name| file_record(&indexed(name)))
        .collect();
    let runs = downstream_with_science(&graph, &one_pointing, &kernel, today);
    assert!(!runs.is_empty());
    for (product, time) in &runs {
        assert!(product.descriptor.starts_with("h45-"), "{product}");
        let season = graph.product(product).expect("a job").cadence.period(time.date);
        assert!(season.contains(Date::from_ymd(2025, 5, 20).expect("date")), "{product} {season}");
    }
}
