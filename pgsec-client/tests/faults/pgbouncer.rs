//! PgBouncer (transaction pooling) stopped and started again under the pool.

use std::time::{Duration, Instant};

use pgsec_client::{Config, Error, TenantPool};
use pgsec_testkit::pgbouncer::{PgBouncer, PoolMode};

use crate::{
    assert_healthy, ledger_database, recover, tenant, within, write, Ledger, Outcome, PROMPT,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pgbouncer_restart_fails_retry_safe_and_the_pool_recovers() {
    let server = pgsec_testkit::shared().await.unwrap();
    let db = ledger_database().await;
    let mut bouncer = PgBouncer::builder(server)
        .default_pool_size(2)
        .start()
        .await
        .expect("pgbouncer starts (scripts/test.sh installs Debian's pgbouncer)");
    assert_eq!(bouncer.pool_mode(), PoolMode::Transaction);
    let config = Config::parse(&bouncer.conninfo(db.name(), &server.info().app)).unwrap();
    let pool = TenantPool::builder(&config)
        .max_size(4)
        .pgbouncer_transaction_mode(true)
        .create_timeout(Duration::from_secs(2))
        .recycle_timeout(Duration::from_secs(2))
        .wait_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap_or_else(|e| panic!("pool through pgbouncer: {e}\n{}", bouncer.log_tail()));
    let ledger = Ledger::default();
    let mut uid = 1;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    let t = tenant(1);

    // A transaction is open when PgBouncer goes down.
    let tx = pool.begin(&t).await.unwrap();
    write(&tx, 1000).await.unwrap();
    within(PROMPT, "pgbouncer to stop", bouncer.stop())
        .await
        .unwrap();
    let err = within(
        PROMPT,
        "a statement after the stop",
        tx.query_typed("select 1", &[]),
    )
    .await
    .unwrap_err();
    assert!(pgsec_client::is_transient(&err), "{err:?}");
    let err = within(PROMPT, "commit after the stop", tx.commit())
        .await
        .unwrap_err();
    assert!(err.is_retry_safe(), "{err:?}");
    ledger.record(1000, &t, Outcome::NotCommitted);

    // While it is down, checkouts fail fast and retry-safe.
    let started = Instant::now();
    let err = within(PROMPT, "begin while pgbouncer is down", pool.begin(&t))
        .await
        .unwrap_err();
    // Usually the checkout fails; under load an idle connection whose close the pool
    // has not seen yet can be handed out first, and its BEGIN fails on the closed
    // connection. Either way nothing ran and a retry is safe.
    assert!(
        matches!(err, Error::Checkout { .. } | Error::Begin { .. }),
        "{err:?}"
    );
    assert!(err.is_retry_safe(), "{err:?}");
    eprintln!(
        "checkout with pgbouncer down failed in {:?}: {err}",
        started.elapsed()
    );

    within(
        Duration::from_secs(20),
        "pgbouncer to restart",
        bouncer.restart(),
    )
    .await
    .unwrap_or_else(|e| panic!("restart: {e}"));
    let failures = recover(&pool, &ledger, &mut uid).await;
    eprintln!("after the restart: {failures:?}");
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    ledger.assert_kept(&db).await;
}
