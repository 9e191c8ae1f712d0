use std::future::pending;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use tokio::sync::mpsc::unbounded_channel;

use super::group::parse_stat;
use super::stream::{LineSplitter, MAX_LINE, TailBuffer};
use super::*;

fn bash(script: &str) -> ProcessSpec {
    ProcessSpec::bash(script)
}

async fn run_plain(spec: &ProcessSpec) -> ProcessOutcome {
    run(spec, None, pending()).await.expect("process runs")
}

/// Dead means gone, or a zombie waiting for a parent that is not us.
fn is_dead(pid: i32) -> bool {
    match kill(Pid::from_raw(pid), None) {
        Err(Errno::ESRCH) => true,
        _ => std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
            .is_none_or(|(state, _)| state == 'Z' || state == 'X'),
    }
}

async fn assert_dies(pid: i32) {
    for _ in 0..250 {
        if is_dead(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    panic!("process {pid} survived the step");
}

async fn read_pid(file: &Path) -> i32 {
    for _ in 0..250 {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no pid written to {}", file.display());
}

#[tokio::test]
async fn captures_stdout_and_streams_lines_in_order() {
    let (tx, mut rx) = unbounded_channel();
    let spec = bash("echo one; echo two; printf three");
    let outcome = run(&spec, Some(tx), pending()).await.expect("runs");
    assert!(outcome.success());
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.signal, None);
    assert_eq!(outcome.stdout, "one\ntwo\nthree");
    assert!(!outcome.stdout_truncated);
    let mut lines = Vec::new();
    while let Ok(line) = rx.try_recv() {
        lines.push(line);
    }
    let expected: Vec<_> = ["one", "two", "three"]
        .into_iter()
        .map(|l| OutputLine {
            stream: Stream::Stdout,
            line: l.into(),
        })
        .collect();
    assert_eq!(lines, expected);
}

#[tokio::test]
async fn reports_exit_codes() {
    let outcome = run_plain(&bash("echo before; exit 3")).await;
    assert_eq!(outcome.exit_code, Some(3));
    assert_eq!(outcome.ended, Ended::Exited);
    assert!(!outcome.success());
    // -e: the first failing command ends the script.
    let outcome = run_plain(&bash("false; echo unreachable")).await;
    assert_eq!(outcome.exit_code, Some(1));
    assert_eq!(outcome.stdout, "");
    // pipefail: a failure inside a pipeline counts.
    let outcome = run_plain(&bash("false | cat")).await;
    assert_eq!(outcome.exit_code, Some(1));
}

#[tokio::test]
async fn reports_the_killing_signal() {
    let outcome = run_plain(&bash("kill -KILL $$")).await;
    assert_eq!(outcome.exit_code, None);
    assert_eq!(outcome.signal, Some(9));
    assert_eq!(outcome.ended, Ended::Exited);
}

#[tokio::test]
async fn separates_stderr() {
    let (tx, mut rx) = unbounded_channel();
    let spec = bash("echo out; echo err >&2");
    let outcome = run(&spec, Some(tx), pending()).await.expect("runs");
    assert_eq!(outcome.stdout, "out\n");
    assert_eq!(outcome.stderr, "err\n");
    let mut lines = Vec::new();
    while let Ok(line) = rx.try_recv() {
        lines.push(line);
    }
    assert!(lines.contains(&OutputLine {
        stream: Stream::Stderr,
        line: "err".into()
    }));
    assert!(lines.contains(&OutputLine {
        stream: Stream::Stdout,
        line: "out".into()
    }));
}

#[tokio::test]
async fn applies_env_and_cwd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = bash("echo \"$STEWARD_TEST_VAR\"; pwd; echo \"${HOME:+inherited}\"");
    spec.env = vec![("STEWARD_TEST_VAR".into(), "hello world".into())];
    spec.cwd = Some(dir.path().to_path_buf());
    let outcome = run_plain(&spec).await;
    let real = dir.path().canonicalize().expect("canonical");
    assert_eq!(
        outcome.stdout,
        format!("hello world\n{}\ninherited\n", real.display())
    );
}

#[tokio::test]
async fn keeps_the_tail_of_large_output() {
    let mut spec = bash("head -c 300000 /dev/zero | tr '\\0' a; printf END; echo oops >&2");
    spec.capture_limit = 1000;
    let outcome = run_plain(&spec).await;
    assert!(outcome.success());
    assert_eq!(outcome.stdout.len(), 1000);
    assert!(outcome.stdout.ends_with("aaaEND"));
    assert!(outcome.stdout_truncated);
    assert_eq!(outcome.stderr, "oops\n");
    assert!(!outcome.stderr_truncated);
}

#[tokio::test]
async fn missing_interpreter_names_the_program() {
    let spec = ProcessSpec::new("steward-no-such-interpreter");
    let err = run(&spec, None, pending()).await.expect_err("cannot start");
    assert!(matches!(err, ProcessError::Spawn { .. }));
    let message = err.to_string();
    assert!(
        message.contains("`steward-no-such-interpreter`"),
        "{message}"
    );
    assert!(message.contains("not found"), "{message}");
}

#[tokio::test]
async fn missing_cwd_is_reported_as_such() {
    let mut spec = bash("true");
    spec.cwd = Some("/nonexistent/steward/dir".into());
    let err = run(&spec, None, pending()).await.expect_err("bad cwd");
    assert!(
        err.to_string().contains("/nonexistent/steward/dir"),
        "{err}"
    );
    assert!(matches!(err, ProcessError::Cwd { .. }));
}

#[tokio::test]
async fn timeout_kills_the_whole_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("bg.pid");
    let mut spec = bash(&format!(
        "sleep 300 & echo $! > '{}'; echo started; sleep 300",
        pidfile.display()
    ));
    spec.timeout = Some(Duration::from_secs(1));
    let outcome = run_plain(&spec).await;
    assert_eq!(outcome.ended, Ended::TimedOut);
    assert_eq!(outcome.signal, Some(15));
    assert_eq!(outcome.stdout, "started\n");
    assert!(outcome.duration >= Duration::from_secs(1));
    assert!(
        outcome.duration < Duration::from_secs(10),
        "{:?}",
        outcome.duration
    );
    assert_dies(read_pid(&pidfile).await).await;
}

