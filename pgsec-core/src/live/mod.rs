//! Collecting a [`Snapshot`] from a live server (feature `live`).
//!
//! One connection per database and a fixed number of round trips whatever the size of
//! the catalog: every fact family is aggregated into one JSON value on the server, the
//! families anyone may read are the columns of one statement, and the three families that
//! need a privilege (`pg_hba_file_rules`, `pg_ident_file_mappings`, `pg_authid`) are
//! statements of their own, pipelined with it. A family the role may not read becomes
//! [`Collected::NotCollected`] with the privilege that would allow it, so its rules report
//! skipped; nothing is ever assumed.
//!
//! | call | statements | round trips |
//! |---|---|---|
//! | [`collect`] (cluster + current database) | 4 | 1 (2 if a catalog table was revoked from PUBLIC) |
//! | [`collect`] with [`CollectOptions::startup_guard`] | 1 | 1 (2 likewise) |
//! | [`collect_database`] (each further database) | 1 | 1 (2 likewise) |
//!
//! ```no_run
//! # async fn demo(client: tokio_postgres::Client) -> Result<(), pgsec_core::Error> {
//! use pgsec_core::live::{collect, CollectOptions};
//! use pgsec_core::{evaluate, Policy};
//! let collection = collect(&client, &CollectOptions::default().current_user_is_app(true)).await?;
//! assert!(collection.stats().round_trips <= 2);
//! let snapshot = collection.into_snapshot("host=db.internal dbname=app", 1_700_000_000);
//! let report = evaluate(&snapshot, &Policy::default());
//! # drop(report); Ok(()) }
//! ```

mod decode;
mod hba;
mod sql;

use std::future::Future;

use futures_util::future::join_all;
use tokio_postgres::error::SqlState;
use tokio_postgres::SimpleQueryMessage;

use crate::hba::PgVersion;
use crate::snapshot::{Collected, DatabaseFacts, LiveFacts, ServerVersion, SessionSetting};
use crate::{Error, Snapshot};

use decode::FamilyText;
use sql::Family;

/// Something that runs a statement with the simple query protocol: a
/// [`tokio_postgres::Client`], or a wrapper around one (tests count round trips this way).
///
/// The collector issues the statements of one round trip concurrently; a client that
/// pipelines them (tokio-postgres does) sends them in one flight.
pub trait QueryRunner: Sync {
    /// Runs `sql` (one statement) and returns its messages.
    fn simple_query(
        &self,
        sql: &str,
    ) -> impl Future<Output = Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>> + Send;
}

impl QueryRunner for tokio_postgres::Client {
    fn simple_query(
        &self,
        sql: &str,
    ) -> impl Future<Output = Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>> + Send {
        tokio_postgres::Client::simple_query(self, sql)
    }
}

/// What to collect and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct CollectOptions {
    /// Take the connected role (`current_user`) as the application's role.
    pub current_user_is_app: bool,
    /// The setting that carries the tenant (default `app.current_tenant_id`): its value
    /// in the collecting session is read right after connecting
    /// ([`LiveFacts::tenant_setting`](crate::snapshot::LiveFacts::tenant_setting)).
    /// `None` reads nothing.
    pub tenant_setting: Option<String>,
    /// Also read `pg_hba_file_rules`, `pg_ident_file_mappings` and `pg_authid` (default
    /// true). Without them the main statement is the only one sent, and the families
    /// are recorded as not collected.
    pub privileged_families: bool,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            current_user_is_app: false,
            tenant_setting: Some(crate::policy::DEFAULT_TENANT_SETTING.to_owned()),
            privileged_families: true,
        }
    }
}

impl CollectOptions {
    /// What pgsec-client's start-up guard needs: the connected role is the
    /// application's, the tenant setting is `tenant_setting`, and the families that
    /// need a privilege (hba and ident files, stored passwords) are not read, since no
    /// guard rule looks at them and an application role would only be refused them.
    pub fn startup_guard(tenant_setting: impl Into<String>) -> Self {
        CollectOptions::default()
            .current_user_is_app(true)
            .tenant_setting(tenant_setting)
            .privileged_families(false)
    }

    /// Sets whether the connected role is the application's role.
    pub fn current_user_is_app(mut self, yes: bool) -> Self {
        self.current_user_is_app = yes;
        self
    }

