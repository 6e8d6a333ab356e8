//! `conversation_facts`: the per-conversation columns compliance aggregates, and the SQL
//! both backends run over them.
//!
//! The aggregate is the store-side twin of `promptly::compliance::tally` (grouped by team,
//! owner and channel: `promptly::compliance::group_counts`); `server/tests/suite/store_contract.rs`
//! checks the two agree on both databases. Values a user typed (teams, labels, domains) are
//! inlined as SQL string literals by [`lit`], which doubles quotes (both databases use
//! standard strings) and drops NUL characters, so one text serves SQLite and PostgreSQL.

use chrono::{DateTime, Datelike, Utc};
use promptly::compliance::{
    FactsRecord, GroupCounts, MetricKind, PeriodKey, Scope, ServiceLevelFormula, SurveyKind,
};
use promptly::conversation::Channel;

use super::db::{Arg, Ty};

/// Defines the column constants of `conversation_facts` from one list, key first.
macro_rules! fact_columns {
    ($key:literal: $key_ty:ident, $first:literal: $first_ty:ident $(, $name:literal: $ty:ident)* $(,)?) => {
        /// The columns of `conversation_facts` and their types, in the order [`fact_row`]
        /// gives their values.
        pub const FACT_TYPES: &[(&str, Ty)] =
            &[($key, Ty::$key_ty), ($first, Ty::$first_ty) $(, ($name, Ty::$ty))*];
        /// The same columns, comma-separated.
        pub const FACT_COLUMNS: &str = concat!($key, ", ", $first $(, ", ", $name)*);
        /// `SET` list of the upsert: every column but the key.
        pub const FACT_UPDATES: &str =
            concat!($first, " = excluded.", $first $(, ", ", $name, " = excluded.", $name)*);
    };
}

fact_columns! {
    "conversation_id": Int,
    "created_s": Int,
    "month": Int,
    "channel": Text,
    "team": Text,
    "team_g": Text,
    "team_key": Text,
    "owner": Text,
    "owner_g": Text,
    "policy_id": Int,
    "email_host": Text,
    "labels_key": Text,
    "first_response_s": Int,
    "abandoned_s": Int,
    "frt_met": Int,
    "frt_missed": Int,
    "frt_due": Int,
    "nrt_met": Int,
    "nrt_missed": Int,
    "nrt_due": Int,
    "rt_met": Int,
    "rt_missed": Int,
    "rt_due": Int,
    "csat_n": Int,
    "csat_pos": Int,
    "nps_n": Int,
    "nps_net": Int,
    "ces_n": Int,
    "ces_sum": Int,
}

/// How many values one row binds.
pub const FACT_BINDS: usize = FACT_TYPES.len();

/// Trimmed and lower case, as scopes compare text.
pub fn key(text: &str) -> String {
    text.trim().to_lowercase()
}

/// A label as `labels_key` holds it (`|` separates labels, so a `|` inside one becomes
/// U+0001, on both sides of the comparison).
fn label_key(label: &str) -> String {
    key(label).replace('|', "\u{1}")
}

/// The `month` column: year × 12 + month − 1 of a Unix second (UTC).
pub fn month_of(seconds: i64) -> i64 {
    let t = chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default();
    i64::from(t.year()) * 12 + i64::from(t.month0())
}

/// The `month` values a period's rows can have.
pub fn months_of(period: PeriodKey) -> Vec<i64> {
    let (start, end) = period.range();
    let (first, last) = (month_of(start.timestamp()), month_of(end.timestamp() - 1));
    (first..=last).collect()
}

