//! A bound query as parameterised SQL. Every literal becomes a parameter; the only text spliced in
//! comes from the model (collection paths and property names, checked to be plain identifiers).

use odata::query::bind::{Compare, Condition, Func, Literal, Operand, Scalar, Scope, StringTest};

/// A parameter value, independent of the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// SQL text under construction with its parameters (`?1`, `?2`, ...).
#[derive(Debug, Default)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Param>,
}

impl Sql {
    pub fn param(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("?{}", self.params.len())
    }
}

/// A model-derived name is only ever letters, digits, `_` and `/`.
pub fn is_plain(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/')
}

/// `'$.a.b'` for a JSON path of plain member names.
fn json_path(path: &[String]) -> String {
    let mut out = String::from("'$");
    for segment in path {
        out.push('.');
        if is_plain(segment) {
            out.push_str(segment);
        } else {
            // Not reachable with the model's names; kept quoted and escaped all the same.
            out.push('"');
            out.push_str(&segment.replace(['"', '\''], ""));
            out.push('"');
        }
    }
    out.push('\'');
    out
}

fn scope_root(scope: Scope) -> String {
    match scope {
        Scope::Entity => "body".into(),
        Scope::Element(depth) => format!("e{depth}.value"),
    }
}

/// The raw SQL value of an operand.
pub fn operand(sql: &mut Sql, o: &Operand) -> String {
    match o {
        Operand::Id => "id".into(),
        Operand::Property {
            scope,
            path,
            only_types,
            ..
        } => {
            let value = if path.is_empty() {
                scope_root(*scope)
            } else {
                format!("json_extract({}, {})", scope_root(*scope), json_path(path))
            };
            match only_types {
                Some(types) => {
                    let list: Vec<String> = types
                        .iter()
                        .map(|t| sql.param(Param::Text(t.clone())))
                        .collect();
                    format!(
                        "(CASE WHEN type_name IN ({}) THEN {value} END)",
                        list.join(", ")
                    )
                }
                None => value,
            }
        }
        Operand::Literal(lit) => literal(sql, lit),
        Operand::Call { func, args } => {
            let arg = args
                .first()
                .map(|a| operand(sql, a))
                .unwrap_or_else(|| "NULL".into());
            match func {
                Func::ToLower => format!("lower({arg})"),
                Func::ToUpper => format!("upper({arg})"),
                Func::Trim => format!("trim({arg})"),
                Func::Length => format!("length({arg})"),
                part => {
                    let name = sql.param(Param::Text(format!("{part:?}").to_lowercase()));
                    format!("dto_part({arg}, {name})")
                }
            }
        }
    }
}

fn literal(sql: &mut Sql, lit: &Literal) -> String {
    let p = match lit {
        Literal::Null => return "NULL".into(),
        Literal::Bool(b) => Param::Int(i64::from(*b)),
        Literal::Int(n) => Param::Int(*n),
        Literal::Decimal(d) => Param::Real(*d),
        Literal::String(s) => Param::Text(s.clone()),
        Literal::DateTimeOffset(ticks) => Param::Int(*ticks),
        Literal::Enum { name, .. } => Param::Text(name.clone()),
    };
    sql.param(p)
}

/// The operand as a value that orders correctly: instants for dates, member values for enums.
pub fn comparable(sql: &mut Sql, o: &Operand, ordered: bool) -> String {
    match o {
        Operand::Property {
            ty: Scalar::DateTimeOffset,
            ..
        } => format!("dto_ticks({})", operand(sql, o)),
        Operand::Property {
            ty: Scalar::Enum(_),
            members,
            ..
        } if ordered => {
            let value = operand(sql, o);
            let mut case = format!("(CASE {value}");
            for (name, number) in members {
                let (n, v) = (
                    sql.param(Param::Text(name.clone())),
                    sql.param(Param::Int(*number)),
                );
                case.push_str(&format!(" WHEN {n} THEN {v}"));
            }
            case.push_str(" END)");
            case
        }
        Operand::Literal(Literal::Enum { value, .. }) if ordered => sql.param(Param::Int(*value)),
        other => operand(sql, other),
    }
}

