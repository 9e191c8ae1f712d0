//! Slack's interactivity requests: a press of the Approve or Reject button
//! of an approval request. The decision is recorded with the Slack user as
//! approver, `via: slack`; the message with the buttons is replaced by the
//! outcome.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::kind::Decision;

use super::command::Who;
use super::message::{self, APPROVE, REJECT};
use super::{Slack, VIA, may_start, plans, respond};
use crate::server::api::AppState;
use crate::server::http::ApiError;
use crate::server::log::log;

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    user: Named,
    #[serde(default)]
    channel: Named,
    #[serde(default)]
    response_url: String,
    #[serde(default)]
    actions: Vec<Action>,
}

#[derive(Deserialize, Default)]
struct Named {
    #[serde(default)]
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Action {
    #[serde(default)]
    action_id: String,
    #[serde(default)]
    value: String,
}

/// Handles an interactivity `payload`; answers 200 at once, the outcome
/// goes to the payload's `response_url`.
pub async fn receive(
    state: &Arc<AppState>,
    slack: &Slack,
    payload: &str,
) -> Result<Response, ApiError> {
    let payload: Payload = serde_json::from_str(payload).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the interactivity payload is not what Slack sends: {e}"),
        )
    })?;
    let ok = || Ok(StatusCode::OK.into_response());
    if payload.kind != "block_actions" {
        return ok();
    }
    let Some((action, approved)) =
        payload
            .actions
            .iter()
            .find_map(|a| match a.action_id.as_str() {
                APPROVE => Some((a, true)),
                REJECT => Some((a, false)),
                _ => None,
            })
    else {
        return ok();
    };
    let Some((run_id, step)) = action.value.split_once(':') else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the button's value is not RUN_ID:STEP",
        ));
    };
    let who = Who {
        user_id: payload.user.id.clone(),
        user_name: payload
            .user
            .username
            .clone()
            .or_else(|| payload.user.name.clone())
            .unwrap_or_default(),
        channel_id: payload.channel.id.clone(),
        channel_name: payload.channel.name.clone().unwrap_or_default(),
    };
    let reply = decide(state, slack, &who, run_id, step, approved).await?;
    if respond::url_allowed(&payload.response_url, &slack.response_urls) {
        let client = slack.client.clone();
        let url = payload.response_url.clone();
        state.service.tasks().spawn(async move {
            respond::post(&client, &url, &reply).await;
        });
    } else {
        log("slack: a button's response_url is outside server.slack.response_urls; no answer sent");
    }
    ok()
}

/// Records the decision when `who` may make it; returns the message that
/// answers the press.
async fn decide(
    state: &Arc<AppState>,
    slack: &Slack,
    who: &Who,
    run_id: &str,
    step: &str,
    approved: bool,
) -> Result<Value, ApiError> {
    let detail = state.service.run(run_id).await?;
    let plans = plans(state).await?;
    let detail = detail.filter(|d| {
        plans
            .iter()
            .any(|p| p.name == d.run.runbook && may_start(p, who, slack))
    });
    let Some(detail) = detail else {
        log(&format!(
            "slack: {} may not decide on run {run_id}",
            who.actor()
        ));
        return Ok(ephemeral_refusal(
            "You may not decide on this run: its runbook's `triggers.chat.allow` doesn't name you.",
        ));
    };
    // Approvers may be listed by Slack user id or by name.
    let approvers = detail
        .approvals
        .iter()
        .find(|a| a.step == step)
        .map(|a| a.approvers.clone())
        .unwrap_or_default();
    let by = if approvers.contains(&who.user_id) && !approvers.contains(&who.user_name) {
        who.user_id.clone()
    } else {
        who.user_name.clone()
    };
    let decision = Decision {
        approved,
        by,
        comment: None,
        via: VIA.into(),
        decided_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let result = state.service.decide(run_id, step, &decision).await?;
    let verb = if approved { "approved" } else { "rejected" };
    match result {
        Ok(()) => {
            log(&format!(
                "run {run_id}: step {step} {verb} by {} via slack",
                who.actor()
            ));
            Ok(message::replace(&format!(
                "{} step `{}` of *{}* (run `{}`) {verb} by {}",
                if approved {
                    ":white_check_mark:"
                } else {
                    ":no_entry:"
                },
                message::escape(step),
                message::escape(&detail.run.runbook),
                message::escape(run_id),
                message::mention(&who.user_id),
            )))
        }
        Err(refusal) => Ok(ephemeral_refusal(&format!(
            "Not recorded: {}",
            message::escape(&refusal.to_string())
        ))),
    }
}

/// A message only the presser sees, leaving the buttons in place.
fn ephemeral_refusal(text: &str) -> Value {
    let mut m = message::ephemeral(text);
    m["replace_original"] = Value::Bool(false);
    m
}
