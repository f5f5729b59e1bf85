//! The text of each generated file. Every name comes from a validated [`Ident`] (letters,
//! digits, `_`), so it needs no escaping beyond SQL identifier quoting.

use std::fmt::Write as _;

use super::profile::{Ident, Profile};

/// The `postgresql.conf` fragment.
pub(super) fn conf(p: &Profile) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "# PostgreSQL hardening written by pgsec harden (profile {name}).
#
# A conf.d fragment: put it in a directory postgresql.conf includes at its end, e.g.
#   include_dir = 'conf.d'        # last line of postgresql.conf
# Later settings win, so nothing after it should set these again. listen_addresses and
# shared_preload_libraries need a restart; everything else takes effect on
#   SELECT pg_reload_conf();
# Check the result with: pgsec audit --url 'host=... sslmode=verify-full ...'

# Network and TLS: encrypted connections only (pg_hba.conf admits hostssl lines only).
listen_addresses = '{listen}'
ssl = on
ssl_cert_file = '{cert}'
ssl_key_file = '{key}'
",
        name = p.name,
        listen = p.listen_addresses.join(", "),
        cert = p.ssl_cert_file,
        key = p.ssl_key_file,
    );
    if let Some(ca) = &p.ssl_ca_file {
        let _ = writeln!(out, "ssl_ca_file = '{ca}'");
    }
    let _ = write!(
        out,
        "ssl_min_protocol_version = '{min}'
ssl_ciphers = 'HIGH:!aNULL:!MEDIUM:!3DES'     # not PostgreSQL's default, which admits MEDIUM and 3DES
ssl_prefer_server_ciphers = on

# Authentication
password_encryption = 'scram-sha-256'
authentication_timeout = '30s'

# Logging: who connected from where, and lock waits
log_connections = on
log_disconnections = on
log_line_prefix = '%m [%p] %q%u@%d %r '
log_lock_waits = on

# Runtime
idle_in_transaction_session_timeout = '5min'
search_path = '\"$user\"'                     # roles.sql sets the application schema per role
",
        min = p.ssl_min_protocol_version,
    );
    if p.pgaudit {
        out.push_str(
            "
# Audit log (pgaudit must be installed, e.g. the postgresql-NN-pgaudit package).
# If you already preload other libraries, list them here too: this line replaces theirs.
shared_preload_libraries = 'pgaudit'
pgaudit.log = 'ddl, role'
pgaudit.log_catalog = off
pgaudit.log_relation = on
",
        );
    }
    out
}

/// The complete `pg_hba.conf`.
pub(super) fn hba(p: &Profile) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "# pg_hba.conf written by pgsec harden (profile {name}). The first matching line wins.
#
# The superuser ({admin}) connects through the local socket only; every other role over
# TLS (hostssl) with SCRAM, from the allowed networks, to the application's database;
# everything else is rejected. Reload after editing: SELECT pg_reload_conf();
#
",
        name = p.name,
        admin = p.admin_role,
    );
    let r = &p.roles;
    let db = p.database.hba();
    let mut rows: Vec<[String; 5]> = vec![
        [
            "# TYPE".into(),
            "DATABASE".into(),
            "USER".into(),
            "ADDRESS".into(),
            "METHOD".into(),
        ],
        [
            "local".into(),
            "all".into(),
            p.admin_role.hba(),
            String::new(),
            p.admin_local_method.clone(),
        ],
        [
            "local".into(),
            "all".into(),
            "all".into(),
            String::new(),
            "reject".into(),
        ],
    ];
    let logins: [(&Ident, String); 4] = [
        (&r.app, db.clone()),
        (&r.migrator, db.clone()),
        (&r.reporting, db),
        // Audits of every database connect to each of them.
        (&r.monitoring, "all".into()),
    ];
    for (role, database) in &logins {
        for net in &p.allowed_networks {
            rows.push([
                "hostssl".into(),
                database.clone(),
                role.hba(),
                net.hba(),
                "scram-sha-256".into(),
            ]);
        }
    }
    rows.push([
        "host".into(),
        "all".into(),
        "all".into(),
        "0.0.0.0/0".into(),
        "reject".into(),
    ]);
    rows.push([
        "host".into(),
        "all".into(),
        "all".into(),
        "::/0".into(),
        "reject".into(),
    ]);
    let mut widths = [0usize; 5];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i == 4 {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$} ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `roles.sql`: a header with the safety checks, the roles, their attributes and
/// grants, pgaudit's extension, and where the passwords come from.
pub(super) fn roles(p: &Profile) -> String {
    let mut out = String::new();
    roles_header(&mut out, p);
    create_roles(&mut out, p);
    role_attributes_and_grants(&mut out, p);
    if p.pgaudit {
        pgaudit_extension(&mut out);
    }
    roles_footer(&mut out, p);
    out
}

