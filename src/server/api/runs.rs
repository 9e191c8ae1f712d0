//! `/api/v1`: runbooks, runs, cancel, approvals.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::json;

use crate::config::TokenAction;
use crate::events::{Fanout, Trigger};
use crate::kind::Decision;
use crate::outcome::RunStatus;
use crate::plan::Plan;
use crate::server::http::ApiError;
use crate::server::http::auth::{Token, authenticate};
use crate::server::http::request::{body, parse, query};
use crate::server::log::log;
use crate::server::service::Start;
use crate::store::{Refusal, RunFilter};

use super::{AppState, links};

type St = State<Arc<AppState>>;

/// `GET /api/v1/runbooks`: the runbooks the token may read, valid ones only.
pub async fn runbooks(State(state): St, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = authenticate(&state.access.tokens, &headers)?;
    token.allow(TokenAction::Read, None)?;
    let plans = state.service.plans().await?;
    let list: Vec<_> = plans
        .iter()
        .filter(|p| token.covers(&p.name))
        .map(Plan::summary)
        .collect();
    Ok(Json(json!({ "runbooks": list })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    runbook: String,
    #[serde(default)]
    inputs: IndexMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    wait: bool,
}

/// `POST /api/v1/runs[?wait=true]` `{runbook, inputs}`.
pub async fn start(
    State(state): St,
    q: Result<Query<StartQuery>, QueryRejection>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.access.tokens, &headers)?;
    token.allow(TokenAction::Run, None)?;
    let q = query(q)?;
    let bytes = body(raw)?;
    let request: StartRequest = parse(
        &bytes,
        r#"{"runbook": "NAME", "inputs": {"NAME": VALUE}}"#,
        false,
    )?;
    token.allow(TokenAction::Run, Some(&request.runbook))?;
    let start = Start {
        runbook: request.runbook,
        inputs: request.inputs,
        trigger: Trigger {
            kind: "api".into(),
            actor: token.name.clone(),
            origin: None,
        },
    };
    let prepared = state.service.prepare(start).await?;
    token.allow(TokenAction::Run, Some(&prepared.plan.name))?;

    let started = state.service.launch(prepared, Fanout::default()).await?;
    let run_id = started.run_id;
    if !q.wait {
        return Ok((
            StatusCode::CREATED,
            Json(json!({
                "run_id": run_id,
                "status": RunStatus::Running,
                "links": links(&run_id),
            })),
        )
            .into_response());
    }
    match started.done.await {
        Ok(Ok(finished)) => Ok(Json(json!({
            "run_id": run_id,
            "status": finished.report.outcome.status,
            "report": finished.report,
            "problems": finished.problems,
            "links": links(&run_id),
        }))
        .into_response()),
        Ok(Err(e)) => Err(ApiError::internal(e.to_string())),
        Err(_) => Err(ApiError::internal("the run's task ended unexpectedly")),
    }
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
    let token = authenticate(&state.access.tokens, &headers)?;
    token.allow(
        TokenAction::Read,
        q.as_ref().ok().and_then(|q| q.runbook.as_deref()),
    )?;
    let q = query(q)?;
    let limit = q.limit.unwrap_or(50).min(1000);
    // A status no run can have matches no run.
    let Ok(status) = q.status.as_deref().map(str::parse::<RunStatus>).transpose() else {
        return Ok(Json(json!({ "runs": [] })).into_response());
    };
    // A token limited to some runbooks filters after reading: it reads the
    // newest `want` runs, four times more each round, until enough are
    // covered or the store has no more (not every stored run at once).
    let mut want = limit;
    let runs = loop {
        let filter = RunFilter {
            runbook: q.runbook.clone(),
            status,
            parent: None,
            limit: Some(want),
        };
        let read = state.service.runs(filter).await?;
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
pub(crate) async fn run_for(
    state: &Arc<AppState>,
    token: &Token,
    action: TokenAction,
    id: &str,
) -> Result<crate::store::RunDetail, ApiError> {
    token.allow(action, None)?;
    let Some(detail) = state.service.run(id).await? else {
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
    let token = authenticate(&state.access.tokens, &headers)?;
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
    let token = authenticate(&state.access.tokens, &headers)?;
    let detail = run_for(&state, token, TokenAction::Run, &id).await?;
    // A run whose end is recorded is not cancelled, even if its task has
    // not yet left the map of hosted runs.
    if detail.run.status.has_ended() || !state.service.cancel(&id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "run {id} is {} and not running in this server; only runs it started can be cancelled here",
                detail.run.status
            ),
        ));
    }
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
    let token = authenticate(&state.access.tokens, &headers)?;
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
    match state.service.decide(&id, &step, &decision).await? {
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
