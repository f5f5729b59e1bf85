//! pgsec-core's SQL names against a real server (pgsec-testkit), the server as oracle:
//! - the embedded keyword list holds every word of `pg_get_keywords()` in its category;
//! - `quote_ident` writes what the server's `quote_ident()` writes, and every keyword and
//!   odd names survive `CREATE ROLE`, `CREATE TABLE` and the audit's own remediation
//!   (`ALTER ROLE … NOSUPERUSER`) as exactly that name;
//! - `check_setting_name` accepts exactly the names `set_config` accepts, and
//!   `quote_setting_name` exactly those `SET LOCAL` sets under the same name.

use std::collections::{BTreeMap, BTreeSet};

use pgsec_core::snapshot::{Collected, LiveFacts, RoleFact};
use pgsec_core::sql::{
    check_setting_name, keyword, keywords, quote_ident, quote_setting_name, KeywordCategory,
    NameError, MAX_NAME_LEN,
};
use pgsec_core::{evaluate, Policy, Snapshot};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn client() -> Result<Client, Box<dyn std::error::Error>> {
    let server = pgsec_testkit::shared().await?;
    let db = server.fresh_database().await?;
    Ok(db.admin_client().await?)
}

async fn server_keywords(c: &Client) -> Result<Vec<(String, char)>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT word, catcode::text FROM pg_catalog.pg_get_keywords()",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let code: String = r.get(1);
            (r.get(0), code.chars().next().unwrap_or('?'))
        })
        .collect())
}

#[tokio::test]
async fn the_keyword_list_holds_the_servers_in_the_same_categories() -> TestResult {
    let c = client().await?;
    let theirs = server_keywords(&c).await?;
    assert!(
        theirs.len() > 400,
        "pg_get_keywords() returned {}",
        theirs.len()
    );
    for (word, code) in &theirs {
        let ours = keyword(word).map(KeywordCategory::catcode);
        assert_eq!(
            ours,
            Some(*code),
            "{word}: ours {ours:?}, the server's {code}"
        );
    }
    let major = pgsec_testkit::shared().await?.major_version();
    eprintln!(
        "{} keywords of PostgreSQL {major} agree with the {} embedded ones",
        theirs.len(),
        keywords().len()
    );
    Ok(())
}

/// Names that are not keywords but are odd in some way.
fn odd_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "app",
        "App",
        "APP",
        "Select",
        "FETCH",
        "user name",
        " lead",
        "trail ",
        "a\"b",
        "\"",
        "\"\"",
        "'",
        "a'b",
        "semi;colon",
        "dash-ed",
        "dot.ted",
        "a$",
        "$a",
        "a$b",
        "1a",
        "9",
        "_",
        "__",
        "_1",
        "é",
        "Ünïcödé",
        "日本語",
        "emoji🦀",
        "tab\tname",
        "new\nline",
        "back\\slash",
        "percent%s",
        "pg_x_not_a_role_prefix_for_tables",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    names.push("x".repeat(MAX_NAME_LEN));
    names.push(format!("{}x", "é".repeat(31))); // 63 bytes, two-byte characters
    names.push(format!("X{}", "y".repeat(MAX_NAME_LEN - 1)));
    names.push(format!("\"{}", "q".repeat(MAX_NAME_LEN - 1)));
    names
}

fn quote(name: &str) -> String {
    quote_ident(name).unwrap_or_else(|e| panic!("{name:?}: {e}"))
}

/// The audit's remediation for a superuser application role named `name`.
fn remediation_for_superuser_app(name: &str) -> String {
    let mut app = RoleFact::login(name);
    app.superuser = true;
    let mut live = LiveFacts::default();
    live.roles = Collected::Present(vec![app]);
    let snapshot = Snapshot::new("names", 0)
        .with_live(live)
        .with_app_role(name);
    let report = evaluate(&snapshot, &Policy::default());
    let finding = report
        .findings_of("role.app_superuser")
        .next()
        .unwrap_or_else(|| panic!("{name:?}: no role.app_superuser finding"));
    finding.remediation().to_owned()
}

