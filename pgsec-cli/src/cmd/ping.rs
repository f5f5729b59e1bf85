//! `pgsec ping` (not implemented yet).

/// Arguments of `pgsec ping`.
#[derive(Debug, clap::Args)]
pub(crate) struct PingArgs {}

pub(crate) fn run(_args: PingArgs) -> u8 {
    super::fail("`pgsec ping` is not implemented yet")
}
