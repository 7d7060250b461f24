//! Resolution over a catalog of about 1,000,000 files: `cargo run --release --example resolve_bench`.
//!
//! Runs twice: over our default graph (with a few long-window products added here), and over
//! the mission's own YAML dependency files (289 jobs: repointing jobs, map seasons, N-day
//! blocks, nearest-repointing inputs). For each, the catalog holds every science stream the
//! graph reads or writes over many days, in several versions (files of streams made per
//! repointing carry one repointing a day), plus SPICE, spin, repoint and ancillary files for
//! every such input. Random (product, date) pairs are then resolved; the target is at most
//! 1 ms per resolution.

use std::collections::BTreeSet;
use std::time::Instant;

use depsvc::graph::{
    Cadence, FileKind, FileRecord, Graph, InputSource, MISSION_GRAPH_TOML, MemoryCatalog, OutputStream, ProductKey,
    ProductTime, Resolution, TimeWindow, check,
};
use imap_filename::Date;

const TARGET_FILES: usize = 1_000_000;
const VERSIONS_PER_DAY: usize = 3;
const RESOLUTIONS: usize = 5_000;

/// Products with long windows, added to the default graph for the benchmark only.
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

/// Every science stream read or written, and whether its files are made per repointing.
fn science_streams(graph: &Graph) -> Vec<(ProductKey, bool)> {
    let mut streams = BTreeSet::new();
    for product in graph.products() {
        for output in product.effective_outputs() {
            if let OutputStream::Science(key) = output.stream
                && key.descriptor != "all"
            {
                streams.insert(key);
            }
        }
        for input in &product.inputs {
            if let InputSource::Science(key) = &input.source {
                streams.insert(key.clone());
            }
        }
    }
    let per_repointing =
        |key: &ProductKey| graph.producer_of(key).is_some_and(|producer| producer.cadence == Cadence::Repointing);
    streams.into_iter().map(|key| (key.clone(), per_repointing(&key))).collect()
}

/// The outside inputs: SPICE kernel types and ancillary (instrument, descriptor) pairs.
fn outside_inputs(graph: &Graph) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let mut kernel_types = BTreeSet::new();
    let mut ancillaries = BTreeSet::new();
    for input in graph.products().iter().flat_map(|product| &product.inputs) {
        match &input.source {
            InputSource::Spice { kernel_types: types, .. } => kernel_types.extend(types.iter().cloned()),
            InputSource::Ancillary { instrument, descriptor } => {
                ancillaries.insert((instrument.clone(), descriptor.clone()));
            }
            _ => {}
        }
    }
    (kernel_types, ancillaries)
}

/// Repointing numbers: one a day, counted from the catalog's first day.
fn repointing_of(first_day: Date, day: Date) -> u32 {
    (day.days_since_epoch() - first_day.days_since_epoch() + 1) as u32
}

fn build_catalog(graph: &Graph, streams: &[(ProductKey, bool)], first_day: Date, day_count: usize) -> MemoryCatalog {
    let mut catalog = MemoryCatalog::new();
    for (stream, per_repointing) in streams {
        for day_offset in 0..day_count {
            let day = first_day.add_days(day_offset as i32);
            let repointing = per_repointing.then(|| repointing_of(first_day, day));
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
                    repointing,
                    version: (Some(1), minor),
                });
            }
        }
    }
    let ranged = |kind, instrument: &str, descriptor: &str, start: Date, end: Option<Date>| FileRecord {
        file_name: format!("imap_{instrument}_{descriptor}_{}_v001.dat", start.yyyymmdd()),
        kind,
        instrument: instrument.to_string(),
        data_level: match kind {
            FileKind::Spice => "spice",
            FileKind::Spin => "spin",
            FileKind::Repoint => "repoint",
            _ => "ancillary",
        }
        .to_string(),
        descriptor: descriptor.to_string(),
        start_date: start,
        end_date: end,
        repointing: None,
        version: (None, 1),
    };
    // One old open-ended leapseconds kernel, yearly kernels of every other type, monthly spin
    // and repoint tables and calibrations.
    let (kernel_types, ancillaries) = outside_inputs(graph);
    catalog.insert(ranged(FileKind::Spice, "spice", "leapseconds", first_day.add_days(-3000), None));
    for year_offset in 0..=(day_count / 365) {
        let start = first_day.add_days((year_offset * 365) as i32);
        for kernel_type in kernel_types.iter().filter(|kernel_type| *kernel_type != "leapseconds") {
            catalog.insert(ranged(FileKind::Spice, "spice", kernel_type, start, Some(start.add_days(364))));
        }
    }
    for month_offset in 0..=(day_count / 30) {
        let start = first_day.add_days((month_offset * 30) as i32);
        let end = Some(start.add_days(29));
        catalog.insert(ranged(FileKind::Spin, "spin", "spin", start, end));
        catalog.insert(ranged(FileKind::Repoint, "repoint", "repoint", start, end));
        for (instrument, descriptor) in ancillaries.iter().chain([&("hit".to_string(), "calibration".to_string())]) {
            catalog.insert(ranged(FileKind::Ancillary, instrument, descriptor, start, end));
        }
    }
    catalog
}

