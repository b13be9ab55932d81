//! The `wa-gateway` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError};
use crate::{store, telemetry};

#[derive(Debug, Parser)]
#[command(name = "wa-gateway", version, about = "Self-hosted, multi-session WhatsApp HTTP gateway")]
pub struct Cli {
    /// A TOML file layered over the embedded defaults.
    #[arg(long, short, global = true, env = "WAG_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the effective configuration with secrets redacted; exit non-zero when invalid.
    CheckConfig,
    /// Print the OpenAPI document as JSON.
    Openapi,
    /// Exit 0 when the gateway on this host answers `/health/live` (for
    /// container health checks: the image has no curl).
    Healthcheck,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the newest migrations.
    Down {
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1)]
        steps: usize,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Exit status for configuration errors, distinct from runtime failures.
const EXIT_CONFIG: u8 = 2;

impl Cli {
    pub async fn run(self) -> ExitCode {
        let command = self.command.unwrap_or(Command::Serve);
        if let Command::Openapi = command {
            return print_json(&crate::api::openapi());
        }
        let config = match Config::load(self.config.as_deref()) {
            Ok(config) => config,
            Err(e) => return config_error(&e),
        };
        match command {
            Command::CheckConfig => match toml::to_string_pretty(&config) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(anyhow::anyhow!(e)),
            },
            Command::Migrate { action } => {
                telemetry::init(&config.log);
                outcome(migrate(config, action).await)
            }
            Command::Serve => {
                telemetry::init(&config.log);
                outcome(serve(config).await)
            }
            Command::Healthcheck => outcome(healthcheck(&config).await),
            Command::Openapi => unreachable!("handled before loading config"),
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = config.listen_addr();
    let listener =
        TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    crate::run(config, listener, shutdown_signal()).await
}

async fn healthcheck(config: &Config) -> anyhow::Result<()> {
    let url = format!("http://127.0.0.1:{}/health/live", config.server.port);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
    let status = client.get(&url).send().await?.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}

async fn migrate(config: Config, action: MigrateAction) -> anyhow::Result<()> {
    let store = store::connect(&config).await?;
    let pool = store.pool();
    match action {
        MigrateAction::Up => {
            store::migrate::up(pool).await?;
            println!("migrations applied");
        }
        MigrateAction::Down { steps } => {
            let reverted = store::migrate::down(pool, steps).await?;
            println!("reverted {} migration(s): {reverted:?}", reverted.len());
        }
        MigrateAction::Status => {
            for m in store::migrate::status(pool).await? {
                let state = if m.applied { "applied" } else { "pending" };
                println!("{} {:<8} {}", m.version, state, m.description);
            }
        }
    }
    store.close().await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutdown requested"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutdown requested"),
    }
}

fn print_json(value: &impl serde::Serialize) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(anyhow::anyhow!(e)),
    }
}

fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("wa-gateway: {e}");
    ExitCode::from(EXIT_CONFIG)
}

fn outcome(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    tracing::error!(error = ?e, "fatal");
    eprintln!("wa-gateway: {e:#}");
    ExitCode::FAILURE
}
