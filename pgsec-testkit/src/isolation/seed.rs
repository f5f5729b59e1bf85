//! Rows for every tenant, written through the admin connection, and how to write
//! one more row like them (the application's inserts use the same plan).

use std::collections::BTreeMap;

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use super::schema::{Column, FkTarget, Schema, Table};
use super::sql;
use super::tenants::World;
use crate::{Error, Result};

/// A row's physical address: `(tableoid, ctid)`.
pub(crate) type Identity = (u32, String);

/// A seeded row.
#[derive(Debug, Clone)]
pub(crate) struct SeedRow {
    pub(crate) id: Identity,
    /// Every column as text, in the table's column order.
    pub(crate) values: Vec<Option<String>>,
    /// The row as a record literal.
    pub(crate) text: String,
    /// Seeded with the plain plan (defaults and made-up values only), not with the
    /// varied values of the columns policies, views and functions read: a tenant must
    /// see every plain row of its own.
    pub(crate) plain: bool,
}

/// Where an inserted column's value comes from.
#[derive(Debug, Clone)]
enum Source {
    Tenant,
    /// Column `pos` of foreign key `fk`, copied from a parent row of the same tenant.
    Fk {
        fk: usize,
        pos: usize,
    },
    /// A made-up value (NOT NULL without a default).
    Filler,
    /// An expression spliced into the statement (enum labels).
    Expr(String),
    /// One of these values, by row (booleans both ways, NULL, enum labels, bounds,
    /// literals the policies compare with).
    Vary(Vec<Option<String>>),
}

/// How to insert a row into one table.
#[derive(Debug, Clone)]
pub(crate) struct InsertPlan {
    columns: Vec<(usize, Source)>,
}

impl InsertPlan {
    pub(crate) fn new(table: &Table) -> Self {
        let mut columns = Vec::new();
        for (i, col) in table.columns.iter().enumerate() {
            if col.generated {
                continue;
            }
            if i == table.tenant_col {
                columns.push((i, Source::Tenant));
                continue;
            }
            let fk =
                table.fks.iter().enumerate().find_map(|(f, fk)| {
                    fk.columns.iter().position(|&c| c == i).map(|pos| (f, pos))
                });
            if let Some((fk, pos)) = fk {
                columns.push((i, Source::Fk { fk, pos }));
            } else if col.not_null && !col.has_default {
                match enum_expr(col) {
                    Some(expr) => columns.push((i, Source::Expr(expr))),
                    None => columns.push((i, Source::Filler)),
                }
            }
        }
        Self { columns }
    }

    /// The plan for rows with varied values: the plain plan plus every column that a
    /// policy, a view or a function body reads (a word of `corpus`) and that can take
    /// several values (not the tenant, a key, a sequence, a unique or generated
    /// column). `None` when no column qualifies. Returns the plan and the most values a
    /// column cycles through.
    pub(crate) fn varied(table: &Table, corpus: &str) -> Option<(Self, usize)> {
        let mut plan = Self::new(table);
        let literals = literals(corpus);
        let words = words(corpus);
        let mut most = 0;
        for (i, col) in table.columns.iter().enumerate() {
            if i == table.tenant_col
                || col.generated
                || col.sequenced
                || col.unique
                || table.fks.iter().any(|fk| fk.columns.contains(&i))
                || !words.contains(&col.name.to_lowercase())
            {
                continue;
            }
            let values = variants(col, &literals);
            if values.len() < 2 {
                continue;
            }
            most = most.max(values.len());
            let source = Source::Vary(values);
            match plan.columns.iter_mut().find(|(c, _)| *c == i) {
                Some(entry) => entry.1 = source,
                None => plan.columns.push((i, source)),
            }
        }
        plan.columns.sort_by_key(|(i, _)| *i);
        (most > 0).then_some((plan, most))
    }

    /// Number of bound parameters per row.
    fn params_per_row(&self) -> usize {
        self.columns
            .iter()
            .filter(|(_, s)| !matches!(s, Source::Expr(_)))
            .count()
    }

