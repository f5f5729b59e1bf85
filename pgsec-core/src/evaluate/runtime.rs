//! Runtime setting rules: `rt.idle_in_tx_timeout`, `rt.unsafe_setting`, `rt.version_eol`
//! (`rt.allow_alter_system` is with the majors' rules, `rt.security_release` with the
//! releases').

use super::settings::bool_rule;
use super::{need, Eval};
use crate::report::Location;

/// `rt.idle_in_tx_timeout`: `idle_in_transaction_session_timeout = 0`.
pub(super) fn idle_in_tx_timeout(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("idle_in_transaction_session_timeout"));
    match s.as_millis("ms") {
        Some(ms) if ms <= 0.0 => ev.emit(
            "idle_in_transaction_session_timeout",
            s.location.clone(),
            format!("{}: idle transactions are never ended", s.describe()),
            "idle_in_transaction_session_timeout = '5min'",
        ),
        Some(_) => {}
        None => ev.skip(format!("{} is not a time", s.describe())),
    }
}

/// `rt.unsafe_setting`: fsync / full_page_writes off, ignore_system_indexes /
/// allow_system_table_mods on.
pub(super) fn unsafe_setting(ev: &mut Eval<'_>) {
    for (name, bad, fix) in [
        ("fsync", false, "fsync = on"),
        ("full_page_writes", false, "full_page_writes = on"),
        ("ignore_system_indexes", true, "ignore_system_indexes = off"),
        (
            "allow_system_table_mods",
            true,
            "allow_system_table_mods = off",
        ),
    ] {
        bool_rule(ev, name, bad, fix, "unsafe outside an emergency");
    }
}

/// Final release dates (end of life) of major versions, Unix seconds (UTC midnight).
const EOL: &[(u32, i64)] = &[
    (11, 1_699_488_000), // 2023-11-09
    (12, 1_732_147_200), // 2024-11-21
    (13, 1_762_992_000), // 2025-11-13
    (14, 1_794_441_600), // 2026-11-12
    (15, 1_825_891_200), // 2027-11-11
    (16, 1_857_340_800), // 2028-11-09
    (17, 1_888_790_400), // 2029-11-08
    (18, 1_920_844_800), // 2030-11-14
];

/// `rt.version_eol`: the major version is past its end of life.
pub(super) fn version_eol(ev: &mut Eval<'_>) {
    let live = need!(ev, ev.live_or_skip());
    let v = need!(
        ev,
        live.server_version
            .get()
            .map_err(|r| format!("server version not collected: {r}"))
    );
    let major = v.major();
    let eol = if major < 11 {
        Some(i64::MIN)
    } else {
        EOL.iter().find(|(m, _)| *m == major).map(|(_, t)| *t)
    };
    match eol {
        Some(t) if ev.snap.collected_at >= t => ev.emit(
            format!("server/{major}"),
            Location::object("server", v.text.clone()),
            format!(
                "PostgreSQL {} (major {major}) is past its end of life",
                v.text
            ),
            "Upgrade to a supported major version (pg_upgrade or dump and restore).",
        ),
        Some(_) => {}
        None => ev.skip(format!(
            "end of life of PostgreSQL {major} is not known to this pgsec"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::snapshot::{Collected, ServerVersion};
    use crate::Severity;

    #[test]
    fn idle_in_transaction() {
        assert_eq!(
            of(&run(&conf_snapshot(&["ssl = on"])), "rt.idle_in_tx_timeout").len(),
            1
        );
        assert_quiet(
            &run(&conf_snapshot(&[
                "idle_in_transaction_session_timeout = '5min'",
            ])),
            "rt.idle_in_tx_timeout",
        );
    }

    #[test]
    fn unsafe_settings_one_finding_each() {
        let r = run(&conf_snapshot(&[
            "fsync = off",
            "allow_system_table_mods = on",
        ]));
        assert_eq!(of(&r, "rt.unsafe_setting").len(), 2);
        assert_quiet(&run(&conf_snapshot(&["fsync = on"])), "rt.unsafe_setting");
    }

    #[test]
    fn version_eol_uses_the_collection_time() {
        let mut s = live_snapshot(|l| {
            l.server_version = Collected::Present(ServerVersion::new(120_020, "12.20"))
        });
        s.collected_at = 1_735_689_600; // 2025-01-01
        let r = run(&s);
        assert_eq!(of(&r, "rt.version_eol")[0].severity(), Severity::Medium);
        let mut s = live_snapshot(|l| {
            l.server_version = Collected::Present(ServerVersion::new(150_004, "15.4"))
        });
        s.collected_at = 1_735_689_600;
        assert_quiet(&run(&s), "rt.version_eol");
        let mut s = live_snapshot(|l| {
            l.server_version = Collected::Present(ServerVersion::new(960_024, "96"))
        });
        s.collected_at = 0;
        assert!(run(&s).is_skipped("rt.version_eol"));
    }
}
