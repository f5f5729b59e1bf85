//! `pg_hba_file_rules` and `pg_ident_file_mappings` rows → the file models, so the hba
//! rules run on what the server actually loaded.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Deserialize;

use crate::hba::{
    AuthMethod, ConnType, HbaAddress, HbaFile, HbaLine, HbaOption, HbaRule, HbaToken,
};
use crate::snapshot::IdentMapping;

/// One row of `pg_hba_file_rules` (`row_to_json`; `rule_number` and `file_name` from
/// PostgreSQL 16 on). No `Debug`: `options` holds secrets as the server shows them
/// (they become redacted [`HbaOption`]s in [`hba_file`]).
#[derive(Deserialize)]
pub(super) struct HbaRow {
    #[serde(default)]
    rule_number: Option<i64>,
    #[serde(default)]
    file_name: Option<String>,
    line_number: Option<i64>,
    #[serde(rename = "type")]
    conn_type: Option<String>,
    database: Option<Vec<String>>,
    user_name: Option<Vec<String>>,
    address: Option<String>,
    netmask: Option<String>,
    auth_method: Option<String>,
    options: Option<Vec<String>>,
    error: Option<String>,
}

/// The rows as an [`HbaFile`]. `hba_file` names the file when the server does not
/// (PostgreSQL 15 and older).
///
/// Quoting is not visible in the view: every database and user name is taken as
/// unquoted, so a role literally named `all` counts as the keyword (the stricter
/// reading).
pub(super) fn hba_file(rows: Vec<HbaRow>, hba_file: Option<&str>) -> HbaFile {
    let default_file = hba_file.unwrap_or("pg_hba.conf");
    let mut numbered = 0usize;
    let lines = rows
        .into_iter()
        .map(|row| {
            let file = row
                .file_name
                .clone()
                .unwrap_or_else(|| default_file.to_owned());
            let line = row
                .line_number
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0);
            if let Some(err) = row.error.clone() {
                return HbaLine::rejected(file, line, err);
            }
            numbered += 1;
            let rule_number = row
                .rule_number
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(numbered);
            let mut l = match rule(row) {
                Ok(r) => HbaLine::accepted(file, line, r),
                Err(why) => HbaLine::rejected(
                    file,
                    line,
                    format!("pgsec cannot interpret this row of pg_hba_file_rules: {why}"),
                ),
            };
            l.rule_number = Some(rule_number);
            l
        })
        .collect();
    HbaFile { lines }
}

fn rule(row: HbaRow) -> Result<HbaRule, String> {
    let conn_type = match row.conn_type.as_deref() {
        Some("local") => ConnType::Local,
        Some("host") => ConnType::Host,
        Some("hostssl") => ConnType::HostSsl,
        Some("hostnossl") => ConnType::HostNoSsl,
        Some("hostgssenc") => ConnType::HostGssEnc,
        Some("hostnogssenc") => ConnType::HostNoGssEnc,
        other => return Err(format!("connection type {other:?}")),
    };
    let method = match row.auth_method.as_deref() {
        Some("trust") => AuthMethod::Trust,
        Some("reject") => AuthMethod::Reject,
        Some("scram-sha-256") => AuthMethod::ScramSha256,
        Some("md5") => AuthMethod::Md5,
        Some("password") => AuthMethod::Password,
        Some("gss") => AuthMethod::Gss,
        Some("sspi") => AuthMethod::Sspi,
        Some("ident") => AuthMethod::Ident,
        Some("peer") => AuthMethod::Peer,
        Some("ldap") => AuthMethod::Ldap,
        Some("radius") => AuthMethod::Radius,
        Some("cert") => AuthMethod::Cert,
        Some("pam") => AuthMethod::Pam,
        Some("bsd") => AuthMethod::Bsd,
        Some("oauth") => AuthMethod::OAuth,
        other => return Err(format!("authentication method {other:?}")),
    };
    let tokens = |v: Option<Vec<String>>| -> Arc<[HbaToken]> {
        v.unwrap_or_default()
            .into_iter()
            .map(HbaToken::plain)
            .collect()
    };
    let address = if conn_type == ConnType::Local {
        None
    } else {
        Some(address(row.address.as_deref(), row.netmask.as_deref())?)
    };
    let mut r = HbaRule::new(
        conn_type,
        tokens(row.database),
        tokens(row.user_name),
        address,
        method,
    );
    r.options = row
        .options
        .unwrap_or_default()
        .into_iter()
        .map(|o| match o.split_once('=') {
            Some((k, v)) => HbaOption::new(k, v),
            None => HbaOption::new(o, ""),
        })
        .collect();
    Ok(r)
}

