//! The `--signature strict` load client of `scripts/throughput.sh`. `wrk` replays one fixed
//! request, which a server checking signatures refuses from the second time on (its nonce was
//! used); this client signs every request afresh (V1, HMAC-SHA1, a new `SignatureNonce` and
//! the current `Timestamp`), over keep-alive connections, for a bounded time.
//!
//!     cargo run --release --example signed_load -- \
//!         ADDR PATH_AND_QUERY ACCESS_KEY_ID SECRET CONNECTIONS SECONDS
//!
//! PATH_AND_QUERY is the unsigned request, e.g. `/?Action=ListPluginStatus&Version=…`, with
//! plain values (no percent-escapes needed). Prints `REQUESTS_PER_SECOND P99_MS ERRORS` on one
//! line; ERRORS counts answers other than 200. The same client drives the fixed-body baseline,
//! so the signing cost on the client side is the same on both sides of the ratio.

use std::time::{Duration, Instant};

use ecs_emulator::rpc::signature::{percent_encode, v1_signature, v1_string_to_sign};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, path_and_query, key_id, secret, connections, seconds] = &args[..] else {
        eprintln!(
            "usage: signed_load ADDR PATH_AND_QUERY ACCESS_KEY_ID SECRET CONNECTIONS SECONDS"
        );
        std::process::exit(2);
    };
    let connections: usize = connections.parse().expect("CONNECTIONS is a number");
    let seconds: u64 = seconds.parse().expect("SECONDS is a number");
    let query = path_and_query.split_once('?').map_or("", |(_, q)| q);
    let base: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let results = runtime.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|connection| {
                let client = Client {
                    addr: addr.clone(),
                    base: base.clone(),
                    key_id: key_id.clone(),
                    secret: secret.clone(),
                    connection,
                };
                tokio::spawn(async move { client.run(deadline).await })
            })
            .collect();
        let mut all = (Vec::new(), 0u64);
        for task in tasks {
            let (latencies, errors) = task.await.expect("a connection task ended")?;
            all.0.extend(latencies);
            all.1 += errors;
        }
        Ok::<_, std::io::Error>(all)
    });
    let (mut latencies, errors) = results?;
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let p99_us = latencies
        .get((latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0);
    println!(
        "{:.0} {:.2} {}",
        latencies.len() as f64 / elapsed,
        p99_us as f64 / 1000.0,
        errors
    );
    Ok(())
}

/// One keep-alive connection sending signed requests one after the other.
struct Client {
    addr: String,
    base: Vec<(String, String)>,
    key_id: String,
    secret: String,
    connection: usize,
}

impl Client {
    /// Sends requests until `deadline`: each one's latency in microseconds, and the number of
    /// answers other than 200.
    async fn run(&self, deadline: Instant) -> std::io::Result<(Vec<u32>, u64)> {
        let mut stream = TcpStream::connect(&self.addr).await?;
        stream.set_nodelay(true)?;
        let mut latencies = Vec::new();
        let mut errors = 0;
        let mut buffer = Vec::with_capacity(16 << 10);
        let mut sent: u64 = 0;
        while Instant::now() < deadline {
            let request = self.signed_request(sent);
            sent += 1;
            let at = Instant::now();
            stream.write_all(request.as_bytes()).await?;
            let status = read_response(&mut stream, &mut buffer).await?;
            latencies.push(at.elapsed().as_micros().min(u32::MAX as u128) as u32);
            if status != 200 {
                errors += 1;
            }
        }
        Ok((latencies, errors))
    }

    /// The request with its signature parameters, signed now.
    fn signed_request(&self, n: u64) -> String {
        let nonce = format!(
            "load-{}-{}-{}",
            self.connection,
            n,
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut pairs: Vec<(&str, &str)> = self
            .base
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend([
            ("AccessKeyId", self.key_id.as_str()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", nonce.as_str()),
            ("Timestamp", timestamp.as_str()),
        ]);
        let signature = v1_signature(&self.secret, &v1_string_to_sign("GET", &pairs));
        let mut query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        query.push(format!("Signature={}", percent_encode(&signature)));
        format!(
            "GET /?{} HTTP/1.1\r\nHost: {}\r\n\r\n",
            query.join("&"),
            self.addr
        )
    }
}

/// Reads one response (headers and a `Content-Length` body) and answers its status.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<u16> {
    buffer.clear();
    let broken = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 8192];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(broken("the server closed the connection"));
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).map_err(|_| broken("a non-UTF-8 head"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| broken("no status"))?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .ok_or_else(|| broken("no Content-Length"))?;
    let mut have = buffer.len() - head_end;
    while have < length {
        let mut chunk = [0u8; 8192];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(broken("the body was cut"));
        }
        have += read;
    }
    Ok(status)
}
