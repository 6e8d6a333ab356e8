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

/// What an integration token may do. A token carries a set of scopes; each route of the
/// server names the one a token needs (`server/src/http/access.rs`). `admin` grants every
/// other scope. Browser sessions act by their user's role instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = TokenScope)]
pub enum Scope {
    /// Post conversation events (`POST /api/v1/events`): what a channel needs.
    #[serde(rename = "events:write")]
    EventsWrite,
    /// Read the queue, a conversation and the live stream.
    #[serde(rename = "conversations:read")]
    ConversationsRead,
    /// Reply to and update conversations as an agent would (the conversation forms).
    #[serde(rename = "conversations:write")]
    ConversationsWrite,
    /// Read calendars, policies and the default policy.
    #[serde(rename = "catalog:read")]
    CatalogRead,
    /// Read contracts, their compliance, departments and staffing.
    #[serde(rename = "reports:read")]
    ReportsRead,
    /// Create, change and delete contracts.
    #[serde(rename = "contracts:write")]
    ContractsWrite,
    /// Read `/metrics` (a Prometheus scraper's token).
    #[serde(rename = "metrics:read")]
    MetricsRead,
    /// Everything, as an admin: users, tokens, calendars, policies, rules, deliveries.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::EventsWrite,
        Scope::ConversationsRead,
        Scope::ConversationsWrite,
        Scope::CatalogRead,
        Scope::ReportsRead,
        Scope::ContractsWrite,
        Scope::MetricsRead,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventsWrite => "events:write",
            Scope::ConversationsRead => "conversations:read",
            Scope::ConversationsWrite => "conversations:write",
            Scope::CatalogRead => "catalog:read",
            Scope::ReportsRead => "reports:read",
            Scope::ContractsWrite => "contracts:write",
            Scope::MetricsRead => "metrics:read",
            Scope::Admin => "admin",
        }
    }

    /// What the scope allows, in words (the token form, the CLI's help).
    pub fn describe(self) -> &'static str {
        match self {
            Scope::EventsWrite => "post conversation events",
            Scope::ConversationsRead => "read the queue, conversations and the live stream",
            Scope::ConversationsWrite => "reply to and update conversations",
            Scope::CatalogRead => "read calendars and policies",
            Scope::ReportsRead => "read contracts, compliance and staffing",
            Scope::ContractsWrite => "create, change and delete contracts",
            Scope::MetricsRead => "read the server's metrics (/metrics, for Prometheus)",
            Scope::Admin => "everything an admin may do",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|x| x.as_str()).collect();
                format!("unknown scope {s:?}: expected one of {}", known.join(", "))
            })
    }
}

/// A token's set of scopes. Stored as the scope names separated by spaces (as OAuth writes
/// them), shown in the API as a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// What a token gets when its creator names neither scopes nor a role: posting events,
    /// nothing else (a channel's ingest-only credential).
    pub const DEFAULT: Scopes = Scopes(1 << (Scope::EventsWrite as u8));

    pub fn of(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Scopes(scopes.into_iter().fold(0, |acc, s| acc | s.bit()))
    }

    /// The scopes `--role` stands for: what a user of that role may do through the API.
    pub fn of_role(role: Role) -> Self {
        use Scope::*;
        match role {
            // `admin` grants the rest; the list is what migration 7 gave admins' tokens.
            Role::Admin => Scopes::of(Scope::ALL.into_iter().filter(|s| *s != MetricsRead)),
            Role::Agent => Scopes::of([
                EventsWrite,
                ConversationsRead,
                ConversationsWrite,
                CatalogRead,
            ]),
            Role::Manager => {
                Scopes::of([ConversationsRead, CatalogRead, ReportsRead, ContractsWrite])
            }
        }
    }

    /// Whether a token with these scopes may act with `scope` (`admin` grants all).
    pub fn allow(self, scope: Scope) -> bool {
        self.0 & (scope.bit() | Scope::Admin.bit()) != 0
    }

    /// Whether `scope` itself is in the set (unlike [`Scopes::allow`], `admin` does not
    /// stand for the others here).
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes, in `Scope::ALL` order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |s| self.0 & s.bit() != 0)
    }

    /// The role a token with these scopes shows as (`/me`, the pages' wording): admin with
    /// `admin`, manager with a reporting scope, else agent.
    pub fn role(self) -> Role {
        if self.allow(Scope::Admin) {
            Role::Admin
        } else if self.0 & (Scope::ReportsRead.bit() | Scope::ContractsWrite.bit()) != 0 {
            Role::Manager
        } else {
            Role::Agent
        }
    }

    /// Reads the stored form (names separated by spaces or commas).
    pub fn parse(s: &str) -> Result<Self, String> {
        s.split([' ', ','])
            .filter(|p| !p.trim().is_empty())
            .map(str::parse::<Scope>)
            .collect::<Result<Vec<_>, _>>()
            .map(Scopes::of)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(" "))
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Scopes::of(Vec::<Scope>::deserialize(d)?))
    }
}

/// The sections of the app, in navigation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Section {
    Queue,
    Live,
    Policies,
    Calendars,
    Rules,
    Channels,
    Compliance,
    Users,
    Audit,
}

