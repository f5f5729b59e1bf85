//! `pgsec audit` (not implemented yet).

/// Arguments of `pgsec audit`.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {}

pub(crate) fn run(_args: AuditArgs) -> u8 {
    super::fail("`pgsec audit` is not implemented yet")
}
