//! Replays every input kept in `fuzz/regressions/<target>/` through the same runner the
//! cargo-fuzz target uses (`fuzz/src/lib.rs`), under plain `cargo test` on stable: a crash the
//! fuzzers once found, and a sample of their corpus, stay fixed.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)] // shared with tests/properties.rs, which uses the rest
mod harness;

use std::path::{Path, PathBuf};

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions")
}

/// The files of one target's directory, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = regressions().join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, run) = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let files = inputs(target);
    assert!(!files.is_empty(), "no regression inputs for {target}");
    for path in files {
        let data = std::fs::read(&path).expect("a readable input");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{} fails again", path.display());
    }
}

#[test]
fn every_regression_directory_belongs_to_a_target() {
    for entry in std::fs::read_dir(regressions()).expect("fuzz/regressions exists") {
        let name = entry.expect("an entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            harness::TARGETS.iter().any(|(target, _)| *target == name),
            "fuzz/regressions/{name} is no target's"
        );
    }
}

#[test]
fn decode_params() {
    replay("decode_params");
}

#[test]
fn api_request() {
    replay("api_request");
}

#[test]
fn next_token() {
    replay("next_token");
}

#[test]
fn signature() {
    replay("signature");
}

#[test]
fn data_file() {
    replay("data_file");
}

#[test]
fn control_plane() {
    replay("control_plane");
}
