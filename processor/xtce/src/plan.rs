//! The flat decode plan: per container a list of field operations on numbered slots, and
//! the compiled restriction criteria that choose between inheritors.

use std::path::Path;

use crate::XtceError;
use crate::compile::compile;
use crate::definition::load_model;
use crate::model::{CompareOp, Encoding, EnumerationEntry, FloatFormat, Polynomial, StringContent};

/// A compiled XTCE packet definition, ready to decode packets with [`PacketDefinition::decode`].
pub struct PacketDefinition {
    pub(crate) containers: Vec<CompiledContainer>,
    pub(crate) root: usize,
    /// The most fields any packet can have, i.e. the size of the per-packet scratch space.
    pub(crate) slot_count: usize,
    pub(crate) enumerations: Vec<EnumerationTable>,
}

pub(crate) struct CompiledContainer {
    pub name: String,
    pub is_abstract: bool,
    /// Fields of this container only; its base containers run before it.
    pub ops: Vec<FieldOp>,
    pub inheritors: Vec<Inheritor>,
    /// Output columns of a packet whose last container is this one.
    pub fields: Vec<FieldPlan>,
}

pub(crate) struct Inheritor {
    pub container: usize,
    pub criteria: Vec<Criterion>,
}

pub(crate) struct FieldPlan {
    pub name: String,
    /// Slot holding the value; the last occurrence when a name repeats, like the reference.
    pub slot: usize,
    pub raw: RawKind,
    pub derived: Derived,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RawKind {
    Unsigned,
    Signed,
    Float,
    Bytes,
    Text,
}

#[derive(Clone)]
pub(crate) enum Derived {
    None,
    Calibrated(Polynomial),
    Label(usize),
}

pub(crate) struct FieldOp {
    pub slot: usize,
    pub name: String,
    pub decode: DecodeOp,
}

pub(crate) enum DecodeOp {
    Integer { bits: u32, signed: bool, little_endian: bool, enumeration: Option<usize> },
    Float { bits: u32, format: FloatFormat, little_endian: bool },
    Binary { size: CompiledSize },
    String { buffer: CompiledBuffer, content: StringContent, ascii_only: bool },
}

pub(crate) enum CompiledSize {
    Fixed(u32),
    Dynamic(SizeRef),
}

pub(crate) enum CompiledBuffer {
    Fixed(u32),
    Dynamic(SizeRef),
    LeadingSizeOnly(u32),
    TerminatorOnly { max_bits: Option<u32> },
}

pub(crate) struct SizeRef {
    pub value: ValueRef,
    pub slope: f64,
    pub intercept: f64,
}

/// A numeric value decoded earlier in the same packet.
pub(crate) struct ValueRef {
    pub slot: usize,
    pub kind: RawKind,
    pub calibrator: Option<Polynomial>,
}

#[derive(Clone, Copy, PartialEq, PartialOrd, Debug)]
pub(crate) enum Number {
    Int(i128),
    Float(f64),
}

impl ValueRef {
    pub fn number(&self, values: &[u64]) -> Number {
        let bits = values[self.slot];
        let raw = match self.kind {
            RawKind::Signed => Number::Int(i128::from(bits as i64)),
            RawKind::Float => Number::Float(f64::from_bits(bits)),
            _ => Number::Int(i128::from(bits)),
        };
        match (&self.calibrator, raw) {
            (None, raw) => raw,
            (Some(polynomial), Number::Int(value)) => Number::Float(polynomial.evaluate(value as f64)),
            (Some(polynomial), Number::Float(value)) => Number::Float(polynomial.evaluate(value)),
        }
    }
}

pub(crate) struct Criterion {
    pub value: ValueRef,
    pub op: CompareOp,
    pub operand: Operand,
}

pub(crate) enum Operand {
    Number(Number),
    /// Codes of the enumeration entries whose label equals the compared text.
    Labels(Vec<u32>),
}

impl Criterion {
    pub fn matches(&self, values: &[u64], labels: &[u32]) -> bool {
        match &self.operand {
            Operand::Number(expected) => {
                let actual = self.value.number(values);
                match self.op {
                    CompareOp::Equal => actual == *expected,
                    CompareOp::NotEqual => actual != *expected,
                    CompareOp::Less => actual < *expected,
                    CompareOp::LessOrEqual => actual <= *expected,
                    CompareOp::Greater => actual > *expected,
                    CompareOp::GreaterOrEqual => actual >= *expected,
                }
            }
            Operand::Labels(codes) => codes.contains(&labels[self.value.slot]) == (self.op == CompareOp::Equal),
        }
    }
}

/// Raw value to label code; dense when the values span a small range.
pub(crate) struct EnumerationTable {
    pub labels: Vec<String>,
    ranges: Vec<(i128, i128)>,
    dense_start: i128,
    dense: Vec<u32>,
}

const DENSE_ENUMERATION_LIMIT: i128 = 4096;
const MISSING_CODE: u32 = u32::MAX;

impl EnumerationTable {
    pub fn new(entries: &[EnumerationEntry]) -> Self {
        let labels = entries.iter().map(|entry| entry.label.clone()).collect();
        let ranges: Vec<(i128, i128)> = entries.iter().map(|entry| (entry.value, entry.max_value)).collect();
        let start = ranges.iter().map(|range| range.0).min().unwrap_or(0);
        let end = ranges.iter().map(|range| range.1).max().unwrap_or(-1);
        let mut dense = Vec::new();
        if end >= start && end - start < DENSE_ENUMERATION_LIMIT {
            dense = vec![MISSING_CODE; (end - start + 1) as usize];
            // Later entries win, as in the reference decoder's dictionary.
            for (code, &(low, high)) in ranges.iter().enumerate() {
                for value in low..=high {
                    dense[(value - start) as usize] = code as u32;
                }
            }
        }
        EnumerationTable { labels, ranges, dense_start: start, dense }
    }

    pub fn lookup(&self, raw: i128) -> Option<u32> {
        if !self.dense.is_empty() {
            let index = raw.checked_sub(self.dense_start)?;
            let code = *self.dense.get(usize::try_from(index).ok()?)?;
            return (code != MISSING_CODE).then_some(code);
        }
        let found = self.ranges.iter().rposition(|&(low, high)| (low..=high).contains(&raw));
        found.map(|code| code as u32)
    }
}

impl PacketDefinition {
    /// Loads and compiles an XTCE document.
    pub fn from_xtce_str(xml: &str) -> Result<Self, XtceError> {
        compile(&load_model(xml)?)
    }

    /// Reads, loads and compiles an XTCE file.
    pub fn from_xtce_file(path: impl AsRef<Path>) -> Result<Self, XtceError> {
        let path = path.as_ref();
        let xml = std::fs::read_to_string(path)
            .map_err(|source| XtceError::Io { path: path.display().to_string(), source })?;
        Self::from_xtce_str(&xml)
    }

    /// Name of the container where decoding starts.
    pub fn root_container(&self) -> &str {
        &self.containers[self.root].name
    }
}

impl RawKind {
    pub fn of(encoding: &Encoding) -> RawKind {
        match encoding {
            Encoding::Integer { signed: true, .. } => RawKind::Signed,
            Encoding::Integer { signed: false, .. } => RawKind::Unsigned,
            Encoding::Float { .. } => RawKind::Float,
            Encoding::Binary { .. } => RawKind::Bytes,
            Encoding::String { .. } => RawKind::Text,
        }
    }
}
