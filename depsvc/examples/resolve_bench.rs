//! Resolution over a catalog of about 1,000,000 files: `cargo run --release --example resolve_bench`.
//!
//! The catalog holds every science stream of the mission graph (plus a few window products
//! added here) over many days, in several versions, plus SPICE and ancillary files. Random
//! (product, date) pairs are then resolved; the target is at most 1 ms per resolution.

use std::collections::BTreeSet;
use std::time::Instant;

use depsvc::graph::{
    FileKind, FileRecord, Graph, InputSource, MISSION_GRAPH_TOML, MemoryCatalog, ProductKey, ProductTime, Resolution,
    TimeWindow, check, resolve,
};
use imap_filename::Date;

const TARGET_FILES: usize = 1_000_000;
const VERSIONS_PER_DAY: usize = 3;
const RESOLUTIONS: usize = 5_000;

/// Products with long windows, added to the mission graph for the benchmark only.
const WINDOW_PRODUCTS: &str = r#"
[[product]]
instrument = "mag"
level = "l2"
descriptor = "norm-1mo"
cadence = "monthly"
input = [
  { science = "mag l1d norm-dsrf", window = "month" },
  { spice = ["leapseconds", "spacecraft_clock"], relationship = "hard_no_trigger" },
]

[[product]]
instrument = "swe"
level = "l3"
descriptor = "sci-cr"
cadence = "carrington"
input = [{ science = "swe l3 sci", window = "carrington", every_day = true }]

[[product]]
instrument = "hit"
level = "l3"
descriptor = "macropixel-7day"
input = [
  { science = "hit l3 macropixel", days_before = 3, days_after = 3, every_day = true },
  { ancillary = "hit calibration", relationship = "soft_trigger" },
]
"#;

/// A small deterministic generator (xorshift64*), so the benchmark needs no dependency.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % bound
    }
}

fn resident_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn science_streams(graph: &Graph) -> Vec<ProductKey> {
    let mut streams = BTreeSet::new();
    for product in graph.products() {
        if product.key.descriptor != "all" {
            streams.insert(product.key.clone());
        }
        for input in &product.inputs {
            if let InputSource::Science(key) = &input.source {
                streams.insert(key.clone());
            }
        }
    }
    streams.into_iter().collect()
}

fn build_catalog(streams: &[ProductKey], first_day: Date, day_count: usize) -> MemoryCatalog {
    let mut catalog = MemoryCatalog::new();
    for stream in streams {
        for day_offset in 0..day_count {
            let day = first_day.add_days(day_offset as i32);
            for minor in 0..VERSIONS_PER_DAY as u16 {
                let file_name = format!(
                    "imap_{}_{}_{}_{}_v001.{minor:04}.cdf",
                    stream.instrument,
                    stream.data_level,
                    stream.descriptor,
                    day.yyyymmdd()
                );
                catalog.insert(FileRecord {
                    file_name,
                    kind: FileKind::Science,
                    instrument: stream.instrument.clone(),
                    data_level: stream.data_level.clone(),
                    descriptor: stream.descriptor.clone(),
                    start_date: day,
                    end_date: None,
                    repointing: None,
                    version: (Some(1), minor),
                });
            }
        }
    }
    // Yearly clock kernels, one old open-ended leapseconds kernel, monthly calibrations.
    let ranged = |kind, instrument: &str, descriptor: &str, start: Date, end: Option<Date>| FileRecord {
        file_name: format!("imap_{instrument}_{descriptor}_{}_v001.dat", start.yyyymmdd()),
        kind,
        instrument: instrument.to_string(),
        data_level: if kind == FileKind::Spice { "spice" } else { "ancillary" }.to_string(),
        descriptor: descriptor.to_string(),
        start_date: start,
        end_date: end,
        repointing: None,
        version: (None, 1),
    };
    catalog.insert(ranged(FileKind::Spice, "spice", "leapseconds", first_day.add_days(-3000), None));
    for year_offset in 0..=(day_count / 365) {
        let start = first_day.add_days((year_offset * 365) as i32);
        catalog.insert(ranged(FileKind::Spice, "spice", "spacecraft_clock", start, Some(start.add_days(364))));
    }
    for month_offset in 0..=(day_count / 30) {
        let start = first_day.add_days((month_offset * 30) as i32);
        catalog.insert(ranged(FileKind::Ancillary, "hit", "calibration", start, Some(start.add_days(29))));
    }
    catalog
}

