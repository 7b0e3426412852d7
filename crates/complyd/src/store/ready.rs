//! A new row's body readied before its write: the text, and what a store derives from it for one
//! collection (the members its slot columns read). The request's own thread makes them
//! (`Store::ready`), so that the single writer thread only stores them (`WriteTx::insert_ready`).
//! Packing stays with the writer: packed on the request's thread, W5 measured 0.93-0.95 of before
//! (bench/RESULTS.md, stop 61).

/// A body's text, with the forms one store derived from it for one collection.
#[derive(Debug, Clone, Default)]
pub struct ReadyBody {
    text: String,
    derived: Option<Derived>,
}

/// What a store derives from a body, made ahead for `collection`'s layout.
#[derive(Debug, Clone)]
pub struct Derived {
    pub collection: String,
    /// What the slot columns are computed from, when less than the whole text (`slots::source`).
    pub slot_source: Option<String>,
}

impl ReadyBody {
    /// The text alone: the writer derives what its store keeps.
    pub fn plain(text: String) -> Self {
        Self {
            text,
            derived: None,
        }
    }

    pub fn derived(text: String, derived: Derived) -> Self {
        Self {
            text,
            derived: Some(derived),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_text(self) -> String {
        self.text
    }

    /// What was derived for `collection`; none when nothing was, or for another collection.
    pub fn derived_for(&self, collection: &str) -> Option<&Derived> {
        self.derived.as_ref().filter(|d| d.collection == collection)
    }
}
