//! Property (issue 18): whatever session state tenants leave behind, in whatever order
//! and however their transactions end (commit, rollback, drop, a failed statement, a
//! statement or `begin` cancelled mid-flight), the next transaction of any tenant on any
//! connection of the pool sees what a fresh connection sees.

use std::sync::OnceLock;
use std::time::Duration;

use pgsec_client::{Config, Error, TenantId, TenantPool, TenantTx};
use proptest::prelude::*;
use tokio::runtime::Runtime;
use tokio_postgres::error::SqlState;

use crate::hygiene::{
    describe, differences, login_with_harmless_role, must_fail, session_view, SessionView,
    OTHER_SETTING,
};
use crate::lifecycle::poll_then_drop;
use crate::tenant_database;

const TENANTS: [&str; 4] = ["acme", "globex", "initech", "umbrella"];

/// Longest a step and its check may take (nothing in them waits for a lock).
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

struct Fixture {
    runtime: Runtime,
    /// A login role of its own, which may `SET ROLE` to `harmless`.
    config: Config,
    harmless: String,
    /// What a fresh connection of a pool on `config` reports.
    fresh: SessionView,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (config, harmless, fresh) = runtime.block_on(async {
            let db = tenant_database().await;
            let (config, _login, harmless) = login_with_harmless_role(&db).await;
            let pool = TenantPool::builder(&config)
                .max_size(1)
                .build()
                .await
                .expect("pool builds");
            let tx = pool.begin(&tenant(0)).await.expect("begin");
            let (fresh, _) = session_view(&tx).await.expect("probe");
            tx.commit().await.expect("commit");
            assert!(fresh.holds_nothing(), "a fresh connection holds {fresh:?}");
            // The database lives as long as the shared server; the pools of the cases
            // reach it through `config`.
            (config, harmless, fresh)
        });
        Fixture {
            runtime,
            config,
            harmless,
            fresh,
        }
    })
}

fn tenant(i: usize) -> TenantId {
    TENANTS[i].parse().unwrap()
}

/// What a tenant does inside its transaction.
#[derive(Debug, Clone, Copy)]
enum Action {
    TempTable,
    HoldCursor,
    SetRole,
    TenantSetting,
    OtherSetting,
    SearchPath,
    Settings,
    Prepare,
    AdvisoryLock,
    Listen,
    TempObjects,
    Insert,
    Select,
}

impl Action {
    fn sql(self, t: &str, harmless: &str) -> String {
        match self {
            Action::TempTable => "create temp table t as select * from items".into(),
            Action::HoldCursor => "declare c cursor with hold for select * from items".into(),
            Action::SetRole => format!("set role {harmless}"),
            Action::TenantSetting => {
                format!("select pg_catalog.set_config('app.current_tenant_id', '{t}', false)")
            }
            Action::OtherSetting => {
                format!("select pg_catalog.set_config('{OTHER_SETTING}', 'user of {t}', false)")
            }
            Action::SearchPath => format!("set search_path = private_{t}, public"),
            Action::Settings => format!(
                "set row_security = off; set default_transaction_read_only = on; \
                 set lock_timeout = '4321ms'; set application_name = 'app of {t}'; \
                 set timezone = 'Pacific/Chatham'"
            ),
            Action::Prepare => format!("prepare q as select 'secret of {t}'"),
            // Not pg_advisory_lock: a lock left on one connection would block the next
            // step on another until the step timeout, instead of showing in the check.
            Action::AdvisoryLock => "select pg_catalog.pg_try_advisory_lock(42)".into(),
            Action::Listen => format!("listen chan_{t}"),
            Action::TempObjects => format!(
                "create function pg_temp.f() returns text language sql as $$select 'secret of {t}'$$; \
                 create temp sequence s; create temp view v as select * from items"
            ),
            Action::Insert => format!("insert into items (body) values ('row of {t}')"),
            Action::Select => "select * from items".into(),
        }
    }
}

