//! The model as a CSDL (`$metadata`) document for one version.

use super::{
    Binding, Model, Navigation, Operation, OperationKind, Property, RootKind, StructuredType,
    TypeKind, TypeRef, ValueType, Version,
};
use std::collections::BTreeMap;
use std::fmt::Write;

const GRAPH: &str = "microsoft.graph";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn type_name(ty: &TypeRef) -> String {
    let inner = match &ty.value {
        ValueType::Primitive(p) => p.edm_name().to_string(),
        ValueType::Enum(n) | ValueType::Complex(n) => n.clone(),
    };
    if ty.collection {
        format!("Collection({inner})")
    } else {
        inner
    }
}

fn namespace_of(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(ns, _)| ns)
}

fn short(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

impl Model {
    /// The CSDL XML of everything `version` has.
    pub fn csdl(&self, version: Version) -> String {
        let mut by_namespace: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        self.enums_xml(version, &mut by_namespace);
        by_namespace.entry(GRAPH).or_default().push(
            "    <EntityType Name=\"entity\" Abstract=\"true\">\n      <Key><PropertyRef Name=\"id\"/></Key>\n      <Property Name=\"id\" Type=\"Edm.String\" Nullable=\"false\"/>\n    </EntityType>\n".into(),
        );
        let mut types: Vec<_> = self
            .types
            .values()
            .filter(|t| self.exists_in(t, version))
            .collect();
        types.sort_by(|a, b| a.name.cmp(&b.name));
        for ty in types {
            by_namespace
                .entry(namespace_of(&ty.name))
                .or_default()
                .push(self.structured_xml(ty, version));
        }
        for op in self
            .operations
            .iter()
            .filter(|op| op.availability.in_version(version))
        {
            by_namespace
                .entry(namespace_of(&op.qualified_name))
                .or_default()
                .push(operation_xml(op));
        }
        let container = self.container_xml(version);
        by_namespace.entry(GRAPH).or_default().push(container);

        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n  <edmx:DataServices>\n",
        );
        for (namespace, elements) in by_namespace {
            let _ = writeln!(out, "  <Schema Namespace=\"{namespace}\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">");
            for element in elements {
                out.push_str(&element);
            }
            out.push_str("  </Schema>\n");
        }
        out.push_str("  </edmx:DataServices>\n</edmx:Edmx>\n");
        out
    }

    /// Each enum type with the members `version` has, into its namespace.
    fn enums_xml<'a>(
        &'a self,
        version: Version,
        by_namespace: &mut BTreeMap<&'a str, Vec<String>>,
    ) {
        let mut enums: Vec<_> = self
            .enums
            .values()
            .filter(|e| e.availability.in_version(version))
            .collect();
        enums.sort_by(|a, b| a.name.cmp(&b.name));
        for e in enums {
            let members: Vec<_> = e
                .members
                .iter()
                .filter(|m| m.availability.in_version(version))
                .collect();
            if members.is_empty() {
                continue;
            }
            let is_flags = if e.flags { " IsFlags=\"true\"" } else { "" };
            let mut xml = format!("    <EnumType Name=\"{}\"{is_flags}>\n", short(&e.name));
            for m in members {
                let _ = writeln!(
                    xml,
                    "      <Member Name=\"{}\" Value=\"{}\"/>",
                    escape(&m.name),
                    m.value
                );
            }
            xml.push_str("    </EnumType>\n");
            by_namespace
                .entry(namespace_of(&e.name))
                .or_default()
                .push(xml);
        }
    }

    /// The entity container: the singletons, entity sets and operation imports `version` has.
    fn container_xml(&self, version: Version) -> String {
        let mut container = String::from("    <EntityContainer Name=\"GraphService\">\n");
        for root in self
            .roots
            .iter()
            .filter(|r| r.availability.in_version(version))
        {
            let (element, attribute) = match root.kind {
                RootKind::Singleton => ("Singleton", "Type"),
                RootKind::EntitySet => ("EntitySet", "EntityType"),
                RootKind::OperationImport => {
                    match self.imported_operation(root).map(|op| op.kind) {
                        Some(OperationKind::Function) => ("FunctionImport", "Function"),
                        _ => ("ActionImport", "Action"),
                    }
                }
            };
            let _ = writeln!(
                container,
                "      <{element} Name=\"{}\" {attribute}=\"{}\"/>",
                root.name, root.type_name
            );
        }
        container.push_str("    </EntityContainer>\n");
        container
    }

    fn structured_xml(&self, ty: &StructuredType, version: Version) -> String {
        let element = match ty.kind {
            TypeKind::Entity => "EntityType",
            TypeKind::Complex => "ComplexType",
        };
        let base = match (&ty.base, ty.kind) {
            (Some(b), _) => format!(" BaseType=\"{b}\""),
            (None, TypeKind::Entity) => format!(" BaseType=\"{GRAPH}.entity\""),
            (None, TypeKind::Complex) => String::new(),
        };
        let abstract_ = if ty.is_abstract {
            " Abstract=\"true\""
        } else {
            ""
        };
        let open = if ty.open { " OpenType=\"true\"" } else { "" };
        let mut xml = format!(
            "    <{element} Name=\"{}\"{base}{abstract_}{open}>\n",
            ty.short_name()
        );
        for p in ty
            .own_properties
            .iter()
            .filter(|p| p.availability.in_version(version))
        {
            xml.push_str(&property_xml(p));
        }
        for n in ty
            .own_navigations
            .iter()
            .filter(|n| n.availability.in_version(version))
        {
            if self
                .structured(&n.target)
                .is_some_and(|t| self.exists_in(t, version))
            {
                xml.push_str(&navigation_xml(n));
            }
        }
        let _ = writeln!(xml, "    </{element}>");
        xml
    }
}

