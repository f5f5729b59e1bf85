//! Network faults between the pool and the server, injected by the testkit's TCP proxy:
//! resets, a black hole, a connection closed after N bytes, a bandwidth limit.

use std::time::{Duration, Instant};

use pgsec_client::Error;
use pgsec_testkit::Fault;

use crate::{
    assert_healthy, ledger_database, pool_via, proxy_for, recover, tenant, within, write, Ledger,
    Outcome, PROMPT,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mid_transaction_fails_retry_safe_and_commits_nothing() {
    let db = ledger_database().await;
    let proxy = proxy_for(&db).await;
    let pool = pool_via(&db, &proxy).max_size(2).build().await.unwrap();
    let ledger = Ledger::default();
    let t = tenant(1);

    // Reset while a statement of the transaction runs.
    let tx = pool.begin(&t).await.unwrap();
    write(&tx, 1).await.unwrap();
    proxy.set_fault(Fault::Reset);
    let err = within(
        PROMPT,
        "a statement through a reset",
        tx.query_typed("select 1", &[]),
    )
    .await
    .unwrap_err();
    assert!(pgsec_client::is_transient(&err), "{err:?}");
    // The connection was gone before the commit was sent: nothing committed, retry-safe.
    let err = within(PROMPT, "commit after a reset", tx.commit())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Commit { .. }), "{err:?}");
    assert!(
        err.is_retry_safe() && !err.commit_outcome_unknown(),
        "{err:?}"
    );
    ledger.record(1, &t, Outcome::NotCommitted);

    // Reset while the transaction is idle between statements: commit directly.
    proxy.clear_fault();
    let tx = within(PROMPT, "begin after the reset", pool.begin(&t))
        .await
        .unwrap();
    write(&tx, 2).await.unwrap();
    proxy.set_fault(Fault::Reset);
    // Let the connection task see the reset, as it would long before a real commit.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let result = within(PROMPT, "commit after a reset", tx.commit()).await;
    let err = result.as_ref().unwrap_err();
    assert!(err.is_retry_safe(), "{err:?}");
    ledger.record_result(2, &t, &result);

    // While the reset is in force, new connections fail fast and retry-safe.
    let started = Instant::now();
    let err = within(PROMPT, "begin during a reset", pool.begin(&t))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Checkout { .. }), "{err:?}");
    assert!(err.is_retry_safe(), "{err:?}");
    eprintln!(
        "checkout during a reset failed in {:?}: {err}",
        started.elapsed()
    );

    proxy.clear_fault();
    let mut uid = 100;
    let failures = recover(&pool, &ledger, &mut uid).await;
    eprintln!("recovered after {} failures", failures.len());
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    ledger.assert_kept(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_pooled_connections_reset_by_the_network_are_replaced() {
    let db = ledger_database().await;
    let proxy = proxy_for(&db).await;
    let pool = pool_via(&db, &proxy).max_size(4).build().await.unwrap();
    let ledger = Ledger::default();
    let mut uid = 1;
    // Open all four connections, then reset them while they sit in the pool.
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    assert_eq!(pool.status().size, 4);
    proxy.set_fault(Fault::Reset);
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.clear_fault();

    let failures = recover(&pool, &ledger, &mut uid).await;
    assert!(
        failures.is_empty(),
        "closed connections were handed out: {failures:?}"
    );
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    assert!(
        proxy.stats().connections >= 8,
        "the connections were not replaced"
    );
    ledger.assert_kept(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_hole_fails_checkouts_within_the_pool_timeouts() {
    let db = ledger_database().await;
    let proxy = proxy_for(&db).await;
    let (create, recycle, wait) = (
        Duration::from_millis(800),
        Duration::from_millis(800),
        Duration::from_millis(500),
    );
    let pool = pool_via(&db, &proxy)
        .max_size(1)
        .create_timeout(create)
        .recycle_timeout(recycle)
        .wait_timeout(wait)
        .build()
        .await
        .unwrap();
    let ledger = Ledger::default();
    let t = tenant(1);
    let tx = pool.begin(&t).await.unwrap();
    write(&tx, 1).await.unwrap();
    tx.commit().await.unwrap();
    ledger.record(1, &t, Outcome::Committed);

    proxy.set_fault(Fault::Blackhole);
    // An idle pooled connection is handed out without a round trip, so nothing in the
    // pool bounds a statement the network swallows: the caller's own timeout does.
    let mut stalled = Box::pin(pool.begin(&t));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut stalled)
            .await
            .is_err(),
        "begin finished through a black hole"
    );
    // Meanwhile the only connection is taken: the next caller waits wait_timeout.
    let started = Instant::now();
    let err = within(PROMPT, "begin on an exhausted pool", pool.begin(&t))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Checkout { .. }) && err.is_retry_safe(),
        "{err:?}"
    );
    assert!(
        pgsec_core::display_chain(&err).contains("wait_timeout"),
        "{err}"
    );
    assert!(
        started.elapsed() < wait + Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    drop(stalled); // the caller gives up: the connection returns marked as interrupted

    // The interrupted connection's rollback goes into the black hole (recycle_timeout),
    // so it is discarded; a new one cannot get through (create_timeout).
    let started = Instant::now();
    let err = within(PROMPT, "begin through a black hole", pool.begin(&t))
        .await
        .unwrap_err();
    let took = started.elapsed();
    eprintln!("checkout through a black hole failed after {took:?}: {err}");
    assert!(
        matches!(err, Error::Checkout { .. }) && err.is_retry_safe(),
        "{err:?}"
    );
    assert!(
        pgsec_core::display_chain(&err).contains("create_timeout"),
        "{err}"
    );
    assert!(took >= recycle + create, "{took:?}: no recycle was tried");
    assert!(took < recycle + create + Duration::from_secs(1), "{took:?}");
    // With nothing left to recycle, only create_timeout applies.
    let started = Instant::now();
    let err = within(PROMPT, "begin through a black hole", pool.begin(&t))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Checkout { .. }) && err.is_retry_safe(),
        "{err:?}"
    );
    assert!(
        pgsec_core::display_chain(&err).contains("create_timeout"),
        "{err}"
    );
    assert!(
        started.elapsed() < create + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(pool.status().size <= 1, "{:?}", pool.status());

    proxy.clear_fault();
    let mut uid = 100;
    recover(&pool, &ledger, &mut uid).await;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    ledger.assert_kept(&db).await;
}

