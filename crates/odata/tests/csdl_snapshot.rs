//! The CSDL of each version against the committed `tests/snapshots/csdl-<version>.xml`: a change
//! to the model or the generator shows up as a diff in review. `UPDATE_SNAPSHOTS=1 cargo test -p
//! odata --test csdl_snapshot` rewrites the files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use odata::{Model, Version};
use std::path::PathBuf;

fn check(version: Version) {
    let model = Model::intune().expect("the model loads");
    let actual = model.csdl(version);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("csdl-{}.xml", version.as_str()));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &actual).expect("write the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "{} differs from the generated CSDL at line {}:\n  snapshot:  {}\n  generated: {}\nIf the change is intended, run with UPDATE_SNAPSHOTS=1 and commit the file.",
            path.display(),
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>"),
        );
    }
}

#[test]
fn v1_csdl_matches_the_snapshot() {
    check(Version::V1);
}

#[test]
fn beta_csdl_matches_the_snapshot() {
    check(Version::Beta);
}
