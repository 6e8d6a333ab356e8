//! `cargo fuzz run duration`: the check is `promptly::fuzzing::duration`, shared with the
//! corpus test; the published patterns are compiled here once.
#![no_main]

use promptly::fuzzing;
use std::collections::HashMap;
use std::sync::OnceLock;

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

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::duration(data, &admits));
