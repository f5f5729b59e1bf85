//! Typed facts about a server, its files and a client connection: the evaluator's only
//! input. Collectors fill a [`Snapshot`]; everything a collector could not read is kept
//! as [`Collected::NotCollected`] with the reason, so that rules report "skipped" instead
//! of passing silently.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::conf::ConfFile;
use crate::hba::{HbaFile, PgVersion};

/// A fact that was either collected or not, and then why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collected<T> {
    /// The fact was read.
    Present(T),
    /// It was not read; the reason names what is missing (a connection, a file, a
    /// privilege such as "needs superuser or pg_read_all_settings").
    NotCollected(String),
}

impl<T> Collected<T> {
    /// Not collected, with a reason.
    pub fn not_collected(reason: impl Into<String>) -> Self {
        Collected::NotCollected(reason.into())
    }

    /// The fact, or the reason it is missing.
    ///
    /// # Errors
    /// Returns the reason when the fact was not collected.
    pub fn get(&self) -> Result<&T, &str> {
        match self {
            Collected::Present(v) => Ok(v),
            Collected::NotCollected(r) => Err(r),
        }
    }

    /// The fact, if collected.
    pub fn as_option(&self) -> Option<&T> {
        self.get().ok()
    }

    /// True when the fact was collected.
    pub fn is_present(&self) -> bool {
        matches!(self, Collected::Present(_))
    }
}

impl<T> Default for Collected<T> {
    fn default() -> Self {
        Collected::NotCollected("not collected".to_owned())
    }
}

impl<T> From<T> for Collected<T> {
    fn from(v: T) -> Self {
        Collected::Present(v)
    }
}

/// Reason used for live facts in a file audit.
pub const NEEDS_LIVE: &str = "needs a live connection";

/// Everything the evaluator knows about one target.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// What was audited, for reports (e.g. `postgresql.conf, pg_hba.conf` or `host=db port=5432`).
    pub target: String,
    /// When the facts were collected, in seconds since the Unix epoch (certificate expiry
    /// and end-of-life checks compare against this, so evaluation stays pure).
    pub collected_at: i64,
    /// Major version the files are for (parsing rules and defaults); PostgreSQL 15 by default.
    pub pg_version: PgVersion,
    /// `postgresql.conf`, includes expanded.
    pub conf: Collected<ConfFile>,
    /// `pg_hba.conf`, includes expanded.
    pub hba: Collected<HbaFile>,
    /// The server's certificate and key files from the data directory.
    pub server_tls_files: Collected<ServerTlsFiles>,
    /// Facts read from a live server.
    pub live: Collected<LiveFacts>,
    /// Facts about a client connection (pgsec-client).
    pub client: Collected<ClientFacts>,
    /// The role the application connects as (for `role.app_superuser` and other
    /// application rules); [`crate::Policy::app_role`] takes precedence when set.
    pub app_role: Option<String>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            target: String::new(),
            collected_at: 0,
            pg_version: PgVersion::default(),
            conf: Collected::not_collected("no postgresql.conf given"),
            hba: Collected::not_collected("no pg_hba.conf given"),
            server_tls_files: Collected::not_collected("no data directory given"),
            live: Collected::not_collected(NEEDS_LIVE),
            client: Collected::not_collected("needs a client connection"),
            app_role: None,
        }
    }
}

impl Snapshot {
    /// An empty snapshot of `target` collected at `collected_at` (Unix seconds): nothing
    /// is collected yet.
    pub fn new(target: impl Into<String>, collected_at: i64) -> Self {
        Snapshot {
            target: target.into(),
            collected_at,
            ..Snapshot::default()
        }
    }

    /// Sets the configuration file.
    #[must_use]
    pub fn with_conf(mut self, conf: ConfFile) -> Self {
        self.conf = Collected::Present(conf);
        self
    }

    /// Sets the hba file.
    #[must_use]
    pub fn with_hba(mut self, hba: HbaFile) -> Self {
        self.hba = Collected::Present(hba);
        self
    }

    /// Sets the server's certificate and key file facts.
    #[must_use]
    pub fn with_server_tls_files(mut self, files: ServerTlsFiles) -> Self {
        self.server_tls_files = Collected::Present(files);
        self
    }

