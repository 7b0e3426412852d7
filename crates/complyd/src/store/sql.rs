//! A bound query as parameterised SQL, for SQLite or PostgreSQL. Every literal becomes a
//! parameter; the only text spliced in comes from the model (collection paths and property names,
//! checked to be plain identifiers). The two dialects differ only in the few places `Dialect`
//! names; the shape of every statement is shared.

use super::slots::{self, Layout, Slot};
use super::tables::{self, SHARED};
use super::{CountBy, Key, Query, Read, Related, SortValue, StoreError};
use odata::query::bind::{Compare, Condition, Func, Literal, Operand, Scalar, Scope, StringTest};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A parameter value, independent of the driver. Only the backends see it: what leaves the
/// store is a [`SortValue`].
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
}

/// SQL text under construction with its parameters.
#[derive(Debug)]
pub struct Sql {
    pub dialect: Dialect,
    pub text: String,
    pub params: Vec<Param>,
    /// The queried collection's slot columns (SQLite): a value one of them holds is read from it.
    slots: Option<Arc<[Slot]>>,
    /// What an entity's own properties are read from: `body`, or a new body's placeholder.
    entity_root: &'static str,
    /// The queried collection's table of its own (SQLite); none: `entity`.
    own_table: Option<Arc<str>>,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            text: String::new(),
            params: Vec::new(),
            slots: None,
            entity_root: "body",
            own_table: None,
        }
    }

    /// A statement over a collection kept as `layout` says (SQLite's; PostgreSQL's is the default).
    pub fn with_layout(dialect: Dialect, layout: Layout) -> Self {
        Self {
            entity_root: layout.body(),
            slots: layout.slots,
            own_table: layout.own_table,
            ..Self::new(dialect)
        }
    }

    /// An expression over the body in a parameter (marked [`slots::NEW_BODY`]), not `body`.
    pub fn over_new_body(dialect: Dialect) -> Self {
        Self {
            entity_root: slots::NEW_BODY,
            ..Self::new(dialect)
        }
    }

    /// The slot column holding the value `text` computes, or `text` itself.
    fn slotted(&self, text: String) -> String {
        match self
            .slots
            .as_deref()
            .and_then(|s| slots::column_for(s, &text))
        {
            Some(column) => column.to_string(),
            None => text,
        }
    }

    fn scope_root(&self, scope: Scope) -> String {
        match scope {
            Scope::Entity => self.entity_root.into(),
            Scope::Element(depth) => format!("e{depth}.value"),
        }
    }

    pub fn param(&mut self, p: Param) -> String {
        self.params.push(p);
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.params.len()),
            Dialect::Postgres => format!("${}", self.params.len()),
        }
    }

    fn pg(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// The table the queried collection's rows are in.
    fn table(&self) -> &str {
        self.own_table.as_deref().unwrap_or(SHARED)
    }
}

/// A model-derived name is only ever letters, digits, `_` and `/`.
pub fn is_plain(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/')
}

/// `template` with `{C}` replaced by the collection path as a SQL literal. A literal, not a
/// parameter: the planners match partial indexes (`WHERE collection = '…'`) only against literals.
pub fn in_collection(template: &str, collection: &str) -> Result<String, StoreError> {
    in_table(template, collection, SHARED)
}

/// [`in_table`] of a template written in the code, made once per thread and kept: a read by key
/// asks for the same few statements at every request. At most `MADE_LIMIT` are kept per thread
/// (past it the memory starts afresh); collection and table names come from the model.
pub fn in_table_cached(
    template: &'static str,
    collection: &str,
    table: &str,
) -> Result<std::rc::Rc<str>, StoreError> {
    const MADE_LIMIT: usize = 4096;
    type Made = std::collections::HashMap<u64, ((usize, usize), String, String, std::rc::Rc<str>)>;
    thread_local! {
        static MADE: std::cell::RefCell<Made> = std::cell::RefCell::default();
    }
    // A 'static template keeps its address for the whole run: address and length name it.
    let address = (template.as_ptr() as usize, template.len());
    let number = crate::common::fnv1a_parts(&[
        &address.0.to_le_bytes(),
        collection.as_bytes(),
        &[0xff],
        table.as_bytes(),
    ]);
    let known = MADE.with(|made| {
        made.borrow()
            .get(&number)
            .filter(|(a, c, t, _)| *a == address && c == collection && t == table)
            .map(|(_, _, _, sql)| sql.clone())
    });
    if let Some(sql) = known {
        return Ok(sql);
    }
    let sql: std::rc::Rc<str> = in_table(template, collection, table)?.into();
    MADE.with(|made| {
        let mut made = made.borrow_mut();
        if made.len() >= MADE_LIMIT {
            made.clear();
        }
        made.insert(
            number,
            (
                address,
                collection.to_string(),
                table.to_string(),
                sql.clone(),
            ),
        );
    });
    Ok(sql)
}

