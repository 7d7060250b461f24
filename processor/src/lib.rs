//! The processor role: connects to the starter's work stream, runs each leased job's science in
//! a CPU pool that never blocks the async runtime, writes the outputs atomically to the archive
//! and has them indexed with their provenance (which triggers the next level).
//!
//! The science ([`science`]) stands on two libraries that know nothing of the mesh: `xtce`
//! (CCSDS packets decoded with an XTCE definition, `processor/xtce`) and `nasa-cdf` (CDF v3
//! files, `processor/nasa-cdf`). What is IMAP's own stays here, in [`mission`]: packet times
//! through the spacecraft clock kernel and the ISTP attributes of IMAP products.
//!
//! Level-0 decoding needs an XTCE definition per instrument. The project's definitions
//! (`deploy/xtce/*.xml`: SWAPI, MAG, CoDICE) are compiled into the binary, so L1A works from any
//! working directory. `processor.xtce_dir` only overrides them: an instrument with an
//! `<instrument>.xml` in that folder uses the file, any other its built-in definition, and an
//! instrument with neither fails its L1A jobs with an error naming both.
#![forbid(unsafe_code)]

mod config;
mod error;
mod grpc;
pub mod mission;
mod outputs;
mod pool;
mod role;
pub mod science;
mod worker;

#[cfg(test)]
mod drain_tests;
#[cfg(test)]
mod fake_starter;
#[cfg(test)]
mod output_tests;
#[cfg(test)]
mod panic_tests;

pub use config::{BuiltinScience, ProcessorConfig};
pub use error::ProcessorError;
pub use role::ProcessorRole;
