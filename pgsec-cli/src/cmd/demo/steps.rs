//! The nine steps of `pgsec demo`. Each returns one sentence saying what it proved, or
//! why it did not behave as expected.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::time::{Duration, Instant};

use pgsec_client::{connect, CertificateRefusal, Config, RootCert, TenantId, TenantPool};
use pgsec_core::harden::{generate, Hardening, Profile};
use pgsec_core::live::{collect, collect_database, CollectOptions, LiveCollection};
use pgsec_core::{evaluate, Policy, Report, Severity};
use pgsec_testkit::isolation::{check, IsolationConfig, IsolationReport};
use pgsec_testkit::{Backend, Credentials, TestServer, ADMIN_USER, APP_USER};
use rand::distr::{Alphanumeric, SampleString as _};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::progress::Progress;

/// What a step proved, or why it did not behave as expected.
pub(crate) type StepResult = Result<String, String>;

/// The conf.d-style fragment the weakened server's postgresql.conf includes last.
const FRAGMENT: &str = "pgsec-hardening.conf";
/// The application's database.
const DB: &str = "shop";
/// Roles of the generated profile.
const APP_ROLE: &str = "shop_app";
const MONITOR_ROLE: &str = "shop_monitor";
const MIGRATOR_ROLE: &str = "shop_migrator";
const OWNER_ROLE: &str = "shop_owner";
/// The two tenants of the demo.
const TENANTS: [&str; 2] = ["acme", "globex"];

/// The tutorial's pg_hba.conf: anyone over IPv4 without a password, md5 over IPv6.
const WEAK_HBA: [&str; 2] = ["host all all 0.0.0.0/0 trust", "host all all ::/0 md5"];

fn say(text: impl Display) {
    println!("  {text}");
}

/// `.ctx("what")?`: turns any error into the step's failure message.
trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::error::Error + 'static> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {}", one_line(&pgsec_core::display_chain(&e))))
    }
}

/// A role name for SQL text, quoted by pgsec-core's quoter (as `quote_ident()` would).
fn ident(name: &str) -> Result<String, String> {
    pgsec_core::sql::quote_ident(name).ctx("role name")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The database error's own message (tokio-postgres' Display only says "db error").
fn pg_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|db| db.message().to_owned())
        .unwrap_or_else(|| one_line(&pgsec_core::display_chain(e)))
}

/// The server's message anywhere in an error's `source()` chain, else the error itself.
fn server_message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(db) = err
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::as_db_error)
        {
            return db.message().to_owned();
        }
        cur = err.source();
    }
    one_line(&pgsec_core::display_chain(e))
}

/// Passwords the demo gives the generated login roles (never printed).
struct Passwords {
    app: String,
    monitor: String,
    migrator: String,
}

impl Passwords {
    fn random() -> Self {
        let mut rng = rand::rng();
        let mut one = || Alphanumeric.sample_string(&mut rng, 24);
        Passwords {
            app: one(),
            monitor: one(),
            migrator: one(),
        }
    }
}

/// The state carried from step to step.
pub(crate) struct Demo {
    cases: u32,
    seed: Option<u64>,
    server: Option<TestServer>,
    /// A superuser session to `shop`, opened while the weak pg_hba.conf admitted it: an
    /// open session outlives a reload of pg_hba.conf.
    admin_shop: Option<Client>,
    profile: Option<Profile>,
    files: Option<Hardening>,
    passwords: Passwords,
    findings_before: usize,
    /// Tenant → rows of app.orders, counted as the superuser.
    expected_rows: BTreeMap<String, i64>,
}

impl Demo {
    pub(crate) fn new(cases: u32, seed: Option<u64>) -> Self {
        Demo {
            cases,
            seed,
            server: None,
            admin_shop: None,
            profile: None,
            files: None,
            passwords: Passwords::random(),
            findings_before: 0,
            expected_rows: BTreeMap::new(),
        }
    }

    /// The backend in use, once a server runs.
    pub(crate) fn backend(&self) -> Option<Backend> {
        self.server.as_ref().map(TestServer::backend)
    }

    fn server(&self) -> Result<&TestServer, String> {
        self.server
            .as_ref()
            .ok_or_else(|| "no server (step 1 did not run)".to_owned())
    }

    fn admin_shop(&self) -> Result<&Client, String> {
        self.admin_shop
            .as_ref()
            .ok_or_else(|| "no superuser session (step 3 did not run)".to_owned())
    }

    fn files(&self) -> Result<&Hardening, String> {
        self.files
            .as_ref()
            .ok_or_else(|| "no hardening files (step 3 did not run)".to_owned())
    }

