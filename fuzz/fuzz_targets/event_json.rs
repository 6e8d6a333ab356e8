//! `cargo fuzz run event_json`: the check is `promptly::fuzzing::event_json`, shared with the corpus test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| promptly::fuzzing::event_json(data));
