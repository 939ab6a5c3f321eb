//! The schema docs are generated from the schema definition; this fails when they drift.

#[test]
fn docs_schema_matches_the_schema_definition() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema.md");
    let documented = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        documented == lake::schema::markdown_table(),
        "{} is out of date: regenerate it with `trailhound lake schema > docs/schema.md`",
        path.display()
    );
}
