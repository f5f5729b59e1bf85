//! What `#[pgsec_testkit::test]` expands to calls: the argument trait, the test's
//! context, and the runner.

use std::fmt;
use std::future::Future;

use crate::error::db_error_text;
use crate::{Error, Result, TestDatabase, TestServer};
use pgsec_core::display_chain;

/// What a `#[pgsec_testkit::test]` function's arguments are made from: the shared
/// server and the test's fresh database.
pub struct TestContext {
    server: &'static TestServer,
    db: TestDatabase,
}

impl fmt::Debug for TestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestContext")
            .field("db", &self.db.name())
            .finish_non_exhaustive()
    }
}

impl TestContext {
    /// The server shared by every test of the binary.
    pub fn server(&self) -> &'static TestServer {
        self.server
    }

    /// The test's own database (migrated, fixtures loaded).
    pub fn database(&self) -> &TestDatabase {
        &self.db
    }
}

/// A type a `#[pgsec_testkit::test]` function may take as an argument: the attribute
/// hands each argument `T::take(&context)`. Implement it for a type of your own (a
/// repository built over a pool, say) to receive that instead.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of a #[pgsec_testkit::test] function",
    label = "not a type the test attribute can make",
    note = "take a `pgsec_testkit::TestDatabase`, a `tokio_postgres::Client` (the superuser, \
            in the test's database), a `pgsec_client::TenantPool` (the application role) or \
            `&'static pgsec_testkit::TestServer`, or implement `pgsec_testkit::TestArg`"
)]
pub trait TestArg: Sized {
    /// Makes the argument.
    fn take(ctx: &TestContext) -> impl Future<Output = Result<Self>>;
}

impl TestArg for TestDatabase {
    async fn take(ctx: &TestContext) -> Result<Self> {
        Ok(ctx.db.clone())
    }
}

impl TestArg for &'static TestServer {
    async fn take(ctx: &TestContext) -> Result<Self> {
        Ok(ctx.server)
    }
}

/// The superuser, connected to the test's database.
impl TestArg for tokio_postgres::Client {
    async fn take(ctx: &TestContext) -> Result<Self> {
        ctx.db.admin_client().await
    }
}

/// A TenantPool of the application role over the test's database, built with its
/// start-up guard (which refuses a schema whose tenant tables RLS does not protect).
impl TestArg for pgsec_client::TenantPool {
    async fn take(ctx: &TestContext) -> Result<Self> {
        let setup = |e: pgsec_client::Error| Error::TestSetup {
            what: "the application role's TenantPool".to_owned(),
            reason: display_chain(&e),
        };
        let config = pgsec_client::Config::parse(&ctx.db.app_conninfo()).map_err(setup)?;
        pgsec_client::TenantPool::builder(&config)
            .build()
            .await
            .map_err(setup)
    }
}

/// Not public API: what the attribute's expansion calls.
#[doc(hidden)]
pub mod private {
    use super::*;

    /// One test's options, as the attribute read them.
    #[derive(Debug)]
    pub struct Spec {
        /// `module::path::name` of the test.
        pub test: &'static str,
        /// The migrations directory (absolute), empty without migrations.
        pub migrations_key: &'static str,
        /// File name and contents of each migration, in order.
        pub migrations: &'static [(&'static str, &'static str)],
        /// Path as written and contents of each fixture, in order.
        pub fixtures: &'static [(&'static str, &'static str)],
    }

    /// Makes one argument; a failure fails the test with the reason.
    pub async fn take<T: TestArg>(ctx: &TestContext) -> T {
        match T::take(ctx).await {
            Ok(v) => v,
            Err(e) => panic!(
                "#[pgsec_testkit::test]: cannot make a `{}` argument: {}",
                std::any::type_name::<T>(),
                display_chain(&e)
            ),
        }
    }

    /// What a test function may return: `()` or a `Result` whose error is `Debug`.
    pub trait TestReturn {
        /// `Err` with the message of a failed test.
        fn into_outcome(self) -> std::result::Result<(), String>;
    }

    impl TestReturn for () {
        fn into_outcome(self) -> std::result::Result<(), String> {
            Ok(())
        }
    }

    impl<E: fmt::Debug> TestReturn for std::result::Result<(), E> {
        fn into_outcome(self) -> std::result::Result<(), String> {
            self.map_err(|e| format!("{e:?}"))
        }
    }

    /// Runs one test on a runtime of its own: the shared server, a database cloned
    /// from the migrated template, the fixtures, then the test.
    pub fn run<F, Fut>(spec: Spec, test: F)
    where
        F: FnOnce(TestContext) -> Fut,
        Fut: Future<Output = std::result::Result<(), String>>,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{}: cannot start a tokio runtime: {e}", spec.test));
        let outcome = rt.block_on(async {
            let ctx = match prepare(&spec).await {
                Ok(ctx) => ctx,
                Err(e) => panic!("{}: {}", spec.test, display_chain(&e)),
            };
            test(ctx).await
        });
        if let Err(e) = outcome {
            panic!("{} returned an error: {e}", spec.test);
        }
    }

    async fn prepare(spec: &Spec) -> Result<TestContext> {
        let server = crate::shared().await?;
        let db =
            crate::pool_of_dbs::database_for(server, spec.migrations_key, spec.migrations).await?;
        if !spec.fixtures.is_empty() {
            let admin = db.admin_client().await?;
            for (file, sql) in spec.fixtures {
                admin
                    .batch_execute(sql)
                    .await
                    .map_err(|e| Error::TestSetup {
                        what: format!("fixture {file}"),
                        reason: db_error_text(&e),
                    })?;
            }
        }
        Ok(TestContext { server, db })
    }
}
