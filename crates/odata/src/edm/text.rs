//! Parser for the `.edm` model text (see FORMAT.md beside this file).

use super::{
    Availability, Binding, Builtin, CollectionRules, Computed, Counter, Derivation, DerivedSource,
    EnumMember, EnumType, Follows, Links, LiveRoute, LiveRules, Navigation, Operation,
    OperationKind, Permissions, Primitive, Property, Reference, Root, RootKind, RootRules,
    RuleDialect, Stamp, StringFunctions, StructuredType, TypeKind, TypeRef, ValueType,
};
use std::collections::HashMap;

#[derive(Default)]
pub(super) struct Parsed {
    pub types: HashMap<String, StructuredType>,
    pub enums: HashMap<String, EnumType>,
    pub permission_sets: Vec<Permissions>,
    pub roots: Vec<Root>,
    pub operations: Vec<Operation>,
}

enum Block {
    None,
    Enum(String),
    Structured(String),
    Permissions(usize),
    Operation(usize),
}

/// Where the parser is: the namespace, the block, and the indentation of its member lines.
struct State {
    namespace: String,
    block: Block,
    member_indent: Option<usize>,
    /// The last member line declared a navigation (deeper lines belong to it).
    after_navigation: bool,
}

impl State {
    fn qualify(&self, name: &str) -> String {
        qualify(&self.namespace, name)
    }
}

pub(super) fn parse_into(out: &mut Parsed, source: &str) -> Result<(), String> {
    let mut state = State {
        namespace: String::from("microsoft.graph"),
        block: Block::None,
        member_indent: None,
        after_navigation: false,
    };
    for (index, raw) in source.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", index + 1);
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            state.block = header(out, &mut state.namespace, line).map_err(at)?;
            state.member_indent = None;
            state.after_navigation = false;
            continue;
        }
        let member_indent = *state.member_indent.get_or_insert(indent);
        let line = line.trim();
        if indent > member_indent {
            derivation_line(out, &state, line).map_err(at)?;
        } else if indent < member_indent {
            return Err(at("indented less than the lines above it".into()));
        } else {
            state.after_navigation = member(out, &state, line).map_err(at)?;
        }
    }
    Ok(())
}

/// Names of enum types parsed as structured references become enum references, wherever they
/// were declared (a file may use an enum that a later file declares).
pub(super) fn resolve_enums(out: &mut Parsed) {
    let enums: Vec<String> = out.enums.keys().cloned().collect();
    let fix = |ty: &mut TypeRef| {
        if let ValueType::Complex(name) = &ty.value {
            if enums.contains(name) {
                ty.value = ValueType::Enum(name.clone());
            }
        }
    };
    for ty in out.types.values_mut() {
        ty.own_properties.iter_mut().for_each(|p| fix(&mut p.ty));
    }
    for op in &mut out.operations {
        op.parameters.iter_mut().for_each(|p| fix(&mut p.ty));
        op.returns.iter_mut().for_each(fix);
    }
}

fn qualify(namespace: &str, name: &str) -> String {
    if name.contains('.') {
        name.to_string()
    } else {
        format!("{namespace}.{name}")
    }
}

fn header(out: &mut Parsed, namespace: &mut String, line: &str) -> Result<Block, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["namespace", ns] => {
            *namespace = ns.to_string();
            Ok(Block::None)
        }
        ["enum", name, flags @ ..] => {
            let name = qualify(namespace, name);
            let mut ty = EnumType {
                name: name.clone(),
                availability: Availability::Both,
                flags: false,
                members: Vec::new(),
            };
            for flag in flags {
                match *flag {
                    "beta" => ty.availability = Availability::BetaOnly,
                    "flags" => ty.flags = true,
                    other => return Err(format!("unknown enum header word '{other}'")),
                }
            }
            if out.enums.insert(name.clone(), ty).is_some() {
                return Err(format!("enum {name} declared twice"));
            }
            Ok(Block::Enum(name))
        }
        [keyword @ ("entity" | "complex"), name, rest @ ..] => {
            structured(out, namespace, keyword, name, rest)
        }
        ["permissions", name] => {
            if out.permission_sets.iter().any(|p| p.name == *name) {
                return Err(format!("permissions {name} declared twice"));
            }
            out.permission_sets.push(Permissions::named(name));
            Ok(Block::Permissions(out.permission_sets.len() - 1))
        }
        ["root", ..] => {
            out.roots.push(root(namespace, &line["root".len()..])?);
            Ok(Block::None)
        }
        [keyword @ ("action" | "function"), name, rest @ ..] => {
            out.operations
                .push(operation_header(namespace, keyword, name, rest)?);
            Ok(Block::Operation(out.operations.len() - 1))
        }
        _ => Err(format!("cannot read declaration '{line}'")),
    }
}

