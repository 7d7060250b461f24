//! CDF data types and the typed vectors that hold variable records and
//! attribute entries, with their byte encoding.

/// A CDF data type, with the numeric code stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Int1,
    Int2,
    Int4,
    Int8,
    UInt1,
    UInt2,
    UInt4,
    Real4,
    Real8,
    /// CDF_EPOCH: milliseconds since 0000-01-01 as a double (read support mainly).
    Epoch,
    TimeTt2000,
    Byte,
    Float,
    Double,
    Char,
    UChar,
}

impl DataType {
    pub fn code(self) -> i32 {
        match self {
            DataType::Int1 => 1,
            DataType::Int2 => 2,
            DataType::Int4 => 4,
            DataType::Int8 => 8,
            DataType::UInt1 => 11,
            DataType::UInt2 => 12,
            DataType::UInt4 => 14,
            DataType::Real4 => 21,
            DataType::Real8 => 22,
            DataType::Epoch => 31,
            DataType::TimeTt2000 => 33,
            DataType::Byte => 41,
            DataType::Float => 44,
            DataType::Double => 45,
            DataType::Char => 51,
            DataType::UChar => 52,
        }
    }

    /// `None` for codes this module does not handle (e.g. CDF_EPOCH16).
    pub fn from_code(code: i32) -> Option<DataType> {
        let data_type = match code {
            1 => DataType::Int1,
            2 => DataType::Int2,
            4 => DataType::Int4,
            8 => DataType::Int8,
            11 => DataType::UInt1,
            12 => DataType::UInt2,
            14 => DataType::UInt4,
            21 => DataType::Real4,
            22 => DataType::Real8,
            31 => DataType::Epoch,
            33 => DataType::TimeTt2000,
            41 => DataType::Byte,
            44 => DataType::Float,
            45 => DataType::Double,
            51 => DataType::Char,
            52 => DataType::UChar,
            _ => return None,
        };
        Some(data_type)
    }

    /// The name the CDF library and cdflib print, e.g. `CDF_TIME_TT2000`.
    pub fn cdf_name(self) -> &'static str {
        match self {
            DataType::Int1 => "CDF_INT1",
            DataType::Int2 => "CDF_INT2",
            DataType::Int4 => "CDF_INT4",
            DataType::Int8 => "CDF_INT8",
            DataType::UInt1 => "CDF_UINT1",
            DataType::UInt2 => "CDF_UINT2",
            DataType::UInt4 => "CDF_UINT4",
            DataType::Real4 => "CDF_REAL4",
            DataType::Real8 => "CDF_REAL8",
            DataType::Epoch => "CDF_EPOCH",
            DataType::TimeTt2000 => "CDF_TIME_TT2000",
            DataType::Byte => "CDF_BYTE",
            DataType::Float => "CDF_FLOAT",
            DataType::Double => "CDF_DOUBLE",
            DataType::Char => "CDF_CHAR",
            DataType::UChar => "CDF_UCHAR",
        }
    }

    /// Bytes of one element (one character for CHAR).
    pub fn element_size(self) -> usize {
        match self {
            DataType::Int1 | DataType::UInt1 | DataType::Byte | DataType::Char | DataType::UChar => 1,
            DataType::Int2 | DataType::UInt2 => 2,
            DataType::Int4 | DataType::UInt4 | DataType::Real4 | DataType::Float => 4,
            DataType::Int8 | DataType::Real8 | DataType::Epoch | DataType::TimeTt2000 | DataType::Double => 8,
        }
    }

    pub fn is_char(self) -> bool {
        matches!(self, DataType::Char | DataType::UChar)
    }

    /// The [`Values`] variant name that holds this type, for error messages and checks.
    pub fn values_kind(self) -> &'static str {
        match self {
            DataType::Int1 | DataType::Byte => "Int1",
            DataType::Int2 => "Int2",
            DataType::Int4 => "Int4",
            DataType::Int8 => "Int8",
            DataType::UInt1 => "UInt1",
            DataType::UInt2 => "UInt2",
            DataType::UInt4 => "UInt4",
            DataType::Real4 | DataType::Float => "Real4",
            DataType::Real8 | DataType::Double | DataType::Epoch => "Real8",
            DataType::TimeTt2000 => "TimeTt2000",
            DataType::Char | DataType::UChar => "Char",
        }
    }
}

/// Byte order of data values (header fields are always big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

