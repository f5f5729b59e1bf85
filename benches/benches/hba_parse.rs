//! Parsing and linting a generated 100,000-line `pg_hba.conf` with pgsec-core, in
//! lines per second (criterion's `Throughput::Elements`).
//!
//! - `hba/parse`: `HbaFile::parse` as PostgreSQL 16 reads the file;
//! - `hba/lint`: the `hba.*` rules of the evaluator over the parsed file (what
//!   `pgsec hba lint` runs);
//! - `hba/parse_and_lint`: both, as the CLI does for one file;
//! - `hba/baseline_split`: the same text cut into lines and white-space separated
//!   words, the least any reader of the file must do. Measured in the same run, it
//!   tells how busy the (shared) machine was: the summary line reports the parse and
//!   lint times as multiples of it as well.
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

/// Lines and words of the file, counted: the baseline.
fn split(text: &str) -> usize {
    text.lines()
        .map(|l| l.split_ascii_whitespace().count())
        .sum()
}

/// The best (shortest) of `runs` runs of `f`, in seconds.
fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        f();
        best = best.min(start.elapsed());
    }
    best.as_secs_f64()
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
    group.bench_with_input(
        BenchmarkId::new("baseline_split", LINES),
        &text,
        |b, text| {
            b.iter(|| split(black_box(text)));
        },
    );
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
        // Interleaved, so that the baseline sees the same machine as the work.
        let runs = mode.pick(5, 20);
        let (mut base, mut parsed_s, mut both) = (f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..runs {
            base = base.min(best_of(1, || {
                black_box(split(black_box(&text)));
            }));
            parsed_s = parsed_s.min(best_of(1, || {
                black_box(parse(black_box(&text), version));
            }));
            both = both.min(best_of(1, || {
                black_box(lint(parse(black_box(&text), version), version, &policy));
            }));
        }
        println!(
            "hba_parse: {lines} lines ({records} records, {findings} findings), best of {runs}: \
             baseline split {:.1} ms; parse {:.1} ms ({:.1}x baseline); parse + lint {:.1} ms \
             ({:.1}x baseline) = {:.0} lines/s",
            base * 1e3,
            parsed_s * 1e3,
            parsed_s / base,
            both * 1e3,
            both / base,
            lines as f64 / both
        );
    }
    criterion.final_summary();
}
