//! The indexer's one error type, placed in the mesh's error table in one place.

use imap_filename::FileNameError;
use proto::error::{ErrorCode, HasErrorCode, status_of};

#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error("invalid file name: {0}")]
    InvalidName(#[from] FileNameError),
    #[error("archive object {key} not found")]
    ObjectNotFound { key: String },
    #[error("file {0} is not in the file tracker")]
    UnknownFile(String),
    #[error("{key} already exists in the archive with different content")]
    Conflict { key: String },
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("a stored file kind is unreadable: {0}")]
    CorruptKind(#[source] proto::enums::UnknownText),
    #[error("invalid release: {0}")]
    InvalidRelease(String),
    #[error("archive error: {0}")]
    Archive(#[from] object_store::Error),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("io error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("storage setup failed: {0}")]
    Store(#[from] mesh_runtime::RuntimeError),
    #[error("file watcher failed: {0}")]
    Watch(#[from] notify::Error),
    #[error("a blocking file task panicked or was cancelled")]
    BlockingTaskLost,
    #[error("encoding a batch for the database failed: {0}")]
    Encode(#[from] serde_json::Error),
}

impl HasErrorCode for IndexerError {
    fn error_code(&self) -> ErrorCode {
        match self {
            IndexerError::InvalidName(_) | IndexerError::InvalidQuery(_) | IndexerError::InvalidRelease(_) => {
                ErrorCode::InvalidArgument
            }
            IndexerError::ObjectNotFound { .. } | IndexerError::UnknownFile(_) => ErrorCode::NotFound,
            IndexerError::Conflict { .. } => ErrorCode::AlreadyExists,
            IndexerError::CorruptKind(_) => ErrorCode::DataLoss,
            IndexerError::Archive(error) => mesh_runtime::archive::error_code(error),
            IndexerError::Database(error) => mesh_runtime::store::error_code(error),
            IndexerError::Store(error) => error.error_code(),
            IndexerError::Io { .. } => ErrorCode::Unavailable,
            IndexerError::Watch(_) | IndexerError::BlockingTaskLost | IndexerError::Encode(_) => ErrorCode::Internal,
        }
    }
}

impl From<IndexerError> for tonic::Status {
    fn from(error: IndexerError) -> tonic::Status {
        status_of(&error, "indexer")
    }
}
