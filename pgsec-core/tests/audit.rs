//! File audits end to end through the real parsers, and the report formats (the SARIF
//! output is validated against the vendored SARIF 2.1.0 schema).

use std::path::Path;

use pgsec_core::conf::ConfFile;
use pgsec_core::hba::{HbaFile, PgVersion};
use pgsec_core::render::{json_value, render, sarif_value, text, Format};
use pgsec_core::{catalogue, evaluate, Location, MemoryLoader, Policy, Report, Severity, Snapshot};
use serde_json::Value;

const WEAK_CONF: &str = "\
listen_addresses = '*'
ssl = off
password_encryption = md5
log_connections = off
";

const WEAK_HBA: &str = "\
# TYPE  DATABASE  USER  ADDRESS     METHOD
local   all       all               trust
host    all       all   0.0.0.0/0   trust
host    all       all   10.0.0.0/8  md5
host    app       app   10.1.0.0/16 scram-sha-256
";

const STRONG_CONF: &str = "\
listen_addresses = 'localhost, 10.0.0.5'
ssl = on
ssl_min_protocol_version = 'TLSv1.2'
ssl_ciphers = 'HIGH:!MEDIUM:!3DES:!aNULL'
password_encryption = 'scram-sha-256'
shared_preload_libraries = 'pgaudit'
pgaudit.log = 'ddl, role'
pgaudit.log_catalog = off
pgaudit.log_relation = on
log_connections = on
log_disconnections = on
log_lock_waits = on
log_line_prefix = '%m [%p] %q%u@%d %r '
idle_in_transaction_session_timeout = '5min'
";

const STRONG_HBA: &str = "\
local     all  all                    peer
hostssl   app  app    10.1.0.0/24     scram-sha-256
host      all  all    0.0.0.0/0       reject
host      all  all    ::/0            reject
";

fn file_snapshot(conf: &str, hba: &str) -> Snapshot {
    let loader = MemoryLoader::new();
    let conf = ConfFile::parse(conf, Path::new("postgresql.conf"), &loader);
    let hba = HbaFile::parse(hba, Path::new("pg_hba.conf"), PgVersion::V15, &loader);
    Snapshot::new("postgresql.conf, pg_hba.conf", 1_700_000_000)
        .with_conf(conf)
        .with_hba(hba)
}

fn weak_report() -> Report {
    evaluate(&file_snapshot(WEAK_CONF, WEAK_HBA), &Policy::default())
}

#[test]
fn weak_files_fire_the_expected_rules_on_their_lines() {
    let r = weak_report();
    let at =
        |id: &str| -> Vec<Location> { r.findings_of(id).map(|f| f.location().clone()).collect() };
    assert_eq!(
        at("hba.trust_network"),
        [Location::file_line("pg_hba.conf", 3)]
    );
    assert_eq!(
        at("hba.trust_local"),
        [Location::file_line("pg_hba.conf", 2)]
    );
    assert_eq!(at("hba.md5"), [Location::file_line("pg_hba.conf", 4)]);
    assert_eq!(
        at("tls.ssl_off"),
        [Location::file_line("postgresql.conf", 2)]
    );
    assert_eq!(
        at("auth.password_encryption"),
        [Location::file_line("postgresql.conf", 3)]
    );
    assert_eq!(
        at("hba.shadowed_rule"),
        [
            Location::file_line("pg_hba.conf", 4),
            Location::file_line("pg_hba.conf", 5)
        ]
    );
    let listen: Vec<_> = r.findings_of("net.listen_all").collect();
    assert_eq!(
        listen[0].severity(),
        Severity::High,
        "raised by the trust line"
    );
    assert!(r.fails(Severity::Critical));
    // Live-only rules are skipped with the reason, never passed.
    for id in ["rls.disabled", "role.superusers", "auth.md5_stored"] {
        assert!(
            r.skipped()
                .iter()
                .any(|s| s.id == id && s.reason == "needs a live connection"),
            "{id}"
        );
    }
}