/// The view's `address` and `netmask` as an [`HbaAddress`].
fn address(addr: Option<&str>, mask: Option<&str>) -> Result<HbaAddress, String> {
    let Some(addr) = addr else {
        return Err("a host rule without an address".to_owned());
    };
    match addr {
        "all" => return Ok(HbaAddress::All),
        "samehost" => return Ok(HbaAddress::SameHost),
        "samenet" => return Ok(HbaAddress::SameNet),
        _ => {}
    }
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return Ok(HbaAddress::HostName(addr.to_owned()));
    };
    let mask: Option<IpAddr> = mask.and_then(|m| m.parse().ok());
    let prefix = match mask {
        None => Some(if ip.is_ipv4() { 32 } else { 128 }),
        Some(m) => contiguous_prefix(m),
    };
    match (prefix, mask) {
        (Some(p), _) => ipnet::IpNet::new(ip, p)
            .map(HbaAddress::Net)
            .map_err(|e| format!("address {addr}/{p}: {e}")),
        (None, Some(mask)) => Ok(HbaAddress::Masked { addr: ip, mask }),
        (None, None) => Err(format!("address {addr} without a usable mask")),
    }
}

/// The prefix length of a contiguous mask (`255.255.0.0` → 16), or `None`.
fn contiguous_prefix(mask: IpAddr) -> Option<u8> {
    let (bits, width) = match mask {
        IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32u32),
        IpAddr::V6(m) => (u128::from(m), 128u32),
    };
    let ones = bits.leading_ones();
    (bits.count_ones() == ones && ones <= width)
        .then(|| u8::try_from(ones).ok())
        .flatten()
}

/// One row of `pg_ident_file_mappings`.
#[derive(Debug, Deserialize)]
pub(super) struct IdentRow {
    #[serde(default)]
    file_name: Option<String>,
    line_number: Option<i64>,
    map_name: Option<String>,
    sys_name: Option<String>,
    pg_username: Option<String>,
    error: Option<String>,
}

