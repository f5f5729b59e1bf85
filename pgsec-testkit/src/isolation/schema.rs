//! Discovery: tenant tables (a column named like a tenant column), their columns and
//! foreign keys, and the views and materialized views that read them (through
//! `pg_depend` and `pg_rewrite`, following views over views).

use std::collections::{BTreeMap, BTreeSet};

use tokio_postgres::Client;

use super::sql;
use crate::{Error, Result};

/// The shape of the tenant ids the tables hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    Uuid,
    Integer,
    Text,
}

#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    /// `format_type()`: valid SQL for a cast, schema-qualified when needed.
    pub(crate) sql_type: String,
    /// Name of the type, or of a domain's base type.
    pub(crate) base_type: String,
    /// `pg_type.typcategory`.
    pub(crate) category: char,
    pub(crate) not_null: bool,
    /// A default, an identity or a generated expression fills it.
    pub(crate) has_default: bool,
    pub(crate) generated: bool,
    /// Character limit of `varchar(n)` / `char(n)`.
    pub(crate) max_len: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum FkTarget {
    /// Another tenant table (index into [`Schema::tables`]).
    Tenant(usize),
    /// The table itself.
    SelfRef,
    /// A table without a tenant column: rows are borrowed from what it holds.
    Other { oid: u32, sql: String },
}

#[derive(Debug, Clone)]
pub(crate) struct ForeignKey {
    /// Indexes into the table's columns.
    pub(crate) columns: Vec<usize>,
    pub(crate) target: FkTarget,
    /// Referenced column names, in the order of `columns`.
    pub(crate) target_columns: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) oid: u32,
    /// `schema.name` for people.
    pub(crate) name: String,
    /// Quoted, qualified name for SQL.
    pub(crate) sql: String,
    pub(crate) tenant_col: usize,
    pub(crate) columns: Vec<Column>,
    pub(crate) fks: Vec<ForeignKey>,
    /// A partition: read directly, written through its parent.
    pub(crate) is_partition: bool,
    /// A unique index on the tenant column alone: one row per tenant.
    pub(crate) tenant_unique: bool,
}

impl Table {
    pub(crate) fn tenant(&self) -> &Column {
        // tenant_col is an index this module produced from `columns`.
        &self.columns[self.tenant_col]
    }
}

#[derive(Debug, Clone)]
pub(crate) struct View {
    pub(crate) name: String,
    pub(crate) sql: String,
    pub(crate) materialized: bool,
    pub(crate) security_invoker: bool,
    /// The defining query (materialized views are read through it for the oracle,
    /// since their stored rows do not follow the tables).
    pub(crate) definition: String,
}

/// A table without a tenant column that a tenant column references on its own (a
/// `tenants` table): every generated tenant is added to it before seeding.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    pub(crate) name: String,
    pub(crate) sql: String,
    /// The referenced column.
    pub(crate) key: String,
    pub(crate) columns: Vec<Column>,
}

#[derive(Debug, Clone)]
pub(crate) struct Schema {
    pub(crate) tables: Vec<Table>,
    pub(crate) views: Vec<View>,
    pub(crate) registries: Vec<Registry>,
    pub(crate) kind: IdKind,
}

impl Schema {
    /// Tables rows are seeded into and written to (not partitions), in an order
    /// where referenced tenant tables come first.
    pub(crate) fn seed_order(&self) -> Vec<usize> {
        let writable: Vec<usize> = (0..self.tables.len())
            .filter(|&i| !self.tables[i].is_partition)
            .collect();
        let mut done: BTreeSet<usize> = BTreeSet::new();
        let mut order = Vec::with_capacity(writable.len());
        while order.len() < writable.len() {
            let ready = writable.iter().copied().find(|i| {
                !done.contains(i)
                    && self.tables[*i].fks.iter().all(|fk| match fk.target {
                        FkTarget::Tenant(t) => {
                            t == *i || done.contains(&t) || self.tables[t].is_partition
                        }
                        _ => true,
                    })
            });
            // A cycle: take the first remaining table; its unresolved keys get NULL.
            let next = ready.or_else(|| writable.iter().copied().find(|i| !done.contains(i)));
            match next {
                Some(i) => {
                    done.insert(i);
                    order.push(i);
                }
                None => break,
            }
        }
        order
    }
}

const TABLES_SQL: &str = "\
select c.oid, n.nspname::text, c.relname::text, c.relispartition,
       exists (select 1 from pg_catalog.pg_index i
                 join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
                where i.indrelid = c.oid and i.indisunique and i.indnkeyatts = 1
                  and a.attname = any($1::text[]))
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p')
   and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname !~ '^pg_toast' and n.nspname !~ '^pg_temp_'
   and exists (select 1 from pg_catalog.pg_attribute a
                where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                  and a.attname = any($1::text[]))
 order by 2, 3";

