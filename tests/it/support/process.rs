//! Processes: stewards running in the background, waiting for something to
//! happen, and making sure no process a test started outlives it.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Outcome, unique};

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

/// Polls `check` every 50 ms until it holds; panics after `limit`.
#[track_caller]
pub fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
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
        Err(_) => kill(Pid::from_raw(pid), None).is_ok(),
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
#[track_caller]
pub fn assert_gone(pid: i32, what: &str) {
    assert!(
        wait_until(Duration::from_secs(5), || !pid_alive(pid)),
        "{what} (pid {pid}) is still running"
    );
}

/// Kills, on drop, the processes whose PIDs the test learned (steps' own
/// children), if a failed assertion left them running. Only PIDs whose
/// command line still holds `marker` are killed, so a recycled PID is safe.
#[derive(Default)]
pub struct ProcessGuard {
    pids: Vec<(i32, String)>,
}

impl ProcessGuard {
    /// Nothing to kill yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Kill `pid` at the end if it still runs `marker`.
    pub fn watch(&mut self, pid: i32, marker: &str) {
        self.pids.push((pid, marker.to_owned()));
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        for (pid, marker) in &self.pids {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if pid_alive(*pid) && cmdline.contains(marker.as_str()) {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            }
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

/// One output stream of a [`Spawned`] process, read by a thread as it
/// comes (so the pipe never fills), until its end.
struct Drain {
    text: Arc<Mutex<Vec<u8>>>,
    /// Disconnected when the thread has read the end of the stream.
    ended: mpsc::Receiver<()>,
}

impl Drain {
    fn start(mut from: impl Read + Send + 'static) -> Self {
        let text = Arc::new(Mutex::new(Vec::new()));
        let into = text.clone();
        let (done, ended) = mpsc::channel();
        std::thread::spawn(move || {
            let _done = done;
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                into.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Drain { text, ended }
    }

    /// Whether the stream ended by `deadline` (every writer closed it).
    fn wait_end(&self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        matches!(
            self.ended.recv_timeout(left),
            Err(mpsc::RecvTimeoutError::Disconnected)
        )
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }
}

/// A process started in the background (a `steward`, mostly), its output
/// collected as it comes. Killed (by its PID) if the test ends before it
/// was waited for, so a failing test leaves no process behind.
pub struct Spawned {
    child: Option<Child>,
    stdout: Drain,
    stderr: Drain,
}

impl Spawned {
    /// Starts `cmd` with its stdout and stderr collected, and `stdin`
    /// written to its standard input (closed: no input at all).
    pub fn start(mut cmd: Command, stdin: Option<&[u8]>) -> Self {
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()));
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A process that exits without reading its input is no error.
            let _ = pipe.write_all(input);
        }
        let stdout = Drain::start(child.stdout.take().expect("piped stdout"));
        let stderr = Drain::start(child.stderr.take().expect("piped stderr"));
        Spawned {
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends it a signal.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.id() as i32), signal).expect("signal the process");
    }

    /// What it printed on stderr so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.text()
    }

    /// Waits (at most `limit`, then kills it and panics) for it to end and
    /// for its output to close; its exit code and output, `elapsed`
    /// counted from this call.
    #[track_caller]
    pub fn wait(mut self, limit: Duration) -> Outcome {
        let mut child = self.child.take().expect("a running process");
        let pid = child.id();
        let started = Instant::now();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(limit) {
            Ok(status) => status.expect("wait for the process"),
            Err(_) => {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                panic!(
                    "pid {pid} did not end within {limit:?}\n--- stdout\n{}\n--- stderr\n{}",
                    self.stdout.text(),
                    self.stderr.text()
                );
            }
        };
        let deadline = started + limit;
        assert!(
            self.stdout.wait_end(deadline) && self.stderr.wait_end(deadline),
            "pid {pid} ended, but its output was still open after {limit:?} (a process it \
             started holds it)\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout.text(),
            self.stderr.text()
        );
        Outcome {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
            elapsed: started.elapsed(),
            json: None,
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
