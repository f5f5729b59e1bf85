//! What tenant isolation costs per transaction: one short transaction (a point select
//! and an update of one row of a table with row-level security forced) run six ways,
//! at concurrency 1, 8 and 64, for 1,000 tenants picked at random per transaction,
//! twice: directly over loopback, and through pgsec-testkit's proxy adding 1 ms to
//! every round trip (0.5 ms each way), as a database across a network would.
//!
//! | variant | what a transaction sends |
//! |---|---|
//! | `baseline` | plain deadpool-postgres: `BEGIN`, select, update, `COMMIT`; no tenant (its role's policy is `USING (true)`) |
//! | `tenant_pool` | `TenantPool::begin`: `BEGIN; SET LOCAL <setting> = '<tenant>'` in one simple query; `commit`: the pool's check (`EXECUTE` of a statement prepared per connection), `COMMIT` and the session reset in one simple query |
//! | `naive_set_local` | `BEGIN`, then `SET LOCAL app.current_tenant_id = '…'` as its own round trip; deadpool's `RecyclingMethod::Fast` (leaks session state between tenants) |
//! | `clean_recycling` | `naive_set_local` on deadpool's `RecyclingMethod::Clean`: its reset (`CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES`) runs at every checkout, a round trip of its own |
//! | `set_role` | `BEGIN; SET LOCAL ROLE tenant_NNNN` in one simple query (a role per tenant) |
//! | `pool_per_tenant` | a pool of one connection per tenant, the tenant fixed at connection start (`options=-c app.current_tenant_id=…`); at most 64 connections in all, the least recently used idle pool closed first |
//!
//! Three diagnostic variants, in the summary only, split what `tenant_pool` adds, from
//! a plain deadpool-postgres pool sending TenantPool's statements: `diag_set_local`
//! (`BEGIN; SET LOCAL …` in one message, plain `COMMIT`), `diag_check` (that plus the
//! commit check in `COMMIT`'s message) and `diag_reset` (that plus the session reset in
//! `COMMIT`'s message, no check).
//!
//! Every variant uses the same statements (`query_typed`: no prepare round trip), the
//! same verify-full TLS (pgsec-client's `Config::to_tokio_config` and
//! `make_tls_connect`), the same pool sizes, and one server of its own
//! (pgsec-testkit, hardened, `synchronous_commit = off` so that commit flushes on a
//! shared disk do not drown the differences).
//!
//! Criterion times each variant over loopback (`tenant_switch/VARIANT/CONCURRENCY`,
//! throughput in transactions). Then, under `cargo bench`, the variants run again in
//! interleaved rounds (rotating order, steady-state windows), over loopback and through
//! the proxy, and two tables of tx/s, p50 and p99 with ratios to `baseline` are printed,
//! written to `target/pgsec-bench/tenant_switch{,_1ms}.md` and `.json`, and (full mode)
//! into README.md between the `tenant-switch` markers. Only those same-run ratios are
//! meaningful on a shared machine.
//!
//! `cargo bench -p pgsec-benches --bench tenant_switch` (append `-- --quick`, or set
//! `PGSEC_BENCH_QUICK=1`, for a smoke run). Round trips per transaction are asserted
//! equal for `baseline` and `tenant_pool` by the test
//! `pgsec-client/tests/pool/roundtrips.rs`, not here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, SamplingMode, Throughput};
use deadpool_postgres::{ManagerConfig, RecyclingMethod};
use pgsec_benches::{Comparison, Environment, Goal, RunMode, Samples};
use pgsec_client::{Config, MakeVerifiedTlsConnect, TenantId, TenantPool};
use pgsec_testkit::{Credentials, Proxy, TestDatabase, TestServer, APP_USER};
use rand::Rng as _;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

const TENANTS: usize = 1_000;
const ACCOUNTS_PER_TENANT: i32 = 10;
const CONCURRENCY: [usize; 3] = [1, 8, 64];
/// Shared pools hold `min(concurrency, SHARED_POOL_MAX)` connections: 64 tasks share
/// 16 connections, about what a 2-core server can keep busy.
const SHARED_POOL_MAX: usize = 16;
/// Connections open at once across all of `pool_per_tenant`'s pools.
const PER_TENANT_CONNECTIONS: usize = 64;
const SETTING: &str = "app.current_tenant_id";
const BASELINE_ROLE: &str = "bench_baseline";
const SWITCHER_ROLE: &str = "bench_switcher";
const TENANT_GROUP: &str = "bench_tenants";

