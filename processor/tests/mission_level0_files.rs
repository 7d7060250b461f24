//! L1A and the levels above on the mission's real packet files (SWAPI, MAG, CoDICE), with the
//! built-in definitions (the `deploy/xtce` files). Ignored, saying why, when `shared/data` is
//! absent. cdflib's reading of the real SWAPI file is checked in `cdflib_real_swapi.rs`.

mod common;

use std::collections::BTreeMap;

use common::{REAL_FILES, input, job, real_l1a};
use processor::science::level0::{built_in_definition, column_values};
use processor::science::series::TimeSeries;
use processor::science::{InputFile, ProductOutput, Registry};
use xtce::PacketDefinition;

#[test]
#[cfg_attr(
    not(has_mission_data),
    ignore = "needs the mission's L0 files (shared/data beside the checkout, or $IMAP_SHARED_DIR/data)"
)]
fn real_level0_files_round_trip_through_l1a_cdf() {
    for file in &REAL_FILES {
        let (bytes, outputs) = real_l1a(file);
        let mut descriptors: Vec<&str> = outputs.iter().map(|output| output.descriptor.as_str()).collect();
        descriptors.sort();
        assert_eq!(descriptors, file.expected_outputs, "{}", file.packets);

        let xml = built_in_definition(file.instrument).expect("a built-in definition");
        let definition = PacketDefinition::from_xtce_str(xml).expect("loads");
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

#[test]
#[cfg_attr(
    not(has_mission_data),
    ignore = "needs the mission's L0 files (shared/data beside the checkout, or $IMAP_SHARED_DIR/data)"
)]
fn real_swapi_science_flows_from_l1_to_l3() {
    let (_, outputs) = real_l1a(&REAL_FILES[0]);
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
#[cfg_attr(
    not(has_mission_data),
    ignore = "needs the mission's L0 files (shared/data beside the checkout, or $IMAP_SHARED_DIR/data)"
)]
fn real_mag_packets_split_into_each_sensors_vectors() {
    let (_, outputs) = real_l1a(&REAL_FILES[1]);
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
#[cfg_attr(
    not(has_mission_data),
    ignore = "needs the mission's L0 files (shared/data beside the checkout, or $IMAP_SHARED_DIR/data)"
)]
fn real_mag_flows_to_l1d_and_joins_a_swe_l3() {
    let (_, l1a) = real_l1a(&REAL_FILES[1]);
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
            nasa_cdf::Values::Real8(density),
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
