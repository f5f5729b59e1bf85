//! `pgsec hba parse|lint`.

use std::path::PathBuf;

use pgsec_core::hba::{HbaFile, HbaViewRow, PgVersion};

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
    /// PostgreSQL major version whose parsing rules apply (13 to 17).
    #[arg(long = "pg-version", default_value_t = 15)]
    pub(crate) pg_version: u32,
    #[command(flatten)]
    pub(crate) report: super::audit::ReportArgs,
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
    /// PostgreSQL major version whose parsing rules apply (13 to 17).
    #[arg(long = "pg-version", default_value_t = 15)]
    pub(crate) pg_version: u32,
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
    let file = match HbaFile::load(&args.file, version) {
        Ok(f) => f,
        Err(e) => return super::fail(format!("cannot read {}: {e}", args.file.display())),
    };
    let snapshot = pgsec_core::Snapshot::new(args.file.display().to_string(), super::audit::now())
        .with_pg_version(version)
        .with_hba(file);
    let policy = pgsec_core::Policy::default().with_fail_on(args.report.fail_on);
    let report = pgsec_core::evaluate_rules(&snapshot, &policy, |id| id.starts_with("hba."));
    super::audit::print_report(&report, &args.report)
}

fn parse(args: &ParseArgs) -> u8 {
    let version = match PgVersion::new(args.pg_version) {
        Ok(v) => v,
        Err(n) => {
            return super::fail(format!(
                "--pg-version {n} is not supported; use a major version from 13 to 17"
            ))
        }
    };
    let file = match HbaFile::load(&args.file, version) {
        Ok(f) => f,
        Err(e) => return super::fail(format!("cannot read {}: {e}", args.file.display())),
    };
    let rows = file.to_view_rows(version);
    match args.format {
        ParseFormat::Json => match serde_json::to_string_pretty(&rows) {
            Ok(s) => println!("{s}"),
            Err(e) => return super::fail(format!("cannot render JSON: {e}")),
        },
        ParseFormat::Text => print!("{}", text_table(&rows, version)),
    }
    0
}

/// A psql-like table of the rows; long cells are kept whole.
fn text_table(rows: &[HbaViewRow], version: PgVersion) -> String {
    let header: Vec<String> = HbaViewRow::columns(version)
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let body: Vec<Vec<String>> = rows.iter().map(HbaViewRow::cells).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &body {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let fmt_row = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", parts.join(" | ").trim_end())
    };
    let mut out = fmt_row(&header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("{}\n", rule.join("-+-")));
    for r in &body {
        out.push_str(&fmt_row(r));
    }
    out.push_str(&format!(
        "({} row{})\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_table_has_header_rows_and_count() {
        let file = HbaFile::parse(
            "local all all peer\nhost all all 10.0.0.0/8 bogus\n",
            std::path::Path::new("/d/pg_hba.conf"),
            PgVersion::V15,
            &pgsec_core::MemoryLoader::new(),
        );
        let t = text_table(&file.to_view_rows(PgVersion::V15), PgVersion::V15);
        assert!(t.starts_with("line_number | type"), "{t}");
        assert!(t.contains("invalid authentication method \"bogus\""), "{t}");
        assert!(t.ends_with("(2 rows)\n"), "{t}");
    }
}