/// TenantPool's commit check (pgsec-client `pool/session.rs`), for the diagnostic
/// variants; the session reset is pgsec-client's own `SESSION_RESET_SQL`.
const PREPARE_CHECK_SQL: &str = "PREPARE pgsec_commit_check(pg_catalog.text, pg_catalog.text) AS \
     SELECT 1 operator(pg_catalog./) coalesce(pg_catalog.current_setting($1, true) \
     operator(pg_catalog.=) $2, false)::int, pg_catalog.pg_advisory_unlock_all(), \
     not exists (select from pg_catalog.pg_prepared_statements p where p.from_sql \
     and p.name operator(pg_catalog.<>) 'pgsec_commit_check' \
     and p.name operator(pg_catalog.<>) 'pgsec_clean_check')";
/// Round trip the proxy adds, half each way.
const PROXY_RTT: Duration = Duration::from_millis(1);

const SELECT_SQL: &str = "select balance from accounts where tenant_id = $1 and id = $2";
const UPDATE_SQL: &str =
    "update accounts set balance = balance + 1 where tenant_id = $1 and id = $2 returning balance";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Baseline,
    TenantPool,
    NaiveSetLocal,
    CleanRecycling,
    SetRole,
    PoolPerTenant,
    DiagSetLocal,
    DiagCheck,
    DiagReset,
}

impl Kind {
    const ALL: [Kind; 9] = [
        Kind::Baseline,
        Kind::TenantPool,
        Kind::NaiveSetLocal,
        Kind::CleanRecycling,
        Kind::SetRole,
        Kind::PoolPerTenant,
        Kind::DiagSetLocal,
        Kind::DiagCheck,
        Kind::DiagReset,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Baseline => "baseline",
            Kind::TenantPool => "tenant_pool",
            Kind::NaiveSetLocal => "naive_set_local",
            Kind::CleanRecycling => "clean_recycling",
            Kind::SetRole => "set_role",
            Kind::PoolPerTenant => "pool_per_tenant",
            Kind::DiagSetLocal => "diag_set_local",
            Kind::DiagCheck => "diag_check",
            Kind::DiagReset => "diag_reset",
        }
    }

    /// The parts of what `tenant_pool` adds to `baseline`, measured only in the
    /// summary to explain its cost.
    fn is_diagnostic(self) -> bool {
        matches!(self, Kind::DiagSetLocal | Kind::DiagCheck | Kind::DiagReset)
    }
}

/// Tenant names and the statements derived from them, made once.
struct Tenants {
    names: Vec<String>,
    ids: Vec<TenantId>,
    /// The naive variant splices the value, as such code does; the names are ours.
    set_local: Vec<String>,
    begin_set_role: Vec<String>,
    /// `BEGIN; SET LOCAL …` as TenantPool sends it.
    begin_set_local: Vec<String>,
}

impl Tenants {
    fn new() -> Self {
        let names: Vec<String> = (0..TENANTS).map(|i| format!("tenant_{i:04}")).collect();
        Tenants {
            ids: names
                .iter()
                .map(|n| n.parse().expect("tenant names are valid TenantIds"))
                .collect(),
            set_local: names
                .iter()
                .map(|n| format!("SET LOCAL {SETTING} = '{n}'"))
                .collect(),
            begin_set_role: names
                .iter()
                .map(|n| {
                    let role = pgsec_core::sql::quote_ident(n).expect("tenant names are valid");
                    format!("BEGIN; SET LOCAL ROLE {role}")
                })
                .collect(),
            begin_set_local: names
                .iter()
                .map(|n| format!("BEGIN; SET LOCAL \"app\".\"current_tenant_id\" = '{n}'"))
                .collect(),
            names,
        }
    }
}

/// The bench's own server, database, roles and data.
struct Fixture {
    server: TestServer,
    db: TestDatabase,
    baseline_password: String,
    switcher_password: String,
    tenants: Arc<Tenants>,
    postgres_version: String,
}

fn random_password() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Roles, the tenant table and its policies. Passwords are sent as SCRAM verifiers
/// so that pgaudit's role log never holds them.
fn schema_sql(db: &str, baseline_secret: &str, switcher_secret: &str) -> String {
    let last = TENANTS - 1;
    format!(
        r#"
create role {TENANT_GROUP} nologin;
create role {BASELINE_ROLE} login password '{baseline_secret}';
create role {SWITCHER_ROLE} login noinherit password '{switcher_secret}';
grant connect on database "{db}" to {BASELINE_ROLE}, {SWITCHER_ROLE};
grant usage on schema public to {BASELINE_ROLE}, {TENANT_GROUP};
do $$
declare r text;
begin
  for i in 0..{last} loop
    r := 'tenant_' || lpad(i::text, 4, '0');
    execute format('create role %I nologin in role {TENANT_GROUP}', r);
    execute format('grant %I to {SWITCHER_ROLE}', r);
  end loop;
end $$;
create table accounts (
  tenant_id text not null,
  id int not null,
  balance bigint not null default 0,
  primary key (tenant_id, id)
);
alter table accounts enable row level security;
alter table accounts force row level security;
create policy by_setting on accounts to {APP_USER}
  using (tenant_id = pg_catalog.current_setting('{SETTING}', true))
  with check (tenant_id = pg_catalog.current_setting('{SETTING}', true));
create policy by_role on accounts to {TENANT_GROUP}
  using (tenant_id = current_user) with check (tenant_id = current_user);
create policy baseline_sees_all on accounts to {BASELINE_ROLE} using (true) with check (true);
grant select, update on accounts to {APP_USER}, {TENANT_GROUP}, {BASELINE_ROLE};
insert into accounts (tenant_id, id)
  select 'tenant_' || lpad(t::text, 4, '0'), a
  from generate_series(0, {last}) t, generate_series(0, {accounts}) a;
analyze accounts;
"#,
        accounts = ACCOUNTS_PER_TENANT - 1,
    )
}