/// A conversation's row of `conversation_facts`: one value per column of [`FACT_TYPES`].
pub fn fact_row(conversation_id: i64, r: &FactsRecord) -> [Arg; FACT_BINDS] {
    let mut labels_key = String::from("|");
    for l in &r.labels {
        labels_key.push_str(&label_key(l));
        labels_key.push('|');
    }
    let team = r.team.clone().filter(|t| !t.is_empty());
    let owner = r.owner.clone().filter(|o| !o.is_empty());
    let email_host = r
        .contact_email
        .as_deref()
        .and_then(|e| key(e).rsplit_once('@').map(|(_, h)| h.to_string()));
    // frt, nrt, rt: (met, missed, due as Unix seconds).
    let [frt, nrt, rt] = [r.frt, r.nrt, r.rt].map(|c| {
        let due = c.due.map(|d| d.timestamp());
        (i64::from(c.met), i64::from(c.missed), due)
    });
    // csat, nps, ces: (responses, numerator terms).
    let [csat, nps, ces] = SurveyKind::ALL.map(|k| r.survey_counts(k));
    [
        conversation_id.into(),
        r.created_at.timestamp().into(),
        month_of(r.created_at.timestamp()).into(),
        r.channel.as_str().into(),
        team.clone().into(),
        team.as_deref().unwrap_or_default().into(),
        team.as_deref().map(key).into(),
        owner.clone().into(),
        owner.unwrap_or_default().into(),
        r.policy_id.into(),
        email_host.into(),
        labels_key.into(),
        r.first_response_s.into(),
        r.abandoned_after_s.into(),
        frt.0.into(),
        frt.1.into(),
        frt.2.into(),
        nrt.0.into(),
        nrt.1.into(),
        nrt.2.into(),
        rt.0.into(),
        rt.1.into(),
        rt.2.into(),
        csat.0.into(),
        csat.1.into(),
        nps.0.into(),
        nps.1.into(),
        ces.0.into(),
        ces.1.into(),
    ]
}

/// A text as an SQL string literal.
pub fn lit(text: &str) -> String {
    format!("'{}'", text.replace('\0', "").replace('\'', "''"))
}

