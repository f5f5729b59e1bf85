//! The README's client snippet is `examples/readme_client.rs`, which the library
//! compiles: this test keeps the two identical, so the README cannot show code that does
//! not build.

#[test]
fn the_readme_client_snippet_is_the_compiled_file() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(dir.join("../README.md")).expect("README.md");
    let compiled = std::fs::read_to_string(dir.join("readme_client.rs")).expect("readme_client.rs");
    let section = readme
        .find("## Using pgsec-client")
        .expect("README has a 'Using pgsec-client' section");
    let start = readme[section..]
        .find("```rust\n")
        .expect("a rust block in the section")
        + section
        + "```rust\n".len();
    let end = readme[start..].find("```\n").expect("the block ends") + start;
    assert_eq!(
        &readme[start..end],
        compiled,
        "README.md's client snippet differs from examples/readme_client.rs; copy one to the other"
    );
}
