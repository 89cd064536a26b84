//! Every flag of the server has an `ECS_EMULATOR_*` environment twin, and setting the twin does
//! what the flag does: parsed to the same value for every flag (the list comes from clap, so a
//! new flag without a twin fails here), and seen in the running binary for most of them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use clap::{ArgAction, CommandFactory, Parser};
use ecs_emulator::cli::Cli;

/// clap reads the environment when it parses, and a child inherits it when spawned: whatever
/// sets variables or spawns in this file holds this lock.
static ENV: Mutex<()> = Mutex::new(());

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/fixture.json");

/// A value for a flag of the server that differs from its default. A new flag needs one here.
fn sample(flag: &str) -> Option<&'static str> {
    Some(match flag {
        "listen" => "127.0.0.1:19080",
        "data" => FIXTURE,
        "state-file" => "/tmp/ecs-emulator-env-twins.sqlite",
        "signature" => "strict",
        "admin-token" => "s3cret",
        "requests-limit" => "7",
        "requests-bytes" => "4096",
        "request-timeout" => "5",
        "max-connections" => "3",
        "log-format" => "json",
        _ => return None,
    })
}

/// The flags of the server (the top-level command, which serves): long name and env twin.
fn serve_flags() -> Vec<(String, Option<String>)> {
    Cli::command()
        .get_arguments()
        .filter(|arg| !matches!(arg.get_action(), ArgAction::Help | ArgAction::Version))
        .map(|arg| {
            let long = arg.get_long().unwrap_or_else(|| {
                panic!(
                    "{}: every flag of the server is a --long flag",
                    arg.get_id()
                )
            });
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            (long.to_owned(), env)
        })
        .collect()
}

/// `ECS_EMULATOR_` and the flag's name in upper case, `-` as `_`.
fn twin_name(flag: &str) -> String {
    format!("ECS_EMULATOR_{}", flag.to_uppercase().replace('-', "_"))
}

/// The variables the emulator reads: the twins (the healthcheck's --listen shares
/// `ECS_EMULATOR_LISTEN`) and `RUST_LOG`.
fn all_twins() -> Vec<String> {
    let mut twins: Vec<String> = serve_flags().iter().map(|(f, _)| twin_name(f)).collect();
    twins.push("RUST_LOG".to_owned());
    twins
}

/// What the server is started with, parsed from `args` with only `env` set among the twins.
fn parsed(args: &[&str], env: &[(&str, &str)]) -> String {
    for twin in all_twins() {
        std::env::remove_var(twin);
    }
    for (key, value) in env {
        std::env::set_var(key, value);
    }
    let cli = Cli::try_parse_from(std::iter::once("ecs-emulator").chain(args.iter().copied()));
    for (key, _) in env {
        std::env::remove_var(key);
    }
    let cli = cli.unwrap_or_else(|e| panic!("{args:?} {env:?}: {e}"));
    assert!(cli.command.is_none());
    format!("{:?}", cli.serve)
}

#[test]
fn every_flag_of_the_server_has_its_env_twin() {
    let flags = serve_flags();
    assert!(flags.len() >= 10, "{flags:?}");
    for (flag, env) in &flags {
        assert_eq!(
            env.as_deref(),
            Some(twin_name(flag).as_str()),
            "--{flag} needs `env = \"{}\"` in src/cli.rs (and a row in the README's Flags)",
            twin_name(flag)
        );
        assert!(
            sample(flag).is_some(),
            "--{flag}: add a value that differs from its default to sample() in this file"
        );
    }
}

#[test]
fn each_twin_parses_to_what_its_flag_does() {
    let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let default = parsed(&[], &[]);
    for (flag, _) in serve_flags() {
        let value = sample(&flag).unwrap();
        let twin = twin_name(&flag);
        let by_flag = parsed(&[&format!("--{flag}"), value], &[]);
        let by_env = parsed(&[], &[(&twin, value)]);
        assert_eq!(by_env, by_flag, "{twin}={value} against --{flag} {value}");
        assert_ne!(by_flag, default, "--{flag} {value} changes nothing");
        // The flag wins over its twin, as clap documents.
        let both = parsed(&[&format!("--{flag}"), value], &[(&twin, "not-a-value")]);
        assert_eq!(both, by_flag, "--{flag} and {twin} both set");
    }
}

/// The built binary, started with only `env` among the twins (and --listen from the env).
struct Emulator {
    child: Child,
    addr: SocketAddr,
    ready_line: String,
}

