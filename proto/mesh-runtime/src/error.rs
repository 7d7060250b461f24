//! The runtime's one error type: what can go wrong opening the database, the archive or telemetry.
//! Roles wrap it in their own error enum.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("unsupported database url {0:?}: expected sqlite:// or postgres://")]
    UnsupportedDatabaseUrl(String),
    #[error("cannot open database: {0}")]
    DatabaseConnect(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The configured archive location makes no sense.
    #[error("{0}")]
    ArchiveLocation(String),
    #[error("creating archive directory {}: {source}", path.display())]
    ArchiveDirectory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Archive {
        context: String,
        #[source]
        source: object_store::Error,
    },
    #[error("archive {location} did not answer within {timeout:?}")]
    ArchiveTimeout { location: String, timeout: Duration },
    /// The store would let a file be overwritten.
    #[error("{0}")]
    ArchiveUnsafe(String),
    #[error("leader lease: {0}")]
    Lease(#[source] sqlx::Error),
    /// This replica is a standby or was deposed: the write belongs to the leader.
    #[error("not the {name} leader (a standby, or deposed by a newer leader); retry to reach the leader")]
    NotLeader { name: String },
    #[error("{0}")]
    Telemetry(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl proto::error::HasErrorCode for RuntimeError {
    fn error_code(&self) -> proto::error::ErrorCode {
        use proto::error::ErrorCode;
        match self {
            RuntimeError::UnsupportedDatabaseUrl(_)
            | RuntimeError::ArchiveLocation(_)
            | RuntimeError::ArchiveUnsafe(_) => ErrorCode::FailedPrecondition,
            RuntimeError::DatabaseConnect(error) | RuntimeError::Lease(error) => crate::store::error_code(error),
            RuntimeError::NotLeader { .. } => ErrorCode::Unavailable,
            RuntimeError::Migrate(_) | RuntimeError::Telemetry(_) => ErrorCode::Internal,
            RuntimeError::ArchiveDirectory { .. } | RuntimeError::ArchiveTimeout { .. } => ErrorCode::Unavailable,
            RuntimeError::Archive { source, .. } => crate::archive::error_code(source),
        }
    }
}
