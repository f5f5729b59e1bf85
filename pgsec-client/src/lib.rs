//! pgsec-client
