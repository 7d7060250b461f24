//! The gateway's one error type.

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("storage setup failed: {0}")]
    Store(#[from] proto::store::StoreError),
}
