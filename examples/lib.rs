//! Code shared by pgsec's runnable examples and their tests.
//!
//! The examples themselves are in `examples/examples/`; run one with
//! `cargo run -p pgsec-examples --example NAME`:
//!
//! | example | shows |
//! |---|---|
//! | `quickstart` | [`pgsec_client::TenantPool`] in about 30 lines |
//! | `axum_tenants` | an HTTP service where every handler runs in a tenant transaction ([`tenants_http`]) |
//! | `audit_in_ci` | a live audit written as SARIF, failing at `high` |
//! | `isolation_test` | proving tenant isolation of your own schema with the testkit's checker |
//!
//! Each starts a throwaway hardened server from pgsec-testkit when it is given no
//! connection string.
#![warn(missing_docs)]

pub mod tenants_http;

// The README's "Using pgsec-client" snippet, kept here so that it compiles;
// `tests/readme.rs` checks that the README shows exactly this file.
#[allow(dead_code)]
mod readme_client;
