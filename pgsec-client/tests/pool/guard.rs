//! The start-up guard refuses unsafe roles and tables with pgsec-core's findings: one
//! test per way past row-level security, on real PostgreSQL, and one that the guard
//! agrees with `pgsec audit`'s evaluation of the same database.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use pgsec_client::{Config, Error, TenantId, TenantPool, GUARD_RULES};
use pgsec_core::live::{collect, CollectOptions};
use pgsec_core::{evaluate, evaluate_rules, Finding, Policy};
use pgsec_testkit::{Credentials, TestDatabase, TestServer, APP_USER};

use crate::{app_pool, tenant_database};

/// A name no other test (or run) uses, for cluster-wide roles.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new login role with `attributes`, allowed to use the tenant table of `db`.
async fn role_with(db: &TestDatabase, attributes: &str) -> Credentials {
    let name = unique("guard");
    let password = format!("pw-{name}-Zq9");
    let admin = db.admin_client().await.unwrap();
    admin
        .batch_execute(&format!(
            "create role {name} login {attributes} password '{password}';
             grant connect on database {db} to {name};
             grant select, insert on items to {name};",
            db = db.name()
        ))
        .await
        .unwrap();
    Credentials::new(name, password)
}

fn config_for(db: &TestDatabase, creds: &Credentials) -> Config {
    Config::parse(&db.app_conninfo())
        .unwrap()
        .user(creds.user.clone())
        .password(creds.password())
}

