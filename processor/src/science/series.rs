//! The time series every level above L1A works on: an epoch (TT2000) and record-varying
//! variables, read from and written to ISTP CDF files.

use nasa_cdf::{Compression, DataType, IstpDataset, IstpGlobals, IstpVariable, ReadLimits, Values, Variable};

use super::ScienceError;
use crate::mission::imap_valid_times;

/// ISTP fill of floating-point variables; what averages and joins write where data is missing.
pub const REAL_FILL: f64 = -1.0e31;
/// Smaller variables are stored uncompressed: setting up a GZIP stream costs more time
/// than it saves space on a few kilobytes.
pub const COMPRESS_FROM_BYTES: usize = 16 * 1024;
/// Fastest GZIP: on MAG L1A it writes four times faster than level 6, for slightly larger files.
const GZIP_LEVEL: u32 = 1;

/// Which variables of a file a series is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableKinds {
    All,
    /// Numbers and times: text variables are not decoded, for algorithms that would drop them.
    Numeric,
}

/// Record-varying data sharing one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeries {
    /// Nanoseconds since J2000 (TT2000), one per record.
    pub epoch: Vec<i64>,
    pub variables: Vec<SeriesVariable>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesVariable {
    pub name: String,
    /// All records, row-major, one after another.
    pub values: Values,
    /// Shape of one record (`[]` for scalars).
    pub dims: Vec<usize>,
    pub catdesc: Option<String>,
    pub units: Option<String>,
    /// Values equal to this are missing (the variable's FILLVAL).
    pub fill: Option<f64>,
}

impl SeriesVariable {
    pub fn new(name: impl Into<String>, values: Values, dims: &[usize]) -> Self {
        SeriesVariable { name: name.into(), values, dims: dims.to_vec(), catdesc: None, units: None, fill: None }
    }

    pub fn with_catdesc(mut self, catdesc: impl Into<String>) -> Self {
        self.catdesc = Some(catdesc.into());
        self
    }

    /// Values in one record.
    pub fn per_record(&self) -> usize {
        self.dims.iter().product::<usize>().max(1)
    }

    /// Whether a value stands for missing data rather than a measurement.
    pub fn is_missing(&self, value: f64) -> bool {
        value.is_nan() || self.fill == Some(value) || value == REAL_FILL
    }
}

impl TimeSeries {
    pub fn len(&self) -> usize {
        self.epoch.len()
    }

    pub fn is_empty(&self) -> bool {
        self.epoch.is_empty()
    }

    pub fn variable(&self, name: &str) -> Option<&SeriesVariable> {
        self.variables.iter().find(|variable| variable.name == name)
    }

    /// Reads the epoch (`epoch`, else the first TT2000 variable) and every record-varying
    /// variable with one record per epoch.
    pub fn from_cdf_bytes(bytes: &[u8], file_name: &str) -> Result<TimeSeries, ScienceError> {
        TimeSeries::from_cdf_bytes_of(bytes, file_name, VariableKinds::All)
    }

    /// Like [`TimeSeries::from_cdf_bytes`], with only the variables of `kinds`.
    pub fn from_cdf_bytes_of(bytes: &[u8], file_name: &str, kinds: VariableKinds) -> Result<TimeSeries, ScienceError> {
        let bad_input = |reason: String| ScienceError::BadInput { file: file_name.to_string(), reason };
        let keep = |_: &str, data_type: DataType| match kinds {
            VariableKinds::All => true,
            VariableKinds::Numeric => !data_type.is_char(),
        };
        let mut cdf = nasa_cdf::read_cdf_selected(bytes, ReadLimits::default(), &keep)
            .map_err(|error| bad_input(error.to_string()))?;
        let is_time = |variable: &Variable| matches!(variable.values, Values::TimeTt2000(_));
        let epoch_index = cdf
            .variables
            .iter()
            .position(|variable| is_time(variable) && variable.name.eq_ignore_ascii_case("epoch"))
            .or_else(|| cdf.variables.iter().position(is_time))
            .ok_or_else(|| bad_input("no tt2000 epoch variable".to_string()))?;
        let Values::TimeTt2000(epoch) = cdf.variables.remove(epoch_index).values else {
            unreachable!("found as tt2000")
        };
        let text = |variable: &Variable, name: &str| variable.attribute(name).and_then(|entry| entry.as_text());
        // The file is read only for this series: its values move into it rather than being copied.
        let variables = cdf
            .variables
            .into_iter()
            .filter(|variable| variable.record_varying && variable.num_records() == epoch.len())
            .map(|variable| SeriesVariable {
                catdesc: text(&variable, "CATDESC"),
                units: text(&variable, "UNITS").filter(|units| !units.trim().is_empty()),
                fill: variable
                    .attribute("FILLVAL")
                    .and_then(|entry| to_numbers(&entry.values))
                    .and_then(|fill| fill.first().copied()),
                name: variable.name,
                values: variable.values,
                dims: variable.dims,
            })
            .collect();
        Ok(TimeSeries { epoch, variables })
    }

