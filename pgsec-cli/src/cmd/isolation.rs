//! `pgsec isolation` (not implemented yet).

/// Arguments of `pgsec isolation`.
#[derive(Debug, clap::Args)]
pub(crate) struct IsolationArgs {}

pub(crate) fn run(_args: IsolationArgs) -> u8 {
    super::fail("`pgsec isolation` is not implemented yet")
}
