//! depsvc's one error type, placed in the mesh's error table in one place.

use proto::error::{ErrorCode, HasErrorCode, status_of};

use super::graph::GraphError;

#[derive(Debug, thiserror::Error)]
pub enum DepsvcError {
    #[error("graph error: {0}")]
    Graph(#[from] GraphError),
    #[error("cannot read graph file {path}: {source}")]
    GraphFile { path: String, source: std::io::Error },
    #[error("graph folder {path} holds no .yaml dependency files")]
    EmptyGraphFolder { path: String },
    #[error("graph is invalid: {0}")]
    InvalidGraph(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("indexer: {0}")]
    Indexer(#[from] tonic::Status),
}

impl HasErrorCode for DepsvcError {
    fn error_code(&self) -> ErrorCode {
        match self {
            DepsvcError::Graph(GraphError::UnknownProduct(_)) => ErrorCode::NotFound,
            DepsvcError::InvalidRequest(_) | DepsvcError::Graph(_) => ErrorCode::InvalidArgument,
            // The indexer's own code travels on: its refusal stays a refusal, its outage an outage.
            DepsvcError::Indexer(status) => status.error_code(),
            DepsvcError::GraphFile { .. } | DepsvcError::EmptyGraphFolder { .. } | DepsvcError::InvalidGraph(_) => {
                ErrorCode::FailedPrecondition
            }
        }
    }

    fn public_message(&self) -> String {
        match self {
            DepsvcError::Indexer(status) => format!("indexer: {}", status.message()),
            other => other.to_string(),
        }
    }
}

impl From<DepsvcError> for tonic::Status {
    fn from(error: DepsvcError) -> tonic::Status {
        status_of(&error, "depsvc")
    }
}
