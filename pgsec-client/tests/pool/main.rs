//! TenantPool against real PostgreSQL (pgsec-testkit), and behind PgBouncer.

mod guard;
mod hostile;
mod isolation;
mod lifecycle;
mod pgbouncer;
mod roundtrips;

mod fixture;

pub(crate) use fixture::*;