const COLUMNS_SQL: &str = "\
select a.attrelid, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
       bt.typname::text, bt.typcategory::text, a.attnotnull,
       (a.atthasdef or a.attidentity <> '' or a.attgenerated <> ''),
       a.attgenerated <> '',
       case when bt.typcategory = 'S' and a.atttypmod > 4 then a.atttypmod - 4 end
  from pg_catalog.pg_attribute a
  join pg_catalog.pg_type t on t.oid = a.atttypid
  join pg_catalog.pg_type bt on bt.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end
 where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped
 order by a.attrelid, a.attnum";

const FKS_SQL: &str = "\
select con.conrelid, con.confrelid, fn.nspname::text, fc.relname::text,
       array(select a.attname::text from unnest(con.conkey) with ordinality k(n, i)
               join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n
              order by k.i),
       array(select a.attname::text from unnest(con.confkey) with ordinality k(n, i)
               join pg_catalog.pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n
              order by k.i)
  from pg_catalog.pg_constraint con
  join pg_catalog.pg_class fc on fc.oid = con.confrelid
  join pg_catalog.pg_namespace fn on fn.oid = fc.relnamespace
 where con.contype = 'f' and con.conparentid = 0 and con.conrelid = any($1::oid[])
 order by con.conrelid, con.conname";

/// Which relation each rewrite rule (view) reads, for every view and materialized view
/// of a user schema.
const VIEW_DEPS_SQL: &str = "\
select distinct r.ev_class, d.refobjid
  from pg_catalog.pg_depend d
  join pg_catalog.pg_rewrite r on r.oid = d.objid
  join pg_catalog.pg_class v on v.oid = r.ev_class
 where d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
   and d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
   and d.refobjid <> r.ev_class
   and v.relkind in ('v', 'm')";

const VIEWS_SQL: &str = "\
select c.oid, n.nspname::text, c.relname::text, c.relkind = 'm',
       coalesce(exists (select 1 from unnest(c.reloptions) o
                         where o in ('security_invoker=true', 'security_invoker=on',
                                     'security_invoker=1', 'security_invoker=yes')), false),
       pg_catalog.pg_get_viewdef(c.oid)
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where c.oid = any($1::oid[])
 order by 2, 3";

fn query_error(step: &str) -> impl FnOnce(tokio_postgres::Error) -> Error + '_ {
    move |source| Error::IsolationQuery {
        step: step.to_owned(),
        source,
    }
}

/// Reads the tenant tables and the views over them.
pub(crate) async fn discover(admin: &Client, tenant_columns: &[String]) -> Result<Schema> {
    let names: Vec<String> = tenant_columns.to_vec();
    let rows = admin
        .query(TABLES_SQL, &[&names])
        .await
        .map_err(query_error("discovering tenant tables"))?;
    if rows.is_empty() {
        return Err(Error::IsolationSetup {
            reason: format!(
                "no table has a column named {}; name the tenant column with \
                 --tenant-column (IsolationConfig::tenant_columns)",
                tenant_columns.join(" or ")
            ),
        });
    }
    let mut tables = Vec::with_capacity(rows.len());
    let mut by_oid = BTreeMap::new();
    for row in &rows {
        let oid: u32 = row.get(0);
        let schema: String = row.get(1);
        let name: String = row.get(2);
        by_oid.insert(oid, tables.len());
        tables.push(Table {
            oid,
            name: format!("{schema}.{name}"),
            sql: sql::qualified(&schema, &name),
            tenant_col: 0,
            columns: Vec::new(),
            fks: Vec::new(),
            is_partition: row.get(3),
            tenant_unique: row.get(4),
        });
    }
    let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();

    let columns = admin
        .query(COLUMNS_SQL, &[&oids])
        .await
        .map_err(query_error("reading columns of tenant tables"))?;
    for row in &columns {
        let oid: u32 = row.get(0);
        let Some(&i) = by_oid.get(&oid) else { continue };
        tables[i].columns.push(column_from_row(row));
    }
    for table in &mut tables {
        // The first configured name the table has decides (the query guarantees one).
        let found = tenant_columns
            .iter()
            .find_map(|c| table.columns.iter().position(|col| &col.name == c));
        match found {
            Some(i) => table.tenant_col = i,
            None => {
                return Err(Error::IsolationSetup {
                    reason: format!(
                        "table {} lost its tenant column during discovery",
                        table.name
                    ),
                })
            }
        }
    }

    let fks = admin
        .query(FKS_SQL, &[&oids])
        .await
        .map_err(query_error("reading foreign keys"))?;
    for row in &fks {
        let from: u32 = row.get(0);
        let to: u32 = row.get(1);
        let Some(&i) = by_oid.get(&from) else {
            continue;
        };
        let cols: Vec<String> = row.get(4);
        let target_columns: Vec<String> = row.get(5);
        let columns: Vec<usize> = cols
            .iter()
            .filter_map(|c| tables[i].columns.iter().position(|col| &col.name == c))
            .collect();
        if columns.len() != cols.len() {
            continue;
        }
        let target = match by_oid.get(&to) {
            Some(&j) if j == i => FkTarget::SelfRef,
            Some(&j) => FkTarget::Tenant(j),
            None => FkTarget::Other {
                oid: to,
                sql: sql::qualified(&row.get::<_, String>(2), &row.get::<_, String>(3)),
            },
        };
        tables[i].fks.push(ForeignKey {
            columns,
            target,
            target_columns,
        });
    }

    let kind = id_kind(&tables)?;
    let views = discover_views(admin, &oids).await?;
    let registries = discover_registries(admin, &tables).await?;
    Ok(Schema {
        tables,
        views,
        registries,
        kind,
    })
}

