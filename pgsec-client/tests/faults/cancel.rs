//! Bursts of transactions whose futures are cancelled at random points (waiting for a
//! connection, inside `begin`, between statements, inside `commit`).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::{
    assert_healthy, ledger_database, pool_via, proxy_for, tenant, write, Ledger, Outcome, Rng,
};

/// How far a cancelled transaction got.
const STARTED: u8 = 0;
const IN_TRANSACTION: u8 = 1;
const COMMITTING: u8 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_cancelled_transactions_leave_nothing_behind() {
    let db = ledger_database().await;
    let proxy = proxy_for(&db).await;
    // Some latency, so that futures are cancelled with messages in flight.
    proxy.set_latency(Duration::from_micros(500));
    let pool = pool_via(&db, &proxy).max_size(4).build().await.unwrap();
    let ledger = Arc::new(Ledger::default());
    let mut rng = Rng::from_env("cancel bursts");
    let (mut committed, mut cancelled, mut unknown) = (0, 0, 0);

    for burst in 0..4_i64 {
        let tasks: Vec<_> = (0..64_i64)
            .map(|i| {
                let uid = burst * 1000 + i;
                let (pool, ledger) = (pool.clone(), Arc::clone(&ledger));
                let mut rng = rng.fork();
                tokio::spawn(async move {
                    let t = tenant(usize::try_from(i).unwrap() % 5);
                    let stage = AtomicU8::new(STARTED);
                    let (sleep_too, limit) = (rng.chance(30), rng.millis(0, 80));
                    let work = async {
                        let tx = pool.begin(&t).await?;
                        stage.store(IN_TRANSACTION, Ordering::SeqCst);
                        write(&tx, uid).await.map_err(pgsec_client::Error::Query)?;
                        if sleep_too {
                            tx.query_typed("select pg_catalog.pg_sleep(0.005)", &[])
                                .await
                                .map_err(pgsec_client::Error::Query)?;
                        }
                        stage.store(COMMITTING, Ordering::SeqCst);
                        tx.commit().await
                    };
                    match tokio::time::timeout(limit, work).await {
                        Ok(result) => {
                            // Nothing but cancellation disturbs these transactions.
                            result.as_ref().unwrap();
                            ledger.record(uid, &t, Outcome::Committed);
                            Outcome::Committed
                        }
                        Err(_) if stage.load(Ordering::SeqCst) == COMMITTING => {
                            // The commit may have reached the server.
                            ledger.record(uid, &t, Outcome::Unknown);
                            Outcome::Unknown
                        }
                        Err(_) => {
                            ledger.record(uid, &t, Outcome::NotCommitted);
                            Outcome::NotCommitted
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            match task.await.unwrap() {
                Outcome::Committed => committed += 1,
                Outcome::Unknown => unknown += 1,
                Outcome::NotCommitted => cancelled += 1,
            }
        }
    }
    eprintln!(
        "{committed} committed, {cancelled} cancelled before commit, {unknown} cancelled in commit"
    );
    assert!(cancelled > 0, "no transaction was cancelled");

    let mut uid = 100_000;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    let audit = ledger.assert_kept(&db).await;
    eprintln!("{audit:?}");
}
