//! Hostile files through the science entry point ([`run_catching_panics`]) with the built-in
//! science: packet files and CDF files made by the tests (and the mission's real packet files
//! when present) with bits flipped, cut short, huge counts and offsets written in, regions zeroed
//! or copied over others, plus gzip bombs. Each one must succeed or fail with a reason; a panic
//! (caught, so the node would live) is still a bug this test reports with the mutation.
//!
//! `MUTATED_FILES` sets how many mutants run (1,000 by default, a few seconds); a bigger run by
//! hand measures memory: `MUTATED_FILES=20000 /usr/bin/time -v cargo test -p processor mutated`.

use std::io::Write;

use nasa_cdf::{Cdf, Compression};

use super::fixture::{input, job, met_of_job_day, swapi_science_packet};
use super::{Registry, ScienceError, run_catching_panics};

/// A deterministic xorshift generator, so a failure names a mutant that can be made again.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    /// One mutation of `bytes` and what it was.
    fn mutate(&mut self, bytes: &[u8]) -> (Vec<u8>, String) {
        let mut mutant = bytes.to_vec();
        let len = mutant.len();
        let description = match self.below(6) {
            0 => {
                let flips = 1 + self.below(8);
                for _ in 0..flips {
                    let bit = self.below(len * 8);
                    mutant[bit / 8] ^= 1 << (bit % 8);
                }
                format!("{flips} bits flipped")
            }
            1 => {
                let cut = self.below(len);
                mutant.truncate(cut);
                format!("cut to {cut} bytes")
            }
            2 => {
                let at = self.below(len.saturating_sub(4)) & !3;
                let count = [i32::MAX, -1, 0x0100_0000, 0][self.below(4)];
                mutant[at..at + 4].copy_from_slice(&count.to_be_bytes());
                format!("count {count} written at {at}")
            }
            3 => {
                let at = self.below(len.saturating_sub(8)) & !7;
                let offset = [i64::MAX, 1 << 40, 8, 0][self.below(4)];
                mutant[at..at + 8].copy_from_slice(&offset.to_be_bytes());
                format!("offset {offset} written at {at}")
            }
            4 => {
                let (at, span) = (self.below(len), 1 + self.below(64));
                let end = (at + span).min(len);
                mutant[at..end].fill(0);
                format!("bytes {at}..{end} zeroed")
            }
            _ => {
                let (from, to, span) = (self.below(len), self.below(len), 1 + self.below(512));
                let span = span.min(len - from).min(len - to);
                mutant.copy_within(from..from + span, to);
                format!("{span} bytes copied from {from} to {to}")
            }
        };
        (mutant, description)
    }
}

/// One valid file and the job that reads it.
struct Seed {
    label: String,
    product: (&'static str, &'static str, &'static str),
    input_name: &'static str,
    bytes: Vec<u8>,
}

fn swapi_packets() -> Vec<u8> {
    (0..10).flat_map(|counter| swapi_science_packet(counter, met_of_job_day() + u32::from(counter))).collect()
}

fn run(registry: &Registry, seed: &Seed, bytes: Vec<u8>) -> Result<usize, ScienceError> {
    let (instrument, level, descriptor) = seed.product;
    let (context, _) = job(instrument, level, descriptor);
    let algorithm = registry.select(&context.product).expect("built-in science for the seed's product");
    run_catching_panics(&*algorithm, &context, &[input(seed.input_name, bytes)]).map(|outputs| outputs.len())
}

fn seeds(registry: &Registry) -> Vec<Seed> {
    let packets = Seed {
        label: "swapi l0".into(),
        product: ("swapi", "l1", "all"),
        input_name: "imap_swapi_l0_raw_20250101_v001.pkts",
        bytes: swapi_packets(),
    };
    let (context, _) = job("swapi", "l1", "all");
    let algorithm = registry.select(&context.product).expect("swapi l1");
    let l1 = run_catching_panics(&*algorithm, &context, &[input(packets.input_name, packets.bytes.clone())])
        .expect("the seed packets decode");
    let science_cdf = l1.into_iter().find(|output| output.descriptor == "sci").expect("a sci product").bytes;
    let mut whole_file_gzip = Cdf::from_bytes(&science_cdf).expect("reads");
    whole_file_gzip.file_compression = Compression::Gzip { level: 6 };
    let cdf_seed = |label: &str, level: &'static str, bytes: Vec<u8>| Seed {
        label: label.into(),
        product: ("swapi", level, "sci"),
        input_name: "imap_swapi_l1_sci_20250101_v001.cdf",
        bytes,
    };
    let mut seeds = vec![
        packets,
        cdf_seed("swapi l1 cdf -> l1b", "l1b", science_cdf.clone()),
        cdf_seed("swapi l1 cdf -> l2", "l2", science_cdf),
        cdf_seed("gzip-compressed cdf -> l1b", "l1b", whole_file_gzip.to_bytes().expect("writes")),
    ];
    seeds.extend(real_packet_seeds());
    seeds
}

