//! Deadline throughput of the business-hours engine on the shared calendar workload.
//!
//! Reads the cases written by `shared/bench/calendar_peers.py gen N FILE` (one JSON object
//! `{"start": RFC 3339, "target_s": int}` per line), builds that script's calendar
//! (Europe/Amsterdam, Monday to Friday 09:00-17:00, its holidays) and times only the deadline
//! computation. The deadlines are hashed exactly as the script hashes its own (UTC RFC 3339
//! with a Z, one per line, newline-terminated), so equal sha256 means equal answers.

use promptly::{BusinessCalendar, SlaDuration};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// The script's calendar, in the shape admins write.
const CALENDAR: &str = r#"{
    "timezone": "Europe/Amsterdam",
    "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
              "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
    "holidays": [
        "2026-01-01", "2026-04-27", "2026-05-05", "2026-12-25", "2026-12-26",
        "2027-01-01", "2027-04-27", "2027-05-05", "2027-12-25", "2027-12-26",
        "2028-01-01", "2028-04-27", "2028-05-05", "2028-12-25", "2028-12-26",
        "2026-04-03", "2026-04-06", "2026-05-14", "2026-05-25",
        "2027-03-26", "2027-03-29", "2027-05-06", "2027-05-17"]
}"#;

/// Repeats the whole workload until this much time has been measured, so a run of a few
/// milliseconds is not all timer noise.
const MEASURE_AT_LEAST: Duration = Duration::from_millis(500);

#[derive(serde::Deserialize)]
struct Case {
    start: String,
    target_s: i64,
}

/// Runs the benchmark; returns `deadlines_per_s=<float> n=<int> sha256=<hex>`.
pub fn run(cases_path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(cases_path)
        .map_err(|e| format!("{}: {e}", cases_path.display()))?;
    let mut cases = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case: Case = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: {e}", cases_path.display(), i + 1))?;
        let start = chrono::DateTime::parse_from_rfc3339(&case.start)
            .map_err(|e| format!("{}:{}: start: {e}", cases_path.display(), i + 1))?
            .with_timezone(&chrono::Utc);
        let target = SlaDuration::from_secs(case.target_s)
            .ok_or_else(|| format!("{}:{}: bad target_s", cases_path.display(), i + 1))?;
        cases.push((start, target));
    }
    let (first, last) = match (
        cases.iter().map(|c| c.0).min(),
        cases.iter().map(|c| c.0).max(),
    ) {
        (Some(first), Some(last)) => (first, last),
        _ => return Err(format!("{}: no cases", cases_path.display())),
    };
    let calendar: BusinessCalendar =
        serde_json::from_str(CALENDAR).map_err(|e| format!("calendar: {e}"))?;
    // Building the table is part of building the calendar, not of computing deadlines.
    calendar.precompute(
        first.date_naive() - chrono::Duration::days(7),
        last.date_naive() + chrono::Duration::days(400),
    );

    let mut deadlines = Vec::with_capacity(cases.len());
    let mut computed = 0_u64;
    let mut elapsed = Duration::ZERO;
    while elapsed < MEASURE_AT_LEAST {
        deadlines.clear();
        let began = Instant::now();
        for &(start, target) in black_box(&cases) {
            deadlines.push(calendar.add_open_time(start, target));
        }
        black_box(&deadlines);
        elapsed += began.elapsed();
        computed += cases.len() as u64;
    }

    let mut hasher = Sha256::new();
    for deadline in &deadlines {
        let deadline = deadline.ok_or("the calendar never opens again")?;
        hasher.update(deadline.format("%Y-%m-%dT%H:%M:%SZ\n").to_string());
    }
    let hex = crate::signing::hex(&hasher.finalize());
    Ok(format!(
        "deadlines_per_s={:.1} n={} sha256={hex}",
        computed as f64 / elapsed.as_secs_f64(),
        cases.len()
    ))
}
