//! Rules (being implemented).
use super::Eval;

/// `tls.ssl_off`.
pub(super) fn ssl_off(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `tls.min_protocol_weak`.
pub(super) fn min_protocol_weak(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `tls.weak_ciphers`.
pub(super) fn weak_ciphers(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `tls.key_permissions`.
pub(super) fn key_permissions(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `tls.cert_expiry`.
pub(super) fn cert_expiry(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `tls.cert_no_san`.
pub(super) fn cert_no_san(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `net.listen_all`.
pub(super) fn listen_all(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}