impl Fixture {
    async fn start() -> Fixture {
        let server = TestServer::builder()
            .setting("synchronous_commit", "off")
            .start()
            .await
            .expect("pgsec-testkit server (see the README's Benchmarks section)");
        let db = server.fresh_database().await.expect("bench database");
        let admin = db.admin_client().await.expect("admin client");
        let baseline_password = random_password();
        let switcher_password = random_password();
        let secret = |p: &str| postgres_protocol::password::scram_sha_256(p.as_bytes());
        admin
            .batch_execute(&schema_sql(
                db.name(),
                &secret(&baseline_password),
                &secret(&switcher_password),
            ))
            .await
            .expect("bench schema");
        let postgres_version: String = admin
            .query_one("show server_version", &[])
            .await
            .expect("server version")
            .get(0);
        Fixture {
            db,
            server,
            baseline_password,
            switcher_password,
            tenants: Arc::new(Tenants::new()),
            postgres_version,
        }
    }

    /// The roles' verify-full configurations, directly or through `proxy`.
    fn configs(&self, proxy: Option<&Proxy>) -> Configs {
        let conninfo = |user: &str, password: &str| {
            let creds = Credentials::new(user, password);
            match proxy {
                Some(p) => self.server.conninfo_via(p, self.db.name(), &creds),
                None => self.server.conninfo(self.db.name(), &creds),
            }
        };
        let app = match proxy {
            Some(p) => self.db.app_conninfo_via(p),
            None => self.db.app_conninfo(),
        };
        let parse = |c: String| Config::parse(&c).expect("verify-full conninfo");
        Configs {
            app: parse(app),
            baseline: parse(conninfo(BASELINE_ROLE, &self.baseline_password)),
            switcher: parse(conninfo(SWITCHER_ROLE, &self.switcher_password)),
        }
    }
}

/// How each role connects in one measurement (loopback or through the proxy).
struct Configs {
    app: Config,
    baseline: Config,
    switcher: Config,
}

/// A deadpool-postgres pool with exactly the TLS and options TenantPool uses.
fn plain_pool(config: &Config, size: usize) -> deadpool_postgres::Pool {
    pool_with(config, size, RecyclingMethod::Fast, false)
}

/// A deadpool-postgres pool recycling with `method`; `prepare_check`: each new
/// connection prepares TenantPool's commit check, as TenantPool's do.
fn pool_with(
    config: &Config,
    size: usize,
    method: RecyclingMethod,
    prepare_check: bool,
) -> deadpool_postgres::Pool {
    let manager = deadpool_postgres::Manager::from_config(
        config.to_tokio_config().expect("tokio-postgres config"),
        config.make_tls_connect().expect("verify-full TLS"),
        ManagerConfig {
            recycling_method: method,
        },
    );
    let mut builder = deadpool_postgres::Pool::builder(manager).max_size(size);
    if prepare_check {
        builder = builder.post_create(deadpool_postgres::Hook::async_fn(|client, _| {
            Box::pin(async move {
                client
                    .batch_execute(PREPARE_CHECK_SQL)
                    .await
                    .map_err(deadpool_postgres::HookError::Backend)
            })
        }));
    }
    builder.build().expect("deadpool pool")
}

/// `pool_per_tenant`: one pool of one connection per tenant, opened on first use. The
/// semaphore bounds open connections: each pool holds a permit until it is dropped
/// (its connection closes then), and a miss closes the least recently used idle pool
/// when none is left.
struct PerTenantPools {
    pg_config: tokio_postgres::Config,
    tls: MakeVerifiedTlsConnect,
    permits: Arc<Semaphore>,
    cache: Mutex<HashMap<usize, (Arc<TenantPoolEntry>, u64)>>,
    released: Notify,
    clock: AtomicU64,
    opened: AtomicU64,
}