/// A LIKE pattern's literal part (escape character `\`).
fn like_lit(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The conversations of a contract's scope created in a period, as a `WHERE` condition.
pub fn scope_condition(scope: &Scope, period: PeriodKey) -> String {
    let (start, end) = period.range();
    let months: Vec<String> = months_of(period).iter().map(|m| m.to_string()).collect();
    format!(
        "month IN ({}) AND created_s >= {} AND created_s < {} AND {}",
        months.join(", "),
        start.timestamp(),
        end.timestamp(),
        scope_filter(scope)
    )
}

/// The conversations of a contract's scope (any time), as a `WHERE` condition.
pub fn scope_filter(scope: &Scope) -> String {
    let mut parts = vec!["1 = 1".to_string()];
    let list = |items: Vec<String>| items.join(", ");
    if !scope.teams.is_empty() {
        parts.push(format!(
            "team_key IN ({})",
            list(scope.teams.iter().map(|t| lit(&key(t))).collect())
        ));
    }
    if !scope.channels.is_empty() {
        parts.push(format!(
            "channel IN ({})",
            list(scope.channels.iter().map(|c| lit(c.as_str())).collect())
        ));
    }
    if !scope.labels.is_empty() {
        let any: Vec<String> = scope
            .labels
            .iter()
            .map(|l| {
                format!(
                    "labels_key LIKE {} ESCAPE '\\'",
                    lit(&format!("%|{}|%", like_lit(&label_key(l))))
                )
            })
            .collect();
        parts.push(format!("({})", any.join(" OR ")));
    }
    if !scope.policies.is_empty() {
        parts.push(format!(
            "policy_id IN ({})",
            list(scope.policies.iter().map(|p| p.to_string()).collect())
        ));
    }
    if !scope.email_domains.is_empty() {
        let any: Vec<String> = scope
            .email_domains
            .iter()
            .map(|d| {
                let d = key(d);
                let sub = |bare: &str| {
                    format!(
                        "email_host LIKE {} ESCAPE '\\'",
                        lit(&format!("%.{}", like_lit(bare)))
                    )
                };
                if let Some(bare) = d.strip_prefix('@') {
                    format!("email_host = {}", lit(bare))
                } else if let Some(bare) = d.strip_prefix('.') {
                    sub(bare)
                } else {
                    format!("(email_host = {} OR {})", lit(&d), sub(&d))
                }
            })
            .collect();
        parts.push(format!("({})", any.join(" OR ")));
    }
    parts.join(" AND ")
}

/// One conversation's (numerator, denominator) terms of a metric at `now` (Unix seconds):
/// `promptly::compliance::tally` for a single row.
pub fn metric_terms(kind: MetricKind, now: i64) -> (String, String) {
    let late = |due: &str| format!("(CASE WHEN {due} <= {now} THEN 1 ELSE 0 END)");
    let outcome = |met: &str, missed: &str, due: &str| {
        (
            format!(
                "(CASE WHEN {met} > 0 AND {missed} = 0 AND ({due} IS NULL OR {due} > {now}) \
                 THEN 1 ELSE 0 END)"
            ),
            format!("(CASE WHEN {met} + {missed} > 0 OR {due} <= {now} THEN 1 ELSE 0 END)"),
        )
    };
    let answered = "(CASE WHEN first_response_s IS NOT NULL THEN 1 ELSE 0 END)";
    match kind {
        MetricKind::FrtAttainment => outcome("frt_met", "frt_missed", "frt_due"),
        MetricKind::RtAttainment => outcome("rt_met", "rt_missed", "rt_due"),
        MetricKind::NrtAttainment => (
            "nrt_met".into(),
            format!("(nrt_met + nrt_missed + {})", late("nrt_due")),
        ),
        MetricKind::ServiceLevel { within_s, formula } => {
            let y = within_s;
            let answered_within = format!("(CASE WHEN first_response_s <= {y} THEN 1 ELSE 0 END)");
            let abandoned = "(CASE WHEN first_response_s IS NULL AND abandoned_s IS NOT NULL \
                             THEN 1 ELSE 0 END)";
            match formula {
                ServiceLevelFormula::AbandonedWithinCountMet => (
                    format!(
                        "(CASE WHEN first_response_s <= {y} THEN 1 WHEN first_response_s IS \
                         NULL AND abandoned_s <= {y} THEN 1 ELSE 0 END)"
                    ),
                    format!("({answered} + {abandoned})"),
                ),
                ServiceLevelFormula::AnsweredOnly => (answered_within, answered.into()),
                ServiceLevelFormula::AbandonedCountMissed => {
                    (answered_within, format!("({answered} + {abandoned})"))
                }
                ServiceLevelFormula::AbandonedAfterCountMissed => (
                    answered_within,
                    format!(
                        "({answered} + (CASE WHEN first_response_s IS NULL AND abandoned_s > \
                         {y} THEN 1 ELSE 0 END))"
                    ),
                ),
            }
        }
        MetricKind::Asa => ("COALESCE(first_response_s, 0)".into(), answered.into()),
        MetricKind::AbandonmentRate { short_abandon_s } => {
            let long = format!(
                "(CASE WHEN first_response_s IS NULL AND abandoned_s > {short_abandon_s} \
                 THEN 1 ELSE 0 END)"
            );
            (long.clone(), format!("({answered} + {long})"))
        }
        MetricKind::Csat => ("csat_pos".into(), "csat_n".into()),
        MetricKind::Nps => ("nps_net".into(), "nps_n".into()),
        MetricKind::Ces => ("ces_sum".into(), "ces_n".into()),
    }
}

/// The group counts of a contract's period: `team, owner, channel, n`, then a numerator and
/// a denominator per metric (all integers). Grouped by the clustering order (month, channel,
/// team, owner): SQLite streams the groups without sorting; [`merge_groups`] then joins a
/// group's months.
pub fn groups_sql(
    scope: &Scope,
    metrics: &[MetricKind],
    period: PeriodKey,
    now: DateTime<Utc>,
) -> String {
    groups_sql_of(scope, metrics, period, now, None)
}

/// The contract's channels split into `parts` disjoint sets (fewer when it covers fewer
/// channels), for running [`groups_sql_of`] on several connections at once.
pub fn channel_parts(scope: &Scope, parts: usize) -> Vec<Vec<Channel>> {
    let channels: Vec<Channel> = if scope.channels.is_empty() {
        Channel::ALL.to_vec()
    } else {
        Channel::ALL
            .iter()
            .copied()
            .filter(|c| scope.channels.contains(c))
            .collect()
    };
    let parts = parts.clamp(1, channels.len().max(1));
    let mut out = vec![Vec::new(); parts];
    for (i, c) in channels.into_iter().enumerate() {
        out[i % parts].push(c);
    }
    out
}

/// [`groups_sql`] over only `channels` (when given).
pub fn groups_sql_of(
    scope: &Scope,
    metrics: &[MetricKind],
    period: PeriodKey,
    now: DateTime<Utc>,
    channels: Option<&[Channel]>,
) -> String {
    let mut select = String::from("SELECT MIN(team), MIN(owner), channel, COUNT(*) AS n");
    for m in metrics {
        let (num, den) = metric_terms(*m, now.timestamp());
        select.push_str(&format!(
            ", CAST(COALESCE(SUM({num}), 0) AS BIGINT), CAST(COALESCE(SUM({den}), 0) AS BIGINT)"
        ));
    }
    let mut condition = scope_condition(scope, period);
    if let Some(chs) = channels {
        let list: Vec<String> = chs.iter().map(|c| lit(c.as_str())).collect();
        condition.push_str(&format!(" AND channel IN ({})", list.join(", ")));
    }
    format!(
        "{select} FROM conversation_facts WHERE {condition} GROUP BY month, channel, team_g, \
         owner_g"
    )
}

/// Facts rows with a clock running when they were written (the partial index
/// `conversation_facts_running` holds them, with this as its condition).
pub const RUNNING: &str = "(frt_due IS NOT NULL OR nrt_due IS NOT NULL OR rt_due IS NOT NULL)";

/// An instant before every deadline: a row's terms judged at it count no running clock as
/// run out. The rollups hold every row so; a read adds, for the rows whose clock ran out
/// since they were written, the difference ([`late_groups_sql`]).
const NEVER: i64 = i64::MIN / 2;

/// Whether a metric's terms change when a running clock runs out.
fn counts_deadlines(kind: MetricKind) -> bool {
    matches!(
        kind,
        MetricKind::FrtAttainment | MetricKind::NrtAttainment | MetricKind::RtAttainment
    )
}

/// The rollup bucket of a row in span 1: the Unix second its ISO week (UTC) starts. The
/// Unix epoch was a Thursday; 345,600 s later (5 January 1970) a Monday.
const WEEK_OF: &str = "(created_s - ((created_s - 345600) % 604800 + 604800) % 604800)";

/// Rollup span of months (`bucket` = [`month_of`]).
pub const SPAN_MONTH: i64 = 0;
/// Rollup span of ISO weeks (`bucket` = the Unix second of the week's Monday, UTC).
pub const SPAN_WEEK: i64 = 1;

/// The group key of a rollup row, in the order of the table's columns.
const ROLLUP_KEY: &str = "def_id, span, bucket, channel, team, owner";

/// What one set of rollups counts: a contract's scope and its metrics' kinds (the contract's
/// targets, names and periods do not change the counts). Its text ([`RollupDef::key`]) keys
/// `compliance_rollup_defs` and the server's compliance cache.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RollupDef {
    pub scope: Scope,
    pub kinds: Vec<MetricKind>,
}