fn main() {
    let graph =
        Graph::from_toml_str(&format!("{MISSION_GRAPH_TOML}\n{WINDOW_PRODUCTS}")).expect("benchmark graph parses");
    let problems = check(&graph);
    assert!(problems.is_empty(), "benchmark graph has problems: {problems:?}");
    let streams = science_streams(&graph);
    let day_count = TARGET_FILES.div_ceil(streams.len() * VERSIONS_PER_DAY);
    let first_day = Date::parse_yyyymmdd("20250101").expect("valid date");

    let memory_before = resident_memory_kib();
    let build_started = Instant::now();
    let catalog = build_catalog(&streams, first_day, day_count);
    let build_time = build_started.elapsed();
    let memory_after = resident_memory_kib();
    println!(
        "catalog: {} files ({} science streams x {day_count} days x {VERSIONS_PER_DAY} versions, plus spice/ancillary), built in {:.2} s",
        catalog.len(),
        streams.len(),
        build_time.as_secs_f64()
    );
    println!("memory: approx {} MiB of catalog heap", catalog.approximate_heap_bytes() / (1 << 20));
    if let (Some(before), Some(after)) = (memory_before, memory_after) {
        println!("memory: resident set grew by {} MiB", after.saturating_sub(before) / 1024);
    }

    let products: Vec<ProductKey> = graph.products().iter().map(|product| product.key.clone()).collect();
    let window_products: Vec<ProductKey> = graph
        .products()
        .iter()
        .filter(|product| product.inputs.iter().any(|input| input.window != TimeWindow::SameDay))
        .map(|product| product.key.clone())
        .collect();
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut durations_us: Vec<f64> = Vec::with_capacity(RESOLUTIONS);
    let (mut ready, mut waiting, mut files_chosen) = (0usize, 0usize, 0usize);
    for round in 0..RESOLUTIONS {
        // One resolution in five is a long-window product, the rest any product.
        let product = if round % 5 == 0 {
            &window_products[random.below(window_products.len())]
        } else {
            &products[random.below(products.len())]
        };
        // Some dates fall outside the catalog so that "waiting" is measured too.
        let date = first_day.add_days(random.below(day_count + 60) as i32 - 30);
        let started = Instant::now();
        let resolution = resolve(&graph, &catalog, product, ProductTime::on(date)).expect("known product");
        durations_us.push(started.elapsed().as_secs_f64() * 1e6);
        match resolution {
            Resolution::Ready { inputs } => {
                ready += 1;
                files_chosen += inputs.iter().map(|input| input.files.len()).sum::<usize>();
            }
            Resolution::Waiting { .. } => waiting += 1,
        }
    }
    durations_us.sort_by(f64::total_cmp);
    let mean = durations_us.iter().sum::<f64>() / durations_us.len() as f64;
    let p99 = durations_us[durations_us.len() * 99 / 100];
    let max = durations_us[durations_us.len() - 1];
    println!(
        "resolve: {RESOLUTIONS} resolutions ({} with month/carrington/7-day windows): mean {mean:.1} us, p99 {p99:.1} us, max {max:.1} us",
        RESOLUTIONS / 5
    );
    println!("resolve: {ready} ready ({files_chosen} files chosen), {waiting} waiting");

    let today = first_day.add_days(day_count as i32);
    let started = Instant::now();
    let mut triggered = 0usize;
    for _ in 0..RESOLUTIONS {
        let stream = &streams[random.below(streams.len())];
        let file = FileRecord {
            file_name: String::new(),
            kind: FileKind::Science,
            instrument: stream.instrument.clone(),
            data_level: stream.data_level.clone(),
            descriptor: stream.descriptor.clone(),
            start_date: first_day.add_days(random.below(day_count) as i32),
            end_date: None,
            repointing: None,
            version: (Some(1), 0),
        };
        triggered += graph.downstream(&file, today).len();
    }
    println!(
        "downstream: mean {:.1} us per file ({triggered} product times in total)",
        started.elapsed().as_secs_f64() * 1e6 / RESOLUTIONS as f64
    );
    let verdict = if p99 <= 1000.0 { "met" } else { "NOT met" };
    println!("target of at most 1 ms per resolution: {verdict}");
}
