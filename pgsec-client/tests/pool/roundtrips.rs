//! `begin` costs no round trip more than a plain `BEGIN`: counted on the wire.
//!
//! The testkit's TCP proxy forwards bytes between the pool and the server and counts
//! turns: each time the client sends after the server last spoke, that is one round
//! trip. TLS hides the messages but not the turns.

use deadpool_postgres::{ManagerConfig, RecyclingMethod};
use pgsec_client::{Config, TenantId, TenantPool};
use pgsec_testkit::Proxy;
use tokio_postgres::types::Type;

use crate::tenant_database;

const QUERY: &str = "select pg_catalog.current_setting('app.current_tenant_id', true)";

/// Round trips of one TenantPool transaction (begin, one query, commit).
async fn tenant_pool_turns(pool: &TenantPool, proxy: &Proxy, tenant: &TenantId) -> u64 {
    let before = proxy.round_trips();
    let tx = pool.begin(tenant).await.unwrap();
    let rows = tx.query_typed(QUERY, &[]).await.unwrap();
    assert_eq!(
        rows[0].get::<_, Option<String>>(0).as_deref(),
        Some(tenant.as_setting_value())
    );
    tx.commit().await.unwrap();
    proxy.round_trips() - before
}

/// Round trips of the same transaction on a plain deadpool-postgres pool, without a
/// tenant, optionally with a separate `set_config` round trip (the naive way).
async fn plain_pool_turns(
    pool: &deadpool_postgres::Pool,
    proxy: &Proxy,
    naive_tenant: Option<&str>,
) -> u64 {
    let mut client = pool.get().await.unwrap();
    let before = proxy.round_trips();
    let tx = client.transaction().await.unwrap();
    if let Some(tenant) = naive_tenant {
        tx.query_typed(
            "select pg_catalog.set_config('app.current_tenant_id', $1, true)",
            &[(&tenant, Type::TEXT)],
        )
        .await
        .unwrap();
    }
    let rows = tx.query_typed(QUERY, &[]).await.unwrap();
    let seen: Option<String> = rows[0].get(0);
    assert_eq!(seen.unwrap_or_default(), naive_tenant.unwrap_or(""));
    tx.commit().await.unwrap();
    proxy.round_trips() - before
}

// current_thread runtime (the default): nothing runs between the two sends of a
// pipelined pair, so the count cannot depend on scheduling.
#[tokio::test]
async fn begin_with_tenant_costs_the_round_trips_of_a_plain_transaction() {
    let db = tenant_database().await;
    let upstream = db.info().addr();
    let through = |proxy: &Proxy| Config::parse(&db.app_conninfo_via(proxy)).unwrap();

    let tenant_proxy = Proxy::start(upstream).await.unwrap();
    let config = through(&tenant_proxy);
    let pool = TenantPool::builder(&config)
        .max_size(1)
        .build()
        .await
        .unwrap();

    let plain_proxy = Proxy::start(upstream).await.unwrap();
    let config = through(&plain_proxy);
    let manager = deadpool_postgres::Manager::from_config(
        config.to_tokio_config().unwrap(),
        config.make_tls_connect().unwrap(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let plain = deadpool_postgres::Pool::builder(manager)
        .max_size(1)
        .build()
        .unwrap();

    let tenant: TenantId = "acme".parse().unwrap();
    // Warm up: connections, TLS session tickets, type caches.
    tenant_pool_turns(&pool, &tenant_proxy, &tenant).await;
    plain_pool_turns(&plain, &plain_proxy, None).await;

    for _ in 0..5 {
        let with_tenant = tenant_pool_turns(&pool, &tenant_proxy, &tenant).await;
        let without = plain_pool_turns(&plain, &plain_proxy, None).await;
        let naive = plain_pool_turns(&plain, &plain_proxy, Some("acme")).await;
        eprintln!(
            "round trips: TenantPool {with_tenant}, plain {without}, naive set_config {naive}"
        );
        assert_eq!(with_tenant, without, "TenantPool costs extra round trips");
        // The counter sees a separate set_config.
        assert_eq!(naive, without + 1);
        assert_eq!(without, 3, "BEGIN, query, COMMIT");
    }

    // A rolled-back (dropped) transaction costs one extra round trip at the next
    // checkout, when the connection is verified; clean ones cost none.
    let tx = pool.begin(&tenant).await.unwrap();
    drop(tx);
    let after_drop = tenant_pool_turns(&pool, &tenant_proxy, &tenant).await;
    let clean = tenant_pool_turns(&pool, &tenant_proxy, &tenant).await;
    eprintln!("round trips after a dropped transaction: {after_drop}, then {clean}");
    assert_eq!(clean, 3);
    assert_eq!(after_drop, clean + 1);
}