impl RollupDef {
    pub fn of(contract: &promptly::compliance::Contract) -> Self {
        RollupDef {
            scope: contract.scope.clone(),
            kinds: contract.metrics.iter().map(|m| m.kind).collect(),
        }
    }

    pub fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(key: &str) -> Option<Self> {
        serde_json::from_str(key).ok()
    }
}

/// The rollup span and buckets that make up a period exactly.
pub fn rollup_buckets(period: PeriodKey) -> (i64, Vec<i64>) {
    match period.period() {
        promptly::compliance::Period::Week => (SPAN_WEEK, vec![period.start().timestamp()]),
        _ => (SPAN_MONTH, months_of(period)),
    }
}

/// The `n0, d0, n1, d1, …` columns of the first `width` metrics, comma-first.
fn tally_columns(width: usize) -> String {
    (0..width).map(|i| format!(", n{i}, d{i}")).collect()
}

/// Appends to `q` an `INSERT` of rollup rows: `sign` (1 or −1) times the counts of the
/// settled facts rows in each definition's scope (only those of `ids` when given), per month
/// and per week. `None` without definitions.
pub fn push_rollup_insert(
    q: &mut super::db::Query,
    defs: &[(i64, RollupDef)],
    sign: i64,
    ids: Option<&[i64]>,
) -> bool {
    let Some(width) = defs.iter().map(|(_, d)| d.kinds.len()).max() else {
        return false;
    };
    q.push(&format!(
        "INSERT INTO compliance_rollups ({ROLLUP_KEY}, n{}) ",
        tally_columns(width)
    ));
    let mut first = true;
    for (id, def) in defs {
        for (span, bucket) in [(SPAN_MONTH, "month"), (SPAN_WEEK, WEEK_OF)] {
            if !first {
                q.push(" UNION ALL ");
            }
            first = false;
            let mut select = format!(
                "SELECT {id}, {span}, {bucket}, channel, MIN(team), MIN(owner), {sign} * COUNT(*)"
            );
            for i in 0..width {
                match def.kinds.get(i) {
                    Some(kind) => {
                        let (num, den) = metric_terms(*kind, NEVER);
                        select.push_str(&format!(
                            ", {sign} * COALESCE(SUM({num}), 0), {sign} * COALESCE(SUM({den}), 0)"
                        ));
                    }
                    None => select.push_str(", CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)"),
                }
            }
            q.push(&format!(
                "{select} FROM conversation_facts WHERE {}",
                scope_filter(&def.scope)
            ));
            if let Some(ids) = ids {
                q.push(" AND ");
                q.push_in("conversation_id", ids.to_vec());
            }
            q.push(&format!(" GROUP BY {bucket}, channel, team_g, owner_g"));
        }
    }
    true
}

