//! The OpenAPI schemas of the types that serialize by hand (a text form with a pattern, a
//! name from a list): the few the `utoipa::ToSchema` derive cannot see. Each pattern is a
//! constant beside the parser it describes.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// Whether the published patterns' `\s` matches `c`: ECMA-262's white space and line
/// terminators. That is Unicode's white space (what Rust's `trim` removes) but U+0085 (next
/// line, a control character to ECMA-262), and U+FEFF, the byte order mark. The parsers
/// that take surrounding spaces trim with [`trim`], so that what a pattern admits, its
/// parser takes (the `duration` fuzz target holds them together).
pub fn is_space(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{FEFF}'
}

/// `text` without the spaces ([`is_space`]) around it.
pub fn trim(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// A string of the given pattern.
pub fn text(description: &str, pattern: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(pattern))
        .examples([serde_json::Value::from(example)])
        .into()
}

/// One of these words.
pub fn words<'a>(description: &str, words: impl IntoIterator<Item = &'a str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description((!description.is_empty()).then_some(description))
        .enum_values(Some(words))
        .into()
}

/// One of `words`, or `null`.
pub fn optional_words<'a>(
    description: &str,
    words: impl IntoIterator<Item = &'a str>,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .description((!description.is_empty()).then_some(description))
        .enum_values(Some(
            words
                .into_iter()
                .map(serde_json::Value::from)
                .chain([serde_json::Value::Null]),
        ))
        .into()
}

/// A list of the schema named `name` (one the API document defines).
pub fn list_of(name: &str) -> utoipa::openapi::Array {
    utoipa::openapi::Array::new(utoipa::openapi::Ref::from_schema_name(name))
}

/// A rule's name.
pub fn rule_name() -> RefOr<Schema> {
    some_text(crate::limits::RULE_NAME_LEN)
}

/// Any JSON value.
pub fn any() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .into()
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A record's name: what [`crate::account::validate_name`] takes.
pub fn name() -> RefOr<Schema> {
    string()
        .min_length(Some(1))
        .max_length(Some(crate::limits::NAME_LEN))
        .pattern(Some(r"\S"))
        .into()
}

/// A record's description, `null` for none: what [`crate::account::validate_description`]
/// takes.
pub fn description() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .max_length(Some(crate::limits::DESCRIPTION_LEN))
        .into()
}

/// An e-mail address: what [`crate::account::validate_email`] takes.
pub fn email() -> RefOr<Schema> {
    patterned(crate::limits::EMAIL_LEN, crate::account::EMAIL_PATTERN)
        .examples([serde_json::Value::from("ada@example.com")])
        .into()
}

/// Text of at most `max` characters matching `pattern`.
fn patterned(max: usize, pattern: &str) -> ObjectBuilder {
    string().max_length(Some(max)).pattern(Some(pattern))
}

/// A new password.
pub fn password() -> RefOr<Schema> {
    string()
        .min_length(Some(crate::limits::MIN_PASSWORD_LEN))
        .max_length(Some(crate::limits::PASSWORD_LEN))
        .into()
}

/// A person's name, empty for none.
pub fn person_name() -> RefOr<Schema> {
    string().max_length(Some(crate::limits::NAME_LEN)).into()
}

fn nullable_text(max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .max_length(Some(max))
}

/// An e-mail address or `null`: what [`crate::account::validate_email`] takes.
pub fn optional_email() -> RefOr<Schema> {
    nullable_text(crate::limits::EMAIL_LEN)
        .pattern(Some(crate::account::EMAIL_PATTERN))
        .into()
}

/// A name that may be left out: `null` or blank for the default.
pub fn optional_name() -> RefOr<Schema> {
    nullable_text(crate::limits::NAME_LEN).into()
}

/// A contact's name or handle, `null` when unknown.
pub fn contact_text() -> RefOr<Schema> {
    nullable_text(crate::limits::CONTACT_TEXT_LEN).into()
}

/// A contact's e-mail address, `null` when unknown.
pub fn contact_email() -> RefOr<Schema> {
    nullable_text(crate::limits::EMAIL_LEN).into()
}

