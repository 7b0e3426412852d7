//! Bound and unbound actions and functions, declared in the model text (`action` and `function`
//! blocks, see FORMAT.md). The service implements each with a handler it names.

use super::{Availability, Permissions, Property, TypeRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    /// Invoked with POST and a JSON body of parameters; may change state.
    Action,
    /// Called with GET, parameters in the URL (`name(p=v)`); reads only.
    Function,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::Function => "function",
        }
    }
}

/// What an operation is invoked on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// One entity of this qualified type (or a derived one), a singleton included.
    Entity(String),
    /// A collection of entities of this type.
    Collection(String),
    /// Nothing: called by its name at the root.
    Unbound,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OperationKind,
    /// As the URL writes it.
    pub name: String,
    /// `namespace.name`, as the CSDL writes it.
    pub qualified_name: String,
    pub binding: Binding,
    pub availability: Availability,
    /// Declared like properties: `required` means present and not null.
    pub parameters: Vec<Property>,
    /// `None`: the operation answers 204.
    pub returns: Option<TypeRef>,
    /// The name of the service's handler that implements it, and the words that follow it.
    pub handler: String,
    pub handler_args: Vec<String>,
    /// What calling it needs; `None`: what its path needs.
    pub permissions: Option<Permissions>,
    /// One line for the OpenAPI summary.
    pub summary: Option<String>,
    /// `live-answer empty`: with `--fidelity intune` it answers 200 without a body.
    pub live_empty_answer: bool,
}

impl Operation {
    pub fn parameter(&self, name: &str) -> Option<&Property> {
        self.parameters.iter().find(|p| p.name == name)
    }
}