/// A definition's rollup rows of a period: `team, owner, channel, n`, then a numerator and
/// a denominator per metric, as [`groups_sql`] selects them but a group's rows not yet
/// summed ([`merge_groups`] sums them: SQLite hands rows over faster than it aggregates
/// them, and after compaction a group has one row).
pub fn rollup_read_sql(def_id: i64, width: usize, period: PeriodKey) -> String {
    let (span, buckets) = rollup_buckets(period);
    let buckets: Vec<String> = buckets.iter().map(|b| b.to_string()).collect();
    let mut counts = vec!["n".to_string()];
    for i in 0..width {
        counts.push(format!("COALESCE(n{i}, 0)"));
        counts.push(format!("COALESCE(d{i}, 0)"));
    }
    let select = format!("SELECT team, owner, channel, {}", packed(&counts));
    format!(
        "{select} FROM compliance_rollups WHERE def_id = {def_id} AND span = {span} AND \
         bucket IN ({})",
        buckets.join(", ")
    )
}

/// Integer expressions as one text column, comma-separated (see [`unpack`]): a few thousand
/// groups of tens of counts cross from the database faster as one value per row.
fn packed(counts: &[String]) -> String {
    let parts: Vec<String> = counts
        .iter()
        .map(|c| format!("CAST({c} AS TEXT)"))
        .collect();
    parts.join(" || ',' || ")
}

