//! The command line: `edgeauth serve [--dev] [flags]`,
//! `edgeauth keygen [--data-key | --admin-token] [--out FILE]`, `edgeauth rekey [flags]`
//! (re-seal secrets after a data key rotation, see `rekey`) and `edgeauth admin <verb>`
//! (the admin API from a shell, see `admin_cli`). Builds the clap command from
//! the settings table of `config`, wires logging, the runtime, signals and
//! the throwaway Redis of `--dev`, and returns the process exit code
//! (2 for a bad setting, 1 when the server cannot start).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use tokio::net::TcpListener;

use crate::app::{App, BuildError};
use crate::auth::data_keys::generate_data_key_base64;
use crate::auth::jwt::generate_pkcs8_pem;
use crate::config::{Config, RedisTarget, SETTINGS, unknown_setting};
use crate::dev::RedisServer;
use crate::rekey::{self, RekeyError};
use crate::server;

fn command() -> Command {
    let mut serve = Command::new("serve")
        .about("Run the HTTP server (settings: flags or EDGEAUTH_* variables)")
        .arg(
            Arg::new("dev")
                .long("dev")
                .action(ArgAction::SetTrue)
                .help("Zero-setup local mode: loopback only, throwaway redis-server, ephemeral keys, non-Secure cookie, events printed"),
        );
    serve = with_settings(serve);
    let rekey = with_settings(Command::new("rekey").about(
        "Seal every TOTP secret again under the first data key, so older data keys can be \
         retired (same settings as serve; exit 1 while a secret opens under no configured key)",
    ));
    let keygen =
        Command::new("keygen")
            .about("Write a new Ed25519 signing key (PKCS#8 PEM), or a data key with --data-key, or an admin token with --admin-token")
            .arg(
                Arg::new("data-key")
                    .long("data-key")
                    .action(ArgAction::SetTrue)
                    .help("Write a 32-byte data key (base64) instead of a signing key"),
            )
            .arg(
                Arg::new("admin-token")
                    .long("admin-token")
                    .action(ArgAction::SetTrue)
                    .conflicts_with("data-key")
                    .help("Write an admin API token (32 random bytes, base64url) instead of a signing key"),
            )
            .arg(Arg::new("out").long("out").value_name("FILE").help(
                "Write to FILE (created with mode 0600, never overwritten) instead of stdout",
            ));
    Command::new("edgeauth")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A small, stateless, Redis-backed authentication server")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(serve)
        .subcommand(keygen)
        .subcommand(rekey)
        .subcommand(crate::admin_cli::command())
}

/// Every setting of the table as a flag mirrored by its variable.
fn with_settings(mut command: Command) -> Command {
    for s in SETTINGS {
        let help = match s.default {
            Some(default) => format!("{} [default: {default}]", s.help),
            None => s.help.to_owned(),
        };
        command = command.arg(
            Arg::new(s.var)
                .long(s.flag)
                .env(s.var)
                .value_name("VALUE")
                .help(help),
        );
    }
    command
}

/// An error line that starts with a setting's variable (`EDGEAUTH_JWT_TTL: ...`), naming the
/// setting the way the user gave it: its flag (`--jwt-ttl: ...`) when the value came from the
/// command line, else the variable (set in the environment, or the default).
fn as_given(line: &str, m: &ArgMatches) -> String {
    let given = SETTINGS.iter().find_map(|s| {
        let rest = line.strip_prefix(s.var)?.strip_prefix(':')?;
        let from_flag = m
            .try_get_raw(s.var)
            .is_ok_and(|_| m.value_source(s.var) == Some(ValueSource::CommandLine));
        from_flag.then(|| format!("--{}:{rest}", s.flag))
    });
    given.unwrap_or_else(|| line.to_owned())
}

/// Runs the command line of the process.
pub fn run() -> ExitCode {
    let matches = command().get_matches();
    match matches.subcommand() {
        Some(("serve", m)) => serve(m),
        Some(("keygen", m)) => keygen(m),
        Some(("rekey", m)) => rekey_command(m),
        Some(("admin", m)) => crate::admin_cli::run(m),
        _ => ExitCode::from(2),
    }
}

