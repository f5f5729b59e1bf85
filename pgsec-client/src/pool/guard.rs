//! The start-up guard: a small live snapshot of the pool's own role and database,
//! evaluated with pgsec-core's rules so the guard and `pgsec audit` agree.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use pgsec_core::snapshot::{DatabaseFacts, LiveFacts, LiveSetting, RoleFact, ServerVersion, TableFact};
use pgsec_core::{Collected, Finding, Policy, Snapshot};
use tokio_postgres::Client;

/// The rules the guard enforces (RULES.md ids).
pub const GUARD_RULES: [&str; 6] = [
    "role.app_superuser",
    "role.bypassrls",
    "priv.app_owns_tables",
    "rls.disabled",
    "rls.not_forced",
    "tls.ssl_off",
];

/// Role attributes of `current_user` and the roles it is a member of.
const ROLE_SQL: &str = "\
select r.rolname, r.rolsuper, r.rolcanlogin, r.rolbypassrls, r.rolcreaterole,
       r.rolcreatedb, r.rolinherit, r.rolconnlimit,
       coalesce(array(select g.rolname from pg_catalog.pg_auth_members m
                      join pg_catalog.pg_roles g on g.oid = m.roleid
                      where m.member = r.oid order by 1), '{}') as member_of
  from pg_catalog.pg_roles r
 where r.rolname = current_user";

/// Ordinary and partitioned tables of user schemas, with their columns.
const TABLES_SQL: &str = "\
select n.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner),
       c.relrowsecurity, c.relforcerowsecurity,
       coalesce(array(select a.attname::text from pg_catalog.pg_attribute a
                      where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                      order by a.attnum), '{}') as columns
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p')
   and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname !~ '^pg_toast' and n.nspname !~ '^pg_temp_'
 order by 1, 2";

const SERVER_SQL: &str = "\
select current_user::text, current_database()::text,
       pg_catalog.current_setting('server_version_num')::int,
       pg_catalog.current_setting('server_version'),
       (select s.setting from pg_catalog.pg_settings s where s.name = 'ssl'),
       (select s.source from pg_catalog.pg_settings s where s.name = 'ssl')";

/// Collects the guard's snapshot over `client`.
pub(crate) async fn collect(
    client: &Client,
    tenant_columns: &[String],
) -> Result<(Snapshot, Policy), tokio_postgres::Error> {
    let (server, role, tables) = futures_util::try_join!(
        client.query_one(SERVER_SQL, &[]),
        client.query_opt(ROLE_SQL, &[]),
        client.query(TABLES_SQL, &[]),
    )?;
    let user: String = server.try_get(0)?;
    let database: String = server.try_get(1)?;
    let version_num: i32 = server.try_get(2)?;
    let version_text: String = server.try_get(3)?;
    let ssl: Option<String> = server.try_get(4)?;
    let ssl_source: Option<String> = server.try_get(5)?;

    let mut live = LiveFacts::default();
    live.server_version = Collected::Present(ServerVersion::new(
        u32::try_from(version_num).unwrap_or(0),
        version_text,
    ));
    live.current_user = Some(user.clone());
    let mut settings = BTreeMap::new();
    if let (Some(value), Some(source)) = (ssl, ssl_source) {
        settings.insert("ssl".to_owned(), LiveSetting::new("ssl", value, source));
    }
    live.settings = Collected::Present(settings);

    let mut roles = Vec::new();
    if let Some(row) = role {
        let mut fact = RoleFact::login(row.try_get::<_, String>(0)?);
        fact.superuser = row.try_get(1)?;
        fact.login = row.try_get(2)?;
        fact.bypassrls = row.try_get(3)?;
        fact.createrole = row.try_get(4)?;
        fact.createdb = row.try_get(5)?;
        fact.inherit = row.try_get(6)?;
        fact.connlimit = row.try_get(7)?;
        fact.member_of = row.try_get(8)?;
        roles.push(fact);
    }
    live.roles = Collected::Present(roles);

    let mut facts = Vec::with_capacity(tables.len());
    for row in &tables {
        let schema: String = row.try_get(0)?;
        let name: String = row.try_get(1)?;
        let owner: String = row.try_get(2)?;
        let columns: Vec<String> = row.try_get(5)?;
        facts.push(
            TableFact::new(schema, name, owner)
                .with_columns(columns)
                .with_rls(row.try_get(3)?, row.try_get(4)?),
        );
    }
    let mut db = DatabaseFacts::new(database.clone());
    db.tables = Collected::Present(facts);
    live.databases = vec![db];

    let collected_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let snapshot = Snapshot::new(format!("TenantPool start-up guard ({user}@{database})"), collected_at)
        .with_live(live)
        .with_app_role(user.clone());
    let policy = Policy::default()
        .with_tenant_columns(tenant_columns.iter().cloned())
        .with_app_role(user);
    Ok((snapshot, policy))
}

/// The guard's verdict on a snapshot: the findings of [`GUARD_RULES`], plus one finding
/// per guard rule that could not be decided (fail closed).
pub(crate) fn evaluate(snapshot: &Snapshot, policy: &Policy) -> Vec<Finding> {
    let report = pgsec_core::evaluate_rules(snapshot, policy, |id| GUARD_RULES.contains(&id));
    let mut refusals: Vec<Finding> = report.findings().to_vec();
    for skipped in report.skipped() {
        refusals.push(Finding::new(
            skipped.id.clone(),
            pgsec_core::Severity::High,
            "start-up guard could not decide this rule",
            format!("guard: {}", skipped.id),
            pgsec_core::Location::object("rule", skipped.id.clone()),
            skipped.reason.clone(),
            "grant the pool's role read access to pg_roles, pg_class and pg_settings, or \
             report the rule as a pgsec bug",
        ));
    }
    refusals
}
