//! The testkit's error type.

use std::path::PathBuf;

/// Why a test server could not be started or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `PGSEC_TESTKIT_REQUIRE_CONTAINER=1` is set and no Docker engine answers.
    #[error(
        "no Docker engine answers ({reason}) and PGSEC_TESTKIT_REQUIRE_CONTAINER=1 forbids the \
         local fallback; start one with scripts/docker-up.sh"
    )]
    ContainerRequired {
        /// What the probe saw.
        reason: String,
    },
    /// An environment variable has a value the kit does not understand.
    #[error("{name}={value:?} is not valid: {expected}")]
    BadEnv {
        /// Variable name.
        name: &'static str,
        /// Its value.
        value: String,
        /// What would be valid.
        expected: &'static str,
    },
    /// No PostgreSQL server binaries were found for the local backend.
    #[error(
        "no PostgreSQL server binaries (initdb and postgres) found in PG_BIN, PATH or \
         /usr/lib/postgresql/*/bin; install postgresql or set PG_BIN"
    )]
    NoBinaries,
    /// A PostgreSQL major was asked for (with `ServerBuilder::major` or
    /// `PGSEC_PG_MAJOR`) that this backend cannot run, or the server runs another one.
    #[error("PostgreSQL {major} was asked for ({asked_by}) but {reason}")]
    MajorUnavailable {
        /// The major asked for.
        major: u32,
        /// Who asked: `ServerBuilder::major` or `PGSEC_PG_MAJOR`.
        asked_by: &'static str,
        /// What is missing or different, and what to do.
        reason: String,
    },
    /// The kit runs as root and there is no unprivileged user to run the server as.
    #[error(
        "running as root and no `postgres` user exists to run the server as (PostgreSQL refuses \
         root); create one with `useradd --system postgres` or run the tests as another user"
    )]
    NoServerUser,
    /// A helper program failed.
    #[error("{program} failed ({status}): {output}")]
    Command {
        /// Program that failed.
        program: String,
        /// Its exit status.
        status: String,
        /// The tail of what it printed.
        output: String,
    },
    /// The server did not accept an authenticated TLS query in time.
    #[error("server not ready after {seconds} s: {last_error}; server log tail:\n{log_tail}")]
    NotReady {
        /// How long the kit waited.
        seconds: u64,
        /// The last connection error.
        last_error: String,
        /// The end of the server's log.
        log_tail: String,
    },
    /// A file could not be read or written.
    #[error("cannot read or write {path}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A generic I/O error not tied to a file.
    #[error(transparent)]
    IoOther(#[from] std::io::Error),
    /// The Docker engine refused an operation.
    #[error("the Docker engine refused an operation")]
    Container(#[from] testcontainers::TestcontainersError),
    /// The kit could not connect to its server (pgsec-client's error: a refused
    /// certificate, authentication, the network).
    #[error("could not connect to the test server")]
    Connect(#[source] pgsec_client::Error),
    /// A query against the test server failed.
    #[error("query against the test server failed")]
    Postgres(#[from] tokio_postgres::Error),
    /// Certificates could not be generated or loaded.
    #[error("could not generate or load the {what}")]
    Certificates {
        /// Which certificates (`test CA`, `CA PEM`, ...).
        what: &'static str,
        /// The generator's or the TLS library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A background task of the kit (starting a server, a container command) panicked
    /// or was cancelled.
    #[error("the kit's {what} task did not finish (it panicked or was cancelled)")]
    Task {
        /// What the task was doing.
        what: &'static str,
        /// The runtime's error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The builder or a method was given a value the kit refuses.
    #[error("invalid test server option: {0}")]
    InvalidOption(String),
    /// What was asked needs something this server or machine does not have (a backend
    /// feature, a program, a server setting); the message says what to do.
    #[error("not available here: {0}")]
    Unsupported(String),
    /// The server answered something the kit cannot make sense of.
    #[error("unexpected answer from the server: {0}")]
    UnexpectedServer(String),
    /// `#[pgsec_testkit::test]` could not set a test up: a migration or fixture failed,
    /// or a database could not be prepared.
    #[error("test set-up, {what}: {reason}")]
    TestSetup {
        /// What was being set up (`migration 001_init.sql`, …).
        what: String,
        /// Why it failed, with the server's message.
        reason: String,
    },
    /// The isolation checker could not parse a connection string or connect.
    #[error("isolation check, {role} connection")]
    IsolationConnect {
        /// `admin` or `app`.
        role: &'static str,
        /// pgsec-client's error (it never contains the password).
        #[source]
        source: pgsec_client::Error,
    },
    /// The isolation checker could not build its TenantPool or begin a transaction.
    #[error("isolation check, TenantPool")]
    IsolationPool {
        /// pgsec-client's error.
        #[source]
        source: pgsec_client::Error,
    },
    /// A query of the isolation checker's own (discovery, seeding, clean-up) failed.
    #[error("isolation check, {step}")]
    IsolationQuery {
        /// What the checker was doing.
        step: String,
        /// The server's or the connection's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The isolation checker cannot test this schema or configuration; the message
    /// says what to change.
    #[error("isolation check: {reason}")]
    IsolationSetup {
        /// What is wrong and what to do.
        reason: String,
    },
}

/// The testkit's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The server's message, detail, hint and position when there is one.
pub(crate) fn db_error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut out = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                out.push_str(&format!(" (detail: {d})"));
            }
            if let Some(h) = db.hint() {
                out.push_str(&format!(" (hint: {h})"));
            }
            if let Some(tokio_postgres::error::ErrorPosition::Original(p)) = db.position() {
                out.push_str(&format!(" at character {p}"));
            }
            out
        }
        None => pgsec_core::display_chain(e),
    }
}
