//! Demo mode (`promptly serve --demo`): seeds demo users, a business-hours calendar, SLA
//! policies, rules and contracts, a past quarter of resolved conversations (so compliance
//! trends, the what-if and the wallboard have history), and simulates customer traffic so
//! the queue, its badges and the stream move.
//!
//! Everything is seeded idempotently (looked up by e-mail or name first), so restarting with
//! `--demo` adds nothing twice. The history and the simulator feed the store's ingest.

use crate::catalog::SlaCatalog;
use crate::http::error::ApiError;
use crate::services;
use crate::services::accounts::{create_user, NewUserFields, UserAdminError};
use crate::services::conversations as service;
use crate::state::AppState;
use crate::store::{
    ConversationFilter, ConversationRow, Derived, Deriver, StoreError, StoreResult,
};
use chrono::{DateTime, Duration, Utc};
use promptly::calendar::BusinessCalendar;
use promptly::conversation::{Channel, Contact, EventBody, IncomingEvent, Priority, Visibility};
use promptly::duration::{SlaDuration, Target};
use promptly::{Author, ConversationStatus, Policy};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// The password of the demo users (printed at start; this is a demo).
pub const DEMO_PASSWORD: &str = "demo-password";
/// The agent who answers in the simulated traffic.
pub const AGENT_EMAIL: &str = "agent@demo.promptly";
const USERS: [(&str, &str, &str); 4] = [
    (AGENT_EMAIL, "Dana Agent", "agent"),
    ("ravi@demo.promptly", "Ravi Agent", "agent"),
    ("lotte@demo.promptly", "Lotte Agent", "agent"),
    ("manager@demo.promptly", "Max Manager", "manager"),
];
/// The agents who answered the past quarter's conversations (the simulator's is
/// [`AGENT_EMAIL`]).
const AGENTS: [&str; 3] = [AGENT_EMAIL, "ravi@demo.promptly", "lotte@demo.promptly"];

pub const CALENDAR: &str = "Support hours";
pub const VIP: &str = "VIP";
pub const STANDARD: &str = "Standard";
pub const SOCIAL: &str = "Social mentions";

/// Simulated conversations are `demo-conv-N`, so they can be told from real ones.
const CONVERSATION_PREFIX: &str = "demo-conv-";
/// The demo's conversations are in the default id namespace, as channels' were before
/// namespaces.
const DEMO_SOURCE: &str = promptly::conversation::DEFAULT_SOURCE;
/// Below this many unresolved demo conversations the simulator mostly creates new ones.
const MIN_ACTIVE: usize = 25;
/// At this many it resolves the oldest, so the queue stays readable.
const MAX_ACTIVE: usize = 40;

/// What [`seed`] found or created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// (e-mail, role) of the users created now; empty when they existed.
    pub created_users: Vec<(&'static str, &'static str)>,
    pub calendar_id: i64,
    /// (name, id) of the three demo policies.
    pub policies: Vec<(&'static str, i64)>,
    /// The default policy after seeding.
    pub default_policy: Option<i64>,
}

/// The demo calendar as the API's body.
fn calendar_body() -> serde_json::Value {
    let weekday = ["08:00-20:00"];
    json!({
        "name": CALENDAR,
        "description": "Demo: Amsterdam office hours, closed on public holidays.",
        "timezone": "Europe/Amsterdam",
        "hours": {
            "mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday,
            "sat": ["10:00-16:00"],
        },
        "holidays": ["2026-12-25", "2026-12-26", "2027-01-01", "2027-04-27"],
    })
}

/// The demo policies as (name, uses the calendar, the API's body without `calendar_id`).
fn policy_bodies() -> Vec<(&'static str, bool, serde_json::Value)> {
    vec![
        (
            VIP,
            false,
            json!({"name": VIP, "description": "Demo: urgent and VIP customers, around the clock.",
                   "first_response": "5m", "next_response": "10m", "resolution": "4h",
                   "warning": "25%"}),
        ),
        (
            STANDARD,
            true,
            json!({"name": STANDARD, "description": "Demo: everyone else, counted in support hours.",
                   "first_response": "30m", "next_response": "1h", "resolution": "1d",
                   "business_hours_only": true, "warning": "25%"}),
        ),
        (
            SOCIAL,
            false,
            json!({"name": SOCIAL, "description": "Demo: public posts and mentions, answered fast.",
                   "first_response": "15m", "next_response": "30m", "warning": "5m"}),
        ),
    ]
}

/// Creates whatever of the demo users, calendar, policies, rules, contracts and departments
/// is missing and sets [`STANDARD`] as the default policy unless a default exists. Each goes
/// through the same service as the API, with the API's body, so the demo is validated too.
pub async fn seed(state: &AppState) -> Result<Seeded, String> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let db = |e: StoreError| e.to_string();
    let refused = |what: &str, e: ApiError| match e {
        ApiError::Unprocessable { errors } => {
            let why: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            format!("{what}: {}", why.join("; "))
        }
        e => format!("{what}: {e}"),
    };
    let mut created_users = Vec::new();
    for (email, name, role) in USERS {
        if store.user_by_email(email).await.map_err(db)?.is_some() {
            continue;
        }
        let fields = NewUserFields {
            email: email.into(),
            name: name.into(),
            role: role.into(),
            password: DEMO_PASSWORD.into(),
        };
        match create_user(store, &fields, now).await {
            Ok(_) => created_users.push((email, role)),
            Err(UserAdminError::Fields(errs)) => {
                let why: Vec<String> = errs
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect();
                return Err(format!("the demo user {email}: {}", why.join("; ")));
            }
            Err(e) => return Err(format!("the demo user {email}: {e}")),
        }
    }

    let calendars = store.list_calendars().await.map_err(db)?;
    let calendar_id = match calendars.iter().find(|c| c.name == CALENDAR) {
        Some(c) => c.id,
        None => {
            services::calendars::create(state, calendar_body())
                .await
                .map_err(|e| refused("the demo calendar", e))?
                .id
        }
    };

    let existing = store.list_policies().await.map_err(db)?;
    let mut policies = Vec::new();
    for (name, business_hours, mut body) in policy_bodies() {
        let id = match existing.iter().find(|p| p.name == name) {
            Some(p) => p.id,
            None => {
                body["calendar_id"] = json!(business_hours.then_some(calendar_id));
                services::policies::create(state, body)
                    .await
                    .map_err(|e| refused(&format!("the demo policy {name}"), e))?
                    .id
            }
        };
        policies.push((name, id));
    }

    // Three automation rules, when there are none yet.
    if store.list_rules().await.map_err(db)?.is_empty() {
        let vip = policies.iter().find(|(n, _)| *n == VIP).map(|(_, id)| *id);
        for rule in demo_rules(vip) {
            services::rules::create(state, rule)
                .await
                .map_err(|e| refused("a demo rule", e))?;
        }
    }

    // Two contracts and the departments of the demo's teams, when there are none yet.
    if store.list_contracts().await.map_err(db)?.is_empty() {
        for contract in demo_contracts(now) {
            services::contracts::create(state, contract)
                .await
                .map_err(|e| refused("a demo contract", e))?;
        }
        let teams = json!({"teams": [
            {"team": "Billing", "department": "Finance"},
            {"team": "Shipping", "department": "Operations"},
            {"team": "Tech", "department": "Product"},
        ]});
        services::contracts::set_departments(state, teams)
            .await
            .map_err(|e| refused("the demo departments", e))?;
    }

    let mut default_policy = store.default_policy().await.map_err(db)?;
    if default_policy.is_none() {
        let standard = policies
            .iter()
            .find(|(n, _)| *n == STANDARD)
            .map(|(_, id)| *id);
        default_policy = services::policies::set_default(state, json!({ "policy": standard }))
            .await
            .map_err(|e| refused("the default policy", e))?;
    }
    Ok(Seeded {
        created_users,
        calendar_id,
        policies,
        default_policy,
    })
}

