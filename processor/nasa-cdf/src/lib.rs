//! Reading and writing NASA CDF (Common Data Format) version 3 files, in pure Rust.
//!
//! A stand-alone library: it needs only `flate2` (GZIP) and `thiserror`. It implements the
//! part of the format that science data products use:
//!
//! - [`model`]: the in-memory dataset ([`Cdf`], [`Variable`], attributes),
//! - [`values`]: CDF data types and typed value vectors,
//! - [`write`]: serialises a [`Cdf`] to bytes (zVariables, row-major, IBMPC
//!   little-endian encoding, single file, optional GZIP per variable or per file),
//! - [`read`]: parses what [`write`] produces (and other v3 files using the same
//!   features), with the byte offset in every error,
//! - [`tt2000`]: UTC <-> CDF_TIME_TT2000 with a built-in leap-second table,
//! - [`istp`]: a builder that adds the ISTP/SPDF global and variable attributes that
//!   space-physics tools look for, with per-type defaults.
//!
//! ```
//! use nasa_cdf::{Cdf, Compression, Values, Variable, utc_to_tt2000};
//!
//! let epoch: Vec<i64> = (0..3).map(|minute| utc_to_tt2000(2025, 1, 1, 0, minute, 0, 0)).collect::<Result<_, _>>()?;
//! let mut cdf = Cdf::new();
//! cdf.set_global_attribute("Project", vec![nasa_cdf::AttributeEntry::text("demo")]);
//! cdf.add_variable(Variable::new("epoch", Values::TimeTt2000(epoch.clone()), &[]));
//! cdf.add_variable(
//!     Variable::new("vectors", Values::Real8(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]), &[3])
//!         .with_attribute("UNITS", "nT")
//!         .with_compression(Compression::Gzip { level: 6 }),
//! );
//!
//! let bytes = cdf.to_bytes()?;
//! assert_eq!(&bytes[..4], &[0xCD, 0xF3, 0x00, 0x01], "CDF v3 magic number");
//!
//! let read = Cdf::from_bytes(&bytes)?;
//! let vectors = read.variable("vectors").expect("written above");
//! assert_eq!(vectors.dims, vec![3]);
//! assert_eq!(vectors.num_records(), 3);
//! assert_eq!(vectors.attribute("UNITS").and_then(|units| units.as_text()), Some("nT".to_string()));
//! assert_eq!(read.variable("epoch").map(|epoch| &epoch.values), Some(&Values::TimeTt2000(epoch)));
//! # Ok::<(), nasa_cdf::CdfError>(())
//! ```
//!
//! Layout facts used throughout: every internal record starts with an 8-byte
//! size and a 4-byte type, header fields are big-endian regardless of the file's
//! encoding, and only data values (records, attribute entries, pad values) use
//! the file's encoding.
#![forbid(unsafe_code)]

pub mod istp;
mod istp_defaults;
mod layout;
pub mod model;
pub mod read;
mod read_variable;
pub mod tt2000;
pub mod values;
pub mod write;
mod write_variable;

pub use istp::{IstpDataset, IstpGlobals, IstpVariable, VarType};
pub use model::{AttributeEntry, Cdf, Compression, GlobalAttribute, Variable};
pub use read::{MAX_INFLATION_RATIO, ReadLimits, read_cdf, read_cdf_selected, read_cdf_with_limits};
pub use tt2000::{TT2000_FILL, UtcDateTime, tt2000_to_utc, utc_to_tt2000};
pub use values::{DataType, Values};
pub use write::write_cdf;

// The README's examples are compiled (and run, where they can) with the doc-tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Every failure of this crate: building, writing, reading or converting time.
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
}

pub type Result<T> = std::result::Result<T, CdfError>;
