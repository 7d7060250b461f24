//! L1A and the levels above on the mission's real packet files (SWAPI, MAG, CoDICE), with
//! the definitions shipped in `deploy/xtce`. Skipped, saying so, when `shared/data` is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use imap_filename::Date;
use imap_filename::ImapFileName;
use processor::science::level0::{DecodeLevel0, column_values};
use processor::science::series::TimeSeries;
use processor::science::{Algorithm, InputFile, JobContext, ProductOutput, Registry};
use processor::xtce::PacketDefinition;
use proto::pb::{FileRecord, ProductKey};

fn shared_l0_dir() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|ancestor| ancestor.join("shared/data/l0"))
        .find(|candidate| candidate.is_dir())
}

fn deployed_xtce_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/xtce")
}

fn job(instrument: &str, level: &str, descriptor: &str, date: &str) -> JobContext {
    let product = ProductKey { instrument: instrument.into(), data_level: level.into(), descriptor: descriptor.into() };
    let date = Date::parse_yyyymmdd(date).expect("valid date");
    JobContext::new("real-data".into(), product, date, None, "v001".into(), Arc::new(AtomicBool::new(false)))
}

/// An input named `archive_name` (a mission name) holding `bytes`.
fn input(archive_name: &str, bytes: Vec<u8>) -> InputFile {
    let parsed = ImapFileName::parse(archive_name).expect("mission name");
    let record = FileRecord {
        file_name: archive_name.into(),
        kind: proto::pb::FileKind::Science.into(),
        instrument: parsed.instrument().unwrap_or_default().into(),
        data_level: parsed.data_level().unwrap_or_default().into(),
        descriptor: parsed.descriptor().unwrap_or_default().into(),
        start_date: parsed.start_date().map(|date| date.yyyymmdd()).unwrap_or_default(),
        extension: parsed.extension().into(),
        ..FileRecord::default()
    };
    InputFile { record, bytes }
}

struct RealFile {
    packets: &'static str,
    /// The name the file has in the archive (MAG's test file has no mission name).
    archive_name: &'static str,
    instrument: &'static str,
    level: &'static str,
    descriptor: &'static str,
    date: &'static str,
    expected_outputs: &'static [&'static str],
}

const REAL_FILES: [RealFile; 3] = [
    RealFile {
        packets: "imap_swapi_l0_raw_20240924_v001.pkts",
        archive_name: "imap_swapi_l0_raw_20240924_v001.pkts",
        instrument: "swapi",
        level: "l1",
        descriptor: "all",
        date: "20240924",
        expected_outputs: &["aut", "hk", "sci"],
    },
    RealFile {
        packets: "mag_l0_test_data.pkts",
        archive_name: "imap_mag_l0_raw_20231025_v001.pkts",
        instrument: "mag",
        level: "l1a",
        descriptor: "all",
        date: "20231025",
        expected_outputs: &["burst-magi", "burst-mago", "burst-raw", "norm-magi", "norm-mago", "norm-raw"],
    },
    RealFile {
        packets: "imap_codice_l0_hskp_20100101_v001.pkts",
        archive_name: "imap_codice_l0_hskp_20100101_v001.pkts",
        instrument: "codice",
        level: "l1a",
        descriptor: "hskp",
        date: "20100101",
        expected_outputs: &["hskp"],
    },
];

fn run_l1a(l0: &Path, file: &RealFile) -> (Vec<u8>, Vec<ProductOutput>) {
    let bytes = std::fs::read(l0.join(file.packets)).expect("packet file reads");
    let decoder = DecodeLevel0::new(deployed_xtce_dir(), BTreeMap::new());
    let context = job(file.instrument, file.level, file.descriptor, file.date);
    let outputs = decoder
        .run(&context, &[input(file.archive_name, bytes.clone())])
        .unwrap_or_else(|error| panic!("{}: {error}", file.packets));
    (bytes, outputs)
}

/// The L1A outputs of one real file, or `None` (saying so) when shared/data is absent.
fn real_l1a(file: &RealFile) -> Option<(Vec<u8>, Vec<ProductOutput>)> {
    let Some(l0) = shared_l0_dir() else {
        println!("skipped: shared/data not found");
        return None;
    };
    Some(run_l1a(&l0, file))
}

