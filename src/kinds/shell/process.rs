//! Runs a child process for the `shell` step.
//!
//! The child gets its own process group, a null stdin, and piped stdout and
//! stderr, which are streamed line by line to an optional sink while the last
//! [`ProcessSpec::capture_limit`] bytes of each are kept.
//!
//! A step's processes never outlive it. When the timeout fires or the run is
//! cancelled, the whole group gets `SIGTERM`, then after
//! [`ProcessSpec::kill_grace`] `SIGKILL`. When the direct child exits on its
//! own, whatever it left running in its group (background jobs) is terminated
//! the same way; output is read until every writer is gone. A process that
//! escaped the group (`setsid`) but still holds a pipe cannot make
//! [`run`] hang: reading stops a short while after the group is dead. If the
//! future returned by [`run`] is dropped, the group is killed with `SIGKILL`.

mod group;
mod stream;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use group::{GroupGuard, drain_group, signal_group};
use stream::{SharedTail, TailBuffer, pump, snapshot};

/// Bytes of each stream kept by default: 1 MiB.
pub const DEFAULT_CAPTURE_LIMIT: usize = 1024 * 1024;

/// Time between `SIGTERM` and `SIGKILL` by default.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// What to run and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// The program, looked up in `PATH` unless it contains a `/`.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Working directory; the current one when `None`.
    pub cwd: Option<PathBuf>,
    /// Variables added to (or overriding) the inherited environment.
    pub env: Vec<(String, String)>,
    /// Kill the process group after this long.
    pub timeout: Option<Duration>,
    /// Bytes kept per stream: the last ones.
    pub capture_limit: usize,
    /// Time between `SIGTERM` and `SIGKILL` to the group.
    pub kill_grace: Duration,
}

impl ProcessSpec {
    /// Runs `program` with no arguments and the defaults.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            timeout: None,
            capture_limit: DEFAULT_CAPTURE_LIMIT,
            kill_grace: DEFAULT_KILL_GRACE,
        }
    }

    /// Runs `script` with `bash -eo pipefail -c`, the `shell` step's default.
    pub fn bash(script: impl Into<String>) -> Self {
        let mut spec = Self::new("bash");
        spec.args = vec!["-eo".into(), "pipefail".into(), "-c".into(), script.into()];
        spec
    }
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of live output, without its line terminator. Invalid UTF-8 is
/// replaced lossily; a line longer than 64 KiB arrives in several pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    /// Where it was written.
    pub stream: Stream,
    /// The text.
    pub line: String,
}

/// Why the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited (or was killed by a signal) on its own.
    Exited,
    /// The timeout fired and the group was killed.
    TimedOut,
    /// The run was cancelled and the group was killed.
    Cancelled,
}

/// How a run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOutcome {
    /// The exit code, when the process exited normally.
    pub exit_code: Option<i32>,
    /// The signal that killed the process, if one did.
    pub signal: Option<i32>,
    /// The last `capture_limit` bytes of stdout.
    pub stdout: String,
    /// The last `capture_limit` bytes of stderr.
    pub stderr: String,
    /// Whether the head of stdout was dropped.
    pub stdout_truncated: bool,
    /// Whether the head of stderr was dropped.
    pub stderr_truncated: bool,
    /// From spawn to the end of output.
    pub duration: Duration,
    /// Why it ended.
    pub ended: Ended,
}

impl ProcessOutcome {
    /// Whether it exited on its own with code 0.
    pub fn success(&self) -> bool {
        self.ended == Ended::Exited && self.exit_code == Some(0)
    }
}

