//! Setting rules for authentication, audit, logging and runtime: `auth.password_encryption`,
//! `auth.timeout_long`, `audit.*`, `log.*`, `rt.*`.

use std::collections::BTreeSet;

use super::settings::{split_list, Setting};
use super::{need, Eval};
use crate::report::Location;

/// Emits when the boolean setting `name` has the value `bad`.
fn bool_rule(ev: &mut Eval<'_>, name: &str, bad: bool, fix: &str, why: &str) {
    let s = need!(ev, ev.setting(name));
    match s.as_bool() {
        Some(v) if v == bad => ev.emit(
            name,
            s.location.clone(),
            format!("{}: {why}", s.describe()),
            fix,
        ),
        Some(_) => {}
        None => ev.skip(format!("{} is not a boolean", s.describe())),
    }
}

/// `auth.password_encryption`: not `scram-sha-256`.
pub(super) fn password_encryption(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("password_encryption"));
    if !s.value.trim().eq_ignore_ascii_case("scram-sha-256") {
        ev.emit(
            "password_encryption",
            s.location.clone(),
            format!("{}: new passwords are stored as md5 hashes", s.describe()),
            "password_encryption = 'scram-sha-256'",
        );
    }
}

/// `auth.timeout_long`: `authentication_timeout` over 60 s.
pub(super) fn timeout_long(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("authentication_timeout"));
    match s.as_millis("s") {
        Some(ms) if ms > 60_000.0 => ev.emit(
            "authentication_timeout",
            s.location.clone(),
            format!("{}: {} s is over 60 s", s.describe(), ms / 1000.0),
            "authentication_timeout = '30s'",
        ),
        Some(_) => {}
        None => ev.skip(format!("{} is not a time", s.describe())),
    }
}

fn preload(ev: &Eval<'_>) -> Result<(Setting, bool), String> {
    let s = ev.setting("shared_preload_libraries")?;
    let loaded = split_list(&s.value).iter().any(|l| {
        let base = l.rsplit('/').next().unwrap_or(l);
        base == "pgaudit" || base == "pgaudit.so"
    });
    Ok((s, loaded))
}

/// `audit.pgaudit_not_loaded`: `shared_preload_libraries` lacks pgaudit.
pub(super) fn pgaudit_not_loaded(ev: &mut Eval<'_>) {
    let (s, loaded) = need!(ev, preload(ev));
    if !loaded {
        let fix = if s.value.trim().is_empty() {
            "shared_preload_libraries = 'pgaudit'  # restart required".to_owned()
        } else {
            format!(
                "shared_preload_libraries = '{}, pgaudit'  # restart required",
                s.value.trim()
            )
        };
        ev.emit(
            "shared_preload_libraries",
            s.location.clone(),
            format!("{}: pgaudit is not loaded", s.describe()),
            fix,
        );
    }
}

/// The pgaudit settings rules apply only when pgaudit is loaded.
fn need_pgaudit(ev: &Eval<'_>) -> Result<(), String> {
    let (_, loaded) = preload(ev)?;
    if loaded {
        Ok(())
    } else {
        Err("pgaudit is not loaded (see audit.pgaudit_not_loaded)".to_owned())
    }
}

/// `audit.pgaudit_no_extension`: pgaudit loaded, extension missing in a database.
pub(super) fn pgaudit_no_extension(ev: &mut Eval<'_>) {
    need!(ev, ev.live_or_skip());
    need!(ev, need_pgaudit(ev));
    for (db, exts) in ev.per_db("extensions", |d| &d.extensions) {
        if !exts.iter().any(|e| e.name == "pgaudit") {
            ev.emit(
                db.name.as_str(),
                Location::object("database", db.name.clone()),
                format!(
                    "pgaudit is loaded but CREATE EXTENSION pgaudit was not run in database {}",
                    db.name
                ),
                format!("\\c {}\nCREATE EXTENSION IF NOT EXISTS pgaudit;", db.name),
            );
        }
    }
}