#[tokio::test]
async fn quoted_names_are_what_the_server_quotes_and_round_trip() -> TestResult {
    let mut c = client().await?;
    let theirs = server_keywords(&c).await?;
    let mut names: BTreeSet<String> = theirs.iter().map(|(w, _)| w.clone()).collect();
    // Words of later majors too (unknown to this server: plain names to it).
    names.extend(keywords().map(|(w, _)| w.to_owned()));
    let keyword_count = names.len();
    // Upper-case forms of the keywords are quoted for their case alone.
    names.extend(theirs.iter().take(40).map(|(w, _)| w.to_uppercase()));
    names.extend(odd_names());
    let names: Vec<String> = names.into_iter().collect();

    // 1. The server's quote_ident() as oracle.
    let rows = c
        .query(
            "SELECT n, pg_catalog.quote_ident(n) FROM unnest($1::text[]) AS n",
            &[&names],
        )
        .await?;
    let known: BTreeSet<&str> = theirs.iter().map(|(w, _)| w.as_str()).collect();
    let mut later_majors = 0;
    for r in &rows {
        let (name, server): (String, String) = (r.get(0), r.get(1));
        let ours = quote(&name);
        if ours != server && !known.contains(name.as_str()) && keyword(&name).is_some() {
            // A keyword of a later major than this server's: quoting it is what that
            // major needs and harmless here.
            assert_eq!((ours, server), (format!("\"{name}\""), name.clone()));
            later_majors += 1;
            continue;
        }
        assert_eq!(ours, server, "quote_ident({name:?})");
    }
    assert_eq!(rows.len(), names.len());

    // 2. Round trips, in one transaction rolled back at the end (roles are cluster-wide).
    let mut tx = c.transaction().await?;
    tx.batch_execute("CREATE SCHEMA names_under_test").await?;
    let mut reserved_role_names = Vec::new();
    for name in &names {
        let q = quote(name);
        tx.batch_execute(&format!("CREATE TABLE names_under_test.{q} (x int)"))
            .await
            .map_err(|e| format!("CREATE TABLE names_under_test.{q}: {e}"))?;
        let sp = tx.savepoint("role").await?;
        match sp
            .batch_execute(&format!("CREATE ROLE {q} NOLOGIN SUPERUSER"))
            .await
        {
            Ok(()) => {}
            // public, none, pg_*: names the server keeps for itself, whatever the quoting;
            // newer servers refuse newlines in role names.
            Err(e)
                if e.code() == Some(&SqlState::RESERVED_NAME)
                    || (e.code() == Some(&SqlState::INVALID_PARAMETER_VALUE)
                        && name.contains(['\n', '\r'])) =>
            {
                reserved_role_names.push(name.clone());
                sp.rollback().await?;
                continue;
            }
            Err(e) => return Err(format!("CREATE ROLE {q}: {e}").into()),
        }
        let fix = remediation_for_superuser_app(name);
        assert_eq!(fix, format!("ALTER ROLE {q} NOSUPERUSER;"));
        sp.batch_execute(&fix)
            .await
            .map_err(|e| format!("{fix}: {e}"))?;
        let row = sp
            .query_one(
                "SELECT count(*), bool_or(rolsuper) FROM pg_catalog.pg_roles WHERE rolname = $1",
                &[name],
            )
            .await?;
        let (count, superuser): (i64, Option<bool>) = (row.get(0), row.get(1));
        assert_eq!(count, 1, "role {name:?} was not created under its own name");
        assert_eq!(superuser, Some(false), "{fix} left {name:?} a superuser");
        sp.commit().await?;
    }
    let tables: BTreeSet<String> = tx
        .query(
            "SELECT relname::text FROM pg_catalog.pg_class \
             WHERE relnamespace = 'names_under_test'::regnamespace AND relkind = 'r'",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tables,
        names.iter().cloned().collect::<BTreeSet<_>>(),
        "the tables are not named as asked"
    );
    tx.rollback().await?;
    for name in &reserved_role_names {
        assert!(
            ["public", "none"].contains(&name.as_str())
                || name.starts_with("pg_")
                || name.contains(['\n', '\r']),
            "the server refused role name {name:?} as reserved"
        );
    }

    // 3. Past 63 bytes the server truncates, so the quoter refuses.
    let long = "z".repeat(MAX_NAME_LEN + 1);
    assert_eq!(quote_ident(&long), Err(NameError::TooLong));
    let row = c.query_one(&format!("SELECT 1 AS \"{long}\""), &[]).await?;
    assert_eq!(row.columns()[0].name(), &long[..MAX_NAME_LEN]);

    eprintln!(
        "{} names ({keyword_count} keywords) round-trip and agree with the server's quote_ident() \
         but {later_majors} keywords of later majors (quoted by pgsec only); {} refused by \
         CREATE ROLE as reserved names",
        names.len(),
        reserved_role_names.len()
    );
    Ok(())
}

