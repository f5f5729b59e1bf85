//! The rule catalogue of RULES.md as data: ids, severities, titles, rationales,
//! remediation templates and sources. Ids are stable and never renamed.

use std::fmt::Write as _;

use crate::severity::RuleSource::{self, Client as C, File as F, Live as L};
use crate::Severity::{self, Critical, High, Low, Medium};

/// One rule of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rule {
    /// Stable id, e.g. `tls.ssl_off`.
    pub id: &'static str,
    /// Default severity (a finding may be raised or lowered where RULES.md says so).
    pub severity: Severity,
    /// One-line title.
    pub title: &'static str,
    /// Why it matters.
    pub rationale: &'static str,
    /// What to do, generically (each finding carries a remediation for its object).
    pub remediation: &'static str,
    /// Where the facts come from.
    pub sources: &'static [RuleSource],
    /// The PostgreSQL majors the rule applies to; on another major it stays quiet.
    pub majors: Majors,
}

/// The PostgreSQL major versions a rule applies to: every major, or one and the ones
/// after it (a setting, privilege or method that first appeared in that release).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Majors {
    since: u32,
}

impl Majors {
    /// Every major version.
    pub const ALL: Majors = Majors { since: 0 };

    /// `first` and every later major.
    pub const fn since(first: u32) -> Majors {
        Majors { since: first }
    }

    /// The first major the rule applies to, `None` when it applies to all.
    pub fn first(self) -> Option<u32> {
        (self.since > 0).then_some(self.since)
    }

    /// True when the rule applies to `major`.
    pub fn contains(self, major: u32) -> bool {
        major >= self.since
    }
}

impl std::fmt::Display for Majors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.first() {
            None => f.write_str("all"),
            Some(m) => write!(f, "{m}+"),
        }
    }
}

impl Rule {
    /// True when the rule can be decided from facts of this source.
    pub fn has_source(&self, source: RuleSource) -> bool {
        self.sources.contains(&source)
    }

    /// The sources as RULES.md writes them (`L F`).
    pub fn sources_letters(&self) -> String {
        let letters: Vec<String> = self
            .sources
            .iter()
            .map(|s| s.letter().to_string())
            .collect();
        letters.join(" ")
    }

    /// The id's category (the part before the dot: `tls`, `hba`, `rls`, ...).
    pub fn category(&self) -> &'static str {
        self.id.split('.').next().unwrap_or(self.id)
    }
}

macro_rules! rule {
    ($id:literal, $sev:expr, [$($src:expr),+], $title:literal, $why:literal, $fix:literal) => {
        rule!($id, $sev, [$($src),+], since 0, $title, $why, $fix)
    };
    ($id:literal, $sev:expr, [$($src:expr),+], since $major:literal, $title:literal, $why:literal, $fix:literal) => {
        Rule {
            id: $id,
            severity: $sev,
            title: $title,
            rationale: $why,
            remediation: $fix,
            sources: &[$($src),+],
            majors: Majors::since($major),
        }
    };
}

