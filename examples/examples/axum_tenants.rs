//! A multi-tenant HTTP service on axum: the tenant comes from a bearer token (or an
//! `X-Tenant-Id` header set by a trusted gateway), every handler runs in a TenantPool
//! transaction, and Row-Level Security does the filtering. The app is in
//! `examples/tenants_http.rs`; `examples/tests/axum_tenants.rs` drives it over HTTP.
//!
//! ```text
//! cargo run -p pgsec-examples --example axum_tenants                  # throwaway server
//! cargo run -p pgsec-examples --example axum_tenants -- 'host=db.internal user=app dbname=app sslmode=verify-full sslrootcert=/etc/ssl/pg-ca.crt'
//! ```
//!
//! With a connection string, the `notes` table of `tenants_http::schema_sql` must exist.
//! The service listens on 127.0.0.1 (`LISTEN=127.0.0.1:8080` to choose the port) until
//! Ctrl-C, and prints a token per tenant and curl commands to try.

use pgsec_client::{Config, TenantId, TenantPool};
use pgsec_examples::tenants_http::{router, schema_sql, Tokens};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the throwaway server alive as long as the service runs.
    let mut _server = None;
    let app_conninfo = match std::env::args().nth(1) {
        Some(conninfo) => conninfo,
        None => {
            let server = pgsec_testkit::TestServer::start().await?;
            let db = server.fresh_database().await?;
            // The schema owner (the kit's admin here) creates the table; the
            // application role only gets DML on it.
            db.admin_client()
                .await?
                .batch_execute(&schema_sql(pgsec_testkit::APP_USER)?)
                .await?;
            let conninfo = db.app_conninfo();
            _server = Some(server);
            conninfo
        }
    };

    // verify-full TLS; the start-up guard refuses superusers, BYPASSRLS and table owners.
    let pool = TenantPool::builder(&Config::parse(&app_conninfo)?)
        .build()
        .await?;

    // Tokens are random per run; a real service verifies a JWT or a session instead.
    let mut tokens = Tokens::new();
    let mut issued = Vec::new();
    for tenant in ["acme", "globex"] {
        let token = uuid::Uuid::new_v4().simple().to_string();
        tokens = tokens.with(token.clone(), TenantId::text(tenant)?);
        issued.push((tenant, token));
    }

    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    println!("axum_tenants listening on {url} (Ctrl-C to stop)");
    for (tenant, token) in &issued {
        println!("  token for {tenant}: {token}");
    }
    if let Some((_, token)) = issued.first() {
        println!("try:");
        println!(
            "  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \
             -d '{{\"body\":\"hello\"}}' {url}/notes"
        );
        println!("  curl -s -H 'Authorization: Bearer {token}' {url}/notes");
        println!("  curl -s -H 'X-Tenant-Id: globex' {url}/notes      # what a gateway would send");
        println!("  curl -si {url}/notes                               # 401: no tenant");
    }

    axum::serve(listener, router(pool, tokens))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
