//! `POST /hooks/slack`: Slack slash commands (`/runbook deploy version=1.4.2`,
//! `list`, `status RUN`) and the approval buttons Steward posts. Every
//! request's v0 signature is checked over the raw body before anything
//! else; who may start what is each runbook's `triggers.chat.allow`.
//! The answer comes at once; progress and the result go to the command's
//! `response_url`.

mod command;
mod interact;
mod message;
mod respond;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;
use serde_json::Value;

use crate::config::SlackConfig;
use crate::events::{Fanout, Trigger};
use crate::plan::Plan;
use crate::secrets::SecretStore;
use crate::webhook::{SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER, verify_slack};

use self::command::{Command, Who};
use super::runs::{StartRequest, blocking, body, launch_with, prepare, valid_plans};
use super::{ApiError, AppState, log};

/// The `via` of decisions made with Slack's buttons.
const VIA: &str = "slack";
/// The hook name in metrics and logs.
const HOOK: &str = "slack";

/// The Slack app, its signing secret loaded. Its `Debug` shows no secret.
pub struct Slack {
    secret: Vec<u8>,
    response_urls: Vec<String>,
    groups: IndexMap<String, Vec<String>>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slack")
            .field("response_urls", &self.response_urls)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl Slack {
    /// Loads steward.yaml's `server.slack` with its signing secret from
    /// `secrets`.
    pub fn load(config: &SlackConfig, secrets: &SecretStore) -> Result<Slack, String> {
        let secret = secrets.get(&config.signing_secret).unwrap_or_default();
        if secret.trim().is_empty() {
            return Err(format!(
                "server.slack: its signing_secret {} is empty",
                config.signing_secret
            ));
        }
        if config.response_urls.iter().any(|u| !u.contains("://")) {
            return Err(
                "server.slack.response_urls: each must be a URL prefix such as `https://hooks.slack.com/`"
                    .to_owned(),
            );
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("server.slack: can't build an HTTP client: {e}"))?;
        Ok(Slack {
            secret: secret.as_bytes().to_vec(),
            response_urls: config.response_urls.clone(),
            groups: config.groups.clone(),
            client,
        })
    }
}

/// Warns when runbooks declare `triggers.chat` but Slack isn't set up.
/// Logs each `@group` of a runbook's `triggers.chat.allow` that
/// `server.slack.groups` doesn't define (it matches nobody), and each
/// runbook that can be started from chat.
pub(super) fn announce(state: &AppState) {
    let Ok(plans) = valid_plans(&state.project) else {
        return;
    };
    let Some(slack) = &state.slack else {
        let chat: Vec<&str> = plans
            .iter()
            .filter(|p| p.triggers.chat.is_some())
            .map(|p| p.name.as_str())
            .collect();
        if !chat.is_empty() {
            log(&format!(
                "warning: {} declare(s) triggers.chat, but steward.yaml has no server.slack: Slack commands are off",
                chat.join(", ")
            ));
        }
        return;
    };
    for plan in &plans {
        let (Some(chat), Some(word)) = (plan.triggers.chat.as_ref(), chat_word(plan)) else {
            continue;
        };
        log(&format!(
            "slack: `{word}` starts {} (allow: {})",
            plan.name,
            if chat.allow.is_empty() {
                "nobody".to_owned()
            } else {
                chat.allow.join(", ")
            }
        ));
        for group in chat.allow.iter().filter_map(|a| a.strip_prefix('@')) {
            if !slack.groups.contains_key(group) {
                log(&format!(
                    "warning: runbook {}: triggers.chat.allow names @{group}, which server.slack.groups doesn't define; it matches nobody",
                    plan.name
                ));
            }
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn refuse(state: &AppState, label: &str, reason: &str) -> ApiError {
    state.metrics.rejection(HOOK, label);
    log(&format!("slack: request refused: {reason}"));
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        format!("the request's signature was refused: {reason}"),
    )
}

/// A 200 answer Slack shows: user errors are answers too, never 4xx.
fn answer(message: Value) -> Response {
    Json(message).into_response()
}

/// `POST /hooks/slack`.
pub async fn receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(slack) = &state.slack else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Slack is not set up here: add `server.slack` to steward.yaml",
        ));
    };
    let bytes = body(raw).inspect_err(|e| {
        state.metrics.rejection(HOOK, "unreadable_body");
        log(&format!(
            "slack: request refused: unreadable body ({})",
            e.status
        ));
    })?;
    let signature = header(&headers, SLACK_SIGNATURE_HEADER);
    if let Err(e) = verify_slack(
        &slack.secret,
        header(&headers, SLACK_TIMESTAMP_HEADER),
        signature,
        &bytes,
        chrono::Utc::now(),
    ) {
        return Err(refuse(
            &state,
            super::hooks::reason_label(&e),
            &e.to_string(),
        ));
    }
    // Slack signs each request afresh: the same signature twice is a replay.
    if let Some(signature) = signature
        && !state.deliveries.take(HOOK, signature)
    {
        return Err(refuse(
            &state,
            "replay",
            "this request was already taken (a replay)",
        ));
    }
    if let Err(limited) = state.limits.hook(HOOK) {
        state.metrics.limited("hook_rate");
        log("slack: request refused: over the rate limit");
        // Slack shows the text of a 200 answer, not a 429's.
        let retry = limited.body()["retry_after_seconds"].as_u64().unwrap_or(60);
        return Ok(answer(message::ephemeral(&format!(
            "Steward is getting more requests from Slack than it takes; try again in {retry}s."
        ))));
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&bytes).into_owned().collect();
    if let Some(payload) = form.get("payload") {
        return interact::receive(&state, slack, payload).await;
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let who = Who {
        user_id: field("user_id"),
        user_name: field("user_name"),
        channel_id: field("channel_id"),
        channel_name: field("channel_name"),
    };
    let slash = field("command");
    let slash = if slash.is_empty() {
        "/runbook".to_owned()
    } else {
        slash
    };
    let command = match command::parse(&field("text")) {
        Ok(c) => c,
        Err(e) => {
            return Ok(answer(message::ephemeral(&format!(
                "{}. `{} help` shows how.",
                message::escape(&e.to_string()),
                message::escape(&slash)
            ))));
        }
    };
    let response_url = field("response_url");
    Ok(answer(match command {
        Command::Help => message::help(&slash),
        Command::List => list(&state, slack, &who, &slash).await?,
        Command::Status(id) => status(&state, slack, &who, &id).await?,
        Command::Run { word, inputs } => {
            start(&state, slack, &who, &word, inputs, &response_url, &slash).await?
        }
    }))
}

