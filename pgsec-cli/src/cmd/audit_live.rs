//! `pgsec audit --url CONNINFO [--all-databases]`: audit a live server.
//!
//! Connects through pgsec-client (verified TLS over TCP, none over a Unix socket),
//! collects the catalog with pgsec-core's live collector and evaluates every rule.
//! Anything that stops the audit (bad connection string, unreachable server, refused TLS,
//! wrong credentials, a role that may read nothing) ends in exit 2 with one line saying
//! what failed and what to try; a database that could not be examined is reported as
//! skipped, never left out.

use std::time::UNIX_EPOCH;

use pgsec_client::{connect, Config, ConnectionDetails, Environment, Host};
use pgsec_core::live::{collect, collect_database, CollectOptions, LiveCollection};
use pgsec_core::snapshot::{CertificateFacts, ClientFacts, TlsVerification, Transport};
use pgsec_core::{evaluate, Policy};
use tokio_postgres::error::SqlState;

use super::audit::{now, print_report, AuditArgs};

pub(crate) fn run(args: &AuditArgs, url: &str, policy: Policy) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::fail(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(audit(args, url)) {
        Ok((collection, details, target)) => {
            let mut snapshot = collection.into_snapshot(target, now());
            if let Some(app) = &args.app_role {
                snapshot = snapshot.with_app_role(app.clone());
            }
            snapshot = snapshot.with_client(client_facts(&details));
            let report = evaluate(&snapshot, &policy);
            print_report(&report, &args.report)
        }
        Err(msg) => super::fail(msg),
    }
}

async fn audit(
    args: &AuditArgs,
    url: &str,
) -> Result<(LiveCollection, ConnectionDetails, String), String> {
    let config =
        Config::parse_with_env(url, &Environment::current()).map_err(|e| format!("--url: {e}"))?;
    let (client, details) = connect(&config)
        .await
        .map_err(|e| connect_failure(&config, None, &e))?;
    let options = CollectOptions::default().current_user_is_app(args.as_app);
    let mut collection = collect(&client, &options)
        .await
        .map_err(|e| format!("{e}; try again as a superuser or a role with pg_monitor"))?;
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
                    Err(e) => e.to_string(),
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
fn describe(config: &Config, user: Option<&str>, db: &str) -> String {
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
    let what = e.to_string().replace('\n', " ");
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

/// The client-side facts of the audit's own connection (for the `client.*` rules).
fn client_facts(d: &ConnectionDetails) -> ClientFacts {
    let (transport, verification) = if d.unix_socket {
        (Transport::UnixSocket, TlsVerification::None)
    } else if d.tls.as_ref().is_some_and(|t| t.identity_verified) {
        (Transport::Tcp, TlsVerification::ChainAndHost)
    } else if d.tls.is_some() {
        (Transport::Tcp, TlsVerification::EncryptedOnly)
    } else {
        (Transport::Tcp, TlsVerification::None)
    };
    let host = d
        .tls
        .as_ref()
        .map(|t| t.server_name.clone())
        .unwrap_or_else(|| "local socket".to_owned());
    let mut facts = ClientFacts::new(host, transport, d.ssl_mode.as_str(), verification);
    if let Some(tls) = &d.tls {
        facts = facts.with_tls(tls.protocol_version.clone(), tls.cipher_suite.clone());
        if let Some(cert) = &tls.peer_certificate {
            let secs = |t: std::time::SystemTime| {
                t.duration_since(UNIX_EPOCH)
                    .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                    .unwrap_or(0)
            };
            let mut c = CertificateFacts::new(
                cert.subject.clone(),
                secs(cert.not_before),
                secs(cert.not_after),
            );
            c.issuer = cert.issuer.clone();
            c.dns_sans = cert.dns_names.clone();
            c.ip_sans = cert.ip_addresses.clone();
            c.has_san_extension = !cert.dns_names.is_empty() || !cert.ip_addresses.is_empty();
            facts = facts.with_peer_certificate(c);
        }
    }
    facts
}
