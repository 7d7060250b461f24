//! The gateway's one error type, and the one place it becomes an HTTP status or a gRPC status.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use imap_filename::FileNameError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No credentials, or credentials nobody issued.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials without the needed scope, or a bad upload signature.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error(transparent)]
    InvalidFileName(#[from] FileNameError),
    #[error("the file '{key}' already exists; a new version needs a new file name")]
    FileAlreadyExists { key: String },
    #[error("{0}")]
    NotFound(String),
    #[error("upload larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    /// Another mesh service answered with an error.
    #[error("{service}: {status}")]
    Upstream { service: &'static str, status: tonic::Status },
    #[error("archive: {0}")]
    Archive(#[from] object_store::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("storage setup failed: {0}")]
    Store(#[from] mesh_runtime::RuntimeError),
}

impl GatewayError {
    /// Wraps an error answered by a mesh peer.
    pub fn upstream(service: &'static str) -> impl FnOnce(tonic::Status) -> GatewayError {
        move |status| GatewayError::Upstream { service, status }
    }

    fn http_status(&self) -> StatusCode {
        match self {
            GatewayError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
            GatewayError::InvalidRequest(_) | GatewayError::InvalidFileName(_) => StatusCode::BAD_REQUEST,
            GatewayError::FileAlreadyExists { .. } => StatusCode::CONFLICT,
            GatewayError::NotFound(_) => StatusCode::NOT_FOUND,
            GatewayError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::Upstream { status, .. } => match status.code() {
                tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                tonic::Code::AlreadyExists => StatusCode::CONFLICT,
                tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            },
            GatewayError::Archive(object_store::Error::NotFound { .. }) => StatusCode::NOT_FOUND,
            GatewayError::Archive(_) | GatewayError::Database(_) | GatewayError::Store(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// What the caller is told: internal details stay in the log.
    fn public_message(&self) -> String {
        match self {
            GatewayError::Upstream { service, status } => format!("{service}: {}", status.message()),
            GatewayError::Archive(object_store::Error::NotFound { .. }) => "file not found in the archive".into(),
            GatewayError::Archive(_) | GatewayError::Database(_) | GatewayError::Store(_) => {
                "internal error, see the gateway log".into()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let status = self.http_status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::info!(error = %self, status = status.as_u16(), "request refused");
        }
        // Upstream's bodies are JSON; only the 409's `FileAlreadyExists` token is relied upon by callers.
        let body = match &self {
            GatewayError::FileAlreadyExists { .. } => {
                serde_json::json!({"error": "FileAlreadyExists", "message": self.public_message()})
            }
            _ => serde_json::Value::String(self.public_message()),
        };
        (status, Json(body)).into_response()
    }
}

impl From<GatewayError> for tonic::Status {
    fn from(error: GatewayError) -> tonic::Status {
        let message = error.public_message();
        match error.http_status() {
            StatusCode::UNAUTHORIZED => tonic::Status::unauthenticated(message),
            StatusCode::FORBIDDEN => tonic::Status::permission_denied(message),
            StatusCode::BAD_REQUEST => tonic::Status::invalid_argument(message),
            StatusCode::NOT_FOUND => tonic::Status::not_found(message),
            StatusCode::CONFLICT => tonic::Status::already_exists(message),
            _ => {
                tracing::error!(%error, "grpc request failed");
                tonic::Status::internal(message)
            }
        }
    }
}
