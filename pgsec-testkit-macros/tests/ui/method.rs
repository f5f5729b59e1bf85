struct S;

impl S {
    #[pgsec_testkit_macros::test]
    async fn method(&self) {}
}

fn main() {}