    /// `INSERT INTO t (..) VALUES (..), (..)` for `rows` rows, parameters from `$first`.
    pub(crate) fn sql(&self, table: &Table, rows: usize, returning: bool) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|(i, _)| sql::ident(&table.columns[*i].name))
            .collect();
        let per_row = self.params_per_row();
        let mut values = Vec::with_capacity(rows);
        for r in 0..rows {
            let mut n = r * per_row;
            let exprs: Vec<String> = self
                .columns
                .iter()
                .map(|(i, s)| match s {
                    Source::Expr(e) => e.clone(),
                    _ => {
                        n += 1;
                        format!("${n}::text::{}", table.columns[*i].sql_type)
                    }
                })
                .collect();
            values.push(format!("({})", exprs.join(", ")));
        }
        let cols = if cols.is_empty() {
            String::new()
        } else {
            format!(" ({})", cols.join(", "))
        };
        let body = if rows == 1 && self.columns.is_empty() {
            " DEFAULT VALUES".to_owned()
        } else {
            format!(" VALUES {}", values.join(", "))
        };
        let returning = if returning {
            let all: Vec<String> = table
                .columns
                .iter()
                .map(|c| format!("t.{}::text", sql::ident(&c.name)))
                .collect();
            format!(
                " RETURNING t.tableoid, t.ctid::text, t::text, array[{}]::text[]",
                all.join(", ")
            )
        } else {
            String::new()
        };
        format!("INSERT INTO {} AS t{cols}{body}{returning}", table.sql)
    }

    /// The statement as a person would type it, values inlined.
    pub(crate) fn display(&self, table: &Table, values: &[Option<String>]) -> String {
        let mut params = values.iter();
        let mut cols = Vec::new();
        let mut exprs = Vec::new();
        for (i, s) in &self.columns {
            cols.push(sql::ident(&table.columns[*i].name));
            exprs.push(match s {
                Source::Expr(e) => e.clone(),
                _ => sql::literal_or_null(params.next().and_then(|v| v.as_deref())),
            });
        }
        format!(
            "INSERT INTO {} ({}) VALUES ({});",
            table.sql,
            cols.join(", "),
            exprs.join(", ")
        )
    }
}

/// Most varied values one column cycles through.
const MAX_VARIANTS: usize = 5;

/// The string literals of `text` (`'open'`, `'it''s'`), at most eight, short ones.
fn literals(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut lit = String::new();
        loop {
            match chars.next() {
                None => return out,
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    lit.push('\'');
                }
                Some('\'') => break,
                Some(c) => lit.push(c),
            }
        }
        // Setting names and type names are not values a column holds.
        let setting_like = lit.contains('.') && !lit.contains(' ');
        if lit.chars().count() <= 64 && !setting_like && !out.contains(&lit) {
            out.push(lit);
            if out.len() == 8 {
                break;
            }
        }
    }
    out
}

/// The lower-cased identifier words of `text`.
fn words(text: &str) -> std::collections::BTreeSet<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The values a column cycles through in varied rows.
fn variants(col: &Column, literals: &[String]) -> Vec<Option<String>> {
    let some = |v: &[&str]| v.iter().map(|s| Some((*s).to_owned())).collect::<Vec<_>>();
    let mut values: Vec<Option<String>> = match col.category {
        'B' => some(&["true", "false"]),
        'E' => col.enum_labels.iter().cloned().map(Some).collect(),
        'N' => match col.base_type.as_str() {
            "int2" => some(&["1", "0", "-1", "32767"]),
            "int4" => some(&["1", "0", "-1", "2147483647"]),
            "int8" => some(&["1", "0", "-1", "9223372036854775807"]),
            _ => some(&["1", "0", "-1"]),
        },
        'D' => match col.base_type.as_str() {
            "date" | "timestamp" | "timestamptz" => some(&["infinity", "-infinity", "epoch"]),
            _ => some(&["00:00", "23:59:59"]),
        },
        'S' => {
            let mut v: Vec<Option<String>> = literals
                .iter()
                .filter(|l| col.max_len.is_none_or(|m| l.chars().count() <= m))
                .take(MAX_VARIANTS - 2)
                .cloned()
                .map(Some)
                .collect();
            v.push(Some(String::new()));
            v
        }
        _ => Vec::new(),
    };
    values.truncate(MAX_VARIANTS - usize::from(!col.not_null));
    if !col.not_null {
        values.push(None);
    }
    values
}

fn enum_expr(col: &Column) -> Option<String> {
    (col.category == 'E').then(|| format!("(pg_catalog.enum_range(NULL::{}))[1]", col.sql_type))
}