    /// Sets the live facts.
    #[must_use]
    pub fn with_live(mut self, live: LiveFacts) -> Self {
        self.live = Collected::Present(live);
        self
    }

    /// Sets the client connection facts.
    #[must_use]
    pub fn with_client(mut self, client: ClientFacts) -> Self {
        self.client = Collected::Present(client);
        self
    }

    /// Sets the application role.
    #[must_use]
    pub fn with_app_role(mut self, role: impl Into<String>) -> Self {
        self.app_role = Some(role.into());
        self
    }

    /// Sets the major version the files are for.
    #[must_use]
    pub fn with_pg_version(mut self, version: PgVersion) -> Self {
        self.pg_version = version;
        self
    }
}

// ---------------------------------------------------------------------------------------
// Certificates and key files

/// What pgsec needs to know about an X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CertificateFacts {
    /// Subject distinguished name, as text (e.g. `CN=db.example.com`).
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// DNS names of the subjectAltName extension.
    pub dns_sans: Vec<String>,
    /// IP addresses of the subjectAltName extension.
    pub ip_sans: Vec<IpAddr>,
    /// Whether the certificate has a subjectAltName extension at all.
    pub has_san_extension: bool,
    /// The subject's common name, if any (shown to people; never used for host-name
    /// matching, which reads only the subjectAltNames).
    pub common_name: Option<String>,
}

impl CertificateFacts {
    /// Facts with only a subject and a validity period (mostly for tests and collectors
    /// that fill the rest field by field).
    pub fn new(subject: impl Into<String>, not_before: i64, not_after: i64) -> Self {
        CertificateFacts {
            subject: subject.into(),
            not_before,
            not_after,
            ..CertificateFacts::default()
        }
    }

    /// True when the certificate names at least one DNS name or IP address in its
    /// subjectAltName.
    pub fn has_san(&self) -> bool {
        !self.dns_sans.is_empty() || !self.ip_sans.is_empty()
    }
}

/// The server certificate file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertFileFacts {
    /// Path of the file.
    pub path: String,
    /// The (first) certificate in it.
    pub certificate: CertificateFacts,
}

impl CertFileFacts {
    /// Facts of the certificate at `path`.
    pub fn new(path: impl Into<String>, certificate: CertificateFacts) -> Self {
        CertFileFacts {
            path: path.into(),
            certificate,
        }
    }
}

/// Ownership and mode of the server's private key file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyFileFacts {
    /// Path of the file.
    pub path: String,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Owner's uid (`0` is root).
    pub owner_uid: u32,
}

impl KeyFileFacts {
    /// Facts of the key file at `path`.
    pub fn new(path: impl Into<String>, mode: u32, owner_uid: u32) -> Self {
        KeyFileFacts {
            path: path.into(),
            mode,
            owner_uid,
        }
    }
}

/// The server's TLS files, found through `ssl_cert_file` / `ssl_key_file` in the data
/// directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerTlsFiles {
    /// The certificate file.
    pub cert: Collected<CertFileFacts>,
    /// The key file.
    pub key: Collected<KeyFileFacts>,
}

impl ServerTlsFiles {
    /// Both facts (each may be not collected).
    pub fn new(cert: Collected<CertFileFacts>, key: Collected<KeyFileFacts>) -> Self {
        ServerTlsFiles { cert, key }
    }
}

// ---------------------------------------------------------------------------------------
// Live facts

