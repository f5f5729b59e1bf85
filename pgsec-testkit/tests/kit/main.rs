//! pgsec-testkit's own tests: every backend starts hardened, the weakened builder does
//! what it says, databases are isolated, and nothing outlives the test process.
//!
//! The backend comes from the environment (`PGSEC_TESTKIT_BACKEND`); `scripts/test.sh`
//! runs this binary once with each.

mod ahead;
mod fixture;
mod hardened;
mod leftovers;
mod majors;
mod proxy;
mod weakened;
