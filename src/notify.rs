//! Notifications: what happened ([`Notice`]: a warning or breach, a band change, a rule's
//! `notify`), who it is for ([`Audience`]) and who that is among the users
//! ([`recipients`]), decided here once for the server's automation and its tests.
//!
//! - A warning or breach on a conversation with an owner is for the owner; on an unassigned
//!   one, for the agents and admins who work its team (for a conversation without a team,
//!   those in no team), as "take next" draws them, unless they turned the team's unassigned
//!   conversations off.
//! - A band change of the live service level is for the managers and admins.
//! - A rule's `notify` is for the users it names or the members of its team (any role).
//! - Nobody inactive gets anything, and nobody gets a kind of notification they muted.

use crate::account::Role;
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A clock of a conversation turned to running out.
    Warning,
    /// A clock passed its deadline.
    Breach,
    /// A live service-level row changed band.
    BandChanged,
    /// A rule's `notify` action.
    Rule,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 4] = [
        NotificationKind::Warning,
        NotificationKind::Breach,
        NotificationKind::BandChanged,
        NotificationKind::Rule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Warning => "warning",
            NotificationKind::Breach => "breach",
            NotificationKind::BandChanged => "band_changed",
            NotificationKind::Rule => "rule",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What the settings page calls it.
    pub fn label(self) -> &'static str {
        match self {
            NotificationKind::Warning => "SLA warnings",
            NotificationKind::Breach => "SLA breaches",
            NotificationKind::BandChanged => "Service level band changes",
            NotificationKind::Rule => "Notifications from automation rules",
        }
    }
}

/// Who a notice is for, before it is matched against the users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The users with these e-mails (lowercase).
    Users(Vec<String>),
    /// The members of this team.
    Team(String),
    /// A conversation's people: its owner, or when it has none the agents and admins who
    /// work its team (its queue).
    Conversation {
        owner: Option<String>,
        team: Option<String>,
    },
    /// Managers and admins.
    Managers,
}

/// Something to tell people, once per `cause` and user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NotificationKind,
    pub audience: Audience,
    pub title: String,
    pub body: String,
    /// The page it links to (a path: `/conversations/12`, `/live`).
    pub link: String,
    pub conversation_id: Option<i64>,
    /// What caused it (`sla:12:first_response:1:sla.breached:0`, `band:<key>`,
    /// `rule:<cause>:<rule>:<n>`): a user gets one notification per cause.
    pub cause: String,
    pub at: DateTime<Utc>,
}

/// A local time of day as "HH:MM" (seconds accepted on input).
mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<NaiveTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.format("%H:%M").to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveTime>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) => super::parse_time(t)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// "22:00" (or "22:00:00") as a time of day.
pub fn parse_time(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text.trim(), "%H:%M:%S"))
        .map_err(|_| format!("{text:?} is not a time of day (HH:MM)"))
}

/// A user's choices about notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    /// Kinds not wanted at all.
    pub muted: Vec<NotificationKind>,
    /// Warnings and breaches of the team's unassigned conversations too (not only one's own).
    pub team_unassigned: bool,
    /// A sound with a browser notification of a warning or breach.
    pub sound: bool,
    /// No browser notification or sound between these local times (the list still fills).
    #[serde(with = "hhmm")]
    #[schema(value_type = Option<String>, example = "22:00", pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub quiet_from: Option<NaiveTime>,
    #[serde(with = "hhmm")]
    #[schema(value_type = Option<String>, example = "07:00", pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub quiet_to: Option<NaiveTime>,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            muted: Vec::new(),
            team_unassigned: true,
            sound: false,
            quiet_from: None,
            quiet_to: None,
        }
    }
}

impl NotificationSettings {
    pub fn wants(&self, kind: NotificationKind) -> bool {
        !self.muted.contains(&kind)
    }

    /// Whether `local` (the viewer's wall-clock time) falls in the quiet hours, which may
    /// run over midnight.
    pub fn is_quiet(&self, local: NaiveTime) -> bool {
        match (self.quiet_from, self.quiet_to) {
            (Some(from), Some(to)) if from <= to => local >= from && local < to,
            (Some(from), Some(to)) => local >= from || local < to,
            _ => false,
        }
    }
}

/// A user as notices are matched against them.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub active: bool,
    pub teams: Vec<String>,
    pub settings: NotificationSettings,
}

impl Member {
    fn works_in(&self, team: &str) -> bool {
        let team = team.trim().to_lowercase();
        self.teams.iter().any(|t| t.trim().to_lowercase() == team)
    }

    /// Whether this user's queue holds an unassigned conversation of `team`: agents and
    /// admins of that team; for no team, those in none.
    fn queue_holds(&self, team: Option<&str>) -> bool {
        matches!(self.role, Role::Agent | Role::Admin)
            && match team {
                Some(team) => self.works_in(team),
                None => self.teams.is_empty(),
            }
    }
}

