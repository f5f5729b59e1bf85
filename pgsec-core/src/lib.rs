//! pgsec-core: the PostgreSQL hardening baseline as a typed model.
//!
//! Data flows one way: collect → [`Snapshot`] → evaluate(rules) → [`Report`] → render.
//! Everything but collection is pure: no file or socket is touched outside the `live`
//! feature and [`FsLoader`].
//!
//! | where | what |
//! |---|---|
//! | [`catalogue()`], [`rule`] | the rules: stable ids, severities, sources, remediations |
//! | [`hba`], [`conf`] | `pg_hba.conf` and `postgresql.conf` parsers that agree with the server (includes followed through a [`SourceLoader`], bounded by [`InputLimits`], regular files only) |
//! | [`secret`] | which hba options hold secrets, and [`secret::Secret`], which prints `<redacted>` |
//! | [`Snapshot`], [`snapshot`] | the facts a rule may look at, each [`Collected`] or not (with the reason) |
//! | [`evaluate`], [`Policy`] | the pure evaluator and what the user decides (tenant columns, thresholds, suppressions) |
//! | [`Report`], [`render`] | findings with evidence and fingerprints; text, JSON and SARIF 2.1.0 |
//! | [`harden`] | a hardening profile → `postgresql.conf` fragment, `pg_hba.conf`, `roles.sql`, `rls.sql` |
//! | [`sql`] | the one identifier quoter (PostgreSQL's `quote_ident()` and keyword list) and the server's rule for custom setting names |
//! | `live` (feature) | collecting a [`Snapshot`] from a running server over tokio-postgres |
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `live` | off | the `live` module: `collect` / `collect_database` (tokio-postgres) |
//!
//! Evaluating hand-built facts (what the unit tests do):
//!
//! ```
//! use pgsec_core::{evaluate, Policy, Severity, Snapshot};
//! use pgsec_core::snapshot::{LiveFacts, RoleFact};
//! use pgsec_core::snapshot::Collected;
//!
//! let mut app = RoleFact::login("app");
//! app.superuser = true;
//! let mut live = LiveFacts::default();
//! live.roles = Collected::Present(vec![app]);
//! let snapshot = Snapshot::new("example", 0).with_live(live).with_app_role("app");
//! let report = evaluate(&snapshot, &Policy::default());
//! assert!(report.findings_of("role.app_superuser").next().is_some());
//! assert!(report.fails(Severity::High));
//! ```
#![warn(missing_docs)]

pub mod conf;
pub mod hba;
mod source;

mod catalogue;
mod cert;
mod error;
mod evaluate;
pub mod harden;
mod hash;
#[cfg(feature = "live")]
pub mod live;
mod pgvalue;
mod policy;
pub mod render;
mod report;
pub mod secret;
mod severity;
pub mod snapshot;
pub mod sql;

pub use source::{
    read_input_bytes, read_input_file, FsLoader, InputLimit, InputLimits, MemoryLoader,
    SourceLoader, SourceRef,
};

pub use catalogue::{catalogue, catalogue_markdown, rule, Majors, Rule};
pub use error::{display_chain, Error};
pub use evaluate::{evaluate, evaluate_rules};
pub use pgvalue::format_utc;
pub use policy::Policy;
pub use report::{fingerprint, Finding, Location, Report, RuleCount, Skipped, Summary};
pub use severity::{RuleSource, Severity};
pub use snapshot::{Collected, Snapshot};
