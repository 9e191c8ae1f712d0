//! Scheduling: independent steps run at once up to `max_parallel`, `needs`
//! and implied dependencies are honoured, a step starts as soon as what it
//! needs is done, and `when` skips without blocking dependents.

use crate::support::Project;

/// A shell step that writes `<id>.start` and `<id>.end` timestamps around
/// `sleep SECS`.
fn timed(id: &str, needs: Option<&str>, secs: f64) -> String {
    let needs = needs.map_or(String::new(), |n| format!("    needs: {n}\n"));
    format!(
        r#"  - id: {id}
{needs}    shell: date +%s.%N > {id}.start; sleep {secs}; date +%s.%N > {id}.end
"#
    )
}

fn runbook(header: &str, steps: &[String]) -> String {
    format!("{header}steps:\n{}", steps.concat())
}

struct Span {
    start: f64,
    end: f64,
}

fn span(p: &Project, id: &str) -> Span {
    Span {
        start: p.time(&format!("{id}.start")),
        end: p.time(&format!("{id}.end")),
    }
}

/// The most spans that overlap at one moment.
fn max_overlap(spans: &[Span]) -> usize {
    spans
        .iter()
        .map(|s| {
            spans
                .iter()
                .filter(|o| o.start <= s.start && s.start < o.end)
                .count()
        })
        .max()
        .unwrap_or(0)
}

const IDS: [&str; 4] = ["a", "b", "c", "d"];

#[test]
fn independent_steps_run_concurrently() {
    let steps: Vec<String> = IDS.iter().map(|id| timed(id, Some("[]"), 1.0)).collect();
    let p = Project::with_runbook("fan", &runbook("", &steps));
    let out = p.run_json("fan", &[]);
    out.expect_code(0);
    assert!(
        out.elapsed.as_secs_f64() < 2.5,
        "4 × sleep 1 in parallel took {:?}",
        out.elapsed
    );
    let spans: Vec<Span> = IDS.iter().map(|id| span(&p, id)).collect();
    assert_eq!(max_overlap(&spans), 4, "all four ran at the same time");
    for id in IDS {
        assert!(out.step(id)["duration_ms"].as_u64().unwrap() >= 1000);
    }
}

#[test]
fn max_parallel_1_serializes_independent_steps() {
    let steps: Vec<String> = IDS.iter().map(|id| timed(id, Some("[]"), 0.5)).collect();
    let p = Project::with_runbook("serial", &runbook("max_parallel: 1\n", &steps));
    let out = p.run_json("serial", &[]);
    out.expect_code(0);
    assert!(
        out.elapsed.as_secs_f64() >= 2.0,
        "4 × sleep 0.5 one at a time took only {:?}",
        out.elapsed
    );
    let spans: Vec<Span> = IDS.iter().map(|id| span(&p, id)).collect();
    assert_eq!(max_overlap(&spans), 1, "never two at once");
}

#[test]
fn max_parallel_2_runs_two_at_a_time() {
    let steps: Vec<String> = IDS.iter().map(|id| timed(id, Some("[]"), 0.5)).collect();
    let p = Project::with_runbook("pairs", &runbook("max_parallel: 2\n", &steps));
    let out = p.run_json("pairs", &[]);
    out.expect_code(0);
    let spans: Vec<Span> = IDS.iter().map(|id| span(&p, id)).collect();
    assert_eq!(max_overlap(&spans), 2);
    assert!(out.elapsed.as_secs_f64() >= 1.0, "{:?}", out.elapsed);
}

#[test]
fn steps_run_top_to_bottom_by_default() {
    let steps: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|id| timed(id, None, 0.1))
        .collect();
    let p = Project::with_runbook("seq", &runbook("", &steps));
    p.run_json("seq", &[]).expect_code(0);
    let (a, b, c) = (span(&p, "a"), span(&p, "b"), span(&p, "c"));
    assert!(b.start >= a.end, "b waits for a");
    assert!(c.start >= b.end, "c waits for b");
}

