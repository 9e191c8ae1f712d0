//! The project's step templates (`steps/*.yaml`), each checked on its own.

use std::collections::HashSet;

use indexmap::IndexMap;

use super::scope::{Checker, Scope};
use super::{Source, is_identifier, step, values};
use crate::diagnostic::Diagnostic;
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

/// The project's step templates by name.
#[derive(Debug, Clone, Default)]
pub struct Library {
    entries: IndexMap<String, LibraryEntry>,
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
    // Typed fields are checked with each parameter's default, or a
    // placeholder when it has none, so that their templates resolve.
    let mut params = values::Params::new();
    for (name, p) in &spec.params {
        params.insert(
            name.value.clone(),
            p.default.clone().unwrap_or(serde_json::Value::Null),
        );
    }
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
