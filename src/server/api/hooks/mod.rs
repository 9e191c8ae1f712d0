//! `POST /hooks/{name}`: signed webhooks (GitHub, Standard Webhooks) that
//! start runs. The signature is checked over the raw body before anything
//! else; a refused delivery is logged with the hook's name and the reason,
//! never its body or the secret.

mod config;

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;
use serde_json::json;

use crate::events::{Fanout, Trigger};
use crate::server::http::ApiError;
use crate::server::http::request::body;
use crate::server::log::log;
use crate::server::service::Start;
use crate::webhook::{
    GITHUB_SIGNATURE_HEADER, STANDARD_ID_HEADER, STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER, SignatureError, verify_github, verify_standard,
};

use super::{AppState, links};
use config::Key;

pub use config::{Hook, hooks};

/// The GitHub event header.
const GITHUB_EVENT_HEADER: &str = "X-GitHub-Event";
/// The GitHub delivery id header.
const GITHUB_DELIVERY_HEADER: &str = "X-GitHub-Delivery";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The `reason` label of `steward_webhook_rejections_total`: a few fixed
/// words, never the free-text message.
pub(crate) fn reason_label(e: &SignatureError) -> &'static str {
    match e {
        SignatureError::MissingHeader(_) => "missing_header",
        SignatureError::Malformed { .. } => "malformed",
        SignatureError::StaleTimestamp { .. } => "stale_timestamp",
        SignatureError::Mismatch => "mismatch",
        SignatureError::InvalidSecret(_) => "invalid_secret",
    }
}

fn refuse(state: &AppState, hook: &str, label: &str, reason: &str) -> ApiError {
    state.access.metrics.rejection(hook, label);
    log(&format!("hook {hook}: delivery refused: {reason}"));
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        format!("the delivery's signature was refused: {reason}"),
    )
}

/// `POST /hooks/{name}`.
pub async fn receive(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(hook) = state.hooks.iter().find(|h| h.name == name) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no webhook `{name}`"),
        ));
    };
    let bytes = body(raw).inspect_err(|e| {
        state
            .access
            .metrics
            .rejection(&hook.name, "unreadable_body");
        log(&format!(
            "hook {}: delivery refused: unreadable body ({})",
            hook.name, e.status
        ));
    })?;
    let verified = match &hook.key {
        Key::Github(secret) => {
            verify_github(secret, header(&headers, GITHUB_SIGNATURE_HEADER), &bytes)
        }
        Key::Standard(secret) => verify_standard(
            secret,
            header(&headers, STANDARD_ID_HEADER),
            header(&headers, STANDARD_TIMESTAMP_HEADER),
            header(&headers, STANDARD_SIGNATURE_HEADER),
            &bytes,
            chrono::Utc::now(),
        ),
    };
    if let Err(e) = verified {
        return Err(refuse(&state, &hook.name, reason_label(&e), &e.to_string()));
    }
    if let Err(limited) = state.access.limits.hook(&hook.name) {
        state.access.metrics.limited("hook_rate");
        log(&format!(
            "hook {}: delivery refused: over its rate limit",
            hook.name
        ));
        return Err(limited);
    }

    let origin = match hook.key {
        Key::Github(_) => {
            let event = header(&headers, GITHUB_EVENT_HEADER).unwrap_or("");
            let wanted = if hook.events.is_empty() {
                event != "ping"
            } else {
                hook.events.iter().any(|e| e == event)
            };
            if !wanted {
                return Ok(ignored(hook, format!("event `{event}`")));
            }
            if let Some(action) = unwanted_action(hook, &bytes) {
                return Ok(ignored(hook, format!("event `{event}` with {action}")));
            }
            header(&headers, GITHUB_DELIVERY_HEADER).map(str::to_owned)
        }
        Key::Standard(_) => header(&headers, STANDARD_ID_HEADER).map(str::to_owned),
    };

    if let Some(id) = &origin
        && !state.deliveries.take(&hook.name, id)
    {
        return Err(refuse(
            &state,
            &hook.name,
            "replay",
            &format!("delivery `{id}` was already taken (a replay)"),
        ));
    }
    let result = start_run(&state, hook, &headers, &bytes, origin.clone()).await;
    if result.is_err()
        && let Some(id) = &origin
    {
        state.deliveries.forget(&hook.name, id);
    }
    result
}

/// A delivery that starts nothing, acknowledged.
fn ignored(hook: &Hook, what: String) -> Response {
    log(&format!("hook {}: {what} ignored", hook.name));
    (
        StatusCode::ACCEPTED,
        Json(json!({ "ignored": what.replace('`', "") })),
    )
        .into_response()
}

/// With `actions:` set, the payload's `action` when it is not one of them
/// (as `action `X``, or `no action`).
fn unwanted_action(hook: &Hook, body: &[u8]) -> Option<String> {
    if hook.actions.is_empty() {
        return None;
    }
    let payload: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    match payload.as_ref().and_then(|p| p.get("action")?.as_str()) {
        Some(action) if hook.actions.iter().any(|a| a == action) => None,
        Some(action) => Some(format!("action `{action}`")),
        None => Some("no action".to_owned()),
    }
}

/// Renders the hook's inputs from a verified delivery and starts its run.
async fn start_run(
    state: &Arc<AppState>,
    hook: &Hook,
    headers: &HeaderMap,
    bytes: &[u8],
    origin: Option<String>,
) -> Result<Response, ApiError> {
    let payload: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the delivery's body is not JSON: {e}"),
        )
    })?;
    let header_map: IndexMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let env = crate::template::environment();
    let ctx = minijinja::context! {
        payload => minijinja::Value::from_serialize(&payload),
        headers => minijinja::Value::from_serialize(&header_map),
    };
    let mut inputs = IndexMap::new();
    let mut problems = Vec::new();
    for (input, template) in &hook.inputs {
        match env.render_str(template, &ctx) {
            Ok(value) => {
                inputs.insert(input.clone(), serde_json::Value::String(value));
            }
            Err(e) => problems.push(json!({ "input": input, "message": e.to_string() })),
        }
    }
    if !problems.is_empty() {
        log(&format!(
            "hook {}: {} input(s) could not be rendered; nothing was run",
            hook.name,
            problems.len()
        ));
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{} input(s) of hook `{}` could not be rendered from the delivery; nothing was run",
                problems.len(),
                hook.name
            ),
        )
        .with("problems", json!(problems)));
    }
    if state.service.is_stopping() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; no new runs",
        ));
    }
    let start = Start {
        runbook: hook.runbook.clone(),
        inputs,
        trigger: Trigger {
            kind: "webhook".into(),
            actor: format!("hook:{}", hook.name),
            origin,
        },
    };
    let prepared = match state.service.prepare(start).await {
        Ok(prepared) => prepared,
        Err(e) => {
            let e = ApiError::from(e);
            log(&format!(
                "hook {}: run of {} not started ({})",
                hook.name, hook.runbook, e.status
            ));
            return Err(e);
        }
    };
    let run_id = state
        .service
        .launch(prepared, Fanout::default())
        .await?
        .run_id;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "run_id": run_id, "links": links(&run_id) })),
    )
        .into_response())
}
