//! The kind-specific part of a step: one module per kind.

pub mod http;
mod net;
pub mod notify;
mod shell;
mod sql;

use crate::diagnostic::Diagnostic;
use crate::plan::{SleepStep, StepKind};
use crate::spec::StepSpec;

use super::scope::{Checker, Scope, StepRef};
use super::values::{self, Params};

/// Compiles whichever kind the step has (`uses` is expanded by the caller).
pub fn compile_kind(
    spec: &StepSpec,
    checker: &Checker,
    scope: &Scope,
    params: Option<&Params>,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> Option<StepKind> {
    if let Some(shell) = &spec.shell {
        return shell::compile(shell, checker, scope, diagnostics, refs).map(StepKind::Shell);
    }
    if let Some(sleep) = &spec.sleep {
        return values::duration(sleep, params, diagnostics)
            .map(|duration| StepKind::Sleep(SleepStep { duration }));
    }
    if spec.http.is_some() || spec.notify.is_some() {
        let mut fields = net::Fields {
            checker,
            scope,
            params,
            diagnostics,
            refs,
        };
        if let Some(http) = &spec.http {
            return http::compile(http, &mut fields).map(StepKind::Http);
        }
        if let Some(notify) = &spec.notify {
            return notify::compile(notify, &mut fields).map(StepKind::Notify);
        }
    }
    if let Some(sql) = &spec.sql {
        return sql::compile(sql, checker, scope, params, diagnostics, refs).map(StepKind::Sql);
    }
    None
}
