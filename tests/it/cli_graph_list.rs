//! `steward graph` in its three formats and `steward list`, through the
//! binary: edges of a DAG with fan-out, join, an implied dependency, a `uses`
//! template, `undo`, `on_failure` and `finally`; finding the runbook and the
//! project; the errors when either is missing.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{Outcome, Project, Test, unindent};
use serde_json::Value;

mod finding_the_project;
mod list;

const RELEASE: &str = r#"name: release
description: Build, test in parallel, publish.
inputs:
  version: { type: string, pattern: '^\d+\.\d+\.\d+$', required: true, description: The version to release. }
  env: { type: string, enum: [staging, production], default: staging }
  shards: { type: int, default: 2 }
triggers:
  chat: { command: ship }
steps:
  - id: build
    shell: make VERSION={{ inputs.version }}
    undo:
      id: clean
      shell: make clean
  - id: unit
    needs: [build]
    shell: make unit
  - id: lint
    needs: [build]
    shell: make lint
  - id: join
    needs: [unit, lint]
    shell: echo joined
  - id: report
    needs: []
    shell: echo "{{ steps.unit.stdout }}"
  - id: wait
    needs: [join]
    uses: retry-until
    with: { command: "curl -f http://localhost/{{ inputs.env }}" }
on_failure:
  - id: rollback
    shell: echo rollback {{ steps.build.status }}
finally:
  - id: notify
    shell: echo done
  - id: end
    shell: echo end
"#;

/// Edges written as (from, to, kind).
type Edges = BTreeSet<(String, String, String)>;

fn edges(list: &[(&str, &str, &str)]) -> Edges {
    list.iter()
        .map(|(a, b, k)| (a.to_string(), b.to_string(), k.to_string()))
        .collect()
}

/// The edges the release runbook must have.
fn release_edges() -> Edges {
    edges(&[
        // fan-out from build
        ("build", "unit", "needs"),
        ("build", "lint", "needs"),
        // join
        ("unit", "join", "needs"),
        ("lint", "join", "needs"),
        // implied by reading `steps.unit` (its `needs` is empty)
        ("unit", "report", "needs"),
        // the `uses` step needs what it says
        ("join", "wait", "needs"),
        // undo hangs off its step
        ("build", "clean", "undo"),
        // the default chaining inside `finally`
        ("notify", "end", "needs"),
    ])
}

fn project() -> Project {
    let project = Project::with_retry_until();
    project.runbook("release", RELEASE);
    project.runbook(
        "hello",
        &unindent(
            r#"
            description: Say hello.
            steps:
              - id: hi
                shell: echo hi
            "#,
        ),
    );
    project
}

#[track_caller]
fn ok(out: &Outcome) -> &str {
    assert_eq!(
        out.code, 0,
        "exit code\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    &out.stdout
}

#[track_caller]
fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn graph_json_has_every_edge_and_section() {
    let project = project();
    let graph = json(ok(
        &project.steward_here(&["graph", "release", "--format", "json"])
    ));
    assert_eq!(graph["runbook"], "release");

    let found: Edges = graph["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_owned(),
                e["to"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(found, release_edges());

    let nodes = graph["nodes"].as_array().expect("nodes");
    let node = |id: &str| {
        nodes
            .iter()
            .find(|n| n["id"] == id)
            .unwrap_or_else(|| panic!("no node `{id}` in {nodes:#?}"))
    };
    let sections: Vec<(&str, &str)> = nodes
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n["section"].as_str().unwrap()))
        .collect();
    assert_eq!(
        sections,
        [
            ("build", "steps"),
            ("clean", "undo"),
            ("unit", "steps"),
            ("lint", "steps"),
            ("join", "steps"),
            ("report", "steps"),
            ("wait", "steps"),
            ("rollback", "on_failure"),
            ("notify", "finally"),
            ("end", "finally"),
        ]
    );
    assert_eq!(node("clean")["undoes"], "build");
    assert_eq!(node("wait")["template"], "retry-until");
    assert_eq!(node("wait")["kind"], "shell");
    assert_eq!(node("wait")["retry"]["attempts"], 5);
    assert_eq!(node("report")["needs"], serde_json::json!(["unit"]));
    assert_eq!(node("join")["needs"], serde_json::json!(["unit", "lint"]));
    // on_failure steps read main steps without depending on them.
    assert_eq!(node("rollback")["needs"], serde_json::json!([]));
}

#[test]
fn graph_dot_has_the_edges_and_renders_with_graphviz() {
    let project = project();
    let dot = ok(&project.steward_here(&["graph", "release", "--format", "dot"])).to_owned();
    assert!(dot.starts_with("digraph \"release\" {"), "{dot}");
    for line in [
        "\"build\" -> \"unit\";",
        "\"build\" -> \"lint\";",
        "\"unit\" -> \"join\";",
        "\"lint\" -> \"join\";",
        "\"unit\" -> \"report\";",
        "\"join\" -> \"wait\";",
        "\"notify\" -> \"end\";",
        "\"build\" -> \"clean\" [style=dashed, label=\"undo\"];",
        "subgraph \"cluster_on_failure\" {",
        "subgraph \"cluster_finally\" {",
    ] {
        assert!(dot.contains(line), "missing `{line}` in:\n{dot}");
    }
    // The default is dot.
    assert_eq!(ok(&project.steward_here(&["graph", "release"])), dot);

    // Graphviz must accept it. CI installs graphviz (see .ci/run); a missing
    // `dot` is a failure here, not a reason to skip.
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => panic!(
            "Graphviz `dot` is needed to check `steward graph --format dot` ({e}); \
             install graphviz, e.g. `apt-get install -y graphviz` or `brew install graphviz`"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let rendered = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&rendered.stderr);
    assert!(
        rendered.status.success(),
        "dot -Tsvg rejected the graph: {stderr}\n{dot}"
    );
    assert!(
        stderr.trim().is_empty(),
        "dot -Tsvg warned: {stderr}\n{dot}"
    );
    let svg = String::from_utf8_lossy(&rendered.stdout);
    assert!(svg.contains("<svg"), "{svg}");
    for id in ["build", "clean", "wait", "rollback", "notify"] {
        assert!(
            svg.contains(&format!("<title>{id}</title>")),
            "node {id} in:\n{svg}"
        );
    }
    assert!(svg.contains("<title>build&#45;&gt;unit</title>"), "{svg}");
}

#[test]
fn graph_mermaid_is_a_flowchart_with_the_edges() {
    let project = project();
    let text = ok(&project.steward_here(&["graph", "release", "--format", "mermaid"])).to_owned();
    assert!(text.starts_with("flowchart"), "{text}");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for line in [
        "build --> unit",
        "build --> lint",
        "unit --> join",
        "lint --> join",
        "unit --> report",
        "join --> wait",
        "build -. undo .-> clean",
        "subgraph on_failure",
        "subgraph finally",
        // `end` is a Mermaid keyword: the step gets another node id.
        "notify --> S_end",
    ] {
        assert!(lines.contains(&line), "missing `{line}` in:\n{text}");
    }
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("end[") || l.ends_with("--> end")),
        "a node named `end` breaks Mermaid:\n{text}"
    );
}

