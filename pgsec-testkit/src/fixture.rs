//! The tenant table the client, CLI, bench and example tests share: one table under
//! forced Row-Level Security, isolated by a custom setting, usable by the application
//! role.

use crate::error::{Error, Result};
use crate::server::{quote_literal, TestDatabase, APP_USER};

/// Privileges [`TenantSchema::privileges`] accepts (table privileges of `GRANT`).
const TABLE_PRIVILEGES: &[&str] = &[
    "select",
    "insert",
    "update",
    "delete",
    "truncate",
    "references",
    "trigger",
];

/// A table whose rows belong to tenants, kept apart by Row-Level Security the way
/// pgsec-client's `TenantPool` expects:
///
/// - a tenant column (`tenant_id text not null`, defaulting to the setting, so that an
///   insert without it takes the transaction's tenant), after an optional `bigserial`
///   id and before the extra columns;
/// - RLS enabled **and forced** (the owner is held to the policy too, unless it is a
///   superuser);
/// - one policy, `<table>_tenant`, for every command: `using` and `with check` compare
///   the tenant column with `pg_catalog.current_setting('<setting>', true)` (an unset
///   setting matches nothing);
/// - `select, insert, update, delete` (or [`TenantSchema::privileges`]) granted to the
///   application role [`APP_USER`], and usage on the id's sequence.
///
/// The table is created by whoever runs [`TenantSchema::sql`]; [`TenantSchema::apply`]
/// runs it as the superuser, so the application role owns nothing. Names are quoted;
/// column types are SQL, spliced as written (a test's own constants).
///
/// ```no_run
/// use pgsec_testkit::TenantSchema;
///
/// # async fn demo() -> Result<(), pgsec_testkit::Error> {
/// let db = pgsec_testkit::shared().await?.fresh_database().await?;
/// TenantSchema::new("items")
///     .serial_id()
///     .column("body", "text not null")
///     .apply(&db)
///     .await?;
/// # Ok(()) }
/// ```
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSchema {
    table: String,
    tenant_column: String,
    setting: String,
    serial_id: bool,
    columns: Vec<(String, String)>,
    privileges: Vec<String>,
}

impl TenantSchema {
    /// The setting pgsec-client's `TenantPool` sets by default.
    pub const DEFAULT_SETTING: &'static str = "app.current_tenant_id";

    /// A tenant table named `table` (in the search path's first schema, `public` in a
    /// test database): column `tenant_id`, setting [`TenantSchema::DEFAULT_SETTING`],
    /// no other columns, `select, insert, update, delete` for the application role.
    pub fn new(table: impl Into<String>) -> Self {
        TenantSchema {
            table: table.into(),
            tenant_column: "tenant_id".to_owned(),
            setting: Self::DEFAULT_SETTING.to_owned(),
            serial_id: false,
            columns: Vec::new(),
            privileges: ["select", "insert", "update", "delete"]
                .map(str::to_owned)
                .to_vec(),
        }
    }

    /// The tenant column's name (its type is `text`).
    pub fn tenant_column(mut self, name: impl Into<String>) -> Self {
        self.tenant_column = name.into();
        self
    }

    /// The custom setting the policy reads (e.g. `myapp.tenant`).
    pub fn setting(mut self, name: impl Into<String>) -> Self {
        self.setting = name.into();
        self
    }

    /// Adds a first column `id bigserial primary key`, with usage on its sequence
    /// (`<table>_id_seq`) for the application role.
    pub fn serial_id(mut self) -> Self {
        self.serial_id = true;
        self
    }

    /// Adds a column after the tenant column: `name` (quoted) and `sql_type`, the type
    /// and constraints as SQL (`"text not null"`).
    pub fn column(mut self, name: impl Into<String>, sql_type: impl Into<String>) -> Self {
        self.columns.push((name.into(), sql_type.into()));
        self
    }

    /// The table privileges granted to the application role, instead of `select,
    /// insert, update, delete` (e.g. `&["select", "insert"]` for an append-only table).
    pub fn privileges(mut self, privileges: &[&str]) -> Self {
        self.privileges = privileges.iter().map(|p| p.to_ascii_lowercase()).collect();
        self
    }