/// Text that must say something: at least one non-space character, at most `max`.
fn some_text(max: usize) -> RefOr<Schema> {
    string()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(r"\S"))
        .into()
}

/// A message's text (an agent's reply).
pub fn message_text() -> RefOr<Schema> {
    some_text(crate::limits::MESSAGE_TEXT_LEN)
}

/// A label.
pub fn label() -> RefOr<Schema> {
    some_text(crate::limits::LABEL_LEN)
}

/// A team's name.
pub fn team() -> RefOr<Schema> {
    some_text(crate::limits::TEAM_LEN)
}

/// The team a `notify` action tells, if it names one.
pub fn optional_team() -> RefOr<Schema> {
    string()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .min_length(Some(1))
        .max_length(Some(crate::limits::TEAM_LEN))
        .pattern(Some("\\S"))
        .into()
}

/// Agents' e-mails (a `notify` action's `users`).
pub fn emails() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(patterned(
            crate::limits::EMAIL_LEN,
            crate::account::EMAIL_PATTERN,
        ))
        .min_items(Some(1))
        .max_items(Some(crate::limits::RULE_VALUES))
        .build()
}

/// A webhook's signing secret.
pub fn secret() -> RefOr<Schema> {
    some_text(crate::limits::SECRET_LEN)
}

/// A message template.
pub fn template() -> RefOr<Schema> {
    some_text(crate::limits::TEMPLATE_LEN)
}

/// An absolute http(s) URL (what `rules::validate` takes, a little stricter).
pub fn url() -> RefOr<Schema> {
    patterned(crate::limits::URL_LEN, crate::rules::URL_PATTERN).into()
}

/// A contract's or counterparty's name.
pub fn contract_name() -> RefOr<Schema> {
    some_text(crate::limits::CONTRACT_NAME_LEN)
}

/// One of a contract's texts (service description, responsibilities, terms).
pub fn contract_text() -> RefOr<Schema> {
    string()
        .max_length(Some(crate::limits::CONTRACT_TEXT_LEN))
        .into()
}

/// A list of team names or labels in a contract's scope.
pub fn scope_entries() -> utoipa::openapi::Array {
    utoipa::openapi::Array::new(some_text(crate::limits::SCOPE_ENTRY_LEN))
}

/// Policy ids in a contract's scope.
pub fn policy_ids() -> utoipa::openapi::Array {
    utoipa::openapi::Array::new(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(1)),
    )
}

/// E-mail domains in a contract's scope.
pub fn email_domains() -> utoipa::openapi::Array {
    utoipa::openapi::Array::new(patterned(
        crate::limits::SCOPE_ENTRY_LEN,
        crate::compliance::DOMAIN_PATTERN,
    ))
}

/// A contract's metrics.
pub fn contract_metrics() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("ContractMetric"))
        .min_items(Some(1))
        .max_items(Some(crate::limits::CONTRACT_METRICS))
        .build()
}

fn money_builder(nullable: bool) -> ObjectBuilder {
    let types: &[Type] = if nullable {
        &[Type::Number, Type::Null]
    } else {
        &[Type::Number]
    };
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter(
            types.iter().cloned(),
        ))
        .minimum(Some(0))
        .maximum(Some(crate::limits::MONEY_MAX))
}

/// An amount of money.
pub fn money() -> RefOr<Schema> {
    money_builder(false).into()
}

/// A cap on an amount, `null` for none.
pub fn money_cap() -> RefOr<Schema> {
    money_builder(true).into()
}

/// An ISO 4217 currency code.
pub fn currency() -> RefOr<Schema> {
    string().pattern(Some("^[A-Z]{3}$")).into()
}

/// A list's `limit` query parameter: 1 to the page's maximum, its default when absent.
fn page(page: crate::limits::Page) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(page.max))
        .default(Some(page.default.into()))
        .into()
}

/// `limit` of `GET /conversations`.
pub fn conversations_page() -> RefOr<Schema> {
    page(crate::limits::CONVERSATIONS_PAGE)
}