struct TenantPoolEntry {
    pool: deadpool_postgres::Pool,
    _permit: OwnedSemaphorePermit,
}

impl PerTenantPools {
    fn new(config: &Config) -> Self {
        PerTenantPools {
            pg_config: config.to_tokio_config().expect("tokio-postgres config"),
            tls: config.make_tls_connect().expect("verify-full TLS"),
            permits: Arc::new(Semaphore::new(PER_TENANT_CONNECTIONS)),
            cache: Mutex::new(HashMap::new()),
            released: Notify::new(),
            clock: AtomicU64::new(0),
            opened: AtomicU64::new(0),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<usize, (Arc<TenantPoolEntry>, u64)>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lookup(&self, tenant: usize, tick: u64) -> Option<Arc<TenantPoolEntry>> {
        let mut cache = self.cache();
        let (entry, used) = cache.get_mut(&tenant)?;
        *used = tick;
        Some(Arc::clone(entry))
    }

    /// Removes the least recently used pool that no transaction holds.
    fn evict_idle(&self) -> Option<Arc<TenantPoolEntry>> {
        let mut cache = self.cache();
        let oldest = cache
            .iter()
            .filter(|(_, (entry, _))| Arc::strong_count(entry) == 1)
            .min_by_key(|(_, (_, used))| *used)
            .map(|(&tenant, _)| tenant)?;
        cache.remove(&oldest).map(|(entry, _)| entry)
    }

    async fn get(&self, tenant: usize, name: &str) -> Arc<TenantPoolEntry> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        if let Some(hit) = self.lookup(tenant, tick) {
            return hit;
        }
        let permit = loop {
            if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
                break permit;
            }
            if let Some(evicted) = self.evict_idle() {
                drop(evicted); // closes its connection and frees its permit
                continue;
            }
            // Every pool is in use: wait for a transaction to end (bounded, in case the
            // wake-up went to another waiter).
            let _ = tokio::time::timeout(Duration::from_millis(2), self.released.notified()).await;
        };
        let mut cache = self.cache();
        if let Some((entry, used)) = cache.get_mut(&tenant) {
            // Another task opened it meanwhile; the permit goes back.
            *used = tick;
            return Arc::clone(entry);
        }
        let mut pg_config = self.pg_config.clone();
        pg_config.options(format!("-c {SETTING}={name}"));
        let manager = deadpool_postgres::Manager::from_config(
            pg_config,
            self.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(1)
            .build()
            .expect("per-tenant pool");
        let entry = Arc::new(TenantPoolEntry {
            pool,
            _permit: permit,
        });
        cache.insert(tenant, (Arc::clone(&entry), tick));
        self.opened.fetch_add(1, Ordering::Relaxed);
        entry
    }

    fn release(&self, entry: Arc<TenantPoolEntry>) {
        drop(entry);
        self.released.notify_one();
    }

    fn close(&self) {
        self.cache().clear();
    }
}

enum Runner {
    Plain(deadpool_postgres::Pool),
    Tenant(TenantPool),
    Naive(deadpool_postgres::Pool),
    SetRole(deadpool_postgres::Pool),
    PerTenant(Box<PerTenantPools>),
    Diag {
        pool: deadpool_postgres::Pool,
        check: bool,
        reset: bool,
    },
}

struct Variant {
    kind: Kind,
    runner: Runner,
    tenants: Arc<Tenants>,
}

/// Rows returned by the select and by the update.
type Seen = (usize, usize);

fn rows(result: Result<Vec<Row>, tokio_postgres::Error>, what: &str) -> usize {
    result.unwrap_or_else(|e| panic!("{what}: {e}")).len()
}

impl Variant {
    async fn build(
        kind: Kind,
        configs: &Configs,
        tenants: &Arc<Tenants>,
        concurrency: usize,
    ) -> Variant {
        let size = concurrency.min(SHARED_POOL_MAX);
        let diag = |check, reset| Runner::Diag {
            pool: pool_with(&configs.app, size, RecyclingMethod::Fast, check),
            check,
            reset,
        };
        let runner = match kind {
            Kind::Baseline => Runner::Plain(plain_pool(&configs.baseline, size)),
            Kind::TenantPool => Runner::Tenant(
                TenantPool::builder(&configs.app)
                    .max_size(size)
                    .build()
                    .await
                    .expect("TenantPool (start-up guard on)"),
            ),
            Kind::NaiveSetLocal => Runner::Naive(plain_pool(&configs.app, size)),
            Kind::CleanRecycling => {
                Runner::Naive(pool_with(&configs.app, size, RecyclingMethod::Clean, false))
            }
            Kind::SetRole => Runner::SetRole(plain_pool(&configs.switcher, size)),
            Kind::PoolPerTenant => Runner::PerTenant(Box::new(PerTenantPools::new(&configs.app))),
            Kind::DiagSetLocal => diag(false, false),
            Kind::DiagCheck => diag(true, false),
            Kind::DiagReset => diag(false, true),
        };
        Variant {
            kind,
            runner,
            tenants: Arc::clone(tenants),
        }
    }

