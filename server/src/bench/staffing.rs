//! `promptly bench staffing CASES.jsonl`: the Erlang C staffing grid of
//! `shared/bench/erlang_peer.py` (pyworkforce), same answers, same hash.
//!
//! Reads one case a line (`transactions`, `aht_min`, `interval_min`, `asa_min`,
//! `service_level`, `max_occupancy`, `shrinkage`), computes `raw_positions` and `positions`
//! exactly as pyworkforce's `ErlangC.required_positions` defines them
//! (`promptly::staffing`), and prints `cases_per_s=<float> n=<int> sha256=<hex>` with the
//! hash over the lines `"<raw_positions>,<positions>\n"` in case order, like the script.

use promptly::staffing::{try_bench_lines, StaffingCase};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// Repeats the grid until this much time has been measured.
const MEASURE_AT_LEAST: Duration = Duration::from_millis(500);

pub fn run(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: StaffingCase = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: not a staffing case: {e}", path.display(), i + 1))?;
        cases.push(case);
    }
    if cases.is_empty() {
        return Err(format!("{} holds no cases", path.display()));
    }
    let lines = try_bench_lines(&cases)
        .map_err(|e| format!("{}:{}: {}", path.display(), e.index + 1, e.error))?;
    let mut runs = 0usize;
    let began = Instant::now();
    while began.elapsed() < MEASURE_AT_LEAST {
        black_box(try_bench_lines(black_box(&cases)).map_err(|e| e.error.to_string())?);
        runs += 1;
    }
    let rate = (runs * cases.len()) as f64 / began.elapsed().as_secs_f64();
    let hash = crate::signing::hex(&Sha256::digest(lines.as_bytes()));
    Ok(format!(
        "cases_per_s={rate:.1} n={} sha256={hash}",
        cases.len()
    ))
}