/// How the transaction ends.
#[derive(Debug, Clone, Copy)]
enum End {
    Commit,
    Rollback,
    Drop,
    /// `select 1/0`, then `commit()`, which must refuse.
    ErrorThenCommit,
    /// The action's future is dropped after this many polls, then the guard.
    CancelAction(usize),
    /// The action runs under a timeout of this many microseconds, then `commit()`
    /// (whatever its outcome).
    TimeoutAction(u64),
    /// `begin` runs under a timeout of this many microseconds; if it finishes, the
    /// action runs and commits.
    TimeoutBegin(u64),
}

#[derive(Debug, Clone)]
struct Step {
    tenant: usize,
    action: Action,
    end: End,
    /// Transactions of other tenants held open during the step (capped at the pool
    /// size less one), so that steps land on different connections.
    held: usize,
    /// The tenant whose next transaction checks the session.
    checked_by: usize,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::TempTable),
        Just(Action::HoldCursor),
        Just(Action::SetRole),
        Just(Action::TenantSetting),
        Just(Action::OtherSetting),
        Just(Action::SearchPath),
        Just(Action::Settings),
        Just(Action::Prepare),
        Just(Action::AdvisoryLock),
        Just(Action::Listen),
        Just(Action::TempObjects),
        Just(Action::Insert),
        Just(Action::Select),
    ]
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        3 => Just(End::Commit),
        1 => Just(End::Rollback),
        1 => Just(End::Drop),
        1 => Just(End::ErrorThenCommit),
        1 => (1usize..4).prop_map(End::CancelAction),
        1 => (0u64..2000).prop_map(End::TimeoutAction),
        1 => (0u64..3000).prop_map(End::TimeoutBegin),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..TENANTS.len(),
        action(),
        end(),
        0usize..3,
        0..TENANTS.len(),
    )
        .prop_map(|(tenant, action, end, held, checked_by)| Step {
            tenant,
            action,
            end,
            held,
            checked_by,
        })
}

/// The step's tenant runs its action and ends the transaction as the step says.
async fn run_step(fx: &Fixture, pool: &TenantPool, step: &Step) -> Result<(), String> {
    let t = tenant(step.tenant);
    let sql = step.action.sql(t.as_setting_value(), &fx.harmless);
    let tx = match step.end {
        End::TimeoutBegin(micros) => {
            match tokio::time::timeout(Duration::from_micros(micros), pool.begin(&t)).await {
                Ok(tx) => tx.map_err(|e| format!("begin: {e}"))?,
                Err(_) => return Ok(()),
            }
        }
        _ => pool.begin(&t).await.map_err(|e| format!("begin: {e}"))?,
    };
    match step.end {
        End::CancelAction(polls) => {
            let _ = poll_then_drop(tx.batch_execute(&sql), polls).await;
            drop(tx);
            return Ok(());
        }
        End::TimeoutAction(micros) => {
            let _ =
                tokio::time::timeout(Duration::from_micros(micros), tx.batch_execute(&sql)).await;
            let _ = tx.commit().await;
            return Ok(());
        }
        _ => {}
    }
    // On a clean session every action succeeds (a leftover `t`, `c`, `q` or `f` of
    // an earlier step would make it fail).
    tx.batch_execute(&sql)
        .await
        .map_err(|e| format!("`{sql}` failed: {}", describe(&e)))?;
    match step.end {
        End::Rollback => tx.rollback().await.map_err(|e| format!("rollback: {e}")),
        End::Drop => {
            drop(tx);
            Ok(())
        }
        End::ErrorThenCommit => {
            if tx.batch_execute("select 1/0").await.is_ok() {
                return Err("select 1/0 succeeded".into());
            }
            match tx.commit().await {
                Err(Error::TransactionAborted) => Ok(()),
                other => Err(format!("commit after a failed statement gave {other:?}")),
            }
        }
        End::Commit | End::TimeoutBegin(_) | End::CancelAction(_) | End::TimeoutAction(_) => {
            tx.commit().await.map_err(|e| format!("commit: {e}"))
        }
    }
}

