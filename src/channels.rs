//! Channel accounts: a business's WhatsApp number, Facebook page, Instagram account or X
//! account connected straight to Promptly. What each kind needs (its settings, which of
//! them are secrets, the platform's API root) is written here once; the API, the Channels
//! page and the webhooks read it.

use crate::account::FieldError;
use crate::conversation::Channel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod meta_messaging;
pub mod whatsapp;
pub mod x;

/// What a platform's webhook says, as Promptly's events: those to ingest, and what was left
/// out and why (parts for another account, items that cannot be read).
#[derive(Debug, Default)]
pub struct Mapped {
    pub events: Vec<crate::conversation::IncomingEvent>,
    pub skipped: Vec<String>,
    /// What the platform says became of messages the business sent (never events).
    pub receipts: Vec<Receipt>,
    /// What it says of everything the business sent in a conversation until an instant.
    pub watermarks: Vec<Watermark>,
}

/// Everything the business sent in `conversation` until `up_to` reached `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    pub conversation: String,
    pub status: ReceiptStatus,
    pub up_to: chrono::DateTime<chrono::Utc>,
}

/// What a platform says became of a message the business sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptStatus {
    Delivered,
    Read,
    Failed,
}

impl ReceiptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptStatus::Delivered => "delivered",
            ReceiptStatus::Read => "read",
            ReceiptStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ReceiptStatus> {
        [
            ReceiptStatus::Delivered,
            ReceiptStatus::Read,
            ReceiptStatus::Failed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// A delivery or read receipt, or a failure, for the message the platform calls `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: String,
    pub status: ReceiptStatus,
    pub at: chrono::DateTime<chrono::Utc>,
    /// A failure in the platform's words.
    pub error: Option<String>,
    /// The platform's error code (WhatsApp's 131047: outside the 24-hour window).
    pub code: Option<i64>,
}

/// WhatsApp's error for a free-form message more than 24 hours after the customer last
/// wrote: only a template may go.
pub const OUTSIDE_WINDOW: i64 = 131_047;

/// How a message sent through an account is doing, as its conversation's timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendState {
    /// The timeline message's event id.
    pub message_id: String,
    /// `sending`, `sent`, `delivered`, `read` or `failed`.
    pub status: String,
    /// Why it failed, or that a template went instead.
    pub note: Option<String>,
}

/// One message a platform delivered, as its reader read it.
struct PlatformMessage<'a> {
    conversation: &'a str,
    channel: &'a str,
    /// The customer, when the platform names them.
    contact: Option<serde_json::Value>,
    id: &'a str,
    at: chrono::DateTime<chrono::Utc>,
    /// From the customer; else the business wrote it (an echo).
    customer: bool,
    /// In a public thread (comments, mentions); else direct messages.
    public: bool,
    text: String,
}

