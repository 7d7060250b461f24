//! ISTP/SPDF conventions: a dataset builder that fills in the global
//! attributes space-physics tools look for and the per-variable attributes
//! (CATDESC, FIELDNAM, DEPEND_0, FILLVAL, VALIDMIN, VALIDMAX, VAR_TYPE, UNITS,
//! FORMAT, LABLAXIS, DISPLAY_TYPE) with per-type defaults.
//!
//! ```
//! use nasa_cdf::{IstpDataset, IstpGlobals, IstpVariable, Values, utc_to_tt2000};
//!
//! let globals = IstpGlobals {
//!     project: "STP>Solar-Terrestrial Probes".into(),
//!     logical_source: "demo_mag_l2_1min".into(),
//!     generation_date: Some("20250101".into()),
//!     ..IstpGlobals::default()
//! };
//! let start = utc_to_tt2000(2025, 1, 1, 0, 0, 0, 0)?;
//! let mut dataset = IstpDataset::new(globals);
//! dataset
//!     .add_epoch("epoch", vec![start, start + 60_000_000_000])
//!     .add_variable(IstpVariable::data("b_total", Values::Real4(vec![5.1, 5.3]), &[]).units("nT"));
//! let cdf = dataset.build()?;
//!
//! let b_total = cdf.variable("b_total").expect("added above");
//! let text = |name: &str| b_total.attribute(name).and_then(|entry| entry.as_text());
//! assert_eq!(text("DEPEND_0").as_deref(), Some("epoch"));
//! assert_eq!(text("VAR_TYPE").as_deref(), Some("data"));
//! assert_eq!(text("UNITS").as_deref(), Some("nT"));
//! assert_eq!(b_total.attribute("FILLVAL").map(|fill| &fill.values), Some(&Values::Real4(vec![-1.0e31])));
//! # Ok::<(), nasa_cdf::CdfError>(())
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use crate::istp_defaults::default_valid_times;
pub use crate::istp_defaults::{istp_fill_value, istp_format, istp_valid_range};
use crate::model::{AttributeEntry, Cdf, Compression, Variable};
use crate::tt2000::civil_from_days;
use crate::values::{DataType, Values};
use crate::{CdfError, Result};

/// The ISTP global attributes. Empty strings are written as a single space
/// (ISTP tools reject empty entries).
#[derive(Debug, Clone, Default)]
pub struct IstpGlobals {
    pub project: String,
    pub source_name: String,
    pub discipline: String,
    pub data_type: String,
    pub descriptor: String,
    pub data_version: String,
    pub logical_file_id: String,
    pub logical_source: String,
    pub logical_source_description: String,
    pub mission_group: String,
    pub pi_name: String,
    pub pi_affiliation: String,
    pub text: String,
    pub instrument_type: String,
    pub parents: Vec<String>,
    /// `YYYYMMDD`; today (UTC) when `None`.
    pub generation_date: Option<String>,
    /// More global attributes, written after the standard ones.
    pub extra: Vec<(String, Vec<AttributeEntry>)>,
}

impl IstpGlobals {
    fn to_attributes(&self) -> Vec<(String, Vec<AttributeEntry>)> {
        let text = |value: &str| vec![AttributeEntry::text(if value.is_empty() { " " } else { value })];
        let generation_date = self.generation_date.clone().unwrap_or_else(today_yyyymmdd);
        let parents = match self.parents.is_empty() {
            true => text(""),
            false => self.parents.iter().map(|parent| AttributeEntry::text(parent.as_str())).collect(),
        };
        let mut attributes = vec![
            ("Project".to_string(), text(&self.project)),
            ("Source_name".to_string(), text(&self.source_name)),
            ("Discipline".to_string(), text(&self.discipline)),
            ("Data_type".to_string(), text(&self.data_type)),
            ("Descriptor".to_string(), text(&self.descriptor)),
            ("Data_version".to_string(), text(&self.data_version)),
            ("Logical_file_id".to_string(), text(&self.logical_file_id)),
            ("Logical_source".to_string(), text(&self.logical_source)),
            ("Logical_source_description".to_string(), text(&self.logical_source_description)),
            ("Mission_group".to_string(), text(&self.mission_group)),
            ("PI_name".to_string(), text(&self.pi_name)),
            ("PI_affiliation".to_string(), text(&self.pi_affiliation)),
            ("TEXT".to_string(), text(&self.text)),
            ("Instrument_type".to_string(), text(&self.instrument_type)),
            ("Parents".to_string(), parents),
            ("Generation_date".to_string(), text(&generation_date)),
        ];
        attributes.extend(self.extra.iter().cloned());
        attributes
    }
}