    /// One transaction as `tenant`, reading and updating `row_tenant`'s account
    /// (the same tenant except in the isolation check).
    async fn transaction(&self, tenant: usize, row_tenant: usize, account: i32) -> Seen {
        let t = &*self.tenants;
        let row_name = t.names[row_tenant].as_str();
        let params: [(&(dyn ToSql + Sync), Type); 2] =
            [(&row_name, Type::TEXT), (&account, Type::INT4)];
        match &self.runner {
            Runner::Plain(pool) => {
                let mut client = pool.get().await.expect("checkout");
                let tx = client.transaction().await.expect("BEGIN");
                let seen = (
                    rows(tx.query_typed(SELECT_SQL, &params).await, "select"),
                    rows(tx.query_typed(UPDATE_SQL, &params).await, "update"),
                );
                tx.commit().await.expect("COMMIT");
                seen
            }
            Runner::Tenant(pool) => {
                let tx = pool.begin(&t.ids[tenant]).await.expect("TenantPool::begin");
                let seen = (
                    rows(tx.query_typed(SELECT_SQL, &params).await, "select"),
                    rows(tx.query_typed(UPDATE_SQL, &params).await, "update"),
                );
                tx.commit().await.expect("TenantTx::commit");
                seen
            }
            Runner::Naive(pool) => {
                let mut client = pool.get().await.expect("checkout");
                let tx = client.transaction().await.expect("BEGIN");
                tx.batch_execute(&t.set_local[tenant])
                    .await
                    .expect("SET LOCAL");
                let seen = (
                    rows(tx.query_typed(SELECT_SQL, &params).await, "select"),
                    rows(tx.query_typed(UPDATE_SQL, &params).await, "update"),
                );
                tx.commit().await.expect("COMMIT");
                seen
            }
            Runner::SetRole(pool) => {
                let client = pool.get().await.expect("checkout");
                client
                    .batch_execute(&t.begin_set_role[tenant])
                    .await
                    .expect("BEGIN; SET LOCAL ROLE");
                let seen = (
                    rows(client.query_typed(SELECT_SQL, &params).await, "select"),
                    rows(client.query_typed(UPDATE_SQL, &params).await, "update"),
                );
                client.batch_execute("COMMIT").await.expect("COMMIT");
                seen
            }
            Runner::PerTenant(pools) => {
                let entry = pools.get(tenant, &t.names[tenant]).await;
                let seen = {
                    let mut client = entry.pool.get().await.expect("per-tenant connection");
                    let tx = client.transaction().await.expect("BEGIN");
                    let seen = (
                        rows(tx.query_typed(SELECT_SQL, &params).await, "select"),
                        rows(tx.query_typed(UPDATE_SQL, &params).await, "update"),
                    );
                    tx.commit().await.expect("COMMIT");
                    seen
                };
                pools.release(entry);
                seen
            }
            Runner::Diag { pool, check, reset } => {
                // TenantPool's statement stream without TenantPool: BEGIN with the
                // tenant in one message; COMMIT with or without the check before it
                // and the reset after it, in one message.
                let client = pool.get().await.expect("checkout");
                client
                    .batch_execute(&t.begin_set_local[tenant])
                    .await
                    .expect("BEGIN; SET LOCAL");
                let seen = (
                    rows(client.query_typed(SELECT_SQL, &params).await, "select"),
                    rows(client.query_typed(UPDATE_SQL, &params).await, "update"),
                );
                let mut commit = String::new();
                if *check {
                    commit.push_str(&format!(
                        "EXECUTE pgsec_commit_check('{SETTING}', '{}'); ",
                        t.names[tenant]
                    ));
                }
                commit.push_str("COMMIT");
                if *reset {
                    commit.push_str("; ");
                    commit.push_str(pgsec_client::SESSION_RESET_SQL);
                }
                client.batch_execute(&commit).await.expect("COMMIT");
                seen
            }
        }
    }

    /// One transaction for a random tenant's random account; its row must be visible.
    async fn random_transaction(&self) {
        let (tenant, account) = {
            let mut rng = rand::rng();
            (
                rng.random_range(0..TENANTS),
                rng.random_range(0..ACCOUNTS_PER_TENANT),
            )
        };
        let seen = self.transaction(tenant, tenant, account).await;
        assert_eq!(seen, (1, 1), "{}: the tenant's own row", self.kind.name());
    }

