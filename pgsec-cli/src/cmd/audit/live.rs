//! `pgsec audit --url CONNINFO [--all-databases]`: audit a live server.
//!
//! Connects through pgsec-client (verified TLS over TCP, none over a Unix socket),
//! collects the catalog with pgsec-core's live collector and evaluates every rule.
//! Anything that stops the audit (bad connection string, unreachable server, refused TLS,
//! wrong credentials, a role that may read nothing) ends in exit 2 with one line saying
//! what failed and what to try; a database that could not be examined is reported as
//! skipped, never left out.

use pgsec_client::{connect, Config, ConnectionDetails, Environment, Host};
use pgsec_core::live::{collect, collect_database, CollectOptions, LiveCollection};
use pgsec_core::{evaluate, Policy, Report};
use tokio_postgres::error::SqlState;

use super::args::AuditArgs;
use super::report::{now, print_report};

pub(crate) fn run(args: &AuditArgs, url: &str, policy: Policy) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return crate::cmd::fail(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(live_report(args, url, &policy)) {
        Ok(report) => {
            let code = print_report(&report, &args.report);
            // The process ends here: freeing 100,000 findings one by one would only add
            // to the wall time.
            std::mem::forget(report);
            code
        }
        Err(msg) => crate::cmd::fail(msg),
    }
}

/// The report of one live server: connect, collect, evaluate (the fleet audit,
/// `fleet.rs`, calls it once per target). `Err` is the one line `run` prints.
pub(crate) async fn live_report(
    args: &AuditArgs,
    url: &str,
    policy: &Policy,
) -> Result<Report, String> {
    let (collection, details, target) = audit(args, url).await?;
    let mut snapshot = collection.into_snapshot(target, now());
    if let Some(app) = &args.app_role {
        snapshot = snapshot.with_app_role(app.clone());
    }
    // The same facts, judged by the same rules, as `pgsec ping`.
    snapshot = snapshot.with_client(details.client_facts());
    Ok(evaluate(&snapshot, policy))
}

async fn audit(
    args: &AuditArgs,
    url: &str,
) -> Result<(LiveCollection, ConnectionDetails, String), String> {
    let config = Config::parse_with_env(url, &Environment::current())
        .map_err(|e| format!("--url: {}", pgsec_core::display_chain(&e)))?;
    let (client, details) = connect(&config)
        .await
        .map_err(|e| connect_failure(&config, None, &e))?;
    let options = CollectOptions::default().current_user_is_app(args.as_app);
    let mut collection = collect(&client, &options).await.map_err(|e| {
        format!(
            "{}; try again as a superuser or a role with pg_monitor",
            pgsec_core::display_chain(&e)
        )
    })?;
    drop(client);
    let mut target = describe(
        &config,
        collection.current_user(),
        collection.current_database(),
    );
    if args.all_databases {
        let others: Vec<String> = collection.other_databases().map(str::to_owned).collect();
        for db in &others {
            let reason = match connect(&config.clone().dbname(db.clone())).await {
                Ok((client, _)) => match collect_database(&client).await {
                    Ok(facts) => {
                        collection.add_database(facts);
                        continue;
                    }
                    Err(e) => pgsec_core::display_chain(&e),
                },
                Err(e) => connect_failure(&config, Some(db), &e),
            };
            eprintln!("pgsec: warning: database {db} not examined (its rules are reported as skipped): {reason}");
            collection.add_unreadable_database(db.clone(), reason);
        }
        let mut names = vec![collection.current_database().to_owned()];
        names.extend(others);
        target = format!(
            "{target} and {} more ({})",
            names.len() - 1,
            names.join(", ")
        );
    }
    Ok((collection, details, target))
}

/// `user@host:port/db`, without any secret.
pub(super) fn describe(config: &Config, user: Option<&str>, db: &str) -> String {
    let host = match config.hosts().ok().and_then(|h| h.into_iter().next()) {
        Some(Host::Tcp { name, addr, port }) => {
            let shown = if name.is_empty() {
                addr.map(|a| a.to_string()).unwrap_or_default()
            } else {
                name
            };
            format!("{shown}:{port}")
        }
        Some(Host::Unix { dir, port }) => format!("{}/.s.PGSQL.{port}", dir.display()),
        Some(_) | None => "server".to_owned(),
    };
    format!("postgresql://{}@{host}/{db}", user.unwrap_or("?"))
}

/// One line: what failed, and what to try.
fn connect_failure(config: &Config, db: Option<&str>, e: &pgsec_client::Error) -> String {
    let what = pgsec_core::display_chain(e);
    let db = db.or(config.get_dbname()).unwrap_or("the database");
    let user = config.get_user().unwrap_or("the user");
    let hint: String = match e {
        // These already say what to do.
        pgsec_client::Error::Certificate { .. } | pgsec_client::Error::WeakSslMode { .. } => return what,
        pgsec_client::Error::Tls { .. } => {
            "the TLS handshake failed: check that the server has ssl = on; pgsec connects over TCP only with verified TLS (or use the Unix socket: host=/path/to/socket/dir)".into()
        }
        pgsec_client::Error::Connect(pg) => match pg.code() {
            Some(c) if *c == SqlState::INVALID_PASSWORD => {
                format!("check the user and password of {user} (password=, PGPASSWORD or ~/.pgpass)")
            }
            Some(c) if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => format!(
                "the server's pg_hba.conf does not admit {user} to {db} from this address over this transport, or the role may not log in"
            ),
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => format!("database {db} does not exist: check dbname"),
            Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => {
                let q = |n: &str| pgsec_core::sql::quote_ident(n).unwrap_or_else(|_| n.to_owned());
                format!(
                    "role {user} lacks CONNECT on {db}: GRANT CONNECT ON DATABASE {} TO {}, or audit as another role",
                    q(db),
                    q(user)
                )
            }
            Some(c) if *c == SqlState::TOO_MANY_CONNECTIONS => {
                "the server or the role is at its connection limit: try again later".into()
            }
            Some(_) => "see the server's message above".into(),
            None if what.contains("TLS") || what.contains("tls") || what.contains("ssl") => {
                "the server refused TLS (ssl = off?): enable ssl on the server, or connect through the Unix socket".into()
            }
            None => "is the server running and reachable at that host and port? check host, port and firewalls".into(),
        },
        _ => "check the connection string (see `pgsec ping --help`)".into(),
    };
    format!("{what}; {hint}")
}