fn today_yyyymmdd() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    format!("{year:04}{month:02}{day:02}")
}

/// ISTP VAR_TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    Data,
    SupportData,
    Metadata,
}

impl VarType {
    fn as_str(self) -> &'static str {
        match self {
            VarType::Data => "data",
            VarType::SupportData => "support_data",
            VarType::Metadata => "metadata",
        }
    }
}

/// A variable plus the ISTP attributes to give it; unset ones get defaults.
#[derive(Debug, Clone)]
pub struct IstpVariable {
    pub variable: Variable,
    pub var_type: VarType,
    pub catdesc: Option<String>,
    pub fieldnam: Option<String>,
    pub units: Option<String>,
    pub format: Option<String>,
    pub lablaxis: Option<String>,
    pub display_type: Option<String>,
    pub fillval: Option<AttributeEntry>,
    pub validmin: Option<AttributeEntry>,
    pub validmax: Option<AttributeEntry>,
}

impl IstpVariable {
    pub fn new(var_type: VarType, variable: Variable) -> Self {
        IstpVariable {
            variable,
            var_type,
            catdesc: None,
            fieldnam: None,
            units: None,
            format: None,
            lablaxis: None,
            display_type: None,
            fillval: None,
            validmin: None,
            validmax: None,
        }
    }
    /// Record-varying science data (VAR_TYPE data).
    pub fn data(name: &str, values: Values, dims: &[usize]) -> Self {
        IstpVariable::new(VarType::Data, Variable::new(name, values, dims))
    }
    /// Support data; pass a non-record-varying [`Variable`] to [`IstpVariable::new`] for axes.
    pub fn support(name: &str, values: Values, dims: &[usize]) -> Self {
        IstpVariable::new(VarType::SupportData, Variable::new(name, values, dims))
    }
    pub fn catdesc(mut self, text: &str) -> Self {
        self.catdesc = Some(text.to_string());
        self
    }
    pub fn fieldnam(mut self, text: &str) -> Self {
        self.fieldnam = Some(text.to_string());
        self
    }
    pub fn units(mut self, text: &str) -> Self {
        self.units = Some(text.to_string());
        self
    }
    pub fn format(mut self, text: &str) -> Self {
        self.format = Some(text.to_string());
        self
    }
    pub fn lablaxis(mut self, text: &str) -> Self {
        self.lablaxis = Some(text.to_string());
        self
    }
    pub fn display_type(mut self, text: &str) -> Self {
        self.display_type = Some(text.to_string());
        self
    }
    /// Overrides the valid range; the entries should have the variable's type.
    pub fn valid_range(mut self, min: Values, max: Values) -> Self {
        let data_type = self.variable.data_type;
        self.validmin = Some(AttributeEntry::new(min).with_data_type(data_type));
        self.validmax = Some(AttributeEntry::new(max).with_data_type(data_type));
        self
    }
    pub fn fillval(mut self, fill: Values) -> Self {
        self.fillval = Some(AttributeEntry::new(fill).with_data_type(self.variable.data_type));
        self
    }
    pub fn compression(mut self, compression: Compression) -> Self {
        self.variable.compression = compression;
        self
    }
    /// Any other attribute, e.g. DEPEND_1, LABL_PTR_1, SCALETYP.
    pub fn attribute(mut self, name: &str, entry: impl Into<AttributeEntry>) -> Self {
        self.variable.set_attribute(name, entry);
        self
    }

