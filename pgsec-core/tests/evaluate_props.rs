//! Property tests: whatever the files say, evaluation and rendering do not panic, are
//! deterministic, report every catalogue rule exactly once as fired, quiet or skipped
//! (never silently), and the SARIF stays valid.

use std::collections::BTreeSet;
use std::path::Path;

use pgsec_core::conf::ConfFile;
use pgsec_core::hba::{HbaFile, PgVersion};
use pgsec_core::render::{json, sarif_value, text};
use pgsec_core::{catalogue, evaluate, MemoryLoader, Policy, Severity, Snapshot};
use proptest::prelude::*;

fn hba_line() -> impl Strategy<Value = String> {
    let conn = prop::sample::select(vec![
        "local",
        "host",
        "hostssl",
        "hostnossl",
        "hostgssenc",
        "hostnogssenc",
        "hosts",
    ]);
    let db = prop::sample::select(vec![
        "all",
        "replication",
        "app",
        "\"all\"",
        "sameuser",
        "app,other",
        "@dbs",
    ]);
    let user = prop::sample::select(vec!["all", "app", "+grp", "/^a.*", "\"all\"", "app,admin"]);
    let addr = prop::sample::select(vec![
        "0.0.0.0/0",
        "::/0",
        "all",
        "10.0.0.0/8",
        "10.1.2.0/24",
        "10.1.2.3/32",
        "samehost",
        "samenet",
        ".example.com",
        "db.example.com",
        "10.0.0.0 255.0.0.0",
        "10.0.0.0 255.0.255.0",
        "300.1.1.1/8",
        "",
    ]);
    let method = prop::sample::select(vec![
        "trust",
        "reject",
        "md5",
        "password",
        "scram-sha-256",
        "ident",
        "peer",
        "cert",
        "bogus",
        "ldap",
    ]);
    (conn, db, user, addr, method).prop_map(|(c, d, u, a, m)| {
        if c == "local" {
            format!("{c} {d} {u} {m}")
        } else {
            format!("{c} {d} {u} {a} {m}")
        }
    })
}

fn conf_line() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "ssl",
        "listen_addresses",
        "password_encryption",
        "ssl_ciphers",
        "ssl_min_protocol_version",
        "authentication_timeout",
        "shared_preload_libraries",
        "pgaudit.log",
        "pgaudit.log_catalog",
        "log_connections",
        "log_line_prefix",
        "idle_in_transaction_session_timeout",
        "fsync",
        "search_path",
    ]);
    let value = prop::sample::select(vec![
        "on",
        "off",
        "'*'",
        "md5",
        "'HIGH:MEDIUM:+3DES:!aNULL'",
        "''",
        "'TLSv1'",
        "2min",
        "'pgaudit'",
        "'ddl, -role'",
        "'%m %p %u %d %r'",
        "0",
        "'\"$user\", public'",
        "maybe",
        "'unterminated",
    ]);
    (name, value).prop_map(|(n, v)| format!("{n} = {v}"))
}

fn snapshot(hba: &[String], conf: &[String], version: u32) -> Snapshot {
    let loader = MemoryLoader::new();
    let v = PgVersion::new(version).unwrap();
    Snapshot::new("prop", 1_700_000_000)
        .with_pg_version(v)
        .with_hba(HbaFile::parse(
            &hba.join("\n"),
            Path::new("pg_hba.conf"),
            v,
            &loader,
        ))
        .with_conf(ConfFile::parse(
            &conf.join("\n"),
            Path::new("postgresql.conf"),
            &loader,
        ))
}

fn sarif_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sarif-schema-2.1.0.json"
    ))
    .unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&serde_json::from_str(&text).unwrap())
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn evaluation_is_total_deterministic_and_accounts_for_every_rule(
        hba in prop::collection::vec(hba_line(), 0..25),
        conf in prop::collection::vec(conf_line(), 0..12),
        version in 13u32..=18,
    ) {
        let s = snapshot(&hba, &conf, version);
        let a = evaluate(&s, &Policy::default());
        let b = evaluate(&s, &Policy::default());
        prop_assert_eq!(&a, &b);
        for rule in catalogue() {
            let fired = a.findings_of(rule.id).next().is_some();
            let skipped = a.is_skipped(rule.id);
            // L-only and C-only rules can never pass in a file audit (unless they are
            // about a later major than the files').
            if !rule.has_source(pgsec_core::RuleSource::File) && rule.majors.contains(version) {
                prop_assert!(skipped || fired, "{} neither fired nor skipped", rule.id);
            }
        }
        // Every finding's rule is in the catalogue, with a fingerprint and a location.
        let ids: BTreeSet<&str> = catalogue().iter().map(|r| r.id).collect();
        for f in a.findings() {
            prop_assert!(ids.contains(f.id()));
            prop_assert_eq!(f.fingerprint().len(), 16);
            prop_assert!(!f.remediation().is_empty());
        }
        // Every hba line the server rejects is a parse_error finding on that line.
        let errors = s.hba.as_option().unwrap().errors().count();
        prop_assert_eq!(a.findings_of("hba.parse_error").count(), errors);
        prop_assert_eq!(a.fails(Severity::Info), !a.findings().is_empty());
        let _ = text(&a, true);
        let _ = json(&a);
    }

    #[test]
    fn sarif_is_always_valid(
        hba in prop::collection::vec(hba_line(), 0..15),
        conf in prop::collection::vec(conf_line(), 0..8),
    ) {
        let doc = sarif_value(&evaluate(&snapshot(&hba, &conf, 16), &Policy::default()));
        let v = sarif_validator();
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
        prop_assert!(errors.is_empty(), "{:?}", errors);
    }

    #[test]
    fn a_shadowed_line_is_matched_by_an_earlier_line(
        hba in prop::collection::vec(hba_line(), 1..25),
    ) {
        let s = snapshot(&hba, &[], 15);
        let r = evaluate(&s, &Policy::default());
        let file = s.hba.as_option().unwrap();
        for f in r.findings_of("hba.shadowed_rule") {
            // The evidence names an earlier line of the same file.
            let pgsec_core::Location::File { line: Some(line), .. } = f.location() else {
                return Err(TestCaseError::fail("shadowed finding without a line"));
            };
            let earlier: Vec<usize> = file.rules().map(|(l, _)| l.line_number).filter(|n| n < line).collect();
            prop_assert!(earlier.iter().any(|n| f.evidence().contains(&format!("pg_hba.conf:{n}:"))), "{}", f.evidence());
        }
    }
}
