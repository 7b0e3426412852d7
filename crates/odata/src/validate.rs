//! Request bodies checked against the model: the runtime type, every property's type, enum
//! members, documented ranges, required and server-managed properties, and deep-inserted children.
//! The result is normalised JSON ready to store; nothing here fills defaults (projection does).

use crate::edm::{
    Model, Navigation, Operation, Primitive, Property, StructuredType, TypeKind, TypeRef,
    ValueType, Version,
};
use crate::value::{is_base64, is_guid, is_time_of_day, DateTimeOffset};
use crate::ODataError;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// A checked entity body.
#[derive(Debug)]
pub struct Validated<'m> {
    /// The runtime type the body names (or the declared type when it names none).
    pub ty: &'m StructuredType,
    /// The `id` the client sent, if any; the service decides what it means.
    pub id: Option<String>,
    pub properties: Map<String, Value>,
    /// Contained children sent inline (deep insert), per navigation.
    pub children: Vec<(&'m Navigation, Vec<Validated<'m>>)>,
}

/// One checked parameter of an action or function.
#[derive(Debug)]
pub enum Argument<'m> {
    /// A primitive, enum or complex value (or a collection of them), checked as a property is.
    Value(Value),
    /// New entities (a parameter of an entity type, or a collection of one), each checked as a
    /// create.
    Entities(Vec<Validated<'m>>),
}

pub struct Validator<'m> {
    pub model: &'m Model,
    pub version: Version,
    /// The live service's tolerance (`--fidelity intune`): `live-ignored` properties a client
    /// sends are dropped instead of refused.
    pub live: bool,
}

impl<'m> Validator<'m> {
    pub fn new(model: &'m Model, version: Version) -> Self {
        Self {
            model,
            version,
            live: false,
        }
    }

    /// With the live service's tolerance (`--fidelity intune`).
    pub fn live(mut self, live: bool) -> Self {
        self.live = live;
        self
    }

