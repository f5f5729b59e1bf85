//! The attribute's expansion-time errors, compiled by rustc: each case under `tests/ui/`
//! must fail to compile with the message and the span recorded in its `.stderr` file, so
//! an error points at the option or the item that is wrong, not at the whole attribute.
//! Filesystem cases (an empty migrations directory, a missing fixture) are unit tests
//! in `src/lib.rs`: trybuild compiles from its own directory under `target/`, where
//! relative paths name nothing. Regenerate the expectations after a deliberate change with `TRYBUILD=overwrite`.

#[test]
fn expansion_errors_point_at_what_is_wrong() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
