//! The pure evaluator: [`Snapshot`] + [`Policy`] → [`Report`].
//!
//! Every catalogue rule is visited. A rule either emits findings, stays quiet because
//! its facts are present and fine, or records why it could not be decided (skipped).

mod auth;
mod client;
mod hba_rules;
mod logging;
mod majors;
mod objects;
mod pgaudit;
mod privileges;
mod reach;
mod releases;
mod rls;
mod roles;
mod runtime;
pub(crate) mod settings;
mod tls;

#[cfg(test)]
mod testutil;

use std::collections::BTreeMap;

use crate::catalogue::{catalogue, Rule};
use crate::conf::ConfFile;
use crate::hba::HbaFile;
use crate::report::{Finding, FindingText, Location, Report, Skipped};
use crate::snapshot::{Collected, LiveFacts, RoleFact, NEEDS_LIVE};
use crate::{Policy, Severity, Snapshot};

use settings::{pg15_default, Origin, Setting};

type RuleFn = fn(&mut Eval<'_>);

/// The evaluating function of each rule id.
const RULE_FNS: &[(&str, RuleFn)] = &[
    ("tls.ssl_off", tls::ssl_off),
    ("tls.min_protocol_weak", tls::min_protocol_weak),
    ("tls.weak_ciphers", tls::weak_ciphers),
    ("tls.weak_groups", majors::weak_groups),
    ("tls.weak_tls13_ciphers", majors::weak_tls13_ciphers),
    ("tls.key_permissions", tls::key_permissions),
    ("tls.cert_expiry", tls::cert_expiry),
    ("tls.cert_no_san", tls::cert_no_san),
    ("net.listen_all", tls::listen_all),
    ("hba.parse_error", hba_rules::parse_error),
    ("hba.trust_network", hba_rules::trust_network),
    ("hba.trust_local", hba_rules::trust_local),
    ("hba.password_cleartext", hba_rules::password_cleartext),
    ("hba.md5", hba_rules::md5),
    ("hba.ident_network", hba_rules::ident_network),
    ("hba.plaintext_allowed", hba_rules::plaintext_allowed),
    ("hba.wide_address", hba_rules::wide_address),
    ("hba.all_db_all_users", hba_rules::all_db_all_users),
    ("hba.superuser_network", hba_rules::superuser_network),
    ("hba.replication_wide", hba_rules::replication_wide),
    ("hba.no_final_reject", hba_rules::no_final_reject),
    ("hba.shadowed_rule", hba_rules::shadowed_rule),
    ("hba.oauth_no_validator", majors::oauth_no_validator),
    ("auth.password_encryption", auth::password_encryption),
    ("auth.md5_stored", roles::md5_stored),
    ("auth.scram_iterations", majors::scram_iterations),
    ("auth.timeout_long", auth::timeout_long),
    ("role.app_superuser", roles::app_superuser),
    ("role.superusers", roles::superusers),
    ("role.bypassrls", roles::bypassrls),
    ("role.createrole_createdb", roles::createrole_createdb),
    ("role.connlimit_unlimited", roles::connlimit_unlimited),
    ("role.dangerous_membership", roles::dangerous_membership),
    ("role.stats_visibility", roles::stats_visibility),
    (
        "priv.public_schema_create",
        privileges::public_schema_create,
    ),
    ("priv.public_table_grants", privileges::public_table_grants),
    ("priv.app_owns_tables", privileges::app_owns_tables),
    ("priv.app_maintain", majors::app_maintain),
    ("priv.search_path_public", privileges::search_path_public),
    ("rls.disabled", rls::disabled),
    ("rls.not_forced", rls::not_forced),
    ("rls.no_policy", rls::no_policy),
    ("rls.policy_without_rls", rls::policy_without_rls),
    ("rls.policy_always_true", rls::policy_always_true),
    ("rls.policy_ignores_tenant", rls::policy_ignores_tenant),
    ("rls.view_bypass", rls::view_bypass),
    ("rls.definer_function", rls::definer_function),
    ("rls.policy_loose_match", rls::policy_loose_match),
    ("rls.tenant_setting_default", rls::tenant_setting_default),
    ("fn.definer_search_path", objects::definer_search_path),
    ("fn.login_event_trigger", majors::login_event_trigger),
    ("ext.untrusted_language", objects::untrusted_language),
    ("ext.risky_extension", objects::risky_extension),
    ("ext.in_public", objects::in_public),
    ("audit.pgaudit_not_loaded", pgaudit::pgaudit_not_loaded),
    ("audit.pgaudit_no_extension", pgaudit::pgaudit_no_extension),
    ("audit.pgaudit_classes", pgaudit::pgaudit_classes),
    ("audit.pgaudit_catalog", pgaudit::pgaudit_catalog),
    ("audit.pgaudit_relation", pgaudit::pgaudit_relation),
    ("log.connections", logging::log_connections),
    ("log.disconnections", logging::log_disconnections),
    ("log.line_prefix", logging::log_line_prefix),
    ("log.lock_waits", logging::log_lock_waits),
    ("rt.idle_in_tx_timeout", runtime::idle_in_tx_timeout),
    ("rt.unsafe_setting", runtime::unsafe_setting),
    ("rt.version_eol", runtime::version_eol),
    ("rt.allow_alter_system", majors::allow_alter_system),
    ("rt.security_release", releases::security_release),
    ("client.sslmode_weak", client::sslmode_weak),
    ("client.channel_binding", client::channel_binding),
];

/// Evaluates every rule of the catalogue against `snapshot` under `policy`.
///
/// Pure: no I/O, no clock (time comes from [`Snapshot::collected_at`]).
///
/// ```
/// use pgsec_core::{evaluate, Policy, Snapshot};
/// let report = evaluate(&Snapshot::new("nothing", 0), &Policy::default());
/// assert!(report.findings().is_empty());
/// assert!(report.is_skipped("rls.disabled"));
/// ```
pub fn evaluate(snapshot: &Snapshot, policy: &Policy) -> Report {
    evaluate_rules(snapshot, policy, |_| true)
}

/// Evaluates only the rules whose id satisfies `select` (e.g. the hba rules for
/// `pgsec hba lint`, or the start-up guard's rules). Rules not selected appear neither
/// as findings nor as skipped.
pub fn evaluate_rules(
    snapshot: &Snapshot,
    policy: &Policy,
    select: impl Fn(&str) -> bool,
) -> Report {
    let mut ev = Eval {
        snap: snapshot,
        policy,
        rule: &catalogue()[0],
        findings: Vec::new(),
        skipped: Vec::new(),
        suppressed: Vec::new(),
        hba_hits: None,
    };
    let fns: BTreeMap<&str, RuleFn> = RULE_FNS.iter().copied().collect();
    for rule in catalogue() {
        if !select(rule.id) {
            continue;
        }
        ev.rule = rule;
        // A rule about a setting, privilege or method that the server's (or the files')
        // major does not have stays quiet: there is nothing to fix.
        if !rule.majors.contains(ev.major()) {
            continue;
        }
        match fns.get(rule.id) {
            Some(f) => f(&mut ev),
            None => ev.skip("not implemented yet"),
        }
    }
    Report::new(
        snapshot.target.clone(),
        ev.findings,
        ev.skipped,
        ev.suppressed,
    )
}

/// The evaluation context handed to each rule function.
pub(crate) struct Eval<'a> {
    pub(crate) snap: &'a Snapshot,
    pub(crate) policy: &'a Policy,
    rule: &'static Rule,
    findings: Vec<Finding>,
    skipped: Vec<Skipped>,
    suppressed: Vec<Finding>,
    /// The hba lines the per-line `hba.*` rules fire on, found in one pass by the first
    /// of them evaluated (see `hba_rules::line_hits`).
    hba_hits: Option<Vec<(usize, u16)>>,
}

