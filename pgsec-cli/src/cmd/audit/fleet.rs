//! `pgsec audit --url A --url B …` or `--targets FILE`: a fleet audit.
//!
//! Each target is audited as `pgsec audit --url` audits one (`live::live_report`),
//! at most `--concurrency` at a time, each within `--target-timeout` (counted from the
//! moment its audit starts, not from the start of the run). A target that is down, hangs,
//! refuses TLS or the credentials is reported with its error and the others go on. The
//! output is every target's report, in the order given, and a summary.
//!
//! Exit code: 2 if any target could not be audited, else 1 if any report has a finding at
//! or above `--fail-on`, else 0.
//!
//! No error or label ever holds a password: labels are built from the parsed
//! connection string (`postgresql://user@host:port/db`), and any password written in a
//! target's string is masked in its error should a message ever quote it.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pgsec_client::{Config, Environment};
use pgsec_core::render::{render_to_with, Format};
use pgsec_core::{Policy, Report};
use serde_json::{json, Value};

use super::args::{AuditArgs, OutputFormat};

/// One target: where it came from, a label without secrets, its connection string.
struct Target {
    label: String,
    url: String,
}

/// What auditing one target gave.
enum Outcome {
    Audited(Report),
    Failed(String),
}

/// The targets of `--url` (in order) then of `--targets FILE`.
fn targets(args: &AuditArgs) -> Result<Vec<Target>, String> {
    let mut urls: Vec<String> = args.url.clone();
    if let Some(path) = &args.targets {
        urls.extend(read_targets(path)?);
    }
    if urls.is_empty() {
        return Err("no target to audit: the --targets file lists no connection string".into());
    }
    Ok(urls
        .into_iter()
        .enumerate()
        .map(|(i, url)| Target {
            label: label(i + 1, &url),
            url,
        })
        .collect())
}

/// Connection strings of a targets file: one per line, `#` comments and blank lines
/// skipped.
fn read_targets(path: &Path) -> Result<Vec<String>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--targets {}: {e}", path.display()))?;
    Ok(target_lines(&text))
}

fn target_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// `postgresql://user@host:port/db` from the parsed string; never its password.
fn label(n: usize, url: &str) -> String {
    let Ok(config) = Config::parse_with_env(url, &Environment::current()) else {
        return format!("target {n} (connection string not understood)");
    };
    super::live::describe(
        &config,
        config.get_user(),
        config.get_dbname().unwrap_or("?"),
    )
}

/// The passwords written in a connection string (`password=…` or `user:…@` of a URL),
/// to mask in messages.
fn secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(rest) = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
    {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                out.push(password.to_owned());
            }
        }
        if let Some((_, query)) = rest.split_once('?') {
            for kv in query.split('&') {
                if let Some(v) = kv.strip_prefix("password=") {
                    out.push(v.to_owned());
                }
            }
        }
    } else {
        let mut rest = url;
        while let Some(at) = rest.find("password") {
            let after = rest[at + "password".len()..].trim_start();
            let Some(after) = after.strip_prefix('=') else {
                rest = &rest[at + 1..];
                continue;
            };
            let after = after.trim_start();
            let value: String = if let Some(quoted) = after.strip_prefix('\'') {
                quoted
                    .split('\'')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches('\\')
                    .to_owned()
            } else {
                after.split_whitespace().next().unwrap_or("").to_owned()
            };
            out.push(value);
            rest = &rest[at + 1..];
        }
    }
    out.retain(|s| s.len() >= 3);
    out
}

fn mask(message: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(message.to_owned(), |m, s| m.replace(s.as_str(), "********"))
}

