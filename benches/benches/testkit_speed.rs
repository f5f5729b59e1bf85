//! The test kit's own speed: a server's start and a fresh database, per backend.
//!
//! - `testkit_speed/start/<backend>`: `TestServer::start()` to the first authenticated TLS
//!   query as the superuser (no baseline exists; the table splits it into the steps of
//!   `TestServer::start_timings`).
//! - `testkit_speed/fresh_database/direct`: the baseline, `CREATE DATABASE` from the
//!   kit's template on a kept superuser session, then the first query as the application
//!   role (a server with `databases_ahead(0)`);
//! - `testkit_speed/fresh_database/ahead_gap_100ms`: `fresh_database()` with clones made
//!   ahead in the background (the default), called after 100 ms of other work — a short
//!   test's body — that is not timed;
//! - `testkit_speed/fresh_database/ahead_back_to_back`: the same with no gap, where the
//!   background task cannot keep up and a call waits for the clone in progress.
//!
//! When measuring, the fresh-database variants are then run interleaved on one server
//! each and their medians printed with the ratio to `direct`, and each backend is started
//! a few times for the step medians; the table goes to
//! `target/pgsec-bench/testkit_speed.md`. Goals (issue 17): fresh database under 50 ms
//! median, container start under 1.5 s, local start under 1 s.
//!
//! `cargo bench -p pgsec-benches --bench testkit_speed` (`-- --quick` for a smoke run).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use pgsec_benches::RunMode;
use pgsec_testkit::{Backend, ServerBuilder, StartTimings, TestServer};

/// The untimed work between two calls in the `ahead_gap_100ms` variant.
const GAP: Duration = Duration::from_millis(100);
const GOAL_FRESH_MS: f64 = 50.0;

/// Call to the first TLS query as the superuser.
async fn start(builder: ServerBuilder) -> (TestServer, Duration) {
    let t = Instant::now();
    let server = builder.start().await.expect("start a testkit server");
    server
        .admin_client()
        .await
        .expect("admin")
        .simple_query("select 1")
        .await
        .expect("query");
    (server, t.elapsed())
}

/// A fresh database to its first query as the application role.
async fn fresh(server: &TestServer) -> Duration {
    let t = Instant::now();
    let db = server.fresh_database().await.expect("fresh database");
    db.app_client()
        .await
        .expect("app")
        .simple_query("select 1")
        .await
        .expect("query");
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn backend_available(rt: &tokio::runtime::Runtime, backend: Backend) -> bool {
    match rt.block_on(TestServer::builder().backend(backend).start()) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("testkit_speed: the {backend} backend is NOT measured: {e}");
            false
        }
    }
}

