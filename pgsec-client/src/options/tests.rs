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
        e.to_string().contains("missing \"=\" after \"host\""),
        "{e}"
    );
    assert!(matches!(err("hots=x"), Error::UnknownOption { key } if key == "hots"));
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
        Error::UnknownOption { .. }
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
        .map(|f| f.rule_id)
        .collect();
    assert_eq!(ids, vec!["client.sslmode_weak", "client.channel_binding"]);
    assert!(crate::config_findings(&Config::parse("host=db.test").unwrap()).is_empty());
    assert!(
        crate::config_findings(&Config::parse("host=/run/pg sslmode=disable").unwrap()).is_empty()
    );
}