/// The counts of a [`packed`] column.
pub fn unpack(text: &str) -> Option<Vec<i64>> {
    text.split(',').map(|n| n.parse().ok()).collect()
}

/// What a period's rollups miss at `now`: for its rows whose running clock has run out
/// since they were written, the difference between their terms at `now` and as the rollups
/// hold them (no conversations: those are counted already). Grouped as [`groups_sql`];
/// `None` when no metric counts deadlines. While the automation keeps up, a clock that runs
/// out is soon written as missed, so these are few.
pub fn late_groups_sql(
    dialect: super::db::Dialect,
    scope: &Scope,
    metrics: &[MetricKind],
    period: PeriodKey,
    now: DateTime<Utc>,
) -> Option<String> {
    let counts = late_counts(metrics, now)?;
    Some(format!(
        "SELECT MIN(team), MIN(owner), channel, {counts} FROM {} AND {} GROUP BY month, \
         channel, team_g, owner_g",
        late_rows(dialect, now),
        scope_condition(scope, period)
    ))
}

/// [`late_groups_sql`] of consecutive periods of one kind, in one group per rollup bucket:
/// `bucket, counts` (packed).
pub fn late_totals_sql(
    dialect: super::db::Dialect,
    scope: &Scope,
    metrics: &[MetricKind],
    periods: &[PeriodKey],
    now: DateTime<Utc>,
) -> Option<String> {
    let counts = late_counts(metrics, now)?;
    let (first, last) = (periods.first()?, periods.last()?);
    let (span, _) = rollup_buckets(*first);
    let bucket = if span == SPAN_WEEK { WEEK_OF } else { "month" };
    let mut months: Vec<String> = periods
        .iter()
        .flat_map(|p| months_of(*p))
        .map(|m| m.to_string())
        .collect();
    months.dedup();
    Some(format!(
        "SELECT {bucket}, {counts} FROM {} AND month IN ({}) AND created_s >= {} AND \
         created_s < {} AND {} GROUP BY {bucket}",
        late_rows(dialect, now),
        months.join(", "),
        first.start().timestamp(),
        last.end().timestamp(),
        scope_filter(scope)
    ))
}

/// The packed counts of the late corrections at `now` (no conversations), or `None` when
/// no metric counts deadlines.
fn late_counts(metrics: &[MetricKind], now: DateTime<Utc>) -> Option<String> {
    if !metrics.iter().any(|m| counts_deadlines(*m)) {
        return None;
    }
    let now = now.timestamp();
    let mut counts = vec!["0".to_string()];
    for m in metrics {
        if counts_deadlines(*m) {
            let ((num, den), (num0, den0)) = (metric_terms(*m, now), metric_terms(*m, NEVER));
            counts.push(format!("COALESCE(SUM({num} - {num0}), 0)"));
            counts.push(format!("COALESCE(SUM({den} - {den0}), 0)"));
        } else {
            counts.extend(["0".to_string(), "0".to_string()]);
        }
    }
    Some(packed(&counts))
}

/// The facts rows whose running clock had run out at `now`: a table and a `WHERE` condition
/// that the caller continues with `AND`.
fn late_rows(dialect: super::db::Dialect, now: DateTime<Utc>) -> String {
    let now = now.timestamp();
    // SQLite's planner, without statistics, would rather scan the month by primary key.
    let index = match dialect {
        super::db::Dialect::Sqlite => " INDEXED BY conversation_facts_running",
        super::db::Dialect::Postgres => "",
    };
    format!(
        "conversation_facts{index} WHERE {RUNNING} AND (frt_due <= {now} OR nrt_due <= {now} \
         OR rt_due <= {now})"
    )
}