    /// A verify-full connection string for `user` on the demo's server, with the
    /// kit's CA as `sslrootcert`. Contains the password: never printed.
    fn conninfo(&self, user: &str, password: &str, db: &str) -> Result<String, String> {
        let info = self.server()?.info();
        let q = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
        Ok(format!(
            "host={} hostaddr={} port={} user={} password={} dbname={} sslmode=verify-full sslrootcert={}",
            q(&info.host),
            info.hostaddr,
            info.port,
            q(user),
            q(password),
            q(db),
            q(&info.ca_path.to_string_lossy()),
        ))
    }

    fn config(&self, user: &str, password: &str, db: &str) -> Result<Config, String> {
        Config::parse(&self.conninfo(user, password, db)?).ctx("connection string")
    }

    /// Networks of the generated pg_hba.conf: the kit's container is reached through
    /// the Docker bridge (`samenet`), a local server on loopback.
    fn networks(&self) -> Result<(&'static [&'static str], &'static [&'static str]), String> {
        Ok(match self.server()?.backend() {
            Backend::Container => (&["*"], &["samenet"]),
            _ => (&["localhost"], &["127.0.0.1/32", "::1/128"]),
        })
    }

    // ---------------------------------------------------------------- step 1

    /// Starts a server set up like the tutorial, and a tenant table without RLS.
    pub(crate) async fn start_weak_server(&mut self) -> StepResult {
        say("as in the tutorial: `host all all 0.0.0.0/0 trust`, ssl = off, password_encryption = md5,");
        say("listen_addresses = '*', an application role that is a SUPERUSER, and a tenant table");
        say("without Row-Level Security (pgaudit, where installed, is preloaded but logs nothing,");
        say("so that step 3 needs reloads only, no restart)");
        let progress = Progress::start("starting PostgreSQL");
        let server = TestServer::builder()
            .durable()
            .ssl(false)
            .replace_hba(true)
            .hba_lines(WEAK_HBA)
            .setting("listen_addresses", "*")
            .setting("password_encryption", "md5")
            .setting("log_connections", "off")
            .setting("log_disconnections", "off")
            // pgaudit stays preloaded (where installed) but logs nothing: switching it
            // on is then a reload, not a restart.
            .setting("pgaudit.log", "none")
            // Where step 3 puts the generated fragment (read last, so it wins).
            .setting("include_if_exists", FRAGMENT)
            .app_superuser(true)
            .start()
            .await
            .ctx("the server did not start")?;
        progress.done();
        let info = server.info();
        let place = match server.backend() {
            Backend::Container => "inside its container, the port published on",
            _ => "a local server: it listens on",
        };
        say(format_args!(
            "PostgreSQL {} ({:?} backend); listen_addresses = '*' is in its file, but it is {place} {}:{} only",
            server.major_version(),
            server.backend(),
            info.hostaddr,
            info.port
        ));
        let admin = server
            .connect("postgres", &info.admin)
            .await
            .ctx("connecting as the superuser")?;
        admin
            .batch_execute("CREATE DATABASE shop")
            .await
            .ctx("CREATE DATABASE shop")?;

        // The tutorial's application: any password will do, and it owns its table.
        let anyone = Credentials::new(APP_USER, "not-the-password");
        let app = server
            .connect(DB, &anyone)
            .await
            .ctx("logging in as the application role with a wrong password")?;
        app.batch_execute(
            "CREATE TABLE orders (
               id serial PRIMARY KEY,
               tenant_id text NOT NULL,
               item text NOT NULL,
               total numeric(10,2) NOT NULL);
             INSERT INTO orders (tenant_id, item, total) VALUES
               ('acme', 'anvil', 120.00), ('acme', 'rocket skates', 89.50),
               ('globex', 'hammock', 45.00);",
        )
        .await
        .ctx("creating the tenant table")?;
        let row = app
            .query_one(
                "SELECT r.rolsuper, current_setting('ssl'),
                        (SELECT relrowsecurity FROM pg_class WHERE oid = 'public.orders'::regclass)
                   FROM pg_roles r WHERE r.rolname = current_user",
                &[],
            )
            .await
            .ctx("reading the role")?;
        let (superuser, ssl, rls): (bool, String, bool) = (row.get(0), row.get(1), row.get(2));
        say(format_args!(
            "{APP_USER} logged in with a wrong password over plaintext TCP: superuser = {superuser}, ssl = {ssl}"
        ));
        self.server = Some(server);
        if !superuser || ssl != "off" || rls {
            return Err(format!(
                "the weakened set-up did not take: superuser = {superuser}, ssl = {ssl}, RLS on orders = {rls}"
            ));
        }
        Ok(format!(
            "a wrong password is accepted over plaintext TCP for a superuser application role; \
             public.orders holds 3 rows of 2 tenants with RLS off (the server is reachable on {} only)",
            self.server()?.info().hostaddr
        ))
    }

    // ---------------------------------------------------------------- step 2

    /// Audits the weakened server through the superuser's connection.
    pub(crate) async fn audit_weak(&mut self) -> StepResult {
        let server = self.server()?;
        let admin = server.info().admin.clone();
        let progress = Progress::start("collecting the catalog of every database");
        let client = server
            .connect(DB, &admin)
            .await
            .ctx("connecting as the superuser")?;
        let mut collection = collect(&client, &CollectOptions::default())
            .await
            .ctx("collecting")?;
        let others: Vec<String> = collection.other_databases().map(str::to_owned).collect();
        for db in &others {
            let c = server
                .connect(db, &admin)
                .await
                .ctx(&format!("connecting to {db}"))?;
            collection.add_database(
                collect_database(&c)
                    .await
                    .ctx(&format!("collecting {db}"))?,
            );
        }
        progress.done();
        let report = evaluate_collection(collection, "the weakened server", APP_USER, false);
        print_findings(&report);
        let s = report.summary();
        say(format_args!(
            "(`pgsec audit --url ...` prints the same with evidence and a fix per finding; \
             `pgsec audit --config --hba` audits the files)"
        ));
        let expected = [
            "tls.ssl_off",
            "hba.trust_network",
            "auth.password_encryption",
            "rls.disabled",
        ];
        let missing: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|id| report.findings_of(id).next().is_none())
            .collect();
        if !missing.is_empty() {
            return Err(format!("the audit missed {}", missing.join(", ")));
        }
        self.findings_before = s.total();
        Ok(format!(
            "the audit flags the tutorial set-up: {} critical, {} high, {} medium, {} low",
            s.critical, s.high, s.medium, s.low
        ))
    }

    // ---------------------------------------------------------------- step 3

    /// Generates the hardening with pgsec-core and applies it to the running server, in
    /// the order an operator would: settings (TLS on), roles and RLS, passwords, and
    /// pg_hba.conf last; then shows what is refused and what connects.
    pub(crate) async fn harden(&mut self) -> StepResult {
        let server = self.server()?;
        let profile = self.demo_profile()?;
        let files = generate(&profile);
        say(format_args!(
            "`pgsec harden` (pgsec_core::harden::generate) for database {DB}, networks {}:",
            self.networks()?.1.join(", ")
        ));
        for (name, text) in files.files() {
            say(format_args!(
                "  {name:<24} {:>3} lines",
                text.lines().count()
            ));
        }

        let progress = Progress::start("applying it with reloads, no restart");
        let admin_shop = apply_settings(server, &files).await?;
        self.apply_roles_and_rls(&admin_shop, &files).await?;
        let plaintext_refusal = apply_hba(server, &admin_shop, &files).await?;
        progress.done();
        say(format_args!(
            "plaintext, as {ADMIN_USER}: refused ({})",
            shorten(&plaintext_refusal, 120)
        ));
        self.show_who_connects().await?;
        self.admin_shop = Some(admin_shop);
        self.profile = Some(profile);
        self.files = Some(files);
        Ok("TLS on, SCRAM only, hostssl lines for four least-privilege roles, RLS forced on orders; \
            plaintext and the superuser over TCP are refused"
            .to_owned())
    }

    /// The hardening profile of the demo's shop: its database, schema, roles and the
    /// networks the backend's server is reached from.
    fn demo_profile(&self) -> Result<Profile, String> {
        let server = self.server()?;
        let (listen, networks) = self.networks()?;
        let list = |xs: &[&str]| {
            xs.iter()
                .map(|x| format!("\"{x}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Profile::from_toml(&format!(
            r#"
            name = "demo"
            database = "{DB}"
            schema = "app"
            listen_addresses = [{listen}]
            allowed_networks = [{networks}]
            admin_role = "{ADMIN_USER}"
            admin_local_method = "scram-sha-256"
            pgaudit = {pgaudit}
            tenant_tables = ["orders"]
            [roles]
            schema_owner = "{OWNER_ROLE}"
            migrator = "{MIGRATOR_ROLE}"
            app = "{APP_ROLE}"
            reporting = "shop_reporting"
            monitoring = "{MONITOR_ROLE}"
            "#,
            listen = list(listen),
            networks = list(networks),
            pgaudit = server.has_pgaudit(),
        ))
        .ctx("the demo's profile")
    }

    /// roles.sql; the "migration" that moves the tutorial's table into the application
    /// schema under its owner; roles.sql again (grants on it); rls.sql; the tutorial's
    /// superuser role retired; the new roles' passwords.
    async fn apply_roles_and_rls(
        &self,
        admin_shop: &Client,
        files: &Hardening,
    ) -> Result<(), String> {
        admin_shop
            .batch_execute(&files.roles_sql)
            .await
            .ctx("roles.sql")?;
        admin_shop
            .batch_execute(&format!(
                "ALTER TABLE public.orders SET SCHEMA app; ALTER TABLE app.orders OWNER TO {owner};",
                owner = ident(OWNER_ROLE)?
            ))
            .await
            .ctx("moving orders into schema app")?;
        admin_shop
            .batch_execute(&files.roles_sql)
            .await
            .ctx("roles.sql, second run")?;
        admin_shop
            .batch_execute(&files.rls_sql)
            .await
            .ctx("rls.sql")?;
        admin_shop
            .batch_execute(&format!(
                "ALTER ROLE {} NOSUPERUSER NOLOGIN PASSWORD NULL",
                ident(APP_USER)?
            ))
            .await
            .ctx("retiring the tutorial's application role")?;
        // Passwords as psql's \password sets them: a SCRAM verifier computed here, so
        // the password itself never reaches the server or its (pgaudit) log.
        let p = &self.passwords;
        let mut sql = String::new();
        for (role, password) in [
            (APP_ROLE, &p.app),
            (MONITOR_ROLE, &p.monitor),
            (MIGRATOR_ROLE, &p.migrator),
        ] {
            let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
            sql.push_str(&format!(
                "ALTER ROLE {} PASSWORD '{verifier}';\n",
                ident(role)?
            ));
        }
        admin_shop
            .batch_execute(&sql)
            .await
            .ctx("setting passwords")
    }

    /// After the hardening: the superuser is refused even over verified TLS, the
    /// application role connects with chain and host name verified.
    async fn show_who_connects(&self) -> Result<(), String> {
        let admin = &self.server()?.info().admin;
        let admin_tls = self.config(ADMIN_USER, admin.password(), DB)?;
        match connect(&admin_tls).await {
            Ok(_) => return Err("the superuser may still connect over TCP".to_owned()),
            Err(e) => say(format_args!(
                "verified TLS, as the superuser {ADMIN_USER}: refused ({})",
                shorten(&server_message(&e), 120)
            )),
        }
        let (_app, details) = connect(&self.config(APP_ROLE, &self.passwords.app, DB)?)
            .await
            .ctx("connecting as the application role over verify-full TLS")?;
        let tls = details
            .tls
            .as_ref()
            .map(|t| format!("{} {}", t.protocol_version, t.cipher_suite))
            .unwrap_or_default();
        say(format_args!(
            "verified TLS, as {APP_ROLE}: connected ({tls}, certificate and host name verified)"
        ));
        if !details.is_verified() {
            return Err("the application's connection is not verified".to_owned());
        }
        Ok(())
    }

    // ---------------------------------------------------------------- step 4

    /// Audits the hardened server as the generated monitoring role, over verified TLS.
    pub(crate) async fn audit_hardened(&mut self) -> StepResult {
        let server = self.server()?;
        let config = self.config(MONITOR_ROLE, &self.passwords.monitor, DB)?;
        let progress = Progress::start("collecting the catalog of every database");
        let (client, _) = connect(&config)
            .await
            .ctx(&format!("connecting as {MONITOR_ROLE}"))?;
        let mut collection = collect(&client, &CollectOptions::default())
            .await
            .ctx("collecting")?;
        let others: Vec<String> = collection.other_databases().map(str::to_owned).collect();
        for db in &others {
            match connect(&config.clone().dbname(db.clone())).await {
                Ok((c, _)) => collection.add_database(
                    collect_database(&c)
                        .await
                        .ctx(&format!("collecting {db}"))?,
                ),
                Err(e) => collection
                    .add_unreadable_database(db.clone(), one_line(&pgsec_core::display_chain(&e))),
            }
        }
        progress.done();
        let no_pgaudit = !server.has_pgaudit();
        let report = evaluate_collection(collection, "the hardened server", APP_ROLE, no_pgaudit);
        print_findings(&report);
        if no_pgaudit {
            say(
                "(audit.pgaudit_not_loaded is suppressed: pgaudit is not installed on this server)",
            );
        }
        let serious: Vec<String> = report
            .findings()
            .iter()
            .filter(|f| f.severity() >= Severity::Medium)
            .map(|f| format!("{} {}", f.id(), f.evidence()))
            .collect();
        if !serious.is_empty() {
            return Err(format!("still at medium or above: {}", serious.join("; ")));
        }
        print_skipped(&report);
        let ran = [
            "tls.ssl_off",
            "hba.trust_network",
            "hba.superuser_network",
            "rls.disabled",
            "rls.not_forced",
        ];
        if let Some(id) = ran.iter().find(|id| report.is_skipped(id)) {
            return Err(format!(
                "{id} was skipped, so the audit proves nothing about it"
            ));
        }
        let now = report.summary().total();
        Ok(format!(
            "nothing at medium or above ({} findings before, {now} now{}), audited by a \
             non-superuser over verified TLS",
            self.findings_before,
            if now == 0 { "" } else { ", all low" }
        ))
    }

    // ---------------------------------------------------------------- step 5

    /// A second tenant table, created by the migrator; RLS forced on both.
    pub(crate) async fn tenant_schema(&mut self) -> StepResult {
        let profile = self
            .profile
            .clone()
            .ok_or_else(|| "no profile (step 3 did not run)".to_owned())?;
        let (migrator, _) = connect(&self.config(MIGRATOR_ROLE, &self.passwords.migrator, DB)?)
            .await
            .ctx(&format!("connecting as {MIGRATOR_ROLE}"))?;
        // The migration, as the schema owner; then rls.sql for both tables (the owner may
        // run it: no superuser needed).
        let rls = generate(&profile.with_tenant_table("invoices").ctx("profile")?).rls_sql;
        migrator
            .batch_execute(&format!(
                "SET ROLE {owner};
                 CREATE TABLE app.invoices (
                   id serial PRIMARY KEY,
                   tenant_id text NOT NULL,
                   order_id int NOT NULL,
                   amount numeric(10,2) NOT NULL);",
                owner = ident(OWNER_ROLE)?
            ))
            .await
            .ctx("the migration")?;
        migrator.batch_execute(&rls).await.ctx("rls.sql")?;
        say(format_args!(
            "{MIGRATOR_ROLE} (SET ROLE {OWNER_ROLE}) created app.invoices and ran rls.sql for orders and invoices"
        ));
        let admin = self.admin_shop()?;
        // A superuser bypasses RLS: it seeds one invoice per order, for both tenants.
        admin
            .batch_execute(
                "INSERT INTO app.invoices (tenant_id, order_id, amount)
                 SELECT tenant_id, id, total FROM app.orders ORDER BY id",
            )
            .await
            .ctx("seeding invoices")?;
        let tables = admin
            .query(
                "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                        coalesce(p.polname::text, ''), coalesce(pg_get_expr(p.polqual, p.polrelid), '')
                   FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   LEFT JOIN pg_policy p ON p.polrelid = c.oid
                  WHERE n.nspname = 'app' AND c.relkind = 'r'
                  ORDER BY 1",
                &[],
            )
            .await
            .ctx("reading pg_class")?;
        let mut forced = 0;
        for t in &tables {
            let (name, on, force, policy, qual): (String, bool, bool, String, String) =
                (t.get(0), t.get(1), t.get(2), t.get(3), t.get(4));
            say(format_args!(
                "app.{name:<9} RLS {}, {}; policy {policy}: USING ({qual})",
                if on { "enabled" } else { "DISABLED" },
                if force { "forced" } else { "NOT forced" },
            ));
            if on && force && !policy.is_empty() {
                forced += 1;
            }
        }
        if forced != 2 || tables.len() != 2 {
            return Err(format!(
                "{forced} of {} tables have forced RLS with a policy",
                tables.len()
            ));
        }
        let counts = admin
            .query(
                "SELECT tenant_id, count(*) FROM app.orders GROUP BY 1 ORDER BY 1",
                &[],
            )
            .await
            .ctx("counting rows")?;
        self.expected_rows = counts
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
            .collect();
        let shown: Vec<String> = self
            .expected_rows
            .iter()
            .map(|(t, n)| format!("{t}: {n} order{}", if *n == 1 { "" } else { "s" }))
            .collect();
        say(format_args!(
            "rows (as the superuser, who bypasses RLS): {}",
            shown.join(", ")
        ));
        if self.expected_rows.len() != TENANTS.len() {
            return Err("expected rows of two tenants".to_owned());
        }
        Ok(
            "two tenant tables, RLS enabled and FORCEd, one policy each comparing tenant_id with \
            app.current_tenant_id (unset or empty: no row)"
                .to_owned(),
        )
    }

    // ---------------------------------------------------------------- step 6

    /// Tenant transactions through TenantPool: each tenant sees its own rows only.
    pub(crate) async fn tenant_transactions(&mut self) -> StepResult {
        let pool = TenantPool::builder(&self.config(APP_ROLE, &self.passwords.app, DB)?)
            .max_size(2)
            .build()
            .await
            .ctx("building the TenantPool (its start-up guard checks the role)")?;
        say(format_args!(
            "TenantPool as {APP_ROLE}: the start-up guard accepted the role (not a superuser, no BYPASSRLS, owns no table)"
        ));
        for (i, name) in TENANTS.iter().enumerate() {
            let tenant = TenantId::text(name).ctx("tenant id")?;
            let other = TENANTS[(i + 1) % TENANTS.len()];
            let tx = pool.begin(&tenant).await.ctx("begin")?;
            let rows = tx
                .query(
                    "SELECT o.tenant_id, o.item, o.total::text, count(i.id)
                       FROM app.orders o LEFT JOIN app.invoices i ON i.order_id = o.id
                      GROUP BY o.id ORDER BY o.id",
                    &[],
                )
                .await
                .ctx("select")?;
            let seen: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "{} {} ({} invoice)",
                        r.get::<_, String>(1),
                        r.get::<_, String>(2),
                        r.get::<_, i64>(3)
                    )
                })
                .collect();
            say(format_args!("{name:<7} sees {}", seen.join(", ")));
            let foreign = rows
                .iter()
                .filter(|r| r.get::<_, String>(0) != *name)
                .count();
            let expected = self.expected_rows.get(*name).copied().unwrap_or(-1);
            if foreign > 0 || i64::try_from(rows.len()).ok() != Some(expected) {
                return Err(format!(
                    "{name} saw {} rows ({foreign} of another tenant); expected its {expected}",
                    rows.len()
                ));
            }
            let smuggle = tx
                .execute(
                    "INSERT INTO app.orders (tenant_id, item, total) VALUES ($1, 'smuggled', 1)",
                    &[&other],
                )
                .await;
            match smuggle {
                Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                    say(format_args!(
                        "{name:<7} inserting a row for {other}: refused ({})",
                        pg_message(&e)
                    ));
                }
                Err(e) => {
                    return Err(format!(
                        "the insert for {other} failed for another reason: {}",
                        pgsec_core::display_chain(&e)
                    ))
                }
                Ok(_) => return Err(format!("{name} inserted a row for {other}")),
            }
            tx.rollback().await.ctx("rollback")?;
        }
        let unscoped = pool
            .dangerous_unscoped_connection()
            .await
            .ctx("an unscoped connection")?;
        let unset: i64 = unscoped
            .query_one("SELECT count(*) FROM app.orders", &[])
            .await
            .ctx("select without a tenant")?
            .get(0);
        say(format_args!(
            "no tenant set (TenantPool::dangerous_unscoped_connection): {unset} rows visible"
        ));
        if unset != 0 {
            return Err(format!("{unset} rows are visible without a tenant"));
        }
        Ok("each tenant sees exactly its own rows, cannot write the other's, and no tenant means no rows".to_owned())
    }

    // ---------------------------------------------------------------- step 7

    /// The property-based isolation checker over the schema: no violation.
    pub(crate) async fn isolation_check(&mut self) -> StepResult {
        // The checker seeds rows and computes what each tenant should see: it needs a
        // role that sees every row. The demo admits its superuser to `shop` over TLS
        // from the allowed networks for that (a checker belongs on a test copy).
        let server = self.server()?;
        let (_, networks) = self.networks()?;
        let mut hba = String::new();
        let mut added = false;
        for line in self.files()?.pg_hba_conf.lines() {
            if !added && line.starts_with("host ") && line.ends_with("reject") {
                for net in networks {
                    hba.push_str(&format!("hostssl {DB} {ADMIN_USER} {net} scram-sha-256\n"));
                }
                added = true;
            }
            hba.push_str(line);
            hba.push('\n');
        }
        server
            .write_file("pg_hba.conf", &hba)
            .await
            .ctx("writing pg_hba.conf")?;
        self.admin_shop()?
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .ctx("reloading")?;
        let admin_conninfo = self.conninfo(ADMIN_USER, server.info().admin.password(), DB)?;
        let admin_config = Config::parse(&admin_conninfo).ctx("connection string")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while connect(&admin_config).await.is_err() {
            if Instant::now() > deadline {
                return Err("the superuser is still refused 10 s after the reload".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        say(format_args!(
            "the checker seeds as a role that sees every row: pg_hba.conf now admits {ADMIN_USER} to {DB} over TLS"
        ));
        let report = self.run_checker(admin_conninfo).await?;
        if let Some(c) = &report.counterexample {
            print!("{c}");
            return Err("the checker found a violation in the hardened schema".to_owned());
        }
        Ok(format!(
            "no isolation violation in {} generated cases ({} operations as {APP_ROLE} through TenantPool)",
            report.cases_run, report.operations_run
        ))
    }

    async fn run_checker(&self, admin_conninfo: String) -> Result<IsolationReport, String> {
        let config = IsolationConfig {
            admin_conninfo,
            app_conninfo: self.conninfo(APP_ROLE, &self.passwords.app, DB)?,
            cases: self.cases,
            seed: self.seed,
            ..IsolationConfig::default()
        };
        let progress = Progress::start(format!("running up to {} cases", self.cases));
        let report = check(config).await.ctx("the isolation checker")?;
        progress.done();
        say(format_args!("tenant tables: {}", report.tables.join(", ")));
        let actors = report.tenants.iter().filter(|t| t.acts).count();
        let roles: Vec<&str> = report
            .tenants
            .iter()
            .map(|t| t.role.as_str())
            .take(4)
            .collect();
        say(format_args!(
            "{} generated tenants ({actors} acting through TenantPool): {}, ...",
            report.tenants.len(),
            roles.join("; ")
        ));
        say(format_args!(
            "seed {} (replay: pgsec demo --seed {})",
            report.seed, report.seed
        ));
        Ok(report)
    }

    // ---------------------------------------------------------------- step 8

    /// A plausible broken policy, and the checker's counterexample.
    pub(crate) async fn broken_policy(&mut self) -> StepResult {
        let (migrator, _) = connect(&self.config(MIGRATOR_ROLE, &self.passwords.migrator, DB)?)
            .await
            .ctx(&format!("connecting as {MIGRATOR_ROLE}"))?;
        let policy = "lower(tenant_id) = lower(current_setting('app.current_tenant_id', true))";
        migrator
            .batch_execute(&format!(
                "SET ROLE {owner};
                 CREATE TABLE app.notes (id serial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL);
                 ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
                 CREATE POLICY notes_tenant ON app.notes USING ({policy});",
                owner = ident(OWNER_ROLE)?
            ))
            .await
            .ctx("creating app.notes")?;
        say(format_args!(
            "app.notes: RLS forced, but its policy matches tenant ids case-insensitively:"
        ));
        say(format_args!("  USING ({policy})"));
        say("(the static audit cannot tell: the policy does compare the tenant column with the setting)");
        let server = self.server()?;
        let admin_conninfo = self.conninfo(ADMIN_USER, server.info().admin.password(), DB)?;
        let report = self.run_checker(admin_conninfo).await?;
        let Some(counterexample) = &report.counterexample else {
            return Err(format!("no violation found in {} cases", report.cases_run));
        };
        println!();
        for line in counterexample.to_string().lines() {
            say(format_args!("  {line}"));
        }
        println!();
        let Some(v) = counterexample
            .violations
            .iter()
            .find(|v| v.relation.ends_with("notes"))
        else {
            return Err("the violation is not on app.notes".to_owned());
        };
        Ok(format!(
            "counterexample on {} in {} step{}: {} ({})",
            v.relation,
            counterexample.steps.len(),
            if counterexample.steps.len() == 1 {
                ""
            } else {
                "s"
            },
            v.kind,
            shorten(&v.message, 100)
        ))
    }

    // ---------------------------------------------------------------- step 9

    /// verify-full refuses a certificate that is not for the host name connected to.
    pub(crate) async fn wrong_host(&mut self) -> StepResult {
        let info = self.server()?.info();
        let config = Config::new()
            .host("wrong.example")
            .hostaddr(info.hostaddr)
            .port(info.port)
            .user(APP_ROLE)
            .password(self.passwords.app.clone())
            .dbname(DB)
            .ssl_root_cert(RootCert::File(info.ca_path.clone()));
        say(format_args!(
            "connecting with host=wrong.example hostaddr={} port={} sslmode=verify-full sslrootcert=<the server's CA>",
            info.hostaddr, info.port
        ));
        match connect(&config).await {
            Ok(_) => Err("connected although the certificate is not for wrong.example".to_owned()),
            Err(e) => match e.certificate_refusal() {
                Some(CertificateRefusal::NameMismatch { presented, .. }) => {
                    say(format_args!(
                        "pgsec-client: {}",
                        one_line(&pgsec_core::display_chain(&e))
                    ));
                    Ok(format!(
                        "refused during the TLS handshake, before any password was sent: the certificate \
                         names {}, not wrong.example",
                        presented.join(", ")
                    ))
                }
                _ => Err(format!(
                    "refused, but not for the host name: {}",
                    pgsec_core::display_chain(&e)
                )),
            },
        }
    }
}

/// Evaluates a collection with the demo's policy.
fn evaluate_collection(
    collection: LiveCollection,
    target: &str,
    app_role: &str,
    no_pgaudit: bool,
) -> Report {
    let snapshot = collection
        .into_snapshot(target, crate::cmd::audit::now())
        .with_app_role(app_role);
    let mut policy = Policy::default().with_app_role(app_role);
    if no_pgaudit {
        policy = policy.suppress("audit.pgaudit_not_loaded");
    }
    evaluate(&snapshot, &policy)
}

/// One line per rule: severity, id, how many objects, title.
fn print_findings(report: &Report) {
    let mut rows: BTreeMap<(std::cmp::Reverse<Severity>, &str), (usize, &str)> = BTreeMap::new();
    for f in report.findings() {
        let e = rows
            .entry((std::cmp::Reverse(f.severity()), f.id()))
            .or_insert((0, f.title()));
        e.0 += 1;
    }
    if rows.is_empty() {
        say("no findings");
    }
    for ((severity, id), (count, title)) in &rows {
        let times = if *count > 1 {
            format!(" (×{count})")
        } else {
            String::new()
        };
        say(format_args!(
            "{:<9} {id:<28} {title}{times}",
            severity.0.as_str()
        ));
    }
}

/// Rules that could not run, grouped by reason.
fn print_skipped(report: &Report) {
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in report.skipped() {
        by_reason
            .entry(s.reason.as_str())
            .or_default()
            .push(s.id.as_str());
    }
    for (reason, ids) in by_reason {
        say(format_args!(
            "skipped {}: {}",
            ids.join(", "),
            shorten(&one_line(reason), 100)
        ));
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Writes the generated postgresql.conf fragment and reloads; returns a superuser
/// session to the shop once the server reports `ssl = on` and pg_file_settings shows no
/// error in the fragment.
async fn apply_settings(server: &TestServer, files: &Hardening) -> Result<Client, String> {
    server
        .write_file(FRAGMENT, &files.postgresql_conf)
        .await
        .ctx("writing the fragment")?;
    server.reload().await.ctx("reloading")?;
    let admin = &server.info().admin;
    let deadline = Instant::now() + Duration::from_secs(10);
    let admin_shop = loop {
        let c = server
            .connect(DB, admin)
            .await
            .ctx("connecting as the superuser")?;
        let ssl: String = c.query_one("SHOW ssl", &[]).await.ctx("SHOW ssl")?.get(0);
        if ssl == "on" {
            break c;
        }
        if Instant::now() > deadline {
            return Err("ssl is still off 10 s after the reload".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let errors = admin_shop
        .query(
            "SELECT sourcefile || ':' || sourceline || ' ' || coalesce(name, '') || ': ' || error
               FROM pg_file_settings WHERE error IS NOT NULL",
            &[],
        )
        .await
        .ctx("reading pg_file_settings")?;
    if let Some(row) = errors.first() {
        return Err(format!(
            "the server did not accept the fragment: {}",
            row.get::<_, String>(0)
        ));
    }
    Ok(admin_shop)
}

/// pg_hba.conf last: from now on only hostssl + SCRAM, and no superuser over TCP.
/// Returns the server's refusal of a plaintext superuser connection once the reload
/// took effect.
async fn apply_hba(
    server: &TestServer,
    admin_shop: &Client,
    files: &Hardening,
) -> Result<String, String> {
    server
        .write_file("pg_hba.conf", &files.pg_hba_conf)
        .await
        .ctx("writing pg_hba.conf")?;
    admin_shop
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .ctx("reloading")?;
    let admin = &server.info().admin;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match server.connect(DB, admin).await {
            Err(e) => return Ok(server_message(&e)),
            Ok(_) if Instant::now() > deadline => {
                return Err(
                    "plaintext connections are still accepted 10 s after the reload".to_owned(),
                )
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
