//! Live collection against real servers (pgsec-testkit): every fact family, what an
//! unprivileged role gets (skips with reasons), the round-trip bound on a large
//! catalog, every database of a cluster, and the rules that fire on a server set up
//! like the tutorial in SEED-GUIDE.md.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use pgsec_core::hba::{AuthMethod, ConnType};
use pgsec_core::live::{collect, collect_database, CollectOptions, LiveCollection, QueryRunner};
use pgsec_core::snapshot::{Collected, DatabaseFacts, PasswordKind, QualifiedName};
use pgsec_core::{evaluate, Policy, Report, Severity, Snapshot};
use pgsec_testkit::{Backend, TestServer, APP_USER};
use tokio_postgres::{Client, SimpleQueryMessage};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Counts what the collector asks of the connection, independently of its own stats:
/// statements, and round trips as the number of times a statement is issued while none
/// is outstanding (statements issued together are one flight).
struct Counting<'a> {
    client: &'a Client,
    outstanding: AtomicUsize,
    flights: AtomicUsize,
    statements: AtomicUsize,
}

impl<'a> Counting<'a> {
    fn new(client: &'a Client) -> Self {
        Counting {
            client,
            outstanding: AtomicUsize::new(0),
            flights: AtomicUsize::new(0),
            statements: AtomicUsize::new(0),
        }
    }
    fn flights(&self) -> usize {
        self.flights.load(Ordering::SeqCst)
    }
    fn statements(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }
}

impl QueryRunner for Counting<'_> {
    fn simple_query(
        &self,
        sql: &str,
    ) -> impl Future<Output = Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>> + Send {
        self.statements.fetch_add(1, Ordering::SeqCst);
        if self.outstanding.fetch_add(1, Ordering::SeqCst) == 0 {
            self.flights.fetch_add(1, Ordering::SeqCst);
        }
        let answer = self.client.simple_query(sql);
        async move {
            let r = answer.await;
            self.outstanding.fetch_sub(1, Ordering::SeqCst);
            r
        }
    }
}

fn db<'a>(c: &'a LiveCollection, name: &str) -> &'a DatabaseFacts {
    c.facts()
        .databases
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("database {name} not collected"))
}

fn ids(report: &Report, floor: Severity) -> BTreeSet<String> {
    report
        .findings()
        .iter()
        .filter(|f| f.severity() >= floor)
        .map(|f| f.id().to_owned())
        .collect()
}

const SCHEMA: &str = "
CREATE SCHEMA app;
CREATE TABLE app.orders (id bigint PRIMARY KEY, tenant_id uuid NOT NULL, total numeric);
ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.orders FORCE ROW LEVEL SECURITY;
CREATE POLICY iso ON app.orders AS PERMISSIVE FOR ALL TO PUBLIC
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
CREATE POLICY reader ON app.orders AS RESTRICTIVE FOR SELECT TO pgsec_app USING (true);
CREATE TABLE app.plans (id int, name text);
GRANT SELECT ON app.plans TO PUBLIC;
CREATE TABLE app.loose (id int, tenant_id uuid);
CREATE VIEW app.order_totals AS SELECT tenant_id, sum(total) AS total FROM app.orders GROUP BY tenant_id;
CREATE VIEW app.safe_orders WITH (security_invoker = on) AS SELECT o.id FROM app.orders o JOIN app.plans p ON p.id = o.id;
CREATE FUNCTION app.all_orders() RETURNS bigint LANGUAGE sql SECURITY DEFINER
  AS 'SELECT count(*) FROM app.orders';
CREATE FUNCTION app.pinned(a int, b text) RETURNS int LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS 'SELECT a';
CREATE FUNCTION app.plain() RETURNS int LANGUAGE sql AS 'SELECT 1';
";

