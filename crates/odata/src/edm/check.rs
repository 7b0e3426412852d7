//! The model's own consistency, checked once at load: every reference resolves, every annotation
//! fits what it annotates. A model that passes cannot make the generic code meet a surprise.

use super::{
    Binding, Derivation, DerivedSource, Model, Navigation, Primitive, Property, RootKind, Stamp,
    StructuredType, TypeKind, TypeRef, ValueType, Version,
};
use crate::path::{Addressed, ResourcePath};
use crate::validate::Validator;
use std::collections::HashSet;

impl Model {
    pub(super) fn check(&self) -> Result<(), String> {
        for ty in self.types.values() {
            self.check_type(ty)?;
        }
        self.check_roots()?;
        self.check_links()?;
        self.check_operations()?;
        self.check_v1_closure()
    }

    /// What v1.0 shows names only types v1.0 has: no property or operation of v1.0 uses a
    /// beta-only enum or structured type, so v1.0's `$metadata` declares no beta-only type.
    fn check_v1_closure(&self) -> Result<(), String> {
        for ty in self
            .types
            .values()
            .filter(|t| self.exists_in(t, Version::V1))
        {
            for p in ty
                .own_properties
                .iter()
                .filter(|p| p.availability.in_version(Version::V1))
            {
                self.in_v1(&p.ty)
                    .map_err(|e| format!("{}.{}: {e}", ty.name, p.name))?;
            }
        }
        for op in self
            .operations
            .iter()
            .filter(|op| op.availability.in_version(Version::V1))
        {
            let at = |e: String| format!("{} {}: {e}", op.kind.as_str(), op.name);
            for ty in op.parameters.iter().map(|p| &p.ty).chain(&op.returns) {
                self.in_v1(ty).map_err(at)?;
            }
            if let Binding::Entity(t) | Binding::Collection(t) = &op.binding {
                if !self
                    .structured(t)
                    .is_some_and(|b| self.exists_in(b, Version::V1))
                {
                    return Err(at(format!("bound to {t}, which v1.0 lacks; mark it beta")));
                }
            }
        }
        Ok(())
    }

    fn in_v1(&self, ty: &TypeRef) -> Result<(), String> {
        let present = match &ty.value {
            ValueType::Primitive(_) => true,
            ValueType::Enum(e) => self
                .enums
                .get(e)
                .is_some_and(|e| e.availability.in_version(Version::V1)),
            ValueType::Complex(c) => self
                .structured(c)
                .is_some_and(|t| self.exists_in(t, Version::V1)),
        };
        match (&ty.value, present) {
            (_, true) => Ok(()),
            (ValueType::Enum(n) | ValueType::Complex(n), false) => Err(format!(
                "v1.0 shows it but its type {n} is beta-only; mark it beta"
            )),
            (ValueType::Primitive(_), false) => Ok(()),
        }
    }

    fn check_type(&self, ty: &StructuredType) -> Result<(), String> {
        if let Some(base) = &ty.base {
            if !self.types.contains_key(base) {
                return Err(format!("{}: unknown base type {base}", ty.name));
            }
        }
        let mut seen = HashSet::new();
        for p in self.all_properties(ty) {
            if !seen.insert(p.name.as_str()) {
                return Err(format!("{}: property {} declared twice", ty.name, p.name));
            }
        }
        for p in &ty.own_properties {
            self.check_property(p)
                .and_then(|()| self.check_property_behaviour(ty, p))
                .map_err(|e| format!("{}.{}: {e}", ty.name, p.name))?;
        }
        for n in &ty.own_navigations {
            self.check_navigation(ty, n)
                .map_err(|e| format!("{}.{}: {e}", ty.name, n.name))?;
        }
        Ok(())
    }

