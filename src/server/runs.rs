//! `/api/v1`: runbooks, runs, cancel, approvals.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;

use crate::config::TokenAction;
use crate::engine::Cancel;
use crate::events::{EventSink, Fanout, RunEvent, Trigger};
use crate::host::{
    self, Answer, Console, Finished, LaunchError, Lookup, PrepareError, Prepared, Request, Runner,
    Waiting,
};
use crate::kind::Decision;
use crate::plan::Plan;
use crate::store::{Refusal, RunFilter};

use super::auth::{Token, authenticate};
use super::metrics::MetricsSink;
use super::{ApiError, AppState, BODY_LIMIT, log};

type St = State<Arc<AppState>>;

pub(super) fn links(id: &str) -> serde_json::Value {
    json!({
        "self": format!("/api/v1/runs/{id}"),
        "events": format!("/api/v1/runs/{id}/events"),
    })
}

/// A request body read as bytes, with clear errors (413 past the limit).
pub(super) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!("the request body is larger than {} KiB", BODY_LIMIT / 1024),
            )
        } else {
            ApiError::new(
                status,
                format!("can't read the request body: {}", rejection.body_text()),
            )
        }
    })
}

/// Parses a JSON body; an empty body is `{}` when `empty_ok`.
fn parse<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    empty_ok: bool,
) -> Result<T, ApiError> {
    let bytes: &[u8] = if empty_ok && bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        let message = if e.is_syntax() || e.is_eof() {
            format!("the request body is not valid JSON ({e}); send a JSON object: {what}")
        } else {
            format!("the request body does not fit {what}: {e}")
        };
        ApiError::new(StatusCode::BAD_REQUEST, message)
    })
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("bad query string: {}", e.body_text()),
        )
    })
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

/// `GET /api/v1/runbooks`: the runbooks the token may read, valid ones only.
pub async fn runbooks(State(state): St, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = authenticate(&state.tokens, &headers)?;
    token.allow(TokenAction::Read, None)?;
    let state2 = state.clone();
    let plans = blocking(move || valid_plans(&state2.project)).await?;
    let list: Vec<_> = plans
        .iter()
        .filter(|p| token.covers(&p.name))
        .map(Plan::summary)
        .collect();
    Ok(Json(json!({ "runbooks": list })).into_response())
}

/// The project's runbooks that compile (with their defaults), in file order.
pub(super) fn valid_plans(project: &crate::project::Project) -> Result<Vec<Plan>, ApiError> {
    let (library, _) = project
        .library()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut plans = Vec::new();
    for path in project.runbook_files() {
        if let Ok((_, Some(plan))) = project.compile_file(&path, &library) {
            plans.push(plan);
        }
    }
    Ok(plans)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StartRequest {
    pub(super) runbook: String,
    #[serde(default)]
    pub(super) inputs: IndexMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    wait: bool,
}

/// Prepares the run `request` asks for, started by `trigger`.
pub(super) fn prepare(
    state: &AppState,
    request: &StartRequest,
    trigger: Trigger,
) -> Result<Prepared, ApiError> {
    let request = Request::new(&request.runbook, Lookup::Name, trigger)
        .json_inputs(&request.inputs)
        .secrets_file(state.secrets_file.clone());
    host::prepare(&state.project, request).map_err(|e| refusal(&e))
}

/// A run request's refusal as an API error.
pub(super) fn refusal(e: &PrepareError) -> ApiError {
    match e {
        PrepareError::UnknownRunbook { name, .. } => {
            ApiError::new(StatusCode::NOT_FOUND, format!("no runbook `{name}`"))
        }
        PrepareError::Project(e) => ApiError::internal(e.to_string()),
        PrepareError::Invalid {
            runbook, report, ..
        } => {
            let problems: Vec<&str> = report
                .diagnostics
                .iter()
                .map(|d| d.message.as_str())
                .collect();
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "runbook `{runbook}` is invalid ({}); `steward validate` shows why",
                    report.path
                ),
            )
            .with("problems", json!(problems))
        }
        PrepareError::Refused { runbook, .. } => {
            let problems = e.input_problems();
            match e.secrets_problem() {
                Some(secrets) if problems.is_empty() => ApiError::internal(secrets.to_string()),
                _ => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{} problem(s) with the inputs of `{runbook}`; nothing was run",
                        problems.len()
                    ),
                )
                .with("problems", json!(problems)),
            }
        }
    }
}

/// The console of the server's runs: problems go to its log; approvals
/// are given through the API or Slack.
struct Log;

impl Console for Log {
    fn problem(&self, run_id: &str, message: &str) {
        log(&format!("run {run_id}: {message}"));
    }

