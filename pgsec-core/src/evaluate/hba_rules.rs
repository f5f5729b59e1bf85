//! Rules (being implemented).
use super::Eval;

/// `hba.parse_error`.
pub(super) fn parse_error(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.trust_network`.
pub(super) fn trust_network(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.trust_local`.
pub(super) fn trust_local(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.password_cleartext`.
pub(super) fn password_cleartext(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.md5`.
pub(super) fn md5(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.ident_network`.
pub(super) fn ident_network(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.plaintext_allowed`.
pub(super) fn plaintext_allowed(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.wide_address`.
pub(super) fn wide_address(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.all_db_all_users`.
pub(super) fn all_db_all_users(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.superuser_network`.
pub(super) fn superuser_network(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.replication_wide`.
pub(super) fn replication_wide(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.no_final_reject`.
pub(super) fn no_final_reject(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `hba.shadowed_rule`.
pub(super) fn shadowed_rule(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}
