//! `pgsec hba parse|lint` (not implemented yet).

/// Subcommands of `pgsec hba`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum HbaCommand {
    /// Parse a pg_hba.conf into the shape of pg_hba_file_rules.
    Parse {},
}

pub(crate) fn run(_cmd: HbaCommand) -> u8 {
    super::fail("`pgsec hba` is not implemented yet")
}