/// Runs `sql` as the superuser in `db`.
async fn admin(db: &TestDatabase, sql: &str) {
    db.admin_client()
        .await
        .unwrap()
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The refusal of building a pool as `creds` on `db`.
async fn refusal(db: &TestDatabase, creds: &Credentials) -> Error {
    TenantPool::builder(&config_for(db, creds))
        .build()
        .await
        .expect_err("the guard should refuse")
}

fn refused_ids(err: &Error) -> Vec<String> {
    match err {
        Error::Unsafe { findings } => {
            let mut ids: Vec<String> = findings.iter().map(|f| f.id().to_owned()).collect();
            ids.sort();
            ids.dedup();
            ids
        }
        other => panic!("expected a guard refusal, got {other}"),
    }
}

#[tokio::test]
async fn a_hardened_role_and_forced_rls_pass() {
    let db = tenant_database().await;
    let pool = app_pool(&db)
        .build()
        .await
        .expect("the guard accepts the hardened setup");
    drop(pool);
}

#[tokio::test]
async fn a_superuser_is_refused_and_the_opt_out_is_explicit() {
    let db = tenant_database().await;
    let creds = role_with(&db, "superuser").await;
    let config = config_for(&db, &creds);
    let err = TenantPool::builder(&config).build().await.unwrap_err();
    assert_eq!(refused_ids(&err), vec!["role.app_superuser"]);
    let message = err.to_string();
    assert!(message.contains("role.app_superuser"), "{message}");
    assert!(message.contains(&creds.user), "{message}");
    assert!(
        message.contains("NOSUPERUSER"),
        "the fix is missing: {message}"
    );
    assert!(
        message.contains("dangerous_skip_startup_guard"),
        "{message}"
    );
    assert!(
        !message.contains(creds.password()),
        "password leaked: {message}"
    );

    let pool = TenantPool::builder(&config)
        .dangerous_skip_startup_guard()
        .build()
        .await
        .expect("the opt-out builds");
    drop(pool);
}

#[tokio::test]
async fn a_bypassrls_role_is_refused() {
    let db = tenant_database().await;
    let creds = role_with(&db, "bypassrls").await;
    let err = TenantPool::builder(&config_for(&db, &creds))
        .build()
        .await
        .unwrap_err();
    assert_eq!(refused_ids(&err), vec!["role.bypassrls"]);
}

#[tokio::test]
async fn a_role_owning_a_tenant_table_is_refused_directly_or_through_membership() {
    let db = tenant_database().await;
    // Owned directly by the application role (even with forced RLS: owners can drop it).
    db.app_client()
        .await
        .unwrap()
        .batch_execute(
            "create table mine (tenant_id text);
             alter table mine enable row level security;
             alter table mine force row level security;",
        )
        .await
        .unwrap();
    let err = app_pool(&db).build().await.unwrap_err();
    assert_eq!(refused_ids(&err), vec!["priv.app_owns_tables"]);
    assert!(err.to_string().contains("mine"), "{err}");

    // Owned by a group the role inherits from.
    let db = tenant_database().await;
    let creds = role_with(&db, "").await;
    let admin = db.admin_client().await.unwrap();
    let group = format!("{}_owners", creds.user);
    admin
        .batch_execute(&format!(
            "create role {group} nologin;
             grant {group} to {user};
             alter table items owner to {group};",
            user = creds.user
        ))
        .await
        .unwrap();
    let err = TenantPool::builder(&config_for(&db, &creds))
        .build()
        .await
        .unwrap_err();
    assert_eq!(refused_ids(&err), vec!["priv.app_owns_tables"]);
    assert!(err.to_string().contains(&group), "{err}");
}

#[tokio::test]
async fn tenant_tables_without_enabled_or_forced_rls_are_refused() {
    let db = tenant_database().await;
    db.admin_client()
        .await
        .unwrap()
        .batch_execute(&format!(
            "create table open_table (tenant_id text);
             create table unforced (tenant_id text);
             alter table unforced enable row level security;
             create table not_a_tenant_table (id int);
             grant select on open_table, unforced, not_a_tenant_table to {APP_USER};"
        ))
        .await
        .unwrap();
    let err = app_pool(&db).build().await.unwrap_err();
    assert_eq!(refused_ids(&err), vec!["rls.disabled", "rls.not_forced"]);
    let message = err.to_string();
    assert!(
        message.contains("open_table") && message.contains("unforced"),
        "{message}"
    );
    assert!(!message.contains("not_a_tenant_table"), "{message}");

    // The tenant column is configurable, as in pgsec-core's Policy.
    let err = app_pool(&db)
        .tenant_columns(["id"])
        .build()
        .await
        .unwrap_err();
    assert_eq!(refused_ids(&err), vec!["rls.disabled"]);
    assert!(err.to_string().contains("not_a_tenant_table"), "{err}");
}

#[tokio::test]
async fn a_server_with_ssl_off_is_refused() {
    let server = TestServer::builder()
        .ssl(false)
        .hba_lines([
            "host all all 0.0.0.0/0 scram-sha-256",
            "host all all ::/0 scram-sha-256",
        ])
        .start()
        .await
        .expect("server with ssl off");
    let db = server.fresh_database().await.unwrap();
    let config = Config::parse(&db.app_conninfo())
        .unwrap()
        .dangerous_allow_plaintext();
    let err = TenantPool::builder(&config).build().await.unwrap_err();
    assert_eq!(refused_ids(&err), vec!["tls.ssl_off"]);
}

#[test]
fn the_guard_rules_are_catalogue_rules() {
    for id in GUARD_RULES {
        assert!(
            pgsec_core::rule(id).is_some(),
            "{id} is not in pgsec-core's catalogue"
        );
    }
}

#[tokio::test]
async fn a_member_of_a_harmless_group_role_still_builds() {
    let db = tenant_database().await;
    let creds = role_with(&db, "").await;
    let group = unique("readers");
    admin(
        &db,
        &format!(
            "create role {group} nologin;
             grant {group} to {user};",
            user = creds.user
        ),
    )
    .await;
    let pool = TenantPool::builder(&config_for(&db, &creds))
        .build()
        .await
        .expect("a membership that reaches nothing dangerous is accepted");
    drop(pool);
}

#[tokio::test]
async fn a_member_of_a_nologin_superuser_role_is_refused() {
    let db = tenant_database().await;
    let creds = role_with(&db, "").await;
    let group = unique("admins");
    admin(
        &db,
        &format!(
            "create role {group} nologin superuser;
             grant {group} to {user};
             insert into items (tenant_id, body) values ('a', 'of a'), ('b', 'of b');",
            user = creds.user
        ),
    )
    .await;
    let err = refusal(&db, &creds).await;
    assert_eq!(refused_ids(&err), vec!["role.app_superuser"]);
    let message = err.to_string();
    assert!(
        message.contains(&group) && message.contains(&format!("REVOKE {group} FROM")),
        "{message}"
    );

    // Why: inside a tenant transaction, one SET LOCAL ROLE reads every tenant's rows.
    let pool = TenantPool::builder(&config_for(&db, &creds))
        .dangerous_skip_startup_guard()
        .build()
        .await
        .unwrap();
    let tenant: TenantId = "a".parse().unwrap();
    let tx = pool.begin(&tenant).await.unwrap();
    let own: i64 = tx
        .query_one("select count(*) from items", &[])
        .await
        .unwrap()
        .get(0);
    tx.batch_execute(&format!("set local role {group}"))
        .await
        .unwrap();
    let all: i64 = tx
        .query_one("select count(*) from items", &[])
        .await
        .unwrap()
        .get(0);
    drop(tx);
    assert_eq!((own, all), (1, 2), "SET ROLE to the superuser bypasses RLS");
}

#[tokio::test]
async fn a_noinherit_member_of_the_tenant_tables_owner_is_refused() {
    let db = tenant_database().await;
    let creds = role_with(&db, "noinherit").await;
    let owner = unique("owner");
    admin(
        &db,
        &format!(
            "create role {owner} nologin;
             alter table items owner to {owner};
             grant {owner} to {user};",
            user = creds.user
        ),
    )
    .await;
    let err = refusal(&db, &creds).await;
    assert_eq!(refused_ids(&err), vec!["priv.app_owns_tables"]);
    let message = err.to_string();
    assert!(
        message.contains(&format!("SET ROLE to {owner}")) && message.contains("items"),
        "{message}"
    );
}

#[tokio::test]
async fn a_chain_of_two_memberships_to_a_bypassrls_role_is_refused() {
    let db = tenant_database().await;
    let creds = role_with(&db, "").await;
    let (staff, etl) = (unique("staff"), unique("etl"));
    admin(
        &db,
        &format!(
            "create role {etl} nologin bypassrls;
             create role {staff} nologin noinherit;
             grant {etl} to {staff};
             grant {staff} to {user};",
            user = creds.user
        ),
    )
    .await;
    let err = refusal(&db, &creds).await;
    assert_eq!(refused_ids(&err), vec!["role.bypassrls"]);
    let message = err.to_string();
    assert!(
        message.contains(&format!("{} -> {staff} -> {etl}", creds.user)),
        "{message}"
    );
}

#[tokio::test]
async fn a_superuser_view_over_the_tenant_table_granted_to_the_app_is_refused() {
    let db = tenant_database().await;
    admin(
        &db,
        &format!(
            "create view all_items as select * from items;
             grant select on all_items to {APP_USER};
             create view not_granted as select * from items;"
        ),
    )
    .await;
    let err = app_pool(&db).build().await.unwrap_err();
    assert_eq!(refused_ids(&err), vec!["rls.view_bypass"]);
    let message = err.to_string();
    assert!(message.contains("public.all_items"), "{message}");
    assert!(!message.contains("not_granted"), "{message}");
    assert!(message.contains("security_invoker = true"), "{message}");

    // The fix the refusal names is enough.
    admin(
        &db,
        "alter view all_items set (security_invoker = true);
         drop view not_granted;",
    )
    .await;
    drop(app_pool(&db).build().await.expect("fixed"));
}

#[tokio::test]
async fn a_superuser_materialized_view_granted_to_the_app_is_refused() {
    let db = tenant_database().await;
    admin(
        &db,
        &format!(
            "create materialized view items_snapshot as select * from items;
             grant select on items_snapshot to {APP_USER};"
        ),
    )
    .await;
    let err = app_pool(&db).build().await.unwrap_err();
    assert_eq!(refused_ids(&err), vec!["rls.view_bypass"]);
    let message = err.to_string();
    assert!(
        message.contains("materialized view public.items_snapshot"),
        "{message}"
    );
}

#[tokio::test]
async fn a_definer_function_of_the_table_owner_reading_the_tenant_table_is_refused() {
    let db = tenant_database().await;
    let owner = unique("owner");
    admin(
        &db,
        &format!(
            "create role {owner} nologin;
             alter table items owner to {owner};
             create function public.count_items() returns bigint
               language sql security definer set search_path = pg_catalog, pg_temp
               as 'select count(*) from public.items';
             alter function public.count_items() owner to {owner};"
        ),
    )
    .await;
    // EXECUTE belongs to PUBLIC by default.
    let err = app_pool(&db).build().await.unwrap_err();
    assert_eq!(refused_ids(&err), vec!["rls.definer_function"]);
    let message = err.to_string();
    assert!(
        message.contains("public.count_items()") && message.contains(&owner),
        "{message}"
    );

    // Nobody else may execute it: not the pool's business any more.
    admin(
        &db,
        "revoke execute on function public.count_items() from public;",
    )
    .await;
    drop(
        app_pool(&db)
            .build()
            .await
            .expect("not executable by the app"),
    );
}

#[tokio::test]
async fn a_role_default_for_the_tenant_setting_is_refused() {
    let db = tenant_database().await;
    let creds = role_with(&db, "").await;
    admin(
        &db,
        &format!(
            "alter role {} set app.current_tenant_id = 'acme'",
            creds.user
        ),
    )
    .await;
    let err = refusal(&db, &creds).await;
    assert_eq!(refused_ids(&err), vec!["rls.tenant_setting_default"]);
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "ALTER ROLE {} RESET app.current_tenant_id",
            creds.user
        )),
        "{message}"
    );
    assert!(
        !message.contains("acme"),
        "the value is not reported: {message}"
    );
}

