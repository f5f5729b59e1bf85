//! A bounded soak: 32 tasks run tenant transactions while a controller injects random
//! faults; a ledger of what each caller was told is checked against the database.
//!
//! Runs 20 s, 60 s when `CI` is set, or `PGSEC_SOAK_SECS`. The seed is printed
//! (`PGSEC_FAULTS_SEED` replays it); run with `--nocapture` to see the report and the
//! Markdown table of faults × outcomes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgsec_client::{Error, TenantPool};
use pgsec_testkit::{Fault, Proxy, TestDatabase};

use crate::{
    app_backends, leaks, ledger_database, pool_via, proxy_for, recover, set_for_app_role, tenant,
    write, Ledger, Outcome, Rng,
};

const TASKS: usize = 32;
const TENANTS: u64 = 8;
const MAX_SIZE: usize = 12;
/// The caller's own bound on one transaction.
const TX_LIMIT: Duration = Duration::from_secs(5);
/// `statement_timeout` of the application role; the slow statement sleeps longer.
const STATEMENT_TIMEOUT: &str = "300ms";
const SLOW_STATEMENT: &str = "select pg_catalog.pg_sleep(1)";

/// What was being injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    None,
    Reset,
    Blackhole,
    CloseAfterBytes,
    Bandwidth,
    Terminate,
    StatementTimeout,
}

const KINDS: [Kind; 7] = [
    Kind::None,
    Kind::Reset,
    Kind::Blackhole,
    Kind::CloseAfterBytes,
    Kind::Bandwidth,
    Kind::Terminate,
    Kind::StatementTimeout,
];

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::None => "none",
            Kind::Reset => "proxy: reset",
            Kind::Blackhole => "proxy: black hole",
            Kind::CloseAfterBytes => "proxy: close after N bytes",
            Kind::Bandwidth => "proxy: bandwidth limit",
            Kind::Terminate => "server: pg_terminate_backend",
            Kind::StatementTimeout => "server: statement_timeout",
        }
    }
}

/// The faults in force, for the controller and for attributing outcomes.
#[derive(Debug, Default)]
struct Faults {
    /// Index in [`KINDS`] of the fault in force (0: none).
    active: AtomicU8,
    /// Bumped each time a fault of that kind is injected.
    injected: [AtomicU64; 7],
}

impl Faults {
    fn active(&self) -> Kind {
        KINDS[usize::from(self.active.load(Ordering::SeqCst))]
    }

    fn set_active(&self, kind: Kind) {
        self.active.store(kind as u8, Ordering::SeqCst);
    }

    fn injected(&self) -> [u64; 7] {
        std::array::from_fn(|i| self.injected[i].load(Ordering::SeqCst))
    }

    /// The fault a transaction met: the one in force when it started, else one injected
    /// while it ran, else the one in force when it ended. A statement_timeout window
    /// only concerns the transactions started in it (they run the slow statement).
    fn met(&self, at_start: Kind, injected_at_start: &[u64; 7]) -> Kind {
        if at_start != Kind::None {
            return at_start;
        }
        let now = self.injected();
        let during = KINDS
            .iter()
            .zip(now.iter().zip(injected_at_start))
            .find(|(k, (n, s))| n != s && **k != Kind::StatementTimeout)
            .map(|(k, _)| *k);
        match during.unwrap_or_else(|| self.active()) {
            Kind::StatementTimeout => Kind::None,
            kind => kind,
        }
    }
}

/// Where a transaction ended, for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Column {
    Committed,
    RetrySafe,
    NotRetrySafe,
    CallerTimeout,
    Unknown,
}

/// Why a transaction failed.
enum Failure {
    Pool(Error),
    Statement(tokio_postgres::Error),
}