/// A made-up value for a NOT NULL column, unique per `n` where the type allows.
fn filler(col: &Column, n: u64) -> Option<String> {
    let value = match col.category {
        'N' => (n % 30_000).to_string(),
        'S' => {
            let s = n.to_string();
            match col.max_len {
                Some(max) if s.len() > max => s[s.len() - max..].to_owned(),
                _ => s,
            }
        }
        'B' => "false".to_owned(),
        'D' => "now".to_owned(),
        'T' => "1 day".to_owned(),
        'A' => "{}".to_owned(),
        'I' => "127.0.0.1".to_owned(),
        'R' => "empty".to_owned(),
        'V' => "0".to_owned(),
        'G' if col.base_type == "point" => "(0,0)".to_owned(),
        'U' => match col.base_type.as_str() {
            "uuid" => uuid::Uuid::from_u128(u128::from(n) | (0xfeed_u128 << 96)).to_string(),
            "json" | "jsonb" => "{}".to_owned(),
            "bytea" => "\\x00".to_owned(),
            "xml" => "<x/>".to_owned(),
            "tsvector" | "tsquery" => "x".to_owned(),
            _ => return None,
        },
        _ => return None,
    };
    Some(value)
}

/// Rows of tables that foreign keys point at but that hold no tenant column, by oid:
/// the referenced columns as text.
pub(crate) type BorrowedRows = BTreeMap<u32, Vec<Vec<Option<String>>>>;

/// Everything seeded, by table index and tenant index.
#[derive(Debug, Default)]
pub(crate) struct Seeded {
    /// `rows[table][tenant]` (empty for partitions).
    pub(crate) rows: Vec<Vec<Vec<SeedRow>>>,
    /// Rows added to tenant registries (tables a tenant column references).
    pub(crate) registry_rows: Vec<(String, Identity)>,
    pub(crate) borrowed: BorrowedRows,
    /// What could not be seeded as planned (varied rows a constraint refused).
    pub(crate) notes: Vec<String>,
}

impl Seeded {
    /// Values for one new row of `table` owned by `tenant`: tenant, parent keys of the
    /// same tenant (the `pick`-th parent), made-up values. `None` in the error when a
    /// required value cannot be found.
    pub(crate) fn values(
        &self,
        schema: &Schema,
        plan: &InsertPlan,
        table: usize,
        (tenant, tenant_value): (usize, &str),
        n: u64,
        pick: usize,
    ) -> std::result::Result<Vec<Option<String>>, String> {
        let t = &schema.tables[table];
        let mut out = Vec::with_capacity(plan.columns.len());
        for (i, source) in &plan.columns {
            let col = &t.columns[*i];
            let value = match source {
                Source::Expr(_) => continue,
                Source::Vary(values) => values[n as usize % values.len()].clone(),
                Source::Tenant => Some(tenant_value.to_owned()),
                Source::Filler => match filler(col, n) {
                    Some(v) => Some(v),
                    None => {
                        return Err(format!(
                            "cannot make up a value for {}.{} of type {}; give it a default",
                            t.name, col.name, col.sql_type
                        ))
                    }
                },
                Source::Fk { fk, pos } => {
                    let fk = &t.fks[*fk];
                    match &fk.target {
                        FkTarget::Tenant(j) => {
                            let parent_cols = &schema.tables[*j].columns;
                            let parents = self
                                .rows
                                .get(*j)
                                .and_then(|r| r.get(tenant))
                                .map_or(&[][..], Vec::as_slice);
                            let at = fk
                                .target_columns
                                .get(*pos)
                                .and_then(|name| parent_cols.iter().position(|c| &c.name == name));
                            match (parents.is_empty(), at) {
                                (false, Some(at)) => parents[pick % parents.len()]
                                    .values
                                    .get(at)
                                    .cloned()
                                    .flatten(),
                                _ => None,
                            }
                        }
                        FkTarget::SelfRef => None,
                        FkTarget::Other { oid, .. } => {
                            let rows = self.borrowed.get(oid).map_or(&[][..], Vec::as_slice);
                            if rows.is_empty() {
                                None
                            } else {
                                rows[pick % rows.len()].get(*pos).cloned().flatten()
                            }
                        }
                    }
                }
            };
            if value.is_none() && col.not_null {
                return Err(format!(
                    "cannot find a value for {}.{} (NOT NULL, part of a foreign key whose \
                     referenced table has no suitable row)",
                    t.name, col.name
                ));
            }
            out.push(value);
        }
        Ok(out)
    }
}

fn seed_error(table: &str) -> impl FnOnce(tokio_postgres::Error) -> Error + '_ {
    move |source| Error::IsolationQuery {
        step: format!("seeding {table} (as the admin role)"),
        source,
    }
}

