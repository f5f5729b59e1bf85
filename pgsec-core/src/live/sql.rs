//! The catalog queries of the live collector.
//!
//! Each fact family is one scalar expression that aggregates its whole catalog into a
//! single JSON value (`json_agg` of `json_build_array` rows, decoded positionally in
//! `decode.rs`), so the number of round trips does not grow with the catalog. The
//! families readable by PUBLIC are sent as the columns of one statement; the families
//! that need a privilege (`pg_hba_file_rules`, `pg_ident_file_mappings`, `pg_authid`)
//! are statements of their own, pipelined with it, so a refusal costs only that family.

/// A fact family: a name for reasons and errors, and its scalar SQL expression.
#[derive(Debug, Clone, Copy)]
pub(super) struct Family {
    pub(super) name: &'static str,
    pub(super) expr: &'static str,
}

/// Schemas that hold user objects (not the catalogs, TOAST or temporary schemas).
macro_rules! user_schema {
    ($n:literal) => {
        concat!(
            $n,
            ".nspname NOT IN ('pg_catalog', 'information_schema') AND ",
            $n,
            ".nspname NOT LIKE 'pg\\_toast%' AND ",
            $n,
            ".nspname NOT LIKE 'pg\\_temp\\_%'"
        )
    };
}

/// Server identity and what the role may see; always the first columns of the main
/// statement, followed by [`head`]'s session columns.
const HEAD: &str = "pg_catalog.current_setting('server_version_num'), \
     pg_catalog.current_setting('server_version'), \
     current_user::text, \
     pg_catalog.current_database()::text, \
     pg_catalog.pg_has_role('pg_read_all_settings', 'USAGE')";

/// Number of columns of [`head`].
pub(super) const HEAD_COLUMNS: usize = 7;

/// The leading columns of the main statement: [`HEAD`], `session_user`, and the
/// session's value of `tenant_setting` (`NULL` when none is asked for). The name must
/// have passed [`valid_setting_name`]; it is spliced as a literal all the same.
pub(super) fn head(tenant_setting: Option<&str>) -> String {
    let value = match tenant_setting {
        Some(name) => format!("pg_catalog.current_setting({}, true)", literal(name)),
        None => "NULL::text".to_owned(),
    };
    format!("{HEAD}, session_user::text, {value}")
}

/// True for a setting name the collector may splice into its statement: dot-separated
/// parts of ASCII letters, digits, `_` and `$`, each starting with a letter or `_`
/// (PostgreSQL's custom setting names), at most 127 bytes.
pub(super) fn valid_setting_name(name: &str) -> bool {
    name.len() <= 127
        && name.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

/// An SQL string literal (standard-conforming: quotes doubled; callers pass validated
/// names without backslashes).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The leading columns of the per-database statement.
pub(super) const DB_HEAD: &str = "pg_catalog.current_database()::text, current_user::text";

/// Number of columns of [`DB_HEAD`].
pub(super) const DB_HEAD_COLUMNS: usize = 2;

/// Cluster-wide families (read once, on the first connection).
pub(super) const SETTINGS: Family = Family {
    name: "pg_settings",
    expr: "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
             name, setting, unit, source, sourcefile, sourceline) ORDER BY name) \
           FROM pg_catalog.pg_settings)",
};

/// Roles with their direct memberships, and each membership's options: PostgreSQL 16's
/// per-grant `inherit_option` and `set_option`, read through `to_jsonb` so that the
/// statement also runs on 15, where they are the member's INHERIT and always SET.
pub(super) const ROLES: Family = Family {
    name: "pg_roles and pg_auth_members",
    expr: "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
             r.rolname, r.rolsuper, r.rolcanlogin, r.rolbypassrls, r.rolcreaterole, \
             r.rolcreatedb, r.rolinherit, r.rolconnlimit, \
             (SELECT pg_catalog.json_agg(g.rolname ORDER BY g.rolname) \
                FROM pg_catalog.pg_auth_members m \
                JOIN pg_catalog.pg_roles g ON g.oid = m.roleid \
               WHERE m.member = r.oid), \
             (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(g.rolname, x.inh, x.st) \
                       ORDER BY g.rolname) \
                FROM (SELECT m.roleid, \
                             pg_catalog.bool_or(COALESCE( \
                               (pg_catalog.to_jsonb(m) ->> 'inherit_option')::boolean, \
                               r.rolinherit)) AS inh, \
                             pg_catalog.bool_or(COALESCE( \
                               (pg_catalog.to_jsonb(m) ->> 'set_option')::boolean, true)) AS st \
                        FROM pg_catalog.pg_auth_members m \
                       WHERE m.member = r.oid GROUP BY m.roleid) x \
                JOIN pg_catalog.pg_roles g ON g.oid = x.roleid)) ORDER BY r.rolname) \
           FROM pg_catalog.pg_roles r)",
};

