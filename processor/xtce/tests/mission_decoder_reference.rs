//! Every field of every packet of the real IMAP files against the values of the mission's
//! decoder (space_packet_parser 5.0.1); ignored, saying why, when the shared data folder is absent.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use xtce::{PacketDefinition, Value};

const FILES: &[(&str, &str)] = &[
    ("imap_swapi_l0_raw_20240924_v001.pkts", "swapi_packet_definition.xml"),
    ("mag_l0_test_data.pkts", "MAG_SCI_COMBINED.xml"),
    ("imap_codice_l0_hskp_20100101_v001.pkts", "P_COD_NHK.xml"),
];

/// The folder of the mission's data as `build.rs` found it; empty without `cfg(has_mission_data)`.
const MISSION_DATA: &str = match option_env!("MISSION_DATA_DIR") {
    Some(folder) => folder,
    None => "",
};

/// The mission's level-0 files and their reference decodings.
fn shared_l0_dir() -> PathBuf {
    assert!(!MISSION_DATA.is_empty(), "build.rs found no shared/data (set IMAP_SHARED_DIR)");
    Path::new(MISSION_DATA).join("l0")
}

fn hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("0x{digits}")
}

fn close(actual: f64, expected: f64) -> bool {
    actual == expected || (actual - expected).abs() <= 1e-12 * actual.abs().max(expected.abs())
}

/// Whether a decoded value equals the reference's JSON value.
fn same(actual: Value, expected: &Json) -> bool {
    match actual {
        Value::U64(value) => expected.as_u64() == Some(value),
        Value::I64(value) => expected.as_i64() == Some(value),
        Value::F64(value) => expected.as_f64().is_some_and(|expected| close(value, expected)),
        Value::Bytes(value) => expected.as_str() == Some(hex(value).as_str()),
        Value::Text(value) | Value::Label(value) => expected.as_str() == Some(value),
    }
}

fn read_lines(path: &Path) -> Vec<serde_json::Map<String, Json>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.lines()
        .map(|line| match serde_json::from_str(line) {
            Ok(Json::Object(map)) => map,
            other => panic!("{}: not a json object: {other:?}", path.display()),
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(has_mission_data),
    ignore = "needs the mission's L0 files (shared/data beside the checkout, or $IMAP_SHARED_DIR/data)"
)]
fn every_field_of_every_packet_matches_the_mission_decoder() {
    let l0 = shared_l0_dir();
    for (packets_file, xtce_file) in FILES {
        let definition = PacketDefinition::from_xtce_file(l0.join(xtce_file)).expect("definition loads");
        let bytes = std::fs::read(l0.join(packets_file)).expect("packet file reads");
        let decoded = definition.decode(&bytes);
        assert!(decoded.problems.is_empty(), "{packets_file}: {:?}", decoded.problems);

        let stem = packets_file.trim_end_matches(".pkts");
        let raw_lines = read_lines(&l0.join("ref").join(stem).join("reference.jsonl"));
        let derived_lines = read_lines(&l0.join("ref").join(stem).join("derived.jsonl"));
        assert_eq!(decoded.packet_count(), raw_lines.len(), "{packets_file}: packet count");
        assert_eq!(derived_lines.len(), raw_lines.len(), "{packets_file}: reference line counts");

        let mut compared = 0;
        let mut mismatches = Vec::new();
        for (index, location) in decoded.order.iter().enumerate() {
            let group = &decoded.groups[location.group as usize];
            let row = location.row as usize;
            let (raw_line, derived_line) = (&raw_lines[index], &derived_lines[index]);
            let names: Vec<&str> = group.fields.iter().map(|field| field.name.as_str()).collect();
            let expected_names: Vec<&str> = raw_line.keys().map(String::as_str).collect();
            assert_eq!(names, expected_names, "{packets_file} packet {index}: field names and order");
            for field in &group.fields {
                let raw = field.raw.get(row).expect("raw value present");
                let derived = field.value_column().get(row).expect("derived value present");
                if !same(raw, &raw_line[&field.name]) {
                    mismatches.push(format!("packet {index} {} raw {raw:?} vs {}", field.name, raw_line[&field.name]));
                }
                if !same(derived, &derived_line[&field.name]) {
                    let expected = &derived_line[&field.name];
                    mismatches.push(format!("packet {index} {} derived {derived:?} vs {expected}", field.name));
                }
                compared += 2;
            }
        }
        assert!(
            mismatches.is_empty(),
            "{packets_file}: {} mismatches, first: {:?}",
            mismatches.len(),
            &mismatches[..mismatches.len().min(5)]
        );
        println!("{packets_file}: {} packets, {compared} values match", decoded.packet_count());
    }
}
