//! libpq 16–18 connection options against a server of the testkit's major
//! (`PGSEC_PG_MAJOR`): `require_auth` against pg_hba.conf lines that ask for md5, a
//! clear-text password or nothing, `sslnegotiation=direct`, `sslcertmode`,
//! `load_balance_hosts` and `min/max_protocol_version`. Every verdict is asserted for
//! the major the server runs, and compared with psql of that same major (the psql in the
//! server's own container) wherever that libpq knows the option.

use std::process::Stdio;

use pgsec_client::{connect, AuthMethod, Config, Environment, Error, SslNegotiation};
use pgsec_testkit::TestServer;

use crate::harness::Files;

/// Roles whose pg_hba.conf line asks for less than SCRAM.
const MD5_ROLE: &str = "pgsec_md5";
const PASSWORD_ROLE: &str = "pgsec_password";
const TRUST_ROLE: &str = "pgsec_trust";

/// What pgsec-client must do with a case.
#[derive(Debug, Clone, Copy)]
enum Want {
    Connect,
    /// [`Error::AuthMethodRefused`] for this request.
    AuthRefused(AuthMethod),
    /// [`Error::TlsRequirement`] set by this option.
    TlsRequirement(&'static str),
    /// [`Error::InvalidValue`] for this key.
    Invalid(&'static str),
    /// [`Error::Unsupported`] for this key.
    Unsupported(&'static str),
}

impl Want {
    fn connects(self) -> bool {
        matches!(self, Want::Connect)
    }

    fn matches(self, outcome: &Result<(), Error>) -> bool {
        match (self, outcome) {
            (Want::Connect, Ok(())) => true,
            (Want::AuthRefused(m), Err(Error::AuthMethodRefused { requested, .. })) => {
                *requested == m
            }
            (Want::TlsRequirement(o), Err(Error::TlsRequirement { option, .. })) => *option == o,
            (Want::Invalid(k), Err(Error::InvalidValue { key, .. })) => key == k,
            (Want::Unsupported(k), Err(Error::Unsupported { key, .. })) => key == k,
            _ => false,
        }
    }
}

struct Case {
    name: &'static str,
    user: &'static str,
    /// Options appended to the connection string (a repeated key overrides, as in libpq).
    extra: &'static str,
    pgsec: Want,
    /// psql's verdict: `Some(connects)` where psql of this major knows every option
    /// of the case, `None` where it does not (it would refuse the unknown option).
    psql: Option<bool>,
}

/// A hardened server with three more roles, each admitted by an hba line asking for
/// less than SCRAM (the lines come before the kit's own, so they win).
async fn server() -> TestServer {
    let server = TestServer::builder()
        .hba_lines([
            format!("hostssl all {MD5_ROLE} all md5"),
            format!("hostssl all {PASSWORD_ROLE} all password"),
            format!("hostssl all {TRUST_ROLE} all trust"),
        ])
        .start()
        .await
        .expect("a testkit server (PGSEC_PG_MAJOR picks its major)");
    let password = server.info().app.password().replace('\'', "''");
    let admin = server.admin_client().await.unwrap();
    admin
        .batch_execute(&format!(
            "SET password_encryption = 'md5';
             CREATE ROLE {MD5_ROLE} LOGIN PASSWORD '{password}';
             RESET password_encryption;
             CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{password}';
             CREATE ROLE {TRUST_ROLE} LOGIN;
             GRANT CONNECT ON DATABASE postgres TO {MD5_ROLE}, {PASSWORD_ROLE}, {TRUST_ROLE};"
        ))
        .await
        .unwrap();
    server
}

/// The cases for a server of `major`, with psql's verdicts for a psql of `client_major`.
fn cases(major: u32, client_major: u32, server_requests_client_cert: bool) -> Vec<Case> {
    let app = pgsec_testkit::APP_USER;
    let direct = major >= 17;
    let knows = |since: u32| (client_major >= since).then_some(());
    let psql = |since: u32, connects: bool| knows(since).map(|()| connects);
    vec![
        Case {
            name: "require_auth=scram-sha-256, SCRAM server",
            user: app,
            extra: "require_auth=scram-sha-256",
            pgsec: Want::Connect,
            psql: psql(16, true),
        },
        Case {
            name: "the done-when pair: direct TLS and SCRAM only",
            user: app,
            extra: "sslnegotiation=direct require_auth=scram-sha-256",
            pgsec: if direct {
                Want::Connect
            } else {
                Want::TlsRequirement("sslnegotiation=direct")
            },
            psql: psql(17, direct),
        },
        Case {
            name: "require_auth=scram-sha-256, hba md5",
            user: MD5_ROLE,
            extra: "require_auth=scram-sha-256",
            pgsec: Want::AuthRefused(AuthMethod::Md5),
            psql: psql(16, false),
        },
        Case {
            name: "direct + require_auth=scram-sha-256, hba md5",
            user: MD5_ROLE,
            extra: "sslnegotiation=direct require_auth=scram-sha-256",
            pgsec: if direct {
                Want::AuthRefused(AuthMethod::Md5)
            } else {
                Want::TlsRequirement("sslnegotiation=direct")
            },
            psql: psql(17, false),
        },
        Case {
            name: "require_auth=!password, hba md5",
            user: MD5_ROLE,
            extra: "require_auth=!password",
            pgsec: Want::Connect,
            psql: psql(16, true),
        },
        Case {
            name: "require_auth=scram-sha-256, hba password",
            user: PASSWORD_ROLE,
            extra: "require_auth=scram-sha-256",
            pgsec: Want::AuthRefused(AuthMethod::Password),
            psql: psql(16, false),
        },
        Case {
            name: "require_auth=!password, hba password",
            user: PASSWORD_ROLE,
            extra: "require_auth=!password",
            pgsec: Want::AuthRefused(AuthMethod::Password),
            psql: psql(16, false),
        },
        Case {
            name: "require_auth=md5,password, hba password",
            user: PASSWORD_ROLE,
            extra: "require_auth=md5,password",
            pgsec: Want::Connect,
            psql: psql(16, true),
        },
        Case {
            name: "require_auth=scram-sha-256, hba trust",
            user: TRUST_ROLE,
            extra: "require_auth=scram-sha-256",
            pgsec: Want::AuthRefused(AuthMethod::None),
            psql: psql(16, false),
        },
        Case {
            name: "require_auth=!none, hba trust",
            user: TRUST_ROLE,
            extra: "require_auth=!none",
            pgsec: Want::AuthRefused(AuthMethod::None),
            psql: psql(16, false),
        },
        Case {
            name: "require_auth=none, hba trust",
            user: TRUST_ROLE,
            extra: "require_auth=none",
            pgsec: Want::Connect,
            psql: psql(16, true),
        },
        Case {
            name: "require_auth=none, SCRAM server",
            user: app,
            extra: "require_auth=none",
            pgsec: Want::AuthRefused(AuthMethod::ScramSha256),
            psql: psql(16, false),
        },
        Case {
            name: "require_auth=!oauth, SCRAM server",
            user: app,
            extra: "require_auth=!oauth",
            pgsec: Want::Connect,
            psql: psql(18, true),
        },
        Case {
            name: "direct with sslmode=prefer",
            user: app,
            extra: "sslnegotiation=direct sslmode=prefer",
            pgsec: Want::Invalid("sslnegotiation"),
            psql: psql(17, false),
        },
        Case {
            name: "sslcertmode=disable",
            user: app,
            extra: "sslcertmode=disable",
            pgsec: Want::Connect,
            psql: psql(16, true),
        },
        Case {
            name: "sslcertmode=require",
            user: app,
            extra: "sslcertmode=require",
            pgsec: if server_requests_client_cert {
                Want::Connect
            } else {
                Want::TlsRequirement("sslcertmode=require")
            },
            psql: psql(16, server_requests_client_cert),
        },
        Case {
            name: "load_balance_hosts=random over two hosts",
            user: app,
            extra: "host=localhost,localhost hostaddr=127.0.0.1,127.0.0.1 \
                    load_balance_hosts=random",
            pgsec: Want::Connect,
            psql: psql(16, true),
        },
        Case {
            name: "min/max_protocol_version=3.0",
            user: app,
            extra: "min_protocol_version=3.0 max_protocol_version=3.0",
            pgsec: Want::Connect,
            psql: psql(18, true),
        },
        // Deliberate differences: libpq 18 speaks protocol 3.2, tokio-postgres does not,
        // and pgsec-client says so instead of quietly downgrading.
        Case {
            name: "max_protocol_version=latest (psql 18 negotiates 3.2)",
            user: app,
            extra: "max_protocol_version=latest",
            pgsec: Want::Unsupported("max_protocol_version"),
            psql: psql(18, true),
        },
        Case {
            name: "min_protocol_version=3.2 (psql 18 negotiates 3.2)",
            user: app,
            extra: "min_protocol_version=3.2",
            pgsec: Want::Unsupported("min_protocol_version"),
            psql: psql(18, major >= 18),
        },
    ]
}

/// pgsec-client's verdict; a connection must be TLS as the server sees it.
async fn pgsec(server: &TestServer, files: &Files, user: &str, extra: &str) -> Result<(), Error> {
    let info = server.info();
    let conninfo = format!(
        "{} {extra}",
        info.conninfo_for(user, "postgres")
            .option("connect_timeout", "20")
            .build()
    );
    let env = Environment::empty()
        .var("PGPASSWORD", info.app.password())
        .home(files.home())
        .os_user("nobody");
    let config = Config::parse_with_env(&conninfo, &env)?;
    let (client, details) = connect(&config).await?;
    let row = client
        .query_one(
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    assert!(row.get::<_, bool>(0), "the server sees TLS");
    assert!(details.is_verified(), "verify-full");
    let tls = details.tls.as_ref().expect("a TLS session");
    let direct = config.get_ssl_negotiation() == SslNegotiation::Direct;
    assert_eq!(tls.direct, direct);
    if direct {
        assert_eq!(tls.alpn_protocol.as_deref(), Some("postgresql"));
    }
    Ok(())
}

/// psql of the server's own major, run inside the server's container against its
/// loopback address (the CA and the password travel in the environment). `Ok(())` when
/// `select 1` answered 1, else psql's stderr.
///
/// `client`: a certificate and key (PEM) written to `/tmp/pgsec-client.crt` and
/// `/tmp/pgsec-client.key` (mode 0600) inside the container first.
async fn psql(
    container: &str,
    server: &TestServer,
    user: &str,
    extra: &str,
    client: Option<(&str, &str)>,
) -> Result<(), String> {
    let info = server.info();
    let conninfo = format!(
        "host=localhost hostaddr=127.0.0.1 port=5432 sslmode=verify-full \
         sslrootcert=/tmp/pgsec-ca.crt user={user} dbname=postgres connect_timeout=20 {extra}"
    );
    let (cert, key) = client.unwrap_or_default();
    let out = tokio::process::Command::new("docker")
        .args([
            "exec",
            "-e",
            "PGPASSWORD",
            "-e",
            "PGSEC_CA",
            "-e",
            "HOME=/tmp",
        ])
        .args(["-e", "PGSEC_CERT", "-e", "PGSEC_KEY"])
        .arg(container)
        .args([
            "sh",
            "-c",
            "umask 077 && printf '%s' \"$PGSEC_CA\" > /tmp/pgsec-ca.crt && \
             printf '%s' \"$PGSEC_CERT\" > /tmp/pgsec-client.crt && \
             printf '%s' \"$PGSEC_KEY\" > /tmp/pgsec-client.key && \
             exec psql \"$1\" -X -A -t -c 'select 1'",
            "sh",
        ])
        .arg(&conninfo)
        .env("PGPASSWORD", info.app.password())
        .env("PGSEC_CA", &info.ca_pem)
        .env("PGSEC_CERT", cert)
        .env("PGSEC_KEY", key)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("docker runs");
    if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "1" {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// psql of `major` (a throw-away container of `pgsec/postgres:<major>` on the host's
/// network) against `server`; `None` when Docker or the image is not there.
async fn psql_of_major(
    major: u32,
    server: &TestServer,
    user: &str,
    extra: &str,
) -> Option<Result<(), String>> {
    let image = pgsec_testkit::image_for(major);
    let present = std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "ok", &image])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        return None;
    }
    let info = server.info();
    // The CA is written to /tmp/pgsec-ca.crt inside the container.
    let conninfo = format!(
        "{} {extra}",
        info.conninfo_for(user, "postgres")
            .sslrootcert("/tmp/pgsec-ca.crt")
            .option("sslmode", "verify-full")
            .option("connect_timeout", "20")
            .build()
    );
    let out = tokio::process::Command::new("docker")
        .args(["run", "--rm", "--network", "host", "--entrypoint", "sh"])
        .args(["-e", "PGPASSWORD", "-e", "PGSEC_CA", "-e", "HOME=/tmp"])
        .arg(&image)
        .args([
            "-c",
            "printf '%s' \"$PGSEC_CA\" > /tmp/pgsec-ca.crt && \
             exec psql \"$1\" -X -A -t -c 'select 1'",
            "sh",
        ])
        .arg(&conninfo)
        .env("PGPASSWORD", info.app.password())
        .env("PGSEC_CA", &info.ca_pem)
        .stdin(Stdio::null())
        .output()
        .await
        .ok()?;
    Some(
        if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "1" {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        },
    )
}

#[tokio::test]
async fn libpq_16_to_18_options_match_psql_of_the_servers_major() {
    let server = server().await;
    let major = server.major_version();
    let ssl_ca_file: String = server
        .admin_client()
        .await
        .unwrap()
        .query_one("select current_setting('ssl_ca_file')", &[])
        .await
        .unwrap()
        .get(0);
    let files = Files::new();
    let container = server.container_id().map(str::to_owned);
    // psql of the server's own major (in its container); for a server older than 16,
    // whose libpq knows none of these options, psql 18 (a container of its image on the
    // host's network) stands in.
    let client_major = match &container {
        Some(_) if major >= 16 => major,
        Some(_) => 18,
        None => 0,
    };
    if container.is_none() {
        eprintln!(
            "libpq_options: LOCAL BACKEND - no container holds a psql of major {major}; \
             pgsec-client's verdicts are asserted, the comparison with psql is NOT made \
             (run with Docker for it)"
        );
    }
    eprintln!("libpq_options: server major {major}, verdicts compared with psql {client_major}");
    let mut compared = 0;
    let mut failures = Vec::new();
    for case in cases(major, client_major, !ssl_ca_file.is_empty()) {
        let got = pgsec(&server, &files, case.user, case.extra).await;
        let psql_verdict = match (&container, case.psql) {
            (Some(id), Some(_)) if client_major == major => {
                Some(psql(id, &server, case.user, case.extra, None).await)
            }
            (Some(_), Some(_)) => psql_of_major(client_major, &server, case.user, case.extra).await,
            _ => None,
        };
        eprintln!(
            "libpq_options | {major} | {} | pgsec {} | psql {} |",
            case.name,
            match &got {
                Ok(()) => "connects".to_owned(),
                Err(e) => format!("refused: {e}"),
            },
            match &psql_verdict {
                None => "not compared (option unknown to this libpq)".to_owned(),
                Some(Ok(())) => "connects".to_owned(),
                Some(Err(e)) => format!("refused: {e}"),
            }
        );
        if !case.pgsec.matches(&got) {
            failures.push(format!(
                "{}: pgsec wanted {:?}, got {:?}",
                case.name, case.pgsec, got
            ));
        }
        if let (Some(want), Some(verdict)) = (case.psql, &psql_verdict) {
            compared += 1;
            if verdict.is_ok() != want {
                failures.push(format!(
                    "{}: psql {client_major} wanted {}, got {verdict:?}",
                    case.name,
                    if want { "connect" } else { "refuse" }
                ));
            }
            if want == case.pgsec.connects() && verdict.is_ok() != got.is_ok() {
                failures.push(format!("{}: psql and pgsec disagree", case.name));
            }
        }
    }
    eprintln!("libpq_options: {compared} verdicts compared with psql {client_major}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if container.is_some() {
        assert!(compared > 0, "psql {client_major} verdicts were compared");
    }
}

/// Direct TLS against a server older than 17 (15 here) is refused, naming the option
/// and what to use instead; psql 17 refuses it too (its libpq says the server closed
/// the connection).
#[tokio::test]
async fn direct_tls_is_refused_by_a_server_before_17() {
    let server = TestServer::builder()
        .major(15)
        .start()
        .await
        .expect("a PostgreSQL 15 server (scripts/build-pg-image.sh 15)");
    assert_eq!(server.major_version(), 15);
    let files = Files::new();
    let e = pgsec(
        &server,
        &files,
        pgsec_testkit::APP_USER,
        "sslnegotiation=direct require_auth=scram-sha-256",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::TlsRequirement {
                option: "sslnegotiation=direct",
                ..
            }
        ),
        "{e:?}"
    );
    let text = pgsec_core::display_chain(&e);
    assert!(text.contains("only PostgreSQL 17"), "{text}");
    assert!(text.contains("sslnegotiation=postgres"), "{text}");
    assert!(!text.contains(server.info().app.password()), "{text}");
    // libpq 17 (psql of the 17 image, on the host's network) refuses it as well.
    match psql_of_major(
        17,
        &server,
        pgsec_testkit::APP_USER,
        "sslnegotiation=direct require_auth=scram-sha-256",
    )
    .await
    {
        Some(verdict) => {
            eprintln!("direct against 15: psql 17 {verdict:?}");
            assert!(
                verdict.is_err(),
                "psql 17 must not connect with direct TLS to 15"
            );
        }
        None => eprintln!(
            "direct against 15: NOT compared with psql 17 (no Docker or no image {})",
            pgsec_testkit::image_for(17)
        ),
    }
    // The same configuration without direct connects: the refusal is about direct only.
    pgsec(
        &server,
        &files,
        pgsec_testkit::APP_USER,
        "require_auth=scram-sha-256",
    )
    .await
    .unwrap();
}

/// `sslcertmode` against a server that asks for client certificates (`ssl_ca_file`
/// set) and authenticates the app role by certificate: `require` connects (the server
/// asked), `disable` keeps the configured certificate back (the server then refuses),
/// `allow` sends it. psql of the server's major (16+) gives the same verdicts.
#[cfg(unix)]
#[tokio::test]
async fn sslcertmode_against_a_server_that_asks_for_a_client_certificate() {
    use crate::harness::{app_client_cert, client_cert_server};
    use pgsec_testkit::TestCa;
    use std::os::unix::fs::PermissionsExt;

    let ca = TestCa::new("sslcertmode root").unwrap();
    let server = client_cert_server(&ca).await;
    let major = server.major_version();
    let (client_cert, client_key) = app_client_cert(&ca);
    let files = Files::new();
    let crt = files.write("client.crt", &client_cert);
    let key = files.write("client.key", &client_key);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let container = server.container_id().map(str::to_owned);
    for (mode, connects) in [("require", true), ("allow", true), ("disable", false)] {
        let extra = format!("sslcertmode={mode}");
        let got = pgsec(
            &server,
            &files,
            pgsec_testkit::APP_USER,
            &format!("{extra} sslcert={} sslkey={}", crt.display(), key.display()),
        )
        .await;
        eprintln!("sslcertmode | {major} | {mode} | pgsec {got:?}");
        assert_eq!(got.is_ok(), connects, "sslcertmode={mode}: {got:?}");
        if let Err(e) = &got {
            // Refused by the server (no certificate), not by the client.
            assert!(
                pgsec_core::display_chain(e).contains("valid client certificate"),
                "{e}"
            );
        }
        match &container {
            Some(id) if major >= 16 => {
                let verdict = psql(
                    id,
                    &server,
                    pgsec_testkit::APP_USER,
                    &format!("{extra} sslcert=/tmp/pgsec-client.crt sslkey=/tmp/pgsec-client.key"),
                    Some((&client_cert, &client_key)),
                )
                .await;
                eprintln!("sslcertmode | {major} | {mode} | psql {verdict:?}");
                assert_eq!(
                    verdict.is_ok(),
                    connects,
                    "psql, sslcertmode={mode}: {verdict:?}"
                );
            }
            _ => eprintln!(
                "sslcertmode | {major} | {mode} | psql NOT compared (needs a container of \
                 PostgreSQL 16 or later)"
            ),
        }
    }
}