/// What the file does and the checks that stop it on the wrong database or role.
fn roles_header(out: &mut String, p: &Profile) {
    let r = &p.roles;
    let db = &p.database;
    let schema = &p.schema;
    let _ = write!(
        out,
        "-- roles.sql written by pgsec harden (profile {name}) for database {db}.
--
-- Run as a superuser connected to {db}; safe to run again:
--   psql -d {db} -v ON_ERROR_STOP=1 -f roles.sql
--
--   {owner:<12} NOLOGIN  owns schema {schema} and its tables (the schema owner)
--   {migrator:<12} LOGIN    runs migrations after SET ROLE {owner}
--   {app:<12} LOGIN    the application: DML only, NOINHERIT, {app_limit} connections
--   {reporting:<12} LOGIN    read-only
--   {monitoring:<12} LOGIN    pg_monitor; may read pg_hba_file_rules for audits
--
-- No role here is a superuser, and no password is written: give each LOGIN role its
-- password afterwards in psql with \\password ROLE (it is neither echoed nor logged).

BEGIN;

DO $pgsec$
BEGIN
  IF pg_catalog.current_database() <> {db_lit} THEN
    RAISE EXCEPTION 'roles.sql is for database %, not %: connect to it (psql -d %)',
      {db_lit}, pg_catalog.current_database(), {db_lit};
  END IF;
  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    RAISE EXCEPTION 'roles.sql creates roles and grants on catalogs: run it as a superuser';
  END IF;
END
$pgsec$;

-- Roles (created once; their attributes are set every time).
DO $pgsec$
BEGIN
",
        name = p.name,
        db = db,
        db_lit = db.literal(),
        schema = schema,
        owner = r.schema_owner,
        migrator = r.migrator,
        app = r.app,
        reporting = r.reporting,
        monitoring = r.monitoring,
        app_limit = r.app_connection_limit,
    );
}

/// Each role, created `NOLOGIN` once; [`role_attributes_and_grants`] sets the rest.
fn create_roles(out: &mut String, p: &Profile) {
    let r = &p.roles;
    for role in [
        &r.schema_owner,
        &r.migrator,
        &r.app,
        &r.reporting,
        &r.monitoring,
    ] {
        let _ = write!(
            out,
            "  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {lit}) THEN
    CREATE ROLE {id} NOLOGIN;
  END IF;
",
            lit = role.literal(),
            id = role.sql(),
        );
    }
    out.push_str("END\n$pgsec$;\n\n");
}

/// Attributes (never superuser), memberships, database, schema and table privileges,
/// search paths and the audit role's catalog access; the same on every run.
fn role_attributes_and_grants(out: &mut String, p: &Profile) {
    let r = &p.roles;
    let db = &p.database;
    let schema = &p.schema;
    const SAFE: &str = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
    let _ = write!(
        out,
        "ALTER ROLE {owner} NOLOGIN {SAFE} NOINHERIT;
ALTER ROLE {migrator} LOGIN {SAFE} NOINHERIT CONNECTION LIMIT {ml};
ALTER ROLE {app} LOGIN {SAFE} NOINHERIT CONNECTION LIMIT {al};
ALTER ROLE {reporting} LOGIN {SAFE} NOINHERIT CONNECTION LIMIT {rl};
-- INHERIT: the monitoring role uses pg_monitor's privileges without SET ROLE.
ALTER ROLE {monitoring} LOGIN {SAFE} INHERIT CONNECTION LIMIT {mol};

-- The migrator becomes the schema owner explicitly (NOINHERIT): SET ROLE {owner_name}.
GRANT {owner} TO {migrator};
GRANT pg_monitor TO {monitoring};

-- Database: only these roles may connect.
REVOKE ALL ON DATABASE {db_id} FROM PUBLIC;
GRANT CONNECT ON DATABASE {db_id} TO {migrator}, {app}, {reporting}, {monitoring};

-- Schema: owned by {owner_name}; nobody else may create objects in it or in public.
CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {owner};
ALTER SCHEMA {schema} OWNER TO {owner};
REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA {schema} TO {app}, {reporting};

-- Tables that exist now, and those {owner_name} creates later.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app};
GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reporting};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}
  GRANT USAGE, SELECT ON SEQUENCES TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}
  GRANT SELECT ON TABLES TO {reporting};

-- Each role resolves names in the application schema only.
ALTER ROLE {migrator} IN DATABASE {db_id} SET search_path = {schema};
ALTER ROLE {app} IN DATABASE {db_id} SET search_path = {schema};
ALTER ROLE {reporting} IN DATABASE {db_id} SET search_path = {schema};

