//! `cargo +nightly fuzz run control_plane`: see `run_control_plane` in `fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ecs_emulator_fuzz::run_control_plane(data));
