//! The mutation suite: `schemas/broken/*.sql` must each be caught within the default
//! case count (and for the reason the file names), `schemas/correct/*.sql` must pass.
//! Both print a table of what happened.

use pgsec_core::Severity;
use pgsec_testkit::isolation::{check, IsolationConfig, Verdict, DEFAULT_CASES};

use crate::{config, database, schemas, suite_seed, Expect, SchemaFile};

struct Outcome {
    name: String,
    line: String,
    problem: Option<String>,
}

async fn run(schema: &SchemaFile) -> Outcome {
    let db = database(schema).await;
    let report = check(IsolationConfig {
        seed: Some(suite_seed()),
        ..config(&db, schema)
    })
    .await
    .unwrap_or_else(|e| panic!("{}: check failed to run: {e}", schema.name));
    let kinds: Vec<String> = report
        .violations()
        .iter()
        .map(|v| v.kind.to_string())
        .collect();
    let caught = report.counterexample.as_ref().map(|c| c.case);
    let high: Vec<String> = report
        .static_findings
        .iter()
        .filter(|f| f.severity() >= Severity::High)
        .map(|f| format!("{} [{}] {}", f.id(), f.severity(), f.object()))
        .collect();
    let line = format!(
        "| {:<40} | {:<10} | {:>5} | {:>5} | {:<40} | {:>4} |",
        schema.name,
        report.verdict().as_str(),
        caught.map_or("-".to_owned(), |c| c.to_string()),
        report
            .counterexample
            .as_ref()
            .map_or("-".to_owned(), |c| c.steps.len().to_string()),
        kinds.join(", "),
        high.len(),
    );
    let static_problem = match (&schema.expect, &schema.static_rule) {
        (Expect::Pass | Expect::Incomplete, _) if !high.is_empty() => Some(format!(
            "{}: static high findings on a clean schema: {high:?}",
            schema.name
        )),
        (_, Some(rule)) if !high.iter().any(|h| h.starts_with(&format!("{rule} "))) => {
            Some(format!(
                "{}: {rule} does not flag it at high or above (static findings: {:?})",
                schema.name,
                report
                    .static_findings
                    .iter()
                    .map(|f| format!("{} [{}] {}", f.id(), f.severity(), f.object()))
                    .collect::<Vec<_>>()
            ))
        }
        (Expect::Caught(_), Some(rule))
            if !report
                .violations()
                .iter()
                .any(|v| v.predicted_by.iter().any(|p| p.starts_with(rule.as_str()))) =>
        {
            Some(format!(
                "{}: the leak does not name {rule} as its prediction:\n{report}",
                schema.name
            ))
        }
        _ => None,
    };
    let problem = match &schema.expect {
        Expect::Pass if caught.is_some() => Some(format!(
            "{}: false alarm on a correct schema ({}):\n{report}",
            schema.name, schema.why
        )),
        Expect::Pass if report.verdict() != Verdict::Clean => Some(format!(
            "{}: a correct schema is not clean:\n{report}",
            schema.name
        )),
        Expect::Pass => None,
        Expect::Incomplete if report.verdict() != Verdict::Incomplete => Some(format!(
            "{}: expected incomplete ({}):\n{report}",
            schema.name, schema.why
        )),
        Expect::Incomplete => None,
        Expect::Caught(_) if caught.is_none() => Some(format!(
            "{}: not caught in {DEFAULT_CASES} cases ({}):\n{report}",
            schema.name, schema.why
        )),
        Expect::Caught(expected) => {
            let found = expected.is_empty()
                || report
                    .violations()
                    .iter()
                    .any(|v| expected.contains(&v.kind));
            (!found).then(|| {
                format!(
                    "{}: caught, but as {kinds:?} rather than {expected:?}:\n{report}",
                    schema.name
                )
            })
        }
    };
    let problem = match (problem, static_problem) {
        (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
        (a, b) => a.or(b),
    };
    if std::env::var_os("PGSEC_ISOLATION_SHOW").is_some() {
        eprintln!("==== {} ====\n{report}", schema.name);
    }
    Outcome {
        name: schema.name.clone(),
        line,
        problem,
    }
}

async fn suite(kind: &str) {
    let files = schemas(kind);
    assert!(!files.is_empty());
    let mut lines = vec![
        format!(
            "| {:<40} | {:<10} | {:>5} | {:>5} | {:<40} | {:>4} |",
            "schema", "verdict", "case", "steps", "violations (minimal case)", "high"
        ),
        format!(
            "|{:-<42}|{:-<12}|{:-<7}|{:-<7}|{:-<42}|{:-<6}|",
            "", "", "", "", "", ""
        ),
    ];
    let mut problems = Vec::new();
    for file in &files {
        let outcome = run(file).await;
        lines.push(outcome.line);
        if let Some(p) = outcome.problem {
            problems.push((outcome.name, p));
        }
    }
    eprintln!(
        "{kind} schemas ({DEFAULT_CASES} cases each):\n{}",
        lines.join("\n")
    );
    for (_, p) in &problems {
        eprintln!("{p}");
    }
    assert!(
        problems.is_empty(),
        "{} schema(s) misjudged: {:?}",
        problems.len(),
        problems.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn every_broken_schema_is_caught_within_the_default_cases() {
    let broken = schemas("broken");
    assert!(
        broken.len() >= 12,
        "the suite needs at least 12 broken schemas"
    );
    assert!(broken.iter().all(|s| s.expect != Expect::Pass));
    suite("broken").await;
}

#[tokio::test]
async fn schemas_with_something_unexercisable_are_incomplete_until_excluded() {
    let files = schemas("incomplete");
    assert!(files.len() >= 2);
    assert!(files.iter().all(|s| s.expect == Expect::Incomplete));
    suite("incomplete").await;
    for file in &files {
        let db = database(file).await;
        let report = check(IsolationConfig {
            exclude: file.exclude.clone(),
            ..config(&db, file)
        })
        .await
        .unwrap();
        assert_eq!(report.verdict(), Verdict::Clean, "{}:\n{report}", file.name);
        assert!(
            report
                .coverage
                .iter()
                .any(|c| c.status == pgsec_testkit::isolation::CoverageStatus::Excluded),
            "{report}"
        );
    }
}

#[tokio::test]
async fn correct_schemas_pass_without_false_alarms() {
    let correct = schemas("correct");
    assert!(correct.iter().all(|s| s.expect == Expect::Pass));
    suite("correct").await;
}