-- Audits without a superuser: the hba rules the server loaded (this database only).
GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {monitoring};
GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {monitoring};
DO $pgsec$
BEGIN
  IF pg_catalog.to_regclass('pg_catalog.pg_ident_file_mappings') IS NOT NULL THEN
    GRANT SELECT ON pg_catalog.pg_ident_file_mappings TO {monitoring};
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_ident_file_mappings() TO {monitoring};
  END IF;
END
$pgsec$;
",
        owner = r.schema_owner.sql(),
        owner_name = r.schema_owner,
        migrator = r.migrator.sql(),
        app = r.app.sql(),
        reporting = r.reporting.sql(),
        monitoring = r.monitoring.sql(),
        ml = r.migrator_connection_limit,
        al = r.app_connection_limit,
        rl = r.reporting_connection_limit,
        mol = r.monitoring_connection_limit,
        db_id = db.sql(),
        schema = schema.sql(),
    );
}

/// pgaudit's extension, created only where the library is installed and preloaded.
fn pgaudit_extension(out: &mut String) {
    out.push_str(
        "
-- pgaudit's event triggers log DDL in this database (needs the library preloaded).
DO $pgsec$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'pgaudit') THEN
    RAISE WARNING 'pgaudit is not installed on this server: install it, restart, run roles.sql again';
  ELSIF pg_catalog.current_setting('shared_preload_libraries') !~ '(^|[\\s,])pgaudit([\\s,]|$)' THEN
    RAISE WARNING 'pgaudit is not in shared_preload_libraries: apply the conf fragment, restart, run roles.sql again';
  ELSE
    CREATE EXTENSION IF NOT EXISTS pgaudit SCHEMA public;
  END IF;
END
$pgsec$;
",
    );
}

/// `COMMIT`, and the `\password` commands to run by hand.
fn roles_footer(out: &mut String, p: &Profile) {
    let r = &p.roles;
    let _ = write!(
        out,
        "
COMMIT;

-- Passwords, in psql (never in a file):
--   \\password {migrator}
--   \\password {app}
--   \\password {reporting}
--   \\password {monitoring}
",
        migrator = r.migrator.sql(),
        app = r.app.sql(),
        reporting = r.reporting.sql(),
        monitoring = r.monitoring.sql(),
    );
}

