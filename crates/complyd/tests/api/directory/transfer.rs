//! Export and import carry the directory: objects, links, alternate keys, rules and sign-in
//! records, so that the imported store answers and computes as the exported one did.

use super::support::*;
use crate::durability::complyd;
use crate::identity::registered;
use crate::stores::{export, run};
use crate::support::*;

#[tokio::test]
async fn the_directory_survives_export_and_import() {
    let (server, _store) = registered().await;
    let c = admin(&server);
    let u = create(&c, "v1.0", "users", &user("Kim")).await;
    let outer = create(&c, "v1.0", "groups", &group("Outer")).await;
    let inner = create(&c, "v1.0", "groups", &group("Inner")).await;
    add_member(&c, &outer, &inner).await;
    add_member(&c, &inner, &u).await;
    let dynamic = create(
        &c,
        "v1.0",
        "groups",
        &dynamic_group("Macs", r#"device.deviceOSType -eq "macOS""#),
    )
    .await;
    let mac = create(&c, "v1.0", "devices", &device("Mac", "macOS", "14.0")).await;
    let source = server.stop().await;

    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("directory.ndjson");
    run(export(source.path(), test_store(source.path()), &file)).await;
    let target = tempfile::tempdir().unwrap();
    let mut import = complyd(&["import"], target.path());
    import.arg(&file);
    run(import).await;

    let server = Server::start_in(target, |_| {}).await;
    let c = admin(&server);
    assert_eq!(
        c.get("v1.0", "users/kim@contoso.test")
            .await
            .expect(200)
            .id(),
        u
    );
    let mut up = vec![outer.clone(), inner.clone()];
    up.sort();
    assert_eq!(
        sorted_ids(&c, "v1.0", &format!("users/{u}/transitiveMemberOf")).await,
        up
    );
    assert_eq!(
        c.ids("v1.0", &format!("groups/{dynamic}/members")).await,
        vec![mac.clone()]
    );
    let second = create(&c, "v1.0", "devices", &device("Mac 2", "macOS", "15.0")).await;
    let mut macs = vec![mac, second];
    macs.sort();
    assert_eq!(
        sorted_ids(&c, "v1.0", &format!("groups/{dynamic}/members")).await,
        macs
    );
    c.post("v1.0", "users", &user("Kim"))
        .await
        .expect_error(400, "Request_BadRequest");
    let signed_in = reqwest::Client::new()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", server.base))
        .form(&[
            ("grant_type", "password"),
            ("client_id", crate::identity::PUBLIC_CLIENT),
            ("username", "kim@contoso.test"),
            ("password", "Pa55word!"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 200);
}