fn structured(
    out: &mut Parsed,
    namespace: &str,
    keyword: &str,
    name: &str,
    rest: &[&str],
) -> Result<Block, String> {
    let kind = if keyword == "entity" {
        TypeKind::Entity
    } else {
        TypeKind::Complex
    };
    let mut ty = StructuredType {
        name: qualify(namespace, name),
        kind,
        base: None,
        is_abstract: false,
        availability: Availability::Both,
        open: false,
        packed: false,
        own_table: false,
        own_properties: Vec::new(),
        own_navigations: Vec::new(),
    };
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        match *word {
            ":" => {
                let base = words.next().ok_or("':' without a base type")?;
                ty.base = Some(qualify(namespace, base));
            }
            "abstract" => ty.is_abstract = true,
            "beta" => ty.availability = Availability::BetaOnly,
            "open" => ty.open = true,
            "packed" if kind == TypeKind::Entity => ty.packed = true,
            "own-table" if kind == TypeKind::Entity => ty.own_table = true,
            other => return Err(format!("unknown header word '{other}'")),
        }
    }
    if out.types.contains_key(&ty.name) {
        return Err(format!("type {} declared twice", ty.name));
    }
    let name = ty.name.clone();
    out.types.insert(name.clone(), ty);
    Ok(Block::Structured(name))
}

/// `root NAME -> TYPE [flags]` (a singleton) or `root NAME -> Collection(TYPE) [flags]`.
fn root(namespace: &str, rest: &str) -> Result<Root, String> {
    let (name, rest) = rest
        .split_once("->")
        .ok_or("a root is written 'root NAME -> TYPE'")?;
    let navigation = navigation(name.trim(), rest.trim(), &|n| qualify(namespace, n))?;
    let permissions = navigation
        .permissions
        .clone()
        .ok_or_else(|| format!("root {}: no 'permissions SET'", navigation.name))?;
    Ok(Root {
        name: navigation.name.clone(),
        kind: if navigation.collection {
            RootKind::EntitySet
        } else {
            RootKind::Singleton
        },
        type_name: navigation.target.clone(),
        availability: navigation.availability,
        permissions,
        navigation,
    })
}

/// `action|function NAME [on TYPE|on Collection(TYPE)] [beta]`.
fn operation_header(
    namespace: &str,
    keyword: &str,
    name: &str,
    rest: &[&str],
) -> Result<Operation, String> {
    let mut op = Operation {
        kind: if keyword == "action" {
            OperationKind::Action
        } else {
            OperationKind::Function
        },
        name: name.to_string(),
        qualified_name: qualify(namespace, name),
        binding: Binding::Unbound,
        availability: Availability::Both,
        parameters: Vec::new(),
        returns: None,
        handler: String::new(),
        handler_args: Vec::new(),
        permissions: None,
        summary: None,
        live_empty_answer: false,
    };
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        match *word {
            "on" => {
                let bound = words.next().ok_or("'on' without a type")?;
                op.binding = match collection_of(bound) {
                    (inner, true) => Binding::Collection(qualify(namespace, inner)),
                    (inner, false) => Binding::Entity(qualify(namespace, inner)),
                };
            }
            "beta" => op.availability = Availability::BetaOnly,
            other => return Err(format!("unknown {keyword} header word '{other}'")),
        }
    }
    Ok(op)
}

