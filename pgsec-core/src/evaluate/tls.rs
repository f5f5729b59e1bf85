//! TLS and network rules: `tls.*`, `net.listen_all`.

use std::collections::BTreeSet;

use super::settings::Origin;
use super::{need, Eval};
use crate::hba::{AuthMethod, HbaRule};
use crate::pgvalue::utc_date;
use crate::report::Location;
use crate::snapshot::{CertificateFacts, Collected};
use crate::Severity;

/// `tls.ssl_off`: `ssl = off`.
pub(super) fn ssl_off(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("ssl"));
    match s.as_bool() {
        Some(true) => {}
        Some(false) => ev.emit(
            "ssl",
            s.location.clone(),
            s.describe(),
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'",
        ),
        None => ev.skip(format!("{} is not a boolean", s.describe())),
    }
}

/// `tls.min_protocol_weak`: `ssl_min_protocol_version` below TLSv1.2.
pub(super) fn min_protocol_weak(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("ssl_min_protocol_version"));
    let v = s.value.trim().to_ascii_lowercase();
    if matches!(v.as_str(), "" | "tlsv1" | "tlsv1.1") {
        let what = if v.is_empty() {
            "any version"
        } else {
            s.value.as_str()
        };
        ev.emit(
            "ssl_min_protocol_version",
            s.location.clone(),
            format!("{} admits {what}", s.describe()),
            "ssl_min_protocol_version = 'TLSv1.2'",
        );
    }
}

/// Weak suite classes an OpenSSL cipher string can admit.
const WEAK: &[&str] = &["MEDIUM", "3DES", "RC4", "NULL", "EXPORT", "aNULL", "LOW"];

/// The weak classes a cipher-string element selects (`None`: it does not narrow the
/// weak classes at all, e.g. `ECDHE` or `kRSA`).
fn element_classes(e: &str) -> Option<BTreeSet<&'static str>> {
    let set = |v: &[&'static str]| Some(v.iter().copied().collect::<BTreeSet<_>>());
    let upper = e.to_ascii_uppercase();
    match upper.as_str() {
        "ALL" => set(&["MEDIUM", "3DES", "RC4", "EXPORT", "aNULL", "LOW"]),
        "COMPLEMENTOFALL" | "ENULL" | "NULL" => set(&["NULL"]),
        "DEFAULT" => set(&["MEDIUM", "3DES"]),
        "COMPLEMENTOFDEFAULT" => set(&["aNULL"]),
        "HIGH" => set(&["aNULL"]),
        "MEDIUM" => set(&["MEDIUM", "3DES", "RC4", "aNULL"]),
        "LOW" | "DES" => set(&["LOW"]),
        "3DES" => set(&["3DES"]),
        "RC4" => set(&["RC4"]),
        "ANULL" | "ADH" | "AECDH" | "KEDH" => set(&["aNULL"]),
        _ if upper.starts_with("EXP") => set(&["EXPORT"]),
        // Cipher families exclude the weak ciphers except anonymous key exchange.
        "AES" | "AES128" | "AES256" | "AESGCM" | "AESCCM" | "AESCCM8" | "CHACHA20" | "CAMELLIA"
        | "CAMELLIA128" | "CAMELLIA256" | "ARIA" | "ARIA128" | "ARIA256" | "ARIAGCM" => {
            set(&["aNULL"])
        }
        // A single suite name (contains '-').
        _ if upper.contains('-') => {
            let mut s = BTreeSet::new();
            if upper.contains("NULL") {
                s.insert("NULL");
            }
            if upper.contains("RC4") {
                s.insert("RC4");
            }
            if upper.contains("DES-CBC3") || upper.contains("3DES") {
                s.insert("3DES");
            }
            if upper.starts_with("EXP") {
                s.insert("EXPORT");
            }
            if upper.starts_with("ADH") || upper.starts_with("AECDH") || upper.contains("ANON") {
                s.insert("aNULL");
            }
            Some(s)
        }
        _ => None,
    }
}

