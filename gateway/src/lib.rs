//! The gateway role: the REST facade scientists use with the mission's own client
//! (`imap-data-access`): upload, download, query, reprocess, release, plus the status API, its OpenAPI
//! document, a live page of the pipeline, and API keys (REST auth, `imap-sdc keys`, gRPC).
#![forbid(unsafe_code)]

mod attempts;
mod auth;
mod catalog;
mod config;
mod data_access;
mod error;
mod graph_svg;
mod grpc;
mod key_store;
mod keys;
mod rate_limit;
mod release;
mod role;
mod routes;
mod signing;
mod spice_catalog;
mod state;
mod status;
mod uploads;

pub use config::{GatewayConfig, StatusAccess};
pub use error::GatewayError;
pub use grpc::GatewayGrpc;
pub use key_store::{ApiKey, ApiKeyStore, Authentication, Scope};
pub use keys::{KeysCommand, run_keys_command};
pub use rate_limit::RateLimitConfig;
pub use release::AnonymousAccess;
pub use role::GatewayRole;
pub use routes::route_table;

/// Applies the gateway's own migrations (numbered 5001 and up).
pub async fn migrate(pool: &sqlx::AnyPool) -> Result<(), GatewayError> {
    mesh_runtime::store::migrate(pool, sqlx::migrate!("./migrations")).await?;
    Ok(())
}
