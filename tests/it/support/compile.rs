//! Helpers for the compiler and CLI tests: throw-away projects and running
//! the `steward` binary in them with a predictable environment.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// Variables that change where `steward` looks or how it prints; removed
/// from every command unless a test sets them.
const AMBIENT: &[&str] = &[
    "STEWARD_PROJECT",
    "STEWARD_SECRETS_FILE",
    "CLICOLOR_FORCE",
    "CLICOLOR",
    "GITHUB_ACTIONS",
    "CI",
];

/// A step template used by the tests, fixed here so that the snapshots don't
/// change with the repository's own `steps/`.
pub const RETRY_UNTIL: &str = "\
description: Run a command until it succeeds.
params:
  command: { required: true, description: The command to run. }
  attempts: { default: 5 }
  delay: { default: 200ms }
step:
  shell: \"{{ params.command | raw }}\"
  retry: { attempts: \"{{ params.attempts }}\", delay: \"{{ params.delay }}\", backoff: fixed }
";

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Output {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// `steward ARGS` in `dir`, without colours and ambient settings.
pub fn steward_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_steward"));
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1");
    for var in AMBIENT {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs a command to its end.
pub fn output(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run steward");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `steward ARGS` run in `dir`.
pub fn steward(dir: &Path, args: &[&str]) -> Output {
    output(steward_cmd(dir, args))
}

/// A throw-away project with `runbooks/` and `steps/retry-until.yaml`.
pub struct Project {
    dir: TempDir,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    /// A project with the test's step template.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("steward-compile-")
            .tempdir()
            .expect("create a temp project");
        fs::create_dir_all(dir.path().join("runbooks")).expect("create runbooks/");
        fs::create_dir_all(dir.path().join("steps")).expect("create steps/");
        let project = Project { dir };
        project.write("steps/retry-until.yaml", RETRY_UNTIL);
        project
    }

    /// The project folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file under the project (creating its folder).
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create folder");
        }
        fs::write(&path, text).expect("write file");
        path
    }

    /// Writes `runbooks/<name>.yaml`.
    pub fn runbook(&self, name: &str, text: &str) -> PathBuf {
        self.write(&format!("runbooks/{name}.yaml"), text)
    }

    /// `steward ARGS` in the project folder.
    pub fn steward(&self, args: &[&str]) -> Output {
        steward(self.path(), args)
    }
}
