//! `cargo fuzz run calendar`: the check is `promptly::fuzzing::calendar`, shared with the corpus test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| promptly::fuzzing::calendar(data));
