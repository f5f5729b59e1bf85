//! Row-Level Security rules: `rls.*`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::reach::Roles;
use super::{ident, in_db, qident, Eval};
use crate::report::Location;
use crate::snapshot::{Collected, DatabaseFacts, PolicyFact, QualifiedName, TableFact};
use crate::Policy;

/// The tenant column of `t`, if it is a tenant table.
pub(crate) fn tenant_column<'t>(policy: &Policy, t: &'t TableFact) -> Option<&'t str> {
    t.columns
        .iter()
        .find(|c| policy.is_tenant_column(c))
        .map(String::as_str)
}

fn table_loc(db: &DatabaseFacts, t: &TableFact) -> (String, Location) {
    let name = format!("{}.{}", t.schema, t.name);
    (
        format!("{}/{name}", db.name),
        Location::object("table", in_db(&db.name, &name)),
    )
}

/// `rls.disabled`: a tenant table without ENABLE ROW LEVEL SECURITY. When the
/// application's role is known and holds no privilege on the table (a partition whose
/// parent carries the policies, say), it cannot read the rows directly: the finding is
/// lowered to Low (left out under [`Policy::app_only`]).
pub(super) fn disabled(ev: &mut Eval<'_>) {
    let app = ev.app_role().ok();
    let roles = ev.roles().ok().map(Roles::new);
    let reach = app.zip(roles.as_ref()).map(|(a, idx)| idx.reach(a));
    for (db, tables) in ev.per_db("tables", |d| &d.tables) {
        for t in tables {
            let Some(col) = tenant_column(ev.policy, t) else {
                continue;
            };
            if !t.rls_enabled {
                // The app's role is known and holds no privilege on the table.
                let unreachable = match (&reach, app) {
                    (Some(r), Some(a)) => r
                        .may_use(t.acl.as_deref(), &t.owner, "arwdDxt", false)
                        .is_none()
                        .then_some(a),
                    _ => None,
                };
                if unreachable.is_some() && ev.policy.app_only {
                    continue;
                }
                let severity = if unreachable.is_some() {
                    crate::Severity::Low
                } else {
                    ev.rule_severity()
                };
                let unreachable = unreachable.map(|a| {
                    format!(
                        "; the application's role {a} holds no privilege on it, so it \
                         reaches these rows only through other relations (a \
                         partitioned parent applies its own policies)"
                    )
                });
                let (obj, loc) = table_loc(db, t);
                ev.emit_at(
                    severity,
                    obj,
                    loc,
                    format!(
                        "table {} has tenant column {col} but Row-Level Security is disabled (database {}){}",
                        t.qualified(),
                        db.name,
                        unreachable.unwrap_or_default()
                    ),
                    format!(
                        "ALTER TABLE {0} ENABLE ROW LEVEL SECURITY;\nALTER TABLE {0} FORCE ROW LEVEL SECURITY;",
                        qident(&t.schema, &t.name)
                    ),
                );
            }
        }
    }
}

/// `rls.not_forced`: a tenant table with RLS enabled but not forced.
pub(super) fn not_forced(ev: &mut Eval<'_>) {
    for (db, tables) in ev.per_db("tables", |d| &d.tables) {
        for t in tables {
            if tenant_column(ev.policy, t).is_none() || !t.rls_enabled || t.rls_forced {
                continue;
            }
            let (obj, loc) = table_loc(db, t);
            ev.emit(
                obj,
                loc,
                format!(
                    "tenant table {} has Row-Level Security enabled but not forced: its owner {} bypasses the policies (database {})",
                    t.qualified(),
                    t.owner,
                    db.name
                ),
                format!("ALTER TABLE {} FORCE ROW LEVEL SECURITY;", qident(&t.schema, &t.name)),
            );
        }
    }
}

/// Tables and the policies of each (databases whose tables or policies are missing are
/// skipped).
fn tables_with_policies<'a>(
    ev: &mut Eval<'a>,
) -> Vec<(&'a DatabaseFacts, &'a TableFact, Vec<&'a PolicyFact>)> {
    let mut out = Vec::new();
    for (db, tables) in ev.per_db("tables", |d| &d.tables) {
        let policies = match &db.policies {
            Collected::Present(p) => p,
            Collected::NotCollected(r) => {
                ev.skip(format!(
                    "policies of database {} not collected: {r}",
                    db.name
                ));
                continue;
            }
        };
        // Hashed, not ordered: looked up once per table (100,000 of them, issue 16).
        let mut by_table: HashMap<(&str, &str), Vec<&PolicyFact>> =
            HashMap::with_capacity(policies.len());
        for p in policies {
            by_table.entry((&p.schema, &p.table)).or_default().push(p);
        }
        out.reserve(tables.len());
        for t in tables {
            let ps = if by_table.is_empty() {
                Vec::new()
            } else {
                by_table
                    .remove(&(t.schema.as_str(), t.name.as_str()))
                    .unwrap_or_default()
            };
            out.push((db, t, ps));
        }
    }
    out
}

/// `rls.no_policy`: RLS enabled and no policy.
pub(super) fn no_policy(ev: &mut Eval<'_>) {
    for (db, t, ps) in tables_with_policies(ev) {
        if t.rls_enabled && ps.is_empty() {
            let (obj, loc) = table_loc(db, t);
            let col = tenant_column(ev.policy, t).unwrap_or("<tenant column>");
            ev.emit(
                obj,
                loc,
                format!(
                    "table {} has Row-Level Security enabled and no policy: non-owners see no rows (database {})",
                    t.qualified(),
                    db.name
                ),
                format!(
                    "CREATE POLICY tenant_isolation ON {} USING ({col} = current_setting('app.current_tenant_id')::<type>) WITH CHECK ({col} = current_setting('app.current_tenant_id')::<type>);",
                    qident(&t.schema, &t.name)
                ),
            );
        }
    }
}

/// `rls.policy_without_rls`: policies exist but RLS is disabled.
pub(super) fn policy_without_rls(ev: &mut Eval<'_>) {
    for (db, t, ps) in tables_with_policies(ev) {
        if !t.rls_enabled && !ps.is_empty() {
            let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
            let (obj, loc) = table_loc(db, t);
            ev.emit(
                obj,
                loc,
                format!(
                    "table {} has policies ({}) but Row-Level Security is disabled, so none applies (database {})",
                    t.qualified(),
                    names.join(", "),
                    db.name
                ),
                format!(
                    "ALTER TABLE {0} ENABLE ROW LEVEL SECURITY;\nALTER TABLE {0} FORCE ROW LEVEL SECURITY;",
                    qident(&t.schema, &t.name)
                ),
            );
        }
    }
}

