//! The indexer's one error type, mapped to gRPC status codes in one place.

use imap_filename::FileNameError;

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
}

impl From<IndexerError> for tonic::Status {
    fn from(error: IndexerError) -> tonic::Status {
        match &error {
            IndexerError::InvalidName(_) | IndexerError::InvalidQuery(_) | IndexerError::InvalidRelease(_) => {
                tonic::Status::invalid_argument(error.to_string())
            }
            IndexerError::ObjectNotFound { .. } | IndexerError::UnknownFile(_) => {
                tonic::Status::not_found(error.to_string())
            }
            IndexerError::Conflict { .. } => tonic::Status::already_exists(error.to_string()),
            IndexerError::Archive(_)
            | IndexerError::CorruptKind(_)
            | IndexerError::Database(_)
            | IndexerError::Io { .. }
            | IndexerError::Store(_)
            | IndexerError::Watch(_) => {
                tracing::error!(%error, "indexer internal error");
                tonic::Status::internal("internal indexer error")
            }
        }
    }
}
