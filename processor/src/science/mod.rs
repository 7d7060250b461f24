//! The science the processor runs: one algorithm per product level (or per product), chosen by a
//! registry. Algorithms are synchronous, CPU-bound functions of their input bytes; the worker
//! runs them on the CPU pool and handles storage and the network.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use imap_filename::Date;
use proto::pb::{FileRecord, ProductKey};

use nasa_cdf::IstpGlobals;

use crate::config::{BuiltinScience, ProcessorConfig};
use crate::mission::{SclkKernel, imap_globals};

pub mod average;
pub mod bench;
pub mod calibrate;
pub mod combine;
pub mod container;
pub mod external;
pub mod inputs;
pub mod level0;
pub mod limits;
pub mod mag_vectors;
pub mod mission_program;
pub mod series;

#[cfg(test)]
mod container_tests;
#[cfg(test)]
mod external_tests;
#[cfg(any(test, feature = "test-util"))]
pub mod fixture;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod mission_program_tests;
#[cfg(test)]
mod mutation_tests;
#[cfg(test)]
mod tests;

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
    #[error("no xtce packet definition for {instrument}: {reason}")]
    MissingDefinition { instrument: String, reason: String },
    #[error("xtce packet definition {origin} is unusable: {reason}")]
    BadDefinition { origin: String, reason: String },
    /// A bug in the algorithm or a library it calls, met on this job's input; the same input
    /// meets it again, so the job is not retried.
    #[error("science {algorithm} panicked: {message}")]
    Panicked { algorithm: String, message: String },
    #[error("external science {program} failed: {reason}; stdout: {stdout}; stderr: {stderr}")]
    External { program: String, reason: String, stdout: String, stderr: String },
    /// The mission's own program failed (it raised, was killed, or wrote what the job does not
    /// make). Its environment may be at fault (a kernel mirror, memory), so the job is retried.
    #[error("mission program {program} failed: {reason}{}", traceback_suffix(.traceback))]
    MissionProgram { program: String, reason: String, traceback: String, log_tail: String },
}

fn traceback_suffix(traceback: &str) -> String {
    if traceback.is_empty() { String::new() } else { format!("\n{traceback}") }
}

impl ScienceError {
    /// What the job's log should keep of a failed run: the program's own output, when it has one.
    pub fn program_log(&self) -> Option<&str> {
        match self {
            ScienceError::MissionProgram { log_tail, .. } => Some(log_tail),
            _ => None,
        }
    }
}

/// What an algorithm knows about the job it runs.
pub struct JobContext {
    pub job_id: proto::ids::JobId,
    pub product: ProductKey,
    pub date: Date,
    pub repointing: Option<u32>,
    /// The version every output of this job gets.
    pub version: String,
    cancelled: Arc<AtomicBool>,
}

impl JobContext {
    pub fn new(
        job_id: proto::ids::JobId,
        product: ProductKey,
        date: Date,
        repointing: Option<u32>,
        version: String,
        cancelled: Arc<AtomicBool>,
    ) -> Self {
        JobContext { job_id, product, date, repointing, version, cancelled }
    }

    /// Long algorithms call this between chunks so a cancelled job stops promptly.
    pub fn check_cancelled(&self) -> Result<(), ScienceError> {
        if self.cancelled.load(Ordering::Acquire) { Err(ScienceError::Cancelled) } else { Ok(()) }
    }
}

/// One input file with its bytes.
pub struct InputFile {
    pub record: FileRecord,
    pub bytes: Vec<u8>,
}

/// One product an algorithm made; the worker names it from the job and `descriptor`.
pub struct ProductOutput {
    /// The output's level when it differs from the job's (a mission `l1 hk` job writes `l1a`
    /// and `l1b` files); `None` for the job's own level.
    pub data_level: Option<String>,
    pub descriptor: String,
    pub extension: String,
    pub bytes: Vec<u8>,
    /// What the job log should say about this output, e.g. packets that could not be decoded.
    pub notes: Vec<String>,
}

