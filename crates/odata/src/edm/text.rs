//! Parser for the `.edm` model text (see FORMAT.md beside this file).

use super::{
    Availability, EnumMember, EnumType, Navigation, Primitive, Property, StructuredType, TypeKind,
    TypeRef, ValueType,
};
use std::collections::HashMap;

#[derive(Default)]
pub(super) struct Parsed {
    pub types: HashMap<String, StructuredType>,
    pub enums: HashMap<String, EnumType>,
}

enum Block {
    None,
    Enum(String),
    Structured(String),
}

pub(super) fn parse_into(out: &mut Parsed, source: &str) -> Result<(), String> {
    let mut namespace = String::from("microsoft.graph");
    let mut block = Block::None;
    for (index, raw) in source.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", index + 1);
        if !line.starts_with(char::is_whitespace) {
            block = header(out, &mut namespace, line).map_err(at)?;
            continue;
        }
        let line = line.trim();
        match &block {
            Block::None => return Err(at("member line outside a declaration".into())),
            Block::Enum(name) => {
                let member = enum_member(line).map_err(at)?;
                if let Some(e) = out.enums.get_mut(name) {
                    e.members.push(member);
                }
            }
            Block::Structured(name) => {
                let qualify = |n: &str| qualify(&namespace, n);
                if let Some((prop_name, rest)) = line.split_once("->") {
                    let nav = navigation(prop_name.trim(), rest.trim(), &qualify).map_err(at)?;
                    if let Some(t) = out.types.get_mut(name) {
                        t.own_navigations.push(nav);
                    }
                } else {
                    let prop = property(line, &qualify, &out.enums).map_err(at)?;
                    if let Some(t) = out.types.get_mut(name) {
                        t.own_properties.push(prop);
                    }
                }
            }
        }
    }
    Ok(())
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
        ["enum", name] => {
            let name = qualify(namespace, name);
            out.enums.insert(
                name.clone(),
                EnumType {
                    name: name.clone(),
                    members: Vec::new(),
                },
            );
            Ok(Block::Enum(name))
        }
        [keyword @ ("entity" | "complex"), name, rest @ ..] => {
            let kind = if *keyword == "entity" {
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
        _ => Err(format!("cannot read declaration '{line}'")),
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

fn navigation(
    name: &str,
    rest: &str,
    qualify: &dyn Fn(&str) -> String,
) -> Result<Navigation, String> {
    let mut words = rest.split_whitespace();
    let ty = words.next().ok_or("navigation without a type")?;
    let (target, collection) = match ty
        .strip_prefix("Collection(")
        .and_then(|t| t.strip_suffix(')'))
    {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    let availability = match words.next() {
        None => Availability::Both,
        Some("beta") => Availability::BetaOnly,
        Some(other) => return Err(format!("unknown navigation flag '{other}'")),
    };
    Ok(Navigation {
        name: name.to_string(),
        target: qualify(target),
        collection,
        availability,
    })
}

fn property(
    line: &str,
    qualify: &dyn Fn(&str) -> String,
    enums: &HashMap<String, EnumType>,
) -> Result<Property, String> {
    let (name, rest) = line
        .split_once(':')
        .ok_or_else(|| format!("cannot read property '{line}'"))?;
    let mut words = rest.split_whitespace();
    let ty = words.next().ok_or("property without a type")?;
    let (ty, nullable) = match ty.strip_suffix('?') {
        Some(t) => (t, true),
        None => (ty, false),
    };
    let (inner, collection) = match ty
        .strip_prefix("Collection(")
        .and_then(|t| t.strip_suffix(')'))
    {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    let value = match primitive(inner) {
        Some(p) => ValueType::Primitive(p),
        None if enums.contains_key(&qualify(inner)) => ValueType::Enum(qualify(inner)),
        None => ValueType::Complex(qualify(inner)),
    };
    let mut prop = Property {
        name: name.trim().to_string(),
        ty: TypeRef {
            value,
            collection,
            nullable,
        },
        availability: Availability::Both,
        range: None,
        required: false,
        server_managed: false,
        max_items: None,
    };
    while let Some(flag) = words.next() {
        match flag {
            "beta" => prop.availability = Availability::BetaOnly,
            "required" => prop.required = true,
            "server" => prop.server_managed = true,
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
            other => return Err(format!("unknown property flag '{other}'")),
        }
    }
    Ok(prop)
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
        _ => return None,
    })
}