fn keygen(m: &ArgMatches) -> ExitCode {
    let key = if m.get_flag("admin-token") {
        crate::admin_cli::generate_token()
    } else if m.get_flag("data-key") {
        generate_data_key_base64().map_err(|e| e.to_string())
    } else {
        generate_pkcs8_pem().map_err(|e| e.to_string())
    };
    let key = match key {
        Ok(key) => key,
        Err(e) => {
            eprintln!("edgeauth keygen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let written = match m.get_one::<String>("out") {
        None => std::io::stdout().write_all(key.as_bytes()),
        Some(path) => write_secret_file(path, key.as_bytes()),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgeauth keygen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `edgeauth rekey`: prints what it did; status 0, 1 when a secret opens under no configured
/// key or Redis failed, 2 for a bad setting.
fn rekey_command(m: &ArgMatches) -> ExitCode {
    let config = match Config::parse(&|var| m.get_one::<String>(var).cloned(), false) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("edgeauth: {}", as_given(&e.to_string(), m));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("edgeauth rekey: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rekey::run(&config)) {
        Ok(report) => {
            println!("{report}");
            for (account, why) in &report.failures {
                eprintln!("edgeauth rekey: account {account}: {why}");
            }
            if report.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("edgeauth rekey: {}", as_given(&e.to_string(), m));
            match e {
                RekeyError::Config(_) => ExitCode::from(2),
                RekeyError::Store(_) | RekeyError::Internal(_) => ExitCode::FAILURE,
            }
        }
    }
}

fn write_secret_file(path: &str, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))?;
    file.write_all(contents)
}

fn serve(m: &ArgMatches) -> ExitCode {
    let dev = m.get_flag("dev");
    let names: Vec<String> = std::env::vars_os()
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .collect();
    if let Some(line) = unknown_setting(names.iter().map(String::as_str)) {
        eprintln!("edgeauth: {line}");
        return ExitCode::from(2);
    }
    let config = match Config::parse(&|var| m.get_one::<String>(var).cloned(), dev) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("edgeauth: {}", as_given(&e.to_string(), m));
            return ExitCode::from(2);
        }
    };
    let _log_guard = init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("edgeauth: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve_until_signal(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line on stderr, like a bad setting: not also a log line on stdout, which
            // would report the same failure twice.
            eprintln!("edgeauth: {}", as_given(&e.to_string(), m));
            match e {
                BuildError::Config(_) => ExitCode::from(2),
                BuildError::Other(_) => ExitCode::FAILURE,
            }
        }
    }
}

/// Logs go to stdout — one JSON object per line, or with `--dev` readable
/// text for the person at the terminal — through a background writer: request threads hand a
/// formatted line to a queue instead of taking the stdout lock and making a
/// write call each, and the writer batches what has queued up into one
/// write. Lines are dropped (never blocking a request) only if 128k of them
/// are waiting. The returned guard flushes the queue when dropped at exit.
fn init_logging(config: &Config) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .thread_name("edgeauth-log")
        .finish(std::io::BufWriter::new(std::io::stdout()));
    // Colours only on a terminal: piped or collected logs stay plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stdout().is_terminal());
    if config.dev {
        builder.compact().init();
    } else {
        builder.json().flatten_event(true).init();
    }
    guard
}

async fn serve_until_signal(mut config: Config) -> Result<(), BuildError> {
    let redis = match config.redis {
        RedisTarget::Throwaway => {
            // Starting waits (blocking) for the child's PING.
            let redis =
                tokio::task::spawn_blocking(|| RedisServer::builder().inherit_stderr().spawn())
                    .await
                    .map_err(|e| BuildError::Other(e.to_string()))?
                    .map_err(BuildError::Other)?;
            tracing::info!(url = %redis.url(), pid = redis.pid(), "started a throwaway redis-server (--dev)");
            config.redis = RedisTarget::Url(redis.url());
            Some(redis)
        }
        RedisTarget::Url(_) => None,
    };
    let result = serve_with(config).await;
    // Killed and reaped here, so no process outlives the server.
    drop(redis);
    result
}

