//! TenantPool under faults injected for real, against real PostgreSQL (pgsec-testkit):
//! the network (the testkit's TCP proxy: resets, a black hole, connections closed after
//! N bytes, a bandwidth limit), the server (`pg_terminate_backend`, `statement_timeout`,
//! `idle_in_transaction_session_timeout`, a restart), PgBouncer restarted, the pool exhausted,
//! cancelled futures, and a soak mixing them.
//!
//! Every test checks what the caller is told (a retry-safe error, or a commit whose
//! outcome is unknown), that no acknowledged commit is lost and nothing the caller was
//! told failed is present, that every row carries its writer's tenant, and that the
//! pool is back to full health within a bounded time after the fault.

mod cancel;
mod exhaustion;
mod fixture;
mod pgbouncer;
mod proxy;
mod restart;
mod server;
mod soak;

pub(crate) use fixture::*;
