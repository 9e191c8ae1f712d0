//! Helpers shared by the integration tests: throw-away projects, running the
//! `steward` binary in them, reading reports and audit trails, and watching
//! processes.
//!
//! Each test crate compiles this module on its own and uses a part of it.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Variables that change how `steward` behaves (CI detection, GitHub
/// annotations, project and secrets discovery). Removed from every command
/// unless a test sets them on purpose: the suite itself runs with `CI=true`.
pub const AMBIENT_VARS: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_ACTOR",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITLAB_CI",
    "GITLAB_USER_LOGIN",
    "CI_JOB_URL",
    "JENKINS_URL",
    "BUILD_USER_ID",
    "BUILD_URL",
    "BUILDKITE",
    "BUILDKITE_BUILD_CREATOR",
    "BUILDKITE_BUILD_CREATOR_EMAIL",
    "BUILDKITE_BUILD_URL",
    "STEWARD_PROJECT",
    "STEWARD_SECRETS_FILE",
    "STEWARD_STORE",
];

/// The binary under test.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_steward"))
}

/// A name unique among every test of every test binary running now.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A throw-away project: a temp folder with `runbooks/` and `steps/`,
/// removed when dropped.
pub struct Project {
    dir: TempDir,
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
        Project { dir }
    }

    /// A project with one runbook.
    pub fn with_runbook(name: &str, yaml: &str) -> Self {
        let p = Self::new();
        p.runbook(name, yaml);
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
    pub fn runbook(&self, name: &str, yaml: &str) -> &Self {
        self.write(&format!("runbooks/{name}.yaml"), yaml);
        self
    }

    /// Writes `steps/<name>.yaml`.
    pub fn step_template(&self, name: &str, yaml: &str) -> &Self {
        self.write(&format!("steps/{name}.yaml"), yaml);
        self
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

    /// `steward --project DIR`, run from the project, without CI variables.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(bin());
        cmd.current_dir(self.path())
            .arg("--project")
            .arg(self.path());
        for var in AMBIENT_VARS {
            cmd.env_remove(var);
        }
        cmd.timeout(Duration::from_secs(60));
        cmd
    }

    /// The same as a `std` command, for tests that signal the process.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(bin());
        cmd.current_dir(self.path())
            .arg("--project")
            .arg(self.path());
        for var in AMBIENT_VARS {
            cmd.env_remove(var);
        }
        cmd
    }

    /// `steward run RUNBOOK ARGS…` with text output.
    pub fn run(&self, runbook: &str, args: &[&str]) -> Outcome {
        self.run_with(runbook, args, |_| {})
    }

    /// `steward run RUNBOOK --output json ARGS…`; the report is parsed.
    pub fn run_json(&self, runbook: &str, args: &[&str]) -> Outcome {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        self.run_with(runbook, &all, |_| {})
    }

    /// `steward run RUNBOOK ARGS…`, the command adjusted by `setup` first
    /// (environment variables). Parses the report when `--output json`.
    pub fn run_with(
        &self,
        runbook: &str,
        args: &[&str],
        setup: impl FnOnce(&mut assert_cmd::Command),
    ) -> Outcome {
        let mut cmd = self.cmd();
        cmd.arg("run").arg(runbook).args(args);
        setup(&mut cmd);
        let started = Instant::now();
        let output = cmd.output().expect("run steward");
        let mut out = Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
            json: None,
        };
        if args.windows(2).any(|w| w == ["--output", "json"]) && out.code != 2 {
            out.parse_json();
        }
        out
    }

    /// `steward audit verify ARGS…`.
    pub fn audit_verify(&self, args: &[&str]) -> Outcome {
        let output = self
            .cmd()
            .arg("audit")
            .arg("verify")
            .args(args)
            .output()
            .expect("run steward audit verify");
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: Duration::ZERO,
            json: None,
        }
    }

    /// `steward ARGS…` in the project (any subcommand).
    pub fn steward(&self, args: &[&str]) -> Outcome {
        let output = self.cmd().args(args).output().expect("run steward");
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: Duration::ZERO,
            json: None,
        }
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

    /// Copies a folder of the repository (`runbooks`, `steps`) into the project.
    pub fn copy_from_repo(&self, folder: &str) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let to = self.file(folder);
        fs::create_dir_all(&to).expect("create folder");
        for entry in fs::read_dir(&from).expect("read repo folder").flatten() {
            if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                fs::copy(entry.path(), to.join(entry.file_name())).expect("copy file");
            }
        }
    }
}

/// How a `steward` command went.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time of the command.
    pub elapsed: Duration,
    /// The `--output json` report, parsed.
    pub json: Option<Value>,
}

