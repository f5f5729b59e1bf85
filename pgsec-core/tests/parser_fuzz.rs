//! Robustness of both parsers: no input makes them panic, hang or recurse without
//! bound. Arbitrary text and bytes, text built from the characters the grammars care
//! about, very long lines, and include graphs with cycles and deep chains. Whatever
//! they parse also goes through the `hba parse` table, the evaluator and every report
//! format, and secret option values never come out of them.

use std::path::Path;

use pgsec_core::conf::{ConfFile, ConfParseOptions};
use pgsec_core::hba::{format_view_table, HbaFile, PgVersion};
use pgsec_core::render::{render, Format};
use pgsec_core::{evaluate, MemoryLoader, Policy, Snapshot};
use proptest::prelude::*;

const VERSIONS: [u32; 5] = [13, 14, 15, 16, 17];

fn hba_all_versions(text: &str, loader: &MemoryLoader) {
    for v in VERSIONS {
        let version = PgVersion::new(v).unwrap();
        let file = HbaFile::parse(text, Path::new("/d/pg_hba.conf"), version, loader);
        let rows = file.to_view_rows(version);
        assert_eq!(rows.len(), file.lines.len());
        serde_json::to_string(&rows).unwrap();
        let table = format_view_table(&rows, version);
        let count = if rows.len() == 1 {
            "(1 row)\n".to_owned()
        } else {
            format!("({} rows)\n", rows.len())
        };
        assert!(table.ends_with(&count), "{table}");
        for line in &file.lines {
            assert!(line.line_number >= 1);
        }
        if v == 16 {
            render_all(
                Snapshot::new("fuzz", 0)
                    .with_pg_version(version)
                    .with_hba(file),
            );
        }
    }
}

/// Every report format of the snapshot's evaluation.
fn render_all(snapshot: Snapshot) -> Vec<String> {
    let report = evaluate(&snapshot, &Policy::default());
    [Format::Text, Format::Json, Format::Sarif]
        .into_iter()
        .map(|f| render(&report, f, true))
        .collect()
}

fn conf_both_modes(text: &str, loader: &MemoryLoader) {
    let path = Path::new("/d/postgresql.conf");
    let file = ConfFile::parse(text, path, loader);
    let rows = file.to_file_settings_rows();
    assert_eq!(rows.len(), file.settings.len() + file.errors.len());
    render_all(Snapshot::new("fuzz", 0).with_conf(file.clone()));
    let view = ConfFile::parse_with(
        text,
        path,
        loader,
        &ConfParseOptions::file_settings_view(16),
    );
    // The view abandons a file at its first error, so it never sees more.
    assert!(view.errors.len() <= file.errors.len().max(1));
}

/// Text over the characters that matter to the two grammars.
fn grammar_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "host",
        "local",
        "hostssl",
        "all",
        "\"",
        "\"\"",
        ",",
        " ",
        "\t",
        "\n",
        "\r\n",
        "\\\n",
        "\\",
        "#",
        "@",
        "@x",
        "@a",
        "/",
        "1.2.3.4",
        "::1",
        "/24",
        "=",
        "md5",
        "trust",
        "ldap",
        "ldapurl=ldap://h/x?y?sub",
        "radius",
        "radiusservers=\"a,b\"",
        "include",
        "include_dir",
        "include_if_exists",
        "'",
        "''",
        "0x",
        "1e",
        ".",
        "+",
        "-",
        "é",
        "\0",
        "a.b",
        "{",
        "(",
        "[",
        "*",
        "map=",
        "clientcert=",
        "cert",
        "samehost",
        "10.1",
        "255.0.255.0",
        "%lo",
    ]);
    prop::collection::vec(pieces, 0..64).prop_map(|v| v.concat())
}

fn include_loader() -> MemoryLoader {
    MemoryLoader::new()
        .with_file("/d/x", "@a\nhost all all all trust\n")
        .with_file("/d/a", "a, @x, \"q\"\ninclude x\n")
        .with_file("/d/conf.d/a.conf", "include '../postgresql.conf'\n@a\n")
        .with_file("/d/include", "include 'include'\n")
        .with_file("/d/x.conf", "include 'x.conf'\ninclude_dir 'conf.d'\n")
}

