//! `steward graph RUNBOOK [--format dot|mermaid|json]`

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use crate::plan::{Plan, Section, Step};

use super::{load_plan, open_project};

/// Arguments of `graph`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A runbook name (from `runbooks/`) or a path to a YAML file.
    runbook: String,
    /// Output format.
    #[arg(long, default_value = "dot", value_parser = ["dot", "mermaid", "json"])]
    format: String,
}

pub fn run(project_dir: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let project = match open_project(project_dir) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let plan = match load_plan(&project, &args.runbook) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let text = match args.format.as_str() {
        "mermaid" => mermaid(&plan),
        "json" => serde_json::to_string_pretty(&json_graph(&plan))?,
        _ => dot(&plan),
    };
    super::write_stdout(text.trim_end())?;
    Ok(super::exit::OK)
}

fn label(step: &Step) -> String {
    let kind = match &step.template {
        Some(t) => format!("uses {}", t.name),
        None => step.kind.name().to_owned(),
    };
    let mut extras = Vec::new();
    if step.when.is_some() {
        extras.push("when".to_owned());
    }
    if step.for_each.is_some() {
        extras.push("for_each".to_owned());
    }
    if step.retry.attempts > 1 {
        extras.push(format!("retry ×{}", step.retry.attempts));
    }
    if extras.is_empty() {
        format!("{}\\n{kind}", step.id)
    } else {
        format!("{}\\n{kind} [{}]", step.id, extras.join(", "))
    }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\\\""))
}

/// Graphviz: main steps, then `on_failure` and `finally` as clusters; undo
/// steps hang off their step with a dashed edge.
pub fn dot(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quoted(&plan.name));
    let _ = writeln!(
        out,
        "  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];"
    );
    let mut undo_edges = Vec::new();
    let mut section = |out: &mut String, steps: &[Step], name: &str, color: &str| {
        if steps.is_empty() {
            return;
        }
        let indent = if name == "steps" { "  " } else { "    " };
        if name != "steps" {
            let _ = writeln!(
                out,
                "  subgraph {} {{\n    label={};\n    style=dashed; color={color};",
                quoted(&format!("cluster_{name}")),
                quoted(name)
            );
        }
        for step in steps {
            let _ = writeln!(
                out,
                "{indent}{} [label={}];",
                quoted(&step.id),
                quoted(&label(step))
            );
            if let Some(undo) = &step.undo {
                let _ = writeln!(
                    out,
                    "{indent}{} [label={}, style=\"rounded,dashed\"];",
                    quoted(&undo.id),
                    quoted(&label(undo))
                );
                undo_edges.push((step.id.clone(), undo.id.clone()));
            }
        }
        for step in steps {
            for &n in &step.needs {
                let _ = writeln!(
                    out,
                    "{indent}{} -> {};",
                    quoted(&steps[n].id),
                    quoted(&step.id)
                );
            }
        }
        if name != "steps" {
            let _ = writeln!(out, "  }}");
        }
    };
    section(&mut out, &plan.steps, "steps", "black");
    section(&mut out, &plan.on_failure, "on_failure", "red");
    section(&mut out, &plan.finally, "finally", "gray40");
    for (from, to) in undo_edges {
        let _ = writeln!(
            out,
            "  {} -> {} [style=dashed, label=\"undo\"];",
            quoted(&from),
            quoted(&to)
        );
    }
    if let (Some(first), Some(last)) = (plan.on_failure.first(), plan.steps.last()) {
        let _ = writeln!(
            out,
            "  {} -> {} [style=dotted, color=red, label=\"on failure\"];",
            quoted(&last.id),
            quoted(&first.id)
        );
    }
    if let Some(first) = plan.finally.first() {
        let from = plan.on_failure.last().or(plan.steps.last());
        if let Some(from) = from {
            let _ = writeln!(
                out,
                "  {} -> {} [style=dotted, label=\"finally\"];",
                quoted(&from.id),
                quoted(&first.id)
            );
        }
    }
    out.push_str("}\n");
    out
}

