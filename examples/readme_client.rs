use pgsec_client::{Config, Environment, TenantId, TenantPool};

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // libpq syntax; PG* variables and ~/.pgpass fill what the string leaves out.
    // sslmode defaults to verify-full: chain and host name, no common-name fallback.
    let config = Config::parse_with_env(
        "host=db.internal user=app dbname=app sslrootcert=/etc/ssl/pg-ca.crt",
        &Environment::current(),
    )?;
    // The start-up guard refuses a superuser, BYPASSRLS or table-owning role.
    let pool = TenantPool::builder(&config).max_size(16).build().await?;

    let tenant: TenantId = "acme".parse()?; // validated once
    let tx = pool.begin(&tenant).await?; // BEGIN; SET LOCAL …: one round trip
    let rows = tx.query("SELECT id, total FROM orders", &[]).await?; // acme's rows only
    tx.commit().await?; // dropped without commit: rolled back
    println!("{} orders", rows.len());
    Ok(())
}