/// The command word that starts `plan` from chat, when it has a chat
/// trigger.
fn chat_word(plan: &Plan) -> Option<&str> {
    let chat = plan.triggers.chat.as_ref()?;
    Some(chat.command.as_deref().unwrap_or(&plan.name))
}

/// Whether `who` may start `plan` from chat.
fn may_start(plan: &Plan, who: &Who, slack: &Slack) -> bool {
    plan.triggers
        .chat
        .as_ref()
        .is_some_and(|chat| command::allowed(&chat.allow, who, &slack.groups))
}

async fn plans(state: &Arc<AppState>) -> Result<Vec<Plan>, ApiError> {
    let state2 = state.clone();
    blocking(move || valid_plans(&state2.project)).await
}

/// `list`: the runbooks `who` may start here.
async fn list(
    state: &Arc<AppState>,
    slack: &Slack,
    who: &Who,
    slash: &str,
) -> Result<Value, ApiError> {
    let plans = plans(state).await?;
    let mut lines = Vec::new();
    for plan in plans.iter().filter(|p| may_start(p, who, slack)) {
        let Some(word) = chat_word(plan) else {
            continue;
        };
        let inputs: Vec<String> = plan
            .inputs
            .iter()
            .map(|(name, decl)| match &decl.default {
                Some(d) => format!("{name}={}", d.to_string().trim_matches('"')),
                None => name.clone(),
            })
            .collect();
        let mut line = format!("• `{} {}`", message::escape(slash), message::escape(word));
        if !inputs.is_empty() {
            line.push_str(&format!(" ({})", message::escape(&inputs.join(", "))));
        }
        if let Some(description) = plan.description.as_deref().and_then(|d| d.lines().next()) {
            line.push_str(&format!(": {}", message::escape(description)));
        }
        lines.push(line);
    }
    Ok(message::ephemeral(&if lines.is_empty() {
        "There is no runbook you may start from chat here.".to_owned()
    } else {
        format!("Runbooks you may start:\n{}", lines.join("\n"))
    }))
}

/// `status RUN`: the run's status, for those who may start its runbook.
async fn status(
    state: &Arc<AppState>,
    slack: &Slack,
    who: &Who,
    id: &str,
) -> Result<Value, ApiError> {
    let store = state.store.clone();
    let id2 = id.to_owned();
    let detail = blocking(move || Ok(store.get_run(&id2)?)).await?;
    let plans = plans(state).await?;
    let visible = detail.filter(|d| {
        plans
            .iter()
            .any(|p| p.name == d.run.runbook && may_start(p, who, slack))
    });
    let Some(detail) = visible else {
        return Ok(message::ephemeral(&format!(
            "No run `{}` that you may see.",
            message::escape(id)
        )));
    };
    let run = &detail.run;
    let mut text = format!(
        "*{}* run `{}`: *{}* (started {} by {})",
        message::escape(&run.runbook),
        message::escape(&run.id),
        run.status,
        message::escape(&run.started_at),
        message::escape(&run.actor),
    );
    for step in &detail.steps {
        text.push_str(&format!(
            "\n• `{}` {}",
            message::escape(&step.step),
            step.status
        ));
    }
    Ok(message::ephemeral(&text))
}

