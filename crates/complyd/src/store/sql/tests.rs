//! Golden SQL: each condition kind and each statement, in both dialects, with its parameters,
//! against the committed files in `golden/`. A change to the generated SQL shows up as a diff in
//! review; `UPDATE_SNAPSHOTS=1 cargo test -p complyd --lib store::sql` rewrites the files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::store::{CountBy, Cursor, SortValue};
use odata::query::bind::{bind, Condition};
use odata::query::QueryOptions;
use odata::{Model, Version};
use std::fmt::Write as _;
use std::path::PathBuf;

const STATUS: &str = "microsoft.graph.deviceComplianceDeviceStatus";
const POLICY: &str = "microsoft.graph.deviceCompliancePolicy";
const ASSIGNMENT: &str = "microsoft.graph.deviceCompliancePolicyAssignment";
const DIALECTS: [(Dialect, &str); 2] =
    [(Dialect::Sqlite, "sqlite"), (Dialect::Postgres, "postgres")];

/// `$filter` bound on beta for a collection of `type_name`.
fn bound(type_name: &str, filter: &str) -> Condition {
    let model = Model::intune().unwrap();
    let ty = model.structured(type_name).unwrap();
    let options = QueryOptions::parse([("$filter", filter)], true).unwrap();
    let query = bind(model, Version::Beta, ty, &options)
        .unwrap_or_else(|e| panic!("{filter}: {}", e.message));
    query.filter.unwrap()
}

/// One statement of each dialect under a heading, as the golden files hold them.
fn section(out: &mut String, heading: &str, render: impl Fn(Dialect) -> Sql) {
    writeln!(out, "-- {heading}").unwrap();
    for (dialect, name) in DIALECTS {
        let sql = render(dialect);
        writeln!(out, "{name}: {}", sql.text).unwrap();
        writeln!(out, "  params: {:?}", sql.params).unwrap();
    }
    out.push('\n');
}

/// The condition SQL of each filter (on `type_name`), in both dialects.
fn conditions(type_name: &str, filters: &[&str]) -> String {
    let mut out = String::new();
    for filter in filters {
        let c = bound(type_name, filter);
        section(&mut out, filter, |dialect| {
            let mut sql = Sql::new(dialect);
            sql.text = condition(&mut sql, &c);
            sql
        });
    }
    out
}

/// `actual` against `golden/<name>.sql`, or rewrites it under `UPDATE_SNAPSHOTS`.
fn check(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/store/sql/golden")
        .join(format!("{name}.sql"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
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
            "{} differs from the generated SQL at line {}:\n  golden:    {}\n  generated: {}\nIf the change is intended, run with UPDATE_SNAPSHOTS=1 and commit the file.",
            path.display(),
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>"),
        );
    }
}

#[test]
fn comparisons_of_each_scalar_type() {
    let statuses = conditions(
        STATUS,
        &[
            "userName eq 'a'",
            "userName ne 'a'",
            "id eq 'x'",
            "platform ge 3",
            "lastReportedDateTime gt 2024-01-01T00:00:00Z",
            "status eq 'nonCompliant'",
            "userName eq userPrincipalName",
            "userName ne deviceDisplayName",
        ],
    );
    let policies = conditions(
        POLICY,
        &[
            "version lt 1.5",
            "microsoft.graph.windows10CompliancePolicy/bitLockerEnabled eq true",
            "microsoft.graph.windows10CompliancePolicy/deviceCompliancePolicyScript/rulesContent eq 'AA=='",
        ],
    );
    check("compare", &(statuses + &policies));
}

#[test]
fn enum_ordering_compares_member_values() {
    check(
        "enum_order",
        &conditions(
            STATUS,
            &[
                "status gt 'compliant'",
                "status le microsoft.graph.complianceStatus'error'",
            ],
        ),
    );
}

#[test]
fn nulls_lists_and_boolean_properties() {
    let statuses = conditions(
        STATUS,
        &[
            "userName eq null",
            "null ne deviceDisplayName",
            "status in ('compliant', 'error')",
            "userName in ('a')",
        ],
    );
    let policies = conditions(
        POLICY,
        &[
            "microsoft.graph.windows10CompliancePolicy/bitLockerEnabled",
            "not microsoft.graph.windows10CompliancePolicy/bitLockerEnabled",
        ],
    );
    check("null_in_istrue", &(statuses + &policies));
}

#[test]
fn string_tests_and_functions() {
    check(
        "strings",
        &conditions(
            STATUS,
            &[
                "contains(userName, 'a')",
                "startswith(userName, 'a')",
                "endswith(userName, 'a')",
                "contains(tolower(userName), toupper('A'))",
                "trim(userName) eq 'a'",
                "length(userName) gt 3",
            ],
        ),
    );
}

