//! depsvc's one error type, mapped to gRPC status codes in one place.

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
    #[error("indexer unavailable: {0}")]
    Indexer(#[from] tonic::Status),
}

impl From<DepsvcError> for tonic::Status {
    fn from(error: DepsvcError) -> tonic::Status {
        match &error {
            DepsvcError::Graph(GraphError::UnknownProduct(_)) => tonic::Status::not_found(error.to_string()),
            DepsvcError::InvalidRequest(_) | DepsvcError::Graph(_) => {
                tonic::Status::invalid_argument(error.to_string())
            }
            DepsvcError::Indexer(status) => {
                tonic::Status::unavailable(format!("indexer unavailable: {}", status.message()))
            }
            DepsvcError::GraphFile { .. } | DepsvcError::EmptyGraphFolder { .. } | DepsvcError::InvalidGraph(_) => {
                tracing::error!(%error, "depsvc internal error");
                tonic::Status::internal("internal depsvc error")
            }
        }
    }
}