/// True when a deparsed expression is the constant true.
pub(crate) fn is_constant_true(expr: &str) -> bool {
    let mut e: String = expr
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    while e.starts_with('(') && e.ends_with(')') && balanced(&e[1..e.len() - 1]) {
        e = e[1..e.len() - 1].to_owned();
    }
    matches!(
        e.as_str(),
        "true"
            | "'t'::boolean"
            | "'true'::boolean"
            | "'on'::boolean"
            | "'yes'::boolean"
            | "1=1"
            | "notfalse"
    )
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i64;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// True when `expr` mentions the identifier `name` as a whole word (quoted or not).
pub(crate) fn mentions(expr: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let lower = expr.to_ascii_lowercase();
    let target = name.to_ascii_lowercase();
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut start = 0;
    while let Some(pos) = lower[start..].find(&target) {
        let i = start + pos;
        let j = i + target.len();
        let before = lower[..i].chars().next_back();
        let after = lower[j..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return true;
        }
        start = i + target.len().max(1);
        if start >= lower.len() {
            break;
        }
    }
    false
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// True when `name` is made of identifier characters only, so that [`mentions`] of it
/// is membership in [`identifier_words`].
fn is_identifier_word(name: &str) -> bool {
    !name.is_empty() && name.chars().all(is_ident_char)
}

/// The maximal runs of identifier characters of `text`, ASCII-lower-cased: the words
/// [`mentions`] can match.
fn identifier_words(text: &str) -> std::collections::HashSet<String> {
    text.to_ascii_lowercase()
        .split(|c: char| !is_ident_char(c))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn policy_exprs(p: &PolicyFact) -> Vec<(&'static str, &str)> {
    let mut v = Vec::new();
    if let Some(u) = &p.using {
        v.push(("USING", u.as_str()));
    }
    if let Some(c) = &p.with_check {
        v.push(("WITH CHECK", c.as_str()));
    }
    v
}

fn policy_loc(db: &DatabaseFacts, p: &PolicyFact) -> (String, Location) {
    let name = format!("{} on {}.{}", p.name, p.schema, p.table);
    (
        format!("{}/{}.{}/{}", db.name, p.schema, p.table, p.name),
        Location::object("policy", in_db(&db.name, &name)),
    )
}

/// True when `expr` compares the tenant column `col` with `current_setting`.
fn is_tenant_filter(expr: &str, col: &str) -> bool {
    !is_constant_true(expr) && mentions(expr, col) && mentions(expr, "current_setting")
}

/// The RESTRICTIVE policy of `ps` that confines permissive policy `p`'s `clause`
/// (`USING` or `WITH CHECK`) to the tenant: it covers `p`'s command and roles and its
/// matching expression filters by the tenant column and `current_setting`. Restrictive
/// policies are AND-ed with the permissive ones, so whatever `p` lets through, only
/// the tenant's rows pass.
fn restrictive_guard<'p>(
    ps: &[&'p PolicyFact],
    p: &PolicyFact,
    clause: &str,
    col: &str,
) -> Option<&'p PolicyFact> {
    use crate::snapshot::PolicyCommand;
    ps.iter().copied().find(|r| {
        if r.permissive {
            return false;
        }
        let command = r.command == PolicyCommand::All || r.command == p.command;
        let roles =
            r.roles.iter().any(|x| x == "public") || p.roles.iter().all(|x| r.roles.contains(x));
        // WITH CHECK of an ALL or UPDATE policy defaults to its USING.
        let expr = match clause {
            "USING" => r.using.as_deref(),
            _ => r.with_check.as_deref().or(match r.command {
                PolicyCommand::All | PolicyCommand::Update => r.using.as_deref(),
                _ => None,
            }),
        };
        command && roles && expr.is_some_and(|e| is_tenant_filter(e, col))
    })
}

/// `rls.policy_always_true`: a permissive policy whose USING or WITH CHECK is true,
/// unless a RESTRICTIVE tenant policy confines that clause.
pub(super) fn policy_always_true(ev: &mut Eval<'_>) {
    for (db, t, ps) in tables_with_policies(ev) {
        let tenant_col = tenant_column(ev.policy, t);
        for p in ps.iter().filter(|p| p.permissive) {
            let Some((clause, _)) = policy_exprs(p).into_iter().find(|(c, e)| {
                is_constant_true(e)
                    && tenant_col.is_none_or(|col| restrictive_guard(&ps, p, c, col).is_none())
            }) else {
                continue;
            };
            let col = tenant_column(ev.policy, t).unwrap_or("<tenant column>");
            let (obj, loc) = policy_loc(db, p);
            ev.emit(
                obj,
                loc,
                format!(
                    "permissive policy {} on {} has {clause} (true) for {}: every row passes (database {})",
                    p.name,
                    t.qualified(),
                    p.roles.join(", "),
                    db.name
                ),
                format!(
                    "ALTER POLICY {} ON {} USING ({col} = current_setting('app.current_tenant_id')::<type>) WITH CHECK ({col} = current_setting('app.current_tenant_id')::<type>);",
                    ident(&p.name),
                    qident(&t.schema, &t.name)
                ),
            );
        }
    }
}

/// `rls.policy_ignores_tenant`: a permissive policy on a tenant table that references
/// neither the tenant column nor `current_setting`, unless a RESTRICTIVE tenant policy
/// confines that clause.
pub(super) fn policy_ignores_tenant(ev: &mut Eval<'_>) {
    for (db, t, ps) in tables_with_policies(ev) {
        let Some(col) = tenant_column(ev.policy, t) else {
            continue;
        };
        for p in ps.iter().filter(|p| p.permissive) {
            let ignoring: Vec<&str> = policy_exprs(p)
                .into_iter()
                .filter(|(c, e)| {
                    !mentions(e, col)
                        && !mentions(e, "current_setting")
                        && restrictive_guard(&ps, p, c, col).is_none()
                })
                .map(|(c, _)| c)
                .collect();
            if ignoring.is_empty() {
                continue;
            }
            let (obj, loc) = policy_loc(db, p);
            ev.emit(
                obj,
                loc,
                format!(
                    "permissive policy {} on tenant table {}: {} references neither {col} nor current_setting (database {})",
                    p.name,
                    t.qualified(),
                    ignoring.join(" and "),
                    db.name
                ),
                format!(
                    "ALTER POLICY {} ON {} USING ({col} = current_setting('app.current_tenant_id')::<type>) WITH CHECK ({col} = current_setting('app.current_tenant_id')::<type>);",
                    ident(&p.name),
                    qident(&t.schema, &t.name)
                ),
            );
        }
    }
}

/// What makes a tenant comparison loose, in a deparsed expression (lower-cased, string
/// literals left in): pattern matches, case folding, trimming, normalisation, prefix
/// functions, a COALESCE fallback, an "unset opens up" branch.
const LOOSE_MATCHES: &[(&str, &str)] = &[
    (" ~~ ", "LIKE"),
    (" ~~* ", "ILIKE"),
    (" ~ ", "a regular expression"),
    (" ~* ", "a regular expression"),
    (" similar to ", "SIMILAR TO"),
    ("lower(", "lower()"),
    ("upper(", "upper()"),
    ("initcap(", "initcap()"),
    ("btrim(", "btrim()"),
    ("ltrim(", "ltrim()"),
    ("rtrim(", "rtrim()"),
    ("normalize(", "normalize()"),
    ("unaccent(", "unaccent()"),
    ("starts_with(", "starts_with()"),
    ("\"left\"(", "left()"),
    ("substr(", "substr()"),
    ("\"substring\"(", "substring()"),
    ("strpos(", "strpos()"),
    ("\"position\"(", "position()"),
    ("coalesce(", "a COALESCE fallback"),
    (" is null", "an IS NULL branch"),
];

/// `rls.policy_loose_match`: a policy on a tenant table compares the tenant column with
/// the tenant setting loosely (LIKE, case folding, trimming, a fallback), so one
/// tenant's id matches another's, or a missing tenant matches rows.
pub(super) fn policy_loose_match(ev: &mut Eval<'_>) {
    for (db, t, ps) in tables_with_policies(ev) {
        let Some(col) = tenant_column(ev.policy, t) else {
            continue;
        };
        for p in &ps {
            let loose: Vec<String> = policy_exprs(p)
                .into_iter()
                .filter(|(_, e)| is_tenant_filter(e, col))
                .filter_map(|(clause, e)| {
                    let lower = e.to_ascii_lowercase();
                    let found: Vec<&str> = LOOSE_MATCHES
                        .iter()
                        .filter(|(needle, _)| lower.contains(needle))
                        .map(|(_, what)| *what)
                        .collect();
                    (!found.is_empty()).then(|| format!("{clause} uses {}", found.join(", ")))
                })
                .collect();
            if loose.is_empty() {
                continue;
            }
            let (obj, loc) = policy_loc(db, p);
            ev.emit(
                obj,
                loc,
                format!(
                    "policy {} on tenant table {} compares {col} with the tenant setting loosely: \
                     {}; one tenant's id can match another's, or no tenant match rows \
                     (database {})",
                    p.name,
                    t.qualified(),
                    loose.join("; "),
                    db.name
                ),
                format!(
                    "ALTER POLICY {} ON {} USING ({col} = current_setting('{}', true)::<type>) \
                     WITH CHECK ({col} = current_setting('{}', true)::<type>);",
                    ident(&p.name),
                    qident(&t.schema, &t.name),
                    ev.policy.tenant_setting,
                    ev.policy.tenant_setting
                ),
            );
        }
    }
}

/// A qualified name as a borrowed map key.
type NameKey<'a> = (&'a str, &'a str);

fn name_key(q: &QualifiedName) -> NameKey<'_> {
    (&q.schema, &q.name)
}

/// Tenant tables of a database by (schema, name), borrowed: built only by the rules that
/// have a view or function to look names up for, without copying 100,000 names.
fn tenant_tables<'a>(
    policy: &Policy,
    tables: &'a [TableFact],
) -> HashMap<NameKey<'a>, &'a TableFact> {
    tables
        .iter()
        .filter(|t| tenant_column(policy, t).is_some())
        .map(|t| ((t.schema.as_str(), t.name.as_str()), t))
        .collect()
}