#[test]
fn date_parts() {
    check(
        "date_parts",
        &conditions(
            STATUS,
            &[
                "year(lastReportedDateTime) eq 2024",
                "month(lastReportedDateTime) eq 3",
                "day(lastReportedDateTime) le 2",
                "hour(lastReportedDateTime) eq 10",
                "minute(lastReportedDateTime) eq 0",
                "second(lastReportedDateTime) ne 0",
            ],
        ),
    );
}

#[test]
fn and_or_not_chains() {
    let mut out = conditions(
        STATUS,
        &[
            "userName eq 'a' and userName eq 'b' and userName eq 'c'",
            "userName eq 'a' or userName eq 'b' or userName eq 'c'",
            "(userName eq 'a' or userName eq 'b') and not (status eq 'error')",
            "not (userName eq 'a' and platform eq 1)",
        ],
    );
    // Shapes the binder never produces, but the SQL must still mean the right thing.
    let direct = [
        ("And([]) is true", Condition::And(Vec::new())),
        ("Or([]) is false", Condition::Or(Vec::new())),
        (
            "In with no members is false",
            Condition::In {
                left: odata::query::bind::Operand::Id,
                list: Vec::new(),
                ty: odata::query::bind::Scalar::String,
            },
        ),
        (
            "a one-term Or keeps its parentheses",
            Condition::Or(vec![Condition::Literal(true)]),
        ),
    ];
    for (heading, c) in direct {
        section(&mut out, heading, |dialect| {
            let mut sql = Sql::new(dialect);
            sql.text = condition(&mut sql, &c);
            sql
        });
    }
    check("logic", &out);
}

#[test]
fn lambdas_casts_isof_and_literals() {
    let policies = conditions(
        POLICY,
        &[
            "roleScopeTagIds/any(t: t eq '0')",
            "roleScopeTagIds/all(t: t ne '0')",
            "roleScopeTagIds/any()",
            "microsoft.graph.windows10CompliancePolicy/validOperatingSystemBuildRanges/any(r: r/lowestVersion eq '10')",
            "microsoft.graph.windows10CompliancePolicy/validOperatingSystemBuildRanges/all(r: roleScopeTagIds/any(t: t eq r/description))",
            "isof('microsoft.graph.iosCompliancePolicy')",
            "isof('microsoft.graph.deviceCompliancePolicy')",
            "true",
            "false",
        ],
    );
    let assignments = conditions(ASSIGNMENT, &["target/groupId eq 'g'"]);
    check("lambda_cast_isof", &(policies + &assignments));
}

fn statuses_by_status(parent: Option<&str>) -> CountBy<'_> {
    CountBy {
        tenant: "t1",
        collection: "deviceCompliancePolicies/deviceStatuses",
        parent,
        property: "status",
    }
}

fn query(filter: Option<&str>, order: &[(&str, bool)]) -> Query {
    let mut q = Query::all("t1", "deviceCompliancePolicies/deviceStatuses", "p1");
    q.filter = filter.map(|f| bound(STATUS, f));
    if order.is_empty() {
        return q;
    }
    let model = Model::intune().unwrap();
    let ty = model.structured(STATUS).unwrap();
    let orderby: Vec<String> = order
        .iter()
        .map(|(k, desc)| format!("{k} {}", if *desc { "desc" } else { "asc" }))
        .collect();
    let options = QueryOptions::parse([("$orderby", orderby.join(",").as_str())], true).unwrap();
    q.order = bind(model, Version::Beta, ty, &options).unwrap().orderby;
    q
}

