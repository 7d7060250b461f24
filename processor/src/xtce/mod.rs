//! Decoding of CCSDS space packets described by an XTCE packet definition.
//!
//! The behaviour follows the mission's reference decoder (space_packet_parser 5.0.1): the root
//! container (`CCSDSPacket`) is parsed first, then the unique inheritor whose restriction
//! criteria match, and so on down the container tree. Packets are framed by the CCSDS primary
//! header (packet length field), so a packet that does not fit its container is reported and
//! skipped while the packets around it are kept.
//!
//! Loading compiles the XML once into a flat plan per container (`PacketDefinition`), so
//! decoding does no name lookups and no per-field allocation. The output is columnar: one
//! [`PacketGroup`] per (APID, leaf container) with one typed [`Column`] per field.
//!
//! Supported XTCE subset: Integer, Float, Enumerated, Binary and String parameter types;
//! unsigned and twos-complement integers (either byte order); IEEE 754 (16/32/64 bit) and
//! MIL-STD-1750A floats; fixed and dynamic sizes with `LinearAdjustment`; strings with fixed or
//! dynamic buffers, termination characters or leading size tags (UTF-8, US-ASCII);
//! polynomial calibrators; enumerations (with `maxValue` ranges); sequence containers with
//! `BaseContainer`, `RestrictionCriteria` (`Comparison`, `ComparisonList`), `abstract` and
//! `ContainerRefEntry`. Any other element that could change decoding is rejected with
//! [`XtceError::UnsupportedElement`]; documentation elements are skipped.

mod bench;
mod bits;
mod columns;
mod compile;
mod decode;
mod definition;
mod encoding;
mod model;
mod plan;
mod xml;

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;

pub use bench::{BenchResult, bench_file};
pub use columns::{
    Column, DecodedPackets, FieldColumns, LabelColumn, PacketGroup, PacketLocation, PacketProblem, Value, VarBytes,
    VarText,
};
pub use plan::PacketDefinition;

/// Every error of this module: definition loading errors and per-packet decoding errors.
#[derive(Debug, thiserror::Error)]
pub enum XtceError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid xtce xml: {0}")]
    Xml(#[from] roxmltree::Error),
    #[error("unsupported xtce element \"{element}\" in {context}")]
    UnsupportedElement { element: String, context: String },
    #[error("unsupported {what} \"{value}\" in {context}")]
    UnsupportedValue { what: &'static str, value: String, context: String },
    #[error("missing {what} in {context}")]
    Missing { what: String, context: String },
    #[error("invalid attribute {attribute}=\"{value}\" in {context}")]
    InvalidAttribute { attribute: &'static str, value: String, context: String },
    #[error("unknown {kind} \"{name}\" referenced in {context}")]
    UnknownReference { kind: &'static str, name: String, context: String },
    #[error("duplicate {kind} \"{name}\"")]
    Duplicate { kind: &'static str, name: String },
    #[error("invalid packet definition: {0}")]
    InvalidDefinition(String),
    #[error("only {available} bytes left in the file, too few for a packet primary header")]
    TruncatedHeader { available: usize },
    #[error("packet needs {needed} bytes but only {available} are left in the file")]
    TruncatedPacket { needed: usize, available: usize },
    #[error("field \"{field}\" needs {bits} bits at bit {bit_position} but the packet has {packet_bits} bits")]
    FieldBeyondPacket { field: String, bit_position: usize, bits: usize, packet_bits: usize },
    #[error("field \"{field}\" has an invalid size of {size} bits")]
    InvalidFieldSize { field: String, size: f64 },
    #[error("field \"{field}\" has raw value {value} which is not in its enumeration")]
    UnknownEnumerationValue { field: String, value: i128 },
    #[error("field \"{field}\" is not a valid string: {reason}")]
    InvalidString { field: String, reason: String },
    #[error("no inheritor of abstract container \"{container}\" matches the packet")]
    NoMatchingContainer { container: String },
    #[error("{count} inheritors of container \"{container}\" match the packet")]
    AmbiguousContainer { container: String, count: usize },
}
