//! `pgsec audit`: audit configuration files against the rule catalogue (`files.rs`), a
//! live server with `--url` (`live.rs`), or a fleet of servers with several `--url` or
//! `--targets` (`fleet.rs`). The arguments are in `args.rs`, printing in `report.rs`.

mod args;
mod files;
mod fleet;
mod live;
mod report;

use pgsec_core::evaluate;

pub(crate) use args::{pg_version, AuditArgs, ReportArgs};
pub(crate) use report::{now, print_report};

/// Runs `pgsec audit`: a fleet, one live server or files, as the arguments say; the exit
/// code.
pub(crate) fn run(args: AuditArgs) -> u8 {
    let live = args.targets.is_some() || !args.url.is_empty();
    if !live && (args.all_databases || args.as_app) {
        return crate::cmd::fail("--all-databases and --as-app need --url or --targets");
    }
    if args.targets.is_some() || args.url.len() > 1 {
        let policy = args.policy();
        return fleet::run(args, policy);
    }
    if let Some(url) = args.url.first() {
        return live::run(&args, url, args.policy());
    }
    let snapshot = match files::file_snapshot(&args) {
        Ok(s) => s,
        Err(e) => return crate::cmd::fail(e),
    };
    let report = evaluate(&snapshot, &args.policy());
    print_report(&report, &args.report)
}
