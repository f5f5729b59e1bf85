//! The start-up guard refuses unsafe roles and tables with pgsec-core's findings.

use std::sync::atomic::{AtomicU32, Ordering};

use pgsec_client::{Config, Error, TenantPool, GUARD_RULES};
use pgsec_testkit::{Credentials, TestDatabase, TestServer, APP_USER};

use crate::{app_pool, tenant_database};

/// A new login role with `attributes`, allowed to use the tenant table of `db`.
async fn role_with(db: &TestDatabase, attributes: &str) -> Credentials {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "guard_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
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
