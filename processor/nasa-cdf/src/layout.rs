//! Record type codes, magic numbers and fixed record sizes of the CDF v3
//! internal format, shared by the writer and the reader.

pub(crate) const MAGIC_V3: u32 = 0xCDF3_0001;
pub(crate) const MAGIC_UNCOMPRESSED: u32 = 0x0000_FFFF;
pub(crate) const MAGIC_COMPRESSED: u32 = 0xCCCC_0001;

pub(crate) const CDR: i32 = 1;
pub(crate) const GDR: i32 = 2;
pub(crate) const ADR: i32 = 4;
pub(crate) const AGR_EDR: i32 = 5;
pub(crate) const VXR: i32 = 6;
pub(crate) const VVR: i32 = 7;
pub(crate) const ZVDR: i32 = 8;
pub(crate) const AZ_EDR: i32 = 9;
pub(crate) const CCR: i32 = 10;
pub(crate) const CPR: i32 = 11;
pub(crate) const CVVR: i32 = 13;

pub(crate) const CDR_SIZE: usize = 56 + NAME_LEN;
pub(crate) const GDR_SIZE: usize = 84;
pub(crate) const ADR_SIZE: usize = 68 + NAME_LEN;
pub(crate) const AEDR_HEADER_SIZE: usize = 56;
/// zVDR size without dimension sizes, dimension variances and pad value.
pub(crate) const ZVDR_BASE_SIZE: usize = 88 + NAME_LEN;
pub(crate) const VXR_BASE_SIZE: usize = 28;
pub(crate) const VVR_HEADER_SIZE: usize = 12;
pub(crate) const CVVR_HEADER_SIZE: usize = 24;
pub(crate) const CCR_HEADER_SIZE: usize = 32;
pub(crate) const CPR_SIZE: usize = 28;
pub(crate) const NAME_LEN: usize = 256;
pub(crate) const COPYRIGHT_LEN: usize = 256;

pub(crate) const ENCODING_IBMPC: i32 = 6;
pub(crate) const CDR_FLAG_ROW_MAJOR: i32 = 1;
pub(crate) const CDR_FLAG_SINGLE_FILE: i32 = 2;
pub(crate) const VDR_FLAG_RECORD_VARIANCE: i32 = 1;
pub(crate) const VDR_FLAG_PAD_VALUE: i32 = 2;
pub(crate) const VDR_FLAG_COMPRESSION: i32 = 4;
pub(crate) const SCOPE_GLOBAL: i32 = 1;
pub(crate) const SCOPE_VARIABLE: i32 = 2;
pub(crate) const SCOPE_GLOBAL_ASSUMED: i32 = 3;
pub(crate) const SCOPE_VARIABLE_ASSUMED: i32 = 4;
pub(crate) const COMPRESSION_GZIP: i32 = 5;
/// Dimension variance "true" as stored in a zVDR.
pub(crate) const DIM_VARIES: i32 = -1;
/// Separator of several strings in one character attribute entry.
pub(crate) const MULTI_STRING_SEPARATOR: &str = "\\N ";
