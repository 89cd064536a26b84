//! Flags and subcommands. Every flag has an `ECS_EMULATOR_*` environment twin.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::rpc::signature::SignatureMode;

/// A local emulator of the Alibaba Cloud ECS API operation ListPluginStatus.
///
/// With no subcommand it serves the API; with no --data it serves the built-in demo data.
#[derive(Debug, Parser)]
#[command(name = "ecs-emulator", version)]
pub struct Cli {
    /// A tool instead of the server.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// How the server runs.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Flags of the server.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the ready line shows it).
    #[arg(long, env = "ECS_EMULATOR_LISTEN", default_value = "127.0.0.1:9080")]
    pub listen: String,
    /// Fixture file to serve instead of the built-in demo data.
    #[arg(long, env = "ECS_EMULATOR_DATA")]
    pub data: Option<PathBuf>,
    /// Keep the data in this SQLite file: every change is durable before it is answered. A file
    /// that does not exist yet is created from --data (or the demo data); an existing one is
    /// served as it is, and --data is not read.
    #[arg(long, value_name = "FILE", env = "ECS_EMULATOR_STATE_FILE")]
    pub state_file: Option<PathBuf>,
    /// Check request signatures (`strict`) or only use the AccessKeyId to pick the account.
    #[arg(long, env = "ECS_EMULATOR_SIGNATURE", value_enum, default_value_t = SignatureMode::Off)]
    pub signature: SignatureMode,
    /// Require `Authorization: Bearer TOKEN` on every control-plane route but health and ready.
    #[arg(long, env = "ECS_EMULATOR_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// How many API requests `GET /_emulator/requests` keeps (0 keeps none).
    #[arg(long, env = "ECS_EMULATOR_REQUESTS_LIMIT", default_value_t = crate::journal::DEFAULT_CAPACITY)]
    pub requests_limit: usize,
    /// How many bytes the kept requests may take (0 keeps none); the oldest are dropped first.
    /// A parameter value over 4 KiB is kept cut, with a `…[cut: N bytes in all]` marker.
    #[arg(long, value_name = "BYTES", env = "ECS_EMULATOR_REQUESTS_BYTES", default_value_t = crate::journal::DEFAULT_MAX_BYTES)]
    pub requests_bytes: usize,
    /// Seconds a request may take to arrive (its body) and be handled; injected latency does
    /// not count. Past it: 408 `RequestTimeout`.
    #[arg(long, value_name = "SECS", env = "ECS_EMULATOR_REQUEST_TIMEOUT", default_value_t = crate::server::DEFAULT_REQUEST_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub request_timeout: u64,
    /// Most connections served at once; one more is answered 503 `ServiceUnavailable` and closed.
    #[arg(long, value_name = "N", env = "ECS_EMULATOR_MAX_CONNECTIONS", default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Log line format; levels come from RUST_LOG (default info).
    #[arg(long, env = "ECS_EMULATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Write a valid fixture of the given size to stdout (the same seed gives the same file).
    Generate {
        /// Instances in all.
        #[arg(long)]
        instances: u64,
        /// Plug-ins on each instance.
        #[arg(long)]
        plugins_per_instance: u64,
        /// Regions to spread the instances over (taken from the public region list).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=39))]
        regions: u64,
        /// Seed of the pseudo-random statuses, versions and times.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Validate a fixture file: print a one-line summary, or the error with line and column.
    CheckData {
        /// The fixture file.
        file: PathBuf,
    },
    /// Exit 0 if the emulator at ADDR is ready, 1 otherwise (a container health check).
    Healthcheck {
        /// Where the emulator listens; 0.0.0.0 and [::] are asked on loopback.
        #[arg(long, env = "ECS_EMULATOR_LISTEN", default_value = "127.0.0.1:9080")]
        listen: String,
    },
}