impl Mapped {
    /// The message as the events the events API takes: the conversation's opening
    /// (its id the conversation's, so only the first one counts) and the message; what
    /// `parse_incoming` refuses is said in `skipped`.
    fn push_message(&mut self, m: PlatformMessage<'_>) {
        use serde_json::json;
        let at = m.at.to_rfc3339();
        let mut opened = json!({
            "id": format!("{}:created", m.conversation), "conversation": m.conversation,
            "at": at, "type": "conversation.created", "channel": m.channel,
            "visibility": if m.public { "public" } else { "direct" },
        });
        if let Some(contact) = m.contact {
            opened["contact"] = contact;
        }
        if m.conversation.ends_with(&format!(":{TEST_SENDER}")) {
            opened["labels"] = json!([TEST_LABEL]);
        }
        let said = json!({
            "id": m.id, "conversation": m.conversation, "at": at, "type": "message.created",
            "author": if m.customer { "customer" } else { "agent" }, "text": m.text,
        });
        for e in [opened, said] {
            match crate::conversation::parse_incoming(&e, "event", m.at) {
                Ok(event) => self.events.push(event),
                Err(errors) => self.skipped.push(format!(
                    "message {}: {}",
                    m.id,
                    errors
                        .iter()
                        .map(|e| format!("{} {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
            }
        }
    }
}

/// What a secret setting reads as wherever settings are shown; sent back unchanged, it
/// keeps the stored secret.
pub const MASK: &str = "********";

/// Longest setting value (Meta's long-lived tokens run to a few hundred characters).
pub const SETTING_LEN: usize = 2_048;

/// A platform Promptly receives webhooks from and sends through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Whatsapp,
    Messenger,
    Instagram,
    X,
}

/// How a setting is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// A platform's numeric id (a phone number id, a page id, a user id).
    NumericId,
    /// Text the platform issued (a token, a secret), or the admin chose (a verify token).
    Text,
    /// A URL of the platform's API (https, or http for a host in the egress allow-list,
    /// which the server checks).
    Url,
    /// A WhatsApp message template's name (lowercase letters, digits and `_`).
    TemplateName,
}

/// One setting of a kind of account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: SettingKind,
    /// Shown as [`MASK`], never sent back.
    pub secret: bool,
    /// Without a default, a required setting must be given.
    pub required: bool,
    pub default: Option<&'static str>,
}

const fn setting(name: &'static str, label: &'static str, kind: SettingKind) -> Setting {
    Setting {
        name,
        label,
        kind,
        secret: false,
        required: true,
        default: None,
    }
}

const fn secret(name: &'static str, label: &'static str) -> Setting {
    Setting {
        secret: true,
        ..setting(name, label, SettingKind::Text)
    }
}

const fn api_base(default: &'static str) -> Setting {
    Setting {
        default: Some(default),
        ..setting("api_base", "API root", SettingKind::Url)
    }
}

const META_GRAPH: &str = "https://graph.facebook.com/v21.0";

const WHATSAPP: &[Setting] = &[
    setting("phone_number_id", "Phone number id", SettingKind::NumericId),
    secret("verify_token", "Verify token"),
    secret("app_secret", "App secret"),
    secret("access_token", "Access token"),
    Setting {
        required: false,
        ..setting(
            "template",
            "Template for messages outside the 24-hour window",
            SettingKind::TemplateName,
        )
    },
    Setting {
        required: false,
        default: Some("en_US"),
        ..setting(
            "template_language",
            "Template's language",
            SettingKind::Text,
        )
    },
    api_base(META_GRAPH),
];

const MESSENGER: &[Setting] = &[
    setting("page_id", "Page id", SettingKind::NumericId),
    secret("verify_token", "Verify token"),
    secret("app_secret", "App secret"),
    secret("page_access_token", "Page access token"),
    api_base(META_GRAPH),
];

const INSTAGRAM: &[Setting] = &[
    setting("account_id", "Instagram account id", SettingKind::NumericId),
    secret("verify_token", "Verify token"),
    secret("app_secret", "App secret"),
    secret("access_token", "Access token"),
    api_base(META_GRAPH),
];

const X: &[Setting] = &[
    setting(
        "user_id",
        "Business account's user id",
        SettingKind::NumericId,
    ),
    secret("consumer_secret", "Consumer secret"),
    secret("access_token", "Access token"),
    api_base("https://api.x.com"),
];

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Whatsapp,
        ChannelKind::Messenger,
        ChannelKind::Instagram,
        ChannelKind::X,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Whatsapp => "whatsapp",
            ChannelKind::Messenger => "messenger",
            ChannelKind::Instagram => "instagram",
            ChannelKind::X => "x",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The conversations' channel.
    pub fn channel(self) -> Channel {
        match self {
            ChannelKind::Whatsapp => Channel::Whatsapp,
            ChannelKind::Messenger => Channel::Messenger,
            ChannelKind::Instagram => Channel::Instagram,
            ChannelKind::X => Channel::Twitter,
        }
    }

    pub fn label(self) -> &'static str {
        self.channel().label()
    }

    /// Its settings, in the order forms show them.
    pub fn settings(self) -> &'static [Setting] {
        match self {
            ChannelKind::Whatsapp => WHATSAPP,
            ChannelKind::Messenger => MESSENGER,
            ChannelKind::Instagram => INSTAGRAM,
            ChannelKind::X => X,
        }
    }
}

impl std::str::FromStr for ChannelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ChannelKind::parse(s.trim()).ok_or_else(|| {
            let names: Vec<&str> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("must be one of: {}", names.join(", "))
        })
    }
}

