//! `pgsec isolation` end to end: exit 0 on a correct five-table schema, 1 with the
//! counterexample on a broken one, 3 on a schema holding something it cannot exercise
//! (0 once that is excluded), 2 on a connection error. The schemas are the testkit's
//! mutation suite.

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
    pgsec_isolation_with(admin, app, &[]).await
}

async fn pgsec_isolation_with(admin: String, app: String, extra: &[&str]) -> std::process::Output {
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_pgsec"))
            .args(["isolation", "--admin", &admin, "--app", &app, "--seed", "6"])
            .args(&extra)
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
    for needle in [
        "coverage:",
        "public.open_tasks",
        "public.tenants ",
        "no_tenant_rows",
        "static rules (rls.*, fn.*)",
        "verdict: clean",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn a_schema_with_a_foreign_table_exits_3_until_it_is_excluded() {
    let db = database_with("incomplete", "01_foreign_table").await;
    let out = pgsec_isolation(db.admin_conninfo(), db.app_conninfo()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("public.remote_items"), "{stdout}");
    assert!(stdout.contains("not exercised: foreign table"), "{stdout}");
    assert!(stdout.contains("verdict: incomplete"), "{stdout}");

    let out = pgsec_isolation_with(
        db.admin_conninfo(),
        db.app_conninfo(),
        &["--exclude", "public.remote_items", "--format", "json"],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with("{\"verdict\":\"clean\",\"exit_code\":0,"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "{\"name\":\"public.remote_items\",\"kind\":\"foreign_table\",\"status\":\"excluded\""
        ),
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
    assert!(
        stdout.contains("predicted by: rls.disabled [critical]"),
        "{stdout}"
    );
    assert!(stdout.contains("verdict: leak"), "{stdout}");
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

/// `pgsec audit --url … --app-role pgsec_app --format json`: the `rls.*` and `fn.*`
/// findings at high or above, as `id object`.
async fn high_static_findings(db: &TestDatabase) -> Vec<String> {
    let url = db.admin_conninfo();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_pgsec"))
            .args([
                "audit",
                "--url",
                &url,
                "--app-role",
                APP_USER,
                "--format",
                "json",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let id = f["id"].as_str().unwrap_or_default();
            (id.starts_with("rls.") || id.starts_with("fn."))
                && matches!(f["severity"].as_str(), Some("high" | "critical"))
        })
        .map(|f| format!("{} {}", f["id"].as_str().unwrap(), f["object"]))
        .collect()
}

#[tokio::test]
async fn audit_with_the_app_role_is_quiet_on_clean_schemas_and_flags_their_twins() {
    for (clean, twin, rule) in [
        (
            "01_restrictive_policy",
            "02_always_true_policy",
            "rls.policy_always_true",
        ),
        (
            "09_published_behind_restrictive_policy",
            "22_published_permissive_policy",
            "rls.policy_ignores_tenant",
        ),
        (
            "08_partitioned_table",
            "20_partition_readable",
            "rls.disabled",
        ),
    ] {
        let db = database_with("correct", clean).await;
        let high = high_static_findings(&db).await;
        assert!(high.is_empty(), "{clean}: {high:?}");
        let db = database_with("broken", twin).await;
        let high = high_static_findings(&db).await;
        assert!(
            high.iter().any(|h| h.starts_with(&format!("{rule} "))),
            "{twin}: {high:?}"
        );
    }
}
