//! `steward schema`

use crate::spec::{RunbookSpec, StepTemplateSpec};

/// Arguments of `schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which file kind: `runbook` (default) or `step-template`.
    #[arg(default_value = "runbook", value_parser = ["runbook", "step-template"])]
    kind: String,
}

/// The JSON Schema of runbook files.
pub fn runbook_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RunbookSpec)).unwrap_or_default()
}

/// The JSON Schema of step-template files.
pub fn template_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(StepTemplateSpec)).unwrap_or_default()
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let schema = if args.kind == "runbook" {
        runbook_schema()
    } else {
        template_schema()
    };
    super::write_stdout(&serde_json::to_string_pretty(&schema)?)?;
    Ok(super::exit::OK)
}