pub(super) const DB_ROLE_SETTINGS: Family = Family {
    name: "pg_db_role_setting",
    expr: "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
             d.datname, r.rolname, s.setconfig)) \
           FROM pg_catalog.pg_db_role_setting s \
           LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase \
           LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole)",
};

pub(super) const DATABASES: Family = Family {
    name: "pg_database",
    expr: "(SELECT pg_catalog.json_agg(datname ORDER BY datname) \
           FROM pg_catalog.pg_database \
           WHERE datallowconn AND NOT datistemplate \
             AND pg_catalog.has_database_privilege(oid, 'CONNECT'))",
};

/// The cluster families, in column order after [`HEAD`].
pub(super) const CLUSTER: [Family; 4] = [SETTINGS, ROLES, DB_ROLE_SETTINGS, DATABASES];

/// Per-database families, in column order after the cluster families (or directly after
/// `current_database()` in the per-database statement).
pub(super) const SCHEMAS: Family = Family {
    name: "pg_namespace",
    expr: "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
             n.nspname, pg_catalog.pg_get_userbyid(n.nspowner), n.nspacl::text[]) \
             ORDER BY n.nspname) \
           FROM pg_catalog.pg_namespace n \
           WHERE n.nspname <> 'pg_toast' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
             AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%')",
};

/// Tables in (schema, name) order: findings come out of the rules nearly sorted, so
/// sorting a report of 100,000 tables costs little.
///
/// The columns come from one grouped pass over `pg_attribute`, joined once, not from
/// a subquery per table: the planner prices such a subquery at about ten per table, so
/// at 100,000 tables the whole statement crossed `jit_inline_above_cost` and
/// `jit_optimize_above_cost` and the server spent seconds compiling it (issue 16).
pub(super) const TABLES: Family = Family {
    name: "pg_class (tables)",
    expr: concat!(
        "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
           n.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner), \
           c.relrowsecurity, c.relforcerowsecurity, c.relacl::text[], a.cols) \
           ORDER BY n.nspname, c.relname) \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN (SELECT a.attrelid, pg_catalog.json_agg(a.attname ORDER BY a.attnum) AS cols \
                      FROM pg_catalog.pg_attribute a \
                      JOIN pg_catalog.pg_class ac ON ac.oid = a.attrelid \
                     WHERE ac.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
                     GROUP BY a.attrelid) a ON a.attrelid = c.oid \
         WHERE c.relkind IN ('r', 'p') AND ",
        user_schema!("n"),
        ")"
    ),
};

pub(super) const POLICIES: Family = Family {
    name: "pg_policy",
    expr: "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
             n.nspname, c.relname, p.polname, p.polpermissive, p.polcmd, \
             (SELECT pg_catalog.json_agg(CASE WHEN r.oid = 0 THEN 'public' \
                     ELSE pg_catalog.pg_get_userbyid(r.oid) END) \
                FROM pg_catalog.unnest(p.polroles) AS r(oid)), \
             pg_catalog.pg_get_expr(p.polqual, p.polrelid), \
             pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)) \
             ORDER BY n.nspname, c.relname, p.polname) \
           FROM pg_catalog.pg_policy p \
           JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace)",
};

/// Views and materialized views, with what they read and who may use them.
pub(super) const VIEWS: Family = Family {
    name: "pg_class (views) and pg_rewrite",
    expr: concat!(
        "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
           n.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner), c.reloptions, \
           (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(x.nsp, x.rel)) \
              FROM (SELECT DISTINCT rn.nspname AS nsp, rc.relname AS rel \
                      FROM pg_catalog.pg_rewrite rw \
                      JOIN pg_catalog.pg_depend d \
                        ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
                       AND d.objid = rw.oid \
                       AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                      JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid \
                      JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
                     WHERE rw.ev_class = c.oid AND d.refobjid <> c.oid) x), \
           c.relkind = 'm', c.relacl::text[], \
           CASE WHEN c.relkind = 'v' AND NOT coalesce(c.reloptions::text[] && \
                ARRAY['security_invoker=true', 'security_invoker=on', 'security_invoker=1', \
                      'security_invoker=yes'], false) \
                THEN pg_catalog.pg_get_viewdef(c.oid) END)) \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('v', 'm') AND ",
        user_schema!("n"),
        ")"
    ),
};

pub(super) const FUNCTIONS: Family = Family {
    name: "pg_proc",
    // Bodies only for SECURITY DEFINER functions, the only ones a rule reads; an SQL
    // standard body (BEGIN ATOMIC) has an empty prosrc and is deparsed instead.
    expr: concat!(
        "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
           n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid), \
           pg_catalog.pg_get_userbyid(p.proowner), l.lanname, p.prosecdef, p.proconfig, \
           CASE WHEN p.prosecdef THEN CASE WHEN p.prosrc <> '' THEN p.prosrc \
                ELSE pg_catalog.pg_get_functiondef(p.oid) END END, \
           p.proacl::text[])) \
         FROM pg_catalog.pg_proc p \
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         JOIN pg_catalog.pg_language l ON l.oid = p.prolang \
         WHERE p.prokind IN ('f', 'p') AND ",
        user_schema!("n"),
        ")"
    ),
};

