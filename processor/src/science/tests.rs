//! The built-in science on inputs built by the tests: L0 -> L1A -> L1B -> L2 -> L3.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use proto::pb::ProductKey;

use super::average::{TimeAverage, average};
use super::calibrate::Calibrate;
use super::combine::{NearestTimeJoin, TimeMerge, nearest_records};
use super::fixture::{
    TOY_XTCE, housekeeping_packet, input, job, met_of_job_day, science_packet, swapi_housekeeping_packet,
    swapi_science_packet, temp_dir,
};
use super::level0::{DecodeLevel0, column_values};
use super::series::{REAL_FILL, SeriesVariable, TimeSeries, VariableKinds};
use super::{Algorithm, InputFile, ProductOutput, Registry, ScienceError, product_globals};
use nasa_cdf::{Cdf, Values};
use tempfile::TempDir;
use xtce::PacketDefinition;

use crate::config::{BuiltinScience, ProcessorConfig};
use crate::mission::met_to_tt2000;

/// Three science packets, two housekeeping packets, then a truncated packet.
fn toy_packets() -> Vec<u8> {
    let met = met_of_job_day();
    let mut bytes = Vec::new();
    bytes.extend(science_packet(0, met + 10, 100, 0, -5, [1, 2]));
    bytes.extend(housekeeping_packet(0, met + 11, 28_000));
    bytes.extend(science_packet(1, met + 20, 120, 1, 7, [3, 4]));
    bytes.extend(science_packet(2, met + 80, 140, 1, -9, [5, 6]));
    bytes.extend(housekeeping_packet(1, met + 81, 28_100));
    let truncated = science_packet(3, met + 90, 1, 1, 1, [0, 0]);
    bytes.extend_from_slice(&truncated[..9]);
    bytes
}

fn toy_decoder(folder: &TempDir) -> DecodeLevel0 {
    std::fs::write(folder.path().join("swe.xml"), TOY_XTCE).expect("writes definition");
    let table = BTreeMap::from([(100, vec!["sci".to_string()]), (200, vec!["hk".to_string()])]);
    DecodeLevel0::new(Some(folder.path().to_path_buf()), BTreeMap::from([("swe".to_string(), table)]))
}

const TOY_L0: &str = "imap_swe_l0_raw_20250101_v001.pkts";

fn run_l1a(folder: &TempDir) -> Vec<ProductOutput> {
    let (context, _) = job("swe", "l1a", "all");
    toy_decoder(folder).run(&context, &[input(TOY_L0, toy_packets())]).expect("l1a runs")
}

fn output<'a>(outputs: &'a [ProductOutput], descriptor: &str) -> &'a ProductOutput {
    outputs.iter().find(|output| output.descriptor == descriptor).unwrap_or_else(|| panic!("an output {descriptor}"))
}

fn series_of(output: &ProductOutput) -> TimeSeries {
    TimeSeries::from_cdf_bytes(&output.bytes, &output.descriptor).expect("reads back")
}

fn numbers(series: &TimeSeries, name: &str) -> Vec<f64> {
    super::series::to_numbers(&series.variable(name).unwrap_or_else(|| panic!("variable {name}")).values)
        .expect("numeric")
}

fn global_texts(bytes: &[u8], name: &str) -> Vec<String> {
    let cdf = Cdf::from_bytes(bytes).expect("reads cdf");
    let attribute = cdf.global_attribute(name).unwrap_or_else(|| panic!("global attribute {name}"));
    attribute.entries.iter().filter_map(|entry| entry.as_text()).collect()
}

#[test]
fn l1a_round_trip_equals_the_decoded_values_of_every_field() {
    let folder = temp_dir("l1a");
    let outputs = run_l1a(&folder);
    let mut descriptors: Vec<&str> = outputs.iter().map(|output| output.descriptor.as_str()).collect();
    descriptors.sort();
    assert_eq!(descriptors, ["hk", "sci"]);

    let decoded = PacketDefinition::from_xtce_str(TOY_XTCE).expect("loads").decode(&toy_packets());
    for (apid, descriptor) in [(100, "sci"), (200, "hk")] {
        let group = decoded.groups_for_apid(apid).next().expect("group");
        let series = series_of(output(&outputs, descriptor));
        let met = match &group.field("SHCOARSE").expect("met").raw {
            xtce::Column::U64(values) => values.clone(),
            other => panic!("met is unsigned, not {other:?}"),
        };
        assert_eq!(series.epoch, met.iter().map(|&met| met_to_tt2000(met as f64)).collect::<Vec<_>>());
        for field in &group.fields {
            let (values, dims, _) = column_values(&field.raw);
            let variable = series.variable(&field.name).unwrap_or_else(|| panic!("variable {}", field.name));
            assert_eq!((&variable.values, &variable.dims), (&values, &dims), "field {}", field.name);
            if let Some(derived) = &field.derived {
                let variable = series.variable(&format!("{}_DERIVED", field.name)).expect("derived variable");
                assert_eq!(variable.values, column_values(derived).0, "derived {}", field.name);
            }
        }
    }
    let science = series_of(output(&outputs, "sci"));
    assert_eq!(science.variable("TEMP_DERIVED").expect("temp").values, Values::Real8(vec![40.0, 50.0, 60.0]));
    assert_eq!(
        science.variable("MODE_DERIVED").expect("mode").values,
        Values::Char(vec!["IDLE".into(), "SCIENCE".into(), "SCIENCE".into()])
    );
    assert_eq!(science.variable("BLOB").expect("blob").values, Values::UInt1(vec![1, 2, 3, 4, 5, 6]));
}