#[test]
fn statements_page_count_and_count_by() {
    let mut out = String::new();
    let first = {
        let mut q = query(Some("status eq 'compliant'"), &[]);
        q.limit = 101;
        q
    };
    section(&mut out, "page: filtered, seq order", |d| {
        page(d, &first, Layout::default()).unwrap().0
    });
    let later = {
        let mut q = query(None, &[("status", true), ("userName", false)]);
        q.cursor = Some(Cursor {
            values: vec![SortValue::Int(2), SortValue::Null],
            seq: 42,
        });
        q.limit = 3;
        q
    };
    section(
        &mut out,
        "page: two sort keys, after a cursor with a null",
        |d| page(d, &later, Layout::default()).unwrap().0,
    );
    let date_cursor = {
        let mut q = query(None, &[("lastReportedDateTime", false)]);
        q.cursor = Some(Cursor {
            values: vec![SortValue::Int(638_396_640_000_000_000)],
            seq: 7,
        });
        q.skip = 0;
        q.limit = 10;
        q
    };
    section(&mut out, "page: a date sort key after a cursor", |d| {
        page(d, &date_cursor, Layout::default()).unwrap().0
    });
    let skipped = {
        let mut q = query(None, &[("userName", true)]);
        q.cursor = Some(Cursor {
            values: vec![SortValue::Text("u1".into())],
            seq: 9,
        });
        q.skip = 5;
        q.limit = 2;
        q
    };
    section(&mut out, "page: descending text key, skip", |d| {
        page(d, &skipped, Layout::default()).unwrap().0
    });
    let counted = query(Some("userName eq 'a'"), &[]);
    section(&mut out, "count", |d| {
        count(d, &counted, Layout::default()).unwrap()
    });
    section(&mut out, "count_by: one parent", |d| {
        count_by(d, &statuses_by_status(Some("p1")), false, Layout::default()).unwrap()
    });
    section(&mut out, "count_by: every parent", |d| {
        count_by(d, &statuses_by_status(None), false, Layout::default()).unwrap()
    });
    section(&mut out, "count_by: counts the database keeps", |d| {
        count_by(d, &statuses_by_status(Some("p1")), true, Layout::default()).unwrap()
    });
    // SQLite reads a packed collection's properties from its unpacked body; PostgreSQL never packs.
    let packed = |d| Layout {
        slots: None,
        packed: (d == Dialect::Sqlite).then(|| crate::store::packing::dictionary_for(STATUS)),
        own_table: None,
    };
    section(&mut out, "page: packed bodies", |d| {
        page(d, &later, packed(d)).unwrap().0
    });
    section(&mut out, "count_by: packed bodies", |d| {
        count_by(d, &statuses_by_status(None), false, packed(d)).unwrap()
    });
    check("statements", &out);
}

/// Members linked to an entity: one step forwards, every level backwards (with a type test).
#[test]
fn linked_members_one_step_and_every_level() {
    let mut out = String::new();
    let linked = |inverse: bool, transitive: bool| {
        let mut q = Query::all("t1", "directoryObjects", "");
        q.related = Some(crate::store::Related {
            links: "directoryObjects/members".into(),
            anchor: "g1".into(),
            inverse,
            transitive,
        });
        q.limit = 100;
        q
    };
    section(&mut out, "page: the members of g1", |d| {
        page(d, &linked(false, false), Layout::default()).unwrap().0
    });
    let mut groups_of = linked(true, true);
    groups_of.filter = Some(Condition::IsOf(vec!["microsoft.graph.group".into()]));
    section(&mut out, "page: every group g1 is in, at any level", |d| {
        page(d, &groups_of, Layout::default()).unwrap().0
    });
    section(&mut out, "count: every member of g1, at any level", |d| {
        count(d, &linked(false, true), Layout::default()).unwrap()
    });
    check("linked", &out);
}

#[test]
fn sort_values_are_selected_under_their_column_names() {
    let q = query(None, &[("status", false), ("userName", true)]);
    for (dialect, _) in DIALECTS {
        let (sql, keys) = page(dialect, &q, Layout::default()).unwrap();
        assert_eq!(keys, 2);
        for i in 0..keys {
            assert!(
                sql.text.contains(&format!(" AS {} ", sort_column(i)))
                    || sql.text.contains(&format!(" AS {},", sort_column(i))),
                "{}",
                sql.text
            );
        }
    }
}

#[test]
fn names_from_outside_the_model_are_refused() {
    let mut q = Query::all("t", "policies'; DROP TABLE entity; --", "");
    q.filter = Some(Condition::Literal(true));
    for (dialect, _) in DIALECTS {
        assert!(page(dialect, &q, Layout::default()).is_err());
        assert!(count(dialect, &q, Layout::default()).is_err());
        let groups = CountBy {
            property: "status) OR (1=1",
            ..statuses_by_status(None)
        };
        assert!(count_by(dialect, &groups, false, Layout::default()).is_err());
    }
    // A literal is a parameter, whatever it holds.
    let mut sql = Sql::new(Dialect::Sqlite);
    let text = condition(&mut sql, &bound(STATUS, "userName eq 'x'' OR 1=1 --'"));
    assert_eq!(text, "json_extract(body, '$.userName') = ?1");
    assert_eq!(sql.params, [Param::Text("x' OR 1=1 --".into())]);
}

#[test]
fn a_prefix_ends_at_the_next_string_of_its_length() {
    assert_eq!(prefix_end("Ab").as_deref(), Some("Ac"));
    assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_end("\u{10FFFF}"), None);
    assert_eq!(prefix_end(""), None);
}

#[test]
fn collection_literals_fill_every_placeholder() {
    assert_eq!(
        in_collection("a = {C} OR b = {C};", "policies/deviceStatuses").unwrap(),
        "a = 'policies/deviceStatuses' OR b = 'policies/deviceStatuses';"
    );
    assert_eq!(in_collection("SELECT 1", "x").unwrap(), "SELECT 1");
    assert_eq!(in_collection("{C}", "x_1").unwrap(), "'x_1'");
    assert!(in_collection("{C}", "x' OR '1").is_err());
}
