//! Build-then-start for the gateway.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use object_store::ObjectStore;
use proto::clients::MeshClients;
use sqlx::AnyPool;

use super::config::GatewayConfig;
use super::error::GatewayError;

pub struct GatewayRole {
    #[allow(dead_code)]
    config: GatewayConfig,
    #[allow(dead_code)]
    pool: AnyPool,
    #[allow(dead_code)]
    archive: Arc<dyn ObjectStore>,
    #[allow(dead_code)]
    clients: MeshClients,
}

impl GatewayRole {
    pub async fn create(
        config: GatewayConfig,
        pool: AnyPool,
        archive: Arc<dyn ObjectStore>,
        clients: MeshClients,
    ) -> Result<GatewayRole, GatewayError> {
        Ok(GatewayRole { config, pool, archive, clients })
    }

    /// The REST routes, merged onto the node's one listener.
    pub fn router(&self) -> Router {
        Router::new().route("/api/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
    }
}
