//! pgsec-client against real PostgreSQL servers from pgsec-testkit: the TLS verdict
//! matrix of PostgreSQL's own SSL test suite (src/test/ssl), each case run through psql
//! (libpq) and through pgsec-client; channel binding; fail-closed modes; redaction;
//! errors that carry their cause; requirepeer and require_auth.

mod channel_binding;
mod client_cert;
mod errors;
mod harness;
mod matrix;
mod policy;
mod unix_socket;