/// Unwraps a fact or records the rule as skipped and returns from the rule function.
macro_rules! need {
    ($ev:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reason) => {
                $ev.skip(reason);
                return;
            }
        }
    };
}
pub(crate) use need;

impl<'a> Eval<'a> {
    /// Emits a finding of the current rule at its catalogue severity.
    pub(crate) fn emit(
        &mut self,
        object: impl AsRef<str>,
        location: Location,
        evidence: impl AsRef<str>,
        remediation: impl AsRef<str>,
    ) {
        self.emit_at(self.rule.severity, object, location, evidence, remediation);
    }

    /// Emits a finding of the current rule at `severity` (raised or lowered as RULES.md
    /// says); a policy override still wins.
    pub(crate) fn emit_at(
        &mut self,
        severity: Severity,
        object: impl AsRef<str>,
        location: Location,
        evidence: impl AsRef<str>,
        remediation: impl AsRef<str>,
    ) {
        let text = FindingText::of(evidence.as_ref(), remediation.as_ref(), object.as_ref());
        self.emit_text_at(severity, location, text);
    }

    /// Emits a finding of the current rule at its catalogue severity, its texts written
    /// into one buffer by the rule.
    pub(crate) fn emit_text(&mut self, location: Location, text: FindingText) {
        self.emit_text_at(self.rule.severity, location, text);
    }

