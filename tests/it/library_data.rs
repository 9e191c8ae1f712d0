//! The data runbooks end to end: `backup`, `db-maintenance` and
//! `daily-checks`, against the PostgreSQL of this machine (a scratch database
//! per test), real pg_dump/psql, and loopback HTTP servers for the
//! application and the Slack webhook.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::net::http::{Reply, Server};
use crate::support::pg::{self, ScratchDb};
use crate::support::{Outcome, Project, net, touch, wait_for};
use serde_json::{Value, json};

mod backup;
mod daily_checks;
mod db_maintenance;

/// A password in the connection strings: the local server trusts the login
/// and ignores it, and it must never be shown.
const PASSWORD: &str = "pw-Data-52q";
/// The token part of the Slack webhook URL, which must never be shown.
const SLACK_TOKEN: &str = "hook-token-7Zk2";

fn project() -> Project {
    let p = Project::new();
    p.copy_from_repo("runbooks");
    p.copy_from_repo("steps");
    p
}

fn with_password(db: &ScratchDb) -> String {
    db.url
        .replacen("://postgres@", &format!("://postgres:{PASSWORD}@"), 1)
}

fn run(p: &Project, runbook: &str, env: &[(&str, String)], args: &[&str]) -> Outcome {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    p.run_with(runbook, &all, |t| {
        t.envs(env.iter().map(|(k, v)| (k, v)))
            .timeout(Duration::from_secs(120))
    })
}

fn sh(p: &Project, script: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(p.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
