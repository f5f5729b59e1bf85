//! `pgsec hba parse|lint`.

use std::io::Write as _;
use std::path::PathBuf;

use pgsec_core::hba::{format_view_table, HbaFile, HbaParseOptions};

/// Subcommands of `pgsec hba`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum HbaCommand {
    /// Parse a pg_hba.conf into the shape of pg_hba_file_rules.
    Parse(ParseArgs),
    /// Lint a pg_hba.conf: the hba.* findings, with line numbers.
    Lint(LintArgs),
}

/// Arguments of `pgsec hba lint`.
#[derive(Debug, clap::Args)]
pub(crate) struct LintArgs {
    /// The pg_hba.conf file (included files are read relative to it).
    pub(crate) file: PathBuf,
    /// PostgreSQL major version whose parsing rules apply (13 to 18).
    #[arg(long = "pg-version", default_value_t = 15)]
    pub(crate) pg_version: u32,
    #[command(flatten)]
    pub(crate) report: super::audit::ReportArgs,
    #[command(flatten)]
    pub(crate) input: super::InputArgs,
}

/// Output format of `pgsec hba parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ParseFormat {
    /// A JSON array of pg_hba_file_rules rows.
    Json,
    /// A readable table.
    Text,
}

/// Arguments of `pgsec hba parse`.
#[derive(Debug, clap::Args)]
pub(crate) struct ParseArgs {
    /// The pg_hba.conf file (included files are read relative to it).
    pub(crate) file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub(crate) format: ParseFormat,
    /// PostgreSQL major version whose parsing rules apply (13 to 18).
    #[arg(long = "pg-version", default_value_t = 15)]
    pub(crate) pg_version: u32,
    /// Show the values of secret options (ldapbindpasswd, radiussecrets) as the server's
    /// view does; they are `<redacted>` otherwise.
    #[arg(long = "show-secrets")]
    pub(crate) show_secrets: bool,
    #[command(flatten)]
    pub(crate) input: super::InputArgs,
}

pub(crate) fn run(cmd: HbaCommand) -> u8 {
    match cmd {
        HbaCommand::Parse(args) => parse(&args),
        HbaCommand::Lint(args) => lint(&args),
    }
}

fn lint(args: &LintArgs) -> u8 {
    let version = match super::audit::pg_version(args.pg_version) {
        Ok(v) => v,
        Err(e) => return super::fail(e),
    };
    let options = HbaParseOptions::new(version).with_limits(args.input.limits());
    let file = match HbaFile::load_with(&args.file, &options) {
        Ok(f) => f,
        Err(e) => return super::fail_error(&e),
    };
    let snapshot = pgsec_core::Snapshot::new(args.file.display().to_string(), super::audit::now())
        .with_pg_version(version)
        .with_hba(file);
    let policy = pgsec_core::Policy::default();
    let report = pgsec_core::evaluate_rules(&snapshot, &policy, |id| id.starts_with("hba."));
    super::audit::print_report(&report, &args.report)
}

fn parse(args: &ParseArgs) -> u8 {
    let version = match super::audit::pg_version(args.pg_version) {
        Ok(v) => v,
        Err(e) => return super::fail(e),
    };
    let options = HbaParseOptions::new(version).with_limits(args.input.limits());
    let file = match HbaFile::load_with(&args.file, &options) {
        Ok(f) => f,
        Err(e) => return super::fail_error(&e),
    };
    let rows = if args.show_secrets {
        file.to_view_rows_with_secrets(version)
    } else {
        file.to_view_rows(version)
    };
    let written = match args.format {
        // Streamed: the rows are serialized as they are written.
        ParseFormat::Json => super::stream_stdout(|out| {
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
            serde_json::to_writer_pretty(&mut out, &rows)?;
            out.write_all(b"\n")?;
            out.flush()
        }),
        ParseFormat::Text => super::write_stdout(&format_view_table(&rows, version)),
    };
    match written {
        Ok(()) => 0,
        Err(e) => super::fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgsec_core::hba::PgVersion;

    #[test]
    fn text_table_has_header_rows_and_count() {
        let file = HbaFile::parse(
            "local all all peer\nhost all all 10.0.0.0/8 bogus\n",
            std::path::Path::new("/d/pg_hba.conf"),
            PgVersion::V15,
            &pgsec_core::MemoryLoader::new(),
        );
        let t = format_view_table(&file.to_view_rows(PgVersion::V15), PgVersion::V15);
        assert!(t.starts_with("line_number | type"), "{t}");
        assert!(t.contains("invalid authentication method \"bogus\""), "{t}");
        assert!(t.ends_with("(2 rows)\n"), "{t}");
    }
}