    fn close(&self) {
        match &self.runner {
            Runner::Plain(p)
            | Runner::Naive(p)
            | Runner::SetRole(p)
            | Runner::Diag { pool: p, .. } => p.close(),
            Runner::Tenant(p) => p.close(),
            Runner::PerTenant(p) => p.close(),
        }
    }
}

/// `total` transactions on `concurrency` tasks that take the next one as they finish;
/// returns the wall time.
async fn run_count(variant: Arc<Variant>, concurrency: usize, total: u64) -> Duration {
    let remaining = Arc::new(AtomicU64::new(total));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let variant = Arc::clone(&variant);
            let remaining = Arc::clone(&remaining);
            tokio::spawn(async move {
                while remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    variant.random_transaction().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("bench task");
    }
    start.elapsed()
}

/// `concurrency` tasks in a closed loop. The window opens once every task has
/// finished a transaction and at least `ramp` has passed (new connections, a cold
/// per-tenant cache); transactions completing inside it are recorded.
async fn run_window(
    variant: &Arc<Variant>,
    concurrency: usize,
    ramp: Duration,
    window: Duration,
) -> Samples {
    let earliest = Instant::now() + ramp;
    let warmed = Arc::new(AtomicUsize::new(0));
    let opens: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let variant = Arc::clone(variant);
            let warmed = Arc::clone(&warmed);
            let opens = Arc::clone(&opens);
            tokio::spawn(async move {
                let mut samples = Samples::new();
                let mut first = true;
                loop {
                    let began = Instant::now();
                    variant.random_transaction().await;
                    let ended = Instant::now();
                    if first {
                        first = false;
                        if warmed.fetch_add(1, Ordering::AcqRel) + 1 == concurrency {
                            let _ = opens.set(ended.max(earliest));
                        }
                        continue;
                    }
                    let Some(&from) = opens.get() else { continue };
                    if ended > from + window {
                        break samples;
                    }
                    if ended >= from {
                        samples.record(ended - began);
                    }
                }
            })
        })
        .collect();
    let mut all = Samples::new();
    for task in tasks {
        all.merge(task.await.expect("bench task"));
    }
    all.add_window(window);
    all
}

/// Every tenant-scoped variant sees its own row and not another tenant's.
async fn check_isolation(variants: &[Arc<Variant>]) {
    for v in variants {
        let own = v.transaction(7, 7, 3).await;
        assert_eq!(own, (1, 1), "{}: own row", v.kind.name());
        let other = v.transaction(7, 8, 3).await;
        let sees_all = v.kind == Kind::Baseline;
        let expected = if sees_all { (1, 1) } else { (0, 0) };
        assert_eq!(other, expected, "{}: another tenant's row", v.kind.name());
    }
}

fn ratio(
    c: &Comparison,
    concurrency: usize,
    variant: Kind,
    pick: fn(&pgsec_benches::ComparisonRow) -> Option<f64>,
) -> Option<f64> {
    c.row(concurrency, variant.name()).as_ref().and_then(pick)
}

/// Where the client reaches the server in one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    Loopback,
    /// Through pgsec-testkit's proxy, [`PROXY_RTT`] added to every round trip.
    Proxy,
}

impl Network {
    fn file_name(self) -> &'static str {
        match self {
            Network::Loopback => "tenant_switch",
            Network::Proxy => "tenant_switch_1ms",
        }
    }
}

/// Settings shared by the measurements of one run.
struct Run<'a> {
    rt: &'a tokio::runtime::Runtime,
    fixture: &'a Fixture,
    mode: RunMode,
    environment: Environment,
    current_thread: bool,
}