#[test]
fn real_level0_files_round_trip_through_l1a_cdf() {
    let Some(l0) = shared_l0_dir() else {
        println!("skipped: shared/data not found");
        return;
    };
    for file in &REAL_FILES {
        let (bytes, outputs) = run_l1a(&l0, file);
        let mut descriptors: Vec<&str> = outputs.iter().map(|output| output.descriptor.as_str()).collect();
        descriptors.sort();
        assert_eq!(descriptors, file.expected_outputs, "{}", file.packets);

        let definition = PacketDefinition::from_xtce_file(deployed_xtce_dir().join(format!("{}.xml", file.instrument)))
            .expect("loads");
        let decoded = definition.decode(&bytes);
        let mut records = BTreeMap::new();
        for output in &outputs {
            let series = TimeSeries::from_cdf_bytes(&output.bytes, &output.descriptor).expect("reads back");
            let Some(apid_variable) = series.variable("PKT_APID") else {
                continue; // a product made from the packets (the MAG sensors' vectors), tested below
            };
            let apids = processor::science::series::to_numbers(&apid_variable.values).expect("numbers");
            let apid = apids[0] as u16;
            assert!(
                apids.iter().all(|&other| other as u16 == apid),
                "{} {}: one apid per output",
                file.packets,
                output.descriptor
            );
            let groups: Vec<_> =
                decoded.groups.iter().filter(|group| group.apid == apid && group.field("SHCOARSE").is_some()).collect();
            assert_eq!(groups.len(), 1, "{} {}: one layout for apid {apid}", file.packets, output.descriptor);
            let group = groups[0];
            for field in &group.fields {
                let variable =
                    series.variable(&field.name).unwrap_or_else(|| panic!("{} {}", output.descriptor, field.name));
                assert_eq!(
                    variable.values,
                    column_values(&field.raw).0,
                    "{} {} {}",
                    file.packets,
                    output.descriptor,
                    field.name
                );
                if let Some(derived) = &field.derived {
                    let derived_variable =
                        series.variable(&format!("{}_DERIVED", field.name)).expect("derived variable");
                    assert_eq!(derived_variable.values, column_values(derived).0);
                }
            }
            records.insert(apid, series.len());
        }
        let timed_packets: usize =
            decoded.groups.iter().filter(|group| group.field("SHCOARSE").is_some()).map(|group| group.len()).sum();
        assert_eq!(
            records.values().sum::<usize>(),
            timed_packets,
            "{}: every timed packet is in an output",
            file.packets
        );
        let untimed = decoded.packet_count() - timed_packets;
        for group in decoded.groups.iter().filter(|group| group.field("SHCOARSE").is_none()) {
            let reported = format!("{} packets of apid {} match no container", group.len(), group.apid);
            assert!(
                outputs.iter().all(|output| output.notes.iter().any(|note| note.contains(&reported))),
                "{}: {reported}",
                file.packets
            );
        }
        println!(
            "{}: {} packets, {timed_packets} written to {:?}, {untimed} reported",
            file.packets,
            decoded.packet_count(),
            file.expected_outputs
        );
    }
}

/// The values cdflib (the mission's CDF library for Python) reads from a file.
fn cdflib_reads(path: &Path, variable: &str) -> Option<serde_json::Value> {
    let script = format!(
        "import cdflib, json, sys\nf = cdflib.CDF(sys.argv[1])\nprint(json.dumps({{'epoch': [int(x) for x in f.varget('epoch')], 'values': [int(x) for x in f.varget('{variable}')], \
         'logical_source': f.globalattsget()['Logical_source'], 'units': f.varattsget('epoch')['UNITS']}}))"
    );
    let output = Command::new("python3").args(["-c", &script, &path.display().to_string()]).output().ok()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("No module named"), "cdflib failed: {stderr}");
        return None;
    }
    Some(serde_json::from_slice(&output.stdout).expect("json from the script"))
}

