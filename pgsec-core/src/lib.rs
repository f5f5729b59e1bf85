//! pgsec-core: the PostgreSQL hardening baseline as a typed model.
//!
//! Data flows one way: collect → [`Snapshot`] → evaluate(rules) → [`Report`] → render.
#![warn(missing_docs)]

pub mod conf;
pub mod hba;
mod source;

pub use source::{FsLoader, MemoryLoader, SourceLoader, SourceRef};
