//! Which kind a step has, and compiling it through the table of kinds.

use crate::diagnostic::{Diagnostic, Span};
use crate::kind::compile::{Scope, StepRef};
use crate::kind::{CompileCx, Kind};
use crate::kinds::{StepKind, with_kinds};
use crate::spec::StepSpec;

use super::step::StepEnv;

macro_rules! choose_kind {
    ($($(#[doc = $doc:literal])* $key:ident : $variant:ident($ty:path),)*) => {
        /// The kind keys present in a step (`uses` included), in the order
        /// they are written.
        pub fn present(spec: &StepSpec) -> Vec<(&'static str, Span)> {
            let mut found = Vec::new();
            $(if let Some(field) = &spec.$key {
                found.push((<$ty as Kind>::KEY, field.span));
            })*
            if let Some(uses) = &spec.uses {
                found.push(("uses", uses.span));
            }
            found.sort_by_key(|(_, span)| (span.line, span.col));
            found
        }

        fn compile_present(spec: &StepSpec, cx: &mut CompileCx<'_, '_>) -> Option<StepKind> {
            $(if let Some(field) = &spec.$key {
                return <$ty as Kind>::compile(field, cx).map(StepKind::$variant);
            })*
            None
        }
    };
}

with_kinds!(choose_kind);

/// Compiles the kind of a step that has exactly one (`uses` is expanded by
/// the caller).
pub fn compile_kind(
    spec: &StepSpec,
    env: &StepEnv,
    scope: &Scope,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> Option<StepKind> {
    let mut cx = CompileCx {
        checker: env.checker,
        scope,
        params: env.params,
        diagnostics,
        refs,
        runbooks: env.library,
        runbook: env.runbook,
        step_inputs: &spec.inputs,
    };
    compile_present(spec, &mut cx)
}