#[test]
fn cdflib_reads_the_real_swapi_l1_science_file() {
    let Some((_, outputs)) = real_l1a(&REAL_FILES[0]) else { return };
    let science = outputs.iter().find(|output| output.descriptor == "sci").expect("sci output");
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("imap_swapi_l1_sci_20240924_v001.cdf");
    std::fs::write(&path, &science.bytes).expect("writes");
    let Some(read) = cdflib_reads(&path, "SHCOARSE") else {
        println!("skipped: python3 with cdflib not available");
        return;
    };
    let ours = TimeSeries::from_cdf_bytes(&science.bytes, "sci").expect("reads");
    let shcoarse =
        processor::science::series::to_numbers(&ours.variable("SHCOARSE").expect("met").values).expect("numbers");
    assert_eq!(read["epoch"], serde_json::json!(ours.epoch));
    assert_eq!(read["values"], serde_json::json!(shcoarse.iter().map(|&met| met as i64).collect::<Vec<_>>()));
    assert_eq!(read["logical_source"], serde_json::json!(["imap_swapi_l1_sci"]));
}

#[test]
fn real_swapi_science_flows_from_l1_to_l3() {
    let Some((_, outputs)) = real_l1a(&REAL_FILES[0]) else { return };
    let science = outputs.into_iter().find(|output| output.descriptor == "sci").expect("sci output");
    let registry = Registry::builtin();
    let run = |level: &str, descriptor: &str, inputs: &[InputFile]| -> Vec<ProductOutput> {
        let context = job("swapi", level, descriptor, "20240924");
        registry
            .select(&context.product)
            .expect("algorithm")
            .run(&context, inputs)
            .unwrap_or_else(|error| panic!("{level}: {error}"))
    };
    let l1 = TimeSeries::from_cdf_bytes(&science.bytes, "sci").expect("reads");
    let l2 = run("l2", "sci", &[input("imap_swapi_l1_sci_20240924_v001.cdf", science.bytes)]);
    let l2_series = TimeSeries::from_cdf_bytes(&l2[0].bytes, "l2").expect("reads");
    let counts = processor::science::series::to_numbers(&l2_series.variable("record_count").expect("counts").values)
        .expect("numbers");
    assert_eq!(counts.iter().sum::<f64>() as usize, l1.len(), "every l1 record is in one l2 bin");
    let l3 = run("l3a", "proton-sw", &[input("imap_swapi_l2_sci_20240924_v001.cdf", l2[0].bytes.clone())]);
    let l3_series = TimeSeries::from_cdf_bytes(&l3[0].bytes, "l3").expect("reads");
    let l3_counts = processor::science::series::to_numbers(&l3_series.variable("record_count").expect("counts").values)
        .expect("numbers");
    assert_eq!(l3_counts.iter().sum::<f64>() as usize, l1.len(), "l3 bins count the l1 records they stand for");
}

#[test]
fn real_mag_packets_split_into_each_sensors_vectors() {
    let Some((_, outputs)) = real_l1a(&REAL_FILES[1]) else { return };
    let series = |descriptor: &str| {
        let output = outputs.iter().find(|output| output.descriptor == descriptor).expect("output");
        TimeSeries::from_cdf_bytes(&output.bytes, descriptor).expect("reads")
    };
    // 19 burst packets of 4 s at 64 (MAGo, primary) and 8 (MAGi) vectors/s; 17 normal
    // packets of 8 s at 2 vectors/s each.
    for (descriptor, packets, vectors) in [
        ("burst-mago", 19, 19 * 4 * 64),
        ("burst-magi", 19, 19 * 4 * 8),
        ("norm-mago", 17, 17 * 8 * 2),
        ("norm-magi", 17, 17 * 8 * 2),
    ] {
        let sensor = series(descriptor);
        assert_eq!(sensor.len(), vectors, "{descriptor}");
        // Times increase within a packet; this ground-test file's packets sometimes overlap.
        let steps_back = sensor.epoch.windows(2).filter(|pair| pair[0] >= pair[1]).count();
        assert!(steps_back < packets, "{descriptor}: {steps_back} steps back in time");
        let components = processor::science::series::to_numbers(&sensor.variable("vectors").expect("vectors").values)
            .expect("numbers");
        // A real field changes little from one vector to the next: unpacking at the wrong
        // bit offset would make neighbours unrelated.
        let jumps = components
            .chunks(4)
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|pair| (pair[0][0] - pair[1][0]).abs() > 2000.0)
            .count();
        assert!(jumps * 50 < vectors, "{descriptor}: {jumps} large jumps in {vectors} vectors");
    }
}