    /// Sets the tenant setting whose session value is read. A name that is not a
    /// custom setting name (dot-separated parts of letters, digits, `_` and `$`) is not
    /// sent to the server; the fact is then recorded as not collected.
    pub fn tenant_setting(mut self, name: impl Into<String>) -> Self {
        self.tenant_setting = Some(name.into());
        self
    }

    /// Sets whether `pg_hba_file_rules`, `pg_ident_file_mappings` and `pg_authid` are
    /// read.
    pub fn privileged_families(mut self, yes: bool) -> Self {
        self.privileged_families = yes;
        self
    }
}

/// How much talking a collection took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CollectStats {
    /// Statements sent.
    pub queries: usize,
    /// Round trips: groups of statements sent together before waiting for an answer.
    pub round_trips: usize,
}

impl CollectStats {
    fn add(&mut self, other: CollectStats) {
        self.queries += other.queries;
        self.round_trips += other.round_trips;
    }
}

/// The facts of a live server: cluster-wide ones and one database per connection.
#[derive(Debug, Clone)]
pub struct LiveCollection {
    facts: LiveFacts,
    connectable: Vec<String>,
    current_database: String,
    current_user_is_app: bool,
    stats: CollectStats,
}

impl LiveCollection {
    /// The facts collected so far.
    pub fn facts(&self) -> &LiveFacts {
        &self.facts
    }

    /// The role the collection connected as.
    pub fn current_user(&self) -> Option<&str> {
        self.facts.current_user.as_deref()
    }

    /// The database of the first connection.
    pub fn current_database(&self) -> &str {
        &self.current_database
    }

    /// The other databases this role may connect to (`datallowconn`, not a template,
    /// CONNECT privilege), for an audit of every database.
    pub fn other_databases(&self) -> impl Iterator<Item = &str> {
        self.connectable
            .iter()
            .map(String::as_str)
            .filter(|d| *d != self.current_database)
    }

    /// Statements and round trips of every collection that went into this one.
    pub fn stats(&self) -> CollectStats {
        self.stats
    }

    /// Adds the facts of a further database (from [`collect_database`] on a connection
    /// to it).
    pub fn add_database(&mut self, db: DatabaseCollection) {
        self.stats.add(db.stats);
        self.facts.databases.push(db.facts);
    }

    /// Records a database that could not be examined: every rule about it reports
    /// skipped with `reason` (e.g. the connection was refused by pg_hba.conf).
    pub fn add_unreadable_database(&mut self, name: impl Into<String>, reason: impl Into<String>) {
        let reason = reason.into();
        let db = DatabaseFacts {
            schemas: Collected::NotCollected(reason.clone()),
            tables: Collected::NotCollected(reason.clone()),
            policies: Collected::NotCollected(reason.clone()),
            views: Collected::NotCollected(reason.clone()),
            functions: Collected::NotCollected(reason.clone()),
            extensions: Collected::NotCollected(reason.clone()),
            languages: Collected::NotCollected(reason.clone()),
            event_triggers: Collected::NotCollected(reason),
            ..DatabaseFacts::new(name)
        };
        self.facts.databases.push(db);
    }

    /// The snapshot for the evaluator: `target` names what was audited (never a
    /// password), `collected_at` is the time in Unix seconds. The major version of the
    /// server decides how hba names are read; the connected role becomes the
    /// application's role when [`CollectOptions::current_user_is_app`] was set.
    pub fn into_snapshot(self, target: impl Into<String>, collected_at: i64) -> Snapshot {
        let major = self
            .facts
            .server_version
            .as_option()
            .map(ServerVersion::major);
        let app = if self.current_user_is_app {
            self.facts.current_user.clone()
        } else {
            None
        };
        let mut snapshot = Snapshot::new(target, collected_at).with_live(self.facts);
        if let Some(v) = major.and_then(|m| PgVersion::new(m).ok()) {
            snapshot = snapshot.with_pg_version(v);
        }
        if let Some(app) = app {
            snapshot = snapshot.with_app_role(app);
        }
        snapshot
    }
}

/// The facts of one further database.
#[derive(Debug, Clone)]
pub struct DatabaseCollection {
    facts: DatabaseFacts,
    stats: CollectStats,
}

impl DatabaseCollection {
    /// The database's facts.
    pub fn facts(&self) -> &DatabaseFacts {
        &self.facts
    }

    /// Statements and round trips it took.
    pub fn stats(&self) -> CollectStats {
        self.stats
    }
}

