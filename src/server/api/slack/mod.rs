//! `POST /hooks/slack`: Slack slash commands (`/runbook deploy version=1.4.2`,
//! `list`, `status RUN`) and the approval buttons Steward posts. Every
//! request's v0 signature is checked over the raw body before anything
//! else; who may start what is each runbook's `triggers.chat.allow`.
//! The answer comes at once; progress and the result go to the command's
//! `response_url`.

mod answer;
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
use crate::plan::Plan;
use crate::secrets::SecretStore;
use crate::webhook::{SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER, verify_slack};

use self::command::{Command, Who};
use super::AppState;
use crate::server::http::ApiError;
use crate::server::http::request::body;
use crate::server::log::log;

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
pub(crate) fn announce(state: &AppState) {
    let Ok(plans) = state.service.valid_plans() else {
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
    state.access.metrics.rejection(HOOK, label);
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
        state.access.metrics.rejection(HOOK, "unreadable_body");
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
    if let Err(limited) = state.access.limits.hook(HOOK) {
        state.access.metrics.limited("hook_rate");
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
        Command::List => answer::list(&state, slack, &who, &slash).await?,
        Command::Status(id) => answer::status(&state, slack, &who, &id).await?,
        Command::Run { word, inputs } => {
            answer::start(&state, slack, &who, &word, inputs, &response_url, &slash).await?
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
    Ok(state.service.plans().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