/// A small deterministic generator (xorshift), so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn setting_name_corpus() -> Vec<String> {
    let mut names: Vec<String> = [
        "app.current_tenant_id",
        "app.1tenant",
        "app.x.",
        "app..x",
        ".x",
        "x.",
        ".",
        "..",
        "x",
        "a.b.c",
        "a$.b",
        "a.b$",
        "a.$b",
        "$a.b",
        "_a._b",
        "A.B",
        "App.Tenant",
        "é.ü",
        "app.tenant_é",
        "日本.語",
        "app.🦀",
        "app.x-y",
        "app.x y",
        "app. x",
        "app.x;",
        "app.x'",
        "app.x\"",
        "app.x\\",
        "app.select",
        "select.from",
        "a1.b2",
        "1a.b",
        "a.b1",
        "a.1",
        "_.a",
        "a._",
        "plpgsql.custom_thing",
        "pgaudit.custom_thing",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for n in [62, 63, 64, 200, 300] {
        names.push(format!("app.{}", "p".repeat(n)));
        names.push(format!("{}.x", "p".repeat(n)));
    }
    names.push(format!("a.{}", "é".repeat(40)));
    let mut rng = Rng(0x5eed_0f9a_5ec0_de11);
    // Any characters, dots among them.
    let alphabet: Vec<char> = "abcXYZ019_$.. -;é".chars().collect();
    for _ in 0..800 {
        let len = rng.below(10);
        names.push(
            (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect(),
        );
    }
    // Dotted names of identifier characters (a part may still start badly or be empty).
    let ident: Vec<char> = "aZ_é9$".chars().collect();
    for _ in 0..800 {
        let parts: Vec<String> = (0..1 + rng.below(3))
            .map(|_| {
                let len = rng.below(5);
                (0..len).map(|_| ident[rng.below(ident.len())]).collect()
            })
            .collect();
        names.push(parts.join("."));
    }
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn setting_names_are_accepted_exactly_when_set_config_accepts_them() -> TestResult {
    let mut c = client().await?;
    // plpgsql reserves its prefix when loaded: load it, so the corpus meets a reserved one.
    c.batch_execute("DO $$ BEGIN END $$").await?;
    let builtin: BTreeSet<String> = c
        .query("SELECT lower(name) FROM pg_catalog.pg_settings", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let names = setting_name_corpus();
    let mut tx = c.transaction().await?;
    let (mut accepted, mut refused, mut reserved_prefix, mut builtin_seen) = (0, 0, 0, 0);
    let mut set_checked = 0;
    let mut verdicts = BTreeMap::new();
    for name in &names {
        let sp = tx.savepoint("s").await?;
        let server = sp
            .query_one("SELECT pg_catalog.set_config($1, 'v', true)", &[name])
            .await;
        let ours = check_setting_name(name);
        match server {
            Ok(_) if !name.contains('.') && builtin.contains(&name.to_lowercase()) => {
                builtin_seen += 1; // a built-in setting: not a custom name
                assert_eq!(ours, Err(NameError::NoDot), "{name:?}");
            }
            Ok(_) => {
                accepted += 1;
                assert_eq!(
                    ours,
                    Ok(()),
                    "set_config accepts {name:?}, pgsec refuses it"
                );
            }
            Err(e) => {
                let reserved = e
                    .as_db_error()
                    .and_then(|d| d.detail())
                    .is_some_and(|d| d.contains("reserved prefix"));
                if reserved {
                    // Valid as a name; refused for the extension that owns the prefix.
                    reserved_prefix += 1;
                    assert_eq!(ours, Ok(()), "{name:?}");
                } else {
                    refused += 1;
                    assert!(
                        ours.is_err(),
                        "set_config refuses {name:?} ({e}), pgsec accepts it"
                    );
                }
            }
        }
        sp.rollback().await?;
        verdicts.insert(name.clone(), ours);
    }

    // SET LOCAL with the quoted name sets the same setting exactly when
    // quote_setting_name accepts the name (longer parts are truncated by the server).
    for (name, verdict) in &verdicts {
        if verdict.is_err() || name.starts_with("plpgsql.") || name.starts_with("pgaudit.") {
            continue;
        }
        let naive = name
            .split('.')
            .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(".");
        let quoted = quote_setting_name(name);
        let sql = match &quoted {
            Ok(q) => q.clone(),
            Err(_) => naive,
        };
        let sp = tx.savepoint("s").await?;
        sp.batch_execute(&format!("SET LOCAL {sql} = 'v'"))
            .await
            .map_err(|e| format!("SET LOCAL {sql}: {e}"))?;
        let value: Option<String> = sp
            .query_one("SELECT pg_catalog.current_setting($1, true)", &[name])
            .await?
            .get(0);
        assert_eq!(
            value.as_deref() == Some("v"),
            quoted.is_ok(),
            "SET LOCAL {sql}: current_setting({name:?}) = {value:?}, quote_setting_name: {quoted:?}"
        );
        sp.rollback().await?;
        set_checked += 1;
    }
    tx.rollback().await?;
    assert!(
        accepted > 100 && refused > 100,
        "{accepted} accepted, {refused} refused"
    );
    assert!(
        reserved_prefix >= 1,
        "plpgsql's reserved prefix was not met"
    );
    eprintln!(
        "{} setting names: {accepted} accepted and {refused} refused by both set_config and \
         pgsec, {reserved_prefix} refused by the server for a reserved prefix, {builtin_seen} \
         built-in; {set_checked} checked through SET LOCAL",
        names.len()
    );
    Ok(())
}
