//! `pgsec demo` run as the built binary: exit 0, and every step's marker lines.
//!
//! The demo starts its own server through pgsec-testkit (container or local backend).

use std::process::Command;

#[test]
fn the_demo_runs_every_step_and_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_pgsec"))
        .args(["demo", "--cases", "64"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run pgsec demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "pgsec demo failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for n in 1..=9 {
        let header = format!("\n[{n}/9] ");
        let ok = format!("\n  ok [{n}/9] ");
        assert!(
            stdout.contains(&header),
            "no header for step {n}:\n{stdout}"
        );
        assert!(
            stdout.contains(&ok),
            "step {n} did not print its ok line:\n{stdout}"
        );
        assert!(
            stdout.find(&header) < stdout.find(&ok),
            "step {n}: ok line before its header:\n{stdout}"
        );
    }
    assert!(!stdout.contains("FAILED ["), "{stdout}");
    assert!(
        stdout.contains("pgsec demo: all 9 steps behaved as expected"),
        "{stdout}"
    );
    // What the steps show, not only that they ran.
    for needle in [
        "tls.ssl_off",
        "hba.trust_network",
        "rls.disabled",
        "nothing at medium or above",
        "inserting a row for globex: refused",
        "no isolation violation",
        "VIOLATION [",
        "not wrong.example",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?}:\n{stdout}");
    }
    // No password of the demo's roles is ever printed.
    assert!(!stdout.contains("password="), "{stdout}");
}

#[test]
fn a_zero_case_count_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_pgsec"))
        .args(["demo", "--cases", "0"])
        .output()
        .expect("run pgsec demo");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
