//! A live audit of a schema-per-tenant catalogue at 10,000 and 100,000 tables, as a
//! ratio to a plain tokio-postgres read of the same catalogue rows, measured in one run.
//!
//! The catalogue (issue 16): 100 schemas of `N / 100` tables each (`id bigint,
//! tenant_id int`); row-level security on the tables of every even schema (half); every
//! tenth schema granted to the application role (USAGE, SELECT/INSERT/UPDATE/DELETE), its
//! tables with one tenant policy each. Each size is one database, built by one DO block
//! committing every 1,000 tables.
//!
//! - `catalogue_scale/baseline/N`: `SELECT` of the schema, table (with ACL and columns)
//!   and policy rows pgsec reads, decoded into owned Rust values by tokio-postgres;
//! - `catalogue_scale/collect/N`: pgsec-core's live collector (all fact families);
//! - `catalogue_scale/collect_and_evaluate/N`: collector and every rule.
//!
//! When measuring, the three are then run interleaved and their medians printed with the
//! ratios to the baseline (the number that means something on a shared machine), and —
//! when a `pgsec` binary is found (`$PGSEC_BIN`, else next to this bench's profile
//! directory: `cargo build --release -p pgsec-cli`) — `pgsec audit --url … --format json`
//! is run on each database: wall time and peak resident memory (`ru_maxrss` of the
//! child, measured by a fresh copy of this binary, see `report_formats.rs` for why).
//! The table goes to `target/pgsec-bench/catalogue_scale.md`.
//!
//! Goal: at 100,000 tables, `pgsec audit` under 2 s and 200 MiB, and time linear in the
//! number of tables (the 100k ÷ 10k ratio of collect + evaluate near 10).
//!
//! `PGSEC_TESTKIT_BACKEND=local cargo bench -p pgsec-benches --bench catalogue_scale`
//! (`-- --quick` for a smoke run; building the 100,000-table catalogue takes minutes).
//! `PGSEC_CATALOGUE_SCALE_SIZES=10000` measures one size only.

use std::hint::black_box;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use pgsec_benches::RunMode;
use pgsec_core::live::{collect, CollectOptions};
use pgsec_core::{evaluate, Policy, Report, Snapshot};
use pgsec_testkit::{TestDatabase, TestServer};
use tokio_postgres::Client;

const SIZES: [u32; 2] = [10_000, 100_000];
const SCHEMAS: u32 = 100;
/// Goal at 100,000 tables for `pgsec audit --url … --format json`.
const GOAL_SECS: f64 = 2.0;
const GOAL_MIB: f64 = 200.0;

/// The catalogue of `tables` tables in one DO block (one transaction would need a lock
/// per table, beyond `max_locks_per_transaction`).
fn catalogue_sql(tables: u32, app: &str) -> String {
    let per = tables / SCHEMAS;
    format!(
        "DO $bulk$ DECLARE s text; BEGIN
           FOR i IN 1..{SCHEMAS} LOOP
             s := format('tenant_%s', i);
             EXECUTE format('CREATE SCHEMA %I', s);
             IF i % 10 = 0 THEN
               EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, '{app}');
             END IF;
             FOR j IN 1..{per} LOOP
               EXECUTE format('CREATE TABLE %I.t%s (id bigint, tenant_id int)', s, j);
               IF i % 2 = 0 THEN
                 EXECUTE format('ALTER TABLE %I.t%s ENABLE ROW LEVEL SECURITY', s, j);
               END IF;
               IF i % 10 = 0 THEN
                 EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.t%s TO %I', s, j, '{app}');
                 EXECUTE format('CREATE POLICY tenant ON %I.t%s USING (tenant_id = current_setting(''app.current_tenant_id'', true)::int)', s, j);
               END IF;
               IF j % 1000 = 0 THEN COMMIT; END IF;
             END LOOP;
             COMMIT;
           END LOOP;
         END $bulk$"
    )
}

/// The rows pgsec's collector reads for schemas, tables and policies, as one plain
/// query each, decoded into owned values.
const BASELINE: [&str; 3] = [
    "SELECT n.nspname::text, pg_catalog.pg_get_userbyid(n.nspowner)::text, n.nspacl::text[] \
       FROM pg_catalog.pg_namespace n",
    "SELECT n.nspname::text, c.relname::text, pg_catalog.pg_get_userbyid(c.relowner)::text, \
            c.relrowsecurity, c.relforcerowsecurity, c.relacl::text[], \
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a \
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                   ORDER BY a.attnum) \
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
      WHERE c.relkind IN ('r', 'p') \
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
        AND n.nspname NOT LIKE 'pg\\_toast%'",
    "SELECT n.nspname::text, c.relname::text, p.polname::text, p.polpermissive, \
            p.polcmd::text, pg_catalog.pg_get_expr(p.polqual, p.polrelid) \
       FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
];

/// One table's row as the baseline decodes it.
type TableRow = (
    String,
    String,
    String,
    bool,
    bool,
    Option<Vec<String>>,
    Vec<String>,
);

