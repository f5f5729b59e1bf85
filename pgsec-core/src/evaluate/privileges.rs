//! Privilege rules: `priv.*`.

use super::reach::Roles;
use super::settings::split_list;
use super::{ident, in_db, need, qident, schema_creators, Eval};
use crate::report::Location;
use crate::snapshot::{Collected, DatabaseFacts};

/// `priv.public_schema_create`: PUBLIC may CREATE in a schema.
pub(super) fn public_schema_create(ev: &mut Eval<'_>) {
    for (db, schemas) in ev.per_db("schemas", |d| &d.schemas) {
        for s in schemas {
            if s.acl.iter().flatten().any(|a| a.is_public() && a.has('C')) {
                ev.emit(
                    format!("{}/{}", db.name, s.name),
                    Location::object("schema", in_db(&db.name, &s.name)),
                    format!(
                        "PUBLIC holds CREATE on schema {} in database {}",
                        s.name, db.name
                    ),
                    format!("REVOKE CREATE ON SCHEMA {} FROM PUBLIC;", ident(&s.name)),
                );
            }
        }
    }
}

/// `priv.public_table_grants`: PUBLIC holds a privilege on a user table.
pub(super) fn public_table_grants(ev: &mut Eval<'_>) {
    for (db, tables) in ev.per_db("tables", |d| &d.tables) {
        for t in tables {
            let public: Vec<&str> = t
                .acl
                .iter()
                .flatten()
                .filter(|a| a.is_public() && !a.privileges.is_empty())
                .map(|a| a.privileges.as_str())
                .collect();
            if let Some(p) = public.first() {
                let name = t.qualified().to_string();
                ev.emit(
                    format!("{}/{name}", db.name),
                    Location::object("table", in_db(&db.name, &name)),
                    format!(
                        "PUBLIC holds privileges `{p}` on table {name} in database {}",
                        db.name
                    ),
                    format!(
                        "REVOKE ALL ON TABLE {} FROM PUBLIC;",
                        qident(&t.schema, &t.name)
                    ),
                );
            }
        }
    }
}

/// `priv.app_owns_tables`: the application's role owns tables, has the privileges of
/// their owner through a membership, or can `SET ROLE` to their owner (INHERIT or not).
pub(super) fn app_owns_tables(ev: &mut Eval<'_>) {
    let app = need!(ev, ev.app_role());
    let reach = match ev.roles() {
        Ok(roles) => Some(Roles::new(roles).reach(app)),
        Err(reason) => {
            ev.skip(format!(
                "{reason}: ownership through role memberships cannot be followed"
            ));
            None
        }
    };
    for (db, tables) in ev.per_db("tables", |d| &d.tables) {
        for t in tables {
            let (via, fix) = if t.owner == app {
                (String::new(), None)
            } else {
                match reach.as_ref().and_then(|r| r.acts_as(&t.owner)) {
                    Some((chain, None)) => (
                        format!(" (through membership of {}: {chain})", t.owner),
                        chain.first_hop(),
                    ),
                    Some((chain, Some(set))) => (
                        format!(
                            " (it can SET ROLE to {set} and act as the owner {}: {chain})",
                            t.owner
                        ),
                        chain.first_hop(),
                    ),
                    None => continue,
                }
            };
            let tenant = if t.columns.iter().any(|c| ev.policy.is_tenant_column(c)) {
                "tenant table"
            } else {
                "table"
            };
            let name = t.qualified().to_string();
            let remediation = match fix {
                Some(first) => format!(
                    "REVOKE {} FROM {};  -- or ALTER TABLE {} OWNER TO <schema owner role>",
                    ident(first),
                    ident(app),
                    qident(&t.schema, &t.name)
                ),
                None => format!(
                    "ALTER TABLE {} OWNER TO <schema owner role>;  -- then GRANT {app} only the DML it needs",
                    qident(&t.schema, &t.name)
                ),
            };
            ev.emit(
                format!("{}/{name}", db.name),
                Location::object("table", in_db(&db.name, &name)),
                format!(
                    "the application role {app} owns {tenant} {name}{via} in database {}",
                    db.name
                ),
                remediation,
            );
        }
    }
}

/// Whether non-owners may CREATE in a schema named on a search_path.
enum Writable {
    Yes(String),
    No,
    Unknown,
}

fn file_mode_writable(ev: &Eval<'_>, schema: &str) -> Writable {
    match schema {
        "$user" | "pg_catalog" | "pg_temp" | "information_schema" => Writable::No,
        "public" if ev.hba_version().major() < 15 => Writable::Yes(format!(
            "before PostgreSQL 15 PUBLIC holds CREATE on schema public by default (the server is PostgreSQL {})",
            ev.hba_version()
        )),
        "public" => Writable::No,
        _ => Writable::Unknown,
    }
}