/// A definition's rollup totals of consecutive periods of one kind, one row per bucket:
/// `bucket, counts` (packed: conversations, then a numerator and a denominator per metric).
pub fn rollup_totals_sql(def_id: i64, width: usize, periods: &[PeriodKey]) -> String {
    let span = periods.first().map_or(SPAN_MONTH, |p| rollup_buckets(*p).0);
    let buckets: Vec<String> = periods
        .iter()
        .flat_map(|p| rollup_buckets(*p).1)
        .map(|b| b.to_string())
        .collect();
    let mut counts = vec!["SUM(n)".to_string()];
    for i in 0..width {
        counts.push(format!("COALESCE(SUM(n{i}), 0)"));
        counts.push(format!("COALESCE(SUM(d{i}), 0)"));
    }
    format!(
        "SELECT bucket, {} FROM compliance_rollups WHERE def_id = {def_id} AND span = {span} \
         AND bucket IN ({}) GROUP BY bucket",
        packed(&counts),
        if buckets.is_empty() {
            "NULL".into()
        } else {
            buckets.join(", ")
        }
    )
}

/// Merges the rollup rows of the given `(def_id, span, bucket)` keys with ids up to `upto`
/// into one row per group. PostgreSQL deletes and re-inserts in one statement, so exactly
/// the rows it deleted are summed, whatever other servers do meanwhile; SQLite's write lock
/// lets the two statements see the same rows.
pub fn compaction_sql(
    dialect: super::db::Dialect,
    keys: &[(i64, i64, i64)],
    upto: i64,
) -> Vec<String> {
    let width = promptly::limits::CONTRACT_METRICS;
    let any: Vec<String> = keys
        .iter()
        .map(|(d, s, b)| format!("(def_id = {d} AND span = {s} AND bucket = {b})"))
        .collect();
    let condition = format!("id <= {upto} AND ({})", any.join(" OR "));
    let sums: String = (0..width)
        .map(|i| format!(", SUM(n{i}), SUM(d{i})"))
        .collect();
    let insert = format!(
        "INSERT INTO compliance_rollups ({ROLLUP_KEY}, n{}) ",
        tally_columns(width)
    );
    let select = |from: &str| {
        format!(
            "SELECT {ROLLUP_KEY}, SUM(n){sums} FROM {from} GROUP BY {ROLLUP_KEY} \
             HAVING SUM(n) <> 0"
        )
    };
    match dialect {
        super::db::Dialect::Postgres => vec![format!(
            "WITH gone AS (DELETE FROM compliance_rollups WHERE {condition} RETURNING *) \
             {insert}{}",
            select("gone")
        )],
        super::db::Dialect::Sqlite => vec![
            format!(
                "{insert}{}",
                select(&format!("compliance_rollups WHERE {condition}"))
            ),
            format!("DELETE FROM compliance_rollups WHERE {condition}"),
        ],
    }
}

/// Joins the rows of one group (team, owner, channel) from several months and sorts them
/// by team, owner and channel (as `promptly::compliance::group_counts` does).
pub fn merge_groups(rows: Vec<GroupCounts>) -> Vec<GroupCounts> {
    let mut merged: std::collections::BTreeMap<
        (Option<String>, Option<String>, &'static str),
        GroupCounts,
    > = std::collections::BTreeMap::new();
    for g in rows {
        match merged.entry((g.team.clone(), g.owner.clone(), g.channel.as_str())) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(g);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let m = o.get_mut();
                m.conversations += g.conversations;
                for (a, b) in m.tallies.iter_mut().zip(g.tallies) {
                    a.0 += b.0;
                    a.1 += b.1;
                }
            }
        }
    }
    // Rollup rows of a group whose conversations all moved elsewhere cancel out.
    merged
        .into_values()
        .filter(|g| g.conversations != 0)
        .collect()
}

/// Narrows a drill-down to one group of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupFilter {
    /// The teams of a department (team keys, see [`key`]).
    Teams(Vec<String>),
    /// Conversations without a department: no team, or a team not among these keys.
    NotTeams(Vec<String>),
    Team(Option<String>),
    Owner(Option<String>),
    Channel(String),
}