proptest! {
    #[test]
    fn any_text(text in any::<String>()) {
        hba_all_versions(&text, &include_loader());
        conf_both_modes(&text, &include_loader());
    }

    #[test]
    fn any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        hba_all_versions(&text, &include_loader());
        conf_both_modes(&text, &include_loader());
    }

    #[test]
    fn grammar_shaped_text(text in grammar_text()) {
        hba_all_versions(&text, &include_loader());
        conf_both_modes(&text, &include_loader());
    }

    /// A secret option's value, on any line of grammar-shaped text, in any method's
    /// option list, stays out of the view, its table, `Debug` and every report.
    #[test]
    fn secrets_never_come_out(
        before in grammar_text(),
        after in grammar_text(),
        head in prop::sample::select(vec![
            "host all all 0.0.0.0/0 ldap ldapserver=h ldapbasedn=b",
            "host all all all ldap ldapprefix=a",
            "hostssl all all all radius radiusservers=\"a,b\"",
            "host all all all md5",
            "local all all",
        ]),
        name in prop::sample::select(vec!["ldapbindpasswd", "radiussecrets"]),
        secret in "Zq[a-z0-9]{6}(,Zq[a-z0-9]{6})?",
        quote in any::<bool>(),
    ) {
        let value = if quote { format!("\"{secret}\"") } else { secret.clone() };
        // The secret's line stays a line of its own (no continuation, no NUL joining it
        // to its neighbours), wherever its option lands in it.
        let clean = |t: &str| t.replace(['\\', '\0'], "");
        let (before, after) = (clean(&before), clean(&after));
        let text = format!("{before}\n{head} {name}={value}\n{after}\n");
        let loader = include_loader();
        for v in VERSIONS {
            let version = PgVersion::new(v).unwrap();
            let file = HbaFile::parse(&text, Path::new("/d/pg_hba.conf"), version, &loader);
            let rows = file.to_view_rows(version);
            let mut outputs = vec![
                format!("{file:?}"),
                format!("{rows:?}"),
                serde_json::to_string(&rows).unwrap(),
                format_view_table(&rows, version),
            ];
            outputs.extend(render_all(Snapshot::new("fuzz", 0).with_pg_version(version).with_hba(file)));
            for out in outputs {
                for part in secret.split(',') {
                    // Only where the secret could not come from the surrounding text.
                    if !before.contains(part) && !after.contains(part) {
                        prop_assert!(!out.contains(part), "{text:?} shows {part}: {out}");
                    }
                }
            }
        }
    }

}

proptest! {
    // Each case may open up to the parsers' file budget: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random include graphs: every file names some others (cycles included) through
    /// `@file`, `include`, `include_if_exists` and `include_dir`.
    #[test]
    fn include_graphs(edges in prop::collection::vec(prop::collection::vec(0usize..6, 0..4), 6)) {
        let mut hba = MemoryLoader::new();
        let mut conf = MemoryLoader::new();
        for (i, targets) in edges.iter().enumerate() {
            let mut h = String::from("host all ");
            let refs: Vec<String> = targets.iter().map(|t| format!("@f{t}")).collect();
            h.push_str(&if refs.is_empty() { "all".to_owned() } else { refs.join(",") });
            h.push_str(" all trust\n");
            let mut c = format!("s{i} = {i}\n");
            for t in targets {
                h.push_str(&format!("include f{t}\n"));
                c.push_str(&format!("include 'f{t}.conf'\ninclude_if_exists 'f{t}.conf'\n"));
            }
            c.push_str("include_dir 'd'\n");
            hba = hba.with_file(format!("/d/f{i}"), h);
            conf = conf
                .with_file(format!("/d/f{i}.conf"), c.clone())
                .with_file(format!("/d/d/f{i}.conf"), c);
        }
        hba_all_versions("host all @f0 all trust\ninclude f0\n", &hba);
        conf_both_modes("include 'f0.conf'\n", &conf);
    }
}

