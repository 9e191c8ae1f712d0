//! `GET /metrics` against a real `steward serve` process on a free port of
//! 127.0.0.1: runs through the API, a refused webhook, then the Prometheus
//! text parsed and checked.

use std::collections::{HashMap, HashSet};

use crate::support::{Project, serve};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CI_TOKEN: &str = "ci-token-value-metrics-3e1f";
const GITHUB_SECRET: &str = "gh-hook-secret-metrics-91ac";

const CONFIG: &str = r#"
server:
  tokens:
    - name: ci
      secret: CI_TOKEN
      actions: [run, read]
  hooks:
    - name: gh
      kind: github
      secret: GH_HOOK_SECRET
      runbook: two
"#;

fn project() -> Project {
    let p = Project::new();
    p.write("steward.yaml", CONFIG);
    p.runbook(
        "two",
        r#"
steps:
  - id: first
    shell: "true"
  - id: second
    shell: "true"
    needs: [first]
"#,
    );
    p.runbook(
        "flaky",
        r#"
steps:
  - id: boom
    shell: exit 3
    retry: { attempts: 2, delay: 10ms }
"#,
    );
    p
}

/// A `steward serve` process; killed when dropped.
struct Server(serve::Served);

impl std::ops::Deref for Server {
    type Target = serve::Served;
    fn deref(&self) -> &serve::Served {
        &self.0
    }
}

impl Server {
    fn start(p: &Project) -> Server {
        Server(serve::Served::start(
            p,
            &[("CI_TOKEN", CI_TOKEN), ("GH_HOOK_SECRET", GITHUB_SECRET)],
            &[],
        ))
    }
    fn run(&self, runbook: &str) -> Value {
        let response = self
            .client
            .post(format!("{}/api/v1/runs?wait=true", self.base))
            .bearer_auth(CI_TOKEN)
            .json(&json!({ "runbook": runbook }))
            .send()
            .expect("start a run");
        assert_eq!(response.status(), StatusCode::OK, "{}", self.output());
        response.json().expect("JSON")
    }
}

/// The samples of a text exposition, by `name{labels}` as written (labels
/// in the server's order), and the families with both HELP and TYPE.
fn parse(text: &str) -> (HashMap<String, f64>, HashSet<String>) {
    let mut samples = HashMap::new();
    let mut help = HashSet::new();
    let mut typed = HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help.insert(rest.split(' ').next().unwrap().to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap().to_owned();
            let kind = parts.next().expect("a type");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name);
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let name_end = series.find('{').unwrap_or(series.len());
            let name = &series[..name_end];
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            if name_end < series.len() {
                assert!(series.ends_with('}'), "{line}");
            }
            let value: f64 = value.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
            samples.insert(series.to_owned(), value);
        }
    }
    let families: HashSet<String> = help.intersection(&typed).cloned().collect();
    (samples, families)
}

#[test]
fn metrics_count_runs_steps_retries_and_refused_webhooks() {
    let p = project();
    let server = Server::start(&p);

    let two = server.run("two");
    assert_eq!(two["status"], "succeeded", "{two}");
    let flaky = server.run("flaky");
    assert_eq!(flaky["status"], "failed", "{flaky}");

    let refused = server
        .client
        .post(format!("{}/hooks/gh", server.base))
        .header("content-type", "application/json")
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", "delivery-metrics-1")
        .header("X-Hub-Signature-256", format!("sha256={}", "0".repeat(64)))
        .body("{}")
        .send()
        .expect("send the webhook");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // No token needed.
    let response = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().unwrap();
    let (samples, families) = parse(&text);

    for family in [
        "steward_runs_started_total",
        "steward_runs_finished_total",
        "steward_step_duration_seconds",
        "steward_step_retries_total",
        "steward_webhook_rejections_total",
        "steward_runs_running",
    ] {
        assert!(
            families.contains(family),
            "no HELP/TYPE for {family}:\n{text}"
        );
    }
    let get = |series: &str| -> f64 {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };
    let started: f64 = samples
        .iter()
        .filter(|(k, _)| k.starts_with("steward_runs_started_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(started, 2.0, "{text}");
    assert_eq!(get(r#"steward_runs_started_total{runbook="two"}"#), 1.0);
    assert_eq!(get(r#"steward_runs_started_total{runbook="flaky"}"#), 1.0);
    assert_eq!(
        get(r#"steward_runs_finished_total{runbook="two",status="succeeded"}"#),
        1.0
    );
    assert_eq!(
        get(r#"steward_runs_finished_total{runbook="flaky",status="failed"}"#),
        1.0
    );
    assert!(
        get(r#"steward_step_retries_total{runbook="flaky"}"#) >= 1.0,
        "{text}"
    );
    assert!(!samples.contains_key(r#"steward_step_retries_total{runbook="two"}"#));
    assert_eq!(
        get(r#"steward_step_duration_seconds_count{runbook="two"}"#),
        2.0
    );
    assert_eq!(
        get(r#"steward_step_duration_seconds_count{runbook="flaky"}"#),
        1.0
    );
    assert_eq!(
        get(r#"steward_step_duration_seconds_bucket{runbook="two",le="+Inf"}"#),
        2.0
    );
    assert!(get(r#"steward_step_duration_seconds_sum{runbook="two"}"#) >= 0.0);
    // Buckets are cumulative.
    let mut last = 0.0;
    for le in ["0.01", "0.1", "0.5", "1", "5", "30", "120", "600", "+Inf"] {
        let n = get(&format!(
            r#"steward_step_duration_seconds_bucket{{runbook="two",le="{le}"}}"#
        ));
        assert!(n >= last, "{text}");
        last = n;
    }
    assert_eq!(
        get(r#"steward_webhook_rejections_total{hook="gh",reason="mismatch"}"#),
        1.0
    );
    assert_eq!(get("steward_runs_running"), 0.0);
}
