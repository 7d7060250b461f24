//! The gateway's one error type.

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{0} not implemented yet")]
    NotImplemented(&'static str),
    #[error("storage setup failed: {0}")]
    Store(#[from] proto::store::StoreError),
}
