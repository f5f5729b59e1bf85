//! `pgsec`: the command line of pgsec. Thin: argument parsing and output; the work is in
//! the libraries.
//!
//! Exit codes (every subcommand): 0 when nothing is at or above the failure threshold,
//! 1 when something is, 2 on a usage, read or connection error (one line saying why),
//! input refused by the limits (`--max-input-bytes`, `--max-input-lines`) or a path that
//! is not a regular file included. Never 101: a panic is reported as 2.

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

mod cmd;
mod color;

/// Turns the PostgreSQL security baseline into checks you can run.
#[derive(Debug, Parser)]
#[command(name = "pgsec", version, about, long_about = None)]
struct Cli {
    /// When to colour the output: auto (a terminal, and NO_COLOR unset), always or
    /// never. JSON, SARIF and HTML are never coloured.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = color::ColorWhen::Auto,
          global = true, overrides_with = "color")]
    color: color::ColorWhen,
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
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::completions::CompletionsArgs),
    /// Print the man page (roff), or write one page per subcommand with --dir.
    Man(cmd::man::ManArgs),
}

fn main() -> ExitCode {
    // clap's help and errors are coloured by the command that parses, so --color is
    // read before clap reads the rest.
    let when = color::from_args(std::env::args_os());
    let command = || Cli::command().color(when.into());
    // clap exits with 2 on a usage error (0 for --help and --version).
    let matches = command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command()).exit());
    color::choose(cli.color);
    // A panic is a bug, but it must not turn into exit code 101: the hook has printed
    // the message, and the documented code for a failure that is not a finding is 2.
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli.command)))
        .unwrap_or_else(|_| {
            cmd::fail("internal error (a bug in pgsec; please report the message above)")
        });
    ExitCode::from(code)
}

fn run(command: Command) -> u8 {
    match command {
        Command::Hba(c) => cmd::hba::run(c),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Ping(a) => cmd::ping::run(a),
        Command::Harden(a) => cmd::harden::run(a),
        Command::Isolation(a) => cmd::isolation::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Completions(a) => cmd::completions::run(a, Cli::command()),
        Command::Man(a) => cmd::man::run(a, Cli::command()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
