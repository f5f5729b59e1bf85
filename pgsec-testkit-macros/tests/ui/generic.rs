#[pgsec_testkit_macros::test]
async fn generic<T>() {}

fn main() {}
