#![allow(clippy::unwrap_used)]
fn main() {
    let model = odata::Model::intune().unwrap();
    let dir = std::env::args().nth(1).unwrap();
    std::fs::write(
        format!("{dir}/openapi.json"),
        serde_json::to_string_pretty(&model.openapi("http://h")).unwrap(),
    )
    .unwrap();
    std::fs::write(format!("{dir}/csdl-v1.xml"), model.csdl(odata::Version::V1)).unwrap();
    std::fs::write(
        format!("{dir}/csdl-beta.xml"),
        model.csdl(odata::Version::Beta),
    )
    .unwrap();
}
