//! pgsec-testkit
