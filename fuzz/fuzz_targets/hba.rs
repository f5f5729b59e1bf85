//! `cargo +nightly fuzz run hba`: any bytes as a pg_hba.conf, for every version, with a
//! few in-memory files to include (one of them includes itself).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pgsec_core::hba::{HbaFile, PgVersion};
use pgsec_core::MemoryLoader;

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
    }
});