#[test]
fn real_mag_flows_to_l1d_and_joins_a_swe_l3() {
    let Some((_, l1a)) = real_l1a(&REAL_FILES[1]) else { return };
    let registry = Registry::builtin();
    let date = "20231025";
    let run = |instrument: &str, level: &str, descriptor: &str, inputs: &[InputFile]| -> ProductOutput {
        let context = job(instrument, level, descriptor, date);
        let mut outputs = registry
            .select(&context.product)
            .expect("algorithm")
            .run(&context, inputs)
            .unwrap_or_else(|error| panic!("{level} {descriptor}: {error}"));
        outputs.remove(0)
    };
    let file = |level: &str, descriptor: &str, output: &ProductOutput| {
        input(&format!("imap_mag_{level}_{descriptor}_{date}_v001.cdf"), output.bytes.clone())
    };
    let mut level1c = Vec::new();
    for sensor in ["mago", "magi"] {
        let [norm, burst] = [format!("norm-{sensor}"), format!("burst-{sensor}")].map(|descriptor| {
            let l1a_output = l1a.iter().find(|output| output.descriptor == descriptor).expect("l1a output");
            let l1b = run("mag", "l1b", &descriptor, &[file("l1a", &descriptor, l1a_output)]);
            file("l1b", &descriptor, &l1b)
        });
        let descriptor = format!("norm-{sensor}");
        let l1c = run("mag", "l1c", &descriptor, &[norm, burst]);
        level1c.push(file("l1c", &descriptor, &l1c));
    }
    let l1d = run("mag", "l1d", "norm-dsrf", &level1c);
    let l1d_series = TimeSeries::from_cdf_bytes(&l1d.bytes, "l1d").expect("reads");
    // MAGo's normal and burst vectors merged (one record per time), MAGi joined to them.
    let mut mago_times: Vec<i64> = ["norm-mago", "burst-mago"]
        .iter()
        .flat_map(|descriptor| {
            let output = l1a.iter().find(|output| output.descriptor == *descriptor).expect("l1a output");
            TimeSeries::from_cdf_bytes(&output.bytes, descriptor).expect("reads").epoch
        })
        .collect();
    mago_times.sort_unstable();
    mago_times.dedup();
    assert_eq!(l1d_series.epoch, mago_times, "mago vectors of both modes, one per time");
    assert!(l1d_series.variable("mag_norm_magi_vectors").is_some());

    let swe_times: Vec<i64> = l1d_series.epoch.iter().step_by(100).copied().collect();
    let density = vec![5.0; swe_times.len()];
    let swe_context = job("swe", "l2", "sci", date);
    let swe_series = TimeSeries {
        epoch: swe_times.clone(),
        variables: vec![processor::science::series::SeriesVariable::new(
            "density",
            processor::cdf::Values::Real8(density),
            &[],
        )],
    };
    let swe_bytes =
        swe_series.to_cdf_bytes(processor::science::product_globals(&swe_context, "sci", &[])).expect("writes");
    let swe_l2 = input(&format!("imap_swe_l2_sci_{date}_v001.cdf"), swe_bytes);
    let l3 = run("swe", "l3", "sci", &[swe_l2, input(&format!("imap_mag_l1d_norm-dsrf_{date}_v001.cdf"), l1d.bytes)]);
    let l3_series = TimeSeries::from_cdf_bytes(&l3.bytes, "l3").expect("reads");
    assert_eq!(l3_series.epoch, swe_times);
    let offsets = processor::science::series::to_numbers(
        &l3_series.variable("mag_norm_dsrf_time_offset").expect("offsets").values,
    )
    .expect("numbers");
    assert!(offsets.iter().all(|&offset| offset == 0.0), "each swe time is a mag time here");
}
