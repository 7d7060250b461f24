//! The in-memory dataset: what the writer serialises and the reader returns.

use crate::values::{DataType, Values};
use crate::{CdfError, Result};

/// Compression of one variable's records or of the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    /// GZIP at `level` 1 (fast) to 9 (small).
    Gzip { level: u32 },
}

/// One attribute entry: a text or a vector of numbers of one CDF type.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeEntry {
    pub data_type: DataType,
    /// For text, `Values::Char` with one string (several are stored as one
    /// entry joined by the CDF multi-string separator `\N `).
    pub values: Values,
}

impl AttributeEntry {
    /// An entry typed after its values (e.g. `Values::Real8` -> CDF_REAL8).
    pub fn new(values: Values) -> Self {
        AttributeEntry { data_type: values.natural_data_type(), values }
    }

    pub fn text(text: impl Into<String>) -> Self {
        AttributeEntry::new(Values::Char(vec![text.into()]))
    }

    /// Stores the values as another compatible type, e.g. Real8 as CDF_DOUBLE.
    pub fn with_data_type(mut self, data_type: DataType) -> Self {
        self.data_type = data_type;
        self
    }

    /// The text of a character entry (several strings joined by newlines).
    pub fn as_text(&self) -> Option<String> {
        match &self.values {
            Values::Char(strings) => Some(strings.join("\n")),
            _ => None,
        }
    }

    pub(crate) fn validate(&self, attribute_name: &str) -> Result<()> {
        let invalid = |reason: String| CdfError::InvalidAttribute { name: attribute_name.to_string(), reason };
        if !self.values.fits(self.data_type) {
            return Err(invalid(format!(
                "{:?} values cannot be stored as {:?}",
                self.values.natural_data_type(),
                self.data_type
            )));
        }
        if self.values.is_empty() {
            return Err(invalid("entry has no values".to_string()));
        }
        Ok(())
    }
}

impl From<&str> for AttributeEntry {
    fn from(text: &str) -> Self {
        AttributeEntry::text(text)
    }
}

impl From<String> for AttributeEntry {
    fn from(text: String) -> Self {
        AttributeEntry::text(text)
    }
}

impl From<Values> for AttributeEntry {
    fn from(values: Values) -> Self {
        AttributeEntry::new(values)
    }
}

/// A global (file-scope) attribute with its entries, numbered from 0.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalAttribute {
    pub name: String,
    pub entries: Vec<AttributeEntry>,
}

/// A zVariable: its type, record shape, all records' values and attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub data_type: DataType,
    /// Shape of one record, e.g. `[]` for scalars, `[3]`, `[2, 3]`.
    pub dims: Vec<usize>,
    /// `false` for data that does not change with time (one record only).
    pub record_varying: bool,
    /// Characters per string for CHAR, 1 otherwise.
    pub num_elems: usize,
    /// All records, row-major, one after another.
    pub values: Values,
    pub compression: Compression,
    /// Variable-scope attributes, e.g. ("UNITS", "nT"). On read they come back
    /// in attribute-number order.
    pub attributes: Vec<(String, AttributeEntry)>,
}

impl Variable {
    /// A record-varying variable typed after its values.
    pub fn new(name: impl Into<String>, values: Values, dims: &[usize]) -> Self {
        Variable {
            name: name.into(),
            data_type: values.natural_data_type(),
            dims: dims.to_vec(),
            record_varying: true,
            num_elems: values.max_string_len().max(1),
            values,
            compression: Compression::None,
            attributes: Vec::new(),
        }
    }

    /// A variable with one record that applies to all times.
    pub fn non_record_varying(name: impl Into<String>, values: Values, dims: &[usize]) -> Self {
        Variable { record_varying: false, ..Variable::new(name, values, dims) }
    }

    pub fn with_data_type(mut self, data_type: DataType) -> Self {
        self.data_type = data_type;
        self
    }

    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    pub fn with_num_elems(mut self, num_elems: usize) -> Self {
        self.num_elems = num_elems;
        self
    }

