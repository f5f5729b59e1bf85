use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

const SECRET: &str = "s3cr3t-Pa55";

fn err(s: &str) -> Error {
    Config::parse(s).unwrap_err()
}

#[test]
fn keyword_value_quoting_and_escapes() {
    let c = Config::parse(
        "host = db.example.com  port=5433 user='o\\'brien' password='a b\\\\c' \
         dbname=my\\ db application_name=''",
    )
    .unwrap();
    assert_eq!(c.hosts, vec!["db.example.com"]);
    assert_eq!(c.ports, vec![5433]);
    assert_eq!(c.get_user(), Some("o'brien"));
    assert_eq!(c.password.as_ref().unwrap().0, "a b\\c");
    assert_eq!(c.get_dbname(), Some("my db"));
    assert_eq!(c.application_name.as_deref(), Some(""));
}

#[test]
fn keyword_value_syntax_errors_never_quote_values() {
    let e = err(&format!("host=h password='{SECRET}"));
    assert!(matches!(e, Error::Syntax { .. }), "{e:?}");
    assert!(e.to_string().contains("unterminated quoted string"));
    assert!(!e.to_string().contains(SECRET));
    let e = err("host");
    assert!(
        e.to_string()
            .contains("missing \"=\" after host (position 1)"),
        "{e}"
    );
    // A bare word (here the tail of an unquoted password) is located, not repeated.
    let e = err(&format!("host=h password=a {SECRET} user=u"));
    assert!(
        e.to_string()
            .contains("missing \"=\" after the word at position 19"),
        "{e}"
    );
    assert!(!e.to_string().contains(SECRET) && !format!("{e:?}").contains(SECRET));
    let e = err(&format!("host=h {SECRET}='x"));
    assert!(e.to_string().contains("the word at position 8"), "{e}");
    assert!(!e.to_string().contains(SECRET));
    assert!(matches!(
        err("hots=x"),
        Error::UnknownOption {
            position: Some(1),
            suggestion: Some("host")
        }
    ));
    let e = err(&format!("host=h {SECRET}=1"));
    assert!(
        matches!(
            e,
            Error::UnknownOption {
                position: Some(8),
                suggestion: None
            }
        ),
        "{e:?}"
    );
    assert!(!e.to_string().contains(SECRET) && !format!("{e:?}").contains(SECRET));
}

#[test]
fn value_errors_name_the_key_never_the_value() {
    for (conninfo, key) in [
        ("sslmode={}", "sslmode"),
        ("channel_binding={}", "channel_binding"),
        ("port={}", "port"),
        ("connect_timeout={}", "connect_timeout"),
        ("keepalives={}", "keepalives"),
        ("sslnegotiation={}", "sslnegotiation"),
        ("ssl_min_protocol_version={}", "ssl_min_protocol_version"),
        ("ssl_max_protocol_version={}", "ssl_max_protocol_version"),
        ("target_session_attrs={}", "target_session_attrs"),
        ("load_balance_hosts={}", "load_balance_hosts"),
        ("require_auth={}", "require_auth"),
        ("sslcertmode={}", "sslcertmode"),
        ("min_protocol_version={}", "min_protocol_version"),
        ("max_protocol_version={}", "max_protocol_version"),
        ("ssl={}", "ssl"),
    ] {
        let e = err(&conninfo.replace("{}", SECRET));
        assert!(
            matches!(&e, Error::InvalidValue { key: k, .. } if k == key),
            "{conninfo}: {e:?}"
        );
        assert!(!e.to_string().contains(SECRET), "{e}");
        assert!(!format!("{e:?}").contains(SECRET), "{e:?}");
    }
    let e = Config::parse(&format!("hostaddr={SECRET}"))
        .unwrap()
        .hosts()
        .unwrap_err();
    assert!(!e.to_string().contains(SECRET), "{e}");
    assert!(e.to_string().contains("entry 1"), "{e}");
}

#[test]
fn every_known_key_is_an_option() {
    // KNOWN_KEYS decides which keys an error may name: it must match set_option.
    for key in KNOWN_KEYS {
        let outcome = Config::new().set_option(key, "");
        assert!(
            !matches!(outcome, Err(Error::UnknownOption { .. })),
            "{key}"
        );
    }
    assert!(matches!(
        Config::new().set_option("sslmdoe", "x"),
        Err(Error::UnknownOption {
            position: None,
            suggestion: Some("sslmode")
        })
    ));
}

