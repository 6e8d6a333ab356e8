//! Scope: which conversations a contract covers (teams, labels, policies, e-mail domains).

use crate::conversation::{Channel, ConversationSummary};
use serde::{Deserialize, Serialize};

/// Which conversations a contract covers. Each non-empty list must match (all lists); within
/// a list any entry may match; an empty scope covers everything. Text compares ignoring case
/// and surrounding whitespace. E-mail domains follow the automation rules: `"bigcorp.com"`
/// matches the domain and its subdomains, `".bigcorp.com"` only subdomains, `"@bigcorp.com"`
/// only addresses ending with it exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scope {
    #[serde(default)]
    #[schema(schema_with = crate::schema::scope_entries)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// The conversation has at least one of these labels.
    #[serde(default)]
    #[schema(schema_with = crate::schema::scope_entries)]
    pub labels: Vec<String>,
    /// SLA policy ids.
    #[serde(default)]
    #[schema(schema_with = crate::schema::policy_ids)]
    pub policies: Vec<i64>,
    /// `bigcorp.com`: the domain and its subdomains; `.bigcorp.com`: only subdomains;
    /// `@bigcorp.com`: only that domain.
    #[serde(default)]
    #[schema(schema_with = crate::schema::email_domains)]
    pub email_domains: Vec<String>,
}

/// The parts of a conversation a [`Scope`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeSubject<'a> {
    pub team: Option<&'a str>,
    pub channel: Channel,
    pub labels: &'a [String],
    pub policy_id: Option<i64>,
    pub contact_email: Option<&'a str>,
}

impl<'a> ScopeSubject<'a> {
    pub fn of_summary(summary: &'a ConversationSummary, policy_id: Option<i64>) -> Self {
        ScopeSubject {
            team: summary.team.as_deref(),
            channel: summary.channel,
            labels: &summary.labels,
            policy_id,
            contact_email: summary.contact.email.as_deref(),
        }
    }
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

fn same_text(a: &str, b: &str) -> bool {
    norm(a) == norm(b)
}

/// Whether the e-mail's domain is `domain` or a subdomain (a leading dot: only subdomains; a
/// leading `@`: exactly that domain).
fn in_domain(email: &str, domain: &str) -> bool {
    let email = norm(email);
    let domain = norm(domain);
    if domain.is_empty() {
        return false;
    }
    if domain.starts_with('@') {
        return email.ends_with(&domain);
    }
    let Some((_, host)) = email.rsplit_once('@') else {
        return false;
    };
    if domain.starts_with('.') {
        return host.ends_with(&domain);
    }
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(&domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

impl Scope {
    /// Whether the contract covers the conversation.
    pub fn matches(&self, c: &ScopeSubject<'_>) -> bool {
        (self.teams.is_empty()
            || c.team
                .is_some_and(|t| self.teams.iter().any(|s| same_text(s, t))))
            && (self.channels.is_empty() || self.channels.contains(&c.channel))
            && (self.labels.is_empty()
                || c.labels
                    .iter()
                    .any(|l| self.labels.iter().any(|s| same_text(s, l))))
            && (self.policies.is_empty() || c.policy_id.is_some_and(|p| self.policies.contains(&p)))
            && (self.email_domains.is_empty()
                || c.contact_email
                    .is_some_and(|e| self.email_domains.iter().any(|d| in_domain(e, d))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::test_support::*;

    #[test]
    fn scope_matches_every_non_empty_list() {
        let mut f = facts();
        f.team = Some("Billing".into());
        f.labels = vec!["Refund".into(), "vip".into()];
        f.policy_id = Some(7);
        f.contact_email = Some("Ann@EU.BigCorp.com".into());
        assert!(Scope::default().matches(&f.subject()));
        let scope = |json: &str| -> Scope { serde_json::from_str(json).unwrap() };
        let yes = [
            r#"{"teams": [" billing "]}"#,
            r#"{"channels": ["sms", "email"]}"#,
            r#"{"labels": ["VIP", "other"]}"#,
            r#"{"policies": [3, 7]}"#,
            r#"{"email_domains": ["bigcorp.com"]}"#,
            r#"{"email_domains": [".bigcorp.com"]}"#,
            r#"{"email_domains": ["@eu.bigcorp.com"]}"#,
            r#"{"teams": ["billing"], "channels": ["email"], "labels": ["refund"],
                "policies": [7], "email_domains": ["BigCorp.com"]}"#,
        ];
        for json in yes {
            assert!(scope(json).matches(&f.subject()), "{json}");
        }
        let no = [
            r#"{"teams": ["sales"]}"#,
            r#"{"channels": ["whatsapp"]}"#,
            r#"{"labels": ["urgent"]}"#,
            r#"{"policies": [8]}"#,
            r#"{"email_domains": ["corp.com"]}"#,
            r#"{"email_domains": ["@bigcorp.com"]}"#,
            r#"{"teams": ["billing"], "channels": ["sms"]}"#,
        ];
        for json in no {
            assert!(!scope(json).matches(&f.subject()), "{json}");
        }
        // Missing values match no list.
        let bare = facts();
        for json in [
            r#"{"teams": ["billing"]}"#,
            r#"{"labels": ["vip"]}"#,
            r#"{"policies": [7]}"#,
            r#"{"email_domains": ["bigcorp.com"]}"#,
        ] {
            assert!(!scope(json).matches(&bare.subject()), "{json}");
        }
        // Only subdomains with a leading dot; not a look-alike domain.
        f.contact_email = Some("bob@bigcorp.com".into());
        assert!(!scope(r#"{"email_domains": [".bigcorp.com"]}"#).matches(&f.subject()));
        f.contact_email = Some("bob@notbigcorp.com".into());
        assert!(!scope(r#"{"email_domains": ["bigcorp.com"]}"#).matches(&f.subject()));
    }

    // --- breakdowns ----------------------------------------------------------------------
}
