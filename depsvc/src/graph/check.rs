//! Consistency checks of a graph: cycles, unknown names, dangling inputs, duplicates, and the
//! mission's documented rules for jobs and their outputs.
//!
//! Errors make a graph unusable (depsvc refuses to start on it); warnings
//! ([`GraphProblem::is_warning`]) are the mission's best practices, reported but accepted.
//!
//! Inputs that count as coming from outside the graph, never dangling: level-0 telemetry
//! (`l0` or `raw`), SPICE kernels, the spin and repoint tables, and ancillary files (an
//! ancillary stream that a job writes, as GLOWS L3b does, is still an edge for cycles).
//!
//! The mission's rules (imap_processing `docs/source/development/data-dependency.rst`):
//! - a job's level matches at least one of its outputs' levels (error); a level without a
//!   sub-level letter matches its sub-levels, as the mission's own files need (SWAPI's `l1 hk`
//!   job writes `l1a hk`);
//! - outputs of one job sharing a descriptor share a major version (error);
//! - an output's major version is at least the major version of each same-instrument product
//!   the job reads (warning). An unsaid major version counts as 1.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::model::{Graph, InputSource, OutputStream, Product, ProductKey};

/// The mission's instruments (`VALID_INSTRUMENTS` of `imap-data-access`).
pub const KNOWN_INSTRUMENTS: [&str; 13] =
    ["codice", "glows", "hit", "hi", "ialirt", "idex", "l1const", "lo", "mag", "spacecraft", "swapi", "swe", "ultra"];

/// The mission's data levels (`VALID_DATALEVELS`).
pub const KNOWN_DATA_LEVELS: [&str; 18] = [
    "l0", "l1", "l1a", "l1b", "l1c", "l1ca", "l1cb", "l1d", "l2", "l2a", "l2b", "l2c", "l3", "l3a", "l3b", "l3c",
    "l3d", "l3e",
];

/// The SPICE kernel type names of the mission's file grammar.
pub const KNOWN_KERNEL_TYPES: [&str; 22] = [
    "attitude_history",
    "attitude_predict",
    "spin",
    "repoint",
    "ephemeris_reconstructed",
    "ephemeris_nominal",
    "ephemeris_predicted",
    "ephemeris_90days",
    "ephemeris_long",
    "ephemeris_launch",
    "planetary_ephemeris",
    "planetary_constants",
    "leapseconds",
    "pointing_attitude",
    "lo_pivot_attitude",
    "spacecraft_clock",
    "imap_frames",
    "science_frames",
    "metakernel",
    "thruster",
    "lagrange_point",
    "earth_attitude",
];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GraphProblem {
    /// Products that (transitively) need themselves; the path starts and ends with the same product.
    Cycle {
        path: Vec<ProductKey>,
    },
    UnknownInstrument {
        product: ProductKey,
        instrument: String,
    },
    UnknownDataLevel {
        product: ProductKey,
        data_level: String,
    },
    UnknownKernelType {
        product: ProductKey,
        kernel_type: String,
    },
    /// A science input no product writes and that is not level-0 telemetry.
    DanglingInput {
        product: ProductKey,
        input: ProductKey,
    },
    DuplicateProduct {
        product: ProductKey,
    },
    /// Without a triggering input the product would never be made on file arrival (products
    /// made on a schedule, map seasons and N-day blocks, are exempt).
    NeverTriggered {
        product: ProductKey,
    },
    /// The job's level is none of its outputs' levels.
    LevelMatchesNoOutput {
        product: ProductKey,
        output_levels: Vec<String>,
    },
    /// Outputs of one job with the same descriptor declare different major versions.
    MajorVersionsDiffer {
        product: ProductKey,
        descriptor: String,
        versions: Vec<(String, u16)>,
    },
    /// Two jobs write the same stream, so which one makes its files is ambiguous.
    DuplicateOutput {
        output: String,
        first: ProductKey,
        second: ProductKey,
    },
    /// A repointing window where files have no repointing to match.
    MisplacedRepointingWindow {
        product: ProductKey,
        input: String,
        reason: &'static str,
    },
    /// Warning: an output's major version is below that of a same-instrument product it reads.
    MajorVersionBelowInput {
        product: ProductKey,
        output: String,
        output_major: u16,
        input: ProductKey,
        input_major: u16,
    },
}

