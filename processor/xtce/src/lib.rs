//! Decoding of CCSDS space packets described by an XTCE packet definition.
//!
//! A stand-alone library: it needs only `roxmltree` (to read the XML) and `thiserror`. Load a
//! definition once with [`PacketDefinition::from_xtce_str`] or [`PacketDefinition::from_xtce_file`],
//! then [`PacketDefinition::decode`] a whole packet file into columns.
//!
//! ```
//! use xtce::{Column, PacketDefinition};
//!
//! // The CCSDS primary header, then one container for APID 42: a 32-bit time and a
//! // temperature in counts with a linear calibration (°C = counts / 2 - 10).
//! let xml = r#"<xtce:SpaceSystem xmlns:xtce="http://www.omg.org/space/xtce" name="DEMO">
//!   <xtce:TelemetryMetaData>
//!     <xtce:ParameterTypeSet>
//!       <xtce:IntegerParameterType name="U1"><xtce:IntegerDataEncoding sizeInBits="1"/></xtce:IntegerParameterType>
//!       <xtce:IntegerParameterType name="U2"><xtce:IntegerDataEncoding sizeInBits="2"/></xtce:IntegerParameterType>
//!       <xtce:IntegerParameterType name="U3"><xtce:IntegerDataEncoding sizeInBits="3"/></xtce:IntegerParameterType>
//!       <xtce:IntegerParameterType name="U11"><xtce:IntegerDataEncoding sizeInBits="11"/></xtce:IntegerParameterType>
//!       <xtce:IntegerParameterType name="U14"><xtce:IntegerDataEncoding sizeInBits="14"/></xtce:IntegerParameterType>
//!       <xtce:IntegerParameterType name="U16"><xtce:IntegerDataEncoding sizeInBits="16"/></xtce:IntegerParameterType>
//!       <xtce:IntegerParameterType name="U32"><xtce:IntegerDataEncoding sizeInBits="32"/></xtce:IntegerParameterType>
//!       <xtce:IntegerParameterType name="TEMP_TYPE">
//!         <xtce:IntegerDataEncoding sizeInBits="16">
//!           <xtce:DefaultCalibrator><xtce:PolynomialCalibrator>
//!             <xtce:Term coefficient="-10" exponent="0"/><xtce:Term coefficient="0.5" exponent="1"/>
//!           </xtce:PolynomialCalibrator></xtce:DefaultCalibrator>
//!         </xtce:IntegerDataEncoding>
//!       </xtce:IntegerParameterType>
//!     </xtce:ParameterTypeSet>
//!     <xtce:ParameterSet>
//!       <xtce:Parameter name="VERSION" parameterTypeRef="U3"/>
//!       <xtce:Parameter name="TYPE" parameterTypeRef="U1"/>
//!       <xtce:Parameter name="SEC_HDR_FLG" parameterTypeRef="U1"/>
//!       <xtce:Parameter name="PKT_APID" parameterTypeRef="U11"/>
//!       <xtce:Parameter name="SEQ_FLGS" parameterTypeRef="U2"/>
//!       <xtce:Parameter name="SRC_SEQ_CTR" parameterTypeRef="U14"/>
//!       <xtce:Parameter name="PKT_LEN" parameterTypeRef="U16"/>
//!       <xtce:Parameter name="TIME" parameterTypeRef="U32"/>
//!       <xtce:Parameter name="TEMP" parameterTypeRef="TEMP_TYPE"/>
//!     </xtce:ParameterSet>
//!     <xtce:ContainerSet>
//!       <xtce:SequenceContainer name="CCSDSPacket" abstract="true">
//!         <xtce:EntryList>
//!           <xtce:ParameterRefEntry parameterRef="VERSION"/><xtce:ParameterRefEntry parameterRef="TYPE"/>
//!           <xtce:ParameterRefEntry parameterRef="SEC_HDR_FLG"/><xtce:ParameterRefEntry parameterRef="PKT_APID"/>
//!           <xtce:ParameterRefEntry parameterRef="SEQ_FLGS"/><xtce:ParameterRefEntry parameterRef="SRC_SEQ_CTR"/>
//!           <xtce:ParameterRefEntry parameterRef="PKT_LEN"/>
//!         </xtce:EntryList>
//!       </xtce:SequenceContainer>
//!       <xtce:SequenceContainer name="DEMO_SCI">
//!         <xtce:BaseContainer containerRef="CCSDSPacket"><xtce:RestrictionCriteria>
//!           <xtce:Comparison parameterRef="PKT_APID" value="42" useCalibratedValue="false"/>
//!         </xtce:RestrictionCriteria></xtce:BaseContainer>
//!         <xtce:EntryList>
//!           <xtce:ParameterRefEntry parameterRef="TIME"/><xtce:ParameterRefEntry parameterRef="TEMP"/>
//!         </xtce:EntryList>
//!       </xtce:SequenceContainer>
//!     </xtce:ContainerSet>
//!   </xtce:TelemetryMetaData>
//! </xtce:SpaceSystem>"#;
//! let definition = PacketDefinition::from_xtce_str(xml)?;
//!
//! // Two packets of APID 42 (6 data bytes each: PKT_LEN = 5), then 3 bytes of a cut-off packet.
//! let packets: &[u8] = &[
//!     0x00, 0x2A, 0xC0, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x64, 0x00, 0x50,
//!     0x00, 0x2A, 0xC0, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, 0x65, 0x00, 0x52,
//!     0x00, 0x2A, 0xC0,
//! ];
//! let decoded = definition.decode(packets);
//! assert_eq!(decoded.packet_count(), 2);
//! assert_eq!(decoded.problems.len(), 1, "the cut-off packet is reported, not dropped silently");
//!
//! let group = &decoded.groups[0];
//! assert_eq!((group.apid, group.container.as_str()), (42, "DEMO_SCI"));
//! let temperature = group.field("TEMP").expect("TEMP is a field of DEMO_SCI");
//! assert_eq!(temperature.raw, Column::U64(vec![80, 82]));
//! assert_eq!(temperature.derived, Some(Column::F64(vec![30.0, 31.0])));
//! # Ok::<(), xtce::XtceError>(())
//! ```
//!
//! The behaviour follows the IMAP mission's reference decoder (space_packet_parser 5.0.1): the
//! root container (`CCSDSPacket`) is parsed first, then the unique inheritor whose restriction
//! criteria match, and so on down the container tree. Packets are framed by the CCSDS primary
//! header (packet length field), so a packet that does not fit its container is reported and
//! skipped while the packets around it are kept.
//!
//! Loading compiles the XML once into a flat plan per container ([`PacketDefinition`]), so
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
#![forbid(unsafe_code)]

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
mod tests;

pub use columns::{
    Column, DecodedPackets, FieldColumns, LabelColumn, PacketGroup, PacketLocation, PacketProblem, Value, VarBytes,
    VarText,
};
pub use plan::PacketDefinition;

// The README's examples are compiled (and run, where they can) with the doc-tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Every error of this crate: definition loading errors and per-packet decoding errors.
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
