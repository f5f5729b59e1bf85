//! The library API: replay, shrinking and its printout, guard findings, clean-up,
//! counting, errors.

use pgsec_testkit::isolation::{check, IsolationChecker, IsolationConfig, ViolationKind};
use pgsec_testkit::{Error, APP_USER};

use crate::{config, database, schema, SEED};

#[tokio::test]
async fn a_counterexample_replays_exactly_with_its_seed() {
    let file = schema("broken", "06_prefix_match");
    // A replay on a copy of the schema (serial ids start over, as in a new test run).
    let db = database(&file).await;
    let first = check(config(&db, &file)).await.unwrap();
    let copy = database(&file).await;
    let again = check(config(&copy, &file)).await.unwrap();
    let (mut a, mut b) = (
        first.counterexample.clone().expect("caught"),
        again.counterexample.clone().expect("caught again"),
    );
    // The static findings that predict a leak name their database, which differs.
    let unnamed = |p: &[String], db: &str| -> Vec<String> {
        p.iter().map(|s| s.replace(db, "<db>")).collect()
    };
    for v in &mut a.violations {
        v.predicted_by = unnamed(&v.predicted_by, db.name());
    }
    for v in &mut b.violations {
        v.predicted_by = unnamed(&v.predicted_by, copy.name());
    }
    assert!(a.violations.iter().any(|v| !v.predicted_by.is_empty()));
    assert_eq!(
        a, b,
        "same seed, same schema: same case, same shrinking, same output"
    );
    assert_eq!(
        first.to_string().replace(db.name(), "<db>"),
        again.to_string().replace(copy.name(), "<db>")
    );

    // Another seed finds it too, with other tenants.
    let other = check(IsolationConfig {
        seed: Some(SEED + 1),
        ..config(&db, &file)
    })
    .await
    .unwrap();
    assert!(!other.is_isolated());
    assert_ne!(other.tenants, first.tenants);
}

