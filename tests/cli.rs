//! The subcommands: `generate` and `check-data`.

use std::path::PathBuf;
use std::process::Command;

fn emulator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ecs-emulator"))
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ecs-emulator-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn generate(args: &[&str]) -> Vec<u8> {
    let output = emulator().arg("generate").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn generate_is_deterministic_for_a_seed_and_check_data_accepts_it() {
    let args = [
        "--instances",
        "120",
        "--plugins-per-instance",
        "9",
        "--regions",
        "4",
        "--seed",
        "7",
    ];
    let first = generate(&args);
    assert_eq!(first, generate(&args), "same seed, same file");
    let other_seed = generate(&[
        "--instances",
        "120",
        "--plugins-per-instance",
        "9",
        "--regions",
        "4",
        "--seed",
        "8",
    ]);
    assert_ne!(first, other_seed);

    let file = temp_file("generated.json", &first);
    let output = emulator().arg("check-data").arg(&file).output().unwrap();
    assert!(output.status.success());
    let summary = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        summary.trim(),
        format!(
            "{}: ok: 1 accounts, 9 catalog plug-ins, 120 instances in 4 regions, 1080 plug-in records",
            file.display()
        )
    );
}

#[test]
fn check_data_accepts_the_shipped_demo_data() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo.json");
    let output = emulator().args(["check-data", demo]).output().unwrap();
    assert!(output.status.success());
    let summary = String::from_utf8(output.stdout).unwrap();
    assert!(
        summary.contains(": ok: 2 accounts, 6 catalog plug-ins, 20 instances in 4 regions"),
        "{summary}"
    );
}

#[test]
fn check_data_names_file_line_column_and_problem() {
    let cases: [(&str, &str, &str); 5] = [
        ("syntax.json", "{\n  \"instances\": [\n    {\"instanceId\": \"i-1\",}\n  ]\n}", ":3:"),
        ("status.json", "{\"instances\": [\n {\"instanceId\": \"i-1\", \"regionId\": \"r\",\n  \"plugins\": [{\"name\": \"p\", \"status\": \"Asleep\"}]}]}", ":3:"),
        ("time.json", "{\"instances\": [\n {\"instanceId\": \"i-1\", \"regionId\": \"r\",\n  \"plugins\": [{\"name\": \"p\", \"status\": \"Running\",\n   \"lastHeartbeatTime\": \"yesterday\"}]}]}", ":4:"),
        ("duplicate.json", "{\"instances\": [\n {\"instanceId\": \"i-1\", \"regionId\": \"r\"},\n {\"instanceId\": \"i-1\", \"regionId\": \"s\"}]}", ":3:17:"),
        ("unknown-field.json", "{\"instances\": [],\n \"acounts\": []}", ":2:"),
    ];
    for (name, text, position) in cases {
        let file = temp_file(name, text.as_bytes());
        let output = emulator().arg("check-data").arg(&file).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let expected = format!("{}{position}", file.display());
        assert!(stderr.starts_with(&expected), "{name}: {stderr}");
    }
    let missing = emulator()
        .args(["check-data", "/nonexistent/fixture.json"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/fixture.json"));
}