/// Why a process could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started.
    #[error("cannot start `{}`: {reason}", program.display())]
    Spawn {
        /// The program as given.
        program: PathBuf,
        /// A short explanation for the operator.
        reason: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The working directory is unusable.
    #[error("working directory `{}` does not exist or is not a directory", path.display())]
    Cwd {
        /// The directory as given.
        path: PathBuf,
    },
    /// Waiting for or signalling the process failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Runs `spec` to completion, timeout or cancellation.
///
/// Lines are sent to `sink` as they are read. `cancel` is any future that
/// completes when the run should be cancelled (for example
/// `async move { let _ = rx.wait_for(|c| *c).await; }` on a
/// `tokio::sync::watch::Receiver<bool>`; pass `std::future::pending()` for
/// never). A non-zero exit is an `Ok` outcome, not an error.
pub async fn run<C>(
    spec: &ProcessSpec,
    sink: Option<UnboundedSender<OutputLine>>,
    cancel: C,
) -> Result<ProcessOutcome, ProcessError>
where
    C: Future<Output = ()>,
{
    if let Some(cwd) = &spec.cwd {
        let is_dir = tokio::fs::metadata(cwd).await.is_ok_and(|m| m.is_dir());
        if !is_dir {
            return Err(ProcessError::Cwd { path: cwd.clone() });
        }
    }
    let started = Instant::now();
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let mut child = command
        .spawn()
        .map_err(|source| spawn_error(spec, source))?;
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw)
        .ok_or_else(|| io_error("the started process has no pid", io::ErrorKind::Other))?;
    let mut guard = GroupGuard { pgid, armed: true };

    let (stdout, stderr) = match (child.stdout.take(), child.stderr.take()) {
        (Some(out), Some(err)) => (out, err),
        _ => {
            return Err(io_error(
                "the process has no output pipes",
                io::ErrorKind::BrokenPipe,
            ));
        }
    };
    let out_tail: SharedTail = Arc::new(Mutex::new(TailBuffer::new(spec.capture_limit)));
    let err_tail: SharedTail = Arc::new(Mutex::new(TailBuffer::new(spec.capture_limit)));
    let readers = [
        tokio::spawn(pump(stdout, Stream::Stdout, out_tail.clone(), sink.clone())),
        tokio::spawn(pump(stderr, Stream::Stderr, err_tail.clone(), sink)),
    ];

    let (ended, status, term_deadline) = wait_child(spec, &mut child, pgid, cancel).await?;
    drain_group(pgid, term_deadline, spec.kill_grace, readers).await;
    guard.armed = false;

    let (stdout, stdout_truncated) = snapshot(&out_tail);
    let (stderr, stderr_truncated) = snapshot(&err_tail);
    Ok(ProcessOutcome {
        exit_code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        duration: started.elapsed(),
        ended,
    })
}

/// Waits for the direct child, or terminates its group on timeout or
/// cancellation. Returns when the child was reaped, with the deadline of the
/// `SIGTERM` grace if one was sent.
async fn wait_child<C>(
    spec: &ProcessSpec,
    child: &mut Child,
    pgid: Pid,
    cancel: C,
) -> Result<(Ended, ExitStatus, Option<Instant>), ProcessError>
where
    C: Future<Output = ()>,
{
    enum Trigger {
        Exited(io::Result<ExitStatus>),
        Timeout,
        Cancel,
    }
    let timeout = async {
        match spec.timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    let trigger = tokio::select! {
        biased;
        status = child.wait() => Trigger::Exited(status),
        () = timeout => Trigger::Timeout,
        () = cancel => Trigger::Cancel,
    };
    let ended = match trigger {
        Trigger::Exited(status) => {
            let status = status.map_err(|source| ProcessError::Io {
                context: "waiting for the process failed",
                source,
            })?;
            return Ok((Ended::Exited, status, None));
        }
        Trigger::Timeout => Ended::TimedOut,
        Trigger::Cancel => Ended::Cancelled,
    };
    signal_group(pgid, Signal::SIGTERM);
    let deadline = Instant::now() + spec.kill_grace;
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            signal_group(pgid, Signal::SIGKILL);
            child.wait().await
        }
    };
    let status = status.map_err(|source| ProcessError::Io {
        context: "waiting for the killed process failed",
        source,
    })?;
    Ok((ended, status, Some(deadline)))
}

fn spawn_error(spec: &ProcessSpec, source: io::Error) -> ProcessError {
    let reason = match source.kind() {
        io::ErrorKind::NotFound => "not found (is it installed and on PATH?)".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied (is it executable?)".to_owned(),
        _ => source.to_string(),
    };
    ProcessError::Spawn {
        program: spec.program.clone(),
        reason,
        source,
    }
}

fn io_error(context: &'static str, kind: io::ErrorKind) -> ProcessError {
    ProcessError::Io {
        context,
        source: io::Error::new(kind, context),
    }
}
