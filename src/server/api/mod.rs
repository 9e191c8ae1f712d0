//! The handlers: `/api/v1` (runbooks, runs, their events, cancel,
//! approvals), `GET /health` and `GET /metrics`, and the HTTP receiving of
//! signed webhooks (`hooks/`) and Slack (`slack/`). They check tokens and
//! signatures, read requests and word answers; what they ask of the server
//! goes to the [`Service`].

mod deliveries;
pub(crate) mod events;
pub(crate) mod hooks;
pub(crate) mod runs;
pub(crate) mod slack;

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::host::{PrepareError, Problem};
use crate::server::http::{Access, ApiError};
use crate::server::metrics::CONTENT_TYPE_TEXT;
use crate::server::service::{Failure, Service, StartError};
use crate::store::RunFilter;

use deliveries::Deliveries;
use hooks::Hook;
use slack::Slack;

/// Shared by every request.
pub(crate) struct AppState {
    /// Runs: start, cancel, decide, read.
    pub(crate) service: Arc<Service>,
    /// Tokens, limits, counters.
    pub(crate) access: Arc<Access>,
    /// The signed webhooks, served at `POST /hooks/{name}`.
    pub(crate) hooks: Vec<Hook>,
    /// Slack chat-ops at `POST /hooks/slack`, when set up.
    pub(crate) slack: Option<Slack>,
    /// Webhook deliveries already taken, by hook and delivery id.
    pub(crate) deliveries: Deliveries,
}

impl AppState {
    /// The state of a server with these parts.
    pub(crate) fn new(
        service: Arc<Service>,
        access: Arc<Access>,
        hooks: Vec<Hook>,
        slack: Option<Slack>,
    ) -> AppState {
        AppState {
            service,
            access,
            hooks,
            slack,
            deliveries: Deliveries::default(),
        }
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see docs/api.md")
}

/// `GET /health`: the server answers and its store can be read.
pub(crate) async fn health(State(state): State<Arc<AppState>>) -> Response {
    let filter = RunFilter {
        limit: Some(1),
        ..RunFilter::default()
    };
    match state.service.runs(filter).await {
        Ok(_) => Json(json!({ "status": "ok", "store": "ok" })).into_response(),
        Err(Failure::Task(e)) => ApiError::internal(e.to_string()).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "error", "store": "error", "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// `GET /metrics` (no authentication).
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let body = state.access.metrics.render(state.service.hosted());
    ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], body).into_response()
}

/// A run's links.
pub(crate) fn links(id: &str) -> serde_json::Value {
    json!({
        "self": format!("/api/v1/runs/{id}"),
        "events": format!("/api/v1/runs/{id}/events"),
    })
}

impl From<Failure> for ApiError {
    fn from(e: Failure) -> Self {
        match e {
            Failure::Store(e) => e.into(),
            Failure::Project(e) => ApiError::internal(e.to_string()),
            Failure::Task(e) => ApiError::internal(e.to_string()),
        }
    }
}

impl From<StartError> for ApiError {
    /// A run that was not started: 404 for an unknown runbook, 422 for an
    /// invalid one, 400 for refused inputs (each problem in `problems`),
    /// 503 while stopping, 500 for the rest (secrets included: the server's
    /// setup, not the request, is at fault).
    fn from(e: StartError) -> Self {
        let status = match &e {
            StartError::Prepare(PrepareError::UnknownRunbook { .. }) => StatusCode::NOT_FOUND,
            StartError::Prepare(PrepareError::Invalid { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
            StartError::Prepare(PrepareError::Refused { .. })
                if !e.request_problems().is_empty() =>
            {
                StatusCode::BAD_REQUEST
            }
            StartError::Stopping => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let error = ApiError::new(status, e.headline());
        match &e {
            StartError::Prepare(PrepareError::Invalid { .. }) => {
                error.with("problems", json!(e.details()))
            }
            StartError::Prepare(PrepareError::Refused { .. }) if status.is_client_error() => {
                let problems: Vec<serde_json::Value> = e
                    .request_problems()
                    .into_iter()
                    .map(|p| match p {
                        Problem::Input(p) => json!(p),
                        other => json!(other.to_string()),
                    })
                    .collect();
                error.with("problems", json!(problems))
            }
            _ => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnostic;
    use crate::inputs::InputProblem;
    use crate::project::FileReport;
    use crate::secrets::SecretsError;

    fn refused(problems: Vec<Problem>) -> ApiError {
        ApiError::from(StartError::Prepare(PrepareError::Refused {
            runbook: "deploy".into(),
            problems,
        }))
    }

    fn missing() -> Problem {
        Problem::Secrets(SecretsError::Missing {
            names: vec!["TOKEN".into()],
            file: None,
        })
    }

    fn required() -> Problem {
        Problem::Input(InputProblem {
            input: "version".into(),
            message: "required, no value given".into(),
        })
    }

    #[test]
    fn a_refused_start_keeps_its_status_and_body() {
        let e = ApiError::from(StartError::Prepare(PrepareError::UnknownRunbook {
            name: "deplyo".into(),
            folder: "runbooks".into(),
            hint: Some("did you mean `deploy`?".into()),
        }));
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.body(), &json!({ "error": "no runbook `deplyo`" }));

        let e = ApiError::from(StartError::Prepare(PrepareError::Invalid {
            runbook: "broken".into(),
            report: FileReport {
                path: "runbooks/broken.yaml".into(),
                text: String::new(),
                diagnostics: vec![Diagnostic::whole_file("unknown key `nope`")],
            },
            with_inputs: false,
        }));
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            e.body(),
            &json!({
                "error": "runbook `broken` is invalid (runbooks/broken.yaml); `steward validate` shows why",
                "problems": ["unknown key `nope`"],
            })
        );

        // Input problems are the request's fault: 400, each one listed, the
        // secrets (the server's setup) left out.
        let e = refused(vec![required(), missing()]);
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.body(),
            &json!({
                "error": "1 problem(s) with the inputs of `deploy`; nothing was run",
                "problems": [{ "input": "version", "message": "required, no value given" }],
            })
        );
        let e = refused(vec![missing()]);
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            e.body(),
            &json!({ "error": "missing secret: TOKEN; set it in the environment or in a secrets file" })
        );

        let e = ApiError::from(StartError::Stopping);
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            e.body(),
            &json!({ "error": "the server is shutting down; no new runs" })
        );
    }
}
