//! The starter's one error type, mapped to gRPC status codes in one place.

#[derive(Debug, thiserror::Error)]
pub enum StarterError {
    #[error("job {0} not found")]
    UnknownJob(proto::ids::JobId),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("campaign {0} not found")]
    UnknownCampaign(String),
    #[error("schedule {name:?} is invalid: {reason}")]
    InvalidSchedule { name: String, reason: String },
    #[error("stored job {id} is unreadable: {reason}")]
    CorruptJob { id: String, reason: String },
    #[error("a stored job state is unreadable: {0}")]
    CorruptState(#[source] proto::enums::UnknownText),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("storage setup failed: {0}")]
    Store(#[from] mesh_runtime::RuntimeError),
    #[error("peer call failed: {0}")]
    Peer(#[from] tonic::Status),
}

impl From<StarterError> for tonic::Status {
    fn from(error: StarterError) -> tonic::Status {
        match &error {
            StarterError::UnknownJob(_) | StarterError::UnknownCampaign(_) => {
                tonic::Status::not_found(error.to_string())
            }
            StarterError::InvalidRequest(_) | StarterError::InvalidSchedule { .. } => {
                tonic::Status::invalid_argument(error.to_string())
            }
            StarterError::Peer(status) => {
                tonic::Status::unavailable(format!("dependency unavailable: {}", status.message()))
            }
            StarterError::CorruptJob { .. }
            | StarterError::CorruptState(_)
            | StarterError::Database(_)
            | StarterError::Store(_) => {
                tracing::error!(%error, "starter internal error");
                tonic::Status::internal("internal starter error")
            }
        }
    }
}
