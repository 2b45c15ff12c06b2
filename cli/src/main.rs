//! `actorwatch`: validate configurations, replay recorded traffic through the engine, and
//! receive webhooks. Every decision is the core's: this tool only reads and prints.

mod formats;
mod front;
mod http;
mod receive;
mod replay;

use actorwatch_core::Config;
use clap::{Parser, Subcommand};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "actorwatch",
    version,
    about = "actorwatch: API runtime threat detection - check configs, replay logs, receive webhooks",
    after_help = "Examples:
  actorwatch validate envoy/actorwatch.json
  actorwatch replay --config envoy/actorwatch.json /var/log/nginx/access.log
  actorwatch receive --listen 127.0.0.1:9000 --secret \"$SECRET\"
  actorwatch front --listen 127.0.0.1:8080 --redis redis://127.0.0.1:6379"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a configuration exactly as the Envoy filter and the Worker do: prints `ok`, or every
    /// error with its key path and value (exit 1). Secrets written as `{"env": "NAME"}` are read
    /// from this command's environment.
    #[command(after_help = "Examples:
  actorwatch validate actorwatch.json
  ACTORWATCH_HMAC_SECRET=\"$SECRET\" actorwatch validate envoy/actorwatch.json
  kubectl get wasmplugin actorwatch -o jsonpath='{.spec.pluginConfig}' | actorwatch validate -")]
    Validate {
        /// The configuration file, or `-` for standard input.
        #[arg(value_name = "CONFIG.json")]
        config: PathBuf,
    },
    /// Feed recorded traffic through the engine and report what would have been sent.
    Replay(replay::ReplayArgs),
    /// Run a webhook receiver that checks and prints what it gets.
    Receive(receive::ReceiveArgs),
    /// Serve Envoy aggregators in fleet mode: apply their batches to Redis (stateless).
    Front(front::FrontArgs),
}

fn read_config(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(path)?;
    }
    Ok(bytes)
}

/// `{"env": "NAME"}` in a configuration: this process's environment variable.
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads and validates a configuration, printing every error; the exit code on failure. The
/// document comes back too, for a caller that derives other configurations from it: the file,
/// or standard input, is read once.
pub(crate) fn load_config(path: &Path) -> Result<(Config, Vec<u8>), ExitCode> {
    let bytes = read_config(path).map_err(|e| {
        eprintln!("actorwatch: {}: {e}", path.display());
        ExitCode::from(2)
    })?;
    match Config::from_json_with_env(&bytes, &env_var) {
        Ok(cfg) => Ok((cfg, bytes)),
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{}: {e}", path.display());
            }
            Err(ExitCode::from(1))
        }
    }
}

fn validate(path: &Path) -> ExitCode {
    let bytes = match read_config(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("actorwatch validate: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    match Config::from_json_with_env(&bytes, &env_var) {
        Ok(_) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                println!("{e}");
            }
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { config } => validate(&config),
        Command::Replay(args) => replay::run(args),
        Command::Receive(args) => receive::run(args),
        Command::Front(args) => front::run(args),
    }
}