pub(super) fn ident_mappings(rows: Vec<IdentRow>, ident_file: Option<&str>) -> Vec<IdentMapping> {
    rows.into_iter()
        .map(|r| IdentMapping {
            file: r
                .file_name
                .unwrap_or_else(|| ident_file.unwrap_or("pg_ident.conf").to_owned()),
            line_number: r
                .line_number
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0),
            map_name: r.map_name,
            system_user: r.sys_name,
            pg_user: r.pg_username,
            error: r.error,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(json: &str) -> Vec<HbaRow> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn view_rows_become_rules() {
        let file = hba_file(
            rows(
                r#"[
                {"line_number":1,"type":"local","database":["all"],"user_name":["postgres"],"address":null,"netmask":null,"auth_method":"peer","options":null,"error":null},
                {"line_number":2,"type":"host","database":["all"],"user_name":["all"],"address":"0.0.0.0","netmask":"0.0.0.0","auth_method":"trust","options":null,"error":null},
                {"line_number":3,"type":"hostssl","database":["app"],"user_name":["+staff"],"address":"10.1.0.0","netmask":"255.255.0.0","auth_method":"scram-sha-256","options":["clientcert=verify-ca"],"error":null},
                {"line_number":4,"type":"hostssl","database":["app"],"user_name":["app"],"address":"10.0.0.0","netmask":"255.0.255.0","auth_method":"md5","options":null,"error":null},
                {"line_number":5,"type":"host","database":["all"],"user_name":["all"],"address":".example.com","netmask":null,"auth_method":"reject","options":null,"error":null},
                {"line_number":6,"type":null,"database":null,"user_name":null,"address":null,"netmask":null,"auth_method":null,"options":null,"error":"invalid authentication method \"bogus\""},
                {"line_number":7,"type":"host","database":["all"],"user_name":["all"],"address":"::","netmask":"::","auth_method":"reject","options":null,"error":null}
            ]"#,
            ),
            Some("/etc/pg/pg_hba.conf"),
        );
        assert_eq!(file.lines.len(), 7);
        assert!(file.lines.iter().all(|l| &*l.file == "/etc/pg/pg_hba.conf"));
        let rules: Vec<&HbaRule> = file.rules().map(|(_, r)| r).collect();
        assert_eq!(rules.len(), 6);
        assert_eq!(rules[0].address, None);
        assert_eq!(
            rules[1].address,
            Some(HbaAddress::Net("0.0.0.0/0".parse().unwrap()))
        );
        assert_eq!(rules[1].method, AuthMethod::Trust);
        assert_eq!(
            rules[2].address,
            Some(HbaAddress::Net("10.1.0.0/16".parse().unwrap()))
        );
        assert_eq!(rules[2].users[0].text, "+staff");
        assert_eq!(rules[2].option("clientcert"), Some("verify-ca"));
        assert!(matches!(rules[3].address, Some(HbaAddress::Masked { .. })));
        assert_eq!(
            rules[4].address,
            Some(HbaAddress::HostName(".example.com".into()))
        );
        assert_eq!(
            rules[5].address,
            Some(HbaAddress::Net("::/0".parse().unwrap()))
        );
        let (line, err) = file.errors().next().unwrap();
        assert_eq!(line.line_number, 6);
        assert!(err.contains("bogus"));
        assert_eq!(line.rule_number, None);
        assert_eq!(file.lines[6].rule_number, Some(6));
    }

    #[test]
    fn secrets_the_view_shows_are_redacted() {
        let file = hba_file(
            rows(
                r#"[{"line_number":1,"type":"host","database":["all"],"user_name":["all"],"address":"10.0.0.0","netmask":"255.0.0.0","auth_method":"radius","options":["radiusservers=r","radiussecrets=pw-radius"],"error":null}]"#,
            ),
            None,
        );
        let (_, rule) = file.rules().next().unwrap();
        assert_eq!(rule.option("radiussecrets"), Some("<redacted>"));
        assert_eq!(rule.option("radiusservers"), Some("r"));
        assert!(!format!("{file:?}").contains("pw-radius"));
    }

    #[test]
    fn file_names_of_newer_servers_win() {
        let file = hba_file(
            rows(
                r#"[{"rule_number":1,"file_name":"/d/inc.conf","line_number":3,"type":"host","database":["all"],"user_name":["all"],"address":"samenet","netmask":null,"auth_method":"scram-sha-256","options":null,"error":null}]"#,
            ),
            None,
        );
        assert_eq!(&*file.lines[0].file, "/d/inc.conf");
        assert_eq!(
            file.rules().next().unwrap().1.address,
            Some(HbaAddress::SameNet)
        );
    }

    #[test]
    fn masks() {
        assert_eq!(
            contiguous_prefix("255.255.255.0".parse().unwrap()),
            Some(24)
        );
        assert_eq!(contiguous_prefix("0.0.0.0".parse().unwrap()), Some(0));
        assert_eq!(contiguous_prefix("255.0.255.0".parse().unwrap()), None);
        assert_eq!(
            contiguous_prefix("ffff:ffff:ffff::".parse().unwrap()),
            Some(48)
        );
    }
}
