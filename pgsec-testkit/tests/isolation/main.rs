//! The RLS isolation checker against real PostgreSQL: the mutation suite (every broken
//! schema is caught, every correct one passes) and the library API.
//!
//! Every schema gets a fresh database of the one shared server of this binary, and runs
//! with a fixed seed, so results do not change from run to run.

mod api;
mod mutations;

use std::path::{Path, PathBuf};

use pgsec_client::SettingName;
use pgsec_testkit::isolation::{IsolationConfig, ViolationKind};
use pgsec_testkit::{TestDatabase, APP_USER};

/// The seed every test uses.
pub(crate) const SEED: u64 = 0x5eed_0006;

/// What a schema file expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expect {
    Pass,
    /// No violation, but something readable cannot be exercised: verdict incomplete.
    Incomplete,
    /// Caught with one of these kinds in the minimal counterexample (`any`: an empty
    /// list, for mistakes that break every expectation, such as a table without RLS).
    Caught(Vec<ViolationKind>),
}

/// A schema of the mutation suite: SQL plus `-- key: value` header lines.
#[derive(Debug, Clone)]
pub(crate) struct SchemaFile {
    pub(crate) name: String,
    pub(crate) sql: String,
    pub(crate) expect: Expect,
    pub(crate) why: String,
    pub(crate) tenant_columns: Option<Vec<String>>,
    pub(crate) setting: Option<String>,
    /// A static rule that must flag the schema at high or critical (`-- static:`).
    pub(crate) static_rule: Option<String>,
    /// Names that make an incomplete schema clean when excluded (`-- exclude:`).
    pub(crate) exclude: Vec<String>,
}

fn kind(name: &str) -> ViolationKind {
    let all = [
        ViolationKind::ForeignRowsVisible,
        ViolationKind::RowsWithoutTenant,
        ViolationKind::OwnRowsHidden,
        ViolationKind::ForeignRowInserted,
        ViolationKind::ForeignRowChanged,
        ViolationKind::ForeignRowDeleted,
        ViolationKind::RowMovedToOtherTenant,
    ];
    all.into_iter()
        .find(|k| k.as_str() == name)
        .unwrap_or_else(|| panic!("unknown violation kind {name:?} in a schema header"))
}

pub(crate) fn schema_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/isolation/schemas")
        .join(kind)
}

/// The schema files of `schemas/<kind>/`, in name order.
pub(crate) fn schemas(kind_dir: &str) -> Vec<SchemaFile> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(schema_dir(kind_dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse_schema(p)).collect()
}

pub(crate) fn schema(kind_dir: &str, name: &str) -> SchemaFile {
    schemas(kind_dir)
        .into_iter()
        .find(|s| s.name.contains(name))
        .unwrap_or_else(|| panic!("no schema {name} in {kind_dir}"))
}

fn parse_schema(path: &Path) -> SchemaFile {
    let sql = std::fs::read_to_string(path).unwrap();
    let header = |key: &str| {
        sql.lines()
            .find_map(|l| l.strip_prefix(&format!("-- {key}:")))
            .map(|v| v.trim().to_owned())
    };
    let expect = match header("expect")
        .expect("every schema says what it expects")
        .as_str()
    {
        "pass" => Expect::Pass,
        "incomplete" => Expect::Incomplete,
        "any" => Expect::Caught(Vec::new()),
        kinds => Expect::Caught(kinds.split('|').map(|k| kind(k.trim())).collect()),
    };
    SchemaFile {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        why: header("why").unwrap_or_default(),
        tenant_columns: header("tenant-columns")
            .map(|v| v.split(',').map(|c| c.trim().to_owned()).collect()),
        setting: header("setting"),
        static_rule: header("static"),
        exclude: header("exclude")
            .map(|v| v.split(',').map(|c| c.trim().to_owned()).collect())
            .unwrap_or_default(),
        expect,
        sql,
    }
}

/// A fresh database of the shared server holding `schema`.
pub(crate) async fn database(schema: &SchemaFile) -> TestDatabase {
    let server = pgsec_testkit::shared().await.expect("test server");
    let db = server.fresh_database().await.expect("fresh database");
    let sql = schema.sql.replace("{{app}}", APP_USER);
    db.admin_client()
        .await
        .expect("admin client")
        .batch_execute(&sql)
        .await
        .unwrap_or_else(|e| panic!("schema {}: {e:?}", schema.name));
    db
}

/// The seed of the mutation suite: [`SEED`], or `PGSEC_ISOLATION_SEED` to sweep others.
pub(crate) fn suite_seed() -> u64 {
    std::env::var("PGSEC_ISOLATION_SEED")
        .ok()
        .map_or(SEED, |s| s.parse().expect("PGSEC_ISOLATION_SEED is a u64"))
}

/// The checker's configuration for `schema` in `db`: fixed seed, default case count.
pub(crate) fn config(db: &TestDatabase, schema: &SchemaFile) -> IsolationConfig {
    let mut config = IsolationConfig {
        admin_conninfo: db.admin_conninfo(),
        app_conninfo: db.app_conninfo(),
        seed: Some(SEED),
        ..IsolationConfig::default()
    };
    if let Some(columns) = &schema.tenant_columns {
        config.tenant_columns.clone_from(columns);
    }
    if let Some(setting) = &schema.setting {
        config.setting = SettingName::new(setting).unwrap();
    }
    config
}
