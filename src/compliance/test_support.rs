//! Helpers shared by the compliance unit tests: facts, targets, a queue and a contract.

use super::*;
use crate::conversation::Channel;
use crate::instant::parse_rfc3339;
use chrono::{DateTime, Utc};

pub(super) fn t(text: &str) -> DateTime<Utc> {
    parse_rfc3339(text).unwrap()
}

pub(super) fn key(text: &str) -> PeriodKey {
    PeriodKey::parse(text).unwrap()
}

pub(super) fn facts() -> ConversationFacts {
    ConversationFacts::new(t("2026-11-10T10:00:00Z"), Channel::Email)
}

pub(super) fn answered(wait: i64) -> ConversationFacts {
    ConversationFacts {
        first_response_s: Some(wait),
        ..facts()
    }
}

pub(super) fn abandoned(wait: i64) -> ConversationFacts {
    ConversationFacts {
        abandoned_after_s: Some(wait),
        ..facts()
    }
}

pub(super) fn surveyed(kind: SurveyKind, scores: &[i64]) -> ConversationFacts {
    ConversationFacts {
        surveys: scores
            .iter()
            .map(|&score| SurveyResponse { kind, score })
            .collect(),
        ..facts()
    }
}

pub(super) fn target(kind: MetricKind, target: f64) -> MetricTarget {
    MetricTarget {
        kind,
        target,
        period: Period::Month,
    }
}

pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// 10 answered (7 within 20 s, one of them at exactly 20 s; 3 after), 5 abandoned (2
/// within 20 s, one at exactly 20 s; 3 after), one still waiting, and one answered
/// conversation that also has an abandonment wait (answered wins).
pub(super) fn queue() -> Vec<ConversationFacts> {
    let mut v: Vec<ConversationFacts> = [5, 10, 15, 20, 3, 8, 12, 21, 40]
        .into_iter()
        .map(answered)
        .collect();
    v.push(ConversationFacts {
        abandoned_after_s: Some(7),
        ..answered(90)
    });
    v.extend([4, 20, 25, 60, 300].into_iter().map(abandoned));
    v.push(facts()); // still waiting
    v
}

pub(super) fn sl(formula: ServiceLevelFormula) -> MetricKind {
    MetricKind::ServiceLevel {
        within_s: 20,
        formula,
    }
}

// --- periods -----------------------------------------------------------------------

pub(super) fn contract_json() -> serde_json::Value {
    serde_json::json!({
        "name": "BigCorp premium support",
        "counterparty_kind": "client",
        "counterparty": "BigCorp",
        "service_description": "E-mail and chat support, 24/7.",
        "review_date": "2027-03-31",
        "scope": {"email_domains": ["bigcorp.com"], "channels": ["email", "webchat"]},
        "metrics": [
            {"kind": "frt_attainment", "target": 95, "period": "month"},
            {"kind": "service_level", "within_s": 20, "formula": "abandoned_count_missed",
             "target": 80, "period": "month"},
            {"kind": "asa", "target": 30, "period": "month"},
            {"kind": "abandonment_rate", "short_abandon_s": 5, "target": 5,
             "period": "month"},
            {"kind": "csat", "target": 85, "period": "quarter"},
            {"kind": "nps", "target": 30, "period": "quarter"},
            {"kind": "ces", "target": 3, "period": "quarter"}
        ],
        "remedies": {"fee_per_period": 10000, "credit_per_point": 100, "credit_cap": 1500,
                     "bonus_per_point": 50, "bonus_cap": 500, "currency": "EUR"}
    })
}