#[test]
fn strong_files_have_nothing_at_medium_or_above() {
    let r = evaluate(&file_snapshot(STRONG_CONF, STRONG_HBA), &Policy::default());
    let serious: Vec<_> = r
        .findings()
        .iter()
        .filter(|f| f.severity() >= Severity::Medium)
        .collect();
    assert!(serious.is_empty(), "{serious:#?}");
    assert!(!r.fails(Severity::Low), "{:#?}", r.findings());
}

#[test]
fn file_rules_are_decided_in_a_file_audit() {
    let r = weak_report();
    for rule in catalogue()
        .iter()
        .filter(|r| r.has_source(pgsec_core::RuleSource::File))
    {
        let skipped = r
            .skipped()
            .iter()
            .filter(|s| s.id == rule.id)
            .collect::<Vec<_>>();
        // Without a data directory only the key and certificate rules may skip, and
        // the pgaudit settings rules when pgaudit is not loaded.
        let allowed = [
            "tls.key_permissions",
            "tls.cert_expiry",
            "tls.cert_no_san",
            "audit.pgaudit_classes",
            "audit.pgaudit_catalog",
            "audit.pgaudit_relation",
        ];
        assert!(
            skipped.is_empty() || allowed.contains(&rule.id),
            "{} skipped: {skipped:?}",
            rule.id
        );
    }
}

#[cfg(unix)]
#[test]
fn data_dir_certificate_and_key() {
    use pgsec_core::snapshot::ServerTlsFiles;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
    std::fs::set_permissions(
        dir.path().join("server.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let files = ServerTlsFiles::read_from_data_dir(dir.path(), None);
    let s = Snapshot::new("data dir", 1_700_000_000).with_server_tls_files(files);
    let r = evaluate(&s, &Policy::default());
    let expiry: Vec<_> = r.findings_of("tls.cert_expiry").collect();
    assert_eq!(expiry.len(), 1);
    assert_eq!(expiry[0].severity(), Severity::High);
    assert!(
        expiry[0].evidence().contains("expired on 2021-01-01"),
        "{}",
        expiry[0].evidence()
    );
    assert_eq!(r.findings_of("tls.cert_no_san").count(), 1);
    assert_eq!(r.findings_of("tls.key_permissions").count(), 1);

    std::fs::set_permissions(
        dir.path().join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let s = Snapshot::new("data dir", 1_600_000_000)
        .with_server_tls_files(ServerTlsFiles::read_from_data_dir(dir.path(), None));
    let r = evaluate(&s, &Policy::default());
    assert_eq!(r.findings_of("tls.key_permissions").count(), 0);
    assert_eq!(
        r.findings_of("tls.cert_expiry").count(),
        0,
        "valid on 2020-09-13"
    );
}

#[test]
fn suppressions_and_overrides() {
    let s = file_snapshot(WEAK_CONF, WEAK_HBA);
    let base = evaluate(&s, &Policy::default());
    let fp = base
        .findings_of("hba.trust_local")
        .next()
        .unwrap()
        .fingerprint()
        .to_owned();
    let r = evaluate(
        &s,
        &Policy::default()
            .suppress(fp.clone())
            .suppress("tls.ssl_off"),
    );
    assert!(r.findings_of("hba.trust_local").next().is_none());
    assert!(r.findings_of("tls.ssl_off").next().is_none());
    assert_eq!(r.suppressed().len(), 2);
    assert_eq!(r.summary().suppressed, 2);
    let r = evaluate(
        &s,
        &Policy::default().with_severity("hba.md5", Severity::Critical),
    );
    assert_eq!(
        r.findings_of("hba.md5").next().unwrap().severity(),
        Severity::Critical
    );
}

#[test]
fn fingerprints_survive_moving_lines() {
    let a = evaluate(&file_snapshot(WEAK_CONF, WEAK_HBA), &Policy::default());
    let moved = format!("# a new comment\n\n{WEAK_HBA}");
    let b = evaluate(&file_snapshot(WEAK_CONF, &moved), &Policy::default());
    let fa = a.findings_of("hba.trust_network").next().unwrap();
    let fb = b.findings_of("hba.trust_network").next().unwrap();
    assert_ne!(fa.location(), fb.location());
    assert_eq!(fa.fingerprint(), fb.fingerprint());
}

// ---------------------------------------------------------------------------------
// Report formats

fn sarif_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sarif-schema-2.1.0.json"
    ))
    .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "SARIF invalid: {errors:#?}");
}