/// The application's role and what it can act as, for rules that report only what
/// concerns it under [`Policy::app_only`]. `None` when the rule was skipped.
fn app_reach<'a>(ev: &mut Eval<'a>) -> Option<(Option<&'a str>, Option<Roles<'a>>)> {
    let app = match ev.app_role() {
        Ok(app) => Some(app),
        Err(reason) if ev.policy.app_only => {
            ev.skip(reason);
            return None;
        }
        Err(_) => None,
    };
    let roles = match ev.roles() {
        Ok(roles) => Some(Roles::new(roles)),
        Err(reason) => {
            ev.skip(format!(
                "{reason}: whose rights a view or function runs with, and who may use it, \
                 cannot be told"
            ));
            if ev.policy.app_only {
                return None;
            }
            None
        }
    };
    Some((app, roles))
}

/// `rls.view_bypass`: a view over a tenant table without security_invoker, or a
/// materialized view over one. Critical when its owner bypasses the policies and the
/// application's role may read it; with [`Policy::app_only`], only then.
pub(super) fn view_bypass(ev: &mut Eval<'_>) {
    let Some((app, roles)) = app_reach(ev) else {
        return;
    };
    let reach = app.zip(roles.as_ref()).map(|(a, idx)| idx.reach(a));
    for (db, tables) in ev.per_db("tables", |d| &d.tables) {
        let views = match &db.views {
            Collected::Present(v) => v,
            Collected::NotCollected(r) => {
                ev.skip(format!("views of database {} not collected: {r}", db.name));
                continue;
            }
        };
        let mut suspects = views
            .iter()
            .filter(|v| v.materialized || !v.security_invoker)
            .peekable();
        if suspects.peek().is_none() {
            continue;
        }
        let tenants = tenant_tables(ev.policy, tables);
        let by_name: HashMap<NameKey<'_>, _> = views
            .iter()
            .map(|v| ((v.schema.as_str(), v.name.as_str()), v))
            .collect();
        for v in suspects {
            // Tenant tables reached through the view, following views it reads.
            let mut reached: BTreeMap<QualifiedName, &TableFact> = BTreeMap::new();
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&QualifiedName> = v.referenced.iter().collect();
            while let Some(q) = stack.pop() {
                if !seen.insert(q.clone()) {
                    continue;
                }
                if let Some(t) = tenants.get(&name_key(q)) {
                    reached.insert(q.clone(), t);
                }
                if let Some(inner) = by_name.get(&name_key(q)) {
                    stack.extend(inner.referenced.iter());
                }
            }
            if reached.is_empty() {
                continue;
            }
            let bypass = roles.as_ref().and_then(|idx| {
                reached
                    .values()
                    .find_map(|t| idx.bypass_reason(&v.owner, t))
            });
            let used = reach
                .as_ref()
                .and_then(|r| r.may_use(v.acl.as_deref(), &v.owner, "arwd", false));
            let exposed = match (&bypass, &used, app) {
                (Some(b), Some(u), Some(a)) => Some(format!(
                    "; {b}, and the application's role {a} may read it: {u}"
                )),
                _ => None,
            };
            if ev.policy.app_only && exposed.is_none() {
                continue;
            }
            let list = reached
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let name = format!("{}.{}", v.schema, v.name);
            let q = qident(&v.schema, &v.name);
            let (kind, evidence, fix) = if v.materialized {
                (
                    "materialized view",
                    format!(
                        "materialized view {name} holds rows of tenant table {list} read with the \
                         rights of its owner {} when it was refreshed, and no policy applies to \
                         them (database {})",
                        v.owner, db.name
                    ),
                    format!(
                        "REVOKE ALL ON {q} FROM PUBLIC{};  -- a materialized view cannot apply \
                         policies: give the application a security_invoker view of the tables",
                        app.map(|a| format!(", {}", ident(a))).unwrap_or_default()
                    ),
                )
            } else {
                (
                    "view",
                    format!(
                        "view {name} reads tenant table {list} without security_invoker: it runs \
                         with the rights of its owner {} (database {})",
                        v.owner, db.name
                    ),
                    format!("ALTER VIEW {q} SET (security_invoker = true);"),
                )
            };
            // A view that filters by the tenant setting itself confines what its owner
            // reads: worth a look (and a run of the isolation checker), not an alarm.
            let filters = !v.materialized
                && v.definition.as_deref().is_some_and(|d| {
                    d.contains(ev.policy.tenant_setting.as_str())
                        && reached.values().any(|t| {
                            tenant_column(ev.policy, t).is_some_and(|c| is_tenant_filter(d, c))
                        })
                });
            // Known not to be readable by the application: a weakness, not a leak.
            let unreadable = reach.is_some() && used.is_none();
            let severity = if filters || (unreadable && exposed.is_none()) {
                crate::Severity::Medium
            } else if exposed.is_some() {
                crate::Severity::Critical
            } else {
                ev.rule_severity()
            };
            let filtered = if filters {
                format!(
                    "; it filters by {} itself, so it shows one tenant's rows if that filter \
                     is right (pgsec isolation tests it)",
                    ev.policy.tenant_setting
                )
            } else {
                String::new()
            };
            ev.emit_at(
                severity,
                format!("{}/{name}", db.name),
                Location::object(kind, in_db(&db.name, &name)),
                format!("{evidence}{}{filtered}", exposed.unwrap_or_default()),
                fix,
            );
        }
    }
}

