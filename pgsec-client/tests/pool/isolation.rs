//! Property: whatever happens to transactions (commits, rollbacks, drops, cancellation
//! at random points, SQL errors, panics, concurrency), every statement sees exactly its
//! own tenant, and nothing of an interrupted transaction survives or leaks.

use std::sync::OnceLock;
use std::time::Duration;

use pgsec_client::{Error, TenantId, TenantPool, TenantTx};
use pgsec_testkit::TestDatabase;
use proptest::prelude::*;
use tokio::runtime::Runtime;
use tokio_postgres::types::Type;

use crate::lifecycle::poll_then_drop;
use crate::{app_pool, tenant_database};

struct Fixture {
    runtime: Runtime,
    db: TestDatabase,
    /// Pools of size 1 and 4, reused across cases so that leftovers of one case
    /// would show up in the next.
    pools: [TenantPool; 2],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (db, pools) = runtime.block_on(async {
            let db = tenant_database().await;
            let one = app_pool(&db).max_size(1).build().await.unwrap();
            let four = app_pool(&db).max_size(4).build().await.unwrap();
            (db, [one, four])
        });
        Fixture { runtime, db, pools }
    })
}

/// Marker in rows that must never be committed.
const DOOMED: &str = "must-not-commit";
/// Marker in panics raised on purpose (kept out of the test output).
const PANIC_MARKER: &str = "pgsec-isolation-test: deliberate panic";

#[derive(Debug, Clone)]
enum Step {
    /// Check, insert a row, check again, commit.
    Commit,
    /// Insert a doomed row, roll back.
    Rollback,
    /// Insert a doomed row, drop the guard.
    Drop,
    /// Drop `begin` after this many polls.
    CancelBegin(usize),
    /// Cancel `begin` with a timeout of this many microseconds.
    TimeoutBegin(u64),
    /// Cancel a doomed slow insert after this many polls, then check and drop or commit.
    CancelQuery { polls: usize, commit_after: bool },
    /// Insert a doomed row, fail a statement, then commit (must fail) or roll back.
    SqlError { commit_after: bool },
    /// Insert a doomed row and panic in a task holding the transaction.
    Panic,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Commit),
        1 => Just(Step::Rollback),
        1 => Just(Step::Drop),
        1 => (1usize..6).prop_map(Step::CancelBegin),
        1 => (0u64..3000).prop_map(Step::TimeoutBegin),
        1 => ((1usize..4), any::<bool>())
            .prop_map(|(polls, commit_after)| Step::CancelQuery { polls, commit_after }),
        1 => any::<bool>().prop_map(|commit_after| Step::SqlError { commit_after }),
        1 => Just(Step::Panic),
    ]
}

fn tenant() -> impl Strategy<Value = TenantId> {
    prop_oneof![
        "[a-z][a-z0-9_.:-]{0,12}".prop_map(|s| s.parse().unwrap()),
        any::<i64>().prop_map(TenantId::from),
        any::<u128>().prop_map(|n| TenantId::from(uuid::Uuid::from_u128(n))),
    ]
}

/// The tenant setting and the tenants of all rows this transaction can see. RLS shows
/// only rows of the setting's tenant, so both must name `tx`'s tenant.
async fn assert_sees_only_itself(tx: &TenantTx) -> Result<(), String> {
    let want = tx.tenant().as_setting_value();
    let rows = tx
        .query_typed(
            "select pg_catalog.current_setting('app.current_tenant_id', true), \
                    array(select distinct tenant_id from items), \
                    pg_catalog.pg_current_xact_id_if_assigned() is not null",
            &[],
        )
        .await
        .map_err(|e| format!("check query: {e}"))?;
    let row = rows.first().ok_or("no row")?;
    let setting: Option<String> = row.get(0);
    let visible: Vec<String> = row.get(1);
    if setting.as_deref() != Some(want) {
        return Err(format!("tenant {want} saw setting {setting:?}"));
    }
    if visible.iter().any(|t| t != want) {
        return Err(format!("tenant {want} saw rows of {visible:?}"));
    }
    Ok(())
}

async fn insert(tx: &TenantTx, body: &str) -> Result<(), String> {
    tx.query_typed(
        "insert into items (tenant_id, body) values ($1, $2)",
        &[
            (&tx.tenant().as_setting_value(), Type::TEXT),
            (&body, Type::TEXT),
        ],
    )
    .await
    .map(drop)
    .map_err(|e| format!("insert: {e}"))
}

