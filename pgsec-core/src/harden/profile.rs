//! The hardening profile: a small TOML file, read once into validated types.

use std::fmt;

use serde::Deserialize;

use crate::Error;

/// An SQL identifier pgsec may splice into configuration and SQL: 1 to 63 bytes of
/// ASCII letters, digits and `_`, not starting with a digit.
///
/// The narrow alphabet is deliberate: such a name needs no escaping in `pg_hba.conf`,
/// inside a dollar-quoted block or in a string literal, so the generated files cannot be
/// broken out of by a profile value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident(String);

impl Ident {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`Error::Profile`] naming `field` when the name is empty, longer than 63 bytes or
    /// uses other characters.
    pub fn new(field: &str, name: &str) -> Result<Ident, Error> {
        let ok_start = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok_start || !ok_chars || name.len() > 63 {
            return Err(invalid(
                field,
                format!(
                    "{name:?} is not accepted: use 1 to 63 ASCII letters, digits or _, not starting with a digit"
                ),
            ));
        }
        Ok(Ident(name.to_owned()))
    }

    /// Validates a role name: an [`Ident`] that PostgreSQL lets one create.
    ///
    /// # Errors
    /// As [`Ident::new`], and for reserved role names (`public`, `none`, `pg_*`, ...).
    pub fn role(field: &str, name: &str) -> Result<Ident, Error> {
        let id = Ident::new(field, name)?;
        let lower = name.to_ascii_lowercase();
        let reserved = [
            "public",
            "none",
            "current_user",
            "session_user",
            "current_role",
            "all",
        ];
        if lower.starts_with("pg_") || reserved.contains(&lower.as_str()) {
            return Err(invalid(field, format!("{name:?} is a reserved role name")));
        }
        Ok(id)
    }

    /// The name as stored in the catalog.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an SQL identifier, as [`crate::sql::quote_ident`] (the server's
    /// `quote_ident()`) writes it: double-quoted unless plain lower case and no keyword.
    pub fn sql(&self) -> String {
        crate::sql::quote_catalog_name(&self.0)
    }

    /// The name as an SQL string literal.
    pub fn literal(&self) -> String {
        format!("'{}'", self.0)
    }

    /// The name as a `pg_hba.conf` token (quoted when it is an hba keyword, so that a
    /// role named `replication` stays a role name).
    pub fn hba(&self) -> String {
        const HBA_KEYWORDS: &[&str] = &["all", "sameuser", "samerole", "samegroup", "replication"];
        if HBA_KEYWORDS.contains(&self.0.as_str()) {
            format!("\"{}\"", self.0)
        } else {
            self.0.clone()
        }
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A network the application roles may connect from (`pg_hba.conf` address column).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Network {
    /// A CIDR block, at most as wide as /16 (IPv4) or /48 (IPv6).
    Cidr(ipnet::IpNet),
    /// `samenet`: the subnets the server is directly connected to.
    SameNet,
    /// `samehost`: the server's own addresses.
    SameHost,
}

impl Network {
    /// Parses `samenet`, `samehost` or a CIDR block (host bits are cleared).
    ///
    /// # Errors
    /// [`Error::Profile`] for anything else, for `0.0.0.0/0`-like blocks and for blocks
    /// wider than /16 or /48 (the audit's `hba.wide_address` would flag them).
    pub fn parse(text: &str) -> Result<Network, Error> {
        let t = text.trim();
        match t {
            "samenet" => return Ok(Network::SameNet),
            "samehost" => return Ok(Network::SameHost),
            _ => {}
        }
        let net: ipnet::IpNet = t
            .parse()
            .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                invalid(
                    "allowed_networks",
                    format!("{text:?} is not a CIDR block (10.0.2.0/24, fd00:1::/64), samenet or samehost"),
                )
            })?;
        let too_wide = match net {
            ipnet::IpNet::V4(n) => n.prefix_len() < 16,
            ipnet::IpNet::V6(n) => n.prefix_len() < 48,
        };
        if too_wide {
            return Err(invalid(
                "allowed_networks",
                format!(
                    "{text} is wider than /16 (IPv4) or /48 (IPv6): name the application subnets"
                ),
            ));
        }
        Ok(Network::Cidr(net.trunc()))
    }

    /// The address column of an hba line.
    pub fn hba(&self) -> String {
        match self {
            Network::Cidr(n) => n.to_string(),
            Network::SameNet => "samenet".to_owned(),
            Network::SameHost => "samehost".to_owned(),
        }
    }
}

