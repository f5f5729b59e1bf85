//! begin / commit / rollback / drop, checked against what the server really holds.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use pgsec_client::{Error, TenantId, TenantPool};
use tokio_postgres::types::Type;

use crate::{all_items, app_pool, tenant_database};

/// What the session sees inside a transaction: the tenant setting, the backend pid,
/// and whether this transaction already has an xid (a leftover write would).
pub(crate) async fn session_view(tx: &pgsec_client::TenantTx) -> (Option<String>, i32, bool) {
    let row = tx
        .query_typed(
            "select pg_catalog.current_setting('app.current_tenant_id', true), \
                    pg_catalog.pg_backend_pid(), \
                    pg_catalog.pg_current_xact_id_if_assigned() is not null",
            &[],
        )
        .await
        .expect("session view")
        .into_iter()
        .next()
        .expect("one row");
    (row.get(0), row.get(1), row.get(2))
}

async fn insert(tx: &pgsec_client::TenantTx, body: &str) -> Result<u64, tokio_postgres::Error> {
    tx.execute(
        "insert into items (tenant_id, body) values ($1, $2)",
        &[&tx.tenant().to_string(), &body],
    )
    .await
}

/// Polls a future `polls` times and drops it if it has not finished.
pub(crate) async fn poll_then_drop<F: Future>(fut: F, polls: usize) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut left = polls;
    std::future::poll_fn(move |cx: &mut Context<'_>| match fut.as_mut().poll(cx) {
        Poll::Ready(v) => Poll::Ready(Some(v)),
        Poll::Pending if left <= 1 => Poll::Ready(None),
        Poll::Pending => {
            left -= 1;
            Poll::Pending
        }
    })
    .await
}

async fn one_conn_pool(db: &pgsec_testkit::TestDatabase) -> TenantPool {
    app_pool(db).max_size(1).build().await.expect("pool builds")
}

#[tokio::test]
async fn begin_sets_the_tenant_and_commit_keeps_the_work() {
    let db = tenant_database().await;
    let pool = one_conn_pool(&db).await;
    let acme: TenantId = "acme".parse().unwrap();
    let globex = TenantId::from(42_i64);

    let tx = pool.begin(&acme).await.unwrap();
    assert_eq!(session_view(&tx).await.0.as_deref(), Some("acme"));
    insert(&tx, "a1").await.unwrap();
    tx.commit().await.unwrap();

    let tx = pool.begin(&globex).await.unwrap();
    assert_eq!(session_view(&tx).await.0.as_deref(), Some("42"));
    // RLS: the other tenant's row is invisible.
    let seen: Vec<String> = tx
        .query("select body from items", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(seen.is_empty(), "tenant 42 saw {seen:?}");
    insert(&tx, "g1").await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        all_items(&db).await,
        vec![("acme".into(), "a1".into()), ("42".into(), "g1".into())]
    );
}

#[tokio::test]
async fn dropping_the_guard_rolls_back_and_the_connection_comes_back_clean() {
    let db = tenant_database().await;
    let pool = one_conn_pool(&db).await;
    let a: TenantId = "tenant-a".parse().unwrap();
    let b: TenantId = "tenant-b".parse().unwrap();

    let tx = pool.begin(&a).await.unwrap();
    let (_, pid, _) = session_view(&tx).await;
    insert(&tx, "dropped").await.unwrap();
    drop(tx);

    let tx = pool.begin(&b).await.unwrap();
    let (tenant, pid2, has_xid) = session_view(&tx).await;
    assert_eq!(pid2, pid, "the rolled-back connection is reused");
    assert_eq!(tenant.as_deref(), Some("tenant-b"));
    assert!(!has_xid, "the new transaction inherited a write");
    tx.rollback().await.unwrap();
    assert!(all_items(&db).await.is_empty());
}