/// The mission's packet files, when the build found them (their first 4 KiB keep runs short).
fn real_packet_seeds() -> Vec<Seed> {
    let Some(folder) = option_env!("MISSION_DATA_DIR").filter(|_| cfg!(has_mission_data)) else {
        eprintln!("mutated inputs: no mission data (shared/data or $IMAP_SHARED_DIR); only the tests' own files");
        return Vec::new();
    };
    let files = [
        ("imap_swapi_l0_raw_20240924_v001.pkts", ("swapi", "l1", "all"), "imap_swapi_l0_raw_20250101_v001.pkts"),
        ("mag_l0_test_data.pkts", ("mag", "l1a", "all"), "imap_mag_l0_raw_20250101_v001.pkts"),
        ("imap_codice_l0_hskp_20100101_v001.pkts", ("codice", "l1a", "hskp"), "imap_codice_l0_raw_20250101_v001.pkts"),
    ];
    files
        .into_iter()
        .map(|(file, product, input_name)| {
            let mut bytes = std::fs::read(std::path::Path::new(folder).join("l0").join(file)).expect("reads");
            bytes.truncate(4 << 10);
            Seed { label: file.into(), product, input_name, bytes }
        })
        .collect()
}

/// A whole-file compressed CDF: one claiming 1 TiB, and one whose stream inflates to 4 MiB of
/// zeros (the reader would stop at any size) while its header claims 4 KiB.
fn gzip_bombs(compressed_cdf: &[u8]) -> Vec<(Vec<u8>, String)> {
    let mut claims_a_terabyte = compressed_cdf.to_vec();
    claims_a_terabyte[28..36].copy_from_slice(&(1i64 << 40).to_be_bytes());

    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..4 {
        encoder.write_all(&zeros).expect("compresses");
    }
    let stream = encoder.finish().expect("compresses");
    let cpr_at = 8 + 32 + stream.len();
    let mut inflates_past_its_claim = vec![0xCD, 0xF3, 0x00, 0x01, 0xCC, 0xCC, 0x00, 0x01];
    inflates_past_its_claim.extend_from_slice(&((32 + stream.len()) as i64).to_be_bytes());
    inflates_past_its_claim.extend_from_slice(&10i32.to_be_bytes());
    inflates_past_its_claim.extend_from_slice(&(cpr_at as i64).to_be_bytes());
    inflates_past_its_claim.extend_from_slice(&4096i64.to_be_bytes());
    inflates_past_its_claim.extend_from_slice(&0i32.to_be_bytes());
    inflates_past_its_claim.extend_from_slice(&stream);
    inflates_past_its_claim.extend_from_slice(&28i64.to_be_bytes());
    for field in [11i32, 5, 0, 1, 9] {
        inflates_past_its_claim.extend_from_slice(&field.to_be_bytes());
    }
    vec![
        (claims_a_terabyte, "gzip bomb claiming 1 TiB".into()),
        (inflates_past_its_claim, "gzip bomb inflating past its claim".into()),
    ]
}

#[test]
fn mutated_files_through_the_science_entry_point_succeed_or_fail_with_a_reason() {
    let mutants: usize = std::env::var("MUTATED_FILES").ok().and_then(|count| count.parse().ok()).unwrap_or(1000);
    let registry = Registry::builtin();
    let seeds = seeds(&registry);
    let mut mutator = Mutator(0x9E37_79B9_7F4A_7C15);
    let (mut succeeded, mut failed) = (0, 0);
    let mut panics = Vec::new();
    let started = std::time::Instant::now();
    let mut judge = |label: &str, description: &str, result: Result<usize, ScienceError>| match result {
        Ok(_) => succeeded += 1,
        Err(error @ ScienceError::Panicked { .. }) => panics.push(format!("{label}, {description}: {error}")),
        Err(error) => {
            assert!(!error.to_string().trim().is_empty(), "{label}, {description}: a failure without a reason");
            failed += 1;
        }
    };
    for index in 0..mutants {
        let seed = &seeds[index % seeds.len()];
        let (mutant, description) = mutator.mutate(&seed.bytes);
        judge(&seed.label, &format!("mutant {index}: {description}"), run(&registry, seed, mutant));
    }
    let compressed = &seeds.iter().find(|seed| seed.label.starts_with("gzip")).expect("gzip seed");
    for (bomb, description) in gzip_bombs(&compressed.bytes) {
        let result = run(&registry, compressed, bomb);
        assert!(result.as_ref().is_err_and(|error| error.to_string().contains("ccr")), "{description}: {result:?}");
        judge(&compressed.label, &description, result);
    }
    eprintln!(
        "mutated inputs: {succeeded} succeeded, {failed} failed with a reason, {} panicked, in {:?}",
        panics.len(),
        started.elapsed()
    );
    assert!(panics.is_empty(), "{} mutants panicked, e.g. {:#?}", panics.len(), &panics[..panics.len().min(10)]);
    assert_eq!(succeeded + failed, mutants + 2);
}
