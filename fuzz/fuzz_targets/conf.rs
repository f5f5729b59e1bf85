//! `cargo +nightly fuzz run conf`: any bytes as a postgresql.conf, with includes.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pgsec_core::conf::{ConfFile, ConfParseOptions};
use pgsec_core::MemoryLoader;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let loader = MemoryLoader::new()
        .with_file("/d/a.conf", "include 'b.conf'\nx = 1\n")
        .with_file("/d/b.conf", "include 'a.conf'\ninclude_dir 'conf.d'\n")
        .with_file("/d/conf.d/a.conf", &*text);
    let path = Path::new("/d/postgresql.conf");
    let file = ConfFile::parse(&text, path, &loader);
    let rows = file.to_file_settings_rows();
    assert_eq!(rows.len(), file.settings.len() + file.errors.len());
    let _ = ConfFile::parse_with(
        &text,
        path,
        &loader,
        &ConfParseOptions::file_settings_view(16),
    );
});
