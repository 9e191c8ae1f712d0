//! A finished run as JUnit XML, the test report format CI systems read
//! (`steward run --junit FILE`): one test suite for the run, one test case
//! per step outcome, so each step shows up as a passed, failed or skipped
//! test. The texts come from the [`RunReport`], which the engine has
//! already redacted: no secret reaches the file.

use std::borrow::Cow;
use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::engine::RunReport;
use crate::outcome::{StepOutcome, StepStatus};

/// The name of the test case that stands for a run failure no step carries,
/// such as an output that could not be rendered.
pub const RUN_CASE: &str = "(run)";

/// The report as a JUnit XML document.
pub fn to_xml(report: &RunReport) -> String {
    let mut buf = Vec::new();
    document(report, &mut buf).expect("a Vec<u8> takes every write");
    String::from_utf8_lossy(&buf).into_owned()
}

/// Writes [`to_xml`] to `path`, creating its folders. The file is written
/// beside it under a temporary name, then renamed, so a reader never sees
/// half a report.
pub fn write(report: &RunReport, path: &Path) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(to_xml(report).as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// What a test case says about its step.
enum Verdict<'a> {
    Passed,
    Failed {
        kind: &'static str,
        message: &'a str,
        attempts: u32,
    },
    Skipped(&'a str),
}

fn verdict(outcome: &StepOutcome) -> Verdict<'_> {
    let why = outcome.error.as_deref();
    match outcome.status {
        StepStatus::Succeeded => Verdict::Passed,
        StepStatus::Failed | StepStatus::Cancelled => Verdict::Failed {
            kind: outcome.status.as_str(),
            message: why.unwrap_or(outcome.status.as_str()),
            attempts: outcome.attempts,
        },
        // A final report has no running step; should one appear, it did
        // not run to the end, which is what `skipped` says.
        StepStatus::Skipped | StepStatus::Running | StepStatus::Waiting => {
            Verdict::Skipped(why.unwrap_or(outcome.status.as_str()))
        }
    }
}

/// The run's own error, when no failing step already reports it.
fn run_failure(report: &RunReport) -> Option<&str> {
    let step_failed = report
        .steps
        .values()
        .any(|r| matches!(verdict(r), Verdict::Failed { .. }));
    report.outcome.error.as_deref().filter(|_| !step_failed)
}