#[tokio::test]
async fn the_minimal_case_prints_numbered_sql_with_the_leaked_rows() {
    let file = schema("broken", "07_case_insensitive_match");
    let db = database(&file).await;
    let report = check(config(&db, &file)).await.unwrap();
    let c = report.counterexample.as_ref().expect("caught");
    assert!(c.steps.len() <= c.original_steps);
    // One read by one tenant is all it takes; shrinking must get there.
    assert_eq!(c.steps.len(), 1, "{report}");
    let v = &report.violations()[0];
    assert_eq!(v.kind, ViolationKind::ForeignRowsVisible);
    assert_eq!(v.relation, "public.items");
    let me = v.tenant.clone().unwrap();
    // Every leaked row is another tenant's, and differs from the reader only in case.
    assert!(!v.rows.is_empty());
    for row in &v.rows {
        let owner = row.owner.clone().unwrap();
        assert_ne!(owner, me);
        assert_eq!(owner.to_lowercase(), me.to_lowercase());
        assert!(row.row.contains(&owner), "{row:?}");
    }
    let text = report.to_string();
    for needle in [
        "1. as tenant",
        "BEGIN; SELECT pg_catalog.set_config('app.current_tenant_id',",
        "SELECT * FROM public.items;",
        "VIOLATION [foreign_rows_visible]",
        &format!("seed {SEED}"),
        &format!("--seed {SEED}"),
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[tokio::test]
async fn guard_findings_are_listed_and_the_check_runs_anyway() {
    let file = schema("broken", "01_owner_without_force");
    let db = database(&file).await;
    let report = check(config(&db, &file)).await.unwrap();
    let ids: Vec<&str> = report.guard_findings.iter().map(|f| f.id()).collect();
    assert!(ids.contains(&"priv.app_owns_tables"), "{ids:?}");
    assert!(ids.contains(&"rls.not_forced"), "{ids:?}");
    assert!(!report.is_isolated());
    assert!(report.to_string().contains("start-up guard: would refuse"));

    let file = schema("correct", "01_restrictive_policy");
    let db = database(&file).await;
    let report = check(config(&db, &file)).await.unwrap();
    assert!(
        report.guard_findings.is_empty(),
        "{:?}",
        report.guard_findings
    );
    assert!(report.is_isolated(), "{report}");
}

#[tokio::test]
async fn seeded_rows_are_deleted_and_existing_rows_kept() {
    let file = schema("correct", "03_five_tables_with_foreign_keys");
    let db = database(&file).await;
    let admin = db.admin_client().await.unwrap();
    admin
        .batch_execute(
            "insert into tenants values ('existing', 'Existing Ltd');
             insert into customers (tenant_id, name) values ('existing', 'kept');",
        )
        .await
        .unwrap();
    let snapshot = || async {
        let mut counts = Vec::new();
        for table in [
            "tenants",
            "customers",
            "projects",
            "tasks",
            "comments",
            "invoices",
        ] {
            let row = admin
                .query_one(
                    &format!("select count(*), string_agg(t::text, ';') from {table} t"),
                    &[],
                )
                .await
                .unwrap();
            counts.push((table, row.get::<_, i64>(0), row.get::<_, Option<String>>(1)));
        }
        counts
    };
    let before = snapshot().await;
    let report = check(IsolationConfig {
        cases: 40,
        ..config(&db, &file)
    })
    .await
    .unwrap();
    assert!(report.is_isolated(), "{report}");
    assert_eq!(report.tables.len(), 5);
    assert_eq!(report.views, ["public.open_tasks"]);
    assert_eq!(snapshot().await, before);
}

#[tokio::test]
async fn cases_and_operations_are_counted_and_a_checker_runs_repeatedly() {
    let file = schema("correct", "02_security_invoker_views");
    let db = database(&file).await;
    let mut checker = IsolationChecker::prepare(&config(&db, &file))
        .await
        .unwrap();
    assert_eq!(checker.seed(), SEED);
    let mut operations = 0;
    for _ in 0..2 {
        let report = checker.run(12).await.unwrap();
        assert!(report.is_isolated(), "{report}");
        assert_eq!(report.cases_requested, 12);
        assert_eq!(report.cases_run, 12);
        assert!(
            (12..=12 * 6).contains(&report.operations_run),
            "{}",
            report.operations_run
        );
        assert_eq!(report.views.len(), 3);
        operations += report.operations_run;
    }
    assert!(operations >= 24);
    checker.cleanup().await.unwrap();
    let left: i64 = db
        .admin_client()
        .await
        .unwrap()
        .query_one("select count(*) from items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[tokio::test]
async fn text_tenants_that_tenant_id_refuses_only_own_rows() {
    let file = schema("correct", "01_restrictive_policy");
    let db = database(&file).await;
    let report = check(IsolationConfig {
        cases: 5,
        ..config(&db, &file)
    })
    .await
    .unwrap();
    let passive: Vec<&str> = report
        .tenants
        .iter()
        .filter(|t| !t.acts)
        .map(|t| t.value.as_str())
        .collect();
    assert!(
        passive
            .iter()
            .any(|v| v.starts_with(' ') && v.ends_with(' ')),
        "{passive:?}"
    );
    assert!(passive.iter().any(|v| !v.is_ascii()), "{passive:?}");
    assert!(report.tenants.iter().filter(|t| t.acts).count() >= 4);
    assert!(report
        .tenants
        .iter()
        .all(|t| (1..=3).contains(&t.rows_per_table)));

    let file = schema("correct", "04_uuid_tenants");
    let db = database(&file).await;
    let report = check(IsolationConfig {
        cases: 5,
        ..config(&db, &file)
    })
    .await
    .unwrap();
    assert!(report.tenants.iter().all(|t| t.acts && t.value.len() == 36));
}

#[tokio::test]
async fn usage_and_connection_problems_are_errors() {
    let file = schema("correct", "01_restrictive_policy");
    let db = database(&file).await;
    let good = config(&db, &file);

    let err = check(IsolationConfig {
        admin_conninfo: "host=localhost sslmode=bogus".to_owned(),
        ..good.clone()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::IsolationConnect { role: "admin", .. }),
        "{err:?}"
    );

    let wrong_password = good.app_conninfo.replace("password=", "password=x");
    let err = check(IsolationConfig {
        app_conninfo: wrong_password,
        ..good.clone()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::IsolationConnect { role: "app", .. }),
        "{err:?}"
    );
    assert!(
        !pgsec_core::display_chain(&err).contains("password="),
        "{err}"
    );

    // The application role cannot see every tenant's rows, so it cannot be the admin.
    let err = check(IsolationConfig {
        admin_conninfo: good.app_conninfo.clone(),
        ..good.clone()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Error::IsolationSetup { .. }), "{err:?}");
    assert!(err.to_string().contains("BYPASSRLS"), "{err}");

    let err = check(IsolationConfig {
        tenant_columns: vec!["org_id".to_owned()],
        ..good.clone()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Error::IsolationSetup { .. }), "{err:?}");
    assert!(err.to_string().contains("org_id"), "{err}");
    assert_eq!(APP_USER, "pgsec_app");
}

#[tokio::test]
async fn coverage_names_every_kind_and_a_leak_names_its_static_rule() {
    use pgsec_testkit::isolation::{CoverageStatus, RelationKind, Verdict};

    // A definer function leaking every tenant's open orders: the leak is on the
    // function, and rls.definer_function predicts it.
    let file = schema("broken", "24_definer_function_all_tenants");
    let db = database(&file).await;
    let report = check(config(&db, &file)).await.unwrap();
    assert_eq!(report.verdict(), Verdict::Leak);
    let v = &report.violations()[0];
    assert_eq!(v.relation, "public.open_orders()");
    assert!(
        v.predicted_by
            .iter()
            .any(|p| p.starts_with("rls.definer_function [critical]")),
        "{:?}",
        v.predicted_by
    );
    // Every leaked row is an open order of another tenant: the seeds set status to
    // the literal the function body compares with.
    assert!(v.rows.iter().all(|r| r.row.contains(",open,")), "{report}");
    let text = report.to_string();
    for needle in [
        "coverage:",
        "public.open_orders() SECURITY DEFINER",
        "predicted by: rls.definer_function [critical]",
        "verdict: leak",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let json = report.to_json();
    assert!(
        json.starts_with("{\"verdict\":\"leak\",\"exit_code\":1,"),
        "{json}"
    );
    assert!(
        json.contains("\"predicted_by\":[\"rls.definer_function [critical]"),
        "{json}"
    );

    // The clean twins: functions, a materialized view the app may not read, an
    // inheritance child with its own RLS, partitions without privileges.
    for (name, expected) in [
        (
            "11_functions_that_filter",
            vec![
                (
                    "public.my_open_orders() SECURITY DEFINER",
                    RelationKind::Function,
                ),
                (
                    "public.orders_with_status(wanted text)",
                    RelationKind::Function,
                ),
            ],
        ),
        (
            "12_inheritance_child_with_rls",
            vec![("public.items_archive", RelationKind::InheritanceChild)],
        ),
        (
            "08_partitioned_table",
            vec![
                ("public.events", RelationKind::PartitionedTable),
                ("public.events_p0", RelationKind::Partition),
            ],
        ),
        (
            "10_materialized_view_not_granted",
            vec![("public.item_digest", RelationKind::MaterializedView)],
        ),
    ] {
        let file = schema("correct", name);
        let db = database(&file).await;
        let report = check(config(&db, &file)).await.unwrap();
        assert_eq!(report.verdict(), Verdict::Clean, "{report}");
        for (object, kind) in expected {
            let c = report
                .coverage
                .iter()
                .find(|c| c.name == object)
                .unwrap_or_else(|| panic!("{object} not in the coverage:\n{report}"));
            assert_eq!(c.kind, kind, "{c:?}");
            match c.status {
                CoverageStatus::Exercised => {
                    assert!(c.tenants >= 2, "{c:?}");
                }
                CoverageStatus::NoPrivilege => {
                    assert!(matches!(
                        kind,
                        RelationKind::Partition | RelationKind::MaterializedView
                    ));
                }
                _ => panic!("{c:?}"),
            }
        }
    }
}

#[tokio::test]
async fn columns_policies_read_are_seeded_both_ways() {
    let file = schema("correct", "09_published_behind_restrictive_policy");
    let db = database(&file).await;
    let mut checker = IsolationChecker::prepare(&config(&db, &file))
        .await
        .unwrap();
    let admin = db.admin_client().await.unwrap();
    let row = admin
        .query_one(
            "select count(distinct published), count(distinct tenant_id) from items",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, i64>(0),
        2,
        "published is seeded true and false"
    );
    assert!(row.get::<_, i64>(1) >= 4);
    let report = checker.run(20).await.unwrap();
    assert!(report.is_isolated(), "{report}");
    checker.cleanup().await.unwrap();
    let left: i64 = admin
        .query_one("select count(*) from items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}
