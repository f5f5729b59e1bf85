//! `pgsec audit` of a fleet: several testkit servers at once, one stopped and one behind
//! a blackhole proxy. Per-target verdicts, the summary, the exit code, the per-target
//! timeout, and no password anywhere in the output.

use std::process::Output;

use pgsec_testkit::{Fault, Proxy, TestServer};
use serde_json::Value;

async fn pgsec(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_pgsec"))
        .args(args)
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .output()
        .await
        .expect("run pgsec")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_with_a_down_and_a_hanging_target() {
    let a = pgsec_testkit::shared().await.unwrap();
    let b = TestServer::start().await.unwrap();
    let db_a = a.fresh_database().await.unwrap();
    let db_b = b.fresh_database().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A server that ran and is gone: its port refuses connections (its CA file, removed
    // with it, is kept so that the connection fails at the socket, not before).
    let down = {
        let c = TestServer::start().await.unwrap();
        let db = c.fresh_database().await.unwrap();
        let ca = dir.path().join("down-ca.crt");
        std::fs::copy(&c.info().ca_path, &ca).unwrap();
        db.admin_conninfo().replace(
            c.info().ca_path.to_string_lossy().as_ref(),
            ca.to_string_lossy().as_ref(),
        )
    };
    // Accepts the connection and never answers.
    let proxy = Proxy::builder(db_a.info().addr())
        .fault(Fault::Blackhole)
        .start()
        .await
        .unwrap();
    let hanging = db_a.admin_conninfo_via(&proxy);
    let passwords = [
        a.info().admin.password().to_owned(),
        b.info().admin.password().to_owned(),
    ];

    // Two targets on the command line, two from a file (with a comment and a blank).
    let file = dir.path().join("fleet.txt");
    std::fs::write(
        &file,
        format!("# the rest of the fleet\n{down}\n\n{hanging}\n"),
    )
    .unwrap();
    let (url_a, url_b) = (db_a.admin_conninfo(), db_b.admin_conninfo());
    let file_arg = file.to_string_lossy().into_owned();
    let fleet = |format: &'static str| {
        let (url_a, url_b, file_arg) = (url_a.clone(), url_b.clone(), file_arg.clone());
        async move {
            pgsec(&[
                "audit",
                "--url",
                &url_a,
                "--url",
                &url_b,
                "--targets",
                &file_arg,
                "--target-timeout",
                "3s",
                "--concurrency",
                "2",
                "--format",
                format,
            ])
            .await
        }
    };

    let out = fleet("json").await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    for pw in &passwords {
        assert!(!stdout.contains(pw.as_str()) && !stderr.contains(pw.as_str()));
    }
    // Exit 2: two targets could not be audited.
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let summary = &doc["summary"];
    assert_eq!(summary["targets"], 4, "{summary}");
    assert_eq!(summary["audited"], 2, "{summary}");
    assert_eq!(summary["not_audited"], 2, "{summary}");
    assert_eq!(summary["exit_code"], 2, "{summary}");
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 4);
    for (t, port) in targets.iter().zip([a.info().port, b.info().port]) {
        assert_eq!(t["status"], "audited", "{t}");
        assert!(
            t["target"].as_str().unwrap().contains(&format!(":{port}/")),
            "{t}"
        );
        assert!(t["report"]["summary"]["total"].as_u64().is_some(), "{t}");
        assert!(t["report"]["findings"].as_array().is_some(), "{t}");
    }
    assert_eq!(targets[2]["status"], "error");
    let refused = targets[2]["error"].as_str().unwrap();
    assert!(refused.contains("is the server running"), "{refused}");
    assert_eq!(targets[3]["status"], "error");
    let hung = targets[3]["error"].as_str().unwrap();
    assert!(hung.contains("timed out after 3s"), "{hung}");
    assert!(
        targets[3]["target"]
            .as_str()
            .unwrap()
            .contains(&format!(":{}/", proxy.port())),
        "{}",
        targets[3]
    );

    // The same fleet as text and as SARIF: every target, the summary, the same code.
    let out = fleet("text").await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("FLEET SUMMARY (4 targets)"), "{stdout}");
    assert_eq!(stdout.matches("NOT AUDITED  ").count(), 2, "{stdout}");
    assert!(stdout.contains("2 audited ("), "{stdout}");
    assert!(stdout.contains("2 not audited; exit code 2"), "{stdout}");
    for pw in &passwords {
        assert!(!stdout.contains(pw.as_str()));
    }
    let out = fleet("sarif").await;
    assert_eq!(out.status.code(), Some(2));
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[0]["invocations"][0]["executionSuccessful"], true);
    assert_eq!(runs[3]["invocations"][0]["executionSuccessful"], false);
    let note = &runs[3]["invocations"][0]["toolExecutionNotifications"][0];
    assert_eq!(note["level"], "error");
    assert!(note["message"]["text"]
        .as_str()
        .unwrap()
        .contains("timed out"));

    // Only the servers that answer: no error, so the exit code is the findings' verdict.
    let out = pgsec(&[
        "audit", "--url", &url_a, "--url", &url_b, "--format", "json",
    ])
    .await;
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failing = doc["summary"]["failing"].as_u64().unwrap();
    assert_eq!(doc["summary"]["not_audited"], 0);
    let expected = if failing > 0 { 1 } else { 0 };
    assert_eq!(out.status.code(), Some(expected), "{}", doc["summary"]);
    let out = pgsec(&[
        "audit",
        "--url",
        &url_a,
        "--url",
        &url_b,
        "--format",
        "json",
        "--fail-on",
        "critical",
    ])
    .await;
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let code = i64::from(out.status.code().unwrap());
    assert_eq!(doc["summary"]["exit_code"].as_i64(), Some(code));
    assert!(code == 0 || code == 1);
    proxy.close().await;
}

