//! Rules about what PostgreSQL 16, 17 and 18 added: `auth.scram_iterations` (16),
//! `priv.app_maintain`, `fn.login_event_trigger`, `rt.allow_alter_system` (17),
//! `tls.weak_groups`, `tls.weak_tls13_ciphers`, `hba.oauth_no_validator` (18). The
//! evaluator runs each only on the majors its catalogue entry names.

use super::reach::Roles;
use super::settings::split_list;
use super::{ident, in_db, need, qident, Eval};
use crate::hba::AuthMethod;
use crate::report::Location;

/// `auth.scram_iterations`: `scram_iterations` below its default 4096.
pub(super) fn scram_iterations(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("scram_iterations"));
    match s.value.trim().parse::<i64>() {
        Ok(n) if n < 4096 => ev.emit(
            "scram_iterations",
            s.location.clone(),
            format!(
                "{}: SCRAM secrets stored from now on take {n} iterations of PBKDF2 to check \
                 instead of 4096",
                s.describe()
            ),
            "scram_iterations = 4096  # then re-set the passwords set meanwhile",
        ),
        Ok(_) => {}
        Err(_) => ev.skip(format!("{} is not an integer", s.describe())),
    }
}

/// `rt.allow_alter_system`: `allow_alter_system = on` (the 17+ default).
pub(super) fn allow_alter_system(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("allow_alter_system"));
    match s.as_bool() {
        Some(true) => ev.emit(
            "allow_alter_system",
            s.location.clone(),
            format!(
                "{}: ALTER SYSTEM may write postgresql.auto.conf, which overrides the \
                 configuration files",
                s.describe()
            ),
            "allow_alter_system = off",
        ),
        Some(false) => {}
        None => ev.skip(format!("{} is not a boolean", s.describe())),
    }
}

/// Key-exchange groups below 128-bit security (curves under 256 bits).
fn weak_group(group: &str) -> bool {
    let g = group.trim().to_ascii_lowercase();
    const WEAK: &[&str] = &[
        "secp112",
        "secp128",
        "secp160",
        "secp192",
        "prime192",
        "p-192",
        "secp224",
        "p-224",
        "sect113",
        "sect131",
        "sect163",
        "sect193",
        "sect233",
        "sect239",
        "brainpoolp160",
        "brainpoolp192",
        "brainpoolp224",
        "c2pnb",
        "c2tnb",
        "wap-wsg",
    ];
    WEAK.iter().any(|w| g.starts_with(w))
}

/// `tls.weak_groups`: `ssl_groups` (18) names a group weaker than 128 bits.
pub(super) fn weak_groups(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("ssl_groups"));
    let weak: Vec<&str> = s
        .value
        .split(':')
        .map(str::trim)
        .filter(|g| weak_group(g))
        .collect();
    if !weak.is_empty() {
        let strong: Vec<&str> = s
            .value
            .split(':')
            .map(str::trim)
            .filter(|g| !g.is_empty() && !weak_group(g))
            .collect();
        let fix = if strong.is_empty() {
            "ssl_groups = 'X25519:prime256v1'".to_owned()
        } else {
            format!("ssl_groups = '{}'", strong.join(":"))
        };
        ev.emit(
            "ssl_groups",
            s.location.clone(),
            format!(
                "{}: {} gives less than 128-bit security",
                s.describe(),
                weak.join(", ")
            ),
            fix,
        );
    }
}

/// A TLS 1.3 suite that is weak: CCM with an 8-byte tag, or integrity only (no
/// encryption, OpenSSL 3.4+).
fn weak_tls13(suite: &str) -> bool {
    let s = suite.trim().to_ascii_uppercase();
    s.contains("CCM_8") || s == "TLS_SHA256_SHA256" || s == "TLS_SHA384_SHA384"
}

