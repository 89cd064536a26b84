//! `cargo +nightly fuzz run signature`: see `run_signature` in `fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ecs_emulator_fuzz::run_signature(data));
