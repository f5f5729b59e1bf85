//! The tenant schema and pools shared by the pool tests (and the spans binary).

use pgsec_client::{Config, TenantPool, TenantPoolBuilder};
use pgsec_testkit::{TenantSchema, TestDatabase};

/// A fresh database with the tenant table `items` (id, tenant_id, body): owned by the
/// superuser, RLS enabled and forced, isolated by `app.current_tenant_id`, usable by the
/// application role.
pub(crate) async fn tenant_database() -> TestDatabase {
    let server = pgsec_testkit::shared().await.expect("test server");
    let db = server.fresh_database().await.expect("fresh database");
    TenantSchema::new("items")
        .serial_id()
        .column("body", "text not null")
        .apply(&db)
        .await
        .expect("tenant schema");
    db
}

/// The application role's verify-full configuration for `db`.
pub(crate) fn app_config(db: &TestDatabase) -> Config {
    Config::parse(&db.app_conninfo()).expect("app conninfo parses")
}

/// A builder for the application role on `db`.
pub(crate) fn app_pool(db: &TestDatabase) -> TenantPoolBuilder {
    TenantPool::builder(&app_config(db))
}

/// Rows of `items` that the superuser sees (RLS does not apply to it), as
/// (tenant, body) pairs.
pub(crate) async fn all_items(db: &TestDatabase) -> Vec<(String, String)> {
    db.admin_client()
        .await
        .expect("admin client")
        .query("select tenant_id, body from items order by id", &[])
        .await
        .expect("read items")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}
