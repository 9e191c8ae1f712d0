//! Process-group handling: terminating, watching and reaping a step's group.

use std::pin::pin;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long output is still read once the process group is dead.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);

/// Polling period while waiting for a process group to empty.
const POLL: Duration = Duration::from_millis(20);

/// After the direct child was reaped: terminates what is left in its group
/// (`SIGTERM`, unless already sent, then `SIGKILL` at the grace deadline) and
/// lets the readers finish, abandoning them if a process outside the group
/// keeps a pipe open.
pub(super) async fn drain_group(
    pgid: Pid,
    term_deadline: Option<Instant>,
    grace: Duration,
    readers: [JoinHandle<()>; 2],
) {
    let aborts = readers.each_ref().map(|r| r.abort_handle());
    let [out, err] = readers;
    let mut readers = pin!(async move {
        // A reader only ends by itself; a join error means it panicked,
        // which loses nothing more than its output.
        let _ = out.await;
        let _ = err.await;
    });
    let mut deadline = match term_deadline {
        Some(deadline) => deadline,
        None => {
            if group_alive(pgid) {
                signal_group(pgid, Signal::SIGTERM);
            }
            Instant::now() + grace
        }
    };
    let mut readers_done = false;
    let mut killed = false;
    loop {
        if readers_done {
            tokio::time::sleep(POLL).await;
        } else {
            readers_done = tokio::time::timeout(POLL, readers.as_mut()).await.is_ok();
        }
        let alive = group_alive(pgid);
        if readers_done && !alive {
            return;
        }
        if Instant::now() < deadline {
            continue;
        }
        if killed {
            break;
        }
        if alive {
            signal_group(pgid, Signal::SIGKILL);
        }
        killed = true;
        deadline = Instant::now() + DRAIN_TIMEOUT;
    }
    if !readers_done {
        tracing::warn!(
            pgid = pgid.as_raw(),
            "a process outside the step's process group keeps its output open; output after this point is lost"
        );
        for abort in aborts {
            abort.abort();
        }
    }
}

/// Sends `signal` to the group; a group that is already gone is fine.
pub(super) fn signal_group(pgid: Pid, signal: Signal) {
    match killpg(pgid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(err) => {
            tracing::warn!(pgid = pgid.as_raw(), ?signal, error = %err, "signalling process group failed")
        }
    }
}

/// Whether a live (not zombie) process is left in the group.
fn group_alive(pgid: Pid) -> bool {
    match killpg(pgid, None) {
        Err(Errno::ESRCH) => false,
        // Zombies answer too, and are never reaped where init does not reap
        // orphans (containers): look closer where we can.
        Ok(()) if cfg!(target_os = "linux") => live_member_in_proc(pgid.as_raw()),
        _ => true,
    }
}

/// Scans `/proc` for a process of group `pgid` that is not a zombie. If
/// `/proc` cannot be read, assumes there is one.
fn live_member_in_proc(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let is_pid = name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        is_pid
            && std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|stat| parse_stat(&stat))
                .is_some_and(|(state, pgrp)| pgrp == pgid && !matches!(state, 'Z' | 'X'))
    })
}

/// The state and process group from a `/proc/<pid>/stat` line
/// (`pid (comm) state ppid pgrp …`; `comm` may hold spaces and parentheses).
pub(super) fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Kills the group if [`run`](super::run) is abandoned before it finished.
pub(super) struct GroupGuard {
    pub(super) pgid: Pid,
    pub(super) armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pgid, Signal::SIGKILL);
        }
    }
}