pub(crate) fn run(args: AuditArgs, policy: Policy) -> u8 {
    if args.report.format == OutputFormat::Html {
        return crate::cmd::fail(
            "--format html renders one target's report; for several targets use json or sarif"
                .to_owned(),
        );
    }
    let targets = match targets(&args) {
        Ok(t) => t,
        Err(e) => return crate::cmd::fail(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return crate::cmd::fail(format!("cannot start the async runtime: {e}")),
    };
    let args = Arc::new(args);
    let outcomes = runtime.block_on(audit_all(&args, &targets, Arc::new(policy)));
    // Tasks still stuck on a hung socket are dropped with the runtime, not awaited.
    runtime.shutdown_background();
    let code = exit_code(&outcomes, &args);
    match print(&args, &targets, &outcomes, code) {
        Ok(()) => code,
        Err(e) => crate::cmd::fail(e),
    }
}

/// Audits every target, `--concurrency` at a time; the outcomes in target order.
async fn audit_all(args: &Arc<AuditArgs>, targets: &[Target], policy: Arc<Policy>) -> Vec<Outcome> {
    let permits = Arc::new(tokio::sync::Semaphore::new(usize::from(args.concurrency)));
    let timeout = args.target_timeout;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let (args, policy, permits) = (Arc::clone(args), Arc::clone(&policy), Arc::clone(&permits));
        let url = t.url.clone();
        tasks.spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return (i, Outcome::Failed("the audit was cancelled".into()));
            };
            let audited =
                tokio::time::timeout(timeout, super::live::live_report(&args, &url, &policy)).await;
            let outcome = match audited {
                Ok(Ok(report)) => Outcome::Audited(report),
                Ok(Err(e)) => Outcome::Failed(mask(&e, &secrets(&url))),
                Err(_) => Outcome::Failed(format!(
                    "timed out after {} (--target-timeout): the server did not complete the \
                     connection and the catalogue reads in time; is it overloaded, or is a \
                     firewall dropping packets?",
                    show_duration(timeout)
                )),
            };
            (i, outcome)
        });
    }
    let progress = std::io::stderr().is_terminal();
    let total = targets.len();
    let mut outcomes: Vec<Option<Outcome>> = (0..total).map(|_| None).collect();
    let (mut done, mut failed) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (i, outcome) = joined.unwrap_or_else(|e| {
            // A panicking audit is a bug; report it against no target rather than abort.
            (usize::MAX, Outcome::Failed(format!("internal error: {e}")))
        });
        done += 1;
        if matches!(outcome, Outcome::Failed(_)) {
            failed += 1;
        }
        if let Some(slot) = outcomes.get_mut(i) {
            *slot = Some(outcome);
        }
        if progress {
            eprint!("\rpgsec: audited {done}/{total} targets ({failed} not audited)");
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprintln!();
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Failed("internal error: no outcome".into())))
        .collect()
}

fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// 2 if a target could not be audited, else 1 if a report fails `--fail-on`, else 0.
fn exit_code(outcomes: &[Outcome], args: &AuditArgs) -> u8 {
    let mut code = 0;
    for o in outcomes {
        match o {
            Outcome::Failed(_) => return 2,
            Outcome::Audited(r) if r.fails(args.report.fail_on) => code = 1,
            Outcome::Audited(_) => {}
        }
    }
    code
}

/// The fleet's counts.
struct Counts {
    audited: usize,
    failing: usize,
    not_audited: usize,
}

fn counts(outcomes: &[Outcome], args: &AuditArgs) -> Counts {
    let mut c = Counts {
        audited: 0,
        failing: 0,
        not_audited: 0,
    };
    for o in outcomes {
        match o {
            Outcome::Audited(r) => {
                c.audited += 1;
                if r.fails(args.report.fail_on) {
                    c.failing += 1;
                }
            }
            Outcome::Failed(_) => c.not_audited += 1,
        }
    }
    c
}

fn print(
    args: &AuditArgs,
    targets: &[Target],
    outcomes: &[Outcome],
    code: u8,
) -> Result<(), String> {
    let options = args.report.render_options();
    let format: Format = args.report.format.into();
    crate::cmd::stream_stdout(|out| match args.report.format {
        OutputFormat::Text => {
            let c = counts(outcomes, args);
            for (i, (t, o)) in targets.iter().zip(outcomes).enumerate() {
                match o {
                    Outcome::Audited(r) => {
                        writeln!(
                            out,
                            "=== target {}/{}: {}: audited",
                            i + 1,
                            targets.len(),
                            t.label
                        )?;
                        render_to_with(r, format, &options, &mut *out)?;
                    }
                    Outcome::Failed(e) => {
                        writeln!(
                            out,
                            "=== target {}/{}: {}: NOT AUDITED\n  error: {e}",
                            i + 1,
                            targets.len(),
                            t.label
                        )?;
                    }
                }
                writeln!(out)?;
            }
            writeln!(out, "FLEET SUMMARY ({} targets)", targets.len())?;
            for (t, o) in targets.iter().zip(outcomes) {
                match o {
                    Outcome::Audited(r) => {
                        let verdict = if r.fails(args.report.fail_on) {
                            "FAIL"
                        } else {
                            "pass"
                        };
                        writeln!(out, "  {verdict:<12} {}  ({})", t.label, r.summary())?;
                    }
                    Outcome::Failed(e) => {
                        writeln!(out, "  NOT AUDITED  {}  ({e})", t.label)?;
                    }
                }
            }
            writeln!(
                out,
                "{} audited ({} with findings at or above {}), {} not audited; exit code {code}",
                c.audited, c.failing, args.report.fail_on, c.not_audited
            )
        }
        OutputFormat::Json => write_json(out, args, targets, outcomes, &options, code),
        OutputFormat::Sarif => write_sarif(out, targets, outcomes, &options),
        // Refused in `run` before anything is audited.
        OutputFormat::Html => Err(std::io::Error::other(
            "--format html renders one target's report, not a fleet's",
        )),
    })
}