/// Facts read from a live server. Cluster-wide facts at the top, per-database facts in
/// [`DatabaseFacts`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LiveFacts {
    /// `server_version_num` and `server_version`.
    pub server_version: Collected<ServerVersion>,
    /// The role the audit connected as (`current_user`).
    pub current_user: Option<String>,
    /// `pg_settings`, by name (lower case).
    pub settings: Collected<BTreeMap<String, LiveSetting>>,
    /// Why some settings may be missing from [`LiveFacts::settings`]: a role without
    /// `pg_read_all_settings` sees only the settings that are not superuser-only, so a
    /// setting absent from the map is unknown rather than at its default. `None` when
    /// every setting was visible.
    pub settings_hidden: Option<String>,
    /// The collecting session's value of the tenant setting, read when it connected
    /// (`current_setting(name, true)` outside any transaction): what a transaction that
    /// does not set the tenant would see.
    pub tenant_setting: Collected<SessionSetting>,
    /// `pg_hba_file_rules` as an [`HbaFile`] (file names and line numbers as the server
    /// reports them).
    pub hba: Collected<HbaFile>,
    /// Roles (`pg_roles` and `pg_auth_members`).
    pub roles: Collected<Vec<RoleFact>>,
    /// Stored password kind per role name (`pg_authid.rolpassword`, superuser only).
    /// Roles without a password are absent.
    pub stored_passwords: Collected<BTreeMap<String, PasswordKind>>,
    /// Per-database and per-role settings (`pg_db_role_setting`).
    pub db_role_settings: Collected<Vec<DbRoleSetting>>,
    /// The databases that were examined.
    pub databases: Vec<DatabaseFacts>,
    /// `pg_ident_file_mappings` (PostgreSQL 15+; superuser unless granted).
    pub ident_mappings: Collected<Vec<IdentMapping>>,
}

/// A setting as the collecting session saw it right after connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionSetting {
    /// The setting's name, as the collector was asked for it.
    pub name: String,
    /// The session's role (`session_user`): role-level defaults are those of this role.
    pub role: String,
    /// The value, `None` when the setting does not exist in the session (never set).
    pub value: Option<String>,
}

impl SessionSetting {
    /// `name` as `role`'s session saw it.
    pub fn new(name: impl Into<String>, role: impl Into<String>, value: Option<String>) -> Self {
        SessionSetting {
            name: name.into(),
            role: role.into(),
            value,
        }
    }
}

/// One row of `pg_ident_file_mappings`: a user-name map line, or the error the server
/// reports for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IdentMapping {
    /// File the line is in (PostgreSQL 16+ reports it; else `ident_file`).
    pub file: String,
    /// Line number.
    pub line_number: usize,
    /// `map_name`.
    pub map_name: Option<String>,
    /// `sys_name` (a system user name or a `/regex`).
    pub system_user: Option<String>,
    /// `pg_username`.
    pub pg_user: Option<String>,
    /// `error`, when the server could not read the line.
    pub error: Option<String>,
}

/// `server_version_num` and `server_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerVersion {
    /// `server_version_num`, e.g. 150004.
    pub num: u32,
    /// `server_version`, e.g. `15.4 (Debian 15.4-1)`.
    pub text: String,
}

impl ServerVersion {
    /// A version from `server_version_num` and the text.
    pub fn new(num: u32, text: impl Into<String>) -> Self {
        ServerVersion {
            num,
            text: text.into(),
        }
    }

    /// Major version (15 for 150004; 9 for 90624).
    pub fn major(&self) -> u32 {
        self.num / 10_000
    }
}

/// One row of `pg_settings`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveSetting {
    /// Name.
    pub name: String,
    /// `setting` (in the base unit, e.g. `60` with unit `s`).
    pub value: String,
    /// `unit`, if any (`s`, `ms`, `kB`, `8kB`, ...).
    pub unit: Option<String>,
    /// `source` (`default`, `configuration file`, `command line`, ...).
    pub source: String,
    /// `sourcefile`, when visible.
    pub sourcefile: Option<String>,
    /// `sourceline`, when visible.
    pub sourceline: Option<usize>,
}

impl LiveSetting {
    /// A setting with its value and source, without unit or file.
    pub fn new(
        name: impl Into<String>,
        value: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        LiveSetting {
            name: name.into(),
            value: value.into(),
            unit: None,
            source: source.into(),
            sourcefile: None,
            sourceline: None,
        }
    }

    /// Sets the unit.
    #[must_use]
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Sets the file and line.
    #[must_use]
    pub fn with_sourcefile(mut self, file: impl Into<String>, line: usize) -> Self {
        self.sourcefile = Some(file.into());
        self.sourceline = Some(line);
        self
    }
}

/// How a role's password is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PasswordKind {
    /// `SCRAM-SHA-256$...`
    Scram,
    /// `md5...`
    Md5,
    /// Anything else (clear text from old versions).
    Other,
}