/// The ISTP globals of an output of this job, with its parents.
pub fn product_globals(context: &JobContext, descriptor: &str, parents: &[String]) -> IstpGlobals {
    product_globals_at(context, &context.product.data_level, descriptor, parents)
}

/// The ISTP globals of an output this job writes at `data_level` (a sub-level of the job's).
pub fn product_globals_at(context: &JobContext, data_level: &str, descriptor: &str, parents: &[String]) -> IstpGlobals {
    let mut globals =
        imap_globals(&context.product.instrument, data_level, descriptor, &context.date.yyyymmdd(), &context.version);
    globals.parents = parents.to_vec();
    globals
}

pub trait Algorithm: Send + Sync {
    fn name(&self) -> &str;
    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError>;
}

/// The built-in science, chosen per product at run time: a `[[processor.builtin]]` rule.
struct BuiltIn(Registry);

impl Algorithm for BuiltIn {
    fn name(&self) -> &str {
        "built-in"
    }

    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        let algorithm = self
            .0
            .select(&context.product)
            .ok_or_else(|| ScienceError::Failed(format!("no built-in science for {}", context.product)))?;
        algorithm.run(context, inputs)
    }
}

/// Runs `algorithm` so that a panic in it, or in a library it calls (also on other pool threads
/// through rayon), fails this job with the panic's message instead of taking the node down.
pub fn run_catching_panics(
    algorithm: &dyn Algorithm,
    context: &JobContext,
    inputs: &[InputFile],
) -> Result<Vec<ProductOutput>, ScienceError> {
    // Nothing observes the algorithm's state after a panic: its outputs are dropped with it.
    catch_unwind(AssertUnwindSafe(|| algorithm.run(context, inputs))).unwrap_or_else(|payload| {
        Err(ScienceError::Panicked { algorithm: algorithm.name().to_string(), message: panic_message(&*payload) })
    })
}

/// The text a panic was raised with.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (None, Some(text)) => text.clone(),
        (None, None) => "a panic without a message".to_string(),
    }
}

/// Chooses the algorithm for a product.
#[derive(Clone, Default)]
pub struct Registry {
    /// (instrument or "*", level or "*", descriptor or "*") -> algorithm; first match wins.
    entries: Vec<(String, String, String, Arc<dyn Algorithm>)>,
}

impl Registry {
    /// The built-in science with default settings.
    pub fn builtin() -> Registry {
        Registry::builtin_with(&ProcessorConfig::default(), SclkKernel::nominal())
    }

    /// The built-in science, by level; later registrations win over earlier ones. The L1A
    /// decoder always, the generic algorithms above it unless `builtin_science = "decoders"`.
    pub fn builtin_with(config: &ProcessorConfig, clock: SclkKernel) -> Registry {
        let mut registry = Registry::default();
        let decode =
            level0::DecodeLevel0::new(config.xtce_dir.clone(), config.apid_descriptors.clone()).with_clock(clock);
        let decode = Arc::new(decode);
        registry.register("*", "l1a", "*", decode.clone());
        registry.register("swapi", "l1", "*", decode);
        if config.builtin_science == Some(BuiltinScience::Decoders) {
            return registry;
        }
        registry.register("*", "l1b", "*", Arc::new(calibrate::Calibrate));
        registry.register("*", "l1c", "*", Arc::new(combine::TimeMerge));
        registry.register("*", "l1d", "*", Arc::new(combine::TimeMerge));
        // MAG L1D: both sensors on the time base of MAGo, the outboard (primary) sensor.
        let magnetometers = combine::NearestTimeJoin {
            tolerance_seconds: config.join_tolerance.as_secs_f64(),
            primary_descriptor: Some("norm-mago".into()),
        };
        registry.register("mag", "l1d", "norm-dsrf", Arc::new(magnetometers));
        registry.register("*", "l2*", "*", Arc::new(average::TimeAverage::daily(config.l2_cadence.as_secs_f64())));
        registry.register("*", "l3*", "*", Arc::new(average::TimeAverage::multi_day(config.l3_cadence.as_secs_f64())));
        // The mission graph's L3 products that combine an instrument with MAG.
        let join = Arc::new(combine::NearestTimeJoin {
            tolerance_seconds: config.join_tolerance.as_secs_f64(),
            primary_descriptor: None,
        });
        for (instrument, level, descriptor) in
            [("swe", "l3", "sci"), ("codice", "l3b", "hi-pitch-angle"), ("hit", "l3", "macropixel")]
        {
            registry.register(instrument, level, descriptor, join.clone());
        }
        registry
    }

