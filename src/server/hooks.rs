//! `POST /hooks/{name}`: signed webhooks (GitHub, Standard Webhooks) that
//! start runs. The signature is checked over the raw body before anything
//! else; a refused delivery is logged with the hook's name and the reason,
//! never its body or the secret.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;
use serde_json::json;

use crate::config::{HookConfig, HookKind};
use crate::events::Trigger;
use crate::secrets::SecretStore;
use crate::webhook::{
    GITHUB_SIGNATURE_HEADER, STANDARD_ID_HEADER, STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER, SignatureError, StandardSecret, verify_github, verify_standard,
};

use super::runs::{StartRequest, blocking, body, launch, links, prepare};
use super::{ApiError, AppState, log};

/// The GitHub event header.
const GITHUB_EVENT_HEADER: &str = "X-GitHub-Event";
/// The GitHub delivery id header.
const GITHUB_DELIVERY_HEADER: &str = "X-GitHub-Delivery";

/// How long a delivery id is remembered: a second delivery with the same id
/// (`X-GitHub-Delivery`, `webhook-id`) is refused as a replay.
const REMEMBER: Duration = Duration::from_secs(24 * 60 * 60);
/// At most this many delivery ids are remembered; the oldest go first.
const REMEMBER_MAX: usize = 10_000;

/// The delivery ids taken recently, by `(hook, id)`, in memory.
#[derive(Default)]
pub(crate) struct Deliveries(Mutex<HashMap<(String, String), Instant>>);

impl Deliveries {
    /// Takes `id` for `hook`; false when it was already taken.
    pub(super) fn take(&self, hook: &str, id: &str) -> bool {
        let Ok(mut seen) = self.0.lock() else {
            return true;
        };
        let now = Instant::now();
        seen.retain(|_, at| now.duration_since(*at) < REMEMBER);
        if seen.len() >= REMEMBER_MAX
            && let Some(oldest) = seen
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
        {
            seen.remove(&oldest);
        }
        seen.insert((hook.to_owned(), id.to_owned()), now).is_none()
    }

    /// Forgets `id` (its delivery started nothing, so it may come again).
    fn forget(&self, hook: &str, id: &str) {
        if let Ok(mut seen) = self.0.lock() {
            seen.remove(&(hook.to_owned(), id.to_owned()));
        }
    }
}

/// A hook's signing key.
enum Key {
    Github(Vec<u8>),
    Standard(StandardSecret),
}

/// A configured webhook with its secret loaded. Its `Debug` shows no key.
pub struct Hook {
    name: String,
    key: Key,
    runbook: String,
    inputs: IndexMap<String, String>,
    events: Vec<String>,
    actions: Vec<String>,
}

impl Hook {
    /// Its name (`/hooks/{name}`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The runbook it starts.
    pub fn runbook(&self) -> &str {
        &self.runbook
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("name", &self.name)
            .field("runbook", &self.runbook)
            .finish_non_exhaustive()
    }
}

/// The hooks of steward.yaml with their secrets from `secrets` (loaded for
/// the names their `secret` fields give).
pub fn hooks(config: &[HookConfig], secrets: &SecretStore) -> Result<Vec<Hook>, String> {
    let mut out: Vec<Hook> = Vec::new();
    for h in config {
        if h.name.is_empty()
            || !h
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(format!(
                "server.hooks: `{}` is not a usable name (letters, digits, `-`, `_`)",
                h.name
            ));
        }
        if h.name == "slack" {
            return Err(
                "server.hooks: the name `slack` is taken by Slack chat-ops (`server.slack`)"
                    .to_owned(),
            );
        }
        if out.iter().any(|o| o.name == h.name) {
            return Err(format!("server.hooks: the name `{}` is used twice", h.name));
        }
        if h.kind == HookKind::Standard && !h.events.is_empty() {
            return Err(format!(
                "server.hooks: hook `{}`: `events` is for kind `github` only",
                h.name
            ));
        }
        if h.kind == HookKind::Standard && !h.actions.is_empty() {
            return Err(format!(
                "server.hooks: hook `{}`: `actions` is for kind `github` only",
                h.name
            ));
        }
        let value = secrets.get(&h.secret).unwrap_or_default();
        if value.trim().is_empty() {
            return Err(format!(
                "server.hooks: hook `{}`: its secret {} is empty",
                h.name, h.secret
            ));
        }
        let key = match h.kind {
            HookKind::Github => Key::Github(value.as_bytes().to_vec()),
            HookKind::Standard => Key::Standard(StandardSecret::parse(value).map_err(|e| {
                format!(
                    "server.hooks: hook `{}`: its secret {}: {e}",
                    h.name, h.secret
                )
            })?),
        };
        let env = crate::template::environment();
        for (input, template) in &h.inputs {
            if let Err(e) = env.template_from_str(template) {
                return Err(format!(
                    "server.hooks: hook `{}`: input `{input}`: {e}",
                    h.name
                ));
            }
        }
        out.push(Hook {
            name: h.name.clone(),
            key,
            runbook: h.runbook.clone(),
            inputs: h.inputs.clone(),
            events: h.events.clone(),
            actions: h.actions.clone(),
        });
    }
    Ok(out)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The `reason` label of `steward_webhook_rejections_total`: a few fixed
