//! Links between entities stored elsewhere (`links SET`), the roots that are typed views of one
//! stored collection (`stored-in`), and the rules a property holds: the model's questions about
//! them, and their checks at load.

use super::{
    Model, Navigation, Primitive, Property, Root, RootKind, RootRules, RuleDialect, StructuredType,
    TypeKind, ValueType, Version,
};
use crate::rule::{Kind, RuleProperty, Subject, Vocabulary};

impl Model {
    /// The root entity set that stores `ty`'s entities: one that is not a view (`stored-in`),
    /// whose type is `ty` or one of its bases.
    pub fn storage_of(&self, ty: &StructuredType) -> Option<&Root> {
        self.roots.iter().find(|r| {
            r.kind == RootKind::EntitySet
                && r.navigation.root.stored_in.is_none()
                && self.is_derived_from(ty, &r.type_name)
        })
    }

    /// Every navigation that links, with the type that declares it.
    pub fn link_navigations(&self) -> impl Iterator<Item = (&StructuredType, &Navigation)> {
        self.types.values().flat_map(|t| {
            t.own_navigations
                .iter()
                .filter(|n| n.links.is_some())
                .map(move |n| (t, n))
        })
    }

    /// Where the links of `set` are stored: beside the entities that own them, in the
    /// collection `{storage}/{set}` (parent: the owner's id; id: the member's).
    pub fn link_collection(&self, set: &str) -> Option<String> {
        self.link_navigations().find_map(|(owner, nav)| {
            let links = nav.links.as_ref()?;
            if links.set != set || links.inverse || links.transitive {
                return None;
            }
            let root = self.storage_of(owner)?;
            Some(format!("{}/{set}", root.name))
        })
    }