    fn emit_text_at(&mut self, severity: Severity, location: Location, text: FindingText) {
        let mut f = Finding::of_rule(self.rule.id, severity, self.rule.title, location, text);
        if let Some(s) = self.policy.severity_overrides.get(self.rule.id) {
            f.set_severity(*s);
        }
        if self.policy.is_suppressed(f.id(), f.fingerprint()) {
            self.suppressed.push(f);
        } else {
            self.findings.push(f);
        }
    }

    /// The current rule's catalogue severity.
    pub(crate) fn rule_severity(&self) -> Severity {
        self.rule.severity
    }

    /// Makes room for `additional` findings about to be emitted (a large file's rules
    /// emit tens of thousands).
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.findings.reserve(additional);
    }

    /// Records the current rule (or a part of it) as skipped.
    pub(crate) fn skip(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        if !self
            .skipped
            .iter()
            .any(|s| s.id == self.rule.id && s.reason == reason)
        {
            self.skipped.push(Skipped {
                id: self.rule.id.to_owned(),
                reason,
            });
        }
    }

    /// Live facts, or why there are none.
    pub(crate) fn live(&self) -> Result<&'a LiveFacts, String> {
        self.snap.live.get().map_err(str::to_owned)
    }

    /// Roles from the live server.
    pub(crate) fn roles(&self) -> Result<&'a [RoleFact], String> {
        let live = self.live()?;
        live.roles
            .get()
            .map(Vec::as_slice)
            .map_err(|r| format!("roles not collected: {r}"))
    }

    /// The application's role: the policy's, else the snapshot's.
    pub(crate) fn app_role(&self) -> Result<&'a str, String> {
        self.policy
            .app_role
            .as_deref()
            .or(self.snap.app_role.as_deref())
            .ok_or_else(|| "no application role given (Policy::app_role or --app-role)".to_owned())
    }

    /// The hba rules in force: the live server's when collected, else the file's.
    pub(crate) fn hba(&self) -> Result<&'a HbaFile, String> {
        if let Collected::Present(live) = &self.snap.live {
            match (&live.hba, &self.snap.hba) {
                (Collected::Present(h), _) => return Ok(h),
                (Collected::NotCollected(_), Collected::Present(h)) => return Ok(h),
                (Collected::NotCollected(r), Collected::NotCollected(_)) => {
                    return Err(format!("pg_hba_file_rules not readable: {r}"));
                }
            }
        }
        self.snap
            .hba
            .get()
            .map_err(|r| format!("{r} (needs pg_hba.conf or a live connection)"))
    }

    /// The effective value of a server setting: live when collected, else the file's
    /// (or PostgreSQL 15's default when the file does not set it).
    pub(crate) fn setting(&self, name: &str) -> Result<Setting, String> {
        let mut live_reason = None;
        if let Collected::Present(live) = &self.snap.live {
            match (&live.settings, &live.settings_hidden) {
                // A setting the role could not see is unknown, not at its default.
                (Collected::Present(map), Some(hidden)) if !map.contains_key(name) => {
                    live_reason = Some(format!("{name} is not visible: {hidden}"));
                }
                (Collected::Present(map), _) => return Ok(live_setting(map, name)),
                (Collected::NotCollected(r), _) => {
                    live_reason = Some(format!("pg_settings not readable: {r}"));
                }
            }
        }
        match &self.snap.conf {
            Collected::Present(conf) => Ok(file_setting(conf, name)),
            Collected::NotCollected(r) => Err(match live_reason {
                Some(lr) => lr,
                None => format!("{r} (needs postgresql.conf or a live connection)"),
            }),
        }
    }

    /// The server's major version: the live server's when known, else the version the
    /// files are for (hba token rules, version-dependent defaults).
    pub(crate) fn hba_version(&self) -> crate::hba::PgVersion {
        self.snap
            .live
            .as_option()
            .and_then(|l| l.server_version.as_option())
            .and_then(|v| crate::hba::PgVersion::new(v.major()).ok())
            .unwrap_or(self.snap.pg_version)
    }

    /// The server's major version: the live server's when known (whatever it is), else
    /// the version the files are for.
    pub(crate) fn major(&self) -> u32 {
        self.snap
            .live
            .as_option()
            .and_then(|l| l.server_version.as_option())
            .map_or(
                self.snap.pg_version.major(),
                crate::snapshot::ServerVersion::major,
            )
    }

    /// The live server's facts, or the reason an L-only rule skips (a file audit):
    /// `need!(ev, ev.live_or_skip())`.
    pub(crate) fn live_or_skip(&self) -> Result<&'a LiveFacts, String> {
        self.live().map_err(|_| NEEDS_LIVE.to_owned())
    }
}