    /// The registry a processor with this configuration uses: the built-in science, then
    /// the configured external programs, then the mission programs (as processes or in
    /// containers), each winning over what came before; `builtin` rules pin products back.
    pub fn from_config(config: &ProcessorConfig) -> Result<Registry, ScienceError> {
        let mut problems = mesh_runtime::config::Problems::default();
        config.validate(&mut problems);
        if !problems.is_empty() {
            return Err(ScienceError::Failed(problems.into_vec().join("; ")));
        }
        let clock = match &config.sclk_kernel {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|error| error.to_string())
                .and_then(|text| SclkKernel::parse(&text).map_err(|error| error.to_string()))
                .map_err(|reason| {
                    ScienceError::Failed(format!("sclk kernel {} is unusable: {reason}", path.display()))
                })?,
            None => SclkKernel::nominal(),
        };
        let builtin = Registry::builtin_with(config, clock);
        let mut registry = builtin.clone();
        for external in &config.external {
            let algorithm = Arc::new(external::ExternalScience::new(external.clone(), config.effective_work_dir()));
            registry.register(&external.instrument, &external.level, &external.descriptor, algorithm);
        }
        for program in &config.mission_program {
            let work_dir = config.effective_work_dir();
            let algorithm: Arc<dyn Algorithm> = match &program.container {
                Some(container) => {
                    Arc::new(container::ContainerProgram::new(program.clone(), container.clone(), work_dir))
                }
                None => Arc::new(mission_program::MissionProgram::new(program.clone(), work_dir)),
            };
            registry.register(&program.instrument, &program.level, &program.descriptor, algorithm);
        }
        let pinned = Arc::new(BuiltIn(builtin));
        for pattern in &config.builtin {
            registry.register(&pattern.instrument, &pattern.level, &pattern.descriptor, pinned.clone());
        }
        if let Some(busy) = config.busy_science {
            for entry in &mut registry.entries {
                entry.3 = Arc::new(bench::Repeated { inner: entry.3.clone(), busy });
            }
        }
        Ok(registry)
    }

    /// Adds an algorithm ahead of everything registered before it.
    pub fn register(&mut self, instrument: &str, data_level: &str, descriptor: &str, algorithm: Arc<dyn Algorithm>) {
        self.entries.insert(0, (instrument.to_string(), data_level.to_string(), descriptor.to_string(), algorithm));
    }

    pub fn select(&self, product: &ProductKey) -> Option<Arc<dyn Algorithm>> {
        // `*` matches anything, `l3*` anything starting with `l3`.
        let matches = |pattern: &str, value: &str| match pattern.strip_suffix('*') {
            Some(prefix) => value.starts_with(prefix),
            None => pattern == value,
        };
        self.entries
            .iter()
            .find(|(instrument, level, descriptor, _)| {
                matches(instrument, &product.instrument)
                    && matches(level, &product.data_level)
                    && matches(descriptor, &product.descriptor)
            })
            .map(|(_, _, _, algorithm)| algorithm.clone())
    }

    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(instrument, level, descriptor, algorithm)| {
                format!("{instrument} {level} {descriptor}: {}", algorithm.name())
            })
            .collect()
    }
}