impl Run<'_> {
    /// Every variant at every concurrency over `network`; criterion's own timing only
    /// over loopback.
    fn measure(&self, network: Network, criterion: &mut criterion::Criterion) -> Comparison {
        let (rt, mode) = (self.rt, self.mode);
        let proxy = match network {
            Network::Loopback => None,
            Network::Proxy => Some(rt.block_on(async {
                Proxy::builder(self.fixture.server.info().addr())
                    .latency(PROXY_RTT / 2)
                    .start()
                    .await
                    .expect("pgsec-testkit proxy")
            })),
        };
        let configs = self.fixture.configs(proxy.as_ref());
        let where_ = match network {
            Network::Loopback => "loopback".to_owned(),
            Network::Proxy => format!(
                "through pgsec-testkit's proxy adding {} ms per round trip",
                PROXY_RTT.as_secs_f64() * 1e3
            ),
        };
        let mut comparison = Comparison::new(
            format!(
                "Tenant switching ({where_}): one transaction (point select + update, RLS forced), {TENANTS} tenants at random"
            ),
            Kind::Baseline.name(),
            self.environment.clone(),
        );
        // Many short rounds spread the machine's noise over every variant alike.
        let rounds = mode.pick(3, 20);
        let ramp = mode.pick(Duration::from_millis(30), Duration::from_millis(50));
        let window = mode.pick(Duration::from_millis(150), Duration::from_millis(250));
        comparison.add_note(format!(
            "client: tokio {} runtime",
            if self.current_thread {
                "current-thread"
            } else {
                "multi-thread (one worker per CPU)"
            }
        ));
        comparison.add_note(format!(
            "every variant: verify-full TLS (pgsec-client `Config` → deadpool-postgres), `query_typed` \
             statements, {SHARED_POOL_MAX}-connection cap on shared pools (pool size = min(concurrency, \
             {SHARED_POOL_MAX})); `pool_per_tenant`: pools of 1 connection opened on first use, at most \
             {PER_TENANT_CONNECTIONS} connections in all, least recently used idle pool closed first"
        ));
        comparison.add_note(format!(
            "server: pgsec-testkit hardened (TLS, SCRAM, pgaudit when installed), `synchronous_commit = off`; \
             network: {where_}; measured in {rounds} interleaved rounds per concurrency (rotating variant \
             order, {} ms windows opened once every task finished a transaction and {} ms passed){}",
            window.as_millis(),
            ramp.as_millis(),
            if network == Network::Loopback { ", after criterion's own runs" } else { "" }
        ));

        for (level, &concurrency) in CONCURRENCY.iter().enumerate() {
            let variants: Vec<Arc<Variant>> = rt.block_on(async {
                let mut built = Vec::new();
                for kind in Kind::ALL {
                    built.push(Arc::new(
                        Variant::build(kind, &configs, &self.fixture.tenants, concurrency).await,
                    ));
                }
                if level == 0 {
                    check_isolation(&built).await;
                }
                // Open the connections before anything is timed.
                for v in &built {
                    run_count(Arc::clone(v), concurrency, (4 * concurrency) as u64).await;
                }
                built
            });

            if network == Network::Loopback {
                let mut group = criterion.benchmark_group("tenant_switch");
                // One iteration = one transaction per task, so every task stays busy.
                group
                    .throughput(Throughput::Elements(concurrency as u64))
                    .sampling_mode(SamplingMode::Flat)
                    .sample_size(mode.pick(10, 20));
                for v in variants.iter().filter(|v| !v.kind.is_diagnostic()) {
                    if v.kind == Kind::PoolPerTenant {
                        // A connection per transaction: criterion's fewest samples are enough.
                        group.sample_size(10);
                    }
                    group.bench_function(BenchmarkId::new(v.kind.name(), concurrency), |b| {
                        b.to_async(rt).iter_custom(|iters| {
                            run_count(Arc::clone(v), concurrency, iters * concurrency as u64)
                        });
                    });
                }
                group.finish();
            }

            if mode.measuring {
                rt.block_on(async {
                    for round in 0..rounds {
                        for i in 0..variants.len() {
                            let v = &variants[(i + round) % variants.len()];
                            let samples = run_window(v, concurrency, ramp, window).await;
                            comparison.add(concurrency, v.kind.name(), samples);
                        }
                    }
                });
                if let Some(Runner::PerTenant(p)) = variants
                    .iter()
                    .map(|v| &v.runner)
                    .find(|r| matches!(r, Runner::PerTenant(_)))
                {
                    comparison.add_note(format!(
                        "`pool_per_tenant` at concurrency {concurrency}: {} pools (connections) opened",
                        p.opened.load(Ordering::Relaxed)
                    ));
                }
            }
            for v in &variants {
                v.close();
            }
        }
        if let Some(proxy) = proxy {
            rt.block_on(proxy.close());
        }
        if mode.measuring {
            add_goals(&mut comparison, network);
        }
        comparison
    }
}