/// `tls.weak_tls13_ciphers`: `ssl_tls13_ciphers` (18) admits a weak suite.
pub(super) fn weak_tls13_ciphers(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("ssl_tls13_ciphers"));
    let suites: Vec<&str> = s
        .value
        .split(':')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect();
    let weak: Vec<&str> = suites.iter().copied().filter(|x| weak_tls13(x)).collect();
    if !weak.is_empty() {
        let strong: Vec<&str> = suites.iter().copied().filter(|x| !weak_tls13(x)).collect();
        let fix = if strong.is_empty() {
            "ssl_tls13_ciphers = ''  # OpenSSL's defaults".to_owned()
        } else {
            format!("ssl_tls13_ciphers = '{}'", strong.join(":"))
        };
        ev.emit(
            "ssl_tls13_ciphers",
            s.location.clone(),
            format!(
                "{}: admits {} (a short authentication tag or no encryption at all)",
                s.describe(),
                weak.join(", ")
            ),
            fix,
        );
    }
}

/// `hba.oauth_no_validator`: an `oauth` line while `oauth_validator_libraries` is
/// empty, or whose `validator=` is not among them; also the line the server refused for
/// that reason (live `pg_hba_file_rules.error`).
pub(super) fn oauth_no_validator(ev: &mut Eval<'_>) {
    let hba = need!(ev, ev.hba());
    let mut oauth_lines = Vec::new();
    for line in &hba.lines {
        match &line.result {
            Ok(rule) if rule.method == AuthMethod::OAuth => {
                let validator = rule
                    .options
                    .iter()
                    .find(|o| o.name() == "validator")
                    .map(|o| o.value().to_owned());
                oauth_lines.push((line, validator, None));
            }
            Err(e) if e.contains("oauth_validator_libraries") => {
                oauth_lines.push((line, None, Some(e.clone())));
            }
            _ => {}
        }
    }
    if oauth_lines.is_empty() {
        return;
    }
    let libs = need!(ev, ev.setting("oauth_validator_libraries"));
    let listed = split_list(&libs.value);
    for (line, validator, refused) in oauth_lines {
        let why = match (&refused, &validator) {
            (Some(e), _) => format!("the server refused the line: {e}"),
            (None, _) if listed.is_empty() => format!(
                "{}: no validator module checks the bearer tokens",
                libs.describe()
            ),
            (None, Some(v)) if !listed.iter().any(|l| l == v) => {
                format!("validator={v} is not among {}", libs.describe())
            }
            _ => continue,
        };
        let file = line.file.rsplit(['/', '\\']).next().unwrap_or(&line.file);
        ev.emit(
            format!("{file}:{}", line.line_number),
            Location::file_line(line.file.clone(), line.line_number),
            format!(
                "an oauth line at {file}:{} cannot authenticate anyone; {why}",
                line.line_number
            ),
            "oauth_validator_libraries = '<validator module>'  # and validator=<module> on the \
             line when several are listed; restart required",
        );
    }
}

/// `priv.app_maintain`: the application's role has `pg_maintain`'s privileges or can
/// SET ROLE to it, or holds MAINTAIN (`m`) on a table it does not own.
pub(super) fn app_maintain(ev: &mut Eval<'_>) {
    let app = need!(ev, ev.app_role());
    let roles = need!(ev, ev.roles());
    let reach = Roles::new(roles).reach(app);
    if let Some((chain, via)) = reach.acts_as("pg_maintain") {
        let how = match via {
            None => format!("has the privileges of pg_maintain ({chain})"),
            Some(v) => format!("can SET ROLE to {v} and act as pg_maintain ({chain})"),
        };
        let first = chain.first_hop().unwrap_or("pg_maintain");
        ev.emit(
            format!("role/{app}/pg_maintain"),
            Location::object("role", app),
            format!("the application role {app} {how}: MAINTAIN on every table of every database"),
            format!("REVOKE {} FROM {};", ident(first), ident(app)),
        );
    }
    for (db, tables) in ev.per_db("tables", |d| &d.tables) {
        for t in tables {
            // Owners have MAINTAIN; priv.app_owns_tables reports that.
            if reach.acts_as(&t.owner).is_some() {
                continue;
            }
            let Some(how) = reach.may_use(t.acl.as_deref(), &t.owner, "m", false) else {
                continue;
            };
            let name = t.qualified().to_string();
            ev.emit(
                format!("{}/{name}", db.name),
                Location::object("table", in_db(&db.name, &name)),
                format!(
                    "the application role {app} may VACUUM, ANALYZE, REINDEX, CLUSTER and LOCK \
                     {name} in database {}: {how}",
                    db.name
                ),
                format!(
                    "REVOKE MAINTAIN ON {} FROM {};  -- or from the role that holds it",
                    qident(&t.schema, &t.name),
                    if how.starts_with("PUBLIC") {
                        "PUBLIC".to_owned()
                    } else {
                        ident(app)
                    }
                ),
            );
        }
    }
}