/// `rls.sql`.
pub(super) fn rls(p: &Profile) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "-- rls.sql written by pgsec harden (profile {name}) for database {db}.
--
-- Run after the migrations that create the tables, as a superuser or as {owner}
-- (the tables' owner); safe to run again:
--   psql -d {db} -v ON_ERROR_STOP=1 -f rls.sql
--
-- Every tenant table gets ENABLE and FORCE ROW LEVEL SECURITY (FORCE: its owner is
-- filtered too) and one policy, {policy}, for every command and role, with USING and
-- WITH CHECK comparing the tenant column with the setting {setting}. The setting is
-- read with missing_ok and an empty value counts as unset, so a session that has not
-- set it sees and writes no row. The application sets it per transaction:
--   SELECT set_config('{setting}', $1, true);
-- (pgsec-client's TenantPool does this for every transaction.)

BEGIN;
",
        name = p.name,
        db = p.database,
        owner = p.roles.schema_owner,
        policy = POLICY,
        setting = p.tenant_setting,
    );
    if p.tenant_tables.is_empty() {
        out.push_str(
            "\n-- No tenant tables in the profile: add them (tenant_tables = [\"orders\"] or\n\
             -- pgsec harden --tenant-table orders) and generate again.\n",
        );
    }
    for t in &p.tenant_tables {
        let _ = write!(
            out,
            "
-- {schema}.{table} (tenant column {column})
DO $pgsec$
DECLARE
  tbl text := pg_catalog.format('%I.%I', {schema_lit}, {table_lit});
  col_type text;
  cond text;
BEGIN
  IF pg_catalog.to_regclass(tbl) IS NULL THEN
    RAISE EXCEPTION 'table % does not exist: run rls.sql after the migrations that create it', tbl;
  END IF;
  SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO col_type
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = pg_catalog.to_regclass(tbl) AND a.attname = {column_lit}
     AND a.attnum > 0 AND NOT a.attisdropped;
  IF col_type IS NULL THEN
    RAISE EXCEPTION 'table % has no column %', tbl, {column_lit};
  END IF;
  cond := pg_catalog.format('%I = NULLIF(pg_catalog.current_setting(%L, true), '''')::%s',
                            {column_lit}, '{setting}', col_type);
  EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format('DROP POLICY IF EXISTS %I ON %s', '{policy}', tbl);
  EXECUTE pg_catalog.format(
    'CREATE POLICY %I ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
    '{policy}', tbl, cond, cond);
END
$pgsec$;
",
            schema = t.schema,
            table = t.table,
            column = t.column,
            schema_lit = t.schema.literal(),
            table_lit = t.table.literal(),
            column_lit = t.column.literal(),
            setting = p.tenant_setting,
            policy = POLICY,
        );
    }
    out.push_str("\nCOMMIT;\n");
    out
}

/// Name of the tenant policy on every table.
pub(super) const POLICY: &str = "pgsec_tenant_isolation";

#[cfg(test)]
mod tests {
    use super::super::{generate, Profile};
    use crate::conf::ConfFile;
    use crate::hba::{HbaFile, MemoryLoader, PgVersion};
    use crate::snapshot::Collected;
    use crate::{evaluate, Policy, Severity, Snapshot};
    use std::path::Path;

    fn profile() -> Profile {
        Profile::from_toml(
            r#"
            database = "shop"
            allowed_networks = ["10.0.2.0/24", "fd00:1::/64"]
            tenant_tables = ["orders", "billing.invoices:org_id"]
            [roles]
            app = "shop_app"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn the_files_pass_the_file_audit() {
        let h = generate(&profile());
        let loader = MemoryLoader::new();
        let conf = ConfFile::parse(
            &h.postgresql_conf,
            Path::new("90-pgsec-hardening.conf"),
            &loader,
        );
        assert!(conf.errors.is_empty(), "{:?}", conf.errors);
        let hba = HbaFile::parse(
            &h.pg_hba_conf,
            Path::new("pg_hba.conf"),
            PgVersion::V15,
            &loader,
        );
        assert_eq!(
            hba.errors().count(),
            0,
            "{:?}",
            hba.errors().collect::<Vec<_>>()
        );
        let snapshot = Snapshot::new("generated", 0).with_conf(conf).with_hba(hba);
        let report = evaluate(&snapshot, &Policy::default());
        let bad: Vec<_> = report
            .findings()
            .iter()
            .filter(|f| f.severity() >= Severity::Low)
            .map(|f| format!("{}: {}", f.id(), f.evidence()))
            .collect();
        assert!(bad.is_empty(), "{bad:#?}");
        assert!(matches!(snapshot.live, Collected::NotCollected(_)));
    }

    #[test]
    fn hba_lines() {
        let h = generate(&profile());
        let lines: Vec<Vec<&str>> = h
            .pg_hba_conf
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(lines[0], ["local", "all", "postgres", "peer"]);
        assert_eq!(lines[1], ["local", "all", "all", "reject"]);
        assert!(lines.contains(&vec![
            "hostssl",
            "shop",
            "shop_app",
            "fd00:1::/64",
            "scram-sha-256"
        ]));
        assert!(lines.contains(&vec![
            "hostssl",
            "all",
            "monitoring",
            "10.0.2.0/24",
            "scram-sha-256"
        ]));
        assert_eq!(
            lines[lines.len() - 1],
            ["host", "all", "all", "::/0", "reject"]
        );
        assert!(lines
            .iter()
            .all(|l| l[0] != "host" || l.last() == Some(&"reject")));
    }

    #[test]
    fn sql_has_no_password_and_every_table() {
        let h = generate(&profile());
        let upper = h.roles_sql.to_ascii_uppercase();
        assert!(!upper.contains("PASSWORD '") && !upper.contains("SUPERUSER;"));
        assert!(upper.contains("NOINHERIT CONNECTION LIMIT 50"));
        assert!(h.roles_sql.contains("\\password shop_app"));
        assert!(h
            .rls_sql
            .contains("pg_catalog.format('%I.%I', 'app', 'orders')"));
        assert!(h
            .rls_sql
            .contains("pg_catalog.format('%I.%I', 'billing', 'invoices')"));
        assert!(h.rls_sql.contains("'org_id'"));
        assert_eq!(
            h.rls_sql.matches("FORCE ROW LEVEL SECURITY', tbl").count(),
            2
        );
        let no_pgaudit = generate(&profile().with_pgaudit(false));
        assert!(!no_pgaudit.postgresql_conf.contains("pgaudit"));
        assert!(!no_pgaudit.roles_sql.contains("pgaudit"));
    }

    #[test]
    fn quoted_names_stay_quoted() {
        let p = Profile::from_toml(
            "database = \"Shop\"\nschema = \"user\"\ntenant_tables = [\"Orders\"]",
        )
        .unwrap();
        let h = generate(&p);
        assert!(h.roles_sql.contains("GRANT CONNECT ON DATABASE \"Shop\""));
        assert!(h
            .roles_sql
            .contains("CREATE SCHEMA IF NOT EXISTS \"user\" AUTHORIZATION app_owner"));
        assert!(h.pg_hba_conf.contains(" Shop "));
        assert!(h.rls_sql.contains("format('%I.%I', 'user', 'Orders')"));
    }
}