#[tokio::test]
async fn a_database_default_for_the_tenant_setting_is_refused() {
    let db = tenant_database().await;
    admin(
        &db,
        &format!(
            "alter database {} set app.current_tenant_id = 'acme'",
            db.name()
        ),
    )
    .await;
    let err = app_pool(&db).build().await.unwrap_err();
    assert_eq!(refused_ids(&err), vec!["rls.tenant_setting_default"]);
    assert!(
        err.to_string().contains(&format!(
            "ALTER DATABASE {} RESET app.current_tenant_id",
            db.name()
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_role_in_database_default_for_the_tenant_setting_is_refused() {
    let db = tenant_database().await;
    // Scoped to this test's database, so the shared application role is safe elsewhere.
    admin(
        &db,
        &format!(
            "alter role {APP_USER} in database {} set app.current_tenant_id = 'acme'",
            db.name()
        ),
    )
    .await;
    let err = app_pool(&db).build().await.unwrap_err();
    assert_eq!(refused_ids(&err), vec!["rls.tenant_setting_default"]);
    assert!(
        err.to_string().contains(&format!(
            "ALTER ROLE {APP_USER} IN DATABASE {} RESET",
            db.name()
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_tenant_default_in_the_connection_options_is_refused() {
    let db = tenant_database().await;
    let config = Config::parse(&format!(
        "{} options='-c app.current_tenant_id=acme'",
        db.app_conninfo()
    ))
    .unwrap();
    let err = TenantPool::builder(&config).build().await.unwrap_err();
    assert_eq!(refused_ids(&err), vec!["rls.tenant_setting_default"]);
    assert!(err.to_string().contains("options"), "{err}");

    // The setting is the pool's: another name is not checked against this default...
    let other: pgsec_client::SettingName = "app.org_id".parse().unwrap();
    drop(
        TenantPool::builder(&config)
            .tenant_setting(other.clone())
            .build()
            .await
            .expect("app.current_tenant_id is not this pool's setting"),
    );
    // ...and the pool's own name is.
    let config =
        Config::parse(&format!("{} options='-c app.org_id=7'", db.app_conninfo())).unwrap();
    let err = TenantPool::builder(&config)
        .tenant_setting(other)
        .build()
        .await
        .unwrap_err();
    assert_eq!(refused_ids(&err), vec!["rls.tenant_setting_default"]);
}

/// A role whose database holds one of each kind of problem, plus a BYPASSRLS role it
/// cannot reach (reported by an audit, not refused by the guard).
async fn troubled_database() -> (TestDatabase, Credentials) {
    let db = tenant_database().await;
    let creds = role_with(&db, "").await;
    let (staff, etl, unrelated) = (unique("staff"), unique("etl"), unique("backup"));
    admin(
        &db,
        &format!(
            "create role {etl} nologin bypassrls;
             create role {unrelated} nologin bypassrls;
             create role {staff} nologin;
             grant {etl} to {staff};
             grant {staff} to {user};
             create view all_items as select * from items;
             grant select on all_items to {staff};
             create view hidden_items as select * from items;
             create function public.peek() returns bigint language sql security definer
               set search_path = pg_catalog, pg_temp as 'select count(*) from public.items';
             create table loose (tenant_id text);
             grant select on loose to {staff};
             create table unreachable_loose (tenant_id text);
             alter role {user} in database {db} set app.current_tenant_id = 'acme';",
            user = creds.user,
            db = db.name()
        ),
    )
    .await;
    (db, creds)
}

fn keyed(findings: &[Finding]) -> BTreeSet<(String, String, String, String)> {
    findings
        .iter()
        .map(|f| {
            (
                f.id().to_owned(),
                f.fingerprint().to_owned(),
                f.severity().to_string(),
                f.evidence().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_guard_agrees_with_the_audit_of_the_same_database() {
    let (db, creds) = troubled_database().await;
    let err = refusal(&db, &creds).await;
    println!("{err}");
    let Error::Unsafe { findings: guard } = err else {
        panic!("expected a refusal, got {err}");
    };
    let ids: BTreeSet<&str> = guard.iter().map(Finding::id).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "rls.definer_function",
            "rls.disabled",
            "rls.tenant_setting_default",
            "rls.view_bypass",
            "role.bypassrls",
        ]),
        "{guard:?}"
    );
    assert!(
        guard
            .iter()
            .all(|f| f.title() != "start-up guard could not decide this rule"),
        "{guard:?}"
    );

    // `pgsec audit --as-app`: the same role, the audit's own collection options.
    let server = pgsec_testkit::shared().await.unwrap();
    let client = server.connect(db.name(), &creds).await.unwrap();
    let collection = collect(
        &client,
        &CollectOptions::default().current_user_is_app(true),
    )
    .await
    .unwrap();
    let snapshot = collection.into_snapshot("audit", 0);
    let policy = Policy::default().with_app_role(creds.user.clone());
    let audit = evaluate(&snapshot, &policy);

    // Every refusal is an audit finding, identical to the field.
    let audit_keys = keyed(audit.findings());
    for key in keyed(&guard) {
        assert!(audit_keys.contains(&key), "{key:?} not in the audit");
    }
    // The guard's rules restricted to the application's role give exactly the refusals.
    let scoped = evaluate_rules(&snapshot, &policy.clone().with_app_only(true), |id| {
        GUARD_RULES.contains(&id)
    });
    assert_eq!(keyed(scoped.findings()), keyed(&guard));
    assert!(scoped.skipped().is_empty(), "{:?}", scoped.skipped());
    // The rest of what the audit says about those rules is not the application's: the
    // unreachable BYPASSRLS role and the view nobody was granted.
    let extra: Vec<&Finding> = audit
        .findings()
        .iter()
        .filter(|f| GUARD_RULES.contains(&f.id()))
        .filter(|f| !guard.iter().any(|g| g.fingerprint() == f.fingerprint()))
        .collect();
    assert!(
        extra
            .iter()
            .any(|f| f.id() == "role.bypassrls" && f.object().contains("backup")),
        "{extra:?}"
    );
    assert!(
        extra
            .iter()
            .any(|f| f.id() == "rls.view_bypass" && f.object().contains("hidden_items")),
        "{extra:?}"
    );
    // A table without RLS the application holds no privilege on: the audit's (at
    // Low), not the guard's.
    assert!(
        extra.iter().any(|f| f.id() == "rls.disabled"
            && f.object().contains("unreachable_loose")
            && f.severity() == pgsec_core::Severity::Low),
        "{extra:?}"
    );
}