fn db_writable(db: &DatabaseFacts, schema: &str) -> Writable {
    if schema == "$user" || schema == "pg_temp" {
        return Writable::No;
    }
    match &db.schemas {
        Collected::Present(list) => match list.iter().find(|s| s.name == schema) {
            Some(s) => {
                let who = schema_creators(s);
                if who.is_empty() {
                    Writable::No
                } else {
                    Writable::Yes(format!("{} may CREATE in it", who.join(", ")))
                }
            }
            None => Writable::No,
        },
        Collected::NotCollected(_) => Writable::Unknown,
    }
}

/// `priv.search_path_public`: a default search_path names a schema others can create in.
pub(super) fn search_path_public(ev: &mut Eval<'_>) {
    let server = need!(ev, ev.setting("search_path"));
    let server_path = split_list(&server.value);
    match ev.snap.live.as_option() {
        Some(live) if !live.databases.is_empty() => {
            let db_role = live.db_role_settings.as_option();
            if db_role.is_none() {
                ev.skip("database- and role-level settings (pg_db_role_setting) not collected");
            }
            for db in &live.databases {
                // (level description, object key, path, remediation)
                let mut paths = vec![(
                    "the server's search_path".to_owned(),
                    "server".to_owned(),
                    server_path.clone(),
                    "ALTER SYSTEM SET search_path = '\"$user\"';".to_owned(),
                )];
                for row in db_role.into_iter().flatten() {
                    if row.database.as_deref().is_some_and(|d| d != db.name) {
                        continue;
                    }
                    for (k, v) in &row.settings {
                        if k.eq_ignore_ascii_case("search_path") {
                            let (level, fix) = match (&row.database, &row.role) {
                                (Some(d), Some(r)) => (
                                    format!("search_path of role {r} in database {d}"),
                                    format!(
                                        "ALTER ROLE {} IN DATABASE {} RESET search_path;",
                                        ident(r),
                                        ident(d)
                                    ),
                                ),
                                (Some(d), None) => (
                                    format!("search_path of database {d}"),
                                    format!("ALTER DATABASE {} RESET search_path;", ident(d)),
                                ),
                                (None, Some(r)) => (
                                    format!("search_path of role {r}"),
                                    format!("ALTER ROLE {} RESET search_path;", ident(r)),
                                ),
                                (None, None) => continue,
                            };
                            paths.push((level.clone(), level, split_list(v), fix));
                        }
                    }
                }
                for (level, key, path, fix) in paths {
                    for schema in &path {
                        match db_writable(db, schema) {
                            Writable::Yes(why) => ev.emit(
                                format!("{}/{key}/{schema}", db.name),
                                Location::object("schema", in_db(&db.name, schema)),
                                format!("{level} includes schema {schema}: {why}"),
                                format!(
                                    "REVOKE CREATE ON SCHEMA {} FROM PUBLIC;  -- or: {fix}",
                                    ident(schema)
                                ),
                            ),
                            Writable::No => {}
                            Writable::Unknown => {
                                ev.skip(format!("schemas of database {} not collected", db.name))
                            }
                        }
                    }
                }
            }
        }
        _ => {
            for schema in &server_path {
                match file_mode_writable(ev, schema) {
                    Writable::Yes(why) => ev.emit(
                        format!("server/{schema}"),
                        server.location.clone(),
                        format!("{} includes schema {schema}: {why}", server.describe()),
                        format!(
                            "search_path = '\"$user\"'  # or in every database: REVOKE CREATE ON SCHEMA {} FROM PUBLIC;",
                            ident(schema)
                        ),
                    ),
                    Writable::No => {}
                    Writable::Unknown => ev.skip(format!(
                        "search_path includes schema {schema}, whose privileges need a live connection"
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::hba::PgVersion;
    use crate::snapshot::{AclItem, Collected, DbRoleSetting, RoleFact, SchemaFact, TableFact};
    use crate::{evaluate, Policy};

    fn acl(items: &[&str]) -> Option<Vec<AclItem>> {
        Some(items.iter().map(|i| AclItem::parse(i).unwrap()).collect())
    }

    fn with_schemas(schemas: Vec<SchemaFact>) -> crate::Snapshot {
        live_snapshot(|l| l.databases[0].schemas = Collected::Present(schemas))
    }

    #[test]
    fn public_schema_create() {
        let open = SchemaFact::new(
            "public",
            "postgres",
            acl(&["postgres=UC/postgres", "=UC/postgres"]),
        );
        let r = run(&with_schemas(vec![open]));
        assert_eq!(of(&r, "priv.public_schema_create").len(), 1);
        let closed = SchemaFact::new(
            "public",
            "pg_database_owner",
            acl(&["=U/pg_database_owner"]),
        );
        assert_quiet(
            &run(&with_schemas(vec![
                closed,
                SchemaFact::new("app", "owner", None),
            ])),
            "priv.public_schema_create",
        );
    }

    #[test]
    fn public_table_grants() {
        let t = TableFact::new("public", "t", "owner")
            .with_acl(vec![AclItem::parse("=r/owner").unwrap()]);
        let s = live_snapshot(|l| l.databases[0].tables = Collected::Present(vec![t]));
        assert_eq!(of(&run(&s), "priv.public_table_grants").len(), 1);
        let t = TableFact::new("public", "t", "owner")
            .with_acl(vec![AclItem::parse("app=r/owner").unwrap()]);
        let s = live_snapshot(|l| l.databases[0].tables = Collected::Present(vec![t]));
        assert_quiet(&run(&s), "priv.public_table_grants");
    }

    #[test]
    fn app_owns_tables_directly_or_through_a_role() {
        let mut app = RoleFact::login("app");
        app.member_of = vec!["owners".into()];
        let tables = vec![
            TableFact::new("public", "a", "app").with_columns(["tenant_id"]),
            TableFact::new("public", "b", "owners"),
            TableFact::new("public", "c", "migrator"),
        ];
        let s = live_snapshot(|l| {
            l.roles = Collected::Present(vec![app, RoleFact::group("owners")]);
            l.databases[0].tables = Collected::Present(tables);
        });
        let r = evaluate(&s, &Policy::default().with_app_role("app"));
        let f = of(&r, "priv.app_owns_tables");
        assert_eq!(f.len(), 2);
        assert!(f
            .iter()
            .any(|f| f.evidence().contains("tenant table public.a")));
        let s = live_snapshot(|l| {
            l.databases[0].tables =
                Collected::Present(vec![TableFact::new("public", "c", "migrator")])
        });
        assert_quiet(
            &evaluate(&s, &Policy::default().with_app_role("app")),
            "priv.app_owns_tables",
        );
        assert!(run(&s).is_skipped("priv.app_owns_tables"));
    }

    #[test]
    fn app_owns_tables_through_set_role_of_a_noinherit_membership() {
        let mut app = RoleFact::login("app");
        app.inherit = false;
        app.member_of = vec!["owners".into()];
        let tables = vec![TableFact::new("public", "orders", "owners").with_columns(["tenant_id"])];
        let s = live_snapshot(|l| {
            l.roles = Collected::Present(vec![app.clone(), RoleFact::group("owners")]);
            l.databases[0].tables = Collected::Present(tables.clone());
        });
        let r = evaluate(&s, &Policy::default().with_app_role("app"));
        let f = of(&r, "priv.app_owns_tables");
        assert_eq!(f.len(), 1);
        assert!(
            f[0].evidence().contains("SET ROLE to owners"),
            "{}",
            f[0].evidence()
        );
        assert!(f[0].remediation().starts_with("REVOKE owners FROM app"));
        // PostgreSQL 16, neither inherit nor set: no way to the owner's rights.
        app.memberships = vec![crate::snapshot::Membership::new("owners", false, false)];
        let s = live_snapshot(|l| {
            l.roles = Collected::Present(vec![app, RoleFact::group("owners")]);
            l.databases[0].tables = Collected::Present(tables.clone());
        });
        assert_quiet(
            &evaluate(&s, &Policy::default().with_app_role("app")),
            "priv.app_owns_tables",
        );
        // Roles not collected: direct ownership is still decided, memberships are skipped.
        let s = live_snapshot(|l| {
            l.roles = Collected::not_collected("no access");
            l.databases[0].tables = Collected::Present(vec![TableFact::new("public", "t", "app")]);
        });
        let r = evaluate(&s, &Policy::default().with_app_role("app"));
        assert_eq!(of(&r, "priv.app_owns_tables").len(), 1);
        assert!(r.is_skipped("priv.app_owns_tables"));
    }

    #[test]
    fn search_path_in_files_depends_on_the_version() {
        let s = conf_snapshot(&["log_connections = on"]);
        assert_quiet(&run(&s), "priv.search_path_public");
        let r = run(&s.clone().with_pg_version(PgVersion::new(14).unwrap()));
        let f = of(&r, "priv.search_path_public");
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence().contains("default"), "{}", f[0].evidence());
        let r = run(&conf_snapshot(&["search_path = '\"$user\", shared'"]));
        assert!(r.is_skipped("priv.search_path_public"));
    }

    #[test]
    fn search_path_live_checks_schema_acls_and_role_settings() {
        let s = live_snapshot(|l| {
            set(l, "search_path", "\"$user\", public");
            l.databases[0].schemas = Collected::Present(vec![
                SchemaFact::new(
                    "public",
                    "pg_database_owner",
                    acl(&["=U/pg_database_owner"]),
                ),
                SchemaFact::new("scratch", "admin", acl(&["=UC/admin"])),
            ]);
        });
        assert_quiet(&run(&s), "priv.search_path_public");
        let mut s2 = s.clone();
        if let Collected::Present(l) = &mut s2.live {
            l.db_role_settings = Collected::Present(vec![DbRoleSetting::new(
                None,
                Some("app".into()),
                vec![("search_path".into(), "scratch, public".into())],
            )]);
        }
        let r = run(&s2);
        let f = of(&r, "priv.search_path_public");
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence().contains("role app"));
    }
}
