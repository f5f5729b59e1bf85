//! The README's rule table is generated from the catalogue, so it cannot drift: this test
//! fails when they differ. `PGSEC_BLESS=1 cargo test -p pgsec-core --test readme_catalogue`
//! rewrites the table.

const BEGIN: &str = "<!-- rules:begin (generated from pgsec_core::catalogue_markdown) -->\n";
const END: &str = "<!-- rules:end -->";

#[test]
fn readme_rule_table_matches_the_catalogue() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme
        .find(BEGIN)
        .expect("README lacks the rules:begin marker")
        + BEGIN.len();
    let end = readme[start..]
        .find(END)
        .expect("README lacks the rules:end marker")
        + start;
    let generated = pgsec_core::catalogue_markdown();
    if readme[start..end] != generated {
        if std::env::var("PGSEC_BLESS").is_ok_and(|v| v == "1") {
            let updated = format!("{}{}{}", &readme[..start], generated, &readme[end..]);
            std::fs::write(&path, updated).expect("write README.md");
        } else {
            panic!(
                "README.md's rule table differs from the catalogue; run \
                 `PGSEC_BLESS=1 cargo test -p pgsec-core --test readme_catalogue`"
            );
        }
    }
    // Every rule id appears in the README.
    let readme = std::fs::read_to_string(&path).unwrap();
    for rule in pgsec_core::catalogue() {
        assert!(readme.contains(rule.id), "{} missing from README", rule.id);
    }
}