/// The ids of the users `notice` is for, in `members`' order.
pub fn recipients(notice: &Notice, members: &[Member]) -> Vec<i64> {
    members
        .iter()
        .filter(|m| m.active && m.settings.wants(notice.kind))
        .filter(|m| match &notice.audience {
            Audience::Users(emails) => emails.iter().any(|e| e.eq_ignore_ascii_case(&m.email)),
            Audience::Team(team) => m.works_in(team),
            Audience::Conversation {
                owner: Some(owner), ..
            } => owner.eq_ignore_ascii_case(&m.email),
            Audience::Conversation { owner: None, team } => {
                m.settings.team_unassigned && m.queue_holds(team.as_deref())
            }
            Audience::Managers => matches!(m.role, Role::Manager | Role::Admin),
        })
        .map(|m| m.id)
        .collect()
}

/// One user's notification, as the bell's list and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub link: String,
    pub conversation_id: Option<i64>,
    #[serde(with = "crate::instant::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

/// A user's recent notifications and how many are unread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NotificationList {
    pub unread: i64,
    pub items: Vec<NotificationView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: i64, email: &str, role: Role, teams: &[&str]) -> Member {
        Member {
            id,
            email: email.into(),
            role,
            active: true,
            teams: teams.iter().map(|t| t.to_string()).collect(),
            settings: NotificationSettings::default(),
        }
    }

    fn notice(kind: NotificationKind, audience: Audience) -> Notice {
        Notice {
            kind,
            audience,
            title: "t".into(),
            body: String::new(),
            link: "/live".into(),
            conversation_id: None,
            cause: "c".into(),
            at: "2026-12-07T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn notices_reach_their_people_only() {
        let mut members = vec![
            member(1, "ada@x.io", Role::Agent, &["Billing"]),
            member(2, "bob@x.io", Role::Agent, &["Sales"]),
            member(3, "cy@x.io", Role::Agent, &[]),
            member(4, "max@x.io", Role::Manager, &["Billing"]),
            member(5, "root@x.io", Role::Admin, &[]),
        ];
        let breach = |owner: Option<&str>, team: Option<&str>| {
            notice(
                NotificationKind::Breach,
                Audience::Conversation {
                    owner: owner.map(Into::into),
                    team: team.map(Into::into),
                },
            )
        };
        assert_eq!(
            recipients(&breach(Some("BOB@x.io"), Some("Billing")), &members),
            vec![2]
        );
        assert_eq!(
            recipients(&breach(None, Some("billing")), &members),
            vec![1]
        );
        assert_eq!(recipients(&breach(None, None), &members), vec![3, 5]);
        assert_eq!(
            recipients(&breach(None, Some("Nobody's")), &members),
            Vec::<i64>::new()
        );
        let band = notice(NotificationKind::BandChanged, Audience::Managers);
        assert_eq!(recipients(&band, &members), vec![4, 5]);
        let team = notice(NotificationKind::Rule, Audience::Team("Billing".into()));
        assert_eq!(recipients(&team, &members), vec![1, 4]);
        let users = notice(
            NotificationKind::Rule,
            Audience::Users(vec!["cy@x.io".into()]),
        );
        assert_eq!(recipients(&users, &members), vec![3]);

        members[0].settings.team_unassigned = false;
        assert!(recipients(&breach(None, Some("Billing")), &members).is_empty());
        assert_eq!(
            recipients(&breach(Some("ada@x.io"), None), &members),
            vec![1]
        );
        members[0].settings.muted = vec![NotificationKind::Breach];
        assert!(recipients(&breach(Some("ada@x.io"), None), &members).is_empty());
        members[4].active = false;
        assert_eq!(recipients(&band, &members), vec![4]);
    }

    #[test]
    fn quiet_hours_may_run_over_midnight() {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let mut s = NotificationSettings {
            quiet_from: Some(t("22:00")),
            quiet_to: Some(t("07:00")),
            ..Default::default()
        };
        assert!(s.is_quiet(t("23:30")) && s.is_quiet(t("06:59")));
        assert!(!s.is_quiet(t("07:00")) && !s.is_quiet(t("12:00")));
        s.quiet_from = Some(t("12:00"));
        s.quiet_to = Some(t("13:00"));
        assert!(s.is_quiet(t("12:30")) && !s.is_quiet(t("13:00")));
        s.quiet_to = None;
        assert!(!s.is_quiet(t("12:30")));
        let v = serde_json::json!({"muted": ["warning"], "quiet_from": "22:00", "quiet_to": "07:00:00"});
        let read: NotificationSettings = serde_json::from_value(v).unwrap();
        assert_eq!(read.quiet_to, Some(t("07:00")));
        assert!(read.team_unassigned, "what is left out keeps its default");
        assert_eq!(serde_json::to_value(&read).unwrap()["quiet_to"], "07:00");
        assert!(serde_json::from_value::<NotificationSettings>(
            serde_json::json!({"quiet_from": "25:00"})
        )
        .is_err());
        assert!(
            serde_json::from_value::<NotificationSettings>(serde_json::json!({"mute": []}))
                .is_err()
        );
    }
}
