//! Property tests of pgsec-client's parsers, no server needed: libpq connection strings
//! (keyword/value and URLs), the password file, and server certificates. No input makes
//! them panic, and what is written as libpq writes it parses back: a quoted keyword
//! value, a percent-encoded URL part, an escaped password-file entry.
//!
//! The case count follows `PROPTEST_CASES` (CI runs a bounded pass).

use std::io::Write as _;
use std::sync::OnceLock;

use pgsec_client::{check_host_name, config_findings, Config, Environment, PeerCertificate};
use proptest::prelude::*;

/// Characters that matter to conninfo strings and URLs, and any others.
fn conninfo_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            ' ', '=', '\'', '\\', '"', '/', ':', '@', '?', '&', '%', '[', ']', ',', '#', '\t',
            '\n', '\0', 'é', '\u{202e}',
        ]),
        3 => prop::char::range('a', 'z'),
        1 => prop::char::range('0', '9'),
        1 => any::<char>(),
    ]
}

fn conninfo_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(conninfo_char(), 0..max).prop_map(|c| c.into_iter().collect())
}

/// Keyword/value strings over libpq's keywords, values quoted or not.
fn keyword_value() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "channel_binding",
        "connect_timeout",
        "application_name",
        "options",
        "target_session_attrs",
        "require_auth",
        "requirepeer",
        "service",
        "bogus",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "verify-full",
            "require",
            "disable",
            "system",
            "1",
            "0",
            "-1",
            "65536",
            "5432,5433",
            "a,b",
            "127.0.0.1",
            "::1",
            "/tmp",
            "",
            "read-write",
            "scram-sha-256",
            "!md5",
            "none",
        ])
        .prop_map(str::to_owned),
        conninfo_text(12),
    ];
    let pair = (key, value, any::<bool>()).prop_map(|(k, v, quote)| {
        if quote {
            format!("{k}={}", quoted(&v))
        } else {
            format!("{k}={v}")
        }
    });
    prop::collection::vec(pair, 0..6).prop_map(|p| p.join(" "))
}

/// A libpq keyword value, single-quoted with `\` escapes.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Percent-encodes every byte outside the unreserved set.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Everything a parsed configuration offers must work without panicking.
fn exercise(config: &Config) {
    let _ = format!("{config:?}");
    let _ = config.hosts();
    let _ = config.to_tokio_config();
    let _ = config_findings(config);
    let _ = config.is_unix_socket();
    let _ = (
        config.get_user(),
        config.get_dbname(),
        config.get_ssl_mode(),
    );
}

fn env() -> Environment {
    Environment::empty()
        .os_user("osuser")
        .home("/nonexistent-pgsec-home")
        .socket_dir("/tmp")
}

/// A password file with `text`, readable by its owner only.
fn password_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    file
}

/// `s` escaped for a password-file field.
fn pgpass_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace(':', "\\:")
}

/// One self-signed certificate for the whole run.
fn certificate() -> &'static Vec<u8> {
    static CERT: OnceLock<Vec<u8>> = OnceLock::new();
    CERT.get_or_init(|| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![
            "db.example.com".into(),
            "*.pool.example.com".into(),
            "10.0.0.5".into(),
        ])
        .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "db.example.com");
        params.self_signed(&key).unwrap().der().to_vec()
    })
}