/// A condition as a SQL Boolean expression; null-safe where OData says a comparison is false.
pub fn condition(sql: &mut Sql, c: &Condition) -> String {
    match c {
        Condition::Compare {
            op, left, right, ..
        } => {
            let ordered = !matches!(op, Compare::Eq | Compare::Ne);
            let (l, r) = (
                comparable(sql, left, ordered),
                comparable(sql, right, ordered),
            );
            let op = match op {
                Compare::Eq => "IS",
                Compare::Ne => "IS NOT",
                Compare::Gt => ">",
                Compare::Ge => ">=",
                Compare::Lt => "<",
                Compare::Le => "<=",
            };
            format!("{l} {op} {r}")
        }
        Condition::IsNull {
            operand: o,
            negated,
        } => {
            let v = operand(sql, o);
            format!("{v} IS {}NULL", if *negated { "NOT " } else { "" })
        }
        Condition::In { left, list, .. } => {
            let l = comparable(sql, left, false);
            if list.is_empty() {
                return "0".into();
            }
            let items: Vec<String> = list.iter().map(|lit| literal(sql, lit)).collect();
            format!("{l} IN ({})", items.join(", "))
        }
        Condition::StringTest {
            test,
            subject,
            needle,
        } => {
            let (s, n) = (operand(sql, subject), operand(sql, needle));
            match test {
                StringTest::Contains => format!("instr({s}, {n}) > 0"),
                StringTest::StartsWith => format!("substr({s}, 1, length({n})) = {n}"),
                StringTest::EndsWith => {
                    format!("(length({n}) = 0 OR substr({s}, -length({n})) = {n})")
                }
            }
        }
        Condition::IsTrue(o) => format!("{} = 1", operand(sql, o)),
        Condition::And(a, b) => format!("({} AND {})", condition(sql, a), condition(sql, b)),
        Condition::Or(a, b) => format!("({} OR {})", condition(sql, a), condition(sql, b)),
        Condition::Not(a) => format!("NOT COALESCE({}, 0)", condition(sql, a)),
        Condition::Lambda {
            scope,
            path,
            all,
            depth,
            body,
        } => {
            let source = format!("{}, {}", scope_root(*scope), json_path(path));
            // json_each walks a scalar (or null) as one row: only arrays have members.
            let is_array = format!("json_type({source}) = 'array'");
            match (body, all) {
                (None, _) => format!("COALESCE(json_array_length({source}), 0) > 0"),
                (Some(b), false) => {
                    format!("EXISTS (SELECT 1 FROM json_each({source}) AS e{depth} WHERE {is_array} AND {})", condition(sql, b))
                }
                (Some(b), true) => format!(
                    "NOT EXISTS (SELECT 1 FROM json_each({source}) AS e{depth} WHERE {is_array} AND NOT COALESCE({}, 0))",
                    condition(sql, b)
                ),
            }
        }
        Condition::IsOf(types) => {
            let list: Vec<String> = types
                .iter()
                .map(|t| sql.param(Param::Text(t.clone())))
                .collect();
            format!("type_name IN ({})", list.join(", "))
        }
        Condition::Literal(b) => if *b { "1" } else { "0" }.into(),
    }
}

/// Rows after a cursor in `ORDER BY k1, …, kn, seq` order (NULLs first ascending, last descending).
pub fn after_cursor(sql: &mut Sql, keys: &[(String, bool)], values: &[Param], seq: i64) -> String {
    let mut alternatives = Vec::new();
    for i in 0..=keys.len() {
        let mut parts = Vec::new();
        for ((key, _), value) in keys.iter().zip(values).take(i) {
            let v = value_sql(sql, value);
            parts.push(format!("{key} IS {v}"));
        }
        if i == keys.len() {
            let s = sql.param(Param::Int(seq));
            parts.push(format!("seq > {s}"));
        } else {
            let (key, descending) = &keys[i];
            let after = match (values.get(i), descending) {
                (Some(Param::Null) | None, false) => format!("{key} IS NOT NULL"),
                (Some(Param::Null) | None, true) => "0".into(),
                (Some(v), false) => {
                    let v = value_sql(sql, v);
                    format!("{key} > {v}")
                }
                (Some(v), true) => {
                    let v = value_sql(sql, v);
                    format!("({key} < {v} OR {key} IS NULL)")
                }
            };
            parts.push(after);
        }
        alternatives.push(format!("({})", parts.join(" AND ")));
    }
    format!("({})", alternatives.join(" OR "))
}

fn value_sql(sql: &mut Sql, value: &Param) -> String {
    match value {
        Param::Null => "NULL".into(),
        other => sql.param(other.clone()),
    }
}
