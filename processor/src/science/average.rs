//! Time averages: L2 (one day at a cadence) and the L3 multi-day product (every day of the
//! window at a coarser cadence). Each numeric variable gets its mean per bin, ignoring fill
//! and NaN, and a `<NAME>_COUNT` of the values that went into it; text variables are not
//! averaged. Bins are aligned to UTC midnight of the job's date, epochs are bin centres.

use nasa_cdf::{AttributeEntry, Values, utc_to_tt2000};

use super::inputs::{parent_names, primary_source, read_source_of};
use super::series::{REAL_FILL, SeriesVariable, TimeSeries, VariableKinds, to_numbers};
use super::{Algorithm, InputFile, JobContext, ProductOutput, ScienceError, product_globals};

const RECORD_COUNT: &str = "record_count";
const COUNT_SUFFIX: &str = "_COUNT";

pub struct TimeAverage {
    name: &'static str,
    cadence_seconds: f64,
}

impl TimeAverage {
    /// L2: the day's data averaged at `cadence_seconds`.
    pub fn daily(cadence_seconds: f64) -> Self {
        TimeAverage { name: "time-average-l2", cadence_seconds }
    }

    /// L3: all days of the window (every input file) averaged at `cadence_seconds`.
    pub fn multi_day(cadence_seconds: f64) -> Self {
        TimeAverage { name: "multi-day-average-l3", cadence_seconds }
    }
}

impl Algorithm for TimeAverage {
    fn name(&self) -> &str {
        self.name
    }

    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        let cadence_ns = (self.cadence_seconds * 1e9).round() as i64;
        if cadence_ns <= 0 {
            return Err(ScienceError::Failed(format!("cadence must be positive, not {} s", self.cadence_seconds)));
        }
        let source = primary_source(context, inputs)?;
        // Text variables have no mean: they are not decoded at all.
        let series = read_source_of(context, inputs, &source, VariableKinds::Numeric)?;
        context.check_cancelled()?;
        let date = context.date;
        let origin = utc_to_tt2000(date.year(), date.month(), date.day(), 0, 0, 0, 0)
            .map_err(|error| ScienceError::Failed(format!("job date has no tt2000: {error}")))?;
        let averaged = average(&series, origin, cadence_ns);

        let mut window_dates: Vec<String> =
            inputs.iter().map(|input| input.record.start_date.clone()).filter(|date| !date.is_empty()).collect();
        window_dates.sort();
        window_dates.dedup();
        let descriptor = context.product.descriptor.clone();
        let mut globals = product_globals(context, &descriptor, &parent_names(inputs));
        let text = |value: String| vec![AttributeEntry::text(value)];
        globals.extra.push(("Cadence_seconds".into(), text(self.cadence_seconds.to_string())));
        globals.extra.push(("Averaged_days".into(), text(window_dates.join(" "))));
        Ok(vec![ProductOutput {
            data_level: None,
            bytes: averaged.into_cdf_bytes(globals)?,
            descriptor,
            extension: "cdf".into(),
            notes: Vec::new(),
        }])
    }
}

/// Means per bin `[origin + k cadence, origin + (k+1) cadence)` for every numeric variable.
pub fn average(series: &TimeSeries, origin: i64, cadence_ns: i64) -> TimeSeries {
    let bin_of_record: Vec<i64> = series.epoch.iter().map(|&time| (time - origin).div_euclid(cadence_ns)).collect();
    let mut bins = bin_of_record.clone();
    bins.sort_unstable();
    bins.dedup();
    let slot_of_record: Vec<usize> =
        bin_of_record.iter().map(|bin| bins.binary_search(bin).expect("bin listed")).collect();
    let epoch = bins.iter().map(|&bin| origin + bin * cadence_ns + cadence_ns / 2).collect();

    // Averages of averages (L3 from L2) weigh each input mean by its count.
    let counts_of = |name: &str| series.variable(name).and_then(|variable| to_numbers(&variable.values));
    let is_count = |name: &str| {
        name == RECORD_COUNT || name.strip_suffix(COUNT_SUFFIX).is_some_and(|base| series.variable(base).is_some())
    };
    let record_weights = counts_of(RECORD_COUNT).unwrap_or_else(|| vec![1.0; series.len()]);
    let mut records_per_bin = vec![0.0; bins.len()];
    for (record, &slot) in slot_of_record.iter().enumerate() {
        records_per_bin[slot] += record_weights[record];
    }
    let records_per_bin = Values::UInt4(records_per_bin.iter().map(|&count| count.round() as u32).collect());
    let mut variables =
        vec![SeriesVariable::new(RECORD_COUNT, records_per_bin, &[]).with_catdesc("records averaged into each bin")];
    for variable in series.variables.iter().filter(|variable| !is_count(&variable.name)) {
        let Some(numbers) = to_numbers(&variable.values) else { continue };
        let weights =
            counts_of(&format!("{}{COUNT_SUFFIX}", variable.name)).filter(|weights| weights.len() == numbers.len());
        let per_record = variable.per_record();
        let mut sums = vec![0.0; bins.len() * per_record];
        let mut counts = vec![0.0; bins.len() * per_record];
        for (record, &slot) in slot_of_record.iter().enumerate() {
            for element in 0..per_record {
                let index = record * per_record + element;
                let weight = weights.as_ref().map_or(1.0, |weights| weights[index]);
                if !variable.is_missing(numbers[index]) && weight > 0.0 {
                    sums[slot * per_record + element] += numbers[index] * weight;
                    counts[slot * per_record + element] += weight;
                }
            }
        }
        let means =
            sums.iter().zip(&counts).map(|(&sum, &count)| if count == 0.0 { REAL_FILL } else { sum / count }).collect();
        variables.push(SeriesVariable {
            name: variable.name.clone(),
            values: Values::Real8(means),
            dims: variable.dims.clone(),
            catdesc: Some(format!("mean of {} over each bin", variable.name)),
            units: variable.units.clone(),
            fill: Some(REAL_FILL),
        });
        let catdesc = format!("values of {} averaged into each bin", variable.name);
        let counts = Values::UInt4(counts.iter().map(|&count| count.round() as u32).collect());
        variables.push(
            SeriesVariable::new(format!("{}{COUNT_SUFFIX}", variable.name), counts, &variable.dims)
                .with_catdesc(catdesc),
        );
    }
    TimeSeries { epoch, variables }
}