async fn attempt(
    pool: &TenantPool,
    t: &pgsec_client::TenantId,
    uid: i64,
    slow: bool,
    committing: &AtomicU8,
) -> Result<(), Failure> {
    let tx = pool.begin(t).await.map_err(Failure::Pool)?;
    write(&tx, uid).await.map_err(Failure::Statement)?;
    if slow {
        tx.query_typed(SLOW_STATEMENT, &[])
            .await
            .map_err(Failure::Statement)?;
    }
    committing.store(1, Ordering::SeqCst);
    tx.commit().await.map_err(Failure::Pool)
}

/// A short name for an error kind, for the counts.
fn error_kind(e: &Error) -> String {
    let what = match e {
        Error::Checkout { .. } => {
            let text = pgsec_core::display_chain(e);
            match ["wait_timeout", "create_timeout", "recycle_timeout"]
                .iter()
                .find(|t| text.contains(*t))
            {
                Some(t) => return format!("checkout: {t}"),
                None => "checkout: connect failed",
            }
        }
        Error::Begin { .. } => "begin",
        Error::Commit { .. } => "commit (nothing committed)",
        Error::CommitOutcomeUnknown { .. } => "commit outcome unknown",
        Error::TransactionAborted => "transaction aborted",
        Error::TenantChanged => "tenant changed",
        _ => "other",
    };
    what.to_owned()
}

/// One soak task's record of a transaction.
struct Record {
    uid: i64,
    kind: Kind,
    column: Column,
}

#[derive(Default)]
struct Counts {
    attempted: AtomicU64,
    by_error: Mutex<BTreeMap<String, u64>>,
    records: Mutex<Vec<Record>>,
}

impl Counts {
    fn error(&self, what: String) {
        *self.by_error.lock().unwrap().entry(what).or_default() += 1;
    }
}

async fn run_task(
    pool: TenantPool,
    ledger: Arc<Ledger>,
    faults: Arc<Faults>,
    counts: Arc<Counts>,
    next_uid: Arc<AtomicI64>,
    mut rng: Rng,
    deadline: Instant,
) {
    while Instant::now() < deadline {
        let uid = next_uid.fetch_add(1, Ordering::SeqCst);
        let t = tenant(usize::try_from(rng.range(0, TENANTS)).unwrap());
        let (at_start, injected) = (faults.active(), faults.injected());
        let slow = at_start == Kind::StatementTimeout;
        let committing = AtomicU8::new(0);
        counts.attempted.fetch_add(1, Ordering::SeqCst);
        let result =
            tokio::time::timeout(TX_LIMIT, attempt(&pool, &t, uid, slow, &committing)).await;
        let kind = faults.met(at_start, &injected);
        let (outcome, column) = match result {
            Ok(Ok(())) => (Outcome::Committed, Column::Committed),
            Ok(Err(Failure::Pool(e))) => {
                counts.error(error_kind(&e));
                if e.commit_outcome_unknown() {
                    (Outcome::Unknown, Column::Unknown)
                } else if e.is_retry_safe() {
                    (Outcome::NotCommitted, Column::RetrySafe)
                } else {
                    eprintln!("not retry-safe ({kind:?}): {e:?}");
                    (Outcome::NotCommitted, Column::NotRetrySafe)
                }
            }
            Ok(Err(Failure::Statement(e))) => {
                if pgsec_client::is_transient(&e) {
                    counts.error("statement (transient)".to_owned());
                    (Outcome::NotCommitted, Column::RetrySafe)
                } else {
                    eprintln!("statement error, not transient ({kind:?}): {e:?}");
                    counts.error("statement (not transient)".to_owned());
                    (Outcome::NotCommitted, Column::NotRetrySafe)
                }
            }
            Err(_) if committing.load(Ordering::SeqCst) == 1 => {
                counts.error("caller timeout during commit".to_owned());
                (Outcome::Unknown, Column::Unknown)
            }
            Err(_) => {
                counts.error("caller timeout before commit".to_owned());
                (Outcome::NotCommitted, Column::CallerTimeout)
            }
        };
        ledger.record(uid, &t, outcome);
        counts
            .records
            .lock()
            .unwrap()
            .push(Record { uid, kind, column });
        if outcome != Outcome::Committed {
            // Back off a little, as a caller retrying would.
            tokio::time::sleep(rng.millis(5, 50)).await;
        }
    }
}

