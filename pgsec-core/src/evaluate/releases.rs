//! `rt.security_release`: the server's minor release against the security releases
//! pgsec knows of (`data/security-releases.toml`, compiled in: checked offline).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{need, Eval};
use crate::report::Location;

/// The data file, compiled in.
const DATA: &str = include_str!("../../data/security-releases.toml");

/// One coordinated security release.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Release {
    date: String,
    /// First fixed version per major (`"17.6"`).
    fixed: Vec<String>,
    cves: Vec<String>,
    impact: String,
    /// CVEs that concern only some majors.
    #[serde(default)]
    only: BTreeMap<String, Vec<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Data {
    release: Vec<Release>,
}

/// A `major.minor` version.
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The releases, parsed and checked once; the error names what is wrong with the file.
fn releases() -> Result<&'static [Release], &'static str> {
    static PARSED: OnceLock<Result<Vec<Release>, String>> = OnceLock::new();
    PARSED
        .get_or_init(|| {
            let data: Data = toml::from_str(DATA)
                .map_err(|e| format!("pgsec's security-release data does not parse: {e}"))?;
            for r in &data.release {
                if let Some(bad) = r.fixed.iter().find(|v| parse_version(v).is_none()) {
                    return Err(format!(
                        "pgsec's security-release data has a bad version {bad:?} ({})",
                        r.date
                    ));
                }
            }
            Ok(data.release)
        })
        .as_deref()
        .map_err(String::as_str)
}

/// What a server of `major.minor` misses: each later release's fixed version, date,
/// CVEs (those of its major) and impact, oldest first.
fn missed(releases: &[Release], major: u32, minor: u32) -> Vec<(u32, &Release, Vec<&str>)> {
    let mut out: Vec<(u32, &Release, Vec<&str>)> = releases
        .iter()
        .filter_map(|r| {
            let fixed_minor = r
                .fixed
                .iter()
                .filter_map(|v| parse_version(v))
                .find(|(m, _)| *m == major)
                .map(|(_, n)| n)?;
            (minor < fixed_minor).then(|| {
                let cves = r
                    .cves
                    .iter()
                    .filter(|c| r.only.get(*c).is_none_or(|majors| majors.contains(&major)))
                    .map(String::as_str)
                    .collect();
                (fixed_minor, r, cves)
            })
        })
        .collect();
    out.sort_by_key(|(m, _, _)| *m);
    out
}

/// `rt.security_release`: the minor release is older than the newest security release
/// pgsec knows for the major.
pub(super) fn security_release(ev: &mut Eval<'_>) {
    let live = need!(ev, ev.live_or_skip());
    let v = need!(
        ev,
        live.server_version
            .get()
            .map_err(|r| format!("server version not collected: {r}"))
    );
    let releases = need!(ev, releases());
    let (major, minor) = (v.major(), v.num % 100);
    let known = releases.iter().any(|r| {
        r.fixed
            .iter()
            .filter_map(|x| parse_version(x))
            .any(|(m, _)| m == major)
    });
    if !known {
        let newest = releases.iter().map(|r| r.date.as_str()).max().unwrap_or("");
        ev.skip(format!(
            "pgsec knows no security release of PostgreSQL {major} (its data ends on {newest})"
        ));
        return;
    }
    let missed = missed(releases, major, minor);
    let Some((newest_minor, newest, _)) = missed.last() else {
        return;
    };
    let target = format!("{major}.{newest_minor}");
    let mut evidence = format!(
        "PostgreSQL {} ({major}.{minor}) is older than {target} of {}, the newest security \
         release pgsec knows for {major}; it misses:",
        v.text, newest.date
    );
    for (m, r, cves) in &missed {
        evidence.push_str(&format!(
            " {major}.{m} ({}): {}: {};",
            r.date,
            cves.join(", "),
            r.impact
        ));
    }
    evidence.pop();
    ev.emit(
        format!("server/{major}.{minor}"),
        Location::object("server", v.text.clone()),
        evidence,
        format!(
            "Upgrade to PostgreSQL {target} or later (a minor release of the same major: update \
             the packages or image and restart; no dump and restore)"
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::snapshot::{Collected, ServerVersion};

    fn at(num: u32, text: &str) -> crate::Snapshot {
        live_snapshot(|l| l.server_version = Collected::Present(ServerVersion::new(num, text)))
    }

    #[test]
    fn the_data_file_parses_and_has_the_rls_fixes() {
        let r = releases().expect("data parses");
        assert!(r.len() >= 7);
        let find = |cve: &str| r.iter().find(|x| x.cves.iter().any(|c| c == cve)).unwrap();
        let leak = find("CVE-2025-8713");
        assert_eq!(leak.fixed, ["17.6", "16.10", "15.14", "14.19", "13.22"]);
        assert_eq!(leak.date, "2025-08-14");
        let rls = find("CVE-2024-10976");
        assert!(rls.fixed.contains(&"17.1".to_owned()));
        assert!(rls.fixed.contains(&"13.17".to_owned()));
        for x in r {
            assert!(!x.cves.is_empty() && !x.impact.is_empty() && !x.impact.contains('\n'));
            assert!(x.cves.iter().all(|c| c.starts_with("CVE-")));
            assert!(x.only.keys().all(|c| x.cves.contains(c)), "{}", x.date);
        }
    }

    #[test]
    fn an_old_minor_names_the_fixed_version_and_the_cves() {
        let r = run(&at(170005, "17.5 (Debian 17.5-1)"));
        let f = of(&r, "rt.security_release");
        assert_eq!(f.len(), 1);
        let e = f[0].evidence();
        assert!(e.contains("17.6 (2025-08-14): CVE-2025-8713"), "{e}");
        assert!(
            !e.contains("CVE-2024-10976"),
            "17.5 has the 2024 fixes: {e}"
        );
        assert!(e.contains("CVE-2026-6476"), "a 17 CVE: {e}");
        assert!(!e.contains("CVE-2026-2007"), "an 18-only CVE: {e}");
        assert!(f[0].remediation().contains("17.10 or later"));

        let r = run(&at(160004, "16.4"));
        let e = of(&r, "rt.security_release")[0].evidence().to_owned();
        assert!(e.contains("16.5 (2024-11-14): CVE-2024-10976"), "{e}");
        assert!(!e.contains("CVE-2026-6476"), "17+ only: {e}");
        assert!(e.contains("CVE-2026-6638"), "16+: {e}");
    }

    #[test]
    fn current_minors_and_unknown_majors() {
        // The kit's servers: Debian's 15.18, 17.12 and 18.6.
        for num in [150018, 170012, 180006, 170010, 140023] {
            assert_quiet(&run(&at(num, "x")), "rt.security_release");
        }
        let r = run(&at(130023, "13.23"));
        assert_quiet(&r, "rt.security_release");
        let r = run(&at(130021, "13.21"));
        assert!(of(&r, "rt.security_release")[0]
            .remediation()
            .contains("13.23"));
        // 18.0 predates 18.1.
        assert_eq!(
            of(&run(&at(180000, "18.0")), "rt.security_release").len(),
            1
        );
        let r = run(&at(190000, "19devel"));
        assert!(r.is_skipped("rt.security_release"));
        // A file audit cannot know the minor.
        assert!(run(&conf_snapshot(&["ssl = on"])).is_skipped("rt.security_release"));
    }
}
