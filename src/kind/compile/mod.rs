//! What a step kind may use to compile its part of a step: the template
//! checker and the names a template may read ([`scope`]), typed fields
//! ([`values`]), values whose strings are templates ([`value`]), and the
//! [`CompileCx`] every kind's `compile` receives.

mod scope;
pub mod value;
pub mod values;

pub use scope::{Checker, Scope, StepRef};

use indexmap::IndexMap;

use crate::diagnostic::Diagnostic;
use crate::syntax::Spanned;
use values::Params;

/// The runbooks of the project, as a `runbook` step needs to know them.
pub trait Runbooks {
    /// Every runbook's name.
    fn names(&self) -> Vec<&str>;
    /// A runbook's inputs, each with whether it is required; `None` when
    /// there is no such runbook.
    fn inputs_of(&self, name: &str) -> Option<&IndexMap<String, bool>>;
    /// The chain of runbooks by which `from` starts `to` again, if any.
    fn call_chain(&self, from: &str, to: &str) -> Option<Vec<String>>;
}

/// Everything a kind's `compile` works with.
pub struct CompileCx<'a, 'd> {
    /// Checks templates and expressions of the file the step is written in.
    pub checker: &'a Checker<'a>,
    /// Names the step's templates may read.
    pub scope: &'a Scope<'a>,
    /// Literal parameters, when compiling a step template's step.
    pub params: Option<&'a Params>,
    /// Where problems go.
    pub diagnostics: &'d mut Vec<Diagnostic>,
    /// Reads of other steps found so far (they become dependencies).
    pub refs: &'d mut Vec<StepRef>,
    /// The project's runbooks.
    pub runbooks: &'a dyn Runbooks,
    /// The name of the runbook being compiled (empty in a step template).
    pub runbook: &'a str,
    /// The step's `inputs:` (given to a `runbook` step's child run).
    pub step_inputs: &'a IndexMap<Spanned<String>, Spanned<serde_json::Value>>,
}