/// Seeds `world`'s rows into every writable tenant table, in one committed admin
/// transaction, and returns what was written.
pub(crate) async fn seed(
    admin: &Client,
    schema: &Schema,
    world: &World,
    plans: &[InsertPlan],
) -> Result<Seeded> {
    let mut seeded = Seeded {
        rows: vec![vec![Vec::new(); world.tenants.len()]; schema.tables.len()],
        ..Seeded::default()
    };
    admin
        .batch_execute("BEGIN")
        .await
        .map_err(seed_error("tables"))?;
    let result = seed_inner(admin, schema, world, plans, &mut seeded).await;
    match result {
        Ok(()) => {
            admin
                .batch_execute("COMMIT")
                .await
                .map_err(seed_error("tables"))?;
            Ok(seeded)
        }
        Err(e) => {
            let _ = admin.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn seed_inner(
    admin: &Client,
    schema: &Schema,
    world: &World,
    plans: &[InsertPlan],
    seeded: &mut Seeded,
) -> Result<()> {
    // Tenant registries first: tables the tenant column references on its own.
    for reg in &schema.registries {
        let key_type = reg
            .columns
            .iter()
            .find(|c| c.name == reg.key)
            .map_or("text".to_owned(), |c| c.sql_type.clone());
        let mut cols = vec![sql::ident(&reg.key)];
        let mut exprs = vec![format!("$1::text::{key_type}")];
        let mut fillers = Vec::new();
        for col in &reg.columns {
            if col.name == reg.key || col.generated || !col.not_null || col.has_default {
                continue;
            }
            cols.push(sql::ident(&col.name));
            if let Some(e) = enum_expr(col) {
                exprs.push(e);
            } else {
                fillers.push(col);
                exprs.push(format!("${}::text::{}", fillers.len() + 1, col.sql_type));
            }
        }
        let stmt = format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING RETURNING tableoid, ctid::text",
            reg.sql,
            cols.join(", "),
            exprs.join(", ")
        );
        for (k, tenant) in world.tenants.iter().enumerate() {
            let mut params: Vec<Option<String>> = vec![Some(tenant.value.clone())];
            for col in &fillers {
                params.push(filler(col, 900_000 + k as u64));
            }
            let refs: Vec<(&(dyn ToSql + Sync), Type)> = params
                .iter()
                .map(|p| (p as &(dyn ToSql + Sync), Type::TEXT))
                .collect();
            let rows = admin
                .query_typed(&stmt, &refs)
                .await
                .map_err(seed_error(&reg.name))?;
            for row in rows {
                seeded
                    .registry_rows
                    .push((reg.sql.clone(), (row.get(0), row.get(1))));
            }
        }
    }

    // Rows of other referenced tables, to borrow keys from.
    for table in &schema.tables {
        for fk in &table.fks {
            if let FkTarget::Other { oid, sql: target } = &fk.target {
                if seeded.borrowed.contains_key(oid) {
                    continue;
                }
                let cols: Vec<String> = fk
                    .target_columns
                    .iter()
                    .map(|c| format!("{}::text", sql::ident(c)))
                    .collect();
                let stmt = format!(
                    "SELECT array[{}]::text[] FROM {target} LIMIT 16",
                    cols.join(", ")
                );
                let rows = admin
                    .query_typed(&stmt, &[])
                    .await
                    .map_err(seed_error(target))?;
                seeded
                    .borrowed
                    .insert(*oid, rows.iter().map(|r| r.get(0)).collect());
            }
        }
    }

    let mut n: u64 = 1;
    for t in schema.seed_order() {
        let table = &schema.tables[t];
        let plan = &plans[t];
        let mut params: Vec<Option<String>> = Vec::new();
        let mut count = 0;
        for (k, tenant) in world.tenants.iter().enumerate() {
            let rows = if table.tenant_unique {
                1
            } else {
                world.rows[k]
            };
            for r in 0..rows {
                let values = seeded
                    .values(schema, plan, t, (k, &tenant.value), n, r)
                    .map_err(|reason| Error::IsolationSetup { reason })?;
                params.extend(values);
                n += 1;
                count += 1;
            }
        }
        if count == 0 {
            continue;
        }
        let stmt = plan.sql(table, count, true);
        let refs: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), Type::TEXT))
            .collect();
        let rows = admin
            .query_typed(&stmt, &refs)
            .await
            .map_err(seed_error(&table.name))?;
        record_rows(seeded, world, t, table, &rows, true)?;

        // Rows with varied values in the columns policies, views and functions read.
        let Some((varied, per_tenant)) = InsertPlan::varied(table, &schema.corpus) else {
            continue;
        };
        if table.tenant_unique {
            continue;
        }
        let mut params: Vec<Option<String>> = Vec::new();
        let mut count = 0;
        for (k, tenant) in world.tenants.iter().enumerate() {
            for r in 0..per_tenant {
                let values = seeded
                    .values(schema, &varied, t, (k, &tenant.value), n, r)
                    .map_err(|reason| Error::IsolationSetup { reason })?;
                params.extend(values);
                n += 1;
                count += 1;
            }
        }
        let stmt = varied.sql(table, count, true);
        let refs: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), Type::TEXT))
            .collect();
        admin
            .batch_execute("SAVEPOINT varied_rows")
            .await
            .map_err(seed_error(&table.name))?;
        match admin.query_typed(&stmt, &refs).await {
            Ok(rows) => {
                admin
                    .batch_execute("RELEASE varied_rows")
                    .await
                    .map_err(seed_error(&table.name))?;
                record_rows(seeded, world, t, table, &rows, false)?;
            }
            Err(e) => {
                admin
                    .batch_execute("ROLLBACK TO varied_rows")
                    .await
                    .map_err(seed_error(&table.name))?;
                let why = e
                    .as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned());
                seeded.notes.push(format!(
                    "rows of {} with varied values (booleans both ways, NULL, enum labels, \
                     bounds) were refused ({why}); only plain rows were seeded",
                    table.name
                ));
            }
        }
    }
    Ok(())
}

