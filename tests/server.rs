//! The built binary over a real socket: the ready line on port 0, malformed input, limits,
//! slow clients, graceful shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const QUERY: &str = "Action=ListPluginStatus&Version=2014-05-26&Format=JSON&RegionId=cn-hangzhou&Name=ecs_tools_test";

/// A running emulator, stopped when dropped.
struct Emulator {
    child: Child,
    addr: SocketAddr,
}

impl Emulator {
    fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .env_remove("ECS_EMULATOR_DATA")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the emulator printed its ready line before exiting")
                .expect("stdout is text");
            if let Some(rest) = line.split("ecs-emulator ready on http://").nth(1) {
                break rest
                    .trim()
                    .parse()
                    .expect("the ready line ends with the address");
            }
        };
        // Keep draining stdout so that logging never blocks the server.
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr }
    }

    /// Sends raw bytes on a new connection and reads the whole response.
    fn raw(&self, request: &[u8]) -> Response {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        // A server may answer and close before the whole request is written.
        let _ = stream.write_all(request);
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        Response::parse(&bytes)
    }

    fn get(&self, query: &str) -> Response {
        self.raw(
            format!("GET /?{query} HTTP/1.1\r\nHost: emulator.test\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
    }

    fn post_form(&self, body: &[u8]) -> Response {
        let mut request = format!(
            "POST / HTTP/1.1\r\nHost: emulator.test\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.raw(&request)
    }

    fn assert_serving(&self) {
        let reply = self.get(QUERY);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["TotalCount"], 12);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Self {
            status,
            head: head.to_owned(),
            body: body.to_owned(),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn code(&self) -> String {
        self.json()["Code"].as_str().unwrap_or_default().to_owned()
    }
}

#[test]
fn serves_on_port_zero_and_answers_over_a_socket() {
    let emulator = Emulator::start(&[]);
    assert_ne!(emulator.addr.port(), 0);
    let reply = emulator.get(QUERY);
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .head
            .to_ascii_lowercase()
            .contains("x-acs-request-id: "),
        "{}",
        reply.head
    );
    let body = reply.json();
    assert_eq!(body["PageSize"], 10);
    assert_eq!(
        body["InstancePluginStatusSet"]["InstancePluginStatus"][0]["InstanceId"],
        "i-bp1iudwa5b1tqa0001"
    );
    // Errors name the request's Host.
    let reply = emulator.get("Action=ListPluginStatus&Version=2014-05-26&Format=JSON");
    assert_eq!(reply.json()["HostId"], "emulator.test");
}

#[test]
fn malformed_input_gets_an_envelope_and_the_server_keeps_serving() {
    let emulator = Emulator::start(&[]);
    let cases: Vec<(&str, Response, u16, &str)> = vec![
        ("bad percent-encoding", emulator.get(&format!("{QUERY}&PageSize=%G1")), 400, "InvalidParameter"),
        ("truncated percent-encoding", emulator.get(&format!("{QUERY}&PageSize=1%")), 400, "InvalidParameter"),
        ("non-UTF-8 in the query", emulator.get(&format!("{QUERY}&InstanceId.1=%C3%28")), 400, "InvalidParameter"),
        ("non-UTF-8 in a form body", emulator.post_form(b"Action=ListPluginStatus&Version=2014-05-26&Format=JSON&RegionId=\xff\xfe"), 400, "InvalidParameter"),
        ("a huge value in the query", emulator.get(&format!("Action=ListPluginStatus&Version=2014-05-26&Format=JSON&RegionId=cn-hangzhou&Name={}", "n".repeat(50_000))), 400, "InvalidParameter"),
        ("a huge value in a form body", emulator.post_form(format!("Action=ListPluginStatus&Version=2014-05-26&Format=JSON&RegionId=cn-hangzhou&Name={}", "n".repeat(900_000)).as_bytes()), 400, "InvalidParameter"),
        ("a huge token", emulator.get(&format!("{QUERY}&NextToken={}", "A".repeat(40_000))), 400, "InvalidParameter.NextToken"),
        ("thousands of parameters", emulator.get(&format!("{QUERY}{}", (0..3_000).map(|i| format!("&p{i}=1")).collect::<String>())), 400, "InvalidParameter.TooManyParameters"),
        ("thousands of form parameters", emulator.post_form((0..5_000).map(|i| format!("p{i}=1&")).collect::<String>().as_bytes()), 400, "InvalidParameter.TooManyParameters"),
        ("an oversized body", emulator.post_form(&vec![b'a'; 2 << 20]), 413, "InvalidParameter.BodyTooLarge"),
        ("a long query", emulator.get(&format!("{QUERY}&Pad={}", "x".repeat(62_000))), 414, "InvalidParameter.QueryTooLong"),
        ("a huge PageNumber", emulator.get(&format!("{QUERY}&PageNumber={}", "9".repeat(5_000))), 400, "InvalidParam.PageNumber"),
    ];
    for (what, reply, status, code) in cases {
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        assert_eq!(reply.code(), code, "{what}");
        assert!(
            reply.json()["Message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    // Beyond what HTTP/1 framing can carry the HTTP layer refuses on its own; still a 4xx.
    let reply = emulator.get(&format!("{QUERY}&Pad={}", "x".repeat(70_000)));
    assert_eq!(reply.status, 414);
    let reply = emulator.raw(b"GET /?Name=\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(reply.status, 400);
    let reply = emulator.raw(b"\x16\x03\x01garbage that is not HTTP\r\n\r\n");
    assert!(
        (400..500).contains(&reply.status) || reply.status == 0,
        "{reply:?}"
    );
    emulator.assert_serving();
}

#[test]
fn a_client_too_slow_with_its_headers_is_cut_off() {
    let emulator = Emulator::start(&[]);
    let mut slow = TcpStream::connect(emulator.addr).unwrap();
    slow.write_all(b"GET /?Action=ListPluginStatus HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    // The server closes the connection (after at most a 408) instead of waiting forever.
    let read = slow.read_to_end(&mut rest);
    assert!(read.is_ok(), "the connection was not closed: {read:?}");
    emulator.assert_serving();
}

#[test]
fn sigterm_stops_it_cleanly() {
    let mut emulator = Emulator::start(&[]);
    emulator.assert_serving();
    let pid = emulator.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = emulator.child.wait().expect("the emulator exits");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_bad_data_file_stops_start_up_with_its_position() {
    let dir = std::env::temp_dir().join(format!("ecs-emulator-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.json");
    std::fs::write(&file, "{\n  \"instances\": [\n    {\"instanceId\": \"i-1\", \"regionId\": \"cn-hangzhou\", \"plugins\": [{\"name\": \"p\", \"status\": \"Running\", \"version\": 1}]}\n  ]\n}\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ecs-emulator"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:3:", file.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("invalid type: integer `1`, expected a string"),
        "{stderr}"
    );
}

#[test]
fn the_data_flag_has_an_environment_twin() {
    let dir = std::env::temp_dir().join(format!("ecs-emulator-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("one.json");
    std::fs::write(&file, r#"{"instances": [{"instanceId": "i-only", "regionId": "cn-hangzhou", "plugins": [{"name": "ecs_tools_test", "version": "9", "status": "Running"}]}]}"#).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-emulator"))
        .env("ECS_EMULATOR_LISTEN", "127.0.0.1:0")
        .env("ECS_EMULATOR_DATA", &file)
        .env("ECS_EMULATOR_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .find_map(|l| l.ok().filter(|l| l.contains("ready on http://")))
        .expect("ready line");
    std::thread::spawn(move || for _ in lines {});
    let log: serde_json::Value = serde_json::from_str(&ready).expect("JSON log line");
    let message = log["fields"]["message"].as_str().unwrap();
    let addr: SocketAddr = message.rsplit("http://").next().unwrap().parse().unwrap();
    let emulator = Emulator { child, addr };
    let reply = emulator.get(QUERY);
    assert_eq!(reply.json()["TotalCount"], 1);
}

/// `ecs-emulator healthcheck` as a container runs it: 0 against a ready emulator, 1 when
/// nothing listens there, and the admin token does not get in its way.
#[test]
fn healthcheck_exits_zero_only_when_the_emulator_is_ready() {
    let healthcheck = |addr: &str| {
        Command::new(env!("CARGO_BIN_EXE_ecs-emulator"))
            .args(["healthcheck", "--listen", addr])
            .env_remove("ECS_EMULATOR_LISTEN")
            .output()
            .expect("the binary runs")
    };
    let emulator = Emulator::start(&["--admin-token", "s3cret"]);
    let ok = healthcheck(&emulator.addr.to_string());
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // The unspecified address is asked on loopback, as in a container listening on 0.0.0.0.
    let any = healthcheck(&format!("0.0.0.0:{}", emulator.addr.port()));
    assert!(
        any.status.success(),
        "{}",
        String::from_utf8_lossy(&any.stderr)
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = closed.local_addr().unwrap();
    drop(closed);
    let down = healthcheck(&free.to_string());
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("healthcheck"));
}

/// `--admin-token` and `--requests-limit` on the real binary: the control plane wants the
/// token, and the journal keeps only the newest requests.
#[test]
fn admin_token_and_requests_limit_flags() {
    let emulator = Emulator::start(&["--admin-token", "t0ken", "--requests-limit", "2"]);
    let admin = |authorization: &str| {
        emulator.raw(
            format!(
                "GET /_emulator/requests HTTP/1.1\r\nHost: emulator.test\r\n{authorization}Connection: close\r\n\r\n"
            )
            .as_bytes(),
        )
    };
    assert_eq!(admin("").status, 401);
    assert_eq!(admin("Authorization: Bearer wrong\r\n").status, 401);
    for _ in 0..3 {
        emulator.assert_serving();
    }
    let reply = admin("Authorization: Bearer t0ken\r\n");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["requests"].as_array().unwrap().len(), 2);
}

impl Emulator {
    /// `GET` of a control-plane path (no token).
    fn admin_get(&self, path: &str) -> Response {
        self.raw(
            format!("GET {path} HTTP/1.1\r\nHost: emulator.test\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
    }

    /// The journal as `GET /_emulator/requests` shows it.
    fn journal(&self) -> (Vec<serde_json::Value>, usize) {
        let reply = self.admin_get("/_emulator/requests");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let requests = reply.json()["requests"].as_array().unwrap().clone();
        (requests, reply.body.len())
    }

    /// The emulator's resident set in KiB (Linux), `None` elsewhere.
    fn resident_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

/// A form body asking for `ListPluginStatus` with the given extra parameters.
fn form_with(extra: &str) -> Vec<u8> {
    format!("{QUERY}&{extra}").into_bytes()
}

/// The journal is bounded in bytes (`--requests-bytes`): big requests push the oldest out, and
/// a value too long to keep whole is kept cut with a visible marker.
#[test]
fn the_journal_stays_within_its_byte_bound_and_shows_cut_values() {
    let bound = 1 << 20;
    let emulator = Emulator::start(&["--requests-bytes", &bound.to_string()]);
    // 200 parameters of 4,000 bytes: about 820 KB kept per request, so 1 MiB holds one.
    let many: String = (0..200)
        .map(|i| format!("P{i}={}", "v".repeat(4_000)))
        .collect::<Vec<_>>()
        .join("&");
    for _ in 0..10 {
        let reply = emulator.post_form(&form_with(&many));
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let (requests, shown) = emulator.journal();
    assert!((1..=2).contains(&requests.len()), "{}", requests.len());
    assert!(shown <= bound + (64 << 10), "{shown} bytes shown");

    let reply = emulator.post_form(&form_with(&format!("Pad={}", "n".repeat(900_000))));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (requests, _) = emulator.journal();
    let pad = requests[0]["params"]["Pad"].as_str().unwrap();
    assert!(pad.ends_with("…[cut: 900000 bytes in all]"), "{pad}");
    assert!(pad.starts_with(&"n".repeat(4_096)) && pad.len() < 4_200);
}

/// 160 requests with 900 KB bodies: the journal keeps them (cut), and the resident set does not
/// grow by what they carried (about 140 MB if kept whole).
#[test]
fn large_requests_do_not_grow_memory_with_the_default_bounds() {
    let emulator = Emulator::start(&[]);
    emulator.assert_serving();
    let before = emulator.resident_kib();
    let body = form_with(&format!("Pad={}", "n".repeat(900_000)));
    for _ in 0..160 {
        let reply = emulator.post_form(&body);
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let (requests, shown) = emulator.journal();
    assert_eq!(requests.len(), 161);
    assert!(shown < 2 << 20, "{shown} bytes shown");
    if let (Some(before), Some(after)) = (before, emulator.resident_kib()) {
        let grown_mib = after.saturating_sub(before) / 1024;
        assert!(grown_mib < 64, "the resident set grew by {grown_mib} MiB");
    }
}

/// `--requests-limit 0` and `--requests-bytes 0` keep nothing.
#[test]
fn a_journal_bound_of_zero_records_nothing() {
    for flag in ["--requests-limit", "--requests-bytes"] {
        let emulator = Emulator::start(&[flag, "0"]);
        let reply = emulator.post_form(&form_with(&format!("Pad={}", "n".repeat(900_000))));
        assert_eq!(reply.status, 200, "{}", reply.body);
        emulator.assert_serving();
        let (requests, _) = emulator.journal();
        assert!(requests.is_empty(), "{flag} 0: {requests:?}");
    }
}

/// A request whose head is sent whole and whose body stops after `sent` of its `declared`
/// bytes; answers what the server says (it must answer and close on its own).
fn stalled_body(emulator: &Emulator, head: &str, declared: usize, sent: usize) -> Response {
    let request = format!(
        "{head}\r\nHost: emulator.test\r\nConnection: close\r\nContent-Length: {declared}\r\n\r\n{}",
        "a".repeat(sent)
    );
    emulator.raw(request.as_bytes())
}

/// `--request-timeout`: a body that stops arriving is answered 408 `RequestTimeout`, in the
/// API's envelope on the API and as `{"code", "message"}` on the control plane (whose bodies
/// had no time limit before).
#[test]
fn a_body_that_stops_arriving_is_answered_408_on_both_planes() {
    let emulator = Emulator::start(&["--request-timeout", "2"]);
    let reply = stalled_body(
        &emulator,
        "POST /?Format=JSON HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        1_000,
        10,
    );
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert_eq!(reply.code(), "RequestTimeout");
    assert!(reply.json()["RequestId"].is_string(), "{}", reply.body);

    for head in [
        "PUT /_emulator/state HTTP/1.1\r\nContent-Type: application/json",
        "POST /_emulator/faults HTTP/1.1\r\nContent-Type: application/json",
    ] {
        let reply = stalled_body(&emulator, head, 1_000, 10);
        assert_eq!(reply.status, 408, "{head}: {}", reply.body);
        assert_eq!(reply.json()["code"], "RequestTimeout", "{head}");
        assert!(reply.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("--request-timeout")));
    }
    emulator.assert_serving();
}

/// Injected latency is not part of a request's own time.
#[test]
fn injected_latency_does_not_count_against_the_request_timeout() {
    let emulator = Emulator::start(&["--request-timeout", "1"]);
    let rule = br#"{"latencyMs": 2500, "times": 1}"#;
    let mut request = format!(
        "POST /_emulator/faults HTTP/1.1\r\nHost: emulator.test\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        rule.len()
    )
    .into_bytes();
    request.extend_from_slice(rule);
    let reply = emulator.raw(&request);
    assert_eq!(reply.status, 201, "{}", reply.body);
    emulator.assert_serving();
    let (requests, _) = emulator.journal();
    assert_eq!(requests[0]["status"], 200);
}

/// Hundreds of connections that stall (sending nothing, half a header, or half a body) do not
/// keep normal requests from being answered, and are closed by the server on its own.
#[test]
fn hundreds_of_stalled_connections_do_not_stop_normal_requests() {
    let emulator = Emulator::start(&["--request-timeout", "5"]);
    let mut stalled = Vec::new();
    for i in 0..300 {
        let mut stream = TcpStream::connect(emulator.addr).expect("connect");
        let sent: &[u8] = match i % 3 {
            0 => b"",
            1 => b"GET /?Action=ListPluginStatus HTTP/1.1\r\nHost: x\r\n",
            _ => b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\nAction=List",
        };
        stream.write_all(sent).expect("send");
        stalled.push(stream);
    }
    for _ in 0..30 {
        emulator.assert_serving();
    }
    // Every stalled connection is closed by the server (headers after 10 s, bodies after 5 s).
    for stream in &mut stalled {
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut rest = Vec::new();
        let read = stream.read_to_end(&mut rest);
        assert!(
            read.is_ok(),
            "a stalled connection was not closed: {read:?}"
        );
    }
    emulator.assert_serving();
}

/// `--max-connections`: one connection more is answered 503 `ServiceUnavailable` in the API's
/// envelope and closed; once connections end, requests are served again.
#[test]
fn the_connection_limit_holds() {
    let emulator = Emulator::start(&["--max-connections", "8"]);
    let held: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(emulator.addr).expect("connect"))
        .collect();
    for _ in 0..3 {
        let reply = emulator.get(QUERY);
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert_eq!(reply.code(), "ServiceUnavailable");
        assert!(reply.json()["Message"]
            .as_str()
            .is_some_and(|m| m.contains("8 connections")));
    }
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let reply = emulator.get(QUERY);
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert!(
            std::time::Instant::now() < deadline,
            "still refused after the held connections closed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The new flags' environment twins, and their bad values refused at start-up.
#[test]
fn the_bounds_have_environment_twins_and_refuse_bad_values() {
    let emulator = Emulator::start_with_env(
        &[],
        &[
            ("ECS_EMULATOR_REQUESTS_BYTES", "0"),
            ("ECS_EMULATOR_REQUEST_TIMEOUT", "1"),
            ("ECS_EMULATOR_MAX_CONNECTIONS", "2"),
        ],
    );
    emulator.assert_serving();
    assert!(emulator.journal().0.is_empty());
    let reply = stalled_body(&emulator, "PUT /_emulator/state HTTP/1.1", 100, 1);
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert!(reply.body.contains("within 1 seconds"), "{}", reply.body);
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(emulator.addr).expect("connect"))
        .collect();
    assert_eq!(emulator.get(QUERY).status, 503);
    drop(held);

    for (flag, value) in [
        ("--max-connections", "0"),
        ("--request-timeout", "0"),
        ("--requests-bytes", "16MiB"),
        ("--max-connections", "many"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ecs-emulator"))
            .args(["--listen", "127.0.0.1:0", flag, value])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
    }
}
