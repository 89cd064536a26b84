//! The `ecs-emulator` binary: flags, logging, then the library does the work.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;
use ecs_emulator::cli::{Cli, Command, LogFormat, ServeArgs};
use ecs_emulator::{app, fixture, server, state, AppState};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Generate {
            instances,
            plugins_per_instance,
            regions,
            seed,
        }) => {
            let options = fixture::GenerateOptions {
                instances,
                plugins_per_instance,
                regions: regions as usize,
                seed,
            };
            let mut out = BufWriter::new(io::stdout().lock());
            match fixture::generate(options, &mut out).and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ecs-emulator generate: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::CheckData { file }) => match fixture::load_file(&file) {
            Ok(store) => {
                println!("{}: ok: {}", file.display(), fixture::summarize(&store));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Healthcheck { listen }) => match server::probe_ready(&listen) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ecs-emulator healthcheck: {listen}: {e}");
                ExitCode::FAILURE
            }
        },
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    init_logging(args.log_format);
    let store = match &args.data {
        Some(path) => match fixture::load_file(path) {
            Ok(store) => store,
            Err(e) => {
                tracing::error!("cannot load the data: {e}");
                eprintln!("ecs-emulator: cannot load the data: {e}");
                return ExitCode::from(2);
            }
        },
        None => fixture::demo_store(),
    };
    let source = args.data.as_ref().map_or_else(
        || fixture::DEMO_DATA_NAME.to_owned(),
        |p| p.display().to_string(),
    );
    tracing::info!(data = %source, "loaded {}", fixture::summarize(&store));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ecs-emulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = state::Options {
        signature: args.signature,
        admin_token: args.admin_token.filter(|t| !t.is_empty()),
        journal_capacity: args.requests_limit,
        journal_max_bytes: args.requests_bytes,
        request_timeout: std::time::Duration::from_secs(args.request_timeout),
        ..state::Options::default()
    };
    let state = AppState::with_options(store, options);
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen).await?;
        let limits = server::Limits {
            max_connections: args.max_connections as usize,
        };
        let shutdown = server::shutdown_signal();
        server::serve(listener, app(state), shutdown, limits).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("cannot serve on {}: {e}", args.listen);
            eprintln!("ecs-emulator: cannot serve on {}: {e}", args.listen);
            ExitCode::FAILURE
        }
    }
}

/// Logs to stdout; RUST_LOG sets levels (default info). The ready line is always shown.
fn init_logging(format: LogFormat) {
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::new(format!("{directives},ecs_emulator::ready=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::IsTerminal::is_terminal(&io::stdout()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
