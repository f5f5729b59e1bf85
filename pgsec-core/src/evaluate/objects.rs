//! Function, extension and language rules: `fn.*`, `ext.*`.

use super::settings::split_list;
use super::{ident, in_db, qident, schema_creators, Eval};
use crate::report::Location;
use crate::snapshot::{Collected, DatabaseFacts, FunctionFact};

/// Who other than the owner may CREATE in schema `name` of `db` (empty when nobody or
/// unknown).
fn creators(db: &DatabaseFacts, name: &str) -> Vec<String> {
    match &db.schemas {
        Collected::Present(list) => list
            .iter()
            .find(|s| s.name == name)
            .map(schema_creators)
            .unwrap_or_default(),
        Collected::NotCollected(_) => Vec::new(),
    }
}

/// The function's fixed search_path, if `proconfig` sets one.
fn fixed_search_path(f: &FunctionFact) -> Option<Vec<String>> {
    f.config.iter().find_map(|c| {
        let (k, v) = c.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("search_path")
            .then(|| split_list(v))
    })
}

/// `fn.definer_search_path`: a SECURITY DEFINER function without a fixed search_path, or
/// with a schema others can create in before `pg_temp`.
pub(super) fn definer_search_path(ev: &mut Eval<'_>) {
    for (db, functions) in ev.per_db("functions", |d| &d.functions) {
        for f in functions.iter().filter(|f| f.security_definer) {
            let sig = f.signature();
            let problem = match fixed_search_path(f) {
                None => Some(
                    "has no search_path setting: it resolves names with the caller's search_path"
                        .to_owned(),
                ),
                Some(path) => {
                    if let Collected::NotCollected(r) = &db.schemas {
                        ev.skip(format!(
                            "schemas of database {} not collected: {r}",
                            db.name
                        ));
                    }
                    path.iter()
                        .take_while(|s| s.as_str() != "pg_temp")
                        .find_map(|s| {
                            let who = creators(db, s);
                            (!who.is_empty()).then(|| {
                                format!(
                                    "search_path names schema {s}, where {} may CREATE, before pg_temp",
                                    who.join(", ")
                                )
                            })
                        })
                }
            };
            if let Some(problem) = problem {
                ev.emit(
                    format!("{}/{sig}", db.name),
                    Location::object("function", in_db(&db.name, &sig)),
                    format!(
                        "SECURITY DEFINER function {sig} (owner {}) {problem}",
                        f.owner
                    ),
                    format!(
                        "ALTER FUNCTION {}({}) SET search_path = pg_catalog, {}, pg_temp;",
                        qident(&f.schema, &f.name),
                        f.args,
                        ident(&f.schema)
                    ),
                );
            }
        }
    }
}

/// `ext.untrusted_language`: an untrusted procedural language is installed.
pub(super) fn untrusted_language(ev: &mut Eval<'_>) {
    for (db, langs) in ev.per_db("languages", |d| &d.languages) {
        for l in langs {
            // c and internal are built in and always untrusted.
            if l.trusted
                || l.name == "c"
                || l.name == "internal"
                || ev.policy.allowed_extensions.contains(&l.name)
            {
                continue;
            }
            ev.emit(
                format!("{}/{}", db.name, l.name),
                Location::object("language", in_db(&db.name, &l.name)),
                format!(
                    "untrusted language {} is installed in database {}",
                    l.name, db.name
                ),
                format!(
                    "DROP EXTENSION IF EXISTS {0};  -- or DROP LANGUAGE {0};",
                    ident(&l.name)
                ),
            );
        }
    }
}

const RISKY: &[(&str, &str)] = &[
    ("dblink", "opens connections from the server"),
    ("postgres_fdw", "opens connections from the server"),
    ("file_fdw", "reads server files"),
    ("adminpack", "writes server files"),
];

/// `ext.risky_extension`: dblink, postgres_fdw, file_fdw or adminpack.
pub(super) fn risky_extension(ev: &mut Eval<'_>) {
    for (db, exts) in ev.per_db("extensions", |d| &d.extensions) {
        for e in exts {
            let Some((_, why)) = RISKY.iter().find(|(n, _)| *n == e.name) else {
                continue;
            };
            if ev.policy.allowed_extensions.contains(&e.name) {
                continue;
            }
            ev.emit(
                format!("{}/{}", db.name, e.name),
                Location::object("extension", in_db(&db.name, &e.name)),
                format!(
                    "extension {} ({why}) is installed in database {}",
                    e.name, db.name
                ),
                format!(
                    "DROP EXTENSION {};  -- or allow-list it in the policy",
                    ident(&e.name)
                ),
            );
        }
    }
}