    fn check_property(&self, p: &Property) -> Result<(), String> {
        match &p.ty.value {
            ValueType::Enum(e) if !self.enums.contains_key(e) => {
                return Err(format!("unknown enum {e}"))
            }
            ValueType::Complex(c) => match self.types.get(c) {
                None => return Err(format!("unknown type {c}")),
                Some(t) if t.kind == TypeKind::Entity => {
                    return Err(format!("{c} is an entity type; use a navigation"))
                }
                Some(_) => {}
            },
            _ => {}
        }
        let scalar = !p.ty.collection;
        match (p.stamp, &p.ty.value) {
            (None, _) => {}
            (
                Some(Stamp::Created | Stamp::Modified),
                ValueType::Primitive(Primitive::DateTimeOffset),
            )
            | (Some(Stamp::Version), ValueType::Primitive(Primitive::Int32 | Primitive::Int64))
                if scalar => {}
            (Some(stamp), _) => return Err(format!("a {stamp:?} stamp does not fit its type")),
        }
        if p.indexed && (!scalar || matches!(p.ty.value, ValueType::Complex(_))) {
            return Err("only a primitive or enum value can be indexed".into());
        }
        Ok(())
    }

    /// `default`, `references`, `alias`: each fits the property it annotates.
    fn check_property_behaviour(&self, owner: &StructuredType, p: &Property) -> Result<(), String> {
        if let Some(then) = &p.index_then {
            let second = self
                .all_properties(owner)
                .into_iter()
                .find(|q| &q.name == then)
                .ok_or_else(|| format!("index then {then}: {} has no such property", owner.name))?;
            if !second.indexed {
                return Err(format!("index then {then}: {then} is not indexed itself"));
            }
        }
        if let Some(value) = &p.default {
            Validator::new(self, Version::Beta)
                .value(p, value, &p.name)
                .map_err(|e| format!("default: {}", e.message))?;
        }
        if let Some(reference) = &p.reference {
            if p.ty.value != ValueType::Primitive(Primitive::String) {
                return Err("only a String (or a collection of them) references members".into());
            }
            self.collection_at(&reference.path)
                .map_err(|e| format!("references: {e}"))?;
            if let Some((when, _)) = &reference.when {
                if self.property(owner, when, Version::Beta).is_none() {
                    return Err(format!(
                        "references … when {when}: no such property beside it"
                    ));
                }
            }
        }
        if let Some(follows) = &p.follows {
            let source = self
                .collection_at(&follows.path)
                .map_err(|e| format!("follows: {e}"))?;
            let followed = self
                .property(source, &follows.property, Version::Beta)
                .ok_or_else(|| format!("follows: {} has no {}", source.name, follows.property))?;
            if followed.ty != p.ty {
                return Err(format!(
                    "follows: {}.{} is not of this property's type",
                    source.name, follows.property
                ));
            }
        }
        if let Some(alias) = &p.alias {
            if self.property(owner, alias, Version::Beta).is_some() {
                return Err(format!("alias {alias}: a property of that name exists"));
            }
        }
        Ok(())
    }

    /// The entity type of the collection at `path` (a path from a root, without keys).
    fn collection_at(&self, path: &str) -> Result<&StructuredType, String> {
        ResourcePath::parse(self, Version::Beta, path)
            .ok()
            .filter(|p| p.addressed() == Addressed::Collection)
            .filter(|p| p.steps.iter().all(|s| s.key.is_none()))
            .and_then(|p| p.steps.last().map(|s| s.target))
            .ok_or_else(|| format!("/{path} is not a collection path"))
    }

    /// Read-only, views, member rules and built-in members fit the collection they annotate.
    fn check_rules(&self, n: &Navigation, target: &StructuredType) -> Result<(), String> {
        let rules = &n.rules;
        let has_rules = rules.view.is_some()
            || rules.one_default.is_some()
            || !rules.unique.is_empty()
            || !rules.builtins.is_empty();
        if has_rules && !n.collection {
            return Err("only a collection takes view, one-default, unique or builtin".into());
        }
        if let Some(view) = &rules.view {
            let viewed = self.collection_at(view).map_err(|e| format!("view: {e}"))?;
            if let Some(owner) = &rules.view_where {
                let string = self
                    .property(viewed, owner, Version::Beta)
                    .is_some_and(|p| {
                        !p.ty.collection && p.ty.value == ValueType::Primitive(Primitive::String)
                    });
                if !string {
                    return Err(format!(
                        "view where {owner}: not a String property of {}",
                        viewed.name
                    ));
                }
            }
        }
        let primitive = |name: &str, boolean: bool| {
            self.property(target, name, Version::Beta).is_some_and(|p| {
                !p.ty.collection
                    && match &p.ty.value {
                        ValueType::Primitive(Primitive::Boolean) => true,
                        ValueType::Primitive(_) => !boolean,
                        _ => false,
                    }
            })
        };
        if let Some(flag) = &rules.one_default {
            if !primitive(flag, true) {
                return Err(format!(
                    "one-default {flag}: not a Boolean of {}",
                    target.name
                ));
            }
        }
        if let Some(p) = rules.unique.iter().find(|p| !primitive(p, false)) {
            return Err(format!("unique {p}: not a primitive of {}", target.name));
        }
        for b in &rules.builtins {
            if let Some(key) = b
                .body
                .keys()
                .find(|k| self.property(target, k, Version::Beta).is_none())
            {
                return Err(format!(
                    "builtin {}: {} has no property {key}",
                    b.id, target.name
                ));
            }
        }
        Ok(())
    }

