//! Prove tenant isolation of *your* schema: the testkit starts a real server, your
//! migrations create the schema, and the property-based checker tries to make one tenant
//! see or change another's rows (prefix and case-variant ids, views, tenant switches on
//! a pooled connection, transactions with no tenant). It prints the shortest sequence
//! that breaks isolation, or how much it tried.
//!
//! ```text
//! cargo run -p pgsec-examples --example isolation_test
//! cargo run -p pgsec-examples --example isolation_test -- --admin 'CONNINFO' --app 'CONNINFO'
//! ```
//!
//! In your own crate this is a test. Put it in `tests/isolation.rs` (with
//! `pgsec-testkit` and `tokio` as dev-dependencies) and it runs with `cargo test`:
//!
//! ```no_run
//! use pgsec_testkit::isolation::{check, IsolationConfig};
//!
//! #[tokio::test]
//! async fn tenants_are_isolated() -> Result<(), Box<dyn std::error::Error>> {
//!     let server = pgsec_testkit::shared().await?;   // one server per test binary
//!     let db = server.fresh_database().await?;        // a database per test
//!     db.admin_client().await?.batch_execute(include_str!("../migrations/schema.sql")).await?;
//!     let report = check(IsolationConfig {
//!         admin_conninfo: db.admin_conninfo(),
//!         app_conninfo: db.app_conninfo(),
//!         seed: Some(1), // fixed: the same cases on every run; drop it to explore more
//!         ..IsolationConfig::default()
//!     })
//!     .await?;
//!     assert!(report.is_isolated(), "{report}");
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! Run the check against a test database only: it commits its seeded rows while it
//! runs (and deletes them at the end).

use pgsec_testkit::isolation::{check, IsolationConfig};

/// The schema under test, as a migration would create it: two tenant tables keyed by a
/// uuid, a foreign key between them, and a view that runs with the caller's rights.
fn schema(app_role: &str) -> Result<String, pgsec_core::sql::NameError> {
    Ok(format!(
        "CREATE TABLE projects (
           id bigserial PRIMARY KEY,
           tenant_id uuid NOT NULL,
           name text NOT NULL);
         CREATE TABLE tasks (
           id bigserial PRIMARY KEY,
           tenant_id uuid NOT NULL,
           project_id bigint NOT NULL REFERENCES projects (id),
           title text NOT NULL,
           done boolean NOT NULL DEFAULT false);
         -- security_invoker: the view is filtered by the caller's policies (PostgreSQL 15+).
         CREATE VIEW open_tasks WITH (security_invoker = true) AS
           SELECT id, tenant_id, project_id, title FROM tasks WHERE NOT done;
         DO $$
         DECLARE t text;
         BEGIN
           FOREACH t IN ARRAY ARRAY['projects', 'tasks'] LOOP
             EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
             EXECUTE format(
               'CREATE POLICY tenant_isolation ON %I
                  USING (tenant_id = NULLIF(current_setting(''app.current_tenant_id'', true), '''')::uuid)
                  WITH CHECK (tenant_id = NULLIF(current_setting(''app.current_tenant_id'', true), '''')::uuid)', t);
           END LOOP;
         END $$;
         GRANT SELECT, INSERT, UPDATE, DELETE ON projects, tasks TO {app};
         GRANT SELECT ON open_tasks TO {app};
         GRANT USAGE ON SEQUENCE projects_id_seq, tasks_id_seq TO {app};",
        app = pgsec_core::sql::quote_ident(app_role)?
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut admin, mut app) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--admin" => admin = args.next(),
            "--app" => app = args.next(),
            other => {
                return Err(
                    format!("unknown argument {other:?} (--admin CONNINFO --app CONNINFO)").into(),
                )
            }
        }
    }

    let mut _server = None;
    let (admin_conninfo, app_conninfo) = match (admin, app) {
        (Some(admin), Some(app)) => (admin, app),
        (None, None) => {
            let server = pgsec_testkit::TestServer::start().await?;
            let db = server.fresh_database().await?;
            db.admin_client()
                .await?
                .batch_execute(&schema(pgsec_testkit::APP_USER)?)
                .await?;
            let conninfo = (db.admin_conninfo(), db.app_conninfo());
            _server = Some(server);
            conninfo
        }
        _ => return Err("give both --admin and --app, or neither".into()),
    };

    let report = check(IsolationConfig {
        // A role that sees every row (superuser or BYPASSRLS): it seeds and computes what
        // each tenant should see.
        admin_conninfo,
        // The role your application's TenantPool uses.
        app_conninfo,
        seed: Some(20_240_501),
        ..IsolationConfig::default()
    })
    .await?;
    print!("{report}");
    assert!(
        report.is_isolated(),
        "tenant isolation is broken: see the counterexample above"
    );
    Ok(())
}
