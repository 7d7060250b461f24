//! `imap-sdc bench`: decoder throughput on packet files, and the whole L1A step (decoding
//! plus writing the CDF files) for comparison.
//!
//! - `bench` — every real mission file found under `$IMAP_SHARED_DIR/data/l0` or
//!   `../shared/data/l0` (or `--data DIR`);
//! - `bench decode FILE.pkts XTCE.xml` — one file;
//! - `--repeats N` — best of N runs (default 50).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use xtce::PacketDefinition;

use super::level0::group_to_series;
use crate::mission::{SclkKernel, imap_globals};

/// The real files of shared/data: (packet file, its XTCE definition).
const MISSION_FILES: [(&str, &str); 3] = [
    ("imap_swapi_l0_raw_20240924_v001.pkts", "swapi_packet_definition.xml"),
    ("mag_l0_test_data.pkts", "MAG_SCI_COMBINED.xml"),
    ("imap_codice_l0_hskp_20100101_v001.pkts", "P_COD_NHK.xml"),
];
/// Where the mission files are looked for (after `$IMAP_SHARED_DIR/data/l0`).
const DATA_CANDIDATES: [&str; 3] = ["../shared/data/l0", "shared/data/l0", "/work/shared/data/l0"];
const DEFAULT_REPEATS: usize = 50;
const USAGE: &str = "usage: imap-sdc bench [decode FILE.pkts XTCE.xml] [--data DIR] [--repeats N]";

/// Runs the benchmark described by command-line arguments and returns its report.
pub fn run_cli(args: &[String]) -> Result<String, String> {
    let mut repeats = DEFAULT_REPEATS;
    let mut data_dir: Option<PathBuf> = None;
    let mut positional = Vec::new();
    let mut arguments = args.iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--repeats" => {
                let value = arguments.next().ok_or(USAGE)?;
                repeats = value.parse().map_err(|_| format!("--repeats takes a whole number, not {value}"))?;
            }
            "--data" => data_dir = Some(PathBuf::from(arguments.next().ok_or(USAGE)?)),
            "-h" | "--help" => return Ok(USAGE.to_string()),
            _ => positional.push(argument.clone()),
        }
    }
    let pairs: Vec<(PathBuf, PathBuf)> = match positional.as_slice() {
        [] => mission_files(data_dir)?,
        [command, packets, definition] if command == "decode" => {
            vec![(PathBuf::from(packets), PathBuf::from(definition))]
        }
        _ => return Err(USAGE.to_string()),
    };
    let mut report = format!("decoding on one core, best of {repeats} runs\n");
    if cfg!(debug_assertions) {
        report.push_str("this is a debug build: build with --release for real numbers\n");
    }
    for (packets, definition) in pairs {
        report.push_str(&bench_pair(&packets, &definition, repeats)?);
        report.push('\n');
    }
    Ok(report)
}

fn mission_files(data_dir: Option<PathBuf>) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let folder = match data_dir {
        Some(folder) => folder,
        None => std::env::var_os("IMAP_SHARED_DIR")
            .map(|shared| PathBuf::from(shared).join("data/l0"))
            .into_iter()
            .chain(DATA_CANDIDATES.iter().map(PathBuf::from))
            .find(|folder| folder.join(MISSION_FILES[0].0).is_file())
            .ok_or_else(|| {
                format!("no mission packet files under $IMAP_SHARED_DIR/data/l0 or {DATA_CANDIDATES:?}; {USAGE}")
            })?,
    };
    let pairs: Vec<(PathBuf, PathBuf)> = MISSION_FILES
        .iter()
        .map(|(packets, definition)| (folder.join(packets), folder.join(definition)))
        .filter(|(packets, definition)| packets.is_file() && definition.is_file())
        .collect();
    if pairs.is_empty() {
        return Err(format!("no mission packet files in {}", folder.display()));
    }
    Ok(pairs)
}

