//! `--color auto|always|never` and NO_COLOR: escape codes only in text, only when asked
//! or on a terminal. A terminal is made with util-linux `script`, which runs pgsec on a
//! pseudo-terminal and copies what it prints.

use std::path::Path;
use std::process::{Command, Stdio};

use super::{pgsec, stderr, stdout, write, WEAK_HBA};

const ESC: &str = "\x1b[";

/// What pgsec prints with its standard output on a terminal; `no_color` is NO_COLOR's
/// value (None: unset).
fn pgsec_on_terminal(args: &[&str], dir: &Path, no_color: Option<&str>) -> String {
    let mut line = format!("'{}'", env!("CARGO_BIN_EXE_pgsec"));
    for a in args {
        assert!(!a.contains('\''), "{a}");
        line.push_str(&format!(" '{a}'"));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("NO_COLOR");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let o = cmd
        .output()
        .expect("run `script` (util-linux; bsdutils on Debian)");
    // pgsec exits 1 on the weak file's findings; `script -e` passes the code on.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{args:?}: {:?}\n{}{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn weak_hba_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "pg_hba.conf", WEAK_HBA);
    d
}

#[test]
fn auto_colours_a_terminal_unless_no_color_is_set() {
    let d = weak_hba_dir();
    let lint = ["hba", "lint", "pg_hba.conf"];
    let out = pgsec_on_terminal(&lint, d.path(), None);
    assert!(out.contains("[critical]"), "{out}");
    assert!(out.contains(ESC), "auto on a terminal is coloured:\n{out}");
    let out = pgsec_on_terminal(&lint, d.path(), Some("1"));
    assert!(out.contains("[critical]"), "{out}");
    assert!(!out.contains(ESC), "NO_COLOR=1:\n{out}");
    // no-color.org: an empty NO_COLOR does not count.
    let out = pgsec_on_terminal(&lint, d.path(), Some(""));
    assert!(out.contains(ESC), "NO_COLOR empty:\n{out}");
}

#[test]
fn auto_does_not_colour_a_pipe() {
    let d = weak_hba_dir();
    let o = Command::new(env!("CARGO_BIN_EXE_pgsec"))
        .args(["hba", "lint", "pg_hba.conf"])
        .current_dir(d.path())
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("[critical]"), "{out}");
    assert!(!out.contains(ESC), "{out}");
}

#[test]
fn never_does_not_colour_a_terminal() {
    let d = weak_hba_dir();
    for args in [
        &["--color", "never", "hba", "lint", "pg_hba.conf"][..],
        &["hba", "lint", "--color=never", "pg_hba.conf"],
        &["--color", "never", "--help"],
        &["--color", "never", "hba", "lint", "--help"],
    ] {
        let out = pgsec_on_terminal(args, d.path(), None);
        assert!(!out.trim().is_empty(), "{args:?}");
        assert!(!out.contains(ESC), "{args:?}:\n{out}");
    }
}

#[test]
fn always_colours_text_into_a_pipe_despite_no_color() {
    let d = weak_hba_dir();
    // The helper sets NO_COLOR=1 and captures through a pipe: --color always wins.
    let o = pgsec(
        &["--color", "always", "hba", "lint", "pg_hba.conf"],
        d.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let critical = out
        .lines()
        .find(|l| l.contains("[critical]"))
        .unwrap_or_else(|| panic!("no critical finding:\n{out}"));
    assert!(
        critical.contains(ESC),
        "severity not coloured: {critical:?}"
    );
    // The flag goes after the subcommand too, and to clap's own help.
    let o = pgsec(
        &["audit", "--hba", "pg_hba.conf", "--color=always"],
        d.path(),
    );
    assert!(stdout(&o).contains(ESC));
    let o = pgsec(&["--color", "always", "--help"], d.path());
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains(ESC), "{}", stdout(&o));
}

#[test]
fn machine_formats_never_carry_escape_codes() {
    let d = weak_hba_dir();
    for format in ["json", "sarif", "html"] {
        let o = pgsec(
            &[
                "--color",
                "always",
                "hba",
                "lint",
                "pg_hba.conf",
                "--format",
                format,
            ],
            d.path(),
        );
        assert_eq!(o.status.code(), Some(1), "{format}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("hba.trust_network"), "{format}: {out}");
        assert!(!out.contains('\x1b'), "{format} has escape codes");
        if format != "html" {
            serde_json::from_str::<serde_json::Value>(&out)
                .unwrap_or_else(|e| panic!("{format}: {e}"));
        }
    }
    // Nor on a terminal under auto.
    let out = pgsec_on_terminal(
        &["hba", "lint", "pg_hba.conf", "--format", "json"],
        d.path(),
        None,
    );
    assert!(out.contains("hba.trust_network"), "{out}");
    assert!(!out.contains('\x1b'), "{out}");
}

#[test]
fn an_unknown_color_is_a_usage_error() {
    let d = weak_hba_dir();
    let o = pgsec(
        &["--color", "sometimes", "hba", "lint", "pg_hba.conf"],
        d.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--color"), "{}", stderr(&o));
}
