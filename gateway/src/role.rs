//! Build-then-start for the gateway.

use std::sync::Arc;

use axum::Router;
use mesh_runtime::Shutdown;
use mesh_runtime::archive::ArchivePresigner;
use mesh_runtime::role::{BuildContext, Exposure, Role, ServiceRegistry};
use object_store::ObjectStore;
use proto::clients::MeshClients;
use sqlx::AnyPool;
use tokio_util::task::TaskTracker;

use super::config::GatewayConfig;
use super::error::GatewayError;
use super::grpc::GatewayGrpc;
use super::key_store::ApiKeyStore;
use super::signing::UploadSigner;
use super::state::GatewayState;

pub struct GatewayRole {
    pub(crate) state: Arc<GatewayState>,
    shutdown: Shutdown,
}

impl GatewayRole {
    /// Opens the database (API keys) and the archive the node is configured with.
    pub async fn create(config: GatewayConfig, context: &BuildContext) -> Result<GatewayRole, GatewayError> {
        let pool = context.database().await?;
        let archive = context.archive().await?;
        let role =
            GatewayRole::new(config, pool, archive.store.clone(), archive.presigner.clone(), context.clients().clone())
                .await?;
        Ok(GatewayRole { shutdown: context.shutdown(), ..role })
    }

    /// Applies the gateway's migrations and loads the upload-signing secret shared by all replicas.
    pub async fn new(
        config: GatewayConfig,
        pool: AnyPool,
        archive: Arc<dyn ObjectStore>,
        presigner: Option<ArchivePresigner>,
        clients: MeshClients,
    ) -> Result<GatewayRole, GatewayError> {
        super::migrate(&pool).await?;
        let keys = ApiKeyStore::new(pool);
        let signer = UploadSigner::new(keys.signing_secret().await?);
        Ok(GatewayRole {
            state: Arc::new(GatewayState::new(config, archive, clients, keys, signer, presigner)),
            shutdown: Shutdown::never(),
        })
    }

    /// The REST routes.
    pub fn router(&self) -> Router {
        super::routes::router(self.state.clone())
    }
}

impl Role for GatewayRole {
    /// The gateway's gRPC service (API key management) and REST routes are for people: public.
    fn register(&self, registry: &mut ServiceRegistry) {
        registry.add_grpc(Exposure::Public, GatewayGrpc::server(self.state.keys.clone(), self.state.attempts.clone()));
        registry.add_rest(self.router());
    }

    /// Spawns the sweeper that places staged uploads; it stops at shutdown, a sweep under way first
    /// finishing.
    fn start(&self, tasks: &TaskTracker) {
        tasks.spawn(super::uploads::run_sweeper(self.state.clone(), self.shutdown.clone()));
    }
}
