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
    /// Filled by a sequence (identity or `nextval` default).
    pub(crate) sequenced: bool,
    /// Part of a unique index or constraint.
    pub(crate) unique: bool,
    /// Labels of an enum type, in order.
    pub(crate) enum_labels: Vec<String>,
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
    /// What kind of relation it is, for the coverage report.
    pub(crate) kind: RelationKind,
    /// The application role may read it (SELECT on it or one of its columns).
    pub(crate) app_reads: bool,
    /// The application role may INSERT, UPDATE or DELETE.
    pub(crate) app_writes: bool,
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
    /// The application role may read it.
    pub(crate) app_reads: bool,
}

/// A kind of relation or routine the application can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RelationKind {
    /// An ordinary table.
    Table,
    /// A partitioned table.
    PartitionedTable,
    /// A partition of a partitioned table.
    Partition,
    /// A table that inherits from another (`INHERITS`).
    InheritanceChild,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
    /// A foreign table.
    ForeignTable,
    /// A function returning rows or a composite value.
    Function,
}

impl RelationKind {
    /// A stable snake_case name (`table`, `materialized_view`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Table => "table",
            RelationKind::PartitionedTable => "partitioned_table",
            RelationKind::Partition => "partition",
            RelationKind::InheritanceChild => "inheritance_child",
            RelationKind::View => "view",
            RelationKind::MaterializedView => "materialized_view",
            RelationKind::ForeignTable => "foreign_table",
            RelationKind::Function => "function",
        }
    }
}

impl std::fmt::Display for RelationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An argument of a function, as the checker generates it.
#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub(crate) sql_type: String,
    pub(crate) base_type: String,
    pub(crate) category: char,
    pub(crate) enum_labels: Vec<String>,
}

/// A function the application role may execute that returns rows or a composite.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    /// `schema.name(argument types)` for people.
    pub(crate) name: String,
    /// Quoted, qualified name for SQL.
    pub(crate) sql: String,
    pub(crate) args: Vec<Arg>,
    /// Trailing arguments with defaults.
    pub(crate) defaults: usize,
    pub(crate) security_definer: bool,
    /// Why it cannot be called (`None`: it can).
    pub(crate) unusable: Option<String>,
}

/// Something the application role can reach that the checker does not model as a
/// tenant table, view or function.
#[derive(Debug, Clone)]
pub(crate) struct Other {
    pub(crate) name: String,
    pub(crate) kind: RelationKind,
    /// Why it is not exercised (`None`: it holds no tenant rows, nothing to compare).
    pub(crate) reason: Option<String>,
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
    pub(crate) functions: Vec<Function>,
    /// Other relations the application can read or write.
    pub(crate) others: Vec<Other>,
    /// Policy expressions, view definitions and function bodies: the text whose
    /// identifiers and literals decide which columns get varied seed values.
    pub(crate) corpus: String,
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
                  and a.attname = any($1::text[])),
       c.relkind::text,
       exists (select 1 from pg_catalog.pg_inherits h where h.inhrelid = c.oid),
       pg_catalog.has_schema_privilege($2, n.oid, 'USAGE')
         and pg_catalog.has_any_column_privilege($2, c.oid, 'SELECT'),
       pg_catalog.has_schema_privilege($2, n.oid, 'USAGE')
         and pg_catalog.has_table_privilege($2, c.oid, 'INSERT, UPDATE, DELETE')
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
       case when bt.typcategory = 'S' and a.atttypmod > 4 then a.atttypmod - 4 end,
       a.attidentity <> '' or coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false),
       exists (select 1 from pg_catalog.pg_index i
                where i.indrelid = a.attrelid and i.indisunique and a.attnum = any(i.indkey)),
       case when bt.typtype = 'e' then array(select e.enumlabel::text from pg_catalog.pg_enum e
                                              where e.enumtypid = bt.oid order by e.enumsortorder) end
  from pg_catalog.pg_attribute a
  left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
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
       pg_catalog.pg_get_viewdef(c.oid),
       pg_catalog.has_schema_privilege($2, n.oid, 'USAGE')
         and pg_catalog.has_any_column_privilege($2, c.oid, 'SELECT')
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where c.oid = any($1::oid[])
 order by 2, 3";