impl PasswordKind {
    /// Classifies a `rolpassword` value. The value itself is not kept.
    pub fn classify(rolpassword: &str) -> Self {
        if rolpassword.starts_with("SCRAM-SHA-256$") {
            PasswordKind::Scram
        } else if rolpassword.len() == 35 && rolpassword.starts_with("md5") {
            PasswordKind::Md5
        } else {
            PasswordKind::Other
        }
    }
}

/// One role (`pg_roles` plus memberships).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RoleFact {
    /// `rolname`.
    pub name: String,
    /// `rolsuper`.
    pub superuser: bool,
    /// `rolcanlogin`.
    pub login: bool,
    /// `rolbypassrls`.
    pub bypassrls: bool,
    /// `rolcreaterole`.
    pub createrole: bool,
    /// `rolcreatedb`.
    pub createdb: bool,
    /// `rolinherit`.
    pub inherit: bool,
    /// `rolconnlimit` (-1: unlimited).
    pub connlimit: i32,
    /// Roles this role is a direct member of (`pg_auth_members`).
    pub member_of: Vec<String>,
    /// The options of the memberships of [`RoleFact::member_of`]. A role of `member_of`
    /// without an entry here has PostgreSQL 15's semantics: privileges inherited when
    /// this role is INHERIT, and SET ROLE allowed.
    pub memberships: Vec<Membership>,
}

/// The options of one direct membership (`pg_auth_members`; per grant from PostgreSQL 16
/// on, several grants of one role being merged).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Membership {
    /// The role granted.
    pub role: String,
    /// The member has the granted role's privileges without SET ROLE (PostgreSQL 16+
    /// `inherit_option`; before 16, the member's `rolinherit`).
    pub inherit: bool,
    /// The member may `SET ROLE` to the granted role (PostgreSQL 16+ `set_option`;
    /// always before 16).
    pub set: bool,
}

impl Membership {
    /// A membership of `role` with these options.
    pub fn new(role: impl Into<String>, inherit: bool, set: bool) -> Self {
        Membership {
            role: role.into(),
            inherit,
            set,
        }
    }
}

impl RoleFact {
    /// The options of the direct membership of `role`: `(inherit, set)`, or `None` when
    /// this role is not a member of it.
    pub fn membership(&self, role: &str) -> Option<(bool, bool)> {
        if let Some(m) = self.memberships.iter().find(|m| m.role == role) {
            return Some((m.inherit, m.set));
        }
        self.member_of
            .iter()
            .any(|r| r == role)
            .then_some((self.inherit, true))
    }

    /// A login role with no special attributes, INHERIT, no connection limit.
    pub fn login(name: impl Into<String>) -> Self {
        RoleFact {
            name: name.into(),
            login: true,
            inherit: true,
            connlimit: -1,
            ..RoleFact::default()
        }
    }

    /// A NOLOGIN group role.
    pub fn group(name: impl Into<String>) -> Self {
        RoleFact {
            name: name.into(),
            inherit: true,
            connlimit: -1,
            ..RoleFact::default()
        }
    }
}

/// A row of `pg_db_role_setting`: settings applied to a database, a role, or a role in a
/// database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbRoleSetting {
    /// Database, or `None` for every database.
    pub database: Option<String>,
    /// Role, or `None` for every role.
    pub role: Option<String>,
    /// `name=value` pairs.
    pub settings: Vec<(String, String)>,
}

impl DbRoleSetting {
    /// A row.
    pub fn new(
        database: Option<String>,
        role: Option<String>,
        settings: Vec<(String, String)>,
    ) -> Self {
        DbRoleSetting {
            database,
            role,
            settings,
        }
    }
}

/// A schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualifiedName {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
}

impl QualifiedName {
    /// `schema.name`.
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        QualifiedName {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// One `aclitem`: `grantee=privileges/grantor`. An empty grantee is PUBLIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclItem {
    /// Grantee role name; empty for PUBLIC.
    pub grantee: String,
    /// Privilege letters (`arwdDxtm` for tables, `UC` for schemas; `*` marks grant option).
    pub privileges: String,
    /// Grantor.
    pub grantor: String,
}

impl AclItem {
    /// Parses the text form of an aclitem (`alice=arw/bob`, `=U/postgres`,
    /// `"a b"=r/x`). Returns `None` when the text is not an aclitem.
    pub fn parse(text: &str) -> Option<AclItem> {
        let (grantee, rest) = split_role_name(text, '=')?;
        let (privs, grantor) = rest.split_once('/')?;
        let (grantor, tail) = split_role_name(grantor, '\0').unwrap_or((grantor.to_owned(), ""));
        if !tail.is_empty() {
            return None;
        }
        Some(AclItem {
            grantee,
            privileges: privs.to_owned(),
            grantor,
        })
    }

