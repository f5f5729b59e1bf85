//! `pgsec ping CONNINFO`: connect through pgsec-client (verify-full TLS) and describe the
//! connection: server version, TLS version and cipher, the server certificate, the
//! role's attributes and any `client.*` findings.
//!
//! Over a Unix-domain socket it says who runs the server (the peer's user id) and
//! whether `requirepeer` checked it; an unchecked socket is not called verified.
//!
//! Exit 0 when the server's identity is verified; 2 with a one-line reason otherwise.

use std::time::SystemTime;

use pgsec_client::{config_findings, connect, Config, ConnectionDetails, Environment, SocketPeer};
use pgsec_core::Finding;

/// Arguments of `pgsec ping`.
#[derive(Debug, clap::Args)]
pub(crate) struct PingArgs {
    /// libpq connection string or postgres:// URL (as given to psql); the PG*
    /// environment variables and ~/.pgpass fill what it leaves out.
    #[arg(default_value = "")]
    conninfo: String,
}

pub(crate) fn run(args: PingArgs) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::fail(format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(ping(&args.conninfo))
}

async fn ping(conninfo: &str) -> u8 {
    let config = match Config::parse_with_env(conninfo, &Environment::current()) {
        Ok(c) => c,
        Err(e) => return super::fail_error(&e),
    };
    let (client, details) = match connect(&config).await {
        Ok(ok) => ok,
        Err(e) => {
            print_findings(&config_findings(&config));
            return super::fail_error(&e);
        }
    };

    let version = client
        .query_one("select current_setting('server_version')", &[])
        .await
        .map(|r| r.get::<_, String>(0))
        .unwrap_or_else(|e| format!("unknown ({e})"));
    println!("server:       PostgreSQL {version}");
    print_tls(&details);

    match client
        .query_opt(
            "select rolname::text, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, \
             rolconnlimit from pg_roles where rolname = current_user",
            &[],
        )
        .await
    {
        Ok(Some(r)) => {
            let yn = |b: bool| if b { "yes" } else { "no" };
            let limit: i32 = r.get(5);
            println!(
                "role:         {} (superuser: {}, bypassrls: {}, createrole: {}, createdb: {}, \
                 connlimit: {})",
                r.get::<_, String>(0),
                yn(r.get(1)),
                yn(r.get(2)),
                yn(r.get(3)),
                yn(r.get(4)),
                if limit < 0 {
                    "unlimited".to_string()
                } else {
                    limit.to_string()
                }
            );
        }
        Ok(None) => println!("role:         not visible in pg_roles"),
        Err(e) => println!("role:         unknown ({e})"),
    }

    if let Some(require) = config.get_require_auth() {
        println!("auth:         require_auth={require} (enforced)");
    }
    let findings = details.findings();
    print_findings(&findings);
    if details.is_verified() {
        println!("verified:     yes");
        0
    } else if let Some(peer) = &details.peer {
        super::fail(format!(
            "connected, but the server behind the Unix socket was not verified: {}",
            peer_fix(peer)
        ))
    } else {
        super::fail(
            "connected, but the server's identity was not verified (sslmode below verify-full)",
        )
    }
}

/// Who the peer is, in words: "postgres (uid 104)".
fn peer_identity(peer: &SocketPeer) -> String {
    match (&peer.user, peer.uid) {
        (Some(user), Some(uid)) => format!("{user} (uid {uid})"),
        (None, Some(uid)) => format!("uid {uid} (no user name in /etc/passwd)"),
        _ => "an unknown user (the system did not say)".into(),
    }
}

/// What to set so that the socket's peer is checked.
fn peer_fix(peer: &SocketPeer) -> String {
    match &peer.user {
        Some(user) => format!(
            "set requirepeer={user} if {user} is the account your PostgreSQL server runs as"
        ),
        None => "set requirepeer=<the account your PostgreSQL server runs as>".into(),
    }
}

fn print_tls(details: &ConnectionDetails) {
    let Some(tls) = &details.tls else {
        if let Some(peer) = &details.peer {
            println!(
                "transport:    Unix-domain socket {} (no TLS)",
                peer.socket.display()
            );
            match &peer.required {
                Some(required) => println!(
                    "peer:         server process runs as {}; verified by requirepeer={required}",
                    peer_identity(peer)
                ),
                None => println!(
                    "peer:         server process runs as {}; NOT verified ({})",
                    peer_identity(peer),
                    peer_fix(peer)
                ),
            }
        } else if details.unix_socket {
            println!("transport:    Unix-domain socket (no TLS)");
        } else {
            println!("transport:    TCP without TLS");
        }
        return;
    };
    println!("host:         {}", tls.server_name);
    println!(
        "tls:          {}, {}{}",
        tls.protocol_version,
        tls.cipher_suite,
        if tls.direct {
            format!(
                ", direct TLS (ALPN {})",
                tls.alpn_protocol.as_deref().unwrap_or("none")
            )
        } else {
            String::new()
        }
    );
    let Some(peer) = &tls.peer_certificate else {
        println!("certificate:  none presented");
        return;
    };
    println!(
        "certificate:  subject {}",
        display_or_empty(&peer.facts.subject)
    );
    println!(
        "              issuer  {}",
        display_or_empty(&peer.facts.issuer)
    );
    let names = peer.names();
    println!(
        "              SANs    {}",
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    );
    let left = match peer.remaining_validity(SystemTime::now()) {
        Some(d) => format!("in {} days", d.as_secs() / 86_400),
        None => "EXPIRED".to_string(),
    };
    println!("              expires {} ({left})", peer.not_after_utc());
    println!(
        "              channel binding {}",
        if tls.channel_binding_available {
            "available (tls-server-end-point)"
        } else {
            "unavailable"
        }
    );
}

fn display_or_empty(s: &str) -> &str {
    if s.is_empty() {
        "(empty)"
    } else {
        s
    }
}

/// pgsec-core's findings on this connection's client facts: the same rules, on the same
/// facts, as `pgsec audit --url` reports for its own connection.
fn print_findings(findings: &[Finding]) {
    if findings.is_empty() {
        println!("findings:     none");
        return;
    }
    println!("findings:");
    for f in findings {
        println!("  [{}] {}: {}", f.severity(), f.id(), f.evidence());
        println!("      fix: {}", f.remediation());
    }
}