/// The demo's contracts: every conversation against the support promise, and the Billing
/// team's internal agreement with Finance; the review of the first is due within a month.
fn demo_contracts(now: DateTime<Utc>) -> Vec<serde_json::Value> {
    let review = (now + chrono::Duration::days(21)).date_naive().to_string();
    vec![
        json!({
            "name": "Customer support promise", "counterparty_kind": "client",
            "counterparty": "All customers",
            "service_description": "Chat, social and e-mail support in business hours.",
            "our_responsibilities": "Answer every conversation; keep customers informed.",
            "client_responsibilities": "Give order numbers and keep contact details current.",
            "remedy_terms": "A credit per point below target, capped per metric.",
            "incentive_terms": "A bonus per point above target, capped per metric.",
            "termination_terms": "Three months' notice; immediately after two all-hands quarters.",
            "review_date": review,
            "metrics": [
                {"kind": "frt_attainment", "target": 90, "period": "month"},
                {"kind": "service_level", "within_s": 60, "formula": "abandoned_count_missed", "target": 80, "period": "month"},
                {"kind": "asa", "target": 45, "period": "month"},
                {"kind": "abandonment_rate", "short_abandon_s": 10, "target": 5, "period": "month"},
                {"kind": "rt_attainment", "target": 85, "period": "month"},
                {"kind": "csat", "target": 85, "period": "month"},
                {"kind": "nps", "target": 30, "period": "month"}
            ],
            "remedies": {"fee_per_period": 12000, "credit_per_point": 150, "credit_cap": 2000,
                         "bonus_per_point": 50, "bonus_cap": 600, "currency": "EUR"}
        }),
        json!({
            "name": "Billing desk for Finance", "counterparty_kind": "department",
            "counterparty": "Finance", "review_date": (now + chrono::Duration::days(120)).date_naive().to_string(),
            "scope": {"teams": ["Billing"]},
            "metrics": [
                {"kind": "frt_attainment", "target": 95, "period": "week"},
                {"kind": "nrt_attainment", "target": 90, "period": "week"}
            ],
            "remedies": {"currency": "EUR"}
        }),
    ]
}

/// The demo's rules: VIP customers on the VIP policy, a breached first response sends the
/// conversation back to the queue with an apology, half an hour overdue escalates.
fn demo_rules(vip: Option<i64>) -> Vec<serde_json::Value> {
    let mut rules = Vec::new();
    if let Some(vip) = vip {
        rules.push(
            json!({"name": "VIP customers get the VIP policy", "event": "conversation.created",
            "match": "any",
            "conditions": [{"field": "priority", "op": "is", "value": "urgent"},
                           {"field": "labels", "op": "contains", "value": "vip"}],
            "actions": [{"type": "apply_policy", "policy": vip}]}),
        );
    }
    rules.push(json!({"name": "Missed first response: back to the queue", "event": "sla.breached",
        "conditions": [{"field": "sla.metric", "op": "is", "value": "first_response"},
                       {"field": "owner", "op": "is_set"}],
        "actions": [{"type": "remove_owner"},
                    {"type": "send_message",
                     "template": "Sorry for the wait, {{contact.name}}. The next free agent will answer you."}]}));
    rules.push(
        json!({"name": "Half an hour overdue: escalate", "event": "sla.overdue", "after": "30m",
        "actions": [{"type": "set_priority", "priority": "urgent"},
                    {"type": "add_label", "label": "escalated"}]}),
    );
    rules
}

// ---------------------------------------------------------------------------------------
// Generated traffic: pure functions of a random source and an instant.

/// The kind of conversation to create; the backlog asks for each so every policy shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Urgent or labelled "vip": the VIP policy.
    Vip,
    /// A public post on X or Instagram: the social policy.
    Social,
    /// Neither: the default policy.
    Regular,
}

/// The demo policy a new conversation starts on; `None` is the default policy.
///
/// The store has no routing rules (a new conversation gets the default policy), so the demo
/// picks the policy itself when it creates a conversation.
pub fn policy_for(
    visibility: Visibility,
    priority: Priority,
    labels: &[String],
) -> Option<&'static str> {
    if visibility == Visibility::Public {
        Some(SOCIAL)
    } else if priority == Priority::Urgent || labels.iter().any(|l| l == "vip") {
        Some(VIP)
    } else {
        None
    }
}

/// (display name, address-safe form).
const PEOPLE: &[(&str, &str)] = &[
    ("Sanne de Vries", "sanne.devries"),
    ("Lucas Jansen", "lucas.jansen"),
    ("Emma Bakker", "emma.bakker"),
    ("Noah Visser", "noah.visser"),
    ("Mila Smit", "mila.smit"),
    ("Daan Meijer", "daan.meijer"),
    ("Aisha Khan", "aisha.khan"),
    ("Mateo García", "mateo.garcia"),
    ("Chloé Martin", "chloe.martin"),
    ("Jonas Müller", "jonas.mueller"),
    ("Priya Patel", "priya.patel"),
    ("Liam O'Brien", "liam.obrien"),
    ("Yuki Tanaka", "yuki.tanaka"),
    ("Olivia Brown", "olivia.brown"),
    ("Mohammed Ali", "mohammed.ali"),
    ("Sofia Rossi", "sofia.rossi"),
    ("Finn Hansen", "finn.hansen"),
    ("Zoë van Dijk", "zoe.vandijk"),
    ("Ethan Walker", "ethan.walker"),
    ("Inês Pereira", "ines.pereira"),
    ("Bram Peeters", "bram.peeters"),
    ("Fatima Zahra", "fatima.zahra"),
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
];

const TEAMS: &[&str] = &["Billing", "Shipping", "Tech"];

/// A team's first messages; "{order}" becomes an order number.
fn openers(team: &str) -> &'static [&'static str] {
    match team {
        "Billing" => &[
            "card charged twice for order #{order}",
            "Can I get a refund for order #{order}?",
            "My invoice shows the wrong VAT number",
            "Why was I charged again this month?",
            "How do I change the credit card on my account?",
            "The discount code SAVE10 didn't apply at checkout",
        ],
        "Shipping" => &[
            "Where is my order #{order}?",
            "Tracking says delivered but nothing arrived",
            "Can I change the delivery address for order #{order}?",
            "The parcel arrived damaged, what now?",
            "Do you ship to Belgium?",
            "I'd like to return a jacket, it's too small (order #{order})",
        ],
        _ => &[
            "I can't log in, it says my password is wrong",
            "The app crashes when I open my basket",
            "The password reset e-mail never arrives",
            "Checkout shows 'error 500' when I pay",
            "How do I turn on two-factor authentication?",
            "Your website keeps logging me out",
        ],
    }
}

/// Public posts, by team.
fn mentions(team: &str) -> &'static [&'static str] {
    match team {
        "Billing" => &[
            "@promptlyshop charged me twice and nobody answers my e-mails 😤",
            "Still waiting for my refund @promptlyshop, it's been two weeks",
        ],
        "Shipping" => &[
            "@promptlyshop 3 days and order #{order} still hasn't shipped?",
            "Parcel from @promptlyshop arrived crushed. Great packaging 🙃",
            "Any restock of the green hoodie @promptlyshop?",
        ],
        _ => &[
            "Is the @promptlyshop app down for anyone else?",
            "@promptlyshop your checkout is broken on mobile",
        ],
    }
}

/// Follow-ups anyone might send.
const FOLLOW_UPS: &[&str] = &[
    "Any update on this?",
    "Hello? I'm still waiting.",
    "Thanks, but it still doesn't work.",
    "Ok, thank you!",
    "Can someone please call me back?",
];