/// One tenant table and its tenant column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantTable {
    /// Schema.
    pub schema: Ident,
    /// Table.
    pub table: Ident,
    /// Tenant column.
    pub column: Ident,
}

impl TenantTable {
    /// Parses `[schema.]table[:column]`; the schema defaults to `schema`, the column to
    /// `column`.
    ///
    /// # Errors
    /// [`Error::Profile`] when a part is not a valid identifier.
    pub fn parse(spec: &str, schema: &Ident, column: &Ident) -> Result<TenantTable, Error> {
        let (name, col) = match spec.split_once(':') {
            Some((n, c)) => (n, Ident::new("tenant_tables.column", c)?),
            None => (spec, column.clone()),
        };
        let (s, t) = match name.split_once('.') {
            Some((s, t)) => (
                Ident::new("tenant_tables.table", s)?,
                Ident::new("tenant_tables.table", t)?,
            ),
            None => (schema.clone(), Ident::new("tenant_tables.table", name)?),
        };
        Ok(TenantTable {
            schema: s,
            table: t,
            column: col,
        })
    }

    /// `schema.table` for SQL.
    pub fn qualified_sql(&self) -> String {
        format!("{}.{}", self.schema.sql(), self.table.sql())
    }
}

/// The roles the generator creates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Roles {
    /// NOLOGIN owner of the schema and its tables.
    pub schema_owner: Ident,
    /// LOGIN role that runs migrations (`SET ROLE schema_owner`).
    pub migrator: Ident,
    /// The application: DML only, NOINHERIT.
    pub app: Ident,
    /// Read-only reporting.
    pub reporting: Ident,
    /// Monitoring and audits (pg_monitor, pg_hba_file_rules).
    pub monitoring: Ident,
    /// CONNECTION LIMIT of the application role.
    pub app_connection_limit: u32,
    /// CONNECTION LIMIT of the migrator.
    pub migrator_connection_limit: u32,
    /// CONNECTION LIMIT of the reporting role.
    pub reporting_connection_limit: u32,
    /// CONNECTION LIMIT of the monitoring role.
    pub monitoring_connection_limit: u32,
}

/// A validated hardening profile. Build it with [`Profile::strict`] or
/// [`Profile::from_toml`]; every value in it is safe to write into the generated files.
///
/// The TOML format is [`PROFILE_TEMPLATE`]: every key is optional and the values shown
/// there are the `strict` preset's.
///
/// ```
/// use pgsec_core::harden::Profile;
/// let p = Profile::from_toml(r#"
///     database = "shop"
///     allowed_networks = ["10.0.2.0/24"]
///     tenant_tables = ["orders", "billing.invoices:org_id"]
///     [roles]
///     app = "shop_app"
/// "#)?;
/// assert_eq!(p.database.as_str(), "shop");
/// assert_eq!(p.tenant_tables[1].column.as_str(), "org_id");
/// assert!(Profile::from_toml("allowed_networks = [\"0.0.0.0/0\"]").is_err());
/// # Ok::<(), pgsec_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// Shown in the generated files' headers.
    pub name: String,
    /// The application's database.
    pub database: Ident,
    /// Schema of the application's tables.
    pub schema: Ident,
    /// `listen_addresses` entries (host names, addresses, `localhost`, or `*`).
    pub listen_addresses: Vec<String>,
    /// Where the login roles may connect from.
    pub allowed_networks: Vec<Network>,
    /// The superuser, admitted on the local socket only.
    pub admin_role: Ident,
    /// `peer` or `scram-sha-256` for the admin's socket line.
    pub admin_local_method: String,
    /// `ssl_cert_file`.
    pub ssl_cert_file: String,
    /// `ssl_key_file`.
    pub ssl_key_file: String,
    /// `ssl_ca_file`, when clients present certificates.
    pub ssl_ca_file: Option<String>,
    /// `TLSv1.2` or `TLSv1.3`.
    pub ssl_min_protocol_version: String,
    /// Load and configure pgaudit.
    pub pgaudit: bool,
    /// The setting policies compare the tenant column with.
    pub tenant_setting: String,
    /// The tables that get Row-Level Security.
    pub tenant_tables: Vec<TenantTable>,
    /// The roles.
    pub roles: Roles,
    default_column: Ident,
}