fn live_setting(map: &BTreeMap<String, crate::snapshot::LiveSetting>, name: &str) -> Setting {
    match map.get(name) {
        Some(s) => {
            let note = match (&s.sourcefile, s.sourceline) {
                (Some(f), Some(l)) => Some(format!("source: {f}:{l}")),
                _ => Some(format!("source: {}", s.source)),
            };
            Setting {
                name: name.to_owned(),
                value: s.value.clone(),
                unit: s.unit.clone(),
                location: Location::object("setting", name),
                origin: Origin::Live,
                source_note: note,
            }
        }
        None => Setting {
            name: name.to_owned(),
            value: pg15_default(name).unwrap_or_default().to_owned(),
            unit: None,
            location: Location::object("setting", name),
            origin: Origin::Live,
            source_note: Some("not defined on the server; default assumed".to_owned()),
        },
    }
}

/// The path of the main configuration file, for settings left unset.
pub(crate) fn conf_path(conf: &ConfFile) -> String {
    conf.settings
        .first()
        .map(|s| s.file.clone())
        .or_else(|| conf.errors.first().map(|e| e.file.clone()))
        .unwrap_or_else(|| "postgresql.conf".to_owned())
}

fn file_setting(conf: &ConfFile, name: &str) -> Setting {
    match conf.get(name) {
        Some(s) => Setting {
            name: name.to_owned(),
            value: s.value.clone(),
            unit: None,
            location: Location::file_line(s.file.clone(), s.line_number),
            origin: Origin::File,
            source_note: None,
        },
        None => Setting {
            name: name.to_owned(),
            value: pg15_default(name).unwrap_or_default().to_owned(),
            unit: None,
            location: Location::file(conf_path(conf)),
            origin: Origin::FileDefault,
            source_note: None,
        },
    }
}

/// An SQL identifier for remediation text, quoted as the server's `quote_ident()` would.
pub(crate) fn ident(name: &str) -> String {
    crate::sql::quote_catalog_name(name)
}

