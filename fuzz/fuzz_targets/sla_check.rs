//! `cargo fuzz run sla_check`: the check is `promptly::fuzzing::sla_check`, shared with the corpus test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| promptly::fuzzing::sla_check(data));