#[test]
fn l1a_reports_corrupt_packets_and_keeps_the_good_ones() {
    let folder = temp_dir("l1a-corrupt");
    let outputs = run_l1a(&folder);
    let science = output(&outputs, "sci");
    assert_eq!(series_of(science).len(), 3);
    let problems = global_texts(&science.bytes, "Packet_problems");
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains(TOY_L0) && problems[0].contains("byte 75"), "{problems:?}");
    assert_eq!(global_texts(&science.bytes, "Packet_problem_count"), ["1"]);
    assert_eq!(science.notes, problems);
    assert_eq!(global_texts(&science.bytes, "Parents"), [TOY_L0]);
    assert_eq!(global_texts(&science.bytes, "Logical_source"), ["imap_swe_l1a_sci"]);
}

#[test]
fn l1a_without_a_definition_names_the_instrument_and_path() {
    let folder = temp_dir("l1a-missing");
    let decoder = DecodeLevel0::new(Some(folder.path().to_path_buf()), BTreeMap::new());
    let (context, _) = job("hit", "l1a", "all");
    let error =
        decoder.run(&context, &[input("imap_hit_l0_raw_20250101_v001.pkts", toy_packets())]).err().expect("fails");
    let message = error.to_string();
    assert!(matches!(error, ScienceError::MissingDefinition { .. }), "{message}");
    assert!(
        message.contains("hit") && message.contains(&folder.path().join("hit.xml").display().to_string()),
        "{message}"
    );
    assert!(message.contains("none is built in (built in: codice, mag, swapi)"), "{message}");
}

/// Ten SWAPI science packets a second apart on the job's day.
fn swapi_packets() -> Vec<u8> {
    (0..10).flat_map(|counter| swapi_science_packet(counter, met_of_job_day() + u32::from(counter))).collect()
}

#[test]
fn swapi_l1_decodes_with_the_built_in_definition_when_no_folder_is_configured() {
    let decoder = DecodeLevel0::new(None, BTreeMap::new());
    let (context, _) = job("swapi", "l1", "all");
    let outputs =
        decoder.run(&context, &[input("imap_swapi_l0_raw_20250101_v001.pkts", swapi_packets())]).expect("decodes");
    assert_eq!(outputs.iter().map(|output| output.descriptor.as_str()).collect::<Vec<_>>(), ["sci"]);
    let science = series_of(&outputs[0]);
    assert_eq!(science.len(), 10);
    assert_eq!(numbers(&science, "SHCOARSE")[9], f64::from(met_of_job_day() + 9));
    assert!(science.variable("MODE_DERIVED").is_some(), "the built-in definition's enumeration is applied");
}

#[test]
fn the_mission_graphs_swapi_l1_jobs_write_the_missions_names_and_never_rename_packets() {
    let decoder = DecodeLevel0::new(None, BTreeMap::new());
    let met = met_of_job_day();
    let both: Vec<u8> = (0..5)
        .flat_map(|counter| [swapi_science_packet(counter, met), swapi_housekeeping_packet(counter, met)].concat())
        .collect();
    let raw = "imap_swapi_l0_raw_20250101_v001.pkts";
    // The mission names SWAPI housekeeping an L1A product and its science L1.
    let (context, _) = job("swapi", "l1", "hk");
    let outputs = decoder.run(&context, &[input(raw, both.clone())]).expect("decodes");
    let made: Vec<(Option<&str>, &str)> =
        outputs.iter().map(|output| (output.data_level.as_deref(), output.descriptor.as_str())).collect();
    assert_eq!(made, [(Some("l1a"), "hk")]);
    assert_eq!(global_texts(&outputs[0].bytes, "Logical_source"), ["imap_swapi_l1a_hk"]);
    let (context, _) = job("swapi", "l1", "sci");
    let outputs = decoder.run(&context, &[input(raw, both)]).expect("decodes");
    let made: Vec<(Option<&str>, &str)> =
        outputs.iter().map(|output| (output.data_level.as_deref(), output.descriptor.as_str())).collect();
    assert_eq!(made, [(None, "sci")]);

    // A raw file without housekeeping gives the hk job nothing: its science is not renamed.
    let (context, _) = job("swapi", "l1", "hk");
    let message = decoder.run(&context, &[input(raw, swapi_packets())]).err().expect("no hk packets").to_string();
    assert!(message.contains("no apid maps to descriptor hk"), "{message}");
}