/// Follow-ups that fit a team's conversations.
fn team_follow_ups(team: &str) -> &'static [&'static str] {
    match team {
        "Billing" => &[
            "Here's my order number: #{order}",
            "I've attached a screenshot of my bank statement.",
        ],
        "Shipping" => &[
            "The tracking number is 3SPRM{order}",
            "I'm not home tomorrow, can it go to a pick-up point?",
        ],
        _ => &[
            "I'm on an iPhone 15, latest app version.",
            "I cleared the cache, same error.",
        ],
    }
}

fn agent_replies(team: &str) -> &'static [&'static str] {
    match team {
        "Billing" => &[
            "Thanks for reaching out! I'm checking your payment now.",
            "I've refunded the double charge; it shows on your statement in 3–5 working days.",
            "Could you send me the last four digits of the card?",
        ],
        "Shipping" => &[
            "Sorry about the wait! Your parcel is with the carrier and arrives tomorrow.",
            "I've asked the warehouse to send a replacement today.",
            "Could you send a photo of the damaged parcel?",
        ],
        _ => &[
            "Thanks! Could you try logging out and in again?",
            "Our engineers fixed a checkout bug this morning; could you try again?",
            "I've sent you a new password reset link.",
        ],
    }
}

const CLOSING: &[&str] = &[
    "Glad I could help! I'll close this for now.",
    "You're welcome, have a great day!",
];
const REOPENING: &[&str] = &[
    "Sorry, the problem is back.",
    "It happened again today.",
    "One more question about this order…",
];

fn fill(rng: &mut impl Rng, text: &str) -> String {
    text.replace("{order}", &rng.gen_range(1000..10000).to_string())
}

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    items.choose(rng).expect("the demo's lists are not empty")
}

/// One of `items`, each as likely as its weight.
fn weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, u32)]) -> T {
    items
        .choose_weighted(rng, |(_, w)| *w)
        .expect("the weights are positive")
        .0
}

/// "demo-" and a random UUID-shaped id, unique enough never to be taken for a duplicate.
pub fn event_id(rng: &mut impl Rng) -> String {
    let n: u128 = rng.gen();
    let h = format!("{n:032x}");
    format!(
        "demo-{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn event(
    rng: &mut impl Rng,
    conversation: &str,
    at: DateTime<Utc>,
    body: EventBody,
) -> IncomingEvent {
    IncomingEvent {
        id: event_id(rng),
        conversation: conversation.into(),
        at,
        body,
    }
}

/// A survey answer of a mostly satisfied customer base: CSAT 1–5, NPS 0–10 or CES 1–7.
fn survey_answer(rng: &mut impl Rng, conversation: &str, at: DateTime<Utc>) -> IncomingEvent {
    let (survey, score) = match rng.gen_range(0..3) {
        0 => (
            promptly::compliance::SurveyKind::Csat,
            *[5, 5, 4, 4, 4, 3, 2, 1].choose(rng).expect("scores"),
        ),
        1 => (
            promptly::compliance::SurveyKind::Nps,
            *[10, 10, 9, 9, 8, 7, 6, 3].choose(rng).expect("scores"),
        ),
        _ => (
            promptly::compliance::SurveyKind::Ces,
            *[1, 2, 2, 3, 3, 4, 5, 6].choose(rng).expect("scores"),
        ),
    };
    event(
        rng,
        conversation,
        at + chrono::Duration::seconds(1),
        EventBody::Survey { survey, score },
    )
}

fn contact(rng: &mut impl Rng, channel: Channel) -> Contact {
    let (name, slug) = *pick(rng, PEOPLE);
    let handle = format!("{}{}", slug.replace('.', "_"), rng.gen_range(1..100));
    let phone = format!(
        "+31 6 {:04} {:04}",
        rng.gen_range(0..10000),
        rng.gen_range(0..10000)
    );
    let email = format!("{slug}@{}", pick(rng, DOMAINS));
    match channel {
        Channel::Twitter | Channel::Instagram => Contact {
            name: rng.gen_bool(0.6).then(|| name.to_string()),
            email: None,
            handle: Some(format!("@{handle}")),
        },
        Channel::Whatsapp | Channel::Sms => Contact {
            name: rng.gen_bool(0.8).then(|| name.to_string()),
            email: None,
            handle: Some(phone),
        },
        Channel::Messenger => Contact {
            name: Some(name.into()),
            email: None,
            handle: Some(handle),
        },
        // Web chat visitors do not always leave a name.
        Channel::Webchat => Contact {
            name: rng.gen_bool(0.7).then(|| name.to_string()),
            email: Some(email),
            handle: None,
        },
        Channel::Email => Contact {
            name: Some(name.into()),
            email: Some(email),
            handle: None,
        },
    }
}

/// A new conversation's events (created and the customer's first message, both at `at`)
/// and the policy it should start on.
pub fn new_conversation(
    rng: &mut impl Rng,
    conversation: &str,
    at: DateTime<Utc>,
    kind: Option<Kind>,
) -> (Vec<IncomingEvent>, Option<&'static str>) {
    const CHANNELS: &[(Channel, u32)] = &[
        (Channel::Whatsapp, 25),
        (Channel::Email, 20),
        (Channel::Webchat, 20),
        (Channel::Messenger, 10),
        (Channel::Instagram, 10),
        (Channel::Twitter, 8),
        (Channel::Sms, 7),
    ];
    let channel = match kind {
        Some(Kind::Social) => *pick(rng, &[Channel::Twitter, Channel::Instagram]),
        _ => weighted(rng, CHANNELS),
    };
    let social = matches!(channel, Channel::Twitter | Channel::Instagram);
    let visibility = match kind {
        Some(Kind::Social) => Visibility::Public,
        None if social && rng.gen_bool(0.5) => Visibility::Public,
        _ => Visibility::Direct,
    };
    let team = *pick(rng, TEAMS);
    let mut labels = vec![pick(
        rng,
        match team {
            "Billing" => &["refund", "invoice", "payment"][..],
            "Shipping" => &["delivery", "return", "damaged"][..],
            _ => &["login", "bug", "app"][..],
        },
    )
    .to_string()];
    let priority = match kind {
        Some(Kind::Vip) if rng.gen_bool(0.5) => Priority::Urgent,
        Some(Kind::Vip) => {
            labels.push("vip".into());
            Priority::High
        }
        Some(Kind::Regular) => *pick(
            rng,
            &[
                Priority::Low,
                Priority::Normal,
                Priority::Normal,
                Priority::High,
            ],
        ),
        _ => {
            if rng.gen_bool(0.1) {
                labels.push("vip".into());
            }
            weighted(
                rng,
                &[
                    (Priority::Low, 15),
                    (Priority::Normal, 55),
                    (Priority::High, 22),
                    (Priority::Urgent, 8),
                ],
            )
        }
    };
    if kind == Some(Kind::Social) || kind == Some(Kind::Regular) {
        // Keep forced kinds on their policy.
        labels.retain(|l| l != "vip");
    }
    let template = if visibility == Visibility::Public {
        *pick(rng, mentions(team))
    } else {
        *pick(rng, openers(team))
    };
    let mut text = fill(rng, template);
    if priority == Priority::Urgent && visibility == Visibility::Direct {
        text = format!("urgent: {text}");
    }
    let policy = policy_for(visibility, priority, &labels);
    let created = EventBody::Created {
        channel,
        visibility,
        contact: contact(rng, channel),
        priority,
        labels,
        team: Some(team.into()),
        bot: false,
    };
    let events = vec![
        event(rng, conversation, at, created),
        customer_message(rng, conversation, at, &text),
    ];
    (events, policy)
}

pub fn customer_message(
    rng: &mut impl Rng,
    conversation: &str,
    at: DateTime<Utc>,
    text: &str,
) -> IncomingEvent {
    let body = EventBody::Message {
        author: Author::Customer,
        private: false,
        text: text.into(),
        agent_email: None,
    };
    event(rng, conversation, at, body)
}

/// A customer's follow-up in a conversation of `team`.
pub fn follow_up(
    rng: &mut impl Rng,
    conversation: &str,
    at: DateTime<Utc>,
    team: &str,
) -> IncomingEvent {
    let texts = if rng.gen_bool(0.5) {
        FOLLOW_UPS
    } else {
        team_follow_ups(team)
    };
    let template = *pick(rng, texts);
    let text = fill(rng, template);
    customer_message(rng, conversation, at, &text)
}

pub fn agent_message(
    rng: &mut impl Rng,
    conversation: &str,
    at: DateTime<Utc>,
    text: &str,
) -> IncomingEvent {
    message_by(rng, conversation, at, text, AGENT_EMAIL)
}

/// A public message of agent `email`.
fn message_by(
    rng: &mut impl Rng,
    conversation: &str,
    at: DateTime<Utc>,
    text: &str,
    email: &str,
) -> IncomingEvent {
    let body = EventBody::Message {
        author: Author::Agent,
        private: false,
        text: text.into(),
        agent_email: Some(email.into()),
    };
    event(rng, conversation, at, body)
}

pub fn agent_reply(
    rng: &mut impl Rng,
    conversation: &str,
    at: DateTime<Utc>,
    team: &str,
) -> IncomingEvent {
    reply_by(rng, conversation, at, team, AGENT_EMAIL)
}

/// A reply of agent `email` in a conversation of `team`.
fn reply_by(
    rng: &mut impl Rng,
    conversation: &str,
    at: DateTime<Utc>,
    team: &str,
    email: &str,
) -> IncomingEvent {
    let text = *pick(rng, agent_replies(team));
    message_by(rng, conversation, at, text, email)
}

pub fn status_change(
    rng: &mut impl Rng,
    conversation: &str,
    at: DateTime<Utc>,
    status: ConversationStatus,
) -> IncomingEvent {
    let body = EventBody::Updated {
        status: Some(status),
        priority: None,
        owner: None,
        team: None,
        labels: None,
    };
    event(rng, conversation, at, body)
}

/// What one simulator step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    CustomerMessage,
    AgentReply,
    Pending,
    Resolve,
    /// Resolves the oldest unresolved demo conversation, to stay under the bound.
    ResolveOldest,
    Reopen,
}