/// The weak classes an OpenSSL cipher string admits (`!x` removes for good, `-x`
/// removes until re-added, `+x` only reorders).
pub(crate) fn admitted_weak_classes(list: &str) -> BTreeSet<&'static str> {
    let mut admitted: BTreeSet<&'static str> = BTreeSet::new();
    let mut banned: BTreeSet<&'static str> = BTreeSet::new();
    for raw in list.split([':', ',', ' ', ';']).filter(|t| !t.is_empty()) {
        if raw.starts_with('@') {
            continue;
        }
        let (op, body) = match raw.chars().next() {
            Some(c @ ('!' | '-' | '+')) => (c, &raw[1..]),
            _ => (' ', raw),
        };
        // `A+B` is the intersection of A and B.
        let mut classes: Option<BTreeSet<&'static str>> = None;
        for part in body.split('+').filter(|p| !p.is_empty()) {
            if let Some(c) = element_classes(part) {
                classes = Some(match classes {
                    None => c,
                    Some(prev) => prev.intersection(&c).copied().collect(),
                });
            }
        }
        let classes =
            classes.unwrap_or_else(|| WEAK.iter().copied().filter(|c| *c != "NULL").collect());
        match op {
            '!' => {
                for c in &classes {
                    admitted.remove(c);
                    banned.insert(c);
                }
            }
            '-' => {
                for c in &classes {
                    admitted.remove(c);
                }
            }
            '+' => {}
            _ => admitted.extend(classes.iter().copied().filter(|c| !banned.contains(c))),
        }
    }
    admitted
}

/// `tls.weak_ciphers`: `ssl_ciphers` admits weak suites.
pub(super) fn weak_ciphers(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("ssl_ciphers"));
    let weak = admitted_weak_classes(&s.value);
    if weak.is_empty() {
        return;
    }
    let list: Vec<&str> = weak.into_iter().collect();
    let default_note = if s.value == "HIGH:MEDIUM:+3DES:!aNULL" {
        " (PostgreSQL's default cipher string)"
    } else {
        ""
    };
    ev.emit(
        "ssl_ciphers",
        s.location.clone(),
        format!(
            "{}{default_note} admits {} suites",
            s.describe(),
            list.join(", ")
        ),
        "ssl_ciphers = 'HIGH:!MEDIUM:!3DES:!aNULL:!eNULL:!RC4:!EXPORT:!LOW'",
    );
}

/// `tls.key_permissions`: the server key is readable by group or others.
pub(super) fn key_permissions(ev: &mut Eval<'_>) {
    let files = need!(
        ev,
        ev.snap
            .server_tls_files
            .get()
            .map_err(|r| format!("{r} (needs --data-dir)"))
    );
    let key = need!(ev, files.key.get().map_err(|r| format!("server key: {r}")));
    let mode = key.mode & 0o7777;
    // The server's own check (be-secure-common.c): owned by the server user, no group
    // or other bits; owned by root, group may read (0640) and nothing else.
    let bad = if key.owner_uid == 0 {
        mode & 0o037 != 0
    } else {
        mode & 0o077 != 0
    };
    if bad {
        let owner = if key.owner_uid == 0 {
            "root".to_owned()
        } else {
            format!("uid {}", key.owner_uid)
        };
        let want = if key.owner_uid == 0 { "0640" } else { "0600" };
        ev.emit(
            key.path.as_str(),
            Location::file(key.path.clone()),
            format!("{} has mode {mode:04o}, owned by {owner}", key.path),
            format!("chmod {want} '{}'", key.path),
        );
    }
}

