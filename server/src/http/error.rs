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
            StoreError::Refused(errors) => ApiError::Unprocessable { errors },
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

/// The API's error answers as the OpenAPI document names them (`#/components/responses/…`):
/// each a marker type an operation lists (`(status = 404, response = NotFound)`), with the
/// answer's words. The document adds 401, 403, 413 and 422 to each operation by its
/// roles (the access table) and its inputs; an operation lists the ones its data decides.
pub mod responses {
    use super::ErrorBody;
    use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};

    /// What an error answer's body is.
    enum Body {
        /// [`ErrorBody`].
        Json,
        /// [`ErrorBody`], or plain text (this example) when a layer before the API answers.
        JsonOrText(&'static str),
    }

    macro_rules! error_responses {
        ($($name:ident, $body:expr, $description:literal;)*) => {
            $(
                #[doc = $description]
                pub struct $name;
                impl<'s> utoipa::ToResponse<'s> for $name {
                    fn response() -> (&'s str, RefOr<Response>) {
                        (stringify!($name), answer($description, $body))
                    }
                }
            )*
            /// Every error answer, by name, for the document's components.
            pub fn all() -> Vec<(&'static str, RefOr<Response>)> {
                vec![$((stringify!($name), <$name as utoipa::ToResponse>::response().1)),*]
            }
        };
    }

    error_responses! {
        Unauthorized, Body::Json, "No session or token, or an unknown or revoked token.";
        Forbidden, Body::JsonOrText("Cross-site request refused: this form must be sent from Promptly's own pages."),
            "Not allowed for the caller's role. (A cookie request that changes state without this site's `Origin` gets 403 with a plain-text body instead.)";
        NotFound, Body::Json, "No such resource.";
        MissingReference, Body::Json, "No such resource, or the body or query refers to a record that does not exist (then `errors` names the field, e.g. `calendar_id`).";
        Conflict, Body::Json, "The change would break a rule (the last active admin, your own account, a calendar or default policy in use).";
        Taken, Body::Json, "A value is already taken (`errors` names the field).";
        Stale, Body::Json, "The list is not the current rules' ids (a rule was added or removed since they were read); nothing moved.";
        TooLarge, Body::Json, "The request body is larger than 1 MiB.";
        Unprocessable, Body::Json, "Invalid fields: each with the path of the field in the body or the query (`body` for a body that is not JSON or not the right shape).";
        Ambiguous, Body::Json, "The id is a conversation id that several integrations use (`error` names them): ask by Promptly's id.";
    }

    fn answer(description: &str, body: Body) -> RefOr<Response> {
        let json = ContentBuilder::new()
            .schema(Some(utoipa::openapi::Ref::from_schema_name(
                <ErrorBody as utoipa::ToSchema>::name(),
            )))
            .build();
        let text = |example: Option<&str>| {
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::schema::Object::with_type(
                    utoipa::openapi::schema::Type::String,
                )))
                .example(example.map(serde_json::Value::from))
                .build()
        };
        let response = ResponseBuilder::new().description(description);
        match body {
            Body::Json => response.content("application/json", json),
            Body::JsonOrText(example) => response
                .content("application/json", json)
                .content("text/plain", text(Some(example))),
        }
        .build()
        .into()
    }
}
