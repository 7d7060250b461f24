//! The IMAP science data processing mesh as one binary: configuration, the typed role set, operator
//! tools, and the composition root that builds and starts whichever roles a node runs.
#![forbid(unsafe_code)]

pub mod bench;
pub mod config;
pub mod kernels;
pub mod node;
pub mod role;
pub mod tools;
