//! A throw-away project: a temp folder with `runbooks/`, and `steward`
//! commands run in it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tempfile::TempDir;

use super::{Outcome, Spawned, Test};

/// A step template for the compiler and CLI tests, fixed here so that their
/// snapshots don't change with the repository's own `steps/`.
pub const RETRY_UNTIL: &str = r#"description: Run a command until it succeeds.
params:
  command: { required: true, description: The command to run. }
  attempts: { default: 5 }
  delay: { default: 200ms }
step:
  shell: "{{ params.command | raw }}"
  retry: { attempts: "{{ params.attempts }}", delay: "{{ params.delay }}", backoff: fixed }
"#;

/// A throw-away project: a temp folder with `runbooks/`, removed when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Project {
    dir: Arc<TempDir>,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    /// An empty project.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("steward-test-")
            .tempdir()
            .expect("create a temp project");
        fs::create_dir_all(dir.path().join("runbooks")).expect("create runbooks/");
        Project { dir: Arc::new(dir) }
    }

    /// A project with one runbook.
    pub fn with_runbook(name: &str, yaml: &str) -> Self {
        let p = Self::new();
        p.runbook(name, yaml);
        p
    }

    /// A project with `steps/retry-until.yaml` ([`RETRY_UNTIL`]).
    pub fn with_retry_until() -> Self {
        let p = Self::new();
        p.step_template("retry-until", RETRY_UNTIL);
        p
    }

    /// A copy of a folder of the repository (a fixture) as a project.
    pub fn copy_of(folder: &str) -> Self {
        let p = Self::new();
        copy_tree(&super::repo().join(folder), p.path());
        p
    }

    /// The project folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the project.
    pub fn file(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// Writes `runbooks/<name>.yaml`.
    pub fn runbook(&self, name: &str, yaml: &str) -> PathBuf {
        self.write(&format!("runbooks/{name}.yaml"), yaml)
    }

    /// Writes `steps/<name>.yaml`.
    pub fn step_template(&self, name: &str, yaml: &str) -> PathBuf {
        self.write(&format!("steps/{name}.yaml"), yaml)
    }

    /// Writes a file, creating its folder.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.file(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create folder");
        }
        fs::write(&path, content).expect("write file");
        path
    }

    /// Reads a file of the project.
    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.file(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Whether a file of the project exists.
    pub fn exists(&self, rel: &str) -> bool {
        self.file(rel).exists()
    }

    /// The lines of a file, trimmed, without empty ones.
    pub fn lines(&self, rel: &str) -> Vec<String> {
        self.read(rel)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// A timestamp (seconds, as `date +%s.%N` wrote it) from a file.
    pub fn time(&self, rel: &str) -> f64 {
        let text = self.read(rel);
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{rel} holds {text:?}, not a timestamp: {e}"))
    }

    /// A `steward --project DIR` command in the project, without the
    /// ambient CI variables; see [`Test`].
    pub fn test(&self) -> Test {
        Test::in_project(self.clone())
    }

    /// `steward ARGS…` in the project (any subcommand, any exit code).
    pub fn steward(&self, args: &[&str]) -> Outcome {
        self.test().args(args).any_status().run()
    }

    /// `steward ARGS…` started in the project's folder without `--project`
    /// (it finds the project itself) and with `NO_COLOR=1`, as an operator
    /// types it; any exit code.
    pub fn steward_here(&self, args: &[&str]) -> Outcome {
        self.test()
            .find_project()
            .env("NO_COLOR", "1")
            .args(args)
            .any_status()
            .run()
    }

    /// `steward run RUNBOOK ARGS…` (any exit code); the report is parsed
    /// when the arguments ask for `--output json` and the run started.
    pub fn run(&self, runbook: &str, args: &[&str]) -> Outcome {
        self.run_with(runbook, args, |t| t)
    }

    /// `steward run RUNBOOK --output json ARGS…`; the report is parsed.
    pub fn run_json(&self, runbook: &str, args: &[&str]) -> Outcome {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        self.run_with(runbook, &all, |t| t)
    }

    /// [`run`](Self::run) with the command adjusted by `setup` first
    /// (environment variables, a time limit).
    pub fn run_with(
        &self,
        runbook: &str,
        args: &[&str],
        setup: impl FnOnce(Test) -> Test,
    ) -> Outcome {
        let test = self.test().arg("run").arg(runbook).args(args).any_status();
        let mut out = setup(test).run();
        if args.windows(2).any(|w| w == ["--output", "json"]) && out.code != 2 {
            out.parse_json();
        }
        out
    }

    /// `steward audit verify ARGS…` (any exit code).
    pub fn audit_verify(&self, args: &[&str]) -> Outcome {
        self.test()
            .args(["audit", "verify"])
            .args(args)
            .any_status()
            .run()
    }

    /// `steward ARGS…` started in the background (stdin closed, output
    /// kept), for tests that act on a run while it runs.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        self.test().args(args).spawn()
    }

    /// `steward history --output json ARGS…` (which must succeed): the runs,
    /// newest first.
    pub fn history(&self, args: &[&str]) -> Vec<Value> {
        let out = self
            .test()
            .args(["history", "--output", "json"])
            .args(args)
            .run();
        match out.stdout_json() {
            Value::Array(runs) => runs,
            other => panic!("history is not a list: {other}"),
        }
    }

    /// `steward show RUN --output json` (which must succeed).
    pub fn show(&self, run_id: &str) -> Value {
        self.test()
            .args(["show", run_id, "--output", "json"])
            .run()
            .stdout_json()
    }

    /// The ids of the runs with `status`, newest first.
    pub fn runs_with_status(&self, status: &str) -> Vec<String> {
        self.history(&["--status", status])
            .iter()
            .map(|r| r["id"].as_str().expect("a run id").to_owned())
            .collect()
    }

    /// The audit trail of a run.
    pub fn audit_path(&self, run_id: &str) -> PathBuf {
        self.path()
            .join(".steward")
            .join("runs")
            .join(run_id)
            .join("audit.jsonl")
    }

    /// The audit trail's events (the `event` of each line).
    pub fn audit_events(&self, run_id: &str) -> Vec<Value> {
        let text = fs::read_to_string(self.audit_path(run_id)).expect("read the audit trail");
        text.lines()
            .map(|l| {
                let line: Value = serde_json::from_str(l).expect("an audit line is JSON");
                line["event"].clone()
            })
            .collect()
    }

    /// Everything a secret could leak into: the command's output and every
    /// audit trail of the project.
    pub fn everything(&self, out: &Outcome) -> String {
        let mut all = out.all_output();
        for run in self.run_ids() {
            all.push_str(&fs::read_to_string(self.audit_path(&run)).unwrap_or_default());
        }
        all
    }

    /// Asserts that none of `secrets` is in [`everything`](Self::everything).
    #[track_caller]
    pub fn assert_no_leak(&self, out: &Outcome, secrets: &[&str]) {
        let all = self.everything(out);
        for secret in secrets {
            assert!(!all.contains(secret), "{secret} leaked");
        }
    }

    /// The ids of the runs that left an audit trail.
    pub fn run_ids(&self) -> Vec<String> {
        match fs::read_dir(self.path().join(".steward").join("runs")) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Copies a folder of the repository (`runbooks`, `steps`) into the
    /// project (its files, not its subfolders).
    pub fn copy_from_repo(&self, folder: &str) {
        let from = super::repo().join(folder);
        let to = self.file(folder);
        fs::create_dir_all(&to).expect("create folder");
        for entry in fs::read_dir(&from).expect("read repo folder").flatten() {
            if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                fs::copy(entry.path(), to.join(entry.file_name())).expect("copy file");
            }
        }
    }
}

/// Copies a folder with everything in it.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create folder");
    for entry in fs::read_dir(from).expect("read folder").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}
