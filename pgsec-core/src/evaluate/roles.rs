//! Role rules: `role.*` and `auth.md5_stored`.

use super::reach::Roles;
use super::{ident, member_closure, need, Eval};
use crate::report::Location;
use crate::snapshot::PasswordKind;
use crate::Severity;

fn role_loc(name: &str) -> Location {
    Location::object("role", name)
}

/// `role.app_superuser`: the application's role is a superuser, or can `SET ROLE` to
/// one through its memberships.
pub(super) fn app_superuser(ev: &mut Eval<'_>) {
    let roles = need!(ev, ev.roles());
    let app = need!(ev, ev.app_role());
    match roles.iter().find(|r| r.name == app) {
        None => ev.skip(format!(
            "application role {app} is not among the collected roles"
        )),
        Some(r) if r.superuser => ev.emit(
            app,
            role_loc(app),
            format!("the application connects as {app}, which is SUPERUSER"),
            format!("ALTER ROLE {} NOSUPERUSER;", ident(app)),
        ),
        Some(_) => {
            let idx = Roles::new(roles);
            let reach = idx.reach(app);
            for (target, chain) in reach.settable() {
                if !idx.get(target).is_some_and(|t| t.superuser) {
                    continue;
                }
                let first = chain.first_hop().unwrap_or(target);
                ev.emit(
                    format!("{app}/{target}"),
                    role_loc(app),
                    format!(
                        "the application's role {app} can SET ROLE to {target}, which is \
                         SUPERUSER (memberships {chain}): one `SET LOCAL ROLE {target}` \
                         inside a tenant transaction reads every tenant's rows"
                    ),
                    format!(
                        "REVOKE {} FROM {};  -- or break the chain {chain} elsewhere",
                        ident(first),
                        ident(app)
                    ),
                );
            }
        }
    }
}

/// `role.superusers`: more than one login superuser.
pub(super) fn superusers(ev: &mut Eval<'_>) {
    let roles = need!(ev, ev.roles());
    let supers: Vec<&str> = roles
        .iter()
        .filter(|r| r.superuser && r.login)
        .map(|r| r.name.as_str())
        .collect();
    if supers.len() <= 1 {
        return;
    }
    let list = supers.join(", ");
    for name in supers
        .iter()
        .filter(|n| !ev.policy.allowed_superusers.contains(**n))
    {
        ev.emit(
            *name,
            role_loc(name),
            format!(
                "{} login superusers ({list}); {name} is not on the allow-list",
                supers.len()
            ),
            format!("ALTER ROLE {} NOSUPERUSER;  -- or NOLOGIN", ident(name)),
        );
    }
}

/// `role.bypassrls`: a non-superuser role has BYPASSRLS (critical when it is the
/// application's role or one it can `SET ROLE` to; with [`crate::Policy::app_only`],
/// only those).
pub(super) fn bypassrls(ev: &mut Eval<'_>) {
    let roles = need!(ev, ev.roles());
    let app = match ev.app_role() {
        Ok(app) => Some(app),
        Err(reason) if ev.policy.app_only => {
            ev.skip(reason);
            return;
        }
        Err(_) => None,
    };
    let reach = app.map(|a| Roles::new(roles).reach(a));
    for r in roles.iter().filter(|r| r.bypassrls && !r.superuser) {
        let chain = reach.as_ref().and_then(|x| x.set_chain(&r.name));
        let fix = format!("ALTER ROLE {} NOBYPASSRLS;", ident(&r.name));
        let (sev, what, fix) = match (app, chain) {
            (Some(a), _) if a == r.name => (
                Severity::Critical,
                " and is the application's role".to_owned(),
                fix,
            ),
            (Some(a), Some(chain)) => (
                Severity::Critical,
                format!(
                    " and the application's role {a} can SET ROLE to it (memberships \
                     {chain}), then read every tenant's rows"
                ),
                format!(
                    "{fix}  -- or REVOKE {} FROM {};",
                    ident(chain.first_hop().unwrap_or(&r.name)),
                    ident(a)
                ),
            ),
            _ if ev.policy.app_only => continue,
            _ => (Severity::High, String::new(), fix),
        };
        ev.emit_at(
            sev,
            r.name.as_str(),
            role_loc(&r.name),
            format!("role {} has BYPASSRLS{what}", r.name),
            fix,
        );
    }
}

