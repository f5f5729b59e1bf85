//! Rules (being implemented).
use super::Eval;

/// `fn.definer_search_path`.
pub(super) fn definer_search_path(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `ext.untrusted_language`.
pub(super) fn untrusted_language(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `ext.risky_extension`.
pub(super) fn risky_extension(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `ext.in_public`.
pub(super) fn in_public(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}
