//! Helpers for rule tests.