#[test]
fn mermaid_node_ids_never_collide() {
    let project = Project::with_retry_until();
    project.runbook(
        "ids",
        &unindent(
            r#"
            steps:
              - id: deploy-web
                shell: echo 1
              - id: deploy_web
                shell: echo 2
              - id: S_deploy_H_web
                needs: []
                shell: echo 3
            "#,
        ),
    );
    // `S_deploy_H_web` is not a valid step id (capitals), so it is rejected:
    // the encoding of unusual ids can't meet a real one.
    assert_eq!(project.steward_here(&["validate"]).code, 2);
    project.runbook(
        "ids",
        &unindent(
            r#"
            steps:
              - id: deploy-web
                shell: echo 1
              - id: deploy_web
                shell: echo 2
            "#,
        ),
    );
    let text = ok(&project.steward_here(&["graph", "ids", "--format", "mermaid"])).to_owned();
    let nodes: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.trim().split_once('[').map(|(id, _)| id))
        .collect();
    assert_eq!(nodes.len(), 2, "two steps, two nodes:\n{text}");
    assert!(
        text.lines()
            .any(|l| l.trim() == "S_deploy_H_web --> deploy_web"),
        "{text}"
    );
}

#[test]
fn runbook_by_name_or_by_path() {
    let project = project();
    let by_name = ok(&project.steward_here(&["graph", "release", "--format", "json"])).to_owned();
    let by_path =
        ok(&project.steward_here(&["graph", "runbooks/release.yaml", "--format", "json"]))
            .to_owned();
    assert_eq!(json(&by_name), json(&by_path));

    // A file outside the project's runbooks/ is read as a path too.
    let elsewhere = project.write(
        "drafts/new.yaml",
        &unindent(
            r#"
            steps:
              - id: a
                shell: echo a
            "#,
        ),
    );
    let graph = json(ok(&project.steward_here(&[
        "graph",
        elsewhere.to_str().unwrap(),
        "--format",
        "json",
    ])));
    assert_eq!(graph["runbook"], "new", "named after the file");
}

#[test]
fn unknown_runbook_name_suggests_the_closest() {
    let project = project();
    let out = project.steward_here(&["graph", "relase"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("no runbook `relase`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("did you mean `release`?"),
        "{}",
        out.stderr
    );

    let out = project.steward_here(&["graph", "zzzzzzzz"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no runbook `zzzzzzzz`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hello, release"),
        "lists the runbooks: {}",
        out.stderr
    );
}

#[test]
fn graph_of_an_invalid_runbook_shows_its_diagnostics() {
    let project = project();
    project.runbook(
        "broken",
        &unindent(
            r#"
            steps:
              - id: a
                neds: []
                shell: x
            "#,
        ),
    );
    let out = project.steward_here(&["graph", "broken"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("runbooks/broken.yaml:3:5"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `needs`?"),
        "{}",
        out.stderr
    );
}
