#[pgsec_testkit_macros::test(migration = "migrations")]
async fn misspelt() {}

fn main() {}