/// Relations of user schemas the application role can read or write.
const REACHABLE_SQL: &str = "\
select c.oid, n.nspname::text, c.relname::text, c.relkind::text, c.relispartition,
       exists (select 1 from pg_catalog.pg_inherits h where h.inhrelid = c.oid)
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p', 'v', 'm', 'f')
   and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname !~ '^pg_toast' and n.nspname !~ '^pg_temp_'
   and pg_catalog.has_schema_privilege($1, n.oid, 'USAGE')
   and (pg_catalog.has_any_column_privilege($1, c.oid, 'SELECT')
        or (c.relkind in ('r', 'p', 'f')
            and pg_catalog.has_table_privilege($1, c.oid, 'INSERT, UPDATE, DELETE')))
 order by 2, 3";

/// Functions of user schemas (not of extensions) that the application role may
/// execute and that return rows or a composite.
const FUNCTIONS_SQL: &str = "\
select n.nspname::text, p.proname::text, pg_catalog.pg_get_function_identity_arguments(p.oid),
       p.prosecdef, p.pronargdefaults::int4,
       array(select pg_catalog.format_type(a.o, null)
               from unnest(p.proargtypes::oid[]) with ordinality a(o, i) order by a.i),
       array(select bt.typname::text
               from unnest(p.proargtypes::oid[]) with ordinality a(o, i)
               join pg_catalog.pg_type t on t.oid = a.o
               join pg_catalog.pg_type bt
                 on bt.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end
              order by a.i),
       array(select bt.typcategory::text
               from unnest(p.proargtypes::oid[]) with ordinality a(o, i)
               join pg_catalog.pg_type t on t.oid = a.o
               join pg_catalog.pg_type bt
                 on bt.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end
              order by a.i),
       p.prorettype = 'pg_catalog.record'::pg_catalog.regtype and p.proallargtypes is null,
       'v' = any(coalesce(p.proargmodes, '{}'::\"char\"[]))
  from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  join pg_catalog.pg_type rt on rt.oid = p.prorettype
 where p.prokind = 'f'
   and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname !~ '^pg_toast' and n.nspname !~ '^pg_temp_'
   and (p.proretset or rt.typtype = 'c' or p.prorettype = 'pg_catalog.record'::pg_catalog.regtype)
   and p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype
   and not exists (select 1 from pg_catalog.pg_depend d
                    where d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                      and d.objid = p.oid and d.deptype = 'e')
   and pg_catalog.has_schema_privilege($1, n.oid, 'USAGE')
   and pg_catalog.has_function_privilege($1, p.oid, 'EXECUTE')
 order by 1, 2, 3";

/// Policy expressions and the bodies of user functions, as one text.
const CORPUS_SQL: &str = "\
select coalesce((select string_agg(coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '')
                                   || ' ' ||
                                   coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), ''),
                                   ' ')
                   from pg_catalog.pg_policy p), '')
       || ' ' ||
       coalesce((select string_agg(p.prosrc, ' ')
                   from pg_catalog.pg_proc p
                   join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                  where n.nspname not in ('pg_catalog', 'information_schema')
                    and not exists (select 1 from pg_catalog.pg_depend d
                                     where d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                                       and d.objid = p.oid and d.deptype = 'e')), '')";

fn query_error(step: &str) -> impl FnOnce(tokio_postgres::Error) -> Error + '_ {
    move |source| Error::IsolationQuery {
        step: step.to_owned(),
        source,
    }
}

