//! Columnar output of decoding: one group of typed columns per (APID, container) layout.

use std::fmt;

use crate::XtceError;

/// Everything decoded from one file: the packet groups, the file order of the packets and
/// the packets that could not be decoded.
#[derive(Debug, Default)]
pub struct DecodedPackets {
    pub groups: Vec<PacketGroup>,
    /// Where each decoded packet went, in file order.
    pub order: Vec<PacketLocation>,
    /// Truncated or corrupt packets, in file order; the packets around them are kept.
    pub problems: Vec<PacketProblem>,
}

impl DecodedPackets {
    /// Number of decoded packets.
    pub fn packet_count(&self) -> usize {
        self.order.len()
    }

    /// The groups of one APID (one per leaf container those packets reached).
    pub fn groups_for_apid(&self, apid: u16) -> impl Iterator<Item = &PacketGroup> {
        self.groups.iter().filter(move |group| group.apid == apid)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketLocation {
    pub group: u32,
    pub row: u32,
}

/// A packet that could not be decoded.
#[derive(Debug)]
pub struct PacketProblem {
    /// Byte offset of the packet in the input.
    pub offset: usize,
    /// The APID from the primary header, when the header was complete enough to hold it.
    pub apid: Option<u16>,
    pub error: XtceError,
}

impl fmt::Display for PacketProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.apid {
            Some(apid) => write!(formatter, "packet at byte {} (apid {apid}): {}", self.offset, self.error),
            None => write!(formatter, "packet at byte {}: {}", self.offset, self.error),
        }
    }
}

/// Packets of one APID that went through the same containers, so share one field layout.
#[derive(Debug)]
pub struct PacketGroup {
    pub apid: u16,
    /// The last container the packets matched.
    pub container: String,
    /// Byte offset of each packet in the input.
    pub offsets: Vec<usize>,
    /// The fields in packet order, each with one value per packet.
    pub fields: Vec<FieldColumns>,
}

impl PacketGroup {
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    pub fn field(&self, name: &str) -> Option<&FieldColumns> {
        self.fields.iter().find(|field| field.name == name)
    }
}

/// The values of one field: the raw values, and the derived ones (calibrated number or
/// enumeration label) when the definition has a calibrator or an enumeration for it.
#[derive(Debug)]
pub struct FieldColumns {
    pub name: String,
    pub raw: Column,
    pub derived: Option<Column>,
}

impl FieldColumns {
    /// The derived column when there is one, else the raw one (what the reference decoder
    /// reports as the value).
    pub fn value_column(&self) -> &Column {
        self.derived.as_ref().unwrap_or(&self.raw)
    }
}

/// A column of one type. Variable-length values share one buffer, so filling a column
/// allocates only when a buffer grows.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Unsigned integers.
    U64(Vec<u64>),
    /// Twos-complement integers.
    I64(Vec<i64>),
    /// Floats and calibrated values.
    F64(Vec<f64>),
    /// Binary fields.
    Bytes(VarBytes),
    /// String fields (the decoded text, without terminator or size tag).
    Text(VarText),
    /// Enumeration labels.
    Label(LabelColumn),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::U64(values) => values.len(),
            Column::I64(values) => values.len(),
            Column::F64(values) => values.len(),
            Column::Bytes(values) => values.len(),
            Column::Text(values) => values.len(),
            Column::Label(values) => values.codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One value, for consumers that work row by row.
    pub fn get(&self, row: usize) -> Option<Value<'_>> {
        Some(match self {
            Column::U64(values) => Value::U64(*values.get(row)?),
            Column::I64(values) => Value::I64(*values.get(row)?),
            Column::F64(values) => Value::F64(*values.get(row)?),
            Column::Bytes(values) => Value::Bytes(values.get(row)?),
            Column::Text(values) => Value::Text(values.get(row)?),
            Column::Label(values) => Value::Label(values.get(row)?),
        })
    }
}

/// One value of a [`Column`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    U64(u64),
    I64(i64),
    F64(f64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Label(&'a str),
}

/// Variable-length byte values: value `i` is `data[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct VarBytes {
    pub offsets: Vec<usize>,
    pub data: Vec<u8>,
}

impl Default for VarBytes {
    fn default() -> Self {
        VarBytes { offsets: vec![0], data: Vec::new() }
    }
}

impl VarBytes {
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, row: usize) -> Option<&[u8]> {
        self.data.get(*self.offsets.get(row)?..*self.offsets.get(row + 1)?)
    }

    pub fn push(&mut self, value: &[u8]) {
        self.data.extend_from_slice(value);
        self.offsets.push(self.data.len());
    }
}

/// Variable-length text values: value `i` is `data[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct VarText {
    pub offsets: Vec<usize>,
    pub data: String,
}

impl Default for VarText {
    fn default() -> Self {
        VarText { offsets: vec![0], data: String::new() }
    }
}

impl VarText {
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, row: usize) -> Option<&str> {
        self.data.get(*self.offsets.get(row)?..*self.offsets.get(row + 1)?)
    }

    pub fn push(&mut self, value: &str) {
        self.data.push_str(value);
        self.offsets.push(self.data.len());
    }
}

/// Enumeration labels stored as codes into the enumeration's label list.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelColumn {
    pub labels: Vec<String>,
    pub codes: Vec<u32>,
}

impl LabelColumn {
    pub fn get(&self, row: usize) -> Option<&str> {
        self.labels.get(*self.codes.get(row)? as usize).map(String::as_str)
    }
}
