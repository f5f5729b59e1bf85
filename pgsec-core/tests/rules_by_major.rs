//! The catalogue queries and the rules of issue 19 on a real server of whatever major the
//! kit runs (`PGSEC_PG_MAJOR`, 15, 17 or 18): each test asserts that major's
//! expectation — a rule of a later major neither fires nor skips, a statement the major
//! does not have is refused by the server itself.

use pgsec_core::live::{collect, CollectOptions};
use pgsec_core::snapshot::{Collected, PasswordKind};
use pgsec_core::{evaluate, Policy, Report, Severity};
use pgsec_testkit::TestServer;
use tokio_postgres::Client;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The newest security release `data/security-releases.toml` lists per major (the
/// minor), so the test can say whether `rt.security_release` must fire.
const NEWEST_KNOWN: &[(u32, u32)] = &[(13, 23), (14, 23), (15, 18), (16, 14), (17, 10), (18, 4)];

async fn audit(admin: &Client, app: Option<&str>) -> Result<Report, Box<dyn std::error::Error>> {
    let c = collect(admin, &CollectOptions::default()).await?;
    let snapshot = c.into_snapshot("rules_by_major", 1_780_000_000);
    let mut policy = Policy::default();
    if let Some(app) = app {
        policy = policy.with_app_role(app);
    }
    Ok(evaluate(&snapshot, &policy))
}

fn fired(report: &Report, id: &str) -> usize {
    report.findings_of(id).count()
}

#[track_caller]
fn assert_not_applicable(report: &Report, id: &str, major: u32) {
    assert_eq!(fired(report, id), 0, "{id} fired on {major}");
    assert!(
        !report.is_skipped(id),
        "{id} skipped on {major}: {:?}",
        report.skipped()
    );
}

async fn show(client: &Client, name: &str) -> Result<String, Box<dyn std::error::Error>> {
    let row = client
        .query_one("SELECT pg_catalog.current_setting($1)", &[&name])
        .await?;
    Ok(row.get(0))
}

#[tokio::test]
async fn catalogue_queries_and_object_rules_by_major() -> TestResult {
    let server = pgsec_testkit::shared().await?;
    let major = server.major_version();
    eprintln!(
        "rules_by_major: PostgreSQL {major} ({:?})",
        server.backend()
    );
    let db = server.fresh_database().await?;
    let admin = db.admin_client().await?;

    // An md5 secret (18 warns when one is set, and still stores it).
    admin
        .batch_execute(
            "SET password_encryption = 'md5';
             CREATE ROLE rbm_md5 LOGIN PASSWORD 'rbm-not-a-secret';
             RESET password_encryption;
             CREATE ROLE rbm_app LOGIN;
             CREATE ROLE rbm_group NOLOGIN;
             CREATE TABLE public.rbm_t (id int);",
        )
        .await?;
    // 16's per-grant options: neither inherit nor SET decide that rbm_app cannot become
    // rbm_group; before 16 the statement is a syntax error.
    let options = admin
        .batch_execute("GRANT rbm_group TO rbm_app WITH INHERIT FALSE, SET FALSE")
        .await;
    assert_eq!(options.is_ok(), major >= 16, "{options:?}");
    if major < 16 {
        admin.batch_execute("GRANT rbm_group TO rbm_app").await?;
    }
    // 17's MAINTAIN and pg_maintain.
    let maintain = admin
        .batch_execute("GRANT MAINTAIN ON public.rbm_t TO rbm_app; GRANT pg_maintain TO rbm_app")
        .await;
    assert_eq!(maintain.is_ok(), major >= 17, "{maintain:?}");
    // 17's login event triggers.
    admin
        .batch_execute(
            "CREATE FUNCTION public.rbm_on_login() RETURNS event_trigger LANGUAGE plpgsql \
             AS $$BEGIN NULL; END$$",
        )
        .await?;
    let login = admin
        .batch_execute(
            "CREATE EVENT TRIGGER rbm_login ON login EXECUTE FUNCTION public.rbm_on_login()",
        )
        .await;
    assert_eq!(login.is_ok(), major >= 17, "{login:?}");

    let c = collect(&admin, &CollectOptions::default()).await?;
    let facts = c.facts();
    assert_eq!(facts.server_version.get()?.major(), major);
    // Every family of every major is read.
    let dbf = facts
        .databases
        .iter()
        .find(|d| d.name == db.name())
        .expect("the test database");
    for (what, present) in [
        ("roles", facts.roles.is_present()),
        ("settings", facts.settings.is_present()),
        ("hba", facts.hba.is_present()),
        ("stored passwords", facts.stored_passwords.is_present()),
        ("tables", dbf.tables.is_present()),
        ("views", dbf.views.is_present()),
        ("functions", dbf.functions.is_present()),
        ("event triggers", dbf.event_triggers.is_present()),
    ] {
        assert!(present, "{what} not collected on {major}");
    }
    let roles = facts.roles.get()?;
    let app = roles.iter().find(|r| r.name == "rbm_app").expect("rbm_app");
    assert_eq!(
        app.membership("rbm_group"),
        Some(if major >= 16 {
            (false, false)
        } else {
            (true, true)
        }),
        "membership options on {major}"
    );
    assert_eq!(
        facts.stored_passwords.get()?.get("rbm_md5"),
        Some(&PasswordKind::Md5)
    );
    let t = dbf
        .tables
        .get()?
        .iter()
        .find(|t| t.name == "rbm_t")
        .expect("rbm_t");
    let app_acl = t
        .acl
        .iter()
        .flatten()
        .find(|a| a.grantee == "rbm_app")
        .map(|a| a.privileges.clone());
    assert_eq!(app_acl.as_deref(), (major >= 17).then_some("m"));
    let login_triggers = dbf
        .event_triggers
        .get()?
        .iter()
        .filter(|t| t.event == "login")
        .count();
    assert_eq!(login_triggers, usize::from(major >= 17));

    let report = audit(&admin, Some("rbm_app")).await?;
    // MD5 secrets, every major; the hash itself never reaches the report.
    let md5: Vec<_> = report
        .findings_of("auth.md5_stored")
        .filter(|f| f.evidence().contains("rbm_md5"))
        .collect();
    assert_eq!(md5.len(), 1, "{:?}", report.findings());
    assert_eq!(
        md5[0].evidence().contains("PostgreSQL 18 deprecates md5"),
        major >= 18,
        "{}",
        md5[0].evidence()
    );
    let rendered = serde_json::to_string(
        &report
            .findings()
            .iter()
            .map(|f| f.evidence())
            .collect::<Vec<_>>(),
    )?;
    assert!(
        !regex_like_md5(&rendered),
        "an md5 hash reached the report: {rendered}"
    );
    if major >= 17 {
        let f: Vec<_> = report.findings_of("priv.app_maintain").collect();
        assert_eq!(f.len(), 2, "pg_maintain and MAINTAIN on rbm_t: {f:?}");
        assert!(f.iter().any(|f| f.evidence().contains("pg_maintain")));
        assert!(f.iter().any(|f| f.evidence().contains("rbm_t")));
        let login: Vec<_> = report.findings_of("fn.login_event_trigger").collect();
        assert_eq!(login.len(), 1);
        assert!(login[0].evidence().contains("public.rbm_on_login"));
        assert!(login[0].evidence().contains("superusers"));
    } else {
        assert_not_applicable(&report, "priv.app_maintain", major);
        assert_not_applicable(&report, "fn.login_event_trigger", major);
    }
    // A minor older than the newest security release pgsec knows of fires, naming it.
    let num: u32 = show(&admin, "server_version_num").await?.parse()?;
    let newest = NEWEST_KNOWN
        .iter()
        .find(|(m, _)| *m == major)
        .map(|(_, n)| *n);
    match newest {
        Some(n) if num % 100 < n => {
            let f = report
                .findings_of("rt.security_release")
                .next()
                .expect("an old minor");
            assert_eq!(f.severity(), Severity::High);
            assert!(f.remediation().contains(&format!("{major}.{n}")));
            eprintln!("rules_by_major: {} is behind: {}", num, f.evidence());
        }
        Some(_) => assert_eq!(fired(&report, "rt.security_release"), 0),
        None => assert!(report.is_skipped("rt.security_release")),
    }
    // The kit's server at its defaults.
    if major >= 16 {
        assert_eq!(show(&admin, "scram_iterations").await?, "4096");
        assert_eq!(fired(&report, "auth.scram_iterations"), 0);
    } else {
        assert_not_applicable(&report, "auth.scram_iterations", major);
    }
    if major >= 17 {
        let on = show(&admin, "allow_alter_system").await? == "on";
        assert_eq!(fired(&report, "rt.allow_alter_system"), usize::from(on));
    } else {
        assert_not_applicable(&report, "rt.allow_alter_system", major);
    }
    // The kit logs connections, in either form.
    assert_eq!(
        fired(&report, "log.connections"),
        0,
        "log_connections = {}",
        show(&admin, "log_connections").await?
    );
    if major < 18 {
        for id in [
            "tls.weak_groups",
            "tls.weak_tls13_ciphers",
            "hba.oauth_no_validator",
        ] {
            assert_not_applicable(&report, id, major);
        }
    }
    admin
        .batch_execute("DROP EVENT TRIGGER IF EXISTS rbm_login")
        .await?;
    Ok(())
}

/// True when `text` holds `md5` followed by 32 hex digits.
fn regex_like_md5(text: &str) -> bool {
    text.match_indices("md5").any(|(i, _)| {
        let rest = &text[i + 3..];
        rest.len() >= 32 && rest[..32].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[tokio::test]
async fn setting_rules_by_major_on_a_server_of_their_own() -> TestResult {
    let server = TestServer::start().await?;
    let major = server.major_version();
    let admin = server.admin_client().await?;
    let mut sets: Vec<&str> = Vec::new();
    if major >= 16 {
        sets.push("ALTER SYSTEM SET scram_iterations = 1000");
    }
    if major >= 18 {
        sets.extend([
            "ALTER SYSTEM SET log_connections = 'receipt'",
            "ALTER SYSTEM SET ssl_tls13_ciphers = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_8_SHA256'",
            "ALTER SYSTEM SET ssl_groups = 'X25519:prime256v1:secp224r1'",
        ]);
    }
    for s in &sets {
        admin.batch_execute(s).await?;
    }
    if major >= 18 {
        // An oauth line while oauth_validator_libraries is empty: the server refuses it.
        let hba_file = show(&admin, "hba_file").await?;
        let data_dir = show(&admin, "data_directory").await?;
        let rel = hba_file
            .strip_prefix(&format!("{data_dir}/"))
            .unwrap_or_else(|| panic!("hba file {hba_file} is outside {data_dir}"))
            .to_owned();
        let current: String = admin
            .query_one("SELECT pg_catalog.pg_read_file($1)", &[&hba_file])
            .await?
            .get(0);
        let text = format!(
            "hostssl all rbm_oauth 127.0.0.1/32 oauth issuer=https://idp.example.com scope=openid\n{current}"
        );
        server.write_file(&rel, &text).await?;
    }
    server.reload().await?;
    // The reload is asynchronous; a new session sees it once the postmaster has read it.
    let mut report = audit(&server.admin_client().await?, None).await?;
    for _ in 0..50 {
        let settled = major < 16 || fired(&report, "auth.scram_iterations") == 1;
        if settled {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        report = audit(&server.admin_client().await?, None).await?;
    }
    if major >= 16 {
        let f = report
            .findings_of("auth.scram_iterations")
            .next()
            .expect("scram_iterations = 1000");
        assert!(f.evidence().contains("1000"), "{}", f.evidence());
    } else {
        assert_not_applicable(&report, "auth.scram_iterations", major);
    }
    if major >= 18 {
        let f = report
            .findings_of("log.connections")
            .next()
            .expect("log_connections = 'receipt'");
        assert_eq!(f.severity(), Severity::Low);
        assert!(f.evidence().contains("authentication and authorization"));
        let f = report
            .findings_of("tls.weak_tls13_ciphers")
            .next()
            .expect("CCM_8");
        assert!(f.evidence().contains("TLS_AES_128_CCM_8_SHA256"));
        let f = report
            .findings_of("tls.weak_groups")
            .next()
            .expect("secp224r1");
        assert!(f.evidence().contains("secp224r1"));
        let f = report
            .findings_of("hba.oauth_no_validator")
            .next()
            .expect("the oauth line");
        assert!(f.evidence().contains("oauth"), "{}", f.evidence());
    } else {
        assert_eq!(fired(&report, "log.connections"), 0);
        for id in [
            "tls.weak_groups",
            "tls.weak_tls13_ciphers",
            "hba.oauth_no_validator",
        ] {
            assert_not_applicable(&report, id, major);
        }
    }
    if let Collected::NotCollected(r) = &report_hba_state(&report) {
        panic!("hba not collected: {r}");
    }
    Ok(())
}

/// Whether the hba rules were decided (not skipped for want of pg_hba_file_rules).
fn report_hba_state(report: &Report) -> Collected<()> {
    match report
        .skipped()
        .iter()
        .find(|s| s.id == "hba.trust_network")
    {
        Some(s) => Collected::NotCollected(s.reason.clone()),
        None => Collected::Present(()),
    }
}