impl Emulator {
    fn start(env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-emulator"));
        for twin in all_twins() {
            command.env_remove(twin);
        }
        let mut child = {
            let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            command
                .env("ECS_EMULATOR_LISTEN", "127.0.0.1:0")
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("the binary starts")
        };
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (ready_line, addr) = loop {
            let line = lines
                .next()
                .expect("the emulator printed its ready line before exiting")
                .unwrap();
            if let Some(rest) = line.split("ecs-emulator ready on http://").nth(1) {
                let addr = rest
                    .split(|c: char| c.is_whitespace() || c == '"')
                    .next()
                    .unwrap()
                    .parse()
                    .expect("the ready line shows the address");
                break (line, addr);
            }
        };
        // Keep draining stdout so that logging never blocks the server.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            addr,
            ready_line,
        }
    }

    /// GET `target` with the given headers: the status and the body.
    fn get(&self, target: &str, headers: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: emulator.test\r\n{headers}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
        (status, body.to_owned())
    }

    fn list_plugin_status(&self) -> (u16, String) {
        self.get(
            "/?Action=ListPluginStatus&Version=2014-05-26&Format=JSON&RegionId=cn-hangzhou\
             &Name=ecs_tools_test&AccessKeyId=LTAI5tDemoKey0001",
            "",
        )
    }

    fn state(&self, headers: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.get("/_emulator/state", headers);
        (status, serde_json::from_str(&body).unwrap_or_default())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn code(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    json["Code"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn the_binary_follows_the_twins() {
    // ECS_EMULATOR_LISTEN: every emulator here gets its address from it alone.
    let plain = Emulator::start(&[]);
    assert_ne!(plain.addr.port(), 0);
    assert!(!plain.ready_line.starts_with('{'), "{}", plain.ready_line);
    assert_eq!(plain.list_plugin_status().0, 200);
    let (status, state) = plain.state("");
    assert_eq!(status, 200);
    assert_eq!(state["accounts"][0]["accountId"], "1234567890123456");

    let json = Emulator::start(&[("ECS_EMULATOR_LOG_FORMAT", "json")]);
    let line: serde_json::Value = serde_json::from_str(&json.ready_line)
        .unwrap_or_else(|e| panic!("not a JSON line ({e}): {}", json.ready_line));
    assert!(line["fields"]["message"]
        .as_str()
        .unwrap()
        .starts_with("ecs-emulator ready on http://"));

    let data = Emulator::start(&[("ECS_EMULATOR_DATA", FIXTURE)]);
    assert_eq!(
        data.state("").1["accounts"][0]["accountId"],
        "1111111111111111"
    );

    let strict = Emulator::start(&[("ECS_EMULATOR_SIGNATURE", "strict")]);
    let (status, body) = strict.list_plugin_status();
    assert_eq!((status, code(&body).as_str()), (400, "IncompleteSignature"));

    let guarded = Emulator::start(&[("ECS_EMULATOR_ADMIN_TOKEN", "s3cret")]);
    assert_eq!(guarded.state("").0, 401);
    assert_eq!(guarded.state("Authorization: Bearer s3cret\r\n").0, 200);

    let forgetful = Emulator::start(&[("ECS_EMULATOR_REQUESTS_LIMIT", "0")]);
    assert_eq!(forgetful.list_plugin_status().0, 200);
    let (_, requests) = forgetful.get("/_emulator/requests", "");
    assert_eq!(requests, r#"{"requests":[]}"#);
    assert_eq!(
        plain
            .get("/_emulator/requests", "")
            .1
            .matches("\"action\"")
            .count(),
        1
    );

    let dir = temp_dir("state-file");
    let file = dir.join("state.sqlite");
    let durable = Emulator::start(&[("ECS_EMULATOR_STATE_FILE", file.to_str().unwrap())]);
    assert_eq!(durable.list_plugin_status().0, 200);
    assert!(file.is_file(), "{} was not created", file.display());
}

#[test]
fn healthcheck_asks_the_address_in_its_twin() {
    let emulator = Emulator::start(&[]);
    let healthcheck = |listen: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-emulator"));
        for twin in all_twins() {
            command.env_remove(twin);
        }
        let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        command
            .arg("healthcheck")
            .env("ECS_EMULATOR_LISTEN", listen)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(healthcheck(&emulator.addr.to_string()), Some(0));
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(healthcheck(&closed.to_string()), Some(1));
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ecs-emulator-env-twins-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