/// The next step, given how many demo conversations are unresolved.
pub fn choose_action(rng: &mut impl Rng, active: usize) -> Action {
    if active >= MAX_ACTIVE {
        return Action::ResolveOldest;
    }
    if active < MIN_ACTIVE && rng.gen_bool(0.6) {
        return Action::Create;
    }
    weighted(
        rng,
        &[
            (Action::Create, 30),
            (Action::CustomerMessage, 20),
            (Action::AgentReply, 25),
            (Action::Pending, 8),
            (Action::Resolve, 10),
            (Action::Reopen, 7),
        ],
    )
}

/// Backlog at start: (minutes ago, kind), chosen so that within a few minutes every badge
/// colour shows: VIP warns at 1m15s left of 5m, social at 5m left of 15m, and the standard
/// policy (business hours) at 7m30s left of 30m.
const BACKLOG: &[(i64, Kind)] = &[
    (1, Kind::Vip),
    (4, Kind::Vip),
    (12, Kind::Vip),
    (7, Kind::Social),
    (12, Kind::Social),
    (25, Kind::Social),
    (3, Kind::Regular),
    (18, Kind::Regular),
    (25, Kind::Regular),
    (40, Kind::Regular),
];

// ---------------------------------------------------------------------------------------
// The simulator: store look-ups and ingest.

/// Starts new conversations on a chosen policy version instead of the default one.
struct StartOn<'a> {
    catalog: &'a SlaCatalog,
    policy: Option<(i64, i64)>,
}

impl Deriver for StartOn<'_> {
    fn initial_policy(&self) -> Option<(i64, i64)> {
        self.policy.or_else(|| self.catalog.initial_policy())
    }

    fn derive(&self, policy: Option<(i64, i64)>, events: &[IncomingEvent]) -> Option<Derived> {
        self.catalog.derive(policy, events)
    }

    fn wants_rules(&self, event: &IncomingEvent) -> bool {
        self.catalog.wants_rules(event)
    }
}

fn conversation_number(external_id: &str) -> Option<u64> {
    external_id.strip_prefix(CONVERSATION_PREFIX)?.parse().ok()
}

/// Simulated traffic on a live server: each [`Simulator::step`] does one thing a customer
/// or an agent would do.
pub struct Simulator {
    state: AppState,
    rng: StdRng,
    next_number: Option<u64>,
}

impl Simulator {
    pub fn new(state: AppState, rng: StdRng) -> Self {
        Simulator {
            state,
            rng,
            next_number: None,
        }
    }

    async fn demo_conversations(&self, statuses: &[&str]) -> StoreResult<Vec<ConversationRow>> {
        let filter = ConversationFilter {
            statuses: statuses.iter().map(|s| s.to_string()).collect(),
            limit: 10_000,
            ..ConversationFilter::default()
        };
        let mut rows = self.state.store.list_conversations(&filter).await?;
        rows.retain(|r| r.external_id.starts_with(CONVERSATION_PREFIX));
        Ok(rows)
    }

    /// Demo conversations not resolved.
    pub async fn active(&self) -> StoreResult<Vec<ConversationRow>> {
        self.demo_conversations(&["open", "pending", "snoozed"])
            .await
    }

    /// The next free `demo-conv-N`, continuing after the ones a previous run made.
    async fn next_conversation(&mut self) -> StoreResult<String> {
        let mut n = match self.next_number {
            Some(n) => n,
            None => {
                let all = self.demo_conversations(&[]).await?;
                all.iter()
                    .filter_map(|r| conversation_number(&r.external_id))
                    .max()
                    .unwrap_or(0)
                    + 1
            }
        };
        // The listing is capped, so make sure the number is really free.
        loop {
            let id = format!("{CONVERSATION_PREFIX}{n}");
            n += 1;
            if self
                .state
                .store
                .conversation_by_external_id(DEMO_SOURCE, &id)
                .await?
                .is_none()
            {
                self.next_number = Some(n);
                return Ok(id);
            }
        }
    }

    /// Ingests a new conversation's events, its first event on the chosen policy.
    async fn ingest_new(
        &self,
        events: &[IncomingEvent],
        policy: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let store = self.state.store.as_ref();
        let key = match policy {
            Some(name) => store
                .list_policies()
                .await?
                .into_iter()
                .find(|p| p.name == name)
                .map(|p| (p.id, p.version)),
            None => None,
        };
        let catalog = SlaCatalog::load(store, now).await?;
        let (first, rest) = events.split_at(1.min(events.len()));
        let report = store
            .ingest_batch(
                DEMO_SOURCE,
                first,
                &StartOn {
                    catalog: &catalog,
                    policy: key,
                },
                now,
            )
            .await?;
        self.state.worker.note(
            report.touched.iter().map(|t| (t.row.id, t.row.next_sla_at)),
            report.queued > 0,
        );
        // The rest goes through the service, which also tells the browsers.
        service::ingest(&self.state, DEMO_SOURCE, rest).await?;
        Ok(())
    }

    async fn create(&mut self, at: DateTime<Utc>, kind: Option<Kind>) -> StoreResult<String> {
        let id = self.next_conversation().await?;
        let (events, policy) = new_conversation(&mut self.rng, &id, at, kind);
        self.ingest_new(&events, policy, self.state.clock.now())
            .await?;
        Ok(id)
    }

