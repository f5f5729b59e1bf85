//! TenantPool against real PostgreSQL (pgsec-testkit), and behind PgBouncer.

mod guard;
mod hostile;
mod hygiene;
mod hygiene_props;
mod isolation;
mod lifecycle;
mod pgbouncer;
mod roundtrips;

mod fixture;

pub(crate) use fixture::*;
