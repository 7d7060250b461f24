//! Record type codes, magic numbers and fixed record sizes of the CDF v3
//! internal format, shared by the writer and the reader.

pub(super) const MAGIC_V3: u32 = 0xCDF3_0001;
pub(super) const MAGIC_UNCOMPRESSED: u32 = 0x0000_FFFF;
pub(super) const MAGIC_COMPRESSED: u32 = 0xCCCC_0001;

pub(super) const CDR: i32 = 1;
pub(super) const GDR: i32 = 2;
pub(super) const ADR: i32 = 4;
pub(super) const AGR_EDR: i32 = 5;
pub(super) const VXR: i32 = 6;
pub(super) const VVR: i32 = 7;
pub(super) const ZVDR: i32 = 8;
pub(super) const AZ_EDR: i32 = 9;
pub(super) const CCR: i32 = 10;
pub(super) const CPR: i32 = 11;
pub(super) const CVVR: i32 = 13;

pub(super) const CDR_SIZE: usize = 56 + NAME_LEN;
pub(super) const GDR_SIZE: usize = 84;
pub(super) const ADR_SIZE: usize = 68 + NAME_LEN;
pub(super) const AEDR_HEADER_SIZE: usize = 56;
/// zVDR size without dimension sizes, dimension variances and pad value.
pub(super) const ZVDR_BASE_SIZE: usize = 88 + NAME_LEN;
pub(super) const VXR_BASE_SIZE: usize = 28;
pub(super) const VVR_HEADER_SIZE: usize = 12;
pub(super) const CVVR_HEADER_SIZE: usize = 24;
pub(super) const CCR_HEADER_SIZE: usize = 32;
pub(super) const CPR_SIZE: usize = 28;
pub(super) const NAME_LEN: usize = 256;
pub(super) const COPYRIGHT_LEN: usize = 256;

pub(super) const ENCODING_IBMPC: i32 = 6;
pub(super) const CDR_FLAG_ROW_MAJOR: i32 = 1;
pub(super) const CDR_FLAG_SINGLE_FILE: i32 = 2;
pub(super) const VDR_FLAG_RECORD_VARIANCE: i32 = 1;
pub(super) const VDR_FLAG_PAD_VALUE: i32 = 2;
pub(super) const VDR_FLAG_COMPRESSION: i32 = 4;
pub(super) const SCOPE_GLOBAL: i32 = 1;
pub(super) const SCOPE_VARIABLE: i32 = 2;
pub(super) const SCOPE_GLOBAL_ASSUMED: i32 = 3;
pub(super) const SCOPE_VARIABLE_ASSUMED: i32 = 4;
pub(super) const COMPRESSION_GZIP: i32 = 5;
/// Dimension variance "true" as stored in a zVDR.
pub(super) const DIM_VARIES: i32 = -1;
/// Separator of several strings in one character attribute entry.
pub(super) const MULTI_STRING_SEPARATOR: &str = "\\N ";