/// words, never the free-text message.
pub(super) fn reason_label(e: &SignatureError) -> &'static str {
    match e {
        SignatureError::MissingHeader(_) => "missing_header",
        SignatureError::Malformed { .. } => "malformed",
        SignatureError::StaleTimestamp { .. } => "stale_timestamp",
        SignatureError::Mismatch => "mismatch",
        SignatureError::InvalidSecret(_) => "invalid_secret",
    }
}

fn refuse(state: &AppState, hook: &str, label: &str, reason: &str) -> ApiError {
    state.metrics.rejection(hook, label);
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
        state.metrics.rejection(&hook.name, "unreadable_body");
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
    if let Err(limited) = state.limits.hook(&hook.name) {
        state.metrics.limited("hook_rate");
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
    if state.stopping.is_cancelled() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; no new runs",
        ));
    }
    let request = StartRequest {
        runbook: hook.runbook.clone(),
        inputs,
    };
    let trigger = Trigger {
        kind: "webhook".into(),
        actor: format!("hook:{}", hook.name),
        origin,
    };
    let state2 = state.clone();
    let prepared = blocking(move || prepare(&state2, &request, trigger))
        .await
        .inspect_err(|e| {
            log(&format!(
                "hook {}: run of {} not started ({})",
                hook.name, hook.runbook, e.status
            ));
        })?;
    let (run_id, _done) = launch(state, prepared).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "run_id": run_id, "links": links(&run_id) })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(hooks: &str) -> Result<Vec<HookConfig>, String> {
        let text = format!(
            "server:\n  hooks: {}\n",
            hooks.trim().replace('\n', "\n    ")
        );
        match crate::spec::parse_config(&text) {
            (Some(config), d) if d.is_empty() => Ok(config.server.hooks),
            (_, d) => Err(format!("{d:?}")),
        }
    }

    fn config(yaml: &str) -> Vec<HookConfig> {
        parse(yaml).unwrap()
    }

    fn secrets() -> SecretStore {
        let names = ["GH".to_owned(), "STD".to_owned(), "EMPTY".to_owned()];
        SecretStore::load(&names, None, |name| match name {
            "GH" => Some("gh-secret-value".into()),
            "STD" => Some("whsec_c3RhbmRhcmQta2V5".into()),
            "EMPTY" => Some(" ".into()),
            _ => None,
        })
        .unwrap()
    }

    fn error(yaml: &str) -> String {
        hooks(&config(yaml), &secrets()).unwrap_err()
    }

    #[test]
    fn loads_hooks_and_hides_their_keys() {
        let loaded = hooks(
            &config(
                r#"[{ name: gh, kind: github, secret: GH, runbook: deploy, events: [deployment], inputs: { version: "{{ payload.deployment.ref }}" } }, { name: std, kind: standard, secret: STD, runbook: deploy }]"#,
            ),
            &secrets(),
        )
        .unwrap();
        assert_eq!(loaded.len(), 2);
        let debug = format!("{loaded:?}");
        assert!(!debug.contains("gh-secret-value"), "{debug}");
    }

    #[test]
    fn refuses_bad_hooks() {
        assert!(error("[{ name: a, kind: github, secret: EMPTY, runbook: r }]").contains("empty"));
        assert!(
            error(
                "[{ name: a, kind: github, secret: GH, runbook: r }, { name: a, kind: github, secret: GH, runbook: r }]"
            )
            .contains("used twice")
        );
        assert!(
            error("[{ name: a, kind: standard, secret: STD, runbook: r, events: [push] }]")
                .contains("`events` is for kind `github`")
        );
        assert!(
            error("[{ name: a, kind: standard, secret: STD, runbook: r, actions: [published] }]")
                .contains("`actions` is for kind `github`")
        );
        assert!(error("[{ name: a, kind: standard, secret: GH, runbook: r }]").contains("base64"));
        assert!(error("[{ name: a/b, kind: github, secret: GH, runbook: r }]").contains("name"));
        assert!(
            error("[{ name: a, kind: github, secret: GH, runbook: r, inputs: { x: '{{ oops' } }]")
                .contains("input `x`")
        );
        assert!(parse("[{ name: a, kind: github, secret: GH, runbook: r, extra: 1 }]").is_err());
        assert!(parse("[{ name: a, kind: gitlab, secret: GH, runbook: r }]").is_err());
    }

    #[test]
    fn a_delivery_id_is_taken_once_until_forgotten() {
        let d = Deliveries::default();
        assert!(d.take("gh", "1"));
        assert!(!d.take("gh", "1"));
        assert!(d.take("other", "1"));
        d.forget("gh", "1");
        assert!(d.take("gh", "1"));
    }
}
