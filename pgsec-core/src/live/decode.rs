//! JSON columns of the catalog queries → typed facts. Each family arrives as one JSON
//! array (or SQL NULL for an empty catalog) of positional rows, in the order `sql.rs`
//! builds them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::pgvalue::parse_bool;

use crate::snapshot::{
    AclItem, Collected, DatabaseFacts, DbRoleSetting, EventTriggerFact, ExtensionFact,
    FunctionFact, LanguageFact, LiveSetting, Membership, PasswordKind, PolicyCommand, PolicyFact,
    QualifiedName, RoleFact, SchemaFact, TableFact, ViewFact,
};

/// A family's text: its JSON, or why it is missing.
pub(super) type FamilyText = Result<Option<String>, String>;

/// Decodes a JSON array of rows (`None`, SQL NULL, is an empty catalog).
fn rows<T: DeserializeOwned>(family: &str, text: &FamilyText) -> Result<Vec<T>, String> {
    match text {
        Err(reason) => Err(reason.clone()),
        Ok(None) => Ok(Vec::new()),
        Ok(Some(json)) => serde_json::from_str(json)
            .map_err(|e| format!("pgsec could not decode {family} as sent by the server: {e}")),
    }
}

fn collected<T>(r: Result<T, String>) -> Collected<T> {
    match r {
        Ok(v) => Collected::Present(v),
        Err(reason) => Collected::NotCollected(reason),
    }
}

fn acl(items: Option<Vec<String>>) -> Option<Vec<AclItem>> {
    items.map(|v| v.iter().filter_map(|i| AclItem::parse(i)).collect())
}

/// `pg_settings` rows: name, setting, unit, source, sourcefile, sourceline.
type SettingRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

pub(super) fn settings(text: &FamilyText) -> Collected<BTreeMap<String, LiveSetting>> {
    collected(rows::<SettingRow>("pg_settings", text).map(|rows| {
        rows.into_iter()
            .map(|(name, value, unit, source, file, line)| {
                let name = name.to_ascii_lowercase();
                let mut s = LiveSetting::new(
                    name.clone(),
                    value.unwrap_or_default(),
                    source.unwrap_or_default(),
                );
                if let Some(u) = unit {
                    s = s.with_unit(u);
                }
                if let (Some(f), Some(l)) = (file, line.and_then(|l| usize::try_from(l).ok())) {
                    s = s.with_sourcefile(f, l);
                }
                (name, s)
            })
            .collect()
    }))
}

/// Roles: name, super, login, bypassrls, createrole, createdb, inherit, connlimit,
/// member_of, memberships (role, inherit, set).
type RoleRow = (
    String,
    bool,
    bool,
    bool,
    bool,
    bool,
    bool,
    i32,
    Option<Vec<String>>,
    Option<Vec<(String, bool, bool)>>,
);

pub(super) fn roles(text: &FamilyText) -> Collected<Vec<RoleFact>> {
    collected(rows::<RoleRow>("roles", text).map(|rows| {
        rows.into_iter()
            .map(
                |(
                    name,
                    su,
                    login,
                    bypass,
                    createrole,
                    createdb,
                    inherit,
                    connlimit,
                    member_of,
                    memberships,
                )| {
                    let mut r = if login {
                        RoleFact::login(name)
                    } else {
                        RoleFact::group(name)
                    };
                    r.superuser = su;
                    r.bypassrls = bypass;
                    r.createrole = createrole;
                    r.createdb = createdb;
                    r.inherit = inherit;
                    r.connlimit = connlimit;
                    r.member_of = member_of.unwrap_or_default();
                    r.memberships = memberships
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(role, inherit, set)| Membership::new(role, inherit, set))
                        .collect();
                    r
                },
            )
            .collect()
    }))
}

pub(super) fn db_role_settings(text: &FamilyText) -> Collected<Vec<DbRoleSetting>> {
    type Row = (Option<String>, Option<String>, Option<Vec<String>>);
    collected(rows::<Row>("pg_db_role_setting", text).map(|rows| {
        rows.into_iter()
            .map(|(db, role, config)| {
                let settings = config
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|kv| {
                        kv.split_once('=')
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    })
                    .collect();
                DbRoleSetting::new(db, role, settings)
            })
            .collect()
    }))
}

pub(super) fn databases(text: &FamilyText) -> Result<Vec<String>, String> {
    rows::<String>("pg_database", text)
}