/// Reads the tenant tables and the views over them, the functions the application
/// role (`app`) may call and the other relations it can reach.
pub(crate) async fn discover(
    admin: &Client,
    tenant_columns: &[String],
    app: &str,
) -> Result<Schema> {
    let names: Vec<String> = tenant_columns.to_vec();
    let rows = admin
        .query(TABLES_SQL, &[&names, &app])
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
            kind: relation_kind(&row.get::<_, String>(5), row.get(3), row.get(6)),
            app_reads: row.get(7),
            app_writes: row.get(8),
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
    let views = discover_views(admin, &oids, app).await?;
    let registries = discover_registries(admin, &tables).await?;
    let functions = discover_functions(admin, app).await?;
    let mut corpus: String = admin
        .query_one(CORPUS_SQL, &[])
        .await
        .map_err(query_error(
            "reading policy expressions and function bodies",
        ))?
        .get(0);
    for v in &views {
        corpus.push(' ');
        corpus.push_str(&v.definition);
    }

    // Everything else the application can reach.
    let known: BTreeSet<String> = tables
        .iter()
        .map(|t| t.name.clone())
        .chain(views.iter().map(|v| v.name.clone()))
        .collect();
    let reachable = admin
        .query(REACHABLE_SQL, &[&app])
        .await
        .map_err(query_error("reading what the application role can reach"))?;
    let mut others = Vec::new();
    for row in &reachable {
        let name = format!("{}.{}", row.get::<_, String>(1), row.get::<_, String>(2));
        if known.contains(&name) {
            continue;
        }
        let relkind: String = row.get(3);
        let kind = relation_kind(&relkind, row.get(4), row.get(5));
        let reason = (kind == RelationKind::ForeignTable).then(|| {
            "foreign table: its rows live on another server, which the checker does not \
             seed (test the remote tables there)"
                .to_owned()
        });
        others.push(Other { name, kind, reason });
    }
    Ok(Schema {
        tables,
        views,
        registries,
        kind,
        functions,
        others,
        corpus,
    })
}

fn relation_kind(relkind: &str, partition: bool, inherits: bool) -> RelationKind {
    match relkind {
        "p" if partition => RelationKind::Partition,
        "p" => RelationKind::PartitionedTable,
        "v" => RelationKind::View,
        "m" => RelationKind::MaterializedView,
        "f" => RelationKind::ForeignTable,
        _ if partition => RelationKind::Partition,
        _ if inherits => RelationKind::InheritanceChild,
        _ => RelationKind::Table,
    }
}

/// Argument types the checker can make values of.
fn can_generate(arg: &Arg) -> bool {
    matches!(arg.category, 'B' | 'N' | 'S' | 'E' | 'D') || matches!(arg.base_type.as_str(), "uuid")
}

async fn discover_functions(admin: &Client, app: &str) -> Result<Vec<Function>> {
    let rows = admin
        .query(FUNCTIONS_SQL, &[&app])
        .await
        .map_err(query_error(
            "reading the functions the application may execute",
        ))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let schema: String = row.get(0);
        let name: String = row.get(1);
        let signature: String = row.get(2);
        let types: Vec<String> = row.get(5);
        let bases: Vec<String> = row.get(6);
        let cats: Vec<String> = row.get(7);
        let bare_record: bool = row.get(8);
        let variadic: bool = row.get(9);
        let mut args = Vec::with_capacity(types.len());
        for ((sql_type, base_type), cat) in types.into_iter().zip(bases).zip(cats) {
            let category = cat.chars().next().unwrap_or('X');
            let enum_labels = if category == 'E' {
                let stmt = format!("select pg_catalog.enum_range(NULL::{sql_type})::text[]");
                admin
                    .query_one(&stmt, &[])
                    .await
                    .map_err(query_error("reading enum labels"))?
                    .get(0)
            } else {
                Vec::new()
            };
            args.push(Arg {
                sql_type,
                base_type,
                category,
                enum_labels,
            });
        }
        let defaults = usize::try_from(row.get::<_, i32>(4)).unwrap_or(0);
        let required = args.len().saturating_sub(defaults);
        let unusable = if bare_record {
            Some("returns record without OUT columns: a call needs a column list".to_owned())
        } else if variadic {
            Some("variadic arguments are not generated".to_owned())
        } else {
            args[..required]
                .iter()
                .find(|a| !can_generate(a))
                .map(|a| format!("an argument of type {} cannot be generated", a.sql_type))
        };
        out.push(Function {
            name: format!("{schema}.{name}({signature})"),
            sql: sql::qualified(&schema, &name),
            args,
            defaults,
            security_definer: row.get(3),
            unusable,
        });
    }
    Ok(out)
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
        sequenced: row.get(9),
        unique: row.get(10),
        enum_labels: row.get::<_, Option<Vec<String>>>(11).unwrap_or_default(),
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

async fn discover_views(admin: &Client, table_oids: &[u32], app: &str) -> Result<Vec<View>> {
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
        .query(VIEWS_SQL, &[&oids, &app])
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
            app_reads: row.get(6),
        });
    }
    Ok(out)
}
