//! pgsec-testkit: real, hardened PostgreSQL for tests.
//!
//! One call starts a server; two backends sit behind one API:
//!
//! | backend | when | needs |
//! |---|---|---|
//! | container | whenever a Docker engine answers (default) | Docker; image `PGSEC_TESTKIT_IMAGE` (default `pgsec/postgres:15`, built by `scripts/build-pg-image.sh`; a stock `postgres:<major>` works too, without pgaudit) |
//! | local | no Docker, or `PGSEC_TESTKIT_BACKEND=local` | `initdb`/`postgres` from `PG_BIN`, `PATH` or `/usr/lib/postgresql/*/bin` |
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
#![warn(missing_docs)]

mod backend;
mod builder;
pub mod certs;
mod error;
pub mod isolation;
pub mod pgbouncer;
pub mod proxy;
mod server;
mod tls;

pub use backend::{
    Backend, DEFAULT_IMAGE, ENV_BACKEND, ENV_IMAGE, ENV_NO_CACHE, ENV_REQUIRE_CONTAINER,
};
pub use builder::ServerBuilder;
pub use certs::{ServerIdentity, TestCa};
pub use error::{Error, Result};
pub use isolation::{IsolationChecker, IsolationConfig, IsolationReport};
pub use proxy::{Fault, Proxy, ProxyBuilder, ProxyStats};
pub use server::{
    ConnectionInfo, Credentials, TestDatabase, TestServer, ADMIN_USER, APP_USER, TEMPLATE_DB,
};

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
                .map_err(|e| Error::InvalidOption(format!("shared server start task: {e}")))?
        })
        .await
}