fn bench(name: &str, graph: &Graph) {
    println!("== {name}: {} products", graph.products().len());
    let errors: Vec<String> =
        check(graph).iter().filter(|problem| !problem.is_warning()).map(ToString::to_string).collect();
    assert!(errors.is_empty(), "benchmark graph has problems: {errors:?}");
    let streams = science_streams(graph);
    let day_count = TARGET_FILES.div_ceil(streams.len() * VERSIONS_PER_DAY);
    let first_day = Date::parse_yyyymmdd("20250101").expect("valid date");

    let memory_before = resident_memory_kib();
    let build_started = Instant::now();
    let catalog = build_catalog(graph, &streams, first_day, day_count);
    let build_time = build_started.elapsed();
    let memory_after = resident_memory_kib();
    println!(
        "catalog: {} files ({} science streams x {day_count} days x {VERSIONS_PER_DAY} versions, plus spice/spin/repoint/ancillary), built in {:.2} s",
        catalog.len(),
        streams.len(),
        build_time.as_secs_f64()
    );
    println!("memory: approx {} MiB of catalog heap", catalog.approximate_heap_bytes() / (1 << 20));
    if let (Some(before), Some(after)) = (memory_before, memory_after) {
        println!("memory: resident set grew by {} MiB", after.saturating_sub(before) / 1024);
    }

    let products: Vec<(ProductKey, Cadence)> =
        graph.products().iter().map(|product| (product.key.clone(), product.cadence)).collect();
    let window_products: Vec<(ProductKey, Cadence)> = graph
        .products()
        .iter()
        .filter(|product| product.inputs.iter().any(|input| input.window != TimeWindow::SameDay))
        .map(|product| (product.key.clone(), product.cadence))
        .collect();
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut durations_us: Vec<f64> = Vec::with_capacity(RESOLUTIONS);
    // Products made per map season or day block read a whole period of daily files.
    let mut scheduled_durations_us: Vec<f64> = Vec::new();
    let mut scheduled_files = 0usize;
    let (mut ready, mut waiting, mut files_chosen) = (0usize, 0usize, 0usize);
    for round in 0..RESOLUTIONS {
        // One resolution in five is a product with a window other than its day, the rest any product.
        let (product, cadence) = if round % 5 == 0 && !window_products.is_empty() {
            &window_products[random.below(window_products.len())]
        } else {
            &products[random.below(products.len())]
        };
        // Some dates fall outside the catalog so that "waiting" is measured too.
        let date = first_day.add_days(random.below(day_count + 60) as i32 - 30);
        let repointing = (*cadence == Cadence::Repointing).then(|| repointing_of(first_day, date));
        let started = Instant::now();
        let resolution =
            depsvc::graph::resolve(graph, &catalog, product, ProductTime { date, repointing }).expect("known product");
        let elapsed_us = started.elapsed().as_secs_f64() * 1e6;
        durations_us.push(elapsed_us);
        let chosen = match resolution {
            Resolution::Ready { inputs } => {
                ready += 1;
                inputs.iter().map(|input| input.files.len()).sum::<usize>()
            }
            Resolution::Waiting { .. } => {
                waiting += 1;
                0
            }
        };
        files_chosen += chosen;
        if cadence.is_scheduled() {
            scheduled_durations_us.push(elapsed_us);
            scheduled_files += chosen;
        }
    }
    durations_us.sort_by(f64::total_cmp);
    let mean = durations_us.iter().sum::<f64>() / durations_us.len() as f64;
    let p99 = durations_us[durations_us.len() * 99 / 100];
    let max = durations_us[durations_us.len() - 1];
    println!(
        "resolve: {RESOLUTIONS} resolutions (1 in 5 of the {} products with a wider window): mean {mean:.1} us, p99 {p99:.1} us, max {max:.1} us",
        window_products.len()
    );
    println!("resolve: {ready} ready ({files_chosen} files chosen), {waiting} waiting");
    if !scheduled_durations_us.is_empty() {
        scheduled_durations_us.sort_by(f64::total_cmp);
        let count = scheduled_durations_us.len();
        println!(
            "resolve: of which {count} of map-season or day-block products: mean {:.1} us, p99 {:.1} us, {} files chosen each on average",
            scheduled_durations_us.iter().sum::<f64>() / count as f64,
            scheduled_durations_us[count * 99 / 100],
            scheduled_files / count
        );
        let mut others: Vec<f64> = durations_us.clone();
        for scheduled in &scheduled_durations_us {
            if let Some(position) = others.iter().position(|duration| duration == scheduled) {
                others.swap_remove(position);
            }
        }
        others.sort_by(f64::total_cmp);
        println!(
            "resolve: the other {} (daily, repointing): mean {:.1} us, p99 {:.1} us",
            others.len(),
            others.iter().sum::<f64>() / others.len().max(1) as f64,
            others.get(others.len() * 99 / 100).copied().unwrap_or_default()
        );
    }

    let today = first_day.add_days(day_count as i32);
    let started = Instant::now();
    let mut triggered = 0usize;
    for _ in 0..RESOLUTIONS {
        let (stream, per_repointing) = &streams[random.below(streams.len())];
        let start_date = first_day.add_days(random.below(day_count) as i32);
        let file = FileRecord {
            file_name: String::new(),
            kind: FileKind::Science,
            instrument: stream.instrument.clone(),
            data_level: stream.data_level.clone(),
            descriptor: stream.descriptor.clone(),
            start_date,
            end_date: None,
            repointing: per_repointing.then(|| repointing_of(first_day, start_date)),
            version: (Some(1), 0),
        };
        triggered += graph.downstream(&file, today).len();
    }
    println!(
        "downstream: mean {:.1} us per file ({triggered} product times in total)",
        started.elapsed().as_secs_f64() * 1e6 / RESOLUTIONS as f64
    );
    let verdict = if p99 <= 1000.0 { "met" } else { "NOT met" };
    println!("target of at most 1 ms per resolution: {verdict}\n");
}

fn main() {
    let default_graph =
        Graph::from_toml_str(&format!("{MISSION_GRAPH_TOML}\n{WINDOW_PRODUCTS}")).expect("benchmark graph parses");
    bench("default graph (mission_graph.toml plus window products)", &default_graph);
    bench("mission YAML dependency files", &Graph::mission_yaml());
}