impl GraphProblem {
    /// Best-practice findings, reported but not fatal.
    pub fn is_warning(&self) -> bool {
        matches!(self, GraphProblem::MajorVersionBelowInput { .. })
    }
}

impl fmt::Display for GraphProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphProblem::Cycle { path } => {
                let names: Vec<String> = path.iter().map(ProductKey::to_string).collect();
                write!(formatter, "cycle: {}", names.join(" -> "))
            }
            GraphProblem::UnknownInstrument { product, instrument } => {
                write!(formatter, "product {product}: unknown instrument {instrument:?}")
            }
            GraphProblem::UnknownDataLevel { product, data_level } => {
                write!(formatter, "product {product}: unknown data level {data_level:?}")
            }
            GraphProblem::UnknownKernelType { product, kernel_type } => {
                write!(formatter, "product {product}: unknown spice kernel type {kernel_type:?}")
            }
            GraphProblem::DanglingInput { product, input } => {
                write!(formatter, "product {product}: input {input} is made by no product and is not level 0")
            }
            GraphProblem::DuplicateProduct { product } => {
                write!(formatter, "product {product} is defined more than once")
            }
            GraphProblem::NeverTriggered { product } => {
                write!(formatter, "product {product}: no input triggers it (all are no-trigger)")
            }
            GraphProblem::LevelMatchesNoOutput { product, output_levels } => write!(
                formatter,
                "job {product}: its level {} is none of its outputs' levels ({})",
                product.data_level,
                output_levels.join(", ")
            ),
            GraphProblem::MajorVersionsDiffer { product, descriptor, versions } => {
                let versions: Vec<String> =
                    versions.iter().map(|(level, major)| format!("{level} v{major:03}")).collect();
                write!(
                    formatter,
                    "job {product}: outputs with descriptor {descriptor} must share a major version, found {}",
                    versions.join(", ")
                )
            }
            GraphProblem::DuplicateOutput { output, first, second } => {
                write!(formatter, "output {output} is written by two jobs: {first} and {second}")
            }
            GraphProblem::MisplacedRepointingWindow { product, input, reason } => {
                write!(formatter, "product {product}: input {input} has a repointing window but {reason}")
            }
            GraphProblem::MajorVersionBelowInput { product, output, output_major, input, input_major } => write!(
                formatter,
                "job {product}: output {output} has major version {output_major}, below the {input_major} of its input {input}"
            ),
        }
    }
}

/// Every problem found, in a stable order; empty when the graph is sound.
pub fn check(graph: &Graph) -> Vec<GraphProblem> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for product in graph.products() {
        if !seen.insert(&product.key) {
            problems.push(GraphProblem::DuplicateProduct { product: product.key.clone() });
        }
        check_names(&product.key, &product.key, &mut problems);
        for output in &product.outputs {
            if let OutputStream::Science(output_key) = &output.stream {
                check_names(&product.key, output_key, &mut problems);
            }
        }
        check_outputs(product, &mut problems);
        check_repointing_windows(product, &mut problems);
        for input in &product.inputs {
            match &input.source {
                InputSource::Science(input_key) => {
                    check_names(&product.key, input_key, &mut problems);
                    if !input_key.is_level_zero() && graph.producer_of(input_key).is_none() {
                        problems.push(GraphProblem::DanglingInput {
                            product: product.key.clone(),
                            input: input_key.clone(),
                        });
                    }
                }
                InputSource::Ancillary { instrument, .. } => {
                    if !KNOWN_INSTRUMENTS.contains(&instrument.as_str()) {
                        problems.push(GraphProblem::UnknownInstrument {
                            product: product.key.clone(),
                            instrument: instrument.clone(),
                        });
                    }
                }
                InputSource::Spice { kernel_types, .. } => {
                    for kernel_type in
                        kernel_types.iter().filter(|kernel_type| !KNOWN_KERNEL_TYPES.contains(&kernel_type.as_str()))
                    {
                        problems.push(GraphProblem::UnknownKernelType {
                            product: product.key.clone(),
                            kernel_type: kernel_type.clone(),
                        });
                    }
                }
                InputSource::Spin | InputSource::Repoint => {}
            }
        }
        let triggered = product.inputs.iter().any(|input| input.relationship.triggers());
        if !product.inputs.is_empty() && !triggered && !product.cadence.is_scheduled() {
            problems.push(GraphProblem::NeverTriggered { product: product.key.clone() });
        }
    }
    check_duplicate_outputs(graph, &mut problems);
    check_major_versions_against_inputs(graph, &mut problems);
    problems.extend(find_cycles(graph).into_iter().map(|path| GraphProblem::Cycle { path }));
    // A name used by several inputs of one product is reported once.
    let mut reported = HashSet::new();
    problems.retain(|problem| reported.insert(problem.clone()));
    problems
}