/// `template` with `{C}` replaced as [`in_collection`] does, `{T}` by `table` (the table the
/// collection is kept in, `entity` or one of its own), `{P}` by the test that a row is a member
/// of the collection under tenant `?1` and parent `?2` ([`tables::under`]), and in a table of its
/// own `{SC}` by `, scope` and `{SV}` by the number of the scope of `?1` and `?2` (nothing in the
/// shared table).
pub fn in_table(template: &str, collection: &str, table: &str) -> Result<String, StoreError> {
    for name in [collection, table] {
        if !is_plain(name) {
            return Err(StoreError::Backend(format!("'{name}' is not a plain name")));
        }
    }
    // One pass into one buffer: every read by key builds its statement's text this way.
    let mut sql = String::with_capacity(template.len() + collection.len() + table.len());
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        sql.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(tail) = after.strip_prefix("{C}") {
            sql.push('\'');
            sql.push_str(collection);
            sql.push('\'');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("{T}") {
            sql.push_str(table);
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("{SC}") {
            if table != SHARED {
                sql.push_str(", scope");
            }
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("{SV}") {
            if table != SHARED {
                sql.push_str(&format!(", {}(?1, ?2)", tables::SCOPE_FUNCTION));
            }
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("{P}") {
            let quoted = format!("'{collection}'");
            sql.push_str(&tables::under(table != SHARED, "?1", "?2", "", &quoted));
            rest = tail;
        } else {
            sql.push('{');
            rest = &after[1..];
        }
    }
    sql.push_str(rest);
    Ok(sql)
}

fn plain(segment: &str) -> String {
    segment
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The text (or JSON scalar) at `path` inside the JSON value `root`.
fn json_value(sql: &Sql, root: &str, path: &[String]) -> String {
    match sql.dialect {
        Dialect::Sqlite => {
            let dotted: Vec<String> = path.iter().map(|s| plain(s)).collect();
            format!("json_extract({root}, '$.{}')", dotted.join("."))
        }
        // `->>` for one member and byte-wise collation, so that the expression matches the
        // indexes and orders as SQLite does.
        Dialect::Postgres if path.len() == 1 => {
            format!("(({root}->>'{}') COLLATE \"C\")", plain(&path[0]))
        }
        Dialect::Postgres => {
            let segments: Vec<String> = path.iter().map(|s| plain(s)).collect();
            format!("(({root}#>>'{{{}}}') COLLATE \"C\")", segments.join(","))
        }
    }
}

/// The JSON value (not its text) at `path`, for walking collections.
fn json_node(sql: &Sql, root: &str, path: &[String]) -> String {
    match sql.dialect {
        Dialect::Sqlite => {
            let dotted: Vec<String> = path.iter().map(|s| plain(s)).collect();
            format!("{root}, '$.{}'", dotted.join("."))
        }
        Dialect::Postgres => {
            let segments: Vec<String> = path.iter().map(|s| plain(s)).collect();
            format!("({root}#>'{{{}}}')", segments.join(","))
        }
    }
}

/// PostgreSQL reads JSON members as text; a typed comparison needs a cast.
fn typed(sql: &Sql, text: String, ty: &Scalar) -> String {
    if !sql.pg() {
        return text;
    }
    match ty {
        Scalar::Int => format!("({text})::bigint"),
        Scalar::Decimal => format!("({text})::float8"),
        Scalar::Boolean => format!("({text})::boolean"),
        _ => text,
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
            ty,
            ..
        } => {
            let value = match (path.is_empty(), scope, sql.dialect) {
                (true, Scope::Element(d), Dialect::Postgres) => {
                    format!("((e{d}.value#>>'{{}}') COLLATE \"C\")")
                }
                (true, _, _) => sql.scope_root(*scope),
                (false, _, _) => json_value(sql, &sql.scope_root(*scope), path),
            };
            let value = sql.slotted(typed(sql, value, ty));
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
                    let name = literal(sql, &Literal::String(format!("{part:?}").to_lowercase()));
                    format!("dto_part({arg}, {name})")
                }
            }
        }
    }
}

fn literal(sql: &mut Sql, lit: &Literal) -> String {
    let p = match lit {
        Literal::Null => return "NULL".into(),
        Literal::Bool(b) if sql.pg() => Param::Bool(*b),
        Literal::Bool(b) => Param::Int(i64::from(*b)),
        Literal::Int(n) => Param::Int(*n),
        Literal::Decimal(d) => Param::Real(*d),
        Literal::String(s) => Param::Text(s.clone()),
        Literal::DateTimeOffset(ticks) => Param::Int(*ticks),
        Literal::Enum { name, .. } => Param::Text(name.clone()),
    };
    let placeholder = sql.param(p.clone());
    // PostgreSQL infers a parameter's type from its use; say it where the use does not.
    match (sql.dialect, p) {
        (Dialect::Postgres, Param::Int(_)) => format!("{placeholder}::bigint"),
        (Dialect::Postgres, Param::Real(_)) => format!("{placeholder}::float8"),
        (Dialect::Postgres, Param::Text(_)) => format!("({placeholder}::text COLLATE \"C\")"),
        (Dialect::Postgres, Param::Bool(_)) => format!("{placeholder}::boolean"),
        _ => placeholder,
    }
}

/// The operand as a value that orders correctly: instants for dates, member values for enums.
pub fn comparable(sql: &mut Sql, o: &Operand, ordered: bool) -> String {
    match o {
        Operand::Property {
            ty: Scalar::DateTimeOffset,
            ..
        } => {
            let value = format!("dto_ticks({})", operand(sql, o));
            sql.slotted(value)
        }
        Operand::Property {
            ty: Scalar::Enum(_),
            members,
            ..
        } if ordered => {
            let value = operand(sql, o);
            let mut case = format!("(CASE {value}");
            for (name, number) in members {
                let (n, v) = (
                    literal(sql, &Literal::String(name.clone())),
                    literal(sql, &Literal::Int(*number)),
                );
                case.push_str(&format!(" WHEN {n} THEN {v}"));
            }
            case.push_str(" END)");
            case
        }
        Operand::Literal(Literal::Enum { value, .. }) if ordered => {
            literal(sql, &Literal::Int(*value))
        }
        other => operand(sql, other),
    }
}

/// A condition as a SQL Boolean expression; null-safe where OData says a comparison is false.
pub fn condition(sql: &mut Sql, c: &Condition) -> String {
    match c {
        Condition::Compare {
            op, left, right, ..
        } => compare(sql, *op, left, right),
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
                return "FALSE".into();
            }
            let items: Vec<String> = list.iter().map(|lit| literal(sql, lit)).collect();
            format!("{l} IN ({})", items.join(", "))
        }
        Condition::StringTest {
            test,
            subject,
            needle,
        } => string_test(sql, *test, subject, needle),
        Condition::IsTrue(o) => {
            let v = operand(sql, o);
            if sql.pg() {
                format!("{v} IS TRUE")
            } else {
                format!("{v} = 1")
            }
        }
        Condition::And(terms) => joined(sql, terms, "AND", "TRUE"),
        Condition::Or(terms) => joined(sql, terms, "OR", "FALSE"),
        Condition::Not(a) => format!("NOT COALESCE({}, FALSE)", condition(sql, a)),
        Condition::Lambda {
            scope,
            path,
            all,
            depth,
            body,
        } => lambda(sql, *scope, path, *all, *depth, body.as_deref()),
        Condition::IsOf(types) => {
            let list: Vec<String> = types
                .iter()
                .map(|t| sql.param(Param::Text(t.clone())))
                .collect();
            format!("type_name IN ({})", list.join(", "))
        }
        Condition::Literal(b) => if *b { "TRUE" } else { "FALSE" }.into(),
    }
}

