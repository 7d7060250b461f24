//! The runtime every role of the IMAP science data mesh shares: the role contract a node builds,
//! registers, starts and drains every role through ([`role`]), the server stack every listener
//! serves through ([`server`]) and the in-process way roles of one node call each other through it
//! ([`local`]), the mesh's certificates ([`tls`]) and who may call what on the
//! internal listener ([`authz`]), the database (SQLite or PostgreSQL through sqlx), the archive (a
//! directory or S3 through object_store), shutdown, leader leases with fencing for the roles that
//! must have one writer ([`leader`]), Prometheus metrics ([`metrics`]), telemetry setup and the server-side trace
//! layer, the shared `[mesh]` settings and config helpers ([`config`]: durations, problems), and
//! in-process fakes of peers for tests (feature `test-util`). The contracts themselves live in
//! `proto`, which knows nothing of storage.
#![forbid(unsafe_code)]

pub mod archive;
pub mod authz;
pub mod config;
pub mod error;
#[cfg(feature = "test-util")]
pub mod fakes;
pub mod leader;
pub mod local;
pub mod metrics;
pub mod role;
pub mod server;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod tls;

pub use error::RuntimeError;
pub use shutdown::{Shutdown, ShutdownSignal};