    /// Every collection of links (each once).
    pub fn link_collections(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .link_navigations()
            .filter_map(|(_, n)| self.link_collection(&n.links.as_ref()?.set))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether a root's members take part in links (as owners or as members).
    pub fn root_is_linked(&self, root: &Root) -> bool {
        let storage = root
            .navigation
            .root
            .stored_in
            .as_deref()
            .unwrap_or(&root.name);
        self.link_navigations().any(|(owner, nav)| {
            let ends = [Some(owner), self.structured(&nav.target)];
            ends.into_iter()
                .flatten()
                .filter_map(|t| self.storage_of(t))
                .any(|r| r.name == storage)
        })
    }

    /// What a rule in `property` (of `owner`) may name.
    pub fn rule_vocabulary(
        &self,
        owner: &StructuredType,
        property: &Property,
    ) -> Option<Vocabulary> {
        match property.rule? {
            RuleDialect::AssignmentFilter => Some(Vocabulary::assignment_filters()),
            RuleDialect::Membership => self.membership_vocabulary(owner, &property.name),
        }
    }

    /// The vocabulary of the membership rule in `property`: the types its `computed-by`
    /// navigation ranges over, each with its properties (by `rule-name` or own name, members of
    /// `rule-spread` ones directly), `objectId` for the key, and `memberOf` for the inverse
    /// navigation of the same links.
    fn membership_vocabulary(&self, owner: &StructuredType, property: &str) -> Option<Vocabulary> {
        let (nav, computed) = self
            .navigations(owner, Version::Beta)
            .into_iter()
            .find_map(|n| {
                let links = n.links.as_ref()?;
                let computed = links.computed.as_ref()?;
                (computed.property == property).then_some((links, computed))
            })?;
        let subjects = computed
            .over
            .iter()
            .filter_map(|name| self.structured(name))
            .map(|ty| {
                let mut properties = vec![RuleProperty::new("objectId", &[], Kind::Text)];
                for p in self.all_properties(ty) {
                    properties.extend(self.rule_properties(p));
                }
                let member_of = self.navigations(ty, Version::Beta).into_iter().find(|n| {
                    n.links
                        .as_ref()
                        .is_some_and(|l| l.set == nav.set && l.inverse && !l.transitive)
                });
                if let Some(n) = member_of {
                    properties.push(RuleProperty::new(&n.name, &[], Kind::MemberOf));
                }
                Subject {
                    name: ty.short_name().to_string(),
                    properties,
                }
            })
            .collect();
        Some(Vocabulary {
            subjects,
            errors_begin: "Dynamic membership rule validation error".into(),
        })
    }

    /// How rules name one property (or, `rule-spread`, each member of it).
    fn rule_properties(&self, p: &Property) -> Vec<RuleProperty> {
        let name = p.rule_name.clone().unwrap_or_else(|| p.name.clone());
        let complex = match &p.ty.value {
            ValueType::Complex(c) => self.structured(c),
            _ => None,
        };
        let kind = match (&p.ty.value, p.ty.collection, complex) {
            (_, false, Some(ty)) if p.rule_spread => {
                return self
                    .all_properties(ty)
                    .into_iter()
                    .filter_map(|q| {
                        let kind = scalar_kind(&q.ty.value)?;
                        let rule_name = q.rule_name.clone().unwrap_or_else(|| q.name.clone());
                        Some(RuleProperty {
                            name: rule_name,
                            path: vec![p.name.clone(), q.name.clone()],
                            kind,
                        })
                    })
                    .collect();
            }
            (_, true, Some(ty)) => Kind::Records(
                self.all_properties(ty)
                    .into_iter()
                    .filter(|q| !q.ty.collection)
                    .filter_map(|q| {
                        Some(RuleProperty {
                            name: q.name.clone(),
                            path: vec![q.name.clone()],
                            kind: scalar_kind(&q.ty.value)?,
                        })
                    })
                    .collect(),
            ),
            (value, true, None) => match scalar_kind(value) {
                Some(Kind::Text) => Kind::TextList,
                _ => return Vec::new(),
            },
            (value, false, None) => match scalar_kind(value) {
                Some(kind) => kind,
                None => return Vec::new(),
            },
            (_, false, Some(_)) => return Vec::new(),
        };
        vec![RuleProperty {
            name,
            path: vec![p.name.clone()],
            kind,
        }]
    }

    pub(super) fn check_links(&self) -> Result<(), String> {
        for (owner, nav) in self.link_navigations() {
            self.check_link(owner, nav)
                .map_err(|e| format!("{}.{}: {e}", owner.name, nav.name))?;
        }
        for ty in self.types.values() {
            if let Some(n) = ty
                .own_navigations
                .iter()
                .find(|n| n.root != RootRules::default())
            {
                return Err(format!(
                    "{}.{}: stored-in, advanced-queries and entra-errors are root flags",
                    ty.name, n.name
                ));
            }
            for p in &ty.own_properties {
                self.check_property_rules(ty, p)
                    .map_err(|e| format!("{}.{}: {e}", ty.name, p.name))?;
            }
        }
        for root in &self.roots {
            if let Some(store) = &root.navigation.root.stored_in {
                self.check_view(root, store)
                    .map_err(|e| format!("root {}: {e}", root.name))?;
            }
        }
        Ok(())
    }

    fn check_link(&self, owner: &StructuredType, nav: &Navigation) -> Result<(), String> {
        let Some(links) = &nav.links else {
            return Ok(());
        };
        if !nav.collection || nav.derived.is_some() {
            return Err("a linked navigation is a plain collection".into());
        }
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '_';
        if links.set.is_empty() || !links.set.chars().all(plain) {
            return Err(format!("link set '{}' is not a plain name", links.set));
        }
        let target = self
            .structured(&nav.target)
            .ok_or_else(|| format!("unknown target {}", nav.target))?;
        for end in [owner, target] {
            if self.storage_of(end).is_none() {
                return Err(format!("no root entity set stores {}", end.name));
            }
        }
        let forward = self.link_navigations().any(|(_, n)| {
            n.links
                .as_ref()
                .is_some_and(|l| l.set == links.set && !l.inverse && !l.transitive)
        });
        if !forward {
            return Err(format!("no navigation declares the links '{}'", links.set));
        }
        if let Some(computed) = &links.computed {
            if links.inverse || links.transitive {
                return Err("only a direct, forward navigation is computed".into());
            }
            let rule = self.property(owner, &computed.property, Version::Beta);
            if !rule.is_some_and(|p| p.rule == Some(RuleDialect::Membership)) {
                return Err(format!(
                    "computed-by {}: not a 'rule membership' property",
                    computed.property
                ));
            }
            if let Some(t) = computed.over.iter().find(|t| {
                self.structured(t).is_none_or(|ty| {
                    ty.kind != TypeKind::Entity || !self.is_derived_from(ty, &nav.target)
                })
            }) {
                return Err(format!(
                    "over {t}: not an entity type of the navigation's target"
                ));
            }
        }
        Ok(())
    }

    fn check_property_rules(&self, ty: &StructuredType, p: &Property) -> Result<(), String> {
        let string = !p.ty.collection && p.ty.value == ValueType::Primitive(Primitive::String);
        if (p.alternate_key || p.secret || p.rule.is_some()) && !string {
            return Err("alternate-key, secret and rule take a String".into());
        }
        if p.alternate_key && ty.kind != TypeKind::Entity {
            return Err("an alternate key belongs to an entity type".into());
        }
        if p.rule == Some(RuleDialect::Membership)
            && self.membership_vocabulary(ty, &p.name).is_none()
        {
            return Err("no 'computed-by' navigation reads this rule".into());
        }
        if p.rule_spread && !matches!(p.ty.value, ValueType::Complex(_)) {
            return Err("rule-spread takes a complex property".into());
        }
        Ok(())
    }

    fn check_view(&self, root: &Root, store: &str) -> Result<(), String> {
        let stored = self
            .roots
            .iter()
            .find(|r| r.name == store && r.kind == RootKind::EntitySet)
            .filter(|r| r.navigation.root.stored_in.is_none())
            .ok_or_else(|| format!("stored-in {store}: not an entity set of its own"))?;
        let ty = self
            .structured(&root.type_name)
            .ok_or_else(|| format!("unknown type {}", root.type_name))?;
        if root.kind != RootKind::EntitySet || !self.is_derived_from(ty, &stored.type_name) {
            return Err(format!(
                "stored-in {store}: {} is not derived from its type",
                ty.name
            ));
        }
        Ok(())
    }
}

fn scalar_kind(value: &ValueType) -> Option<Kind> {
    Some(match value {
        ValueType::Primitive(Primitive::Boolean) => Kind::Bool,
        ValueType::Primitive(Primitive::DateTimeOffset) => Kind::DateTime,
        ValueType::Primitive(Primitive::Binary) | ValueType::Complex(_) => return None,
        _ => Kind::Text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_rules_name_properties_as_entra_does() -> Result<(), String> {
        let model = Model::intune()?;
        let group = model
            .structured("microsoft.graph.group")
            .ok_or("no group")?;
        let rule = model
            .property(group, "membershipRule", Version::Beta)
            .ok_or("no membershipRule")?;
        let vocabulary = model.rule_vocabulary(group, rule).ok_or("no vocabulary")?;
        let device = vocabulary.subject("device").ok_or("no device")?;
        let user = vocabulary.subject("USER").ok_or("no user")?;
        let path =
            |s: &Subject, name: &str| s.property(name).map(|p| (p.path.join("/"), p.kind.clone()));
        assert_eq!(
            path(device, "deviceOSType"),
            Some(("operatingSystem".into(), Kind::Text))
        );
        assert_eq!(
            path(device, "devicePhysicalIds"),
            Some(("physicalIds".into(), Kind::TextList))
        );
        assert_eq!(path(device, "objectId"), Some((String::new(), Kind::Text)));
        assert_eq!(
            path(device, "memberOf").map(|(_, k)| k),
            Some(Kind::MemberOf)
        );
        assert_eq!(
            path(user, "extensionAttribute7"),
            Some((
                "onPremisesExtensionAttributes/extensionAttribute7".into(),
                Kind::Text
            ))
        );
        assert_eq!(
            path(user, "accountEnabled"),
            Some(("accountEnabled".into(), Kind::Bool))
        );
        assert_eq!(
            path(user, "mobile"),
            Some(("mobilePhone".into(), Kind::Text))
        );
        assert!(matches!(
            path(user, "assignedPlans"),
            Some((_, Kind::Records(_)))
        ));
        assert_eq!(
            model.link_collection("members").as_deref(),
            Some("directoryObjects/members")
        );
        let users = model.root("users", Version::V1).ok_or("no users")?;
        let policies = model
            .root("deviceManagement", Version::V1)
            .ok_or("no deviceManagement")?;
        assert!(model.root_is_linked(users) && !model.root_is_linked(policies));
        Ok(())
    }
}