impl SettingKind {
    /// What the API document says a value is: a subset of what [`validate_settings`] takes
    /// (ASCII where the server takes any printable text).
    fn pattern(self) -> &'static str {
        match self {
            SettingKind::NumericId => r"^\s*[0-9]+\s*$",
            SettingKind::Text => r"^\s*[!-~]+\s*$",
            SettingKind::TemplateName => r"^\s*[a-z0-9_]+\s*$",
            SettingKind::Url => crate::rules::URL_PATTERN,
        }
    }
}

impl ChannelKind {
    /// The body that makes or changes an account of this kind: `kind`, `name` and its
    /// settings, each required one (without a default) required, no others.
    fn body_schema(self) -> utoipa::openapi::schema::Object {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let mut settings = ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::<
                utoipa::openapi::schema::Schema,
            >::FreeForm(false)));
        for s in self.settings() {
            let optional = !s.required || s.default.is_some();
            let types: &[Type] = if optional {
                &[Type::String, Type::Null]
            } else {
                &[Type::String]
            };
            // An optional setting may also be left blank.
            let pattern = if optional {
                format!(r"^\s*$|{}", s.kind.pattern())
            } else {
                s.kind.pattern().to_string()
            };
            let value = ObjectBuilder::new()
                .schema_type(SchemaType::from_iter(types.iter().cloned()))
                .description(Some(s.label))
                .max_length(Some(SETTING_LEN.min(crate::limits::URL_LEN)))
                .pattern(Some(pattern))
                .default(s.default.map(serde_json::Value::from));
            settings = settings.property(s.name, value);
            if !optional {
                settings = settings.required(s.name);
            }
        }
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .title(Some(self.label()))
            .property(
                "kind",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([self.as_str()])),
            )
            .required("kind")
            .property("name", crate::schema::name())
            .required("name")
            .property("settings", settings)
            .required("settings")
            .build()
    }
}

/// The body of `POST /channel-accounts` and `PUT /channel-accounts/{id}`: one of the kinds'
/// (a secret sent as [`MASK`] keeps the stored one).
pub fn account_body_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let mut one_of = utoipa::openapi::schema::OneOfBuilder::new();
    for k in ChannelKind::ALL {
        one_of = one_of.item(k.body_schema());
    }
    one_of.into()
}

/// An account's settings by name.
pub type Settings = BTreeMap<String, String>;

fn check(s: &Setting, value: &str) -> Result<(), String> {
    if value.chars().count() > SETTING_LEN {
        return Err(format!("must be at most {SETTING_LEN} characters"));
    }
    match s.kind {
        SettingKind::NumericId if !value.chars().all(|c| c.is_ascii_digit()) => {
            Err("must be the platform's numeric id (digits only)".into())
        }
        SettingKind::Text if value.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Err("must not contain spaces or control characters".into())
        }
        SettingKind::Url => {
            if crate::rules::validate::is_http_url(value)
                && value.chars().count() <= crate::limits::URL_LEN
            {
                Ok(())
            } else {
                Err("must be an http(s) URL without spaces".into())
            }
        }
        SettingKind::TemplateName
            if !value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
        {
            Err("must be a template name: lowercase letters, digits and _".into())
        }
        _ => Ok(()),
    }
}