proptest! {
    #[test]
    fn any_string(text in any::<String>()) {
        if let Ok(config) = Config::parse(&text) {
            exercise(&config);
        }
        let _ = Config::parse_with_env(&text, &env());
    }

    #[test]
    fn conninfo_shaped(text in keyword_value()) {
        if let Ok(config) = Config::parse(&text) {
            exercise(&config);
        }
        if let Ok(config) = Config::parse_with_env(&text, &env()) {
            exercise(&config);
        }
    }

    #[test]
    fn url_shaped(
        scheme in prop::sample::select(vec!["postgresql://", "postgres://"]),
        rest in conninfo_text(60),
    ) {
        let url = format!("{scheme}{rest}");
        if let Ok(config) = Config::parse(&url) {
            exercise(&config);
        }
    }

    /// A quoted keyword value comes back as it was written.
    #[test]
    fn quoted_values_round_trip(user in any::<String>(), dbname in any::<String>()) {
        let text = format!("host=h user={} dbname={}", quoted(&user), quoted(&dbname));
        let config = Config::parse(&text);
        prop_assert!(config.is_ok(), "{} -> {:?}", text, config.err());
        let config = config.unwrap();
        prop_assert_eq!(config.get_user(), Some(user.as_str()));
        prop_assert_eq!(config.get_dbname(), Some(dbname.as_str()));
    }

    /// A percent-encoded URL user and database come back decoded.
    #[test]
    fn percent_encoded_url_round_trip(
        user in "[^\u{0}]{1,20}",
        dbname in "[^\u{0}]{1,20}",
    ) {
        let url = format!("postgresql://{}@db.example.com:5432/{}", percent(&user), percent(&dbname));
        let config = Config::parse(&url);
        prop_assert!(config.is_ok(), "{} -> {:?}", url, config.err());
        let config = config.unwrap();
        prop_assert_eq!(config.get_user(), Some(user.as_str()));
        prop_assert_eq!(config.get_dbname(), Some(dbname.as_str()));
    }

    /// Any password file: no panic, whatever it holds.
    #[test]
    fn any_password_file(text in conninfo_text(200)) {
        let file = password_file(&text);
        let conninfo = format!("host=h port=5432 dbname=d user=u passfile={}", quoted(&file.path().display().to_string()));
        if let Ok(config) = Config::parse_with_env(&conninfo, &env()) {
            exercise(&config);
        }
    }

    /// An escaped password-file entry gives its password back.
    #[test]
    fn password_file_entry_round_trip(
        password in "[^\n\r\u{0}]{1,30}",
        host in prop::sample::select(vec!["h", "*"]),
        comment in any::<bool>(),
    ) {
        let mut text = String::new();
        if comment {
            text.push_str("# h:5432:d:u:not-this-one\n");
        }
        text.push_str(&format!("{host}:5432:d:u:{}\n*:*:*:*:fallback\n", pgpass_escape(&password)));
        let file = password_file(&text);
        let conninfo = format!("host=h port=5432 dbname=d user=u passfile={}", quoted(&file.path().display().to_string()));
        let config = Config::parse_with_env(&conninfo, &env()).unwrap();
        prop_assert!(config.has_password());
        let tokio = config.to_tokio_config().unwrap();
        prop_assert_eq!(tokio.get_password(), Some(password.as_bytes()));
    }

    #[test]
    fn certificate_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        if let Ok(cert) = PeerCertificate::from_der(&bytes) {
            let _ = check_host_name(&cert, "db.example.com");
        }
    }

    #[test]
    fn certificate_mutated(
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<usize>(),
        host in prop_oneof![
            prop::sample::select(vec![
                "db.example.com", "DB.EXAMPLE.COM.", "x.pool.example.com", "a.b.pool.example.com",
                "pool.example.com", "10.0.0.5", "::ffff:10.0.0.5", "", ".", "*", "*.example.com",
            ]).prop_map(str::to_owned),
            conninfo_text(30),
        ],
    ) {
        let mut der = certificate().clone();
        for (at, b) in &edits {
            let at = at % der.len();
            der[at] = *b;
        }
        if cut % 4 == 0 {
            der.truncate(cut % (der.len() + 1));
        }
        if let Ok(cert) = PeerCertificate::from_der(&der) {
            let _ = check_host_name(&cert, &host);
            let _ = (cert.names(), cert.has_subject_alt_name(), cert.not_after_utc());
            let _ = cert.remaining_validity(std::time::SystemTime::now());
        }
    }
}

#[test]
fn the_sample_certificate_matches_its_names_only() {
    let cert = PeerCertificate::from_der(certificate()).unwrap();
    assert!(check_host_name(&cert, "db.example.com").is_ok());
    assert!(check_host_name(&cert, "x.pool.example.com").is_ok());
    assert!(check_host_name(&cert, "10.0.0.5").is_ok());
    assert!(check_host_name(&cert, "a.b.pool.example.com").is_err());
    assert!(check_host_name(&cert, "other.example.com").is_err());
}