    /// Creates the backlog (conversations from the last 40 minutes) unless a recent one
    /// is still unresolved, so that a quick restart does not add a second backlog.
    /// Returns how many conversations it created.
    pub async fn backlog(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        let recent = self
            .active()
            .await?
            .iter()
            .any(|r| r.summary.created_at > now - Duration::hours(1));
        if recent {
            return Ok(0);
        }
        for &(minutes, kind) in BACKLOG {
            let at = now - Duration::minutes(minutes);
            let id = self.create(at, Some(kind)).await?;
            // Some older standard ones already had an answer and a new question (next
            // response); VIP and social ones stay unanswered so their badges turn red.
            if kind == Kind::Regular && minutes >= 18 && self.rng.gen_bool(0.5) {
                let team = self.team_of(&id).await?;
                let answered = at + Duration::minutes(2);
                let asked = now - Duration::minutes(self.rng.gen_range(1..=minutes / 2));
                let events = vec![
                    agent_reply(&mut self.rng, &id, answered, &team),
                    follow_up(&mut self.rng, &id, asked, &team),
                ];
                service::ingest(&self.state, DEMO_SOURCE, &events).await?;
            }
        }
        Ok(BACKLOG.len())
    }

    async fn team_of(&self, external_id: &str) -> StoreResult<String> {
        Ok(self
            .state
            .store
            .conversation_by_external_id(DEMO_SOURCE, external_id)
            .await?
            .and_then(|r| r.summary.team)
            .unwrap_or_else(|| "Tech".into()))
    }

    /// Does one thing a customer or agent would do, at `now`; returns what it did (`None`
    /// when there was nothing to do).
    pub async fn step(&mut self, now: DateTime<Utc>) -> StoreResult<Option<Action>> {
        let active = self.active().await?;
        let mut action = choose_action(&mut self.rng, active.len());
        let open = |r: &&ConversationRow| r.summary.status == ConversationStatus::Open;
        let last = |r: &&ConversationRow, a: Author| r.summary.last_author == Some(a);
        let candidates: Vec<&ConversationRow> = match action {
            Action::Create | Action::Reopen => Vec::new(),
            Action::CustomerMessage => {
                let waiting: Vec<_> = active.iter().filter(|r| last(r, Author::Agent)).collect();
                if waiting.is_empty() || self.rng.gen_bool(0.3) {
                    active.iter().collect()
                } else {
                    waiting
                }
            }
            Action::AgentReply => {
                let asked: Vec<_> = active
                    .iter()
                    .filter(open)
                    .filter(|r| last(r, Author::Customer))
                    .collect();
                if asked.is_empty() {
                    active.iter().filter(open).collect()
                } else {
                    asked
                }
            }
            Action::Pending => active
                .iter()
                .filter(open)
                .filter(|r| last(r, Author::Agent))
                .collect(),
            Action::Resolve => {
                let answered: Vec<_> = active.iter().filter(|r| last(r, Author::Agent)).collect();
                if answered.is_empty() {
                    active.iter().collect()
                } else {
                    answered
                }
            }
            Action::ResolveOldest => active
                .iter()
                .min_by_key(|r| r.summary.created_at)
                .into_iter()
                .collect(),
        };
        let needs_target = !matches!(action, Action::Create | Action::Reopen);
        if needs_target && candidates.is_empty() {
            if active.len() >= MAX_ACTIVE {
                return Ok(None);
            }
            action = Action::Create;
        }
        let target = candidates.choose(&mut self.rng).copied();
        let rng = &mut self.rng;
        let events = match (action, target) {
            (Action::Create, _) => {
                self.create(now, None).await?;
                return Ok(Some(Action::Create));
            }
            (Action::Reopen, _) => {
                let resolved = self.demo_conversations(&["resolved"]).await?;
                let Some(r) = resolved.choose(&mut self.rng) else {
                    return Ok(None);
                };
                let rng = &mut self.rng;
                let id = r.external_id.as_str();
                if rng.gen_bool(0.5) {
                    let text = *pick(rng, REOPENING);
                    vec![customer_message(rng, id, now, text)]
                } else {
                    vec![status_change(rng, id, now, ConversationStatus::Open)]
                }
            }
            (_, None) => return Ok(None),
            (Action::CustomerMessage, Some(r)) => {
                let team = r.summary.team.as_deref().unwrap_or("Tech");
                vec![follow_up(rng, &r.external_id, now, team)]
            }
            (Action::AgentReply, Some(r)) => {
                let team = r.summary.team.as_deref().unwrap_or("Tech");
                vec![agent_reply(rng, &r.external_id, now, team)]
            }
            (Action::Pending, Some(r)) => {
                vec![status_change(
                    rng,
                    &r.external_id,
                    now,
                    ConversationStatus::Pending,
                )]
            }
            (Action::Resolve | Action::ResolveOldest, Some(r)) => {
                let closing = *pick(rng, CLOSING);
                let mut events = vec![
                    agent_message(rng, &r.external_id, now, closing),
                    status_change(rng, &r.external_id, now, ConversationStatus::Resolved),
                ];
                // Some customers answer the satisfaction survey sent on resolution.
                if rng.gen_bool(0.4) {
                    events.push(survey_answer(rng, &r.external_id, now));
                }
                events
            }
        };
        service::ingest(&self.state, DEMO_SOURCE, &events).await?;
        Ok(Some(action))
    }
}

