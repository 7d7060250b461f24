//! The one error-code table of the mesh. Every crate's error enum names one [`ErrorCode`] per
//! variant, and that code alone decides, at the crate's one edge, the gRPC status a caller gets,
//! the HTTP status a REST client gets, and whether trying again could help (what every retry loop
//! asks). A peer's gRPC code maps back onto the same table, so a refusal keeps its meaning as it
//! travels from callee to caller.

use http::StatusCode;
use tonic::Code;

/// What kind of failure an error is, independent of where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request itself is wrong (a bad name, date or filter).
    InvalidArgument,
    /// The request is too large to accept.
    PayloadTooLarge,
    /// What the request names does not exist.
    NotFound,
    /// What the request would create exists already (with other content).
    AlreadyExists,
    /// The system is not in a state where the request can succeed (e.g. a unique rule refuses it).
    FailedPrecondition,
    /// A result would fall outside the valid range (e.g. no version left).
    OutOfRange,
    /// The caller did not say who it is.
    Unauthenticated,
    /// The caller may not do this.
    PermissionDenied,
    /// Nobody implements this call.
    Unimplemented,
    /// The server is overloaded or out of a resource; it sheds load.
    ResourceExhausted,
    /// A concurrent change won (serialization failure, a busy database).
    Aborted,
    /// The callee (or something it needs: the database, the archive) cannot be reached right now.
    Unavailable,
    /// The call took longer than its deadline.
    DeadlineExceeded,
    /// The call was cut off before it finished (often: the peer went away).
    Cancelled,
    /// The call failed in a way the callee could not name (often a broken connection).
    Unknown,
    /// Stored data is unreadable.
    DataLoss,
    /// A broken invariant: a bug, not the request and not the weather.
    Internal,
}

/// One row of the table.
struct Row {
    grpc: Code,
    http: StatusCode,
    transient: bool,
    text: &'static str,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::InvalidArgument,
        ErrorCode::PayloadTooLarge,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::FailedPrecondition,
        ErrorCode::OutOfRange,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::Unimplemented,
        ErrorCode::ResourceExhausted,
        ErrorCode::Aborted,
        ErrorCode::Unavailable,
        ErrorCode::DeadlineExceeded,
        ErrorCode::Cancelled,
        ErrorCode::Unknown,
        ErrorCode::DataLoss,
        ErrorCode::Internal,
    ];

    /// The table: gRPC code, HTTP status, transient (worth trying again), text.
    fn row(self) -> Row {
        let row = |grpc, http, transient, text| Row { grpc, http, transient, text };
        match self {
            ErrorCode::InvalidArgument => {
                row(Code::InvalidArgument, StatusCode::BAD_REQUEST, false, "invalid_argument")
            }
            ErrorCode::PayloadTooLarge => {
                row(Code::InvalidArgument, StatusCode::PAYLOAD_TOO_LARGE, false, "payload_too_large")
            }
            ErrorCode::NotFound => row(Code::NotFound, StatusCode::NOT_FOUND, false, "not_found"),
            ErrorCode::AlreadyExists => row(Code::AlreadyExists, StatusCode::CONFLICT, false, "already_exists"),
            ErrorCode::FailedPrecondition => {
                row(Code::FailedPrecondition, StatusCode::BAD_REQUEST, false, "failed_precondition")
            }
            ErrorCode::OutOfRange => row(Code::OutOfRange, StatusCode::BAD_REQUEST, false, "out_of_range"),
            ErrorCode::Unauthenticated => {
                row(Code::Unauthenticated, StatusCode::UNAUTHORIZED, false, "unauthenticated")
            }
            ErrorCode::PermissionDenied => {
                row(Code::PermissionDenied, StatusCode::FORBIDDEN, false, "permission_denied")
            }
            ErrorCode::Unimplemented => row(Code::Unimplemented, StatusCode::NOT_IMPLEMENTED, false, "unimplemented"),
            // Load shedding: the caller backs off and tries again.
            ErrorCode::ResourceExhausted => {
                row(Code::ResourceExhausted, StatusCode::TOO_MANY_REQUESTS, true, "resource_exhausted")
            }
            ErrorCode::Aborted => row(Code::Aborted, StatusCode::CONFLICT, true, "aborted"),
            ErrorCode::Unavailable => row(Code::Unavailable, StatusCode::SERVICE_UNAVAILABLE, true, "unavailable"),
            ErrorCode::DeadlineExceeded => {
                row(Code::DeadlineExceeded, StatusCode::GATEWAY_TIMEOUT, true, "deadline_exceeded")
            }
            // A call cut off by a dying peer surfaces as Cancelled.
            ErrorCode::Cancelled => row(Code::Cancelled, StatusCode::SERVICE_UNAVAILABLE, true, "cancelled"),
            // tonic reports a connection broken mid-call as Unknown.
            ErrorCode::Unknown => row(Code::Unknown, StatusCode::BAD_GATEWAY, true, "unknown"),
            ErrorCode::DataLoss => row(Code::DataLoss, StatusCode::INTERNAL_SERVER_ERROR, false, "data_loss"),
            // A bug does not go away by asking again; retrying it forever would block a queue.
            ErrorCode::Internal => row(Code::Internal, StatusCode::INTERNAL_SERVER_ERROR, false, "internal"),
        }
    }

    pub fn grpc_code(self) -> Code {
        self.row().grpc
    }

    pub fn http_status(self) -> StatusCode {
        self.row().http
    }

    /// Whether trying again later could succeed: the one answer every retry loop in the mesh uses.
    pub fn is_transient(self) -> bool {
        self.row().transient
    }

    /// The lowercase name, as stored and shown (e.g. `invalid_argument`).
    pub fn text(self) -> &'static str {
        self.row().text
    }

    pub fn from_text(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| code.text() == text)
    }

    /// The code a peer answered with. `Ok` is not an error; it maps to `Unknown` should it ever be
    /// asked about.
    pub fn from_grpc(code: Code) -> ErrorCode {
        match code {
            Code::InvalidArgument => ErrorCode::InvalidArgument,
            Code::NotFound => ErrorCode::NotFound,
            Code::AlreadyExists => ErrorCode::AlreadyExists,
            Code::FailedPrecondition => ErrorCode::FailedPrecondition,
            Code::OutOfRange => ErrorCode::OutOfRange,
            Code::Unauthenticated => ErrorCode::Unauthenticated,
            Code::PermissionDenied => ErrorCode::PermissionDenied,
            Code::Unimplemented => ErrorCode::Unimplemented,
            Code::ResourceExhausted => ErrorCode::ResourceExhausted,
            Code::Aborted => ErrorCode::Aborted,
            Code::Unavailable => ErrorCode::Unavailable,
            Code::DeadlineExceeded => ErrorCode::DeadlineExceeded,
            Code::Cancelled => ErrorCode::Cancelled,
            Code::DataLoss => ErrorCode::DataLoss,
            Code::Internal => ErrorCode::Internal,
            Code::Unknown | Code::Ok => ErrorCode::Unknown,
        }
    }

    /// A gRPC status with this code.
    pub fn status(self, message: impl Into<String>) -> tonic::Status {
        tonic::Status::new(self.grpc_code(), message)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.text())
    }
}