impl Section {
    pub const ALL: [Section; 9] = [
        Section::Queue,
        Section::Live,
        Section::Policies,
        Section::Calendars,
        Section::Rules,
        Section::Channels,
        Section::Compliance,
        Section::Users,
        Section::Audit,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Section::Queue => "Queue",
            Section::Live => "Live",
            Section::Policies => "Policies",
            Section::Calendars => "Calendars",
            Section::Rules => "Rules",
            Section::Channels => "Channels",
            Section::Compliance => "Compliance",
            Section::Users => "Users",
            Section::Audit => "Audit log",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Section::Queue => "/",
            Section::Live => "/live",
            Section::Policies => "/policies",
            Section::Calendars => "/calendars",
            Section::Rules => "/rules",
            Section::Channels => "/channels",
            Section::Compliance => "/compliance",
            Section::Users => "/admin/users",
            Section::Audit => "/admin/audit",
        }
    }

    /// Admins configure everything; agents work the queue; managers read compliance and
    /// may watch the queue.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Section::Queue => true,
            Section::Policies
            | Section::Calendars
            | Section::Rules
            | Section::Channels
            | Section::Users
            | Section::Audit => role == Role::Admin,
            Section::Compliance | Section::Live => matches!(role, Role::Admin | Role::Manager),
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
    /// Must choose a new password (after a reset, or the first admin's printed one) before
    /// anything else.
    #[serde(default)]
    pub must_change_password: bool,
    /// The teams the user works in: "take next" draws from their unassigned conversations
    /// (from every team's when empty).
    #[serde(default)]
    pub teams: Vec<String>,
    /// The IANA time zone the pages show times in (`PATCH /me`); null: not chosen (the
    /// browser's zone, else UTC). The API's instants are in UTC whatever it is.
    #[serde(default)]
    #[schema(value_type = Option<crate::calendar::Timezone>)]
    pub timezone: Option<String>,
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
    let email = crate::schema::trim(raw).to_lowercase();
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
    let name = crate::schema::trim(raw);
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
    let name = crate::schema::trim(name).to_string();
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
        assert!(Section::Live.allows(Role::Manager));
        assert!(!Section::Live.allows(Role::Agent));
        assert_eq!(Section::visible_to(Role::Admin).count(), 9);
        assert!(!Section::Channels.allows(Role::Manager));
    }

    #[test]
    fn scopes_read_back_as_written_and_admin_grants_all() {
        for role in Role::ALL {
            let scopes = Scopes::of_role(role);
            assert_eq!(Scopes::parse(&scopes.to_string()).unwrap(), scopes);
            assert_eq!(scopes.role(), role, "{role}'s scopes show as {role}");
        }
        assert_eq!(Scopes::DEFAULT.to_string(), "events:write");
        assert!(!Scopes::DEFAULT.allow(Scope::Admin));
        assert!(!Scopes::DEFAULT.allow(Scope::ConversationsRead));
        assert_eq!(Scopes::DEFAULT.role(), Role::Agent);
        let admin = Scopes::of([Scope::Admin]);
        assert!(Scope::ALL.iter().all(|s| admin.allow(*s)));
        assert!(!Scopes::of_role(Role::Agent).allow(Scope::ReportsRead));
        assert!(!Scopes::of_role(Role::Manager).allow(Scope::EventsWrite));
        assert_eq!(
            Scopes::parse("catalog:read, EVENTS:WRITE").unwrap(),
            Scopes::of([Scope::EventsWrite, Scope::CatalogRead])
        );
        assert!(Scopes::parse("events:write sudo")
            .unwrap_err()
            .contains("\"sudo\""));
        let json = serde_json::to_string(&Scopes::of_role(Role::Manager)).unwrap();
        assert_eq!(
            json,
            r#"["conversations:read","catalog:read","reports:read","contracts:write"]"#
        );
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

/// The teams a user works in as entered (a list, or on a form one comma-separated text):
/// trimmed, empty ones dropped, each once (the first spelling), at most
/// [`crate::limits::USER_TEAMS`] of at most [`crate::limits::TEAM_LEN`] characters.
pub fn validate_teams<S: AsRef<str>>(teams: &[S]) -> Result<Vec<String>, String> {
    use crate::limits::{TEAM_LEN, USER_TEAMS};
    let mut out: Vec<String> = Vec::new();
    for t in teams {
        let t = t.as_ref().trim();
        if t.is_empty() || out.iter().any(|o| o == t) {
            continue;
        }
        if t.chars().count() > TEAM_LEN {
            return Err(format!(
                "A team name must be at most {TEAM_LEN} characters."
            ));
        }
        out.push(t.to_string());
    }
    if out.len() > USER_TEAMS {
        return Err(format!("A user works in at most {USER_TEAMS} teams."));
    }
    Ok(out)
}

#[cfg(test)]
mod team_tests {
    use super::validate_teams;

    #[test]
    fn teams_are_trimmed_once_each_and_bounded() {
        assert_eq!(
            validate_teams(&[" Support ", "", "Billing", "Support"]).unwrap(),
            ["Support", "Billing"]
        );
        assert!(validate_teams(&["x".repeat(101)]).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("T{i}")).collect();
        assert!(validate_teams(&many).is_err());
        assert!(validate_teams(&many[..20]).is_ok());
    }
}
