//! A tiny multi-tenant notes service: everything it does goes through a
//! [`TenantPool`], so every statement runs with the tenant set and PostgreSQL's
//! Row-Level Security (see `migrations/`) decides what it may see.
//!
//! Its tests (`tests/notes.rs`) show the testkit's attribute and isolation assertion:
//! `#[pgsec_testkit::test(migrations = "migrations")]` hands each test a fresh
//! database with the migrations applied and a TenantPool of the application role, and
//! `pgsec_testkit::assert_isolated` proves no tenant can reach another's rows.

use pgsec_client::{TenantId, TenantPool};

/// Why a notes operation failed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Adds a note for `tenant`; returns its id.
///
/// # Errors
/// The pool or the database refused.
pub async fn add_note(pool: &TenantPool, tenant: &TenantId, body: &str) -> Result<i64, Error> {
    let tx = pool.begin(tenant).await?;
    let row = tx
        .query_one(
            "INSERT INTO notes (tenant_id, body) \
             VALUES (current_setting('app.current_tenant_id'), $1) RETURNING id",
            &[&body],
        )
        .await?;
    tx.commit().await?;
    Ok(row.get(0))
}

/// The bodies of `tenant`'s notes, oldest first.
///
/// # Errors
/// The pool or the database refused.
pub async fn list_notes(pool: &TenantPool, tenant: &TenantId) -> Result<Vec<String>, Error> {
    let tx = pool.begin(tenant).await?;
    let rows = tx.query("SELECT body FROM notes ORDER BY id", &[]).await?;
    tx.commit().await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