#[test]
fn needs_fan_out_and_join() {
    let steps = vec![
        timed("a", None, 0.2),
        timed("b", Some("[a]"), 0.5),
        timed("c", Some("[a]"), 0.5),
        timed("d", Some("[b, c]"), 0.1),
    ];
    let p = Project::with_runbook("diamond", &runbook("", &steps));
    p.run_json("diamond", &[]).expect_code(0);
    let (a, b, c, d) = (span(&p, "a"), span(&p, "b"), span(&p, "c"), span(&p, "d"));
    assert!(b.start >= a.end && c.start >= a.end, "b and c wait for a");
    assert!(b.start < c.end && c.start < b.end, "b and c overlap");
    assert!(d.start >= b.end && d.start >= c.end, "d waits for both");
}

#[test]
fn a_step_starts_as_soon_as_its_needs_are_done() {
    let steps = vec![
        timed("quick", Some("[]"), 0.2),
        timed("slow", Some("[]"), 1.5),
        timed("after_quick", Some("[quick]"), 0.1),
    ];
    let p = Project::with_runbook("eager", &runbook("", &steps));
    p.run_json("eager", &[]).expect_code(0);
    let (quick, slow, next) = (span(&p, "quick"), span(&p, "slow"), span(&p, "after_quick"));
    assert!(next.start >= quick.end);
    assert!(
        next.end < slow.end - 0.5,
        "after_quick must not wait for the unrelated slow step (ended {:.2}s before it)",
        slow.end - next.end
    );
}

#[test]
fn reading_a_steps_result_implies_needing_it() {
    let p = Project::with_runbook(
        "implied",
        r#"
steps:
  - id: producer
    shell: sleep 0.4; echo made; date +%s.%N > producer.end
  - id: consumer
    needs: []
    shell: date +%s.%N > consumer.start; echo "got {{ steps.producer.result.stdout | trim }}"
"#,
    );
    let out = p.run_json("implied", &[]);
    out.expect_code(0);
    assert!(p.time("consumer.start") >= p.time("producer.end"));
    assert_eq!(out.step("consumer")["result"]["stdout"], "got made\n");
}

#[test]
fn a_false_when_skips_the_step_and_its_dependents_still_run() {
    let p = Project::with_runbook(
        "cond",
        r#"
inputs:
  enabled: { type: bool, default: false }
steps:
  - id: probe
    shell: |
      echo '{"healthy": true}'
  - id: only_when_enabled
    when: inputs.enabled
    shell: touch enabled.marker
  - id: only_when_sick
    needs: [probe]
    when: "not steps.probe.result.json.healthy"
    shell: touch sick.marker
  - id: after
    needs: [only_when_enabled, only_when_sick]
    shell: touch after.marker
"#,
    );
    let out = p.run_json("cond", &[]);
    out.expect_code(0);
    assert_eq!(out.run_status(), "succeeded");
    assert_eq!(out.status("only_when_enabled"), "skipped");
    assert_eq!(out.status("only_when_sick"), "skipped");
    assert_eq!(out.attempts("only_when_enabled"), 0);
    assert!(out.error("only_when_enabled").contains("inputs.enabled"));
    assert!(!p.exists("enabled.marker") && !p.exists("sick.marker"));
    assert_eq!(out.status("after"), "succeeded");
    assert!(p.exists("after.marker"));

    let out = p.run_json("cond", &["-i", "enabled=true"]);
    out.expect_code(0);
    assert_eq!(out.status("only_when_enabled"), "succeeded");
    assert!(p.exists("enabled.marker"));
}

#[test]
fn max_parallel_bounds_for_each_items_and_steps_together() {
    let p = Project::with_runbook(
        "mixed",
        r#"
max_parallel: 2
steps:
  - id: each
    needs: []
    for_each: [i1, i2, i3]
    shell: date +%s.%N > {{ item }}.start; sleep 0.3; date +%s.%N > {{ item }}.end
  - id: single
    needs: []
    shell: date +%s.%N > s.start; sleep 0.3; date +%s.%N > s.end
"#,
    );
    p.run_json("mixed", &[]).expect_code(0);
    let spans: Vec<Span> = ["i1", "i2", "i3", "s"]
        .iter()
        .map(|id| span(&p, id))
        .collect();
    assert_eq!(
        max_overlap(&spans),
        2,
        "never more than max_parallel processes"
    );
}
