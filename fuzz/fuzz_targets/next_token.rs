//! `cargo +nightly fuzz run next_token`: see `run_next_token` in `fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ecs_emulator_fuzz::run_next_token(data));