static CATALOGUE: &[Rule] = &[
    // TLS and network
    rule!("tls.ssl_off", Critical, [L, F], "TLS is off",
        "With ssl = off every password exchange, query and result crosses the network in clear text and clients cannot authenticate the server.",
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'"),
    rule!("tls.min_protocol_weak", High, [L, F], "TLS versions below 1.2 are accepted",
        "TLS 1.0 and 1.1 are deprecated (RFC 8996) and admit downgrade attacks.",
        "ssl_min_protocol_version = 'TLSv1.2'"),
    rule!("tls.weak_ciphers", Medium, [L, F], "Weak TLS cipher suites are accepted",
        "PostgreSQL's default ssl_ciphers (HIGH:MEDIUM:+3DES:!aNULL) admits MEDIUM and 3DES suites; a list should admit only strong suites.",
        "ssl_ciphers = 'HIGH:!MEDIUM:!3DES:!aNULL:!eNULL:!RC4:!EXPORT:!LOW'"),
    rule!("tls.weak_groups", Medium, [L, F], since 18, "Weak key-exchange groups are accepted",
        "ssl_groups (PostgreSQL 18; ssl_ecdh_curve before) names the groups of the TLS key exchange; a curve below 256 bits gives less than 128-bit security and lets a well-funded attacker recover session keys.",
        "ssl_groups = 'X25519:prime256v1'"),
    rule!("tls.weak_tls13_ciphers", Medium, [L, F], since 18, "Weak TLS 1.3 cipher suites are accepted",
        "ssl_tls13_ciphers (PostgreSQL 18) may admit TLS_AES_128_CCM_8_SHA256, whose 64-bit tag is too short, or the integrity-only suites that do not encrypt at all; unset, OpenSSL's strong defaults apply.",
        "ssl_tls13_ciphers = ''  # OpenSSL's defaults: TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"),
    rule!("tls.key_permissions", High, [F], "The server's private key is readable by others",
        "Anyone who can read the key can impersonate the server; PostgreSQL itself requires 0600 (or 0640 when owned by root).",
        "chown postgres:postgres server.key && chmod 0600 server.key"),
    rule!("tls.cert_expiry", High, [F, C], "The server certificate has expired or expires soon",
        "Clients that verify certificates refuse an expired one; an outage follows, and the usual emergency fix is to stop verifying.",
        "Renew the server certificate, install it as ssl_cert_file and reload (SELECT pg_reload_conf())."),
    rule!("tls.cert_no_san", Medium, [F, C], "The server certificate has no subjectAltName",
        "Without subjectAltName, host-name checks fall back to the deprecated common name (RFC 6125); pgsec-client refuses such certificates.",
        "Reissue the certificate with subjectAltName = DNS:<host name>[,IP:<address>]."),
    rule!("net.listen_all", Low, [L, F], "The server listens on every interface",
        "listen_addresses = '*' exposes the port on every network the host is on; the hba file is then the only barrier.",
        "listen_addresses = 'localhost,<the one address clients use>'"),
    // Authentication
    rule!("hba.parse_error", Critical, [L, F], "A pg_hba.conf line does not parse",
        "The server refuses to load an hba file with errors on reload, or ignores the line, so the rules in force are not the rules written.",
        "Fix the line (see the error) and check with: SELECT * FROM pg_hba_file_rules WHERE error IS NOT NULL;"),
    rule!("hba.trust_network", Critical, [L, F], "Network connections are trusted without a password",
        "trust on a host line lets anyone who can reach the port connect as any listed role, superusers included.",
        "hostssl <database> <user> <address> scram-sha-256"),
    rule!("hba.trust_local", High, [L, F], "Local connections are trusted for all users",
        "Any local OS user can connect as any role, superusers included, over the Unix socket.",
        "local all all peer"),
    rule!("hba.password_cleartext", High, [L, F], "Passwords are sent in clear text",
        "Method password sends the password itself to the server; without TLS it is on the wire.",
        "Replace `password` with `scram-sha-256`."),
    rule!("hba.md5", Medium, [L, F], "md5 authentication is allowed",
        "md5 hashes are password-equivalent and weak; scram-sha-256 resists replay and stolen-hash logins.",
        "Replace `md5` with `scram-sha-256` after re-setting passwords with password_encryption = 'scram-sha-256'."),
    rule!("hba.ident_network", High, [L, F], "ident authentication over the network",
        "ident over TCP trusts whatever the client host's identd answers, which the client controls.",
        "Replace `ident` with `scram-sha-256` or `cert` on host lines."),
    rule!("hba.plaintext_allowed", High, [L, F], "Connections without TLS are allowed",
        "A host or hostnossl line accepts unencrypted connections, so credentials and data may cross the network in clear.",
        "Use `hostssl` instead of `host`, and `reject` on `hostnossl` lines."),
    rule!("hba.wide_address", Medium, [L, F], "An hba line admits a very wide address range",
        "Lines for all addresses or for networks wider than /16 (IPv4) or /48 (IPv6) expose the server to far more clients than need it.",
        "Narrow the address to the application's subnet, e.g. 10.0.1.0/24."),
    rule!("hba.all_db_all_users", Medium, [L, F], "An hba line admits every user to every database",
        "A network line for all databases and all users gives every role a way in from that network.",
        "List the databases and roles that need network access instead of `all all`."),
    rule!("hba.superuser_network", High, [L], "Superusers may connect over the network",
        "A superuser reachable over the network turns one stolen password into full control of the host.",
        "Add `hostssl all <superuser> 0.0.0.0/0 reject` before the other host lines, or name the application roles explicitly."),
    rule!("hba.replication_wide", Medium, [L, F], "Replication is allowed for all users or from a wide address",
        "Replication connections read every database's data; only the replication role from the standbys' addresses needs them.",
        "hostssl replication <replication role> <standby address>/32 scram-sha-256"),
    rule!("hba.no_final_reject", Low, [L, F], "pg_hba.conf does not end with a catch-all reject",
        "An explicit final reject documents intent and keeps later includes or edits from opening access by accident.",
        "host all all 0.0.0.0/0 reject\nhost all all ::/0 reject"),
    rule!("hba.shadowed_rule", Low, [L, F], "An hba line can never match",
        "An earlier line already matches every connection this line would, so the line is dead and misleads readers.",
        "Delete the line or move it before the line that covers it."),
    rule!("hba.oauth_no_validator", High, [L, F], since 18, "An oauth hba line has no validator library",
        "Method oauth (PostgreSQL 18) accepts a bearer token only as far as a validator module checks it; with oauth_validator_libraries empty, or a validator= option that names a library not listed there, the server rejects the line and nobody can log in through it, which invites a hasty, weaker fix.",
        "oauth_validator_libraries = '<validator module>'  # and validator=<module> on the hba line when several are listed"),
    rule!("auth.password_encryption", High, [L, F], "New passwords are not stored as SCRAM",
        "With password_encryption = md5 new and changed passwords are stored as md5 hashes, which are password-equivalent.",
        "password_encryption = 'scram-sha-256'"),
    rule!("auth.md5_stored", High, [L], "A role's stored password is not SCRAM",
        "An md5 (or clear-text) stored password can be used to log in by anyone who reads it, and keeps md5 authentication alive.",
        "SET password_encryption = 'scram-sha-256'; then \\password <role> in psql"),
    rule!("auth.scram_iterations", Medium, [L, F], since 16, "SCRAM secrets are computed with fewer iterations than the default",
        "scram_iterations (PostgreSQL 16+) below its default 4096 makes every SCRAM secret stored from now on cheaper to brute-force once pg_authid leaks.",
        "scram_iterations = 4096  # then re-set passwords so their secrets are recomputed"),
    rule!("auth.timeout_long", Low, [L, F], "authentication_timeout is long",
        "Half-open authentication attempts hold a connection slot; a long timeout makes slot exhaustion cheap.",
        "authentication_timeout = '30s'"),
    // Roles and privileges
    rule!("role.app_superuser", Critical, [C], "The application's role is or can become a superuser",
        "A superuser bypasses Row-Level Security and every privilege: one SQL injection gives away all tenants and the host. A member of a superuser role, INHERIT or not, becomes one with SET ROLE (PostgreSQL 16+: through memberships with the SET option).",
        "CREATE ROLE app LOGIN NOSUPERUSER NOBYPASSRLS; grant it only what it needs (no membership of a superuser role), and connect as it."),
    rule!("role.superusers", Medium, [L], "More than one login superuser",
        "Each extra superuser is another credential that controls the whole cluster.",
        "ALTER ROLE <role> NOSUPERUSER;  -- or NOLOGIN"),
    rule!("role.bypassrls", High, [L, C], "A role bypasses Row-Level Security",
        "BYPASSRLS ignores every policy; for the application's role, or a role it can SET ROLE to through its memberships (critical), it removes tenant isolation entirely.",
        "ALTER ROLE <role> NOBYPASSRLS;  -- or REVOKE <role> FROM <application role>"),
    rule!("role.createrole_createdb", Medium, [L], "A login role can create roles or databases",
        "CREATEROLE can grant itself most privileges (before PostgreSQL 16, almost any); CREATEDB is rarely needed by applications.",
        "ALTER ROLE <role> NOCREATEROLE NOCREATEDB;"),
    rule!("role.connlimit_unlimited", Low, [L], "A login role has no connection limit",
        "One misbehaving client of a role without a limit can take every connection slot.",
        "ALTER ROLE <role> CONNECTION LIMIT <n>;"),
    rule!("role.dangerous_membership", High, [L], "A role can run programs or read or write server files",
        "pg_execute_server_program, pg_read_server_files and pg_write_server_files give OS-level access as the server's user.",
        "REVOKE <builtin role> FROM <role>;"),
    rule!("role.stats_visibility", Medium, [L], "A role can read every session's query text",
        "pg_read_all_stats and pg_monitor show other sessions' queries, which may contain secrets and other tenants' data.",
        "REVOKE pg_read_all_stats FROM <role>;  -- or pg_monitor; keep it for monitoring roles only"),
    rule!("priv.public_schema_create", High, [L], "Anyone may create objects in a schema",
        "CREATE for PUBLIC lets any role plant functions and tables that other roles' unqualified names resolve to.",
        "REVOKE CREATE ON SCHEMA <schema> FROM PUBLIC;"),
    rule!("priv.public_table_grants", Medium, [L], "PUBLIC holds privileges on a table",
        "Grants to PUBLIC reach every role, including ones created later.",
        "REVOKE ALL ON <table> FROM PUBLIC;"),
    rule!("priv.app_owns_tables", High, [L, C], "The application's role owns tables or can act as their owner",
        "Table owners can alter and drop policies and, without FORCE ROW LEVEL SECURITY, bypass them; so can a member of the owner, through inherited privileges or SET ROLE (NOINHERIT members too).",
        "ALTER TABLE <table> OWNER TO <schema owner role>;  -- or REVOKE <owner> FROM <application role>"),
    rule!("priv.app_maintain", Medium, [L], since 17, "The application's role may run maintenance commands on tables",
        "MAINTAIN (PostgreSQL 17+, directly or through pg_maintain) lets a role VACUUM, ANALYZE, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW and LOCK TABLE any such table: it can stall every tenant's queries behind exclusive locks and run index expressions and materialized-view queries as the table's owner.",
        "REVOKE pg_maintain FROM <application role>;  REVOKE MAINTAIN ON <table> FROM <application role>;"),
    rule!("priv.search_path_public", Medium, [L, F], "The default search_path includes a schema others can create in",
        "Objects planted in a writable schema on the search_path capture unqualified names of other roles' queries (CVE-2018-1058).",
        "search_path = '\"$user\"'  -- and schema-qualify names, or REVOKE CREATE ON SCHEMA <schema> FROM PUBLIC"),
    // Row-Level Security
    rule!("rls.disabled", Critical, [L], "A tenant table has Row-Level Security disabled",
        "Without RLS every role with SELECT sees every tenant's rows.",
        "ALTER TABLE <table> ENABLE ROW LEVEL SECURITY;"),
    rule!("rls.not_forced", High, [L], "A tenant table's Row-Level Security is not forced",
        "Without FORCE the table owner bypasses every policy.",
        "ALTER TABLE <table> FORCE ROW LEVEL SECURITY;"),
    rule!("rls.no_policy", Medium, [L], "Row-Level Security is enabled without any policy",
        "With no policy every non-owner sees nothing; usually the policy was forgotten or dropped.",
        "CREATE POLICY tenant_isolation ON <table> USING (<tenant column> = current_setting('app.current_tenant_id')::<type>) WITH CHECK (<same>);"),
    rule!("rls.policy_without_rls", High, [L], "A table has policies but Row-Level Security is disabled",
        "Policies only apply when RLS is enabled: these policies protect nothing.",
        "ALTER TABLE <table> ENABLE ROW LEVEL SECURITY; ALTER TABLE <table> FORCE ROW LEVEL SECURITY;"),
    rule!("rls.policy_always_true", High, [L], "A permissive policy is always true",
        "Permissive policies are OR-ed: one that is always true admits every row to the roles it applies to.",
        "ALTER POLICY <policy> ON <table> USING (<tenant predicate>) WITH CHECK (<tenant predicate>);"),
    rule!("rls.policy_ignores_tenant", High, [L], "A policy on a tenant table ignores the tenant",
        "A permissive policy that references neither the tenant column nor the session's tenant setting does not isolate tenants.",
        "ALTER POLICY <policy> ON <table> USING (<tenant column> = current_setting('app.current_tenant_id')::<type>);"),
    rule!("rls.view_bypass", High, [L], "A view over a tenant table runs with its owner's rights",
        "Without security_invoker a view checks RLS and privileges as its owner, who usually bypasses the policies; a materialized view stores rows read with its owner's rights and applies no policy. Critical when the owner bypasses the policies (superuser, BYPASSRLS, the table's owner) and the application's role may read it.",
        "ALTER VIEW <view> SET (security_invoker = true);  -- PostgreSQL 15+; for a materialized view: REVOKE ALL ON <view> FROM <application role>"),
    rule!("rls.definer_function", Medium, [L], "A SECURITY DEFINER function reads a tenant table",
        "Owned by a role that bypasses the policies (the table owner, a superuser, a BYPASSRLS role), the function reads past them for whoever calls it; critical when the application's role may execute it.",
        "ALTER FUNCTION <function> SECURITY INVOKER;  -- or filter by tenant inside it"),
    rule!("rls.policy_loose_match", High, [L], "A policy matches the tenant loosely",
        "A policy that compares the tenant column with the tenant setting through LIKE, a regular expression, case folding, trimming, normalisation, a prefix function, a COALESCE fallback or an IS NULL branch lets one tenant's id match another's ('acme' matches 'acme2' and 'ACME') or a transaction without a tenant match rows. Found by pgsec isolation's mutation suite.",
        "ALTER POLICY <policy> ON <table> USING (<tenant column> = current_setting('app.current_tenant_id', true)::<type>) WITH CHECK (<tenant column> = current_setting('app.current_tenant_id', true)::<type>);"),
    rule!("rls.tenant_setting_default", High, [L, F], "The tenant setting has a default value",
        "A default for the tenant setting (postgresql.conf, ALTER SYSTEM, ALTER DATABASE, ALTER ROLE, the connection's options) makes a transaction that sets no tenant run as that tenant instead of seeing no rows: isolation no longer fails closed.",
        "ALTER ROLE <role> RESET app.current_tenant_id;  -- or ALTER DATABASE <db> RESET …; remove -c app.current_tenant_id=… from options"),
    // Functions, extensions, languages
    rule!("fn.definer_search_path", High, [L], "A SECURITY DEFINER function has no safe search_path",
        "Callers can plant objects in a writable schema (or pg_temp) that the function then resolves with its owner's rights.",
        "ALTER FUNCTION <function> SET search_path = pg_catalog, <schema>, pg_temp;"),
    rule!("fn.login_event_trigger", Medium, [L], since 17, "A login event trigger runs at every connection",
        "A login event trigger (PostgreSQL 17+) runs its function as the trigger's owner, a superuser, for every session that connects; a failing or slow function locks every role out, and the function sees each connecting role. Only superusers can create one, so each is a superuser decision to review.",
        "ALTER EVENT TRIGGER <trigger> DISABLE;  -- or DROP EVENT TRIGGER <trigger>; recover a lockout with event_triggers = off (PostgreSQL 17+)"),
    rule!("ext.untrusted_language", High, [L], "An untrusted procedural language is installed",
        "Functions in untrusted languages run arbitrary code as the server's OS user.",
        "DROP EXTENSION <language>;  -- or DROP LANGUAGE"),
    rule!("ext.risky_extension", Medium, [L], "A risky extension is installed",
        "dblink and postgres_fdw open outbound connections, file_fdw and adminpack reach the server's files.",
        "DROP EXTENSION <extension>;  -- or allow-list it in the policy"),
    rule!("ext.in_public", Low, [L], "An extension lives in a schema others can create in",
        "Objects planted next to an extension's functions can hijack calls to them.",
        "ALTER EXTENSION <extension> SET SCHEMA <extension schema>;"),
    // Audit and logging
    rule!("audit.pgaudit_not_loaded", High, [L, F], "pgaudit is not loaded",
        "Without pgaudit there is no reliable record of DDL, role changes and data access.",
        "shared_preload_libraries = 'pgaudit'  # append to the existing list; restart required"),
    rule!("audit.pgaudit_no_extension", Medium, [L], "pgaudit is loaded but its extension is not created",
        "pgaudit needs CREATE EXTENSION in each database to log DDL through its event triggers.",
        "CREATE EXTENSION IF NOT EXISTS pgaudit;"),
    rule!("audit.pgaudit_classes", Medium, [L, F], "pgaudit does not log DDL and role changes",
        "ddl and role are the classes that record schema and privilege changes.",
        "pgaudit.log = 'ddl, role'"),
    rule!("audit.pgaudit_catalog", Low, [L, F], "pgaudit logs catalog queries",
        "Logging catalog access floods the log with psql and driver queries, hiding what matters.",
        "pgaudit.log_catalog = off"),
    rule!("audit.pgaudit_relation", Low, [L, F], "pgaudit does not name relations separately",
        "log_relation = on writes one entry per relation, so each table access can be traced.",
        "pgaudit.log_relation = on"),
    rule!("log.connections", Medium, [L, F], "Connections are not logged",
        "Without connection logs, brute force and unexpected clients go unnoticed.",
        "log_connections = on"),
    rule!("log.disconnections", Low, [L, F], "Disconnections are not logged",
        "Session durations help reconstruct what a client did.",
        "log_disconnections = on"),
    rule!("log.line_prefix", Low, [L, F], "log_line_prefix lacks who, where or when",
        "Log lines without time, process, user, database and client cannot be attributed.",
        "log_line_prefix = '%m [%p] %q%u@%d %r '"),
    rule!("log.lock_waits", Low, [L, F], "Lock waits are not logged",
        "Long lock waits reveal contention and some denial-of-service attempts.",
        "log_lock_waits = on"),
    // Runtime
    rule!("rt.idle_in_tx_timeout", Low, [L, F], "Idle transactions are never ended",
        "A session idle in a transaction holds locks and snapshots forever, blocking vacuum and other sessions.",
        "idle_in_transaction_session_timeout = '5min'"),
    rule!("rt.unsafe_setting", Medium, [L, F], "A setting trades safety for speed",
        "fsync or full_page_writes off risk unrecoverable corruption on a crash; ignore_system_indexes and allow_system_table_mods are for emergencies.",
        "fsync = on\nfull_page_writes = on\nignore_system_indexes = off\nallow_system_table_mods = off"),
    rule!("rt.version_eol", Medium, [L], "The server's major version is past its end of life",
        "Versions past end of life no longer get security fixes.",
        "Upgrade to a supported major version (pg_upgrade)."),
    rule!("rt.allow_alter_system", Low, [L, F], since 17, "ALTER SYSTEM is allowed",
        "With allow_alter_system = on (the PostgreSQL 17+ default) a superuser session, or a role granted ALTER SYSTEM, writes postgresql.auto.conf, which overrides the managed configuration files and survives their redeployment.",
        "allow_alter_system = off  # in postgresql.conf; manage settings in files"),
    rule!("rt.security_release", High, [L], "The server's minor release lacks known security fixes",
        "Each minor release fixes the security problems found in its major; a server older than the newest security release pgsec knows of for its major is exposed to the CVEs that release fixed.",
        "Upgrade to the newest minor release of the same major (a package update and restart; no dump and restore)."),
    // Client connection
    rule!("client.sslmode_weak", Critical, [C], "The connection does not verify the server",
        "Below verify-full a man in the middle can present any certificate (or none) and read the password exchange.",
        "sslmode=verify-full sslrootcert=/path/to/ca.crt"),
    rule!("client.channel_binding", Low, [C], "SCRAM without channel binding",
        "Channel binding ties SCRAM to the TLS session so a relay with another certificate cannot authenticate.",
        "channel_binding=require"),
];

/// The full rule catalogue, in RULES.md order.
pub fn catalogue() -> &'static [Rule] {
    CATALOGUE
}