    /// The table's name, as given.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The SQL that creates the table, its policy and the grants: several statements,
    /// for `batch_execute`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`]: a name is empty, too long (the policy and sequence
    /// names add `_tenant` and `_id_seq` to the table's) or has a NUL byte; the setting
    /// is not a custom setting name; a privilege is not a table privilege.
    pub fn sql(&self) -> Result<String> {
        let table = ident("table", &self.table)?;
        let column = ident("tenant column", &self.tenant_column)?;
        let policy = ident("policy", &format!("{}_tenant", self.table))?;
        let app = ident("role", APP_USER)?;
        pgsec_core::sql::check_setting_name(&self.setting).map_err(|e| {
            Error::InvalidOption(format!("tenant setting {:?}: {}", self.setting, e.reason()))
        })?;
        let setting = quote_literal(&self.setting);
        if let Some(p) = self
            .privileges
            .iter()
            .find(|p| !TABLE_PRIVILEGES.contains(&p.as_str()))
        {
            return Err(Error::InvalidOption(format!(
                "{p:?} is not a table privilege (one of {})",
                TABLE_PRIVILEGES.join(", ")
            )));
        }
        if self.privileges.is_empty() {
            return Err(Error::InvalidOption(
                "a tenant table needs at least one privilege for the application role".into(),
            ));
        }

        let mut columns = Vec::new();
        if self.serial_id {
            columns.push("id bigserial primary key".to_owned());
        }
        columns.push(format!(
            "{column} text not null default pg_catalog.current_setting({setting})"
        ));
        for (name, sql_type) in &self.columns {
            columns.push(format!("{} {sql_type}", ident("column", name)?));
        }
        let matches = format!("{column} = pg_catalog.current_setting({setting}, true)");
        let mut sql = format!(
            "create table {table} (\n  {columns}\n);\n\
             alter table {table} enable row level security;\n\
             alter table {table} force row level security;\n\
             create policy {policy} on {table}\n  using ({matches})\n  with check ({matches});\n\
             grant {privileges} on {table} to {app};\n",
            columns = columns.join(",\n  "),
            privileges = self.privileges.join(", "),
        );
        if self.serial_id {
            let sequence = ident("sequence", &format!("{}_id_seq", self.table))?;
            sql.push_str(&format!("grant usage on sequence {sequence} to {app};\n"));
        }
        Ok(sql)
    }

    /// Runs [`TenantSchema::sql`] in `db` as the superuser.
    ///
    /// # Errors
    /// As [`TenantSchema::sql`]; the connection failed; the server refused the SQL (the
    /// table exists already, a column type is not SQL).
    pub async fn apply(&self, db: &TestDatabase) -> Result<()> {
        let sql = self.sql()?;
        db.admin_client().await?.batch_execute(&sql).await?;
        Ok(())
    }
}

/// `name` quoted for SQL; the error names `what` it is.
fn ident(what: &str, name: &str) -> Result<String> {
    pgsec_core::sql::quote_ident(name)
        .map_err(|e| Error::InvalidOption(format!("{what} name {name:?}: {}", e.reason())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schema_is_forced_rls_on_the_default_setting() {
        let sql = TenantSchema::new("items")
            .serial_id()
            .column("body", "text not null")
            .sql()
            .unwrap();
        assert_eq!(
            sql,
            "create table items (
  id bigserial primary key,
  tenant_id text not null default pg_catalog.current_setting('app.current_tenant_id'),
  body text not null
);
alter table items enable row level security;
alter table items force row level security;
create policy items_tenant on items
  using (tenant_id = pg_catalog.current_setting('app.current_tenant_id', true))
  with check (tenant_id = pg_catalog.current_setting('app.current_tenant_id', true));
grant select, insert, update, delete on items to pgsec_app;
grant usage on sequence items_id_seq to pgsec_app;
"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        let sql = TenantSchema::new("Tenant \"Rows\"")
            .tenant_column("Org Id")
            .column("select", "text")
            .setting("myapp.tenant")
            .privileges(&["SELECT", "insert"])
            .serial_id()
            .sql()
            .unwrap();
        for quoted in [
            "create table \"Tenant \"\"Rows\"\"\" (",
            "\"Org Id\" text not null default pg_catalog.current_setting('myapp.tenant')",
            "\"select\" text\n",
            "alter table \"Tenant \"\"Rows\"\"\" force row level security;",
            "create policy \"Tenant \"\"Rows\"\"_tenant\" on \"Tenant \"\"Rows\"\"\"",
            "using (\"Org Id\" = pg_catalog.current_setting('myapp.tenant', true))",
            "grant select, insert on \"Tenant \"\"Rows\"\"\" to pgsec_app;",
            "grant usage on sequence \"Tenant \"\"Rows\"\"_id_seq\" to pgsec_app;",
        ] {
            assert!(sql.contains(quoted), "{quoted} not in\n{sql}");
        }
    }

    #[test]
    fn bad_names_settings_and_privileges_are_refused() {
        for schema in [
            TenantSchema::new(""),
            TenantSchema::new("a\0b"),
            // The policy name would be longer than 63 bytes.
            TenantSchema::new("t".repeat(60)),
            TenantSchema::new("items").tenant_column(""),
            TenantSchema::new("items").column("", "text"),
            TenantSchema::new("items").setting("no_dot"),
            TenantSchema::new("items").setting("app.x'; drop table items; --"),
            TenantSchema::new("items").privileges(&["all; drop table items"]),
            TenantSchema::new("items").privileges(&[]),
        ] {
            let e = schema.sql().unwrap_err();
            assert!(matches!(e, Error::InvalidOption(_)), "{schema:?}: {e:?}");
        }
    }
}
