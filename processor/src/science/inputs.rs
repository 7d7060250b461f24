//! Choosing and reading the CDF inputs of a job above L1A.

use std::collections::BTreeMap;

use proto::product::ProductName;

use super::series::{TimeSeries, VariableKinds};
use super::{InputFile, JobContext, ScienceError};

/// Where an input comes from: instrument, level and descriptor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    pub instrument: String,
    pub data_level: String,
    pub descriptor: String,
}

impl Source {
    pub fn of(input: &InputFile) -> Source {
        Source {
            instrument: input.record.instrument.clone(),
            data_level: input.record.data_level.clone(),
            descriptor: input.record.descriptor.clone(),
        }
    }

    /// How people name it, e.g. `mag l1d norm-dsrf`.
    pub fn name(&self) -> ProductName<'_> {
        ProductName::new(&self.instrument, &self.data_level, &self.descriptor)
    }

    /// A prefix for this source's variables in a combined product, e.g. `mag_norm_dsrf`.
    pub fn variable_prefix(&self) -> String {
        format!("{}_{}", self.instrument, self.descriptor).replace('-', "_")
    }
}

/// The inputs grouped by source, each group in the order given.
pub fn by_source(inputs: &[InputFile]) -> BTreeMap<Source, Vec<&InputFile>> {
    let mut groups: BTreeMap<Source, Vec<&InputFile>> = BTreeMap::new();
    for input in
        inputs.iter().filter(|input| input.record.extension == "cdf" || input.record.file_name.ends_with(".cdf"))
    {
        groups.entry(Source::of(input)).or_default().push(input);
    }
    groups
}

/// The job's own data: the inputs of the job's instrument, preferring those with the job's
/// descriptor (an `l1b de` job from `l1a de` and `l1a spin` works on `de`).
pub fn primary_source(context: &JobContext, inputs: &[InputFile]) -> Result<Source, ScienceError> {
    primary_source_preferring(context, inputs, &context.product.descriptor)
}

/// Like [`primary_source`], preferring the inputs with `descriptor`.
pub fn primary_source_preferring(
    context: &JobContext,
    inputs: &[InputFile],
    descriptor: &str,
) -> Result<Source, ScienceError> {
    let sources: Vec<Source> = by_source(inputs).into_keys().collect();
    let own: Vec<&Source> = sources.iter().filter(|source| source.instrument == context.product.instrument).collect();
    own.iter()
        .find(|source| source.descriptor == descriptor)
        .or_else(|| own.first())
        .map(|source| (*source).clone())
        .ok_or_else(|| ScienceError::MissingInput(format!("{} cdf", context.product.instrument)))
}

/// Every file of one source read and joined into one time-ordered series.
pub fn read_source(context: &JobContext, inputs: &[InputFile], source: &Source) -> Result<TimeSeries, ScienceError> {
    read_source_of(context, inputs, source, VariableKinds::All)
}

/// Like [`read_source`], with only the variables of `kinds`.
pub fn read_source_of(
    context: &JobContext,
    inputs: &[InputFile],
    source: &Source,
    kinds: VariableKinds,
) -> Result<TimeSeries, ScienceError> {
    let mut parts = Vec::new();
    for input in inputs.iter().filter(|input| Source::of(input) == *source) {
        context.check_cancelled()?;
        parts.push(TimeSeries::from_cdf_bytes_of(&input.bytes, &input.record.file_name, kinds)?);
    }
    if parts.is_empty() {
        return Err(ScienceError::MissingInput(source.name().to_string()));
    }
    Ok(TimeSeries::concat(parts))
}

/// Basenames of all inputs: the `Parents` of every output.
pub fn parent_names(inputs: &[InputFile]) -> Vec<String> {
    inputs.iter().map(|input| input.record.file_name.clone()).collect()
}
