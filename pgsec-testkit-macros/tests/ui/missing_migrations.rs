#[pgsec_testkit_macros::test(migrations = "tests/ui/no_such_directory")]
async fn migrations_elsewhere() {}

fn main() {}