/// `rls.definer_function`: a SECURITY DEFINER function owned by a role that bypasses a
/// tenant table's policies (a superuser, a BYPASSRLS role, the table's owner) reads the
/// table. Critical when the application's role may execute it; with
/// [`Policy::app_only`], only then.
pub(super) fn definer_function(ev: &mut Eval<'_>) {
    let Some((app, roles)) = app_reach(ev) else {
        return;
    };
    let reach = app.zip(roles.as_ref()).map(|(a, idx)| idx.reach(a));
    for (db, tables) in ev.per_db("tables", |d| &d.tables) {
        let functions = match &db.functions {
            Collected::Present(f) => f,
            Collected::NotCollected(r) => {
                ev.skip(format!(
                    "functions of database {} not collected: {r}",
                    db.name
                ));
                continue;
            }
        };
        let mut definers = functions.iter().filter(|f| f.security_definer).peekable();
        if definers.peek().is_none() {
            continue;
        }
        let tenants = tenant_tables(ev.policy, tables);
        // Tenant tables by lower-cased name, for bodies searched word by word.
        let mut by_word: HashMap<String, Vec<&TableFact>> = HashMap::new();
        let mut odd_names: Vec<&TableFact> = Vec::new();
        for t in tables
            .iter()
            .filter(|t| tenant_column(ev.policy, t).is_some())
        {
            if is_identifier_word(&t.name) {
                by_word
                    .entry(t.name.to_ascii_lowercase())
                    .or_default()
                    .push(t);
            } else {
                odd_names.push(t);
            }
        }
        for f in definers {
            let used = reach
                .as_ref()
                .and_then(|r| r.may_use(f.acl.as_deref(), &f.owner, "X", true));
            if ev.policy.app_only && used.is_none() {
                continue;
            }
            let read: Vec<&TableFact> = match (&f.referenced_tables, &f.body) {
                (Some(refs), _) => refs
                    .iter()
                    .filter_map(|q| tenants.get(&name_key(q)).copied())
                    .collect(),
                (None, Some(body)) => {
                    // One pass over the body, not one per tenant table (10,000 tables).
                    let mut found: BTreeMap<QualifiedName, &TableFact> = BTreeMap::new();
                    for w in identifier_words(body) {
                        for t in by_word.get(&w).into_iter().flatten() {
                            found.insert(t.qualified(), t);
                        }
                    }
                    for t in odd_names.iter().filter(|t| mentions(body, &t.name)) {
                        found.insert(t.qualified(), t);
                    }
                    found.into_values().collect()
                }
                (None, None) => {
                    ev.skip(format!("body of function {} not collected", f.signature()));
                    continue;
                }
            };
            let mut why = None;
            let bypassing: Vec<String> = read
                .iter()
                .filter(|t| {
                    let reason = match &roles {
                        Some(idx) => idx.bypass_reason(&f.owner, t),
                        None => (t.owner == f.owner)
                            .then(|| format!("{} owns {}", f.owner, t.qualified())),
                    };
                    let hit = reason.is_some();
                    why = why.take().or(reason);
                    hit
                })
                .map(|t| t.qualified().to_string())
                .collect();
            let Some(why) = why else {
                continue;
            };
            let exposed = match (&used, app) {
                (Some(u), Some(a)) => {
                    Some(format!("; the application's role {a} may execute it: {u}"))
                }
                _ => None,
            };
            // A body that filters by the tenant setting itself confines what the owner's
            // rights reach: worth a look (pgsec isolation calls it), not an alarm.
            let filters = f.body.as_deref().is_some_and(|b| {
                b.contains(ev.policy.tenant_setting.as_str())
                    && read.iter().any(|t| {
                        tenant_column(ev.policy, t).is_some_and(|c| is_tenant_filter(b, c))
                    })
            });
            let severity = if filters {
                ev.rule_severity().min(crate::Severity::Medium)
            } else if exposed.is_some() {
                crate::Severity::Critical
            } else {
                ev.rule_severity()
            };
            let exposed = exposed.map(|e| {
                if filters {
                    format!(
                        "{e}; it filters by {} itself, so it returns one tenant's rows if that \
                         filter is right (pgsec isolation calls it)",
                        ev.policy.tenant_setting
                    )
                } else {
                    e
                }
            });
            let sig = f.signature();
            ev.emit_at(
                severity,
                format!("{}/{sig}", db.name),
                Location::object("function", in_db(&db.name, &sig)),
                format!(
                    "SECURITY DEFINER function {sig} runs with the rights of its owner ({why}) \
                     and reads tenant table {} (database {}){}",
                    bypassing.join(", "),
                    db.name,
                    exposed.unwrap_or_default()
                ),
                format!(
                    "ALTER FUNCTION {}({}) SECURITY INVOKER;  -- or filter by current_setting('{}') inside it",
                    qident(&f.schema, &f.name),
                    f.args,
                    ev.policy.tenant_setting
                ),
            );
        }
    }
}

/// A setting name for SQL text: each dot-separated part quoted as needed.
fn setting_ident(name: &str) -> String {
    name.split('.')
        .map(super::ident)
        .collect::<Vec<_>>()
        .join(".")
}