/// Collects the cluster-wide facts and those of the connected database.
///
/// # Errors
/// [`Error::Live`] when a statement fails for another reason than a privilege (the
/// connection broke); [`Error::NoPrivileges`] when the role may read neither the roles
/// nor any catalog of the database. Missing privileges for single families are not
/// errors: they are recorded as not collected, with the privilege that would allow them.
pub async fn collect<R: QueryRunner + ?Sized>(
    runner: &R,
    options: &CollectOptions,
) -> Result<LiveCollection, Error> {
    let mut stats = CollectStats::default();
    let tenant_setting = options.tenant_setting.as_deref();
    let valid_setting = tenant_setting.filter(|n| sql::valid_setting_name(n));
    let head_sql = sql::head(valid_setting);
    let main = sql::main_statement(&head_sql);
    let mut families: Vec<Family> = sql::CLUSTER.to_vec();
    families.extend(sql::DATABASE);
    let unanswered = || Ok(Vec::new());
    let (main_answer, hba_answer, ident, authid) = if options.privileged_families {
        let mut answers = flight(
            runner,
            &[&main, sql::HBA, sql::IDENT, sql::AUTHID],
            &mut stats,
        )
        .await;
        let authid = answers.pop().unwrap_or_else(unanswered);
        let ident = answers.pop().unwrap_or_else(unanswered);
        let hba = answers.pop().unwrap_or_else(unanswered);
        let main = answers.pop().unwrap_or_else(unanswered);
        (main, Some(hba), Some(ident), Some(authid))
    } else {
        let mut answers = flight(runner, &[&main], &mut stats).await;
        (answers.pop().unwrap_or_else(unanswered), None, None, None)
    };
    let (head, texts) = columns(
        runner,
        main_answer,
        (&head_sql, sql::HEAD_COLUMNS),
        &families,
        &mut stats,
    )
    .await?;

    let text = |i: usize| head.get(i).cloned().flatten();
    let version = match (text(0).and_then(|n| n.trim().parse::<u32>().ok()), text(1)) {
        (Some(num), Some(t)) => Collected::Present(ServerVersion::new(num, t)),
        _ => Collected::not_collected("server_version_num was not readable"),
    };
    let user = text(2).unwrap_or_default();
    let database = text(3).unwrap_or_default();
    let all_settings = text(4).as_deref().map(crate::pgvalue::parse_bool) == Some(Some(true));

    let (cluster, per_db) = texts.split_at(sql::CLUSTER.len().min(texts.len()));
    let cluster_text = |i: usize| {
        cluster
            .get(i)
            .cloned()
            .unwrap_or_else(|| Err("not read".to_owned()))
    };

    // Without pg_read_all_settings, pg_settings leaves out the superuser-only settings
    // (shared_preload_libraries, ...) and every file and line: the visible ones are kept,
    // the others are unknown, never assumed at their defaults.
    let settings = decode::settings(&cluster_text(0));
    let settings_hidden = (!all_settings).then(|| {
        format!(
            "role {user} may not see every setting: pg_settings hides superuser-only \
             settings such as shared_preload_libraries and the file and line of each; \
             connect as a superuser, or GRANT pg_read_all_settings (or pg_monitor) TO {user}"
        )
    });
    let session_user = text(5).unwrap_or_else(|| user.clone());
    let tenant_setting = match (tenant_setting, valid_setting) {
        (None, _) => Collected::not_collected("no tenant setting was named to the collector"),
        (Some(name), None) => Collected::NotCollected(format!(
            "{name:?} is not a custom setting name (dot-separated parts of letters, digits, \
             _ and $), so its value was not read"
        )),
        (Some(name), Some(_)) if head.len() < sql::HEAD_COLUMNS => Collected::NotCollected(
            format!("the session's value of {name} was not returned by the server"),
        ),
        (Some(name), Some(_)) => {
            Collected::Present(SessionSetting::new(name, session_user, text(6)))
        }
    };
    let not_requested = |what: &str| {
        format!(
            "{what} was not requested (the collection skipped the families that need a \
             privilege)"
        )
    };
    let hba = match hba_answer {
        Some(answer) => privileged(answer, &user, "pg_hba_file_rules")?,
        None => Err(not_requested("pg_hba_file_rules")),
    }
    .and_then(|(json, file)| {
        rows_of::<hba::HbaRow>("pg_hba_file_rules", json)
            .map(|rows| hba::hba_file(rows, file.as_deref()))
    });
    let ident = match ident {
        Some(answer) => privileged(answer, &user, "pg_ident_file_mappings")?,
        None => Err(not_requested("pg_ident_file_mappings")),
    }
    .and_then(|(json, file)| {
        rows_of::<hba::IdentRow>("pg_ident_file_mappings", json)
            .map(|rows| hba::ident_mappings(rows, file.as_deref()))
    });
    let stored_passwords = match authid {
        Some(answer) => match privileged(answer, &user, "pg_authid")? {
            Ok((json, _)) => decode::stored_passwords(&Ok(json)),
            Err(reason) => Collected::NotCollected(reason),
        },
        None => Collected::NotCollected(not_requested("pg_authid")),
    };
    let connectable = decode::databases(&cluster_text(3)).unwrap_or_default();
    let mut facts = LiveFacts {
        server_version: version,
        current_user: Some(user.clone()),
        settings,
        settings_hidden,
        tenant_setting,
        hba: to_collected(hba),
        roles: decode::roles(&cluster_text(1)),
        stored_passwords,
        db_role_settings: decode::db_role_settings(&cluster_text(2)),
        databases: Vec::new(),
        ident_mappings: to_collected(ident),
    };
    let db = decode::database(database.clone(), per_db);
    no_privileges_at_all(&user, &facts, &db)?;
    facts.databases.push(db);

    Ok(LiveCollection {
        facts,
        connectable,
        current_database: database,
        current_user_is_app: options.current_user_is_app,
        stats,
    })
}