fn property_xml(p: &Property) -> String {
    format!(
        "      <Property Name=\"{}\" Type=\"{}\"{}/>\n",
        p.name,
        type_name(&p.ty),
        not_null(&p.ty)
    )
}

/// `<Action>` or `<Function>`: its binding parameter, its parameters and its return type.
fn operation_xml(op: &Operation) -> String {
    let element = match op.kind {
        OperationKind::Action => "Action",
        OperationKind::Function => "Function",
    };
    let binding = match &op.binding {
        Binding::Entity(t) => Some(t.clone()),
        Binding::Collection(t) => Some(format!("Collection({t})")),
        Binding::Unbound => None,
    };
    let bound = if binding.is_some() {
        " IsBound=\"true\""
    } else {
        ""
    };
    let mut xml = format!("    <{element} Name=\"{}\"{bound}>\n", op.name);
    if let Some(ty) = binding {
        let _ = writeln!(
            xml,
            "      <Parameter Name=\"bindingParameter\" Type=\"{ty}\" Nullable=\"false\"/>"
        );
    }
    for p in &op.parameters {
        let _ = writeln!(
            xml,
            "      <Parameter Name=\"{}\" Type=\"{}\"{}/>",
            p.name,
            type_name(&p.ty),
            not_null(&p.ty)
        );
    }
    if let Some(ty) = &op.returns {
        let _ = writeln!(
            xml,
            "      <ReturnType Type=\"{}\"{}/>",
            type_name(ty),
            not_null(ty)
        );
    }
    let _ = writeln!(xml, "    </{element}>");
    xml
}

fn not_null(ty: &TypeRef) -> &'static str {
    if ty.nullable {
        ""
    } else {
        " Nullable=\"false\""
    }
}

fn navigation_xml(n: &Navigation) -> String {
    let ty = if n.collection {
        format!("Collection({})", n.target)
    } else {
        n.target.clone()
    };
    // A linked navigation's members live in an entity set of their own: not contained.
    let contains = if n.links.is_some() {
        ""
    } else {
        " ContainsTarget=\"true\""
    };
    format!(
        "      <NavigationProperty Name=\"{}\" Type=\"{ty}\"{contains}/>\n",
        n.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_version_lists_only_its_own_members() -> Result<(), String> {
        let model = Model::intune()?;
        let v1 = model.csdl(Version::V1);
        let beta = model.csdl(Version::Beta);
        assert!(v1.contains("<EntityType Name=\"deviceCompliancePolicy\" BaseType=\"microsoft.graph.entity\" Abstract=\"true\">"));
        assert!(
            !v1.contains("androidDeviceOwnerCompliancePolicy")
                && beta.contains("androidDeviceOwnerCompliancePolicy")
        );
        let policy_block = |csdl: &str| {
            let start = csdl
                .find("<EntityType Name=\"deviceCompliancePolicy\"")
                .unwrap_or(0);
            let end = csdl[start..].find("</EntityType>").unwrap_or(0) + start;
            csdl[start..end].to_string()
        };
        assert!(
            !policy_block(&v1).contains("roleScopeTagIds")
                && policy_block(&beta).contains("roleScopeTagIds")
        );
        assert!(
            !v1.contains("remoteLock")
                && beta.contains("<Member Name=\"remoteLock\" Value=\"10\"/>")
        );
        // Enums that only beta properties use are beta-only types (issue 17: eight leaked).
        for beta_enum in [
            "androidDeviceOwnerRequiredPasswordType",
            "androidRequiredPasswordComplexity",
            "androidSafetyNetEvaluationType",
            "deviceAndAppManagementAssignmentFilterType",
            "deviceAndAppManagementAssignmentSource",
            "deviceType",
            "macOSGatekeeperAppSources",
            "scheduledRetireState",
        ] {
            let declared = format!("<EnumType Name=\"{beta_enum}\"");
            assert!(
                !v1.contains(&declared) && beta.contains(&declared),
                "{beta_enum}"
            );
        }
        assert!(v1.contains("<Action Name=\"assign\" IsBound=\"true\">"));
        assert!(
            !v1.contains("managedDeviceCompliances")
                && beta.contains("<EntitySet Name=\"managedDeviceCompliances\"")
        );
        Ok(())
    }
}
