//! Databases for the test attribute: one migrated template per migrations directory and
//! test binary, cloned through the server's databases made ahead
//! (`TestServer::clone_made_ahead`), so that a test rarely waits for `CREATE DATABASE`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::{Error, Result, TestDatabase, TestServer};

/// Per migrations key: the migrated template's name, made once per test binary.
type Templates = Mutex<HashMap<String, Arc<tokio::sync::OnceCell<String>>>>;

fn templates() -> &'static Templates {
    static T: OnceLock<Templates> = OnceLock::new();
    T.get_or_init(Default::default)
}

/// A fresh database of the shared `server` with `migrations` applied (in order, once
/// per test binary and `key`, to a template the database is cloned from). An empty
/// `key` means no migrations: [`TestServer::fresh_database`], a clone of the kit's own
/// template.
///
/// # Errors
/// A migration failed (the error names its file), or `CREATE DATABASE` failed.
pub(crate) async fn database_for(
    server: &'static TestServer,
    key: &str,
    migrations: &'static [(&'static str, &'static str)],
) -> Result<TestDatabase> {
    if migrations.is_empty() {
        // The server keeps clones of its own template ready itself.
        return server.fresh_database().await;
    }
    let template = {
        let mut map = templates().lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(key.to_owned()).or_default())
    };
    let template = template
        .get_or_try_init(|| migrate_template(server, key, migrations))
        .await?;
    // The server keeps clones of each template ready, as of its own.
    server.clone_made_ahead(template).await
}

/// Makes the template of one migrations directory: a fresh database, every file run in
/// it in name order, the connection closed (a template must have no sessions).
async fn migrate_template(
    server: &'static TestServer,
    key: &str,
    migrations: &'static [(&'static str, &'static str)],
) -> Result<String> {
    let db = server.fresh_database().await?;
    let admin = db.admin_client().await?;
    for (file, sql) in migrations {
        admin
            .batch_execute(sql)
            .await
            .map_err(|e| Error::TestSetup {
                what: format!("migration {file} of {key}"),
                reason: crate::error::db_error_text(&e),
            })?;
    }
    drop(admin);
    Ok(db.name().to_owned())
}

/// How to clone a database on the server `admin` is connected to (PostgreSQL 15+).
/// `FILE_COPY` copies the files and checkpoints twice; `WAL_LOG` writes every page of
/// the template to the WAL instead. Measured on the kit's template (about 7.5 MB), local
/// backend, medians (`examples/fresh_db_cost.rs`): with `fsync` on, WAL_LOG 118–202 ms
/// and FILE_COPY 690 ms (the checkpoints wait for the disk); with the kit's `fsync =
/// off`, FILE_COPY 60–88 ms and WAL_LOG 205 ms. So FILE_COPY when fsync is off.
///
/// # Errors
/// The query failed.
pub(crate) async fn clone_strategy(admin: &tokio_postgres::Client) -> Result<&'static str> {
    let row = admin
        .query_one("SELECT pg_catalog.current_setting('fsync')", &[])
        .await?;
    Ok(if row.get::<_, String>(0) == "off" {
        "FILE_COPY"
    } else {
        "WAL_LOG"
    })
}
