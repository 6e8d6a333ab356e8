//! `cargo fuzz run rule_json`: the check is `promptly::fuzzing::rule_json`, shared with the corpus test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| promptly::fuzzing::rule_json(data));