/// `offset` of `GET /conversations`.
pub fn queue_offset() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(crate::limits::QUEUE_OFFSET_MAX))
        .default(Some(0.into()))
        .into()
}

/// `limit` of `GET /deliveries`.
pub fn deliveries_page() -> RefOr<Schema> {
    page(crate::limits::DELIVERIES_PAGE)
}

/// `limit` of `GET /audit`.
pub fn audit_page() -> RefOr<Schema> {
    page(crate::limits::AUDIT_PAGE)
}

/// `limit` of `GET /contracts/{id}/conversations`.
pub fn contract_conversations_page() -> RefOr<Schema> {
    page(crate::limits::CONTRACT_CONVERSATIONS_PAGE)
}

/// The `metric` query parameter: the index of one of a contract's metrics (0 when absent).
pub fn metric_index() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(crate::limits::CONTRACT_METRICS - 1))
        .default(Some(0.into()))
        .into()
}

/// The `period` query parameter: a period's key, or empty for the current period.
pub fn period_query() -> RefOr<Schema> {
    string()
        .pattern(Some(crate::compliance::PERIOD_QUERY_PATTERN))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ECMA-262's `\s` (WhiteSpace and LineTerminator, ES2024 §12.2 and §12.3), listed.
    #[test]
    fn spaces_are_ecma_262_s() {
        let ecma: Vec<u32> = [0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0xA0, 0x1680]
            .into_iter()
            .chain(0x2000..=0x200A)
            .chain([0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF])
            .collect();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(
                is_space(c),
                ecma.contains(&u32::from(c)),
                "U+{:04X}",
                u32::from(c)
            );
        }
        // What the `\S` of a name admits, the validators take (schemathesis found U+0085).
        assert_eq!(
            crate::account::validate_name("\u{85}"),
            Ok("\u{85}".to_string())
        );
        let rule = serde_json::json!({"name": "\u{85}", "event": "conversation.created",
            "actions": [{"type": "add_label", "label": "\u{85}"}]});
        let parsed = crate::rules::parse_rule(&rule, |_| true, |_| true).unwrap();
        assert_eq!(parsed.name, "\u{85}");
        assert!(crate::account::validate_name(" \u{FEFF}\u{2028} ").is_err());
    }

    use crate::calendar::TimeWindow;
    use crate::compliance::PeriodKey;
    use crate::duration::SlaDuration;
    use crate::policy::WarningThreshold;

    /// Found by the `duration` fuzz target: the published patterns' `\s` (ECMA-262) admits a
    /// byte order mark around a value, which Rust's `trim` keeps, so the API document
    /// promised values that the parsers refused.
    #[test]
    fn every_parser_trims_what_its_pattern_calls_space() {
        assert_eq!(trim("\u{FEFF} 1h\u{A0}\n"), "1h");
        assert_eq!(
            "\u{FEFF}1h\u{FEFF}30m".parse::<SlaDuration>(),
            Ok(SlaDuration::from_minutes(90).unwrap())
        );
        assert_eq!(
            "\u{FEFF}09:00\u{FEFF}-\u{FEFF}17:00".parse::<TimeWindow>(),
            Ok(TimeWindow::from_minutes(9 * 60, 17 * 60).unwrap())
        );
        assert_eq!(
            "\u{FEFF}25\u{FEFF}%".parse::<WarningThreshold>(),
            Ok(WarningThreshold::Percent(25))
        );
        assert_eq!(
            PeriodKey::parse("\u{FEFF}2026-W47"),
            PeriodKey::parse("2026-W47")
        );
        assert_eq!(
            crate::account::validate_email("\u{FEFF}Ann@Example.com"),
            Ok("ann@example.com".into())
        );
        let rule = serde_json::json!({"name": "hook", "event": "message.created",
            "actions": [{"type": "webhook", "url": "\u{FEFF}https://hooks.example/x", "secret": "s"}]});
        let rule = crate::rules::parse_rule(&rule, |_| true, |_| true).unwrap();
        assert_eq!(
            rule.actions,
            [crate::rules::Action::Webhook {
                url: "https://hooks.example/x".into(),
                secret: "s".into()
            }]
        );
    }
}