fn summary_value(args: &AuditArgs, targets: &[Target], outcomes: &[Outcome], code: u8) -> Value {
    let c = counts(outcomes, args);
    json!({
        "audited": c.audited,
        "exit_code": code,
        "fail_on": args.report.fail_on.as_str(),
        "failing": c.failing,
        "not_audited": c.not_audited,
        "targets": targets.len(),
    })
}

/// `{"pgsec_version", "summary", "targets": [{"error"?, "report"?, "status", "target"}]}`;
/// each report is the single-target JSON document, written as it is rendered.
fn write_json(
    out: &mut impl std::io::Write,
    args: &AuditArgs,
    targets: &[Target],
    outcomes: &[Outcome],
    options: &pgsec_core::render::RenderOptions,
    code: u8,
) -> std::io::Result<()> {
    let summary = serde_json::to_string_pretty(&summary_value(args, targets, outcomes, code))
        .map_err(std::io::Error::other)?;
    writeln!(out, "{{")?;
    writeln!(
        out,
        "  \"pgsec_version\": {},",
        Value::from(env!("CARGO_PKG_VERSION"))
    )?;
    writeln!(out, "  \"summary\": {},", summary.replace('\n', "\n  "))?;
    write!(out, "  \"targets\": [")?;
    for (i, (t, o)) in targets.iter().zip(outcomes).enumerate() {
        write!(out, "{}\n    {{", if i == 0 { "" } else { "," })?;
        match o {
            Outcome::Audited(r) => {
                write!(out, "\n      \"report\": ")?;
                render_to_with(r, Format::Json, options, &mut *out)?;
                write!(out, "      ,\"status\": \"audited\",")?;
            }
            Outcome::Failed(e) => {
                write!(out, "\n      \"error\": {},", Value::from(e.as_str()))?;
                write!(out, "\n      \"status\": \"error\",")?;
            }
        }
        write!(
            out,
            "\n      \"target\": {}\n    }}",
            Value::from(t.label.as_str())
        )?;
    }
    writeln!(out, "\n  ]\n}}")
}

/// One SARIF log, one run per target; a target not audited is a run whose invocation
/// did not succeed, with its error as an `error` notification.
fn write_sarif(
    out: &mut impl std::io::Write,
    targets: &[Target],
    outcomes: &[Outcome],
    options: &pgsec_core::render::RenderOptions,
) -> std::io::Result<()> {
    let mut runs = Vec::with_capacity(targets.len());
    for (t, o) in targets.iter().zip(outcomes) {
        match o {
            Outcome::Audited(r) => {
                let mut buf = Vec::new();
                render_to_with(r, Format::Sarif, options, &mut buf)?;
                let mut log: Value = serde_json::from_slice(&buf).map_err(std::io::Error::other)?;
                if let Some(Value::Array(rs)) = log.get_mut("runs").map(Value::take) {
                    runs.extend(rs);
                }
            }
            Outcome::Failed(e) => runs.push(json!({
                "invocations": [{
                    "executionSuccessful": false,
                    "toolExecutionNotifications": [{
                        "level": "error",
                        "message": {"text": format!("{}: not audited: {e}", t.label)},
                    }],
                }],
                "properties": {"target": t.label},
                "results": [],
                "tool": {"driver": {
                    "informationUri": "https://example.invalid/pgsec",
                    "name": "pgsec",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "version": env!("CARGO_PKG_VERSION"),
                }},
            })),
        }
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": runs,
        "version": "2.1.0",
    });
    serde_json::to_writer_pretty(&mut *out, &log).map_err(std::io::Error::other)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_files_skip_comments_and_blanks() {
        let lines = target_lines("# fleet\n\nhost=a dbname=x\n  # off\n  host=b  \n");
        assert_eq!(lines, vec!["host=a dbname=x", "host=b"]);
    }

    #[test]
    fn passwords_are_found_and_masked() {
        let kv = "host=h password='s3cr\\'et' user=u";
        assert!(secrets(kv).iter().any(|s| s.starts_with("s3cr")));
        assert_eq!(
            secrets("host=h password = hunter22 user=u"),
            vec!["hunter22"]
        );
        assert_eq!(
            secrets("postgresql://u:hunter22@h:5432/db"),
            vec!["hunter22"]
        );
        assert_eq!(
            secrets("postgres://u@h/db?password=hunter22&sslmode=verify-full"),
            vec!["hunter22"]
        );
        assert_eq!(
            mask("bad password hunter22 for u", &secrets("password=hunter22")),
            "bad password ******** for u"
        );
        let l = label(1, "postgresql://u:hunter22@db.example.com:5433/app");
        assert_eq!(l, "postgresql://u@db.example.com:5433/app");
        assert!(!label(2, "host=h password=hunter22 user=u dbname=d").contains("hunter22"));
    }
}