#[test]
fn decoders_only_leaves_every_level_above_l1a_to_configured_programs() {
    let config = ProcessorConfig { builtin_science: Some(BuiltinScience::Decoders), ..ProcessorConfig::default() };
    let registry = Registry::from_config(&config).expect("registry");
    let product = |instrument: &str, level: &str, descriptor: &str| ProductKey {
        instrument: instrument.into(),
        data_level: level.into(),
        descriptor: descriptor.into(),
    };
    for made in [product("mag", "l1a", "all"), product("swapi", "l1", "hk"), product("codice", "l1a", "all")] {
        assert_eq!(
            registry.select(&made).map(|algorithm| algorithm.name().to_string()).as_deref(),
            Some("xtce-decode-l1a")
        );
    }
    for left in
        [product("mag", "l1b", "norm-mago"), product("swapi", "l2", "sci"), product("hi", "l1c", "45sensor-pset")]
    {
        assert!(registry.select(&left).is_none(), "{left:?} is not the built-in science's to make");
    }
    let everything = Registry::from_config(&ProcessorConfig::default()).expect("registry");
    assert!(everything.select(&product("swapi", "l2", "sci")).is_some(), "the project graph's L2 is built in");
}

#[test]
fn a_definition_in_the_configured_folder_wins_for_its_instrument_only() {
    let folder = temp_dir("l1a-override");
    // The folder's swapi.xml is the toy definition, so swapi packets are read as toy packets.
    std::fs::write(folder.path().join("swapi.xml"), TOY_XTCE).expect("writes definition");
    let decoder = DecodeLevel0::new(Some(folder.path().to_path_buf()), BTreeMap::new());
    let (context, _) = job("swapi", "l1", "all");
    let outputs = decoder.run(&context, &[input("imap_swapi_l0_raw_20250101_v001.pkts", toy_packets())]).expect("runs");
    let mut descriptors: Vec<&str> = outputs.iter().map(|output| output.descriptor.as_str()).collect();
    descriptors.sort();
    assert_eq!(descriptors, ["hk", "sci"], "apids 100 and 200 exist only in the folder's definition");
    // MAG has no file there: its built-in definition is used.
    let (context, _) = job("mag", "l1a", "all");
    let error = decoder.run(&context, &[input("imap_mag_l0_raw_20250101_v001.pkts", toy_packets())]).err();
    let message = error.expect("toy packets are not mag packets").to_string();
    assert!(message.contains("no packet matches a container with SHCOARSE"), "{message}");
}

#[test]
fn a_broken_definition_in_the_folder_is_reported_not_replaced_by_the_built_in_one() {
    let folder = temp_dir("l1a-broken");
    std::fs::write(folder.path().join("swapi.xml"), "<xtce:SpaceSystem").expect("writes definition");
    let decoder = DecodeLevel0::new(Some(folder.path().to_path_buf()), BTreeMap::new());
    let (context, _) = job("swapi", "l1", "all");
    let error = decoder.run(&context, &[input("imap_swapi_l0_raw_20250101_v001.pkts", swapi_packets())]).err();
    let message = error.expect("the broken file is used").to_string();
    let path = folder.path().join("swapi.xml").display().to_string();
    assert!(message.starts_with(&format!("xtce packet definition {path} is unusable")), "{message}");
}

#[test]
fn l1a_of_garbage_is_a_bad_input_error() {
    let folder = temp_dir("l1a-garbage");
    let (context, _) = job("swe", "l1a", "all");
    let error = toy_decoder(&folder).run(&context, &[input(TOY_L0, vec![0xFF; 4])]).err().expect("fails");
    assert!(matches!(&error, ScienceError::BadInput { file, .. } if file == TOY_L0), "{error}");
}

#[test]
fn l1a_for_one_descriptor_writes_only_that_one_and_unlisted_apids_are_named_by_container() {
    let folder = temp_dir("l1a-one");
    let (context, _) = job("swe", "l1a", "sci");
    let outputs = toy_decoder(&folder).run(&context, &[input(TOY_L0, toy_packets())]).expect("runs");
    assert_eq!(outputs.iter().map(|output| output.descriptor.as_str()).collect::<Vec<_>>(), ["sci"]);

    std::fs::write(folder.path().join("glows.xml"), TOY_XTCE).expect("writes");
    let (context, _) = job("glows", "l1a", "all");
    let decoder = DecodeLevel0::new(Some(folder.path().to_path_buf()), BTreeMap::new());
    let outputs = decoder.run(&context, &[input("imap_glows_l0_raw_20250101_v001.pkts", toy_packets())]).expect("runs");
    let mut descriptors: Vec<&str> = outputs.iter().map(|output| output.descriptor.as_str()).collect();
    descriptors.sort();
    assert_eq!(descriptors, ["hk", "sci"]);
}

