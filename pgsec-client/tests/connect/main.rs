//! pgsec-client against real PostgreSQL servers from pgsec-testkit: the TLS verdict
//! matrix of PostgreSQL's own SSL test suite (src/test/ssl), each case run through psql
//! (libpq) and through pgsec-client; channel binding; fail-closed modes; redaction;
//! errors that carry their cause; requirepeer and require_auth; the libpq 16–18 options
//! (require_auth, sslnegotiation=direct, sslcertmode, load_balance_hosts,
//! min/max_protocol_version) compared with psql of the server's major.

mod channel_binding;
mod client_cert;
mod errors;
mod harness;
mod libpq_options;
mod matrix;
mod policy;
mod unix_socket;
