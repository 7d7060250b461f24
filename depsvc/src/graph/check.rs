//! Consistency checks of a graph: cycles, unknown names, dangling inputs, duplicates.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::model::{Graph, InputSource, ProductKey};

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
    /// Without a triggering input the product would never be made on file arrival.
    NeverTriggered {
        product: ProductKey,
    },
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
                InputSource::Spice { kernel_types } => {
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
        if !product.inputs.is_empty() && !triggered {
            problems.push(GraphProblem::NeverTriggered { product: product.key.clone() });
        }
    }
    problems.extend(find_cycles(graph).into_iter().map(|path| GraphProblem::Cycle { path }));
    // A name used by several inputs of one product is reported once.
    let mut reported = HashSet::new();
    problems.retain(|problem| reported.insert(problem.clone()));
    problems
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
                .filter_map(|input| match &input.source {
                    InputSource::Science(key) => graph.producer_of(key).and_then(|producer| index_of(&producer.key)),
                    _ => None,
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
