//! An audit event's stored text, filled into a template cut once from the model's canonical
//! projection of a sample event. The model still decides every member, its order and its
//! defaults; a write only escapes its own values into the template's slots.

use crate::service::json::{into_text, push_json};
use odata::edm::Model;
use serde_json::{json, Map, Value};

/// What varies from one event to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    ActivityType,
    Category,
    ActorKind,
    AppId,
    AppName,
    UserPrincipalName,
    ServicePrincipalName,
    UserId,
    Activity,
    Time,
    Operation,
    CorrelationId,
    ResourceName,
    Modified,
    ResourceType,
    ResourceId,
    PropertyName,
    OldValue,
    NewValue,
}

const SLOTS: [Slot; 19] = [
    Slot::ActivityType,
    Slot::Category,
    Slot::ActorKind,
    Slot::AppId,
    Slot::AppName,
    Slot::UserPrincipalName,
    Slot::ServicePrincipalName,
    Slot::UserId,
    Slot::Activity,
    Slot::Time,
    Slot::Operation,
    Slot::CorrelationId,
    Slot::ResourceName,
    Slot::Modified,
    Slot::ResourceType,
    Slot::ResourceId,
    Slot::PropertyName,
    Slot::OldValue,
    Slot::NewValue,
];

/// A slot's stand-in in the sample: a string no projection changes, written as `"\u0001N"`.
fn marker(slot: Slot) -> Value {
    let index = SLOTS.iter().position(|s| *s == slot).unwrap_or_default();
    Value::String(format!("\u{1}{index}"))
}

const MARKER_OPEN: &str = "\"\\u0001";

#[derive(Debug)]
enum Piece {
    Text(String),
    Slot(Slot),
}

/// Text with slots, in order.
#[derive(Debug)]
pub(super) struct Template(Vec<Piece>);

impl Template {
    /// Cuts `text` (made from a sample without client data) at its markers.
    fn cut(text: &str) -> Self {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find(MARKER_OPEN) {
            let after = &rest[at + MARKER_OPEN.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let slot = after[..digits]
                .parse::<usize>()
                .ok()
                .and_then(|i| SLOTS.get(i));
            match (slot, after.as_bytes().get(digits)) {
                (Some(slot), Some(b'"')) => {
                    pieces.push(Piece::Text(rest[..at].to_string()));
                    pieces.push(Piece::Slot(*slot));
                    rest = &after[digits + 1..];
                }
                _ => {
                    let kept = at + MARKER_OPEN.len();
                    pieces.push(Piece::Text(rest[..kept].to_string()));
                    rest = &rest[kept..];
                }
            }
        }
        pieces.push(Piece::Text(rest.to_string()));
        Self(pieces)
    }

    /// The pieces from `from` on, each slot written by `slot`, until the slot `stop` (when
    /// given); answers where to go on from.
    fn fill(
        &self,
        from: usize,
        stop: Option<Slot>,
        out: &mut Vec<u8>,
        slot: &mut dyn FnMut(Slot, &mut Vec<u8>),
    ) -> usize {
        for (at, piece) in self.0.iter().enumerate().skip(from) {
            match piece {
                Piece::Text(text) => out.extend_from_slice(text.as_bytes()),
                Piece::Slot(s) if Some(*s) == stop => return at + 1,
                Piece::Slot(s) => slot(*s, out),
            }
        }
        self.0.len()
    }
}

/// The two templates an event is written from: the event, and one modified property.
#[derive(Debug)]
pub struct EventShape {
    event: Template,
    property: Template,
}

/// One entry of `modifiedProperties`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Change {
    pub name: String,
    pub old: Option<String>,
    pub new: String,
}

/// Who wrote, as the event's `actor` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Actor {
    /// `ItPro` (a user's token) or `Application` (an app-only one).
    pub kind: &'static str,
    pub app_id: Option<String>,
    pub app_name: Option<String>,
    pub user_principal_name: Option<String>,
    pub service_principal_name: Option<String>,
    pub user_id: Option<String>,
}

/// What one event says, apart from its time.
pub(super) struct EventValues<'a> {
    pub activity_type: &'a str,
    pub category: &'a str,
    pub actor: &'a Actor,
    pub activity: Option<&'a str>,
    pub operation: &'a str,
    pub correlation_id: &'a str,
    pub resource_name: &'a str,
    pub changes: &'a [Change],
    pub resource_type: &'a str,
    pub resource_id: &'a str,
}

impl EventShape {
    /// The templates `stored` (the model's stored text of an event body) makes of sample events.
    pub(super) fn new(stored: &dyn Fn(Map<String, Value>) -> String) -> Self {
        let property = json!({
            "@odata.type": "#microsoft.graph.auditProperty",
            "displayName": marker(Slot::PropertyName),
            "oldValue": marker(Slot::OldValue),
            "newValue": marker(Slot::NewValue),
        });
        let event = stored(sample(marker(Slot::Modified)));
        let with_property = stored(sample(Value::Array(vec![property])));
        Self {
            event: Template::cut(&event),
            property: Template::cut(element_text(&with_property)),
        }
    }

