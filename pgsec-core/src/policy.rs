//! What the user decides: tenant columns, suppressions, severities, allow-lists. (The
//! failure threshold is the caller's: [`crate::Report::fails`] takes it.)

use std::collections::{BTreeMap, BTreeSet};

use crate::Severity;

/// Evaluation policy. `Policy::default()` is the baseline of RULES.md.
///
/// ```
/// use pgsec_core::{Policy, Severity};
/// let policy = Policy::default()
///     .with_app_role("app")
///     .with_tenant_column("org_id")
///     .with_severity("log.lock_waits", Severity::Medium)
///     .suppress("net.listen_all");
/// assert!(policy.tenant_columns.contains(&"org_id".to_owned()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Column names that make a table a tenant table (default `tenant_id`).
    pub tenant_columns: Vec<String>,
    /// Suppressed rule ids or finding fingerprints.
    pub suppressions: BTreeSet<String>,
    /// Extensions (and languages) that `ext.*` rules accept.
    pub allowed_extensions: BTreeSet<String>,
    /// Superusers that `role.superusers` accepts.
    pub allowed_superusers: BTreeSet<String>,
    /// Roles allowed to read all sessions' statistics (`role.stats_visibility`); roles
    /// whose name contains `monitor` count as monitoring roles too.
    pub monitoring_roles: BTreeSet<String>,
    /// Severity per rule id, replacing the rule's own.
    pub severity_overrides: BTreeMap<String, Severity>,
    /// The role the application connects as.
    pub app_role: Option<String>,
    /// The setting that carries the tenant (default `app.current_tenant_id`), for
    /// `rls.tenant_setting_default`.
    pub tenant_setting: String,
    /// Report only what lets the application's role past Row-Level Security (default
    /// off): `role.bypassrls` only for roles it is or can `SET ROLE` to, and
    /// `rls.view_bypass` / `rls.definer_function` only for views it may read and
    /// functions it may execute that run with the rights of a role that bypasses the
    /// policies (a superuser, a BYPASSRLS role, the tenant table's owner). This is the
    /// view of pgsec-client's start-up guard; its findings are a subset of an audit's
    /// with the same application role.
    pub app_only: bool,
}

/// The tenant setting's default name.
pub(crate) const DEFAULT_TENANT_SETTING: &str = "app.current_tenant_id";

impl Default for Policy {
    fn default() -> Self {
        Policy {
            tenant_columns: vec!["tenant_id".to_owned()],
            suppressions: BTreeSet::new(),
            allowed_extensions: BTreeSet::new(),
            allowed_superusers: BTreeSet::new(),
            monitoring_roles: BTreeSet::new(),
            severity_overrides: BTreeMap::new(),
            app_role: None,
            tenant_setting: DEFAULT_TENANT_SETTING.to_owned(),
            app_only: false,
        }
    }
}

impl Policy {
    /// Replaces the tenant column names with `columns`.
    #[must_use]
    pub fn with_tenant_columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tenant_columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a tenant column name.
    #[must_use]
    pub fn with_tenant_column(mut self, column: impl Into<String>) -> Self {
        let column = column.into();
        if !self.tenant_columns.contains(&column) {
            self.tenant_columns.push(column);
        }
        self
    }

    /// Suppresses a rule id or a finding fingerprint.
    #[must_use]
    pub fn suppress(mut self, id_or_fingerprint: impl Into<String>) -> Self {
        self.suppressions.insert(id_or_fingerprint.into());
        self
    }

    /// Allows an extension or language.
    #[must_use]
    pub fn allow_extension(mut self, name: impl Into<String>) -> Self {
        self.allowed_extensions.insert(name.into());
        self
    }

    /// Allows a superuser.
    #[must_use]
    pub fn allow_superuser(mut self, name: impl Into<String>) -> Self {
        self.allowed_superusers.insert(name.into());
        self
    }

    /// Declares a monitoring role.
    #[must_use]
    pub fn with_monitoring_role(mut self, name: impl Into<String>) -> Self {
        self.monitoring_roles.insert(name.into());
        self
    }

    /// Overrides a rule's severity.
    #[must_use]
    pub fn with_severity(mut self, rule_id: impl Into<String>, severity: Severity) -> Self {
        self.severity_overrides.insert(rule_id.into(), severity);
        self
    }

    /// Sets the application's role.
    #[must_use]
    pub fn with_app_role(mut self, role: impl Into<String>) -> Self {
        self.app_role = Some(role.into());
        self
    }

    /// Sets the setting that carries the tenant.
    #[must_use]
    pub fn with_tenant_setting(mut self, name: impl Into<String>) -> Self {
        self.tenant_setting = name.into();
        self
    }

    /// Restricts the application rules to what concerns the application's role (see
    /// [`Policy::app_only`]).
    #[must_use]
    pub fn with_app_only(mut self, yes: bool) -> Self {
        self.app_only = yes;
        self
    }

    /// True when `column` names a tenant column (case-sensitive, as identifiers are
    /// stored).
    pub fn is_tenant_column(&self, column: &str) -> bool {
        self.tenant_columns.iter().any(|c| c == column)
    }

    /// True when a finding with this id or fingerprint is suppressed.
    pub fn is_suppressed(&self, rule_id: &str, fingerprint: &str) -> bool {
        self.suppressions.contains(rule_id) || self.suppressions.contains(fingerprint)
    }
}