/// The classes a `pgaudit.log` value logs (`all` expanded, `-class` removed).
pub(crate) fn pgaudit_classes_of(value: &str) -> BTreeSet<String> {
    const ALL: &[&str] = &[
        "read", "write", "function", "role", "ddl", "misc", "misc_set",
    ];
    let mut set = BTreeSet::new();
    for item in value.split(',').map(|s| s.trim().to_ascii_lowercase()) {
        let (minus, name) = match item.strip_prefix('-') {
            Some(n) => (true, n.trim().to_owned()),
            None => (false, item),
        };
        let names: Vec<String> = match name.as_str() {
            "all" => ALL.iter().map(|s| (*s).to_owned()).collect(),
            "none" | "" => Vec::new(),
            n => vec![n.to_owned()],
        };
        for n in names {
            if minus {
                set.remove(&n);
            } else {
                set.insert(n);
            }
        }
    }
    set
}

/// `audit.pgaudit_classes`: `pgaudit.log` lacks ddl or role.
pub(super) fn pgaudit_classes(ev: &mut Eval<'_>) {
    need!(ev, need_pgaudit(ev));
    let s = need!(ev, ev.setting("pgaudit.log"));
    let classes = pgaudit_classes_of(&s.value);
    let missing: Vec<&str> = ["ddl", "role"]
        .into_iter()
        .filter(|c| !classes.contains(*c))
        .collect();
    if !missing.is_empty() {
        let mut fixed: Vec<String> = classes.into_iter().collect();
        fixed.extend(missing.iter().map(|m| (*m).to_owned()));
        ev.emit(
            "pgaudit.log",
            s.location.clone(),
            format!("{}: does not log {}", s.describe(), missing.join(" or ")),
            format!("pgaudit.log = '{}'", fixed.join(", ")),
        );
    }
}

/// `audit.pgaudit_catalog`: `pgaudit.log_catalog = on`.
pub(super) fn pgaudit_catalog(ev: &mut Eval<'_>) {
    need!(ev, need_pgaudit(ev));
    bool_rule(
        ev,
        "pgaudit.log_catalog",
        true,
        "pgaudit.log_catalog = off",
        "catalog queries flood the log",
    );
}

/// `audit.pgaudit_relation`: `pgaudit.log_relation = off`.
pub(super) fn pgaudit_relation(ev: &mut Eval<'_>) {
    need!(ev, need_pgaudit(ev));
    bool_rule(
        ev,
        "pgaudit.log_relation",
        false,
        "pgaudit.log_relation = on",
        "relations are not logged separately",
    );
}

/// The aspects of a PostgreSQL 18 `log_connections` list (`receipt`, `authentication`,
/// `authorization`, `setup_durations`; `all` for every one), lower-cased; `None` when an
/// item is not one of them.
pub(crate) fn connection_aspects(value: &str) -> Option<BTreeSet<String>> {
    const ASPECTS: [&str; 4] = [
        "receipt",
        "authentication",
        "authorization",
        "setup_durations",
    ];
    let mut out = BTreeSet::new();
    for item in split_list(value) {
        let item = item.to_ascii_lowercase();
        if item == "all" {
            out.extend(ASPECTS.iter().map(|a| (*a).to_owned()));
        } else if ASPECTS.contains(&item.as_str()) {
            out.insert(item);
        } else {
            return None;
        }
    }
    Some(out)
}

