//! One error type for the JSON API: clean messages for users, details only in the log.

use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use promptly::account::{FieldError, FieldProblem};
use serde::Serialize;

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
        let message = self.to_string();
        let (status, error, errors) = match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, message, vec![]),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, message, vec![]),
            ApiError::NotFound => (StatusCode::NOT_FOUND, message, vec![]),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m, vec![]),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, message, vec![]),
            // Every error names a record that does not exist (404), or a value another
            // record has (409): the status says so, the fields say which.
            ApiError::Unprocessable { errors } if all_are(&errors, FieldProblem::Missing) => (
                StatusCode::NOT_FOUND,
                "the request refers to records that do not exist".into(),
                errors,
            ),
            ApiError::Unprocessable { errors } if all_are(&errors, FieldProblem::Taken) => (
                StatusCode::CONFLICT,
                "a value is already taken".into(),
                errors,
            ),
            ApiError::Unprocessable { errors } => {
                (StatusCode::UNPROCESSABLE_ENTITY, message, errors)
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".into(),
                    vec![],
                )
            }
        };
        (status, Json(ErrorBody { error, errors })).into_response()
    }
}

/// Every JSON error. `errors` names the fields: invalid ones (422), ids of records that do
/// not exist (404), values already taken (409).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}
