//! Rules (being implemented).
use super::Eval;

/// `auth.password_encryption`.
pub(super) fn password_encryption(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `auth.timeout_long`.
pub(super) fn timeout_long(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `audit.pgaudit_not_loaded`.
pub(super) fn pgaudit_not_loaded(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `audit.pgaudit_no_extension`.
pub(super) fn pgaudit_no_extension(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `audit.pgaudit_classes`.
pub(super) fn pgaudit_classes(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `audit.pgaudit_catalog`.
pub(super) fn pgaudit_catalog(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `audit.pgaudit_relation`.
pub(super) fn pgaudit_relation(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `log.connections`.
pub(super) fn log_connections(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `log.disconnections`.
pub(super) fn log_disconnections(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `log.line_prefix`.
pub(super) fn log_line_prefix(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `log.lock_waits`.
pub(super) fn log_lock_waits(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `rt.idle_in_tx_timeout`.
pub(super) fn idle_in_tx_timeout(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `rt.unsafe_setting`.
pub(super) fn unsafe_setting(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `rt.version_eol`.
pub(super) fn version_eol(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}
