//! The server restarted (fast shutdown, as `pg_ctl restart -m fast` does) under a
//! TenantPool with writers running: every error says retry-safe or outcome-unknown, no
//! acknowledged commit is lost, a transaction open across the restart commits nothing,
//! and the pool is back to full health without leaks.
//!
//! The test kit restarts only servers of the local backend (`TestServer::restart`), so
//! this test starts one of its own with `Backend::Local` (the PostgreSQL binaries under
//! `/usr/lib/postgresql`, which `scripts/test.sh` installs); without them it fails saying
//! so.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pgsec_client::Error;
use pgsec_testkit::{Backend, TestServer};

use crate::{
    assert_healthy, direct_pool, ledger_database_on, recover, tenant, transaction, within, write,
    Ledger, Outcome, PROMPT,
};

/// Writers running while the server restarts.
const WRITERS: usize = 4;
/// Bound on each writer's transactions.
const PER_WRITER: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_fails_retry_safe_loses_no_commit_and_the_pool_recovers() {
    let mut server = TestServer::builder()
        .backend(Backend::Local)
        .start()
        .await
        .expect(
            "a local-backend server (TestServer::restart needs the PostgreSQL binaries under \
             /usr/lib/postgresql; scripts/test.sh installs them)",
        );
    let db = ledger_database_on(&server).await;
    let pool = direct_pool(&db).max_size(4).build().await.unwrap();
    let ledger = Arc::new(Ledger::default());
    let mut uid = 1;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;

    // A transaction open across the restart.
    let t = tenant(1);
    let open = pool.begin(&t).await.unwrap();
    write(&open, 100_000).await.unwrap();

    // Writers committing while the server goes down and comes back.
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicI64::new(200_000));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (pool, ledger, stop, next) = (
            pool.clone(),
            Arc::clone(&ledger),
            Arc::clone(&stop),
            Arc::clone(&next),
        );
        writers.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            for _ in 0..PER_WRITER {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let uid = next.fetch_add(1, Ordering::Relaxed);
                let t = tenant(w % 3);
                let result = within(
                    PROMPT,
                    "a writer's transaction",
                    transaction(&pool, &t, uid),
                )
                .await;
                ledger.record_result(uid, &t, &result);
                if let Err(e) = result {
                    let fine = e.is_retry_safe()
                        || e.commit_outcome_unknown()
                        || matches!(&e, Error::Query(q) if pgsec_client::is_transient(q));
                    assert!(fine, "neither retry-safe nor outcome-unknown: {e:?}");
                    errors.push(e.to_string());
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            errors
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    within(
        Duration::from_secs(60),
        "the server to restart",
        server.restart(),
    )
    .await
    .unwrap_or_else(|e| panic!("restart: {e}"));

    // The open transaction's session is gone: nothing of it was committed.
    let err = within(
        PROMPT,
        "a statement after the restart",
        open.query_typed("select 1", &[]),
    )
    .await
    .unwrap_err();
    assert!(pgsec_client::is_transient(&err), "{err:?}");
    let err = within(PROMPT, "commit after the restart", open.commit())
        .await
        .unwrap_err();
    assert!(err.is_retry_safe(), "{err:?}");
    assert!(!err.commit_outcome_unknown(), "{err:?}");
    ledger.record(100_000, &t, Outcome::NotCommitted);

    let failures = recover(&pool, &ledger, &mut uid).await;
    eprintln!("after the restart: {failures:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut writer_errors = Vec::new();
    for w in writers {
        writer_errors.extend(w.await.expect("a writer panicked"));
    }
    eprintln!(
        "writers: {} errors during the restart, e.g. {:?}",
        writer_errors.len(),
        writer_errors.first()
    );
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    let audit = ledger.assert_kept(&db).await;
    eprintln!("ledger after the restart: {audit:?}");
    assert!(audit.rows > 0);
}
