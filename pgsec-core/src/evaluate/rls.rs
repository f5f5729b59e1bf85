//! Rules (being implemented).
use super::Eval;

/// `rls.disabled`.
pub(super) fn disabled(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `rls.not_forced`.
pub(super) fn not_forced(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `rls.no_policy`.
pub(super) fn no_policy(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `rls.policy_without_rls`.
pub(super) fn policy_without_rls(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `rls.policy_always_true`.
pub(super) fn policy_always_true(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `rls.policy_ignores_tenant`.
pub(super) fn policy_ignores_tenant(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `rls.view_bypass`.
pub(super) fn view_bypass(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}

/// `rls.definer_function`.
pub(super) fn definer_function(ev: &mut Eval<'_>) {
    ev.skip("not implemented yet");
}