/// A Mermaid node id. Step ids are `[a-z0-9_-]+`; one that Mermaid reads
/// as a plain name stays as it is. One with `-`, or that is a Mermaid
/// keyword (`end` breaks a flowchart) or one of the subgraph names, gets
/// capitals, which no step id has: two steps (`deploy-web`, `deploy_web`)
/// never share a node.
fn mermaid_id(id: &str) -> String {
    const RESERVED: &[&str] = &[
        "end",
        "graph",
        "flowchart",
        "subgraph",
        "direction",
        "style",
        "class",
        "classdef",
        "click",
        "linkstyle",
        "default",
        "call",
        "href",
        "on_failure",
        "finally",
        "steps_done",
    ];
    if !id.contains('-') && !RESERVED.contains(&id) {
        return id.to_owned();
    }
    format!("S_{}", id.replace('-', "_H_"))
}

/// Mermaid flowchart, with `on_failure` and `finally` as subgraphs.
pub fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    let node = |out: &mut String, step: &Step, indent: &str| {
        let _ = writeln!(
            out,
            "{indent}{}[\"{}\"]",
            mermaid_id(&step.id),
            label(step).replace("\\n", "<br/>")
        );
        if let Some(undo) = &step.undo {
            let _ = writeln!(
                out,
                "{indent}{}[\"{}\"]",
                mermaid_id(&undo.id),
                label(undo).replace("\\n", "<br/>")
            );
            let _ = writeln!(
                out,
                "{indent}{} -. undo .-> {}",
                mermaid_id(&step.id),
                mermaid_id(&undo.id)
            );
        }
    };
    for (steps, name) in [
        (&plan.steps, None),
        (&plan.on_failure, Some("on_failure")),
        (&plan.finally, Some("finally")),
    ] {
        if steps.is_empty() {
            continue;
        }
        let indent = if name.is_some() { "    " } else { "  " };
        if let Some(name) = name {
            let _ = writeln!(out, "  subgraph {name}");
        }
        for step in steps.iter() {
            node(&mut out, step, indent);
        }
        for step in steps.iter() {
            for &n in &step.needs {
                let _ = writeln!(
                    out,
                    "{indent}{} --> {}",
                    mermaid_id(&steps[n].id),
                    mermaid_id(&step.id)
                );
            }
        }
        if name.is_some() {
            out.push_str("  end\n");
        }
    }
    if !plan.on_failure.is_empty() && !plan.steps.is_empty() {
        out.push_str("  steps_done([run fails]) -.-> on_failure\n");
    }
    out
}

/// Nodes and edges as data.
pub fn json_graph(plan: &Plan) -> serde_json::Value {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let section_name = |s: Section| match s {
        Section::Main => "steps",
        Section::OnFailure => "on_failure",
        Section::Finally => "finally",
        Section::Undo => "undo",
    };
    for steps in [&plan.steps, &plan.on_failure, &plan.finally] {
        for step in steps.iter() {
            let mut add = |step: &Step| {
                nodes.push(json!({
                    "id": step.id,
                    "name": step.name,
                    "kind": step.kind.name(),
                    "template": step.template.as_ref().map(|t| &t.name),
                    "section": section_name(step.section),
                    "needs": step.needs.iter().map(|&n| &steps[n].id).collect::<Vec<_>>(),
                    "when": step.when.as_ref().map(|w| &w.source),
                    "for_each": step.for_each.is_some(),
                    "retry": { "attempts": step.retry.attempts },
                    "timeout_ms": step.timeout.map(|t| t.as_millis() as u64),
                    "continue_on_error": step.continue_on_error,
                }));
            };
            add(step);
            for &n in &step.needs {
                edges.push(json!({ "from": steps[n].id, "to": step.id, "kind": "needs" }));
            }
            if let Some(undo) = &step.undo {
                nodes.push(json!({ "id": undo.id, "kind": undo.kind.name(), "section": "undo", "undoes": step.id }));
                edges.push(json!({ "from": step.id, "to": undo.id, "kind": "undo" }));
            }
        }
    }
    json!({ "runbook": plan.name, "nodes": nodes, "edges": edges })
}