async fn baseline(client: &Client) -> usize {
    let (schemas, tables, policies) = tokio::join!(
        client.query(BASELINE[0], &[]),
        client.query(BASELINE[1], &[]),
        client.query(BASELINE[2], &[]),
    );
    let schemas: Vec<(String, String, Option<Vec<String>>)> = schemas
        .expect("schemas")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let tables: Vec<TableRow> = tables
        .expect("tables")
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect();
    let policies: Vec<(String, String, String, bool, String, Option<String>)> = policies
        .expect("policies")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    black_box(schemas.len() + policies.len());
    tables.len()
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

/// Set (to anything) in the copy of this binary that runs one command and prints its
/// exit code, wall time and peak memory.
const MEASURE_ENV: &str = "PGSEC_CATALOGUE_SCALE_MEASURE";

fn measure_child() -> io::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let program = args.next().ok_or_else(|| io::Error::other("no command"))?;
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let (code, maxrss_kib) = wait_with_rusage(child.id())?;
    println!("{code} {} {maxrss_kib}", start.elapsed().as_secs_f64());
    Ok(())
}

/// Runs `program args` through a measuring copy of this binary: exit code, wall
/// seconds, peak resident KiB.
fn run_measured(program: &Path, args: &[&str]) -> io::Result<(i32, f64, u64)> {
    let out = Command::new(std::env::current_exe()?)
        .env(MEASURE_ENV, "1")
        .arg(program)
        .args(args)
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let bad = || io::Error::other(format!("the measuring run printed {text:?}"));
    if fields.len() != 3 {
        return Err(bad());
    }
    Ok((
        fields[0].parse().map_err(|_| bad())?,
        fields[1].parse().map_err(|_| bad())?,
        fields[2].parse().map_err(|_| bad())?,
    ))
}

/// Waits for the child `pid`: its exit code and `ru_maxrss` (KiB on Linux).
#[allow(unsafe_code)] // the one libc call; std offers no per-child resource usage
fn wait_with_rusage(pid: u32) -> io::Result<(i32, u64)> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid, exclusive pointers for the call;
        // `pid` is our own unreaped child (the `Child` is never waited on by std).
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if got == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, u64::try_from(usage.ru_maxrss).unwrap_or(0)))
}

fn pgsec_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("PGSEC_BIN").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("pgsec");
    bin.is_file().then_some(bin)
}

