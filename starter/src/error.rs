//! The starter's one error type, placed in the mesh's error table in one place.

use proto::error::{ErrorCode, HasErrorCode, status_of};

#[derive(Debug, thiserror::Error)]
pub enum StarterError {
    #[error("job {0} not found")]
    UnknownJob(proto::ids::JobId),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("job {id} is {state} already: only queued or running jobs can be failed")]
    JobFinished { id: proto::ids::JobId, state: String },
    #[error("no version left after {0}")]
    NoVersionLeft(String),
    #[error("could not allocate a job version: other starters kept taking them")]
    VersionContention,
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
    #[error("peer: {0}")]
    Peer(#[from] tonic::Status),
}

impl HasErrorCode for StarterError {
    fn error_code(&self) -> ErrorCode {
        match self {
            StarterError::UnknownJob(_) | StarterError::UnknownCampaign(_) => ErrorCode::NotFound,
            StarterError::InvalidRequest(_) | StarterError::InvalidSchedule { .. } => ErrorCode::InvalidArgument,
            StarterError::NoVersionLeft(_) => ErrorCode::OutOfRange,
            StarterError::JobFinished { .. } => ErrorCode::FailedPrecondition,
            StarterError::VersionContention => ErrorCode::Aborted,
            StarterError::CorruptJob { .. } | StarterError::CorruptState(_) => ErrorCode::DataLoss,
            StarterError::Database(error) => mesh_runtime::store::error_code(error),
            StarterError::Store(error) => error.error_code(),
            // The callee's own code travels on: its refusal stays a refusal, its outage an outage.
            StarterError::Peer(status) => status.error_code(),
        }
    }

    fn public_message(&self) -> String {
        match self {
            StarterError::Peer(status) => format!("dependency: {}", status.message()),
            StarterError::Database(_)
            | StarterError::Store(_)
            | StarterError::CorruptJob { .. }
            | StarterError::CorruptState(_) => {
                format!("{} (details in the starter log)", self.error_code())
            }
            other => other.to_string(),
        }
    }
}

impl From<StarterError> for tonic::Status {
    fn from(error: StarterError) -> tonic::Status {
        status_of(&error, "starter")
    }
}