#[test]
fn url_password_with_an_unencoded_at_sign_is_refused() {
    for url in [
        "postgresql://app:p@ss@db.example.com/app",
        "postgres://app:p@ss@w@rd@db.example.com:5433/app?sslmode=verify-full",
        "postgresql://app@corp:pw@db.example.com",
    ] {
        let e = err(url);
        assert!(matches!(e, Error::Syntax { .. }), "{url}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains("%40"), "{msg}");
        assert!(!msg.contains("ss@") && !msg.contains("db.example"), "{msg}");
    }
    // A '/' in the password would make the rest look like a path with an '@'.
    let e = err("postgresql://app:pa/ss@db.example.com/app");
    assert!(e.to_string().contains("%2F"), "{e}");
    assert!(!e.to_string().contains("pa/ss"), "{e}");
    // Encoded, all is well.
    let c = Config::parse("postgresql://app:p%40ss%2Fx@db.example.com/app").unwrap();
    assert_eq!(c.password.as_ref().unwrap().0, "p@ss/x");
    assert_eq!(c.hosts, vec!["db.example.com"]);
    // '@' in a query value is not part of the authority.
    let c = Config::parse("postgresql://db.example.com/app?application_name=a@b").unwrap();
    assert_eq!(c.application_name.as_deref(), Some("a@b"));
    let e = err(&format!("postgresql://h/db?{SECRET}=1"));
    assert!(
        matches!(
            e,
            Error::UnknownOption {
                position: Some(19),
                ..
            }
        ),
        "{e:?}"
    );
    let e = err(&format!("postgresql://u:pw?{SECRET}@h/db"));
    assert!(!e.to_string().contains(SECRET), "{e}");
}

#[test]
fn requirepeer_and_require_auth_are_options() {
    let c = Config::parse("host=/run/pg user=u requirepeer=postgres require_auth=scram-sha-256")
        .unwrap();
    assert_eq!(c.get_requirepeer(), Some("postgres"));
    assert_eq!(
        c.get_require_auth().map(|r| r.to_string()).as_deref(),
        Some("scram-sha-256")
    );
    // A tokio-postgres configuration could not enforce them over a socket.
    for conninfo in [
        "host=/run/pg user=u requirepeer=postgres",
        "host=/run/pg user=u require_auth=!password",
    ] {
        let e = Config::parse(conninfo)
            .unwrap()
            .to_tokio_config()
            .unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
        assert!(e.to_string().contains("pgsec_client::connect"), "{e}");
    }
    // Over TCP requirepeer has no effect (libpq), require_auth needs TLS.
    assert!(Config::parse("host=db.test user=u requirepeer=postgres")
        .unwrap()
        .to_tokio_config()
        .is_ok());
    assert!(
        Config::parse("host=db.test user=u require_auth=scram-sha-256")
            .unwrap()
            .to_tokio_config()
            .is_ok()
    );
    let e = Config::parse("host=db.test user=u require_auth=scram-sha-256 sslmode=disable")
        .unwrap()
        .dangerous_allow_plaintext()
        .to_tokio_config()
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    // Empty values leave the checks off, as in libpq; the environment supplies them.
    let c = Config::parse("requirepeer='' require_auth=''").unwrap();
    assert!(c.get_requirepeer().is_none() && c.get_require_auth().is_none());
    let c = Config::parse_with_env(
        "",
        &env()
            .var("PGREQUIREPEER", "postgres")
            .var("PGREQUIREAUTH", "scram-sha-256"),
    )
    .unwrap();
    assert_eq!(c.get_requirepeer(), Some("postgres"));
    assert!(c.get_require_auth().is_some());
}

#[test]
fn libpq_16_to_18_options_are_honoured_or_refused_with_the_reason() {
    // sslcertmode (16): parsed, defaulting to allow; a bad value names the choices.
    let c = Config::parse("host=db.test user=u sslcertmode=require").unwrap();
    assert_eq!(c.get_ssl_cert_mode(), SslCertMode::Require);
    assert_eq!(Config::new().get_ssl_cert_mode(), SslCertMode::Allow);
    let e = err("sslcertmode=verify");
    assert!(e.to_string().contains("disable, allow, require"), "{e}");
    // libpq 18 refuses an empty value for each of the newer options (psql checked).
    for key in ["sslcertmode", "sslnegotiation", "load_balance_hosts"] {
        let e = err(&format!("{key}=''"));
        assert!(
            matches!(&e, Error::InvalidValue { key: k, .. } if k == key),
            "{key}: {e:?}"
        );
    }
    // ...and require is refused where no TLS could carry the request.
    for (conninfo, plaintext) in [
        ("host=/run/pg user=u sslcertmode=require", false),
        (
            "host=db.test user=u sslcertmode=require sslmode=prefer",
            true,
        ),
    ] {
        let mut c = Config::parse(conninfo).unwrap();
        if plaintext {
            c = c.dangerous_allow_plaintext();
        }
        let e = c.to_tokio_config().unwrap_err();
        assert!(
            matches!(&e, Error::Unsupported { key, .. } if key == "sslcertmode"),
            "{conninfo}: {e:?}"
        );
    }

    // sslnegotiation=direct (17): TLS first, and only with sslmode require or stronger.
    let c = Config::parse("host=db.test user=u sslnegotiation=direct").unwrap();
    assert_eq!(c.get_ssl_negotiation(), SslNegotiation::Direct);
    assert_eq!(
        c.to_tokio_config().unwrap().get_ssl_negotiation(),
        tokio_postgres::config::SslNegotiation::Direct
    );
    assert_eq!(
        Config::parse("host=db.test user=u sslnegotiation=postgres")
            .unwrap()
            .to_tokio_config()
            .unwrap()
            .get_ssl_negotiation(),
        tokio_postgres::config::SslNegotiation::Postgres
    );
    for mode in ["disable", "allow", "prefer"] {
        for host in ["db.test", "/run/pg"] {
            let e = Config::parse(&format!(
                "host={host} user=u sslnegotiation=direct sslmode={mode}"
            ))
            .unwrap()
            .dangerous_allow_plaintext()
            .to_tokio_config()
            .unwrap_err();
            assert!(
                e.to_string().contains(&format!(
                    "weak sslmode \"{mode}\" may not be used with sslnegotiation=direct"
                )),
                "{e}"
            );
        }
    }

    // load_balance_hosts (16): handed to tokio-postgres.
    let c = Config::parse("host=a.test,b.test user=u load_balance_hosts=random").unwrap();
    assert!(c.get_load_balance_random());
    assert_eq!(
        c.to_tokio_config().unwrap().get_load_balance_hosts(),
        tokio_postgres::config::LoadBalanceHosts::Random
    );

    // min/max_protocol_version (18): 3.0 is what tokio-postgres speaks; 3.2 is refused.
    let c = Config::parse("min_protocol_version=3.0 max_protocol_version=3.0").unwrap();
    assert_eq!(c.min_protocol_version, Some(PROTOCOL_VERSION));
    assert_eq!(c.max_protocol_version, Some(PROTOCOL_VERSION));
    for key in ["min_protocol_version", "max_protocol_version"] {
        for value in ["3.2", "latest"] {
            let e = err(&format!("{key}={value}"));
            assert!(
                matches!(&e, Error::Unsupported { key: k, .. } if k == key),
                "{key}={value}: {e:?}"
            );
            assert!(e.to_string().contains("protocol 3.0 only"), "{e}");
        }
        for value in ["3.1", "3.3", "4.0", "3", "2.0", "3.0x", ""] {
            let e = err(&format!("{key}={value}"));
            assert!(
                matches!(&e, Error::InvalidValue { key: k, .. } if k == key),
                "{key}={value}: {e:?}"
            );
        }
    }

    // OAuth and SCRAM pass-through (18): refused, naming why.
    for key in [
        "oauth_issuer",
        "oauth_client_id",
        "oauth_client_secret",
        "oauth_scope",
        "scram_client_key",
        "scram_server_key",
    ] {
        let e = err(&format!("{key}={SECRET}"));
        assert!(
            matches!(&e, Error::Unsupported { key: k, .. } if k == key),
            "{key}: {e:?}"
        );
        assert!(!e.to_string().contains(SECRET), "{e}");
    }
    let r: crate::RequireAuth = "!oauth,!password".parse().unwrap();
    assert!(!r.allows(crate::AuthMethod::Oauth) && r.allows(crate::AuthMethod::ScramSha256));

    // The environment supplies each of them, and the string wins over it.
    let c = Config::parse_with_env(
        "",
        &env()
            .var("PGSSLNEGOTIATION", "direct")
            .var("PGSSLCERTMODE", "disable")
            .var("PGLOADBALANCEHOSTS", "random")
            .var("PGMINPROTOCOLVERSION", "3.0")
            .var("PGMAXPROTOCOLVERSION", "3.0"),
    )
    .unwrap();
    assert_eq!(c.get_ssl_negotiation(), SslNegotiation::Direct);
    assert_eq!(c.get_ssl_cert_mode(), SslCertMode::Disable);
    assert!(c.get_load_balance_random());
    assert_eq!(c.max_protocol_version, Some(PROTOCOL_VERSION));
    let c = Config::parse_with_env(
        "sslnegotiation=postgres load_balance_hosts=disable sslcertmode=allow",
        &env()
            .var("PGSSLNEGOTIATION", "direct")
            .var("PGLOADBALANCEHOSTS", "random")
            .var("PGSSLCERTMODE", "require"),
    )
    .unwrap();
    assert_eq!(c.get_ssl_negotiation(), SslNegotiation::Postgres);
    assert!(!c.get_load_balance_random());
    assert_eq!(c.get_ssl_cert_mode(), SslCertMode::Allow);
    let e = Config::parse_with_env("", &env().var("PGMAXPROTOCOLVERSION", "latest")).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
}

#[test]
fn url_with_everything() {
    let c = Config::parse(
        "postgresql://app%40corp:p%3Ass%2Fword@h1.example.com:5433,[2001:db8::1]:5434,h3/my%20db\
         ?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x%26y",
    )
    .unwrap();
    assert_eq!(c.get_user(), Some("app@corp"));
    assert_eq!(c.password.as_ref().unwrap().0, "p:ss/word");
    assert_eq!(c.hosts, vec!["h1.example.com", "2001:db8::1", "h3"]);
    assert_eq!(c.ports, vec![5433, 5434, DEFAULT_PORT]);
    assert_eq!(c.get_dbname(), Some("my db"));
    assert_eq!(c.get_ssl_mode(), SslMode::VerifyFull);
    assert_eq!(
        c.ssl_root_cert,
        Some(RootCert::File(PathBuf::from("/etc/ca.pem")))
    );
    assert_eq!(c.application_name.as_deref(), Some("x&y"));
}

#[test]
fn url_variants() {
    let c = Config::parse("postgres://%2Fvar%2Frun%2Fpostgresql/db").unwrap();
    assert_eq!(
        c.hosts().unwrap(),
        vec![Host::Unix {
            dir: PathBuf::from("/var/run/postgresql"),
            port: DEFAULT_PORT
        }]
    );
    let c = Config::parse("postgresql://").unwrap();
    assert!(c.hosts.is_empty() && c.user.is_none());
    let c = Config::parse("postgresql://h?ssl=true").unwrap();
    assert_eq!(c.get_ssl_mode(), SslMode::Require);
    let c = Config::parse("postgresql://u@h:6000").unwrap();
    assert_eq!((c.get_user(), c.ports.clone()), (Some("u"), vec![6000]));
    assert!(matches!(
        err("postgresql://h?nosuch=1"),
        Error::UnknownOption {
            position: Some(16),
            ..
        }
    ));
    let e = err(&format!("postgresql://u:{SECRET}%zz@h"));
    assert!(matches!(e, Error::Syntax { .. }));
    assert!(!e.to_string().contains(SECRET));
    assert!(matches!(err("postgresql://[::1/db"), Error::Syntax { .. }));
    assert!(matches!(
        err("postgresql://h:notaport"),
        Error::InvalidValue { .. }
    ));
}

#[test]
fn host_hostaddr_and_port_pair_up() {
    let c = Config::parse("host=a.test,b.test hostaddr=127.0.0.1,::1 port=1,2").unwrap();
    assert_eq!(
        c.hosts().unwrap(),
        vec![
            Host::Tcp {
                name: "a.test".into(),
                addr: Some("127.0.0.1".parse().unwrap()),
                port: 1
            },
            Host::Tcp {
                name: "b.test".into(),
                addr: Some("::1".parse().unwrap()),
                port: 2
            },
        ]
    );
    let one_port = Config::parse("host=a,b port=7").unwrap().hosts().unwrap();
    assert!(one_port
        .iter()
        .all(|h| matches!(h, Host::Tcp { port: 7, .. })));
    assert!(Config::parse("host=a,b hostaddr=127.0.0.1")
        .unwrap()
        .hosts()
        .is_err());
    assert!(Config::parse("host=a,b,c port=1,2")
        .unwrap()
        .hosts()
        .is_err());
    assert!(Config::parse("hostaddr=nope").unwrap().hosts().is_err());
    // hostaddr alone is TCP without a name.
    assert_eq!(
        Config::parse("hostaddr=10.1.2.3").unwrap().hosts().unwrap(),
        vec![Host::Tcp {
            name: String::new(),
            addr: Some("10.1.2.3".parse().unwrap()),
            port: DEFAULT_PORT
        }]
    );
}

#[test]
fn option_values_are_validated() {
    assert!(
        matches!(err("sslmode=verify_full"), Error::InvalidValue { key, .. } if key == "sslmode")
    );
    assert!(matches!(
        err("channel_binding=maybe"),
        Error::InvalidValue { .. }
    ));
    assert!(matches!(err("port=0"), Error::InvalidValue { .. }));
    assert!(matches!(err("sslcrl=/x.crl"), Error::Unsupported { .. }));
    assert!(matches!(
        err("target_session_attrs=primary"),
        Error::Unsupported { .. }
    ));
    let c = Config::parse("connect_timeout=1").unwrap();
    assert_eq!(c.connect_timeout, Some(Duration::from_secs(2)));
    let c = Config::parse("connect_timeout=0").unwrap();
    assert_eq!(c.connect_timeout, None);
    for mode in [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ] {
        let c = Config::parse(&format!("sslmode={mode}")).unwrap();
        assert_eq!(c.get_ssl_mode().as_str(), mode);
    }
    assert_eq!(
        Config::parse("sslrootcert=system").unwrap().ssl_root_cert,
        Some(RootCert::System)
    );
}

#[test]
fn default_sslmode_is_verify_full() {
    assert_eq!(Config::new().get_ssl_mode(), SslMode::VerifyFull);
    assert_eq!(Config::new().get_channel_binding(), ChannelBinding::Prefer);
}

fn env() -> Environment {
    Environment::empty().os_user("osuser").socket_dir("/run/pg")
}

#[test]
fn environment_fills_only_unset_options() {
    let e = env()
        .var("PGHOST", "envhost.test")
        .var("PGHOSTADDR", "127.0.0.1")
        .var("PGPORT", "6543")
        .var("PGUSER", "envuser")
        .var("PGPASSWORD", SECRET)
        .var("PGDATABASE", "envdb")
        .var("PGSSLMODE", "verify-ca")
        .var("PGSSLROOTCERT", "/env/root.crt")
        .var("PGSSLCERT", "/env/c.crt")
        .var("PGSSLKEY", "/env/c.key")
        .var("PGCHANNELBINDING", "require")
        .var("PGAPPNAME", "envapp")
        .var("PGCONNECT_TIMEOUT", "10");
    let c = Config::parse_with_env("user=mine sslmode=verify-full", &e).unwrap();
    assert_eq!(c.get_user(), Some("mine"));
    assert_eq!(c.get_ssl_mode(), SslMode::VerifyFull);
    assert_eq!(c.hosts, vec!["envhost.test"]);
    assert_eq!(c.hostaddrs, vec!["127.0.0.1"]);
    assert_eq!(c.ports, vec![6543]);
    assert_eq!(c.password.as_ref().unwrap().0, SECRET);
    assert_eq!(c.get_dbname(), Some("envdb"));
    assert_eq!(
        c.ssl_root_cert,
        Some(RootCert::File("/env/root.crt".into()))
    );
    assert_eq!(c.ssl_cert, Some(PathBuf::from("/env/c.crt")));
    assert_eq!(c.ssl_key, Some(PathBuf::from("/env/c.key")));
    assert_eq!(c.get_channel_binding(), ChannelBinding::Require);
    assert_eq!(c.application_name.as_deref(), Some("envapp"));
    assert_eq!(c.connect_timeout, Some(Duration::from_secs(10)));
}

#[test]
fn invalid_environment_value_names_the_variable() {
    let e = env().var("PGSSLMODE", "sure");
    let error = Config::parse_with_env("", &e).unwrap_err();
    assert!(
        matches!(&error, Error::InvalidValue { key, .. } if key == "PGSSLMODE"),
        "{error:?}"
    );
}

#[test]
fn libpq_defaults() {
    let c = Config::parse_with_env("", &env().home("/home/u")).unwrap();
    assert_eq!(c.get_user(), Some("osuser"));
    assert_eq!(c.get_dbname(), Some("osuser"));
    assert_eq!(
        c.hosts().unwrap(),
        vec![Host::Unix {
            dir: "/run/pg".into(),
            port: DEFAULT_PORT
        }]
    );
    assert_eq!(
        c.get_ssl_root_cert(),
        Some(RootCert::File("/home/u/.postgresql/root.crt".into()))
    );
    assert!(c.is_unix_socket());
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[cfg(unix)]
#[test]
fn pgpass_supplies_a_missing_password() {
    let home = tempfile::tempdir().unwrap();
    write_private(
        &home.path().join(".pgpass"),
        "db.test:5432:shop:app:from-pgpass\nlocalhost:*:*:app:socket-pw\n*:*:*:*:any\n",
    );
    let e = env().home(home.path());
    let c = Config::parse_with_env("host=db.test user=app dbname=shop", &e).unwrap();
    assert_eq!(c.password.as_ref().unwrap().0, "from-pgpass");
    // Socket connections look up "localhost".
    let c = Config::parse_with_env("host=/run/pg user=app", &e).unwrap();
    assert_eq!(c.password.as_ref().unwrap().0, "socket-pw");
    // hostaddr is used when host is empty.
    let c = Config::parse_with_env("hostaddr=10.0.0.1 user=other", &e).unwrap();
    assert_eq!(c.password.as_ref().unwrap().0, "any");
    // An explicit password (or PGPASSWORD) wins.
    let c = Config::parse_with_env("host=db.test user=app dbname=shop password=given", &e).unwrap();
    assert_eq!(c.password.as_ref().unwrap().0, "given");
    let c = Config::parse_with_env(
        "host=db.test user=app dbname=shop",
        &e.clone().var("PGPASSWORD", "envpw"),
    )
    .unwrap();
    assert_eq!(c.password.as_ref().unwrap().0, "envpw");
}

#[cfg(unix)]
#[test]
fn passfile_and_pgpassfile_override_home() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("custom");
    write_private(&file, "*:*:*:app:custom-pw\n");
    let by_option = Config::parse_with_env(
        &format!("host=h user=app passfile={}", file.display()),
        &env(),
    )
    .unwrap();
    assert_eq!(by_option.password.as_ref().unwrap().0, "custom-pw");
    let by_env = Config::parse_with_env(
        "host=h user=app",
        &env().var("PGPASSFILE", file.display().to_string()),
    )
    .unwrap();
    assert_eq!(by_env.password.as_ref().unwrap().0, "custom-pw");
}

#[test]
fn debug_never_shows_the_password() {
    let c = Config::parse(&format!("host=h user=u password={SECRET}")).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains(SECRET), "{dbg}");
    assert!(dbg.contains("<redacted>"));
    let url = Config::parse(&format!("postgresql://u:{SECRET}@h/db")).unwrap();
    assert!(!format!("{url:?}").contains(SECRET));
    let e = env().var("PGPASSWORD", SECRET);
    assert!(!format!("{e:?}").contains(SECRET));
    let tokio = Config::parse(&format!("host=h user=u password={SECRET}"))
        .unwrap()
        .to_tokio_config()
        .unwrap();
    assert!(!format!("{tokio:?}").contains(SECRET));
}

