//! Binding, the ready line, the connection loop (with its connection limit) and graceful
//! shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Request, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::rpc::render::{Format, ReplyTo, DEFAULT_HOST};
use crate::state::{RandomRequestIds, RequestIds as _};

/// A client must send its request headers within this time, or it is cut off. An idle
/// keep-alive connection is closed after it too.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests may run on after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Default of `--request-timeout`: how long a request may take to arrive (its body) and be
/// handled, injected latency not counted.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1_024;
/// How long a connection over the limit may take to send its request headers before it is
/// closed without an answer.
pub const REFUSAL_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Bounds of the connection loop.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections served at once (`--max-connections`). One more is answered
    /// 503 `ServiceUnavailable` in the API's JSON envelope and closed; while as many again are
    /// being refused so, further ones are closed at once, so a flood costs at most twice the
    /// limit in sockets.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
        }
    }
}

/// The ready line's text for `addr`.
pub fn ready_line(addr: SocketAddr) -> String {
    format!("ecs-emulator ready on http://{addr}")
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and lets
/// in-flight requests finish (at most [`SHUTDOWN_GRACE`]). At most `limits.max_connections`
/// connections are served at once (see [`Limits`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(limits.max_connections));
    tracing::info!(target: "ecs_emulator::ready", "{}", ready_line(addr));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(error) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    match refusals.clone().try_acquire_owned() {
                        Ok(permit) => {
                            tokio::spawn(async move {
                                refuse(stream, limits.max_connections).await;
                                drop(permit);
                            });
                        }
                        Err(_) => drop(stream),
                    }
                    continue;
                };
                let service = TowerToHyperService::new(app.clone());
                let connection = http.serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within {SHUTDOWN_GRACE:?}");
    }
    Ok(())
}

/// Answers the first request of a connection over the limit with 503 `ServiceUnavailable` (in
/// the API's JSON envelope) and closes it; a client that sends no request within
/// [`REFUSAL_READ_TIMEOUT`] is closed without an answer.
async fn refuse(stream: TcpStream, limit: usize) {
    tracing::warn!(limit, "connection refused: the connection limit is reached");
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| DEFAULT_HOST.to_owned(), crate::text::echo);
        let reply = ReplyTo {
            request_id: RandomRequestIds.next_id(),
            host,
            format: Format::Json,
        };
        let response: Response<axum::body::Body> =
            reply.error(&ApiError::TooManyConnections { limit });
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSAL_READ_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(error) = connection.await {
        tracing::debug!(%error, "refused connection ended with an error");
    }
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled: called before [`serve`] logs the ready line, a signal sent as
/// soon as the line shows is never met by the default action (which ends the process at once).
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &'static str| {
            let installed = signal(kind);
            async move {
                match installed {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for {name}");
                        std::future::pending::<()>().await;
                    }
                }
            }
        };
        let (interrupt, terminate) = (
            listen(SignalKind::interrupt(), "SIGINT"),
            listen(SignalKind::terminate(), "SIGTERM"),
        );
        async move {
            tokio::select! {
                () = interrupt => {}
                () = terminate => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

/// How long `healthcheck` waits for the connection and for the answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Asks `GET /_emulator/ready` of the emulator listening on `listen`; `Ok` when it answers 200.
/// An unspecified address (`0.0.0.0`, `[::]`) is asked on loopback.
pub fn probe_ready(listen: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpStream, ToSocketAddrs};

    let mut addr = listen
        .to_socket_addrs()
        .map_err(|e| format!("not an address: {e}"))?
        .next()
        .ok_or("not an address")?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(PROBE_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    let request =
        format!("GET /_emulator/ready HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .map_err(|e| format!("no answer: {e}"))?;
    match &head {
        b"HTTP/1.1 200" => Ok(()),
        _ => Err(format!(
            "not ready: {}",
            String::from_utf8_lossy(&head).trim_end()
        )),
    }
}
