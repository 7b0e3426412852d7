use super::*;
use crate::query::limits::{MAX_FILTER_DEPTH, MAX_FILTER_NODES};
use crate::ODataError;

fn member(p: &str) -> Expr {
    Expr::Member(p.split('/').map(str::to_string).collect())
}

fn compare(op: BinOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

fn message(result: Result<Expr, ODataError>) -> String {
    result.err().map(|e| e.message).unwrap_or_default()
}

/// `n` copies of `term` joined by `op`.
fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(&format!(" {op} "))
}

#[test]
fn precedence_and_literals() {
    let e = parse("status eq 'nonCompliant' and platform gt 3 or not (userName eq null)");
    let expected = Expr::Logical {
        op: Logic::Or,
        terms: vec![
            Expr::Logical {
                op: Logic::And,
                terms: vec![
                    compare(
                        BinOp::Eq,
                        member("status"),
                        Expr::String("nonCompliant".into()),
                    ),
                    compare(BinOp::Gt, member("platform"), Expr::Int(3)),
                ],
            },
            Expr::Not(Box::new(compare(BinOp::Eq, member("userName"), Expr::Null))),
        ],
    };
    assert_eq!(e, Ok(expected));
}

#[test]
fn guids_dates_lambdas_casts_and_in() {
    let e = parse("id eq e01a1893-1893-e01a-9318-1ae093181ae0 and lastReportedDateTime ge 2017-01-01T00:00:17.7769392-08:00");
    assert!(e.is_ok(), "{e:?}");
    let e = parse("roleScopeTagIds/any(t: t eq '0') and microsoft.graph.windows10CompliancePolicy/bitLockerEnabled eq true");
    assert!(e.is_ok(), "{e:?}");
    let e = parse("status in ('compliant', 'error')");
    assert!(matches!(e, Ok(Expr::In { .. })), "{e:?}");
    assert_eq!(
        parse("displayName eq 'O''Brien'").map(|e| e.to_string()),
        Ok("displayName eq 'O''Brien'".into())
    );
    assert_eq!(
        parse("name eq 'Zoë' and ünïcode/any(x: x eq 'ß')").map(|e| e.to_string()),
        Ok("name eq 'Zoë' and ünïcode/any(x: x eq 'ß')".into())
    );
}

#[test]
fn errors_point_at_the_token() {
    let err = parse("status eq").err().map(|e| e.message);
    assert!(err.is_some_and(|m| m.contains("ends too early")));
    let err = parse("status eq 'x' )").err().map(|e| e.message);
    assert!(
        err.as_ref().is_some_and(|m| m.contains("position 14")),
        "{err:?}"
    );
    // Positions count characters, not bytes.
    let err = parse("név eq 'é' #").err().map(|e| e.message);
    assert!(
        err.as_ref()
            .is_some_and(|m| m.contains("'#' at position 11")),
        "{err:?}"
    );
    let err = parse("(a eq 1").err().map(|e| e.message);
    assert!(
        err.as_ref().is_some_and(|m| m.contains("expected ')'")),
        "{err:?}"
    );
    let deep = format!("{}a eq 1{}", "(".repeat(200), ")".repeat(200));
    assert!(message(parse(&deep)).contains("(the limit)"));
}

#[test]
fn and_or_chains_are_one_wide_node_and_groups_stay_apart() {
    let e = parse("a or b or c and d and e or f");
    let expected = Expr::Logical {
        op: Logic::Or,
        terms: vec![
            member("a"),
            member("b"),
            Expr::Logical {
                op: Logic::And,
                terms: vec![member("c"), member("d"), member("e")],
            },
            member("f"),
        ],
    };
    assert_eq!(e, Ok(expected));
    // A parenthesised chain of the same operator stays a term of its own, and prints so.
    let grouped = parse("(a or b) or c or (d or e)");
    assert_eq!(
        grouped,
        Ok(Expr::Logical {
            op: Logic::Or,
            terms: vec![
                Expr::Logical {
                    op: Logic::Or,
                    terms: vec![member("a"), member("b")],
                },
                member("c"),
                Expr::Logical {
                    op: Logic::Or,
                    terms: vec![member("d"), member("e")],
                },
            ],
        })
    );
    assert_eq!(
        grouped.map(|g| g.to_string()).as_deref(),
        Ok("(a or b) or c or (d or e)")
    );
}

