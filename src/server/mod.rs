//! `steward serve`: the HTTP API (`/api/v1`) for CI and chat-ops. Runs it
//! starts are hosted here by a [`Runner`](crate::host::Runner) each, with
//! the trigger `api` and the token's name as actor; everything else reads
//! the run store, so runs of other processes show too.

mod auth;
mod connections;
mod events;
mod guard;
mod hooks;
mod limits;
mod metrics;
mod runs;
mod scheduler;
mod slack;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::engine::Cancel;
use crate::project::Project;
use crate::store::{RunFilter, RunStore};

pub use auth::{Token, glob, tokens};
pub use hooks::{Hook, hooks};
pub use limits::LimitsError;
pub use slack::Slack;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What the server needs.
pub struct Settings {
    /// The project.
    pub project: Project,
    /// Its run store.
    pub store: Arc<dyn RunStore>,
    /// Where the store is (for messages).
    pub store_path: PathBuf,
    /// The accepted tokens.
    pub tokens: Vec<Token>,
    /// The signed webhooks, served at `POST /hooks/{name}`.
    pub hooks: Vec<Hook>,
    /// Slack chat-ops at `POST /hooks/slack`, when set up.
    pub slack: Option<Slack>,
    /// The secrets file runs load their secrets from, besides the
    /// environment.
    pub secrets_file: Option<PathBuf>,
    /// How long running runs may go on after a stop signal before they
    /// are interrupted.
    pub grace: Duration,
}

/// Shared by every request.
pub(crate) struct AppState {
    project: Project,
    store: Arc<dyn RunStore>,
    store_path: PathBuf,
    tokens: Vec<Token>,
    hooks: Vec<Hook>,
    slack: Option<Slack>,
    /// Webhook deliveries already taken, by hook and delivery id.
    deliveries: hooks::Deliveries,
    secrets_file: Option<PathBuf>,
    /// Runs hosted by this server, by id.
    running: Mutex<HashMap<String, Cancel>>,
    tasks: TaskTracker,
    /// Set once a stop signal came: no new runs.
    stopping: CancellationToken,
    /// Counters and histograms of `GET /metrics`.
    metrics: Arc<metrics::Metrics>,
    /// Rate and time limits.
    limits: limits::Limits,
}

/// An API error: a status and a JSON body `{"error": …}` (with the input
/// problems of a run request, when there are).
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    body: serde_json::Value,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with a message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
            headers: Vec::new(),
        }
    }

    /// Adds a field to the body.
    pub fn with(mut self, key: &str, value: serde_json::Value) -> Self {
        if let serde_json::Value::Object(map) = &mut self.body {
            map.insert(key.to_owned(), value);
        }
        self
    }

    /// Adds a response header.
    pub fn with_header(self, name: HeaderName, value: &'static str) -> Self {
        self.with_header_value(name, HeaderValue::from_static(value))
    }

    /// Adds a response header with a computed value.
    pub fn with_header_value(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Its JSON body.
    pub(crate) fn body(&self) -> &serde_json::Value {
        &self.body
    }

    fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/runbooks", get(runs::runbooks))
        .route("/api/v1/runs", post(runs::start).get(runs::list))
        .route("/api/v1/runs/{id}", get(runs::show))
        .route("/api/v1/runs/{id}/events", get(events::events))
        .route("/api/v1/runs/{id}/cancel", post(runs::cancel))
        .route(
            "/api/v1/runs/{id}/steps/{step}/approve",
            post(runs::approve),
        )
        .route("/api/v1/runs/{id}/steps/{step}/reject", post(runs::reject))
        .route("/hooks/slack", post(slack::receive))
        .route("/hooks/{name}", post(hooks::receive))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see docs/api.md")
}

/// `GET /health`: the server answers and its store can be read.
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let store = state.store.clone();
    let checked = tokio::task::spawn_blocking(move || {
        store.list_runs(&RunFilter {
            limit: Some(1),
            ..RunFilter::default()
        })
    })
    .await;
    match checked {
        Ok(Ok(_)) => Json(json!({ "status": "ok", "store": "ok" })).into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "error", "store": "error", "error": e.to_string() })),
        )
            .into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// Serves the API on `listener` until SIGINT or SIGTERM; then stops
/// accepting, lets hosted runs finish for the grace period (or until a
/// second signal), and interrupts those still running: they are left
/// `interrupted` for `steward resume`.
pub async fn serve(listener: tokio::net::TcpListener, settings: Settings) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    let limits = limits::Limits::new(&settings.project.config.server)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let state = Arc::new(AppState {
        project: settings.project,
        store: settings.store,
        store_path: settings.store_path,
        tokens: settings.tokens,
        hooks: settings.hooks,
        slack: settings.slack,
        deliveries: hooks::Deliveries::default(),
        secrets_file: settings.secrets_file,
        running: Mutex::new(HashMap::new()),
        tasks: TaskTracker::new(),
        stopping: CancellationToken::new(),
        metrics: Arc::new(metrics::Metrics::default()),
        limits,
    });
    if state.tokens.is_empty() {
        log("warning: steward.yaml defines no server.tokens: every /api/v1 call is refused");
    }
    for hook in &state.hooks {
        log(&format!(
            "webhook: POST /hooks/{} starts {}",
            hook.name(),
            hook.runbook()
        ));
    }
    if state.slack.is_some() {
        log("slack: POST /hooks/slack takes slash commands and approval buttons");
    }
    slack::announce(&state);
    log(&format!("listening on http://{addr}"));
    state.tasks.spawn(scheduler::run(state.clone()));

    let mut signals = Signals::new()?;
    let stopping = state.stopping.clone();
    let app = router(state.clone());
    let headers_timeout = state.limits.timeouts.headers;
    let server = tokio::spawn(connections::accept(
        listener,
        app,
        headers_timeout,
        stopping,
    ));

    signals.next().await;
    state.stopping.cancel();
    state.tasks.close();
    let hosted = state.running.lock().map(|r| r.len()).unwrap_or(0);
    log(&format!(
        "stopping: no new requests; {hosted} run(s) may finish within {}",
        crate::duration::exact(settings.grace)
    ));
    tokio::select! {
        _ = state.tasks.wait() => {}
        _ = tokio::time::sleep(settings.grace) => {
            log("grace period over: interrupting the runs still going (`steward resume RUN` continues them)");
            interrupt_all(&state);
            state.tasks.wait().await;
        }
        _ = signals.next() => {
            log("second signal: interrupting the runs still going (`steward resume RUN` continues them)");
            interrupt_all(&state);
            state.tasks.wait().await;
        }
    }
    // Requests still open (a `?wait=true` whose run just ended) get a
    // moment to be answered.
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    log("stopped");
    Ok(())
}

/// Stops every hosted run as if the server had died: its steps are killed,
/// its record is left unfinished (`interrupted`) and its lease released.
fn interrupt_all(state: &AppState) {
    if let Ok(running) = state.running.lock() {
        for cancel in running.values() {
            cancel.interrupt.cancel();
        }
    }
}

/// One line on the server's stderr.
pub(crate) fn log(line: &str) {
    use std::io::Write;
    let _ = writeln!(anstream::stderr(), "{line}");
}

struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