/// Whether a job level names an output level: equal, or a level without a sub-level letter
/// (`l1`) naming one of its sub-levels (`l1a`, `l1b`).
fn level_matches(job_level: &str, output_level: &str) -> bool {
    job_level == output_level
        || (output_level.starts_with(job_level)
            && job_level.ends_with(|last: char| last.is_ascii_digit())
            && output_level[job_level.len()..].chars().all(|rest| rest.is_ascii_lowercase()))
}

/// The mission's two assumptions on a job's declared outputs.
fn check_outputs(product: &Product, problems: &mut Vec<GraphProblem>) {
    let science_levels: Vec<&str> = product
        .outputs
        .iter()
        .filter_map(|output| match &output.stream {
            OutputStream::Science(key) => Some(key.data_level.as_str()),
            OutputStream::Ancillary { .. } => None,
        })
        .collect();
    if !product.outputs.is_empty() && !science_levels.iter().any(|level| level_matches(&product.key.data_level, level))
    {
        let mut output_levels: Vec<String> = science_levels.iter().map(ToString::to_string).collect();
        output_levels.dedup();
        if output_levels.is_empty() {
            output_levels.push("ancillary only".to_string());
        }
        problems.push(GraphProblem::LevelMatchesNoOutput { product: product.key.clone(), output_levels });
    }
    let mut versions_by_descriptor: HashMap<&str, Vec<(String, u16)>> = HashMap::new();
    for output in &product.outputs {
        if let OutputStream::Science(key) = &output.stream {
            versions_by_descriptor
                .entry(&key.descriptor)
                .or_default()
                .push((key.data_level.clone(), output.major_version_or_default()));
        }
    }
    let mut differing: Vec<(&str, Vec<(String, u16)>)> = versions_by_descriptor
        .into_iter()
        .filter(|(_, versions)| versions.iter().any(|(_, major)| *major != versions[0].1))
        .collect();
    differing.sort();
    for (descriptor, versions) in differing {
        problems.push(GraphProblem::MajorVersionsDiffer {
            product: product.key.clone(),
            descriptor: descriptor.to_string(),
            versions,
        });
    }
}

fn check_repointing_windows(product: &Product, problems: &mut Vec<GraphProblem>) {
    for input in product.inputs.iter().filter(|input| input.window.repointing_reach().is_some()) {
        let reason = if product.cadence != super::Cadence::Repointing {
            "the product is not made per repointing"
        } else if !matches!(input.source, InputSource::Science(_)) {
            "only science files carry a repointing"
        } else {
            continue;
        };
        problems.push(GraphProblem::MisplacedRepointingWindow {
            product: product.key.clone(),
            input: input.source.to_string(),
            reason,
        });
    }
}

fn check_duplicate_outputs(graph: &Graph, problems: &mut Vec<GraphProblem>) {
    let mut writer_of: HashMap<OutputStream, &ProductKey> = HashMap::new();
    for product in graph.products() {
        for output in product.effective_outputs() {
            match writer_of.get(&output.stream) {
                Some(first) if **first != product.key => problems.push(GraphProblem::DuplicateOutput {
                    output: output.stream.to_string(),
                    first: (*first).clone(),
                    second: product.key.clone(),
                }),
                Some(_) => {}
                None => {
                    writer_of.insert(output.stream.clone(), &product.key);
                }
            }
        }
    }
}

