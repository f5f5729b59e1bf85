//! TenantPool in about 30 lines: every transaction carries its tenant, Row-Level Security
//! does the rest. Runs against a throwaway hardened server from pgsec-testkit.
//!
//! `cargo run -p pgsec-examples --example quickstart`

use pgsec_client::{Config, TenantId, TenantPool};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = pgsec_testkit::TestServer::start().await?;
    let db = server.fresh_database().await?;
    // The schema owner (not the application) creates the table and forces RLS on it.
    db.admin_client()
        .await?
        .batch_execute(&format!(
            "create table notes (tenant_id text not null, body text not null);
         alter table notes enable row level security, force row level security;
         create policy tenant on notes
           using (tenant_id = current_setting('app.current_tenant_id', true))
           with check (tenant_id = current_setting('app.current_tenant_id', true));
         grant select, insert on notes to {};",
            pgsec_core::sql::quote_ident(pgsec_testkit::APP_USER)?
        ))
        .await?;

    // verify-full TLS; the start-up guard refuses superusers, BYPASSRLS, table owners.
    let pool = TenantPool::builder(&Config::parse(&db.app_conninfo())?)
        .build()
        .await?;
    for tenant in ["acme", "globex"] {
        let tx = pool.begin(&TenantId::text(tenant)?).await?;
        tx.execute(
            "insert into notes values ($1, $2)",
            &[&tenant, &format!("hello from {tenant}")],
        )
        .await?;
        tx.commit().await?;
    }
    let tx = pool.begin(&TenantId::text("acme")?).await?;
    for row in tx.query("select tenant_id, body from notes", &[]).await? {
        println!(
            "acme sees: {} | {}",
            row.get::<_, String>(0),
            row.get::<_, String>(1)
        );
    }
    Ok(())
}