/// A profile file with every key, commented, at the `strict` preset's values
/// (`pgsec harden --print-profile` prints it).
pub const PROFILE_TEMPLATE: &str = r#"# pgsec harden profile (TOML). Every key is optional; these are the strict preset's values.

name = "strict"                  # shown in the headers of the generated files
database = "app"                 # the application's database
schema = "app"                   # schema of the application's tables
listen_addresses = ["localhost"] # listen_addresses; "*" listens everywhere
allowed_networks = ["samenet"]   # where login roles connect from: CIDR blocks (at most
                                 # /16 or /48), "samenet" or "samehost"
admin_role = "postgres"          # the superuser: admitted on the local socket only
admin_local_method = "peer"      # "peer" or "scram-sha-256"
ssl_cert_file = "server.crt"
ssl_key_file = "server.key"
# ssl_ca_file = "root.crt"       # only when clients present certificates
ssl_min_protocol_version = "TLSv1.2"   # or "TLSv1.3"
pgaudit = true                   # preload pgaudit, log DDL and role changes
tenant_setting = "app.current_tenant_id"   # what the policies compare with
tenant_column = "tenant_id"      # default column of tenant_tables
tenant_tables = []               # "orders", "billing.invoices", "orders:org_id"

[roles]                          # names: ASCII letters, digits and _, at most 63
schema_owner = "app_owner"       # NOLOGIN, owns the schema and its tables
migrator = "migrator"            # LOGIN, SET ROLE app_owner to migrate
app = "app"                      # LOGIN, NOINHERIT, DML only
reporting = "reporting"          # LOGIN, read-only
monitoring = "monitoring"        # LOGIN, pg_monitor (audits recognise "monitor" in the name)
app_connection_limit = 50
migrator_connection_limit = 2
reporting_connection_limit = 5
monitoring_connection_limit = 3
"#;

/// The profile as written (before validation).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawProfile {
    name: Option<String>,
    database: Option<String>,
    schema: Option<String>,
    listen_addresses: Option<Vec<String>>,
    allowed_networks: Option<Vec<String>>,
    admin_role: Option<String>,
    admin_local_method: Option<String>,
    ssl_cert_file: Option<String>,
    ssl_key_file: Option<String>,
    ssl_ca_file: Option<String>,
    ssl_min_protocol_version: Option<String>,
    pgaudit: Option<bool>,
    tenant_setting: Option<String>,
    tenant_column: Option<String>,
    tenant_tables: Option<Vec<String>>,
    roles: RawRoles,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawRoles {
    schema_owner: Option<String>,
    migrator: Option<String>,
    app: Option<String>,
    reporting: Option<String>,
    monitoring: Option<String>,
    app_connection_limit: Option<u32>,
    migrator_connection_limit: Option<u32>,
    reporting_connection_limit: Option<u32>,
    monitoring_connection_limit: Option<u32>,
}

