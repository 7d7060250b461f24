//! Build-then-start for the gateway.

use std::sync::Arc;

use axum::Router;
use object_store::ObjectStore;
use proto::clients::MeshClients;
use proto::pb::gateway_service_server::GatewayServiceServer;
use sqlx::AnyPool;

use super::config::GatewayConfig;
use super::error::GatewayError;
use super::grpc::GatewayGrpc;
use super::key_store::ApiKeyStore;
use mesh_runtime::archive::ArchivePresigner;

use super::signing::UploadSigner;
use super::state::GatewayState;

pub struct GatewayRole {
    pub(crate) state: Arc<GatewayState>,
}

impl GatewayRole {
    /// Applies the gateway's migrations and loads the upload-signing secret shared by all replicas.
    pub async fn create(
        config: GatewayConfig,
        pool: AnyPool,
        archive: Arc<dyn ObjectStore>,
        presigner: Option<ArchivePresigner>,
        clients: MeshClients,
    ) -> Result<GatewayRole, GatewayError> {
        super::migrate(&pool).await?;
        let keys = ApiKeyStore::new(pool);
        let signer = UploadSigner::new(keys.signing_secret().await?);
        Ok(GatewayRole { state: Arc::new(GatewayState::new(config, archive, clients, keys, signer, presigner)) })
    }

    /// The REST routes, merged onto the node's one listener.
    pub fn router(&self) -> Router {
        super::routes::router(self.state.clone())
    }

    /// Spawns the sweeper that places staged uploads; it stops at shutdown.
    pub fn start(&self, shutdown: mesh_runtime::Shutdown) -> tokio::task::JoinHandle<()> {
        super::uploads::spawn_sweeper(self.state.clone(), shutdown)
    }

    /// The Gateway gRPC service (API key management).
    pub fn grpc_service(&self) -> GatewayServiceServer<GatewayGrpc> {
        GatewayGrpc::server(self.state.keys.clone())
    }
}
