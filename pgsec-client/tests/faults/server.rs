//! Faults raised by the server itself: backends terminated (`pg_terminate_backend`),
//! `statement_timeout` and `idle_in_transaction_session_timeout` firing.
//!
//! A restart of the server is in `restart.rs`.

use std::time::{Duration, Instant};

use pgsec_client::Error;
use tokio_postgres::error::SqlState;

use crate::{
    app_backends, assert_healthy, direct_pool, ledger_database, recover, set_for_app_role, tenant,
    terminate, within, write, Ledger, Outcome, PROMPT,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_pooled_connections_terminated_by_the_server_are_replaced() {
    let db = ledger_database().await;
    let pool = direct_pool(&db).max_size(4).build().await.unwrap();
    let ledger = Ledger::default();
    let mut uid = 1;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    let admin = db.admin_client().await.unwrap();
    let pids = app_backends(&admin, &db, None).await;
    assert_eq!(pids.len(), 4, "{pids:?}");
    terminate(&admin, &pids).await;

    let failures = recover(&pool, &ledger, &mut uid).await;
    eprintln!("after terminating the idle connections: {failures:?}");
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    let now = app_backends(&admin, &db, None).await;
    assert!(
        now.iter().all(|p| !pids.contains(p)),
        "a terminated backend is back"
    );
    ledger.assert_kept(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_terminated_inside_a_transaction_commits_nothing_and_is_retry_safe() {
    let db = ledger_database().await;
    let pool = direct_pool(&db).max_size(2).build().await.unwrap();
    let ledger = Ledger::default();
    let admin = db.admin_client().await.unwrap();
    let t = tenant(1);

    // Terminated while idle in the transaction.
    let tx = pool.begin(&t).await.unwrap();
    write(&tx, 1).await.unwrap();
    let pid: i32 = tx
        .query_typed("select pg_catalog.pg_backend_pid()", &[])
        .await
        .unwrap()[0]
        .get(0);
    let idle_in_tx = app_backends(&admin, &db, Some("idle in transaction")).await;
    assert_eq!(idle_in_tx, vec![pid]);
    terminate(&admin, &[pid]).await;
    let err = within(
        PROMPT,
        "a statement after the terminate",
        tx.query_typed("select 1", &[]),
    )
    .await
    .unwrap_err();
    assert!(pgsec_client::is_transient(&err), "{err:?}");
    let err = within(PROMPT, "commit after the terminate", tx.commit())
        .await
        .unwrap_err();
    assert!(
        err.is_retry_safe() && !err.commit_outcome_unknown(),
        "{err:?}"
    );
    ledger.record(1, &t, Outcome::NotCommitted);

    // Terminated while a statement runs: the statement gets 57P01 itself.
    let tx = within(PROMPT, "begin", pool.begin(&t)).await.unwrap();
    write(&tx, 2).await.unwrap();
    let mut sleeping = Box::pin(tx.query_typed("select pg_catalog.pg_sleep(10)", &[]));
    let pid = within(PROMPT, "the statement to start", async {
        loop {
            tokio::select! {
                r = &mut sleeping => panic!("pg_sleep(10) returned early: {r:?}"),
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            if let Some(pid) = app_backends(&admin, &db, Some("active")).await.first() {
                return *pid;
            }
        }
    })
    .await;
    terminate(&admin, &[pid]).await;
    let err = within(PROMPT, "the terminated statement", &mut sleeping)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::ADMIN_SHUTDOWN), "{err:?}");
    drop(sleeping);
    assert!(pgsec_client::is_transient(&err));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = within(PROMPT, "commit after the terminate", tx.commit())
        .await
        .unwrap_err();
    assert!(err.is_retry_safe(), "{err:?}");
    ledger.record(2, &t, Outcome::NotCommitted);

    let mut uid = 100;
    recover(&pool, &ledger, &mut uid).await;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    ledger.assert_kept(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_fails_the_statement_and_the_connection_stays_usable() {
    let db = ledger_database().await;
    set_for_app_role(&db, "statement_timeout", "300ms").await;
    let pool = direct_pool(&db).max_size(1).build().await.unwrap();
    let ledger = Ledger::default();
    let t = tenant(1);

    let tx = pool.begin(&t).await.unwrap();
    let pid: i32 = tx
        .query_typed("select pg_catalog.pg_backend_pid()", &[])
        .await
        .unwrap()[0]
        .get(0);
    write(&tx, 1).await.unwrap();
    let started = Instant::now();
    let err = within(
        PROMPT,
        "a statement past statement_timeout",
        tx.query_typed("select pg_catalog.pg_sleep(3)", &[]),
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    assert!(pgsec_client::is_transient(&err));
    // Nothing is committed; the abort is reported, and the cause was the statement's.
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::TransactionAborted), "{err:?}");
    assert!(!err.is_retry_safe() && !err.commit_outcome_unknown());
    ledger.record(1, &t, Outcome::NotCommitted);

    // The same connection serves the next transaction.
    let tx = pool.begin(&t).await.unwrap();
    let again: i32 = tx
        .query_typed("select pg_catalog.pg_backend_pid()", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(
        again, pid,
        "the connection was replaced after a statement timeout"
    );
    write(&tx, 2).await.unwrap();
    tx.commit().await.unwrap();
    ledger.record(2, &t, Outcome::Committed);

    let mut uid = 100;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    ledger.assert_kept(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_in_transaction_timeout_ends_the_session_and_commit_is_retry_safe() {
    let db = ledger_database().await;
    set_for_app_role(&db, "idle_in_transaction_session_timeout", "400ms").await;
    let pool = direct_pool(&db).max_size(2).build().await.unwrap();
    let ledger = Ledger::default();
    let t = tenant(1);

    let tx = pool.begin(&t).await.unwrap();
    write(&tx, 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let err = within(PROMPT, "commit after the idle timeout", tx.commit())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Commit { .. }), "{err:?}");
    assert!(
        err.is_retry_safe() && !err.commit_outcome_unknown(),
        "{err:?}"
    );
    ledger.record(1, &t, Outcome::NotCommitted);

    // A statement after the timeout fails transient as well.
    let tx = within(PROMPT, "begin", pool.begin(&t)).await.unwrap();
    write(&tx, 2).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let err = within(
        PROMPT,
        "a statement after the idle timeout",
        tx.query_typed("select 1", &[]),
    )
    .await
    .unwrap_err();
    assert!(pgsec_client::is_transient(&err), "{err:?}");
    drop(tx);
    ledger.record(2, &t, Outcome::NotCommitted);

    let mut uid = 100;
    recover(&pool, &ledger, &mut uid).await;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    ledger.assert_kept(&db).await;
}
