//! `pgsec audit`: audit configuration files against the rule catalogue; `--url`
//! audits a live server (`audit_live.rs`).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pgsec_core::conf::{ConfFile, ConfParseOptions};
use pgsec_core::hba::{HbaFile, HbaParseOptions, PgVersion};
use pgsec_core::render::{render_to_with, Format, RenderOptions};
use pgsec_core::snapshot::ServerTlsFiles;
use pgsec_core::{evaluate, Policy, Report, Severity, Snapshot};

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

/// Prints `report` and returns the exit code (0 or 1).
pub(crate) fn print_report(report: &Report, args: &ReportArgs) -> u8 {
    let options = args.render_options();
    match super::stream_stdout(|out| render_to_with(report, args.format.into(), &options, out)) {
        Ok(()) => u8::from(report.fails(args.fail_on)),
        Err(e) => super::fail(e),
    }
}

/// PostgreSQL major version from `--pg-version`.
pub(crate) fn pg_version(n: u32) -> Result<PgVersion, String> {
    PgVersion::new(n).map_err(|n| {
        format!("--pg-version {n} is not supported; use a major version from 13 to 18")
    })
}

/// Seconds since the Unix epoch (certificate expiry is judged against it).
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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
          value_parser = super::fleet::parse_duration)]
    pub(crate) target_timeout: std::time::Duration,
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
    pub(crate) input: super::InputArgs,
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

pub(crate) fn run(args: AuditArgs) -> u8 {
    let live = args.targets.is_some() || !args.url.is_empty();
    if !live && (args.all_databases || args.as_app) {
        return super::fail("--all-databases and --as-app need --url or --targets");
    }
    if args.targets.is_some() || args.url.len() > 1 {
        let policy = args.policy();
        return super::fleet::run(args, policy);
    }
    if let Some(url) = args.url.first() {
        return super::audit_live::run(&args, url, args.policy());
    }
    let snapshot = match file_snapshot(&args) {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    let report = evaluate(&snapshot, &args.policy());
    print_report(&report, &args.report)
}

fn read_conf(path: &Path, args: &AuditArgs) -> Result<ConfFile, String> {
    let options = ConfParseOptions::default().with_limits(args.input.limits());
    let conf = ConfFile::load_with(path, &options).map_err(|e| pgsec_core::display_chain(&e))?;
    for e in &conf.errors {
        eprintln!(
            "pgsec: warning: {}:{}: {}",
            e.file, e.line_number, e.message
        );
    }
    Ok(conf)
}

/// A snapshot of the files named on the command line.
fn file_snapshot(args: &AuditArgs) -> Result<Snapshot, String> {
    if args.config.is_none() && args.hba.is_none() && args.data_dir.is_none() {
        return Err("nothing to audit: give --config, --hba and/or --data-dir".to_owned());
    }
    let version = pg_version(args.pg_version)?;
    let mut target = Vec::new();
    let mut snapshot = Snapshot::new(String::new(), now()).with_pg_version(version);
    let mut conf = match &args.config {
        Some(p) => {
            target.push(p.display().to_string());
            Some(read_conf(p, args)?)
        }
        None => None,
    };
    if let Some(dir) = &args.data_dir {
        if !dir.is_dir() {
            return Err(format!("--data-dir {} is not a directory", dir.display()));
        }
        target.push(dir.display().to_string());
        let auto = dir.join("postgresql.auto.conf");
        if auto.is_file() {
            let extra = read_conf(&auto, args)?;
            conf = Some(match conf {
                Some(mut c) => {
                    // The server reads postgresql.auto.conf last: its lines win.
                    for s in c.settings.iter_mut() {
                        if extra.settings.iter().any(|x| x.name == s.name) {
                            s.applied = false;
                        }
                    }
                    c.settings.extend(extra.settings);
                    c.errors.extend(extra.errors);
                    c
                }
                None => extra,
            });
        }
        snapshot =
            snapshot.with_server_tls_files(ServerTlsFiles::read_from_data_dir(dir, conf.as_ref()));
    }
    if let Some(c) = conf {
        snapshot = snapshot.with_conf(c);
    }
    if let Some(p) = &args.hba {
        target.push(p.display().to_string());
        let options = HbaParseOptions::new(version).with_limits(args.input.limits());
        let hba = HbaFile::load_with(p, &options).map_err(|e| pgsec_core::display_chain(&e))?;
        snapshot = snapshot.with_hba(hba);
    }
    snapshot.target = target.join(", ");
    if let Some(r) = &args.app_role {
        snapshot = snapshot.with_app_role(r.clone());
    }
    Ok(snapshot)
}
