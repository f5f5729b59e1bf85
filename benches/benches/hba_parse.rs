//! Parsing and linting a generated 100,000-line `pg_hba.conf` with pgsec-core, in
//! lines per second (criterion's `Throughput::Elements`).
//!
//! - `hba/parse`: `HbaFile::parse` as PostgreSQL 16 reads the file;
//! - `hba/lint`: the `hba.*` rules of the evaluator over the parsed file (what
//!   `pgsec hba lint` runs);
//! - `hba/parse_and_lint`: both, as the CLI does for one file.
//!
//! `cargo bench -p pgsec-benches --bench hba_parse` (`-- --quick` for a smoke run). No
//! server is needed.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use pgsec_benches::{hba_text, RunMode};
use pgsec_core::hba::{HbaFile, MemoryLoader, PgVersion};
use pgsec_core::{evaluate_rules, Policy, Report, Snapshot};

const LINES: usize = 100_000;
const SEED: u64 = 0x5eed;

fn parse(text: &str, version: PgVersion) -> HbaFile {
    HbaFile::parse(
        text,
        Path::new("pg_hba.conf"),
        version,
        &MemoryLoader::new(),
    )
}

fn lint(file: HbaFile, version: PgVersion, policy: &Policy) -> Report {
    let snapshot = Snapshot::new("pg_hba.conf", 0)
        .with_pg_version(version)
        .with_hba(file);
    evaluate_rules(&snapshot, policy, |id| id.starts_with("hba."))
}

fn main() {
    let mode = RunMode::from_process();
    let mut criterion: Criterion = pgsec_benches::criterion(mode);
    let version = PgVersion::new(16).expect("16 is supported");
    let policy = Policy::default();
    let text = hba_text(LINES, SEED);
    let lines = u64::try_from(text.lines().count()).expect("line count fits");

    // Check once that the benchmark measures real work: every record parses, and the
    // generated file gives the linter something to report.
    let parsed = parse(&text, version);
    assert_eq!(
        parsed.errors().count(),
        0,
        "the generated file parses cleanly"
    );
    let records = parsed.rules().count();
    let findings = lint(parsed.clone(), version, &policy).findings().len();
    assert!(
        findings > 0,
        "the linter finds something in the generated file"
    );

    let mut group = criterion.benchmark_group("hba");
    group
        .throughput(Throughput::Elements(lines))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10);
    group.bench_with_input(BenchmarkId::new("parse", LINES), &text, |b, text| {
        b.iter(|| parse(black_box(text), version));
    });
    group.bench_with_input(BenchmarkId::new("lint", LINES), &parsed, |b, parsed| {
        b.iter_batched(
            || parsed.clone(),
            |file| lint(file, version, &policy),
            criterion::BatchSize::LargeInput,
        );
    });
    group.bench_with_input(
        BenchmarkId::new("parse_and_lint", LINES),
        &text,
        |b, text| {
            b.iter(|| lint(parse(black_box(text), version), version, &policy));
        },
    );
    group.finish();

    if mode.measuring {
        // criterion's own report gives lines/s per benchmark; one plain line as well.
        let runs = mode.pick(3, 10);
        let mut best = Duration::MAX;
        for _ in 0..runs {
            let start = Instant::now();
            black_box(lint(parse(&text, version), version, &policy));
            best = best.min(start.elapsed());
        }
        println!(
            "hba_parse: {lines} lines ({records} records, {findings} findings): parse + lint \
             best of {runs} in {:.1} ms = {:.0} lines/s",
            best.as_secs_f64() * 1e3,
            lines as f64 / best.as_secs_f64()
        );
    }
    criterion.final_summary();
}