fn invalid(field: &str, reason: impl Into<String>) -> Error {
    Error::Profile {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// A value written inside single quotes in `postgresql.conf`: no quotes, backslashes,
/// control characters or `#`.
fn conf_value(field: &str, v: &str) -> Result<String, Error> {
    if v.is_empty()
        || v.chars()
            .any(|c| c.is_control() || matches!(c, '\'' | '\\' | '#' | '"'))
    {
        return Err(invalid(
            field,
            format!("{v:?} is empty or holds quotes, backslashes, # or control characters"),
        ));
    }
    Ok(v.to_owned())
}

fn limit(field: &str, v: u32) -> Result<u32, Error> {
    if v == 0 || v > 10_000 {
        return Err(invalid(
            field,
            format!("{v} is not a connection limit between 1 and 10000"),
        ));
    }
    Ok(v)
}

impl Profile {
    /// The `strict` preset: every default above.
    pub fn strict() -> Profile {
        // The preset is built from an empty file, so it goes through the same validation.
        Profile::from_raw(RawProfile::default()).unwrap_or_else(|_| unreachable_preset())
    }

    /// Reads a profile from TOML text.
    ///
    /// # Errors
    /// [`Error::Profile`] for a syntax error, an unknown key, or a value the generator
    /// will not write (names outside the identifier alphabet, networks wider than /16,
    /// duplicate role names, ...).
    pub fn from_toml(text: &str) -> Result<Profile, Error> {
        let raw: RawProfile =
            toml::from_str(text).map_err(|e| invalid("syntax", e.message().to_owned()))?;
        Profile::from_raw(raw)
    }

    fn from_raw(raw: RawProfile) -> Result<Profile, Error> {
        let or = |v: Option<String>, d: &str| v.unwrap_or_else(|| d.to_owned());
        let schema = Ident::new("schema", &or(raw.schema, "app"))?;
        let default_column = Ident::new("tenant_column", &or(raw.tenant_column, "tenant_id"))?;
        let r = raw.roles;
        let roles = Roles {
            schema_owner: Ident::role("roles.schema_owner", &or(r.schema_owner, "app_owner"))?,
            migrator: Ident::role("roles.migrator", &or(r.migrator, "migrator"))?,
            app: Ident::role("roles.app", &or(r.app, "app"))?,
            reporting: Ident::role("roles.reporting", &or(r.reporting, "reporting"))?,
            monitoring: Ident::role("roles.monitoring", &or(r.monitoring, "monitoring"))?,
            app_connection_limit: limit(
                "roles.app_connection_limit",
                r.app_connection_limit.unwrap_or(50),
            )?,
            migrator_connection_limit: limit(
                "roles.migrator_connection_limit",
                r.migrator_connection_limit.unwrap_or(2),
            )?,
            reporting_connection_limit: limit(
                "roles.reporting_connection_limit",
                r.reporting_connection_limit.unwrap_or(5),
            )?,
            monitoring_connection_limit: limit(
                "roles.monitoring_connection_limit",
                r.monitoring_connection_limit.unwrap_or(3),
            )?,
        };
        let admin_role = Ident::new("admin_role", &or(raw.admin_role, "postgres"))?;
        let mut names = [
            &roles.schema_owner,
            &roles.migrator,
            &roles.app,
            &roles.reporting,
            &roles.monitoring,
            &admin_role,
        ];
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(invalid(
                "roles",
                format!(
                    "{} is used for two roles; every role needs its own name",
                    w[0]
                ),
            ));
        }
        let listen_addresses = raw
            .listen_addresses
            .unwrap_or_else(|| vec!["localhost".to_owned()])
            .iter()
            .map(|a| {
                let a = a.trim();
                if a.is_empty()
                    || a.chars()
                        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '*')))
                {
                    Err(invalid(
                        "listen_addresses",
                        format!("{a:?} is not a host name or address"),
                    ))
                } else {
                    Ok(a.to_owned())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if listen_addresses.is_empty() {
            return Err(invalid(
                "listen_addresses",
                "give at least one address (localhost for sockets and loopback only)",
            ));
        }
        let allowed_networks = raw
            .allowed_networks
            .unwrap_or_else(|| vec!["samenet".to_owned()])
            .iter()
            .map(|n| Network::parse(n))
            .collect::<Result<Vec<_>, _>>()?;
        let admin_local_method = or(raw.admin_local_method, "peer");
        if !matches!(admin_local_method.as_str(), "peer" | "scram-sha-256") {
            return Err(invalid(
                "admin_local_method",
                format!("{admin_local_method:?}: use peer or scram-sha-256"),
            ));
        }
        let ssl_min_protocol_version = or(raw.ssl_min_protocol_version, "TLSv1.2");
        if !matches!(ssl_min_protocol_version.as_str(), "TLSv1.2" | "TLSv1.3") {
            return Err(invalid(
                "ssl_min_protocol_version",
                format!("{ssl_min_protocol_version:?}: use TLSv1.2 or TLSv1.3"),
            ));
        }
        let tenant_setting = or(raw.tenant_setting, "app.current_tenant_id");
        // The server's rule, then a narrower alphabet: the name is written inside string
        // literals of dollar-quoted blocks, where `$` could end the block.
        if let Err(e) = crate::sql::check_setting_name(&tenant_setting) {
            return Err(invalid(
                "tenant_setting",
                format!(
                    "{tenant_setting:?} is not a custom setting name such as \
                     app.current_tenant_id: {}",
                    e.reason()
                ),
            ));
        }
        if tenant_setting.len() > 63
            || !tenant_setting
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return Err(invalid(
                "tenant_setting",
                format!(
                    "{tenant_setting:?}: use at most 63 ASCII letters, digits, _ and dots, \
                     such as app.current_tenant_id"
                ),
            ));
        }
        let tenant_tables = raw
            .tenant_tables
            .unwrap_or_default()
            .iter()
            .map(|t| TenantTable::parse(t, &schema, &default_column))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Profile {
            name: conf_value("name", &or(raw.name, "strict"))?,
            database: Ident::new("database", &or(raw.database, "app"))?,
            schema,
            listen_addresses,
            allowed_networks,
            admin_role,
            admin_local_method,
            ssl_cert_file: conf_value("ssl_cert_file", &or(raw.ssl_cert_file, "server.crt"))?,
            ssl_key_file: conf_value("ssl_key_file", &or(raw.ssl_key_file, "server.key"))?,
            ssl_ca_file: raw
                .ssl_ca_file
                .map(|f| conf_value("ssl_ca_file", &f))
                .transpose()?,
            ssl_min_protocol_version,
            pgaudit: raw.pgaudit.unwrap_or(true),
            tenant_setting,
            tenant_tables,
            roles,
            default_column,
        })
    }

    /// Replaces the database.
    ///
    /// # Errors
    /// [`Error::Profile`] when `name` is not a valid identifier.
    pub fn with_database(mut self, name: &str) -> Result<Self, Error> {
        self.database = Ident::new("database", name)?;
        Ok(self)
    }

    /// Replaces the application role's name.
    ///
    /// # Errors
    /// [`Error::Profile`] when `name` is not a valid role name or is taken by another role.
    pub fn with_app_role(mut self, name: &str) -> Result<Self, Error> {
        let app = Ident::role("roles.app", name)?;
        let r = &self.roles;
        if [
            &r.schema_owner,
            &r.migrator,
            &r.reporting,
            &r.monitoring,
            &self.admin_role,
        ]
        .contains(&&app)
        {
            return Err(invalid(
                "roles.app",
                format!("{name} is already another role of the profile"),
            ));
        }
        self.roles.app = app;
        Ok(self)
    }

    /// Replaces the allowed networks.
    ///
    /// # Errors
    /// [`Error::Profile`] for a network [`Network::parse`] refuses.
    pub fn with_networks<I, S>(mut self, networks: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.allowed_networks = networks
            .into_iter()
            .map(|n| Network::parse(n.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self)
    }

    /// Adds a tenant table (`[schema.]table[:column]`).
    ///
    /// # Errors
    /// [`Error::Profile`] when a part is not a valid identifier.
    pub fn with_tenant_table(mut self, spec: &str) -> Result<Self, Error> {
        let t = TenantTable::parse(spec, &self.schema, &self.default_column)?;
        if !self.tenant_tables.contains(&t) {
            self.tenant_tables.push(t);
        }
        Ok(self)
    }

    /// Sets whether pgaudit is loaded and configured.
    #[must_use]
    pub fn with_pgaudit(mut self, on: bool) -> Self {
        self.pgaudit = on;
        self
    }
}

