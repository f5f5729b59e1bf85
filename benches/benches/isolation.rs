//! Speed of the RLS isolation checker: operation sequences (cases) per second.
//!
//! Two schemas of the mutation suite, both correct so every case runs to the end:
//!
//! | schema | what a case touches |
//! |---|---|
//! | `one_table` | `01_restrictive_policy.sql`: one tenant table |
//! | `five_tables` | `03_five_tables_with_foreign_keys.sql`: five tenant tables chained by composite foreign keys, a tenant registry, a security_invoker view |
//!
//! Each is prepared once (discovery, seeding, view oracles) and then timed running
//! batches of cases; criterion reports the throughput in cases (elements) per second.
//! A summary line per schema and the ratio five/one follow. The goal is at least 200
//! sequences per second on the local backend, which this bench uses unless
//! `PGSEC_TESTKIT_BACKEND` says otherwise.
//!
//! `cargo bench -p pgsec-benches --bench isolation` (append `-- --quick`, or set
//! `PGSEC_BENCH_QUICK=1`, for a smoke run).

use std::time::{Duration, Instant};

use criterion::Throughput;
use pgsec_benches::{criterion, RunMode};
use pgsec_testkit::isolation::{IsolationChecker, IsolationConfig};
use pgsec_testkit::{APP_USER, ENV_BACKEND};

/// Cases per timed batch.
const BATCH: u32 = 32;
const SEED: u64 = 6;

const SCHEMAS: [(&str, &str); 2] = [
    (
        "one_table",
        include_str!("../../pgsec-testkit/tests/isolation/schemas/correct/01_restrictive_policy.sql"),
    ),
    (
        "five_tables",
        include_str!(
            "../../pgsec-testkit/tests/isolation/schemas/correct/03_five_tables_with_foreign_keys.sql"
        ),
    ),
];

async fn prepare(sql: &str) -> IsolationChecker {
    let server = pgsec_testkit::shared().await.expect("test server");
    let db = server.fresh_database().await.expect("fresh database");
    db.admin_client()
        .await
        .expect("admin client")
        .batch_execute(&sql.replace("{{app}}", APP_USER))
        .await
        .expect("schema");
    IsolationChecker::prepare(&IsolationConfig {
        admin_conninfo: db.admin_conninfo(),
        app_conninfo: db.app_conninfo(),
        seed: Some(SEED),
        ..IsolationConfig::default()
    })
    .await
    .expect("prepare the checker")
}

fn main() {
    if std::env::var_os(ENV_BACKEND).is_none() {
        // Before any thread exists: the goal is stated for the local backend.
        std::env::set_var(ENV_BACKEND, "local");
    }
    let mode = RunMode::from_process();
    let mut c = criterion(mode);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let mut checkers: Vec<(&str, IsolationChecker)> = SCHEMAS
        .iter()
        .map(|(name, sql)| (*name, runtime.block_on(prepare(sql))))
        .collect();

    let mut group = c.benchmark_group("isolation");
    group.throughput(Throughput::Elements(u64::from(BATCH)));
    for (name, checker) in &mut checkers {
        group.bench_function(format!("{name}/cases"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let report = checker.run(BATCH).await.expect("cases run");
                        assert!(report.is_isolated(), "{report}");
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();

    if mode.measuring {
        // Same-run summary: interleaved rounds so that both schemas see the same load.
        let rounds = mode.pick(3, 10);
        let mut totals = vec![(0u32, Duration::ZERO, 0u64); checkers.len()];
        for _ in 0..rounds {
            for (i, (_, checker)) in checkers.iter_mut().enumerate() {
                let report = runtime.block_on(checker.run(BATCH)).expect("cases run");
                totals[i].0 += report.cases_run;
                totals[i].1 += report.elapsed;
                totals[i].2 += report.operations_run;
            }
        }
        let backend = std::env::var(ENV_BACKEND).unwrap_or_default();
        println!(
            "\nisolation checker, {backend} backend, {} rounds of {BATCH} cases:",
            rounds
        );
        let rates: Vec<f64> = totals
            .iter()
            .map(|(cases, time, _)| f64::from(*cases) / time.as_secs_f64().max(1e-9))
            .collect();
        for ((name, _), ((cases, time, ops), rate)) in
            checkers.iter().zip(totals.iter().zip(&rates))
        {
            println!(
                "  {name:<12} {rate:>7.0} sequences/s ({cases} cases, {ops} operations, {:.2} s){}",
                time.as_secs_f64(),
                if *rate >= 200.0 {
                    ""
                } else {
                    "  below the 200/s goal"
                }
            );
        }
        if let [one, five] = rates.as_slice() {
            println!("  five_tables / one_table throughput: {:.2}", five / one);
        }
    }

    for (_, checker) in checkers {
        runtime.block_on(checker.cleanup()).expect("cleanup");
    }
    c.final_summary();
}
