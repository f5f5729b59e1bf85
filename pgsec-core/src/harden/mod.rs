//! The hardening generator: a [`Profile`] → a `postgresql.conf` fragment, a
//! `pg_hba.conf`, `roles.sql` and `rls.sql` that pass pgsec's own audit.
//!
//! Pure: it returns text and never touches a file or a server. Every SQL file is safe to
//! run twice (existence checks, `IF NOT EXISTS`, `DROP POLICY IF EXISTS` + `CREATE
//! POLICY` in one block) and holds no password: login roles get theirs afterwards from
//! psql's `\password`, which neither echoes nor logs it.
//!
//! ```
//! use pgsec_core::harden::{generate, Profile};
//! let profile = Profile::strict()
//!     .with_database("shop")?
//!     .with_networks(["10.0.2.0/24"])?
//!     .with_tenant_table("orders")?;
//! let files = generate(&profile);
//! let app_line = ["hostssl", "shop", "app", "10.0.2.0/24", "scram-sha-256"];
//! assert!(files.pg_hba_conf.lines().any(|l| l.split_whitespace().eq(app_line)));
//! assert!(files.rls_sql.contains("FORCE ROW LEVEL SECURITY"));
//! assert!(!files.roles_sql.to_ascii_uppercase().contains("PASSWORD '"));
//! # Ok::<(), pgsec_core::Error>(())
//! ```

mod profile;
mod render;

pub use profile::{Ident, Network, Profile, Roles, TenantTable, PROFILE_TEMPLATE};

/// File name of the `postgresql.conf` fragment (conf.d files are read in name order;
/// the prefix makes this one come late and win).
pub const CONF_FILE: &str = "90-pgsec-hardening.conf";
/// File name of the hba file.
pub const HBA_FILE: &str = "pg_hba.conf";
/// File name of the roles script.
pub const ROLES_FILE: &str = "roles.sql";
/// File name of the Row-Level Security script.
pub const RLS_FILE: &str = "rls.sql";

/// The generated files.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hardening {
    /// The `postgresql.conf` fragment ([`CONF_FILE`]).
    pub postgresql_conf: String,
    /// The complete `pg_hba.conf` ([`HBA_FILE`]).
    pub pg_hba_conf: String,
    /// Roles, grants and per-database settings ([`ROLES_FILE`]).
    pub roles_sql: String,
    /// ENABLE + FORCE ROW LEVEL SECURITY and a tenant policy per table ([`RLS_FILE`]).
    pub rls_sql: String,
}

impl Hardening {
    /// `(file name, contents)` of every file, in the order to apply them.
    pub fn files(&self) -> [(&'static str, &str); 4] {
        [
            (CONF_FILE, self.postgresql_conf.as_str()),
            (HBA_FILE, self.pg_hba_conf.as_str()),
            (ROLES_FILE, self.roles_sql.as_str()),
            (RLS_FILE, self.rls_sql.as_str()),
        ]
    }
}

/// Generates the hardened configuration for `profile`.
pub fn generate(profile: &Profile) -> Hardening {
    Hardening {
        postgresql_conf: render::conf(profile),
        pg_hba_conf: render::hba(profile),
        roles_sql: render::roles(profile),
        rls_sql: render::rls(profile),
    }
}
