#[pgsec_testkit_macros::test]
fn plain() {}

fn main() {}
