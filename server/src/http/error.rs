//! One error type for the JSON API: clean messages for users, details only in the log.

use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use promptly::account::{FieldError, FieldProblem};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthorized,
    #[error("not allowed for your role")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("the request has invalid fields")]
    Unprocessable { errors: Vec<FieldError> },
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than 1 MiB")]
    TooLarge,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            errors: vec![FieldError::new(field, message)],
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict { field: "email" } => ApiError::Unprocessable {
                errors: vec![FieldError::taken("email", "This email is already taken.")],
            },
            StoreError::Invalid { field, message } => ApiError::field(field, message),
            StoreError::Conflict { field } => {
                ApiError::Conflict(format!("This {field} is in use and cannot be removed."))
            }
            other => ApiError::Internal(anyhow::anyhow!(other)),
        }
    }
}

fn all_are(errors: &[FieldError], kind: FieldProblem) -> bool {
    !errors.is_empty() && errors.iter().all(|e| e.kind == kind)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Unauthorized => {
                (StatusCode::UNAUTHORIZED, json!({"error": self.to_string()}))
            }
            ApiError::Forbidden => (StatusCode::FORBIDDEN, json!({"error": self.to_string()})),
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({"error": self.to_string()})),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, json!({"error": m})),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": self.to_string()}),
            ),
            // Every error names a record that does not exist (404), or a value another
            // record has (409): the status says so, the fields say which.
            ApiError::Unprocessable { errors } if all_are(errors, FieldProblem::Missing) => (
                StatusCode::NOT_FOUND,
                json!({"error": "the request refers to records that do not exist", "errors": errors}),
            ),
            ApiError::Unprocessable { errors } if all_are(errors, FieldProblem::Taken) => (
                StatusCode::CONFLICT,
                json!({"error": "a value is already taken", "errors": errors}),
            ),
            ApiError::Unprocessable { errors } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": self.to_string(), "errors": errors}),
            ),
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "internal error"}),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}
