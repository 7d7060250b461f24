//! The depsvc role: owns the product dependency graph (which inputs each product needs, how, and
//! over what time window) and answers "what is downstream of this file?" and "for product P at
//! time T, which exact files are its inputs, or what is missing?" by querying the indexer.
#![forbid(unsafe_code)]

mod config;
mod convert;
mod error;
pub mod graph;
mod grpc;
mod role;

pub use config::{BuiltinGraph, DepsvcConfig};
pub use error::DepsvcError;
pub use role::{DepsvcRole, builtin_graph, configured_graph, load_graph};