pub(super) const EXTENSIONS: Family = Family {
    name: "pg_extension",
    expr: "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
             e.extname, n.nspname, e.extversion) ORDER BY e.extname) \
           FROM pg_catalog.pg_extension e \
           JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace)",
};

pub(super) const LANGUAGES: Family = Family {
    name: "pg_language",
    expr: "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(lanname, lanpltrusted) \
             ORDER BY lanname) \
           FROM pg_catalog.pg_language)",
};

/// Event triggers with the function each runs (`evtevent = 'login'` from 17 on; the
/// catalog is the same on every major).
pub(super) const EVENT_TRIGGERS: Family = Family {
    name: "pg_event_trigger",
    expr: "(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
             e.evtname, e.evtevent, pg_catalog.pg_get_userbyid(e.evtowner), e.evtenabled, \
             n.nspname, p.proname) ORDER BY e.evtname) \
           FROM pg_catalog.pg_event_trigger e \
           JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid \
           JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace)",
};

/// The per-database families, in column order.
pub(super) const DATABASE: [Family; 8] = [
    SCHEMAS,
    TABLES,
    POLICIES,
    VIEWS,
    FUNCTIONS,
    EXTENSIONS,
    LANGUAGES,
    EVENT_TRIGGERS,
];

/// `pg_hba_file_rules` with the hba file's path (PostgreSQL 15 has no `file_name`
/// column; `hba_file` is visible with pg_read_all_settings).
pub(super) const HBA: &str = "SELECT \
     (SELECT pg_catalog.json_agg(pg_catalog.row_to_json(h)) FROM pg_catalog.pg_hba_file_rules h), \
     CASE WHEN pg_catalog.pg_has_role('pg_read_all_settings', 'USAGE') \
          THEN pg_catalog.current_setting('hba_file') END";

/// `pg_ident_file_mappings` (PostgreSQL 15+) with the ident file's path.
pub(super) const IDENT: &str = "SELECT \
     (SELECT pg_catalog.json_agg(pg_catalog.row_to_json(i)) FROM pg_catalog.pg_ident_file_mappings i), \
     CASE WHEN pg_catalog.pg_has_role('pg_read_all_settings', 'USAGE') \
          THEN pg_catalog.current_setting('ident_file') END";

/// The kind of each stored password, classified on the server so that no hash ever
/// leaves it.
pub(super) const AUTHID: &str = "SELECT pg_catalog.json_agg(pg_catalog.json_build_array(rolname, \
       CASE WHEN rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram' \
            WHEN rolpassword ~ '^md5[0-9a-f]{32}$' THEN 'md5' \
            ELSE 'other' END) ORDER BY rolname) \
     FROM pg_catalog.pg_authid WHERE rolpassword IS NOT NULL";

/// The statement reading `head` (see [`head`]), the cluster families and the database
/// families.
pub(super) fn main_statement(head: &str) -> String {
    let mut cols: Vec<&str> = vec![head];
    cols.extend(CLUSTER.iter().map(|f| f.expr));
    cols.extend(DATABASE.iter().map(|f| f.expr));
    format!("SELECT {}", cols.join(",\n "))
}

/// The statement reading `current_database()` and the database families.
pub(super) fn database_statement() -> String {
    let mut cols: Vec<&str> = vec![DB_HEAD];
    cols.extend(DATABASE.iter().map(|f| f.expr));
    format!("SELECT {}", cols.join(",\n "))
}

/// One family on its own (used to find out which family a refusal came from).
pub(super) fn family_statement(f: &Family) -> String {
    format!("SELECT {}", f.expr)
}

/// Leading columns on their own.
pub(super) fn head_statement(head: &str) -> String {
    format!("SELECT {head}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_custom_setting_names_are_spliced() {
        for ok in ["app.current_tenant_id", "my_app.tenant$1", "a.b.c", "_x.y"] {
            assert!(valid_setting_name(ok), "{ok}");
        }
        for bad in [
            "",
            "app.",
            ".x",
            "app..x",
            "app.1x",
            "app.x'; drop table t; --",
            "app.x\\'",
            "app.tenant id",
            &"a".repeat(128),
        ] {
            assert!(!valid_setting_name(bad), "{bad}");
        }
        assert!(head(Some("app.t")).ends_with("pg_catalog.current_setting('app.t', true)"));
        assert!(head(None).ends_with("NULL::text"));
        assert_eq!(literal("it's"), "'it''s'");
    }
}