/// Inside a transaction of its tenant: the session is a fresh one's, and the tenant
/// sees only its own rows.
async fn check_clean(fx: &Fixture, tx: &TenantTx) -> Result<(), String> {
    let me = tx.tenant().as_setting_value();
    let (view, pid) = session_view(tx).await?;
    let found = differences(&view, &fx.fresh.expected(Some(tx.tenant())));
    if !found.is_empty() {
        return Err(format!(
            "tenant {me} on backend {pid} found:\n  {}",
            found.join("\n  ")
        ));
    }
    must_fail(
        tx,
        "select pg_catalog.lastval()",
        &[SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE],
    )
    .await
    .map_err(|e| format!("tenant {me} on backend {pid}: {e}"))?;
    let seen: Vec<String> = tx
        .query_typed("select distinct tenant_id from items", &[])
        .await
        .map_err(|e| format!("tenant {me} cannot read items: {}", describe(&e)))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if seen.iter().any(|t| t != me) {
        return Err(format!("tenant {me} saw rows of {seen:?}"));
    }
    Ok(())
}

/// Begins for `t`, checks, and leaves the transaction open.
async fn begin_checked(fx: &Fixture, pool: &TenantPool, t: usize) -> Result<TenantTx, String> {
    let tx = pool
        .begin(&tenant(t))
        .await
        .map_err(|e| format!("begin: {e}"))?;
    check_clean(fx, &tx).await?;
    Ok(tx)
}

async fn run_case(fx: &Fixture, size: usize, steps: &[Step]) -> Result<(), String> {
    let pool = TenantPool::builder(&fx.config)
        .max_size(size)
        .build()
        .await
        .map_err(|e| format!("pool: {e}"))?;
    for (i, step) in steps.iter().enumerate() {
        let checked = async {
            let mut held = Vec::new();
            for k in 0..step.held.min(size - 1) {
                let other = (step.tenant + 1 + k) % TENANTS.len();
                held.push(begin_checked(fx, &pool, other).await?);
            }
            run_step(fx, &pool, step).await?;
            for tx in held {
                tx.rollback().await.map_err(|e| format!("rollback: {e}"))?;
            }
            let tx = begin_checked(fx, &pool, step.checked_by).await?;
            tx.commit().await.map_err(|e| format!("commit: {e}"))
        };
        tokio::time::timeout(STEP_TIMEOUT, checked)
            .await
            .map_err(|_| format!("step {i} did not finish in {STEP_TIMEOUT:?}"))?
            .map_err(|e| format!("at step {i}: {e}"))?;
        let status = pool.status();
        if status.size > status.max_size {
            return Err(format!(
                "at step {i}: the pool grew past its size: {status:?}"
            ));
        }
    }
    // Every connection of the pool, all checked out at once, is clean.
    let mut held = Vec::new();
    for k in 0..size {
        held.push(
            begin_checked(fx, &pool, k % TENANTS.len())
                .await
                .map_err(|e| format!("after the last step: {e}"))?,
        );
    }
    for tx in held {
        tx.rollback().await.map_err(|e| format!("rollback: {e}"))?;
    }
    pool.close();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: None,
        max_shrink_iters: 256,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_session_state_reaches_the_next_transaction(
        big_pool in any::<bool>(),
        steps in prop::collection::vec(step(), 1..=12),
    ) {
        let fx = fixture();
        let size = if big_pool { 3 } else { 1 };
        let result = fx.runtime.block_on(run_case(fx, size, &steps));
        if let Err(e) = result {
            let listed: Vec<String> = steps
                .iter()
                .enumerate()
                .map(|(i, s)| format!("  {i}: {s:?}"))
                .collect();
            return Err(TestCaseError::fail(format!(
                "pool of {size}, steps:\n{}\n{e}",
                listed.join("\n")
            )));
        }
    }
}
