//! `pgsec`: the command line of pgsec. Thin: argument parsing and output; the work is in
//! the libraries.
//!
//! Exit codes (every subcommand): 0 when nothing is at or above the failure threshold,
//! 1 when something is, 2 on a usage, read or connection error (one line saying why).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Turns the PostgreSQL security baseline into checks you can run.
#[derive(Debug, Parser)]
#[command(name = "pgsec", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse or lint a pg_hba.conf file.
    #[command(subcommand)]
    Hba(cmd::hba::HbaCommand),
    /// Audit configuration files or a live server against the rule catalogue.
    Audit(cmd::audit::AuditArgs),
    /// Connect with verify-full TLS and describe the connection.
    Ping(cmd::ping::PingArgs),
    /// Generate a hardened configuration (postgresql.conf fragment, pg_hba.conf, SQL).
    Harden(cmd::harden::HardenArgs),
    /// Property-test Row-Level Security tenant isolation of a schema.
    Isolation(cmd::isolation::IsolationArgs),
    /// Run the end-to-end demonstration on a throwaway server.
    Demo(cmd::demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Hba(c) => cmd::hba::run(c),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Ping(a) => cmd::ping::run(a),
        Command::Harden(a) => cmd::harden::run(a),
        Command::Isolation(a) => cmd::isolation::run(a),
        Command::Demo(a) => cmd::demo::run(a),
    };
    ExitCode::from(code)
}