    fn check_navigation(&self, owner: &StructuredType, n: &Navigation) -> Result<(), String> {
        let target = self
            .types
            .get(&n.target)
            .ok_or_else(|| format!("unknown target {}", n.target))?;
        if target.kind != TypeKind::Entity {
            return Err(format!("{} is not an entity type", n.target));
        }
        self.check_rules(n, target)?;
        if let Some(derived) = &n.derived {
            if n.collection {
                return Err("only a single-valued navigation is derived".into());
            }
            self.check_derivation(owner, target, derived)?;
        }
        Ok(())
    }

    fn check_derivation(
        &self,
        owner: &StructuredType,
        overview: &StructuredType,
        d: &Derivation,
    ) -> Result<(), String> {
        let source = match &d.source {
            DerivedSource::Sibling(name) => self
                .navigation(owner, name, Version::Beta)
                .filter(|n| n.collection)
                .and_then(|n| self.structured(&n.target))
                .ok_or_else(|| format!("derived from {name}: not a collection beside it"))?,
            DerivedSource::Tenant(path) => ResourcePath::parse(self, Version::Beta, path)
                .ok()
                .filter(|p| p.addressed() == Addressed::Collection)
                .and_then(|p| p.steps.last().map(|s| s.target))
                .ok_or_else(|| format!("derived from /{path}: not a collection path"))?,
        };
        let status = self
            .property(source, &d.status_property, Version::Beta)
            .ok_or_else(|| format!("{} has no {}", source.name, d.status_property))?;
        for counter in &d.counters {
            let counted = self.property(overview, &counter.property, Version::Beta);
            if !counted.is_some_and(|p| is_integer(&p.ty)) {
                return Err(format!(
                    "{} counts into no integer property",
                    counter.property
                ));
            }
            if let ValueType::Enum(e) = &status.ty.value {
                if let Some(v) = counter
                    .values
                    .iter()
                    .find(|v| self.enum_member(e, v, Version::Beta).is_none())
                {
                    return Err(format!("{} counts {v}, which {e} lacks", counter.property));
                }
            }
        }
        for (to, from) in &d.copies {
            if self.property(overview, to, Version::Beta).is_none()
                || self.property(owner, from, Version::Beta).is_none()
            {
                return Err(format!("{to} copies {from}: no such property"));
            }
        }
        Ok(())
    }

    fn check_roots(&self) -> Result<(), String> {
        let mut names = HashSet::new();
        for root in &self.roots {
            if !names.insert(root.name.as_str()) {
                return Err(format!("root {} declared twice", root.name));
            }
            let found = match root.kind {
                RootKind::OperationImport => self.imported_operation(root).is_some(),
                _ => self
                    .structured(&root.type_name)
                    .is_some_and(|t| t.kind == TypeKind::Entity),
            };
            if !found {
                return Err(format!(
                    "root {}: unknown type {}",
                    root.name, root.type_name
                ));
            }
            if let Some(ty) = self.structured(&root.type_name) {
                self.check_rules(&root.navigation, ty)
                    .map_err(|e| format!("root {}: {e}", root.name))?;
            }
        }
        Ok(())
    }

