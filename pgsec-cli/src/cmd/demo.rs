//! `pgsec demo` (not implemented yet).

/// Arguments of `pgsec demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {}

pub(crate) fn run(_args: DemoArgs) -> u8 {
    super::fail("`pgsec demo` is not implemented yet")
}
