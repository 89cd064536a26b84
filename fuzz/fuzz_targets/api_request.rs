//! `cargo +nightly fuzz run api_request`: see `run_api_request` in `fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ecs_emulator_fuzz::run_api_request(data));