    /// Checks `body` as an entity of `declared` (or, for `Mode::Update`, of exactly that type).
    pub fn entity(
        &self,
        declared: &'m StructuredType,
        body: &Value,
        mode: Mode,
    ) -> Result<Validated<'m>, ODataError> {
        self.entity_at(declared, body, mode, "")
    }

    fn entity_at(
        &self,
        declared: &'m StructuredType,
        body: &Value,
        mode: Mode,
        path: &str,
    ) -> Result<Validated<'m>, ODataError> {
        let object = body.as_object().ok_or_else(|| not_an_object(path))?;
        let ty = match mode {
            Mode::Create => self.runtime_type(declared, object)?,
            Mode::Update => self.update_type(declared, object)?,
        };
        if mode == Mode::Create && ty.is_abstract {
            return Err(ODataError::model(format!(
                "Cannot create an instance of the abstract type '{}'. Name a concrete derived type in '@odata.type'.",
                ty.name
            )));
        }
        let mut out = Validated {
            ty,
            id: None,
            properties: Map::new(),
            children: Vec::new(),
        };
        for (key, value) in object {
            if is_annotation(key) {
                continue;
            }
            if key == "id" {
                out.id = match value {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => return Err(wrong_type(&join(path, key), other, "Edm.String")),
                };
                continue;
            }
            if let Some(prop) = self.declared(ty, key) {
                if prop.server_managed && prop.live_ignored && self.live {
                    continue;
                }
                if prop.server_managed {
                    return Err(ODataError::model(format!(
                        "The property '{}' is read-only and cannot be set by a client.",
                        join(path, key)
                    )));
                }
                let checked = self.property(prop, value, &join(path, key))?;
                set_once(&mut out.properties, prop, checked, &join(path, key))?;
            } else if let Some(nav) = self.model.navigation(ty, key, self.version) {
                if mode == Mode::Update || !nav.collection {
                    return Err(ODataError::model(format!(
                        "The navigation property '{}' cannot be written inline here; address it by its own URL.",
                        join(path, key)
                    )));
                }
                out.children
                    .push((nav, self.children(nav, value, &join(path, key))?));
            } else if ty.open {
                dynamic(&mut out.properties, key, value, &join(path, key))?;
            } else {
                return Err(unknown_property(&join(path, key), ty));
            }
        }
        if mode == Mode::Create {
            for prop in self.model.properties(ty, self.version) {
                if prop.required && out.properties.get(&prop.name).is_none_or(Value::is_null) {
                    return Err(ODataError::model(format!(
                        "The property '{}' is required when creating an entity of type '{}'.",
                        join(path, &prop.name),
                        ty.name
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Members of a contained collection given inline: each a new entity of the navigation's type.
    pub fn children(
        &self,
        nav: &'m Navigation,
        value: &Value,
        path: &str,
    ) -> Result<Vec<Validated<'m>>, ODataError> {
        let target = self
            .model
            .structured(&nav.target)
            .ok_or_else(|| ODataError::model(format!("Unknown type '{}'.", nav.target)))?;
        self.new_entities(target, value, path, nav.item_limit())
    }

    /// At most `max` new entities of `target`, each checked as a create.
    fn new_entities(
        &self,
        target: &'m StructuredType,
        value: &Value,
        path: &str,
        max: usize,
    ) -> Result<Vec<Validated<'m>>, ODataError> {
        let items = value
            .as_array()
            .ok_or_else(|| wrong_type(path, value, "a JSON array"))?;
        check_count(path, items.len(), max)?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.entity_at(target, item, Mode::Create, &format!("{path}[{i}]")))
            .collect()
    }

    /// The parameters of `op` as `given` (an action's JSON body, a function call's literals): no
    /// name it does not declare, every required one present and not null, each of its type.
    /// Annotations (`@…`) are ignored.
    pub fn arguments(
        &self,
        op: &'m Operation,
        given: &Map<String, Value>,
    ) -> Result<Vec<(&'m Property, Argument<'m>)>, ODataError> {
        let kind = op.kind.as_str();
        if let Some(unknown) = given
            .keys()
            .find(|k| op.parameter(k).is_none() && !k.starts_with('@'))
        {
            return Err(ODataError::model(format!(
                "The parameter '{unknown}' is not a parameter of the {kind} '{}'.",
                op.name
            )));
        }
        let mut out = Vec::new();
        for p in &op.parameters {
            match given.get(&p.name) {
                None | Some(Value::Null) if p.required => {
                    return Err(ODataError::bad_request(format!(
                        "The parameter '{}' of the {kind} '{}' is required.",
                        p.name, op.name
                    )))
                }
                None => {}
                Some(value) => out.push((p, self.argument(p, value)?)),
            }
        }
        Ok(out)
    }

    fn argument(&self, p: &'m Property, value: &Value) -> Result<Argument<'m>, ODataError> {
        let entity = match &p.ty.value {
            ValueType::Complex(name) => self
                .model
                .structured(name)
                .filter(|t| t.kind == TypeKind::Entity),
            _ => None,
        };
        match entity {
            Some(_) if value.is_null() => self.property(p, value, &p.name).map(Argument::Value),
            Some(ty) if p.ty.collection => self
                .new_entities(ty, value, &p.name, p.item_limit())
                .map(Argument::Entities),
            Some(ty) => self
                .entity_at(ty, value, Mode::Create, &p.name)
                .map(|e| Argument::Entities(vec![e])),
            None => self.property(p, value, &p.name).map(Argument::Value),
        }
    }

    fn runtime_type(
        &self,
        declared: &'m StructuredType,
        object: &Map<String, Value>,
    ) -> Result<&'m StructuredType, ODataError> {
        let Some(named) = object.get("@odata.type") else {
            return Ok(declared);
        };
        let resolved = self.resolve(named)?;
        if !self.model.is_derived_from(resolved, &declared.name) || resolved.kind != declared.kind {
            return Err(ODataError::model(format!(
                "An entry with type '{}' was found, but it is not assignable to the expected type '{}'. The type specified in the entry must be equal to either the expected type or a derived type.",
                resolved.name, declared.name
            )));
        }
        Ok(resolved)
    }

    /// On update the stored type is fixed; a body may repeat it or name one of its bases.
    fn update_type(
        &self,
        stored: &'m StructuredType,
        object: &Map<String, Value>,
    ) -> Result<&'m StructuredType, ODataError> {
        if let Some(named) = object.get("@odata.type") {
            let resolved = self.resolve(named)?;
            if !self.model.is_derived_from(stored, &resolved.name) {
                return Err(ODataError::model(format!(
                    "An entry with type '{}' was found, but the entity being updated is of type '{}'.",
                    resolved.name, stored.name
                )));
            }
        }
        Ok(stored)
    }

    fn resolve(&self, named: &Value) -> Result<&'m StructuredType, ODataError> {
        let text = match named {
            Value::String(s) if !s.trim().is_empty() && !s.contains(char::is_whitespace) => s,
            other => {
                return Err(ODataError::bad_request(format!(
                    "Invalid OData type specified: {other}"
                )))
            }
        };
        match self.model.resolve_type_name(text) {
            Some(ty) if self.model.exists_in(ty, self.version) => Ok(ty),
            _ => Err(ODataError::model(format!(
                "A type named '{}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.",
                text.trim_start_matches('#')
            ))),
        }
    }

    /// The property `key` names in this version: by its name, or by its `alias`.
    fn declared(&self, ty: &'m StructuredType, key: &str) -> Option<&'m Property> {
        self.model.property(ty, key, self.version).or_else(|| {
            self.model
                .properties(ty, self.version)
                .into_iter()
                .find(|p| p.alias.as_deref() == Some(key))
        })
    }

    /// One value of `prop`, checked as a client's would be (`path` names it in errors).
    pub fn value(&self, prop: &Property, value: &Value, path: &str) -> Result<Value, ODataError> {
        self.property(prop, value, path)
    }

    fn property(&self, prop: &Property, value: &Value, path: &str) -> Result<Value, ODataError> {
        self.typed(prop, &prop.ty, value, path)
    }

    fn typed(
        &self,
        prop: &Property,
        ty: &TypeRef,
        value: &Value,
        path: &str,
    ) -> Result<Value, ODataError> {
        if value.is_null() {
            return if ty.nullable {
                Ok(Value::Null)
            } else {
                Err(ODataError::model(format!(
                    "The property '{path}' cannot be null."
                )))
            };
        }
        if ty.collection {
            let items = value
                .as_array()
                .ok_or_else(|| wrong_type(path, value, "a JSON array"))?;
            check_count(path, items.len(), prop.item_limit())?;
            let element = TypeRef {
                value: ty.value.clone(),
                collection: false,
                nullable: false,
            };
            return items
                .iter()
                .enumerate()
                .map(|(i, item)| self.typed(prop, &element, item, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array);
        }
        match &ty.value {
            ValueType::Primitive(p) => primitive(*p, prop.range, value, path),
            ValueType::Enum(name) => self.enum_value(name, value, path),
            ValueType::Complex(name) => self.complex(name, value, path),
        }
    }

    fn enum_value(&self, enum_name: &str, value: &Value, path: &str) -> Result<Value, ODataError> {
        let text = value
            .as_str()
            .ok_or_else(|| wrong_type(path, value, enum_name))?;
        match self.model.enum_type(enum_name) {
            Some(e) if e.accepts(text, self.version) => Ok(value.clone()),
            _ => Err(ODataError::model(format!(
                "Requested value '{text}' was not found in enum type '{enum_name}' (property '{path}')."
            ))),
        }
    }

    fn complex(&self, declared_name: &str, value: &Value, path: &str) -> Result<Value, ODataError> {
        let declared = self
            .model
            .structured(declared_name)
            .filter(|t| t.kind == TypeKind::Complex)
            .ok_or_else(|| ODataError::model(format!("Unknown complex type '{declared_name}'.")))?;
        let object = value
            .as_object()
            .ok_or_else(|| wrong_type(path, value, declared_name))?;
        let ty = self.runtime_type(declared, object)?;
        if ty.is_abstract {
            return Err(ODataError::model(format!(
                "Cannot create an instance of the abstract type '{}' (property '{path}'). Name a concrete derived type in '@odata.type'.",
                ty.name
            )));
        }
        let mut out = Map::new();
        out.insert("@odata.type".into(), Value::String(format!("#{}", ty.name)));
        for (key, item) in object {
            if is_annotation(key) {
                continue;
            }
            match self.declared(ty, key) {
                Some(prop) => {
                    let checked = self.property(prop, item, &join(path, key))?;
                    set_once(&mut out, prop, checked, &join(path, key))?;
                }
                None if ty.open => dynamic(&mut out, key, item, &join(path, key))?,
                None => return Err(unknown_property(&join(path, key), ty)),
            }
        }
        Ok(Value::Object(out))
    }
}

fn primitive(
    p: Primitive,
    range: Option<(i64, i64)>,
    value: &Value,
    path: &str,
) -> Result<Value, ODataError> {
    let ok = match p {
        Primitive::String => value.is_string(),
        Primitive::Boolean => value.is_boolean(),
        Primitive::Int32 | Primitive::Int64 => {
            let n = value
                .as_i64()
                .ok_or_else(|| wrong_type(path, value, p.edm_name()))?;
            let (lo, hi) = if p == Primitive::Int32 {
                (i32::MIN.into(), i32::MAX.into())
            } else {
                (i64::MIN, i64::MAX)
            };
            if n < lo || n > hi {
                return Err(ODataError::model(format!(
                    "The value {n} of property '{path}' is out of range for {}.",
                    p.edm_name()
                )));
            }
            if let Some((lo, hi)) = range.filter(|(lo, hi)| n < *lo || n > *hi) {
                return Err(ODataError::model(format!(
                    "The value {n} of property '{path}' is out of range: valid values are {lo} to {hi}."
                )));
            }
            true
        }
        Primitive::DateTimeOffset => {
            let text = value
                .as_str()
                .ok_or_else(|| wrong_type(path, value, p.edm_name()))?;
            if DateTimeOffset::parse(text).is_none() {
                return Err(ODataError::model(format!(
                    "The value '{text}' of property '{path}' is not a valid Edm.DateTimeOffset (expected e.g. 2017-01-01T00:00:17.7769392-08:00)."
                )));
            }
            true
        }
        Primitive::Double => {
            value.is_number() || matches!(value.as_str(), Some("NaN" | "INF" | "-INF"))
        }
        Primitive::Guid => value.as_str().is_some_and(is_guid),
        Primitive::Binary => value.as_str().is_some_and(is_base64),
        Primitive::TimeOfDay => value.as_str().is_some_and(is_time_of_day),
    };
    if ok {
        Ok(value.clone())
    } else {
        Err(wrong_type(path, value, p.edm_name()))
    }
}

/// The most properties an open type's value may add to what it declares.
pub const MAX_DYNAMIC_PROPERTIES: usize = 100;
/// The longest name of a dynamic property.
pub const MAX_DYNAMIC_NAME: usize = 128;

/// Stores a declared property's value under its own name; given twice (by its name and its
/// alias) with different values, the body is refused.
fn set_once(
    out: &mut Map<String, Value>,
    prop: &Property,
    value: Value,
    path: &str,
) -> Result<(), ODataError> {
    match out.get(&prop.name) {
        Some(given) if *given != value => Err(ODataError::model(format!(
            "The property '{path}' gives '{}' a second, different value (it is also written as '{}').",
            prop.name,
            prop.alias.as_deref().unwrap_or(&prop.name)
        ))),
        _ => {
            out.insert(prop.name.clone(), value);
            Ok(())
        }
    }
}

/// A property an open type does not declare: a simple identifier, within the limits, any value.
fn dynamic(
    out: &mut Map<String, Value>,
    key: &str,
    value: &Value,
    path: &str,
) -> Result<(), ODataError> {
    let simple = key.len() <= MAX_DYNAMIC_NAME
        && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !simple {
        return Err(ODataError::model(format!(
            "The dynamic property '{path}' needs a simple name: a letter or '_', then letters, digits or '_', at most {MAX_DYNAMIC_NAME} characters."
        )));
    }
    if out.len() >= MAX_DYNAMIC_PROPERTIES && !out.contains_key(key) {
        return Err(ODataError::model(format!(
            "The body holds more than {MAX_DYNAMIC_PROPERTIES} dynamic properties (the limit); '{path}' is one too many."
        )));
    }
    out.insert(key.to_string(), value.clone());
    Ok(())
}

fn is_annotation(key: &str) -> bool {
    key.starts_with('@') || key.contains("@odata.")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn not_an_object(path: &str) -> ODataError {
    if path.is_empty() {
        ODataError::bad_request("The request body must be a JSON object.")
    } else {
        ODataError::model(format!("The value of '{path}' must be a JSON object."))
    }
}

/// A written collection holds at most `max` items.
fn check_count(path: &str, items: usize, max: usize) -> Result<(), ODataError> {
    if items > max {
        return Err(ODataError::model(format!(
            "The property '{path}' holds {items} items; at most {max} are allowed."
        )));
    }
    Ok(())
}

fn wrong_type(path: &str, value: &Value, expected: &str) -> ODataError {
    let mut literal = value.to_string();
    if literal.len() > 80 {
        // At a character boundary: the literal may hold any Unicode.
        let cut = (0..=77)
            .rev()
            .find(|i| literal.is_char_boundary(*i))
            .unwrap_or(0);
        literal.truncate(cut);
        literal.push_str("...");
    }
    ODataError::model(format!(
        "Cannot convert the literal '{literal}' to the expected type '{expected}' of property '{path}'."
    ))
}

fn unknown_property(path: &str, ty: &StructuredType) -> ODataError {
    ODataError::model(format!(
        "The property '{path}' does not exist on type '{}'. Make sure to only use property names that are defined by the type.",
        ty.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_literals_are_cut_at_a_character_boundary() {
        let value = Value::String("é".repeat(60));
        let message = wrong_type("p", &value, "Edm.Int32").message;
        assert!(
            message.contains("...") && message.contains('é'),
            "{message}"
        );
    }

    #[test]
    fn an_abstract_complex_value_is_refused() -> Result<(), String> {
        let model = Model::intune()?;
        let ty = model
            .structured("microsoft.graph.deviceCompliancePolicyAssignment")
            .ok_or("no assignment type")?;
        let body = serde_json::json!({ "target": {} });
        let err = Validator::new(model, Version::V1)
            .entity(ty, &body, Mode::Create)
            .err()
            .map(|e| e.message);
        assert!(err.is_some_and(|m| m.contains("abstract")));
        Ok(())
    }
}
