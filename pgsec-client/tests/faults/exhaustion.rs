//! Every connection checked out: the next caller gets a retry-safe checkout error after
//! `wait_timeout`, and nothing is stuck once the connections come back.

use std::time::{Duration, Instant};

use pgsec_client::Error;

use crate::{
    assert_healthy, direct_pool, ledger_database, tenant, within, write, Ledger, Outcome, PROMPT,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_fails_checkout_after_wait_timeout_and_is_retry_safe() {
    let db = ledger_database().await;
    let wait = Duration::from_millis(300);
    let pool = direct_pool(&db)
        .max_size(2)
        .wait_timeout(wait)
        .build()
        .await
        .unwrap();
    let ledger = Ledger::default();
    let held = [
        pool.begin(&tenant(1)).await.unwrap(),
        pool.begin(&tenant(2)).await.unwrap(),
    ];

    for _ in 0..3 {
        let started = Instant::now();
        let err = within(PROMPT, "begin on an exhausted pool", pool.begin(&tenant(3)))
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, Error::Checkout { .. }), "{err:?}");
        assert!(
            err.is_retry_safe() && !err.commit_outcome_unknown(),
            "{err:?}"
        );
        assert!(
            took >= wait && took < wait + Duration::from_millis(500),
            "{took:?}"
        );
    }
    let status = pool.status();
    assert_eq!(
        (status.size, status.available, status.waiting),
        (2, 0, 0),
        "{status:?}"
    );

    for (i, tx) in held.into_iter().enumerate() {
        let uid = i64::try_from(i).unwrap() + 1;
        write(&tx, uid).await.unwrap();
        tx.commit().await.unwrap();
        ledger.record(uid, &tenant(i + 1), Outcome::Committed);
    }
    let mut uid = 100;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    ledger.assert_kept(&db).await;
}
