//! Rendering one large report as text, JSON and SARIF, as ratios to text measured in
//! the same run.
//!
//! The report is `pgsec hba lint` of the generated 100,000-line `pg_hba.conf` (the
//! `hba_parse` bench's file), linted once:
//!
//! - `report/text`, `report/json`, `report/sarif`: `render_to` into `io::sink()`, in
//!   findings per second (criterion's `Throughput::Elements`);
//! - then, when measuring, the best of interleaved runs of each renderer, printed as
//!   times and as json ÷ text and sarif ÷ text;
//! - and end to end: the built `pgsec hba lint --format X` on the same file, once per
//!   format and run, its wall time and peak resident memory (the child's `ru_maxrss`
//!   from `wait4`), as ratios to `--format text`. The binary is `$PGSEC_BIN`, else
//!   `pgsec` next to this bench's profile directory: build it first with
//!   `cargo build --release -p pgsec-cli` (the step is skipped, with a note, without it).
//!
//! Linux counts in a child's `ru_maxrss` the memory of its parent at the time of the
//! spawn (the child starts in the parent's address space), so `pgsec` is not spawned by
//! this process, which holds the report, but by a fresh copy of this bench binary that
//! does nothing else (selected by an environment variable) and prints what it measured.
//!
//! Goal (issue 15): `pgsec hba lint --format json|sarif` within 1.5× of `--format text`
//! in time and in peak memory. Rendering alone is printed as ratios too: JSON and SARIF
//! write 1.5× and 2.8× the bytes of text, so they take longer to render; what the goal
//! bounds is the command as a whole.
//!
//! `cargo bench -p pgsec-benches --bench report_formats` (`-- --quick` for a smoke run).
//! No server is needed.

use std::hint::black_box;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use pgsec_benches::{hba_text, RunMode};
use pgsec_core::hba::{HbaFile, MemoryLoader, PgVersion};
use pgsec_core::render::{render_to, Format};
use pgsec_core::{evaluate_rules, Policy, Report, Snapshot};

const LINES: usize = 100_000;
const SEED: u64 = 0x5eed;
const FORMATS: [(Format, &str); 3] = [
    (Format::Text, "text"),
    (Format::Json, "json"),
    (Format::Sarif, "sarif"),
];
/// The goal for json ÷ text and sarif ÷ text, in time and in peak memory.
const GOAL: f64 = 1.5;

fn lint(text: &str, version: PgVersion) -> Report {
    let file = HbaFile::parse(
        text,
        Path::new("pg_hba.conf"),
        version,
        &MemoryLoader::new(),
    );
    let snapshot = Snapshot::new("pg_hba.conf", 0)
        .with_pg_version(version)
        .with_hba(file);
    evaluate_rules(&snapshot, &Policy::default(), |id| id.starts_with("hba."))
}

/// Renders into a sink (what the renderer costs, not the device).
fn render(report: &Report, format: Format) {
    render_to(black_box(report), format, false, io::sink()).expect("a sink accepts all");
}

/// Seconds `f` took.
fn timed(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

fn ratio_line(what: &str, unit: &str, values: &[f64; 3]) -> String {
    let [text, json, sarif] = *values;
    format!(
        "{what}: text {text:.1} {unit}, json {json:.1} {unit}, sarif {sarif:.1} {unit}; \
         json ÷ text {:.2}, sarif ÷ text {:.2} (goal ≤ {GOAL}: {})",
        json / text,
        sarif / text,
        if json / text <= GOAL && sarif / text <= GOAL {
            "met"
        } else {
            "MISSED"
        }
    )
}

/// The `pgsec` binary to run end to end: `$PGSEC_BIN`, else `pgsec` in this bench's
/// profile directory (`target/release/deps/report_formats-…` → `target/release/pgsec`).
fn pgsec_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("PGSEC_BIN").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("pgsec");
    bin.is_file().then_some(bin)
}

/// Set (to anything) in the copy of this binary that runs one command and prints its
/// exit code, wall time and peak memory.
const MEASURE_ENV: &str = "PGSEC_REPORT_FORMATS_MEASURE";

/// The measuring copy: runs its arguments as a command with standard output discarded
/// and prints `code seconds maxrss_kib`.
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

/// Runs `program args` through a measuring copy of this binary; returns its exit code,
/// wall time in seconds and peak resident memory in KiB.
fn run_measured(program: &Path, args: &[&std::ffi::OsStr]) -> io::Result<(i32, f64, u64)> {
    let out = Command::new(std::env::current_exe()?)
        .env(MEASURE_ENV, "1")
        .arg(program)
        .args(args)
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace();
    let mut next = || {
        fields
            .next()
            .ok_or_else(|| io::Error::other(format!("the measuring run printed {text:?}")))
    };
    let parse_err = |e: &dyn std::fmt::Display| io::Error::other(e.to_string());
    let code = next()?.parse().map_err(|e| parse_err(&e))?;
    let secs = next()?.parse().map_err(|e| parse_err(&e))?;
    let kib = next()?.parse().map_err(|e| parse_err(&e))?;
    Ok((code, secs, kib))
}

