//! `pgsec harden` (not implemented yet).

/// Arguments of `pgsec harden`.
#[derive(Debug, clap::Args)]
pub(crate) struct HardenArgs {}

pub(crate) fn run(_args: HardenArgs) -> u8 {
    super::fail("`pgsec harden` is not implemented yet")
}
