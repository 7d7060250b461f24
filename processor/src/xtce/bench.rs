//! Throughput measurement of [`PacketDefinition::decode`], shared by the bench example and
//! any command that wants to report decoding speed.

use std::hint::black_box;
use std::time::Instant;

use super::PacketDefinition;

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
