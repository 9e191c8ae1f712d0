//! Step ids: valid, present, and unique across every list of a runbook
//! (`steps`, `on_failure`, `finally`, and the `undo` steps of each).

use std::collections::{HashMap, HashSet};

use crate::diagnostic::Diagnostic;
use crate::plan::Section;
use crate::spec::StepSpec;
use crate::syntax::{Lenient, Spanned};

use super::valid_id;

/// A runbook's lists of steps, each with its YAML key and section.
pub type Lists<'s> = [(&'static str, Section, &'s Vec<Lenient<StepSpec>>); 3];

/// The ids found in every list.
pub struct Ids<'s> {
    /// Per list, per step: its id (`None` for a step that could not be read
    /// or has none).
    pub per_list: Vec<Vec<Option<&'s Spanned<String>>>>,
    /// Which list each id is in.
    pub where_is: HashMap<String, &'static str>,
    /// The ids of the main steps.
    pub main: HashSet<String>,
}

/// Checks every id of every list; problems go to `diagnostics`.
pub fn check<'s>(lists: &Lists<'s>, diagnostics: &mut Vec<Diagnostic>) -> Ids<'s> {
    let mut where_is: HashMap<String, &'static str> = HashMap::new();
    let mut check_id = |id: &Spanned<String>,
                        list: &'static str,
                        diagnostics: &mut Vec<Diagnostic>| {
        if !valid_id(id) {
            diagnostics.push(
                Diagnostic::new(id.span, format!("invalid step id `{}`", id.value))
                    .hint("step ids are lower-case letters, digits, `_` and `-`, e.g. `run_tests`"),
            );
        }
        if where_is.contains_key(&id.value) {
            diagnostics.push(
                Diagnostic::new(id.span, format!("duplicate step id `{}`", id.value))
                    .hint("step ids are unique across `steps`, `on_failure`, `finally` and `undo`"),
            );
        } else {
            where_is.insert(id.value.clone(), list);
        }
    };
    let mut per_list = Vec::new();
    for (list, _, steps) in lists {
        let mut list_ids = Vec::new();
        for s in steps.iter() {
            let Some(step) = s.get() else {
                list_ids.push(None);
                continue;
            };
            match &step.id {
                Some(id) => check_id(id, list, diagnostics),
                None => {
                    let span = super::kind::present(step).first().map(|(_, span)| *span);
                    diagnostics.push(
                        Diagnostic::new(span.unwrap_or_default(), "step has no `id`")
                            .hint("every step needs a unique `id`, e.g. `id: build`"),
                    );
                }
            }
            if let Some(uid) = step.undo.as_ref().and_then(|undo| undo.id.as_ref()) {
                check_id(uid, list, diagnostics);
            }
            list_ids.push(step.id.as_ref());
        }
        per_list.push(list_ids);
    }
    let main = per_list[0]
        .iter()
        .flatten()
        .map(|i| i.value.clone())
        .collect();
    Ids {
        per_list,
        where_is,
        main,
    }
}
