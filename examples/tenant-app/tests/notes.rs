//! The notes service against a real, hardened PostgreSQL: one server for this test
//! binary, a database per test cloned from a template the migrations ran in once.

use pgsec_client::{TenantId, TenantPool};
use pgsec_example_tenant_app::{add_note, list_notes, Error};
use pgsec_testkit::TestDatabase;
use tokio_postgres::Client;

fn tenant(name: &str) -> TenantId {
    TenantId::text(name).unwrap()
}

#[pgsec_testkit::test(migrations = "migrations")]
async fn a_tenant_reads_back_its_own_notes(pool: TenantPool) -> Result<(), Error> {
    add_note(&pool, &tenant("acme"), "first").await?;
    add_note(&pool, &tenant("acme"), "second").await?;
    add_note(&pool, &tenant("globex"), "other").await?;
    assert_eq!(
        list_notes(&pool, &tenant("acme")).await?,
        ["first", "second"]
    );
    assert_eq!(list_notes(&pool, &tenant("globex")).await?, ["other"]);
    Ok(())
}

#[pgsec_testkit::test(migrations = "migrations", fixtures = ["fixtures/two_tenants.sql"])]
async fn fixtures_are_loaded_and_filtered(pool: TenantPool, admin: Client) -> Result<(), Error> {
    // The superuser sees every tenant's rows ...
    let all: i64 = admin
        .query_one("SELECT count(*) FROM notes", &[])
        .await?
        .get(0);
    assert_eq!(all, 3);
    // ... the application role only the current tenant's.
    assert_eq!(list_notes(&pool, &tenant("acme")).await?.len(), 2);
    assert_eq!(
        list_notes(&pool, &tenant("globex")).await?,
        ["globex: <script>alert(1)</script>"]
    );
    assert!(list_notes(&pool, &tenant("initech")).await?.is_empty());
    Ok(())
}

#[pgsec_testkit::test(migrations = "migrations")]
async fn each_test_gets_a_database_of_its_own(db: TestDatabase, admin: Client) {
    // Another test inserts rows; this database starts empty (migrated, no rows).
    let n: i64 = admin
        .query_one("SELECT count(*) FROM notes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "database {} is not fresh", db.name());
}

#[pgsec_testkit::test(migrations = "migrations")]
async fn notes_are_isolated_between_tenants(db: TestDatabase) {
    let report = pgsec_testkit::assert_isolated(
        &db,
        pgsec_testkit::IsolationConfig {
            seed: Some(17),
            cases: 64,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(report.tables, ["public.notes"]);
}

/// The assertion fails on a leak with the shrunk counterexample: a policy that
/// compares with LIKE lets tenant `a` read tenant `ab`'s rows.
#[pgsec_testkit::test(migrations = "migrations")]
async fn a_leaky_policy_fails_the_assertion_with_a_counterexample(db: TestDatabase, admin: Client) {
    admin
        .batch_execute(
            "DROP POLICY notes_tenant ON notes;
             CREATE POLICY notes_prefix ON notes
               USING (tenant_id LIKE current_setting('app.current_tenant_id', true) || '%');",
        )
        .await
        .unwrap();
    let db2 = db.clone();
    // assert_isolated panics on the leak; run it on a task to catch the panic message.
    let outcome = tokio_spawn_catch(async move {
        pgsec_testkit::assert_isolated(
            &db2,
            pgsec_testkit::IsolationConfig {
                seed: Some(17),
                ..Default::default()
            },
        )
        .await;
    })
    .await;
    let message = outcome.expect_err("a LIKE policy must fail the assertion");
    assert!(message.contains("is not isolated"), "{message}");
    assert!(message.contains("1."), "numbered SQL steps: {message}");
}

/// Runs `f`, turning a panic into `Err(message)`.
async fn tokio_spawn_catch(f: impl std::future::Future<Output = ()>) -> Result<(), String> {
    use std::panic::AssertUnwindSafe;
    match futures_catch(AssertUnwindSafe(f)).await {
        Ok(()) => Ok(()),
        Err(p) => Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()),
    }
}

/// `catch_unwind` for a future without futures-util: polls it inside `catch_unwind`.
async fn futures_catch<F: std::future::Future<Output = ()>>(
    f: std::panic::AssertUnwindSafe<F>,
) -> std::thread::Result<()> {
    let mut f = std::pin::pin!(f.0);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.as_mut().poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(())) => std::task::Poll::Ready(Ok(())),
            Err(p) => std::task::Poll::Ready(Err(p)),
        }
    })
    .await
}

/// The isolation report as HTML: the counterexample as a numbered list of SQL steps,
/// database strings escaped.
#[pgsec_testkit::test(migrations = "migrations")]
async fn the_isolation_report_renders_as_html_with_numbered_sql(db: TestDatabase, admin: Client) {
    admin
        .batch_execute(
            "DROP POLICY notes_tenant ON notes;
             CREATE POLICY notes_prefix ON notes
               USING (tenant_id LIKE current_setting('app.current_tenant_id', true) || '%');",
        )
        .await
        .unwrap();
    let report = pgsec_testkit::isolation::check(pgsec_testkit::IsolationConfig {
        admin_conninfo: db.admin_conninfo(),
        app_conninfo: db.app_conninfo(),
        seed: Some(17),
        ..Default::default()
    })
    .await
    .unwrap();
    let cx = report
        .counterexample
        .as_ref()
        .expect("the LIKE policy leaks");
    let page = report.to_html();
    assert!(page.contains("<ol class=\"steps\">"), "{page}");
    assert_eq!(page.matches("<li value=").count(), cx.steps.len());
    assert!(page.contains("VIOLATION"));
    assert!(page.contains("public.notes"));
    assert!(!page.contains("<script"), "no script, nothing unescaped");
}