/// `role.createrole_createdb`: a login non-superuser with CREATEROLE or CREATEDB.
pub(super) fn createrole_createdb(ev: &mut Eval<'_>) {
    let roles = need!(ev, ev.roles());
    for r in roles
        .iter()
        .filter(|r| r.login && !r.superuser && (r.createrole || r.createdb))
    {
        let attrs: Vec<&str> = [(r.createrole, "CREATEROLE"), (r.createdb, "CREATEDB")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, a)| *a)
            .collect();
        ev.emit(
            r.name.as_str(),
            role_loc(&r.name),
            format!("login role {} has {}", r.name, attrs.join(" and ")),
            format!("ALTER ROLE {} NOCREATEROLE NOCREATEDB;", ident(&r.name)),
        );
    }
}

/// `role.connlimit_unlimited`: a login non-superuser without a connection limit.
pub(super) fn connlimit_unlimited(ev: &mut Eval<'_>) {
    let roles = need!(ev, ev.roles());
    for r in roles
        .iter()
        .filter(|r| r.login && !r.superuser && r.connlimit < 0)
    {
        ev.emit(
            r.name.as_str(),
            role_loc(&r.name),
            format!("login role {} has CONNECTION LIMIT -1", r.name),
            format!(
                "ALTER ROLE {} CONNECTION LIMIT 20;  -- size to the pool",
                ident(&r.name)
            ),
        );
    }
}

const DANGEROUS: &[&str] = &[
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
];

/// `role.dangerous_membership`: membership of the server-file and program roles.
pub(super) fn dangerous_membership(ev: &mut Eval<'_>) {
    let roles = need!(ev, ev.roles());
    for r in roles
        .iter()
        .filter(|r| !r.superuser && !r.name.starts_with("pg_"))
    {
        let member_of = member_closure(roles, &r.name);
        for d in DANGEROUS.iter().filter(|d| member_of.contains(**d)) {
            ev.emit(
                format!("{}/{d}", r.name),
                role_loc(&r.name),
                format!("role {} is a member of {d}", r.name),
                format!(
                    "REVOKE {d} FROM {};  -- or from the role it inherits it through",
                    ident(&r.name)
                ),
            );
        }
    }
}

const STATS: &[&str] = &["pg_read_all_stats", "pg_monitor"];

/// `role.stats_visibility`: a non-monitoring login role can read all sessions' queries.
pub(super) fn stats_visibility(ev: &mut Eval<'_>) {
    let roles = need!(ev, ev.roles());
    for r in roles.iter().filter(|r| r.login && !r.superuser) {
        let monitoring = ev.policy.monitoring_roles.contains(&r.name) || r.name.contains("monitor");
        if monitoring {
            continue;
        }
        let member_of = member_closure(roles, &r.name);
        let via: Vec<&str> = STATS
            .iter()
            .copied()
            .filter(|s| member_of.contains(*s))
            .collect();
        if let Some(first) = via.first() {
            ev.emit(
                r.name.as_str(),
                role_loc(&r.name),
                format!(
                    "login role {} is a member of {} and can read every session's query text",
                    r.name,
                    via.join(" and ")
                ),
                format!("REVOKE {first} FROM {};", ident(&r.name)),
            );
        }
    }
}