/// The empty profile always validates (its defaults are constants checked by a test).
#[cold]
fn unreachable_preset() -> Profile {
    Profile {
        name: "strict".to_owned(),
        database: Ident("app".to_owned()),
        schema: Ident("app".to_owned()),
        listen_addresses: vec!["localhost".to_owned()],
        allowed_networks: vec![Network::SameNet],
        admin_role: Ident("postgres".to_owned()),
        admin_local_method: "peer".to_owned(),
        ssl_cert_file: "server.crt".to_owned(),
        ssl_key_file: "server.key".to_owned(),
        ssl_ca_file: None,
        ssl_min_protocol_version: "TLSv1.2".to_owned(),
        pgaudit: true,
        tenant_setting: "app.current_tenant_id".to_owned(),
        tenant_tables: Vec::new(),
        roles: Roles {
            schema_owner: Ident("app_owner".to_owned()),
            migrator: Ident("migrator".to_owned()),
            app: Ident("app".to_owned()),
            reporting: Ident("reporting".to_owned()),
            monitoring: Ident("monitoring".to_owned()),
            app_connection_limit: 50,
            migrator_connection_limit: 2,
            reporting_connection_limit: 5,
            monitoring_connection_limit: 3,
        },
        default_column: Ident("tenant_id".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preset_is_the_empty_file() {
        assert_eq!(
            Profile::from_raw(RawProfile::default()).unwrap(),
            unreachable_preset()
        );
        assert_eq!(Profile::strict(), Profile::from_toml("").unwrap());
    }

    #[test]
    fn the_template_is_the_preset() {
        assert_eq!(
            Profile::from_toml(PROFILE_TEMPLATE).unwrap(),
            Profile::strict()
        );
    }

    #[test]
    fn identifiers() {
        assert!(Ident::new("x", "orders_2").is_ok());
        for bad in ["", "2x", "a b", "a\"b", "a$b", "a;b", "ä", &"x".repeat(64)] {
            assert!(Ident::new("x", bad).is_err(), "{bad:?}");
        }
        assert!(Ident::role("r", "public").is_err());
        assert!(Ident::role("r", "pg_app").is_err());
        assert_eq!(Ident::new("x", "Orders").unwrap().sql(), "\"Orders\"");
        assert_eq!(Ident::new("x", "user").unwrap().sql(), "\"user\"");
        assert_eq!(Ident::new("x", "fetch").unwrap().sql(), "\"fetch\"");
        assert_eq!(
            Ident::new("x", "json_table").unwrap().sql(),
            "\"json_table\""
        );
        assert_eq!(Ident::new("x", "set").unwrap().sql(), "set");
        assert_eq!(Ident::new("x", "orders").unwrap().sql(), "orders");
        assert_eq!(
            Ident::new("x", "replication").unwrap().hba(),
            "\"replication\""
        );
    }

    #[test]
    fn networks() {
        assert_eq!(Network::parse("10.0.2.7/24").unwrap().hba(), "10.0.2.0/24");
        assert_eq!(Network::parse("10.0.2.7").unwrap().hba(), "10.0.2.7/32");
        assert_eq!(Network::parse("samenet").unwrap(), Network::SameNet);
        assert!(Network::parse("0.0.0.0/0").is_err());
        assert!(Network::parse("10.0.0.0/8").is_err());
        assert!(Network::parse("fd00::/32").is_err());
        assert!(Network::parse("fd00:1:2::/48").is_ok());
        assert!(Network::parse("all").is_err());
    }

    #[test]
    fn profile_errors_name_the_key() {
        let e = Profile::from_toml("databse = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("syntax") && e.contains("databse"), "{e}");
        let e = Profile::from_toml("[roles]\napp = \"migrator\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("migrator is used for two roles"), "{e}");
        let e = Profile::from_toml("ssl_cert_file = \"a'b\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ssl_cert_file"), "{e}");
        let e = Profile::from_toml("tenant_setting = \"tenant\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("tenant_setting"), "{e}");
        // Names the server refuses in set_config, and names it accepts that would not be
        // safe inside the generated dollar-quoted blocks.
        for bad in [
            "app.1tenant",
            "app.x.",
            "app..x",
            ".x",
            "app.x$",
            "app.é",
            "app.x-y",
        ] {
            let toml = format!("tenant_setting = \"{bad}\"");
            let e = Profile::from_toml(&toml).unwrap_err().to_string();
            assert!(e.contains("tenant_setting"), "{bad}: {e}");
        }
        for ok in ["app.tenant", "a.b.c", "_a._b", "App.Tenant_1"] {
            let toml = format!("tenant_setting = \"{ok}\"");
            assert_eq!(Profile::from_toml(&toml).unwrap().tenant_setting, ok);
        }
        let e = Profile::from_toml("[roles]\napp_connection_limit = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("app_connection_limit"), "{e}");
        assert!(Profile::strict().with_app_role("migrator").is_err());
    }

    #[test]
    fn tenant_table_specs() {
        let p = Profile::strict()
            .with_tenant_table("orders")
            .unwrap()
            .with_tenant_table("billing.invoices:org_id")
            .unwrap();
        assert_eq!(p.tenant_tables[0].qualified_sql(), "app.orders");
        assert_eq!(p.tenant_tables[0].column.as_str(), "tenant_id");
        assert_eq!(p.tenant_tables[1].schema.as_str(), "billing");
        assert_eq!(p.tenant_tables[1].column.as_str(), "org_id");
        assert!(Profile::strict().with_tenant_table("a.b.c").is_err());
    }
}