/// Starts the traffic simulator on the server's runtime: a backlog at once, then one step
/// every 2 to 6 seconds. It runs until the runtime stops; failures are logged, not fatal.
pub fn spawn_simulator(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sim = Simulator::new(state, StdRng::from_entropy());
        match sim.backlog(sim.state.clock.now()).await {
            Ok(n) => tracing::info!(created = n, "demo traffic: backlog ready"),
            Err(e) => tracing::warn!(error = %e, "demo traffic: creating the backlog failed"),
        }
        loop {
            let pause = sim.rng.gen_range(2_000..=6_000);
            let clock = sim.state.clock.clone();
            clock.sleep(Duration::milliseconds(pause)).await;
            match sim.step(clock.now()).await {
                Ok(action) => tracing::debug!(?action, "demo traffic"),
                Err(e) => tracing::warn!(error = %e, "demo traffic: a step failed"),
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// The past quarter: conversations of the last 90 days, every one done, so that compliance
// trends, the what-if and the wallboard have history to show on first start.

/// Past conversations are `demo-past-N`: the simulator, which works on `demo-conv-N`, never
/// answers or reopens them.
const PAST_PREFIX: &str = "demo-past-";
/// How many days back the history starts.
pub const HISTORY_DAYS: i64 = 90;
/// The history ends this long before now (the simulator's backlog covers the last 40
/// minutes); a conversation that would still go on then is left out.
const HISTORY_GAP: Duration = Duration::minutes(45);
/// New conversations an open hour of the demo calendar, drawn per day (about 60 to 120 on
/// a weekday of twelve open hours); a few more arrive while it is closed.
pub const PER_OPEN_HOUR: std::ops::Range<f64> = 5.0..10.0;
/// Conversations per ingest transaction.
const HISTORY_BATCH: usize = 150;
/// The history is the same on every first start (relative to that start).
const HISTORY_SEED: u64 = 2026;

/// What [`seed_history`] created (all zero when the history existed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub conversations: usize,
    pub events: usize,
    /// Conversations with a survey answer.
    pub surveys: usize,
    /// Conversations the customer left before any answer.
    pub abandoned: usize,
}

/// The targets the agents of the past aim at on a conversation's policy, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aims {
    pub first: i64,
    pub next: i64,
}

impl Aims {
    fn of(policy: &Policy) -> Aims {
        let secs = |t: Option<Target>, or: i64| match t {
            Some(Target::Counted(d)) => d.as_secs().max(60),
            _ => or,
        };
        Aims {
            first: secs(policy.first_response, 1800),
            next: secs(policy.next_response, 3600),
        }
    }
}

/// Open seconds until an agent answers, against a target of `target` seconds, in a week of
/// `form` (0 a bad week, 1 a good one): most within a minute, the rest within the target
/// (some in its warning period), a few past it.
fn answer_delay(rng: &mut impl Rng, target: i64, form: f64) -> i64 {
    let fast = 0.55 + 0.35 * form;
    let missed = 0.03 + 0.07 * (1.0 - form);
    let u: f64 = rng.gen();
    if u < fast {
        rng.gen_range(10..=60)
    } else if u < 1.0 - missed {
        rng.gen_range(61..=target.max(61))
    } else {
        rng.gen_range(target + 1..=target * 3)
    }
}

/// A past conversation from its start at `at` to its end, and the demo policy it starts on.
/// Agents work in `calendar`'s open hours: what arrives while it is closed waits for the
/// next opening (a breach on the round-the-clock policies). Some customers leave before
/// anyone answers (the chat then closes itself), more while it is closed; the others get a
/// first response, maybe a few more rounds, maybe a wait on them (pending), a resolution,
/// and some answer a survey.
pub fn past_conversation(
    rng: &mut impl Rng,
    conversation: &str,
    at: DateTime<Utc>,
    calendar: &BusinessCalendar,
    aims: impl Fn(Option<&str>) -> Aims,
    form: f64,
) -> (Vec<IncomingEvent>, Option<&'static str>) {
    let (mut events, policy) = new_conversation(rng, conversation, at, None);
    let team = match &events[0].body {
        EventBody::Created { team: Some(t), .. } => t.clone(),
        _ => "Tech".to_string(),
    };
    let aims = aims(policy);
    let work = |from: DateTime<Utc>, secs: i64| {
        SlaDuration::from_secs(secs.max(1))
            .and_then(|d| calendar.add_open_time(from, d))
            .unwrap_or(from + Duration::seconds(secs))
    };
    // Some customers leave before anyone answers, more of them while nobody is there.
    let leaves = if calendar.is_open_at(at) { 0.05 } else { 0.2 };
    if rng.gen_bool(leaves) {
        // A fifth of them leave within ten seconds: short abandons, which some service
        // levels do not count.
        let waited = if rng.gen_bool(0.2) {
            rng.gen_range(3..=10)
        } else {
            rng.gen_range(20..=900)
        };
        let left = at + Duration::seconds(waited);
        events.push(event(rng, conversation, left, EventBody::Left));
        let closed = left + Duration::minutes(rng.gen_range(1..=5));
        events.push(status_change(
            rng,
            conversation,
            closed,
            ConversationStatus::Resolved,
        ));
        return (events, policy);
    }
    let agent = *pick(rng, &AGENTS);
    let mut last = work(at, answer_delay(rng, aims.first, form));
    events.push(reply_by(rng, conversation, last, &team, agent));
    for _ in 0..weighted(rng, &[(0, 50), (1, 35), (2, 15)]) {
        let asked = last + Duration::seconds(rng.gen_range(60..=3 * 3600));
        events.push(follow_up(rng, conversation, asked, &team));
        last = work(asked, answer_delay(rng, aims.next, form));
        events.push(reply_by(rng, conversation, last, &team, agent));
    }
    if rng.gen_bool(0.15) {
        // Waiting on the customer for a while: the resolution clock pauses.
        last += Duration::seconds(30);
        events.push(status_change(
            rng,
            conversation,
            last,
            ConversationStatus::Pending,
        ));
        last += Duration::hours(rng.gen_range(2..=30));
    }
    let resolved = work(last, rng.gen_range(120..=2 * 3600));
    let closing = *pick(rng, CLOSING);
    events.push(message_by(rng, conversation, resolved, closing, agent));
    events.push(status_change(
        rng,
        conversation,
        resolved,
        ConversationStatus::Resolved,
    ));
    if rng.gen_bool(0.35) {
        events.push(survey_answer(rng, conversation, resolved));
    }
    (events, policy)
}

/// When the past conversations start, in `[from, to)`, oldest first, each with its week's
/// form (improving over the quarter, so the trends move). Per local day of `calendar` a
/// rate from `per_open_hour`: that many an open hour, and a few while it is closed (early,
/// late, Sundays and holidays).
fn past_starts(
    rng: &mut impl Rng,
    calendar: &BusinessCalendar,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    per_open_hour: std::ops::Range<f64>,
) -> Vec<(DateTime<Utc>, f64)> {
    use chrono::{Datelike, TimeZone};
    let tz = calendar.time_zone();
    let midnight = |d: chrono::NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let first = from.with_timezone(&tz).date_naive();
    let last = to.with_timezone(&tz).date_naive();
    let weeks = ((last - first).num_days() as f64 / 7.0).max(1.0);
    let mut out = Vec::new();
    let mut form = 0.0;
    for (i, day) in first.iter_days().take_while(|d| *d <= last).enumerate() {
        let (Some(start), Some(end)) = (midnight(day), midnight(day + Duration::days(1))) else {
            continue;
        };
        if i == 0 || day.weekday() == chrono::Weekday::Mon {
            let progress = (day - first).num_days() as f64 / 7.0 / weeks;
            form = (0.3 + 0.5 * progress + rng.gen_range(-0.2..0.2)).clamp(0.0, 1.0);
        }
        let rate = rng.gen_range(per_open_hour.clone());
        let open_hours = calendar.open_time_between(start, end) as f64 / 3600.0;
        let open_n = (open_hours * rate).round() as usize;
        let closed_n = (rate * rng.gen_range(0.4..1.2)).round() as usize;
        let length = (end - start).num_seconds();
        // Drawn until open (or closed, from 07:00 to 23:00), a bounded number of times.
        let mut draw = |open: bool, lo: i64, hi: i64| {
            (0..200)
                .map(|_| start + Duration::seconds(rng.gen_range(lo..hi)))
                .find(|t| calendar.is_open_at(*t) == open)
        };
        let mut day_starts = Vec::new();
        if open_hours > 0.0 {
            day_starts.extend((0..open_n).filter_map(|_| draw(true, 0, length)));
        }
        day_starts.extend((0..closed_n).filter_map(|_| draw(false, 7 * 3600, 23 * 3600)));
        day_starts.retain(|t| (from..to).contains(t));
        day_starts.sort();
        out.extend(day_starts.into_iter().map(|t| (t, form)));
    }
    out
}

/// Derives past conversations as the ingest does, on a chosen policy ([`StartOn`]), but as
/// history: no rule hears of their events (the default of [`Deriver::wants_rules`]), and
/// their warnings and breaches, long gone, are not scheduled: the automation worker would
/// otherwise fire them all at once, marked late, with notifications, apologies and
/// escalations on conversations resolved weeks ago. (A finished clock keeps its breach
/// instant, see `promptly::automation::sla_instants`; only instants after now stay.)
struct Past<'a>(StartOn<'a>);

impl Deriver for Past<'_> {
    fn initial_policy(&self) -> Option<(i64, i64)> {
        self.0.initial_policy()
    }

    fn derive(&self, policy: Option<(i64, i64)>, events: &[IncomingEvent]) -> Option<Derived> {
        let mut derived = self.0.derive(policy, events)?;
        let now = self.0.catalog.now();
        derived.sla_instants.retain(|t| *t > now);
        Some(derived)
    }
}

