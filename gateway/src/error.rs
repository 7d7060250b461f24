//! The gateway's one error type, and the one place it becomes an HTTP status or a gRPC status.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use imap_filename::FileNameError;
use proto::error::{ErrorCode, HasErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No credentials, or credentials nobody issued.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials without the needed scope, or a bad upload signature.
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed authentications from the caller's address.
    #[error("too many failed api key attempts from this address; retry in {}s", retry_after.as_secs().max(1))]
    TooManyAttempts { retry_after: std::time::Duration },
    /// The caller used up its request rate (`gateway.rate_limit`).
    #[error("too many requests from this caller; retry in {}s", retry_after.as_secs_f64().ceil().max(1.0))]
    RateLimited { retry_after: std::time::Duration },
    #[error("{0}")]
    InvalidRequest(String),
    /// More files match a query than one answer may hold.
    #[error(
        "more than {limit} files match this query: narrow it (instrument, data level, descriptor, dates) \
         or ask an operator to raise gateway.max_query_files"
    )]
    QueryTooBroad { limit: usize },
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
        let code = self.error_code();
        match self {
            // A peer's own failure is the gateway's upstream failing; its refusals and passing
            // trouble keep their meaning.
            GatewayError::Upstream { .. } if code.http_status().is_server_error() && !code.is_transient() => {
                StatusCode::BAD_GATEWAY
            }
            _ => code.http_status(),
        }
    }
}

impl HasErrorCode for GatewayError {
    fn error_code(&self) -> ErrorCode {
        match self {
            GatewayError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            GatewayError::Forbidden(_) => ErrorCode::PermissionDenied,
            GatewayError::TooManyAttempts { .. } | GatewayError::RateLimited { .. } => ErrorCode::ResourceExhausted,
            GatewayError::InvalidRequest(_) | GatewayError::InvalidFileName(_) | GatewayError::QueryTooBroad { .. } => {
                ErrorCode::InvalidArgument
            }
            GatewayError::FileAlreadyExists { .. } => ErrorCode::AlreadyExists,
            GatewayError::NotFound(_) => ErrorCode::NotFound,
            GatewayError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            GatewayError::Upstream { status, .. } => status.error_code(),
            GatewayError::Archive(error) => mesh_runtime::archive::error_code(error),
            GatewayError::Database(error) => mesh_runtime::store::error_code(error),
            GatewayError::Store(error) => error.error_code(),
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
        let mut response = (status, Json(body)).into_response();
        if let GatewayError::TooManyAttempts { retry_after } | GatewayError::RateLimited { retry_after } = &self {
            let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            response.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            // A peer shedding load: worth coming back shortly.
            response.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            // Browsers then ask for the key (as the password) and send it with every later request
            // of the page, which is how the status page gets its key.
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Basic realm=\"imap-sdc\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

impl From<GatewayError> for tonic::Status {
    fn from(error: GatewayError) -> tonic::Status {
        proto::error::status_of(&error, "gateway")
    }
}
