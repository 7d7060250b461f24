//! L1B: calibrated values applied. Every L1A field with a `<NAME>_DERIVED` companion (the
//! XTCE polynomial calibration or enumeration label, computed at decoding) is replaced by
//! it; fields without one keep their raw values.

use nasa_cdf::AttributeEntry;

use super::inputs::{parent_names, primary_source, read_source};
use super::series::{SeriesVariable, TimeSeries};
use super::{Algorithm, InputFile, JobContext, ProductOutput, ScienceError, product_globals};

const DERIVED_SUFFIX: &str = "_DERIVED";

pub struct Calibrate;

impl Algorithm for Calibrate {
    fn name(&self) -> &str {
        "calibrate-l1b"
    }

    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        let source = primary_source(context, inputs)?;
        let series = read_source(context, inputs, &source)?;
        context.check_cancelled()?;
        let (calibrated, applied) = apply_derived(&series);
        let descriptor = context.product.descriptor.clone();
        let mut globals = product_globals(context, &descriptor, &parent_names(inputs));
        globals.extra.push(("Calibrated_fields".into(), vec![AttributeEntry::text(applied.to_string())]));
        Ok(vec![ProductOutput {
            data_level: None,
            bytes: calibrated.into_cdf_bytes(globals)?,
            descriptor,
            extension: "cdf".into(),
            notes: Vec::new(),
        }])
    }
}

/// The series with derived values in place of raw ones, and how many fields changed.
pub fn apply_derived(series: &TimeSeries) -> (TimeSeries, usize) {
    let mut applied = 0;
    let variables = series
        .variables
        .iter()
        .filter(|variable| !variable.name.ends_with(DERIVED_SUFFIX))
        .map(|variable| match series.variable(&format!("{}{DERIVED_SUFFIX}", variable.name)) {
            Some(derived) => {
                applied += 1;
                SeriesVariable {
                    name: variable.name.clone(),
                    catdesc: Some(format!("{} calibrated", variable.name)),
                    ..derived.clone()
                }
            }
            None => variable.clone(),
        })
        .collect();
    (TimeSeries { epoch: series.epoch.clone(), variables }, applied)
}
