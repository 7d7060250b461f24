//! Shared by the real-data tests: where the mission's L0 files are, and their L1A.

// Each test target uses some of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use imap_filename::Date;
use imap_filename::ImapFileName;
use processor::science::level0::DecodeLevel0;
use processor::science::{Algorithm, InputFile, JobContext, ProductOutput};
use proto::pb::{FileRecord, ProductKey};

/// The folder of the mission's data as the build script found it; empty without
/// `cfg(has_mission_data)`.
const MISSION_DATA: &str = match option_env!("MISSION_DATA_DIR") {
    Some(folder) => folder,
    None => "",
};

/// The mission's L0 files.
pub fn mission_l0_dir() -> PathBuf {
    assert!(!MISSION_DATA.is_empty(), "the build script found no mission data (shared/data, or set IMAP_SHARED_DIR)");
    Path::new(MISSION_DATA).join("l0")
}

pub fn job(instrument: &str, level: &str, descriptor: &str, date: &str) -> JobContext {
    let product = ProductKey { instrument: instrument.into(), data_level: level.into(), descriptor: descriptor.into() };
    let date = Date::parse_yyyymmdd(date).expect("valid date");
    JobContext::new("real-data".into(), product, date, None, "v001".into(), Arc::new(AtomicBool::new(false)))
}

/// An input named `archive_name` (a mission name) holding `bytes`.
pub fn input(archive_name: &str, bytes: Vec<u8>) -> InputFile {
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

pub struct RealFile {
    pub packets: &'static str,
    /// The name the file has in the archive (MAG's test file has no mission name).
    pub archive_name: &'static str,
    pub instrument: &'static str,
    pub level: &'static str,
    pub descriptor: &'static str,
    pub date: &'static str,
    pub expected_outputs: &'static [&'static str],
}

pub const REAL_FILES: [RealFile; 3] = [
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

/// The packet bytes of a real file and its L1A outputs, decoded with the built-in definitions.
pub fn real_l1a(file: &RealFile) -> (Vec<u8>, Vec<ProductOutput>) {
    let bytes = std::fs::read(mission_l0_dir().join(file.packets)).expect("packet file reads");
    let decoder = DecodeLevel0::new(None, BTreeMap::new());
    let context = job(file.instrument, file.level, file.descriptor, file.date);
    let outputs = decoder
        .run(&context, &[input(file.archive_name, bytes.clone())])
        .unwrap_or_else(|error| panic!("{}: {error}", file.packets));
    (bytes, outputs)
}