/// `NAME k=v …`: starts the runbook whose chat command is `word`.
async fn start(
    state: &Arc<AppState>,
    slack: &Slack,
    who: &Who,
    word: &str,
    inputs: IndexMap<String, String>,
    response_url: &str,
    slash: &str,
) -> Result<Value, ApiError> {
    let plans = plans(state).await?;
    let Some(plan) = plans.iter().find(|p| chat_word(p) == Some(word)) else {
        return Ok(message::ephemeral(&format!(
            "No runbook `{}` can be started from chat. `{} list` shows those you may start.",
            message::escape(word),
            message::escape(slash)
        )));
    };
    if !may_start(plan, who, slack) {
        log(&format!(
            "slack: {} may not start {} from #{}",
            who.actor(),
            plan.name,
            who.channel_name
        ));
        return Ok(message::ephemeral(&format!(
            "You may not start `{}` here: its `triggers.chat.allow` names neither you, a group of yours, nor this channel.",
            message::escape(word)
        )));
    }
    if !respond::url_allowed(response_url, &slack.response_urls) {
        log(
            "slack: a command's response_url is outside server.slack.response_urls; nothing was run",
        );
        return Ok(message::ephemeral(
            "This command's response_url is not one Steward may post to (`server.slack.response_urls`); nothing was run.",
        ));
    }
    if state.stopping.is_cancelled() {
        return Ok(message::ephemeral(
            "Steward is shutting down; nothing was run. Try again in a moment.",
        ));
    }
    let shown: Vec<String> = inputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let request = StartRequest {
        runbook: plan.name.clone(),
        inputs: inputs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    };
    let state2 = state.clone();
    let prepared = match blocking(move || prepare(&state2, &request)).await {
        Ok(p) => p,
        Err(e) => return Ok(message::ephemeral(&refusal_text(word, &e))),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let trigger = Trigger {
        kind: "chat".into(),
        actor: who.actor(),
        origin: Some(format!("slack #{}", who.channel_name)),
    };
    let watchers = Fanout::default().with(respond::Progress::new(tx));
    state.tasks.spawn(respond::deliver(
        slack.client.clone(),
        response_url.to_owned(),
        rx,
    ));
    let (run_id, _done) = launch_with(state, prepared, trigger, watchers).await?;
    let mut text = format!(
        "{} started *{}*",
        message::mention(&who.user_id),
        message::escape(&plan.name)
    );
    if !shown.is_empty() {
        text.push_str(&format!(" with `{}`", message::escape(&shown.join(" "))));
    }
    text.push_str(&format!(" (run `{run_id}`)"));
    Ok(message::in_channel(&text))
}

/// A run request's refusal as a chat answer, with each problem.
fn refusal_text(word: &str, e: &ApiError) -> String {
    let body = e.body();
    let mut text = format!(
        "`{}` was not started: {}",
        message::escape(word),
        message::escape(body["error"].as_str().unwrap_or("refused"))
    );
    for problem in body["problems"].as_array().into_iter().flatten() {
        let line = match (problem["input"].as_str(), problem["message"].as_str()) {
            (Some(input), Some(m)) => format!("input `{input}`: {m}"),
            _ => problem
                .as_str()
                .map_or_else(|| problem.to_string(), str::to_owned),
        };
        text.push_str(&format!("\n• {}", message::escape(&line)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_list_each_problem() {
        let e = ApiError::new(StatusCode::BAD_REQUEST, "2 problem(s) with the inputs").with(
            "problems",
            json!([{ "input": "version", "message": "required" }, "other <thing>"]),
        );
        let text = refusal_text("deploy", &e);
        assert!(
            text.contains("`deploy` was not started: 2 problem(s)"),
            "{text}"
        );
        assert!(text.contains("• input `version`: required"), "{text}");
        assert!(text.contains("• other &lt;thing&gt;"), "{text}");
    }

    #[test]
    fn loading_refuses_an_empty_secret_and_hides_the_value() {
        let names = ["S".to_owned(), "E".to_owned()];
        let secrets = SecretStore::load(&names, None, |n| match n {
            "S" => Some("slack-signing-value".into()),
            _ => Some(" ".into()),
        })
        .unwrap();
        let config = |secret: &str| SlackConfig {
            signing_secret: secret.into(),
            response_urls: vec!["https://hooks.slack.com/".into()],
            groups: IndexMap::new(),
        };
        let slack = Slack::load(&config("S"), &secrets).unwrap();
        assert!(!format!("{slack:?}").contains("slack-signing-value"));
        assert!(
            Slack::load(&config("E"), &secrets)
                .unwrap_err()
                .contains("empty")
        );
        let mut bad = config("S");
        bad.response_urls = vec!["hooks.slack.com".into()];
        assert!(
            Slack::load(&bad, &secrets)
                .unwrap_err()
                .contains("URL prefix")
        );
    }
}
