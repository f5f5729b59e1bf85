//! `cargo +nightly fuzz run hba`: any bytes as a pg_hba.conf, for every version, with a
//! few in-memory files to include (one of them includes itself); what is parsed also
//! goes through the `pgsec hba parse` table, the evaluator and every report format.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pgsec_core::hba::{format_view_table, HbaFile, PgVersion};
use pgsec_core::render::{render, Format};
use pgsec_core::{evaluate, MemoryLoader, Policy, Snapshot};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let loader = MemoryLoader::new()
        .with_file("/d/users", "alice, @users\nbob\n")
        .with_file(
            "/d/more.conf",
            "include more.conf\nhost all @users all md5\n",
        )
        .with_file("/d/conf.d/a.conf", &*text);
    for major in 13..=17 {
        let Ok(version) = PgVersion::new(major) else {
            continue;
        };
        let file = HbaFile::parse(&text, Path::new("/d/pg_hba.conf"), version, &loader);
        let rows = file.to_view_rows(version);
        assert_eq!(rows.len(), file.lines.len());
        let _ = format_view_table(&rows, version);
        let _ = format_view_table(&file.to_view_rows_with_secrets(version), version);
        let snapshot = Snapshot::new("fuzz", 0)
            .with_pg_version(version)
            .with_hba(file);
        let report = evaluate(&snapshot, &Policy::default());
        for format in [Format::Text, Format::Json, Format::Sarif] {
            let _ = render(&report, format, true);
        }
    }
});
