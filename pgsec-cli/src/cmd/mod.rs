//! One module per subcommand; each exposes its clap arguments and `run(args) -> u8`.

pub(crate) mod audit;
pub(crate) mod audit_live;
pub(crate) mod demo;
pub(crate) mod harden;
pub(crate) mod hba;
pub(crate) mod isolation;
pub(crate) mod ping;

/// Prints a one-line error and returns exit code 2.
pub(crate) fn fail(msg: impl std::fmt::Display) -> u8 {
    eprintln!("pgsec: error: {msg}");
    2
}