/// The certificates to check: the data directory's and the client's peer certificate.
fn certificates<'a>(ev: &mut Eval<'a>) -> Vec<(String, Location, &'a CertificateFacts)> {
    let mut out = Vec::new();
    let mut reasons = Vec::new();
    match &ev.snap.server_tls_files {
        Collected::Present(f) => match &f.cert {
            Collected::Present(c) => out.push((
                c.path.clone(),
                Location::file(c.path.clone()),
                &c.certificate,
            )),
            Collected::NotCollected(r) => reasons.push(format!("server certificate file: {r}")),
        },
        Collected::NotCollected(r) => reasons.push(format!("server certificate file: {r}")),
    }
    match &ev.snap.client {
        Collected::Present(c) => match &c.peer_certificate {
            Some(cert) => out.push((
                format!("peer certificate of {}", c.host),
                Location::object("connection", c.host.clone()),
                cert,
            )),
            None => reasons.push("the client connection has no peer certificate".to_owned()),
        },
        Collected::NotCollected(r) => reasons.push(format!("peer certificate: {r}")),
    }
    if out.is_empty() {
        ev.skip(reasons.join("; "));
    }
    out
}

const DAY: i64 = 86_400;

/// `tls.cert_expiry`: expired (high) or expiring within 30 days (medium).
pub(super) fn cert_expiry(ev: &mut Eval<'_>) {
    let now = ev.snap.collected_at;
    for (what, loc, cert) in certificates(ev) {
        let end = utc_date(cert.not_after);
        if cert.not_after <= now {
            ev.emit_at(
                Severity::High,
                what.as_str(),
                loc,
                format!("{what} ({}) expired on {end}", cert.subject),
                "Renew the server certificate, install it as ssl_cert_file and run SELECT pg_reload_conf();",
            );
        } else if cert.not_after - now < 30 * DAY {
            let days = (cert.not_after - now) / DAY;
            ev.emit_at(
                Severity::Medium,
                what.as_str(),
                loc,
                format!("{what} ({}) expires on {end}, in {days} days", cert.subject),
                "Renew the server certificate before it expires, install it as ssl_cert_file and run SELECT pg_reload_conf();",
            );
        }
    }
}

/// `tls.cert_no_san`: the certificate has no subjectAltName.
pub(super) fn cert_no_san(ev: &mut Eval<'_>) {
    for (what, loc, cert) in certificates(ev) {
        if !cert.has_san() {
            ev.emit(
                what.as_str(),
                loc,
                format!("{what} ({}) has no DNS or IP subjectAltName", cert.subject),
                "Reissue the certificate with subjectAltName = DNS:<host name>[,IP:<address>] (e.g. openssl req -addext \"subjectAltName=DNS:db.example.com\").",
            );
        }
    }
}

/// True when an hba rule lets network clients in without authentication.
pub(crate) fn trusts_network(r: &HbaRule) -> bool {
    r.conn_type.is_network() && r.method == AuthMethod::Trust
}

