//! Printed-then-reparsed `$filter` trees come back unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use odata::query::filter::{parse, BinOp, Expr, Logic};
use proptest::prelude::*;

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "has", "in", "any", "all", "null",
    "true", "false", "add", "sub", "mul", "div", "divby", "mod",
];

fn identifier() -> impl Strategy<Value = String> {
    "[a-z][a-zA-Z0-9_]{0,8}".prop_filter("not a keyword", |s| !KEYWORDS.contains(&s.as_str()))
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(Expr::Null),
        any::<bool>().prop_map(Expr::Bool),
        any::<i64>().prop_map(Expr::Int),
        (0u32..100000, 1u32..10000).prop_map(|(a, b)| Expr::Decimal(format!("{a}.{b}"))),
        "[ -~]{0,12}".prop_map(Expr::String),
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".prop_map(Expr::Guid),
        (
            2000u32..2100,
            1u32..13,
            1u32..29,
            0u32..24,
            0u32..60,
            prop::option::of(1u32..9_999_999),
            -14i32..15
        )
            .prop_map(|(y, mo, d, h, mi, frac, off)| {
                let frac = frac.map(|f| format!(".{f:07}")).unwrap_or_default();
                let off = if off == 0 {
                    "Z".to_string()
                } else {
                    format!("{}{:02}:00", if off < 0 { '-' } else { '+' }, off.abs())
                };
                Expr::DateTimeOffset(format!(
                    "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00{frac}{off}"
                ))
            }),
        (identifier(), "[a-zA-Z]{1,8}").prop_map(|(t, m)| Expr::Enum {
            type_name: format!("microsoft.graph.{t}"),
            member: m
        }),
        prop::collection::vec(identifier(), 1..4).prop_map(Expr::Member),
        (identifier(), identifier())
            .prop_map(|(t, p)| Expr::Member(vec![format!("microsoft.graph.{t}"), p])),
    ]
}

fn op() -> impl Strategy<Value = BinOp> {
    prop_oneof![
        Just(BinOp::Eq),
        Just(BinOp::Ne),
        Just(BinOp::Gt),
        Just(BinOp::Ge),
        Just(BinOp::Lt),
        Just(BinOp::Le),
        Just(BinOp::Has),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            (op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| Expr::Binary {
                op,
                left: Box::new(l),
                right: Box::new(r)
            }),
            (
                prop_oneof![Just(Logic::And), Just(Logic::Or)],
                prop::collection::vec(inner.clone(), 2..5)
            )
                .prop_map(|(op, terms)| Expr::Logical { op, terms }),
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            (inner.clone(), prop::collection::vec(inner.clone(), 1..4)).prop_map(|(l, list)| {
                Expr::In {
                    left: Box::new(l),
                    list,
                }
            }),
            (identifier(), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(name, args)| Expr::Call { name, args }),
            (
                prop::collection::vec(identifier(), 1..3),
                any::<bool>(),
                identifier(),
                inner.clone()
            )
                .prop_map(|(path, all, var, body)| Expr::Lambda {
                    path,
                    all,
                    var: Some(var),
                    body: Some(Box::new(body))
                }),
            prop::collection::vec(identifier(), 1..3).prop_map(|path| Expr::Lambda {
                path,
                all: false,
                var: None,
                body: None
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn printed_filters_parse_back_to_the_same_tree(e in expr()) {
        let printed = e.to_string();
        let reparsed = parse(&printed);
        prop_assert_eq!(reparsed.as_ref(), Ok(&e), "printed: {}", printed);
    }
}