async fn controller(
    proxy: Arc<Proxy>,
    db: TestDatabase,
    faults: Arc<Faults>,
    mut rng: Rng,
    deadline: Instant,
) {
    let admin = db.admin_client().await.unwrap();
    while Instant::now() + Duration::from_secs(1) < deadline {
        tokio::time::sleep(rng.millis(100, 400)).await;
        let kind = KINDS[usize::try_from(rng.range(1, 7)).unwrap()];
        faults.injected[kind as usize].fetch_add(1, Ordering::SeqCst);
        let proxy_fault = match kind {
            Kind::Reset => Some((Fault::Reset, rng.millis(20, 100))),
            Kind::Blackhole => Some((Fault::Blackhole, rng.millis(200, 900))),
            Kind::CloseAfterBytes => Some((
                Fault::CloseAfterBytes(rng.range(64, 4096)),
                rng.millis(200, 800),
            )),
            Kind::Bandwidth => Some((
                Fault::Bandwidth(rng.range(2_000, 50_000)),
                rng.millis(300, 1000),
            )),
            Kind::StatementTimeout => {
                faults.set_active(kind);
                tokio::time::sleep(rng.millis(200, 600)).await;
                faults.set_active(Kind::None);
                None
            }
            Kind::Terminate | Kind::None => {
                let pids = app_backends(&admin, &db, None).await;
                let victims: Vec<i32> = pids
                    .iter()
                    .copied()
                    .filter(|_| rng.chance(25))
                    .take(3)
                    .collect();
                admin
                    .execute(
                        "select pg_catalog.pg_terminate_backend(p) from unnest($1::int[]) p",
                        &[&victims],
                    )
                    .await
                    .unwrap();
                None
            }
        };
        if let Some((fault, hold)) = proxy_fault {
            faults.set_active(kind);
            proxy.set_fault(fault);
            tokio::time::sleep(hold).await;
            proxy.clear_fault();
            faults.set_active(Kind::None);
        }
    }
}

