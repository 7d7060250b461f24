//! What every gateway handler shares.

use std::sync::Arc;

use object_store::ObjectStore;
use proto::clients::MeshClients;

use super::attempts::FailedAttempts;
use super::config::GatewayConfig;
use super::key_store::ApiKeyStore;
use super::rate_limit::RateLimiter;
use mesh_runtime::archive::ArchivePresigner;

use super::signing::UploadSigner;

pub struct GatewayState {
    pub config: GatewayConfig,
    pub archive: Arc<dyn ObjectStore>,
    pub clients: MeshClients,
    pub keys: ApiKeyStore,
    /// Failed authentications per client address.
    pub attempts: Arc<FailedAttempts>,
    /// Requests per api key, or per client address for anonymous callers.
    pub rate_limiter: RateLimiter,
    pub signer: UploadSigner,
    /// Set when clients reach the archive themselves (S3).
    pub presigner: Option<ArchivePresigner>,
}

impl GatewayState {
    pub fn new(
        config: GatewayConfig,
        archive: Arc<dyn ObjectStore>,
        clients: MeshClients,
        keys: ApiKeyStore,
        signer: UploadSigner,
        presigner: Option<ArchivePresigner>,
    ) -> GatewayState {
        let attempts = Arc::new(FailedAttempts::new(config.auth_failure_limit.get(), config.auth_failure_window));
        let rate_limiter = RateLimiter::new(config.rate_limit.clone());
        GatewayState { config, archive, clients, keys, attempts, rate_limiter, signer, presigner }
    }
}
