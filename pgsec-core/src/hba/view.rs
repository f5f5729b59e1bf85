//! The rows of the server's `pg_hba_file_rules` view (`fill_hba_line()` of
//! `hbafuncs.c`), so a parsed file can be diffed against a live server.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::addr::format_addr;
use super::parse::{addr_and_mask, resolve_options};
use super::{HbaAddress, HbaFile, HbaParseOptions, PgVersion, CYCLE_NOTE};

/// One row of `pg_hba_file_rules`; `None` is SQL NULL.
///
/// Serializes as a JSON object with the view's columns in the view's order:
/// `line_number, type, database, user_name, address, netmask, auth_method, options,
/// error`, preceded by `rule_number, file_name` for PostgreSQL 16 and later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaViewRow {
    /// `rule_number` (16+): position among rules without an error.
    pub rule_number: Option<i64>,
    /// `file_name` (16+): the file the line is in.
    pub file_name: Option<String>,
    /// `line_number`.
    pub line_number: i64,
    /// `type`.
    pub conn_type: Option<String>,
    /// `database`.
    pub database: Option<Vec<String>>,
    /// `user_name`.
    pub user_name: Option<Vec<String>>,
    /// `address`.
    pub address: Option<String>,
    /// `netmask`.
    pub netmask: Option<String>,
    /// `auth_method`.
    pub auth_method: Option<String>,
    /// `options`, including the defaults the server adds.
    pub options: Option<Vec<String>>,
    /// `error`.
    pub error: Option<String>,
    /// Whether the version has the `rule_number` and `file_name` columns.
    pub has_file_columns: bool,
}

impl Serialize for HbaViewRow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let n = if self.has_file_columns { 11 } else { 9 };
        let mut map = serializer.serialize_map(Some(n))?;
        if self.has_file_columns {
            map.serialize_entry("rule_number", &self.rule_number)?;
            map.serialize_entry("file_name", &self.file_name)?;
        }
        map.serialize_entry("line_number", &self.line_number)?;
        map.serialize_entry("type", &self.conn_type)?;
        map.serialize_entry("database", &self.database)?;
        map.serialize_entry("user_name", &self.user_name)?;
        map.serialize_entry("address", &self.address)?;
        map.serialize_entry("netmask", &self.netmask)?;
        map.serialize_entry("auth_method", &self.auth_method)?;
        map.serialize_entry("options", &self.options)?;
        map.serialize_entry("error", &self.error)?;
        map.end()
    }
}

impl HbaViewRow {
    /// The column names of the view for `version`, in order.
    pub fn columns(version: PgVersion) -> &'static [&'static str] {
        const OLD: &[&str] = &[
            "line_number",
            "type",
            "database",
            "user_name",
            "address",
            "netmask",
            "auth_method",
            "options",
            "error",
        ];
        const NEW: &[&str] = &[
            "rule_number",
            "file_name",
            "line_number",
            "type",
            "database",
            "user_name",
            "address",
            "netmask",
            "auth_method",
            "options",
            "error",
        ];
        if version.major() >= 16 {
            NEW
        } else {
            OLD
        }
    }

    /// The row's cells as display text (NULL as an empty cell, arrays as `{a,b}`).
    pub fn cells(&self) -> Vec<String> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let arr = |v: &Option<Vec<String>>| {
            v.as_ref()
                .map(|a| format!("{{{}}}", a.join(",")))
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        if self.has_file_columns {
            out.push(self.rule_number.map(|n| n.to_string()).unwrap_or_default());
            out.push(opt(&self.file_name));
        }
        out.push(self.line_number.to_string());
        out.push(opt(&self.conn_type));
        out.push(arr(&self.database));
        out.push(arr(&self.user_name));
        out.push(opt(&self.address));
        out.push(opt(&self.netmask));
        out.push(opt(&self.auth_method));
        out.push(arr(&self.options));
        out.push(opt(&self.error));
        out
    }
}

pub(crate) fn view_rows(file: &HbaFile, version: PgVersion) -> Vec<HbaViewRow> {
    let has_file_columns = version.major() >= 16;
    let opts = HbaParseOptions::new(version);
    let mut rule_number: i64 = 0;
    let mut rows = Vec::with_capacity(file.lines.len());
    for line in &file.lines {
        // An error line with a rule number is one the server only logs.
        let error = match &line.result {
            Err(msg) if line.rule_number.is_none() => Some(server_text(msg).to_owned()),
            _ => None,
        };
        if error.is_none() {
            rule_number += 1;
        }
        let mut row = HbaViewRow {
            rule_number: (has_file_columns && error.is_none()).then_some(rule_number),
            file_name: has_file_columns.then(|| line.file.to_string()),
            line_number: i64::try_from(line.line_number).unwrap_or(i64::MAX),
            conn_type: None,
            database: None,
            user_name: None,
            address: None,
            netmask: None,
            auth_method: None,
            options: None,
            error,
            has_file_columns,
        };
        if let Ok(rule) = &line.result {
            row.conn_type = Some(rule.conn_type.as_str().to_owned());
            row.database = Some(rule.databases.iter().map(|t| t.text.clone()).collect());
            row.user_name = Some(rule.users.iter().map(|t| t.text.clone()).collect());
            match &rule.address {
                None => {}
                Some(HbaAddress::All) => row.address = Some("all".to_owned()),
                Some(HbaAddress::SameHost) => row.address = Some("samehost".to_owned()),
                Some(HbaAddress::SameNet) => row.address = Some("samenet".to_owned()),
                Some(HbaAddress::HostName(h)) => row.address = Some(h.clone()),
                Some(a) => {
                    if let Some((addr, mask)) = addr_and_mask(a) {
                        row.address = Some(format_addr(addr));
                        row.netmask = Some(format_addr(mask));
                    }
                }
            }
            row.auth_method = Some(rule.method.as_str().to_owned());
            row.options = resolve_options(rule, &opts)
                .ok()
                .and_then(|r| r.render(rule.method));
        }
        rows.push(row);
    }
    rows
}

/// The server's message without the include-cycle note pgsec appends.
fn server_text(msg: &str) -> &str {
    match msg.rfind(CYCLE_NOTE) {
        Some(i) if msg.ends_with(')') => &msg[..i],
        _ => msg,
    }
}