#[tokio::test]
async fn cancellation_kills_the_whole_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("bg.pid");
    let spec = bash(&format!(
        "sleep 300 & echo $! > '{}'; sleep 300",
        pidfile.display()
    ));
    let (cancel_tx, mut cancel_rx) = tokio::sync::watch::channel(false);
    let cancel = async move {
        let _ = cancel_rx.wait_for(|cancelled| *cancelled).await;
    };
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = cancel_tx.send(true);
    });
    let outcome = run(&spec, None, cancel).await.expect("runs");
    canceller.await.expect("canceller");
    assert_eq!(outcome.ended, Ended::Cancelled);
    assert!(!outcome.success());
    assert_dies(read_pid(&pidfile).await).await;
}

#[tokio::test]
async fn escalates_to_sigkill_when_sigterm_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("bg.pid");
    let mut spec = bash(&format!(
        "trap '' TERM; sleep 300 & echo $! > '{}'; sleep 300",
        pidfile.display()
    ));
    spec.timeout = Some(Duration::from_millis(500));
    spec.kill_grace = Duration::from_millis(300);
    let outcome = run_plain(&spec).await;
    assert_eq!(outcome.ended, Ended::TimedOut);
    assert_eq!(outcome.signal, Some(9));
    assert!(
        outcome.duration < Duration::from_secs(5),
        "{:?}",
        outcome.duration
    );
    assert_dies(read_pid(&pidfile).await).await;
}

#[tokio::test]
async fn background_jobs_do_not_outlive_a_finished_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("bg.pid");
    // The background sleep keeps stdout open: reading must still end.
    let spec = bash(&format!(
        "sleep 300 & echo $! > '{}'; echo done",
        pidfile.display()
    ));
    let outcome = run_plain(&spec).await;
    assert!(outcome.success());
    assert_eq!(outcome.stdout, "done\n");
    assert!(
        outcome.duration < Duration::from_secs(5),
        "{:?}",
        outcome.duration
    );
    assert_dies(read_pid(&pidfile).await).await;
}

