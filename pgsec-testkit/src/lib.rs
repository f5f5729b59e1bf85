//! pgsec-testkit: real, hardened PostgreSQL for tests.
//!
//! One call starts a server; two backends sit behind one API:
//!
//! | backend | when | needs |
//! |---|---|---|
//! | container | whenever a Docker engine answers (default) | Docker; image `PGSEC_TESTKIT_IMAGE`, else `pgsec/postgres:<major>` (built by `scripts/build-pg-image.sh <major>` for 15, 17 and 18; a stock `postgres:<major>` works too, without pgaudit) |
//! | local | no Docker, or `PGSEC_TESTKIT_BACKEND=local` | `initdb`/`postgres` from `PG_BIN`, `PATH` or `/usr/lib/postgresql/*/bin` |
//!
//! The major: [`ServerBuilder::major`], else `PGSEC_PG_MAJOR` ([`ENV_PG_MAJOR`]), else
//! [`DEFAULT_MAJOR`] (17) in a container and the newest installed major locally. A major
//! asked for that the backend does not have is an error ([`Error::MajorUnavailable`]),
//! never a silent substitute; [`TestServer::major_version`] reports the running server's.
//!
//! `PGSEC_TESTKIT_REQUIRE_CONTAINER=1` (CI sets it) makes "no Docker" an error instead of
//! a fallback. Servers start hardened: a fresh CA and server certificate (SANs
//! `localhost`, `127.0.0.1`, `::1`), `ssl = on` with TLS 1.2 or newer, SCRAM passwords,
//! `hostssl … scram-sha-256` lines ending in `reject`, pgaudit when installed, connections
//! logged. Weakened servers are built on purpose with [`ServerBuilder`]; a local one
//! still listens on loopback only and a container's port is published on 127.0.0.1 only.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pgsec_testkit::Error> {
//! // One server per test binary, started on first use; a database per test.
//! let server = pgsec_testkit::shared().await?;
//! let db = server.fresh_database().await?;
//! let admin = db.admin_client().await?;
//! admin.batch_execute("create table t (id int)").await?;
//! # Ok(()) }
//! ```
//!
//! Nothing is left behind: servers are removed on drop, and a watchdog process removes
//! them when the test process ends in any way (the shared server is never dropped).
//!
//! Also here:
//! - [`isolation`]: the property-based Row-Level Security isolation checker. It seeds
//!   generated tenants (prefixes, case variants, look-alikes of each other), runs
//!   operation sequences through pgsec-client's `TenantPool` and shrinks the first leak
//!   to numbered SQL steps ([`isolation::check`]).
//! - [`pgbouncer`]: a PgBouncer in transaction pooling mode in front of a test server.
//! - [`proxy`]: a TCP proxy in front of a test server that adds latency, counts round
//!   trips and injects faults (resets, a black hole, byte budgets, bandwidth limits).
//! - [`certs`]: test CAs, intermediates and server certificates, deliberately odd ones
//!   included (expired, without subjectAltName: [`TestCa::issue_with`]).
//! - [`TenantSchema`]: the tenant table most tests start from (forced Row-Level
//!   Security on a custom setting, granted to the application role).
#![warn(missing_docs)]

mod assert;
mod attr;
mod backend;
mod builder;
pub mod certs;
mod conninfo;
mod error;
mod fixture;
pub mod isolation;
pub mod pgbouncer;
mod pool_of_dbs;
pub mod proxy;
mod report_html;
mod server;

pub use assert::assert_isolated;
#[doc(hidden)]
pub use attr::private as __private;
pub use attr::{TestArg, TestContext};
/// Turns an `async fn` into a test with a fresh database of the binary's shared server.
///
/// The function receives what its parameters name, by type (in any order, any number):
/// [`TestDatabase`] (the test's own database), `tokio_postgres::Client` (the superuser,
/// connected to it), `pgsec_client::TenantPool` (the application role, start-up guard
/// on) and `&'static TestServer`; [`TestArg`] makes more. It may return `()` or a
/// `Result<(), E: Debug>`.
///
/// Options:
/// - `migrations = "dir"`: the `*.sql` files of `dir` (relative to the crate's
///   `Cargo.toml`), in name order, run once per test binary in a template database
///   that every test's database is cloned from. Read at compile time: a missing or
///   empty directory is a compile error on the attribute.
/// - `fixtures = ["a.sql", "b.sql"]`: run in each test's database after cloning.
///
/// Clones of each template are made ahead, in the background, two at a time.
///
/// ```no_run
/// use pgsec_testkit::TestDatabase;
///
/// // (In a crate: `#[pgsec_testkit::test(migrations = "migrations")]`.)
/// #[pgsec_testkit::test]
/// async fn tenants_see_only_their_notes(db: TestDatabase, admin: tokio_postgres::Client) {
///     admin
///         .batch_execute(
///             "create table notes (id bigserial primary key, tenant_id text not null);
///              alter table notes enable row level security;
///              alter table notes force row level security;
///              create policy tenant on notes
///                using (tenant_id = current_setting('app.current_tenant_id', true));
///              grant select, insert, update, delete on notes to pgsec_app;
///              grant usage on sequence notes_id_seq to pgsec_app;",
///         )
///         .await
///         .unwrap();
///     pgsec_testkit::assert_isolated(&db, Default::default()).await;
/// }
/// # fn main() {}
/// ```
pub use pgsec_testkit_macros::test;

pub use backend::{
    image_for, major_from_env, Backend, DEFAULT_IMAGE, DEFAULT_MAJOR, ENV_BACKEND, ENV_IMAGE,
    ENV_NO_CACHE, ENV_PG_MAJOR, ENV_REQUIRE_CONTAINER, IMAGE_MAJORS,
};
pub use builder::ServerBuilder;
pub use builder::DATABASES_AHEAD;
pub use certs::{ServerIdentity, TestCa};
pub use conninfo::Conninfo;
pub use error::{Error, Result};
pub use fixture::TenantSchema;
pub use isolation::{IsolationChecker, IsolationConfig, IsolationReport};
pub use proxy::{Fault, Proxy, ProxyBuilder, ProxyStats};
pub use server::{
    ConnectionInfo, Credentials, StartTimings, TestDatabase, TestServer, ADMIN_USER, APP_USER,
    TEMPLATE_DB,
};

/// A fresh database of the [`shared`] server, usually made before it was asked for:
/// `shared().await?.fresh_database()` (the server keeps [`DATABASES_AHEAD`] clones of
/// its template ready and makes the next in the background; what
/// `#[pgsec_testkit::test]` uses).
///
/// # Errors
/// The server could not be started, or `CREATE DATABASE` failed.
pub async fn shared_database() -> Result<TestDatabase> {
    pool_of_dbs::database_for(shared().await?, "", &[]).await
}

/// The hardened server shared by every test of this test binary: started on first use
/// (on a runtime of the kit's own, so it outlives each test's runtime), removed when the
/// process ends.
///
/// # Errors
/// The server could not be started (the error says why and what to do).
pub async fn shared() -> Result<&'static TestServer> {
    static SHARED: tokio::sync::OnceCell<TestServer> = tokio::sync::OnceCell::const_new();
    SHARED
        .get_or_try_init(|| async {
            backend::container::kit_runtime()
                .spawn(TestServer::start())
                .await
                .map_err(|source| Error::Task {
                    what: "shared server start",
                    source,
                })?
        })
        .await
}
