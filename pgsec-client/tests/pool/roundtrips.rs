//! `begin` costs no round trip more than a plain `BEGIN`: counted on the wire.
//!
//! A TCP proxy on 127.0.0.1 forwards bytes between the pool and the server and counts
//! turns: each time the client sends after the server last spoke, that is one round
//! trip. TLS hides the messages but not the turns.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use deadpool_postgres::{ManagerConfig, RecyclingMethod};
use pgsec_client::{Config, TenantId, TenantPool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_postgres::types::Type;

use crate::tenant_database;

#[derive(Default)]
struct Turns {
    count: AtomicU64,
    client_spoke_last: AtomicBool,
}

impl Turns {
    fn client_sent(&self) {
        if !self.client_spoke_last.swap(true, Ordering::SeqCst) {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn server_sent(&self) {
        self.client_spoke_last.store(false, Ordering::SeqCst);
    }
    fn get(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}

/// Starts the counting proxy in front of `upstream`; returns its port.
async fn counting_proxy(upstream: SocketAddr, turns: Arc<Turns>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(upstream).await.unwrap();
            let (mut client_rd, mut client_wr) = client.into_split();
            let (mut server_rd, mut server_wr) = server.into_split();
            let up = Arc::clone(&turns);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = client_rd.read(&mut buf).await {
                    if n == 0 || server_wr.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    up.client_sent();
                }
            });
            let down = Arc::clone(&turns);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = server_rd.read(&mut buf).await {
                    down.server_sent();
                    if n == 0 || client_wr.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

const QUERY: &str = "select pg_catalog.current_setting('app.current_tenant_id', true)";

/// Round trips of one TenantPool transaction (begin, one query, commit).
async fn tenant_pool_turns(pool: &TenantPool, turns: &Turns, tenant: &TenantId) -> u64 {
    let before = turns.get();
    let tx = pool.begin(tenant).await.unwrap();
    let rows = tx.query_typed(QUERY, &[]).await.unwrap();
    assert_eq!(
        rows[0].get::<_, Option<String>>(0).as_deref(),
        Some(tenant.as_setting_value())
    );
    tx.commit().await.unwrap();
    turns.get() - before
}

/// Round trips of the same transaction on a plain deadpool-postgres pool, without a
/// tenant, optionally with a separate `set_config` round trip (the naive way).
async fn plain_pool_turns(
    pool: &deadpool_postgres::Pool,
    turns: &Turns,
    naive_tenant: Option<&str>,
) -> u64 {
    let mut client = pool.get().await.unwrap();
    let before = turns.get();
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
    turns.get() - before
}

// current_thread runtime (the default): nothing runs between the two sends of a
// pipelined pair, so the count cannot depend on scheduling.
#[tokio::test]
async fn begin_with_tenant_costs_the_round_trips_of_a_plain_transaction() {
    let db = tenant_database().await;
    let info = db.info().clone();
    let upstream = SocketAddr::new(info.hostaddr, info.port);

    let tenant_turns = Arc::new(Turns::default());
    let tenant_port = counting_proxy(upstream, Arc::clone(&tenant_turns)).await;
    let through = |port: u16| {
        let conninfo = db
            .app_conninfo()
            .replace(&format!("port={}", info.port), &format!("port={port}"));
        Config::parse(&conninfo).unwrap()
    };
    let config = through(tenant_port);
    let pool = TenantPool::builder(&config)
        .max_size(1)
        .build()
        .await
        .unwrap();

    let plain_turns = Arc::new(Turns::default());
    let plain_port = counting_proxy(upstream, Arc::clone(&plain_turns)).await;
    let config = through(plain_port);
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
    tenant_pool_turns(&pool, &tenant_turns, &tenant).await;
    plain_pool_turns(&plain, &plain_turns, None).await;

    for _ in 0..5 {
        let with_tenant = tenant_pool_turns(&pool, &tenant_turns, &tenant).await;
        let without = plain_pool_turns(&plain, &plain_turns, None).await;
        let naive = plain_pool_turns(&plain, &plain_turns, Some("acme")).await;
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
    let after_drop = tenant_pool_turns(&pool, &tenant_turns, &tenant).await;
    let clean = tenant_pool_turns(&pool, &tenant_turns, &tenant).await;
    eprintln!("round trips after a dropped transaction: {after_drop}, then {clean}");
    assert_eq!(clean, 3);
    assert_eq!(after_drop, clean + 1);
}
