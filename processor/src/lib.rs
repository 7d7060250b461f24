//! The processor role: connects to the starter's work stream, runs each leased job's science in
//! a CPU pool that never blocks the async runtime, writes the outputs atomically to the archive
//! and has them indexed with their provenance (which triggers the next level).
#![forbid(unsafe_code)]

pub mod cdf;
mod config;
mod error;
mod grpc;
mod role;
pub mod science;
mod worker;
pub mod xtce;

pub use config::ProcessorConfig;
pub use error::ProcessorError;
pub use role::ProcessorRole;
