//! Users, their roles, and which pages each role may open.

use crate::limits::{DESCRIPTION_LEN, EMAIL_LEN, MIN_PASSWORD_LEN, NAME_LEN, PASSWORD_LEN};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a person does in Promptly; decides the pages and actions open to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Agent,
    Manager,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Agent, Role::Manager];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Manager => "manager",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Agent => "Agent",
            Role::Manager => "Manager",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "agent" => Ok(Role::Agent),
            "manager" => Ok(Role::Manager),
            other => Err(format!(
                "unknown role {other:?}: expected admin, agent or manager"
            )),
        }
    }
}

/// The sections of the app, in navigation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Section {
    Queue,
    Policies,
    Calendars,
    Rules,
    Compliance,
    Users,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Queue,
        Section::Policies,
        Section::Calendars,
        Section::Rules,
        Section::Compliance,
        Section::Users,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Section::Queue => "Queue",
            Section::Policies => "Policies",
            Section::Calendars => "Calendars",
            Section::Rules => "Rules",
            Section::Compliance => "Compliance",
            Section::Users => "Users",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Section::Queue => "/",
            Section::Policies => "/policies",
            Section::Calendars => "/calendars",
            Section::Rules => "/rules",
            Section::Compliance => "/compliance",
            Section::Users => "/admin/users",
        }
    }

    /// Admins configure everything; agents work the queue; managers read compliance and
    /// may watch the queue.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Section::Queue => true,
            Section::Policies | Section::Calendars | Section::Rules | Section::Users => {
                role == Role::Admin
            }
            Section::Compliance => matches!(role, Role::Admin | Role::Manager),
        }
    }

    /// The sections a role sees in the navigation.
    pub fn visible_to(role: Role) -> impl Iterator<Item = Section> {
        Section::ALL.into_iter().filter(move |s| s.allows(role))
    }
}

/// A user as the UI and the API show it (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserView {
    /// Negative for a token (see `/me`).
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
}

/// A field error on a form or an API body: which field, and what is wrong, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The path of the field in the body, e.g. `events[3].channel` or `hours.tue[1]`.
    pub field: String,
    pub message: String,
    /// Why the value is refused; decides the API's status when all errors agree.
    #[serde(skip)]
    pub kind: FieldProblem,
}

/// What kind of refusal a [`FieldError`] is. The API answers 422 for invalid values; 404
/// when every error names a record that does not exist (a calendar's or a policy's id: the
/// request is well formed but refers to nothing, as Stripe answers a missing referenced
/// object); 409 when every error is a value already taken (an e-mail in use).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FieldProblem {
    #[default]
    Invalid,
    Missing,
    Taken,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            kind: FieldProblem::Invalid,
        }
    }

    /// An error on a field that refers to a record that does not exist.
    pub fn missing(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            kind: FieldProblem::Missing,
            ..FieldError::new(field, message)
        }
    }

    /// An error on a field whose value another record already has.
    pub fn taken(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            kind: FieldProblem::Taken,
            ..FieldError::new(field, message)
        }
    }
}

/// What [`validate_email`] accepts: one `@` between non-empty parts, no spaces or control
/// characters (surrounding spaces are trimmed).
pub const EMAIL_PATTERN: &str =
    "^\\s*[^@\\s\\x00-\\x1f\\x7f-\\x9f]+@[^@\\s\\x00-\\x1f\\x7f-\\x9f]+\\s*$";

/// Normalises an e-mail address (trimmed, lowercase) or says what is wrong with it.
pub fn validate_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("E-mail is required.".into());
    }
    if email.chars().count() > EMAIL_LEN {
        return Err(format!("E-mail must be at most {EMAIL_LEN} characters."));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("E-mail must look like name@example.com.".into());
    };
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("E-mail must look like name@example.com.".into());
    }
    Ok(email)
}

/// Checks a new password's length (a login only checks presence and the upper bound).
pub fn validate_new_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n == 0 {
        return Err("Password is required.".into());
    }
    if n < MIN_PASSWORD_LEN {
        return Err(format!(
            "Password must be at least {MIN_PASSWORD_LEN} characters."
        ));
    }
    if n > PASSWORD_LEN {
        return Err(format!(
            "Password must be at most {PASSWORD_LEN} characters."
        ));
    }
    Ok(())
}

/// A required name (a calendar's, a policy's, a token's): trimmed, not empty, at most
/// [`NAME_LEN`] characters.
pub fn validate_name(raw: &str) -> Result<String, String> {
    // The length counts what was sent, as the API's `maxLength` does.
    let name = raw.trim();
    if name.is_empty() || raw.chars().count() > NAME_LEN {
        return Err(format!("Name is required (at most {NAME_LEN} characters)."));
    }
    Ok(name.to_string())
}

/// An optional description: at most [`DESCRIPTION_LEN`] characters.
pub fn validate_description(raw: &str) -> Result<String, String> {
    if raw.chars().count() > DESCRIPTION_LEN {
        return Err(description_error());
    }
    Ok(raw.to_string())
}

/// What is wrong with a description that is too long or not text.
pub fn description_error() -> String {
    format!("must be text of at most {DESCRIPTION_LEN} characters")
}

/// Validates the fields of a new user; every wrong field is reported, not just the first.
pub fn validate_new_user(
    email: &str,
    name: &str,
    role: &str,
    password: &str,
) -> Result<(String, String, Role), Vec<FieldError>> {
    let mut errors = Vec::new();
    let email = validate_email(email).map_err(|m| errors.push(FieldError::new("email", m)));
    let name = name.trim().to_string();
    if name.chars().count() > NAME_LEN {
        errors.push(FieldError::new(
            "name",
            format!("Name must be at most {NAME_LEN} characters."),
        ));
    }
    let role = role
        .parse::<Role>()
        .map_err(|m| errors.push(FieldError::new("role", m)));
    if let Err(m) = validate_new_password(password) {
        errors.push(FieldError::new("password", m));
    }
    match (email, role) {
        (Ok(email), Ok(role)) if errors.is_empty() => Ok((email, name, role)),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_see_only_the_queue() {
        let seen: Vec<_> = Section::visible_to(Role::Agent).collect();
        assert_eq!(seen, vec![Section::Queue]);
        assert!(!Section::Users.allows(Role::Agent));
        assert!(!Section::Users.allows(Role::Manager));
        assert!(Section::Compliance.allows(Role::Manager));
        assert_eq!(Section::visible_to(Role::Admin).count(), 6);
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            validate_email("  Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        assert!(validate_email("").is_err());
        assert!(validate_email("no-at-sign").is_err());
        assert!(validate_email("a@b@c").is_err());
        assert!(validate_email(&format!("{}@x.io", "a".repeat(260))).is_err());
    }

    #[test]
    fn new_user_reports_every_bad_field() {
        let errs = validate_new_user("", "", "boss", "short").unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["email", "role", "password"]);
        let ok = validate_new_user("a@b.io", " Ann ", "Agent", "longenough").unwrap();
        assert_eq!(ok, ("a@b.io".into(), "Ann".into(), Role::Agent));
        assert!(validate_new_user("a@b.io", "", "agent", &"x".repeat(129)).is_err());
    }

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!("MANAGER".parse::<Role>().unwrap(), Role::Manager);
        assert!("root".parse::<Role>().is_err());
    }
}
