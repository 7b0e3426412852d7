//! `$select` and `$expand` against the model.

use super::{bad, bind_counting, Binder, BoundExpand};
use crate::edm::Navigation;
use crate::query::limits::MAX_EXPANDED_NAVIGATIONS;
use crate::query::ExpandItem;
use crate::ODataError;

impl<'m> Binder<'m> {
    pub(super) fn select(&self, items: &[String]) -> Result<Vec<String>, ODataError> {
        items
            .iter()
            .map(|item| {
                let name = item.rsplit('/').next().unwrap_or(item);
                let known = name == "id"
                    || self.find_property(self.root, name).is_some()
                    || self
                        .model
                        .navigation(self.root, name, self.version)
                        .is_some();
                if known {
                    Ok(name.to_string())
                } else {
                    Err(bad(format!(
                        "Invalid $select: could not find a property named '{item}' on type '{}'.",
                        self.root.name
                    )))
                }
            })
            .collect()
    }

    /// Adds what `item` expands to `out`. A plain item (no options) does not expand again what
    /// this level already expands: `a,a` and `*,a` are `a` once. Items with options all count.
    pub(super) fn expand(
        &self,
        item: &ExpandItem,
        expanded: &mut usize,
        out: &mut Vec<BoundExpand<'m>>,
    ) -> Result<(), ODataError> {
        let navs: Vec<&'m Navigation> = if item.path == "*" {
            self.model.navigations(self.root, self.version)
        } else {
            let nav = self
                .model
                .navigation(self.root, &item.path, self.version)
                .ok_or_else(|| {
                    bad(format!(
                        "Invalid $expand: '{}' is not a navigation property of '{}'.",
                        item.path, self.root.name
                    ))
                })?;
            vec![nav]
        };
        let mut navs = navs;
        if item.options == crate::query::QueryOptions::default() {
            navs.retain(|nav| !out.iter().any(|e| std::ptr::eq(e.navigation, *nav)));
        }
        *expanded += navs.len();
        if *expanded > MAX_EXPANDED_NAVIGATIONS {
            return Err(bad(format!(
                "Invalid $expand: more than {MAX_EXPANDED_NAVIGATIONS} navigations are expanded in all (the limit)."
            )));
        }
        for navigation in navs {
            let target = self
                .model
                .structured(&navigation.target)
                .ok_or_else(|| bad(format!("Unknown type '{}'.", navigation.target)))?;
            let query = bind_counting(self.model, self.version, target, &item.options, expanded)?;
            out.push(BoundExpand {
                navigation,
                target,
                query,
            });
        }
        Ok(())
    }
}
