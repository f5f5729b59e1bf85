//! Rules (being implemented).
use super::Eval;

/// `auth.md5_stored`.
pub(super) fn md5_stored(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `role.app_superuser`.
pub(super) fn app_superuser(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `role.superusers`.
pub(super) fn superusers(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `role.bypassrls`.
pub(super) fn bypassrls(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `role.createrole_createdb`.
pub(super) fn createrole_createdb(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `role.connlimit_unlimited`.
pub(super) fn connlimit_unlimited(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `role.dangerous_membership`.
pub(super) fn dangerous_membership(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `role.stats_visibility`.
pub(super) fn stats_visibility(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}