/// `log.connections`: `log_connections = off`; on PostgreSQL 18, also a list of aspects
/// without `authentication` and `authorization` (raised from low when empty: nothing is
/// logged).
pub(super) fn log_connections(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("log_connections"));
    let fix = "log_connections = on  # PostgreSQL 18: or 'receipt,authentication,authorization'";
    if let Some(on) = s.as_bool() {
        if !on {
            ev.emit(
                "log_connections",
                s.location.clone(),
                format!("{}: connections are not logged", s.describe()),
                fix,
            );
        }
        return;
    }
    if ev.major() < 18 {
        ev.skip(format!(
            "{} is not a boolean (lists of aspects need PostgreSQL 18)",
            s.describe()
        ));
        return;
    }
    let Some(aspects) = connection_aspects(&s.value) else {
        ev.skip(format!(
            "{} is neither a boolean nor a list of receipt, authentication, authorization, \
             setup_durations, all",
            s.describe()
        ));
        return;
    };
    let missing: Vec<&str> = ["authentication", "authorization"]
        .into_iter()
        .filter(|a| !aspects.contains(*a))
        .collect();
    if aspects.is_empty() {
        ev.emit(
            "log_connections",
            s.location.clone(),
            format!("{}: the empty list logs no connection", s.describe()),
            fix,
        );
    } else if !missing.is_empty() {
        let mut fixed: Vec<String> = aspects.iter().cloned().collect();
        fixed.extend(missing.iter().map(|m| (*m).to_owned()));
        fixed.sort();
        ev.emit_at(
            crate::Severity::Low,
            "log_connections",
            s.location.clone(),
            format!(
                "{}: who authenticated and as which role is not logged ({} missing)",
                s.describe(),
                missing.join(" and ")
            ),
            format!("log_connections = '{}'", fixed.join(",")),
        );
    }
}

/// `log.disconnections`: `log_disconnections = off`.
pub(super) fn log_disconnections(ev: &mut Eval<'_>) {
    bool_rule(
        ev,
        "log_disconnections",
        false,
        "log_disconnections = on",
        "disconnections are not logged",
    );
}

/// The escapes (`m`, `t`, `p`, ...) a `log_line_prefix` uses.
pub(crate) fn prefix_escapes(prefix: &str) -> BTreeSet<char> {
    let mut out = BTreeSet::new();
    let mut chars = prefix.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        // Optional padding: `%-10u`, `%10u`.
        if chars.peek() == Some(&'-') {
            chars.next();
        }
        while chars.peek().is_some_and(char::is_ascii_digit) {
            chars.next();
        }
        match chars.next() {
            Some('%') | None => {}
            Some(e) => {
                out.insert(e);
            }
        }
    }
    out
}

/// `log.line_prefix`: lacks a time, `%p`, `%u`, `%d` or a client.
pub(super) fn log_line_prefix(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("log_line_prefix"));
    let e = prefix_escapes(&s.value);
    let mut missing = Vec::new();
    if !(e.contains(&'m') || e.contains(&'t') || e.contains(&'n')) {
        missing.push("a time (%m or %t)");
    }
    if !e.contains(&'p') {
        missing.push("the process id (%p)");
    }
    if !e.contains(&'u') {
        missing.push("the user (%u)");
    }
    if !e.contains(&'d') {
        missing.push("the database (%d)");
    }
    if !(e.contains(&'h') || e.contains(&'r')) {
        missing.push("the client (%h or %r)");
    }
    if !missing.is_empty() {
        ev.emit(
            "log_line_prefix",
            s.location.clone(),
            format!("{} lacks {}", s.describe(), missing.join(", ")),
            "log_line_prefix = '%m [%p] %q%u@%d %r '",
        );
    }
}

