//! `pgsec audit --config/--hba/--data-dir`: a snapshot of configuration files.

use std::path::Path;

use pgsec_core::conf::{ConfFile, ConfParseOptions};
use pgsec_core::hba::{HbaFile, HbaParseOptions};
use pgsec_core::snapshot::ServerTlsFiles;
use pgsec_core::Snapshot;

use super::args::{pg_version, AuditArgs};
use super::report::now;

fn read_conf(path: &Path, args: &AuditArgs) -> Result<ConfFile, String> {
    let options = ConfParseOptions::default().with_limits(args.input.limits());
    let conf = ConfFile::load_with(path, &options).map_err(|e| pgsec_core::display_chain(&e))?;
    for e in &conf.errors {
        eprintln!(
            "pgsec: warning: {}:{}: {}",
            e.file, e.line_number, e.message
        );
    }
    Ok(conf)
}

/// A snapshot of the files named on the command line.
pub(super) fn file_snapshot(args: &AuditArgs) -> Result<Snapshot, String> {
    if args.config.is_none() && args.hba.is_none() && args.data_dir.is_none() {
        return Err("nothing to audit: give --config, --hba and/or --data-dir".to_owned());
    }
    let version = pg_version(args.pg_version)?;
    let mut target = Vec::new();
    let mut snapshot = Snapshot::new(String::new(), now()).with_pg_version(version);
    let mut conf = match &args.config {
        Some(p) => {
            target.push(p.display().to_string());
            Some(read_conf(p, args)?)
        }
        None => None,
    };
    if let Some(dir) = &args.data_dir {
        if !dir.is_dir() {
            return Err(format!("--data-dir {} is not a directory", dir.display()));
        }
        target.push(dir.display().to_string());
        let auto = dir.join("postgresql.auto.conf");
        if auto.is_file() {
            let extra = read_conf(&auto, args)?;
            conf = Some(match conf {
                Some(mut c) => {
                    // The server reads postgresql.auto.conf last: its lines win.
                    for s in c.settings.iter_mut() {
                        if extra.settings.iter().any(|x| x.name == s.name) {
                            s.applied = false;
                        }
                    }
                    c.settings.extend(extra.settings);
                    c.errors.extend(extra.errors);
                    c
                }
                None => extra,
            });
        }
        snapshot =
            snapshot.with_server_tls_files(ServerTlsFiles::read_from_data_dir(dir, conf.as_ref()));
    }
    if let Some(c) = conf {
        snapshot = snapshot.with_conf(c);
    }
    if let Some(p) = &args.hba {
        target.push(p.display().to_string());
        let options = HbaParseOptions::new(version).with_limits(args.input.limits());
        let hba = HbaFile::load_with(p, &options).map_err(|e| pgsec_core::display_chain(&e))?;
        snapshot = snapshot.with_hba(hba);
    }
    snapshot.target = target.join(", ");
    if let Some(r) = &args.app_role {
        snapshot = snapshot.with_app_role(r.clone());
    }
    Ok(snapshot)
}