/// The settings to store for an account of `kind`, from what was sent (a JSON object) and,
/// when editing, what is stored (a secret sent back as [`MASK`] keeps its stored value).
/// Every problem is a field error on `settings.<name>`; unknown names are refused too.
pub fn validate_settings(
    kind: ChannelKind,
    sent: &serde_json::Value,
    stored: Option<&Settings>,
) -> Result<Settings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(obj) = sent.as_object() else {
        return Err(vec![FieldError::new("settings", "must be an object")]);
    };
    for name in obj.keys() {
        if !kind.settings().iter().any(|s| s.name == name) {
            errors.push(FieldError::new(
                format!("settings.{name}"),
                format!("is not a setting of a {} account", kind.label()),
            ));
        }
    }
    let mut out = Settings::new();
    for s in kind.settings() {
        let field = format!("settings.{}", s.name);
        let value = match obj.get(s.name) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(v)) => Some(crate::schema::trim(v).to_string()),
            Some(_) => {
                errors.push(FieldError::new(field, "must be a string"));
                continue;
            }
        };
        let kept = stored.and_then(|st| st.get(s.name)).cloned();
        let value = match value {
            Some(v) if s.secret && v == MASK => kept,
            Some(v) if v.is_empty() => None,
            v => v,
        };
        let value = value.or_else(|| s.default.map(String::from));
        match value {
            Some(v) => match check(s, &v) {
                Ok(()) => {
                    out.insert(s.name.to_string(), v);
                }
                Err(m) => errors.push(FieldError::new(field, m)),
            },
            None if s.required => errors.push(FieldError::new(field, "is required")),
            None => {}
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// What an account's webhooks have done: when the last one came, how many came, and the
/// last failure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelHealth {
    pub last_webhook_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Webhooks received and stored.
    pub webhooks: i64,
    /// Webhooks refused (bad signature, not the platform's JSON) and sends failed for good.
    pub failures: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An account as the API and the Channels page show it: its settings with the secrets
/// masked, where the platform must send its webhooks, and what they have done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ChannelAccount)]
pub struct AccountView {
    pub id: i64,
    pub kind: ChannelKind,
    pub name: String,
    /// The settings, each secret as `********` (sent back unchanged, it keeps the secret).
    #[schema(value_type = BTreeMap<String, String>)]
    pub settings: Settings,
    /// Absolute when the server knows its public URL (`PROMPTLY_PUBLIC_URL`), else the path.
    pub webhook_url: String,
    pub health: ChannelHealth,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The setting that names the account on its platform (the number, page or user that
/// webhooks are for and sends go from).
impl ChannelKind {
    pub fn account_setting(self) -> &'static str {
        match self {
            ChannelKind::Whatsapp => "phone_number_id",
            ChannelKind::Messenger => "page_id",
            ChannelKind::Instagram => "account_id",
            ChannelKind::X => "user_id",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            ChannelKind::Whatsapp => "wa",
            ChannelKind::Messenger => "fb",
            ChannelKind::Instagram => "ig",
            ChannelKind::X => "x",
        }
    }
}

/// Which thread of an account a conversation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thread {
    /// Direct messages with this person (their id on the platform).
    Direct(String),
    /// The public replies under this root comment (Instagram).
    Comment(String),
    /// The public thread under this root tweet (X).
    Tweet(String),
}

/// Where a conversation an account brought lives on its platform. Its conversation id is
/// written and read here only: `wa:<phone_number_id>:<wa_id>`, `fb:<page_id>:<psid>`,
/// `ig:<account_id>:<igsid>`, `ig:<account_id>:comment:<root comment id>`,
/// `x:<user_id>:dm:<other user id>`, `x:<user_id>:tweet:<root tweet id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub kind: ChannelKind,
    /// The account's own id ([`ChannelKind::account_setting`]).
    pub account: String,
    pub thread: Thread,
}

impl Address {
    pub fn direct(kind: ChannelKind, account: &str, other: &str) -> Address {
        Address {
            kind,
            account: account.to_string(),
            thread: Thread::Direct(other.to_string()),
        }
    }

    /// The conversation id.
    pub fn id(&self) -> String {
        let (p, a) = (self.kind.prefix(), &self.account);
        match (&self.thread, self.kind) {
            (Thread::Direct(o), ChannelKind::X) => format!("{p}:{a}:dm:{o}"),
            (Thread::Direct(o), _) => format!("{p}:{a}:{o}"),
            (Thread::Comment(c), _) => format!("{p}:{a}:comment:{c}"),
            (Thread::Tweet(t), _) => format!("{p}:{a}:tweet:{t}"),
        }
    }

    /// The address of conversation id `id`, when an account of `kind` could have brought it.
    pub fn parse(kind: ChannelKind, id: &str) -> Option<Address> {
        let parts: Vec<&str> = id.split(':').collect();
        if parts.iter().any(|p| p.is_empty()) || parts[0] != kind.prefix() {
            return None;
        }
        let thread = match (kind, &parts[1..]) {
            (ChannelKind::X, [_, "dm", o]) => Thread::Direct(o.to_string()),
            (ChannelKind::X, [_, "tweet", t]) => Thread::Tweet(t.to_string()),
            (ChannelKind::X, _) => return None,
            (ChannelKind::Instagram, [_, "comment", c]) => Thread::Comment(c.to_string()),
            (_, [_, o]) => Thread::Direct(o.to_string()),
            _ => return None,
        };
        Some(Address {
            kind,
            account: parts[1].to_string(),
            thread,
        })
    }
}

/// The customer of an account's test message (the Channels page's "Send a test message"):
/// the platforms' ids of people are never 0.
pub const TEST_SENDER: &str = "0";

