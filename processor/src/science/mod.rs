//! The science the processor runs: one algorithm per product level (or per product), chosen by a
//! registry. Algorithms are synchronous, CPU-bound functions of their input bytes; the worker
//! runs them on the CPU pool and handles storage and the network.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use proto::date::Date;
use proto::pb::{FileRecord, ProductKey};

pub mod bench;
mod placeholder;

pub use placeholder::PlaceholderSummary;

/// Why science failed; these are the instrument data's or the algorithm's problems, so
/// retrying the same inputs would fail the same way.
#[derive(Debug, thiserror::Error)]
pub enum ScienceError {
    #[error("input {file} is unusable: {reason}")]
    BadInput { file: String, reason: String },
    #[error("no input of type {0} was given")]
    MissingInput(String),
    #[error("{0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
}

/// What an algorithm knows about the job it runs.
pub struct JobContext {
    pub job_id: String,
    pub product: ProductKey,
    pub date: Date,
    pub repointing: Option<u32>,
    /// The version every output of this job gets.
    pub version: String,
    cancelled: Arc<AtomicBool>,
}

impl JobContext {
    pub fn new(job_id: String, product: ProductKey, date: Date, repointing: Option<u32>, version: String, cancelled: Arc<AtomicBool>) -> Self {
        JobContext { job_id, product, date, repointing, version, cancelled }
    }

    /// Long algorithms call this between chunks so a cancelled job stops promptly.
    pub fn check_cancelled(&self) -> Result<(), ScienceError> {
        if self.cancelled.load(Ordering::Relaxed) { Err(ScienceError::Cancelled) } else { Ok(()) }
    }
}

/// One input file with its bytes.
pub struct InputFile {
    pub record: FileRecord,
    pub bytes: Vec<u8>,
}

/// One product an algorithm made; the worker names it from the job and `descriptor`.
pub struct ProductOutput {
    pub descriptor: String,
    pub extension: String,
    pub bytes: Vec<u8>,
}

pub trait Algorithm: Send + Sync {
    fn name(&self) -> &str;
    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError>;
}

/// Chooses the algorithm for a product.
#[derive(Clone, Default)]
pub struct Registry {
    /// (instrument or "*", level or "*", descriptor or "*") -> algorithm; first match wins.
    entries: Vec<(String, String, String, Arc<dyn Algorithm>)>,
}

impl Registry {
    /// The built-in science, by level.
    pub fn builtin() -> Registry {
        let mut registry = Registry::default();
        registry.register("*", "*", "*", Arc::new(PlaceholderSummary));
        registry
    }

    /// The registry a processor with this configuration uses.
    pub fn from_config(_config: &super::config::ProcessorConfig) -> Result<Registry, ScienceError> {
        Ok(Registry::builtin())
    }

    /// Adds an algorithm ahead of everything registered before it.
    pub fn register(&mut self, instrument: &str, data_level: &str, descriptor: &str, algorithm: Arc<dyn Algorithm>) {
        self.entries.insert(0, (instrument.to_string(), data_level.to_string(), descriptor.to_string(), algorithm));
    }

    pub fn select(&self, product: &ProductKey) -> Option<Arc<dyn Algorithm>> {
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        self.entries
            .iter()
            .find(|(instrument, level, descriptor, _)| {
                matches(instrument, &product.instrument) && matches(level, &product.data_level) && matches(descriptor, &product.descriptor)
            })
            .map(|(_, _, _, algorithm)| algorithm.clone())
    }

    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(instrument, level, descriptor, algorithm)| format!("{instrument} {level} {descriptor}: {}", algorithm.name()))
            .collect()
    }
}
