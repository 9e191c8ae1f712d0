//! [`Test`]: one `steward` command and what it must do, in the manner of
//! just's `Test`:
//!
//! ```ignore
//! let out = Test::new()
//!     .runbook("deploy", DEPLOY)
//!     .args(["run", "deploy", "-i", "version=1.2.3"])
//!     .env("DEPLOY_TOKEN", "t0k3n")
//!     .status(1)
//!     .stderr_contains("step `ship` failed")
//!     .run();
//! ```
//!
//! runs `steward --project DIR run deploy …` in a fresh project without the
//! ambient CI variables, checks the exit code and the output, and returns
//! the [`Outcome`] for further checks.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{AMBIENT_VARS, Outcome, Project, Spawned, bin};

/// One `steward` command in a project, and what it must do.
#[must_use = "a Test does nothing until `run` or `spawn`"]
pub struct Test {
    project: Project,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    dir: Option<PathBuf>,
    project_flag: bool,
    status: Option<i32>,
    stdout: Option<String>,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
    timeout: Duration,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    /// A command in a fresh, empty project.
    pub fn new() -> Self {
        Self::in_project(Project::new())
    }

    /// A command in `project`: `steward --project DIR`, run from its
    /// folder, expected to exit 0 within a minute.
    pub fn in_project(project: Project) -> Self {
        Test {
            project,
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            project_flag: true,
            status: Some(0),
            stdout: None,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
            timeout: Duration::from_secs(60),
        }
    }

    /// The project the command runs in.
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// Writes `runbooks/<name>.yaml`.
    pub fn runbook(self, name: &str, yaml: &str) -> Self {
        self.project.runbook(name, yaml);
        self
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// More arguments.
    pub fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((name.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        vars.into_iter().fold(self, |t, (k, v)| t.env(k, v))
    }

    /// Removes an environment variable the test process has.
    pub fn env_remove(mut self, name: impl AsRef<OsStr>) -> Self {
        self.env.push((name.as_ref().to_owned(), None));
        self
    }

    /// Runs the command from `dir` instead of the project's folder.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Leaves `--project DIR` out: `steward` finds the project from the
    /// folder it runs in (or `STEWARD_PROJECT`), as when an operator types it.
    pub fn find_project(mut self) -> Self {
        self.project_flag = false;
        self
    }

    /// The exit code it must end with (0 unless said).
    pub fn status(mut self, code: i32) -> Self {
        self.status = Some(code);
        self
    }

    /// Any exit code will do; the test checks [`Outcome::code`] itself.
    pub fn any_status(mut self) -> Self {
        self.status = None;
        self
    }

    /// Exactly what it must print on stdout.
    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = Some(text.to_owned());
        self
    }

    /// Something its stdout must contain.
    pub fn stdout_contains(mut self, text: &str) -> Self {
        self.stdout_contains.push(text.to_owned());
        self
    }

    /// Something its stderr must contain.
    pub fn stderr_contains(mut self, text: &str) -> Self {
        self.stderr_contains.push(text.to_owned());
        self
    }

    /// How long it may take before it is killed and the test fails (a
    /// minute unless said).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// The command itself, for a test that drives the process on its own.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.current_dir(self.dir.as_deref().unwrap_or(self.project.path()));
        if self.project_flag {
            cmd.arg("--project").arg(self.project.path());
        }
        cmd.args(&self.args);
        for var in AMBIENT_VARS {
            cmd.env_remove(var);
        }
        for (name, value) in &self.env {
            match value {
                Some(value) => cmd.env(name, value),
                None => cmd.env_remove(name),
            };
        }
        cmd
    }

    /// Starts the command in the background; the expectations are not
    /// checked (wait for it with [`Spawned::wait`]).
    pub fn spawn(self) -> Spawned {
        Spawned::start(self.command(), None)
    }

    /// Runs the command to its end, checks the exit code and the output,
    /// and returns the outcome. A failed check shows all the output.
    #[track_caller]
    pub fn run(self) -> Outcome {
        let out = Spawned::start(self.command(), None).wait(self.timeout);
        let show = || {
            format!(
                "`steward {}`\n--- stdout\n{}\n--- stderr\n{}",
                self.args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                out.stdout,
                out.stderr
            )
        };
        if let Some(code) = self.status {
            assert_eq!(out.code, code, "exit code of {}", show());
        }
        if let Some(stdout) = &self.stdout {
            assert_eq!(&out.stdout, stdout, "stdout of {}", show());
        }
        for text in &self.stdout_contains {
            assert!(
                out.stdout.contains(text),
                "no {text:?} on stdout of {}",
                show()
            );
        }
        for text in &self.stderr_contains {
            assert!(
                out.stderr.contains(text),
                "no {text:?} on stderr of {}",
                show()
            );
        }
        out
    }
}