/// `fn.login_event_trigger`: an enabled event trigger `ON login`.
pub(super) fn login_event_trigger(ev: &mut Eval<'_>) {
    let superusers: Option<Vec<String>> = ev.roles().ok().map(|roles| {
        roles
            .iter()
            .filter(|r| r.superuser)
            .map(|r| r.name.clone())
            .collect()
    });
    for (db, triggers) in ev.per_db("event triggers", |d| &d.event_triggers) {
        for t in triggers
            .iter()
            .filter(|t| t.event == "login" && t.is_enabled())
        {
            let who = match &superusers {
                Some(s) if !s.is_empty() => format!(
                    "; only superusers may create, replace or alter it: {}",
                    s.join(", ")
                ),
                _ => "; only superusers may create, replace or alter it".to_owned(),
            };
            ev.emit(
                format!("{}/{}", db.name, t.name),
                Location::object("event trigger", in_db(&db.name, &t.name)),
                format!(
                    "login event trigger {} in database {} runs {} as {} for every connection{who}",
                    t.name, db.name, t.function, t.owner
                ),
                format!(
                    "ALTER EVENT TRIGGER {} DISABLE;  -- after review: DROP EVENT TRIGGER {}",
                    ident(&t.name),
                    ident(&t.name)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::hba::{HbaFile, HbaLine, HbaOption, PgVersion};
    use crate::snapshot::{
        AclItem, Collected, EventTriggerFact, LiveFacts, Membership, QualifiedName, RoleFact,
        ServerVersion, TableFact,
    };
    use crate::{evaluate, Policy, Snapshot};

    fn at(major: u32, f: impl FnOnce(&mut LiveFacts)) -> Snapshot {
        live_snapshot(|l| {
            l.server_version = Collected::Present(ServerVersion::new(major * 10_000 + 1, "x"));
            f(l);
        })
    }

    fn file(major: u32, lines: &[&str]) -> Snapshot {
        conf_snapshot(lines).with_pg_version(PgVersion::new(major).unwrap())
    }

    #[test]
    fn scram_iterations_below_the_default_on_16_and_later() {
        let r = run(&file(16, &["scram_iterations = 1000"]));
        let f = of(&r, "auth.scram_iterations");
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence().contains("1000"), "{}", f[0].evidence());
        assert_quiet(
            &run(&file(16, &["scram_iterations = 4096"])),
            "auth.scram_iterations",
        );
        assert_quiet(&run(&file(17, &["ssl = on"])), "auth.scram_iterations");
        // PostgreSQL 15 has no such setting: the rule does not apply.
        assert_quiet(
            &run(&file(15, &["scram_iterations = 1"])),
            "auth.scram_iterations",
        );
        let r = run(&at(18, |l| set(l, "scram_iterations", "100")));
        assert_eq!(of(&r, "auth.scram_iterations").len(), 1);
    }

    #[test]
    fn alter_system_allowed_by_default_from_17() {
        let r = run(&file(17, &["ssl = on"]));
        assert_eq!(of(&r, "rt.allow_alter_system").len(), 1, "default on");
        assert_quiet(
            &run(&file(18, &["allow_alter_system = off"])),
            "rt.allow_alter_system",
        );
        assert_quiet(&run(&file(16, &["ssl = on"])), "rt.allow_alter_system");
        let r = run(&at(17, |l| set(l, "allow_alter_system", "on")));
        assert_eq!(of(&r, "rt.allow_alter_system").len(), 1);
    }

    #[test]
    fn weak_groups_and_tls13_suites_on_18() {
        let r = run(&file(18, &["ssl_groups = 'X25519:secp192r1:prime256v1'"]));
        let f = of(&r, "tls.weak_groups");
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence().contains("secp192r1"));
        assert_eq!(f[0].remediation(), "ssl_groups = 'X25519:prime256v1'");
        assert_quiet(&run(&file(18, &["ssl = on"])), "tls.weak_groups");
        assert_quiet(
            &run(&file(
                18,
                &["ssl_groups = 'X25519MLKEM768:X25519:secp384r1'"],
            )),
            "tls.weak_groups",
        );
        assert_quiet(
            &run(&file(17, &["ssl_groups = 'secp192r1'"])),
            "tls.weak_groups",
        );

        let r = run(&file(
            18,
            &["ssl_tls13_ciphers = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_8_SHA256'"],
        ));
        let f = of(&r, "tls.weak_tls13_ciphers");
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].remediation(),
            "ssl_tls13_ciphers = 'TLS_AES_256_GCM_SHA384'"
        );
        let r = run(&file(18, &["ssl_tls13_ciphers = 'TLS_SHA384_SHA384'"]));
        assert_eq!(of(&r, "tls.weak_tls13_ciphers").len(), 1, "no encryption");
        assert_quiet(&run(&file(18, &["ssl = on"])), "tls.weak_tls13_ciphers");
    }

    fn oauth_line(n: usize, validator: Option<&str>) -> HbaLine {
        let mut line = hba_line(n, "hostssl all all 0.0.0.0/0 scram-sha-256");
        if let Ok(r) = &mut line.result {
            r.method = crate::hba::AuthMethod::OAuth;
            r.options = vec![HbaOption::new("issuer", "https://idp.example.com")];
            if let Some(v) = validator {
                r.options.push(HbaOption::new("validator", v));
            }
        }
        line
    }

    #[test]
    fn oauth_lines_need_a_validator_library_on_18() {
        let hba = |lines: Vec<HbaLine>| HbaFile { lines };
        let snap = |libs: &str, lines: Vec<HbaLine>| {
            at(18, |l| {
                set(l, "oauth_validator_libraries", libs);
                l.hba = Collected::Present(hba(lines));
            })
        };
        let r = run(&snap("", vec![oauth_line(1, None)]));
        let f = of(&r, "hba.oauth_no_validator");
        assert_eq!(f.len(), 1);
        assert!(
            f[0].evidence().contains("no validator"),
            "{}",
            f[0].evidence()
        );
        assert_quiet(
            &run(&snap("my_validator", vec![oauth_line(1, None)])),
            "hba.oauth_no_validator",
        );
        let r = run(&snap("a, b", vec![oauth_line(1, Some("c"))]));
        assert_eq!(of(&r, "hba.oauth_no_validator").len(), 1, "c is not listed");
        assert_quiet(
            &run(&snap("a, b", vec![oauth_line(1, Some("b"))])),
            "hba.oauth_no_validator",
        );
        // The server refused the line (pg_hba_file_rules.error).
        let refused = hba_line(
            2,
            "ERROR: oauth_validator_libraries must be set for authentication method oauth",
        );
        let r = run(&snap("", vec![refused]));
        assert_eq!(of(&r, "hba.oauth_no_validator").len(), 1);
        // No oauth line: nothing to say, even without the setting.
        assert_quiet(
            &run(&at(18, |l| {
                l.hba = Collected::Present(hba(vec![hba_line(1, "local all all peer")]))
            })),
            "hba.oauth_no_validator",
        );
    }

    fn app_roles(app: RoleFact) -> Vec<RoleFact> {
        vec![app, RoleFact::group("pg_maintain"), RoleFact::group("ops")]
    }

    #[test]
    fn maintain_for_the_application_role_on_17() {
        let policy = Policy::default().with_app_role("app");
        // Inherited pg_maintain.
        let mut app = RoleFact::login("app");
        app.member_of = vec!["pg_maintain".to_owned()];
        let s = at(17, |l| l.roles = Collected::Present(app_roles(app.clone())));
        let r = evaluate(&s, &policy);
        let f = of(&r, "priv.app_maintain");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].remediation(), "REVOKE pg_maintain FROM app;");
        // 16's options: neither inherit nor set: no way to act as pg_maintain.
        let mut none = RoleFact::login("app");
        none.member_of = vec!["pg_maintain".to_owned()];
        none.memberships = vec![Membership::new("pg_maintain", false, false)];
        let s = at(17, |l| l.roles = Collected::Present(app_roles(none)));
        assert_quiet(&evaluate(&s, &policy), "priv.app_maintain");
        // SET only: the role can still SET ROLE pg_maintain.
        let mut set_only = RoleFact::login("app");
        set_only.member_of = vec!["pg_maintain".to_owned()];
        set_only.memberships = vec![Membership::new("pg_maintain", false, true)];
        let s = at(18, |l| l.roles = Collected::Present(app_roles(set_only)));
        let r = evaluate(&s, &policy);
        assert!(of(&r, "priv.app_maintain")[0]
            .evidence()
            .contains("SET ROLE"));
        // MAINTAIN on one table, to the app and to PUBLIC; the owner's is not reported.
        let s = at(17, |l| {
            l.roles = Collected::Present(app_roles(RoleFact::login("app")));
            let mut granted = TableFact::new("app", "orders", "ops");
            granted.acl = Some(vec![AclItem::parse("app=m/ops").unwrap()]);
            let mut public = TableFact::new("app", "plans", "ops");
            public.acl = Some(vec![AclItem::parse("=rm/ops").unwrap()]);
            let mut reads = TableFact::new("app", "notes", "ops");
            reads.acl = Some(vec![AclItem::parse("app=r/ops").unwrap()]);
            let owned = TableFact::new("app", "mine", "app");
            l.databases[0].tables = Collected::Present(vec![granted, public, reads, owned]);
        });
        let r = evaluate(&s, &policy);
        let f = of(&r, "priv.app_maintain");
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[1].remediation().contains("FROM PUBLIC"));
        // 16 has no MAINTAIN.
        let s = at(16, |l| l.roles = Collected::Present(app_roles(app.clone())));
        assert_quiet(&evaluate(&s, &policy), "priv.app_maintain");
    }

    #[test]
    fn login_event_triggers_on_17() {
        let trig = |event: &str| {
            EventTriggerFact::new(
                "t",
                event,
                "postgres",
                QualifiedName::new("ops", "on_login"),
            )
        };
        let s = at(17, |l| {
            l.roles = Collected::Present(vec![{
                let mut p = RoleFact::login("postgres");
                p.superuser = true;
                p
            }]);
            l.databases[0].event_triggers = Collected::Present(vec![
                trig("login"),
                trig("ddl_command_end"),
                trig("login").with_enabled('D'),
            ]);
        });
        let r = run(&s);
        let f = of(&r, "fn.login_event_trigger");
        assert_eq!(f.len(), 1, "enabled login triggers only");
        assert!(f[0].evidence().contains("ops.on_login"));
        assert!(f[0].evidence().contains("superusers may create"));
        assert!(f[0].evidence().contains("postgres"));
        let s = at(16, |l| {
            l.databases[0].event_triggers = Collected::Present(vec![trig("login")]);
        });
        assert_quiet(&run(&s), "fn.login_event_trigger");
        // Not collected: skipped with the reason.
        let s = at(17, |l| {
            l.databases[0].event_triggers = Collected::not_collected("refused");
        });
        assert!(run(&s).is_skipped("fn.login_event_trigger"));
    }
}