#[tokio::test]
async fn a_superuser_collects_every_family_in_one_round_trip() -> TestResult {
    let server = pgsec_testkit::shared().await?;
    let fresh = server.fresh_database().await?;
    let admin = fresh.admin_client().await?;
    admin.batch_execute(SCHEMA).await?;

    let counting = Counting::new(&admin);
    let c = collect(&counting, &CollectOptions::default()).await?;
    assert_eq!(counting.flights(), 1, "one round trip");
    assert_eq!(counting.statements(), 4);
    assert_eq!(c.stats().round_trips, 1);
    assert_eq!(c.stats().queries, 4);

    let f = c.facts();
    assert_eq!(f.server_version.get()?.major(), server.major_version());
    assert_eq!(
        f.current_user.as_deref(),
        Some(server.info().admin.user.as_str())
    );
    assert_eq!(c.current_database(), fresh.name());

    // Settings with their files.
    let settings = f.settings.get()?;
    assert_eq!(settings["ssl"].value, "on");
    assert_eq!(settings["password_encryption"].value, "scram-sha-256");
    assert!(settings["ssl"]
        .sourcefile
        .as_deref()
        .is_some_and(|p| p.ends_with("postgresql.conf")));
    assert!(settings["authentication_timeout"].unit.as_deref() == Some("s"));

    // The kit's hba, as the server loaded it.
    let hba = f.hba.get()?;
    let rules: Vec<_> = hba.rules().map(|(_, r)| r).collect();
    assert!(rules
        .iter()
        .any(|r| r.conn_type == ConnType::HostSsl && r.method == AuthMethod::ScramSha256));
    let last = rules.last().expect("rules");
    assert_eq!(last.method, AuthMethod::Reject);
    assert!(hba
        .lines
        .iter()
        .all(|l| l.file.ends_with("pg_hba.conf") && l.line_number > 0));

    // Roles, memberships and stored password kinds (classified on the server).
    let roles = f.roles.get()?;
    let app = roles.iter().find(|r| r.name == APP_USER).expect("app role");
    assert!(app.login && !app.superuser);
    assert!(roles.iter().any(
        |r| r.name == "pg_monitor" && r.member_of.contains(&"pg_read_all_settings".to_owned())
    ));
    assert_eq!(
        f.stored_passwords.get()?.get(APP_USER),
        Some(&PasswordKind::Scram)
    );

    let d = db(&c, fresh.name());
    let schemas = d.schemas.get()?;
    assert!(schemas
        .iter()
        .any(|s| s.name == "app" && s.owner == server.info().admin.user));
    let public = schemas.iter().find(|s| s.name == "public").expect("public");
    assert!(public
        .acl
        .iter()
        .flatten()
        .any(|a| a.grantee == APP_USER && a.has('C')));

    let tables = d.tables.get()?;
    let orders = tables.iter().find(|t| t.name == "orders").expect("orders");
    assert_eq!(orders.columns, ["id", "tenant_id", "total"]);
    assert!(orders.rls_enabled && orders.rls_forced);
    let plans = tables.iter().find(|t| t.name == "plans").expect("plans");
    assert!(plans
        .acl
        .iter()
        .flatten()
        .any(|a| a.is_public() && a.has('r')));
    assert!(tables
        .iter()
        .all(|t| t.schema != "pg_catalog" && t.schema != "information_schema"));

    let policies = d.policies.get()?;
    let iso = policies.iter().find(|p| p.name == "iso").expect("iso");
    assert!(iso.permissive && iso.roles == ["public"]);
    assert!(iso
        .using
        .as_deref()
        .is_some_and(|u| u.contains("current_setting('app.current_tenant_id'")));
    assert!(iso.with_check.is_some());
    let reader = policies
        .iter()
        .find(|p| p.name == "reader")
        .expect("reader");
    assert!(!reader.permissive && reader.roles == [APP_USER] && reader.with_check.is_none());

    let views = d.views.get()?;
    let totals = views
        .iter()
        .find(|v| v.name == "order_totals")
        .expect("view");
    assert!(!totals.security_invoker);
    assert_eq!(totals.referenced, [QualifiedName::new("app", "orders")]);
    let safe = views
        .iter()
        .find(|v| v.name == "safe_orders")
        .expect("view");
    assert!(safe.security_invoker);
    assert_eq!(safe.referenced.len(), 2, "{:?}", safe.referenced);

    let functions = d.functions.get()?;
    let all = functions
        .iter()
        .find(|f| f.name == "all_orders")
        .expect("fn");
    assert!(all.security_definer && all.config.is_empty());
    assert!(all
        .body
        .as_deref()
        .is_some_and(|b| b.contains("app.orders")));
    let pinned = functions.iter().find(|f| f.name == "pinned").expect("fn");
    assert_eq!(pinned.args, "a integer, b text");
    assert_eq!(pinned.config, ["search_path=pg_catalog, pg_temp"]);
    let plain = functions.iter().find(|f| f.name == "plain").expect("fn");
    assert!(!plain.security_definer && plain.body.is_none());

    assert!(d
        .languages
        .get()?
        .iter()
        .any(|l| l.name == "plpgsql" && l.trusted));
    let exts = d.extensions.get()?;
    assert!(exts.iter().any(|e| e.name == "plpgsql"));
    assert_eq!(
        exts.iter().any(|e| e.name == "pgaudit"),
        server.has_pgaudit()
    );

    // The rules see those facts.
    let snapshot = c.into_snapshot("test", 1_750_000_000);
    let report = evaluate(&snapshot, &Policy::default().with_app_role(APP_USER));
    let fired = ids(&report, Severity::Info);
    for id in [
        "rls.disabled",             // app.loose
        "rls.view_bypass",          // app.order_totals
        "rls.definer_function",     // app.all_orders, owned by the superuser
        "fn.definer_search_path",   // app.all_orders
        "priv.public_table_grants", // app.plans
    ] {
        assert!(fired.contains(id), "{id} did not fire: {fired:?}");
    }
    let view_findings: Vec<_> = report.findings_of("rls.view_bypass").collect();
    assert_eq!(
        view_findings.len(),
        1,
        "only the view without security_invoker"
    );
    assert_eq!(
        report.findings_of("fn.definer_search_path").count(),
        1,
        "pinned has a fixed path"
    );
    for id in [
        "tls.ssl_off",
        "hba.trust_network",
        "auth.md5_stored",
        "rls.not_forced",
    ] {
        assert!(!fired.contains(id), "{id} fired on the hardened server");
        assert!(!report.is_skipped(id), "{id} skipped for a superuser");
    }
    Ok(())
}