fn compare(sql: &mut Sql, op: Compare, left: &Operand, right: &Operand) -> String {
    let ordered = !matches!(op, Compare::Eq | Compare::Ne);
    // Against a literal (never null here: null literals are IsNull) plain `=` is exact and
    // indexable; PostgreSQL cannot use an index for IS NOT DISTINCT FROM.
    let literal_side = matches!(left, Operand::Literal(_)) || matches!(right, Operand::Literal(_));
    let (l, r) = (
        comparable(sql, left, ordered),
        comparable(sql, right, ordered),
    );
    let op = match (op, sql.pg()) {
        (Compare::Eq, _) if literal_side => "=",
        (Compare::Eq, false) => "IS",
        (Compare::Ne, false) => "IS NOT",
        (Compare::Eq, true) => "IS NOT DISTINCT FROM",
        (Compare::Ne, true) => "IS DISTINCT FROM",
        (Compare::Gt, _) => ">",
        (Compare::Ge, _) => ">=",
        (Compare::Lt, _) => "<",
        (Compare::Le, _) => "<=",
    };
    format!("{l} {op} {r}")
}

fn string_test(sql: &mut Sql, test: StringTest, subject: &Operand, needle: &Operand) -> String {
    // A property starting with a literal also lies in the range [prefix, next) of its index's
    // order (byte-wise in both stores): said beside the exact test, so the planner can seek.
    if let (
        StringTest::StartsWith,
        Operand::Property { .. },
        Operand::Literal(Literal::String(p)),
    ) = (test, subject, needle)
    {
        if let Some(end) = prefix_end(p) {
            let value = comparable(sql, subject, true);
            let (low, high) = (
                literal(sql, &Literal::String(p.clone())),
                literal(sql, &Literal::String(end)),
            );
            let exact = plain_string_test(sql, test, subject, needle);
            return format!("({value} >= {low} AND {value} < {high} AND {exact})");
        }
    }
    plain_string_test(sql, test, subject, needle)
}