/// Stored password kinds (classified by the server: `scram`, `md5`, `other`).
pub(super) fn stored_passwords(text: &FamilyText) -> Collected<BTreeMap<String, PasswordKind>> {
    collected(rows::<(String, String)>("pg_authid", text).map(|rows| {
        rows.into_iter()
            .map(|(role, kind)| {
                let kind = match kind.as_str() {
                    "scram" => PasswordKind::Scram,
                    "md5" => PasswordKind::Md5,
                    _ => PasswordKind::Other,
                };
                (role, kind)
            })
            .collect()
    }))
}

/// The per-database families, in `sql::DATABASE` order.
pub(super) fn database(name: String, texts: &[FamilyText]) -> DatabaseFacts {
    let missing = Err("not read".to_owned());
    let get = |i: usize| texts.get(i).unwrap_or(&missing);
    let mut db = DatabaseFacts::new(name);
    db.schemas = collected(
        rows::<(String, String, Option<Vec<String>>)>("schemas", get(0)).map(|rows| {
            rows.into_iter()
                .map(|(name, owner, a)| SchemaFact::new(name, owner, acl(a)))
                .collect()
        }),
    );
    type TableRow = (
        String,
        String,
        String,
        bool,
        bool,
        Option<Vec<String>>,
        Option<Vec<String>>,
    );
    db.tables = collected(rows::<TableRow>("tables", get(1)).map(|rows| {
        rows.into_iter()
            .map(|(schema, name, owner, rls, force, a, cols)| {
                let mut t = TableFact::new(schema, name, owner)
                    .with_columns(cols.unwrap_or_default())
                    .with_rls(rls, force);
                t.acl = acl(a);
                t
            })
            .collect()
    }));
    type PolicyRow = (
        String,
        String,
        String,
        bool,
        String,
        Option<Vec<String>>,
        Option<String>,
        Option<String>,
    );
    db.policies = collected(rows::<PolicyRow>("policies", get(2)).map(|rows| {
        rows.into_iter()
            .map(
                |(schema, table, name, permissive, cmd, roles, using, check)| {
                    let mut p =
                        PolicyFact::new(schema, table, name, using.as_deref(), check.as_deref());
                    p.permissive = permissive;
                    p.command = cmd
                        .chars()
                        .next()
                        .and_then(PolicyCommand::from_polcmd)
                        .unwrap_or(PolicyCommand::All);
                    p.roles = roles.unwrap_or_default();
                    p
                },
            )
            .collect()
    }));
    type ViewRow = (
        String,
        String,
        String,
        Option<Vec<String>>,
        Option<Vec<(String, String)>>,
        bool,
        Option<Vec<String>>,
        Option<String>,
    );
    db.views = collected(rows::<ViewRow>("views", get(3)).map(|rows| {
        rows.into_iter()
            .map(
                |(schema, name, owner, options, refs, materialized, a, definition)| {
                    let refs = refs
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(s, n)| QualifiedName::new(s, n))
                        .collect();
                    let mut v = if materialized {
                        ViewFact::materialized(schema, name, owner, refs)
                    } else {
                        ViewFact::new(
                            schema,
                            name,
                            owner,
                            security_invoker(options.as_deref()),
                            refs,
                        )
                    };
                    v.acl = acl(a);
                    v.definition = definition;
                    v
                },
            )
            .collect()
    }));
    type FunctionRow = (
        String,
        String,
        String,
        String,
        String,
        bool,
        Option<Vec<String>>,
        Option<String>,
        Option<Vec<String>>,
    );
    db.functions = collected(rows::<FunctionRow>("functions", get(4)).map(|rows| {
        rows.into_iter()
            .map(
                |(schema, name, args, owner, language, secdef, config, body, a)| {
                    let mut f = FunctionFact::new(schema, name, owner);
                    f.args = args;
                    f.language = language;
                    f.security_definer = secdef;
                    f.config = config.unwrap_or_default();
                    f.body = body;
                    f.acl = acl(a);
                    f
                },
            )
            .collect()
    }));
    db.extensions = collected(
        rows::<(String, String, String)>("extensions", get(5)).map(|rows| {
            rows.into_iter()
                .map(|(n, s, v)| ExtensionFact::new(n, s, v))
                .collect()
        }),
    );
    db.languages = collected(rows::<(String, bool)>("languages", get(6)).map(|rows| {
        rows.into_iter()
            .map(|(n, t)| LanguageFact::new(n, t))
            .collect()
    }));
    type EventTriggerRow = (String, String, String, String, String, String);
    db.event_triggers = collected(
        rows::<EventTriggerRow>("event triggers", get(7)).map(|rows| {
            rows.into_iter()
                .map(|(name, event, owner, enabled, schema, function)| {
                    EventTriggerFact::new(name, event, owner, QualifiedName::new(schema, function))
                        .with_enabled(enabled.chars().next().unwrap_or('O'))
                })
                .collect()
        }),
    );
    db
}