#[tokio::test]
async fn an_unprivileged_role_gets_skips_that_name_the_privilege() -> TestResult {
    let server = pgsec_testkit::shared().await?;
    let fresh = server.fresh_database().await?;
    fresh.admin_client().await?.batch_execute(SCHEMA).await?;
    let app = fresh.app_client().await?;
    let c = collect(&app, &CollectOptions::default().current_user_is_app(true)).await?;
    let f = c.facts();
    let hba: Option<String> = match &f.hba {
        Collected::NotCollected(r) => Some(r.clone()),
        Collected::Present(_) => None,
    };
    let hba = hba.expect("pg_hba_file_rules refused");
    assert!(
        hba.contains("GRANT SELECT ON pg_hba_file_rules TO pgsec_app"),
        "{hba}"
    );
    let pw = match &f.stored_passwords {
        Collected::NotCollected(r) => r.clone(),
        Collected::Present(_) => panic!("pg_authid readable by the app role"),
    };
    assert!(pw.contains("superuser"), "{pw}");
    // Without pg_read_all_settings the visible settings are kept (ssl is one), the
    // superuser-only ones are missing and known to be.
    let settings = f.settings.get()?;
    assert_eq!(settings["ssl"].value, "on");
    assert!(settings["ssl"].sourcefile.is_none());
    assert!(!settings.contains_key("shared_preload_libraries"));
    let hidden = f.settings_hidden.as_deref().expect("some settings hidden");
    assert!(hidden.contains("pg_read_all_settings"), "{hidden}");
    assert!(f.roles.is_present());
    let d = db(&c, fresh.name());
    assert!(d.tables.is_present() && d.policies.is_present());
    assert_eq!(c.stats().round_trips, 1);

    let snapshot = c.into_snapshot("test", 1_750_000_000);
    assert_eq!(snapshot.app_role.as_deref(), Some(APP_USER));
    let report = evaluate(&snapshot, &Policy::default());
    let skipped = |id: &str| {
        report
            .skipped()
            .iter()
            .filter(|s| s.id == id)
            .map(|s| s.reason.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        skipped("hba.trust_network")
            .iter()
            .any(|r| r.contains("pg_hba_file_rules")),
        "{:?}",
        skipped("hba.trust_network")
    );
    assert!(skipped("auth.md5_stored")
        .iter()
        .any(|r| r.contains("superuser")));
    assert!(skipped("audit.pgaudit_not_loaded")
        .iter()
        .any(|r| r.contains("shared_preload_libraries") && r.contains("pg_read_all_settings")));
    assert!(
        !report.is_skipped("tls.ssl_off") && report.findings_of("tls.ssl_off").count() == 0,
        "ssl is visible to every role"
    );
    assert!(
        report.findings_of("rls.disabled").count() == 1,
        "the RLS rules still run"
    );
    Ok(())
}

#[tokio::test]
async fn a_revoked_catalog_costs_one_family_and_one_round_trip() -> TestResult {
    let server = pgsec_testkit::shared().await?;
    let fresh = server.fresh_database().await?;
    let admin = fresh.admin_client().await?;
    admin.batch_execute(SCHEMA).await?;
    // Catalog privileges are per database: only this database is affected.
    admin
        .batch_execute("REVOKE SELECT ON pg_catalog.pg_proc FROM PUBLIC")
        .await?;
    let app = fresh.app_client().await?;
    let counting = Counting::new(&app);
    let c = collect(&counting, &CollectOptions::default()).await?;
    assert_eq!(counting.flights(), 2);
    assert_eq!(c.stats().round_trips, 2);
    let d = db(&c, fresh.name());
    let why = d.functions.get().expect_err("functions refused");
    assert!(
        why.contains("pg_proc") && why.contains("permission denied"),
        "{why}"
    );
    assert!(d.tables.is_present() && d.policies.is_present() && d.views.is_present());
    assert!(c.facts().roles.is_present());

    let counting = Counting::new(&app);
    let one = collect_database(&counting).await?;
    assert_eq!((counting.flights(), one.stats().round_trips), (2, 2));
    assert!(!one.facts().functions.is_present() && one.facts().tables.is_present());
    Ok(())
}

#[tokio::test]
async fn a_role_that_may_read_no_catalog_is_an_error_not_a_report() -> TestResult {
    let server = pgsec_testkit::shared().await?;
    let fresh = server.fresh_database().await?;
    fresh
        .admin_client()
        .await?
        .batch_execute(
            "REVOKE SELECT ON pg_catalog.pg_roles, pg_catalog.pg_namespace, pg_catalog.pg_class, \
             pg_catalog.pg_proc, pg_catalog.pg_extension, pg_catalog.pg_language, \
             pg_catalog.pg_policy FROM PUBLIC",
        )
        .await?;
    let app = fresh.app_client().await?;
    match collect(&app, &CollectOptions::default()).await {
        Err(pgsec_core::Error::NoPrivileges { role, reason }) => {
            assert_eq!(role, APP_USER);
            assert!(reason.contains("permission denied"), "{reason}");
        }
        other => panic!("expected NoPrivileges, got {other:?}"),
    }
    match collect_database(&app).await {
        Err(pgsec_core::Error::NoPrivileges { role, .. }) => assert_eq!(role, APP_USER),
        other => panic!("expected NoPrivileges, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn every_database_the_role_may_connect_to() -> TestResult {
    let server = pgsec_testkit::shared().await?;
    let a = server.fresh_database().await?;
    let b = server.fresh_database().await?;
    b.admin_client()
        .await?
        .batch_execute("CREATE TABLE t (tenant_id int)")
        .await?;
    let admin = a.admin_client().await?;
    let mut c = collect(&admin, &CollectOptions::default()).await?;
    let others: Vec<String> = c.other_databases().map(str::to_owned).collect();
    assert!(others.contains(&b.name().to_owned()) && others.contains(&"postgres".to_owned()));
    assert!(!others.contains(&a.name().to_owned()) && !others.iter().any(|d| d == "template1"));
    for name in &others {
        let client = server.connect(name, &server.info().admin).await?;
        let counting = Counting::new(&client);
        let one = collect_database(&counting).await?;
        assert_eq!(counting.flights(), 1);
        assert_eq!(&one.facts().name, name);
        c.add_database(one);
    }
    c.add_unreadable_database("gone", "could not connect: refused by pg_hba.conf");
    assert_eq!(c.stats().round_trips, 1 + others.len());
    let report = evaluate(&c.into_snapshot("all", 1_750_000_000), &Policy::default());
    let disabled: Vec<_> = report.findings_of("rls.disabled").collect();
    assert!(
        disabled.iter().any(|f| f.evidence().contains(b.name())),
        "{disabled:?}"
    );
    assert!(report.skipped().iter().any(|s| s.id == "rls.disabled"
        && s.reason.contains("gone")
        && s.reason.contains("refused by pg_hba.conf")));
    Ok(())
}

/// Bulk objects: `tables` tables with a tenant column, a policy on each of the first
/// `policies`, `functions` SECURITY DEFINER functions with a fixed search_path. One DO
/// block, sent as the only statement (it commits as it goes).
fn bulk_catalog(tables: u32, policies: u32, functions: u32) -> String {
    format!(
        "DO $bulk$ BEGIN
           FOR i IN 1..{tables} LOOP
             EXECUTE format('CREATE TABLE public.t%s (id bigint, tenant_id int, v text)', i);
             EXECUTE format('ALTER TABLE public.t%s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', i);
             -- One transaction would need a lock per table: commit every 500.
             IF i % 500 = 0 THEN COMMIT; END IF;
           END LOOP;
           FOR i IN 1..{policies} LOOP
             EXECUTE format('CREATE POLICY p ON public.t%s USING (tenant_id = current_setting(''app.current_tenant_id'', true)::int) WITH CHECK (tenant_id = current_setting(''app.current_tenant_id'', true)::int)', i);
           END LOOP;
           FOR i IN 1..{functions} LOOP
             EXECUTE format('CREATE FUNCTION public.f%s(x int) RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ''SELECT x + %s''', i, i);
           END LOOP;
         END $bulk$"
    )
}

#[tokio::test]
async fn round_trips_do_not_grow_with_the_catalog() -> TestResult {
    let server = pgsec_testkit::shared().await?;
    let fresh = server.fresh_database().await?;
    let admin = fresh.admin_client().await?;
    admin
        .batch_execute(&bulk_catalog(10_000, 2_000, 1_000))
        .await?;

    let counting = Counting::new(&admin);
    let c = collect(&counting, &CollectOptions::default()).await?;
    assert_eq!(
        counting.flights(),
        1,
        "round trips on a 10,000-table catalog"
    );
    assert_eq!(counting.statements(), 4);
    let d = db(&c, fresh.name());
    assert_eq!(d.tables.get()?.len(), 10_000);
    assert_eq!(d.policies.get()?.len(), 2_000);
    let bulk_fns = d
        .functions
        .get()?
        .iter()
        .filter(|f| f.security_definer && f.name.starts_with('f'));
    assert_eq!(bulk_fns.count(), 1_000);

    let counting = Counting::new(&admin);
    let one = collect_database(&counting).await?;
    assert_eq!((counting.flights(), counting.statements()), (1, 1));
    assert_eq!(one.facts().tables.get()?.len(), 10_000);

    let report = evaluate(&c.into_snapshot("bulk", 1_750_000_000), &Policy::default());
    assert_eq!(report.findings_of("rls.no_policy").count(), 8_000);
    assert_eq!(report.findings_of("fn.definer_search_path").count(), 0);
    Ok(())
}

/// The tutorial's set-up (SEED-GUIDE.md): listening everywhere, `host all all 0.0.0.0/0
/// trust`, ssl off, md5, the application connecting as a superuser, a tenant table
/// without RLS.
#[tokio::test]
async fn the_tutorial_setup_fires_every_rule_it_should() -> TestResult {
    let server = TestServer::builder()
        .ssl(false)
        .hba_lines(["host all all 0.0.0.0/0 trust"])
        .setting("password_encryption", "md5")
        .setting("listen_addresses", "*")
        .setting("ssl_ciphers", "HIGH:MEDIUM:+3DES:!aNULL")
        .app_superuser(true)
        .start()
        .await?;
    let fresh = server.fresh_database().await?;
    let app = fresh.app_client().await?;
    app.batch_execute("CREATE TABLE orders (id bigint, tenant_id uuid, total numeric)")
        .await?;
    let admin = fresh.admin_client().await?;
    let c = collect(&admin, &CollectOptions::default()).await?;
    let snapshot: Snapshot = c.into_snapshot("tutorial", 1_750_000_000);
    let report = evaluate(&snapshot, &Policy::default().with_app_role(APP_USER));
    let fired = ids(&report, Severity::Info);

    let mut expected = vec![
        "tls.ssl_off",              // ssl = off
        "tls.weak_ciphers",         // the guide's HIGH:MEDIUM:+3DES:!aNULL
        "hba.trust_network",        // host all all 0.0.0.0/0 trust
        "hba.plaintext_allowed",    // a host line that is not reject
        "hba.wide_address",         // 0.0.0.0/0
        "hba.all_db_all_users",     // all / all
        "hba.superuser_network",    // all admits the superusers
        "hba.shadowed_rule",        // the kit's own lines after the trust line
        "auth.password_encryption", // md5
        "auth.md5_stored",          // the app role's password was stored under md5
        "role.app_superuser",       // the app connects as a superuser
        "role.superusers",          // two login superusers
        "rls.disabled",             // orders has tenant_id and no RLS
        "priv.app_owns_tables",     // the app created (owns) orders
        "priv.search_path_public",  // the app may CREATE in public, on the default search_path
    ];
    if server.has_pgaudit() {
        expected.push("audit.pgaudit_catalog"); // pgaudit's default log_catalog = on
        expected.push("ext.in_public"); // pgaudit installed in the writable public schema
    } else {
        expected.push("audit.pgaudit_not_loaded");
    }
    for id in &expected {
        assert!(fired.contains(*id), "{id} did not fire; fired: {fired:?}");
    }
    // A local testkit server listens on loopback whatever its file says (the command
    // line wins), so only a container really listens on '*'.
    if server.backend() == Backend::Container {
        let listen = report
            .findings_of("net.listen_all")
            .next()
            .expect("net.listen_all fired");
        assert_eq!(
            listen.severity(),
            Severity::High,
            "raised: the hba trusts the network"
        );
    } else {
        assert!(
            !fired.contains("net.listen_all"),
            "the live value is what counts"
        );
    }
    let su = report
        .findings_of("hba.superuser_network")
        .next()
        .expect("su");
    assert!(
        su.evidence().contains(APP_USER) || su.evidence().contains("pgsec_admin"),
        "{}",
        su.evidence()
    );
    let pw = report
        .findings_of("auth.md5_stored")
        .map(|f| f.object().to_owned())
        .collect::<Vec<_>>();
    assert!(pw.contains(&APP_USER.to_owned()), "{pw:?}");
    assert!(report.fails(Severity::Critical));
    println!("tutorial server: fired {fired:?}");
    println!(
        "tutorial server: skipped {:?}",
        report
            .skipped()
            .iter()
            .map(|s| format!("{}: {}", s.id, s.reason))
            .collect::<Vec<_>>()
    );
    Ok(())
}

/// What the start-up guard's options collect: one statement, membership options,
/// materialized views and ACLs, and the session's tenant setting.
#[tokio::test]
async fn the_startup_guard_options_collect_in_one_statement() -> TestResult {
    let server = pgsec_testkit::shared().await?;
    let fresh = server.fresh_database().await?;
    let (noinherit, group) = (
        format!("{}_noinh", fresh.name()),
        format!("{}_group", fresh.name()),
    );
    fresh
        .admin_client()
        .await?
        .batch_execute(&format!(
            "CREATE ROLE {noinherit} NOLOGIN NOINHERIT;
             CREATE ROLE {group} NOLOGIN;
             GRANT {group} TO {noinherit};
             CREATE TABLE orders (id int, tenant_id text);
             CREATE MATERIALIZED VIEW order_snapshot AS SELECT * FROM orders;
             GRANT SELECT ON order_snapshot TO {APP_USER};
             CREATE FUNCTION peek() RETURNS bigint LANGUAGE sql SECURITY DEFINER
               AS 'SELECT count(*) FROM orders';
             REVOKE EXECUTE ON FUNCTION peek() FROM PUBLIC;
             ALTER DATABASE {db} SET app.current_tenant_id = 'acme';",
            db = fresh.name()
        ))
        .await?;
    let app = fresh.app_client().await?;
    let counting = Counting::new(&app);
    let c = collect(
        &counting,
        &CollectOptions::startup_guard("app.current_tenant_id"),
    )
    .await?;
    assert_eq!((counting.flights(), counting.statements()), (1, 1));
    let f = c.facts();
    assert!(f.hba.get().is_err_and(|r| r.contains("not requested")));
    assert!(!f.stored_passwords.is_present());

    let roles = f.roles.get()?;
    let member = roles.iter().find(|r| r.name == noinherit).expect("role");
    // A NOINHERIT member inherits nothing and may SET ROLE (before 16 always; from 16
    // on the grant's options default to the member's INHERIT and SET TRUE).
    assert_eq!(member.membership(&group), Some((false, true)));

    let session = f.tenant_setting.get()?;
    assert_eq!(session.role, APP_USER);
    assert_eq!(session.value.as_deref(), Some("acme"));
    let rows = f.db_role_settings.get()?;
    assert!(rows
        .iter()
        .any(|r| r.database.as_deref() == Some(fresh.name())
            && r.role.is_none()
            && r.settings.iter().any(|(k, _)| k == "app.current_tenant_id")));

    let d = db(&c, fresh.name());
    let snap = d
        .views
        .get()?
        .iter()
        .find(|v| v.name == "order_snapshot")
        .expect("materialized view");
    assert!(snap.materialized);
    assert_eq!(snap.referenced, [QualifiedName::new("public", "orders")]);
    assert!(snap
        .acl
        .iter()
        .flatten()
        .any(|a| a.grantee == APP_USER && a.has('r')));
    let peek = d
        .functions
        .get()?
        .iter()
        .find(|f| f.name == "peek")
        .expect("function");
    assert!(peek
        .acl
        .iter()
        .flatten()
        .all(|a| !a.is_public() && a.grantee != APP_USER));

    // The guard's view of it, through the core rules.
    let snapshot = c.into_snapshot("guard", 1_750_000_000);
    let policy = Policy::default().with_app_only(true);
    let report = evaluate(&snapshot, &policy);
    let fired = ids(&report, Severity::Info);
    for id in ["rls.view_bypass", "rls.tenant_setting_default"] {
        assert!(fired.contains(id), "{id} did not fire: {fired:?}");
    }
    assert!(
        report.findings_of("rls.definer_function").next().is_none(),
        "peek is not executable by the application"
    );
    // orders has no RLS, but the application holds no privilege on it: not the
    // guard's concern (the materialized view it may read is, above); an audit with the
    // application role reports it at Low.
    assert!(!fired.contains("rls.disabled"), "{fired:?}");
    let audit = evaluate(&snapshot, &Policy::default().with_app_role(APP_USER));
    let disabled: Vec<_> = audit.findings_of("rls.disabled").collect();
    assert_eq!(disabled.len(), 1, "{disabled:?}");
    assert_eq!(disabled[0].severity(), Severity::Low);

    // A name that is not a setting name is never sent.
    let c = collect(&app, &CollectOptions::startup_guard("x'; SELECT 1; --")).await?;
    let reason = c.facts().tenant_setting.get().expect_err("not read");
    assert!(reason.contains("not a custom setting name"), "{reason}");
    Ok(())
}
