//! Rules (being implemented).
use super::Eval;

/// `client.sslmode_weak`.
pub(super) fn sslmode_weak(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `client.channel_binding`.
pub(super) fn channel_binding(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}