/// One member line of the current block. True when it declared a navigation.
fn member(out: &mut Parsed, state: &State, line: &str) -> Result<bool, String> {
    let qualify = |n: &str| state.qualify(n);
    match &state.block {
        Block::None => Err("member line outside a declaration".into()),
        Block::Enum(name) => {
            let member = enum_member(line)?;
            if let Some(e) = out.enums.get_mut(name) {
                e.members.push(member);
            }
            Ok(false)
        }
        Block::Structured(name) => {
            let ty = out.types.get_mut(name).ok_or("no type for this line")?;
            if let Some((prop_name, rest)) = line.split_once("->") {
                let nav = navigation(prop_name.trim(), rest.trim(), &qualify)?;
                ty.own_navigations.push(nav);
                Ok(true)
            } else {
                ty.own_properties.push(property(line, &qualify)?);
                Ok(false)
            }
        }
        Block::Permissions(index) => {
            let set = out
                .permission_sets
                .get_mut(*index)
                .ok_or("no permissions for this line")?;
            let mut words = line.split_whitespace();
            let list = match words.next() {
                Some("read") => &mut set.read,
                Some("write") => &mut set.write,
                _ => {
                    return Err(format!(
                        "a permissions line is 'read …' or 'write …': '{line}'"
                    ))
                }
            };
            list.extend(words.map(str::to_string));
            Ok(false)
        }
        Block::Operation(index) => {
            let op = out
                .operations
                .get_mut(*index)
                .ok_or("no operation for this line")?;
            operation_line(op, line, &qualify)?;
            Ok(false)
        }
    }
}

