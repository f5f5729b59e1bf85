//! `pgsec isolation` end to end: exit 0 on a correct five-table schema, 1 with the
//! counterexample on a broken one, 2 on a connection error. The schemas are the
//! testkit's mutation suite.

use std::path::Path;
use std::process::Command;

use pgsec_testkit::{TestDatabase, APP_USER};

async fn database_with(kind: &str, name: &str) -> TestDatabase {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pgsec-testkit/tests/isolation/schemas")
        .join(kind);
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains(name))
        .unwrap_or_else(|| panic!("no schema {name} in {}", dir.display()));
    let sql = std::fs::read_to_string(file)
        .unwrap()
        .replace("{{app}}", APP_USER);
    let server = pgsec_testkit::shared().await.expect("test server");
    let db = server.fresh_database().await.expect("fresh database");
    db.admin_client()
        .await
        .unwrap()
        .batch_execute(&sql)
        .await
        .unwrap();
    db
}

async fn pgsec_isolation(admin: String, app: String) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_pgsec"))
            .args(["isolation", "--admin", &admin, "--app", &app, "--seed", "6"])
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_correct_schema_exits_0() {
    let db = database_with("correct", "03_five_tables_with_foreign_keys").await;
    let out = pgsec_isolation(db.admin_conninfo(), db.app_conninfo()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("no isolation violation in 256 cases"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_broken_schema_exits_1_with_the_counterexample() {
    let db = database_with("broken", "10_second_table_without_rls").await;
    let out = pgsec_isolation(db.admin_conninfo(), db.app_conninfo()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("TENANT ISOLATION VIOLATED"), "{stdout}");
    assert!(stdout.contains("] on public.comments: "), "{stdout}");
}

#[tokio::test]
async fn an_unreachable_server_exits_2() {
    let db = database_with("correct", "03_five_tables_with_foreign_keys").await;
    let out = pgsec_isolation(
        "host=127.0.0.1 port=1 sslmode=verify-full".to_owned(),
        db.app_conninfo(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("pgsec: error: isolation check, admin connection"));
}