/// The label of a test conversation: the queue shows it, compliance leaves it out.
pub const TEST_LABEL: &str = "channel-test";

/// Whether conversation `external_id` with `labels` is a channel account's test: the
/// label, on a conversation with [`TEST_SENDER`] (so a label set through the events API
/// cannot take a real conversation out of compliance).
pub fn is_test(external_id: &str, labels: &[String]) -> bool {
    labels.iter().any(|l| l == TEST_LABEL) && is_test_thread(external_id)
}

/// Whether `external_id` is an account's test conversation (direct messages with
/// [`TEST_SENDER`]): nothing is sent to it.
pub fn is_test_thread(external_id: &str) -> bool {
    ChannelKind::ALL.into_iter().any(|k| {
        Address::parse(k, external_id)
            .is_some_and(|a| a.thread == Thread::Direct(TEST_SENDER.to_string()))
    })
}

/// A webhook of `kind` as the platform would send it for the account with `settings`: one
/// text message from [`TEST_SENDER`] at `at` (its id from `at`, so each test is new).
pub fn test_webhook(
    kind: ChannelKind,
    settings: &Settings,
    at: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    use serde_json::json;
    let get = |name: &str| settings.get(name).cloned().unwrap_or_default();
    let ms = at.timestamp_millis();
    let text = "Hello from Promptly: this test message came through the account's own webhook.";
    let name = "Promptly test";
    match kind {
        ChannelKind::Whatsapp => json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "", "phone_number_id": get("phone_number_id")},
                "contacts": [{"profile": {"name": name}, "wa_id": TEST_SENDER}],
                "messages": [{"from": TEST_SENDER, "id": format!("wamid.promptly-test-{ms}"),
                    "timestamp": at.timestamp().to_string(), "type": "text", "text": {"body": text}}]
            }}]}]
        }),
        ChannelKind::Messenger | ChannelKind::Instagram => {
            let (object, me) = if kind == ChannelKind::Messenger {
                ("page", get("page_id"))
            } else {
                ("instagram", get("account_id"))
            };
            json!({
                "object": object,
                "entry": [{"id": me, "time": ms, "messaging": [{
                    "sender": {"id": TEST_SENDER}, "recipient": {"id": me}, "timestamp": ms,
                    "message": {"mid": format!("m_promptly-test-{ms}"), "text": text}
                }]}]
            })
        }
        ChannelKind::X => {
            let me = get("user_id");
            json!({
                "for_user_id": me,
                "direct_message_events": [{
                    "type": "message_create", "id": format!("{ms}"), "created_timestamp": ms.to_string(),
                    "message_create": {"target": {"recipient_id": me}, "sender_id": TEST_SENDER,
                        "message_data": {"text": text}}
                }],
                "users": {TEST_SENDER: {"id": TEST_SENDER, "name": name, "screen_name": "promptly_test"}}
            })
        }
    }
}

/// The conversation id of the account's test messages ([`test_webhook`]'s).
pub fn test_conversation(kind: ChannelKind, settings: &Settings) -> String {
    let account = settings
        .get(kind.account_setting())
        .cloned()
        .unwrap_or_default();
    Address::direct(kind, &account, TEST_SENDER).id()
}

/// What an admin sets on an account: its name and settings (its kind is fixed when it is
/// made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDefinition {
    pub name: String,
    pub settings: Settings,
}

/// `settings` as shown: secrets as [`MASK`].
pub fn masked(kind: ChannelKind, settings: &Settings) -> Settings {
    settings
        .iter()
        .map(|(name, value)| {
            let secret = kind.settings().iter().any(|s| s.name == name && s.secret);
            let shown = if secret {
                MASK.to_string()
            } else {
                value.clone()
            };
            (name.clone(), shown)
        })
        .collect()
}

/// The id namespace of the conversations that accounts of `kind` bring (`channel:whatsapp`):
/// their ids name the account's number or page (`wa:<phone_number_id>:<wa_id>`), so they
/// stay unique, and an account made again continues them. A token created with this source
/// may add events to them.
pub fn source(kind: ChannelKind) -> String {
    format!("channel:{}", kind.as_str())
}