    fn check_operations(&self) -> Result<(), String> {
        for op in &self.operations {
            let at = |e: String| format!("{} {}: {e}", op.kind.as_str(), op.name);
            if let Binding::Entity(t) | Binding::Collection(t) = &op.binding {
                let bound = self
                    .structured(t)
                    .filter(|b| b.kind == TypeKind::Entity)
                    .ok_or_else(|| at(format!("bound to unknown entity type {t}")))?;
                if self.navigation(bound, &op.name, Version::Beta).is_some() {
                    return Err(at("a navigation of its type has the same name".into()));
                }
            }
            for ty in op.parameters.iter().map(|p| &p.ty).chain(&op.returns) {
                self.check_type_ref(ty).map_err(at)?;
            }
            let mut names = HashSet::new();
            if let Some(p) = op.parameters.iter().find(|p| !names.insert(&p.name)) {
                return Err(at(format!("parameter {} declared twice", p.name)));
            }
            if op.handler.is_empty() {
                return Err(at("no 'handler NAME'".into()));
            }
        }
        Ok(())
    }

    fn check_type_ref(&self, ty: &TypeRef) -> Result<(), String> {
        match &ty.value {
            ValueType::Enum(e) if !self.enums.contains_key(e) => Err(format!("unknown enum {e}")),
            ValueType::Complex(c) if !self.types.contains_key(c) => {
                Err(format!("unknown type {c}"))
            }
            _ => Ok(()),
        }
    }
}

