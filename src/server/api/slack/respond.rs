//! Messages to a command's `response_url`, in order, from one task per run.
//! Slack accepts five messages per `response_url` (within 30 minutes):
//! progress takes at most four, the final result always has one left.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::events::{EventSink, RunEvent};
use crate::outcome::StepStatus;

use super::message::{self, Outcome};
use crate::server::log::log;

/// Messages Slack takes per `response_url`.
const USES: usize = 5;
/// How long one post may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// A message for the `response_url`.
pub enum Post {
    /// Sent while uses are left beyond the one kept for the result.
    Progress(Value),
    /// The run's result: always sent.
    Final(Value),
}

/// Whether `url` may receive messages: it starts with one of `allowed`.
pub fn url_allowed(url: &str, allowed: &[String]) -> bool {
    !url.is_empty()
        && allowed
            .iter()
            .any(|prefix| url.starts_with(prefix.as_str()))
}

/// The host of a URL, for log lines (a `response_url`'s path is a
/// credential and is never logged).
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// Posts one message; logs, without the URL's path, when it can't.
pub async fn post(client: &reqwest::Client, url: &str, body: &Value) -> bool {
    let sent = client
        .post(url)
        .timeout(POST_TIMEOUT)
        .json(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => true,
        Ok(r) => {
            log(&format!(
                "slack: {} answered {} to a response_url post",
                host(url),
                r.status()
            ));
            false
        }
        Err(e) => {
            log(&format!(
                "slack: can't post to the response_url at {}: {}",
                host(url),
                deepest(&e.without_url())
            ));
            false
        }
    }
}

/// The innermost cause of an error ("Connection refused"), which says more
/// than reqwest's "error sending request".
fn deepest(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Sends the posts of one run to its `response_url`, in order, until the
/// run's sink is dropped.
pub async fn deliver(
    client: reqwest::Client,
    url: String,
    mut posts: mpsc::UnboundedReceiver<Post>,
) {
    let mut used = 0;
    while let Some(p) = posts.recv().await {
        let body = match p {
            Post::Progress(body) if used + 1 < USES => body,
            Post::Progress(_) => continue,
            Post::Final(body) if used < USES => body,
            Post::Final(_) => continue,
        };
        used += 1;
        post(&client, &url, &body).await;
    }
}

#[derive(Default)]
struct Seen {
    run_id: String,
    runbook: String,
    failed: Option<(String, String)>,
}

/// Turns a run's events into Slack posts: approval requests with buttons,
/// decisions made elsewhere, and the result.
pub struct Progress {
    tx: mpsc::UnboundedSender<Post>,
    seen: Mutex<Seen>,
}

impl Progress {
    /// A sink sending to `tx`.
    pub fn new(tx: mpsc::UnboundedSender<Post>) -> Self {
        Progress {
            tx,
            seen: Mutex::new(Seen::default()),
        }
    }
}

impl EventSink for Progress {
    fn emit(&self, event: &RunEvent) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let post = match event {
            RunEvent::RunStarted {
                run_id, runbook, ..
            } => {
                seen.run_id = run_id.clone();
                seen.runbook = runbook.clone();
                None
            }
            RunEvent::ApprovalRequested {
                step,
                message,
                approvers,
            } => Some(Post::Progress(message::approval_request(
                &seen.runbook,
                &seen.run_id,
                step,
                message,
                approvers,
            ))),
            // A decision from Slack updates the buttons' message instead.
            RunEvent::ApprovalDecided {
                step,
                approved,
                by,
                via,
                ..
            } if via != super::VIA => Some(Post::Progress(message::in_channel(&format!(
                "step `{}` {} by {} via {}",
                message::escape(step),
                if *approved { "approved" } else { "rejected" },
                message::escape(by),
                message::escape(via),
            )))),
            RunEvent::StepFinished { step, outcome } if outcome.status == StepStatus::Failed => {
                if seen.failed.is_none() {
                    let error = outcome.error.clone().unwrap_or_default();
                    seen.failed = Some((step.clone(), error));
                }
                None
            }
            RunEvent::RunFinished(outcome) => Some(Post::Final(message::finished(&Outcome {
                runbook: &seen.runbook,
                run_id: &seen.run_id,
                status: outcome.status,
                duration_ms: outcome.duration_ms,
                failed: seen.failed.as_ref().map(|(s, e)| (s.as_str(), e.as_str())),
                error: outcome.error.as_deref(),
            }))),
            _ => None,
        };
        if let Some(post) = post {
            let _ = self.tx.send(post);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_urls_are_checked_by_prefix_and_logged_by_host() {
        let allowed = vec!["https://hooks.slack.com/".to_owned()];
        assert!(url_allowed(
            "https://hooks.slack.com/commands/T1/2/x",
            &allowed
        ));
        assert!(!url_allowed(
            "https://hooks.slack.com.evil.example/x",
            &allowed
        ));
        assert!(!url_allowed("http://127.0.0.1:9/x", &allowed));
        assert!(!url_allowed("", &allowed));
        assert_eq!(
            host("https://hooks.slack.com/commands/T1/2/secret"),
            "hooks.slack.com"
        );
        assert_eq!(host("http://127.0.0.1:9?x"), "127.0.0.1:9");
    }
}