fn soak_duration() -> Duration {
    let secs = std::env::var("PGSEC_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if std::env::var_os("CI").is_some() {
            60
        } else {
            20
        });
    Duration::from_secs(secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_random_faults_keeps_every_acknowledged_commit() {
    let db = ledger_database().await;
    set_for_app_role(&db, "statement_timeout", STATEMENT_TIMEOUT).await;
    let proxy = Arc::new(proxy_for(&db).await);
    let pool = pool_via(&db, &proxy)
        .max_size(MAX_SIZE)
        .build()
        .await
        .unwrap();
    let ledger = Arc::new(Ledger::default());
    let faults = Arc::new(Faults::default());
    let counts = Arc::new(Counts::default());
    let next_uid = Arc::new(AtomicI64::new(1));
    let mut rng = Rng::from_env("soak");
    let duration = soak_duration();
    let started = Instant::now();
    let deadline = started + duration;

    let control = tokio::spawn(controller(
        Arc::clone(&proxy),
        db.clone(),
        Arc::clone(&faults),
        rng.fork(),
        deadline,
    ));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            tokio::spawn(run_task(
                pool.clone(),
                Arc::clone(&ledger),
                Arc::clone(&faults),
                Arc::clone(&counts),
                Arc::clone(&next_uid),
                rng.fork(),
                deadline,
            ))
        })
        .collect();
    control.await.unwrap();
    for task in tasks {
        // Each transaction is bounded by TX_LIMIT.
        tokio::time::timeout(TX_LIMIT * 2, task)
            .await
            .expect("a soak task is stuck")
            .unwrap();
    }
    proxy.clear_fault();
    let ran = started.elapsed();

    // After the faults: transactions succeed again, nothing is stuck.
    let mut uid = next_uid.load(Ordering::SeqCst) + 1_000_000;
    let recovered = Instant::now();
    recover(&pool, &ledger, &mut uid).await;
    let recovery = recovered.elapsed();
    let leaks = leaks(&pool, &db).await;

    let audit = ledger.audit(&db).await;
    let present = Ledger::present(&db).await;
    let records = std::mem::take(&mut *counts.records.lock().unwrap());
    let mut table: BTreeMap<Kind, HashMap<&str, u64>> = BTreeMap::new();
    for r in &records {
        let cell = match r.column {
            Column::Committed => "committed",
            Column::RetrySafe => "retry-safe",
            Column::NotRetrySafe => "not retry-safe",
            Column::CallerTimeout => "caller timeout",
            Column::Unknown if present.contains(&r.uid) => "unknown, present",
            Column::Unknown => "unknown, absent",
        };
        let row = table.entry(r.kind).or_default();
        *row.entry(cell).or_default() += 1;
        *row.entry("transactions").or_default() += 1;
    }
    let committed = records
        .iter()
        .filter(|r| r.column == Column::Committed)
        .count();
    let unknown = records
        .iter()
        .filter(|r| r.column == Column::Unknown)
        .count();
    let not_retry_safe = records
        .iter()
        .filter(|r| r.column == Column::NotRetrySafe)
        .count();
    let injected = faults.injected();

    let mut report = String::new();
    let _ = writeln!(
        report,
        "soak: {TASKS} tasks, {TENANTS} tenants, pool max_size {MAX_SIZE}, ran {ran:.1?}"
    );
    let _ = writeln!(
        report,
        "attempted: {}",
        counts.attempted.load(Ordering::SeqCst)
    );
    let _ = writeln!(report, "committed (Ok): {committed}");
    let _ = writeln!(
        report,
        "outcome unknown: {unknown} ({} committed, {} not)",
        audit.unknown_present, audit.unknown_absent
    );
    let _ = writeln!(report, "failed by error kind:");
    for (what, n) in counts.by_error.lock().unwrap().iter() {
        let _ = writeln!(report, "  {what}: {n}");
    }
    let _ = writeln!(report, "faults injected:");
    for kind in &KINDS[1..] {
        let _ = writeln!(report, "  {}: {}", kind.label(), injected[*kind as usize]);
    }
    let _ = writeln!(report, "recovery after the faults: {recovery:.1?}");
    let _ = writeln!(report, "leaks: {} {leaks:?}", leaks.total());
    let _ = writeln!(report, "lost acknowledgements: {}", audit.lost);
    let _ = writeln!(
        report,
        "rows: {}, duplicated: {}, under the wrong tenant: {}, of failed transactions: {}",
        audit.rows, audit.duplicated, audit.wrong_tenant, audit.phantom
    );
    let _ = writeln!(report, "failures not retry-safe: {not_retry_safe}");
    let columns = [
        "transactions",
        "committed",
        "retry-safe",
        "not retry-safe",
        "caller timeout",
        "unknown, present",
        "unknown, absent",
    ];
    let _ = writeln!(
        report,
        "\n| fault met | transactions | committed | failed, retry-safe | failed, not retry-safe \
         | caller timeout | outcome unknown: committed | outcome unknown: not committed |"
    );
    let _ = writeln!(report, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (kind, row) in &table {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| row.get(c).copied().unwrap_or(0).to_string())
            .collect();
        let _ = writeln!(report, "| {} | {} |", kind.label(), cells.join(" | "));
    }
    println!("{report}");

    assert_eq!(audit.lost, 0, "acknowledged commits lost\n{report}");
    assert_eq!(audit.violations(), 0, "{audit:?}\n{report}");
    assert_eq!(leaks.total(), 0, "{leaks:?}\n{report}");
    assert_eq!(
        not_retry_safe, 0,
        "failures that are neither retry-safe nor unknown\n{report}"
    );
    assert!(committed > 0, "nothing committed\n{report}");
    assert!(
        injected.iter().skip(1).all(|&n| n > 0) || duration < Duration::from_secs(10),
        "a fault kind was never injected\n{report}"
    );
}