#[test]
fn apids_without_a_usable_container_word_get_apid_names() {
    let decoder = DecodeLevel0::new(None, BTreeMap::new());
    let containers = BTreeMap::from([
        (1, "A_SCI".to_string()),
        (2, "B_SCI".to_string()),
        (3, "X_1A".to_string()),
        (4, "P_SWP_HK".to_string()),
        (1188, "P_SWP_SCI".to_string()),
    ]);
    let descriptors = decoder.descriptors_by_apid("swapi", &containers);
    let names: Vec<&str> = descriptors.values().map(|names| names[0].as_str()).collect();
    assert_eq!(names, ["apid1", "apid2", "apid3", "hk", "sci"]);
}

#[test]
fn cancelled_jobs_stop() {
    let folder = temp_dir("l1a-cancel");
    let (context, cancelled) = job("swe", "l1a", "all");
    cancelled.store(true, Ordering::Relaxed);
    let error = toy_decoder(&folder).run(&context, &[input(TOY_L0, toy_packets())]).err().expect("fails");
    assert!(matches!(error, ScienceError::Cancelled));
}

/// The L1A science file as the input of the next level.
fn l1a_science_input(folder: &TempDir) -> InputFile {
    input("imap_swe_l1a_sci_20250101_v001.cdf", output(&run_l1a(folder), "sci").bytes.clone())
}

#[test]
fn l1b_applies_calibration_and_enumerations() {
    let folder = temp_dir("l1b");
    let (context, _) = job("swe", "l1b", "sci");
    let outputs = Calibrate.run(&context, &[l1a_science_input(&folder)]).expect("l1b runs");
    let series = series_of(&outputs[0]);
    assert_eq!(series.variable("TEMP").expect("temp").values, Values::Real8(vec![40.0, 50.0, 60.0]));
    assert_eq!(
        series.variable("MODE").expect("mode").values,
        Values::Char(vec!["IDLE".into(), "SCIENCE".into(), "SCIENCE".into()])
    );
    assert_eq!(series.variable("OFFSET").expect("offset").values, Values::Int8(vec![-5, 7, -9]));
    assert!(series.variables.iter().all(|variable| !variable.name.ends_with("_DERIVED")));
    assert_eq!(global_texts(&outputs[0].bytes, "Calibrated_fields"), ["2"]);
}

fn seconds(series_start: i64, offsets: &[i64]) -> Vec<i64> {
    offsets.iter().map(|offset| series_start + offset * 1_000_000_000).collect()
}

#[test]
fn averages_ignore_fill_and_count_what_they_used() {
    let start = 1_000_000_000_000;
    let mut value = SeriesVariable::new("V", Values::Real8(vec![1.0, 3.0, -1.0e31, 5.0]), &[]);
    value.fill = Some(-1.0e31);
    let pair = SeriesVariable::new("PAIR", Values::UInt2(vec![1, 10, 3, 30, 5, 50, 7, 70]), &[2]);
    let text = SeriesVariable::new("LABEL", Values::Char(vec!["a".into(); 4]), &[]);
    let series = TimeSeries { epoch: seconds(start, &[0, 10, 20, 70]), variables: vec![value, pair, text] };
    let averaged = average(&series, start, 60_000_000_000);
    assert_eq!(averaged.epoch, seconds(start, &[30, 90]));
    assert_eq!(numbers(&averaged, "record_count"), [3.0, 1.0]);
    assert_eq!(numbers(&averaged, "V"), [2.0, 5.0]);
    assert_eq!(numbers(&averaged, "V_COUNT"), [2.0, 1.0]);
    assert_eq!(numbers(&averaged, "PAIR"), [3.0, 30.0, 7.0, 70.0]);
    assert!(averaged.variable("LABEL").is_none());
}

#[test]
fn l2_averages_the_day_at_the_configured_cadence() {
    let folder = temp_dir("l2");
    let (context, _) = job("swe", "l1b", "sci");
    let l1b = Calibrate.run(&context, &[l1a_science_input(&folder)]).expect("l1b");
    let (context, _) = job("swe", "l2", "sci");
    let l1b_input = input("imap_swe_l1b_sci_20250101_v001.cdf", l1b[0].bytes.clone());
    let outputs = TimeAverage::daily(60.0).run(&context, &[l1b_input]).expect("l2 runs");
    let series = series_of(&outputs[0]);
    // Packets at 10 s, 20 s and 80 s after midnight: two one-minute bins.
    assert_eq!(numbers(&series, "record_count"), [2.0, 1.0]);
    assert_eq!(numbers(&series, "TEMP"), [45.0, 60.0]);
    assert_eq!(global_texts(&outputs[0].bytes, "Cadence_seconds"), ["60"]);
}