/// A flat vector of values of one CDF type. Multi-dimensional records are
/// flattened row-major (last index fastest), records one after another.
/// `Char` holds one string per element (the element being `num_elems` bytes).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Int1(Vec<i8>),
    Int2(Vec<i16>),
    Int4(Vec<i32>),
    Int8(Vec<i64>),
    UInt1(Vec<u8>),
    UInt2(Vec<u16>),
    UInt4(Vec<u32>),
    Real4(Vec<f32>),
    Real8(Vec<f64>),
    TimeTt2000(Vec<i64>),
    Char(Vec<String>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Int1(v) => v.len(),
            Values::Int2(v) => v.len(),
            Values::Int4(v) => v.len(),
            Values::Int8(v) => v.len(),
            Values::UInt1(v) => v.len(),
            Values::UInt2(v) => v.len(),
            Values::UInt4(v) => v.len(),
            Values::Real4(v) => v.len(),
            Values::Real8(v) => v.len(),
            Values::TimeTt2000(v) => v.len(),
            Values::Char(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data type a variable or entry gets when none is given.
    pub fn natural_data_type(&self) -> DataType {
        match self {
            Values::Int1(_) => DataType::Int1,
            Values::Int2(_) => DataType::Int2,
            Values::Int4(_) => DataType::Int4,
            Values::Int8(_) => DataType::Int8,
            Values::UInt1(_) => DataType::UInt1,
            Values::UInt2(_) => DataType::UInt2,
            Values::UInt4(_) => DataType::UInt4,
            Values::Real4(_) => DataType::Real4,
            Values::Real8(_) => DataType::Real8,
            Values::TimeTt2000(_) => DataType::TimeTt2000,
            Values::Char(_) => DataType::Char,
        }
    }

    /// Whether these values can be stored as `data_type` (e.g. Real8 as DOUBLE).
    pub fn fits(&self, data_type: DataType) -> bool {
        self.natural_data_type().values_kind() == data_type.values_kind()
    }

    /// Longest string in bytes (0 for non-character values).
    pub fn max_string_len(&self) -> usize {
        match self {
            Values::Char(strings) => strings.iter().map(String::len).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// Appends the encoding of `self` to `out`. Strings are NUL-padded (or cut)
    /// to `num_elems` bytes; numbers use the given byte order.
    pub fn encode(&self, num_elems: usize, endian: Endian, out: &mut Vec<u8>) {
        macro_rules! put {
            ($values:expr) => {
                for value in $values {
                    match endian {
                        Endian::Little => out.extend_from_slice(&value.to_le_bytes()),
                        Endian::Big => out.extend_from_slice(&value.to_be_bytes()),
                    }
                }
            };
        }
        match self {
            Values::Int1(v) => put!(v),
            Values::Int2(v) => put!(v),
            Values::Int4(v) => put!(v),
            Values::Int8(v) => put!(v),
            Values::UInt1(v) => put!(v),
            Values::UInt2(v) => put!(v),
            Values::UInt4(v) => put!(v),
            Values::Real4(v) => put!(v),
            Values::Real8(v) => put!(v),
            Values::TimeTt2000(v) => put!(v),
            Values::Char(strings) => {
                for string in strings {
                    let bytes = string.as_bytes();
                    let used = bytes.len().min(num_elems);
                    out.extend_from_slice(&bytes[..used]);
                    out.resize(out.len() + num_elems - used, 0);
                }
            }
        }
    }

    /// Decodes `count` elements of `data_type` from `bytes`, which must hold
    /// exactly `count * element_size * num_elems` bytes (checked by the caller).
    /// Trailing NULs of strings are dropped.
    pub fn decode(data_type: DataType, num_elems: usize, count: usize, endian: Endian, bytes: &[u8]) -> Values {
        macro_rules! take {
            ($variant:ident, $ty:ty) => {{
                const SIZE: usize = std::mem::size_of::<$ty>();
                let values = bytes
                    .chunks_exact(SIZE)
                    .take(count)
                    .map(|chunk| {
                        let array: [u8; SIZE] = chunk.try_into().expect("chunk has element size");
                        match endian {
                            Endian::Little => <$ty>::from_le_bytes(array),
                            Endian::Big => <$ty>::from_be_bytes(array),
                        }
                    })
                    .collect();
                Values::$variant(values)
            }};
        }
        match data_type {
            DataType::Int1 | DataType::Byte => take!(Int1, i8),
            DataType::Int2 => take!(Int2, i16),
            DataType::Int4 => take!(Int4, i32),
            DataType::Int8 => take!(Int8, i64),
            DataType::UInt1 => take!(UInt1, u8),
            DataType::UInt2 => take!(UInt2, u16),
            DataType::UInt4 => take!(UInt4, u32),
            DataType::Real4 | DataType::Float => take!(Real4, f32),
            DataType::Real8 | DataType::Double | DataType::Epoch => take!(Real8, f64),
            DataType::TimeTt2000 => take!(TimeTt2000, i64),
            DataType::Char | DataType::UChar => Values::Char(
                bytes
                    .chunks(num_elems.max(1))
                    .take(count)
                    .map(|chunk| {
                        let end = chunk.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
                        crate::read::text_of(&chunk[..end])
                    })
                    .collect(),
            ),
        }
    }
}

/// The pad value the NASA CDF library uses by default, encoded little-endian.
/// Records that were never written read back as this value.
pub fn default_pad_value(data_type: DataType, num_elems: usize) -> Values {
    match data_type {
        DataType::Int1 | DataType::Byte => Values::Int1(vec![-127]),
        DataType::Int2 => Values::Int2(vec![-32767]),
        DataType::Int4 => Values::Int4(vec![-2147483647]),
        DataType::Int8 => Values::Int8(vec![-9223372036854775807]),
        DataType::TimeTt2000 => Values::TimeTt2000(vec![-9223372036854775807]),
        DataType::UInt1 => Values::UInt1(vec![254]),
        DataType::UInt2 => Values::UInt2(vec![65534]),
        DataType::UInt4 => Values::UInt4(vec![4294967294]),
        DataType::Real4 | DataType::Float => Values::Real4(vec![-1.0e30]),
        DataType::Real8 | DataType::Double => Values::Real8(vec![-1.0e30]),
        DataType::Epoch => Values::Real8(vec![0.0]),
        DataType::Char | DataType::UChar => Values::Char(vec![" ".repeat(num_elems)]),
    }
}