    /// True when the grantee is PUBLIC.
    pub fn is_public(&self) -> bool {
        self.grantee.is_empty()
    }

    /// True when `letter` is among the privileges.
    pub fn has(&self, letter: char) -> bool {
        self.privileges.contains(letter)
    }
}

/// Splits a possibly double-quoted role name at `stop` (or the end when `stop` is NUL).
fn split_role_name(text: &str, stop: char) -> Option<(String, &str)> {
    if let Some(rest) = text.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if rest[i + 1..].starts_with('"') {
                    name.push('"');
                    chars.next();
                    continue;
                }
                let after = &rest[i + 1..];
                if stop == '\0' {
                    return Some((name, after));
                }
                return after.strip_prefix(stop).map(|a| (name, a));
            }
            name.push(c);
        }
        None
    } else if stop == '\0' {
        Some((text.to_owned(), ""))
    } else {
        text.split_once(stop).map(|(a, b)| (a.to_owned(), b))
    }
}

/// Facts of one database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatabaseFacts {
    /// Database name.
    pub name: String,
    /// Schemas with owners and ACLs.
    pub schemas: Collected<Vec<SchemaFact>>,
    /// Ordinary and partitioned tables (user schemas).
    pub tables: Collected<Vec<TableFact>>,
    /// `pg_policy`.
    pub policies: Collected<Vec<PolicyFact>>,
    /// Views.
    pub views: Collected<Vec<ViewFact>>,
    /// Functions and procedures (user schemas).
    pub functions: Collected<Vec<FunctionFact>>,
    /// `pg_extension`.
    pub extensions: Collected<Vec<ExtensionFact>>,
    /// `pg_language`.
    pub languages: Collected<Vec<LanguageFact>>,
    /// `pg_event_trigger` (login triggers from PostgreSQL 17 on).
    pub event_triggers: Collected<Vec<EventTriggerFact>>,
}

/// An event trigger (`pg_event_trigger`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventTriggerFact {
    /// `evtname`.
    pub name: String,
    /// `evtevent`: `ddl_command_start`, `ddl_command_end`, `sql_drop`,
    /// `table_rewrite`, or `login` (PostgreSQL 17+).
    pub event: String,
    /// The owner (a superuser when it was created; only superusers may create one).
    pub owner: String,
    /// `evtenabled`: `O` (fires in origin and local sessions), `R` (replica), `A`
    /// (always) or `D` (disabled).
    pub enabled: char,
    /// The function it runs.
    pub function: QualifiedName,
}

impl EventTriggerFact {
    /// An enabled (`O`) trigger of `event` owned by `owner` that runs `function`.
    pub fn new(
        name: impl Into<String>,
        event: impl Into<String>,
        owner: impl Into<String>,
        function: QualifiedName,
    ) -> Self {
        EventTriggerFact {
            name: name.into(),
            event: event.into(),
            owner: owner.into(),
            enabled: 'O',
            function,
        }
    }

    /// Sets `evtenabled`.
    #[must_use]
    pub fn with_enabled(mut self, enabled: char) -> Self {
        self.enabled = enabled;
        self
    }

    /// True unless the trigger is disabled (`D`).
    pub fn is_enabled(&self) -> bool {
        self.enabled != 'D'
    }
}

impl DatabaseFacts {
    /// A database with nothing collected yet.
    pub fn new(name: impl Into<String>) -> Self {
        DatabaseFacts {
            name: name.into(),
            schemas: Collected::default(),
            tables: Collected::default(),
            policies: Collected::default(),
            views: Collected::default(),
            functions: Collected::default(),
            extensions: Collected::default(),
            languages: Collected::default(),
            event_triggers: Collected::default(),
        }
    }
}

/// A schema.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaFact {
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// `nspacl`; `None` is the default (owner only).
    pub acl: Option<Vec<AclItem>>,
}

