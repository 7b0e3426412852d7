//! The core's bet, proved: a new entity type with its own root and permissions, a contained
//! status collection with a derived overview, an indexed property, a bound action and a bound
//! function, and a live-service quirk, all added as model text (`WIDGETS`) and served with no
//! Rust change. Also: a data folder written before indexes were generated keeps its rows.

use crate::support::*;
use complyd::auth::TokenRequest;
use complyd::service::Fidelity;
use complyd::store::{indexes, Query};
use odata::{Model, Version};
use serde_json::{json, Value};
use std::sync::OnceLock;

const WIDGETS: &str = r#"
namespace microsoft.graph

permissions widgets
  read Widget.Read.All Widget.ReadWrite.All
  write Widget.ReadWrite.All

permissions widgetChecks
  read WidgetCheck.Read.All WidgetCheck.ReadWrite.All
  write WidgetCheck.ReadWrite.All

enum widgetState
  ok = 0
  broken = 1
  unknown = 2

root widgets -> Collection(widget) permissions widgets

entity widget
  displayName: String required
  serial: String? index
  createdDateTime: DateTimeOffset server created
  lastModifiedDateTime: DateTimeOffset server modified
  revision: Int32 server version
  parts -> Collection(widgetPart) live-unrouted post
  checks -> Collection(widgetCheck) permissions widgetChecks
  checkOverview -> widgetCheckOverview
    derived from checks by state
    okCount counts ok
    troubleCount counts broken unknown
    widgetRevision copies revision

entity widgetPart
  name: String required

entity widgetCheck
  state: widgetState index
  checkedDateTime: DateTimeOffset?

entity widgetCheckOverview
  okCount: Int32
  troubleCount: Int32
  widgetRevision: Int32

action replaceParts on widget
  parts: Collection(widgetPart) required
  returns Collection(widgetPart)
  handler replaceCollection parts
  summary replaces parts with the members given

function withSerial on Collection(widget)
  serial: String? required
  returns Collection(widget)
  handler membersWhere serial
"#;

const WIDGET_RW: &str = "Widget.ReadWrite.All";
const CHECK_RW: &str = "WidgetCheck.ReadWrite.All";

/// The Intune slice plus `WIDGETS`, loaded once for the whole suite.
fn model() -> &'static Model {
    static MODEL: OnceLock<&'static Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let model = Model::load_with(&[("widgets.edm", WIDGETS)]).expect("the widgets model");
        Box::leak(Box::new(model))
    })
}

async fn widget_server(fidelity: Fidelity) -> Server {
    Server::start_with(|c| {
        c.model = Some(model());
        c.fidelity = fidelity;
    })
    .await
}

fn client_for(server: &Server, scopes: &[&str]) -> Client {
    server.client_with(TokenRequest::delegated(TENANT, scopes))
}

/// Whether the store of `server` holds an index named `name`.
async fn index_exists(server: &Server, name: &str) -> bool {
    let found: i64 = match test_store(server.data_dir()) {
        Some(url) => {
            let name = name.to_string();
            tokio::task::spawn_blocking(move || {
                let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                db.query_one(
                    "SELECT count(*) FROM pg_indexes WHERE indexname = $1",
                    &[&name],
                )
                .unwrap()
                .get(0)
            })
            .await
            .unwrap()
        }
        None => {
            let db = rusqlite::Connection::open(server.data_dir().join("complyd.db")).unwrap();
            db.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap()
        }
    };
    found == 1
}

/// The plan of `filter` on `collection` under `parent` uses the index generated for
/// (`collection`, `property`), which the database has.
async fn filter_uses_its_index(
    server: &Server,
    type_name: &str,
    collection: &str,
    parent: &str,
    filter: &str,
    property: &str,
) {
    let model = model();
    let url = test_store(server.data_dir());
    let name = indexes::declared(model)
        .unwrap()
        .0
        .into_iter()
        .find(|i| i.collection == collection && i.property == property)
        .map(|i| i.name_in_store(url.as_deref()).to_string())
        .unwrap_or_else(|| panic!("no index declared on {collection}.{property}"));
    assert!(
        index_exists(server, &name).await,
        "{name} is not in the database"
    );
    let store = complyd::store::open_for(
        model,
        test_store(server.data_dir()).as_deref(),
        server.data_dir(),
    )
    .await
    .unwrap();
    let ty = model.structured(type_name).unwrap();
    let options = odata::query::QueryOptions::parse([("$filter", filter)], false).unwrap();
    let bound = odata::query::bind::bind(model, Version::V1, ty, &options).unwrap();
    let mut query = Query::all(TENANT, collection, parent);
    query.filter = bound.filter;
    let plan = store.explain(query).await.unwrap().join(" | ");
    assert!(plan.contains(&name), "{filter}: {plan}");
}

