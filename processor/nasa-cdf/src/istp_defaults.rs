//! ISTP default FILLVAL, VALIDMIN/VALIDMAX and FORMAT for each CDF type.

use crate::model::AttributeEntry;
use crate::tt2000::{TT2000_FILL, utc_to_tt2000};
use crate::values::{DataType, Values};

/// ISTP fill value for a type: the most negative signed value, the largest
/// unsigned value, -1e31 for floats, a blank for text.
pub fn istp_fill_value(data_type: DataType, num_elems: usize) -> AttributeEntry {
    let values = match data_type {
        DataType::Int1 | DataType::Byte => Values::Int1(vec![i8::MIN]),
        DataType::Int2 => Values::Int2(vec![i16::MIN]),
        DataType::Int4 => Values::Int4(vec![i32::MIN]),
        DataType::Int8 => Values::Int8(vec![i64::MIN]),
        DataType::UInt1 => Values::UInt1(vec![u8::MAX]),
        DataType::UInt2 => Values::UInt2(vec![u16::MAX]),
        DataType::UInt4 => Values::UInt4(vec![u32::MAX]),
        DataType::Real4 | DataType::Float => Values::Real4(vec![-1.0e31]),
        DataType::Real8 | DataType::Double | DataType::Epoch => Values::Real8(vec![-1.0e31]),
        DataType::TimeTt2000 => Values::TimeTt2000(vec![TT2000_FILL]),
        DataType::Char | DataType::UChar => Values::Char(vec![" ".repeat(num_elems.max(1))]),
    };
    AttributeEntry::new(values).with_data_type(data_type)
}

/// Default VALIDMIN/VALIDMAX: the type's range minus the fill value; ±1e30
/// for floats; 1990-01-01..2100-01-01 UTC for TT2000 (a dataset can narrow it to its
/// mission with [`IstpDataset::with_valid_times`](crate::IstpDataset::with_valid_times)).
pub fn istp_valid_range(data_type: DataType) -> (AttributeEntry, AttributeEntry) {
    let (min, max) = match data_type {
        DataType::Int1 | DataType::Byte => (Values::Int1(vec![i8::MIN + 1]), Values::Int1(vec![i8::MAX])),
        DataType::Int2 => (Values::Int2(vec![i16::MIN + 1]), Values::Int2(vec![i16::MAX])),
        DataType::Int4 => (Values::Int4(vec![i32::MIN + 1]), Values::Int4(vec![i32::MAX])),
        DataType::Int8 => (Values::Int8(vec![i64::MIN + 1]), Values::Int8(vec![i64::MAX])),
        DataType::UInt1 => (Values::UInt1(vec![0]), Values::UInt1(vec![u8::MAX - 1])),
        DataType::UInt2 => (Values::UInt2(vec![0]), Values::UInt2(vec![u16::MAX - 1])),
        DataType::UInt4 => (Values::UInt4(vec![0]), Values::UInt4(vec![u32::MAX - 1])),
        DataType::Real4 | DataType::Float => (Values::Real4(vec![-1.0e30]), Values::Real4(vec![1.0e30])),
        DataType::Real8 | DataType::Double | DataType::Epoch => {
            (Values::Real8(vec![-1.0e30]), Values::Real8(vec![1.0e30]))
        }
        DataType::TimeTt2000 => {
            let (first, last) = default_valid_times();
            (Values::TimeTt2000(vec![first]), Values::TimeTt2000(vec![last]))
        }
        DataType::Char | DataType::UChar => (Values::Char(vec![" ".to_string()]), Values::Char(vec![" ".to_string()])),
    };
    (AttributeEntry::new(min).with_data_type(data_type), AttributeEntry::new(max).with_data_type(data_type))
}

/// 1990-01-01 and 2100-01-01 UTC as TT2000: the default valid range of time variables.
pub(crate) fn default_valid_times() -> (i64, i64) {
    let first = utc_to_tt2000(1990, 1, 1, 0, 0, 0, 0).expect("valid date");
    let last = utc_to_tt2000(2100, 1, 1, 0, 0, 0, 0).expect("valid date");
    (first, last)
}

/// Default FORTRAN-style FORMAT wide enough for every value of the type.
pub fn istp_format(data_type: DataType, num_elems: usize) -> Option<String> {
    let format = match data_type {
        DataType::Int1 | DataType::Byte => "I4",
        DataType::Int2 => "I6",
        DataType::Int4 => "I11",
        DataType::Int8 => "I20",
        DataType::UInt1 => "I3",
        DataType::UInt2 => "I5",
        DataType::UInt4 => "I10",
        DataType::Real4 | DataType::Float => "E14.6",
        DataType::Real8 | DataType::Double => "E23.15",
        DataType::Epoch | DataType::TimeTt2000 => return None,
        DataType::Char | DataType::UChar => return Some(format!("A{num_elems}")),
    };
    Some(format.to_string())
}
