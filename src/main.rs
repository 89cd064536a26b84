//! The `ecs-emulator` binary: flags, logging, then the library does the work.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;
use ecs_emulator::cli::{Cli, Command, LogFormat, ServeArgs};
use std::time::Instant;

use ecs_emulator::engine::Store;
use ecs_emulator::persist::sqlite::{self, OpenFailure};
use ecs_emulator::persist::{Durable, Memory};
use ecs_emulator::state::SeedOrigin;
use ecs_emulator::{app, fixture, log_writer, server, state, AppState};
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
    // Kept until `serve` returns, so that the last lines (the shutdown) are written.
    let _logging = init_logging(args.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ecs-emulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some((store, persist, seed)) = open_data(&args) else {
        return ExitCode::from(2);
    };
    let options = state::Options {
        signature: args.signature,
        admin_token: args.admin_token.filter(|t| !t.is_empty()),
        journal_capacity: args.requests_limit,
        journal_max_bytes: args.requests_bytes,
        request_timeout: std::time::Duration::from_secs(args.request_timeout),
        persist,
        seed,
        ..state::Options::default()
    };
    // Inside the runtime, so that replaced data is freed on its blocking threads.
    let state = {
        let _inside = runtime.enter();
        AppState::with_options(store, options)
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen).await?;
        let limits = server::Limits {
            max_connections: args.max_connections as usize,
        };
        let shutdown = server::shutdown_signal();
        server::serve(listener, app(state.clone()), shutdown, limits).await
    });
    // Whatever was accepted is committed, and the state file closed, before the exit.
    let closed = runtime.block_on(state.close());
    match (result, closed) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(e), _) => {
            tracing::error!("cannot serve on {}: {e}", args.listen);
            eprintln!("ecs-emulator: cannot serve on {}: {e}", args.listen);
            ExitCode::FAILURE
        }
        (Ok(()), Err(e)) => {
            eprintln!("ecs-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The data to serve, where changes go, and where the seed is: from the `--state-file` when
/// given (created from `--data` or the demo data when it does not exist yet), else from
/// `--data` or the demo data, in memory. `None` after printing why it cannot start.
fn open_data(args: &ServeArgs) -> Option<(Store, Box<dyn Durable>, SeedOrigin)> {
    let source = args.data.as_ref().map_or_else(
        || fixture::DEMO_DATA_NAME.to_owned(),
        |p| p.display().to_string(),
    );
    let load_seed = || match &args.data {
        Some(path) => fixture::load_file(path),
        None => Ok(fixture::demo_store()),
    };
    let Some(path) = &args.state_file else {
        return match load_seed() {
            Ok(store) => {
                tracing::info!(data = %source, "loaded {}", fixture::summarize(&store));
                Some((store, Box::new(Memory), SeedOrigin::Served))
            }
            Err(e) => {
                tracing::error!("cannot load the data: {e}");
                eprintln!("ecs-emulator: cannot load the data: {e}");
                None
            }
        };
    };
    let began = Instant::now();
    let seed = || {
        load_seed().map(|store| sqlite::Seed {
            store,
            source: source.clone(),
        })
    };
    match sqlite::open(path, seed) {
        Ok(opened) => {
            let summary = fixture::summarize(&opened.store);
            let elapsed_ms = began.elapsed().as_millis();
            let file = path.display().to_string();
            match &opened.created {
                Some(seed) => tracing::info!(
                    state_file = %file, seed = %seed, elapsed_ms,
                    "created the state file from the seed: {summary}"
                ),
                None => {
                    tracing::info!(
                        state_file = %file, seed = %opened.seed_source, elapsed_ms,
                        "loaded the state file: {summary}"
                    );
                    if let Some(data) = &args.data {
                        tracing::info!(
                            "--data {} is not read: it seeds only a state file that does not \
                             exist yet; reset restores the file's own seed ({})",
                            data.display(),
                            opened.seed_source
                        );
                    }
                }
            }
            if let Some(version) = opened.migrated_from {
                tracing::info!(state_file = %file, "migrated the schema from version {version}");
            }
            let origin = if opened.created.is_some() {
                SeedOrigin::Served
            } else {
                SeedOrigin::Kept
            };
            Some((opened.store, Box::new(opened.file), origin))
        }
        Err(OpenFailure::State(e)) => {
            tracing::error!("{e}");
            eprintln!("ecs-emulator: {e}");
            None
        }
        Err(OpenFailure::Seed(e)) => {
            tracing::error!("cannot load the data: {e}");
            eprintln!("ecs-emulator: cannot load the data to seed the state file: {e}");
            None
        }
    }
}

/// Logs to stdout; RUST_LOG sets levels (default info). The ready line is always shown.
///
/// Lines are copied to a buffer that a writer thread writes out every few milliseconds
/// ([`log_writer`]), so a request never waits for the terminal or a pipe and a burst of lines
/// is one system call; the returned guard writes what is left when the emulator stops. Past
/// 16 MiB waiting, new lines are dropped rather than stalling requests (the log says how many).
fn init_logging(format: LogFormat) -> log_writer::LogGuard {
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::new(format!("{directives},ecs_emulator::ready=info"));
    let (writer, guard) = log_writer::batched(io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(io::IsTerminal::is_terminal(&io::stdout()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}
