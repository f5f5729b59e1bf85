//! The ledger table, pools through the proxy, the ledger of outcomes and the checks
//! every fault test ends with.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pgsec_client::{Config, Error, TenantId, TenantPool, TenantPoolBuilder, TenantTx};
use pgsec_testkit::{Proxy, TenantSchema, TestDatabase, APP_USER};
use tokio_postgres::types::Type;

/// A fresh `begin`/`commit` must succeed this soon after a fault ends.
pub(crate) const RECOVERY: Duration = Duration::from_secs(10);
/// Bound on a single call the test expects to finish (the proxy is clean).
pub(crate) const PROMPT: Duration = Duration::from_secs(5);

/// A fresh database with the ledger table.
pub(crate) async fn ledger_database() -> TestDatabase {
    let server = pgsec_testkit::shared().await.expect("test server");
    ledger_database_on(server).await
}

/// A fresh database on `server` (a server of the test's own) with `ledger`: one row per
/// transaction, keyed by a unique `uid`, the tenant taken from the setting (default),
/// and the tenant the writer believed it had. RLS enabled and forced; owned by the
/// superuser; the application role may only read and insert.
pub(crate) async fn ledger_database_on(server: &pgsec_testkit::TestServer) -> TestDatabase {
    let db = server.fresh_database().await.expect("fresh database");
    TenantSchema::new("ledger")
        .column("uid", "bigint not null")
        .column("writer", "text not null")
        .privileges(&["select", "insert"])
        .apply(&db)
        .await
        .expect("ledger schema");
    db
}

/// Sets a parameter for the application role in `db` only (new sessions get it).
pub(crate) async fn set_for_app_role(db: &TestDatabase, name: &str, value: &str) {
    // Names and values are the tests' own constants.
    db.admin_client()
        .await
        .unwrap()
        .batch_execute(&format!(
            "alter role {APP_USER} in database \"{}\" set {name} = '{value}'",
            db.name()
        ))
        .await
        .unwrap();
}

/// A proxy in front of the test server.
pub(crate) async fn proxy_for(db: &TestDatabase) -> Proxy {
    Proxy::start(db.info().addr()).await.expect("proxy starts")
}

/// A pool builder for the application role, through `proxy`, with every pool timeout
/// set so that a fault never makes a checkout wait without bound.
pub(crate) fn pool_via(db: &TestDatabase, proxy: &Proxy) -> TenantPoolBuilder {
    bounded(TenantPool::builder(
        &Config::parse(&db.app_conninfo_via(proxy)).expect("conninfo parses"),
    ))
}

/// A pool builder for the application role, straight to the server.
pub(crate) fn direct_pool(db: &TestDatabase) -> TenantPoolBuilder {
    bounded(TenantPool::builder(
        &Config::parse(&db.app_conninfo()).expect("conninfo parses"),
    ))
}

fn bounded(builder: TenantPoolBuilder) -> TenantPoolBuilder {
    builder
        .create_timeout(Duration::from_secs(2))
        .recycle_timeout(Duration::from_secs(2))
        .wait_timeout(Duration::from_secs(5))
}

/// Tenant number `i`.
pub(crate) fn tenant(i: usize) -> TenantId {
    format!("tenant-{i}").parse().unwrap()
}

