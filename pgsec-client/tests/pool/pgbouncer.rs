//! TenantPool behind PgBouncer in transaction pooling mode: tenants interleave on fewer
//! server connections than the pool has clients, and nothing leaks between them.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pgsec_client::{Config, TenantId, TenantPool};
use pgsec_testkit::pgbouncer::{PgBouncer, PoolMode};
use tokio_postgres::types::Type;

use crate::tenant_database;

const CLIENTS: usize = 6;
const SERVER_CONNECTIONS: u32 = 2;
const TRANSACTIONS: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_interleave_on_fewer_server_connections_without_leaking() {
    let server = pgsec_testkit::shared().await.unwrap();
    let db = tenant_database().await;
    let bouncer = PgBouncer::builder(server)
        .default_pool_size(SERVER_CONNECTIONS)
        .start()
        .await
        .expect("pgbouncer starts (scripts/test.sh installs Debian's pgbouncer)");
    assert_eq!(bouncer.pool_mode(), PoolMode::Transaction);
    let config = Config::parse(&bouncer.conninfo(db.name(), &server.info().app)).unwrap();
    // Debian's pgbouncer 1.18 does not track prepared statements: unnamed ones only.
    let pool = TenantPool::builder(&config)
        .max_size(CLIENTS)
        .pgbouncer_transaction_mode(true)
        .build()
        .await
        .unwrap_or_else(|e| panic!("pool through pgbouncer: {e}\n{}", bouncer.log_tail()));

    // Watch the server side while the transactions run.
    let admin = db.admin_client().await.unwrap();
    let running = Arc::new(AtomicBool::new(true));
    let most_backends = Arc::new(AtomicI64::new(0));
    let watcher = {
        let (running, most) = (Arc::clone(&running), Arc::clone(&most_backends));
        let dbname = db.name().to_owned();
        tokio::spawn(async move {
            while running.load(Ordering::SeqCst) {
                let n: i64 = admin
                    .query_one(
                        "select count(*) from pg_stat_activity \
                         where datname = $1 and usename = $2",
                        &[&dbname, &pgsec_testkit::APP_USER],
                    )
                    .await
                    .unwrap()
                    .get(0);
                most.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let tenants: [TenantId; 2] = ["tenant-a".parse().unwrap(), TenantId::from(7_i64)];
    let tasks: Vec<_> = (0..TRANSACTIONS)
        .map(|i| {
            let pool = pool.clone();
            let tenant = tenants[i % 2].clone();
            tokio::spawn(async move {
                let tx = pool.begin(&tenant).await.map_err(|e| e.to_string())?;
                let me = tenant.as_setting_value();
                // Inside a transaction, named statements stay on one server connection.
                let row = tx
                    .query_one(
                        "select pg_catalog.current_setting('app.current_tenant_id', true), \
                                array(select distinct tenant_id from items), \
                                pg_catalog.pg_sleep(0.02)::text",
                        &[],
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                let setting: Option<String> = row.get(0);
                let visible: Vec<String> = row.get(1);
                if setting.as_deref() != Some(me) || visible.iter().any(|t| t != me) {
                    return Err(format!(
                        "{me} saw setting {setting:?} and rows of {visible:?}"
                    ));
                }
                tx.query_typed(
                    "insert into items (tenant_id, body) values ($1, 'through pgbouncer')",
                    &[(&me, Type::TEXT)],
                )
                .await
                .map_err(|e| e.to_string())?;
                if i % 6 == 5 {
                    drop(tx); // interrupted: must roll back through pgbouncer too
                    return Ok(false);
                }
                tx.commit().await.map_err(|e| e.to_string())?;
                Ok::<bool, String>(true)
            })
        })
        .collect();
    let mut committed = 0;
    for task in tasks {
        let ok = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}\n{}", bouncer.log_tail()));
        committed += usize::from(ok);
    }
    running.store(false, Ordering::SeqCst);
    watcher.await.unwrap();

    let most = most_backends.load(Ordering::SeqCst);
    let clients = pool.status().size;
    eprintln!(
        "{clients} pool connections, at most {most} server connections, {committed} committed"
    );
    assert!(
        most >= 1 && most <= i64::from(SERVER_CONNECTIONS),
        "{most} server connections"
    );
    assert!(
        clients > usize::try_from(most).unwrap(),
        "{clients} pool connections should share {most} server connections"
    );

    // Only committed rows exist, each under its own tenant.
    let counts: Vec<(String, i64)> = db
        .admin_client()
        .await
        .unwrap()
        .query(
            "select tenant_id, count(*) from items group by 1 order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(usize::try_from(total).unwrap(), committed, "{counts:?}");
    assert_eq!(counts.len(), 2, "{counts:?}");

    // No tenant is left on any server session: a new tenant sees nothing, and the
    // unscoped path sees no tenant.
    let fresh: TenantId = "tenant-c".parse().unwrap();
    for _ in 0..CLIENTS {
        let tx = pool.begin(&fresh).await.unwrap();
        let n: i64 = tx
            .query_typed("select count(*) from items", &[])
            .await
            .unwrap()[0]
            .get(0);
        assert_eq!(n, 0, "tenant-c saw rows");
        tx.commit().await.unwrap();
    }
    let unscoped = pool.dangerous_unscoped_connection().await.unwrap();
    let left: Option<String> = unscoped
        .query_typed(
            "select pg_catalog.current_setting('app.current_tenant_id', true)",
            &[],
        )
        .await
        .unwrap()[0]
        .get(0);
    assert!(left.unwrap_or_default().is_empty());
}