#[test]
fn weak_sslmodes_are_refused_over_tcp_with_the_fix() {
    for mode in ["disable", "allow", "prefer", "require", "verify-ca"] {
        let c = Config::parse(&format!("host=db.test user=u sslmode={mode}")).unwrap();
        let e = c.to_tokio_config().unwrap_err();
        assert!(matches!(e, Error::WeakSslMode { .. }), "{mode}: {e:?}");
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("sslmode={mode} ")), "{msg}");
        assert!(
            msg.contains("use sslmode=verify-full with sslrootcert="),
            "{msg}"
        );
        assert!(c.make_tls_connect().is_err());
    }
    let e = Config::parse("host=db.test user=u sslmode=require")
        .unwrap()
        .to_tokio_config()
        .unwrap_err();
    assert!(e
        .to_string()
        .contains("does not verify the server's identity"));
}

#[test]
fn dangerous_opt_ins_are_needed_and_sufficient() {
    let require = Config::parse("host=db.test user=u sslmode=require").unwrap();
    assert!(require
        .clone()
        .dangerous_allow_unverified_tls()
        .to_tokio_config()
        .is_ok());
    let disable = Config::parse("host=db.test user=u sslmode=disable").unwrap();
    assert!(disable
        .clone()
        .dangerous_allow_unverified_tls()
        .to_tokio_config()
        .is_err());
    let pg = disable
        .dangerous_allow_plaintext()
        .to_tokio_config()
        .unwrap();
    assert_eq!(pg.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
}

#[test]
fn unix_sockets_connect_without_tls_whatever_the_sslmode() {
    let c = Config::parse("host=/run/pg user=u sslmode=require").unwrap();
    let pg = c.to_tokio_config().unwrap();
    assert_eq!(pg.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
    assert!(c.make_tls_connect().is_ok());
    let mixed = Config::parse("host=/run/pg,db.test user=u").unwrap();
    assert!(mixed.to_tokio_config().is_err());
}

#[test]
fn verify_full_needs_a_host_name_next_to_hostaddr() {
    let e = Config::parse("hostaddr=127.0.0.1 user=u")
        .unwrap()
        .to_tokio_config()
        .unwrap_err();
    assert!(matches!(e, Error::Missing { .. }));
    assert!(e.to_string().contains("add host=NAME"), "{e}");
}

#[test]
fn tokio_config_carries_hosts_addresses_and_options() {
    let c = Config::parse(
        "host=a.test,b.test hostaddr=127.0.0.1,127.0.0.2 port=1,2 user=u dbname=d \
         channel_binding=require application_name=app connect_timeout=5",
    )
    .unwrap();
    let pg = c.to_tokio_config().unwrap();
    assert_eq!(
        pg.get_hosts(),
        &[
            tokio_postgres::config::Host::Tcp("a.test".into()),
            tokio_postgres::config::Host::Tcp("b.test".into())
        ]
    );
    assert_eq!(
        pg.get_hostaddrs(),
        &[
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "127.0.0.2".parse().unwrap()
        ]
    );
    assert_eq!(pg.get_ports(), &[1, 2]);
    assert_eq!(pg.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
    assert_eq!(
        pg.get_channel_binding(),
        tokio_postgres::config::ChannelBinding::Require
    );
    assert_eq!(pg.get_dbname(), Some("d"));
    assert_eq!(pg.get_application_name(), Some("app"));
    assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_secs(5)));
    assert!(matches!(
        Config::parse("host=h").unwrap().to_tokio_config(),
        Err(Error::Missing { .. })
    ));
}

#[test]
fn missing_root_certificate_names_the_fix() {
    let c = Config::parse("host=db.test user=u sslrootcert=/nonexistent/ca.pem").unwrap();
    let e = c.make_tls_connect().unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("/nonexistent/ca.pem"), "{msg}");
    assert!(msg.contains("sslrootcert=system"), "{msg}");
    let none = Config::parse("host=db.test user=u").unwrap();
    assert!(matches!(
        none.make_tls_connect(),
        Err(Error::Missing { .. })
    ));
}