async fn run_step(pool: TenantPool, tenant: TenantId, step: Step) -> Result<(), String> {
    let begin = |pool: &TenantPool| {
        let pool = pool.clone();
        let tenant = tenant.clone();
        async move { pool.begin(&tenant).await.map_err(|e| format!("begin: {e}")) }
    };
    match step {
        Step::Commit => {
            let tx = begin(&pool).await?;
            assert_sees_only_itself(&tx).await?;
            insert(&tx, "kept").await?;
            assert_sees_only_itself(&tx).await?;
            tx.commit().await.map_err(|e| format!("commit: {e}"))?;
        }
        Step::Rollback => {
            let tx = begin(&pool).await?;
            insert(&tx, DOOMED).await?;
            tx.rollback().await.map_err(|e| format!("rollback: {e}"))?;
        }
        Step::Drop => {
            let tx = begin(&pool).await?;
            insert(&tx, DOOMED).await?;
            drop(tx);
        }
        Step::CancelBegin(polls) => {
            if let Some(tx) = poll_then_drop(begin(&pool), polls).await {
                let tx = tx?;
                assert_sees_only_itself(&tx).await?;
            }
        }
        Step::TimeoutBegin(micros) => {
            if let Ok(tx) = tokio::time::timeout(Duration::from_micros(micros), begin(&pool)).await
            {
                let tx = tx?;
                assert_sees_only_itself(&tx).await?;
            }
        }
        Step::CancelQuery {
            polls,
            commit_after,
        } => {
            let tx = begin(&pool).await?;
            let me = tx.tenant().as_setting_value();
            let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 2] =
                [(&me, Type::TEXT), (&DOOMED, Type::TEXT)];
            let slow = tx.query_typed(
                "insert into items (tenant_id, body) \
                 select $1, $2 from pg_catalog.pg_sleep(0.005)",
                &params,
            );
            let finished = poll_then_drop(slow, polls).await.is_some();
            assert_sees_only_itself(&tx).await?;
            if commit_after {
                // The cancelled insert may have run; turn it into a kept row then.
                tx.query_typed(
                    "update items set body = 'kept' where body = $1",
                    &[(&DOOMED, Type::TEXT)],
                )
                .await
                .map_err(|e| format!("update: {e}"))?;
                tx.commit().await.map_err(|e| format!("commit: {e}"))?;
            } else {
                let _ = finished;
                drop(tx);
            }
        }
        Step::SqlError { commit_after } => {
            let tx = begin(&pool).await?;
            insert(&tx, DOOMED).await?;
            if tx.query_typed("select 1 / 0", &[]).await.is_ok() {
                return Err("division by zero succeeded".into());
            }
            if commit_after {
                match tx.commit().await {
                    Err(Error::TransactionAborted) => {}
                    other => return Err(format!("commit after an error gave {other:?}")),
                }
            } else {
                tx.rollback().await.map_err(|e| format!("rollback: {e}"))?;
            }
        }
        Step::Panic => {
            let handle = tokio::spawn(async move {
                let tx = pool.begin(&tenant).await.expect("begin");
                insert(&tx, DOOMED).await.expect("insert");
                panic!("{PANIC_MARKER}");
            });
            match handle.await {
                Err(e) if e.is_panic() => {}
                other => return Err(format!("the panicking task ended with {other:?}")),
            }
        }
    }
    Ok(())
}

fn quiet_deliberate_panics() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let deliberate = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|m| m.contains(PANIC_MARKER));
            if !deliberate {
                previous(info);
            }
        }));
    });
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_statement_sees_exactly_its_own_tenant(
        big_pool in any::<bool>(),
        concurrent in any::<bool>(),
        steps in prop::collection::vec((tenant(), step()), 1..10),
    ) {
        quiet_deliberate_panics();
        let fx = fixture();
        let pool = fx.pools[usize::from(big_pool)].clone();
        let result: Result<(), String> = fx.runtime.block_on(async {
            if concurrent {
                let tasks: Vec<_> = steps
                    .iter()
                    .cloned()
                    .map(|(t, s)| tokio::spawn(run_step(pool.clone(), t, s)))
                    .collect();
                for task in tasks {
                    task.await.map_err(|e| format!("step task: {e}"))??;
                }
            } else {
                for (t, s) in steps.iter().cloned() {
                    run_step(pool.clone(), t, s).await?;
                }
            }
            // Afterwards, every connection of the pool (all checked out at once)
            // comes back clean for a new tenant.
            let size = pool.status().max_size;
            let probe: TenantId = "probe".parse().unwrap();
            let mut held = Vec::new();
            for _ in 0..size {
                let tx = pool.begin(&probe).await.map_err(|e| format!("probe begin: {e}"))?;
                assert_sees_only_itself(&tx).await?;
                let has_xid: bool = tx
                    .query_typed("select pg_catalog.pg_current_xact_id_if_assigned() is not null", &[])
                    .await
                    .map_err(|e| e.to_string())?[0]
                    .get(0);
                if has_xid {
                    return Err("a connection came back inside someone's transaction".into());
                }
                held.push(tx);
            }
            for tx in held {
                tx.rollback().await.map_err(|e| e.to_string())?;
            }
            // Nothing doomed was ever committed.
            let doomed: i64 = fx
                .db
                .admin_client()
                .await
                .map_err(|e| e.to_string())?
                .query_one("select count(*) from items where body = $1", &[&DOOMED])
                .await
                .map_err(|e| e.to_string())?
                .get(0);
            if doomed != 0 {
                return Err(format!("{doomed} rows of interrupted transactions were committed"));
            }
            Ok(())
        });
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}