/// The path of an account's webhook (`/hooks/<kind>/<id>`).
pub fn webhook_path(kind: ChannelKind, id: i64) -> String {
    format!("/hooks/{}/{id}", kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(r: Result<Settings, Vec<FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn settings_are_checked_by_kind_with_their_paths() {
        let ok = validate_settings(
            ChannelKind::Whatsapp,
            &json!({"phone_number_id": " 1234567890 ", "verify_token": "v-1",
                    "app_secret": "s3cret", "access_token": "EAAG"}),
            None,
        )
        .unwrap();
        assert_eq!(ok["phone_number_id"], "1234567890");
        assert_eq!(
            ok["api_base"], "https://graph.facebook.com/v21.0",
            "the default"
        );
        assert!(!ok.contains_key("template"), "optional");
        assert_eq!(
            fields(validate_settings(
                ChannelKind::Whatsapp,
                &json!({"phone_number_id": "12a", "verify_token": "has space",
                        "access_token": "t", "template": "Bad-Name", "page_id": "1"}),
                None,
            )),
            [
                "settings.page_id",
                "settings.phone_number_id",
                "settings.verify_token",
                "settings.app_secret",
                "settings.template"
            ]
        );
        assert_eq!(
            fields(validate_settings(ChannelKind::X, &json!([]), None)),
            ["settings"]
        );
        assert_eq!(
            fields(validate_settings(
                ChannelKind::X,
                &json!({"user_id": "1", "consumer_secret": "c", "access_token": "a",
                        "api_base": "ftp://x"}),
                None,
            )),
            ["settings.api_base"]
        );
    }

    #[test]
    fn secrets_are_masked_and_a_mask_sent_back_keeps_them() {
        let sent = json!({"page_id": "42", "verify_token": "v", "app_secret": "app",
                          "page_access_token": "tok"});
        let stored = validate_settings(ChannelKind::Messenger, &sent, None).unwrap();
        let shown = masked(ChannelKind::Messenger, &stored);
        assert_eq!(shown["app_secret"], MASK);
        assert_eq!(shown["page_id"], "42");
        let mut back = serde_json::to_value(&shown).unwrap();
        back["page_access_token"] = json!("new-token");
        let edited = validate_settings(ChannelKind::Messenger, &back, Some(&stored)).unwrap();
        assert_eq!(edited["app_secret"], "app", "kept");
        assert_eq!(edited["page_access_token"], "new-token", "replaced");
        // A mask without a stored secret is no secret.
        assert_eq!(
            fields(validate_settings(ChannelKind::Messenger, &back, None)),
            ["settings.verify_token", "settings.app_secret"]
        );
    }

    #[test]
    fn kinds_read_their_words_and_name_their_channel() {
        for k in ChannelKind::ALL {
            assert_eq!(k.as_str().parse::<ChannelKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
            assert!(k.settings().iter().any(|s| s.name == "api_base"));
        }
        assert_eq!(ChannelKind::X.channel(), Channel::Twitter);
        assert!("telegram".parse::<ChannelKind>().is_err());
        assert_eq!(webhook_path(ChannelKind::Whatsapp, 7), "/hooks/whatsapp/7");
    }

    #[test]
    fn conversation_ids_name_the_account_and_the_thread_and_read_back() {
        use ChannelKind::*;
        let cases = [
            (Whatsapp, "wa:106:5511", Thread::Direct("5511".into())),
            (Messenger, "fb:42:6712", Thread::Direct("6712".into())),
            (Instagram, "ig:17:1234", Thread::Direct("1234".into())),
            (
                Instagram,
                "ig:17:comment:9001",
                Thread::Comment("9001".into()),
            ),
            (X, "x:4337:dm:3001", Thread::Direct("3001".into())),
            (X, "x:4337:tweet:1866", Thread::Tweet("1866".into())),
        ];
        for (kind, id, thread) in cases {
            let a = Address::parse(kind, id).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(a.thread, thread, "{id}");
            assert_eq!(a.id(), id);
        }
        for (kind, id) in [
            (Whatsapp, "wa::1"),
            (Whatsapp, "wa:1:"),
            (Whatsapp, "fb:1:2"),
            (Whatsapp, "wa:1:2:3"),
            (Messenger, "fb:1:comment:2"),
            (X, "x:1:2"),
            (X, "x:1:like:2"),
            (Instagram, "c1"),
        ] {
            assert_eq!(Address::parse(kind, id), None, "{id}");
        }
    }
}
