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

    pub(super) fn expand(
        &self,
        item: &ExpandItem,
        expanded: &mut usize,
    ) -> Result<Vec<BoundExpand<'m>>, ODataError> {
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
        *expanded += navs.len();
        if *expanded > MAX_EXPANDED_NAVIGATIONS {
            return Err(bad(format!(
                "Invalid $expand: more than {MAX_EXPANDED_NAVIGATIONS} navigations are expanded in all (the limit)."
            )));
        }
        navs.into_iter()
            .map(|navigation| {
                let target = self
                    .model
                    .structured(&navigation.target)
                    .ok_or_else(|| bad(format!("Unknown type '{}'.", navigation.target)))?;
                let query =
                    bind_counting(self.model, self.version, target, &item.options, expanded)?;
                Ok(BoundExpand {
                    navigation,
                    target,
                    query,
                })
            })
            .collect()
    }
}