impl SchemaFact {
    /// A schema with its owner and ACL.
    pub fn new(
        name: impl Into<String>,
        owner: impl Into<String>,
        acl: Option<Vec<AclItem>>,
    ) -> Self {
        SchemaFact {
            name: name.into(),
            owner: owner.into(),
            acl,
        }
    }
}

/// An ordinary or partitioned table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TableFact {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Column names.
    pub columns: Vec<String>,
    /// `relrowsecurity`.
    pub rls_enabled: bool,
    /// `relforcerowsecurity`.
    pub rls_forced: bool,
    /// `relacl`; `None` is the default (owner only).
    pub acl: Option<Vec<AclItem>>,
}

impl TableFact {
    /// A table without RLS and with the default ACL.
    pub fn new(
        schema: impl Into<String>,
        name: impl Into<String>,
        owner: impl Into<String>,
    ) -> Self {
        TableFact {
            schema: schema.into(),
            name: name.into(),
            owner: owner.into(),
            ..TableFact::default()
        }
    }

    /// Sets the columns.
    #[must_use]
    pub fn with_columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Sets ENABLE / FORCE ROW LEVEL SECURITY.
    #[must_use]
    pub fn with_rls(mut self, enabled: bool, forced: bool) -> Self {
        self.rls_enabled = enabled;
        self.rls_forced = forced;
        self
    }

    /// Sets the ACL.
    #[must_use]
    pub fn with_acl(mut self, acl: Vec<AclItem>) -> Self {
        self.acl = Some(acl);
        self
    }

    /// `schema.name`.
    pub fn qualified(&self) -> QualifiedName {
        QualifiedName::new(self.schema.clone(), self.name.clone())
    }
}

/// The command a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyCommand {
    /// `ALL` (`*`).
    All,
    /// `SELECT` (`r`).
    Select,
    /// `INSERT` (`a`).
    Insert,
    /// `UPDATE` (`w`).
    Update,
    /// `DELETE` (`d`).
    Delete,
}

impl PolicyCommand {
    /// From `pg_policy.polcmd` (`*`, `r`, `a`, `w`, `d`).
    pub fn from_polcmd(c: char) -> Option<Self> {
        Some(match c {
            '*' => PolicyCommand::All,
            'r' => PolicyCommand::Select,
            'a' => PolicyCommand::Insert,
            'w' => PolicyCommand::Update,
            'd' => PolicyCommand::Delete,
            _ => return None,
        })
    }
}

/// A row-level security policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyFact {
    /// Table schema.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// Policy name.
    pub name: String,
    /// PERMISSIVE (true) or RESTRICTIVE.
    pub permissive: bool,
    /// Command.
    pub command: PolicyCommand,
    /// Roles (`public` for PUBLIC).
    pub roles: Vec<String>,
    /// USING, deparsed (`pg_get_expr`).
    pub using: Option<String>,
    /// WITH CHECK, deparsed.
    pub with_check: Option<String>,
}

impl PolicyFact {
    /// A permissive policy for ALL commands and PUBLIC.
    pub fn new(
        schema: impl Into<String>,
        table: impl Into<String>,
        name: impl Into<String>,
        using: Option<&str>,
        with_check: Option<&str>,
    ) -> Self {
        PolicyFact {
            schema: schema.into(),
            table: table.into(),
            name: name.into(),
            permissive: true,
            command: PolicyCommand::All,
            roles: vec!["public".to_owned()],
            using: using.map(str::to_owned),
            with_check: with_check.map(str::to_owned),
        }
    }
}

/// A view.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ViewFact {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// `security_invoker = true` in reloptions.
    pub security_invoker: bool,
    /// Tables and views the definition references (`pg_depend` / `pg_rewrite`).
    pub referenced: Vec<QualifiedName>,
    /// A materialized view: its rows were read with its owner's rights when it was
    /// last refreshed, and no policy applies to them.
    pub materialized: bool,
    /// `relacl`; `None` is the default (owner only).
    pub acl: Option<Vec<AclItem>>,
    /// The defining query (`pg_get_viewdef`), collected for views without
    /// security_invoker only (a rule reads it to tell whether the view filters by the
    /// tenant setting itself).
    pub definition: Option<String>,
}

