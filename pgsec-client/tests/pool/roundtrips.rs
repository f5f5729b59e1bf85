//! roundtrips