/// The least string greater than every string that starts with `prefix` (none for an empty
/// prefix, or one of only the last code point).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next code point, past the surrogates (which are not chars).
        let next = match last as u32 + 1 {
            0xD800 => 0xE000,
            n => n,
        };
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn plain_string_test(
    sql: &mut Sql,
    test: StringTest,
    subject: &Operand,
    needle: &Operand,
) -> String {
    let (s, n) = (operand(sql, subject), operand(sql, needle));
    match (test, sql.pg()) {
        (StringTest::Contains, false) => format!("instr({s}, {n}) > 0"),
        (StringTest::Contains, true) => format!("strpos({s}, {n}) > 0"),
        (StringTest::StartsWith, false) => format!("substr({s}, 1, length({n})) = {n}"),
        (StringTest::StartsWith, true) => format!("left({s}, length({n})) = {n}"),
        (StringTest::EndsWith, false) => {
            format!("(length({n}) = 0 OR substr({s}, -length({n})) = {n})")
        }
        (StringTest::EndsWith, true) => format!("right({s}, length({n})) = {n}"),
    }
}

/// The terms of a flat `and`/`or` chain joined by `keyword`, in one pair of parentheses; `empty`
/// when there are none.
fn joined(sql: &mut Sql, terms: &[Condition], keyword: &str, empty: &str) -> String {
    if terms.is_empty() {
        return empty.into();
    }
    let parts: Vec<String> = terms.iter().map(|t| condition(sql, t)).collect();
    format!("({})", parts.join(&format!(" {keyword} ")))
}