#[test]
fn an_average_reads_only_numbers_and_comes_out_as_from_the_whole_file() {
    let folder = temp_dir("l2-numeric");
    let (context, _) = job("swe", "l1b", "sci");
    let l1b = Calibrate.run(&context, &[l1a_science_input(&folder)]).expect("l1b");
    let whole = TimeSeries::from_cdf_bytes(&l1b[0].bytes, "l1b").expect("reads");
    let numeric = TimeSeries::from_cdf_bytes_of(&l1b[0].bytes, "l1b", VariableKinds::Numeric).expect("reads");
    assert!(whole.variable("MODE").is_some(), "the input has a text variable");
    assert!(numeric.variable("MODE").is_none(), "text is not read");
    let without_text: Vec<&SeriesVariable> =
        whole.variables.iter().filter(|variable| !matches!(variable.values, Values::Char(_))).collect();
    assert_eq!(numeric.variables.iter().collect::<Vec<_>>(), without_text);
    let origin = midnight(1);
    assert_eq!(average(&numeric, origin, 60_000_000_000), average(&whole, origin, 60_000_000_000));
}

/// A one-variable series file of `instrument level descriptor` on `date`.
fn series_input(name: &str, epoch: Vec<i64>, variable: &str, values: Vec<f64>) -> InputFile {
    let parsed = imap_filename::ImapFileName::parse(name).expect("valid name");
    let (context, _) = job(
        parsed.instrument().expect("instrument"),
        parsed.data_level().expect("level"),
        parsed.descriptor().expect("descriptor"),
    );
    let series = TimeSeries { epoch, variables: vec![SeriesVariable::new(variable, Values::Real8(values), &[])] };
    let globals = product_globals(&context, parsed.descriptor().expect("descriptor"), &[]);
    input(name, series.to_cdf_bytes(globals).expect("writes"))
}

fn midnight(day: u32) -> i64 {
    nasa_cdf::utc_to_tt2000(2025, 1, day, 0, 0, 0, 0).expect("valid time")
}

#[test]
fn l3_multi_day_averages_every_day_of_the_window() {
    let inputs = [
        series_input(
            "imap_swapi_l2_sci_20250101_v001.cdf",
            seconds(midnight(1), &[0, 60]),
            "SPEED",
            vec![400.0, 420.0],
        ),
        series_input(
            "imap_swapi_l2_sci_20250102_v001.cdf",
            seconds(midnight(2), &[0, 60]),
            "SPEED",
            vec![500.0, 540.0],
        ),
    ];
    let (context, _) = job("swapi", "l3b", "combined");
    let outputs = TimeAverage::multi_day(86_400.0).run(&context, &inputs).expect("l3 runs");
    let series = series_of(&outputs[0]);
    assert_eq!(numbers(&series, "SPEED"), [410.0, 520.0]);
    assert_eq!(series.epoch, [midnight(1) + 43_200_000_000_000, midnight(2) + 43_200_000_000_000]);
    assert_eq!(global_texts(&outputs[0].bytes, "Averaged_days"), ["20250101 20250102"]);
    let parents = global_texts(&outputs[0].bytes, "Parents");
    assert_eq!(parents.len(), 2);
}

#[test]
fn nearest_records_respect_the_tolerance() {
    let times = [0, 100, 200];
    assert_eq!(
        nearest_records(&times, &[-500, 40, 60, 150, 260, 900], 60),
        [None, Some(0), Some(1), Some(1), Some(2), None]
    );
}

#[test]
fn l3_joins_swe_with_the_nearest_mag_record() {
    let start = midnight(1);
    let inputs = [
        series_input(
            "imap_swe_l2_sci_20250101_v001.cdf",
            seconds(start, &[0, 60, 600]),
            "DENSITY",
            vec![5.0, 6.0, 7.0],
        ),
        series_input(
            "imap_mag_l1d_norm-dsrf_20250101_v001.cdf",
            seconds(start, &[2, 50, 61]),
            "B_MAG",
            vec![1.0, 2.0, 3.0],
        ),
    ];
    let (context, _) = job("swe", "l3", "sci");
    let outputs = NearestTimeJoin { tolerance_seconds: 30.0, primary_descriptor: None }
        .run(&context, &inputs)
        .expect("join runs");
    let series = series_of(&outputs[0]);
    assert_eq!(numbers(&series, "DENSITY"), [5.0, 6.0, 7.0]);
    assert_eq!(numbers(&series, "mag_norm_dsrf_B_MAG"), [1.0, 3.0, REAL_FILL]);
    assert_eq!(numbers(&series, "mag_norm_dsrf_time_offset"), [2.0, 1.0, REAL_FILL]);
    assert_eq!(global_texts(&outputs[0].bytes, "Joined_sources"), ["mag l1d norm-dsrf"]);

    let alone = NearestTimeJoin { tolerance_seconds: 30.0, primary_descriptor: None }
        .run(&context, &inputs[..1])
        .err()
        .expect("needs two instruments");
    assert!(matches!(alone, ScienceError::MissingInput(_)));
}

