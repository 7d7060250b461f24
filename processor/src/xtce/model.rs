//! The XTCE definition as loaded from XML, before compilation into a decode plan.

use std::collections::HashMap;

pub(super) struct Model {
    pub parameter_types: HashMap<String, ParameterType>,
    /// Parameter name to parameter type name.
    pub parameters: HashMap<String, String>,
    /// Containers in document order (inheritors are tried in this order).
    pub containers: Vec<ContainerModel>,
}

pub(super) struct ParameterType {
    pub name: String,
    pub encoding: Encoding,
    pub calibrator: Option<Polynomial>,
    pub enumeration: Option<Vec<EnumerationEntry>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum FloatFormat {
    Ieee754,
    MilStd1750a,
}

pub(super) enum Encoding {
    Integer { bits: u32, signed: bool, little_endian: bool },
    Float { bits: u32, format: FloatFormat, little_endian: bool },
    Binary { size: SizeSpec },
    String { buffer: StringBuffer, content: StringContent, ascii_only: bool },
}

pub(super) enum SizeSpec {
    Fixed(u32),
    Dynamic(DynamicSize),
}

/// Size in bits taken from an earlier field: `slope * value + intercept`.
#[derive(Clone)]
pub(super) struct DynamicSize {
    pub parameter: String,
    pub use_calibrated: bool,
    pub slope: f64,
    pub intercept: f64,
}

pub(super) enum StringBuffer {
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
pub(super) enum StringContent {
    Whole,
    Terminated(Vec<u8>),
    LeadingSize(u32),
}

#[derive(Clone, Debug)]
pub(super) struct Polynomial {
    /// (coefficient, exponent) in document order, summed in that order like the reference.
    pub terms: Vec<(f64, i32)>,
}

impl Polynomial {
    pub fn evaluate(&self, x: f64) -> f64 {
        self.terms.iter().map(|&(coefficient, exponent)| coefficient * x.powi(exponent)).sum()
    }
}

pub(super) struct EnumerationEntry {
    pub label: String,
    pub value: i128,
    pub max_value: i128,
}

pub(super) struct ContainerModel {
    pub name: String,
    pub is_abstract: bool,
    pub base: Option<String>,
    pub criteria: Vec<ComparisonModel>,
    pub entries: Vec<Entry>,
}

pub(super) enum Entry {
    Parameter(String),
    Container(String),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum CompareOp {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

pub(super) struct ComparisonModel {
    pub parameter: String,
    pub op: CompareOp,
    pub value: String,
    pub use_calibrated: bool,
}