/// `log.lock_waits`: `log_lock_waits = off`.
pub(super) fn log_lock_waits(ev: &mut Eval<'_>) {
    bool_rule(
        ev,
        "log_lock_waits",
        false,
        "log_lock_waits = on",
        "long lock waits are not logged",
    );
}

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
    use super::*;
    use crate::snapshot::{Collected, ExtensionFact, ServerVersion};
    use crate::Severity;

    const LOADED: &str = "shared_preload_libraries = 'pg_stat_statements,pgaudit'";

    #[test]
    fn password_encryption() {
        assert_eq!(
            of(
                &run(&conf_snapshot(&["password_encryption = md5"])),
                "auth.password_encryption"
            )
            .len(),
            1
        );
        assert_quiet(
            &run(&conf_snapshot(&["ssl = on"])),
            "auth.password_encryption",
        );
        assert_quiet(
            &run(&conf_snapshot(&["password_encryption = 'SCRAM-SHA-256'"])),
            "auth.password_encryption",
        );
    }

    #[test]
    fn authentication_timeout() {
        assert_eq!(
            of(
                &run(&conf_snapshot(&["authentication_timeout = 2min"])),
                "auth.timeout_long"
            )
            .len(),
            1
        );
        assert_eq!(
            of(
                &run(&conf_snapshot(&["authentication_timeout = 61"])),
                "auth.timeout_long"
            )
            .len(),
            1
        );
        assert_quiet(
            &run(&conf_snapshot(&["authentication_timeout = 60s"])),
            "auth.timeout_long",
        );
        assert_quiet(&run(&conf_snapshot(&["ssl = on"])), "auth.timeout_long");
        let r = run(&live_snapshot(|l| {
            l.settings = Collected::Present(
                [(
                    "authentication_timeout".to_owned(),
                    crate::snapshot::LiveSetting::new(
                        "authentication_timeout",
                        "120",
                        "configuration file",
                    )
                    .with_unit("s"),
                )]
                .into_iter()
                .collect(),
            )
        }));
        assert_eq!(of(&r, "auth.timeout_long").len(), 1);
    }

    #[test]
    fn pgaudit_not_loaded() {
        let r = run(&conf_snapshot(&[
            "shared_preload_libraries = 'pg_stat_statements'",
        ]));
        let f = of(&r, "audit.pgaudit_not_loaded");
        assert_eq!(f.len(), 1);
        assert!(f[0].remediation().contains("pg_stat_statements, pgaudit"));
        assert_eq!(
            of(
                &run(&conf_snapshot(&["ssl = on"])),
                "audit.pgaudit_not_loaded"
            )
            .len(),
            1
        );
        assert_quiet(&run(&conf_snapshot(&[LOADED])), "audit.pgaudit_not_loaded");
    }

    #[test]
    fn pgaudit_settings_skip_when_not_loaded() {
        let r = run(&conf_snapshot(&["pgaudit.log = 'read'"]));
        for id in [
            "audit.pgaudit_classes",
            "audit.pgaudit_catalog",
            "audit.pgaudit_relation",
        ] {
            assert!(
                r.skipped()
                    .iter()
                    .any(|s| s.id == id && s.reason.contains("not loaded")),
                "{id}"
            );
        }
    }

    #[test]
    fn pgaudit_classes() {
        assert_eq!(pgaudit_classes_of("all, -misc").len(), 6);
        assert!(!pgaudit_classes_of("all,-ddl").contains("ddl"));
        let r = run(&conf_snapshot(&[LOADED, "pgaudit.log = 'read, ddl'"]));
        let f = of(&r, "audit.pgaudit_classes");
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence().contains("role") && !f[0].evidence().contains("ddl or"));
        assert_eq!(
            of(&run(&conf_snapshot(&[LOADED])), "audit.pgaudit_classes").len(),
            1
        );
        assert_quiet(
            &run(&conf_snapshot(&[LOADED, "pgaudit.log = 'ddl,role'"])),
            "audit.pgaudit_classes",
        );
        assert_quiet(
            &run(&conf_snapshot(&[LOADED, "pgaudit.log = 'all, -misc'"])),
            "audit.pgaudit_classes",
        );
    }

    #[test]
    fn pgaudit_catalog_and_relation() {
        let r = run(&conf_snapshot(&[LOADED]));
        assert_eq!(of(&r, "audit.pgaudit_catalog").len(), 1);
        assert_eq!(of(&r, "audit.pgaudit_relation").len(), 1);
        let r = run(&conf_snapshot(&[
            LOADED,
            "pgaudit.log_catalog = off",
            "pgaudit.log_relation = on",
        ]));
        assert_quiet(&r, "audit.pgaudit_catalog");
        assert_quiet(&r, "audit.pgaudit_relation");
    }

    #[test]
    fn pgaudit_extension_per_database() {
        let s = live_snapshot(|l| set(l, "shared_preload_libraries", "pgaudit"));
        assert_eq!(of(&run(&s), "audit.pgaudit_no_extension").len(), 1);
        let s = live_snapshot(|l| {
            set(l, "shared_preload_libraries", "pgaudit");
            l.databases[0].extensions =
                Collected::Present(vec![ExtensionFact::new("pgaudit", "public", "1.7")]);
        });
        assert_quiet(&run(&s), "audit.pgaudit_no_extension");
        assert!(run(&live_snapshot(|_| {})).is_skipped("audit.pgaudit_no_extension"));
    }

    #[test]
    fn logging_booleans() {
        let r = run(&conf_snapshot(&["ssl = on"]));
        for id in ["log.connections", "log.disconnections", "log.lock_waits"] {
            assert_eq!(of(&r, id).len(), 1, "{id}");
            assert!(of(&r, id)[0].evidence().contains("default"), "{id}");
        }
        let r = run(&conf_snapshot(&[
            "log_connections = on",
            "log_disconnections = yes",
            "log_lock_waits = true",
        ]));
        for id in ["log.connections", "log.disconnections", "log.lock_waits"] {
            assert_quiet(&r, id);
        }
    }

    #[test]
    fn log_connections_lists_of_18() {
        let v18 = |line: &str| {
            conf_snapshot(&[line]).with_pg_version(crate::hba::PgVersion::new(18).unwrap())
        };
        for full in [
            "log_connections = 'receipt,authentication,authorization'",
            "log_connections = 'Authorization, authentication'",
            "log_connections = 'all'",
            "log_connections = on",
        ] {
            assert_quiet(&run(&v18(full)), "log.connections");
        }
        let r = run(&v18("log_connections = 'receipt,authentication'"));
        let f = of(&r, "log.connections");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity(), Severity::Low, "partial");
        assert!(
            f[0].evidence().contains("authorization missing"),
            "{}",
            f[0].evidence()
        );
        assert_eq!(
            f[0].remediation(),
            "log_connections = 'authentication,authorization,receipt'"
        );
        let r = run(&v18("log_connections = ''"));
        assert_eq!(of(&r, "log.connections")[0].severity(), Severity::Medium);
        assert!(run(&v18("log_connections = 'receipt,bogus'")).is_skipped("log.connections"));
        // Before 18 a list is not a value the server accepts.
        assert!(run(&conf_snapshot(&[
            "log_connections = 'receipt,authentication'"
        ]))
        .is_skipped("log.connections"));
        // Live 18 with the list as pg_settings shows it.
        let r = run(&live_snapshot(|l| {
            l.server_version = Collected::Present(ServerVersion::new(180006, "18.6"));
            set(l, "log_connections", "receipt");
        }));
        assert_eq!(of(&r, "log.connections").len(), 1);
    }

    #[test]
    fn line_prefix() {
        assert_eq!(
            prefix_escapes("%m [%p] %%u %-10d"),
            ['d', 'm', 'p'].into_iter().collect()
        );
        let r = run(&conf_snapshot(&["ssl = on"]));
        let f = of(&r, "log.line_prefix");
        assert!(
            f[0].evidence().contains("%u") && !f[0].evidence().contains("%p)"),
            "{}",
            f[0].evidence()
        );
        assert_quiet(
            &run(&conf_snapshot(&["log_line_prefix = '%m [%p] %q%u@%d %r '"])),
            "log.line_prefix",
        );
        assert_quiet(
            &run(&conf_snapshot(&["log_line_prefix = '%t %p %u %d %h'"])),
            "log.line_prefix",
        );
    }

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
