//! Audit a live server in CI: collect with pgsec-core's live collector over verify-full
//! TLS, write SARIF for code scanning, fail the job on findings at or above `high`.
//!
//! ```text
//! cargo run -p pgsec-examples --example audit_in_ci                   # throwaway server
//! cargo run -p pgsec-examples --example audit_in_ci -- \
//!     --url 'host=db.internal user=monitor dbname=app sslmode=verify-full sslrootcert=ca.crt' \
//!     --out pgsec.sarif --fail-on high
//! ```
//!
//! The password comes from `PGPASSWORD` or `~/.pgpass` (as with psql), never the command
//! line of a CI log. Exit codes: 0 clean, 1 findings at or above `--fail-on`, 2 the
//! audit could not run. Upload the SARIF with your CI's code-scanning step (GitHub:
//! `github/codeql-action/upload-sarif` with `sarif_file: pgsec.sarif`).
//!
//! The same, without writing code: `pgsec audit --url ... --all-databases --format sarif`.

use std::process::ExitCode;

use pgsec_client::{connect, Config, Environment};
use pgsec_core::live::{collect, collect_database, CollectOptions};
use pgsec_core::render::{render, Format};
use pgsec_core::{evaluate, Policy, Severity};

struct Args {
    url: Option<String>,
    out: String,
    fail_on: Severity,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        url: None,
        out: "pgsec.sarif".to_owned(),
        fail_on: Severity::High,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--url" => args.url = Some(value("--url")?),
            "--out" => args.out = value("--out")?,
            "--fail-on" => {
                args.fail_on = value("--fail-on")?
                    .parse()
                    .map_err(|e| format!("--fail-on: {e}"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("audit_in_ci: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let args = args()?;
    // Without --url: a throwaway hardened server, audited as its superuser.
    let mut _server = None;
    let (url, policy) = match &args.url {
        Some(url) => (url.clone(), Policy::default()),
        None => {
            let server = pgsec_testkit::TestServer::start().await?;
            let url = server.conninfo("postgres", &server.info().admin);
            _server = Some(server);
            // Suppressions are reviewed decisions, kept in the CI configuration with the
            // reason. The kit's test server admits its superuser over TLS on purpose.
            let policy = Policy::default().suppress("hba.superuser_network");
            (url, policy)
        }
    };

    // verify-full TLS (pgsec-client refuses anything weaker over TCP).
    let config = Config::parse_with_env(&url, &Environment::current())?;
    let (client, _details) = connect(&config).await?;
    let mut collection = collect(&client, &CollectOptions::default()).await?;
    // Every other database the role may connect to; one it cannot read is reported as
    // skipped rather than left out.
    let others: Vec<String> = collection.other_databases().map(str::to_owned).collect();
    for db in others {
        match connect(&config.clone().dbname(db.clone())).await {
            Ok((c, _)) => collection.add_database(collect_database(&c).await?),
            Err(e) => collection.add_unreadable_database(db, e.to_string()),
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let target = format!(
        "postgresql://{}/{}",
        config.get_user().unwrap_or("?"),
        collection.current_database()
    );
    let report = evaluate(&collection.into_snapshot(target, now), &policy);

    std::fs::write(&args.out, render(&report, Format::Sarif, false))?;
    let s = report.summary();
    println!(
        "wrote {}: {} critical, {} high, {} medium, {} low, {} skipped, {} suppressed",
        args.out, s.critical, s.high, s.medium, s.low, s.skipped, s.suppressed
    );
    for f in report
        .findings()
        .iter()
        .filter(|f| f.severity() >= args.fail_on)
    {
        println!("  {} {}: {}", f.severity(), f.id(), f.evidence());
    }
    if report.fails(args.fail_on) {
        println!("failing: findings at or above {}", args.fail_on);
        Ok(ExitCode::from(1))
    } else {
        println!("passing: nothing at or above {}", args.fail_on);
        Ok(ExitCode::SUCCESS)
    }
}