    /// The event's stored text, cut where its time goes.
    pub(super) fn write(&self, values: &EventValues<'_>) -> (String, String) {
        let mut head = Vec::with_capacity(2048);
        let mut fill = |slot: Slot, out: &mut Vec<u8>| self.value(values, slot, out);
        let resume = self.event.fill(0, Some(Slot::Time), &mut head, &mut fill);
        let mut tail = Vec::with_capacity(1024);
        self.event.fill(resume, None, &mut tail, &mut fill);
        (into_text(head), into_text(tail))
    }

    fn value(&self, values: &EventValues<'_>, slot: Slot, out: &mut Vec<u8>) {
        match slot {
            Slot::ActivityType => push_json(out, values.activity_type),
            Slot::Category => push_json(out, values.category),
            Slot::ActorKind => push_json(out, values.actor.kind),
            Slot::AppId => push_json(out, &values.actor.app_id),
            Slot::AppName => push_json(out, &values.actor.app_name),
            Slot::UserPrincipalName => push_json(out, &values.actor.user_principal_name),
            Slot::ServicePrincipalName => push_json(out, &values.actor.service_principal_name),
            Slot::UserId => push_json(out, &values.actor.user_id),
            Slot::Activity => push_json(out, &values.activity),
            Slot::Time => out.extend_from_slice(b"null"),
            Slot::Operation => push_json(out, values.operation),
            Slot::CorrelationId => push_json(out, values.correlation_id),
            Slot::ResourceName => push_json(out, values.resource_name),
            Slot::Modified => {
                out.push(b'[');
                for (i, change) in values.changes.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.property
                        .fill(0, None, out, &mut |slot, out| match slot {
                            Slot::PropertyName => push_json(out, &change.name),
                            Slot::OldValue => push_json(out, &change.old),
                            Slot::NewValue => push_json(out, &change.new),
                            _ => out.extend_from_slice(b"null"),
                        });
                }
                out.push(b']');
            }
            Slot::ResourceType => push_json(out, values.resource_type),
            Slot::ResourceId => push_json(out, values.resource_id),
            Slot::PropertyName | Slot::OldValue | Slot::NewValue => out.extend_from_slice(b"null"),
        }
    }
}

/// An event body with a marker in every slot and `modified` as its resource's changes.
fn sample(modified: Value) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "displayName": marker(Slot::ActivityType),
        "componentName": marker(Slot::Category),
        "actor": {
            "@odata.type": "#microsoft.graph.auditActor",
            "type": marker(Slot::ActorKind),
            "auditActorType": marker(Slot::ActorKind),
            "userPermissions": ["*"],
            "applicationId": marker(Slot::AppId),
            "applicationDisplayName": marker(Slot::AppName),
            "userPrincipalName": marker(Slot::UserPrincipalName),
            "servicePrincipalName": marker(Slot::ServicePrincipalName),
            "ipAddress": null,
            "userId": marker(Slot::UserId),
        },
        "activity": marker(Slot::Activity),
        "activityDateTime": marker(Slot::Time),
        "activityType": marker(Slot::ActivityType),
        "activityOperationType": marker(Slot::Operation),
        "activityResult": "Success",
        "correlationId": marker(Slot::CorrelationId),
        "resources": [{
            "@odata.type": "#microsoft.graph.auditResource",
            "displayName": marker(Slot::ResourceName),
            "modifiedProperties": modified,
            "type": marker(Slot::ResourceType),
            "auditResourceType": marker(Slot::ResourceType),
            "resourceId": marker(Slot::ResourceId),
        }],
        "category": marker(Slot::Category),
    }) else {
        return Map::new();
    };
    map
}

/// The one element of the `modifiedProperties` array in `text` (a sample's, without client
/// data, whose property element holds no array).
fn element_text(text: &str) -> &str {
    const OPEN: &str = "\"modifiedProperties\":[";
    let Some(start) = text.find(OPEN).map(|at| at + OPEN.len()) else {
        return "";
    };
    let end = text[start..].find(']').map_or(text.len(), |at| start + at);
    &text[start..end]
}

/// The stored text of an audit event `model` gives (when the model has no such type, the body
/// as written).
pub(super) fn stored_text(
    model: &'static Model,
    type_name: &str,
) -> impl Fn(Map<String, Value>) -> String {
    let ty = model.structured(type_name);
    move |body| match ty {
        Some(ty) => crate::service::canonical_text(model, ty, &body),
        None => Value::Object(body).to_string(),
    }
}
