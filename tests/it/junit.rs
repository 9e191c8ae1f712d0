//! `steward run --junit FILE`: the run as JUnit XML for CI, one test case
//! per step, written whatever the run's status, read back with a real XML
//! parser.

use crate::support::{Project, unindent, unique};

/// One `<testcase>` as read back.
#[derive(Debug)]
struct Case {
    name: String,
    classname: String,
    /// `(type, message, body)` of its `<failure>`.
    failure: Option<(String, String, String)>,
    /// The `message` of its `<skipped>`.
    skipped: Option<String>,
}

/// The parsed report: the suite's attributes, properties and cases.
struct Junit {
    suite: Vec<(String, String)>,
    properties: Vec<(String, String)>,
    cases: Vec<Case>,
}

impl Junit {
    fn read(p: &Project, rel: &str) -> Self {
        let xml = p.read(rel);
        let doc = roxmltree::Document::parse(&xml)
            .unwrap_or_else(|e| panic!("{rel} is not well-formed XML ({e}):\n{xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 1, "one test suite:\n{xml}");
        let suite = suites[0];
        let attrs = |n: roxmltree::Node| {
            n.attributes()
                .map(|a| (a.name().to_owned(), a.value().to_owned()))
                .collect::<Vec<_>>()
        };
        let child = |n: roxmltree::Node<'_, '_>, tag: &str| {
            n.children().find(|c| c.has_tag_name(tag)).map(|c| {
                (
                    c.attribute("type").unwrap_or_default().to_owned(),
                    c.attribute("message").unwrap_or_default().to_owned(),
                    c.text().unwrap_or_default().to_owned(),
                )
            })
        };
        Junit {
            suite: attrs(suite),
            properties: suite
                .descendants()
                .filter(|n| n.has_tag_name("property"))
                .map(|n| {
                    let get = |k| n.attribute(k).unwrap_or_default().to_owned();
                    (get("name"), get("value"))
                })
                .collect(),
            cases: suite
                .children()
                .filter(|n| n.has_tag_name("testcase"))
                .map(|n| Case {
                    name: n.attribute("name").unwrap_or_default().to_owned(),
                    classname: n.attribute("classname").unwrap_or_default().to_owned(),
                    failure: child(n, "failure"),
                    skipped: child(n, "skipped").map(|(_, message, _)| message),
                })
                .collect(),
        }
    }

    fn attr(&self, name: &str) -> &str {
        self.suite
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn property(&self, name: &str) -> &str {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn names(&self) -> Vec<&str> {
        self.cases.iter().map(|c| c.name.as_str()).collect()
    }

    fn case(&self, name: &str) -> &Case {
        self.cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no test case `{name}` in {:?}", self.names()))
    }

    /// `tests`, `failures`, `errors`, `skipped` of the suite.
    fn counts(&self) -> [&str; 4] {
        ["tests", "failures", "errors", "skipped"].map(|k| self.attr(k))
    }
}

const MIXED: &str = r#"
steps:
  - id: ok
    shell: echo hi
  - id: soft
    continue_on_error: true
    shell: echo "flaky disk" >&2; exit 2
  - id: off
    when: false
    shell: echo never
  - id: boom
    needs: [ok]
    shell: echo "deploy broke" >&2; exit 3
  - id: after
    needs: [boom]
    shell: echo never
"#;

#[test]
fn a_failed_run_lists_every_step_with_failures_and_skips() {
    let p = Project::with_runbook("mixed", MIXED);
    let out = p.run_json("mixed", &["--junit", "report.xml"]);
    out.expect_code(1);
    let junit = Junit::read(&p, "report.xml");

    assert_eq!(junit.names(), ["ok", "soft", "off", "boom", "after"]);
    assert!(junit.cases.iter().all(|c| c.classname == "mixed"));
    assert_eq!(junit.attr("name"), "mixed");
    assert_eq!(junit.counts(), ["5", "2", "0", "2"]);
    assert_eq!(junit.attr("timestamp"), out.report()["started_at"]);
    assert_eq!(junit.property("run_id"), out.run_id());
    assert_eq!(junit.property("status"), "failed");

    let ok = junit.case("ok");
    assert!(ok.failure.is_none() && ok.skipped.is_none(), "{ok:?}");
    let (kind, message, body) = junit.case("boom").failure.clone().expect("boom failed");
    assert_eq!(kind, "failed");
    assert_eq!(message, out.error("boom"));
    assert!(message.contains("deploy broke"), "{message}");
    assert!(
        body.contains("deploy broke") && body.contains("attempts: 1"),
        "{body}"
    );
    let (_, message, _) = junit.case("soft").failure.clone().expect("soft failed");
    assert!(message.contains("flaky disk"), "{message}");
    assert_eq!(
        junit.case("after").skipped.as_deref(),
        Some("needs `boom`, which failed")
    );
    assert_eq!(junit.case("off").skipped.as_deref(), Some(out.error("off")));
}

#[test]
fn a_succeeded_run_creates_the_folders_and_leaves_no_temporary_file() {
    let p = Project::with_runbook(
        "fine",
        &unindent(
            r#"
            steps:
              - id: one
                shell: echo 1
              - id: two
                needs: [one]
                retry: { attempts: 2, delay: 10ms }
                shell: echo 2
            "#,
        ),
    );
    p.run("fine", &["--junit", "ci/reports/steward.xml"])
        .expect_code(0);
    let junit = Junit::read(&p, "ci/reports/steward.xml");
    assert_eq!(junit.names(), ["one", "two"]);
    assert_eq!(junit.counts(), ["2", "0", "0", "0"]);
    assert_eq!(junit.property("status"), "succeeded");
    assert!(junit.cases.iter().all(|c| c.failure.is_none()));
    let files: Vec<_> = std::fs::read_dir(p.file("ci/reports"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["steward.xml"]);
}

#[test]
fn markup_in_an_error_round_trips_through_the_parser() {
    let p = Project::with_runbook(
        "markup",
        r#"
steps:
  - id: "quoted"
    shell: |
      printf '%s\n' 'expected <b> & "c" '"'"'d'"'"' ]]> &amp;' >&2
      exit 1
"#,
    );
    let out = p.run_json("markup", &["--junit", "out.xml"]);
    out.expect_code(1);
    let junit = Junit::read(&p, "out.xml");
    let (_, message, body) = junit.case("quoted").failure.clone().expect("a failure");
    let raw = r#"expected <b> & "c" 'd' ]]> &amp;"#;
    assert!(message.contains(raw), "{message}");
    assert!(body.contains(raw), "{body}");
    assert_eq!(message, out.error("quoted"));
}

#[test]
fn a_secret_in_a_failing_step_error_is_not_in_the_report() {
    let secret = unique("s3cr3t-junit");
    let p = Project::with_runbook(
        "leaky",
        r#"
secrets: [API_TOKEN]
steps:
  - id: login
    shell: echo "login refused for {{ secrets.API_TOKEN }}" >&2; exit 4
"#,
    );
    let out = p.run_with("leaky", &["--junit", "leaky.xml"], |t| {
        t.env("API_TOKEN", &secret)
    });
    out.expect_code(1);
    let xml = p.read("leaky.xml");
    assert!(!xml.contains(&secret), "the secret leaked:\n{xml}");
    let junit = Junit::read(&p, "leaky.xml");
    let (_, message, _) = junit.case("login").failure.clone().expect("a failure");
    assert!(message.contains("login refused for ***"), "{message}");
}

#[test]
fn a_run_error_no_step_carries_is_a_run_case() {
    let p = Project::with_runbook(
        "outputs",
        &unindent(
            r#"
            steps:
              - id: ok
                shell: echo hi
            outputs:
              missing: "{{ steps.ok.outputs.nope }}"
            "#,
        ),
    );
    let out = p.run_json("outputs", &["--junit", "out.xml"]);
    out.expect_code(1);
    let junit = Junit::read(&p, "out.xml");
    assert_eq!(junit.names(), ["ok", "(run)"]);
    assert_eq!(junit.counts(), ["2", "1", "0", "0"]);
    let (kind, message, _) = junit.case("(run)").failure.clone().expect("a failure");
    assert_eq!(kind, "failed");
    assert_eq!(message, out.report()["error"]);
}

#[test]
fn a_timed_out_run_still_writes_the_report() {
    let p = Project::with_runbook(
        "slow",
        &unindent(
            r#"
            timeout: 300ms
            steps:
              - id: slow
                shell: sleep 30
              - id: later
                needs: [slow]
                shell: echo never
            "#,
        ),
    );
    p.run("slow", &["--junit", "slow.xml"]).expect_code(3);
    let junit = Junit::read(&p, "slow.xml");
    assert_eq!(junit.property("status"), "timed_out");
    assert_eq!(junit.names(), ["slow", "later"]);
    let (kind, _, _) = junit.case("slow").failure.clone().expect("slow stopped");
    assert_eq!(kind, "cancelled");
    assert!(junit.case("later").skipped.is_some());
}

#[test]
fn a_report_that_cannot_be_written_fails_only_a_succeeded_run() {
    let p = Project::with_runbook(
        "fine",
        &unindent(
            r#"
            steps:
              - id: one
                shell: echo 1
            "#,
        ),
    );
    p.write("blocker", "a file, not a folder");
    let out = p.run("fine", &["--junit", "blocker/report.xml"]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("can't write the JUnit report"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);

    // A run that did not succeed keeps its own exit code.
    p.runbook(
        "slow",
        &unindent(
            r#"
            timeout: 200ms
            steps:
              - id: slow
                shell: sleep 30
            "#,
        ),
    );
    std::fs::create_dir_all(p.file("a-folder")).unwrap();
    let out = p.run("slow", &["--junit", "a-folder"]);
    out.expect_code(3);
    assert!(
        out.stderr.contains("can't write the JUnit report"),
        "{}",
        out.stderr
    );
    assert!(p.file("a-folder").is_dir());
    let left: Vec<_> = std::fs::read_dir(p.path()).unwrap().flatten().collect();
    assert!(
        left.iter()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".tmp")),
        "a temporary file was left behind"
    );
}

#[test]
fn junit_does_not_go_with_dry_run() {
    let p = Project::with_runbook(
        "fine",
        &unindent(
            r#"
            steps:
              - id: one
                shell: echo 1
            "#,
        ),
    );
    p.run("fine", &["--dry-run", "--junit", "out.xml"])
        .expect_code(2);
    assert!(!p.exists("out.xml"));
}
