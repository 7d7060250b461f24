//! The IMAP science data processing mesh as one binary: configuration, the typed role set,
//! telemetry, and the composition root that builds and starts whichever roles a node runs.
#![forbid(unsafe_code)]

pub mod archive;
pub mod config;
pub mod node;
pub mod role;
pub mod telemetry;
pub mod tools;
