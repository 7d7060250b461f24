//! Reading and writing NASA CDF (Common Data Format) version 3 files.
//!
//! No Rust crate writes CDF, so this module implements the subset of the format
//! that science data products need:
//!
//! - [`model`]: the in-memory dataset ([`Cdf`], [`Variable`], attributes),
//! - [`values`]: CDF data types and typed value vectors,
//! - [`write`]: serialises a [`Cdf`] to bytes (zVariables, row-major, IBMPC
//!   little-endian encoding, single file, optional GZIP per variable or per file),
//! - [`read`]: parses what [`write`] produces (and other v3 files using the same
//!   features), with offsets in every error,
//! - [`tt2000`]: UTC <-> CDF_TIME_TT2000 with a built-in leap-second table,
//! - [`met`]: IMAP mission elapsed time (MET) -> TT2000,
//! - [`istp`]: a builder that adds the ISTP/SPDF global and variable attributes.
//!
//! Layout facts used throughout: every internal record starts with an 8-byte
//! size and a 4-byte type, header fields are big-endian regardless of the file's
//! encoding, and only data values (records, attribute entries, pad values) use
//! the file's encoding.

pub mod istp;
mod istp_defaults;
mod layout;
pub mod met;
pub mod model;
pub mod read;
mod read_variable;
pub mod tt2000;
pub mod values;
pub mod write;
mod write_variable;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cdflib;

pub use istp::{IstpDataset, IstpGlobals, IstpVariable, VarType};
pub use met::{IMAP_MET_EPOCH_TT2000, SclkKernel, met_to_tt2000, tt2000_to_met};
pub use model::{AttributeEntry, Cdf, Compression, GlobalAttribute, Variable};
pub use read::read_cdf;
pub use tt2000::{TT2000_FILL, UtcDateTime, tt2000_to_utc, utc_to_tt2000};
pub use values::{DataType, Values};
pub use write::write_cdf;

/// Every failure of this module: building, writing, reading or converting time.
#[derive(Debug, thiserror::Error)]
pub enum CdfError {
    #[error("invalid variable {name}: {reason}")]
    InvalidVariable { name: String, reason: String },
    #[error("invalid attribute {name}: {reason}")]
    InvalidAttribute { name: String, reason: String },
    #[error("malformed cdf at offset {offset}: {reason}")]
    Malformed { offset: u64, reason: String },
    #[error("unsupported cdf feature at offset {offset}: {feature}")]
    Unsupported { offset: u64, feature: String },
    #[error("gzip failed: {0}")]
    Gzip(#[from] std::io::Error),
    #[error("invalid time: {0}")]
    InvalidTime(String),
    #[error("invalid sclk kernel: {0}")]
    InvalidSclk(String),
}

pub type Result<T> = std::result::Result<T, CdfError>;
