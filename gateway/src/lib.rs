//! The gateway role: the REST facade scientists use with the mission's own client
//! (`imap-data-access`): upload, download, query, reprocess, plus status pages.
#![forbid(unsafe_code)]

mod config;
mod error;
mod keys;
mod role;

pub use config::GatewayConfig;
pub use error::GatewayError;
pub use keys::{KeysCommand, run_keys_command};
pub use role::GatewayRole;