/// `schema.name`, each part quoted as needed.
pub(crate) fn qident(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// Every role `role` is a member of, directly or through other roles (not itself).
pub(crate) fn member_closure(roles: &[RoleFact], role: &str) -> std::collections::BTreeSet<String> {
    let by_name: BTreeMap<&str, &RoleFact> = roles.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut stack: Vec<&str> = by_name
        .get(role)
        .map(|r| r.member_of.iter().map(String::as_str).collect())
        .unwrap_or_default();
    while let Some(g) = stack.pop() {
        if seen.insert(g.to_owned()) {
            if let Some(r) = by_name.get(g) {
                stack.extend(r.member_of.iter().map(String::as_str));
            }
        }
    }
    seen
}

/// A name for an object of a database, for locations: `name (database db)`.
pub(crate) fn in_db(db: &str, name: &str) -> String {
    format!("{name} (database {db})")
}

impl<'a> Eval<'a> {
    /// The databases of a live audit whose collection `what` (got by `get`) is present;
    /// the others are recorded as skipped with their reason. Skips the rule entirely
    /// (and returns an empty list) when there is no live connection or no database.
    pub(crate) fn per_db<T>(
        &mut self,
        what: &str,
        get: impl Fn(&'a crate::snapshot::DatabaseFacts) -> &'a Collected<T>,
    ) -> Vec<(&'a crate::snapshot::DatabaseFacts, &'a T)> {
        let live = match self.live_or_skip() {
            Ok(l) => l,
            Err(r) => {
                self.skip(r);
                return Vec::new();
            }
        };
        if live.databases.is_empty() {
            self.skip("no database was examined");
            return Vec::new();
        }
        let mut out = Vec::new();
        for db in &live.databases {
            match get(db) {
                Collected::Present(v) => out.push((db, v)),
                Collected::NotCollected(r) => {
                    self.skip(format!("{what} of database {} not collected: {r}", db.name));
                }
            }
        }
        out
    }
}

/// Who other than the owner may CREATE in `schema` (`PUBLIC` or role names).
pub(crate) fn schema_creators(schema: &crate::snapshot::SchemaFact) -> Vec<String> {
    schema
        .acl
        .iter()
        .flatten()
        .filter(|a| a.has('C') && a.grantee != schema.owner)
        .map(|a| {
            if a.is_public() {
                "PUBLIC".to_owned()
            } else {
                a.grantee.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::catalogue;

    #[test]
    fn every_catalogue_rule_has_a_function() {
        for r in catalogue() {
            assert!(
                RULE_FNS.iter().any(|(id, _)| *id == r.id),
                "{} has no function",
                r.id
            );
        }
        assert_eq!(RULE_FNS.len(), catalogue().len());
    }

    #[test]
    fn settings_the_role_could_not_see_are_unknown_not_defaults() {
        let mut l = testutil::live();
        testutil::set(&mut l, "ssl", "on");
        l.settings_hidden = Some("role app may not see every setting".to_owned());
        let r = evaluate(&Snapshot::new("t", 0).with_live(l), &Policy::default());
        assert!(r.findings_of("tls.ssl_off").next().is_none());
        assert!(!r.is_skipped("tls.ssl_off"), "ssl is visible to every role");
        let hidden = r
            .skipped()
            .iter()
            .find(|s| s.id == "audit.pgaudit_not_loaded")
            .expect("shared_preload_libraries is unknown");
        assert!(
            hidden
                .reason
                .contains("shared_preload_libraries is not visible"),
            "{}",
            hidden.reason
        );
    }

    #[test]
    fn empty_snapshot_skips_everything_with_a_reason() {
        let r = evaluate(&Snapshot::new("t", 0), &Policy::default());
        assert!(r.findings().is_empty());
        for rule in catalogue() {
            // Rules of later majors do not apply to the default major (15).
            if rule.majors.contains(15) {
                assert!(r.is_skipped(rule.id), "{} not skipped", rule.id);
            } else {
                assert!(!r.is_skipped(rule.id), "{} does not apply to 15", rule.id);
            }
        }
        // On 18 they skip like the others.
        let s = Snapshot::new("t", 0).with_pg_version(crate::hba::PgVersion::new(18).unwrap());
        let r = evaluate(&s, &Policy::default());
        for rule in catalogue() {
            assert!(r.is_skipped(rule.id), "{} not skipped on 18", rule.id);
        }
        assert!(r.skipped().iter().all(|s| !s.reason.is_empty()));
        let live_only = r.skipped().iter().find(|s| s.id == "rls.disabled").unwrap();
        assert_eq!(live_only.reason, NEEDS_LIVE);
    }
}
