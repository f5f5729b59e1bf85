//! The library API: replay, shrinking, guard findings, clean-up, errors.