fn sizes() -> Vec<u32> {
    match std::env::var("PGSEC_CATALOGUE_SCALE_SIZES") {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("PGSEC_CATALOGUE_SCALE_SIZES: numbers")
            })
            .collect(),
        _ => SIZES.to_vec(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Built {
    tables: u32,
    db: TestDatabase,
    client: Client,
}

/// What one size measured, for the table.
struct Row {
    tables: u32,
    baseline_ms: f64,
    collect_ms: f64,
    audit_ms: f64,
    cli: Option<(f64, f64)>,
}

fn main() {
    if std::env::var_os(MEASURE_ENV).is_some() {
        if let Err(e) = measure_child() {
            eprintln!("catalogue_scale: measuring run failed: {e}");
            std::process::exit(2);
        }
        return;
    }
    let mode = RunMode::from_process();
    let mut criterion: Criterion = pgsec_benches::criterion(mode);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let policy = Policy::default();
    let server = rt
        .block_on(TestServer::start())
        .expect("start a testkit server");
    let app = server.info().app.user.clone();
    let built: Vec<Built> = sizes()
        .into_iter()
        .map(|tables| {
            rt.block_on(async {
                let db = server.fresh_database().await.expect("database");
                let client = db.admin_client().await.expect("connect");
                let started = Instant::now();
                client
                    .batch_execute(&catalogue_sql(tables, &app))
                    .await
                    .expect("bulk catalogue");
                client.batch_execute("ANALYZE").await.expect("analyze");
                eprintln!(
                    "catalogue_scale: {tables} tables created in {:.0} s",
                    started.elapsed().as_secs_f64()
                );
                Built { tables, db, client }
            })
        })
        .collect();

    // A developer's hook: keep the server up to run `pgsec audit` by hand on it.
    if let Some(path) = std::env::var_os("PGSEC_CATALOGUE_SCALE_HOLD") {
        let lines: Vec<String> = built.iter().map(|b| b.db.admin_conninfo()).collect();
        std::fs::write(&path, lines.join("\n") + "\n").expect("write the hold file");
        eprintln!("catalogue_scale: holding until {path:?} is removed");
        while Path::new(&path).exists() {
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    // The benchmark measures real work: every table arrives and the rules see it.
    for b in &built {
        let n = rt.block_on(baseline(&b.client));
        assert_eq!(n, b.tables as usize, "baseline rows");
        let snap = rt.block_on(snapshot(&b.client));
        let live = snap.live.as_option().expect("live facts");
        let tables = live.databases[0].tables.as_option().map_or(0, Vec::len);
        assert_eq!(tables, b.tables as usize, "collected tables");
        let report = evaluate(&snap, &policy);
        assert!(!report.findings().is_empty(), "the catalogue has findings");
    }

    let mut group = criterion.benchmark_group("catalogue_scale");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(mode.pick(2, 20)));
    for b in &built {
        group.throughput(Throughput::Elements(u64::from(b.tables)));
        group.bench_function(BenchmarkId::new("baseline", b.tables), |bench| {
            bench.to_async(&rt).iter(|| baseline(&b.client));
        });
        group.bench_function(BenchmarkId::new("collect", b.tables), |bench| {
            bench.to_async(&rt).iter(|| snapshot(&b.client));
        });
        group.bench_function(
            BenchmarkId::new("collect_and_evaluate", b.tables),
            |bench| {
                bench.to_async(&rt).iter(|| audit(&b.client, &policy));
            },
        );
    }
    group.finish();

    if mode.measuring {
        let runs = mode.pick(3, 9);
        let bin = pgsec_binary();
        let mut rows = Vec::new();
        for b in &built {
            let (mut base, mut coll, mut aud) = (Vec::new(), Vec::new(), Vec::new());
            let ms = |start: Instant| start.elapsed().as_secs_f64() * 1e3;
            for _ in 0..runs {
                let t = Instant::now();
                black_box(rt.block_on(baseline(&b.client)));
                base.push(ms(t));
                let t = Instant::now();
                black_box(rt.block_on(snapshot(&b.client)));
                coll.push(ms(t));
                let t = Instant::now();
                black_box(rt.block_on(audit(&b.client, &policy)));
                aud.push(ms(t));
            }
            let cli = bin.as_ref().and_then(|bin| {
                let conninfo = b.db.admin_conninfo();
                let args = ["audit", "--url", &conninfo, "--format", "json"];
                let mut best: Option<(f64, f64)> = None;
                for _ in 0..mode.pick(1, 3) {
                    match run_measured(bin, &args) {
                        Ok((code, secs, kib)) if code == 0 || code == 1 => {
                            let mib = kib as f64 / 1024.0;
                            best = Some(match best {
                                Some((s, m)) => (s.min(secs), m.min(mib)),
                                None => (secs, mib),
                            });
                        }
                        Ok((code, ..)) => {
                            println!("pgsec audit exited with {code} at {} tables", b.tables);
                            return None;
                        }
                        Err(e) => {
                            println!("pgsec audit could not be measured: {e}");
                            return None;
                        }
                    }
                }
                best
            });
            rows.push(Row {
                tables: b.tables,
                baseline_ms: median(base),
                collect_ms: median(coll),
                audit_ms: median(aud),
                cli,
            });
        }
        let table = summary(&rows, runs, bin.as_deref());
        println!("{table}");
        let dir = pgsec_benches::output_dir();
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join("catalogue_scale.md"), &table);
        }
    }
    criterion.final_summary();
}

fn summary(rows: &[Row], runs: usize, bin: Option<&Path>) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "catalogue_scale: medians of {runs} interleaved runs; ratio = pgsec ÷ plain \
         tokio-postgres read of the same rows"
    );
    let _ = writeln!(
        s,
        "| tables | plain read | pgsec collect | pgsec collect + evaluate | ratio | \
         `pgsec audit --format json` wall | peak RSS |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (wall, rss) = match r.cli {
            Some((secs, mib)) => (format!("{secs:.2} s"), format!("{mib:.0} MiB")),
            None => ("—".to_owned(), "—".to_owned()),
        };
        let _ = writeln!(
            s,
            "| {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.2} | {wall} | {rss} |",
            r.tables,
            r.baseline_ms,
            r.collect_ms,
            r.audit_ms,
            r.audit_ms / r.baseline_ms,
        );
    }
    if let [small, large] = rows {
        let _ = writeln!(
            s,
            "growth {}→{} tables: plain read ×{:.1}, pgsec collect + evaluate ×{:.1}",
            small.tables,
            large.tables,
            large.baseline_ms / small.baseline_ms,
            large.audit_ms / small.audit_ms
        );
    }
    if let Some(r) = rows.iter().find(|r| r.tables == 100_000) {
        if let Some((secs, mib)) = r.cli {
            let met = secs < GOAL_SECS && mib < GOAL_MIB;
            let _ = writeln!(
                s,
                "goal at 100,000 tables: < {GOAL_SECS} s and < {GOAL_MIB} MiB: {}",
                if met { "met" } else { "NOT met" }
            );
        }
    }
    match bin {
        Some(b) => {
            let _ = writeln!(s, "pgsec binary: {}", b.display());
        }
        None => {
            let _ = writeln!(
                s,
                "end to end skipped: no pgsec binary (cargo build --release -p pgsec-cli, \
                 or set PGSEC_BIN)"
            );
        }
    }
    s
}
