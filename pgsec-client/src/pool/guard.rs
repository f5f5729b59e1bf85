//! The start-up guard: pgsec-core's live collector and rules, run over the pool's first
//! connection. The client neither queries the catalog nor decides anything itself, so
//! the guard and `pgsec audit` (connected as the application's role) agree by
//! construction: the guard's findings are the audit's findings of [`GUARD_RULES`] that
//! concern the application's role (`Policy::app_only`).

use std::time::{SystemTime, UNIX_EPOCH};

use pgsec_core::live::{collect, CollectOptions};
use pgsec_core::{Finding, Location, Policy, Severity, Snapshot};
use tokio_postgres::Client;

use super::SettingName;

/// The rules the start-up guard enforces (pgsec-core catalogue ids). A finding of any of
/// them, or a rule among them that could not be decided, refuses the pool:
///
/// - `role.app_superuser`: the pool's role is a superuser, or can `SET ROLE` to one
///   through any chain of memberships (INHERIT or not; on PostgreSQL 16+, along grants
///   with the SET option);
/// - `role.bypassrls`: the pool's role has BYPASSRLS, or can `SET ROLE` to a role that
///   has it;
/// - `priv.app_owns_tables`: the pool's role owns a table, inherits its owner's
///   privileges, or can `SET ROLE` to its owner;
/// - `rls.disabled`, `rls.not_forced`: a tenant table (one with a tenant column) of the
///   database without enabled, or without forced, row-level security;
/// - `rls.view_bypass`: a view without `security_invoker`, or a materialized view, over
///   a tenant table, owned by a role that bypasses its policies (a superuser, a
///   BYPASSRLS role, the table's owner), that the pool's role may read;
/// - `rls.definer_function`: a SECURITY DEFINER function owned by such a role that reads
///   a tenant table and that the pool's role may execute;
/// - `rls.tenant_setting_default`: the tenant setting has a non-empty default for the
///   pool's sessions (`ALTER ROLE … SET`, `ALTER DATABASE … SET`, `ALTER ROLE … IN
///   DATABASE … SET`, `postgresql.conf` or `ALTER SYSTEM`, or the connection's
///   `options`);
/// - `tls.ssl_off`: the server has `ssl = off`.
///
/// Roles, views and functions are judged only as far as they concern the pool's role:
/// another role's BYPASSRLS is reported by `pgsec audit`, not refused here.
pub const GUARD_RULES: [&str; 9] = [
    "role.app_superuser",
    "role.bypassrls",
    "priv.app_owns_tables",
    "rls.disabled",
    "rls.not_forced",
    "rls.view_bypass",
    "rls.definer_function",
    "rls.tenant_setting_default",
    "tls.ssl_off",
];

/// The policy the guard evaluates with: the connected role is the application's, only
/// what concerns it is reported, the tenant columns and setting are the pool's.
fn policy(app: &str, tenant_columns: &[String], setting: &SettingName) -> Policy {
    Policy::default()
        .with_app_role(app)
        .with_tenant_columns(tenant_columns.iter().cloned())
        .with_tenant_setting(setting.as_str())
        .with_app_only(true)
}

