//! The start-up guard: a small live snapshot of the pool's own role and database,
//! evaluated with pgsec-core's rules so the guard and `pgsec audit` agree.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use pgsec_core::snapshot::{
    DatabaseFacts, LiveFacts, LiveSetting, RoleFact, ServerVersion, TableFact,
};
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

/// `current_user` and every role it is a member of, directly or not, with their
/// attributes and direct memberships, so the core rules can follow inheritance.
/// (Memberships are followed through `pg_auth_members`: `pg_has_role` would call a
/// superuser a member of every role.)
const ROLES_SQL: &str = "\
with recursive member_of(oid) as (
    select r.oid from pg_catalog.pg_roles r where r.rolname = current_user
  union
    select m.roleid from pg_catalog.pg_auth_members m join member_of x on m.member = x.oid
)
select r.rolname::text, r.rolsuper, r.rolcanlogin, r.rolbypassrls, r.rolcreaterole,
       r.rolcreatedb, r.rolinherit, r.rolconnlimit,
       array(select g.rolname::text from pg_catalog.pg_auth_members m
             join pg_catalog.pg_roles g on g.oid = m.roleid
             where m.member = r.oid order by 1) as member_of
  from pg_catalog.pg_roles r
  join member_of using (oid)
 order by r.rolname = current_user desc, 1";

/// Ordinary and partitioned tables of user schemas, with their columns.
const TABLES_SQL: &str = "\
select n.nspname::text, c.relname::text, pg_catalog.pg_get_userbyid(c.relowner)::text,
       c.relrowsecurity, c.relforcerowsecurity,
       array(select a.attname::text from pg_catalog.pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
             order by a.attnum) as columns
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
///
/// Unnamed statements only (`query_typed`, one message batch each), results cast to
/// built-in types: this works behind PgBouncer's transaction pooling, where a named
/// statement could land on another server connection.
pub(crate) async fn collect(
    client: &Client,
    tenant_columns: &[String],
) -> Result<(Snapshot, Policy), tokio_postgres::Error> {
    let (server, roles, tables) = futures_util::try_join!(
        client.query_typed_one(SERVER_SQL, &[]),
        client.query_typed(ROLES_SQL, &[]),
        client.query_typed(TABLES_SQL, &[]),
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

    let mut role_facts = Vec::with_capacity(roles.len());
    for row in &roles {
        let mut fact = RoleFact::login(row.try_get::<_, String>(0)?);
        fact.superuser = row.try_get(1)?;
        fact.login = row.try_get(2)?;
        fact.bypassrls = row.try_get(3)?;
        fact.createrole = row.try_get(4)?;
        fact.createdb = row.try_get(5)?;
        fact.inherit = row.try_get(6)?;
        fact.connlimit = row.try_get(7)?;
        fact.member_of = row.try_get(8)?;
        role_facts.push(fact);
    }
    live.roles = Collected::Present(role_facts);

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
    let snapshot = Snapshot::new(
        format!("TenantPool start-up guard ({user}@{database})"),
        collected_at,
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::default().with_app_role("app")
    }

    fn live(roles: Vec<RoleFact>, tables: Vec<TableFact>, ssl: &str) -> Snapshot {
        let mut live = LiveFacts::default();
        live.roles = Collected::Present(roles);
        let mut settings = BTreeMap::new();
        settings.insert(
            "ssl".to_owned(),
            LiveSetting::new("ssl", ssl, "configuration file"),
        );
        live.settings = Collected::Present(settings);
        let mut db = DatabaseFacts::new("app");
        db.tables = Collected::Present(tables);
        live.databases = vec![db];
        Snapshot::new("guard test", 0)
            .with_live(live)
            .with_app_role("app")
    }

    fn tenant_table(owner: &str, enabled: bool, forced: bool) -> TableFact {
        TableFact::new("public", "orders", owner)
            .with_columns(["id", "tenant_id"])
            .with_rls(enabled, forced)
    }

    fn ids(findings: &[Finding]) -> Vec<&str> {
        let mut ids: Vec<&str> = findings.iter().map(Finding::id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    #[test]
    fn a_safe_snapshot_passes() {
        let snap = live(
            vec![RoleFact::login("app")],
            vec![tenant_table("owner", true, true)],
            "on",
        );
        assert!(evaluate(&snap, &policy()).is_empty());
    }

    #[test]
    fn each_guard_rule_refuses() {
        let mut superuser = RoleFact::login("app");
        superuser.superuser = true;
        let mut bypass = RoleFact::login("app");
        bypass.bypassrls = true;
        let cases = [
            (live(vec![superuser], vec![], "on"), "role.app_superuser"),
            (live(vec![bypass], vec![], "on"), "role.bypassrls"),
            (
                live(
                    vec![RoleFact::login("app")],
                    vec![tenant_table("app", true, true)],
                    "on",
                ),
                "priv.app_owns_tables",
            ),
            (
                live(
                    vec![RoleFact::login("app")],
                    vec![tenant_table("owner", false, false)],
                    "on",
                ),
                "rls.disabled",
            ),
            (
                live(
                    vec![RoleFact::login("app")],
                    vec![tenant_table("owner", true, false)],
                    "on",
                ),
                "rls.not_forced",
            ),
            (
                live(vec![RoleFact::login("app")], vec![], "off"),
                "tls.ssl_off",
            ),
        ];
        for (snap, id) in cases {
            assert_eq!(ids(&evaluate(&snap, &policy())), vec![id]);
        }
    }

    #[test]
    fn a_rule_that_cannot_be_decided_refuses_too() {
        // Nothing collected: every guard rule is skipped, and each skip is a refusal.
        let refusals = evaluate(&Snapshot::new("empty", 0), &policy());
        assert_eq!(ids(&refusals).len(), GUARD_RULES.len(), "{refusals:?}");
        let message = crate::Error::Unsafe { findings: refusals }.to_string();
        for id in GUARD_RULES {
            assert!(message.contains(id), "{message}");
        }
        assert!(message.contains("dangerous_skip_startup_guard"));
    }
}