/// Bytes the proxy forwards for one `commit()` of `tenant`'s transaction, measured on a
/// transaction that commits normally.
async fn commit_request_bytes(
    pool: &pgsec_client::TenantPool,
    proxy: &pgsec_testkit::Proxy,
    t: &pgsec_client::TenantId,
    uid: i64,
) -> u64 {
    let tx = pool.begin(t).await.unwrap();
    write(&tx, uid).await.unwrap();
    let before = proxy.stats().bytes_to_upstream;
    tx.commit().await.unwrap();
    proxy.stats().bytes_to_upstream - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_after_n_bytes_is_retry_safe_before_the_commit_and_unknown_during_it() {
    let db = ledger_database().await;
    let proxy = proxy_for(&db).await;
    let pool = pool_via(&db, &proxy).max_size(1).build().await.unwrap();
    let ledger = Ledger::default();
    let t = tenant(2);
    let commit_bytes = commit_request_bytes(&pool, &proxy, &t, 1).await;
    ledger.record(1, &t, Outcome::Committed);
    eprintln!("a commit is {commit_bytes} bytes on the wire");

    // Cut inside BEGIN: retry-safe.
    proxy.set_fault(Fault::CloseAfterBytes(20));
    let err = within(PROMPT, "begin cut short", pool.begin(&t))
        .await
        .unwrap_err();
    assert!(err.is_retry_safe(), "{err:?}");
    proxy.clear_fault();

    // The whole commit reaches the server, the answer is cut: committed, but the
    // caller cannot know.
    let tx = within(PROMPT, "begin", pool.begin(&t)).await.unwrap();
    write(&tx, 2).await.unwrap();
    proxy.set_fault(Fault::CloseAfterBytes(commit_bytes + 10));
    let result = within(PROMPT, "commit with its answer cut", tx.commit()).await;
    let err = result.as_ref().unwrap_err();
    assert!(
        err.commit_outcome_unknown() && !err.is_retry_safe(),
        "{err:?}"
    );
    eprintln!("{err}");
    ledger.record_result(2, &t, &result);
    proxy.clear_fault();

    // The commit itself is cut: not committed, and the caller cannot know either.
    let tx = within(PROMPT, "begin", pool.begin(&t)).await.unwrap();
    write(&tx, 3).await.unwrap();
    proxy.set_fault(Fault::CloseAfterBytes(commit_bytes - 10));
    let result = within(PROMPT, "commit cut short", tx.commit()).await;
    assert!(
        result.as_ref().unwrap_err().commit_outcome_unknown(),
        "{result:?}"
    );
    ledger.record_result(3, &t, &result);
    proxy.clear_fault();

    let mut uid = 100;
    recover(&pool, &ledger, &mut uid).await;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    let audit = ledger.assert_kept(&db).await;
    assert_eq!(
        (audit.unknown_present, audit.unknown_absent),
        (1, 1),
        "{audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bandwidth_limit_is_slow_but_correct() {
    let db = ledger_database().await;
    let proxy = proxy_for(&db).await;
    let pool = pool_via(&db, &proxy).max_size(2).build().await.unwrap();
    let ledger = Ledger::default();
    let rate: u64 = 40_000;
    proxy.set_fault(Fault::Bandwidth(rate));
    let before = proxy.stats();
    let started = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let t = tenant(i % 2);
                let mut done = Vec::new();
                for n in 0..3 {
                    let uid = i64::try_from(i * 10 + n).unwrap();
                    let tx = pool.begin(&t).await.unwrap();
                    write(&tx, uid).await.unwrap();
                    // A result large enough for the limit to show.
                    let big: String = tx
                        .query_typed("select repeat('x', 8000)", &[])
                        .await
                        .unwrap()[0]
                        .get(0);
                    assert_eq!(big.len(), 8000);
                    assert!(big.bytes().all(|b| b == b'x'));
                    tx.commit().await.unwrap();
                    done.push((uid, t.clone()));
                }
                done
            })
        })
        .collect();
    for task in tasks {
        for (uid, t) in within(
            Duration::from_secs(15),
            "transactions under a bandwidth limit",
            task,
        )
        .await
        .unwrap()
        {
            ledger.record(uid, &t, Outcome::Committed);
        }
    }
    let elapsed = started.elapsed();
    let after = proxy.stats();
    let down = after.bytes_to_client - before.bytes_to_client;
    let floor = Duration::from_secs_f64(down.saturating_sub(rate / 50) as f64 / rate as f64);
    eprintln!("{down} bytes to the client at {rate} B/s took {elapsed:?} (floor {floor:?})");
    // Connections run in parallel, each limited on its own.
    assert!(elapsed >= floor / 2, "{elapsed:?} < {floor:?} / 2");
    proxy.clear_fault();

    let mut uid = 100;
    assert_healthy(&pool, &db, &ledger, &mut uid).await;
    let audit = ledger.assert_kept(&db).await;
    assert!(audit.rows >= 12, "{audit:?}");
}
