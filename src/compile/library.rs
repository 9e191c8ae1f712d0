//! The project's step templates (`steps/*.yaml`), each checked on its own.

use std::collections::HashSet;

use indexmap::IndexMap;

use super::{Source, is_identifier, step};
use crate::diagnostic::Diagnostic;
use crate::kind::compile::values;
use crate::kind::compile::{Checker, Scope};
use crate::plan::Section;
use crate::spec::{self, StepTemplateSpec};

/// A step template of the project, valid or not.
#[derive(Debug, Clone)]
pub enum LibraryEntry {
    /// Parsed and checked.
    Valid {
        /// The template.
        spec: Box<StepTemplateSpec>,
        /// Its source text, for positions.
        source: String,
    },
    /// Has errors; holds its path.
    Broken(String),
}

/// What a `runbook` step needs to know of another runbook of the project.
#[derive(Debug, Clone, Default)]
pub struct RunbookEntry {
    /// Its inputs, and whether each must be given.
    pub inputs: IndexMap<String, bool>,
    /// The runbooks its own `runbook` steps start.
    pub calls: Vec<String>,
}

impl RunbookEntry {
    /// The entry of a parsed runbook.
    pub fn of(spec: &spec::RunbookSpec) -> Self {
        let inputs = spec
            .inputs
            .iter()
            .map(|(name, decl)| {
                let required = decl
                    .get()
                    .is_some_and(|d| d.required.unwrap_or(d.default.is_none()));
                (name.value.clone(), required)
            })
            .collect();
        let mut calls = Vec::new();
        let mut visit = |step: &spec::StepSpec| {
            let undo = step.undo.as_deref();
            for s in std::iter::once(step).chain(undo) {
                if let Some(name) = &s.runbook {
                    calls.push(name.value.clone());
                }
            }
        };
        for step in spec
            .steps
            .iter()
            .chain(&spec.on_failure)
            .chain(&spec.finally)
        {
            if let Some(step) = step.get() {
                visit(step);
            }
        }
        RunbookEntry { inputs, calls }
    }
}

/// The project's step templates by name, and what `runbook` steps need to
/// know of its runbooks.
#[derive(Debug, Clone, Default)]
pub struct Library {
    entries: IndexMap<String, LibraryEntry>,
    runbooks: IndexMap<String, RunbookEntry>,
}

impl Library {
    /// Adds a template read from `source`; returns its diagnostics.
    pub fn add(&mut self, name: &str, source: Source) -> Vec<Diagnostic> {
        let diagnostics = check_template(source);
        let entry = match spec::parse_template(source.text).0 {
            Some(spec) if diagnostics.is_empty() => LibraryEntry::Valid {
                spec: Box::new(spec),
                source: source.text.to_owned(),
            },
            _ => LibraryEntry::Broken(source.path.to_owned()),
        };
        self.entries.insert(name.to_owned(), entry);
        diagnostics
    }

    /// A template by name.
    pub fn get(&self, name: &str) -> Option<&LibraryEntry> {
        self.entries.get(name)
    }

    /// The names of all templates.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Adds a runbook of the project under its name.
    pub fn add_runbook(&mut self, name: &str, entry: RunbookEntry) {
        self.runbooks.insert(name.to_owned(), entry);
    }

    /// A runbook of the project by name.
    pub fn runbook(&self, name: &str) -> Option<&RunbookEntry> {
        self.runbooks.get(name)
    }

    /// The names of the project's runbooks.
    pub fn runbook_names(&self) -> impl Iterator<Item = &str> {
        self.runbooks.keys().map(String::as_str)
    }

    /// The chain of runbooks from `from` back to `to` through `runbook`
    /// steps (`[from, …, to]`), if there is one.
    pub fn call_chain(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut seen = std::collections::HashSet::new();
        let mut path = vec![from.to_owned()];
        self.chain_from(from, to, &mut seen, &mut path)
            .then_some(path)
    }

    fn chain_from(
        &self,
        at: &str,
        to: &str,
        seen: &mut std::collections::HashSet<String>,
        path: &mut Vec<String>,
    ) -> bool {
        if at == to {
            return true;
        }
        if !seen.insert(at.to_owned()) {
            return false;
        }
        for next in self
            .runbooks
            .get(at)
            .map(|e| e.calls.as_slice())
            .unwrap_or(&[])
        {
            path.push(next.clone());
            if self.chain_from(next, to, seen, path) {
                return true;
            }
            path.pop();
        }
        false
    }
}

/// Checks a step-template file on its own.
pub fn check_template(source: Source) -> Vec<Diagnostic> {
    let (spec, mut diagnostics) = spec::parse_template(source.text);
    let Some(spec) = spec else { return diagnostics };
    let checker = Checker::new(source.text);
    let names: HashSet<String> = spec.params.keys().map(|k| k.value.clone()).collect();
    for name in spec.params.keys() {
        if !is_identifier(name) {
            diagnostics.push(Diagnostic::new(
                name.span,
                format!("invalid parameter name `{}`", name.value),
            ));
        }
    }
    if spec.step.uses.is_some() {
        if let Some(uses) = &spec.step.uses {
            diagnostics.push(Diagnostic::new(
                uses.span,
                "a step template can't use another template",
            ));
        }
        return diagnostics;
    }
    if let Some(runbook) = &spec.step.runbook {
        diagnostics.push(
            Diagnostic::new(runbook.span, "a step template can't start a runbook")
                .hint("write the `runbook` step in the runbook itself"),
        );
        return diagnostics;
    }
    // Typed fields are checked with each parameter's default, or a
    // placeholder when it has none, so that their templates resolve.
    let mut defaults = IndexMap::new();
    for (name, p) in &spec.params {
        defaults.insert(
            name.value.clone(),
            p.default.clone().unwrap_or(serde_json::Value::Null),
        );
    }
    let params = values::with_params(&defaults);
    let library = Library::default();
    let env = step::StepEnv {
        checker: &checker,
        scope: Scope {
            params: Some(&names),
            run: true,
            item: spec.step.for_each.is_some(),
            ..Scope::default()
        },
        default_retry: None,
        default_timeout: None,
        library: &library,
        params: Some(&params),
        runbook: "",
    };
    let mut typed = Vec::new();
    let _ = step::compile_step("template", &spec.step, Section::Main, &env, &mut typed);
    // A typed field over a parameter without default can't be checked here.
    diagnostics.extend(
        typed
            .into_iter()
            .filter(|d| !d.message.starts_with("can't resolve")),
    );
    diagnostics
}

impl crate::kind::compile::Runbooks for Library {
    fn names(&self) -> Vec<&str> {
        self.runbook_names().collect()
    }

    fn inputs_of(&self, name: &str) -> Option<&IndexMap<String, bool>> {
        self.runbook(name).map(|entry| &entry.inputs)
    }

    fn call_chain(&self, from: &str, to: &str) -> Option<Vec<String>> {
        Library::call_chain(self, from, to)
    }
}