fn lambda(
    sql: &mut Sql,
    scope: Scope,
    path: &[String],
    all: bool,
    depth: usize,
    body: Option<&Condition>,
) -> String {
    let root = sql.scope_root(scope);
    // Only arrays have members: a scalar or null collection has none.
    let (elements, length) = match sql.dialect {
        Dialect::Sqlite => {
            let node = json_node(sql, &root, path);
            (
                format!("json_each({node}) AS e{depth}"),
                format!("CASE WHEN json_type({node}) = 'array' THEN json_array_length({node}) ELSE 0 END"),
            )
        }
        Dialect::Postgres => {
            let node = json_node(sql, &root, path);
            let array = format!(
                "(CASE WHEN json_typeof({node}) = 'array' THEN {node} ELSE '[]'::json END)"
            );
            (
                format!("json_array_elements({array}) AS e{depth}(value)"),
                format!("json_array_length({array})"),
            )
        }
    };
    let guard = match sql.dialect {
        Dialect::Sqlite => format!("json_type({}) = 'array' AND ", json_node(sql, &root, path)),
        Dialect::Postgres => String::new(),
    };
    match (body, all) {
        (None, _) => format!("COALESCE({length}, 0) > 0"),
        (Some(b), false) => format!(
            "EXISTS (SELECT 1 FROM {elements} WHERE {guard}{})",
            condition(sql, b)
        ),
        (Some(b), true) => {
            format!(
                "NOT EXISTS (SELECT 1 FROM {elements} WHERE {guard}NOT COALESCE({}, FALSE))",
                condition(sql, b)
            )
        }
    }
}

