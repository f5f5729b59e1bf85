//! Logging rules: `log.*`.

use std::collections::BTreeSet;

use super::settings::{bool_rule, split_list};
use super::{need, Eval};

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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::snapshot::{Collected, ServerVersion};
    use crate::Severity;

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
}
