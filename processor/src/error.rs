//! The processor's one error type, mapped to gRPC status codes in one place.

use super::science::ScienceError;

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error("science failed: {0}")]
    Science(#[from] ScienceError),
    #[error("no algorithm for {0}")]
    NoAlgorithm(String),
    #[error("job {0} is not running here")]
    UnknownJob(proto::ids::JobId),
    #[error("output {file} already exists as another producer's file (job {owner:?}); not overwritten")]
    OutputTaken { file: String, owner: String },
    #[error("job was cancelled")]
    Cancelled,
    #[error("output name invalid: {0}")]
    OutputName(#[from] imap_filename::FileNameError),
    #[error("archive error: {0}")]
    Archive(#[from] object_store::Error),
    #[error("peer call failed: {0}")]
    Peer(#[from] tonic::Status),
    #[error("cpu pool could not start: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
    #[error("cpu pool task vanished")]
    PoolTaskLost,
}

impl ProcessorError {
    /// Whether running the job again could succeed (infrastructure trouble, not bad science).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProcessorError::Archive(_) | ProcessorError::Peer(_) | ProcessorError::PoolTaskLost)
    }
}

impl From<ProcessorError> for tonic::Status {
    fn from(error: ProcessorError) -> tonic::Status {
        match &error {
            ProcessorError::UnknownJob(_) => tonic::Status::not_found(error.to_string()),
            _ => {
                tracing::error!(%error, "processor internal error");
                tonic::Status::internal("internal processor error")
            }
        }
    }
}