/// Rows after a cursor in `ORDER BY k1, …, kn, seq` order (NULLs first ascending, last descending).
pub fn after_cursor(
    sql: &mut Sql,
    keys: &[(String, bool)],
    values: &[SortValue],
    seq: i64,
) -> String {
    let mut alternatives = Vec::new();
    for i in 0..=keys.len() {
        let mut parts = Vec::new();
        for ((key, _), value) in keys.iter().zip(values).take(i) {
            if *value == SortValue::Null {
                parts.push(format!("{key} IS NULL"));
            } else {
                let v = value_sql(sql, value);
                parts.push(format!("{key} = {v}"));
            }
        }
        if i == keys.len() {
            let s = literal(sql, &Literal::Int(seq));
            parts.push(format!("seq > {s}"));
        } else {
            let (key, descending) = &keys[i];
            let after = match (values.get(i), descending) {
                (Some(SortValue::Null) | None, false) => format!("{key} IS NOT NULL"),
                (Some(SortValue::Null) | None, true) => "FALSE".into(),
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

fn value_sql(sql: &mut Sql, value: &SortValue) -> String {
    let lit = match value {
        SortValue::Null => return "NULL".into(),
        SortValue::Bool(b) => Literal::Bool(*b),
        SortValue::Int(n) => Literal::Int(*n),
        SortValue::Real(r) => Literal::Decimal(*r),
        SortValue::Text(t) => Literal::String(t.clone()),
    };
    literal(sql, &lit)
}

/// `WHERE` for one collection of one parent, plus the bound filter.
fn scope_sql(sql: &mut Sql, q: &Query) -> Result<String, StoreError> {
    let (tenant, parent) = (
        literal(sql, &Literal::String(q.tenant.clone())),
        literal(sql, &Literal::String(q.parent.clone())),
    );
    // Linked members are few next to their collection: SQLite is kept from walking the whole
    // collection in `seq` order (the `+` makes these terms unindexable), so that it looks each
    // linked id up by the key index instead. PostgreSQL's planner weighs both on its statistics.
    let hint = if q.related.is_some() && !sql.pg() {
        "+"
    } else {
        ""
    };
    let collection = in_collection("{C}", &q.collection)?;
    let mut text = tables::under(sql.own_table.is_some(), &tenant, &parent, hint, &collection);
    if let Some(related) = &q.related {
        text.push_str(" AND id IN (");
        text.push_str(&linked(sql, &q.tenant, related)?);
        text.push(')');
    }
    if let Some(filter) = &q.filter {
        text.push_str(" AND ");
        text.push_str(&condition(sql, filter));
    }
    Ok(text)
}

/// The ids linked to `r.anchor` (a `SELECT` of one column): one step over the link rows, or a
/// recursive walk whose `UNION` drops what it has seen, so that a cycle ends it. Link rows are
/// kept in the shared table (no `own-table` type is a link's).
fn linked(sql: &mut Sql, tenant: &str, r: &Related) -> Result<String, StoreError> {
    let t = literal(sql, &Literal::String(tenant.to_string()));
    let a = literal(sql, &Literal::String(r.anchor.clone()));
    // Forwards a link leads from `parent` (the owner) to `id` (the member); inverse, back.
    let (from, to) = if r.inverse {
        ("id", "parent")
    } else {
        ("parent", "id")
    };
    let first = format!(
        "SELECT {to} FROM entity WHERE tenant = {t} AND collection = {{C}} AND {from} = {a}"
    );
    if !r.transitive {
        return in_collection(&first, &r.links);
    }
    let t2 = literal(sql, &Literal::String(tenant.to_string()));
    let a2 = literal(sql, &Literal::String(r.anchor.clone()));
    // Each step starts from what the walk found and looks its links up by index: forwards by
    // parent (`entity_page`), backwards by id (`entity_key`). SQLite would rather read every link
    // of the set once per step: CROSS JOIN fixes the loop order, and backwards the other terms are
    // made unindexable (`+`). PostgreSQL plans the step itself.
    let (join, hint) = match (sql.pg(), r.inverse) {
        (true, _) => (",", ""),
        (false, false) => (" CROSS JOIN", ""),
        (false, true) => (" CROSS JOIN", "+"),
    };
    let walk = format!(
        "WITH RECURSIVE walk(x) AS ({first} UNION SELECT link.{to} FROM walk{join} entity AS link WHERE link.{from} = walk.x AND {hint}link.tenant = {t2} AND {hint}link.collection = {{C}}) SELECT x FROM walk WHERE x <> {a2}"
    );
    in_collection(&walk, &r.links)
}

/// The name of the page's column holding sort key `i` (0-based).
pub fn sort_column(i: usize) -> String {
    format!("sort_{i}")
}

/// A page of a collection; columns `seq, id, type_name, body, shape`, then the sort keys
/// (named by [`sort_column`]). Returns the statement and how many sort keys it selects.
/// `layout`: how the collection is kept (slot columns are read where they hold a value the query
/// computes; a packed body is read unpacked).
pub fn page(dialect: Dialect, q: &Query, layout: Layout) -> Result<(Sql, usize), StoreError> {
    let mut sql = Sql::with_layout(dialect, layout);
    let mut where_sql = scope_sql(&mut sql, q)?;
    let keys: Vec<(String, bool)> = q
        .order
        .iter()
        .map(|(o, desc)| (comparable(&mut sql, o, true), *desc))
        .collect();
    if let Some(cursor) = &q.cursor {
        where_sql.push_str(" AND ");
        where_sql.push_str(&after_cursor(&mut sql, &keys, &cursor.values, cursor.seq));
    }
    let mut order: Vec<String> = keys
        .iter()
        .map(|(k, desc)| {
            format!(
                "{k} {}",
                if *desc {
                    "DESC NULLS LAST"
                } else {
                    "ASC NULLS FIRST"
                }
            )
        })
        .collect();
    order.push("seq ASC".into());
    let extra: String = keys
        .iter()
        .enumerate()
        .map(|(i, (k, _))| format!(", {k} AS {}", sort_column(i)))
        .collect();
    let limit = literal(
        &mut sql,
        &Literal::Int(q.limit.min(i64::MAX as usize) as i64),
    );
    let offset = literal(
        &mut sql,
        &Literal::Int(q.skip.min(i64::MAX as usize) as i64),
    );
    let body = body_column(dialect);
    sql.text = format!(
        "SELECT seq, id, type_name, {body}, shape{extra} FROM {table} WHERE {where_sql} ORDER BY {} LIMIT {limit} OFFSET {offset}",
        order.join(", "),
        table = sql.table(),
    );
    Ok((sql, keys.len()))
}

/// The `body` column as text (PostgreSQL stores `json`).
pub fn body_column(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "body",
        Dialect::Postgres => "body::text AS body",
    }
}

/// How many members of the collection match the query's filter (column `n`).
pub fn count(dialect: Dialect, q: &Query, layout: Layout) -> Result<Sql, StoreError> {
    let mut sql = Sql::with_layout(dialect, layout);
    let where_sql = scope_sql(&mut sql, q)?;
    sql.text = format!(
        "SELECT count(*) AS n FROM {table} WHERE {where_sql}",
        table = sql.table()
    );
    Ok(sql)
}

/// A read of `Store::read_together` as a backend runs it: a grouped count as its statement.
pub enum PlannedRead {
    Get(Key),
    Query(Query),
    Count(Query),
    CountBy(Sql),
}

/// `reads` planned for `dialect`; `counts` are the counts the database keeps, `layouts` how
/// SQLite keeps each collection (none for PostgreSQL).
pub fn plan_reads(
    reads: Vec<Read>,
    dialect: Dialect,
    counts: &[super::counts::ModelCount],
    layouts: Option<&slots::Slots>,
) -> Result<Vec<PlannedRead>, StoreError> {
    reads
        .into_iter()
        .map(|read| {
            Ok(match read {
                Read::Get(key) => PlannedRead::Get(key),
                Read::Query(q) => PlannedRead::Query(q),
                Read::CountMatching(q) => PlannedRead::Count(q),
                Read::CountBy(groups) => {
                    let groups = groups.as_count_by();
                    let layout = layouts.map(|l| l.layout(groups.collection));
                    PlannedRead::CountBy(count_by_in(
                        dialect,
                        &groups,
                        counts,
                        layout.unwrap_or_default(),
                    )?)
                }
            })
        })
        .collect()
}

/// `count_by`, reading the kept counts when `counts` has them.
pub fn count_by_in(
    dialect: Dialect,
    groups: &CountBy<'_>,
    counts: &[super::counts::ModelCount],
    layout: Layout,
) -> Result<Sql, StoreError> {
    let counted = super::counts::holds(counts, groups.collection, groups.property);
    count_by(dialect, groups, counted, layout)
}

/// Members grouped by the text of one top-level property (columns `value`, `n`). `counted`: the
/// database keeps these counts (`counts`), so they are read, not counted. `layout`: how the
/// collection is kept (a packed body is read unpacked).
pub fn count_by(
    dialect: Dialect,
    groups: &CountBy<'_>,
    counted: bool,
    layout: Layout,
) -> Result<Sql, StoreError> {
    let CountBy {
        tenant,
        collection,
        parent,
        property,
    } = *groups;
    if !is_plain(property) {
        return Err(StoreError::Backend(
            "count_by needs a plain property name".into(),
        ));
    }
    let mut sql = Sql::new(dialect);
    let value = json_value(&sql, layout.body(), &[property.to_string()]);
    let t = literal(&mut sql, &Literal::String(tenant.into()));
    if let (true, Some(parent)) = (counted, parent) {
        let p = literal(&mut sql, &Literal::String(parent.into()));
        let name = literal(&mut sql, &Literal::String(property.into()));
        let kept = in_collection(
            &format!("tenant = {t} AND collection = {{C}} AND parent = {p}"),
            collection,
        )?;
        sql.text = format!(
            "SELECT value, n FROM entity_count WHERE {kept} AND property = {name} AND n > 0"
        );
        return Ok(sql);
    }
    let own = layout.own_table.is_some();
    let quoted = in_collection("{C}", collection)?;
    let where_sql = match parent {
        Some(parent) => {
            let p = literal(&mut sql, &Literal::String(parent.into()));
            tables::under(own, &t, &p, "", &quoted)
        }
        // A table of its own indexes its rows by scope: the tenant's scopes.
        None if own => {
            format!(
                "{} AND collection = {quoted}",
                tables::tenant_scopes(&t, "true")
            )
        }
        None => format!("tenant = {t} AND collection = {quoted}"),
    };
    sql.text = format!(
        "SELECT {value} AS value, count(*) AS n FROM {table} WHERE {where_sql} GROUP BY 1",
        table = layout.table()
    );
    Ok(sql)
}

#[cfg(test)]
mod tests;