async fn discover_registries(admin: &Client, tables: &[Table]) -> Result<Vec<Registry>> {
    let mut found: BTreeMap<u32, (String, String)> = BTreeMap::new();
    for table in tables {
        for fk in &table.fks {
            if let (FkTarget::Other { oid, sql }, [only], [key]) = (
                &fk.target,
                fk.columns.as_slice(),
                fk.target_columns.as_slice(),
            ) {
                if *only == table.tenant_col {
                    found
                        .entry(*oid)
                        .or_insert_with(|| (sql.clone(), key.clone()));
                }
            }
        }
    }
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let oids: Vec<u32> = found.keys().copied().collect();
    let rows = admin
        .query(COLUMNS_SQL, &[&oids])
        .await
        .map_err(query_error("reading columns of tenant registries"))?;
    let mut out = Vec::new();
    for (oid, (sql, key)) in found {
        let columns = rows
            .iter()
            .filter(|r| r.get::<_, u32>(0) == oid)
            .map(column_from_row)
            .collect();
        out.push(Registry {
            name: sql.replace('"', ""),
            sql,
            key,
            columns,
        });
    }
    Ok(out)
}

fn column_from_row(row: &tokio_postgres::Row) -> Column {
    let category: String = row.get(4);
    let max_len: Option<i32> = row.get(8);
    Column {
        name: row.get(1),
        sql_type: row.get(2),
        base_type: row.get(3),
        category: category.chars().next().unwrap_or('X'),
        not_null: row.get(5),
        has_default: row.get(6),
        generated: row.get(7),
        max_len: max_len.and_then(|n| usize::try_from(n).ok()),
    }
}

fn column_kind(base_type: &str) -> Option<IdKind> {
    match base_type {
        "uuid" => Some(IdKind::Uuid),
        "int2" | "int4" | "int8" => Some(IdKind::Integer),
        "text" | "varchar" | "bpchar" | "citext" | "name" => Some(IdKind::Text),
        _ => None,
    }
}

/// One id shape for all tables: uuid or integer ids fit text columns too.
fn id_kind(tables: &[Table]) -> Result<IdKind> {
    let mut kinds = BTreeSet::new();
    for table in tables {
        let col = table.tenant();
        match column_kind(&col.base_type) {
            Some(IdKind::Uuid) => kinds.insert(0),
            Some(IdKind::Integer) => kinds.insert(1),
            Some(IdKind::Text) => kinds.insert(2),
            None => {
                return Err(Error::IsolationSetup {
                    reason: format!(
                        "tenant column {}.{} has type {}; the checker generates uuid, \
                         integer and text tenant ids",
                        table.name, col.name, col.sql_type
                    ),
                })
            }
        };
    }
    match (kinds.contains(&0), kinds.contains(&1)) {
        (true, true) => Err(Error::IsolationSetup {
            reason: "some tenant columns are uuid and others integer; run the checker \
                     once per kind with --tenant-column"
                .to_owned(),
        }),
        (true, false) => Ok(IdKind::Uuid),
        (false, true) => Ok(IdKind::Integer),
        (false, false) => Ok(IdKind::Text),
    }
}

async fn discover_views(admin: &Client, table_oids: &[u32]) -> Result<Vec<View>> {
    let deps = admin
        .query(VIEW_DEPS_SQL, &[])
        .await
        .map_err(query_error("reading view dependencies"))?;
    let mut reads: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for row in &deps {
        reads.entry(row.get(0)).or_default().insert(row.get(1));
    }
    // Views reading a tenant table, directly or through other views.
    let mut over: BTreeSet<u32> = table_oids.iter().copied().collect();
    let mut views: BTreeSet<u32> = BTreeSet::new();
    loop {
        let before = views.len();
        for (view, bases) in &reads {
            if bases.iter().any(|b| over.contains(b)) && views.insert(*view) {
                over.insert(*view);
            }
        }
        if views.len() == before {
            break;
        }
    }
    if views.is_empty() {
        return Ok(Vec::new());
    }
    let oids: Vec<u32> = views.into_iter().collect();
    let rows = admin
        .query(VIEWS_SQL, &[&oids])
        .await
        .map_err(query_error("reading views over tenant tables"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let schema: String = row.get(1);
        let name: String = row.get(2);
        if schema == "pg_catalog" || schema == "information_schema" {
            continue;
        }
        let definition: String = row.get(5);
        out.push(View {
            name: format!("{schema}.{name}"),
            sql: sql::qualified(&schema, &name),
            materialized: row.get(3),
            security_invoker: row.get(4),
            definition: definition.trim().trim_end_matches(';').to_owned(),
        });
    }
    Ok(out)
}