#[tokio::test]
async fn a_failed_statement_makes_commit_fail_instead_of_silently_rolling_back() {
    let db = tenant_database().await;
    let pool = one_conn_pool(&db).await;
    let t: TenantId = "t1".parse().unwrap();

    let tx = pool.begin(&t).await.unwrap();
    insert(&tx, "before the error").await.unwrap();
    let err = tx.query("select 1/0", &[]).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::DIVISION_BY_ZERO)
    );
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::TransactionAborted), "{err:?}");
    assert!(all_items(&db).await.is_empty());

    // The connection is usable and clean afterwards.
    let tx = pool.begin(&t).await.unwrap();
    assert_eq!(session_view(&tx).await.0.as_deref(), Some("t1"));
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn changing_the_tenant_inside_the_transaction_is_not_committed() {
    let db = tenant_database().await;
    let pool = one_conn_pool(&db).await;
    let t: TenantId = "t1".parse().unwrap();

    let tx = pool.begin(&t).await.unwrap();
    tx.query_typed(
        "select pg_catalog.set_config('app.current_tenant_id', 'other', true)",
        &[],
    )
    .await
    .unwrap();
    tx.execute(
        "insert into items (tenant_id, body) values ('other', 'smuggled')",
        &[],
    )
    .await
    .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::TenantChanged), "{err:?}");
    assert!(
        all_items(&db).await.is_empty(),
        "the smuggled row was committed"
    );

    // Ending the transaction early through SQL is reported too.
    let tx = pool.begin(&t).await.unwrap();
    tx.batch_execute("COMMIT").await.unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::TenantChanged), "{err:?}");

    let tx = pool.begin(&t).await.unwrap();
    let (tenant, _, has_xid) = session_view(&tx).await;
    assert_eq!(tenant.as_deref(), Some("t1"));
    assert!(!has_xid);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_begin_cancelled_at_any_poll_leaves_nothing_behind() {
    let db = tenant_database().await;
    let pool = one_conn_pool(&db).await;
    let t: TenantId = "t1".parse().unwrap();
    for polls in 1..8 {
        let cancelled: TenantId = format!("cancelled-{polls}").parse().unwrap();
        let _ = poll_then_drop(pool.begin(&cancelled), polls).await;
        let tx = pool.begin(&t).await.unwrap();
        let (tenant, _, has_xid) = session_view(&tx).await;
        assert_eq!(
            tenant.as_deref(),
            Some("t1"),
            "after cancelling at poll {polls}"
        );
        assert!(!has_xid);
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn a_query_cancelled_mid_flight_is_rolled_back_with_its_transaction() {
    let db = tenant_database().await;
    let pool = one_conn_pool(&db).await;
    let t: TenantId = "t1".parse().unwrap();
    let tx = pool.begin(&t).await.unwrap();
    let slow = tx.execute(
        "insert into items (tenant_id, body) select 't1', 'slow' from pg_catalog.pg_sleep(0.2)",
        &[],
    );
    assert!(poll_then_drop(slow, 1).await.is_none());
    drop(tx);
    let tx = pool.begin(&t).await.unwrap();
    assert_eq!(session_view(&tx).await.0.as_deref(), Some("t1"));
    tx.commit().await.unwrap();
    assert!(
        all_items(&db).await.is_empty(),
        "the cancelled insert was committed"
    );
}

#[tokio::test]
async fn the_unscoped_connection_has_no_tenant_and_is_never_reused() {
    let db = tenant_database().await;
    let pool = one_conn_pool(&db).await;
    let t: TenantId = "t1".parse().unwrap();

    let tx = pool.begin(&t).await.unwrap();
    let (_, first_pid, _) = session_view(&tx).await;
    tx.commit().await.unwrap();

    let conn = pool.dangerous_unscoped_connection().await.unwrap();
    let row = conn
        .query_one(
            "select pg_catalog.current_setting('app.current_tenant_id', true), pg_catalog.pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    let tenant: Option<String> = row.get(0);
    assert!(
        tenant.as_deref().unwrap_or("").is_empty(),
        "unscoped saw {tenant:?}"
    );
    assert_eq!(row.get::<_, i32>(1), first_pid);
    // Session state that must not leak into tenant transactions.
    conn.batch_execute(
        "select pg_catalog.set_config('app.current_tenant_id', 'leak', false); begin",
    )
    .await
    .unwrap();
    // RLS denies without a tenant.
    assert!(conn
        .query("select * from items", &[])
        .await
        .unwrap()
        .is_empty());
    drop(conn);

    let tx = pool.begin(&t).await.unwrap();
    let (tenant, pid, _) = session_view(&tx).await;
    assert_ne!(
        pid, first_pid,
        "the unscoped connection was handed out again"
    );
    assert_eq!(tenant.as_deref(), Some("t1"));
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn builder_values_are_validated() {
    let db = tenant_database().await;
    let err = app_pool(&db).max_size(0).build().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidSetting {
                setting: "max_size",
                ..
            }
        ),
        "{err}"
    );
    let err = app_pool(&db)
        .tenant_columns(Vec::<String>::new())
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidSetting {
                setting: "tenant_columns",
                ..
            }
        ),
        "{err}"
    );
    let err = app_pool(&db)
        .wait_timeout(std::time::Duration::ZERO)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidSetting {
                setting: "wait_timeout",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_weak_sslmode_is_refused_before_connecting() {
    let db = tenant_database().await;
    let conninfo = db
        .app_conninfo()
        .replace("sslmode=verify-full", "sslmode=require");
    let config = pgsec_client::Config::parse(&conninfo).unwrap();
    let err = TenantPool::builder(&config).build().await.unwrap_err();
    assert!(matches!(err, Error::WeakSslMode { .. }), "{err}");
    assert!(err.to_string().contains("verify-full"), "{err}");
}

#[tokio::test]
async fn a_setting_the_server_refuses_fails_the_build() {
    let server = pgsec_testkit::shared().await.unwrap();
    if !server.has_pgaudit() {
        eprintln!("skipped: needs pgaudit loaded (a superuser-only dotted setting)");
        return;
    }
    let db = tenant_database().await;
    // A valid custom-setting name that the server refuses to the application role.
    let err = app_pool(&db)
        .tenant_setting("pgaudit.log".parse().unwrap())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SettingRejected { .. }), "{err}");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
}

