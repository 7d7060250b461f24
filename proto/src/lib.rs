//! The contracts of the IMAP science data mesh: the gRPC services every role speaks (generated at
//! build time from `proto/imap/sdc/v1/*.proto`, which pass `buf lint`), the clients that call them
//! through one tower stack ([`clients`], [`client_stack`]), the one error-code table that gives
//! every failure its gRPC code, HTTP status and transience ([`error`]), the one retry policy
//! ([`retry`]), and what gives the wire types meaning in Rust: typed ids ([`ids`]), the lowercase
//! text of each enum ([`enums`]), product names ([`product`]), instants ([`time`]), their REST JSON
//! form ([`json`]), the provenance record stored beside each product ([`provenance`]) and W3C trace
//! propagation across calls and streams ([`trace`]). Nothing here touches storage: the shared
//! runtime (database, archive, telemetry setup) is the `mesh-runtime` crate.
#![forbid(unsafe_code)]

pub mod client_stack;
pub mod clients;
pub mod enums;
pub mod error;
pub mod ids;
pub mod json;
pub mod product;
pub mod provenance;
pub mod retry;
pub mod time;
pub mod trace;

/// Generated protobuf messages, service traits, servers and clients.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("imap.sdc.v1");
}

/// Every service's descriptors, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("imap_sdc_descriptor");