/// The goals of issue 18 for `network`.
fn add_goals(comparison: &mut Comparison, network: Network) {
    let (p50_limit, tps_limit) = match network {
        Network::Loopback => (1.10, 0.90),
        Network::Proxy => (1.03, 0.95),
    };
    let p50 = |c: &Comparison, at, kind| ratio(c, at, kind, |r| r.p50_ratio);
    let goal_p50 = p50(comparison, 1, Kind::TenantPool);
    let goal_tps = ratio(comparison, 64, Kind::TenantPool, |r| r.tps_ratio);
    comparison.add_goal(Goal::at_most(
        "tenant_pool p50 ÷ baseline p50 at concurrency 1",
        goal_p50,
        p50_limit,
    ));
    comparison.add_goal(Goal::at_least(
        "tenant_pool tx/s ÷ baseline tx/s at concurrency 64",
        goal_tps,
        tps_limit,
    ));
    // tenant_pool at or below each alternative in every p50 cell: the worst cell of the
    // ratio tenant_pool p50 ÷ alternative p50 must not exceed 1.
    for other in [Kind::NaiveSetLocal, Kind::SetRole, Kind::CleanRecycling] {
        let worst = CONCURRENCY
            .iter()
            .map(|&c| {
                let ours = comparison.row(c, Kind::TenantPool.name())?.p50_ms;
                let theirs = comparison.row(c, other.name())?.p50_ms;
                (theirs > 0.0).then(|| ours / theirs)
            })
            .try_fold(0.0_f64, |acc, r| r.map(|r| acc.max(r)));
        comparison.add_goal(Goal::at_most(
            format!(
                "tenant_pool p50 ÷ {} p50, worst of concurrency 1, 8, 64",
                other.name()
            ),
            worst,
            1.0,
        ));
    }
    comparison.add_note(
        "round trips per transaction: equal for baseline and tenant_pool, asserted by \
         pgsec-client/tests/pool/roundtrips.rs",
    );
}

/// Puts the two tables into README.md between the `tenant-switch` markers.
fn write_readme(tables: &[(Network, &Comparison)]) -> std::io::Result<std::path::PathBuf> {
    const BEGIN: &str = "<!-- tenant-switch:begin -->";
    const END: &str = "<!-- tenant-switch:end -->";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&path)?;
    let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
        return Err(std::io::Error::other(
            "README.md has no tenant-switch markers",
        ));
    };
    let mut body = String::new();
    for (network, c) in tables {
        let heading = match network {
            Network::Loopback => "Loopback (client and server on this machine)".to_owned(),
            Network::Proxy => format!(
                "Through pgsec-testkit's latency proxy: {} ms added to every round trip",
                PROXY_RTT.as_secs_f64() * 1e3
            ),
        };
        body.push_str(&format!("\n**{heading}.** "));
        body.push_str(
            "The `baseline` row gives absolute numbers, the others ratios to it from the \
             same run; columns per concurrency (1, 8, 64 tasks). tx/s ratios: higher is \
             better; latency ratios: lower is better.\n\n",
        );
        body.push_str(&c.to_compact_markdown());
    }
    if let Some((_, c)) = tables.first() {
        let env = c.environment();
        body.push_str(&format!(
            "\nMachine: {} CPU(s), {}; PostgreSQL {} ({} backend); {} mode; `{}`.\n",
            env.cpus, env.cpu_model, env.postgres, env.backend, env.mode, env.command
        ));
    }
    let out = format!("{}{BEGIN}\n{body}{}", &text[..a], &text[b..]);
    std::fs::write(&path, out)?;
    Ok(path)
}

fn main() {
    let mode = RunMode::from_process();
    let mut criterion = pgsec_benches::criterion(mode);
    // A multi-threaded runtime, as services use; PGSEC_BENCH_CURRENT_THREAD=1 runs
    // everything on one thread, where pipelined requests always leave in one write.
    let current_thread = std::env::var("PGSEC_BENCH_CURRENT_THREAD").is_ok_and(|v| v == "1");
    let rt = if current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()
    .expect("tokio runtime");
    let fixture = rt.block_on(Fixture::start());

    let command = format!(
        "cargo bench -p pgsec-benches --bench tenant_switch{}",
        if mode.quick { " -- --quick" } else { "" }
    );
    let backend = format!("{:?}", fixture.server.backend()).to_lowercase();
    let environment =
        Environment::of_this_machine(&fixture.postgres_version, &backend, mode.quick, &command);
    let run = Run {
        rt: &rt,
        fixture: &fixture,
        mode,
        environment,
        current_thread,
    };
    let loopback = run.measure(Network::Loopback, &mut criterion);
    let proxied = run.measure(Network::Proxy, &mut criterion);

    if mode.measuring {
        for (network, comparison) in [(Network::Loopback, &loopback), (Network::Proxy, &proxied)] {
            println!("\n{}", comparison.to_markdown());
            match comparison.write(&pgsec_benches::output_dir(), network.file_name()) {
                Ok((md, json)) => println!("written: {} and {}", md.display(), json.display()),
                Err(e) => eprintln!("could not write the summary: {e}"),
            }
        }
        if mode.quick {
            println!("quick mode: README.md left as it is (run without --quick to update it)");
        } else {
            match write_readme(&[(Network::Loopback, &loopback), (Network::Proxy, &proxied)]) {
                Ok(path) => println!("written: {}", path.display()),
                Err(e) => eprintln!("could not update README.md: {e}"),
            }
        }
    }
    drop(run);
    rt.block_on(async move { drop(fixture) });
    criterion.final_summary();
}
