//! The XTCE definition as loaded from XML, before compilation into a decode plan.

use std::collections::HashMap;

pub(crate) struct Model {
    pub parameter_types: HashMap<String, ParameterType>,
    /// Parameter name to parameter type name.
    pub parameters: HashMap<String, String>,
    /// Containers in document order (inheritors are tried in this order).
    pub containers: Vec<ContainerModel>,
}

pub(crate) struct ParameterType {
    pub name: String,
    pub encoding: Encoding,
    pub calibrator: Option<Polynomial>,
    pub enumeration: Option<Vec<EnumerationEntry>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FloatFormat {
    Ieee754,
    MilStd1750a,
}

pub(crate) enum Encoding {
    Integer { bits: u32, signed: bool, little_endian: bool },
    Float { bits: u32, format: FloatFormat, little_endian: bool },
    Binary { size: SizeSpec },
    String { buffer: StringBuffer, content: StringContent, ascii_only: bool },
}

pub(crate) enum SizeSpec {
    Fixed(u32),
    Dynamic(DynamicSize),
}

/// Size in bits taken from an earlier field: `slope * value + intercept`.
#[derive(Clone)]
pub(crate) struct DynamicSize {
    pub parameter: String,
    pub use_calibrated: bool,
    pub slope: f64,
    pub intercept: f64,
}

pub(crate) enum StringBuffer {
    Fixed(u32),
    Dynamic(DynamicSize),
    /// XTCE 1.3: the buffer is the size tag plus the length it holds.
    LeadingSizeOnly(u32),
    /// XTCE 1.3: the buffer runs up to and including the terminator.
    TerminatorOnly {
        max_bits: Option<u32>,
    },
}

#[derive(Clone)]
pub(crate) enum StringContent {
    Whole,
    Terminated(Vec<u8>),
    LeadingSize(u32),
}

#[derive(Clone, Debug)]
pub(crate) struct Polynomial {
    /// (coefficient, exponent) in document order, summed in that order like the reference.
    pub terms: Vec<(f64, i32)>,
}

impl Polynomial {
    pub fn evaluate(&self, x: f64) -> f64 {
        self.terms.iter().map(|&(coefficient, exponent)| coefficient * x.powi(exponent)).sum()
    }
}

pub(crate) struct EnumerationEntry {
    pub label: String,
    pub value: i128,
    pub max_value: i128,
}

pub(crate) struct ContainerModel {
    pub name: String,
    pub is_abstract: bool,
    pub base: Option<String>,
    pub criteria: Vec<ComparisonModel>,
    pub entries: Vec<Entry>,
}

pub(crate) enum Entry {
    Parameter(String),
    Container(String),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum CompareOp {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

pub(crate) struct ComparisonModel {
    pub parameter: String,
    pub op: CompareOp,
    pub value: String,
    pub use_calibrated: bool,
}
