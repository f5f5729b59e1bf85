//! pgsec-core against real servers from pgsec-testkit, beyond the suites that
//! `scripts/test.sh` runs again on every PostgreSQL major (`parser_agreement`,
//! `live_audit`, `rules_by_major`): the generated hardening applied to a server, and
//! SQL names quoted as the server reads them. One test binary instead of two.

mod harden;
mod sql_names;