impl ViewFact {
    /// A view.
    pub fn new(
        schema: impl Into<String>,
        name: impl Into<String>,
        owner: impl Into<String>,
        security_invoker: bool,
        referenced: Vec<QualifiedName>,
    ) -> Self {
        ViewFact {
            schema: schema.into(),
            name: name.into(),
            owner: owner.into(),
            security_invoker,
            referenced,
            materialized: false,
            acl: None,
            definition: None,
        }
    }

    /// A materialized view over `referenced`.
    pub fn materialized(
        schema: impl Into<String>,
        name: impl Into<String>,
        owner: impl Into<String>,
        referenced: Vec<QualifiedName>,
    ) -> Self {
        ViewFact {
            materialized: true,
            ..ViewFact::new(schema, name, owner, false, referenced)
        }
    }

    /// Sets the ACL.
    #[must_use]
    pub fn with_acl(mut self, acl: Vec<AclItem>) -> Self {
        self.acl = Some(acl);
        self
    }

    /// Sets the defining query.
    #[must_use]
    pub fn with_definition(mut self, definition: impl Into<String>) -> Self {
        self.definition = Some(definition.into());
        self
    }
}

/// A function or procedure.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FunctionFact {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// Identity arguments (`pg_get_function_identity_arguments`), e.g. `integer, text`.
    pub args: String,
    /// Owner.
    pub owner: String,
    /// Language name.
    pub language: String,
    /// `prosecdef`.
    pub security_definer: bool,
    /// `proconfig` entries (`search_path=pg_catalog, pg_temp`).
    pub config: Vec<String>,
    /// Tables the body is known to reference (`None`: unknown; see `body`).
    pub referenced_tables: Option<Vec<QualifiedName>>,
    /// `prosrc`, when collected (searched for table names when `referenced_tables` is
    /// unknown).
    pub body: Option<String>,
    /// `proacl`; `None` is the default: EXECUTE for PUBLIC and the owner.
    pub acl: Option<Vec<AclItem>>,
}

impl FunctionFact {
    /// A SECURITY INVOKER SQL function with no config.
    pub fn new(
        schema: impl Into<String>,
        name: impl Into<String>,
        owner: impl Into<String>,
    ) -> Self {
        FunctionFact {
            schema: schema.into(),
            name: name.into(),
            owner: owner.into(),
            language: "sql".to_owned(),
            ..FunctionFact::default()
        }
    }

    /// `schema.name(args)`.
    pub fn signature(&self) -> String {
        format!("{}.{}({})", self.schema, self.name, self.args)
    }

    /// Sets the ACL.
    #[must_use]
    pub fn with_acl(mut self, acl: Vec<AclItem>) -> Self {
        self.acl = Some(acl);
        self
    }
}

/// An installed extension.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtensionFact {
    /// Name.
    pub name: String,
    /// Schema it is installed in.
    pub schema: String,
    /// Version.
    pub version: String,
}

impl ExtensionFact {
    /// An extension.
    pub fn new(
        name: impl Into<String>,
        schema: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        ExtensionFact {
            name: name.into(),
            schema: schema.into(),
            version: version.into(),
        }
    }
}

/// A procedural language.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LanguageFact {
    /// Name.
    pub name: String,
    /// `lanpltrusted`.
    pub trusted: bool,
}

impl LanguageFact {
    /// A language.
    pub fn new(name: impl Into<String>, trusted: bool) -> Self {
        LanguageFact {
            name: name.into(),
            trusted,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Client facts

/// How a client connection reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// A Unix-domain socket (no TLS needed).
    UnixSocket,
    /// TCP.
    Tcp,
}

/// What the client verified about the server (from its sslmode and what happened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TlsVerification {
    /// No TLS (sslmode disable, allow, or prefer falling back).
    None,
    /// Encrypted without checking the certificate (require, prefer).
    EncryptedOnly,
    /// Chain checked, host name not (verify-ca).
    Chain,
    /// Chain and host name checked (verify-full).
    ChainAndHost,
}

/// SCRAM channel binding on a client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ChannelBindingFacts {
    /// The connection authenticated with SCRAM.
    pub scram_used: bool,
    /// The server offered SCRAM-SHA-256-PLUS.
    pub offered: bool,
    /// Channel binding was used.
    pub used: bool,
    /// The server certificate's signature algorithm defines a `tls-server-end-point`
    /// hash (RFC 5929; Ed25519 and RSASSA-PSS do not), without which no client can bind.
    pub certificate_allows_binding: bool,
}