#[tokio::test]
async fn a_type_added_as_model_text_is_served_whole() {
    let server = widget_server(Fidelity::Documented).await;
    let widgets = client_for(&server, &[WIDGET_RW]);
    let checks = client_for(&server, &[CHECK_RW]);

    // CRUD on the new root, with its stamps.
    let created = widgets
        .post(
            "v1.0",
            "widgets",
            &json!({ "displayName": "w1", "serial": "S-1" }),
        )
        .await
        .expect(201)
        .expect_context("v1.0", "widgets/$entity")
        .json();
    let id = created["id"].as_str().unwrap().to_string();
    let widget = format!("widgets/{id}");
    assert_eq!(created["revision"], 1);
    assert!(created["createdDateTime"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(created["createdDateTime"], created["lastModifiedDateTime"]);
    widgets
        .post(
            "v1.0",
            "widgets",
            &json!({ "displayName": "w2", "serial": "S-2" }),
        )
        .await
        .expect(201);
    widgets
        .post("v1.0", "widgets", &json!({ "serial": "S-3" }))
        .await
        .expect_error(400, "ModelValidationFailure");
    widgets
        .post(
            "v1.0",
            "widgets",
            &json!({ "displayName": "w", "revision": 7 }),
        )
        .await
        .expect_error(400, "ModelValidationFailure");
    let patched = widgets
        .patch("v1.0", &widget, &json!({ "displayName": "w1b" }))
        .await
        .expect(200)
        .json();
    assert_eq!(
        (patched["displayName"].clone(), patched["revision"].clone()),
        (json!("w1b"), json!(2))
    );
    assert_eq!(widgets.ids("v1.0", "widgets").await.len(), 2);
    assert_eq!(
        widgets.get("beta", &widget).await.expect(200).json()["serial"],
        "S-1"
    );

    // The root's permissions, and a navigation's own below it.
    server
        .client()
        .get("v1.0", "widgets")
        .await
        .expect_error(403, "Forbidden");
    let checks_path = format!("{widget}/checks");
    widgets
        .post("v1.0", &checks_path, &json!({ "state": "ok" }))
        .await
        .expect_error(403, "Forbidden");
    for state in ["ok", "broken", "unknown", "broken"] {
        checks
            .post("v1.0", &checks_path, &json!({ "state": state }))
            .await
            .expect(201);
    }
    checks
        .get("v1.0", &widget)
        .await
        .expect_error(403, "Forbidden");

    // The derived overview counts the checks and copies the widget's revision.
    let overview = widgets
        .get("v1.0", &format!("{widget}/checkOverview"))
        .await
        .expect(200)
        .json();
    assert_eq!(
        (
            &overview["okCount"],
            &overview["troubleCount"],
            &overview["widgetRevision"]
        ),
        (&json!(1), &json!(3), &json!(2))
    );

    // The bound action, with its parameter checked by declaration.
    let replace = format!("{widget}/replaceParts");
    let parts = json!({ "parts": [{ "name": "a" }, { "name": "b" }] });
    let answer = widgets.post("v1.0", &replace, &parts).await.expect(200);
    let answer = answer.expect_context("v1.0", "Collection(microsoft.graph.widgetPart)");
    assert_eq!(answer.values().len(), 2);
    let listed = widgets.list("v1.0", &format!("{widget}/parts")).await;
    let names: Vec<&Value> = listed.iter().map(|p| &p["name"]).collect();
    assert_eq!(names, [&json!("a"), &json!("b")]);
    let missing = widgets.post("v1.0", &replace, &json!({})).await;
    assert!(missing
        .expect_error(400, "BadRequest")
        .error_message()
        .contains("'parts'"));
    let unknown = widgets
        .post("v1.0", &replace, &json!({ "parts": [], "extra": 1 }))
        .await;
    assert!(unknown
        .expect_error(400, "ModelValidationFailure")
        .error_message()
        .contains("'extra'"));
    widgets
        .post("v1.0", &replace, &json!({ "parts": "a" }))
        .await
        .expect_error(400, "ModelValidationFailure");
    widgets
        .post("v1.0", &replace, &json!({ "parts": [{ "name": 1 }] }))
        .await
        .expect_error(400, "ModelValidationFailure");
    assert_eq!(
        widgets.list("v1.0", &format!("{widget}/parts")).await,
        listed
    );

    // The bound function: members whose serial is the parameter, paged like the collection.
    let found = widgets
        .get("v1.0", "widgets/withSerial(serial='S-1')")
        .await
        .expect(200)
        .expect_context("v1.0", "Collection(microsoft.graph.widget)")
        .values();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], json!(id));
    let none = widgets
        .get("v1.0", "widgets/withSerial(serial='S-9')")
        .await;
    assert!(none.expect(200).values().is_empty());
    let counted = widgets
        .get(
            "v1.0",
            "widgets/withSerial(serial='S-2')?$count=true&$select=serial",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(counted["@odata.count"], 1);
    let missing = widgets.get("v1.0", "widgets/withSerial()").await;
    assert!(missing
        .expect_error(400, "BadRequest")
        .error_message()
        .contains("'serial'"));
    // A string parameter takes a string literal (quoted): a number is refused as it is read.
    assert!(widgets
        .get("v1.0", "widgets/withSerial(serial=5)")
        .await
        .expect_error(400, "BadRequest")
        .error_message()
        .contains("string literal in single quotes"));
    widgets
        .post("v1.0", "widgets/withSerial(serial='S-1')", &json!({}))
        .await
        .expect_error(400, ROUTE_ERROR);

    // $filter on the indexed properties, answered through the generated indexes.
    let filtered = widgets
        .list("v1.0", "widgets?$filter=serial eq 'S-2'")
        .await;
    assert_eq!(filtered.len(), 1);
    let broken = checks
        .list("v1.0", &format!("{checks_path}?$filter=state eq 'broken'"))
        .await;
    assert_eq!(broken.len(), 2);
    let widget_type = "microsoft.graph.widget";
    filter_uses_its_index(
        &server,
        widget_type,
        "widgets",
        "",
        "serial eq 'S-2'",
        "serial",
    )
    .await;
    let check_type = "microsoft.graph.widgetCheck";
    let state = "state eq 'broken'";
    filter_uses_its_index(&server, check_type, "widgets/checks", &id, state, "state").await;

    // The descriptions are generated from the same declarations.
    let metadata = widgets.get("v1.0", "$metadata").await.expect(200).text;
    for element in [
        "<EntitySet Name=\"widgets\" EntityType=\"microsoft.graph.widget\"/>",
        "<Action Name=\"replaceParts\" IsBound=\"true\">",
        "<Function Name=\"withSerial\" IsBound=\"true\">",
        "<Parameter Name=\"bindingParameter\" Type=\"Collection(microsoft.graph.widget)\" Nullable=\"false\"/>",
    ] {
        assert!(metadata.contains(element), "{element}");
    }
    let openapi: Value = serde_json::from_str(
        &widgets
            .get_url(&format!("{}/openapi.json", server.base))
            .await
            .expect(200)
            .text,
    )
    .unwrap();
    let paths = &openapi["paths"];
    assert!(paths["/v1.0/widgets/{widget-id}/replaceParts"]["post"].is_object());
    assert!(paths["/v1.0/widgets/withSerial(serial={serial})"]["get"].is_object());
    assert!(paths["/v1.0/widgets/{widget-id}/checkOverview"]["patch"].is_object());

    // Deleting the widget takes what it contains.
    widgets.delete("v1.0", &widget).await.expect(204);
    widgets.expect_gone("v1.0", &widget).await;
    checks
        .get("v1.0", &checks_path)
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn a_quirk_added_as_model_text_applies_with_intune_fidelity_only() {
    for (fidelity, refused) in [(Fidelity::Documented, false), (Fidelity::Intune, true)] {
        let server = widget_server(fidelity).await;
        let widgets = client_for(&server, &[WIDGET_RW]);
        let id = widgets
            .post("v1.0", "widgets", &json!({ "displayName": "quirky" }))
            .await
            .expect(201)
            .id();
        let parts = format!("widgets/{id}/parts");
        let resp = widgets.post("v1.0", &parts, &json!({ "name": "p" })).await;
        if refused {
            resp.expect_error(400, ROUTE_ERROR);
            assert!(widgets.list("v1.0", &parts).await.is_empty());
        } else {
            resp.expect(201);
        }
        // The action replacing the same collection stays routed.
        widgets
            .post(
                "v1.0",
                &format!("widgets/{id}/replaceParts"),
                &json!({ "parts": [] }),
            )
            .await
            .expect(200);
    }
}

#[tokio::test]
async fn the_intune_model_is_unchanged_by_a_model_with_more_in_it() {
    let server = widget_server(Fidelity::Documented).await;
    let client = server.client();
    let policy = client.create_policy("v1.0", "still here").await;
    client.get("v1.0", &policy_path(&policy)).await.expect(200);
    client
        .get("v1.0", "widgets")
        .await
        .expect_error(403, "Forbidden");
    let plain = Server::start().await;
    plain
        .client_with(TokenRequest::delegated(TENANT, &[WIDGET_RW]))
        .get("v1.0", "widgets")
        .await
        .expect_error(400, "BadRequest");
}

/// A data folder written at the schema before indexes were generated (SQLite 4, PostgreSQL 2):
/// its rows stay readable, the hand-written indexes are gone and the generated ones are there.
#[tokio::test]
async fn a_store_at_the_previous_schema_keeps_its_rows_and_gets_the_generated_indexes() {
    const OLD_INDEXES: [&str; 5] = [
        "entity_status_status",
        "entity_status_upn",
        "entity_status_reported",
        "entity_policy_name",
        "entity_policy_modified",
    ];
    let dir = tempfile::tempdir().unwrap();
    let body = json!({ "displayName": "from before", "version": 3 }).to_string();
    let row = (
        TENANT,
        "deviceCompliancePolicies",
        "",
        "p-old",
        "microsoft.graph.windows10CompliancePolicy",
        body.as_str(),
    );
    let postgres_url = test_store(dir.path());
    match &postgres_url {
        Some(url) => previous_postgres(url, row).await,
        None => previous_sqlite(dir.path(), row),
    }
    let server = Server::start_in(dir, |_| {}).await;
    let read = server
        .client()
        .get("v1.0", &policy_path("p-old"))
        .await
        .expect(200)
        .json();
    assert_eq!(
        (&read["displayName"], &read["version"]),
        (&json!("from before"), &json!(3))
    );
    let model = Model::intune().unwrap();
    for index in indexes::declared(model).unwrap().0 {
        let name = index.name_in_store(postgres_url.as_deref());
        assert!(index_exists(&server, name).await, "{name}");
    }
    for old in OLD_INDEXES {
        assert!(!index_exists(&server, old).await, "{old} is still there");
    }
}

type OldRow<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

/// SQLite at user_version 4, as complyd left it before migration 5.
fn previous_sqlite(dir: &std::path::Path, row: OldRow<'_>) {
    let migrations = [
        include_str!("../../src/store/migrations/0001_entities.sql"),
        include_str!("../../src/store/migrations/0002_query_indexes.sql"),
        include_str!("../../src/store/migrations/0003_row_shape.sql"),
        include_str!("../../src/store/migrations/0004_key_index_by_id.sql"),
    ];
    let db = rusqlite::Connection::open(dir.join("complyd.db")).unwrap();
    // The old indexes call dto_ticks; these rows' index entries are dropped with the indexes.
    let flags = rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC;
    db.create_scalar_function("dto_ticks", 1, flags, |_| Ok(None::<i64>))
        .unwrap();
    for (version, sql) in migrations.iter().enumerate() {
        db.execute_batch(sql).unwrap();
        db.pragma_update(None, "user_version", version + 1).unwrap();
    }
    db.execute(
        "INSERT INTO entity (tenant, collection, parent, id, type_name, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [row.0, row.1, row.2, row.3, row.4, row.5],
    )
    .unwrap();
}

/// PostgreSQL at schema version 2, as complyd left it before migration 3.
async fn previous_postgres(url: &str, row: OldRow<'_>) {
    let url = url.to_string();
    let row: Vec<String> = [row.0, row.1, row.2, row.3, row.4, row.5]
        .iter()
        .map(|s| s.to_string())
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        db.batch_execute(include_str!("../../src/store/migrations/postgres/0001_entities.sql"))
            .unwrap();
        db.batch_execute(include_str!("../../src/store/migrations/0004_key_index_by_id.sql"))
            .unwrap();
        db.batch_execute(
            "CREATE TABLE complyd_schema (version INTEGER PRIMARY KEY);
             INSERT INTO complyd_schema (version) VALUES (1), (2);",
        )
        .unwrap();
        db.execute(
            "INSERT INTO entity (tenant, collection, parent, id, type_name, body) VALUES ($1, $2, $3, $4, $5, $6::text::json)",
            &[&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]],
        )
        .unwrap();
    })
    .await
    .unwrap();
}