fn is_integer(ty: &TypeRef) -> bool {
    !ty.collection
        && matches!(
            ty.value,
            ValueType::Primitive(Primitive::Int32 | Primitive::Int64)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small model beside the slice: `extra` after `entity box` with a status collection.
    fn load(extra: &str) -> Result<Model, String> {
        let base = "namespace microsoft.graph
permissions boxes
  read Box.Read.All
  write Box.ReadWrite.All
root boxes -> Collection(box) permissions boxes
entity box
  label: String
  items -> Collection(boxItem)
entity boxItem
  state: complianceStatus
entity boxOverview
  okCount: Int32
";
        Model::load_with(&[("base.edm", base), ("extra.edm", extra)])
    }

    #[test]
    fn a_sound_addition_loads() {
        assert!(load("").is_ok(), "{:?}", load("").err());
    }

    #[test]
    fn model_mistakes_are_refused_at_load_with_where_they_are() {
        let cases = [
            ("root more -> Collection(box)", "no 'permissions SET'"),
            ("root more -> Collection(box) permissions nobody", "unknown permissions nobody"),
            ("entity crate\n  boxes -> Collection(box) live-unrouted put", "live-unrouted route 'put'"),
            ("entity crate\n  tags: Collection(String) index", "can be indexed"),
            ("entity crate\n  a: String index then b", "has no such property"),
            ("entity crate\n  a: String index then b\n  b: String", "not indexed itself"),
            ("entity crate\n  version: String server version", "does not fit"),
            ("entity crate\n  inner -> Collection(box)\n    derived from x by y", "single-valued"),
            (
                "entity crate\n  items -> Collection(boxItem)\n  overview -> boxOverview\n    derived from items by state\n    okCount counts fine",
                "okCount counts fine, which microsoft.graph.complianceStatus lacks",
            ),
            (
                "entity crate\n  overview -> boxOverview\n    okCount counts compliant",
                "'derived from SOURCE by PROPERTY' comes first",
            ),
            ("action open on box", "no 'handler NAME'"),
            ("function items on box\n  handler h", "same name"),
            ("action close\n  handler h", "no 'permissions SET'"),
            ("entity crate\n  b: box", "is an entity type"),
            (
                "enum shade beta\n  dark = 0\nentity crate\n  s: shade",
                "microsoft.graph.crate.s: v1.0 shows it but its type microsoft.graph.shade is beta-only",
            ),
            ("enum shade beta tinted\n  dark = 0", "unknown enum header word 'tinted'"),
            ("entity crate\n  tags: Collection(String) default [1]", "default: Cannot convert"),
            ("entity crate\n  tag: Int32 references /boxes", "only a String"),
            ("entity crate\n  tag: String references /nowhere", "/nowhere is not a collection path"),
            ("entity crate\n  tag: String follows /nowhere tag", "follows: /nowhere is not a collection path"),
            ("entity crate\n  tag: Int32 follows /boxes label", "is not of this property's type"),
            ("entity crate\n  tag: String references /boxes when kind=x", "when kind: no such property"),
            ("entity crate\n  tag: String except 0", "'except' belongs after 'references PATH'"),
            ("entity crate\n  label: String alias label2\n  label2: String", "alias label2: a property of that name exists"),
            ("entity crate\n  items -> Collection(boxItem) one-default state", "one-default state: not a Boolean"),
            ("entity crate\n  items -> Collection(boxItem) unique nope", "unique nope: not a primitive"),
            ("entity crate\n  items -> Collection(boxItem)\n    builtin 0 {\"colour\":1}", "builtin 0: microsoft.graph.boxItem has no property colour"),
            ("entity crate\n  items -> Collection(boxItem)\n    builtin 0 [1]", "builtin 0: the body is not a JSON object"),
            ("entity crate\n  items -> Collection(boxItem) view /elsewhere", "view: /elsewhere is not a collection path"),
            ("entity crate\n  items -> Collection(box) where label", "'where' belongs after 'view /PATH'"),
            ("entity crate\n  items -> Collection(box) view /boxes where colour", "view where colour: not a String property of microsoft.graph.box"),
            ("entity crate\n  boxes -> Collection(box) inverse", "'inverse' comes after 'links SET'"),
            ("entity crate\n  boxes -> Collection(box) links nowhere inverse\nroot crates -> Collection(crate) permissions boxes", "no navigation declares the links 'nowhere'"),
            ("entity crate\n  boxes -> Collection(box) links crated", "no root entity set stores microsoft.graph.crate"),
            (
                "entity crate\n  rule: String\n  boxes -> Collection(box) links inside computed-by rule over box\nroot crates -> Collection(crate) permissions boxes",
                "computed-by rule: not a 'rule membership' property",
            ),
            ("entity crate\n  code: Int32 alternate-key", "take a String"),
            ("entity crate\n  boxes -> Collection(box) stored-in boxes", "stored-in, advanced-queries and entra-errors are root flags"),
            ("root more -> Collection(boxItem) stored-in boxes permissions boxes", "not derived from its type"),
            ("entity crate\n  rule: String rule membership", "no 'computed-by' navigation reads this rule"),
            ("entity crate\n  rule: String rule guesswork", "unknown rule grammar 'guesswork'"),
        ];
        for (text, wanted) in cases {
            let err = load(text).err().unwrap_or_default();
            assert!(err.contains(wanted), "{text:?}: {err:?}");
        }
    }

    #[test]
    fn operations_route_with_their_parameters_and_imports_are_roots() -> Result<(), String> {
        let model = load(
            "permissions items
  read Item.Read.All
  write Item.ReadWrite.All
entity crate
  boxes -> Collection(box) permissions items
function describe on box
  verbose: Boolean
  returns String
  handler h
function ping
  returns String
  handler h
  permissions items
root crates -> Collection(crate) permissions boxes",
        )?;
        let parse = |path: &str| ResourcePath::parse(&model, Version::V1, path);
        let call = parse("boxes/b1/describe(verbose=true)").map_err(|e| e.message)?;
        assert_eq!(call.addressed(), Addressed::Function);
        assert_eq!(
            call.arguments.get("verbose"),
            Some(&serde_json::json!(true))
        );
        assert_eq!(call.permissions().name, "boxes");
        for path in ["ping()", "ping"] {
            let import = parse(path).map_err(|e| e.message)?;
            assert_eq!(import.root.kind, RootKind::OperationImport);
            assert_eq!(import.permissions().name, "items");
        }
        assert!(parse("ping(x=1").is_err() && parse("boxes/b1/describe(").is_err());
        // The deepest navigation that declares permissions wins over the root's.
        let below = parse("crates/c1/boxes/b1/items").map_err(|e| e.message)?;
        assert_eq!(below.permissions().name, "items");
        let csdl = model.csdl(Version::V1);
        assert!(csdl.contains("<FunctionImport Name=\"ping\" Function=\"microsoft.graph.ping\"/>"));
        assert!(csdl.contains("<Function Name=\"describe\" IsBound=\"true\">"));
        let openapi = model.openapi("http://h");
        assert!(openapi["paths"]["/v1.0/ping()"]["get"].is_object());
        assert!(
            openapi["paths"]["/v1.0/boxes/{box-id}/describe(verbose={verbose})"]["get"].is_object()
        );
        Ok(())
    }
}