fn main() {
    let mode = RunMode::from_process();
    let mut criterion: Criterion = pgsec_benches::criterion(mode);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let backends: Vec<Backend> = [Backend::Container, Backend::Local]
        .into_iter()
        .filter(|b| backend_available(&rt, *b))
        .collect();
    assert!(!backends.is_empty(), "no testkit backend available");

    let (direct, ahead) = rt.block_on(async {
        let direct = TestServer::builder()
            .databases_ahead(0)
            .start()
            .await
            .expect("server");
        let ahead = TestServer::start().await.expect("server");
        (direct, ahead)
    });
    let major = direct.major_version();
    let default_backend = direct.backend();

    let mut group = criterion.benchmark_group("testkit_speed");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(mode.pick(2, 10)));
    group.bench_function("fresh_database/direct", |b| {
        b.to_async(&rt).iter(|| fresh(&direct));
    });
    group.bench_function("fresh_database/ahead_gap_100ms", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let ahead = &ahead;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    tokio::time::sleep(GAP).await;
                    total += fresh(ahead).await;
                }
                total
            }
        });
    });
    group.bench_function("fresh_database/ahead_back_to_back", |b| {
        b.to_async(&rt).iter(|| fresh(&ahead));
    });
    for backend in &backends {
        let backend = *backend;
        group.bench_function(format!("start/{backend}"), |b| {
            b.to_async(&rt).iter_custom(|iters| async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (server, took) = start(TestServer::builder().backend(backend)).await;
                    total += took;
                    drop(server);
                }
                total
            });
        });
    }
    group.finish();

    if mode.measuring {
        let runs = mode.pick(11, 31);
        let (mut d, mut g, mut btb) = (Vec::new(), Vec::new(), Vec::new());
        rt.block_on(async {
            for _ in 0..runs {
                tokio::time::sleep(GAP).await;
                d.push(fresh(&direct).await);
                tokio::time::sleep(GAP).await;
                g.push(fresh(&ahead).await);
                btb.push(fresh(&ahead).await);
            }
        });
        let (d, g, btb) = (median(d), median(g), median(btb));
        let mut md = String::new();
        let _ =
            writeln!(
            md,
            "Fresh database → first query as the app role, PostgreSQL {major}, {default_backend} \
             backend, medians of {runs} interleaved runs:\n\n\
             | variant | median | ratio to direct |\n|---|---:|---:|\n\
             | direct (`CREATE DATABASE`, baseline) | {d:.1} ms | 1.00× |\n\
             | made ahead, 100 ms of test between calls | {g:.1} ms | {:.2}× |\n\
             | made ahead, back to back | {btb:.1} ms | {:.2}× |\n\n\
             Goal < {GOAL_FRESH_MS} ms: {}.\n",
            g / d,
            btb / d,
            if g < GOAL_FRESH_MS { "met with a gap" } else { "NOT met" },
        );
        let starts = mode.pick(3, 7);
        let _ = writeln!(
            md,
            "\nStart → first TLS query, medians of {starts} starts per variant, interleaved:\n\n\
             | variant | total | certificates | launch | until ready | set-up |\n\
             |---|---:|---:|---:|---:|---:|"
        );
        // The project's image carries a cluster made at build time; a stock-layout image
        // (scripts/build-stock-image.sh) has none, so the kit runs initdb at start: the
        // same run shows what the pre-made cluster saves.
        let mut variants: Vec<(String, ServerBuilder)> = backends
            .iter()
            .map(|b| (b.to_string(), TestServer::builder().backend(*b)))
            .collect();
        let stock = format!("pgsec/stock-postgres:{major}");
        if backends.contains(&Backend::Container) {
            match rt.block_on(TestServer::builder().image(stock.clone()).start()) {
                Ok(_) => variants.push((
                    format!("container, {stock} (initdb at start)"),
                    TestServer::builder()
                        .backend(Backend::Container)
                        .image(stock.clone()),
                )),
                Err(e) => eprintln!("testkit_speed: {stock} is NOT measured: {e}"),
            }
        }
        let mut steps: Vec<Vec<StartTimings>> = vec![Vec::new(); variants.len()];
        let mut totals: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
        rt.block_on(async {
            for _ in 0..starts {
                for (i, (_, builder)) in variants.iter().enumerate() {
                    let (server, took) = start(builder.clone()).await;
                    totals[i].push(took);
                    steps[i].push(server.start_timings());
                }
            }
        });
        for (i, (label, _)) in variants.iter().enumerate() {
            let m = |f: fn(&StartTimings) -> Duration| median(steps[i].iter().map(f).collect());
            let _ = writeln!(
                md,
                "| {label} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
                median(totals[i].clone()),
                m(|t| t.certificates),
                m(|t| t.launch),
                m(|t| t.until_ready),
                m(|t| t.set_up),
            );
        }
        println!("{md}");
        let dir = pgsec_benches::output_dir();
        if let Err(e) = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("testkit_speed.md"), &md))
        {
            eprintln!("testkit_speed: could not write the table: {e}");
        }
    }
    drop((direct, ahead));
    criterion.final_summary();
}