async fn serve_with(config: Config) -> Result<(), BuildError> {
    let unbindable = |var: &str, addr: std::net::SocketAddr, e: std::io::Error| {
        BuildError::Other(format!("{var}: cannot bind {addr}: {e}"))
    };
    let public = TcpListener::bind(config.listen)
        .await
        .map_err(|e| unbindable("EDGEAUTH_LISTEN", config.listen, e))?;
    let admin = TcpListener::bind(config.admin_listen)
        .await
        .map_err(|e| unbindable("EDGEAUTH_ADMIN_LISTEN", config.admin_listen, e))?;
    if config.dev {
        tracing::warn!(
            "--dev: ephemeral keys, non-Secure cookie, tickets printed; never use in production"
        );
    }
    let (public_addr, admin_addr) = (public.local_addr(), admin.local_addr());
    let app = App::build(config).await?;
    tracing::info!(
        public = %public_addr.map_err(|e| BuildError::Other(e.to_string()))?,
        admin = %admin_addr.map_err(|e| BuildError::Other(e.to_string()))?,
        "listening"
    );
    let redis_watch = tokio::spawn(report_redis_at_start(app.clone()));
    server::serve(app, public, admin, shutdown_signal()).await;
    redis_watch.abort();
    tracing::info!("stopped");
    Ok(())
}

/// Says once, at start, when Redis does not answer: the server runs anyway
/// (answering 503 where it needs Redis, and `/readyz` failing) and the
/// connections retry by themselves. Then PINGs, backing off, until Redis
/// answers, and says that once too. A background task of its own: no
/// request waits for it or pays for it.
async fn report_redis_at_start(app: App) {
    let Err(e) = app.store.ping().await else {
        return;
    };
    tracing::warn!(
        error = %e,
        "Redis does not answer: edgeauth answers 503 until it does, and retries by itself"
    );
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(5));
        if app.store.ping().await.is_ok() {
            tracing::info!("Redis answers: serving");
            return;
        }
    }
}

/// Resolves on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn serve_matches(args: &[&str]) -> ArgMatches {
        let mut argv = vec!["edgeauth", "serve"];
        argv.extend(args);
        let matches = command().try_get_matches_from(argv).unwrap();
        matches.subcommand_matches("serve").unwrap().clone()
    }

    /// The first error of `serve` with these arguments, as it is printed.
    fn error_line(args: &[&str]) -> String {
        let m = serve_matches(args);
        let e =
            Config::parse(&|var| m.get_one::<String>(var).cloned(), m.get_flag("dev")).unwrap_err();
        as_given(&e.to_string(), &m)
    }

    #[test]
    fn a_bad_flag_is_named_as_a_flag() {
        let line = error_line(&["--dev", "--jwt-ttl", "banana"]);
        assert!(line.starts_with("--jwt-ttl: "), "{line}");
        assert!(line.contains("banana"), "{line}");
        let line = error_line(&["--dev", "--listen=nowhere"]);
        assert!(line.starts_with("--listen: "), "{line}");
        let line = error_line(&["--dev", "--scrypt-log-n", "40"]);
        assert!(line.starts_with("--scrypt-log-n: "), "{line}");
    }

    #[test]
    fn a_setting_not_given_as_a_flag_is_named_as_a_variable() {
        // Missing outright (its variable is what the user has to set, or the flag).
        if std::env::var_os("EDGEAUTH_JWT_KEY_FILES").is_none() {
            let line = error_line(&[]);
            assert!(line.starts_with("EDGEAUTH_JWT_KEY_FILES: "), "{line}");
        }
        // A build error naming a variable given by flag, and lines naming no setting.
        let m = serve_matches(&["--dev", "--data-key-file", "/nonexistent/data.key"]);
        assert_eq!(
            as_given(
                "EDGEAUTH_DATA_KEY_FILE: cannot read /nonexistent/data.key",
                &m
            ),
            "--data-key-file: cannot read /nonexistent/data.key"
        );
        assert_eq!(
            as_given("EDGEAUTH_JWT_TTL: \"x\" is not a duration", &m),
            "EDGEAUTH_JWT_TTL: \"x\" is not a duration"
        );
        assert_eq!(as_given("cannot start", &m), "cannot start");
        // A prefix of a longer variable is not mistaken for it.
        assert_eq!(
            as_given("EDGEAUTH_DATA_KEY_FILES: x", &m),
            "EDGEAUTH_DATA_KEY_FILES: x"
        );
    }
}
