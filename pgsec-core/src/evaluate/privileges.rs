//! Rules (being implemented).
use super::Eval;

/// `priv.public_schema_create`.
pub(super) fn public_schema_create(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `priv.public_table_grants`.
pub(super) fn public_table_grants(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `priv.app_owns_tables`.
pub(super) fn app_owns_tables(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `priv.search_path_public`.
pub(super) fn search_path_public(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}
