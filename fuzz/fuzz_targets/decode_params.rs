//! `cargo +nightly fuzz run decode_params`: see `run_decode_params` in `fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ecs_emulator_fuzz::run_decode_params(data));