#[tokio::test]
async fn query_parameters_use_the_tenant_type_of_the_table() {
    let db = tenant_database().await;
    let pool = one_conn_pool(&db).await;
    let t: TenantId = "t1".parse().unwrap();
    let tx = pool.begin(&t).await.unwrap();
    let n = tx
        .query_typed(
            "select count(*) from items where tenant_id = $1",
            &[(&"t1", Type::TEXT)],
        )
        .await
        .unwrap()[0]
        .get::<_, i64>(0);
    assert_eq!(n, 0);
    tx.rollback().await.unwrap();
}

/// The pool's own statements on this session (its two checks), from
/// `pg_prepared_statements`.
async fn pool_statements(tx: &pgsec_client::TenantTx) -> Vec<String> {
    tx.query_typed(
        "select name from pg_catalog.pg_prepared_statements \
         where name like 'pgsec%' order by 1",
        &[],
    )
    .await
    .expect("pg_prepared_statements")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn the_pool_statements_are_prepared_once_per_connection() {
    let db = tenant_database().await;
    let pool = one_conn_pool(&db).await;
    let t: TenantId = "t1".parse().unwrap();
    let tx = pool.begin(&t).await.unwrap();
    let first = pool_statements(&tx).await;
    let (_, pid, _) = session_view(&tx).await;
    tx.commit().await.unwrap();
    assert_eq!(
        first,
        ["pgsec_clean_check", "pgsec_commit_check"],
        "the commit check and the clean check"
    );

    for i in 0..7_i64 {
        let tx = pool.begin(&TenantId::from(i)).await.unwrap();
        assert_eq!(session_view(&tx).await.0, Some(i.to_string()));
        tx.commit().await.unwrap();
    }
    let tx = pool.begin(&t).await.unwrap();
    assert_eq!(session_view(&tx).await.1, pid, "same connection");
    assert_eq!(
        pool_statements(&tx).await,
        first,
        "no statement per transaction"
    );
    tx.commit().await.unwrap();

    // PgBouncer transaction mode: nothing named is left on the session.
    let pool = app_pool(&db)
        .max_size(1)
        .pgbouncer_transaction_mode(true)
        .build()
        .await
        .unwrap();
    let tx = pool.begin(&t).await.unwrap();
    assert_eq!(session_view(&tx).await.0.as_deref(), Some("t1"));
    assert_eq!(pool_statements(&tx).await, Vec::<String>::new());
    tx.commit().await.unwrap();
    let tx = pool.begin(&t).await.unwrap();
    insert(&tx, "unnamed").await.unwrap();
    tx.query("select 1/0", &[]).await.unwrap_err();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::TransactionAborted), "{err:?}");
    assert!(all_items(&db).await.is_empty());
}

#[tokio::test]
async fn deallocating_the_pool_statements_fails_closed_and_replaces_the_connection() {
    let db = tenant_database().await;
    let pool = one_conn_pool(&db).await;
    let t: TenantId = "t1".parse().unwrap();

    let tx = pool.begin(&t).await.unwrap();
    let (_, pid, _) = session_view(&tx).await;
    insert(&tx, "deallocated").await.unwrap();
    tx.batch_execute("DEALLOCATE ALL").await.unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::Commit { .. }), "{err:?}");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INVALID_SQL_STATEMENT_NAME)
    );
    assert!(all_items(&db).await.is_empty(), "nothing was committed");

    // The connection without its statements is closed, not reused.
    let tx = pool.begin(&t).await.unwrap();
    let (tenant, pid2, _) = session_view(&tx).await;
    assert_ne!(pid2, pid);
    assert_eq!(tenant.as_deref(), Some("t1"));
    insert(&tx, "kept").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(all_items(&db).await.len(), 1);
}