/// Runs the guard over `client`: collects with pgsec-core's collector (simple-query
/// statements only, so it works behind PgBouncer's transaction pooling) and refuses on
/// any finding of [`GUARD_RULES`].
///
/// # Errors
/// [`crate::Error::Unsafe`] with the findings; [`crate::Error::GuardQuery`] when the
/// connection failed while collecting.
pub(crate) async fn check(
    client: &Client,
    tenant_columns: &[String],
    setting: &SettingName,
) -> Result<(), crate::Error> {
    let options = CollectOptions::startup_guard(setting.as_str());
    let collection = match collect(client, &options).await {
        Ok(collection) => collection,
        Err(pgsec_core::Error::Live { source, .. }) => {
            return Err(crate::Error::GuardQuery { source });
        }
        // The role may read none of the catalogs: nothing can be decided.
        Err(other) => {
            let reason = other.to_string();
            return Err(crate::Error::Unsafe {
                findings: GUARD_RULES
                    .iter()
                    .map(|id| undecided(id, &reason))
                    .collect(),
            });
        }
    };
    let user = collection.current_user().unwrap_or_default().to_owned();
    let target = format!(
        "TenantPool start-up guard ({user}@{})",
        collection.current_database()
    );
    let snapshot = collection.into_snapshot(target, now());
    let findings = evaluate(&snapshot, &policy(&user, tenant_columns, setting));
    if findings.is_empty() {
        Ok(())
    } else {
        Err(crate::Error::Unsafe { findings })
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The guard's verdict on a snapshot: the findings of [`GUARD_RULES`], plus one finding
/// per guard rule that could not be decided (fail closed).
fn evaluate(snapshot: &Snapshot, policy: &Policy) -> Vec<Finding> {
    let report = pgsec_core::evaluate_rules(snapshot, policy, |id| GUARD_RULES.contains(&id));
    let mut refusals: Vec<Finding> = report.findings().to_vec();
    for skipped in report.skipped() {
        refusals.push(undecided(&skipped.id, &skipped.reason));
    }
    refusals
}

/// The refusal for a guard rule that could not be decided.
fn undecided(id: &str, reason: &str) -> Finding {
    Finding::new(
        id,
        Severity::High,
        "start-up guard could not decide this rule",
        format!("guard: {id}"),
        Location::object("rule", id),
        reason,
        "let the pool's role read the catalogs PUBLIC may read by default (pg_roles, \
         pg_auth_members, pg_db_role_setting, pg_class, pg_proc, pg_settings), or report \
         the rule as a pgsec bug",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgsec_core::snapshot::{
        Collected, DatabaseFacts, DbRoleSetting, LiveFacts, LiveSetting, QualifiedName, RoleFact,
        SessionSetting, TableFact, ViewFact,
    };
    use std::collections::BTreeMap;

    fn policy() -> Policy {
        super::policy("app", &["tenant_id".to_owned()], &SettingName::default())
    }

    fn live_facts(roles: Vec<RoleFact>, tables: Vec<TableFact>, ssl: &str) -> LiveFacts {
        let mut live = LiveFacts::default();
        live.roles = Collected::Present(roles);
        let mut settings = BTreeMap::new();
        settings.insert(
            "ssl".to_owned(),
            LiveSetting::new("ssl", ssl, "configuration file"),
        );
        live.settings = Collected::Present(settings);
        live.db_role_settings = Collected::Present(Vec::new());
        live.tenant_setting =
            Collected::Present(SessionSetting::new("app.current_tenant_id", "app", None));
        let mut db = DatabaseFacts::new("app");
        db.tables = Collected::Present(tables);
        db.views = Collected::Present(Vec::new());
        db.functions = Collected::Present(Vec::new());
        live.databases = vec![db];
        live
    }

    fn live(roles: Vec<RoleFact>, tables: Vec<TableFact>, ssl: &str) -> Snapshot {
        Snapshot::new("guard test", 0)
            .with_live(live_facts(roles, tables, ssl))
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

    fn superuser(name: &str) -> RoleFact {
        let mut r = RoleFact::group(name);
        r.superuser = true;
        r
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
        let mut su = RoleFact::login("app");
        su.superuser = true;
        let mut bypass = RoleFact::login("app");
        bypass.bypassrls = true;
        let mut member = RoleFact::login("app");
        member.member_of = vec!["admins".into()];
        let app = || vec![RoleFact::login("app"), superuser("postgres")];
        let mut view = live_facts(app(), vec![tenant_table("owner", true, true)], "on");
        view.databases[0].views = Collected::Present(vec![ViewFact::new(
            "public",
            "v",
            "postgres",
            false,
            vec![QualifiedName::new("public", "orders")],
        )
        .with_acl(vec![
            pgsec_core::snapshot::AclItem::parse("app=r/postgres").unwrap()
        ])]);
        let mut defaults = live_facts(app(), vec![], "on");
        defaults.db_role_settings = Collected::Present(vec![DbRoleSetting::new(
            None,
            Some("app".into()),
            vec![("app.current_tenant_id".into(), "acme".into())],
        )]);
        let cases = [
            (live(vec![su], vec![], "on"), "role.app_superuser"),
            (
                live(vec![member, superuser("admins")], vec![], "on"),
                "role.app_superuser",
            ),
            (live(vec![bypass], vec![], "on"), "role.bypassrls"),
            (
                live(app(), vec![tenant_table("app", true, true)], "on"),
                "priv.app_owns_tables",
            ),
            (
                // rls.disabled refuses only a table the application can reach.
                live(
                    app(),
                    vec![tenant_table("owner", false, false).with_acl(vec![
                        pgsec_core::snapshot::AclItem::parse("app=arwd/owner").unwrap(),
                    ])],
                    "on",
                ),
                "rls.disabled",
            ),
            (
                live(app(), vec![tenant_table("owner", true, false)], "on"),
                "rls.not_forced",
            ),
            (
                Snapshot::new("t", 0).with_live(view).with_app_role("app"),
                "rls.view_bypass",
            ),
            (
                Snapshot::new("t", 0)
                    .with_live(defaults)
                    .with_app_role("app"),
                "rls.tenant_setting_default",
            ),
            (live(app(), vec![], "off"), "tls.ssl_off"),
        ];
        for (snap, id) in cases {
            assert_eq!(ids(&evaluate(&snap, &policy())), vec![id]);
        }
    }

    #[test]
    fn another_roles_bypassrls_is_not_the_pools_business() {
        let mut etl = RoleFact::login("etl");
        etl.bypassrls = true;
        let snap = live(vec![RoleFact::login("app"), etl], vec![], "on");
        assert!(evaluate(&snap, &policy()).is_empty());
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