impl ChannelBindingFacts {
    /// The three facts (with a certificate that allows binding).
    pub fn new(scram_used: bool, offered: bool, used: bool) -> Self {
        ChannelBindingFacts {
            scram_used,
            offered,
            used,
            certificate_allows_binding: true,
        }
    }

    /// Sets whether the server certificate allows `tls-server-end-point` binding.
    #[must_use]
    pub fn with_certificate_allows_binding(mut self, allows: bool) -> Self {
        self.certificate_allows_binding = allows;
        self
    }
}

/// Facts about one client connection (filled by pgsec-client).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientFacts {
    /// The host as the user gave it.
    pub host: String,
    /// Socket or TCP.
    pub transport: Transport,
    /// The configured sslmode, as written (`verify-full`, `require`, ...).
    pub sslmode: String,
    /// What was verified.
    pub verification: TlsVerification,
    /// TLS protocol version, when TLS is used (`TLSv1.3`).
    pub tls_version: Option<String>,
    /// Cipher suite, when TLS is used.
    pub tls_cipher: Option<String>,
    /// Channel binding, when known.
    pub channel_binding: Option<ChannelBindingFacts>,
    /// The server's certificate (leaf), when TLS is used.
    pub peer_certificate: Option<CertificateFacts>,
}

impl ClientFacts {
    /// A connection over `transport` to `host` with `sslmode` and what it verified.
    pub fn new(
        host: impl Into<String>,
        transport: Transport,
        sslmode: impl Into<String>,
        verification: TlsVerification,
    ) -> Self {
        ClientFacts {
            host: host.into(),
            transport,
            sslmode: sslmode.into(),
            verification,
            tls_version: None,
            tls_cipher: None,
            channel_binding: None,
            peer_certificate: None,
        }
    }

    /// Sets the peer certificate.
    #[must_use]
    pub fn with_peer_certificate(mut self, cert: CertificateFacts) -> Self {
        self.peer_certificate = Some(cert);
        self
    }

    /// Sets the channel-binding facts.
    #[must_use]
    pub fn with_channel_binding(mut self, cb: ChannelBindingFacts) -> Self {
        self.channel_binding = Some(cb);
        self
    }

    /// Sets the TLS version and cipher.
    #[must_use]
    pub fn with_tls(mut self, version: impl Into<String>, cipher: impl Into<String>) -> Self {
        self.tls_version = Some(version.into());
        self.tls_cipher = Some(cipher.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aclitems_parse() {
        let a = AclItem::parse("=UC/postgres").unwrap();
        assert!(a.is_public() && a.has('C') && a.grantor == "postgres");
        let b = AclItem::parse("\"we\"\"ird=\"=r*/\"own er\"").unwrap();
        assert_eq!(b.grantee, "we\"ird=");
        assert_eq!(b.privileges, "r*");
        assert_eq!(b.grantor, "own er");
        assert!(AclItem::parse("nonsense").is_none());
        assert!(AclItem::parse("\"open=r/x").is_none());
    }

    #[test]
    fn password_kinds() {
        assert_eq!(
            PasswordKind::classify("SCRAM-SHA-256$4096:abc$def:ghi"),
            PasswordKind::Scram
        );
        assert_eq!(
            PasswordKind::classify("md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            PasswordKind::Md5
        );
        assert_eq!(PasswordKind::classify("hunter2"), PasswordKind::Other);
    }

    #[test]
    fn version_major() {
        assert_eq!(ServerVersion::new(150004, "15.4").major(), 15);
        assert_eq!(ServerVersion::new(90624, "9.6.24").major(), 9);
    }

    #[test]
    fn collected_reports_its_reason() {
        let c: Collected<u8> = Collected::not_collected("needs superuser");
        assert_eq!(c.get(), Err("needs superuser"));
        assert_eq!(Collected::Present(3).get(), Ok(&3));
    }
}