/// `auth.md5_stored`: a stored password that is not SCRAM.
pub(super) fn md5_stored(ev: &mut Eval<'_>) {
    let live = need!(ev, ev.live_or_skip());
    let stored = need!(
        ev,
        live.stored_passwords
            .get()
            .map_err(|r| format!("stored passwords not readable: {r}"))
    );
    // PostgreSQL 18 deprecates md5 secrets (a warning on setting one; a later release
    // removes md5 authentication).
    let deprecated = if ev.major() >= 18 {
        "; PostgreSQL 18 deprecates md5 passwords and a future release drops them"
    } else {
        ""
    };
    for (role, kind) in stored {
        let what = match kind {
            PasswordKind::Scram => continue,
            PasswordKind::Md5 => "an md5 hash",
            PasswordKind::Other => "not a SCRAM verifier (clear text?)",
        };
        let note = if *kind == PasswordKind::Md5 {
            deprecated
        } else {
            ""
        };
        ev.emit(
            role.as_str(),
            role_loc(role),
            format!("the stored password of role {role} is {what}{note}"),
            format!(
                "SET password_encryption = 'scram-sha-256';\n\\password {}  -- in psql, then tell the role's users",
                ident(role)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::snapshot::{Collected, PasswordKind, RoleFact};
    use crate::{evaluate, Policy, Severity};

    fn with_roles(roles: Vec<RoleFact>) -> crate::Snapshot {
        live_snapshot(|l| l.roles = Collected::Present(roles))
    }

    fn superuser(name: &str) -> RoleFact {
        let mut r = RoleFact::login(name);
        r.superuser = true;
        r
    }

    #[test]
    fn app_superuser_fires_for_a_superuser_app_role() {
        let s = with_roles(vec![superuser("app")]).with_app_role("app");
        let r = run(&s);
        assert_eq!(of(&r, "role.app_superuser").len(), 1);
        assert_eq!(
            of(&r, "role.app_superuser")[0].severity(),
            Severity::Critical
        );
    }

    #[test]
    fn app_superuser_quiet_for_a_plain_role_and_skipped_without_a_name() {
        let s = with_roles(vec![RoleFact::login("app"), superuser("postgres")]);
        assert!(run(&s).is_skipped("role.app_superuser"));
        assert_quiet(&run(&s.with_app_role("app")), "role.app_superuser");
    }

    #[test]
    fn app_superuser_uses_the_policy_role_first() {
        let s =
            with_roles(vec![RoleFact::login("app"), superuser("postgres")]).with_app_role("app");
        let r = evaluate(&s, &Policy::default().with_app_role("postgres"));
        assert_eq!(of(&r, "role.app_superuser").len(), 1);
    }

    #[test]
    fn superusers_fire_beyond_one_and_respect_the_allow_list() {
        let s = with_roles(vec![
            superuser("postgres"),
            superuser("admin"),
            RoleFact::login("app"),
        ]);
        assert_eq!(of(&run(&s), "role.superusers").len(), 2);
        let r = evaluate(&s, &Policy::default().allow_superuser("postgres"));
        let f = of(&r, "role.superusers");
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence().contains("admin is not"));
        let mut nologin = superuser("admin");
        nologin.login = false;
        assert_quiet(
            &run(&with_roles(vec![superuser("postgres"), nologin])),
            "role.superusers",
        );
    }

    #[test]
    fn bypassrls_is_critical_for_the_app_role() {
        let mut app = RoleFact::login("app");
        app.bypassrls = true;
        let mut etl = RoleFact::login("etl");
        etl.bypassrls = true;
        let mut sup = superuser("postgres");
        sup.bypassrls = true;
        let r = run(&with_roles(vec![app, etl, sup]).with_app_role("app"));
        let f = of(&r, "role.bypassrls");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].severity(), Severity::Critical);
        assert_eq!(f[1].severity(), Severity::High);
        assert_quiet(
            &run(&with_roles(vec![RoleFact::login("app")])),
            "role.bypassrls",
        );
    }

    fn app_member_of(groups: &[&str]) -> RoleFact {
        let mut app = RoleFact::login("app");
        app.member_of = groups.iter().map(|g| (*g).to_owned()).collect();
        app
    }

    #[test]
    fn app_superuser_through_a_nologin_superuser_role() {
        let mut admins = superuser("admins");
        admins.login = false;
        let mut app = app_member_of(&["admins"]);
        app.inherit = false; // SET ROLE needs no INHERIT
        let r = run(&with_roles(vec![app, admins]).with_app_role("app"));
        let f = of(&r, "role.app_superuser");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].object(), "app/admins");
        assert!(
            f[0].evidence().contains("SET ROLE to admins"),
            "{}",
            f[0].evidence()
        );
        assert!(f[0].remediation().starts_with("REVOKE admins FROM app"));
        // A harmless group is not a way up.
        let r = run(&with_roles(vec![
            app_member_of(&["readers"]),
            RoleFact::group("readers"),
        ])
        .with_app_role("app"));
        assert_quiet(&r, "role.app_superuser");
        // PostgreSQL 16: a membership without the SET option is no way up either.
        let mut app = app_member_of(&["admins"]);
        app.memberships = vec![crate::snapshot::Membership::new("admins", true, false)];
        let r = run(&with_roles(vec![app, superuser("admins")]).with_app_role("app"));
        assert_quiet(&r, "role.app_superuser");
    }

    #[test]
    fn bypassrls_reached_through_two_memberships_is_critical() {
        let mut etl = RoleFact::group("etl");
        etl.bypassrls = true;
        let mut other = RoleFact::login("backup");
        other.bypassrls = true;
        let roles = vec![
            app_member_of(&["staff"]),
            {
                let mut staff = RoleFact::group("staff");
                staff.member_of = vec!["etl".into()];
                staff
            },
            etl,
            other,
        ];
        let r = run(&with_roles(roles.clone()).with_app_role("app"));
        let f = of(&r, "role.bypassrls");
        assert_eq!(f.len(), 2);
        let etl = f.iter().find(|f| f.object() == "etl").unwrap();
        assert_eq!(etl.severity(), Severity::Critical);
        assert!(
            etl.evidence().contains("app -> staff -> etl"),
            "{}",
            etl.evidence()
        );
        let backup = f.iter().find(|f| f.object() == "backup").unwrap();
        assert_eq!(backup.severity(), Severity::High);
        // The guard's view: only what the application can become.
        let policy = Policy::default().with_app_role("app").with_app_only(true);
        let r = evaluate(&with_roles(roles.clone()), &policy);
        let f = of(&r, "role.bypassrls");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].object(), "etl");
        // ... which needs the application's role.
        let r = evaluate(&with_roles(roles), &Policy::default().with_app_only(true));
        assert!(r.is_skipped("role.bypassrls"));
    }

    #[test]
    fn createrole_createdb() {
        let mut a = RoleFact::login("a");
        a.createdb = true;
        let mut g = RoleFact::group("g");
        g.createrole = true;
        let r = run(&with_roles(vec![a, g, superuser("postgres")]));
        let f = of(&r, "role.createrole_createdb");
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence().contains("CREATEDB"));
        assert_quiet(
            &run(&with_roles(vec![RoleFact::login("a")])),
            "role.createrole_createdb",
        );
    }

    #[test]
    fn connlimit() {
        let mut limited = RoleFact::login("app");
        limited.connlimit = 20;
        assert_quiet(
            &run(&with_roles(vec![limited, superuser("postgres")])),
            "role.connlimit_unlimited",
        );
        assert_eq!(
            of(
                &run(&with_roles(vec![RoleFact::login("app")])),
                "role.connlimit_unlimited"
            )
            .len(),
            1
        );
    }

    #[test]
    fn dangerous_membership_is_transitive() {
        let mut ops = RoleFact::group("ops");
        ops.member_of = vec!["pg_read_server_files".into()];
        let mut alice = RoleFact::login("alice");
        alice.member_of = vec!["ops".into()];
        let r = run(&with_roles(vec![
            ops,
            alice,
            RoleFact::group("pg_read_server_files"),
        ]));
        let f = of(&r, "role.dangerous_membership");
        assert_eq!(f.len(), 2, "{f:?}");
        assert_quiet(
            &run(&with_roles(vec![RoleFact::login("alice")])),
            "role.dangerous_membership",
        );
    }

    #[test]
    fn stats_visibility_spares_monitoring_roles() {
        let mut app = RoleFact::login("app");
        app.member_of = vec!["pg_monitor".into()];
        let mut mon = RoleFact::login("pgsec_monitor");
        mon.member_of = vec!["pg_monitor".into()];
        let mut graf = RoleFact::login("grafana");
        graf.member_of = vec!["pg_read_all_stats".into()];
        let roles = vec![app, mon, graf];
        let r = run(&with_roles(roles.clone()));
        assert_eq!(of(&r, "role.stats_visibility").len(), 2);
        let r = evaluate(
            &with_roles(roles),
            &Policy::default().with_monitoring_role("grafana"),
        );
        assert_eq!(of(&r, "role.stats_visibility").len(), 1);
        assert_quiet(
            &run(&with_roles(vec![RoleFact::login("x")])),
            "role.stats_visibility",
        );
    }

    #[test]
    fn md5_stored_needs_the_passwords() {
        let s = live_snapshot(|l| {
            if let Collected::Present(m) = &mut l.stored_passwords {
                m.insert("old".into(), PasswordKind::Md5);
                m.insert("new".into(), PasswordKind::Scram);
            }
        });
        let r = run(&s);
        let f = of(&r, "auth.md5_stored");
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence().contains("old"));
        assert!(!f[0].evidence().contains("deprecates"), "15 does not");
        let s = live_snapshot(|l| {
            l.server_version =
                Collected::Present(crate::snapshot::ServerVersion::new(180006, "18.6"));
            if let Collected::Present(m) = &mut l.stored_passwords {
                m.insert("old".into(), PasswordKind::Md5);
            }
        });
        let r = run(&s);
        assert!(of(&r, "auth.md5_stored")[0]
            .evidence()
            .contains("PostgreSQL 18 deprecates md5"));
        assert_quiet(&run(&live_snapshot(|_| {})), "auth.md5_stored");
        let s = live_snapshot(|l| {
            l.stored_passwords = Collected::not_collected("needs superuser to read pg_authid")
        });
        let r = run(&s);
        assert!(r
            .skipped()
            .iter()
            .any(|x| x.id == "auth.md5_stored" && x.reason.contains("superuser")));
    }
}
