//! The `shell` step kind: a script run by bash (`-eo pipefail`) or another
//! interpreter, in its own process group.

mod compile;
pub mod process;
mod spec;

pub use compile::DEFAULT_INTERPRETER;
pub use spec::ShellSpec;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::events::{OutputStream, RunEvent};
use crate::outcome::FailureClass;
use crate::template::Template;

use crate::kind::{Attempt, CompileCx, DescribeError, Kind, StepContext};
use crate::syntax::{Spanned, StrOr};
use process::{Ended, ProcessSpec, Stream};

/// How much of an attempt's output the audit trail keeps.
const AUDIT_TAIL: usize = 4 * 1024;

/// A compiled `shell` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShellStep {
    /// The script; interpolated values are shell-quoted.
    pub run: Template,
    /// Working directory.
    pub cwd: Option<Template>,
    /// Extra environment variables.
    pub env: Vec<(String, Template)>,
    /// Program and flags; the script follows `-c`.
    pub interpreter: Vec<String>,
}

struct Rendered {
    script: String,
    cwd: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl ShellStep {
    fn render(&self, ctx: &StepContext<'_>) -> Result<Rendered, String> {
        let script = ctx
            .renderer
            .render(&self.run, ctx.ctx)
            .map_err(|e| e.to_string())?;
        let cwd = match &self.cwd {
            Some(t) => {
                let dir =
                    PathBuf::from(ctx.renderer.render(t, ctx.ctx).map_err(|e| e.to_string())?);
                Some(if dir.is_absolute() {
                    dir
                } else {
                    ctx.workdir.join(dir)
                })
            }
            None => Some(ctx.workdir.to_owned()),
        };
        let mut env: Vec<(String, String)> = ctx.env.to_vec();
        for (k, t) in &self.env {
            env.push((
                k.clone(),
                ctx.renderer.render(t, ctx.ctx).map_err(|e| e.to_string())?,
            ));
        }
        env.push(("STEWARD_RUN_ID".into(), ctx.run_id.to_owned()));
        env.push(("STEWARD_STEP_ID".into(), ctx.step_id.to_owned()));
        Ok(Rendered { script, cwd, env })
    }
}

impl Kind for ShellStep {
    const KEY: &'static str = "shell";
    type Spec = StrOr<ShellSpec>;

    fn compile(spec: &Spanned<StrOr<ShellSpec>>, cx: &mut CompileCx<'_, '_>) -> Option<Self> {
        compile::compile(spec, cx.checker, cx.scope, cx.diagnostics, cx.refs)
    }

    fn source(&self) -> String {
        self.run.source.clone()
    }

    /// Shell-quoted into a script: `it's` → `it'\''s`.
    fn secret_forms(secret: &str) -> Vec<String> {
        vec![secret.replace('\'', r"'\''")]
    }

    fn describe(&self, ctx: &StepContext<'_>) -> Result<String, DescribeError> {
        let rendered = self.render(ctx).map_err(|e| ctx.cannot_describe(e))?;
        Ok(ctx.redactor.redact(&rendered.script).into_owned())
    }

    async fn execute(&self, ctx: &StepContext<'_>) -> Attempt {
        let rendered = match self.render(ctx) {
            Ok(r) => r,
            Err(e) => {
                return Attempt::failed(FailureClass::Other, ctx.redactor.redact(&e).into_owned());
            }
        };
        let (program, flags) = match self.interpreter.split_first() {
            Some(split) => split,
            None => return Attempt::failed(FailureClass::Other, "no interpreter"),
        };
        let mut spec = ProcessSpec::new(program);
        spec.args = flags.to_vec();
        spec.args.push("-c".into());
        spec.args.push(rendered.script);
        spec.cwd = rendered.cwd;
        spec.env = rendered.env;

        let (tx, mut rx) = mpsc::unbounded_channel();
        let forward = async {
            while let Some(line) = rx.recv().await {
                let line: process::OutputLine = line;
                ctx.events.emit(&RunEvent::Output {
                    step: ctx.step_id.to_owned(),
                    stream: match line.stream {
                        Stream::Stdout => OutputStream::Stdout,
                        Stream::Stderr => OutputStream::Stderr,
                    },
                    line: ctx.redactor.redact(&line.line).into_owned(),
                });
            }
        };
        let run = process::run(&spec, Some(tx), ctx.cancel.cancelled());
        let (outcome, ()) = tokio::join!(run, forward);
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                return Attempt::failed(
                    FailureClass::Other,
                    ctx.redactor.redact(&e.to_string()).into_owned(),
                );
            }
        };
        let json = serde_json::from_str::<serde_json::Value>(outcome.stdout.trim())
            .ok()
            .filter(|v| v.is_object() || v.is_array());
        let mut result = serde_json::json!({
            "exit_code": outcome.exit_code,
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
        });
        if let Some(json) = json {
            result["json"] = json;
        }
        if outcome.stdout_truncated || outcome.stderr_truncated {
            result["truncated"] = true.into();
        }
        let output = tail(&outcome.stdout, &outcome.stderr);
        let failure = match outcome.ended {
            Ended::Cancelled => Some((FailureClass::Other, "cancelled".to_owned())),
            Ended::TimedOut => Some((FailureClass::Timeout, "timed out".to_owned())),
            Ended::Exited => match (outcome.exit_code, outcome.signal) {
                (Some(0), _) => None,
                (Some(code), _) => Some((
                    FailureClass::ExitCode(code),
                    exit_message(code, &outcome.stderr),
                )),
                (None, Some(signal)) => {
                    Some((FailureClass::Other, format!("killed by signal {signal}")))
                }
                (None, None) => {
                    Some((FailureClass::Other, "ended without an exit code".to_owned()))
                }
            },
        };
        Attempt {
            result,
            failure: failure.map(|(class, message)| crate::kind::Failure {
                class,
                message: ctx.redactor.redact(&message).into_owned(),
            }),
            exit_code: outcome.exit_code,
            output: Some(ctx.redactor.redact(&output).into_owned()),
        }
    }
}

fn exit_message(code: i32, stderr: &str) -> String {
    match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(last) => format!("exit code {code}: {}", last.trim()),
        None => format!("exit code {code}"),
    }
}

/// The last few KiB of the output, stdout then stderr.
fn tail(stdout: &str, stderr: &str) -> String {
    let mut text = String::new();
    if !stdout.is_empty() {
        text.push_str(stdout);
    }
    if !stderr.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(stderr);
    }
    if text.len() <= AUDIT_TAIL {
        return text;
    }
    let mut start = text.len() - AUDIT_TAIL;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}