/// One line: packets, bytes, decode speed and the speed of the whole L1A step.
pub fn bench_pair(packets: &Path, definition: &Path, repeats: usize) -> Result<String, String> {
    let definition = PacketDefinition::from_xtce_file(definition).map_err(|error| error.to_string())?;
    let bytes = std::fs::read(packets).map_err(|error| format!("cannot read {}: {error}", packets.display()))?;
    let decode = bench_file(&definition, &bytes, repeats);
    let l1a_seconds = best_l1a_seconds(&definition, &bytes, repeats.div_ceil(5))?;
    let name = packets.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(format!(
        "{name}: {} packets ({} undecodable), {} bytes; decode {:.3} ms = {:.0} packets/s, {:.1} MB/s; decode + cdf (l1a) {:.3} ms = {:.0} packets/s",
        decode.packets,
        decode.problems,
        decode.bytes,
        decode.best_seconds * 1e3,
        decode.packets_per_second,
        decode.megabytes_per_second,
        l1a_seconds * 1e3,
        decode.packets as f64 / l1a_seconds.max(1e-9),
    ))
}

/// Best time of decoding and writing every APID's CDF (GZIP included).
fn best_l1a_seconds(definition: &PacketDefinition, bytes: &[u8], repeats: usize) -> Result<f64, String> {
    let mut best = f64::INFINITY;
    let clock = SclkKernel::nominal();
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        let decoded = definition.decode(bytes);
        for group in decoded.groups.iter().filter(|group| group.field("SHCOARSE").is_some()) {
            let series = group_to_series(group, &clock)?;
            let globals = imap_globals("bench", "l1a", &format!("apid{}", group.apid), "20250101", "v001");
            std::hint::black_box(series.to_cdf_bytes(globals).map_err(|error| error.to_string())?);
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Best-of-N timing of decoding one input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchResult {
    pub packets: usize,
    pub problems: usize,
    pub bytes: usize,
    pub runs: usize,
    pub best_seconds: f64,
    pub packets_per_second: f64,
    pub megabytes_per_second: f64,
}

/// Decodes `bytes` `repeats` times (at least once) on the calling thread and keeps the
/// fastest run.
pub fn bench_file(definition: &PacketDefinition, bytes: &[u8], repeats: usize) -> BenchResult {
    let runs = repeats.max(1);
    let mut best_seconds = f64::INFINITY;
    let mut packets = 0;
    let mut problems = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let decoded = definition.decode(black_box(bytes));
        let seconds = started.elapsed().as_secs_f64();
        packets = decoded.packet_count();
        problems = decoded.problems.len();
        black_box(decoded);
        best_seconds = best_seconds.min(seconds);
    }
    // A run too fast for the clock still gets a finite rate.
    let seconds = best_seconds.max(1e-9);
    BenchResult {
        packets,
        problems,
        bytes: bytes.len(),
        runs,
        best_seconds,
        packets_per_second: packets as f64 / seconds,
        megabytes_per_second: bytes.len() as f64 / 1e6 / seconds,
    }
}

/// Science made CPU-heavy on purpose, for `imap-sdc bench mesh --busy`: every job of a product
/// dated `from` or later runs its algorithm `times` times, so the bench can keep every CPU busy
/// with science while it times the event path. Never set from a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyScience {
    pub from: imap_filename::Date,
    pub times: u32,
}

/// An algorithm run [`BusyScience::times`] times on busy days; the last run's products count.
pub(crate) struct Repeated {
    pub(crate) inner: std::sync::Arc<dyn super::Algorithm>,
    pub(crate) busy: BusyScience,
}

impl super::Algorithm for Repeated {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn run(
        &self,
        context: &super::JobContext,
        inputs: &[super::InputFile],
    ) -> Result<Vec<super::ProductOutput>, super::ScienceError> {
        if context.date >= self.busy.from {
            for _ in 1..self.busy.times {
                context.check_cancelled()?;
                black_box(self.inner.run(context, inputs)?);
            }
        }
        self.inner.run(context, inputs)
    }
}
