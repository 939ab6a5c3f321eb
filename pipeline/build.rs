//! Links the binary at a fixed address, and embeds the rule pack (`sql-rules/**/*.sql` detections, `**/*.toml` correlations) into the binary, so `trailhound run` works
//! without `--rules`.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            // Each folder is watched so rules added in new folders are embedded too.
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "sql" || ext == "toml") {
            found.push(path);
        }
    }
}

fn main() {
    // The binary is linked at a fixed address: as a position-independent executable, the
    // dynamic loader applied 280,000 relocations and copied their pages at every start,
    // most of what a short `trailhound hunt` cost (benches/hunt-vs-duckdb.sh).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    // Read at run time: a build script compiled for one checkout may be re-run for another
    // that shares the cargo target folder.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../sql-rules");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut code = String::from(
        "/// The bundled rule pack: (path below sql-rules/, text).\npub static EMBEDDED_RULES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let relative =
            file.strip_prefix(&root).expect("below the root").to_string_lossy().replace('\\', "/");
        let absolute = file.canonicalize().expect("rule files exist");
        code.push_str(&format!(
            "    ({relative:?}, include_str!({:?})),\n",
            absolute.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("embedded_rules.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
