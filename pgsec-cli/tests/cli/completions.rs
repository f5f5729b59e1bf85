//! `pgsec completions SHELL` and `pgsec man`: generated from the same clap definition,
//! so every subcommand is in them.

use super::{pgsec, stderr, stdout};

const SUBCOMMANDS: [&str; 6] = ["audit", "hba", "ping", "harden", "isolation", "demo"];

#[test]
fn bash_and_zsh_completions_name_every_subcommand() {
    let d = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh"] {
        let o = pgsec(&["completions", shell], d.path());
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        for sub in SUBCOMMANDS {
            assert!(
                script.contains(sub),
                "{shell} completion lacks {sub}:\n{script}"
            );
        }
        // Options of a nested subcommand and the global --color are completed too.
        assert!(script.contains("--max-findings"), "{shell}");
        assert!(script.contains("--color"), "{shell}");
    }
    let bash = stdout(&pgsec(&["completions", "bash"], d.path()));
    assert!(bash.contains("complete -F _pgsec"), "{bash}");
    let zsh = stdout(&pgsec(&["completions", "zsh"], d.path()));
    assert!(zsh.starts_with("#compdef pgsec"), "{zsh}");
}

#[test]
fn every_supported_shell_gets_a_script_and_others_are_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    for shell in ["fish", "elvish", "powershell"] {
        let o = pgsec(&["completions", shell], d.path());
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        assert!(stdout(&o).contains("isolation"), "{shell}");
    }
    let o = pgsec(&["completions", "tcsh"], d.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

#[test]
fn man_page_is_roff_and_mentions_every_subcommand() {
    let d = tempfile::tempdir().unwrap();
    let o = pgsec(&["man"], d.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.starts_with('.'), "not roff:\n{page}");
    assert!(
        page.lines().any(|l| l.starts_with(".TH pgsec 1")),
        "no .TH header:\n{page}"
    );
    for sub in SUBCOMMANDS {
        // roff escapes the hyphen: the SUBCOMMANDS section lists pgsec\-audit(1) …
        assert!(
            page.contains(&format!("pgsec\\-{sub}(1)")),
            "man page lacks {sub}:\n{page}"
        );
    }
    assert!(!page.contains('\x1b'), "escape codes in the man page");
}

#[test]
fn man_dir_writes_one_page_per_subcommand() {
    let d = tempfile::tempdir().unwrap();
    let o = pgsec(&["man", "--dir", "pages"], d.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let listed = stdout(&o);
    let dir = d.path().join("pages");
    let mut names: Vec<String> = SUBCOMMANDS.iter().map(|s| format!("pgsec-{s}.1")).collect();
    names.extend(["pgsec.1", "pgsec-hba-lint.1", "pgsec-hba-parse.1"].map(String::from));
    for name in &names {
        let page = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}; listed:\n{listed}"));
        let title = name.trim_end_matches(".1");
        assert!(
            page.contains(&format!(".TH {title} 1")),
            "{name} has no .TH {title}:\n{page}"
        );
        assert!(listed.contains(name), "{name} not listed:\n{listed}");
    }
    // No page for clap's `help` subcommand.
    assert!(!dir.join("pgsec-help.1").exists());
}