#[test]
fn a_long_flat_chain_prints_flat_and_parses_again() {
    // Found by the fuzzer: 200 `or`s parse (left-associative, no nesting) and must reprint
    // without 200 levels of parentheses.
    let chain = (0..200)
        .map(|i| format!("a eq {i}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let parsed = parse(&chain);
    assert!(
        matches!(&parsed, Ok(Expr::Logical { terms, .. }) if terms.len() == 200),
        "{parsed:?}"
    );
    let printed = parsed.as_ref().map(ToString::to_string);
    assert_eq!(printed.as_deref(), Ok(chain.as_str()));
    assert_eq!(printed.map(|p| parse(&p)), Ok(parsed.clone()));
    let grouped = parse("a or (b or c) and not (d eq 1)").map(|e| e.to_string());
    assert_eq!(grouped.as_deref(), Ok("a or (b or c) and not (d eq 1)"));
}

#[test]
fn chained_in_and_repeated_not_print_no_deeper_than_they_parse() {
    // Found by the fuzzer: `a in (…) in (…) …` and `not not … a` parse within the nesting
    // cap, and each printed level used to add a pair of parentheses.
    let chain = format!("a{}", " in (1, b)".repeat(MAX_FILTER_DEPTH - 1));
    let nots = format!("{}a", "not ".repeat(MAX_FILTER_DEPTH - 2));
    for text in [chain.as_str(), nots.as_str()] {
        let parsed = parse(text);
        let printed = parsed.as_ref().map(ToString::to_string);
        assert_eq!(printed.as_deref(), Ok(text));
        assert_eq!(printed.map(|p| parse(&p)), Ok(parsed.clone()));
    }
    let mixed = parse("not (a in (1)) eq (b in (2)) and not c in (3)").map(|e| e.to_string());
    assert_eq!(
        mixed.as_deref(),
        Ok("not (a in (1)) eq (b in (2)) and not c in (3)")
    );
}

#[test]
fn left_chains_of_comparisons_and_in_stop_at_the_depth_limit() {
    // Each `eq`, `in` or `has` of a chain nests one level: the tree's height is capped.
    let at_limit = format!("a{}", " eq 1".repeat(MAX_FILTER_DEPTH - 1));
    assert!(parse(&at_limit).is_ok());
    let limit = format!("nested deeper than {MAX_FILTER_DEPTH} levels (the limit)");
    for op in ["eq 1", "ne 'x'", "has 'y'", "in (1, 2)"] {
        let past = format!("a{}", format!(" {op}").repeat(MAX_FILTER_DEPTH));
        assert!(message(parse(&past)).contains(&limit), "{op}");
    }
    let nots = format!("{}a", "not ".repeat(MAX_FILTER_DEPTH));
    assert!(message(parse(&nots)).contains(&limit));
    let calls = format!(
        "{}a{}",
        "tolower(".repeat(MAX_FILTER_DEPTH),
        ")".repeat(MAX_FILTER_DEPTH)
    );
    assert!(message(parse(&calls)).contains(&limit));
    let lambdas = format!(
        "{}x eq 1{}",
        "t/any(x: ".repeat(MAX_FILTER_DEPTH),
        ")".repeat(MAX_FILTER_DEPTH)
    );
    assert!(message(parse(&lambdas)).contains(&limit));
}

#[test]
fn node_limit_counts_names_literals_and_operators() {
    // `a eq 1` is three nodes, each `or` one more: 250 comparisons are 999 nodes.
    let terms = (MAX_FILTER_NODES + 1) / 4;
    let under = chain("displayName eq 'a'", "or", terms);
    assert!(parse(&under).is_ok());
    let over = chain("displayName eq 'a'", "or", terms + 1);
    let limit = format!("more than {MAX_FILTER_NODES} nodes (the limit)");
    assert!(message(parse(&over)).contains(&limit));
    let list = format!(
        "id in ({})",
        vec!["'e01a1893-1893-e01a-9318-1ae093181ae0'"; MAX_FILTER_NODES - 2].join(", ")
    );
    assert!(parse(&list).is_ok());
    let list = list.replacen("(", "('x', ", 1);
    assert!(message(parse(&list)).contains(&limit));
}

#[test]
fn hundred_thousand_term_inputs_stop_at_a_limit() {
    const TERMS: usize = 100_000;
    let nodes = format!("more than {MAX_FILTER_NODES} nodes (the limit)");
    let depth = format!("nested deeper than {MAX_FILTER_DEPTH} levels (the limit)");
    let mixed = (0..TERMS)
        .map(|i| match i % 4 {
            0 => "displayName eq 'a'",
            1 => "contains(displayName, 'b')",
            2 => "not (version gt 3)",
            _ => "id in ('x', 'y')",
        })
        .collect::<Vec<_>>()
        .join(" and ");
    let cases = [
        (chain("displayName eq 'a'", "or", TERMS), &nodes),
        (chain("displayName eq 'a'", "and", TERMS), &nodes),
        (chain("contains(displayName, 'a')", "or", TERMS), &nodes),
        (mixed, &nodes),
        (chain("a", "or", TERMS), &nodes),
        (format!("a{}", " eq 1".repeat(TERMS)), &depth),
        (format!("a{}", " in (1)".repeat(TERMS)), &depth),
        (format!("a{}", " has 'x'".repeat(TERMS)), &depth),
        (format!("{}a", "(".repeat(TERMS)), &depth),
        (format!("{}a", "not ".repeat(TERMS)), &depth),
    ];
    for (text, limit) in cases {
        let found = message(parse(&text));
        assert!(found.contains(limit.as_str()), "{found}");
        let order = parse_order_item(&text).err().map(|e| e.message);
        assert!(order.is_some_and(|m| m.contains(limit.as_str())));
    }
}

#[test]
fn the_lexer_stops_at_the_node_limit() {
    // Tokens are read one at a time: past the limit the rest of the text is never read, so a
    // bad character far behind it is not what is reported.
    let text = format!("{} or #", chain("a", "or", MAX_FILTER_NODES));
    let found = message(parse(&text));
    assert!(found.contains("nodes (the limit)"), "{found}");
}