    /// An ISTP CDF of this series with IMAP's valid time range; variables of at least
    /// [`COMPRESS_FROM_BYTES`] are GZIP-compressed.
    pub fn to_cdf_bytes(&self, globals: IstpGlobals) -> Result<Vec<u8>, ScienceError> {
        self.clone().into_cdf_bytes(globals)
    }

    /// Like [`TimeSeries::to_cdf_bytes`], moving the values into the file instead of copying them.
    pub fn into_cdf_bytes(self, globals: IstpGlobals) -> Result<Vec<u8>, ScienceError> {
        let (first, last) = imap_valid_times();
        let mut dataset = IstpDataset::new(globals).with_valid_times(first, last);
        dataset.add_epoch("epoch", self.epoch);
        for variable in self.variables {
            let bytes = variable.values.len()
                * variable.values.natural_data_type().element_size().max(variable.values.max_string_len());
            let mut istp = IstpVariable::data(&variable.name, variable.values, &variable.dims);
            if let Some(catdesc) = &variable.catdesc {
                istp = istp.catdesc(catdesc);
            }
            if let Some(units) = &variable.units {
                istp = istp.units(units);
            }
            if bytes >= COMPRESS_FROM_BYTES {
                istp = istp.compression(Compression::Gzip { level: GZIP_LEVEL });
            }
            dataset.add_variable(istp);
        }
        let cdf = dataset.into_cdf().map_err(|error| ScienceError::Failed(format!("cannot build cdf: {error}")))?;
        cdf.to_bytes().map_err(|error| ScienceError::Failed(format!("cannot write cdf: {error}")))
    }

    /// The given records, in the given order.
    pub fn take_records(&self, indices: &[usize]) -> TimeSeries {
        TimeSeries {
            epoch: indices.iter().map(|&index| self.epoch[index]).collect(),
            variables: self
                .variables
                .iter()
                .map(|variable| SeriesVariable {
                    name: variable.name.clone(),
                    values: take_rows(&variable.values, variable.per_record(), indices),
                    dims: variable.dims.clone(),
                    catdesc: variable.catdesc.clone(),
                    units: variable.units.clone(),
                    fill: variable.fill,
                })
                .collect(),
        }
    }