/// `net.listen_all`: `listen_addresses = '*'` (high when an hba rule trusts the network).
pub(super) fn listen_all(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("listen_addresses"));
    let all = s
        .value
        .split(',')
        .map(str::trim)
        .any(|a| matches!(a, "*" | "0.0.0.0" | "::"));
    if !all {
        return;
    }
    let trusting = ev.hba().ok().and_then(|h| {
        h.lines.iter().find_map(|l| match &l.result {
            Ok(r) if trusts_network(r) => Some(format!("{}:{}", l.file, l.line_number)),
            _ => None,
        })
    });
    let (sev, extra) = match trusting {
        Some(at) => (
            Severity::High,
            format!("; raised to high because {at} trusts network clients"),
        ),
        None => (Severity::Low, String::new()),
    };
    let default_note = if s.origin == Origin::FileDefault {
        " (default)"
    } else {
        ""
    };
    ev.emit_at(
        sev,
        "listen_addresses",
        s.location.clone(),
        format!(
            "{}{default_note}: the server listens on every interface{extra}",
            s.describe()
        ),
        "listen_addresses = 'localhost,<the address clients use>'",
    );
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::snapshot::{
        CertFileFacts, ClientFacts, KeyFileFacts, ServerTlsFiles, TlsVerification, Transport,
    };
    use crate::{Location, Snapshot};

    #[test]
    fn ssl_off_fires_on_off_and_on_the_default() {
        let r = run(&conf_snapshot(&["ssl = off"]));
        let f = of(&r, "tls.ssl_off");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].location(), &Location::file_line("postgresql.conf", 1));
        let r = run(&conf_snapshot(&["log_connections = on"]));
        let f = of(&r, "tls.ssl_off");
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence().contains("not set") && f[0].evidence().contains("default"));
        assert_quiet(
            &run(&conf_snapshot(&["ssl = off", "ssl = on"])),
            "tls.ssl_off",
        );
    }

    #[test]
    fn ssl_off_live() {
        let r = run(&live_snapshot(|l| set(l, "ssl", "off")));
        assert_eq!(of(&r, "tls.ssl_off").len(), 1);
        assert_quiet(&run(&live_snapshot(|l| set(l, "ssl", "on"))), "tls.ssl_off");
        let s = live_snapshot(|l| l.settings = crate::Collected::not_collected("no access"));
        assert!(run(&s).is_skipped("tls.ssl_off"));
    }

    #[test]
    fn min_protocol() {
        assert_eq!(
            of(
                &run(&conf_snapshot(&["ssl_min_protocol_version = 'TLSv1'"])),
                "tls.min_protocol_weak"
            )
            .len(),
            1
        );
        assert_eq!(
            of(
                &run(&conf_snapshot(&["ssl_min_protocol_version = ''"])),
                "tls.min_protocol_weak"
            )
            .len(),
            1
        );
        assert_quiet(&run(&conf_snapshot(&["ssl = on"])), "tls.min_protocol_weak");
        assert_quiet(
            &run(&conf_snapshot(&["ssl_min_protocol_version = 'TLSv1.3'"])),
            "tls.min_protocol_weak",
        );
    }

    #[test]
    fn cipher_strings() {
        let d = admitted_weak_classes("HIGH:MEDIUM:+3DES:!aNULL");
        assert!(
            d.contains("MEDIUM") && d.contains("3DES") && !d.contains("aNULL"),
            "{d:?}"
        );
        assert!(admitted_weak_classes("HIGH:!aNULL").is_empty());
        assert!(
            admitted_weak_classes("HIGH:!MEDIUM:!3DES:!aNULL:!eNULL:!RC4:!EXPORT:!LOW").is_empty()
        );
        assert!(admitted_weak_classes("ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL").is_empty());
        assert!(
            admitted_weak_classes("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256")
                .is_empty()
        );
        assert!(admitted_weak_classes("HIGH").contains("aNULL"));
        assert!(admitted_weak_classes("HIGH:!aNULL:RC4-SHA").contains("RC4"));
        assert!(admitted_weak_classes("ALL:!aNULL").contains("MEDIUM"));
        assert!(admitted_weak_classes("eNULL").contains("NULL"));
        assert!(admitted_weak_classes("HIGH:-aNULL:ADH-AES256-SHA").contains("aNULL"));
        assert!(!admitted_weak_classes("HIGH:!aNULL:ADH-AES256-SHA").contains("aNULL"));
        assert!(admitted_weak_classes("EXP-RC4-MD5").contains("EXPORT"));
    }

    #[test]
    fn weak_ciphers_fire_on_the_default_and_unset() {
        let r = run(&conf_snapshot(&[
            "ssl_ciphers = 'HIGH:MEDIUM:+3DES:!aNULL'",
        ]));
        assert!(of(&r, "tls.weak_ciphers")[0]
            .evidence()
            .contains("default cipher string"));
        let r = run(&conf_snapshot(&["ssl = on"]));
        assert!(of(&r, "tls.weak_ciphers")[0].evidence().contains("not set"));
        assert_quiet(
            &run(&conf_snapshot(&["ssl_ciphers = 'HIGH:!aNULL:!MEDIUM'"])),
            "tls.weak_ciphers",
        );
    }

    fn key_snapshot(mode: u32, uid: u32) -> Snapshot {
        Snapshot::new("t", 0).with_server_tls_files(ServerTlsFiles::new(
            crate::Collected::not_collected("no certificate"),
            crate::Collected::Present(KeyFileFacts::new("/data/server.key", mode, uid)),
        ))
    }

    #[test]
    fn key_permissions_follow_the_servers_check() {
        assert_eq!(
            of(&run(&key_snapshot(0o644, 999)), "tls.key_permissions").len(),
            1
        );
        assert_eq!(
            of(&run(&key_snapshot(0o640, 999)), "tls.key_permissions").len(),
            1
        );
        assert_eq!(
            of(&run(&key_snapshot(0o644, 0)), "tls.key_permissions").len(),
            1
        );
        assert_quiet(&run(&key_snapshot(0o600, 999)), "tls.key_permissions");
        assert_quiet(&run(&key_snapshot(0o640, 0)), "tls.key_permissions");
        assert_quiet(&run(&key_snapshot(0o400, 999)), "tls.key_permissions");
        assert!(run(&conf_snapshot(&["ssl = on"])).is_skipped("tls.key_permissions"));
    }

    fn cert(not_after: i64, sans: &[&str]) -> CertificateFacts {
        let mut c = CertificateFacts::new("CN=db", 0, not_after);
        c.dns_sans = sans.iter().map(|s| s.to_string()).collect();
        c
    }

    fn cert_snapshot(now: i64, c: CertificateFacts) -> Snapshot {
        Snapshot::new("t", now).with_server_tls_files(ServerTlsFiles::new(
            crate::Collected::Present(CertFileFacts::new("/data/server.crt", c)),
            crate::Collected::not_collected("no key"),
        ))
    }

    #[test]
    fn cert_expiry_grades_expired_and_soon() {
        let now = 1_700_000_000;
        let r = run(&cert_snapshot(now, cert(now - 1, &["db"])));
        assert_eq!(of(&r, "tls.cert_expiry")[0].severity(), Severity::High);
        let r = run(&cert_snapshot(now, cert(now + 10 * DAY, &["db"])));
        let f = of(&r, "tls.cert_expiry");
        assert_eq!(f[0].severity(), Severity::Medium);
        assert!(
            f[0].evidence().contains("in 10 days"),
            "{}",
            f[0].evidence()
        );
        assert_quiet(
            &run(&cert_snapshot(now, cert(now + 90 * DAY, &["db"]))),
            "tls.cert_expiry",
        );
    }

    #[test]
    fn cert_facts_from_the_client() {
        let now = 1_700_000_000;
        let client = ClientFacts::new(
            "db.example.com",
            Transport::Tcp,
            "verify-full",
            TlsVerification::ChainAndHost,
        )
        .with_peer_certificate(cert(now - DAY, &[]));
        let r = run(&Snapshot::new("t", now).with_client(client));
        assert_eq!(of(&r, "tls.cert_expiry").len(), 1);
        assert_eq!(of(&r, "tls.cert_no_san").len(), 1);
        assert!(of(&r, "tls.cert_no_san")[0]
            .evidence()
            .contains("peer certificate of db.example.com"));
    }

    #[test]
    fn cert_no_san() {
        assert_eq!(
            of(
                &run(&cert_snapshot(0, cert(i64::MAX, &[]))),
                "tls.cert_no_san"
            )
            .len(),
            1
        );
        assert_quiet(
            &run(&cert_snapshot(0, cert(i64::MAX, &["db.example.com"]))),
            "tls.cert_no_san",
        );
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
    }

    #[test]
    fn listen_all_is_raised_by_trust_lines() {
        let mut s = conf_snapshot(&["listen_addresses = '*'"]);
        let r = run(&s);
        assert_eq!(of(&r, "net.listen_all")[0].severity(), Severity::Low);
        s.hba = crate::Collected::Present(hba(&["host all all 10.0.0.0/8 trust"]));
        let r = run(&s);
        assert_eq!(of(&r, "net.listen_all")[0].severity(), Severity::High);
        assert!(of(&r, "net.listen_all")[0]
            .evidence()
            .contains("pg_hba.conf:1"));
        assert_quiet(
            &run(&conf_snapshot(&[
                "listen_addresses = 'localhost, 10.0.0.5'",
            ])),
            "net.listen_all",
        );
        assert_quiet(&run(&conf_snapshot(&["ssl = on"])), "net.listen_all");
    }
}