/// `ext.in_public`: an extension in a schema non-owners can CREATE in.
pub(super) fn in_public(ev: &mut Eval<'_>) {
    for (db, exts) in ev.per_db("extensions", |d| &d.extensions) {
        if let Collected::NotCollected(r) = &db.schemas {
            ev.skip(format!(
                "schemas of database {} not collected: {r}",
                db.name
            ));
            continue;
        }
        for e in exts {
            let who = creators(db, &e.schema);
            if who.is_empty() {
                continue;
            }
            ev.emit(
                format!("{}/{}", db.name, e.name),
                Location::object("extension", in_db(&db.name, &e.name)),
                format!(
                    "extension {} is installed in schema {}, where {} may CREATE (database {})",
                    e.name,
                    e.schema,
                    who.join(", "),
                    db.name
                ),
                format!(
                    "CREATE SCHEMA IF NOT EXISTS extensions;\nALTER EXTENSION {} SET SCHEMA extensions;  -- or REVOKE CREATE ON SCHEMA {} FROM PUBLIC;",
                    ident(&e.name),
                    ident(&e.schema)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::snapshot::{
        AclItem, Collected, ExtensionFact, FunctionFact, LanguageFact, SchemaFact,
    };
    use crate::{evaluate, Policy};

    fn schemas() -> Vec<SchemaFact> {
        vec![
            SchemaFact::new(
                "public",
                "postgres",
                Some(vec![AclItem::parse("=UC/postgres").unwrap()]),
            ),
            SchemaFact::new("app", "owner", None),
        ]
    }

    fn definer(config: &[&str]) -> FunctionFact {
        let mut f = FunctionFact::new("app", "f", "owner");
        f.security_definer = true;
        f.config = config.iter().map(|s| s.to_string()).collect();
        f
    }

    fn with_functions(fs: Vec<FunctionFact>) -> crate::Snapshot {
        live_snapshot(|l| {
            l.databases[0].schemas = Collected::Present(schemas());
            l.databases[0].functions = Collected::Present(fs);
        })
    }

    #[test]
    fn definer_search_path() {
        let r = run(&with_functions(vec![
            definer(&[]),
            definer(&["search_path=public, pg_temp"]),
        ]));
        let f = of(&r, "fn.definer_search_path");
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().any(|f| f.evidence().contains("no search_path")));
        let r = run(&with_functions(vec![definer(&[
            "search_path=public, pg_temp",
        ])]));
        assert!(of(&r, "fn.definer_search_path")[0]
            .evidence()
            .contains("PUBLIC may CREATE"));
        let r = run(&with_functions(vec![
            definer(&["search_path=pg_catalog, app, pg_temp"]),
            definer(&["search_path=pg_catalog, pg_temp, public"]),
            FunctionFact::new("app", "invoker", "owner"),
        ]));
        assert_quiet(&r, "fn.definer_search_path");
    }

    #[test]
    fn untrusted_languages() {
        let s = live_snapshot(|l| {
            l.databases[0].languages = Collected::Present(vec![
                LanguageFact::new("c", false),
                LanguageFact::new("internal", false),
                LanguageFact::new("plpgsql", true),
                LanguageFact::new("plpython3u", false),
            ])
        });
        assert_eq!(of(&run(&s), "ext.untrusted_language").len(), 1);
        assert_quiet(
            &evaluate(&s, &Policy::default().allow_extension("plpython3u")),
            "ext.untrusted_language",
        );
    }

    #[test]
    fn risky_extensions_and_the_allow_list() {
        let s = live_snapshot(|l| {
            l.databases[0].schemas = Collected::Present(schemas());
            l.databases[0].extensions = Collected::Present(vec![
                ExtensionFact::new("postgres_fdw", "app", "1.1"),
                ExtensionFact::new("pgcrypto", "app", "1.3"),
            ])
        });
        assert_eq!(of(&run(&s), "ext.risky_extension").len(), 1);
        assert_quiet(
            &evaluate(&s, &Policy::default().allow_extension("postgres_fdw")),
            "ext.risky_extension",
        );
        assert_quiet(&run(&s), "ext.in_public");
    }

    #[test]
    fn extensions_in_writable_schemas() {
        let s = live_snapshot(|l| {
            l.databases[0].schemas = Collected::Present(schemas());
            l.databases[0].extensions =
                Collected::Present(vec![ExtensionFact::new("pgcrypto", "public", "1.3")])
        });
        assert_eq!(of(&run(&s), "ext.in_public").len(), 1);
    }
}