/// Waits for the child `pid` and returns its exit code and `ru_maxrss` (KiB on Linux):
/// `std::process::Child::wait` reaps without the resource usage, and
/// `RUSAGE_CHILDREN` would give the largest of all children so far.
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

/// `pgsec hba lint --format X` on the generated file, `runs` times per format
/// (interleaved): the best wall time (s) and the least peak memory (MiB) per format.
fn end_to_end(bin: &Path, file: &Path, runs: usize) -> io::Result<([f64; 3], [f64; 3])> {
    let mut secs = [f64::MAX; 3];
    let mut mib = [f64::MAX; 3];
    for _ in 0..runs {
        for (i, (_, name)) in FORMATS.iter().enumerate() {
            let args = ["hba", "lint", "--pg-version", "16", "--format", name];
            let mut args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
            args.push(file.as_os_str());
            let (code, s, kib) = run_measured(bin, &args)?;
            // 1: findings at or above the threshold, as expected for this file.
            if code != 1 {
                return Err(io::Error::other(format!(
                    "{} hba lint --format {name} exited with {code}",
                    bin.display()
                )));
            }
            secs[i] = secs[i].min(s);
            mib[i] = mib[i].min(kib as f64 / 1024.0);
        }
    }
    Ok((secs, mib))
}

fn main() {
    if std::env::var_os(MEASURE_ENV).is_some() {
        if let Err(e) = measure_child() {
            eprintln!("report_formats: measuring run failed: {e}");
            std::process::exit(2);
        }
        return;
    }
    let mode = RunMode::from_process();
    let mut criterion: Criterion = pgsec_benches::criterion(mode);
    let version = PgVersion::new(16).expect("16 is supported");
    let text = hba_text(LINES, SEED);
    let report = lint(&text, version);
    let findings = report.findings().len();
    assert!(findings > 0, "the linter finds something in the file");
    let bytes: Vec<usize> = FORMATS
        .iter()
        .map(|(format, _)| {
            let mut out = Vec::new();
            render_to(&report, *format, false, &mut out).expect("a Vec accepts all");
            out.len()
        })
        .collect();

    let mut group = criterion.benchmark_group("report");
    group
        .throughput(Throughput::Elements(
            u64::try_from(findings).expect("count fits"),
        ))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10);
    for (format, name) in FORMATS {
        group.bench_with_input(BenchmarkId::new(name, findings), &report, |b, report| {
            b.iter(|| render(report, format));
        });
    }
    group.finish();

    if mode.measuring {
        // Interleaved, so that every format sees the same machine.
        let runs = mode.pick(5, 20);
        let mut best = [f64::MAX; 3];
        for _ in 0..runs {
            for (i, (format, _)) in FORMATS.iter().enumerate() {
                best[i] = best[i].min(timed(|| render(&report, *format)));
            }
        }
        println!(
            "report_formats: {LINES} lines, {findings} findings; output {} / {} / {} MB \
             (text / json / sarif)",
            bytes[0] / 1_000_000,
            bytes[1] / 1_000_000,
            bytes[2] / 1_000_000
        );
        let [text_s, json_s, sarif_s] = best.map(|s| s * 1e3);
        println!(
            "render into a sink, best of {runs}: text {text_s:.1} ms, json {json_s:.1} ms, \
             sarif {sarif_s:.1} ms; json ÷ text {:.2}, sarif ÷ text {:.2}",
            json_s / text_s,
            sarif_s / text_s
        );
        match pgsec_binary() {
            None => println!(
                "end to end: skipped, no pgsec binary (cargo build --release -p pgsec-cli, \
                 or set PGSEC_BIN)"
            ),
            Some(bin) => {
                let file = std::env::temp_dir()
                    .join(format!("pgsec-report-formats-{}.conf", std::process::id()));
                let measured = std::fs::write(&file, &text)
                    .and_then(|()| end_to_end(&bin, &file, mode.pick(2, 5)));
                let _ = std::fs::remove_file(&file);
                match measured {
                    Ok((secs, mib)) => {
                        println!("end to end: {}", bin.display());
                        println!(
                            "{}",
                            ratio_line("  pgsec hba lint wall time", "ms", &secs.map(|s| s * 1e3))
                        );
                        println!("{}", ratio_line("  pgsec hba lint peak RSS", "MiB", &mib));
                    }
                    Err(e) => println!("end to end: failed: {e}"),
                }
            }
        }
    }
    criterion.final_summary();
}
