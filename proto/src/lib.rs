//! The contracts of the IMAP science data mesh: the gRPC services every role speaks (generated at
//! build time from `proto/imap/sdc/v1/*.proto`), the mission's domain types (dates, file names),
//! and the small pieces of plumbing every role shares (trace propagation, storage, shutdown).
#![forbid(unsafe_code)]

pub mod archive;
pub mod clients;
#[cfg(feature = "test-util")]
pub mod fakes;
pub mod shutdown;
pub mod store;
pub mod telemetry;

/// Generated protobuf messages, service traits, servers and clients.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("imap.sdc.v1");
}

/// Every service's descriptors, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("imap_sdc_descriptor");

pub use shutdown::{Shutdown, ShutdownSignal};