/// Records rows an `INSERT .. RETURNING` of the seeding plan returned.
fn record_rows(
    seeded: &mut Seeded,
    world: &World,
    t: usize,
    table: &Table,
    rows: &[tokio_postgres::Row],
    plain: bool,
) -> Result<()> {
    {
        for row in rows {
            let values: Vec<Option<String>> = row.get(3);
            let tenant_text = values.get(table.tenant_col).cloned().flatten();
            let Some(k) = world
                .tenants
                .iter()
                .position(|x| Some(&x.value) == tenant_text.as_ref())
            else {
                return Err(Error::IsolationSetup {
                    reason: format!(
                        "a row seeded into {} came back with another tenant id (a trigger or \
                         default rewrote it); the checker cannot tell whose row it is",
                        table.name
                    ),
                });
            };
            seeded.rows[t][k].push(SeedRow {
                id: (row.get(0), row.get(1)),
                values,
                text: row.get(2),
                plain,
            });
        }
    }
    Ok(())
}

/// Deletes the seeded rows (children first), in one admin transaction.
pub(crate) async fn cleanup(admin: &Client, schema: &Schema, seeded: &Seeded) -> Result<()> {
    let err = |source| Error::IsolationQuery {
        step: "deleting the seeded rows".to_owned(),
        source,
    };
    admin.batch_execute("BEGIN").await.map_err(err)?;
    let mut order = schema.seed_order();
    order.reverse();
    let result: std::result::Result<(), tokio_postgres::Error> = async {
        for t in order {
            let table = &schema.tables[t];
            let (oids, ctids): (Vec<String>, Vec<String>) = seeded.rows[t]
                .iter()
                .flatten()
                .map(|r| (r.id.0.to_string(), r.id.1.clone()))
                .unzip();
            if oids.is_empty() {
                continue;
            }
            delete_identities(admin, &table.sql, &oids, &ctids).await?;
        }
        for (table, id) in &seeded.registry_rows {
            delete_identities(
                admin,
                table,
                &[id.0.to_string()],
                std::slice::from_ref(&id.1),
            )
            .await?;
        }
        admin.batch_execute("COMMIT").await
    }
    .await;
    if result.is_err() {
        let _ = admin.batch_execute("ROLLBACK").await;
    }
    result.map_err(err)
}

async fn delete_identities(
    admin: &Client,
    table: &str,
    oids: &[String],
    ctids: &[String],
) -> std::result::Result<(), tokio_postgres::Error> {
    let stmt = format!(
        "DELETE FROM {table} AS t USING unnest($1::text[], $2::text[]) AS u(o, c) \
         WHERE t.tableoid = u.o::oid AND t.ctid = u.c::tid"
    );
    let oids = oids.to_vec();
    let ctids = ctids.to_vec();
    admin
        .query_typed(
            &stmt,
            &[(&oids, Type::TEXT_ARRAY), (&ctids, Type::TEXT_ARRAY)],
        )
        .await
        .map(|_| ())
}
