//! `GET /api/v1/runs/{id}/events`: a run's audit events as Server-Sent
//! Events, read from the store and polled until `run_finished`, so it works
//! for any run, whichever process hosts it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;

use crate::config::TokenAction;
use crate::server::http::ApiError;
use crate::server::http::auth::authenticate;
use crate::server::service::Service;

use super::AppState;
use super::runs::run_for;

/// How often the store is read for new events.
const POLL: Duration = Duration::from_millis(250);

struct Cursor {
    service: Arc<Service>,
    run_id: String,
    after: u64,
    done: bool,
}

/// One SSE frame per audit line: `id` its sequence number, `event` its
/// kind, `data` the audit line itself.
fn frame(seq: u64, line: &str) -> (String, bool) {
    let kind = serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v["event"]["event"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "event".to_owned());
    let last = kind == "run_finished";
    (format!("id: {seq}\nevent: {kind}\ndata: {line}\n\n"), last)
}

/// `GET /api/v1/runs/{id}/events`; `Last-Event-ID` resumes after that
/// event.
pub async fn events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.access.tokens, &headers)?;
    run_for(&state, token, TokenAction::Read, &id).await?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let cursor = Cursor {
        service: state.service.clone(),
        run_id: id,
        after,
        done: false,
    };
    let stream = futures_util::stream::unfold(cursor, |mut c| async move {
        if c.done {
            return None;
        }
        loop {
            let store = c.service.store().clone();
            let id = c.run_id.clone();
            let from = c.after;
            let read = tokio::task::spawn_blocking(move || {
                // Asked first: a run's lease is released only once its last
                // events are committed, so a run found dead has no more.
                let alive = store.run_alive(&id)?;
                let lines = store.audit_lines_after(&id, from)?;
                Ok::<_, crate::store::StoreError>((lines, alive))
            })
            .await;
            let (lines, alive) = match read {
                Ok(Ok(found)) => found,
                Ok(Err(e)) => {
                    c.done = true;
                    let text = format!(
                        "event: error\ndata: {}\n\n",
                        serde_json::json!({"error": e.to_string()})
                    );
                    return Some((Ok::<_, std::convert::Infallible>(Bytes::from(text)), c));
                }
                Err(_) => return None,
            };
            let mut out = String::new();
            for line in &lines {
                let (text, last) = frame(line.seq, &line.line);
                out.push_str(&text);
                c.after = line.seq;
                if last {
                    c.done = true;
                    break;
                }
            }
            // A run that ended without `run_finished` (its process died).
            if out.is_empty() && !alive {
                return None;
            }
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), c));
            }
            if c.service.is_stopping() {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::internal(e.to_string()))
}
