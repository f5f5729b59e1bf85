//! pgbouncer