#[test]
fn time_merge_orders_records_and_keeps_repeated_times_once() {
    let start = midnight(1);
    let inputs = [
        series_input("imap_mag_l1b_norm-mago_20250101_v001.cdf", seconds(start, &[0, 20]), "B", vec![1.0, 3.0]),
        series_input("imap_mag_l1b_burst-mago_20250101_v001.cdf", seconds(start, &[10, 20]), "B", vec![2.0, 3.0]),
    ];
    let (context, _) = job("mag", "l1c", "norm-mago");
    let outputs = TimeMerge.run(&context, &inputs).expect("merge runs");
    let series = series_of(&outputs[0]);
    assert_eq!(series.epoch, seconds(start, &[0, 10, 20]));
    assert_eq!(numbers(&series, "B"), [1.0, 2.0, 3.0]);
}

fn selected(registry: &Registry, instrument: &str, level: &str, descriptor: &str) -> String {
    let product = ProductKey { instrument: instrument.into(), data_level: level.into(), descriptor: descriptor.into() };
    registry.select(&product).map(|algorithm| algorithm.name().to_string()).unwrap_or_default()
}

#[test]
fn registry_chooses_science_by_level_and_product() {
    let registry = Registry::builtin();
    assert_eq!(selected(&registry, "swapi", "l1", "all"), "xtce-decode-l1a");
    assert_eq!(selected(&registry, "mag", "l1a", "all"), "xtce-decode-l1a");
    assert_eq!(selected(&registry, "mag", "l1b", "norm-mago"), "calibrate-l1b");
    assert_eq!(selected(&registry, "mag", "l1c", "norm-mago"), "time-merge");
    assert_eq!(selected(&registry, "mag", "l1d", "norm-dsrf"), "nearest-time-join");
    assert_eq!(selected(&registry, "idex", "l2a", "sci"), "time-average-l2");
    assert_eq!(selected(&registry, "swapi", "l3a", "proton-sw"), "multi-day-average-l3");
    assert_eq!(selected(&registry, "swe", "l3", "sci"), "nearest-time-join");
    assert_eq!(selected(&registry, "hit", "l3", "macropixel"), "nearest-time-join");
    assert_eq!(selected(&registry, "swe", "spice", "x"), "");
}

#[test]
fn configured_external_programs_win_over_builtin_science() {
    let config: ProcessorConfig = toml::from_str(
        r#"
        l2_cadence = "30s"
        [apid_descriptors.swapi]
        1187 = ["mem"]
        [[external]]
        instrument = "swapi"
        level = "l3*"
        command = ["python3", "make_l3.py", "{input_list}"]
        timeout = "5s"
        "#,
    )
    .expect("config parses");
    assert_eq!(config.apid_descriptors["swapi"][&1187], ["mem"]);
    let dumped = toml::to_string(&config).expect("config prints as toml");
    let reread: ProcessorConfig = toml::from_str(&dumped).expect("printed config parses");
    assert_eq!(reread.apid_descriptors, config.apid_descriptors);
    assert_eq!(config.external[0].descriptor, "*");
    let registry = Registry::from_config(&config).expect("registry");
    assert_eq!(selected(&registry, "swapi", "l3a", "proton-sw"), "external-command");
    assert_eq!(selected(&registry, "swe", "l3a", "x"), "multi-day-average-l3");

    let empty: ProcessorConfig =
        toml::from_str("[[external]]\ninstrument = \"*\"\nlevel = \"*\"\ncommand = []").expect("parses");
    assert!(Registry::from_config(&empty).is_err());
    let zero_cadence = ProcessorConfig { l2_cadence: std::time::Duration::ZERO, ..ProcessorConfig::default() };
    let error = Registry::from_config(&zero_cadence).err().expect("refused");
    assert!(error.to_string().contains("processor.l2_cadence: must be longer than 0s"), "{error}");
}

#[test]
fn every_level_runs_in_sequence_through_the_registry() {
    let folder = temp_dir("chain");
    std::fs::write(folder.path().join("swe.xml"), TOY_XTCE).expect("writes");
    let config = ProcessorConfig { xtce_dir: Some(folder.path().to_path_buf()), ..ProcessorConfig::default() };
    let registry = Registry::from_config(&config).expect("registry");
    let run = |level: &str, descriptor: &str, inputs: &[InputFile]| -> Vec<ProductOutput> {
        let (context, _) = job("swe", level, descriptor);
        let product = context.product.clone();
        registry.select(&product).expect("an algorithm").run(&context, inputs).expect("runs")
    };
    let l1a = run("l1a", "all", &[input(TOY_L0, toy_packets())]);
    let l1a_sci = input("imap_swe_l1a_sci_20250101_v001.cdf", output(&l1a, "sci").bytes.clone());
    let l1b = run("l1b", "sci", &[l1a_sci]);
    let l2 = run("l2", "sci", &[input("imap_swe_l1b_sci_20250101_v001.cdf", l1b[0].bytes.clone())]);
    assert_eq!(numbers(&series_of(&l2[0]), "TEMP"), [45.0, 60.0]);
    let l3 = run("l3a", "sci", &[input("imap_swe_l2_sci_20250101_v001.cdf", l2[0].bytes.clone())]);
    assert_eq!(numbers(&series_of(&l3[0]), "TEMP"), [50.0]);
}

