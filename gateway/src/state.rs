//! What every gateway handler shares.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use object_store::ObjectStore;
use proto::clients::MeshClients;

use super::config::GatewayConfig;
use super::error::GatewayError;
use super::key_store::ApiKeyStore;
use super::signing::UploadSigner;

pub struct GatewayState {
    pub config: GatewayConfig,
    pub archive: Arc<dyn ObjectStore>,
    pub clients: MeshClients,
    pub keys: ApiKeyStore,
    pub signer: UploadSigner,
    /// Archive keys being uploaded right now: a second concurrent upload of one key is refused.
    uploads_in_progress: Mutex<HashSet<String>>,
}

impl GatewayState {
    pub fn new(
        config: GatewayConfig,
        archive: Arc<dyn ObjectStore>,
        clients: MeshClients,
        keys: ApiKeyStore,
        signer: UploadSigner,
    ) -> GatewayState {
        GatewayState { config, archive, clients, keys, signer, uploads_in_progress: Mutex::default() }
    }

    /// Reserves `key` for one upload until the returned claim is dropped.
    pub fn claim_upload(self: &Arc<Self>, key: &str) -> Result<UploadClaim, GatewayError> {
        let mut in_progress = self.uploads_in_progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !in_progress.insert(key.to_string()) {
            return Err(GatewayError::FileAlreadyExists { key: key.to_string() });
        }
        Ok(UploadClaim { state: self.clone(), key: key.to_string() })
    }
}

pub struct UploadClaim {
    state: Arc<GatewayState>,
    key: String,
}

impl Drop for UploadClaim {
    fn drop(&mut self) {
        let mut in_progress = self.state.uploads_in_progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        in_progress.remove(&self.key);
    }
}
