//! Printing a report, and the clock a snapshot is judged against.

use std::time::{SystemTime, UNIX_EPOCH};

use pgsec_core::render::render_to_with;
use pgsec_core::Report;

use super::args::ReportArgs;

/// Prints `report` and returns the exit code (0 or 1).
pub(crate) fn print_report(report: &Report, args: &ReportArgs) -> u8 {
    let options = args.render_options();
    match crate::cmd::stream_stdout(|out| render_to_with(report, args.format.into(), &options, out))
    {
        Ok(()) => u8::from(report.fails(args.fail_on)),
        Err(e) => crate::cmd::fail(e),
    }
}

/// Seconds since the Unix epoch (certificate expiry is judged against it).
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
