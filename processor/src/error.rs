//! The processor's one error type, placed in the mesh's error table in one place. The table also
//! decides whether a failed job is worth running again: only transient trouble is.

use proto::error::{ErrorCode, HasErrorCode, status_of};

use super::science::ScienceError;

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error("science failed: {0}")]
    Science(#[from] ScienceError),
    #[error(
        "no science for {0}: no [[processor.mission_program]] or [[processor.external]] rule covers it and the \
         built-in science does not make it (with the mission's graph it decodes L1A only; deploy/mission-science.toml \
         runs the mission's program for the other levels)"
    )]
    NoAlgorithm(String),
    #[error("job {0} is not running here")]
    UnknownJob(proto::ids::JobId),
    #[error("output {file} already exists as another producer's file (job {owner:?}); not overwritten")]
    OutputTaken { file: String, owner: String },
    #[error(
        "output {key} appeared in the archive with other content while the job ran (an upload or another writer); \
         not overwritten"
    )]
    OutputClash { key: String },
    #[error("job was cancelled")]
    Cancelled,
    #[error("job was cut off: the processor shut down before it finished")]
    CutOffByShutdown,
    #[error("output name invalid: {0}")]
    OutputName(#[from] imap_filename::FileNameError),
    #[error("archive error: {0}")]
    Archive(#[from] object_store::Error),
    #[error("archive file {}: {source}", path.display())]
    ArchiveFile { path: std::path::PathBuf, source: std::io::Error },
    #[error("peer call failed: {0}")]
    Peer(#[from] tonic::Status),
    #[error("cpu pool could not start: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
    #[error("cpu pool task vanished")]
    PoolTaskLost,
    #[error("archive setup failed: {0}")]
    Runtime(#[from] mesh_runtime::RuntimeError),
}

impl HasErrorCode for ProcessorError {
    fn error_code(&self) -> ErrorCode {
        match self {
            ProcessorError::Science(ScienceError::BadInput { .. } | ScienceError::MissingInput(_)) => {
                ErrorCode::InvalidArgument
            }
            // A mission program may fail for reasons outside its inputs: run it again, per policy.
            ProcessorError::Science(ScienceError::MissionProgram { .. }) => ErrorCode::Aborted,
            // Bad science (or an operator's cancel) fails the same way every time.
            ProcessorError::Science(_) | ProcessorError::Cancelled => ErrorCode::FailedPrecondition,
            ProcessorError::NoAlgorithm(_) => ErrorCode::Unimplemented,
            ProcessorError::UnknownJob(_) => ErrorCode::NotFound,
            ProcessorError::OutputTaken { .. } | ProcessorError::OutputClash { .. } => ErrorCode::AlreadyExists,
            ProcessorError::OutputName(_) => ErrorCode::InvalidArgument,
            // Another processor can run it.
            ProcessorError::CutOffByShutdown => ErrorCode::Unavailable,
            ProcessorError::Archive(error) => mesh_runtime::archive::error_code(error),
            // A full or failing disk may be fine again later, as a store that does not answer.
            ProcessorError::ArchiveFile { .. } => ErrorCode::Unavailable,
            ProcessorError::Peer(status) => status.error_code(),
            ProcessorError::Pool(_) => ErrorCode::Internal,
            // The science thread died (a panic in a library): running the job again may not.
            ProcessorError::PoolTaskLost => ErrorCode::Aborted,
            ProcessorError::Runtime(error) => error.error_code(),
        }
    }
}

impl ProcessorError {
    /// Whether running the job again could succeed (infrastructure trouble, not bad science).
    pub fn is_retryable(&self) -> bool {
        self.error_code().is_transient()
    }

    /// The failed program's output for the job's log, when a program ran.
    pub fn program_log(&self) -> Option<&str> {
        match self {
            ProcessorError::Science(error) => error.program_log(),
            _ => None,
        }
    }
}

impl From<ProcessorError> for tonic::Status {
    fn from(error: ProcessorError) -> tonic::Status {
        status_of(&error, "processor")
    }
}
