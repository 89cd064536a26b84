//! `cargo +nightly fuzz run data_file`: see `run_data_file` in `fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ecs_emulator_fuzz::run_data_file(data));
