//! Replays the fuzz targets' committed inputs (`fuzz/corpus/<target>/`, and the crashes they
//! found, `fuzz/regressions/<target>/`) through the targets' checks on stable, so that
//! `cargo test` holds every input the fuzzer kept; `scripts/fuzz.sh` finds new ones.

use promptly::fuzzing;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The published patterns, compiled once each as JSON Schema validators read them.
fn admits(pattern: &'static str, text: &str) -> bool {
    static COMPILED: OnceLock<HashMap<&'static str, regex::Regex>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(|| {
        fuzzing::PATTERNS
            .into_iter()
            .map(|p| (p, regex::Regex::new(&fuzzing::ecma_regex(p)).unwrap()))
            .collect()
    });
    compiled[pattern].is_match(text)
}

/// Every file of `fuzz/corpus/<target>` and `fuzz/regressions/<target>`, through `check`;
/// a failing input is named.
fn replay(target: &str, check: impl Fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        files.extend(entries.map(|e| e.unwrap().path()));
    }
    assert!(!files.is_empty(), "no inputs for {target}");
    files.sort();
    for file in files {
        let data = std::fs::read(&file).unwrap();
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{}: {message}", file.display());
        }
    }
}

#[test]
fn event_json() {
    replay("event_json", fuzzing::event_json);
}

#[test]
fn rule_json() {
    replay("rule_json", fuzzing::rule_json);
}

#[test]
fn calendar() {
    replay("calendar", fuzzing::calendar);
}

#[test]
fn duration() {
    replay("duration", |data| fuzzing::duration(data, &admits));
}

#[test]
fn sla_check() {
    replay("sla_check", fuzzing::sla_check);
}
