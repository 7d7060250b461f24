//! Products made of several inputs: the time merge of files of one instrument (L1C, e.g.
//! MAG normal and burst mode) and the nearest-time join (L3 of two instruments, e.g. SWE with
//! MAG; MAG L1D of both sensors on MAGo's time base): each record of the primary input gets
//! the nearest-in-time record of every other input, within a tolerance, as
//! `<instrument>_<descriptor>_<NAME>` variables.

use nasa_cdf::{AttributeEntry, Values};

use super::inputs::{Source, by_source, parent_names, primary_source_preferring, read_source};
use super::series::{REAL_FILL, SeriesVariable, TimeSeries, to_numbers};
use super::{Algorithm, InputFile, JobContext, ProductOutput, ScienceError, product_globals};

/// All inputs' records in time order; variables every input has; a record whose time is
/// already there (the same data from two files) is kept once.
pub struct TimeMerge;

impl Algorithm for TimeMerge {
    fn name(&self) -> &str {
        "time-merge"
    }

    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        let mut parts = Vec::new();
        for source in by_source(inputs).into_keys() {
            parts.push(read_source(context, inputs, &source)?);
        }
        if parts.is_empty() {
            return Err(ScienceError::MissingInput("cdf".into()));
        }
        let merged = TimeSeries::concat(parts);
        let mut keep: Vec<usize> = (0..merged.len()).collect();
        keep.dedup_by_key(|index| merged.epoch[*index]);
        let merged = merged.take_records(&keep);
        let descriptor = context.product.descriptor.clone();
        let globals = product_globals(context, &descriptor, &parent_names(inputs));
        Ok(vec![ProductOutput {
            data_level: None,
            bytes: merged.into_cdf_bytes(globals)?,
            descriptor,
            extension: "cdf".into(),
            notes: Vec::new(),
        }])
    }
}

pub struct NearestTimeJoin {
    pub tolerance_seconds: f64,
    /// The descriptor whose records set the time base; the job's own when `None`.
    pub primary_descriptor: Option<String>,
}

impl Algorithm for NearestTimeJoin {
    fn name(&self) -> &str {
        "nearest-time-join"
    }

    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        let preferred = self.primary_descriptor.as_deref().unwrap_or(&context.product.descriptor);
        let primary = primary_source_preferring(context, inputs, preferred)?;
        let mut joined = read_source(context, inputs, &primary)?;
        let tolerance_ns = (self.tolerance_seconds * 1e9).round() as i64;
        let mut joined_sources = Vec::new();
        for source in by_source(inputs).into_keys().filter(|source| *source != primary) {
            let other = read_source(context, inputs, &source)?;
            context.check_cancelled()?;
            joined.variables.extend(join_nearest(&joined.epoch, &other, &source, tolerance_ns));
            joined_sources.push(source.name().to_string());
        }
        if joined_sources.is_empty() {
            return Err(ScienceError::MissingInput("a second instrument to join".into()));
        }
        let descriptor = context.product.descriptor.clone();
        let mut globals = product_globals(context, &descriptor, &parent_names(inputs));
        globals.extra.push(("Joined_sources".into(), joined_sources.into_iter().map(AttributeEntry::text).collect()));
        globals
            .extra
            .push(("Join_tolerance_seconds".into(), vec![AttributeEntry::text(self.tolerance_seconds.to_string())]));
        Ok(vec![ProductOutput {
            data_level: None,
            bytes: joined.into_cdf_bytes(globals)?,
            descriptor,
            extension: "cdf".into(),
            notes: Vec::new(),
        }])
    }
}

/// For each time, the index of the nearest record of the sorted `times` within `tolerance_ns`.
pub fn nearest_records(times: &[i64], targets: &[i64], tolerance_ns: i64) -> Vec<Option<usize>> {
    targets
        .iter()
        .map(|&target| {
            let after = times.partition_point(|&time| time < target);
            let candidates = [after.checked_sub(1), (after < times.len()).then_some(after)];
            candidates
                .into_iter()
                .flatten()
                .min_by_key(|&index| (times[index] - target).abs())
                .filter(|&index| (times[index] - target).abs() <= tolerance_ns)
        })
        .collect()
}

/// The numeric variables of `other` sampled at `epoch`, fill where nothing is near enough.
fn join_nearest(epoch: &[i64], other: &TimeSeries, source: &Source, tolerance_ns: i64) -> Vec<SeriesVariable> {
    let matches = nearest_records(&other.epoch, epoch, tolerance_ns);
    let prefix = source.variable_prefix();
    let mut variables = vec![
        SeriesVariable::new(
            format!("{prefix}_time_offset"),
            Values::Real8(
                matches
                    .iter()
                    .zip(epoch)
                    .map(|(found, &time)| found.map_or(REAL_FILL, |index| (other.epoch[index] - time) as f64 / 1e9))
                    .collect(),
            ),
            &[],
        )
        .with_catdesc(format!("seconds from each record to the joined {prefix} record")),
    ];
    for variable in &other.variables {
        let Some(numbers) = to_numbers(&variable.values) else { continue };
        let numbers: Vec<f64> =
            numbers.into_iter().map(|value| if variable.is_missing(value) { REAL_FILL } else { value }).collect();
        let per_record = variable.per_record();
        let mut values = Vec::with_capacity(epoch.len() * per_record);
        for found in &matches {
            match found {
                Some(index) => values.extend_from_slice(&numbers[index * per_record..(index + 1) * per_record]),
                None => values.extend(std::iter::repeat_n(REAL_FILL, per_record)),
            }
        }
        variables.push(SeriesVariable {
            name: format!("{prefix}_{}", variable.name),
            values: Values::Real8(values),
            dims: variable.dims.clone(),
            catdesc: Some(format!("{} of {prefix} at the nearest time", variable.name)),
            units: variable.units.clone(),
            fill: Some(REAL_FILL),
        });
    }
    variables
}