/// Inside `tx`: the tenant setting is the transaction's, every visible row is the
/// tenant's own and no earlier write is part of the transaction (a violation panics: it
/// must never happen, fault or not); then writes the ledger row `uid`. Call it first in
/// a transaction.
pub(crate) async fn write(tx: &TenantTx, uid: i64) -> Result<(), tokio_postgres::Error> {
    let me = tx.tenant().as_setting_value();
    let row = tx
        .query_typed(
            "select pg_catalog.current_setting('app.current_tenant_id', true), \
                    coalesce(array(select distinct tenant_id from ledger), '{}'), \
                    pg_catalog.pg_current_xact_id_if_assigned() is not null",
            &[],
        )
        .await?;
    let setting: Option<String> = row[0].get(0);
    let visible: Vec<String> = row[0].get(1);
    let inherited_write: bool = row[0].get(2);
    assert_eq!(
        setting.as_deref(),
        Some(me),
        "a statement ran with another tenant's setting"
    );
    assert!(
        !inherited_write,
        "the transaction inherited an earlier transaction's write"
    );
    assert!(
        visible.iter().all(|t| t == me),
        "{me} saw rows of {visible:?}"
    );
    tx.query_typed(
        "insert into ledger (uid, writer) values ($1, $2)",
        &[(&uid, Type::INT8), (&me, Type::TEXT)],
    )
    .await?;
    Ok(())
}

/// What a transaction's caller was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `commit()` returned `Ok`.
    Committed,
    /// An error that says nothing was committed.
    NotCommitted,
    /// `commit()` said the outcome is unknown, or the caller gave up while it ran.
    Unknown,
}

/// Every transaction attempted, by `uid`: its tenant and what its caller was told.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    entries: Mutex<HashMap<i64, (String, Outcome)>>,
}

/// How the rows in the database compare with the ledger.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Audit {
    /// Rows in the database.
    pub(crate) rows: usize,
    /// Acknowledged (`Ok`) transactions whose row is missing.
    pub(crate) lost: usize,
    /// Rows present more than once.
    pub(crate) duplicated: usize,
    /// Rows whose tenant is not the writer's, or not the ledger's.
    pub(crate) wrong_tenant: usize,
    /// Rows of transactions whose caller was told nothing was committed, or that no
    /// transaction wrote.
    pub(crate) phantom: usize,
    /// Outcome-unknown transactions whose row is present.
    pub(crate) unknown_present: usize,
    /// Outcome-unknown transactions whose row is absent.
    pub(crate) unknown_absent: usize,
}

impl Audit {
    /// Violations of the pool's promises (must be 0).
    pub(crate) fn violations(&self) -> usize {
        self.lost + self.duplicated + self.wrong_tenant + self.phantom
    }
}

impl Ledger {
    /// Records what the caller of transaction `uid` (tenant `tenant`) was told.
    pub(crate) fn record(&self, uid: i64, tenant: &TenantId, outcome: Outcome) {
        let previous = self
            .entries
            .lock()
            .unwrap()
            .insert(uid, (tenant.as_setting_value().to_owned(), outcome));
        assert!(previous.is_none(), "uid {uid} used twice");
    }

    /// Records `result` of a transaction whose commit was or was not reached.
    pub(crate) fn record_result(&self, uid: i64, tenant: &TenantId, result: &Result<(), Error>) {
        let outcome = match result {
            Ok(()) => Outcome::Committed,
            Err(e) if e.commit_outcome_unknown() => Outcome::Unknown,
            Err(_) => Outcome::NotCommitted,
        };
        self.record(uid, tenant, outcome);
    }

    /// Compares the ledger with the rows the superuser sees.
    pub(crate) async fn audit(&self, db: &TestDatabase) -> Audit {
        let rows = db
            .admin_client()
            .await
            .unwrap()
            .query("select uid, tenant_id, writer from ledger", &[])
            .await
            .unwrap();
        let entries = self.entries.lock().unwrap();
        let mut audit = Audit {
            rows: rows.len(),
            ..Audit::default()
        };
        let mut seen: HashMap<i64, usize> = HashMap::new();
        for row in &rows {
            let (uid, tenant, writer): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
            *seen.entry(uid).or_default() += 1;
            match entries.get(&uid) {
                None | Some((_, Outcome::NotCommitted)) => {
                    eprintln!("phantom row {uid} ({tenant}): {:?}", entries.get(&uid));
                    audit.phantom += 1;
                }
                Some((expected, _)) if *expected != tenant || writer != tenant => {
                    eprintln!("row {uid}: tenant {tenant}, writer {writer}, ledger {expected}");
                    audit.wrong_tenant += 1;
                }
                Some(_) => {}
            }
        }
        audit.duplicated = seen.values().filter(|&&n| n > 1).count();
        for (uid, (_, outcome)) in entries.iter() {
            let present = seen.contains_key(uid);
            match outcome {
                Outcome::Committed if !present => {
                    eprintln!("acknowledged commit {uid} is lost");
                    audit.lost += 1;
                }
                Outcome::Unknown if present => audit.unknown_present += 1,
                Outcome::Unknown => audit.unknown_absent += 1,
                _ => {}
            }
        }
        audit
    }

