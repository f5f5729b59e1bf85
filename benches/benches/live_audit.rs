//! A live audit of a large catalog: 10,000 tables with a tenant column (RLS enabled and
//! forced), 2,000 policies and 1,000 SECURITY DEFINER functions, in one database of a
//! hardened testkit server reached over verified TLS.
//!
//! - `live_audit/collect`: pgsec-core's collector (one round trip of four pipelined
//!   statements; the count is asserted by `pgsec-core/tests/live_audit.rs`);
//! - `live_audit/evaluate`: every rule over the collected snapshot (pure);
//! - `live_audit/collect_and_evaluate`: what `pgsec audit --url` does after connecting.
//!
//! Goal: collect and evaluate in under 1 s. `cargo bench -p pgsec-benches --bench
//! live_audit` (`-- --quick` for a smoke run); the median of the full audit is printed
//! at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use pgsec_benches::RunMode;
use pgsec_core::live::{collect, CollectOptions};
use pgsec_core::{evaluate, Policy, Report, Snapshot};
use pgsec_testkit::TestServer;
use tokio_postgres::Client;

const TABLES: u32 = 10_000;
const POLICIES: u32 = 2_000;
const FUNCTIONS: u32 = 1_000;
const GOAL: Duration = Duration::from_secs(1);

/// The catalog in one DO block, committing every 500 tables (one transaction would need
/// a lock per table).
fn bulk_catalog() -> String {
    format!(
        "DO $bulk$ BEGIN
           FOR i IN 1..{TABLES} LOOP
             EXECUTE format('CREATE TABLE public.t%s (id bigint, tenant_id int, v text)', i);
             EXECUTE format('ALTER TABLE public.t%s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', i);
             IF i % 500 = 0 THEN COMMIT; END IF;
           END LOOP;
           FOR i IN 1..{POLICIES} LOOP
             EXECUTE format('CREATE POLICY p ON public.t%s USING (tenant_id = current_setting(''app.current_tenant_id'', true)::int) WITH CHECK (tenant_id = current_setting(''app.current_tenant_id'', true)::int)', i);
           END LOOP;
           FOR i IN 1..{FUNCTIONS} LOOP
             EXECUTE format('CREATE FUNCTION public.f%s(x int) RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ''SELECT x + %s''', i, i);
           END LOOP;
         END $bulk$"
    )
}

async fn snapshot(client: &Client) -> Snapshot {
    collect(client, &CollectOptions::default())
        .await
        .expect("collect")
        .into_snapshot("bench", 1_750_000_000)
}

async fn audit(client: &Client, policy: &Policy) -> Report {
    evaluate(&snapshot(client).await, policy)
}

fn main() {
    let mode = RunMode::from_process();
    let mut criterion: Criterion = pgsec_benches::criterion(mode);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let policy = Policy::default();
    let (_server, client) = rt.block_on(async {
        let server = TestServer::start().await.expect("start a testkit server");
        let db = server.fresh_database().await.expect("database");
        let admin = db.admin_client().await.expect("connect");
        let started = Instant::now();
        admin
            .batch_execute(&bulk_catalog())
            .await
            .expect("bulk catalog");
        eprintln!(
            "live_audit: catalog created in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        (server, admin)
    });

    // The benchmark measures real work: the whole catalog arrives and the rules see it.
    let snap = rt.block_on(snapshot(&client));
    let live = snap.live.as_option().expect("live facts");
    let tables = live.databases[0].tables.as_option().map_or(0, Vec::len);
    assert_eq!(tables, TABLES as usize);
    let report = evaluate(&snap, &policy);
    let no_policy = report.findings_of("rls.no_policy").count();
    assert_eq!(no_policy, (TABLES - POLICIES) as usize);

    let mut group = criterion.benchmark_group("live_audit");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(mode.pick(3, 15)));
    group.bench_function("collect", |b| b.to_async(&rt).iter(|| snapshot(&client)));
    group.bench_function("evaluate", |b| {
        b.iter(|| evaluate(black_box(&snap), &policy))
    });
    group.bench_function("collect_and_evaluate", |b| {
        b.to_async(&rt).iter(|| audit(&client, &policy))
    });
    group.finish();

    if mode.measuring {
        let runs = mode.pick(5, 21);
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                black_box(rt.block_on(audit(&client, &policy)));
                start.elapsed()
            })
            .collect();
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "live_audit: {TABLES} tables, {POLICIES} policies, {FUNCTIONS} functions: collect + evaluate \
             median of {runs} = {:.0} ms (min {:.0} ms, max {:.0} ms; goal < {} ms: {})",
            median.as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3,
            GOAL.as_millis(),
            if median < GOAL { "met" } else { "NOT met" }
        );
    }
    criterion.final_summary();
}