/// The rule with this id, if any.
pub fn rule(id: &str) -> Option<&'static Rule> {
    CATALOGUE.iter().find(|r| r.id == id)
}

/// Renders the catalogue as a Markdown table (used for the README's rule table).
pub fn catalogue_markdown() -> String {
    let mut out =
        String::from("| id | severity | sources | majors | title |\n|---|---|---|---|---|\n");
    for r in CATALOGUE {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            r.id,
            r.severity,
            r.sources_letters(),
            r.majors,
            r.title.replace('|', "\\|")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The rule ids of RULES.md, with severity and sources, copied from the spec.
    const SPEC: &[(&str, &str, &str)] = &[
        ("tls.ssl_off", "critical", "L F"),
        ("tls.min_protocol_weak", "high", "L F"),
        ("tls.weak_ciphers", "medium", "L F"),
        // Beyond RULES.md: the majors rules of issue 19.
        ("tls.weak_groups", "medium", "L F"),
        ("tls.weak_tls13_ciphers", "medium", "L F"),
        ("tls.key_permissions", "high", "F"),
        ("tls.cert_expiry", "high", "F C"),
        ("tls.cert_no_san", "medium", "F C"),
        ("net.listen_all", "low", "L F"),
        ("hba.parse_error", "critical", "L F"),
        ("hba.trust_network", "critical", "L F"),
        ("hba.trust_local", "high", "L F"),
        ("hba.password_cleartext", "high", "L F"),
        ("hba.md5", "medium", "L F"),
        ("hba.ident_network", "high", "L F"),
        ("hba.plaintext_allowed", "high", "L F"),
        ("hba.wide_address", "medium", "L F"),
        ("hba.all_db_all_users", "medium", "L F"),
        ("hba.superuser_network", "high", "L"),
        ("hba.replication_wide", "medium", "L F"),
        ("hba.no_final_reject", "low", "L F"),
        ("hba.shadowed_rule", "low", "L F"),
        ("hba.oauth_no_validator", "high", "L F"),
        ("auth.password_encryption", "high", "L F"),
        ("auth.md5_stored", "high", "L"),
        ("auth.scram_iterations", "medium", "L F"),
        ("auth.timeout_long", "low", "L F"),
        ("role.app_superuser", "critical", "C"),
        ("role.superusers", "medium", "L"),
        ("role.bypassrls", "high", "L C"),
        ("role.createrole_createdb", "medium", "L"),
        ("role.connlimit_unlimited", "low", "L"),
        ("role.dangerous_membership", "high", "L"),
        ("role.stats_visibility", "medium", "L"),
        ("priv.public_schema_create", "high", "L"),
        ("priv.public_table_grants", "medium", "L"),
        ("priv.app_owns_tables", "high", "L C"),
        ("priv.app_maintain", "medium", "L"),
        ("priv.search_path_public", "medium", "L F"),
        ("rls.disabled", "critical", "L"),
        ("rls.not_forced", "high", "L"),
        ("rls.no_policy", "medium", "L"),
        ("rls.policy_without_rls", "high", "L"),
        ("rls.policy_always_true", "high", "L"),
        ("rls.policy_ignores_tenant", "high", "L"),
        ("rls.view_bypass", "high", "L"),
        ("rls.definer_function", "medium", "L"),
        // Beyond RULES.md: predicts the isolation checker's loose-match leaks (issue 14).
        ("rls.policy_loose_match", "high", "L"),
        // Beyond RULES.md: the start-up guard's tenant-setting check (issue 18).
        ("rls.tenant_setting_default", "high", "L F"),
        ("fn.definer_search_path", "high", "L"),
        ("fn.login_event_trigger", "medium", "L"),
        ("ext.untrusted_language", "high", "L"),
        ("ext.risky_extension", "medium", "L"),
        ("ext.in_public", "low", "L"),
        ("audit.pgaudit_not_loaded", "high", "L F"),
        ("audit.pgaudit_no_extension", "medium", "L"),
        ("audit.pgaudit_classes", "medium", "L F"),
        ("audit.pgaudit_catalog", "low", "L F"),
        ("audit.pgaudit_relation", "low", "L F"),
        ("log.connections", "medium", "L F"),
        ("log.disconnections", "low", "L F"),
        ("log.line_prefix", "low", "L F"),
        ("log.lock_waits", "low", "L F"),
        ("rt.idle_in_tx_timeout", "low", "L F"),
        ("rt.unsafe_setting", "medium", "L F"),
        ("rt.version_eol", "medium", "L"),
        ("rt.allow_alter_system", "low", "L F"),
        ("rt.security_release", "high", "L"),
        ("client.sslmode_weak", "critical", "C"),
        ("client.channel_binding", "low", "C"),
    ];

    #[test]
    fn catalogue_matches_the_spec_exactly() {
        assert_eq!(catalogue().len(), SPEC.len());
        for (r, (id, sev, src)) in catalogue().iter().zip(SPEC) {
            assert_eq!(r.id, *id);
            assert_eq!(r.severity.as_str(), *sev, "{id}");
            assert_eq!(r.sources_letters(), *src, "{id}");
        }
    }

    #[test]
    fn ids_are_unique_and_texts_non_empty() {
        let ids: BTreeSet<&str> = catalogue().iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), catalogue().len());
        for r in catalogue() {
            assert!(!r.title.is_empty() && !r.rationale.is_empty() && !r.remediation.is_empty());
        }
    }

    #[test]
    fn markdown_has_one_row_per_rule() {
        let md = catalogue_markdown();
        assert_eq!(md.lines().count(), catalogue().len() + 2);
        assert!(md.contains("| `hba.trust_network` | critical | L F |"));
    }

    #[test]
    fn lookup_by_id() {
        assert_eq!(rule("rls.not_forced").unwrap().severity, Severity::High);
        assert!(rule("rls.nope").is_none());
    }
}
