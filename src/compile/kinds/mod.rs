//! The kind-specific part of a step: one module per kind.

mod approval;
pub mod http;
mod net;
pub mod notify;
mod runbook;
mod shell;
mod sql;

use crate::diagnostic::Diagnostic;
use crate::plan::{SleepStep, StepKind};
use crate::spec::StepSpec;

use super::scope::{Scope, StepRef};
use super::step::StepEnv;
use super::values;

/// Compiles whichever kind the step has (`uses` is expanded by the caller).
pub fn compile_kind(
    spec: &StepSpec,
    env: &StepEnv,
    scope: &Scope,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> Option<StepKind> {
    let (checker, params) = (env.checker, env.params);
    if let Some(approval) = &spec.approval {
        return approval::compile(approval, checker, scope, params, diagnostics, refs)
            .map(StepKind::Approval);
    }
    if let Some(name) = &spec.runbook {
        return runbook::compile(name, spec, env, scope, diagnostics, refs).map(StepKind::Runbook);
    }
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