/// Adds the past quarter ([`HISTORY_DAYS`] up to shortly before now) of conversations on
/// the demo's calendar, policies, channels, teams and agents, unless it exists (its first
/// conversation, ingested last, is there). Call after [`seed`]. The conversations go
/// through the store's ingest with the server's SLA catalog, in transactions of
/// [`HISTORY_BATCH`] conversations of one policy; every one is resolved before now.
pub async fn seed_history(
    state: &AppState,
    per_open_hour: std::ops::Range<f64>,
) -> Result<History, String> {
    let store = state.store.as_ref();
    let db = |e: StoreError| e.to_string();
    let now = state.clock.now();
    let marker = format!("{PAST_PREFIX}1");
    if store
        .conversation_by_external_id(DEMO_SOURCE, &marker)
        .await
        .map_err(db)?
        .is_some()
    {
        return Ok(History::default());
    }
    let catalog = SlaCatalog::load(store, now).await.map_err(db)?;
    let calendar_id = store
        .list_calendars()
        .await
        .map_err(db)?
        .into_iter()
        .find(|c| c.name == CALENDAR)
        .map(|c| c.id)
        .ok_or("the demo calendar is missing: seed first")?;
    let calendar = catalog
        .calendar(calendar_id)
        .ok_or("the demo calendar does not compile")?;
    let policies = store.list_policies().await.map_err(db)?;
    let default = store.default_policy().await.map_err(db)?;
    let record = |name: Option<&str>| {
        policies.iter().find(|p| match name {
            Some(n) => p.name == n,
            None => Some(p.id) == default,
        })
    };
    let aims = |name: Option<&str>| {
        record(name).map_or(
            Aims {
                first: 1800,
                next: 3600,
            },
            |p| Aims::of(&p.policy),
        )
    };
    let key = |name: Option<&str>| {
        name.and_then(|n| policies.iter().find(|p| p.name == n))
            .map(|p| (p.id, p.version))
    };

    let mut rng = StdRng::seed_from_u64(HISTORY_SEED);
    let end = now - HISTORY_GAP;
    let starts = past_starts(
        &mut rng,
        calendar,
        now - Duration::days(HISTORY_DAYS),
        end,
        per_open_hour,
    );
    let mut history = History::default();
    let mut batches: Vec<(Option<&'static str>, usize, Vec<IncomingEvent>)> = Vec::new();
    let mut first: Option<(Option<&'static str>, Vec<IncomingEvent>)> = None;
    let ingest = |policy: Option<&str>, events: Vec<IncomingEvent>| {
        let deriver = Past(StartOn {
            catalog: &catalog,
            policy: key(policy),
        });
        async move {
            let report = store
                .ingest_batch(DEMO_SOURCE, &events, &deriver, now)
                .await
                .map_err(db)?;
            state
                .compliance
                .bump_months(report.touched.iter().map(|t| service::month_of(&t.row)));
            state.worker.note(
                report.touched.iter().map(|t| (t.row.id, t.row.next_sla_at)),
                false,
            );
            Ok::<_, String>(())
        }
    };
    for (at, form) in starts {
        let id = format!("{PAST_PREFIX}{}", history.conversations + 1);
        let (events, policy) = past_conversation(&mut rng, &id, at, calendar, aims, form);
        if events.iter().any(|e| e.at >= end) {
            continue;
        }
        history.conversations += 1;
        history.events += events.len();
        let has = |f: fn(&EventBody) -> bool| events.iter().any(|e| f(&e.body));
        history.surveys += usize::from(has(|b| matches!(b, EventBody::Survey { .. })));
        history.abandoned += usize::from(has(|b| matches!(b, EventBody::Left)));
        if first.is_none() {
            // The marker goes last: when it exists, the whole history does.
            first = Some((policy, events));
            continue;
        }
        let i = match batches.iter().position(|(p, _, _)| *p == policy) {
            Some(i) => i,
            None => {
                batches.push((policy, 0, Vec::new()));
                batches.len() - 1
            }
        };
        let batch = &mut batches[i];
        batch.1 += 1;
        batch.2.extend(events);
        if batch.1 == HISTORY_BATCH {
            let events = std::mem::take(&mut batch.2);
            batch.1 = 0;
            ingest(policy, events).await?;
        }
    }
    for (policy, _, events) in batches {
        if !events.is_empty() {
            ingest(policy, events).await?;
        }
    }
    if let Some((policy, events)) = first {
        ingest(policy, events).await?;
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PolicyInput;
    use promptly::Policy;

    /// A state on this store whose clock stands at [`now`].
    fn test_state(store: &crate::store::DynStore) -> AppState {
        AppState::new(store.clone(), false).with_clock(crate::clock::TestClock::starting_at(now()))
    }
    use crate::store::{self, DatabaseUrl, DynStore};
    use promptly::conversation::parse_incoming;

    async fn sqlite(dir: &tempfile::TempDir) -> DynStore {
        let url = format!("sqlite://{}", dir.path().join("demo.db").display());
        store::open(&DatabaseUrl::parse(&url).unwrap())
            .await
            .unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-24T10:00:00.250Z".parse().unwrap()
    }

    /// Every generated event is one the events API accepts, unchanged.
    #[test]
    fn generated_events_pass_the_ingest_validation() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut events = Vec::new();
        for i in 0..300 {
            let kind = [
                None,
                Some(Kind::Vip),
                Some(Kind::Social),
                Some(Kind::Regular),
            ][i % 4];
            let id = format!("demo-conv-{i}");
            events.extend(new_conversation(&mut rng, &id, now(), kind).0);
            for team in TEAMS {
                events.push(follow_up(&mut rng, &id, now(), team));
                events.push(agent_reply(&mut rng, &id, now(), team));
            }
            for status in [ConversationStatus::Pending, ConversationStatus::Resolved] {
                events.push(status_change(&mut rng, &id, now(), status));
            }
        }
        let mut definition = calendar_body();
        let fields = definition.as_object_mut().unwrap();
        fields.remove("name");
        fields.remove("description");
        let calendar = BusinessCalendar::new(serde_json::from_value(definition).unwrap()).unwrap();
        let aims = |_: Option<&str>| Aims {
            first: 300,
            next: 600,
        };
        for i in 0..300 {
            let at = now() - Duration::minutes(37 * i);
            let id = format!("demo-past-{i}");
            let (past, _) = past_conversation(&mut rng, &id, at, &calendar, aims, i as f64 / 300.0);
            assert!(past.iter().all(|e| e.at >= at), "nothing before its start");
            events.extend(past);
        }
        for e in &events {
            let json = serde_json::to_value(e).unwrap();
            let parsed = parse_incoming(&json, "e", Utc::now())
                .unwrap_or_else(|errs| panic!("{json}: {errs:?}"));
            assert_eq!(&parsed, e);
        }
        let mut ids: Vec<_> = events.iter().map(|e| &e.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), events.len(), "event ids are unique");
    }

    #[test]
    fn forced_kinds_start_on_their_policy() {
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..200 {
            for (kind, policy) in [
                (Kind::Vip, Some(VIP)),
                (Kind::Social, Some(SOCIAL)),
                (Kind::Regular, None),
            ] {
                let (events, p) = new_conversation(&mut rng, "c", now(), Some(kind));
                assert_eq!(p, policy, "{kind:?}");
                let EventBody::Created {
                    visibility,
                    priority,
                    labels,
                    ..
                } = &events[0].body
                else {
                    panic!("the first event creates the conversation");
                };
                assert_eq!(policy_for(*visibility, *priority, labels), p);
            }
        }
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..100 {
            assert_eq!(choose_action(&mut rng, MAX_ACTIVE), Action::ResolveOldest);
            assert_ne!(choose_action(&mut rng, 0), Action::ResolveOldest);
        }
    }

    #[tokio::test]
    async fn seeding_twice_creates_everything_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(&dir).await;
        let state = test_state(&store);
        let first = seed(&state).await.unwrap();
        assert_eq!(first.created_users.len(), USERS.len());
        let second = seed(&state).await.unwrap();
        assert!(second.created_users.is_empty());
        assert_eq!(first.calendar_id, second.calendar_id);
        assert_eq!(first.policies, second.policies);
        assert_eq!(store.list_users().await.unwrap().len(), USERS.len());
        assert_eq!(store.list_calendars().await.unwrap().len(), 1);
        let policies = store.list_policies().await.unwrap();
        assert_eq!(policies.len(), 3);
        let standard = policies.iter().find(|p| p.name == STANDARD).unwrap();
        assert_eq!(standard.calendar_id, Some(first.calendar_id));
        assert!(standard.policy.business_hours_only);
        assert_eq!(store.default_policy().await.unwrap(), Some(standard.id));
        assert_eq!(second.default_policy, Some(standard.id));
        let rules = store.list_rules().await.unwrap();
        let names: Vec<&str> = rules.iter().map(|r| r.definition.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "VIP customers get the VIP policy",
                "Missed first response: back to the queue",
                "Half an hour overdue: escalate"
            ],
            "three rules, once"
        );
    }

    #[tokio::test]
    async fn an_existing_default_policy_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(&dir).await;
        let mine = store
            .create_policy(
                &PolicyInput {
                    name: "Mine".into(),
                    description: String::new(),
                    calendar_id: None,
                    policy: Policy::default(),
                },
                now(),
            )
            .await
            .unwrap();
        store.set_default_policy(Some(mine.id)).await.unwrap();
        let seeded = seed(&test_state(&store)).await.unwrap();
        assert_eq!(seeded.default_policy, Some(mine.id));
        assert_eq!(store.default_policy().await.unwrap(), Some(mine.id));
    }

    #[tokio::test]
    async fn the_simulator_fills_the_queue_on_every_policy() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(&dir).await;
        let state = test_state(&store);
        let seeded = seed(&state).await.unwrap();
        let mut events = state.events.subscribe();
        let mut sim = Simulator::new(state.clone(), StdRng::seed_from_u64(5));
        let t = state.clock.now();
        assert_eq!(sim.backlog(t).await.unwrap(), BACKLOG.len());
        assert_eq!(sim.backlog(t).await.unwrap(), 0, "one backlog per start");
        assert!(events.try_recv().is_ok(), "the stream hears about it");
        for _ in 0..80 {
            sim.step(state.clock.now()).await.unwrap();
        }
        let active = sim.active().await.unwrap();
        assert!(active.len() <= MAX_ACTIVE, "{}", active.len());
        let all = store
            .list_conversations(&ConversationFilter {
                limit: 1000,
                ..ConversationFilter::default()
            })
            .await
            .unwrap();
        for (name, id) in &seeded.policies {
            assert!(
                all.iter().any(|r| r.policy_id == Some(*id)),
                "no conversation on {name}"
            );
        }
        let mut numbers: Vec<_> = all
            .iter()
            .filter_map(|r| conversation_number(&r.external_id))
            .collect();
        numbers.sort();
        assert_eq!(numbers, (1..=all.len() as u64).collect::<Vec<_>>());
        // A new simulator (a restart) continues the numbering.
        let mut again = Simulator::new(state, StdRng::seed_from_u64(6));
        let next = again.next_conversation().await.unwrap();
        assert_eq!(next, format!("demo-conv-{}", all.len() + 1));
    }

    /// The demo's conversations of the past quarter (a lighter one than the real demo's, so
    /// that the test stays fast), seeded twice.
    #[tokio::test]
    async fn the_past_quarter_is_seeded_once_and_shows_in_compliance() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(&dir).await;
        let state = test_state(&store);
        let seeded = seed(&state).await.unwrap();
        let history = seed_history(&state, 0.5..1.0).await.unwrap();
        assert!(history.conversations > 400, "{history:?}");
        assert!(history.surveys > 0 && history.abandoned > 0, "{history:?}");
        assert_eq!(
            seed_history(&state, 0.5..1.0).await.unwrap(),
            History::default(),
            "a second start adds no second quarter"
        );
        let rows: Vec<ConversationRow> = store
            .list_conversations(&ConversationFilter {
                limit: 10_000,
                ..ConversationFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.external_id.starts_with(PAST_PREFIX))
            .collect();
        assert_eq!(rows.len(), history.conversations);
        let now = state.clock.now();
        let created: Vec<_> = rows.iter().map(|r| r.summary.created_at).collect();
        let (oldest, newest) = (created.iter().min().unwrap(), created.iter().max().unwrap());
        assert!(*oldest >= now - Duration::days(HISTORY_DAYS), "{oldest}");
        assert!(*oldest < now - Duration::days(HISTORY_DAYS - 1), "{oldest}");
        assert!(*newest > now - Duration::days(1), "{newest}");
        for r in &rows {
            assert_eq!(
                r.summary.status,
                ConversationStatus::Resolved,
                "{}",
                r.external_id
            );
            assert!(r
                .summary
                .last_message_at
                .is_none_or(|t| t < now - HISTORY_GAP));
            assert_eq!(
                r.next_sla_at, None,
                "{}: nothing left to fire",
                r.external_id
            );
        }
        let mut channels: Vec<_> = rows.iter().map(|r| r.summary.channel).collect();
        channels.sort_by_key(|c| c.as_str());
        channels.dedup();
        assert_eq!(channels.len(), 7, "every channel: {channels:?}");
        for team in TEAMS {
            assert!(
                rows.iter().any(|r| r.summary.team.as_deref() == Some(team)),
                "{team}"
            );
        }
        for agent in AGENTS {
            assert!(
                rows.iter()
                    .any(|r| r.summary.owner.as_deref() == Some(agent)),
                "{agent}"
            );
        }
        for (name, id) in &seeded.policies {
            assert!(
                rows.iter().any(|r| r.policy_id == Some(*id)),
                "none on {name}"
            );
        }
        assert_eq!(
            rows.iter()
                .filter(|r| !r.summary.surveys.is_empty())
                .count(),
            history.surveys
        );
        assert_eq!(
            rows.iter().filter(|r| r.summary.left_at.is_some()).count(),
            history.abandoned
        );
        // Mostly in business hours, some outside.
        let catalog = SlaCatalog::load(store.as_ref(), now).await.unwrap();
        let calendar = catalog.calendar(seeded.calendar_id).unwrap();
        let open = created.iter().filter(|t| calendar.is_open_at(**t)).count();
        assert!(
            open * 100 > created.len() * 75,
            "{open} of {}",
            created.len()
        );
        assert!(open < created.len());

        // The automation worker finds nothing due: no late warning or breach of the past,
        // though the plain ingest would have scheduled the breaches of finished clocks.
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut events = store.events_of(&ids).await.unwrap();
        let scheduled = rows
            .iter()
            .filter(|r| {
                let evs = events.remove(&r.id).unwrap();
                let d = catalog
                    .derive(r.policy_id.zip(r.policy_version), &evs)
                    .unwrap();
                !d.sla_instants.is_empty()
            })
            .count();
        assert!(scheduled > 0, "the history has breaches");
        crate::automation::run_pass(&state, "http://promptly.test")
            .await
            .unwrap();
        assert_eq!(store.count_sla_firings().await.unwrap(), 0);

        // Last month of the support promise has data for every metric, some of it missed.
        let record = store
            .list_contracts()
            .await
            .unwrap()
            .into_iter()
            .find(|c| {
                c.contract.counterparty_kind == promptly::compliance::CounterpartyKind::Client
            })
            .unwrap();
        let month = promptly::compliance::PeriodKey::containing(
            promptly::compliance::Period::Month,
            now - Duration::days(30),
        );
        let departments = crate::reports::Departments::load(store.as_ref())
            .await
            .unwrap();
        let (compliance, _) =
            crate::reports::evaluate(&state, &departments, &record.contract, month, now)
                .await
                .unwrap();
        assert!(
            compliance.conversations > 100,
            "{}",
            compliance.conversations
        );
        for m in &compliance.metrics {
            assert!(m.denominator > 0, "{m:?}");
            assert!(m.actual.is_some(), "{m:?}");
        }
        let frt = &compliance.metrics[0];
        assert!(
            frt.numerator < frt.denominator,
            "some first responses missed: {frt:?}"
        );
        let trend = crate::reports::trend(&state, &record.contract, month, 3, now)
            .await
            .unwrap();
        assert!(
            trend.iter().all(|c| c.conversations > 0),
            "three months of trend"
        );
        // The what-if replays each demo policy's last 30 days.
        let from = (now - Duration::days(30)).timestamp();
        for (name, id) in &seeded.policies {
            let ids = store
                .policy_conversations(*id, from, now.timestamp())
                .await
                .unwrap();
            assert!(!ids.is_empty(), "nothing for the what-if of {name}");
        }
    }
}
