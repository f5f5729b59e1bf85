//! Helpers for rule tests: hand-built snapshots. The hba and conf builders here are a
//! deliberately tiny test-only reader of simple lines, so rule tests do not depend on
//! the real parsers.

use std::collections::BTreeMap;

use crate::conf::{ConfFile, ConfSetting};
use crate::hba::{AuthMethod, ConnType, HbaAddress, HbaFile, HbaLine, HbaRule, HbaToken};
use crate::snapshot::{Collected, DatabaseFacts, LiveFacts, LiveSetting, SessionSetting};
use crate::{evaluate, Finding, Policy, Report, Snapshot};

/// A ConfFile from `name = value` lines (file `postgresql.conf`, line numbers from 1).
pub(crate) fn conf(lines: &[&str]) -> ConfFile {
    let mut settings: Vec<ConfSetting> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let (name, value) = l.split_once('=').expect("name = value");
        let value = value.trim().trim_matches('\'').to_owned();
        let name = name.trim().to_ascii_lowercase();
        for s in settings.iter_mut().filter(|s| s.name == name) {
            s.applied = false;
        }
        settings.push(ConfSetting {
            name,
            value,
            file: "postgresql.conf".to_owned(),
            line_number: i + 1,
            applied: true,
        });
    }
    ConfFile {
        settings,
        ..ConfFile::default()
    }
}

/// A file snapshot with this conf.
pub(crate) fn conf_snapshot(lines: &[&str]) -> Snapshot {
    Snapshot::new("test", 0).with_conf(conf(lines))
}

fn tokens(s: &str) -> Vec<HbaToken> {
    s.split(',')
        .map(
            |t| match t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                Some(q) => HbaToken {
                    text: q.to_owned(),
                    quoted: true,
                },
                None => HbaToken {
                    text: t.to_owned(),
                    quoted: false,
                },
            },
        )
        .collect()
}

fn method(s: &str) -> AuthMethod {
    match s {
        "trust" => AuthMethod::Trust,
        "reject" => AuthMethod::Reject,
        "scram-sha-256" => AuthMethod::ScramSha256,
        "md5" => AuthMethod::Md5,
        "password" => AuthMethod::Password,
        "ident" => AuthMethod::Ident,
        "peer" => AuthMethod::Peer,
        "cert" => AuthMethod::Cert,
        "ldap" => AuthMethod::Ldap,
        "gss" => AuthMethod::Gss,
        other => panic!("test method {other}"),
    }
}

/// One simple hba line (no continuation, no includes); `ERROR: text` makes an error line.
pub(crate) fn hba_line(n: usize, line: &str) -> HbaLine {
    if let Some(err) = line.strip_prefix("ERROR: ") {
        return HbaLine {
            file: "pg_hba.conf".into(),
            line_number: n,
            rule_number: None,
            result: Err(err.to_owned()),
        };
    }
    let f: Vec<&str> = line.split_whitespace().collect();
    let conn_type = match f[0] {
        "local" => ConnType::Local,
        "host" => ConnType::Host,
        "hostssl" => ConnType::HostSsl,
        "hostnossl" => ConnType::HostNoSsl,
        "hostgssenc" => ConnType::HostGssEnc,
        "hostnogssenc" => ConnType::HostNoGssEnc,
        other => panic!("test type {other}"),
    };
    let (address, rest) = if conn_type == ConnType::Local {
        (None, &f[3..])
    } else {
        let a = match f[3] {
            "all" => HbaAddress::All,
            "samehost" => HbaAddress::SameHost,
            "samenet" => HbaAddress::SameNet,
            s => match s.parse::<ipnet::IpNet>() {
                Ok(n) => HbaAddress::Net(n),
                Err(_) => HbaAddress::HostName(s.to_owned()),
            },
        };
        (Some(a), &f[4..])
    };
    let options = rest[1..]
        .iter()
        .filter_map(|o| o.split_once('='))
        .map(|(a, b)| crate::hba::HbaOption::new(a, b))
        .collect();
    HbaLine {
        file: "pg_hba.conf".into(),
        line_number: n,
        rule_number: Some(n),
        result: Ok(HbaRule {
            conn_type,
            databases: tokens(f[1]).into(),
            users: tokens(f[2]).into(),
            address,
            method: method(rest[0]),
            options,
        }),
    }
}

/// An HbaFile from simple lines (line numbers from 1).
pub(crate) fn hba(lines: &[&str]) -> HbaFile {
    HbaFile {
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, l)| hba_line(i + 1, l))
            .collect(),
    }
}

/// A file snapshot with this hba file.
pub(crate) fn hba_snapshot(lines: &[&str]) -> Snapshot {
    Snapshot::new("test", 0).with_hba(hba(lines))
}

/// A database with every collection present and empty.
pub(crate) fn db(name: &str) -> DatabaseFacts {
    let mut d = DatabaseFacts::new(name);
    d.schemas = Collected::Present(Vec::new());
    d.tables = Collected::Present(Vec::new());
    d.policies = Collected::Present(Vec::new());
    d.views = Collected::Present(Vec::new());
    d.functions = Collected::Present(Vec::new());
    d.extensions = Collected::Present(Vec::new());
    d.languages = Collected::Present(Vec::new());
    d.event_triggers = Collected::Present(Vec::new());
    d
}

/// Live facts with roles, settings, hba, the session's (unset) tenant setting and one
/// empty database `app` present.
pub(crate) fn live() -> LiveFacts {
    LiveFacts {
        roles: Collected::Present(Vec::new()),
        settings: Collected::Present(BTreeMap::new()),
        hba: Collected::Present(HbaFile::default()),
        stored_passwords: Collected::Present(BTreeMap::new()),
        db_role_settings: Collected::Present(Vec::new()),
        tenant_setting: Collected::Present(SessionSetting::new(
            "app.current_tenant_id",
            "app",
            None,
        )),
        databases: vec![db("app")],
        ..LiveFacts::default()
    }
}

/// Adds a live setting.
pub(crate) fn set(live: &mut LiveFacts, name: &str, value: &str) {
    if let Collected::Present(m) = &mut live.settings {
        m.insert(
            name.to_owned(),
            LiveSetting::new(name, value, "configuration file"),
        );
    }
}

/// A live snapshot built by `f`.
pub(crate) fn live_snapshot(f: impl FnOnce(&mut LiveFacts)) -> Snapshot {
    let mut l = live();
    f(&mut l);
    Snapshot::new("live", 0).with_live(l)
}

/// Runs with the default policy.
pub(crate) fn run(s: &Snapshot) -> Report {
    evaluate(s, &Policy::default())
}

/// The findings of rule `id`.
pub(crate) fn of<'a>(r: &'a Report, id: &'a str) -> Vec<&'a Finding> {
    r.findings_of(id).collect()
}

/// Asserts that `id` neither fired nor was skipped.
#[track_caller]
pub(crate) fn assert_quiet(r: &Report, id: &str) {
    assert!(of(r, id).is_empty(), "{id} fired: {:?}", of(r, id));
    assert!(!r.is_skipped(id), "{id} skipped: {:?}", r.skipped());
}