fn document(report: &RunReport, out: &mut Vec<u8>) -> io::Result<()> {
    let run_failure = run_failure(report);
    let extra = usize::from(run_failure.is_some());
    let verdicts: Vec<_> = report.steps.values().map(verdict).collect();
    let failures = extra
        + verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Failed { .. }))
            .count();
    let skipped = verdicts
        .iter()
        .filter(|v| matches!(v, Verdict::Skipped(_)))
        .count();
    let runbook = attr(&report.runbook);
    let totals = [
        ("name", runbook.clone()),
        ("tests", (verdicts.len() + extra).to_string()),
        ("failures", failures.to_string()),
        ("errors", "0".to_owned()),
        ("skipped", skipped.to_string()),
        ("time", seconds(report.outcome.duration_ms)),
    ];
    let totals = totals.iter().map(|(k, v)| (*k, v.as_str()));

    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("testsuites")
        .with_attributes(totals.clone())
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attributes(totals)
                .with_attribute(("timestamp", attr(&report.started_at).as_str()))
                .write_inner_content(|w| {
                    w.create_element("properties").write_inner_content(|w| {
                        property(w, "run_id", &report.run_id)?;
                        property(w, "status", report.outcome.status.as_str())
                    })?;
                    for ((id, outcome), verdict) in report.steps.iter().zip(verdicts) {
                        case(w, &runbook, id, outcome.duration_ms, verdict)?;
                    }
                    if let Some(error) = run_failure {
                        let failed = Verdict::Failed {
                            kind: report.outcome.status.as_str(),
                            message: error,
                            attempts: 0,
                        };
                        case(w, &runbook, RUN_CASE, 0, failed)?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}

fn property(w: &mut Writer<&mut Vec<u8>>, name: &str, value: &str) -> io::Result<()> {
    w.create_element("property")
        .with_attributes([("name", attr(name).as_str()), ("value", &attr(value))])
        .write_empty()?;
    Ok(())
}

fn case(
    w: &mut Writer<&mut Vec<u8>>,
    classname: &str,
    name: &str,
    duration_ms: u64,
    verdict: Verdict<'_>,
) -> io::Result<()> {
    let element = w.create_element("testcase").with_attributes([
        ("classname", classname),
        ("name", &attr(name)),
        ("time", &seconds(duration_ms)),
    ]);
    match verdict {
        Verdict::Passed => {
            element.write_empty()?;
        }
        Verdict::Skipped(reason) => {
            element.write_inner_content(|w| {
                w.create_element("skipped")
                    .with_attribute(("message", attr(reason).as_str()))
                    .write_empty()?;
                Ok(())
            })?;
        }
        Verdict::Failed {
            kind,
            message,
            attempts,
        } => {
            let mut body = xml_safe(message).into_owned();
            if attempts > 0 {
                body.push_str(&format!("\n\nattempts: {attempts}"));
            }
            element.write_inner_content(|w| {
                w.create_element("failure")
                    .with_attributes([("message", attr(message).as_str()), ("type", kind)])
                    .write_text_content(BytesText::new(&body))?;
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Milliseconds as the seconds JUnit expects.
fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// Text fit for an attribute: XML-safe and on one line, as parsers would
/// turn line breaks in an attribute into spaces anyway.
fn attr(text: &str) -> String {
    xml_safe(text)
        .split(['\r', '\n'])
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text with the characters XML 1.0 forbids (most C0 controls, U+FFFE and
/// U+FFFF) replaced by U+FFFD: a step's raw output, colour codes included,
/// must not make the whole report unreadable. Escaping `<`, `&` and quotes
/// is the writer's job.
fn xml_safe(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    };
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(error: &str) -> RunReport {
        let mut steps = indexmap::IndexMap::new();
        steps.insert(
            "build<1>".to_owned(),
            StepOutcome {
                duration_ms: 1500,
                ..StepOutcome::failed(2, error.to_owned())
            },
        );
        RunReport {
            run_id: "r1".into(),
            runbook: "a&b".into(),
            started_at: "2026-01-02T03:04:05+00:00".into(),
            inputs: serde_json::json!({}),
            steps,
            outcome: crate::outcome::RunOutcome {
                status: crate::outcome::RunStatus::Failed,
                duration_ms: 1234,
                outputs: serde_json::json!({}),
                error: Some(format!("step `build<1>` failed: {error}")),
            },
        }
    }

    #[test]
    fn markup_and_control_characters_are_escaped_or_replaced() {
        let error = "bad <tag> & \"quote\" 'apos'\u{0}\u{1b}[31mred\u{7}\nline 2\u{FFFF}";
        let xml = to_xml(&report(error));
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .expect("a failure");
        let message = failure.attribute("message").unwrap();
        assert_eq!(
            message,
            "bad <tag> & \"quote\" 'apos'\u{FFFD}\u{FFFD}[31mred\u{FFFD} line 2\u{FFFD}"
        );
        assert_eq!(failure.attribute("type"), Some("failed"));
        let body = failure.text().unwrap();
        assert!(body.starts_with("bad <tag> & \"quote\""), "{body}");
        assert!(body.contains("red\u{FFFD}\nline 2"), "{body}");
        assert!(body.ends_with("attempts: 2"), "{body}");
        assert!(!xml.contains('\u{0}') && !xml.contains('\u{1b}'));

        let case = failure.parent().unwrap();
        assert_eq!(case.attribute("name"), Some("build<1>"));
        assert_eq!(case.attribute("classname"), Some("a&b"));
        assert_eq!(case.attribute("time"), Some("1.500"));
    }
}
