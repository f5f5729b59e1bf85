//! Tracing spans and warnings of TenantPool, in a process of their own: tracing's
//! callsite interest is global, and tests of other binaries' threads creating the same
//! spans without a subscriber made these checks flaky.

#[allow(dead_code)] // the pool tests use all of it, this binary only part
#[path = "../pool/fixture.rs"]
mod fixture;
mod spans;

pub(crate) use fixture::*;