#[test]
fn sarif_is_valid_and_points_at_lines() {
    let validator = sarif_validator();
    let r = weak_report();
    let doc = sarif_value(&r);
    assert_valid(&validator, &doc);
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), catalogue().len());
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), r.findings().len());
    let trust = results
        .iter()
        .find(|x| x["ruleId"] == "hba.trust_network")
        .unwrap();
    let phys = &trust["locations"][0]["physicalLocation"];
    assert_eq!(phys["artifactLocation"]["uri"], "pg_hba.conf");
    assert_eq!(phys["region"]["startLine"], 3);
    let idx = trust["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[idx]["id"], "hba.trust_network");
    assert_eq!(trust["level"], "error");
    // Skipped rules are reported as notifications.
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), r.skipped().len());
}

#[test]
fn sarif_validation_really_checks() {
    let validator = sarif_validator();
    let mut doc = sarif_value(&weak_report());
    doc["runs"][0]["results"][0]["level"] = Value::from("catastrophic");
    assert!(!validator.is_valid(&doc));
    let mut doc = sarif_value(&weak_report());
    doc["version"] = Value::from("2.0.0");
    assert!(!validator.is_valid(&doc));
}

#[test]
fn sarif_for_objects_and_odd_paths_is_valid() {
    use pgsec_core::snapshot::{Collected, LiveFacts, RoleFact};
    let mut app = RoleFact::login("app");
    app.superuser = true;
    let mut live = LiveFacts::default();
    live.roles = Collected::Present(vec![app]);
    let loader = MemoryLoader::new();
    let hba = HbaFile::parse(
        "host all all 0.0.0.0/0 trust\n",
        Path::new("/etc/my configs/pg_hba#1.conf"),
        PgVersion::V15,
        &loader,
    );
    let s = Snapshot::new("mixed", 0)
        .with_live(live)
        .with_hba(hba)
        .with_app_role("app");
    let doc = sarif_value(&evaluate(&s, &Policy::default()));
    assert_valid(&sarif_validator(), &doc);
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(results
        .iter()
        .any(|r| r["locations"][0]["logicalLocations"][0]["name"] == "app"));
}

#[test]
fn empty_report_sarif_is_valid() {
    let doc = sarif_value(&evaluate(&Snapshot::new("nothing", 0), &Policy::default()));
    assert_valid(&sarif_validator(), &doc);
    assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 0);
}

#[test]
fn json_has_the_documented_shape() {
    let r = weak_report();
    let v = json_value(&r);
    for key in ["pgsec_version", "target", "findings", "skipped", "summary"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    let f = &v["findings"][0];
    for key in [
        "id",
        "severity",
        "title",
        "evidence",
        "remediation",
        "fingerprint",
        "location",
    ] {
        assert!(f.get(key).is_some(), "finding.{key}");
    }
    assert_eq!(v["findings"].as_array().unwrap().len(), r.findings().len());
    assert_eq!(v["summary"]["critical"], r.summary().critical);
    assert_eq!(v["summary"]["total"], r.findings().len());
    assert_eq!(v["skipped"].as_array().unwrap().len(), r.skipped().len());
    // Parses back from the rendered text.
    let text = render(&r, Format::Json, false);
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, v);
}

#[test]
fn text_groups_by_severity_and_colours_only_when_asked() {
    let r = weak_report();
    let plain = text(&r, false);
    assert!(!plain.contains('\x1b'));
    let coloured = text(&r, true);
    assert!(coloured.contains("\x1b["));
    let crit = plain.find("CRITICAL (").unwrap();
    let high = plain.find("HIGH (").unwrap();
    let medium = plain.find("MEDIUM (").unwrap();
    assert!(crit < high && high < medium);
    assert!(plain.contains("evidence: pg_hba.conf:3"));
    assert!(plain.contains("fix:"));
    assert!(plain.contains("SKIPPED"));
    assert!(plain
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .contains(&format!("{} critical", r.summary().critical)));
}

#[test]
fn formats_parse() {
    assert_eq!("SARIF".parse::<Format>().unwrap(), Format::Sarif);
    assert!("xml".parse::<Format>().is_err());
}