    /// The records in time order (equal times keep their order).
    pub fn sorted_by_time(self) -> TimeSeries {
        // Files of consecutive days usually come in order: nothing to move then.
        if self.epoch.is_sorted() {
            return self;
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by_key(|&index| self.epoch[index]);
        self.take_records(&order)
    }

    /// All records of all parts, in time order, keeping the variables every part has with
    /// the same record shape (integer types are widened to agree).
    pub fn concat(parts: Vec<TimeSeries>) -> TimeSeries {
        let mut parts = parts.into_iter();
        let Some(mut combined) = parts.next() else {
            return TimeSeries { epoch: Vec::new(), variables: Vec::new() };
        };
        for part in parts {
            combined.epoch.extend_from_slice(&part.epoch);
            combined.variables = std::mem::take(&mut combined.variables)
                .into_iter()
                .filter_map(|mut variable| {
                    let other = part.variable(&variable.name).filter(|other| other.dims == variable.dims)?;
                    append_values(&mut variable.values, &other.values)?;
                    Some(variable)
                })
                .collect();
        }
        combined.sorted_by_time()
    }
}

/// The values of a numeric variable as f64; `None` for text.
pub fn to_numbers(values: &Values) -> Option<Vec<f64>> {
    let numbers = match values {
        Values::Int1(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Int2(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Int4(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Int8(v) => v.iter().map(|&x| x as f64).collect(),
        Values::UInt1(v) => v.iter().map(|&x| x as f64).collect(),
        Values::UInt2(v) => v.iter().map(|&x| x as f64).collect(),
        Values::UInt4(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Real4(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Real8(v) => v.clone(),
        Values::TimeTt2000(v) => v.iter().map(|&x| x as f64).collect(),
        Values::Char(_) => return None,
    };
    Some(numbers)
}

fn to_int8(values: &Values) -> Option<Vec<i64>> {
    let integers = match values {
        Values::Int1(v) => v.iter().map(|&x| x as i64).collect(),
        Values::Int2(v) => v.iter().map(|&x| x as i64).collect(),
        Values::Int4(v) => v.iter().map(|&x| x as i64).collect(),
        Values::Int8(v) => v.clone(),
        Values::UInt1(v) => v.iter().map(|&x| x as i64).collect(),
        Values::UInt2(v) => v.iter().map(|&x| x as i64).collect(),
        Values::UInt4(v) => v.iter().map(|&x| x as i64).collect(),
        _ => return None,
    };
    Some(integers)
}

/// Appends `more` to `values`: in place when both hold the same type; otherwise different
/// integer types become Int8 and other numbers Real8. `None`, with `values` unchanged, when text
/// meets numbers.
fn append_values(values: &mut Values, more: &Values) -> Option<()> {
    macro_rules! same {
        ($($variant:ident),*) => {
            match (&mut *values, more) {
                $((Values::$variant(a), Values::$variant(b)) => {
                    a.extend_from_slice(b);
                    return Some(());
                })*
                _ => {}
            }
        };
    }
    same!(Int1, Int2, Int4, Int8, UInt1, UInt2, UInt4, Real4, Real8, TimeTt2000, Char);
    *values = if let (Some(a), Some(b)) = (to_int8(values), to_int8(more)) {
        Values::Int8([a, b].concat())
    } else {
        Values::Real8([to_numbers(values)?, to_numbers(more)?].concat())
    };
    Some(())
}

/// The records `indices` of row-major values with `per_record` values a record.
pub fn take_rows(values: &Values, per_record: usize, indices: &[usize]) -> Values {
    fn pick<T: Clone>(source: &[T], per_record: usize, indices: &[usize]) -> Vec<T> {
        let mut picked = Vec::with_capacity(indices.len() * per_record);
        for &index in indices {
            picked.extend_from_slice(&source[index * per_record..(index + 1) * per_record]);
        }
        picked
    }
    match values {
        Values::Int1(v) => Values::Int1(pick(v, per_record, indices)),
        Values::Int2(v) => Values::Int2(pick(v, per_record, indices)),
        Values::Int4(v) => Values::Int4(pick(v, per_record, indices)),
        Values::Int8(v) => Values::Int8(pick(v, per_record, indices)),
        Values::UInt1(v) => Values::UInt1(pick(v, per_record, indices)),
        Values::UInt2(v) => Values::UInt2(pick(v, per_record, indices)),
        Values::UInt4(v) => Values::UInt4(pick(v, per_record, indices)),
        Values::Real4(v) => Values::Real4(pick(v, per_record, indices)),
        Values::Real8(v) => Values::Real8(pick(v, per_record, indices)),
        Values::TimeTt2000(v) => Values::TimeTt2000(pick(v, per_record, indices)),
        Values::Char(v) => Values::Char(pick(v, per_record, indices)),
    }
}
