//! `steward serve` fires `triggers.schedule`: a real server process with
//! per-second cron expressions, its runs read back with `steward history`.

use std::time::{Duration, Instant};

use crate::support::serve::Served;
use crate::support::{self, Project};
use serde_json::Value;

/// The project's runs, newest first, as `steward history --output json`.
fn history(p: &Project) -> Vec<Value> {
    p.history(&["--limit", "1000"])
}

fn runs_of<'a>(runs: &'a [Value], runbook: &str) -> Vec<&'a Value> {
    runs.iter().filter(|r| r["runbook"] == runbook).collect()
}

fn origin(run: &Value) -> &str {
    run["origin"].as_str().unwrap_or_default()
}

/// Polls the history until `done` holds for it (panics after 20 s).
fn wait_history(p: &Project, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = history(p);
        if done(&runs) {
            return runs;
        }
        assert!(Instant::now() < deadline, "never {what}: {runs:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, then waits for the server to exit successfully.
fn stop(server: &mut Served) {
    let status = server.stop();
    assert!(status.success(), "{status}: {}", server.output());
}

/// Polls the server's output until it holds `text` (panics after 20 s).
fn wait_output(server: &Served, text: &str) {
    let found = support::wait_until(Duration::from_secs(20), || server.output().contains(text));
    assert!(found, "no `{text}` in:\n{}", server.output());
}

#[test]
fn a_per_second_schedule_fires_until_sigterm_and_bad_inputs_stop_only_their_runbook() {
    let p = Project::new();
    p.runbook(
        "tick",
        r#"
inputs:
  who: { type: string, required: true }
triggers:
  schedule:
    - cron: "* * * * * *"
      inputs: { who: cron }
steps:
  - id: greet
    shell: echo hello {{ inputs.who }}; sleep 2
"#,
    );
    p.runbook(
        "bad",
        r#"
inputs:
  count: { type: integer }
triggers:
  schedule: [{ cron: "* * * * * *", inputs: { count: many } }]
steps:
  - id: never
    shell: touch bad-ran
"#,
    );
    let mut server = Served::start(&p, &[], &[]);
    wait_output(&server, "schedule: tick `* * * * * *` (UTC), next tick ");
    wait_output(&server, "schedule: bad `* * * * * *` (UTC), next tick ");

    wait_history(&p, "two scheduled runs", |runs| {
        runs_of(runs, "tick").len() >= 2
    });
    let signalled = chrono::Utc::now();
    stop(&mut server);
    // The runs (2 s each) held the server up past further ticks.
    let stopped = chrono::Utc::now();
    assert!(stopped - signalled > chrono::Duration::milliseconds(1200));
    let runs = history(&p);
    let ticks = runs_of(&runs, "tick");
    assert!(ticks.len() >= 2, "{ticks:#?}");
    for run in &ticks {
        let tick = origin(run)
            .strip_prefix("cron \"* * * * * *\" UTC, tick ")
            .unwrap_or_else(|| panic!("{run}"));
        let tick = chrono::DateTime::parse_from_rfc3339(tick).unwrap();
        assert!(
            tick <= signalled,
            "tick {tick} fired after SIGTERM at {signalled}"
        );
    }

    let mut origins = Vec::new();
    for run in &ticks {
        assert_eq!(run["trigger_kind"], "schedule", "{run}");
        assert_eq!(run["actor"], "schedule", "{run}");
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["inputs"]["who"], "cron", "{run}");
        origins.push(origin(run));
    }
    origins.sort();
    origins.dedup();
    assert_eq!(
        origins.len(),
        ticks.len(),
        "a tick fired twice: {origins:?}"
    );

    // The refused inputs: a clear line per tick, no run, others unaffected.
    assert!(runs_of(&runs, "bad").is_empty());
    assert!(!p.exists("bad-ran"));
    let out = server.output();
    assert!(
        out.contains("schedule: bad `* * * * * *` (UTC): tick ")
            && out.contains("not run: 1 problem(s) with the inputs of `bad`"),
        "{out}"
    );
    assert!(
        out.contains("schedule: bad `* * * * * *` (UTC): its inputs are refused"),
        "no warning at start: {out}"
    );
    assert!(
        out.contains("input `count`: expected an int, got `many`"),
        "the problem names the input: {out}"
    );
}

const CATCH_UP: &str = r#"
triggers:
  schedule: [{ cron: "* * * * * *", catch_up: true }]
steps:
  - id: one
    shell: "true"
"#;

const NO_CATCH_UP: &str = r#"
triggers:
  schedule: "* * * * * *"
steps:
  - id: one
    shell: "true"
"#;

#[test]
fn a_restart_catches_up_one_missed_tick_only_with_catch_up() {
    let p = Project::new();
    p.runbook("caught", CATCH_UP);
    p.runbook("plain", NO_CATCH_UP);

    // First start: a baseline, nothing caught up; then ticks fire.
    let mut first = Served::start(&p, &[], &[]);
    wait_history(&p, "runs of both", |runs| {
        !runs_of(runs, "caught").is_empty() && !runs_of(runs, "plain").is_empty()
    });
    stop(&mut first);
    let before = history(&p);
    assert!(before.iter().all(|r| !origin(r).contains("catch-up")));
    assert!(!first.output().contains("): skipped"), "{}", first.output());
    let down = chrono::Utc::now();

    // Down past two ticks.
    std::thread::sleep(Duration::from_millis(2300));
    let mut second = Served::start(&p, &[], &[]);
    wait_output(
        &second,
        "schedule: caught `* * * * * *` (UTC): catching up the tick of ",
    );
    wait_output(&second, "schedule: plain `* * * * * *` (UTC): skipped ");
    wait_history(&p, "a catch-up run", |runs| {
        runs.iter().any(|r| origin(r).contains("catch-up"))
    });
    // Let a regular tick or two fire too.
    std::thread::sleep(Duration::from_millis(1200));
    stop(&mut second);

    let runs_after = history(&p);
    let caught: Vec<&Value> = runs_after
        .iter()
        .filter(|r| origin(r).contains("catch-up"))
        .collect();
    assert_eq!(caught.len(), 1, "{caught:#?}");
    let run = caught[0];
    assert_eq!(run["runbook"], "caught", "{run}");
    assert_eq!(run["trigger_kind"], "schedule");
    assert_eq!(run["status"], "succeeded");
    // It names a tick of the downtime: after the first server's ticks,
    // before the second's.
    let tick_of = |run: &Value, kind: &str| {
        let tick = origin(run)
            .strip_prefix(&format!("cron \"* * * * * *\" UTC, {kind}"))
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap());
        tick.unwrap_or_else(|| panic!("{run}"))
    };
    let tick = tick_of(run, "catch-up of missed tick ");
    assert!(
        tick > down - chrono::Duration::seconds(1),
        "{tick} before {down}"
    );
    for before in runs_of(&before, "caught") {
        assert!(tick > tick_of(before, "tick "), "{before}");
    }
    let new_runs = &runs_after[..runs_after.len() - before.len()];
    let regular: Vec<&Value> = runs_of(new_runs, "caught")
        .into_iter()
        .filter(|r| *r != run)
        .collect();
    assert!(!regular.is_empty(), "no regular tick after the restart");
    for after in regular {
        assert!(tick < tick_of(after, "tick "), "{after}");
    }

    let out = second.output();
    let skipped_line = out
        .lines()
        .find(|l| l.starts_with("schedule: plain `* * * * * *` (UTC): skipped "))
        .unwrap();
    assert!(
        skipped_line.contains("missed while no server ran"),
        "{skipped_line}"
    );
    // The other one ran only regular ticks after the restart.
    assert!(
        runs_of(new_runs, "plain")
            .iter()
            .all(|r| origin(r).contains(", tick ")),
        "{new_runs:#?}"
    );
}

#[test]
fn two_servers_on_one_store_fire_each_tick_once() {
    let p = Project::new();
    p.runbook("shared", NO_CATCH_UP);
    let mut a = Served::start(&p, &[], &[]);
    let mut b = Served::start(&p, &[], &[]);
    wait_history(&p, "three ticks", |runs| runs.len() >= 3);
    std::thread::sleep(Duration::from_millis(1500));
    stop(&mut a);
    stop(&mut b);
    let runs = history(&p);
    let mut origins: Vec<&str> = runs.iter().map(origin).collect();
    origins.sort();
    let total = origins.len();
    origins.dedup();
    assert_eq!(origins.len(), total, "a tick fired twice: {origins:#?}");
    // Each server saw the other win some ticks.
    let lost = |s: &Served| {
        s.output()
            .matches("already handled by another server")
            .count()
    };
    assert!(
        lost(&a) + lost(&b) >= 2,
        "{}\n---\n{}",
        a.output(),
        b.output()
    );
}