/// A keyword line (`returns`, `handler`, `permissions`, `summary`, `live-answer`) or a parameter.
fn operation_line(
    op: &mut Operation,
    line: &str,
    qualify: &dyn Fn(&str) -> String,
) -> Result<(), String> {
    let (first, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let mut words = rest.split_whitespace();
    match first {
        "returns" => op.returns = Some(type_ref(rest, qualify)?),
        "handler" => {
            op.handler = words.next().ok_or("handler without a name")?.to_string();
            op.handler_args = words.map(str::to_string).collect();
        }
        "permissions" => {
            let name = words.next().ok_or("permissions without a set")?;
            op.permissions = Some(Permissions::named(name));
        }
        "summary" => op.summary = Some(rest.to_string()),
        "live-answer" => match rest {
            "empty" => op.live_empty_answer = true,
            other => return Err(format!("unknown live-answer '{other}'")),
        },
        _ => {
            let param = property(line, qualify)?;
            if param.server_managed
                || param.indexed
                || param.availability != Availability::Both
                || param.v1_default
                || param.alternate_key
                || param.secret
                || param.reference.is_some()
            {
                return Err(format!(
                    "parameter {}: only 'required', 'range' and 'maxItems' apply to a parameter",
                    param.name
                ));
            }
            op.parameters.push(param);
        }
    }
    Ok(())
}

/// A line indented below a navigation: how its overview is derived.
fn derivation_line(out: &mut Parsed, state: &State, line: &str) -> Result<(), String> {
    let (Block::Structured(name), true) = (&state.block, state.after_navigation) else {
        return Err("only a navigation's lines may be indented further".into());
    };
    let nav = out
        .types
        .get_mut(name)
        .and_then(|t| t.own_navigations.last_mut())
        .ok_or("no navigation for this line")?;
    if let Some(rest) = line.strip_prefix("builtin ") {
        nav.rules.builtins.push(builtin(rest)?);
        return Ok(());
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    match (words.as_slice(), &mut nav.derived) {
        (["derived", "from", source, "by", property], derived) => {
            let source = match source.strip_prefix('/') {
                Some(path) => DerivedSource::Tenant(path.to_string()),
                None => DerivedSource::Sibling(source.to_string()),
            };
            *derived = Some(Derivation {
                source,
                status_property: property.to_string(),
                counters: Vec::new(),
                copies: Vec::new(),
            });
        }
        ([property, "counts", values @ ..], Some(derived)) if !values.is_empty() => {
            derived.counters.push(Counter {
                property: property.to_string(),
                values: values.iter().map(|v| v.to_string()).collect(),
            });
        }
        ([property, "copies", from], Some(derived)) => {
            derived
                .copies
                .push((property.to_string(), from.to_string()));
        }
        (_, None) => return Err("'derived from SOURCE by PROPERTY' comes first".into()),
        _ => return Err(format!("cannot read derivation line '{line}'")),
    }
    Ok(())
}

/// `ID JSON`: a built-in member and its body.
fn builtin(rest: &str) -> Result<Builtin, String> {
    let (id, json) = rest
        .trim()
        .split_once(char::is_whitespace)
        .ok_or("a built-in member is written 'builtin ID {JSON body}'")?;
    match serde_json::from_str(json.trim()) {
        Ok(serde_json::Value::Object(body)) => Ok(Builtin {
            id: id.to_string(),
            body,
        }),
        _ => Err(format!("builtin {id}: the body is not a JSON object")),
    }
}

fn enum_member(line: &str) -> Result<EnumMember, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (name, value, flags) = match words.as_slice() {
        [name, "=", value, flags @ ..] => (name, value, flags),
        _ => return Err(format!("cannot read enum member '{line}'")),
    };
    let value = value
        .parse()
        .map_err(|_| format!("bad enum value '{value}'"))?;
    let availability = match flags {
        [] => Availability::Both,
        ["beta"] => Availability::BetaOnly,
        _ => return Err(format!("unknown enum member flags in '{line}'")),
    };
    Ok(EnumMember {
        name: name.to_string(),
        value,
        availability,
    })
}

/// `Collection(X)` → (`X`, true); anything else → (itself, false).
fn collection_of(ty: &str) -> (&str, bool) {
    match ty
        .strip_prefix("Collection(")
        .and_then(|t| t.strip_suffix(')'))
    {
        Some(inner) => (inner, true),
        None => (ty, false),
    }
}

/// `name -> Type [flags]`, also the tail of a `root` line.
fn navigation(
    name: &str,
    rest: &str,
    qualify: &dyn Fn(&str) -> String,
) -> Result<Navigation, String> {
    let mut words = rest.split_whitespace();
    let ty = words.next().ok_or("navigation without a type")?;
    let (target, collection) = collection_of(ty);
    let mut nav = Navigation {
        name: name.to_string(),
        target: qualify(target),
        collection,
        availability: Availability::Both,
        permissions: None,
        live: LiveRules::default(),
        derived: None,
        rules: CollectionRules::default(),
        links: None,
        root: RootRules::default(),
    };
    while let Some(flag) = words.next() {
        if link_flag(&mut nav, flag, &mut words, qualify)? {
            continue;
        }
        let mut value = || words.next().ok_or(format!("'{flag}' without a value"));
        match flag {
            "beta" => nav.availability = Availability::BetaOnly,
            "permissions" => nav.permissions = Some(Permissions::named(value()?)),
            "live-unrouted" => {
                for word in value()?.split(',') {
                    let route = LiveRoute::parse(word)
                        .ok_or_else(|| format!("unknown live-unrouted route '{word}'"))?;
                    nav.live.unrouted.push(route);
                }
            }
            "live-string-functions" => {
                nav.live.string_functions = Some(match value()? {
                    "refused" => StringFunctions::Refused,
                    "ignored" => StringFunctions::Ignored,
                    other => {
                        return Err(format!(
                            "live-string-functions '{other}': refused or ignored"
                        ))
                    }
                });
            }
            "live-rule" => nav.live.rules.push(value()?.to_string()),
            "live-answers" => {
                for word in value()?.split(',') {
                    match word {
                        "create-200" => nav.live.create_ok = true,
                        "patch-200" => nav.live.patch_ok = true,
                        other => {
                            return Err(format!("live-answers '{other}': create-200 or patch-200"))
                        }
                    }
                }
            }
            "read-only" => nav.rules.read_only = true,
            "view" => {
                nav.rules.view = Some(root_path(value()?)?);
                nav.rules.read_only = true;
            }
            "where" => {
                if nav.rules.view.is_none() {
                    return Err("'where' belongs after 'view /PATH'".into());
                }
                nav.rules.view_where = Some(value()?.to_string());
            }
            "audit" => nav.rules.audit = Some(value()?.to_string()),
            "one-default" => nav.rules.one_default = Some(value()?.to_string()),
            "unique" => nav.rules.unique.push(value()?.to_string()),
            "stored-in" => nav.root.stored_in = Some(value()?.to_string()),
            "advanced-queries" => nav.root.advanced_queries = true,
            "entra-errors" => nav.root.entra_errors = true,
            other => return Err(format!("unknown navigation flag '{other}'")),
        }
    }
    Ok(nav)
}

/// The flags of a linked navigation: `links SET`, `inverse`, `transitive`,
/// `computed-by PROPERTY over TYPE,…`. False when `flag` is none of them.
fn link_flag<'w>(
    nav: &mut Navigation,
    flag: &str,
    words: &mut impl Iterator<Item = &'w str>,
    qualify: &dyn Fn(&str) -> String,
) -> Result<bool, String> {
    let mut value = |what: &str| words.next().ok_or(format!("'{flag}' without {what}"));
    if flag == "links" {
        nav.links = Some(Links {
            set: value("a link set")?.to_string(),
            inverse: false,
            transitive: false,
            computed: None,
        });
        return Ok(true);
    }
    if !matches!(flag, "inverse" | "transitive" | "computed-by") {
        return Ok(false);
    }
    let Some(links) = nav.links.as_mut() else {
        return Err(format!("'{flag}' comes after 'links SET'"));
    };
    match flag {
        "inverse" => links.inverse = true,
        "transitive" => links.transitive = true,
        _ => {
            let property = value("a property")?.to_string();
            if value("'over'")? != "over" {
                return Err("'computed-by PROPERTY' is followed by 'over TYPE,…'".into());
            }
            let over = value("types")?.split(',').map(qualify).collect();
            links.computed = Some(Computed { property, over });
        }
    }
    Ok(true)
}