    /// The variable with its ISTP attributes; `epoch` names DEPEND_0, `valid_times` is the
    /// default VALIDMIN/VALIDMAX of TT2000 variables.
    fn finish(self, epoch: Option<&str>, valid_times: (i64, i64)) -> Variable {
        let IstpVariable { variable, var_type, .. } = &self;
        let data_type = variable.data_type;
        let name = variable.name.clone();
        let (default_min, default_max) = match data_type {
            DataType::TimeTt2000 => {
                let time = |tt2000| AttributeEntry::new(Values::TimeTt2000(vec![tt2000])).with_data_type(data_type);
                (time(valid_times.0), time(valid_times.1))
            }
            _ => istp_valid_range(data_type),
        };
        let mut attributes: Vec<(String, AttributeEntry)> = Vec::with_capacity(12);
        let mut put = |key: &str, entry: AttributeEntry| attributes.push((key.to_string(), entry));
        put("CATDESC", AttributeEntry::text(self.catdesc.clone().unwrap_or_else(|| name.clone())));
        if let Some(epoch) = epoch.filter(|epoch| variable.record_varying && *epoch != name) {
            put("DEPEND_0", AttributeEntry::text(epoch));
        }
        if *var_type == VarType::Data {
            let default_display = if variable.dims.is_empty() { "time_series" } else { "spectrogram" };
            put("DISPLAY_TYPE", AttributeEntry::text(self.display_type.clone().unwrap_or(default_display.to_string())));
        }
        put("FIELDNAM", AttributeEntry::text(self.fieldnam.clone().unwrap_or_else(|| name.clone())));
        put("FILLVAL", self.fillval.clone().unwrap_or_else(|| istp_fill_value(data_type, variable.num_elems)));
        if let Some(format) = self.format.clone().or_else(|| istp_format(data_type, variable.num_elems)) {
            put("FORMAT", AttributeEntry::text(format));
        }
        put("LABLAXIS", AttributeEntry::text(self.lablaxis.clone().unwrap_or_else(|| name.clone())));
        put("UNITS", AttributeEntry::text(self.units.clone().unwrap_or_else(|| " ".to_string())));
        if !data_type.is_char() {
            put("VALIDMIN", self.validmin.clone().unwrap_or(default_min));
            put("VALIDMAX", self.validmax.clone().unwrap_or(default_max));
        }
        put("VAR_TYPE", AttributeEntry::text(var_type.as_str()));
        // Attributes the caller set explicitly win over the defaults above.
        let mut finished = self.variable;
        let explicit = std::mem::take(&mut finished.attributes);
        finished.attributes.reserve(attributes.len() + explicit.len());
        for (key, entry) in attributes.into_iter().chain(explicit) {
            finished.set_attribute(key, entry);
        }
        finished
    }
}

/// Builds a [`Cdf`] that follows ISTP: globals, an epoch, and variables.
#[derive(Debug, Clone)]
pub struct IstpDataset {
    globals: IstpGlobals,
    epoch_name: Option<String>,
    variables: Vec<IstpVariable>,
    /// Default VALIDMIN/VALIDMAX of TT2000 variables.
    valid_times: (i64, i64),
}

impl IstpDataset {
    pub fn new(globals: IstpGlobals) -> Self {
        IstpDataset { globals, epoch_name: None, variables: Vec::new(), valid_times: default_valid_times() }
    }

    /// The default VALIDMIN and VALIDMAX (TT2000) of every time variable, e.g. the span of a
    /// mission's clock; [`istp_valid_range`] of `TimeTt2000` otherwise. A variable's own
    /// [`IstpVariable::valid_range`] still wins.
    pub fn with_valid_times(mut self, first: i64, last: i64) -> Self {
        self.valid_times = (first, last);
        self
    }

    /// Adds the TT2000 time variable that record-varying variables DEPEND_0 on.
    pub fn add_epoch(&mut self, name: &str, tt2000: Vec<i64>) -> &mut Self {
        let epoch = IstpVariable::support(name, Values::TimeTt2000(tt2000), &[])
            .catdesc("Time, number of nanoseconds since J2000 with leap seconds included")
            .fieldnam("epoch")
            .lablaxis("epoch")
            .units("ns")
            .attribute("MONOTON", "INCREASE")
            .attribute("SCALETYP", "linear")
            .attribute("TIME_BASE", "J2000")
            .attribute("TIME_SCALE", "Terrestrial Time")
            .attribute("REFERENCE_POSITION", "Rotating Earth Geoid");
        self.epoch_name = Some(name.to_string());
        self.variables.push(epoch);
        self
    }

    pub fn add_variable(&mut self, variable: IstpVariable) -> &mut Self {
        self.variables.push(variable);
        self
    }

    /// The finished dataset. Checks that every record-varying variable has as
    /// many records as the epoch.
    pub fn build(&self) -> Result<Cdf> {
        self.clone().into_cdf()
    }

    /// Like [`IstpDataset::build`], moving the variables' values into the [`Cdf`] instead of
    /// copying them.
    pub fn into_cdf(self) -> Result<Cdf> {
        let mut cdf = Cdf::new();
        for (name, entries) in self.globals.to_attributes() {
            cdf.set_global_attribute(name, entries);
        }
        let epoch_records = self.epoch_name.as_deref().and_then(|epoch| {
            self.variables
                .iter()
                .find(|candidate| candidate.variable.name == epoch)
                .map(|epoch| epoch.variable.num_records())
        });
        for istp_variable in self.variables {
            let variable = &istp_variable.variable;
            if let Some(expected) =
                epoch_records.filter(|&expected| variable.record_varying && variable.num_records() != expected)
            {
                let reason = format!("{} records but the epoch has {expected}", variable.num_records());
                return Err(CdfError::InvalidVariable { name: variable.name.clone(), reason });
            }
            cdf.add_variable(istp_variable.finish(self.epoch_name.as_deref(), self.valid_times));
        }
        Ok(cdf)
    }
}