/// What Python's cdflib reads from an L1A file: a few values and ISTP attributes.
fn read_with_cdflib(path: &std::path::Path) -> serde_json::Value {
    let script = r#"
import cdflib, json, sys
f = cdflib.CDF(sys.argv[1])
temp = f.varattsget('TEMP')
print(json.dumps({
    'epoch': [int(x) for x in f.varget('epoch')],
    'temp': [float(x) for x in f.varget('TEMP_DERIVED')],
    'mode': [str(x) for x in f.varget('MODE_DERIVED')],
    'blob_shape': list(f.varget('BLOB').shape),
    'depend_0': temp['DEPEND_0'], 'var_type': temp['VAR_TYPE'], 'catdesc': temp['CATDESC'],
    'parents': f.globalattsget()['Parents'],
    'data_type': f.varinq('TEMP').Data_Type_Description,
}))
"#;
    let output = std::process::Command::new(test_requirements::cdflib_python())
        .args(["-c", script, &path.display().to_string()])
        .output()
        .expect("runs python");
    assert!(output.status.success(), "cdflib failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json")
}

#[test]
#[cfg_attr(not(has_cdflib), ignore = "needs a python3 with cdflib (pip install cdflib==1.3.16, or CDFLIB_PYTHON)")]
fn cdflib_reads_l1a_values_and_istp_attributes() {
    let folder = temp_dir("l1a-cdflib");
    let outputs = run_l1a(&folder);
    let science = output(&outputs, "sci");
    let path = folder.path().join("imap_swe_l1a_sci_20250101_v001.cdf");
    std::fs::write(&path, &science.bytes).expect("writes");
    let read = read_with_cdflib(&path);
    let series = series_of(science);
    assert_eq!(read["epoch"], serde_json::json!(series.epoch));
    assert_eq!(read["temp"], serde_json::json!([40.0, 50.0, 60.0]));
    assert_eq!(read["mode"], serde_json::json!(["IDLE", "SCIENCE", "SCIENCE"]));
    assert_eq!(read["blob_shape"], serde_json::json!([3, 2]));
    assert_eq!(read["depend_0"], "epoch");
    assert_eq!(read["var_type"], "data");
    assert_eq!(read["catdesc"], "TEMP raw value");
    assert_eq!(read["parents"], serde_json::json!([TOY_L0]));
    assert_eq!(read["data_type"], "CDF_UINT4");
}

#[test]
fn l1a_of_several_packet_files_writes_one_time_ordered_file_per_descriptor() {
    let folder = temp_dir("l1a-two-files");
    let met = met_of_job_day();
    let later = [science_packet(0, met + 300, 200, 1, 1, [9, 9]), housekeeping_packet(0, met + 301, 27_000)].concat();
    let inputs = [input("imap_swe_l0_raw_20250101_v002.pkts", later), input(TOY_L0, toy_packets())];
    let (context, _) = job("swe", "l1a", "all");
    let outputs = toy_decoder(&folder).run(&context, &inputs).expect("l1a runs");
    let science = series_of(output(&outputs, "sci"));
    assert_eq!(numbers(&science, "SHCOARSE"), [10.0, 20.0, 80.0, 300.0].map(|offset| f64::from(met) + offset));
    assert_eq!(series_of(output(&outputs, "hk")).len(), 3);
    assert_eq!(global_texts(&output(&outputs, "sci").bytes, "Parents").len(), 2);
}

#[test]
fn averaging_nothing_writes_an_empty_product() {
    let empty =
        TimeSeries { epoch: Vec::new(), variables: vec![SeriesVariable::new("V", Values::Real8(Vec::new()), &[])] };
    let averaged = average(&empty, 0, 60_000_000_000);
    assert!(averaged.is_empty());
    let (context, _) = job("swe", "l2", "sci");
    let bytes = averaged.to_cdf_bytes(product_globals(&context, "sci", &[])).expect("writes");
    assert!(TimeSeries::from_cdf_bytes(&bytes, "empty").expect("reads").is_empty());
}

