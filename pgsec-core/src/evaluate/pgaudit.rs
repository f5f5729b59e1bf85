//! pgaudit rules: `audit.*`. The settings rules apply only once pgaudit is loaded.

use std::collections::BTreeSet;

use super::settings::{bool_rule, split_list, Setting};
use super::{need, Eval};
use crate::report::Location;

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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::snapshot::{Collected, ExtensionFact};

    const LOADED: &str = "shared_preload_libraries = 'pg_stat_statements,pgaudit'";

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
}