#[test]
fn huge_lines_terminate() {
    let long = "a".repeat(1 << 20);
    let hba = format!("host {long},{long} all 10.0.0.0/8 md5 map={long}\n");
    hba_all_versions(&hba, &MemoryLoader::new());
    let quoted = format!("host \"{long}\n");
    hba_all_versions(&quoted, &MemoryLoader::new());
    let continued = "host \\\n".repeat(50_000);
    hba_all_versions(&continued, &MemoryLoader::new());
    let conf = format!("x = '{long}'\ny = {long}\n'{long}\n");
    conf_both_modes(&conf, &MemoryLoader::new());
    let many_errors = "= = =\n".repeat(10_000);
    let file = ConfFile::parse(
        &many_errors,
        Path::new("/d/postgresql.conf"),
        &MemoryLoader::new(),
    );
    assert_eq!(
        file.errors.len(),
        100,
        "the server gives up after 100 syntax errors per file"
    );
}

#[test]
fn deep_chains_stop_at_the_nesting_limit() {
    // 10,000 files each including the next: the depth limit stops it long before the
    // stack could overflow.
    let mut hba = MemoryLoader::new();
    let mut conf = MemoryLoader::new();
    for i in 0..10_000 {
        hba = hba.with_file(format!("/d/f{i}"), format!("@f{}\n", i + 1));
        conf = conf.with_file(
            format!("/d/f{i}.conf"),
            format!("include 'f{}.conf'\n", i + 1),
        );
    }
    for v in VERSIONS {
        let version = PgVersion::new(v).unwrap();
        let file = HbaFile::parse(
            "host all @f0 all md5\n",
            Path::new("/d/pg_hba.conf"),
            version,
            &hba,
        );
        let err = file.lines[0].result.as_ref().unwrap_err();
        assert!(err.contains("maximum nesting depth exceeded"), "{err}");
        assert!(
            !err.contains("include cycle"),
            "a chain is not a cycle: {err}"
        );
    }
    let file = ConfFile::parse(
        "include 'f0.conf'\n",
        Path::new("/d/postgresql.conf"),
        &conf,
    );
    assert_eq!(file.errors.len(), 1);
    assert_eq!(file.errors[0].message, "nesting depth exceeded");
    // The error is on the include line at depth 10 (file f9 includes f10 at depth 11).
    assert_eq!(file.errors[0].file, "/d/f9.conf");
}

#[test]
fn cycles_are_errors_naming_the_cycle() {
    let hba = MemoryLoader::new()
        .with_file("/d/a", "@b\n")
        .with_file("/d/b", "@a\n")
        .with_file("/d/self.conf", "include self.conf\n");
    for v in VERSIONS {
        let version = PgVersion::new(v).unwrap();
        let file = HbaFile::parse(
            "host all @a all md5\n",
            Path::new("/d/pg_hba.conf"),
            version,
            &hba,
        );
        let err = file.lines[0].result.as_ref().unwrap_err();
        assert!(
            err.contains("(include cycle: /d/a -> /d/b -> /d/a)"),
            "{v}: {err}"
        );
        // ... and the view shows the server's own text, without the note.
        let row = &file.to_view_rows(version)[0];
        let shown = row.error.as_deref().unwrap();
        assert!(shown.ends_with("maximum nesting depth exceeded"), "{shown}");
    }
    let file = HbaFile::parse(
        "include self.conf\n",
        Path::new("/d/pg_hba.conf"),
        PgVersion::new(16).unwrap(),
        &hba,
    );
    let err = file.lines[0].result.as_ref().unwrap_err();
    assert!(
        err.contains("include cycle: /d/self.conf -> /d/self.conf"),
        "{err}"
    );

    let conf = MemoryLoader::new()
        .with_file("/d/a.conf", "x = 1\ninclude 'b.conf'\n")
        .with_file("/d/b.conf", "include 'a.conf'\n");
    let file = ConfFile::parse("include 'a.conf'\n", Path::new("/d/postgresql.conf"), &conf);
    assert_eq!(file.errors.len(), 1);
    assert!(file.errors[0]
        .message
        .contains("include cycle: /d/a.conf -> /d/b.conf -> /d/a.conf"));
    let rows = file.to_file_settings_rows();
    assert!(rows
        .iter()
        .any(|r| r.error.as_deref() == Some("nesting depth exceeded")));
}
