//! The `sql` step kind: a query with bound parameters, or a script of
//! several statements, on PostgreSQL (tokio-postgres, TLS by rustls).
//!
//! Connections come from the run's pool for the connection string
//! ([`SqlPools`]). The connection string is shown only with its password
//! masked, in messages, `describe` and output alike, whether or not it
//! is a declared secret.

mod compile;
mod error;
mod exec;
pub mod lex;
mod params;
mod plan;
mod pool;
mod rows;
mod spec;
mod target;
mod tls;

pub use error::SqlError;
pub use plan::{SqlRun, SqlStep};
pub use pool::SqlPools;
pub use spec::SqlSpec;
pub use target::mask;

use crate::events::{OutputStream, RunEvent};
use crate::secrets::Redactor;

use crate::kind::{Attempt, CompileCx, DescribeError, Kind, StepContext};
use crate::syntax::Spanned;
use target::Target;

/// How many rows are shown live (the rest are counted).
const LIVE_ROWS: usize = 20;

/// How much of the output the audit trail keeps.
const AUDIT_TAIL: usize = 4 * 1024;

/// A step's templates, rendered.
struct Rendered {
    /// The pool's key: the connection string and the database.
    key: String,
    target: Target,
    sql: String,
    params: Option<Vec<serde_json::Value>>,
}

impl SqlStep {
    fn render(&self, ctx: &StepContext<'_>) -> Result<Rendered, SqlError> {
        let url = ctx
            .renderer
            .render(&self.url, ctx.ctx)
            .map_err(|e| SqlError::Render(format!("`url`: {e}")))?
            .trim()
            .to_owned();
        let mut target = Target::parse(&url)?;
        let mut key = url;
        if let Some(database) = &self.database {
            let database = ctx
                .renderer
                .render(database, ctx.ctx)
                .map_err(|e| SqlError::Render(format!("`database`: {e}")))?;
            let database = database.trim();
            if !database.is_empty() {
                target.set_database(database);
                key = format!("{key}\n{database}");
            }
        }
        let sql = ctx
            .renderer
            .render(self.run.text(), ctx.ctx)
            .map_err(|e| SqlError::Render(e.to_string()))?;
        let params = match &self.run {
            SqlRun::Query { params, .. } => Some(
                params
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        ctx.renderer
                            .value(p, ctx.ctx)
                            .map_err(|e| SqlError::Render(format!("`params` ${}: {e}", i + 1)))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            SqlRun::Script(_) => None,
        };
        Ok(Rendered {
            key,
            target,
            sql,
            params,
        })
    }
}

/// Masks the run's secrets and the connection string's password.
fn redact(ctx: &StepContext<'_>, target: Option<&Target>, text: &str) -> String {
    let text = ctx.redactor.redact(text).into_owned();
    match target.map(|t| Redactor::new(&t.secrets)) {
        Some(Ok(own)) => own.redact(&text).into_owned(),
        _ => text,
    }
}

impl Kind for SqlStep {
    const KEY: &'static str = "sql";
    type Spec = SqlSpec;

    fn compile(spec: &Spanned<SqlSpec>, cx: &mut CompileCx<'_, '_>) -> Option<Self> {
        compile::compile(
            spec,
            cx.checker,
            cx.scope,
            cx.params,
            cx.diagnostics,
            cx.refs,
        )
    }

    fn source(&self) -> String {
        self.run.text().source.clone()
    }

    /// SQL literals (`it''s`, `a\\b`), as a query holds it.
    fn secret_forms(secret: &str) -> Vec<String> {
        vec![
            secret.replace('\'', "''"),
            secret.replace('\\', r"\\").replace('\'', "''"),
        ]
    }

    fn describe(&self, ctx: &StepContext<'_>) -> Result<String, DescribeError> {
        let r = self
            .render(ctx)
            .map_err(|e| ctx.cannot_describe(redact(ctx, None, &e.to_string())))?;
        let mut text = r.sql.trim().to_owned();
        text.push_str(&format!("\n-- on {}", r.target.shown));
        if let Some(params) = r.params.filter(|p| !p.is_empty()) {
            text.push_str(&format!("\n-- params: {}", serde_json::Value::from(params)));
        }
        if self.transaction {
            text.push_str("\n-- in one transaction");
        }
        Ok(redact(ctx, Some(&r.target), &text))
    }

    async fn execute(&self, ctx: &StepContext<'_>) -> Attempt {
        let r = match self.render(ctx) {
            Ok(r) => r,
            Err(e) => return failed(ctx, None, &e),
        };
        let timeout = r.target.connect_timeout(self.connect_timeout);
        let pools = ctx.resources.get::<SqlPools>();
        let pools = pools.as_ref();
        let mut conn = match pools.get(&r.key, &r.target, timeout, ctx.cancel).await {
            Ok(conn) => conn,
            Err(e) => return failed(ctx, Some(&r.target), &e),
        };
        let outcome = match conn.client() {
            Some(client) => {
                let work = exec::run(
                    client,
                    &r.sql,
                    r.params.as_deref(),
                    self.transaction,
                    &r.target.shown,
                );
                tokio::select! {
                    outcome = work => Some(outcome),
                    () = ctx.cancel.cancelled() => None,
                }
            }
            None => Some(Err(SqlError::Cancelled)),
        };
        let output = match outcome {
            Some(Ok(output)) => {
                conn.release().await;
                output
            }
            Some(Err(e)) => {
                if matches!(
                    e,
                    SqlError::Db { .. } | SqlError::Syntax(_) | SqlError::Convert { .. }
                ) {
                    conn.release().await;
                }
                return failed(ctx, Some(&r.target), &e);
            }
            None => {
                conn.cancel_running().await;
                return failed(ctx, Some(&r.target), &SqlError::Cancelled);
            }
        };
        let lines = live_lines(&output);
        for line in &lines {
            ctx.events.emit(&RunEvent::Output {
                step: ctx.step_id.to_owned(),
                stream: OutputStream::Stdout,
                line: redact(ctx, Some(&r.target), line),
            });
        }
        Attempt {
            result: output.into_result(),
            failure: None,
            exit_code: None,
            output: Some(redact(ctx, Some(&r.target), &tail(&lines.join("\n")))),
        }
    }
}

fn failed(ctx: &StepContext<'_>, target: Option<&Target>, error: &SqlError) -> Attempt {
    Attempt::failed(error.class(), redact(ctx, target, &error.to_string()))
}

/// What the terminal shows: each script statement, or the first rows.
fn live_lines(output: &exec::Output) -> Vec<String> {
    let mut lines = output.log.clone();
    if output.statements == 1 && output.log.is_empty() {
        lines.extend(
            output
                .rows
                .iter()
                .take(LIVE_ROWS)
                .map(|row| serde_json::Value::from(row.clone()).to_string()),
        );
        if output.row_count > LIVE_ROWS {
            lines.push(format!("… {} more rows", output.row_count - LIVE_ROWS));
        }
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        lines.push(if output.returns_rows {
            let n = output.row_count as u64;
            format!("{n} row{}", plural(n))
        } else {
            format!(
                "{} row{} affected",
                output.affected,
                plural(output.affected)
            )
        });
    }
    lines
}

fn tail(text: &str) -> String {
    if text.len() <= AUDIT_TAIL {
        return text.to_owned();
    }
    let mut start = text.len() - AUDIT_TAIL;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}