/// `Type`, `Type?`, `Collection(Type)` or `Collection(Type)?`. A name that is not primitive is
/// read as a structured type; `resolve_enums` turns enum names into enum references.
fn type_ref(text: &str, qualify: &dyn Fn(&str) -> String) -> Result<TypeRef, String> {
    let ty = text.split_whitespace().next().ok_or("missing type")?;
    let (ty, nullable) = match ty.strip_suffix('?') {
        Some(t) => (t, true),
        None => (ty, false),
    };
    let (inner, collection) = collection_of(ty);
    let value = match primitive(inner) {
        Some(p) => ValueType::Primitive(p),
        None => ValueType::Complex(qualify(inner)),
    };
    Ok(TypeRef {
        value,
        collection,
        nullable,
    })
}

fn property(line: &str, qualify: &dyn Fn(&str) -> String) -> Result<Property, String> {
    let (name, rest) = line
        .split_once(':')
        .ok_or_else(|| format!("cannot read property '{line}'"))?;
    let mut words = rest.split_whitespace().peekable();
    let ty = words.next().ok_or("property without a type")?;
    let mut prop = Property::plain(name.trim(), type_ref(ty, qualify)?);
    while let Some(flag) = words.next() {
        match flag {
            "beta" => prop.availability = Availability::BetaOnly,
            "required" => prop.required = true,
            "index" => {
                prop.indexed = true;
                if words.peek() == Some(&"then") {
                    words.next();
                    let then = words.next().ok_or("index then without a property")?;
                    prop.index_then = Some(then.to_string());
                }
            }
            "v1-default" => prop.v1_default = true,
            "alternate-key" => prop.alternate_key = true,
            "secret" => prop.secret = true,
            "rule-spread" => prop.rule_spread = true,
            "rule" => {
                let word = words.next().ok_or("rule without a grammar")?;
                prop.rule = Some(
                    RuleDialect::parse(word)
                        .ok_or_else(|| format!("unknown rule grammar '{word}'"))?,
                );
            }
            "rule-name" => {
                prop.rule_name = Some(words.next().ok_or("rule-name without a name")?.to_string());
            }
            "server" => {
                prop.server_managed = true;
                prop.stamp = match words.peek() {
                    Some(&"created") => Some(Stamp::Created),
                    Some(&"modified") => Some(Stamp::Modified),
                    Some(&"version") => Some(Stamp::Version),
                    _ => None,
                };
                if prop.stamp.is_some() {
                    words.next();
                }
            }
            "range" => {
                let spec = words.next().ok_or("range without bounds")?;
                let (lo, hi) = spec
                    .split_once("..")
                    .ok_or_else(|| format!("bad range '{spec}'"))?;
                let lo = lo.parse().map_err(|_| format!("bad range '{spec}'"))?;
                let hi = hi.parse().map_err(|_| format!("bad range '{spec}'"))?;
                prop.range = Some((lo, hi));
            }
            "maxItems" => {
                let n = words.next().ok_or("maxItems without a number")?;
                prop.max_items = Some(n.parse().map_err(|_| format!("bad maxItems '{n}'"))?);
            }
            "default" => {
                let json = words.next().ok_or("default without a value")?;
                prop.default = Some(
                    serde_json::from_str(json)
                        .map_err(|_| format!("default '{json}' is not a JSON value"))?,
                );
            }
            "references" => {
                let path = words.next().ok_or("references without a path")?;
                prop.reference = Some(Reference {
                    path: root_path(path)?,
                    when: None,
                    except: Vec::new(),
                    live_message: None,
                    live_checked: false,
                });
            }
            "when" | "except" | "live-message" => {
                let word = words.next().ok_or(format!("{flag} without a value"))?;
                let reference = prop
                    .reference
                    .as_mut()
                    .ok_or(format!("'{flag}' belongs after 'references PATH'"))?;
                if flag == "except" {
                    reference.except.push(word.to_string());
                } else if flag == "live-message" {
                    reference.live_message = Some(word.to_string());
                } else {
                    let (p, v) = word
                        .split_once('=')
                        .ok_or("'when' is written 'when PROPERTY=VALUE'")?;
                    reference.when = Some((p.to_string(), v.to_string()));
                }
            }
            "live-ignored" => {
                if !prop.server_managed {
                    return Err("'live-ignored' belongs after 'server'".into());
                }
                prop.live_ignored = true;
            }
            "live-checked" => {
                prop.reference
                    .as_mut()
                    .ok_or("'live-checked' belongs after 'references PATH'")?
                    .live_checked = true;
            }
            "alias" => prop.alias = Some(words.next().ok_or("alias without a name")?.to_string()),
            "from" => prop.from = Some(words.next().ok_or("from without a name")?.to_string()),
            "follows" => {
                let path = words.next().ok_or("follows without a path")?;
                let property = words.next().ok_or("follows without a property")?;
                prop.follows = Some(Follows {
                    path: root_path(path)?,
                    property: property.to_string(),
                });
            }
            other => return Err(format!("unknown property flag '{other}'")),
        }
    }
    Ok(prop)
}

/// `/a/b` (a path from a root, written with its leading slash) → `a/b`.
fn root_path(word: &str) -> Result<String, String> {
    word.strip_prefix('/')
        .filter(|p| !p.is_empty() && !p.contains('{'))
        .map(str::to_string)
        .ok_or_else(|| format!("'{word}' is not a path from a root ('/root/collection')"))
}

fn primitive(name: &str) -> Option<Primitive> {
    Some(match name {
        "String" => Primitive::String,
        "Boolean" => Primitive::Boolean,
        "Int32" => Primitive::Int32,
        "Int64" => Primitive::Int64,
        "DateTimeOffset" => Primitive::DateTimeOffset,
        "Binary" => Primitive::Binary,
        "Guid" => Primitive::Guid,
        "TimeOfDay" => Primitive::TimeOfDay,
        "Double" => Primitive::Double,
        _ => return None,
    })
}