#[test]
fn sslrootcert_system_demands_verify_full() {
    let weak = Config::parse("host=db.test user=u sslrootcert=system sslmode=require")
        .unwrap()
        .dangerous_allow_unverified_tls();
    let e = weak.make_tls_connect().unwrap_err();
    assert!(
        e.to_string()
            .contains("may not be used with sslrootcert=system"),
        "{e}"
    );
    let full = Config::parse("host=db.test user=u sslrootcert=system").unwrap();
    match full.make_tls_connect() {
        Ok(_) => {}
        // A machine without a system trust store says so.
        Err(Error::Missing { what, .. }) => assert_eq!(what, "system trust store"),
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn config_findings_name_the_weak_mode() {
    let c = Config::parse("host=db.test user=u sslmode=prefer channel_binding=disable").unwrap();
    let ids: Vec<_> = crate::config_findings(&c)
        .iter()
        .map(|f| f.id().to_owned())
        .collect();
    // Channel binding depends on what the server asks for: decided after connecting.
    assert_eq!(ids, vec!["client.sslmode_weak"]);
    assert!(crate::config_findings(&Config::parse("host=db.test").unwrap()).is_empty());
    assert!(
        crate::config_findings(&Config::parse("host=/run/pg sslmode=disable").unwrap()).is_empty()
    );
}

mod never_echoed {
    //! Whatever the string, a parse error never repeats a token of it that could be a
    //! secret: a value, an unknown key or a bare word.

    use proptest::prelude::*;

    use super::*;

    /// A secret-looking token: a marker no message contains, then random characters
    /// that need no quoting.
    fn secret() -> impl Strategy<Value = String> {
        "[A-Za-z0-9]{10,24}".prop_map(|s| format!("Zx9{s}"))
    }

    /// One piece of a keyword/value string, `{}` standing for the secret.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "host=db.test",
            "user=app",
            "port=5432",
            "{}",
            "password={}",
            "password='{}",
            "password=a {}",
            "{}=x",
            "{}='x",
            "{}=",
            "={}",
            "sslmode={}",
            "channel_binding={}",
            "port={}",
            "port=1,{}",
            "hostaddr={}",
            "host=a,b hostaddr=127.0.0.1,{}",
            "connect_timeout={}",
            "keepalives={}",
            "sslsni={}",
            "target_session_attrs={}",
            "load_balance_hosts={}",
            "require_auth={}",
            "require_auth=md5,{}",
            "require_auth=!{}",
            "ssl_min_protocol_version={}",
            "sslnegotiation={}",
            "sslcertmode={}",
            "min_protocol_version={}",
            "max_protocol_version={}",
            "oauth_client_secret={}",
            "gssencmode={}",
            "ssl={}",
            "'{}'",
            "\\{}",
        ])
    }

    /// A URL with the secret somewhere a password could be mistyped into.
    fn url() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "postgresql://app:{}@h/db",
            "postgresql://app:p@{}@h/db",
            "postgresql://app:{}@{}@h/db",
            "postgresql://app:{}/x@h/db",
            "postgresql://app:{}?x@h/db",
            "postgresql://app:{}%zz@h/db",
            "postgresql://app:{}%00@h/db",
            "postgresql://h/db?{}",
            "postgresql://h/db?{}=1",
            "postgresql://h/db?sslmode={}",
            "postgresql://h:{}/db",
            "postgresql://[{}/db",
            "postgresql://[::1]{}/db",
            "postgres://{}@h:{}/db?port={}",
        ])
    }

    fn check(conninfo: &str, secret: &str) -> Result<(), TestCaseError> {
        let outcome = Config::parse(conninfo).and_then(|c| {
            c.hosts()?;
            c.to_tokio_config().map(|_| ())
        });
        if let Err(e) = outcome {
            let (display, debug) = (e.to_string(), format!("{e:?}"));
            prop_assert!(!display.contains(secret), "{conninfo} -> {display}");
            prop_assert!(!debug.contains(secret), "{conninfo} -> {debug}");
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn keyword_value_errors(
            pieces in prop::collection::vec(piece(), 1..6),
            secret in secret(),
        ) {
            let conninfo = pieces.join(" ").replace("{}", &secret);
            check(&conninfo, &secret)?;
        }

        #[test]
        fn url_errors(template in url(), secret in secret(), query in piece()) {
            let url = template.replace("{}", &secret);
            check(&url, &secret)?;
            // And a keyword/value piece pasted into the query.
            let sep = if url.contains('?') { '&' } else { '?' };
            check(&format!("{url}{sep}{}", query.replace("{}", &secret)), &secret)?;
        }
    }
}
