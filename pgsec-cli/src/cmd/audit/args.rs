//! The arguments of `pgsec audit` (and the report options `hba lint` shares).

use std::path::PathBuf;
use std::time::Duration;

use pgsec_core::hba::PgVersion;
use pgsec_core::render::{Format, RenderOptions};
use pgsec_core::{Policy, Severity};

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// Text grouped by severity (coloured as --color says).
    Text,
    /// The documented JSON report.
    Json,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
    /// One self-contained HTML page (charts, sortable findings; one target only).
    Html,
}

impl From<OutputFormat> for Format {
    fn from(f: OutputFormat) -> Self {
        match f {
            OutputFormat::Text => Format::Text,
            OutputFormat::Json => Format::Json,
            OutputFormat::Sarif => Format::Sarif,
            OutputFormat::Html => Format::Html,
        }
    }
}

/// How a report is printed and when it fails (shared by `audit` and `hba lint`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: OutputFormat,
    /// Exit 1 when a finding is at or above this severity (critical, high, medium, low, info).
    #[arg(long = "fail-on", default_value = "high", value_parser = parse_severity)]
    pub(crate) fail_on: Severity,
    /// List at most N findings one by one (most severe first); the rest are counted per
    /// rule ("… N more findings not shown"). The summary and the exit code still count
    /// every finding.
    #[arg(long = "max-findings", value_name = "N")]
    pub(crate) max_findings: Option<usize>,
}

impl ReportArgs {
    /// The render options for standard output.
    pub(crate) fn render_options(&self) -> RenderOptions {
        // --color decides for text; the other formats never carry escape codes.
        let color = self.format == OutputFormat::Text && crate::color::on_stdout();
        RenderOptions::default()
            .color(color)
            .max_findings(self.max_findings)
    }
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}

/// PostgreSQL major version from `--pg-version`.
pub(crate) fn pg_version(n: u32) -> Result<PgVersion, String> {
    PgVersion::new(n).map_err(|n| {
        format!("--pg-version {n} is not supported; use a major version from 13 to 18")
    })
}

/// Arguments of `pgsec audit`.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    /// postgresql.conf to audit (includes are followed).
    #[arg(long = "config", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// pg_hba.conf to audit.
    #[arg(long = "hba", value_name = "FILE")]
    pub(crate) hba: Option<PathBuf>,
    /// Data directory: server.crt / server.key (or ssl_cert_file / ssl_key_file) are
    /// checked, and postgresql.auto.conf is read after --config as the server does.
    #[arg(long = "data-dir", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// PostgreSQL major version the files are for (13 to 18): its parsing rules,
    /// defaults and the rules of that major apply.
    #[arg(long = "pg-version", default_value_t = 15)]
    pub(crate) pg_version: u32,
    /// The role the application connects as (application rules).
    #[arg(long = "app-role", value_name = "ROLE")]
    pub(crate) app_role: Option<String>,
    /// Tenant column name (repeatable; default tenant_id).
    #[arg(long = "tenant-column", value_name = "COLUMN")]
    pub(crate) tenant_columns: Vec<String>,
    /// Suppress a rule id or a finding fingerprint (repeatable).
    #[arg(long = "suppress", value_name = "ID_OR_FINGERPRINT")]
    pub(crate) suppress: Vec<String>,
    /// Audit a live server: a connection string or postgres:// URL as psql takes it (the
    /// PG* variables and ~/.pgpass fill the rest). TCP connects only with verified TLS
    /// (sslmode=verify-full); a Unix-socket host needs none.
    ///
    /// Repeat --url (or use --targets) to audit a fleet: each target is audited, with
    /// at most --concurrency at a time and each within --target-timeout; exit 2 if a
    /// target could not be audited, else 1 if a finding is at or above --fail-on, else 0.
    #[arg(long = "url", value_name = "CONNINFO", conflicts_with_all = ["config", "hba", "data_dir"])]
    pub(crate) url: Vec<String>,
    /// Audit every server of FILE: one connection string per line; blank lines and lines
    /// starting with # are ignored (a fleet audit, as with several --url).
    #[arg(long = "targets", value_name = "FILE", conflicts_with_all = ["config", "hba", "data_dir"])]
    pub(crate) targets: Option<PathBuf>,
    /// Fleet audit: targets audited at the same time.
    #[arg(long = "concurrency", value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: u16,
    /// Fleet audit: a target not audited within this time (connect, collect, evaluate)
    /// is reported as timed out: seconds, or a number with ms, s or m (30s, 2m).
    #[arg(long = "target-timeout", value_name = "DURATION", default_value = "30s",
          value_parser = parse_duration)]
    pub(crate) target_timeout: Duration,
    /// With --url: audit every database the role may connect to, not only the one in
    /// the connection string.
    #[arg(long = "all-databases")]
    pub(crate) all_databases: bool,
    /// With --url: the connecting role is the application's role (application rules).
    #[arg(long = "as-app", conflicts_with = "app_role")]
    pub(crate) as_app: bool,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
    #[command(flatten)]
    pub(crate) input: crate::cmd::InputArgs,
}

impl AuditArgs {
    pub(crate) fn policy(&self) -> Policy {
        let mut p = Policy::default();
        if !self.tenant_columns.is_empty() {
            p = p.with_tenant_columns(self.tenant_columns.iter().cloned());
        }
        if let Some(r) = &self.app_role {
            p = p.with_app_role(r.clone());
        }
        for s in &self.suppress {
            p = p.suppress(s.clone());
        }
        p
    }
}

/// `30s`, `2m`, `500ms`, or a number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = t.split_at(digits);
    let bad = || format!("`{s}` is not a duration; use seconds, or a number with ms, s or m");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(format!("`{s}`: the timeout must be more than zero"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("").is_err());
    }
}
