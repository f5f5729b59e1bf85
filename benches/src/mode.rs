//! How a bench binary was started, and criterion configured for it.

use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;

/// Set to anything but `0` or empty for the quick mode (as `-- --quick` does).
pub const QUICK_ENV: &str = "PGSEC_BENCH_QUICK";

/// How a bench binary was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunMode {
    /// `--quick` on the command line or [`QUICK_ENV`] set: fewer samples, shorter
    /// rounds, for CI-style smoke runs.
    pub quick: bool,
    /// `cargo bench` (criterion's `--bench` without `--test` or `--list`): measure and
    /// write the summary. False under `cargo test --benches`, where each benchmark runs
    /// once as a test.
    pub measuring: bool,
}

impl RunMode {
    /// Reads the process's arguments and environment.
    #[must_use]
    pub fn from_process() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick_env = std::env::var(QUICK_ENV).ok();
        Self::from_parts(&args, quick_env.as_deref())
    }

    /// The mode for these arguments (without the program name) and value of
    /// [`QUICK_ENV`].
    #[must_use]
    pub fn from_parts(args: &[String], quick_env: Option<&str>) -> Self {
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let quick_by_env = quick_env.is_some_and(|v| !v.is_empty() && v != "0");
        RunMode {
            quick: has("--quick") || quick_by_env,
            // Criterion's own rule: `--bench` measures unless `--test` asks for a test run.
            measuring: has("--bench") && !has("--test") && !has("--list"),
        }
    }

    /// Picks the quick or the full value.
    #[must_use]
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// A criterion for `mode`: in quick mode 10 samples, 0.3 s of warm-up, 1 s of
/// measurement and no plots. Command-line options (`--sample-size`, `--quick`, a filter
/// …) still apply on top.
#[must_use]
pub fn criterion(mode: RunMode) -> Criterion {
    let c = Criterion::default();
    let c = if mode.quick {
        c.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .without_plots()
    } else {
        c
    };
    c.configure_from_args()
}

/// Where the summaries go: `$CARGO_TARGET_DIR/pgsec-bench`, else the workspace's
/// `target/pgsec-bench`.
#[must_use]
pub fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("pgsec-bench")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn cargo_bench_measures_and_cargo_test_does_not() {
        let bench = RunMode::from_parts(&args(&["--bench"]), None);
        assert!(bench.measuring);
        assert!(!bench.quick);
        let test = RunMode::from_parts(&args(&[]), None);
        assert!(!test.measuring);
        let bench_test = RunMode::from_parts(&args(&["--bench", "--test"]), None);
        assert!(!bench_test.measuring);
        let list = RunMode::from_parts(&args(&["--bench", "--list"]), None);
        assert!(!list.measuring);
    }

    #[test]
    fn quick_from_flag_or_environment() {
        assert!(RunMode::from_parts(&args(&["--bench", "--quick"]), None).quick);
        assert!(RunMode::from_parts(&args(&["--bench"]), Some("1")).quick);
        assert!(!RunMode::from_parts(&args(&["--bench"]), Some("0")).quick);
        assert!(!RunMode::from_parts(&args(&["--bench"]), Some("")).quick);
        let quick = RunMode::from_parts(&args(&["--quick"]), None);
        assert_eq!(quick.pick(1, 2), 1);
        assert_eq!(RunMode::from_parts(&[], None).pick(1, 2), 2);
    }

    #[test]
    fn output_goes_under_a_target_directory() {
        assert!(output_dir().ends_with("pgsec-bench"));
    }
}