/// An error that knows its row of the table.
pub trait HasErrorCode: std::fmt::Display {
    fn error_code(&self) -> ErrorCode;

    /// What a caller is told. A refusal says what is wrong; server-side trouble (database, archive,
    /// bugs) is told by its code only, its detail stays in the callee's log.
    fn public_message(&self) -> String {
        let code = self.error_code();
        if code.http_status().is_server_error() {
            format!("{code} (details in the service log)")
        } else {
            self.to_string()
        }
    }
}

impl HasErrorCode for tonic::Status {
    fn error_code(&self) -> ErrorCode {
        ErrorCode::from_grpc(self.code())
    }

    fn public_message(&self) -> String {
        self.message().to_string()
    }
}

/// The status a crate's edge answers with (`role` names the crate in the log). Server-side trouble
/// is logged here, once: a bug as an error, passing trouble as a warning.
pub fn status_of(error: &impl HasErrorCode, role: &str) -> tonic::Status {
    let code = error.error_code();
    if code.http_status().is_server_error() {
        if code.is_transient() {
            tracing::warn!(%error, %code, role, "request failed, may succeed later");
        } else {
            tracing::error!(%error, %code, role, "request failed");
        }
    }
    code.status(error.public_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_text_and_grpc() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_text(code.text()), Some(code));
            let back = ErrorCode::from_grpc(code.grpc_code());
            // Too large is the one code that shares its gRPC code with another.
            if code != ErrorCode::PayloadTooLarge {
                assert_eq!(back, code, "{code}");
            }
            assert_eq!(back.is_transient(), code.is_transient(), "{code}");
        }
    }

    #[test]
    fn refusals_are_permanent_and_trouble_is_transient() {
        for permanent in [Code::InvalidArgument, Code::NotFound, Code::FailedPrecondition, Code::Internal] {
            assert!(!tonic::Status::new(permanent, "").error_code().is_transient(), "{permanent:?}");
        }
        for transient in [Code::Unavailable, Code::ResourceExhausted, Code::DeadlineExceeded, Code::Cancelled] {
            assert!(tonic::Status::new(transient, "").error_code().is_transient(), "{transient:?}");
        }
        assert_eq!(ErrorCode::ResourceExhausted.http_status(), StatusCode::TOO_MANY_REQUESTS);
    }
}