#[tokio::test]
async fn max_findings_caps_the_listing_not_the_verdict() {
    let server = pgsec_testkit::shared().await.unwrap();
    let db = server.fresh_database().await.unwrap();
    let admin = db.admin_client().await.unwrap();
    // Twelve tenant tables without row-level security: twelve rls.disabled findings.
    admin
        .batch_execute(
            "DO $$ BEGIN FOR i IN 1..12 LOOP
               EXECUTE format('CREATE TABLE public.t%s (id int, tenant_id int)', i);
             END LOOP; END $$",
        )
        .await
        .unwrap();
    let url = db.admin_conninfo();
    let full = pgsec(&["audit", "--url", &url, "--format", "json"]).await;
    let full_doc: Value = serde_json::from_slice(&full.stdout).unwrap();
    let total = full_doc["findings"].as_array().unwrap().len();
    assert!(total >= 12, "{total}");

    let capped = pgsec(&[
        "audit",
        "--url",
        &url,
        "--format",
        "json",
        "--max-findings",
        "3",
    ])
    .await;
    assert_eq!(capped.status.code(), full.status.code());
    let doc: Value = serde_json::from_slice(&capped.stdout).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 3);
    assert_eq!(doc["findings_not_shown"].as_u64(), Some(total as u64 - 3));
    assert_eq!(doc["summary"]["total"].as_u64(), Some(total as u64));
    let counted: u64 = doc["counts_by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, total as u64);
    assert!(doc["counts_by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "rls.disabled" && c["count"].as_u64() >= Some(12)));

    let out = pgsec(&["audit", "--url", &url, "--max-findings", "3"]).await;
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), full.status.code());
    assert!(
        t.contains(&format!(
            "… {} more findings not shown (--max-findings 3)",
            total - 3
        )),
        "{t}"
    );
    assert!(t.contains("FINDINGS BY RULE"), "{t}");
    assert_eq!(t.matches("    fingerprint ").count(), 3, "{t}");

    let out = pgsec(&[
        "audit",
        "--url",
        &url,
        "--format",
        "sarif",
        "--max-findings",
        "3",
    ])
    .await;
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &log["runs"][0];
    assert_eq!(run["results"].as_array().unwrap().len(), 3);
    assert_eq!(
        run["properties"]["findingsNotShown"].as_u64(),
        Some(total as u64 - 3)
    );
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert!(notes.iter().any(|n| n["message"]["text"]
        .as_str()
        .unwrap()
        .contains("more results not shown")));
}