/// `security_invoker` from a view's reloptions (`security_invoker=on`, any spelling the
/// server's `parse_bool` accepts).
pub(super) fn security_invoker(options: Option<&[String]>) -> bool {
    options
        .into_iter()
        .flatten()
        .filter_map(|o| o.split_once('='))
        .filter(|(k, _)| k.eq_ignore_ascii_case("security_invoker"))
        .filter_map(|(_, v)| parse_bool(v))
        .next_back()
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_invoker_options() {
        let o = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(security_invoker(Some(&o(&[
            "check_option=local",
            "security_invoker=on"
        ]))));
        assert!(!security_invoker(Some(&o(&["security_invoker=false"]))));
        assert!(!security_invoker(Some(&o(&["security_barrier=true"]))));
        assert!(!security_invoker(None));
    }

    #[test]
    fn empty_catalogs_and_refusals() {
        assert_eq!(roles(&Ok(None)), Collected::Present(Vec::new()));
        assert_eq!(
            roles(&Err("permission denied".into())),
            Collected::NotCollected("permission denied".into())
        );
        let bad = roles(&Ok(Some("{\"not\": \"rows\"}".into())));
        assert!(matches!(bad, Collected::NotCollected(r) if r.contains("could not decode roles")));
    }

    #[test]
    fn rows_decode_positionally() {
        let t = Ok(Some(
            r#"[["app","orders","owner",true,false,["owner=arwdDxt/owner","=r/owner"],["id","tenant_id"]]]"#
                .to_owned(),
        ));
        let missing: FamilyText = Err("x".into());
        let texts = vec![
            Ok(None),
            t,
            missing.clone(),
            missing.clone(),
            missing.clone(),
            missing.clone(),
            missing,
        ];
        let db = database("appdb".into(), &texts);
        let tables = db.tables.get().unwrap();
        assert_eq!(tables[0].columns, vec!["id", "tenant_id"]);
        assert!(tables[0].rls_enabled && !tables[0].rls_forced);
        assert!(tables[0].acl.as_ref().unwrap()[1].is_public());
        assert_eq!(db.schemas, Collected::Present(Vec::new()));
        assert_eq!(db.policies, Collected::NotCollected("x".into()));
    }

    #[test]
    fn memberships_matviews_and_acls_decode() {
        let roles = roles(&Ok(Some(
            r#"[["app",false,true,false,false,false,false,-1,["owners"],[["owners",false,true]]]]"#
                .to_owned(),
        )));
        let app = &roles.get().unwrap()[0];
        assert_eq!(app.membership("owners"), Some((false, true)));
        let views = Ok(Some(
            r#"[["s","m","o",null,[["s","t"]],true,["o=arwdDxt/o","app=r/o"],null],
                ["s","v","o",["security_invoker=on"],null,false,null,null]]"#
                .to_owned(),
        ));
        let functions = Ok(Some(
            r#"[["s","f","","o","sql",true,null,"select 1",["o=X/o"]]]"#.to_owned(),
        ));
        let texts = vec![
            Ok(None),
            Ok(None),
            Ok(None),
            views,
            functions,
            Ok(None),
            Ok(None),
            Ok(Some(
                r#"[["greet","login","postgres","O","ops","on_login"],
                    ["ddl","ddl_command_end","postgres","D","public","f"]]"#
                    .to_owned(),
            )),
        ];
        let db = database("d".into(), &texts);
        let triggers = db.event_triggers.get().unwrap();
        assert_eq!(triggers[0].event, "login");
        assert_eq!(triggers[0].function.to_string(), "ops.on_login");
        assert!(triggers[0].is_enabled() && !triggers[1].is_enabled());
        let views = db.views.get().unwrap();
        assert!(views[0].materialized && views[0].acl.as_ref().unwrap().len() == 2);
        assert!(!views[1].materialized && views[1].security_invoker && views[1].acl.is_none());
        let f = &db.functions.get().unwrap()[0];
        assert_eq!(f.acl.as_ref().unwrap()[0].privileges, "X");
    }
}