fn group_condition(filter: &GroupFilter) -> String {
    let eq = |col: &str, v: &Option<String>| match v {
        Some(v) => format!("{col} = {}", lit(v)),
        None => format!("{col} IS NULL"),
    };
    let list = |teams: &[String]| {
        teams
            .iter()
            .map(|t| lit(&key(t)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match filter {
        GroupFilter::Teams(teams) if teams.is_empty() => "1 = 0".into(),
        GroupFilter::Teams(teams) => format!("team_key IN ({})", list(teams)),
        GroupFilter::NotTeams(teams) if teams.is_empty() => "1 = 1".into(),
        GroupFilter::NotTeams(teams) => {
            format!("(team_key IS NULL OR team_key NOT IN ({}))", list(teams))
        }
        GroupFilter::Team(t) => eq("team", t),
        GroupFilter::Owner(o) => eq("owner", o),
        GroupFilter::Channel(c) => format!("channel = {}", lit(c)),
    }
}

/// The conversations behind one metric's number (those it counts: denominator > 0) in a
/// period, optionally in one group; the worst first. Columns: `conversation_id,
/// external_id, created_s, channel, team, owner, first_response_s, abandoned_s, num, den`.
pub fn drill_sql(
    scope: &Scope,
    metric: MetricKind,
    period: PeriodKey,
    group: Option<&GroupFilter>,
    now: DateTime<Utc>,
    limit: i64,
) -> String {
    let (num, den) = metric_terms(metric, now.timestamp());
    let mut condition = scope_condition(scope, period);
    if let Some(g) = group {
        condition.push_str(" AND ");
        condition.push_str(&group_condition(g));
    }
    let order = if metric.higher_is_better() {
        "ratio ASC"
    } else {
        "ratio DESC"
    };
    format!(
        "SELECT f.conversation_id, c.external_id, f.created_s, f.channel, f.team, f.owner, \
         f.first_response_s, f.abandoned_s, CAST(f.num AS BIGINT) AS num, \
         CAST(f.den AS BIGINT) AS den FROM (SELECT conversation_id, created_s, channel, team, \
         owner, first_response_s, abandoned_s, {num} AS num, {den} AS den, \
         CAST({num} AS DOUBLE PRECISION) / {den} AS ratio FROM conversation_facts \
         WHERE {condition} AND {den} > 0) f JOIN conversations c ON c.id = f.conversation_id \
         ORDER BY {order}, f.created_s DESC, f.conversation_id LIMIT {limit}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_of_periods() {
        let m = |p: &str| months_of(PeriodKey::parse(p).unwrap());
        assert_eq!(m("2026-11"), [2026 * 12 + 10]);
        assert_eq!(
            m("2026-Q4"),
            [2026 * 12 + 9, 2026 * 12 + 10, 2026 * 12 + 11]
        );
        // 2026-W01 runs from 29 December 2025 to 4 January 2026.
        assert_eq!(m("2026-W01"), [2025 * 12 + 11, 2026 * 12]);
    }

    #[test]
    fn literals_double_quotes_and_drop_nul() {
        assert_eq!(lit("O'Brien\0"), "'O''Brien'");
        assert_eq!(like_lit("50%_a\\"), "50\\%\\_a\\\\");
    }

    #[test]
    fn scopes_become_conditions() {
        let scope = Scope {
            teams: vec![" Billing ".into()],
            labels: vec!["V'IP".into()],
            email_domains: vec!["bigcorp.com".into(), "@x.org".into()],
            ..Scope::default()
        };
        let sql = scope_condition(&scope, PeriodKey::parse("2026-11").unwrap());
        assert!(sql.contains("team_key IN ('billing')"), "{sql}");
        assert!(sql.contains("labels_key LIKE '%|v''ip|%'"), "{sql}");
        assert!(
            sql.contains("(email_host = 'bigcorp.com' OR email_host LIKE '%.bigcorp.com'"),
            "{sql}"
        );
        assert!(sql.contains("email_host = 'x.org'"), "{sql}");
    }
}