impl Outcome {
    fn parse_json(&mut self) {
        match serde_json::from_str(&self.stdout) {
            Ok(v) => self.json = Some(v),
            Err(e) => panic!(
                "stdout is not one JSON document ({e})\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            ),
        }
    }

    /// Panics with the output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The JSON report.
    pub fn report(&self) -> &Value {
        self.json.as_ref().expect("run with --output json")
    }

    /// A step's record in the JSON report.
    pub fn step(&self, id: &str) -> &Value {
        let step = &self.report()["steps"][id];
        assert!(
            step.is_object(),
            "no step `{id}` in the report:\n{:#}",
            self.report()
        );
        step
    }

    /// A step's status.
    pub fn status(&self, id: &str) -> &str {
        self.step(id)["status"].as_str().unwrap_or("?")
    }

    /// A step's attempts.
    pub fn attempts(&self, id: &str) -> u64 {
        self.step(id)["attempts"].as_u64().expect("attempts")
    }

    /// A step's error, or "".
    pub fn error(&self, id: &str) -> &str {
        self.step(id)["error"].as_str().unwrap_or("")
    }

    /// The run's status.
    pub fn run_status(&self) -> &str {
        self.report()["status"].as_str().unwrap_or("?")
    }

    /// The run id.
    pub fn run_id(&self) -> String {
        self.report()["run_id"].as_str().expect("run_id").to_owned()
    }

    /// Everything the command printed, for leak checks.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Polls `check` every 20 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process is alive (exists and is not a zombie).
pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .and_then(|s| s.chars().next());
            !matches!(state, Some('Z' | 'X'))
        }
        Err(_) if Path::new("/proc/self").exists() => false,
        Err(_) => nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok(),
    }
}

/// Reads a PID a step wrote to a file.
pub fn read_pid(path: &Path) -> i32 {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{} holds {text:?}, not a pid: {e}", path.display()))
}

/// Asserts that a process is gone within a few seconds.
pub fn assert_gone(pid: i32, what: &str) {
    assert!(
        wait_until(Duration::from_secs(5), || !pid_alive(pid)),
        "{what} (pid {pid}) is still running"
    );
}

/// Kills, on drop, the processes whose PIDs the test learned (steps' own
/// children), if a failed assertion left them running. Only PIDs whose
/// command line still holds `marker` are killed, so a recycled PID is safe.
pub struct ProcessGuard {
    pids: Vec<(i32, String)>,
}

impl ProcessGuard {
    /// Nothing to kill yet.
    pub fn new() -> Self {
        ProcessGuard { pids: Vec::new() }
    }

    /// Kill `pid` at the end if it still runs `marker`.
    pub fn watch(&mut self, pid: i32, marker: &str) {
        self.pids.push((pid, marker.to_owned()));
    }
}

impl Default for ProcessGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        for (pid, marker) in &self.pids {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if pid_alive(*pid) && cmdline.contains(marker.as_str()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// A `steward` process started in the background, killed (by its PID) if
/// the test ends before it does.
pub struct Background {
    /// The process.
    pub child: Child,
    /// Where its stdout goes.
    pub stdout: PathBuf,
    /// Where its stderr goes.
    pub stderr: PathBuf,
}

impl Background {
    /// Starts `steward run RUNBOOK ARGS…` in `project`, output to files
    /// outside `runbooks/`.
    pub fn run(project: &Project, runbook: &str, args: &[&str]) -> Self {
        let stdout = project.file("bg-stdout.txt");
        let stderr = project.file("bg-stderr.txt");
        let child = project
            .std_cmd()
            .arg("run")
            .arg(runbook)
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("create stdout file"))
            .stderr(fs::File::create(&stderr).expect("create stderr file"))
            .spawn()
            .expect("start steward");
        Background {
            child,
            stdout,
            stderr,
        }
    }

    /// The process id.
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Sends a signal.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).expect("signal steward");
    }

    /// Waits for the exit (at most `limit`) and returns the outcome.
    pub fn wait(&mut self, limit: Duration) -> Outcome {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for steward") {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "steward did not end within {limit:?}\n--- stderr\n{}",
                    fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Outcome {
            code: status.code().unwrap_or(-1),
            stdout: fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: fs::read_to_string(&self.stderr).unwrap_or_default(),
            elapsed: started.elapsed(),
            json: None,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A file outside the project (e.g. in `/tmp`), removed on drop.
pub struct OutsideFile(pub PathBuf);

impl OutsideFile {
    /// A unique path in the system temp folder; nothing is created.
    pub fn new(prefix: &str) -> Self {
        OutsideFile(std::env::temp_dir().join(unique(prefix)))
    }
}

impl Drop for OutsideFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

impl Project {
    /// `steward ARGS…` started in the background (stdin closed, output
    /// kept), for tests that act on a run while it runs. Killed if the test
    /// ends without [`finish`]ing it, so a failing test leaves no process.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        let child = self
            .std_cmd()
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start steward");
        Spawned(Some(child))
    }
}

/// A steward started by [`Project::spawn`].
pub struct Spawned(Option<std::process::Child>);

impl From<std::process::Child> for Spawned {
    fn from(child: std::process::Child) -> Self {
        Spawned(Some(child))
    }
}

impl Spawned {
    /// Its process id.
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, std::process::Child::id)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `check` every 50 ms until it holds; panics after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for a background steward to end (bounded); its exit code and output.
pub fn finish(mut spawned: Spawned, limit: Duration) -> Outcome {
    let child = spawned.0.take().expect("a running steward");
    let pid = child.id();
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for steward"),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("steward (pid {pid}) did not end within {limit:?}");
        }
    };
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
        json: None,
    }
}
