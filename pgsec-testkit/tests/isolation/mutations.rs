//! The mutation suite: `schemas/broken/*.sql` must each be caught within the default
//! case count (and for the reason the file names), `schemas/correct/*.sql` must pass.
//! Both print a table of what happened.

use pgsec_testkit::isolation::{check, IsolationConfig, DEFAULT_CASES};

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
    let line = format!(
        "| {:<36} | {:<6} | {:>5} | {:>5} | {:<40} |",
        schema.name,
        if caught.is_some() { "caught" } else { "passed" },
        caught.map_or("-".to_owned(), |c| c.to_string()),
        report
            .counterexample
            .as_ref()
            .map_or("-".to_owned(), |c| c.steps.len().to_string()),
        kinds.join(", "),
    );
    let problem = match &schema.expect {
        Expect::Pass if caught.is_some() => Some(format!(
            "{}: false alarm on a correct schema ({}):\n{report}",
            schema.name, schema.why
        )),
        Expect::Pass => None,
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
            "| {:<36} | {:<6} | {:>5} | {:>5} | {:<40} |",
            "schema", "result", "case", "steps", "violations (minimal case)"
        ),
        format!("|{:-<38}|{:-<8}|{:-<7}|{:-<7}|{:-<42}|", "", "", "", "", ""),
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
async fn correct_schemas_pass_without_false_alarms() {
    let correct = schemas("correct");
    assert!(correct.iter().all(|s| s.expect == Expect::Pass));
    suite("correct").await;
}