    fn approval_waiting(&self, _waiting: &Waiting<'_>, _answer: Answer) {}
}

/// Drops the run's events but says when it started (its record is then in
/// the store) and logs its start and end.
struct Notify {
    run_id: String,
    started: Mutex<Option<oneshot::Sender<()>>>,
}

impl EventSink for Notify {
    fn emit(&self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted {
                run_id,
                runbook,
                trigger,
                ..
            } => {
                log(&format!(
                    "run {run_id} of {runbook} started by {}",
                    trigger.actor
                ));
                if let Some(tx) = self.started.lock().ok().and_then(|mut s| s.take()) {
                    let _ = tx.send(());
                }
            }
            RunEvent::RunFinished { status, .. } => {
                log(&format!("run {} finished: {status}", self.run_id));
            }
            _ => {}
        }
    }
}

/// `POST /api/v1/runs[?wait=true]` `{runbook, inputs}`.
pub async fn start(
    State(state): St,
    q: Result<Query<StartQuery>, QueryRejection>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.tokens, &headers)?;
    token.allow(TokenAction::Run, None)?;
    let q = query(q)?;
    let bytes = body(raw)?;
    let request: StartRequest = parse(
        &bytes,
        r#"{"runbook": "NAME", "inputs": {"NAME": VALUE}}"#,
        false,
    )?;
    token.allow(TokenAction::Run, Some(&request.runbook))?;
    if state.stopping.is_cancelled() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; no new runs",
        ));
    }
    let trigger = Trigger {
        kind: "api".into(),
        actor: token.name.clone(),
        origin: None,
    };
    let state2 = state.clone();
    let prepared = blocking(move || prepare(&state2, &request, trigger)).await?;
    token.allow(TokenAction::Run, Some(&prepared.plan.name))?;

    let (run_id, done_rx) = launch(&state, prepared).await?;
    if !q.wait {
        return Ok((
            StatusCode::CREATED,
            Json(json!({
                "run_id": run_id,
                "status": "running",
                "links": links(&run_id),
            })),
        )
            .into_response());
    }
    match done_rx.await {
        Ok(Ok(finished)) => Ok(Json(json!({
            "run_id": run_id,
            "status": finished.report.status,
            "report": finished.report,
            "problems": finished.problems,
            "links": links(&run_id),
        }))
        .into_response()),
        Ok(Err(e)) => Err(ApiError::internal(e.to_string())),
        Err(_) => Err(ApiError::internal("the run's task ended unexpectedly")),
    }
}

/// Starts a prepared run hosted by this server with `trigger`; returns once
/// its record is in the store, with its id and a receiver of its end.
pub(super) async fn launch(
    state: &Arc<AppState>,
    prepared: Prepared,
) -> Result<(String, oneshot::Receiver<Result<Finished, LaunchError>>), ApiError> {
    launch_with(state, prepared, Fanout::default()).await
}