/// `rls.tenant_setting_default`: the tenant setting has a non-empty default, so a
/// transaction that does not set the tenant runs as some tenant instead of seeing
/// nothing. Looked for in `postgresql.conf`, in `pg_db_role_setting` (ALTER DATABASE,
/// ALTER ROLE, ALTER ROLE … IN DATABASE) and in the collecting session's own value
/// (which also covers ALTER SYSTEM and the connection's `options`). The value itself is
/// never reported.
pub(super) fn tenant_setting_default(ev: &mut Eval<'_>) {
    let policy = ev.policy;
    let name = policy.tenant_setting.as_str();
    let sql_name = setting_ident(name);
    let app = ev.app_role().ok();
    let mut decided = false;
    if let Collected::Present(conf) = &ev.snap.conf {
        decided = true;
        if let Some(s) = conf.get(name).filter(|s| !s.value.is_empty()) {
            ev.emit(
                format!("file/{name}"),
                Location::file_line(s.file.clone(), s.line_number),
                format!(
                    "{name} is set to a non-empty value at {}:{}: every session starts with a \
                     tenant, so a transaction that does not set one runs as that tenant",
                    s.file, s.line_number
                ),
                format!("# delete the `{name} = …` line, then: SELECT pg_reload_conf();"),
            );
        }
    }
    if let Collected::Present(live) = &ev.snap.live {
        decided = true;
        let examined: BTreeSet<&str> = live.databases.iter().map(|d| d.name.as_str()).collect();
        let session_role = live.tenant_setting.as_option().map(|s| s.role.as_str());
        let mut explained = false;
        match &live.db_role_settings {
            Collected::Present(rows) => {
                for row in rows {
                    if row
                        .database
                        .as_deref()
                        .is_some_and(|d| !examined.contains(d))
                    {
                        continue;
                    }
                    if let (Some(r), Some(a)) = (row.role.as_deref(), app) {
                        if r != a {
                            continue;
                        }
                    }
                    let set = row
                        .settings
                        .iter()
                        .any(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty());
                    if !set {
                        continue;
                    }
                    explained |= row.role.is_none() || row.role.as_deref() == session_role;
                    let (level, how, fix) = match (&row.database, &row.role) {
                        (Some(d), Some(r)) => (
                            format!("role {r} in database {d}"),
                            "ALTER ROLE … IN DATABASE … SET",
                            format!(
                                "ALTER ROLE {} IN DATABASE {} RESET {sql_name};",
                                ident(r),
                                ident(d)
                            ),
                        ),
                        (Some(d), None) => (
                            format!("database {d}"),
                            "ALTER DATABASE … SET",
                            format!("ALTER DATABASE {} RESET {sql_name};", ident(d)),
                        ),
                        (None, Some(r)) => (
                            format!("role {r}"),
                            "ALTER ROLE … SET",
                            format!("ALTER ROLE {} RESET {sql_name};", ident(r)),
                        ),
                        (None, None) => (
                            "every role".to_owned(),
                            "ALTER ROLE ALL SET",
                            format!("ALTER ROLE ALL RESET {sql_name};"),
                        ),
                    };
                    ev.emit(
                        format!(
                            "{}/{}/{name}",
                            row.database.as_deref().unwrap_or("*"),
                            row.role.as_deref().unwrap_or("*")
                        ),
                        Location::object("setting", format!("{name} of {level}")),
                        format!(
                            "{name} has a non-empty default for {level} ({how}): a transaction \
                             that does not set the tenant runs as that tenant instead of seeing \
                             no rows"
                        ),
                        fix,
                    );
                }
            }
            Collected::NotCollected(r) => ev.skip(format!(
                "database and role defaults (pg_db_role_setting) not collected: {r}"
            )),
        }
        match &live.tenant_setting {
            Collected::Present(s) if !s.name.eq_ignore_ascii_case(name) => ev.skip(format!(
                "the session's value was read for {}, not for the tenant setting {name}",
                s.name
            )),
            Collected::Present(s) => {
                let concerns_app = app.is_none_or(|a| a == s.role);
                let set = s.value.as_deref().is_some_and(|v| !v.is_empty());
                if concerns_app && set && !explained {
                    ev.emit(
                        format!("session/{}/{name}", s.role),
                        Location::object("setting", format!("{name} of {}'s sessions", s.role)),
                        format!(
                            "a new session of role {} already has {name} set to a non-empty \
                             value (from postgresql.conf, ALTER SYSTEM, or the connection's \
                             options or PGOPTIONS): a transaction that does not set the tenant \
                             runs as that tenant instead of seeing no rows",
                            s.role
                        ),
                        format!(
                            "remove `-c {name}=…` from the connection's options and PGOPTIONS; \
                             ALTER SYSTEM RESET {sql_name}; delete it from postgresql.conf; then \
                             SELECT pg_reload_conf();"
                        ),
                    );
                }
            }
            Collected::NotCollected(r) => {
                ev.skip(format!("the session's value of {name} not collected: {r}"))
            }
        }
    }
    if !decided {
        ev.skip("needs postgresql.conf or a live connection");
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::snapshot::{FunctionFact, RoleFact, ViewFact};
    use crate::{evaluate, Severity};

    fn tenant(name: &str, enabled: bool, forced: bool) -> TableFact {
        TableFact::new("public", name, "owner")
            .with_columns(["id", "tenant_id"])
            .with_rls(enabled, forced)
    }

    fn snap(tables: Vec<TableFact>, policies: Vec<PolicyFact>) -> crate::Snapshot {
        live_snapshot(|l| {
            l.databases[0].tables = Collected::Present(tables);
            l.databases[0].policies = Collected::Present(policies);
        })
    }

    const GOOD: &str = "(tenant_id = (current_setting('app.current_tenant_id'::text))::uuid)";

    fn good_policy(table: &str) -> PolicyFact {
        PolicyFact::new("public", table, "iso", Some(GOOD), Some(GOOD))
    }

    #[test]
    fn disabled_fires_on_tenant_tables_only() {
        let r = run(&snap(
            vec![
                tenant("orders", false, false),
                TableFact::new("public", "plans", "owner"),
            ],
            vec![],
        ));
        let f = of(&r, "rls.disabled");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity(), Severity::Critical);
        assert!(f[0].evidence().contains("public.orders"));
        assert_quiet(
            &run(&snap(
                vec![tenant("orders", true, true)],
                vec![good_policy("orders")],
            )),
            "rls.disabled",
        );
    }

    #[test]
    fn tenant_columns_come_from_the_policy() {
        let t = TableFact::new("public", "orders", "owner").with_columns(["org_id"]);
        let s = snap(vec![t], vec![]);
        assert_quiet(&run(&s), "rls.disabled");
        let r = evaluate(&s, &Policy::default().with_tenant_column("org_id"));
        assert_eq!(of(&r, "rls.disabled").len(), 1);
    }

    #[test]
    fn not_forced() {
        let r = run(&snap(
            vec![tenant("orders", true, false)],
            vec![good_policy("orders")],
        ));
        assert_eq!(of(&r, "rls.not_forced").len(), 1);
        let r = run(&snap(
            vec![tenant("orders", true, true), tenant("x", false, false)],
            vec![good_policy("orders")],
        ));
        assert_quiet(&r, "rls.not_forced");
    }

    #[test]
    fn tables_not_collected_skip_with_the_reason() {
        let s = live_snapshot(|l| {
            l.databases[0].tables = Collected::not_collected("permission denied for pg_class")
        });
        let r = run(&s);
        assert!(r
            .skipped()
            .iter()
            .any(|x| x.id == "rls.disabled" && x.reason.contains("permission denied")));
        let r = run(&live_snapshot(|l| l.databases.clear()));
        assert!(r.is_skipped("rls.disabled"));
        assert!(run(&conf_snapshot(&["ssl = on"]))
            .skipped()
            .iter()
            .any(|x| x.id == "rls.disabled" && x.reason == "needs a live connection"));
    }

    #[test]
    fn no_policy_and_policy_without_rls() {
        let r = run(&snap(
            vec![tenant("a", true, true), tenant("b", false, false)],
            vec![good_policy("b")],
        ));
        assert_eq!(of(&r, "rls.no_policy").len(), 1);
        assert!(of(&r, "rls.no_policy")[0].evidence().contains("public.a"));
        assert_eq!(of(&r, "rls.policy_without_rls").len(), 1);
        assert!(of(&r, "rls.policy_without_rls")[0]
            .evidence()
            .contains("public.b"));
        let r = run(&snap(vec![tenant("a", true, true)], vec![good_policy("a")]));
        assert_quiet(&r, "rls.no_policy");
        assert_quiet(&r, "rls.policy_without_rls");
    }

    #[test]
    fn always_true_policies() {
        assert!(is_constant_true("true"));
        assert!(is_constant_true(" ( (TRUE) ) "));
        assert!(is_constant_true("(1 = 1)"));
        assert!(!is_constant_true("(true) AND (tenant_id = 1)"));
        assert!(!is_constant_true("(a) = (b)"));
        let p = PolicyFact::new("public", "a", "open", Some(GOOD), Some("true"));
        let r = run(&snap(vec![tenant("a", true, true)], vec![p]));
        assert_eq!(of(&r, "rls.policy_always_true").len(), 1);
        let mut restrictive = PolicyFact::new("public", "a", "r", Some("true"), None);
        restrictive.permissive = false;
        let r = run(&snap(
            vec![tenant("a", true, true)],
            vec![good_policy("a"), restrictive],
        ));
        assert_quiet(&r, "rls.policy_always_true");
    }

    #[test]
    fn policies_that_ignore_the_tenant() {
        assert!(mentions("(tenant_id = 1)", "tenant_id"));
        assert!(mentions("(\"tenant_id\" = 1)", "tenant_id"));
        assert!(!mentions("(other_tenant_id = 1)", "tenant_id"));
        let p = PolicyFact::new(
            "public",
            "a",
            "owner_only",
            Some("(owner = CURRENT_USER)"),
            None,
        );
        let r = run(&snap(vec![tenant("a", true, true)], vec![p.clone()]));
        assert_eq!(of(&r, "rls.policy_ignores_tenant").len(), 1);
        let other = PolicyFact::new(
            "public",
            "plans",
            "owner_only",
            Some("(owner = CURRENT_USER)"),
            None,
        );
        let r = run(&snap(
            vec![
                tenant("a", true, true),
                TableFact::new("public", "plans", "o"),
            ],
            vec![good_policy("a"), other],
        ));
        assert_quiet(&r, "rls.policy_ignores_tenant");
    }

    #[test]
    fn identifier_words_agree_with_mentions() {
        let body = "select * from Orders o join \"order_items\" i on i.id=o.id; -- tenant$x";
        let words = identifier_words(body);
        for name in [
            "orders",
            "ORDERS",
            "order_items",
            "o",
            "tenant$x",
            "items",
            "order",
            "id",
            "from",
        ] {
            assert_eq!(
                words.contains(&name.to_ascii_lowercase()),
                mentions(body, name),
                "{name}"
            );
        }
        assert!(!is_identifier_word("a b") && is_identifier_word("t_1"));
    }

    #[test]
    fn views_without_security_invoker_over_tenant_tables() {
        let direct = ViewFact::new(
            "public",
            "v1",
            "owner",
            false,
            vec![QualifiedName::new("public", "orders")],
        );
        let nested = ViewFact::new(
            "public",
            "v2",
            "owner",
            false,
            vec![QualifiedName::new("public", "v3")],
        );
        let inner = ViewFact::new(
            "public",
            "v3",
            "owner",
            true,
            vec![QualifiedName::new("public", "orders")],
        );
        let safe = ViewFact::new(
            "public",
            "v4",
            "owner",
            false,
            vec![QualifiedName::new("public", "plans")],
        );
        let s = live_snapshot(|l| {
            l.databases[0].tables = Collected::Present(vec![
                tenant("orders", true, true),
                TableFact::new("public", "plans", "o"),
            ]);
            l.databases[0].views = Collected::Present(vec![direct, nested, inner, safe]);
        });
        let r = run(&s);
        let f = of(&r, "rls.view_bypass");
        assert_eq!(f.len(), 2, "{f:?}");
        let s = live_snapshot(|l| {
            l.databases[0].tables = Collected::Present(vec![tenant("orders", true, true)]);
            l.databases[0].views = Collected::Present(vec![ViewFact::new(
                "public",
                "v",
                "o",
                true,
                vec![QualifiedName::new("public", "orders")],
            )]);
        });
        assert_quiet(&run(&s), "rls.view_bypass");
    }

    #[test]
    fn definer_functions_reading_tenant_tables() {
        let mut f = FunctionFact::new("public", "all_orders", "owner");
        f.security_definer = true;
        f.body = Some("select * from orders".into());
        let mut g = FunctionFact::new("public", "plans", "owner");
        g.security_definer = true;
        g.referenced_tables = Some(vec![QualifiedName::new("public", "plans")]);
        let s = live_snapshot(|l| {
            l.databases[0].tables = Collected::Present(vec![
                tenant("orders", true, true),
                TableFact::new("public", "plans", "owner"),
            ]);
            l.databases[0].functions = Collected::Present(vec![f.clone(), g]);
        });
        let r = run(&s);
        assert_eq!(of(&r, "rls.definer_function").len(), 1);
        // Owned by someone who is neither the table owner nor a superuser: quiet.
        f.owner = "reporter".into();
        let s = live_snapshot(|l| {
            l.roles = Collected::Present(vec![RoleFact::login("reporter")]);
            l.databases[0].tables = Collected::Present(vec![tenant("orders", true, true)]);
            l.databases[0].functions = Collected::Present(vec![f]);
        });
        assert_quiet(&run(&s), "rls.definer_function");
    }

    fn acl(items: &[&str]) -> Vec<crate::snapshot::AclItem> {
        items
            .iter()
            .map(|i| crate::snapshot::AclItem::parse(i).unwrap())
            .collect()
    }

    fn su(name: &str) -> RoleFact {
        let mut r = RoleFact::login(name);
        r.superuser = true;
        r
    }

    fn app_only() -> Policy {
        Policy::default().with_app_role("app").with_app_only(true)
    }

    #[test]
    fn a_superuser_view_the_app_may_read_is_critical_and_the_guards_view() {
        let orders = QualifiedName::new("public", "orders");
        let granted = ViewFact::new(
            "public",
            "all_orders",
            "postgres",
            false,
            vec![orders.clone()],
        )
        .with_acl(acl(&["postgres=arwdDxt/postgres", "app=r/postgres"]));
        let hidden = ViewFact::new("public", "report", "postgres", false, vec![orders.clone()]);
        let plain_owner = ViewFact::new("public", "mine", "reporter", false, vec![orders.clone()])
            .with_acl(acl(&["=r/reporter"]));
        let matview = ViewFact::materialized("public", "snap", "postgres", vec![orders])
            .with_acl(acl(&["=r/postgres"]));
        let s = live_snapshot(|l| {
            l.roles = Collected::Present(vec![
                su("postgres"),
                RoleFact::login("app"),
                RoleFact::login("reporter"),
            ]);
            l.databases[0].tables = Collected::Present(vec![tenant("orders", true, true)]);
            l.databases[0].views = Collected::Present(vec![granted, hidden, plain_owner, matview]);
        });
        let r = evaluate(&s, &Policy::default().with_app_role("app"));
        let f = of(&r, "rls.view_bypass");
        assert_eq!(f.len(), 4, "{f:?}");
        let sev = |name: &str| {
            f.iter()
                .find(|x| x.object().ends_with(name))
                .map(|x| x.severity())
                .unwrap()
        };
        assert_eq!(sev("public.all_orders"), Severity::Critical);
        assert_eq!(sev("public.snap"), Severity::Critical);
        assert_eq!(
            sev("public.report"),
            Severity::Medium,
            "not readable by app"
        );
        assert_eq!(sev("public.mine"), Severity::High, "owner does not bypass");
        let snap = f
            .iter()
            .find(|x| x.object().ends_with("public.snap"))
            .unwrap();
        assert!(
            snap.evidence().contains("materialized view"),
            "{}",
            snap.evidence()
        );
        // The guard's view keeps the two the application can read past the policies.
        let r = evaluate(&s, &app_only());
        let mut objects: Vec<&str> = of(&r, "rls.view_bypass")
            .iter()
            .map(|f| f.object())
            .collect();
        objects.sort_unstable();
        assert_eq!(objects, ["app/public.all_orders", "app/public.snap"]);
    }

    #[test]
    fn a_view_granted_to_a_role_the_app_inherits_counts() {
        let mut app = RoleFact::login("app");
        app.member_of = vec!["staff".into()];
        let v = ViewFact::new(
            "public",
            "v",
            "owner",
            false,
            vec![QualifiedName::new("public", "orders")],
        )
        .with_acl(acl(&["staff=r/owner"]));
        let s = live_snapshot(|l| {
            l.roles = Collected::Present(vec![
                app,
                RoleFact::group("staff"),
                RoleFact::login("owner"),
            ]);
            l.databases[0].tables = Collected::Present(vec![tenant("orders", true, true)]);
            l.databases[0].views = Collected::Present(vec![v]);
        });
        let r = evaluate(&s, &app_only());
        let f = of(&r, "rls.view_bypass");
        assert_eq!(f.len(), 1, "the table owner's view, readable through staff");
        assert!(
            f[0].evidence().contains("staff holds"),
            "{}",
            f[0].evidence()
        );
    }

    #[test]
    fn definer_functions_the_app_may_execute() {
        let mut f = FunctionFact::new("public", "all_orders", "owner");
        f.security_definer = true;
        f.body = Some("select count(*) from orders".into());
        let revoked = f.clone().with_acl(acl(&["owner=X/owner"]));
        let mut by_bypass = f.clone();
        by_bypass.owner = "etl".into();
        let mut etl = RoleFact::group("etl");
        etl.bypassrls = true;
        let snap = |funcs: Vec<FunctionFact>| {
            live_snapshot(|l| {
                l.roles = Collected::Present(vec![
                    RoleFact::login("app"),
                    RoleFact::login("owner"),
                    etl.clone(),
                ]);
                l.databases[0].tables = Collected::Present(vec![tenant("orders", true, true)]);
                l.databases[0].functions = Collected::Present(funcs);
            })
        };
        // EXECUTE is PUBLIC's by default: critical, and refused by the guard.
        let r = evaluate(&snap(vec![f.clone()]), &app_only());
        let found = of(&r, "rls.definer_function");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity(), Severity::Critical);
        assert!(
            found[0].evidence().contains("owner owns public.orders"),
            "{}",
            found[0].evidence()
        );
        // Owned by a BYPASSRLS role: the same.
        assert_eq!(
            of(
                &evaluate(&snap(vec![by_bypass]), &app_only()),
                "rls.definer_function"
            )
            .len(),
            1
        );
        // EXECUTE revoked from PUBLIC: still an audit finding, not the application's.
        let s = snap(vec![revoked]);
        assert_quiet(&evaluate(&s, &app_only()), "rls.definer_function");
        let r = evaluate(&s, &Policy::default().with_app_role("app"));
        assert_eq!(
            of(&r, "rls.definer_function")[0].severity(),
            Severity::Medium
        );
    }

    #[test]
    fn app_only_fails_closed_without_roles() {
        let s = live_snapshot(|l| l.roles = Collected::not_collected("no access"));
        let r = evaluate(&s, &app_only());
        assert!(r.is_skipped("rls.view_bypass") && r.is_skipped("rls.definer_function"));
    }

    fn with_defaults(
        rows: Vec<crate::snapshot::DbRoleSetting>,
        session: Option<&str>,
    ) -> crate::Snapshot {
        live_snapshot(|l| {
            l.db_role_settings = Collected::Present(rows);
            l.tenant_setting = Collected::Present(crate::snapshot::SessionSetting::new(
                "app.current_tenant_id",
                "app",
                session.map(str::to_owned),
            ));
        })
    }

    fn row(db: Option<&str>, role: Option<&str>, value: &str) -> crate::snapshot::DbRoleSetting {
        crate::snapshot::DbRoleSetting::new(
            db.map(str::to_owned),
            role.map(str::to_owned),
            vec![("app.current_tenant_id".into(), value.into())],
        )
    }

    #[test]
    fn tenant_setting_defaults_of_roles_and_databases() {
        let policy = Policy::default().with_app_role("app");
        for (r, fix) in [
            (
                row(None, Some("app"), "acme"),
                "ALTER ROLE app RESET app.current_tenant_id;",
            ),
            (
                row(Some("app"), None, "acme"),
                "ALTER DATABASE app RESET app.current_tenant_id;",
            ),
            (
                row(Some("app"), Some("app"), "acme"),
                "ALTER ROLE app IN DATABASE app RESET app.current_tenant_id;",
            ),
            (
                row(None, None, "acme"),
                "ALTER ROLE ALL RESET app.current_tenant_id;",
            ),
        ] {
            // The session sees the default too; one finding, the row's.
            let report = evaluate(&with_defaults(vec![r], Some("acme")), &policy);
            let f = of(&report, "rls.tenant_setting_default");
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].remediation(), fix);
            assert!(
                !f[0].evidence().contains("acme"),
                "the value is not reported"
            );
        }
        // Other roles, other databases and empty values are not the application's.
        let report = evaluate(
            &with_defaults(
                vec![
                    row(None, Some("etl"), "acme"),
                    row(Some("elsewhere"), None, "acme"),
                    row(None, Some("app"), ""),
                ],
                None,
            ),
            &policy,
        );
        assert_quiet(&report, "rls.tenant_setting_default");
    }

    #[test]
    fn tenant_setting_default_of_the_session_and_the_file() {
        let policy = Policy::default().with_app_role("app");
        let report = evaluate(&with_defaults(vec![], Some("acme")), &policy);
        let f = of(&report, "rls.tenant_setting_default");
        assert_eq!(f.len(), 1);
        assert!(f[0].remediation().contains("-c app.current_tenant_id"));
        assert_quiet(
            &evaluate(&with_defaults(vec![], Some("")), &policy),
            "rls.tenant_setting_default",
        );
        // The session of another role says nothing about the application's.
        let s = live_snapshot(|l| {
            l.tenant_setting = Collected::Present(crate::snapshot::SessionSetting::new(
                "app.current_tenant_id",
                "admin",
                Some("acme".into()),
            ));
        });
        assert_quiet(&evaluate(&s, &policy), "rls.tenant_setting_default");
        // The setting's name is the policy's.
        let r = evaluate(
            &with_defaults(vec![], Some("acme")),
            &policy.clone().with_tenant_setting("app.org"),
        );
        assert!(r.is_skipped("rls.tenant_setting_default"));
        assert!(of(&r, "rls.tenant_setting_default").is_empty());
        // Not collected: skipped, so the guard refuses.
        let s = live_snapshot(|l| l.tenant_setting = Collected::not_collected("not asked"));
        assert!(evaluate(&s, &policy).is_skipped("rls.tenant_setting_default"));
        // postgresql.conf.
        let r = run(&conf_snapshot(&["app.current_tenant_id = 'acme'"]));
        assert_eq!(of(&r, "rls.tenant_setting_default").len(), 1);
        assert_quiet(
            &run(&conf_snapshot(&["ssl = on"])),
            "rls.tenant_setting_default",
        );
    }

    const TENANT: &str = "(tenant_id = current_setting('app.current_tenant_id'::text, true))";

    fn restrictive(name: &str, using: &str, command: crate::snapshot::PolicyCommand) -> PolicyFact {
        let mut p = PolicyFact::new("public", "items", name, Some(using), None);
        p.permissive = false;
        p.command = command;
        p
    }

    fn open_policies() -> Vec<PolicyFact> {
        let mut support = PolicyFact::new(
            "public",
            "items",
            "support_access",
            Some("(NOT archived)"),
            None,
        );
        support.command = crate::snapshot::PolicyCommand::Select;
        vec![
            PolicyFact::new("public", "items", "app_access", Some("true"), Some("true")),
            support,
        ]
    }

    fn high(r: &crate::Report, id: &str) -> usize {
        of(r, id)
            .iter()
            .filter(|f| f.severity() >= Severity::High)
            .count()
    }

    #[test]
    fn a_restrictive_tenant_policy_confines_open_permissive_policies() {
        use crate::snapshot::PolicyCommand;
        let table = || {
            vec![TableFact::new("public", "items", "owner")
                .with_columns(["id", "tenant_id", "archived"])
                .with_rls(true, true)]
        };
        let policy = Policy::default().with_app_role("app");
        // Clean: USING (true) and a FOR SELECT USING (NOT archived), AND-ed with a
        // restrictive tenant policy for every command.
        let mut ps = open_policies();
        ps.push(restrictive("tenant_isolation", TENANT, PolicyCommand::All));
        let r = evaluate(&snap(table(), ps), &policy);
        assert_quiet(&r, "rls.policy_always_true");
        assert_quiet(&r, "rls.policy_ignores_tenant");

        // Twin: the restrictive policy covers SELECT only, so writes stay open.
        let mut ps = open_policies();
        ps.push(restrictive(
            "tenant_isolation",
            TENANT,
            PolicyCommand::Select,
        ));
        let r = evaluate(&snap(table(), ps), &policy);
        let f = of(&r, "rls.policy_always_true");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].evidence().contains("app_access"),
            "{}",
            f[0].evidence()
        );
        assert_eq!(high(&r, "rls.policy_always_true"), 1);
        // The SELECT-only permissive policy is confined by it.
        assert!(of(&r, "rls.policy_ignores_tenant")
            .iter()
            .all(|f| !f.evidence().contains("support_access")));

        // Twin: the restrictive policy does not filter by the tenant.
        let mut ps = open_policies();
        ps.push(restrictive(
            "live_only",
            "(NOT archived)",
            PolicyCommand::All,
        ));
        let r = evaluate(&snap(table(), ps), &policy);
        assert_eq!(high(&r, "rls.policy_always_true"), 1);
        assert_eq!(high(&r, "rls.policy_ignores_tenant"), 2);

        // Twin: a restrictive tenant policy for another role only.
        let mut ps = open_policies();
        let mut other = restrictive("tenant_isolation", TENANT, PolicyCommand::All);
        other.roles = vec!["reporting".to_owned()];
        ps.push(other);
        let r = evaluate(&snap(table(), ps), &policy);
        assert_eq!(high(&r, "rls.policy_always_true"), 1);

        // The leak of issue 14: a second permissive FOR SELECT USING (published).
        let mut published =
            PolicyFact::new("public", "items", "published_rows", Some("published"), None);
        published.command = PolicyCommand::Select;
        let r = evaluate(
            &snap(
                table(),
                vec![
                    PolicyFact::new("public", "items", "iso", Some(TENANT), Some(TENANT)),
                    published,
                ],
            ),
            &policy,
        );
        let f = of(&r, "rls.policy_ignores_tenant");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].evidence().contains("published_rows"));
        assert!(f[0].severity() >= Severity::High);
    }

    #[test]
    fn tables_without_rls_the_app_cannot_use_are_low() {
        let part = |name: &str, acl_items: Option<&[&str]>| {
            let mut t = TableFact::new("public", name, "owner")
                .with_columns(["tenant_id", "id"])
                .with_rls(false, false);
            t.acl = acl_items.map(acl);
            t
        };
        let s = live_snapshot(|l| {
            l.roles = Collected::Present(vec![
                su("postgres"),
                RoleFact::login("app"),
                RoleFact::login("owner"),
            ]);
            l.databases[0].tables = Collected::Present(vec![
                part("events_p0", None),
                part("events_p1", Some(&["owner=arwdDxt/owner"])),
                part("events_p2", Some(&["owner=arwdDxt/owner", "app=r/owner"])),
                part("events_p3", Some(&["=r/owner"])),
            ]);
        });
        let r = evaluate(&s, &Policy::default().with_app_role("app"));
        let f = of(&r, "rls.disabled");
        assert_eq!(f.len(), 4, "{f:?}");
        let sev = |name: &str| {
            f.iter()
                .find(|x| x.object().ends_with(name))
                .map(|x| x.severity())
                .unwrap()
        };
        assert_eq!(sev("events_p0"), Severity::Low);
        assert_eq!(sev("events_p1"), Severity::Low);
        assert_eq!(sev("events_p2"), Severity::Critical, "granted to the app");
        assert_eq!(sev("events_p3"), Severity::Critical, "granted to PUBLIC");
        assert!(f
            .iter()
            .find(|x| x.object().ends_with("events_p0"))
            .unwrap()
            .evidence()
            .contains("holds no privilege"));
        // Under app_only the unreachable ones are left out; without an application
        // role nothing is known about privileges, and every one stays critical.
        let r = evaluate(&s, &app_only());
        assert_eq!(of(&r, "rls.disabled").len(), 2);
        let r = evaluate(&s, &Policy::default());
        assert!(of(&r, "rls.disabled")
            .iter()
            .all(|f| f.severity() == Severity::Critical));
    }

    #[test]
    fn a_definer_view_filtering_by_the_tenant_setting_is_medium() {
        let items = QualifiedName::new("public", "items");
        let view = |name: &str, def: &str| {
            ViewFact::new("public", name, "postgres", false, vec![items.clone()])
                .with_acl(acl(&["postgres=arwdDxt/postgres", "app=r/postgres"]))
                .with_definition(def)
        };
        let s = live_snapshot(|l| {
            l.roles = Collected::Present(vec![su("postgres"), RoleFact::login("app")]);
            l.databases[0].tables =
                Collected::Present(vec![TableFact::new("public", "items", "postgres")
                    .with_columns(["id", "tenant_id"])
                    .with_rls(true, true)]);
            l.databases[0].views = Collected::Present(vec![
                view(
                    "my_items",
                    " SELECT items.id FROM items WHERE (items.tenant_id = current_setting('app.current_tenant_id'::text, true));",
                ),
                view("all_items", " SELECT items.id FROM items;"),
            ]);
        });
        let r = evaluate(&s, &Policy::default().with_app_role("app"));
        let f = of(&r, "rls.view_bypass");
        let sev = |name: &str| {
            f.iter()
                .find(|x| x.object().ends_with(name))
                .map(|x| x.severity())
                .unwrap()
        };
        assert_eq!(sev("public.my_items"), Severity::Medium);
        assert_eq!(sev("public.all_items"), Severity::Critical);
    }

    #[test]
    fn a_definer_function_filtering_by_the_tenant_setting_is_medium() {
        let mut filtering = FunctionFact::new("public", "my_orders", "owner");
        filtering.security_definer = true;
        filtering.body = Some(
            "select * from orders where tenant_id = current_setting('app.current_tenant_id', true)"
                .into(),
        );
        let mut all = filtering.clone();
        all.name = "open_orders".into();
        all.body = Some("select * from orders where status = 'open'".into());
        let s = live_snapshot(|l| {
            l.roles = Collected::Present(vec![RoleFact::login("app"), RoleFact::login("owner")]);
            l.databases[0].tables = Collected::Present(vec![tenant("orders", true, true)]);
            l.databases[0].functions = Collected::Present(vec![filtering, all]);
        });
        let r = evaluate(&s, &Policy::default().with_app_role("app"));
        let f = of(&r, "rls.definer_function");
        assert_eq!(f.len(), 2, "{f:?}");
        for x in f {
            let expected = if x.object().contains("my_orders") {
                Severity::Medium
            } else {
                Severity::Critical
            };
            assert_eq!(x.severity(), expected, "{}", x.evidence());
        }
    }

    #[test]
    fn loose_tenant_matches() {
        let policy = |using: &str| PolicyFact::new("public", "a", "iso", Some(using), Some(TENANT));
        let loose = [
            "(tenant_id ~~ (current_setting('app.current_tenant_id'::text, true) || '%'::text))",
            "(lower(tenant_id) = lower(current_setting('app.current_tenant_id'::text, true)))",
            "(btrim(tenant_id) = current_setting('app.current_tenant_id'::text, true))",
            "(tenant_id = COALESCE(NULLIF(current_setting('app.current_tenant_id'::text, true), ''::text), tenant_id))",
            "((current_setting('app.current_tenant_id'::text, true) IS NULL) OR (tenant_id = current_setting('app.current_tenant_id'::text, true)))",
            "((tenant_id)::text ~~ (current_setting('app.current_tenant_id'::text, true) || '%'::text))",
        ];
        for using in loose {
            let r = run(&snap(vec![tenant("a", true, true)], vec![policy(using)]));
            let f = of(&r, "rls.policy_loose_match");
            assert_eq!(f.len(), 1, "{using}");
            assert_eq!(f[0].severity(), Severity::High);
        }
        for exact in [
            TENANT,
            "(tenant_id = (NULLIF(current_setting('app.current_tenant_id'::text, true), ''::text))::uuid)",
            "(NOT archived)",
        ] {
            let r = run(&snap(vec![tenant("a", true, true)], vec![policy(exact)]));
            assert_quiet(&r, "rls.policy_loose_match");
        }
    }
}
