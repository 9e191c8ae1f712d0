//! spec → [`Plan`]: resolve `uses`, infer dependencies, check every
//! reference and template, build the DAG. No I/O: files are read by the
//! caller (the project).

mod build;
mod dag;
mod ids;
mod inputs;
mod kind;
mod library;
mod retry;
mod step;
mod uses;

use indexmap::IndexMap;

use crate::diagnostic::Diagnostic;
use crate::plan::Plan;
use crate::spec;

pub use inputs::is_identifier;
pub use library::{Library, LibraryEntry, RunbookEntry, check_template};

/// A file's text and the name it is shown under.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// The path as shown in diagnostics.
    pub path: &'a str,
    /// The file's text.
    pub text: &'a str,
    /// The name a runbook gets when it has no `name:` (its file stem).
    pub stem: &'a str,
}

/// Compiles a runbook. Every problem of the file is returned at once.
/// Typed fields that read `inputs` get the inputs' defaults.
pub fn compile(source: Source, library: &Library) -> Result<Plan, Vec<Diagnostic>> {
    compile_with(source, library, None)
}

/// Compiles a runbook for a run with these input values (already checked):
/// typed fields that read `inputs` (`timeout: "{{ inputs.limit }}"`) get
/// them, the other inputs their defaults.
pub fn compile_with(
    source: Source,
    library: &Library,
    values: Option<&IndexMap<String, serde_json::Value>>,
) -> Result<Plan, Vec<Diagnostic>> {
    let (spec, mut diagnostics) = spec::parse_runbook(source.text);
    let Some(spec) = spec else {
        return Err(diagnostics);
    };
    let plan = build::build(&spec, source, library, values, &mut diagnostics);
    match plan {
        Some(plan) if diagnostics.is_empty() => Ok(plan),
        _ => {
            if diagnostics.is_empty() {
                diagnostics.push(Diagnostic::whole_file("the runbook could not be compiled"));
            }
            diagnostics.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
            diagnostics.dedup();
            Err(diagnostics)
        }
    }
}

/// `[a-z0-9_-]+`
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