/// [`launch`], with `watchers` also seeing the run's events.
pub(super) async fn launch_with(
    state: &Arc<AppState>,
    prepared: Prepared,
    watchers: Fanout,
) -> Result<(String, oneshot::Receiver<Result<Finished, LaunchError>>), ApiError> {
    let run_id = prepared.run_id.clone();
    let options = host::Options {
        yes: false,
        secrets_file: state.secrets_file.clone(),
    };
    let runner = Runner::new(
        state.project.clone(),
        state.store.clone(),
        state.store_path.clone(),
        prepared.trigger.clone(),
        options,
        Arc::new(Log),
    );
    let (started_tx, started_rx) = oneshot::channel();
    let metrics = MetricsSink {
        metrics: state.metrics.clone(),
        runbook: prepared.plan.name.clone(),
    };
    let launch = prepared.launch(Box::new(watchers.with(metrics).with(Notify {
        run_id: run_id.clone(),
        started: Mutex::new(Some(started_tx)),
    })));
    let cancel = Cancel::default();
    if let Ok(mut running) = state.running.lock() {
        running.insert(run_id.clone(), cancel.clone());
    }
    let (done_tx, done_rx) = oneshot::channel::<Result<Finished, LaunchError>>();
    let state3 = state.clone();
    let id = run_id.clone();
    state.tasks.spawn(async move {
        let result = runner.launch(launch, cancel).await;
        if let Ok(mut running) = state3.running.lock() {
            running.remove(&id);
        }
        match &result {
            Ok(finished) => {
                for p in &finished.problems {
                    log(&format!("run {id}: {p}"));
                }
            }
            Err(e) => log(&format!("run {id} did not start: {e}")),
        }
        let _ = done_tx.send(result);
    });

    if started_rx.await.is_err() {
        // The run ended before it started: it could not be recorded.
        let message = match done_rx.await {
            Ok(Err(e)) => e.to_string(),
            _ => "the run did not start".to_owned(),
        };
        return Err(ApiError::internal(message));
    }
    Ok((run_id, done_rx))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    runbook: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/runs?runbook=&status=&limit=`: newest first.
pub async fn list(
    State(state): St,
    q: Result<Query<ListQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.tokens, &headers)?;
    token.allow(
        TokenAction::Read,
        q.as_ref().ok().and_then(|q| q.runbook.as_deref()),
    )?;
    let q = query(q)?;
    let limit = q.limit.unwrap_or(50).min(1000);
    // A token limited to some runbooks filters after reading: it reads the
    // newest `want` runs, four times more each round, until enough are
    // covered or the store has no more (not every stored run at once).
    let mut want = limit;
    let runs = loop {
        let filter = RunFilter {
            runbook: q.runbook.clone(),
            status: q.status.clone(),
            parent: None,
            limit: Some(want),
        };
        let store = state.store.clone();
        let read = blocking(move || Ok(store.list_runs(&filter)?)).await?;
        let exhausted = read.len() < want;
        let covered: Vec<_> = read
            .into_iter()
            .filter(|r| token.covers(&r.runbook))
            .take(limit)
            .collect();
        if !token.restricted() || covered.len() >= limit || exhausted {
            break covered;
        }
        want = want.saturating_mul(4);
    };
    Ok(Json(json!({ "runs": runs })).into_response())
}

/// The run's runbook, after checking the token may `action` on it.
pub(super) async fn run_for(
    state: &Arc<AppState>,
    token: &Token,
    action: TokenAction,
    id: &str,
) -> Result<crate::store::RunDetail, ApiError> {
    token.allow(action, None)?;
    let store = state.store.clone();
    let id2 = id.to_owned();
    let detail = blocking(move || Ok(store.get_run(&id2)?)).await?;
    let Some(detail) = detail else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no run `{id}`"),
        ));
    };
    token.allow(action, Some(&detail.run.runbook))?;
    Ok(detail)
}

/// `GET /api/v1/runs/{id}`: the run, its steps, approvals and child runs.
pub async fn show(
    State(state): St,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.tokens, &headers)?;
    let detail = run_for(&state, token, TokenAction::Read, &id).await?;
    let mut value = serde_json::to_value(&detail).map_err(|e| ApiError::internal(e.to_string()))?;
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("links".into(), links(&id));
    }
    Ok(Json(value).into_response())
}

/// `POST /api/v1/runs/{id}/cancel`: only runs hosted by this server.
pub async fn cancel(
    State(state): St,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.tokens, &headers)?;
    let detail = run_for(&state, token, TokenAction::Run, &id).await?;
    let cancel = state.running.lock().ok().and_then(|r| r.get(&id).cloned());
    let Some(cancel) = cancel else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "run {id} is {} and not running in this server; only runs it started can be cancelled here",
                detail.run.status
            ),
        ));
    };
    cancel.run.cancel();
    log(&format!("run {id}: cancel requested by {}", token.name));
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "run_id": id, "status": "cancelling", "links": links(&id) })),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DecideRequest {
    #[serde(default)]
    comment: Option<String>,
}

/// `POST /api/v1/runs/{id}/steps/{step}/approve` `{comment}`.
pub async fn approve(
    state: St,
    path: Path<(String, String)>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    decide(state, path, headers, raw, true).await
}

/// `POST /api/v1/runs/{id}/steps/{step}/reject` `{comment}`.
pub async fn reject(
    state: St,
    path: Path<(String, String)>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    decide(state, path, headers, raw, false).await
}

async fn decide(
    State(state): St,
    Path((id, step)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
    approved: bool,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.tokens, &headers)?;
    let bytes = body(raw)?;
    let request: DecideRequest = parse(&bytes, r#"{"comment": "TEXT"}"#, true)?;
    run_for(&state, token, TokenAction::Approve, &id).await?;
    let decision = Decision {
        approved,
        by: token.name.clone(),
        comment: request.comment.filter(|c| !c.trim().is_empty()),
        via: "api".into(),
        decided_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let store = state.store.clone();
    let (id2, step2, d2) = (id.clone(), step.clone(), decision.clone());
    let result = blocking(move || Ok(store.decide(&id2, &step2, &d2)?)).await?;
    match result {
        Ok(()) => {
            log(&format!(
                "run {id}: step {step} {} by {} via api",
                if approved { "approved" } else { "rejected" },
                token.name
            ));
            Ok(Json(json!({
                "run_id": id,
                "step": step,
                "decision": decision,
                "links": links(&id),
            }))
            .into_response())
        }
        Err(refusal) => {
            let status = match refusal {
                Refusal::NotAnApprover { .. } => StatusCode::FORBIDDEN,
                _ => StatusCode::CONFLICT,
            };
            Err(ApiError::new(status, refusal.to_string()))
        }
    }
}
