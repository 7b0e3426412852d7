//! Lists the model's text files: every `src/edm/slice/*.edm`, sorted by name, becomes one entry
//! of the `SLICE` table (`$OUT_DIR/slice.rs`) that `edm/mod.rs` includes. Adding a file to the
//! folder is enough; no list to edit.

use std::error::Error;
use std::fmt::Write;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let folder = manifest.join("src/edm/slice");
    println!("cargo:rerun-if-changed={}", folder.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&folder)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "edm") {
            files.push(path);
        }
    }
    files.sort();
    let mut table = String::from("&[\n");
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: not a UTF-8 file name", path.display()))?;
        let full = path
            .to_str()
            .ok_or_else(|| format!("{}: not a UTF-8 path", path.display()))?;
        writeln!(table, "    ({name:?}, include_str!({full:?})),")?;
    }
    table.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("slice.rs");
    std::fs::write(out, table)?;
    Ok(())
}
