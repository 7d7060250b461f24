//! What every gateway handler shares.

use std::sync::Arc;

use object_store::ObjectStore;
use proto::clients::MeshClients;

use super::config::GatewayConfig;
use super::key_store::ApiKeyStore;
use super::signing::UploadSigner;

pub struct GatewayState {
    pub config: GatewayConfig,
    pub archive: Arc<dyn ObjectStore>,
    pub clients: MeshClients,
    pub keys: ApiKeyStore,
    pub signer: UploadSigner,
}

impl GatewayState {
    pub fn new(
        config: GatewayConfig,
        archive: Arc<dyn ObjectStore>,
        clients: MeshClients,
        keys: ApiKeyStore,
        signer: UploadSigner,
    ) -> GatewayState {
        GatewayState { config, archive, clients, keys, signer }
    }
}