/// Collects the facts of the connected database only (for each further database of an
/// audit of all databases; see [`LiveCollection::other_databases`]).
///
/// # Errors
/// [`Error::Live`] when a statement fails for another reason than a privilege;
/// [`Error::NoPrivileges`] when no catalog of the database is readable.
pub async fn collect_database<R: QueryRunner + ?Sized>(
    runner: &R,
) -> Result<DatabaseCollection, Error> {
    let mut stats = CollectStats::default();
    let statement = sql::database_statement();
    let mut answers = flight(runner, &[&statement], &mut stats).await;
    let answer = answers.pop().unwrap_or_else(|| Ok(Vec::new()));
    let (head, texts) = columns(
        runner,
        answer,
        (sql::DB_HEAD, sql::DB_HEAD_COLUMNS),
        &sql::DATABASE,
        &mut stats,
    )
    .await?;
    let name = head.first().cloned().flatten().unwrap_or_default();
    let user = head.get(1).cloned().flatten().unwrap_or_default();
    let db = decode::database(name.clone(), &texts);
    let all_refused = [
        db.schemas.is_present(),
        db.tables.is_present(),
        db.policies.is_present(),
        db.views.is_present(),
        db.functions.is_present(),
        db.extensions.is_present(),
        db.languages.is_present(),
        db.event_triggers.is_present(),
    ]
    .iter()
    .all(|p| !p);
    if all_refused {
        let reason = db.tables.get().err().unwrap_or("refused").to_owned();
        return Err(Error::NoPrivileges {
            role: user,
            reason: format!("database {name}: {reason}"),
        });
    }
    Ok(DatabaseCollection { facts: db, stats })
}

type Answer = Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>;

/// Sends `statements` together (one round trip with a pipelining client).
async fn flight<R: QueryRunner + ?Sized>(
    runner: &R,
    statements: &[&str],
    stats: &mut CollectStats,
) -> Vec<Answer> {
    stats.round_trips += 1;
    stats.queries += statements.len();
    join_all(statements.iter().map(|s| runner.simple_query(s))).await
}