#[tokio::test]
async fn a_process_escaping_the_group_cannot_hang_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("escaped.pid");
    // Wait for the pid file, or the group's SIGTERM may hit it before setsid.
    let mut spec = bash(&format!(
        "setsid sh -c 'echo $$ > \"{0}\"; exec sleep 30' & \
         while [ ! -s '{0}' ]; do sleep 0.01; done; echo done",
        pidfile.display()
    ));
    spec.kill_grace = Duration::from_millis(200);
    let outcome = run_plain(&spec).await;
    let escaped = read_pid(&pidfile).await;
    let _ = kill(Pid::from_raw(escaped), nix::sys::signal::Signal::SIGKILL);
    assert!(outcome.success());
    assert_eq!(outcome.stdout, "done\n");
    assert!(
        outcome.duration < Duration::from_secs(5),
        "{:?}",
        outcome.duration
    );
}

#[tokio::test]
async fn dropping_the_run_kills_the_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("bg.pid");
    let spec = bash(&format!(
        "sleep 300 & echo $! > '{}'; sleep 300",
        pidfile.display()
    ));
    let pid_wait = read_pid(&pidfile);
    let abandoned =
        tokio::time::timeout(Duration::from_millis(500), run(&spec, None, pending())).await;
    assert!(abandoned.is_err(), "the run should still be going");
    assert_dies(pid_wait.await).await;
}

#[test]
fn tail_buffer_keeps_the_last_bytes_on_a_char_boundary() {
    let mut tail = TailBuffer::new(5);
    tail.push("ab".as_bytes());
    assert_eq!(tail.snapshot(), ("ab".to_owned(), false));
    tail.push("cdé€".as_bytes()); // a b c d é(2) €(3) = 9 bytes
    let (text, truncated) = tail.snapshot();
    assert!(truncated);
    // The last 5 bytes are é and €; nothing partial at the start.
    assert_eq!(text, "é€");
    tail.push(&[b'x'; 100_000]);
    assert_eq!(tail.snapshot(), ("xxxxx".to_owned(), true));

    let mut none = TailBuffer::new(0);
    none.push(b"data");
    assert_eq!(none.snapshot(), (String::new(), true));
}

#[test]
fn tail_buffer_skips_a_cut_sequence() {
    let mut tail = TailBuffer::new(3);
    tail.push("a€b".as_bytes()); // 61 e2 82 ac 62: the last 3 start mid-€
    assert_eq!(tail.snapshot(), ("b".to_owned(), true));
}

#[test]
fn line_splitter_handles_crlf_partial_and_overlong_lines() {
    let mut lines = Vec::new();
    let mut emit = |l: String| lines.push(l);
    let mut splitter = LineSplitter::default();
    splitter.feed(b"a\r\nb", &mut emit);
    splitter.feed(b"c\n\nd", &mut emit);
    splitter.finish(&mut emit);
    assert_eq!(lines, ["a", "bc", "", "d"]);

    let mut pieces = Vec::new();
    let mut emit = |l: String| pieces.push(l);
    let mut splitter = LineSplitter::default();
    let long = "é".repeat(MAX_LINE); // 2 bytes each: MAX_LINE is not on a boundary after 1 byte shift
    splitter.feed(b"x", &mut emit);
    splitter.feed(long.as_bytes(), &mut emit);
    splitter.feed(b"\n", &mut emit);
    splitter.finish(&mut emit);
    assert!(pieces.len() >= 2);
    assert!(
        pieces
            .iter()
            .all(|p| p.len() <= MAX_LINE && !p.contains('\u{FFFD}'))
    );
    assert_eq!(pieces.concat(), format!("x{long}"));
}

#[test]
fn parses_proc_stat_with_odd_command_names() {
    assert_eq!(parse_stat("42 (a) b (c)) S 1 77 77 0"), Some(('S', 77)));
    assert_eq!(parse_stat("42 (sleep) Z 1 900 5"), Some(('Z', 900)));
    assert_eq!(parse_stat("garbage"), None);
}
