//! One-call assertions for application tests.

use crate::isolation::{check, IsolationConfig, IsolationReport, Verdict};
use crate::TestDatabase;

/// Runs the isolation checker against `db` (its superuser seeds, its application role
/// plays the tenants; `config`'s connection strings are replaced by `db`'s) and panics
/// unless every tenant saw and changed only its own rows and everything readable was
/// exercised: on a leak the message is the shrunk counterexample as numbered SQL with
/// the leaked rows and the seed that replays it.
///
/// ```no_run
/// # async fn demo() -> Result<(), pgsec_testkit::Error> {
/// let db = pgsec_testkit::shared().await?.fresh_database().await?;
/// // … the application's migrations …
/// let report = pgsec_testkit::assert_isolated(&db, Default::default()).await;
/// println!("{} cases", report.cases_run);
/// # Ok(()) }
/// ```
///
/// # Panics
/// On a leak, on an incomplete check (a readable relation was not exercised: exclude
/// it in `config.exclude` if that is intended), and when the check cannot run (no
/// tenant table, a failed connection), with the reason.
pub async fn assert_isolated(db: &TestDatabase, config: IsolationConfig) -> IsolationReport {
    let config = IsolationConfig {
        admin_conninfo: db.admin_conninfo(),
        app_conninfo: db.app_conninfo(),
        ..config
    };
    let report = match check(config).await {
        Ok(r) => r,
        Err(e) => panic!(
            "assert_isolated: the isolation check could not run: {}",
            pgsec_core::display_chain(&e)
        ),
    };
    match report.verdict() {
        Verdict::Clean => report,
        Verdict::Leak => panic!(
            "assert_isolated: database {} is not isolated; shrunk counterexample:\n{report}",
            db.name()
        ),
        // Incomplete, and whatever a later checker adds: fail closed.
        other => panic!(
            "assert_isolated: database {}: verdict {other:?}, not clean (exclude what is not \
             meant to be exercised):\n{report}",
            db.name()
        ),
    }
}
