//! `sql:`

use super::{SqlRun, SqlSpec, SqlStep, lex};
use crate::diagnostic::Diagnostic;
use crate::syntax::Spanned;
use crate::template::{Escape, is_dynamic};

use crate::kind::compile::value;
use crate::kind::compile::values::{self, Params};
use crate::kind::compile::{Checker, Scope, StepRef};

pub(super) fn compile(
    sql: &Spanned<SqlSpec>,
    checker: &Checker,
    scope: &Scope,
    params: Option<&Params>,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> Option<SqlStep> {
    let spec = &sql.value;
    let before = diagnostics.len();
    if spec.url.value.trim().is_empty() {
        diagnostics.push(
            Diagnostic::new(spec.url.span, "empty connection string")
                .hint("e.g. `url: \"{{ secrets.DATABASE_URL }}\"`"),
        );
    }
    let url = checker.template(
        &spec.url.value,
        spec.url.span,
        Escape::None,
        scope,
        diagnostics,
        refs,
    );
    let database = spec
        .database
        .as_ref()
        .map(|d| checker.template(&d.value, d.span, Escape::None, scope, diagnostics, refs));
    let text = match (&spec.query, &spec.script) {
        (Some(_), Some(script)) => {
            diagnostics.push(
                Diagnostic::new(
                    script.span,
                    "a `sql` step has `query` or `script`, not both",
                )
                .hint("`query`: one statement with `params`; `script`: several statements"),
            );
            return None;
        }
        (None, None) => {
            diagnostics.push(
                Diagnostic::new(sql.span, "a `sql` step needs `query` or `script`")
                    .hint("`query`: one statement with `params`; `script`: several statements"),
            );
            return None;
        }
        (Some(text), None) | (None, Some(text)) => text,
    };
    if text.value.trim().is_empty() {
        diagnostics.push(Diagnostic::new(text.span, "empty SQL"));
    }
    let template = checker.template(
        &text.value,
        text.span,
        Escape::Sql,
        scope,
        diagnostics,
        refs,
    );
    let scan = lex::scan(&text.value);
    if let Some(what) = scan.unterminated {
        if !is_dynamic(&text.value) {
            diagnostics.push(Diagnostic::new(
                text.span,
                format!("the SQL ends inside {what}"),
            ));
        }
    }
    let given = spec.params.as_deref().unwrap_or_default();
    let run = if spec.query.is_some() {
        if scan.statements.len() > 1 {
            diagnostics.push(
                Diagnostic::new(text.span, "`query` holds several statements")
                    .hint("use `script` to run several statements (with no `params`)"),
            );
        }
        check_placeholders(text, scan.max_placeholder, given, diagnostics);
        let params = given
            .iter()
            .map(|p| value::compile(p, checker, scope, diagnostics, refs))
            .collect();
        SqlRun::Query {
            text: template,
            params,
        }
    } else {
        if let Some(first) = given.first() {
            diagnostics.push(
                Diagnostic::new(
                    first.span,
                    "`params` bind `$1`, `$2`… of a `query`; a `script` has none",
                )
                .hint(
                    "interpolate values into the script instead: they are quoted as SQL literals",
                ),
            );
        }
        SqlRun::Script(template)
    };
    let transaction = match &spec.transaction {
        Some(flag) => values::flag(flag, params, diagnostics).unwrap_or(false),
        None => false,
    };
    let connect_timeout = spec
        .connect_timeout
        .as_ref()
        .and_then(|t| values::duration(t, params, diagnostics));
    (diagnostics.len() == before).then_some(SqlStep {
        url,
        database,
        run,
        transaction,
        connect_timeout,
    })
}

fn check_placeholders(
    text: &Spanned<String>,
    used: usize,
    given: &[Spanned<serde_json::Value>],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if used > given.len() {
        diagnostics.push(
            Diagnostic::new(
                text.span,
                format!(
                    "the query uses ${used} but `params` has {} value{}",
                    given.len(),
                    plural(given.len())
                ),
            )
            .hint("give one value in `params` per placeholder, in order: `params: [a, b]` for $1 and $2"),
        );
    } else if used < given.len() {
        let at = given.get(used).map_or(text.span, |p| p.span);
        diagnostics.push(
            Diagnostic::new(
                at,
                format!(
                    "`params` has {} value{} but the query uses {}",
                    given.len(),
                    plural(given.len()),
                    match used {
                        0 => "no placeholder".to_owned(),
                        1 => "only $1".to_owned(),
                        n => format!("only $1…${n}"),
                    }
                ),
            )
            .hint("each value is bound to a placeholder `$1`, `$2`… written in the query"),
        );
    }
}