#[test]
fn bench_reports_packets_per_second_for_a_file() {
    let folder = temp_dir("bench");
    let (packets, definition) = (folder.path().join("toy.pkts"), folder.path().join("toy.xml"));
    std::fs::write(&packets, toy_packets()).expect("writes packets");
    std::fs::write(&definition, TOY_XTCE).expect("writes definition");
    let args: Vec<String> =
        ["decode", &packets.display().to_string(), &definition.display().to_string(), "--repeats", "2"]
            .map(String::from)
            .to_vec();
    let report = super::bench::run_cli(&args).expect("bench runs");
    assert!(
        report.contains("best of 2 runs") && report.contains("toy.pkts: 5 packets (1 undecodable), 84 bytes"),
        "{report}"
    );
    assert!(report.contains("packets/s") && report.contains("MB/s"), "{report}");
    let usage = super::bench::run_cli(&["decode".to_string()]).expect_err("usage");
    assert!(usage.starts_with("usage: imap-sdc bench"), "{usage}");
}

#[test]
fn mag_l1d_puts_both_sensors_on_the_mago_time_base() {
    let start = midnight(1);
    let inputs = [
        series_input("imap_mag_l1c_norm-magi_20250101_v001.cdf", seconds(start, &[0, 2]), "B", vec![10.0, 20.0]),
        series_input("imap_mag_l1c_norm-mago_20250101_v001.cdf", seconds(start, &[1]), "B", vec![1.0]),
    ];
    let (context, _) = job("mag", "l1d", "norm-dsrf");
    let registry = Registry::builtin();
    let outputs = registry.select(&context.product).expect("algorithm").run(&context, &inputs).expect("runs");
    let series = series_of(&outputs[0]);
    assert_eq!(series.epoch, seconds(start, &[1]));
    assert_eq!(numbers(&series, "B"), [1.0]);
    assert_eq!(numbers(&series, "mag_norm_magi_B"), [10.0]);
}

#[test]
fn a_flight_sclk_kernel_times_the_packets() {
    let folder = temp_dir("sclk");
    std::fs::write(folder.path().join("swe.xml"), TOY_XTCE).expect("writes");
    // The clock runs two seconds late from MET 0 on.
    let kernel = "SCLK01_COEFFICIENTS_43 = ( 0 @01-JAN-2010-00:01:08.184000 1.0 )";
    std::fs::write(folder.path().join("imap_sclk_0001.tsc"), kernel).expect("writes");
    let config = ProcessorConfig {
        xtce_dir: Some(folder.path().to_path_buf()),
        sclk_kernel: Some(folder.path().join("imap_sclk_0001.tsc")),
        ..ProcessorConfig::default()
    };
    let registry = Registry::from_config(&config).expect("registry");
    let (context, _) = job("swe", "l1a", "all");
    let outputs = registry
        .select(&context.product)
        .expect("algorithm")
        .run(&context, &[input(TOY_L0, toy_packets())])
        .expect("runs");
    let epoch = series_of(output(&outputs, "hk")).epoch;
    let met = f64::from(met_of_job_day());
    assert_eq!(epoch, [met + 11.0, met + 81.0].map(|met| met_to_tt2000(met) + 2_000_000_000));

    let broken = ProcessorConfig { sclk_kernel: Some(folder.path().join("missing.tsc")), ..ProcessorConfig::default() };
    let error = Registry::from_config(&broken).err().expect("refused");
    assert!(error.to_string().contains("missing.tsc"), "{error}");
}

#[test]
fn concat_joins_parts_in_time_order_widening_integers_and_dropping_variables_a_part_lacks() {
    let part = |epoch: Vec<i64>, counts: Values, only_here: bool| {
        let mut variables = vec![
            SeriesVariable::new("rate", Values::Real8(epoch.iter().map(|&time| time as f64 * 10.0).collect()), &[]),
            SeriesVariable::new("counts", counts, &[]).with_catdesc("counts per bin"),
        ];
        if only_here {
            variables.push(SeriesVariable::new("extra", Values::UInt1(vec![1; epoch.len()]), &[]));
        }
        TimeSeries { epoch, variables }
    };
    let later = part(vec![30, 40], Values::Int2(vec![3, 4]), true);
    let earlier = part(vec![10, 20], Values::Int4(vec![1, 2]), false);
    let joined = TimeSeries::concat(vec![later, earlier]);

    assert_eq!(joined.epoch, [10, 20, 30, 40]);
    assert_eq!(joined.variable("rate").expect("kept").values, Values::Real8(vec![100.0, 200.0, 300.0, 400.0]));
    let counts = joined.variable("counts").expect("kept");
    assert_eq!(counts.values, Values::Int8(vec![1, 2, 3, 4]));
    assert_eq!(counts.catdesc.as_deref(), Some("counts per bin"));
    assert!(joined.variable("extra").is_none(), "only one part has it");

    let in_order = TimeSeries::concat(vec![
        part(vec![1, 2], Values::UInt2(vec![5, 6]), false),
        part(vec![3], Values::UInt2(vec![7]), false),
    ]);
    assert_eq!(in_order.epoch, [1, 2, 3]);
    assert_eq!(in_order.variable("counts").expect("kept").values, Values::UInt2(vec![5, 6, 7]));
}
