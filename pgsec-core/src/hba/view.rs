//! The rows of the server's `pg_hba_file_rules` view (`fill_hba_line()` of
//! `hbafuncs.c`), so a parsed file can be diffed against a live server, and a
//! psql-like table of them.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::addr::format_addr;
use super::parse::{addr_and_mask, resolve_options};
use super::{HbaAddress, HbaFile, HbaParseOptions, PgVersion, CYCLE_NOTE};

/// One row of `pg_hba_file_rules`; `None` is SQL NULL.
///
/// `Debug` redacts the values of secret options whatever the row holds.
///
/// Serializes as a JSON object with the view's columns in the view's order:
/// `line_number, type, database, user_name, address, netmask, auth_method, options,
/// error`, preceded by `rule_number, file_name` for PostgreSQL 16 and later.
#[derive(Clone, PartialEq, Eq)]
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

impl fmt::Debug for HbaViewRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let options: Option<Vec<String>> = self.options.as_ref().map(|o| {
            o.iter()
                .map(|e| crate::secret::redact_hba_option_entry(e).into_owned())
                .collect()
        });
        f.debug_struct("HbaViewRow")
            .field("rule_number", &self.rule_number)
            .field("file_name", &self.file_name)
            .field("line_number", &self.line_number)
            .field("conn_type", &self.conn_type)
            .field("database", &self.database)
            .field("user_name", &self.user_name)
            .field("address", &self.address)
            .field("netmask", &self.netmask)
            .field("auth_method", &self.auth_method)
            .field("options", &options)
            .field("error", &self.error)
            .field("has_file_columns", &self.has_file_columns)
            .finish()
    }
}

impl HbaViewRow {
    /// The row with the values of secret options replaced by
    /// [`REDACTED`](crate::secret::REDACTED) (what [`HbaFile::to_view_rows`] returns),
    /// e.g. for a row read from the server, which shows them.
    #[must_use]
    pub fn redacted(mut self) -> Self {
        if let Some(options) = &mut self.options {
            for entry in options.iter_mut() {
                if let std::borrow::Cow::Owned(r) = crate::secret::redact_hba_option_entry(entry) {
                    *entry = r;
                }
            }
        }
        self
    }

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

/// Widest a column is padded to: a longer cell sticks out of its column instead of
/// widening every row (the table stays linear in the size of the rows).
const MAX_PADDED_WIDTH: usize = 64;

/// The rows as a psql-like table for `version`: a header, a rule, one line per row
/// (long cells kept whole), and the row count.
pub fn format_view_table(rows: &[HbaViewRow], version: PgVersion) -> String {
    let header: Vec<String> = HbaViewRow::columns(version)
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let body: Vec<Vec<String>> = rows.iter().map(HbaViewRow::cells).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &body {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count().min(MAX_PADDED_WIDTH));
        }
    }
    let mut out = String::new();
    let push_row = |out: &mut String, cells: &[String]| {
        let start = out.len();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str(" | ");
            }
            out.push_str(c);
            // Padding by hand: `{:<w$}` panics on a width above 65,535.
            let len = c.chars().count();
            out.extend(std::iter::repeat_n(' ', w.saturating_sub(len)));
        }
        let end = out[start..].trim_end().len() + start;
        out.truncate(end);
        out.push('\n');
    };
    push_row(&mut out, &header);
    for (i, w) in widths.iter().enumerate() {
        if i > 0 {
            out.push_str("-+-");
        }
        out.extend(std::iter::repeat_n('-', *w));
    }
    out.push('\n');
    for r in &body {
        push_row(&mut out, r);
    }
    out.push('(');
    out.push_str(&rows.len().to_string());
    out.push_str(if rows.len() == 1 {
        " row)\n"
    } else {
        " rows)\n"
    });
    out
}

pub(crate) fn view_rows(
    file: &HbaFile,
    opts: &HbaParseOptions,
    expose_secrets: bool,
) -> Vec<HbaViewRow> {
    let has_file_columns = opts.version.major() >= 16;
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
            row.options = resolve_options(rule, opts)
                .ok()
                .and_then(|r| r.render(rule.method, expose_secrets));
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
