//! Shared pieces of pgsec's criterion benchmarks (the benches live in `benches/`).
//!
//! - [`RunMode`] and [`criterion()`]: how a bench binary was started (`cargo bench`,
//!   `cargo bench -- --quick`, `PGSEC_BENCH_QUICK=1`, `cargo test --benches`) and a
//!   criterion configured for it.
//! - [`Samples`] and [`Comparison`]: latencies and throughput measured in one run, and
//!   the table of ratios against a baseline from that same run, printed and written to
//!   `target/pgsec-bench/NAME.md` and `NAME.json`.
//! - [`hba_text`]: a generated `pg_hba.conf` of any length for the parser benchmark.
#![warn(missing_docs)]

mod comparison;
mod hba_text;
mod mode;
mod samples;

pub use comparison::{Comparison, ComparisonRow, Environment, Goal};
pub use hba_text::hba_text;
pub use mode::{criterion, output_dir, RunMode, QUICK_ENV};
pub use samples::Samples;