/// The best practice: an output's major version is at least that of every same-instrument
/// science product the job reads.
fn check_major_versions_against_inputs(graph: &Graph, problems: &mut Vec<GraphProblem>) {
    for product in graph.products().iter().filter(|product| !product.outputs.is_empty()) {
        for input in &product.inputs {
            let InputSource::Science(input_key) = &input.source else { continue };
            let Some(input_major) = declared_major_version(graph, input_key) else { continue };
            for output in &product.outputs {
                let output_major = output.major_version_or_default();
                if output.stream.instrument() == input_key.instrument && output_major < input_major {
                    problems.push(GraphProblem::MajorVersionBelowInput {
                        product: product.key.clone(),
                        output: output.stream.to_string(),
                        output_major,
                        input: input_key.clone(),
                        input_major,
                    });
                }
            }
        }
    }
}

/// The major version its producer declares for `key`, if the producer declares outputs.
fn declared_major_version(graph: &Graph, key: &ProductKey) -> Option<u16> {
    let producer = graph.producer_of(key)?;
    producer
        .outputs
        .iter()
        .find(|output| output.stream == OutputStream::Science(key.clone()))
        .map(|output| output.major_version_or_default())
}

fn check_names(product: &ProductKey, key: &ProductKey, problems: &mut Vec<GraphProblem>) {
    if !KNOWN_INSTRUMENTS.contains(&key.instrument.as_str()) {
        problems.push(GraphProblem::UnknownInstrument { product: product.clone(), instrument: key.instrument.clone() });
    }
    if !KNOWN_DATA_LEVELS.contains(&key.data_level.as_str()) {
        problems.push(GraphProblem::UnknownDataLevel { product: product.clone(), data_level: key.data_level.clone() });
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    InProgress,
    Done,
}

/// Cycles along "product needs the output of product" edges, each reported once.
fn find_cycles(graph: &Graph) -> Vec<Vec<ProductKey>> {
    let products = graph.products();
    let mut first_index: HashMap<&ProductKey, usize> = HashMap::new();
    for (index, product) in products.iter().enumerate() {
        first_index.entry(&product.key).or_insert(index);
    }
    let index_of = |key: &ProductKey| first_index.get(key).copied();
    // needs[i] = indexes of the products whose outputs product i reads.
    let needs: Vec<Vec<usize>> = products
        .iter()
        .map(|product| {
            product
                .inputs
                .iter()
                .filter_map(|input| {
                    graph.producer_of_source(&input.source).and_then(|producer| index_of(&producer.key))
                })
                .collect()
        })
        .collect();
    let mut state = vec![Visit::New; products.len()];
    let mut stack: Vec<usize> = Vec::new();
    let mut cycles = Vec::new();
    for start in 0..products.len() {
        if state[start] == Visit::New {
            visit(start, &needs, &mut state, &mut stack, &mut cycles);
        }
    }
    cycles
        .into_iter()
        .map(|cycle: Vec<usize>| cycle.into_iter().map(|index| products[index].key.clone()).collect())
        .collect()
}

fn visit(node: usize, needs: &[Vec<usize>], state: &mut [Visit], stack: &mut Vec<usize>, cycles: &mut Vec<Vec<usize>>) {
    state[node] = Visit::InProgress;
    stack.push(node);
    for &next in &needs[node] {
        match state[next] {
            Visit::New => visit(next, needs, state, stack, cycles),
            Visit::InProgress => {
                // The stack from `next` to here, closed by `next`, is the cycle. Reverse it so
                // that it reads in data-flow order (producer -> consumer).
                let position = stack.iter().position(|&entry| entry == next).unwrap_or(0);
                let mut cycle: Vec<usize> = stack[position..].to_vec();
                cycle.push(next);
                cycle.reverse();
                cycles.push(cycle);
            }
            Visit::Done => {}
        }
    }
    stack.pop();
    state[node] = Visit::Done;
}
