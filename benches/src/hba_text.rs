//! A generated `pg_hba.conf` for the parser benchmark.

use std::fmt::Write as _;

/// SplitMix64: a fixed, dependency-free sequence, so every run parses the same file.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A `pg_hba.conf` of exactly `lines` lines (PostgreSQL 16 syntax), the same for the
/// same `lines` and `seed`.
///
/// About one line in ten is a comment or blank; the records mix every connection type
/// except `hostgssenc`, database and user lists, `+group`s, `sameuser`, regular
/// expressions, CIDR, address-and-mask, IPv6, host-name and `samenet` addresses,
/// `scram-sha-256`, `md5`, `cert`, `ldap` (with quoted options), `peer` and `reject`,
/// and trailing comments. Every record is one the server accepts. The last line is a
/// catch-all `reject` (when `lines` > 0).
#[must_use]
pub fn hba_text(lines: usize, seed: u64) -> String {
    let mut mix = Mix(seed);
    let mut out = String::with_capacity(lines * 64);
    for i in 0..lines {
        if i + 1 == lines {
            out.push_str(
                "host    all             all             0.0.0.0/0               reject\n",
            );
            break;
        }
        let a = mix.below(500);
        let b = mix.below(2000);
        let x = mix.below(256);
        let y = mix.below(256);
        let _ = match mix.below(40) {
            0..=2 => writeln!(out, "# tenant block {i}: reviewed by the platform team"),
            3 => writeln!(out),
            4 => writeln!(out, "local   db_{a}          app_{b}         peer"),
            5..=11 => writeln!(
                out,
                "hostssl db_{a}          app_{b}         10.{x}.{y}.0/24          scram-sha-256"
            ),
            12..=15 => writeln!(
                out,
                "hostssl db_{a},db_{}    +group_{}       172.{}.{y}.0/24          scram-sha-256  # shared",
                (a + 1) % 500,
                b % 50,
                16 + x % 16
            ),
            16..=18 => writeln!(
                out,
                "host    db_{a}          app_{b}         192.168.{x}.{y}/32      md5"
            ),
            19..=20 => writeln!(out, "hostnossl all           all             10.{x}.0.0/16           reject"),
            21..=23 => writeln!(
                out,
                "hostssl all             app_{b}         2001:db8:{x:x}{y:02x}::/48     scram-sha-256"
            ),
            24..=25 => writeln!(
                out,
                "hostssl db_{a}          app_{b}         10.{x}.{y}.{} 255.255.255.255 cert clientcert=verify-full",
                mix.below(256)
            ),
            26 => writeln!(
                out,
                "hostssl replication     repl_{}          10.{x}.{y}.0/24          scram-sha-256",
                b % 20
            ),
            27..=29 => writeln!(
                out,
                "hostssl db_{a}          app_{b}         .host{x}.example.com    scram-sha-256"
            ),
            30..=31 => writeln!(
                out,
                "hostssl db_{a}          \"/^tenant_{x}_[a-z]+$\" 10.{x}.{y}.0/24  scram-sha-256"
            ),
            32..=33 => writeln!(
                out,
                "host    db_{a}          app_{b}         10.{x}.{y}.0/24          ldap ldapserver=ldap{}.example.com ldapbasedn=\"dc=example, dc=com\" ldapsearchattribute=uid",
                x % 4
            ),
            34 => writeln!(out, "hostssl sameuser        all             samenet                 scram-sha-256"),
            _ => writeln!(
                out,
                "hostssl \"db {a}\"        \"App {b}\"       10.{x}.{y}.0/24          scram-sha-256"
            ),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use pgsec_core::hba::{HbaFile, MemoryLoader, PgVersion};

    use super::*;

    #[test]
    fn exact_line_count_and_deterministic() {
        for n in [0, 1, 2, 10, 1000] {
            let text = hba_text(n, 7);
            assert_eq!(text.lines().count(), n, "{n} lines");
            assert_eq!(text, hba_text(n, 7));
        }
        assert_ne!(hba_text(1000, 7), hba_text(1000, 8));
        assert!(hba_text(3, 1).ends_with("0.0.0.0/0               reject\n"));
    }

    #[test]
    fn every_record_parses_on_16() {
        let text = hba_text(5000, 42);
        let version = PgVersion::new(16).unwrap();
        let file = HbaFile::parse(
            &text,
            Path::new("pg_hba.conf"),
            version,
            &MemoryLoader::new(),
        );
        let errors: Vec<_> = file
            .errors()
            .map(|(l, e)| (l.line_number, e.to_owned()))
            .collect();
        assert!(errors.is_empty(), "{:?}", &errors[..errors.len().min(5)]);
        let records = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(file.rules().count(), records);
        // The mix is there: regular expressions, IPv6, host names, LDAP, cert.
        for needle in [
            "\"/^tenant_",
            "2001:db8:",
            ".example.com",
            "ldapserver=",
            " cert ",
            "samenet",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
    }
}