    /// Adds or replaces a variable attribute.
    pub fn with_attribute(mut self, name: impl Into<String>, entry: impl Into<AttributeEntry>) -> Self {
        self.set_attribute(name, entry);
        self
    }

    pub fn set_attribute(&mut self, name: impl Into<String>, entry: impl Into<AttributeEntry>) {
        let name = name.into();
        let entry = entry.into();
        match self.attributes.iter_mut().find(|(existing, _)| *existing == name) {
            Some((_, slot)) => *slot = entry,
            None => self.attributes.push((name, entry)),
        }
    }

    pub fn attribute(&self, name: &str) -> Option<&AttributeEntry> {
        self.attributes.iter().find(|(existing, _)| existing == name).map(|(_, entry)| entry)
    }

    /// Number of values in one record (product of dims, 1 for scalars).
    pub fn values_per_record(&self) -> usize {
        self.dims.iter().product()
    }

    pub fn num_records(&self) -> usize {
        match self.values_per_record() {
            0 => 0,
            per_record => self.values.len() / per_record,
        }
    }

    /// Bytes of one record in the file.
    pub fn record_size(&self) -> usize {
        self.values_per_record() * self.data_type.element_size() * self.num_elems
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |reason: String| CdfError::InvalidVariable { name: self.name.clone(), reason };
        if self.name.is_empty() || self.name.len() > 256 {
            return Err(invalid("name must have 1 to 256 bytes".to_string()));
        }
        if !self.values.fits(self.data_type) {
            return Err(invalid(format!(
                "{:?} values cannot be stored as {:?}",
                self.values.natural_data_type(),
                self.data_type
            )));
        }
        if self.dims.contains(&0) {
            return Err(invalid("dimension sizes must be at least 1".to_string()));
        }
        if self.num_elems == 0 || (!self.data_type.is_char() && self.num_elems != 1) {
            return Err(invalid("num_elems must be 1, or the string length for char".to_string()));
        }
        if self.values.max_string_len() > self.num_elems {
            return Err(invalid(format!("a string is longer than num_elems {}", self.num_elems)));
        }
        let per_record = self.values_per_record();
        if !self.values.len().is_multiple_of(per_record) {
            return Err(invalid(format!(
                "{} values are not a whole number of records of {per_record}",
                self.values.len()
            )));
        }
        if !self.record_varying && self.values.len() != per_record {
            return Err(invalid(format!("non-record-varying variable needs exactly {per_record} values")));
        }
        if i32::try_from(self.num_records()).is_err() {
            return Err(invalid("too many records".to_string()));
        }
        for (attribute_name, entry) in &self.attributes {
            entry.validate(attribute_name)?;
        }
        Ok(())
    }
}

/// A whole CDF file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cdf {
    pub global_attributes: Vec<GlobalAttribute>,
    pub variables: Vec<Variable>,
    /// Whole-file GZIP (the CCR layout), in addition to any per-variable compression.
    pub file_compression: Compression,
}

impl Cdf {
    pub fn new() -> Self {
        Cdf::default()
    }

    /// Adds or replaces a global attribute.
    pub fn set_global_attribute(&mut self, name: impl Into<String>, entries: Vec<AttributeEntry>) {
        let name = name.into();
        match self.global_attributes.iter_mut().find(|attribute| attribute.name == name) {
            Some(attribute) => attribute.entries = entries,
            None => self.global_attributes.push(GlobalAttribute { name, entries }),
        }
    }

    pub fn global_attribute(&self, name: &str) -> Option<&GlobalAttribute> {
        self.global_attributes.iter().find(|attribute| attribute.name == name)
    }

    pub fn add_variable(&mut self, variable: Variable) {
        self.variables.push(variable);
    }

    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|variable| variable.name == name)
    }

    /// Serialises to CDF v3 bytes (see [`crate::write::write_cdf`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        crate::write::write_cdf(self)
    }

    /// Parses CDF v3 bytes (see [`crate::read::read_cdf`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Cdf> {
        crate::read::read_cdf(bytes)
    }
}