/// The text cells of the first row of an answer.
fn first_row(messages: &[SimpleQueryMessage]) -> Vec<Option<String>> {
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

/// Splits the answer of a combined statement into its `lead` leading cells and one text
/// per family. When the statement was refused (a catalog revoked from PUBLIC), the lead
/// and every family are read again as statements of their own, in one more round trip,
/// so that only the refused families go missing.
async fn columns<R: QueryRunner + ?Sized>(
    runner: &R,
    answer: Answer,
    (lead_sql, lead): (&str, usize),
    families: &[Family],
    stats: &mut CollectStats,
) -> Result<(Vec<Option<String>>, Vec<FamilyText>), Error> {
    match answer {
        Ok(messages) => {
            let mut cells = first_row(&messages);
            if cells.len() != lead + families.len() {
                return Err(Error::NoPrivileges {
                    role: String::from("the connected role"),
                    reason: format!(
                        "the catalog statement returned {} columns instead of {}",
                        cells.len(),
                        lead + families.len()
                    ),
                });
            }
            let texts = cells.split_off(lead).into_iter().map(Ok).collect();
            Ok((cells, texts))
        }
        Err(e) if e.as_db_error().is_none() => Err(live_error("the catalog", e)),
        Err(_) => {
            let mut statements: Vec<String> = vec![sql::head_statement(lead_sql)];
            statements.extend(families.iter().map(sql::family_statement));
            let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
            let mut answers = flight(runner, &refs, stats).await.into_iter();
            let head = match answers.next() {
                Some(Ok(m)) => first_row(&m),
                Some(Err(e)) => return Err(live_error("the server version", e)),
                None => Vec::new(),
            };
            let mut texts = Vec::with_capacity(families.len());
            for (family, answer) in families.iter().zip(answers) {
                texts.push(match answer {
                    Ok(m) => Ok(first_row(&m).into_iter().next().flatten()),
                    Err(e) if e.as_db_error().is_some() => Err(refusal(family.name, &e)),
                    Err(e) => return Err(live_error(family.name, e)),
                });
            }
            Ok((head, texts))
        }
    }
}

/// The answer of a statement that needs a privilege: `(json, file)` or the reason it was
/// refused. Only a broken connection is an error.
#[allow(clippy::type_complexity)]
fn privileged(
    answer: Answer,
    user: &str,
    what: &'static str,
) -> Result<Result<(Option<String>, Option<String>), String>, Error> {
    match answer {
        Ok(m) => {
            let mut cells = first_row(&m).into_iter();
            let json = cells.next().flatten();
            let file = cells.next().flatten();
            Ok(Ok((json, file)))
        }
        Err(e) => match e.as_db_error() {
            None => Err(live_error(what, e)),
            Some(db) => Ok(Err(privileged_reason(what, user, db.code(), db.message()))),
        },
    }
}

fn privileged_reason(what: &str, user: &str, code: &SqlState, message: &str) -> String {
    match (what, code) {
        ("pg_authid", c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => format!(
            "stored passwords (pg_authid) are readable by superusers only and {user} is not one; \
             run the audit as a superuser to check them"
        ),
        (_, c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => format!(
            "{what} is readable by superusers only unless granted ({message}); connect as a \
             superuser, or GRANT SELECT ON {what} TO {user} and GRANT EXECUTE ON FUNCTION \
             {what}() TO {user}"
        ),
        ("pg_ident_file_mappings", c) if *c == SqlState::UNDEFINED_TABLE => {
            "pg_ident_file_mappings exists from PostgreSQL 15 on".to_owned()
        }
        _ => format!("{what} could not be read: {message}"),
    }
}

fn refusal(family: &str, e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) if *db.code() == SqlState::INSUFFICIENT_PRIVILEGE => format!(
            "{family} is not readable by this role ({}); connect as a superuser or GRANT SELECT \
             on the catalog to it",
            db.message()
        ),
        Some(db) => format!("{family} could not be read: {}", db.message()),
        None => format!("{family} could not be read: {e}"),
    }
}

fn to_collected<T>(r: Result<T, String>) -> Collected<T> {
    match r {
        Ok(v) => Collected::Present(v),
        Err(reason) => Collected::NotCollected(reason),
    }
}

fn rows_of<T: serde::de::DeserializeOwned>(
    what: &str,
    json: Option<String>,
) -> Result<Vec<T>, String> {
    match json {
        None => Ok(Vec::new()),
        Some(j) => {
            serde_json::from_str(&j).map_err(|e| format!("pgsec could not decode {what}: {e}"))
        }
    }
}

/// An audit that could read neither roles nor any catalog of its database would be all
/// skips: that is a privilege problem to report, not a report.
fn no_privileges_at_all(user: &str, facts: &LiveFacts, db: &DatabaseFacts) -> Result<(), Error> {
    let any_db = db.schemas.is_present()
        || db.tables.is_present()
        || db.policies.is_present()
        || db.views.is_present()
        || db.functions.is_present()
        || db.extensions.is_present()
        || db.languages.is_present()
        || db.event_triggers.is_present();
    if facts.roles.is_present() || any_db {
        return Ok(());
    }
    let reason = facts.roles.get().err().unwrap_or("refused").to_owned();
    Err(Error::NoPrivileges {
        role: user.to_owned(),
        reason,
    })
}

fn live_error(what: &'static str, source: tokio_postgres::Error) -> Error {
    Error::Live { what, source }
}