    /// The uids whose rows are in the database.
    pub(crate) async fn present(db: &TestDatabase) -> std::collections::HashSet<i64> {
        db.admin_client()
            .await
            .unwrap()
            .query("select uid from ledger", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Audits and asserts that no promise was broken.
    pub(crate) async fn assert_kept(&self, db: &TestDatabase) -> Audit {
        let audit = self.audit(db).await;
        assert_eq!(audit.violations(), 0, "{audit:?}");
        audit
    }
}

/// Awaits `fut`, failing the test when it takes longer than `limit`.
pub(crate) async fn within<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
}

/// One transaction for `tenant` writing `uid`: `Ok` once committed.
pub(crate) async fn transaction(
    pool: &TenantPool,
    tenant: &TenantId,
    uid: i64,
) -> Result<(), Error> {
    let tx = pool.begin(tenant).await?;
    // A statement error inside the transaction: nothing was committed.
    if let Err(e) = write(&tx, uid).await {
        assert!(pgsec_client::is_transient(&e), "not transient: {e:?}");
        return Err(Error::Query(e));
    }
    tx.commit().await
}

/// After a fault has ended: transactions succeed again within [`RECOVERY`], and until
/// then every failure says it is retry-safe (or, at commit, outcome unknown). Uses
/// uids from `next_uid` and records them. Returns the failures seen on the way.
pub(crate) async fn recover(pool: &TenantPool, ledger: &Ledger, next_uid: &mut i64) -> Vec<String> {
    let started = Instant::now();
    let mut failures = Vec::new();
    loop {
        let uid = *next_uid;
        *next_uid += 1;
        let t = tenant(usize::try_from(uid).unwrap() % 3);
        let result = within(
            PROMPT,
            "a transaction after the fault",
            transaction(pool, &t, uid),
        )
        .await;
        ledger.record_result(uid, &t, &result);
        match result {
            Ok(()) => return failures,
            Err(e) => {
                let fine = e.is_retry_safe()
                    || e.commit_outcome_unknown()
                    || matches!(&e, Error::Query(q) if pgsec_client::is_transient(q));
                assert!(fine, "neither retry-safe nor outcome-unknown: {e:?}");
                failures.push(e.to_string());
            }
        }
        assert!(
            started.elapsed() < RECOVERY,
            "no transaction succeeded within {RECOVERY:?} after the fault: {failures:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What is stuck after a fault: connections checked out or callers waiting although
/// nobody uses the pool, connections beyond `max_size`, and server sessions of the
/// application role left inside a transaction or beyond `max_size`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Leaks {
    pub(crate) checked_out: usize,
    pub(crate) waiting: usize,
    pub(crate) over_max_size: usize,
    pub(crate) sessions_in_transaction: usize,
    pub(crate) sessions_over_max_size: usize,
}

impl Leaks {
    pub(crate) fn total(&self) -> usize {
        self.checked_out
            + self.waiting
            + self.over_max_size
            + self.sessions_in_transaction
            + self.sessions_over_max_size
    }
}

/// Measures [`Leaks`] while nobody uses the pool, waiting up to [`RECOVERY`] for them to
/// clear (discarded connections take a moment to close on the server).
pub(crate) async fn leaks(pool: &TenantPool, db: &TestDatabase) -> Leaks {
    let admin = db.admin_client().await.unwrap();
    let started = Instant::now();
    loop {
        let status = pool.status();
        let row = admin
            .query_one(
                "select count(*) filter (where state like 'idle in transaction%'), count(*) \
                 from pg_catalog.pg_stat_activity where datname = $1 and usename = $2",
                &[&db.name(), &APP_USER],
            )
            .await
            .unwrap();
        let (in_transaction, sessions): (i64, i64) = (row.get(0), row.get(1));
        let leaks = Leaks {
            checked_out: status.size.saturating_sub(status.available),
            waiting: status.waiting,
            over_max_size: status.size.saturating_sub(status.max_size),
            sessions_in_transaction: usize::try_from(in_transaction).unwrap(),
            sessions_over_max_size: usize::try_from(sessions)
                .unwrap()
                .saturating_sub(status.max_size),
        };
        if leaks.total() == 0 || started.elapsed() > RECOVERY {
            return leaks;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pool is back to full health: `max_size` transactions at once succeed (within
/// [`RECOVERY`]); then nothing is stuck ([`leaks`]).
pub(crate) async fn assert_healthy(
    pool: &TenantPool,
    db: &TestDatabase,
    ledger: &Ledger,
    next_uid: &mut i64,
) {
    let max = pool.status().max_size;
    let started = Instant::now();
    loop {
        let first = *next_uid;
        *next_uid += i64::try_from(max).unwrap();
        let results = futures_util::future::join_all((first..*next_uid).map(|uid| {
            let t = tenant(usize::try_from(uid).unwrap() % 3);
            async move {
                let r = within(PROMPT, "a healthy transaction", transaction(pool, &t, uid)).await;
                (uid, t, r)
            }
        }))
        .await;
        let mut failed = Vec::new();
        for (uid, t, r) in results {
            ledger.record_result(uid, &t, &r);
            if let Err(e) = r {
                failed.push(e.to_string());
            }
        }
        if failed.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < RECOVERY,
            "{max} concurrent transactions keep failing: {failed:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leaks = leaks(pool, db).await;
    assert_eq!(leaks.total(), 0, "{leaks:?} {:?}", pool.status());
}

/// Backend pids of the application role in `db`.
pub(crate) async fn app_backends(
    admin: &tokio_postgres::Client,
    db: &TestDatabase,
    state: Option<&str>,
) -> Vec<i32> {
    admin
        .query(
            "select pid from pg_catalog.pg_stat_activity \
             where datname = $1 and usename = $2 and ($3::text is null or state = $3)",
            &[&db.name(), &APP_USER, &state],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Terminates the backends `pids` and waits until they are gone.
pub(crate) async fn terminate(admin: &tokio_postgres::Client, pids: &[i32]) {
    admin
        .execute(
            "select pg_catalog.pg_terminate_backend(p) from unnest($1::int[]) p",
            &[&pids],
        )
        .await
        .unwrap();
    within(PROMPT, "terminated backends to exit", async {
        loop {
            let left: i64 = admin
                .query_one(
                    "select count(*) from pg_catalog.pg_stat_activity where pid = any($1)",
                    &[&pids],
                )
                .await
                .unwrap()
                .get(0);
            if left == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// A small deterministic generator (xorshift64*), seeded from `PGSEC_FAULTS_SEED` or the
/// clock; the seed is printed so that a failing run can be replayed.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn from_env(what: &str) -> Rng {
        let seed = std::env::var("PGSEC_FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{what}: PGSEC_FAULTS_SEED={seed}");
        Rng(seed | 1)
    }

    pub(crate) fn fork(&mut self) -> Rng {
        Rng(self.next() | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..hi` (`hi > lo`).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    pub(crate) fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.range(lo, hi))
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.range(0, 100) < percent
    }
}
