//! `steward serve`: the HTTP API (`/api/v1`) for CI and chat-ops, signed
//! webhooks, Slack, and cron schedules. Runs it starts are hosted here by a
//! [`Runner`](crate::host::Runner) each, with the trigger `api` (or
//! `webhook`, `chat`, `schedule`) and the token's name as actor; everything
//! else reads the run store, so runs of other processes show too.
//!
//! Its parts, each importing only those listed before it (a test in
//! `floors.rs` keeps it so):
//!
//! 1. [`log`] and [`metrics`]: the server's log lines and counters;
//! 2. [`http`]: plumbing (connections, the guard, limits, tokens, the
//!    error type);
//! 3. [`service`]: starting runs through the host's `prepare`, cancelling,
//!    deciding, reading the store; no HTTP;
//! 4. [`api`]: the handlers (runs, events, webhooks' and Slack's HTTP
//!    receiving), and [`scheduler`]: cron ticks; both ask the service;
//! 5. this file: setting it up, the routes, serving, stopping.

mod api;
#[cfg(test)]
mod floors;
mod http;
mod log;
mod metrics;
mod scheduler;
mod service;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::project::Project;
use crate::store::RunStore;

use api::AppState;
use http::Access;
use service::Service;

pub use api::hooks::{Hook, hooks};
pub use api::slack::Slack;
pub use http::auth::{Token, glob, tokens};
pub use http::limits::LimitsError;
pub use http::{ApiError, BODY_LIMIT};
pub(crate) use log::log;

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

/// Every route, behind the guard.
fn router(state: Arc<AppState>) -> Router {
    use api::{events, health, hooks, metrics, not_found, runs, slack};
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
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
            state.access.clone(),
            http::guard::guard,
        ))
        .with_state(state)
}

/// Serves the API on `listener` until SIGINT or SIGTERM; then stops
/// accepting, lets hosted runs finish for the grace period (or until a
/// second signal), and interrupts those still running: they are left
/// `interrupted` for `steward resume`.
pub async fn serve(listener: tokio::net::TcpListener, settings: Settings) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    let limits = http::limits::Limits::new(&settings.project.config.server)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let metrics = Arc::new(metrics::Metrics::default());
    let service = Arc::new(Service::new(
        settings.project,
        settings.store,
        settings.store_path,
        settings.secrets_file,
        metrics.clone(),
    ));
    let access = Arc::new(Access {
        tokens: settings.tokens,
        limits,
        metrics,
    });
    let state = Arc::new(AppState::new(
        service.clone(),
        access.clone(),
        settings.hooks,
        settings.slack,
    ));
    if access.tokens.is_empty() {
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
    api::slack::announce(&state);
    log(&format!("listening on http://{addr}"));
    service.tasks().spawn(scheduler::run(service.clone()));

    let mut signals = Signals::new()?;
    let stopping = service.stopping().clone();
    let app = router(state);
    let headers_timeout = access.limits.timeouts.headers;
    let server = tokio::spawn(http::connections::accept(
        listener,
        app,
        headers_timeout,
        stopping,
    ));

    signals.next().await;
    service.stop();
    let hosted = service.hosted();
    log(&format!(
        "stopping: no new requests; {hosted} run(s) may finish within {}",
        crate::duration::exact(settings.grace)
    ));
    tokio::select! {
        _ = service.wait() => {}
        _ = tokio::time::sleep(settings.grace) => {
            log("grace period over: interrupting the runs still going (`steward resume RUN` continues them)");
            service.interrupt_all();
            service.wait().await;
        }
        _ = signals.next() => {
            log("second signal: interrupting the runs still going (`steward resume RUN` continues them)");
            service.interrupt_all();
            service.wait().await;
        }
    }
    // Requests still open (a `?wait=true` whose run just ended) get a
    // moment to be answered.
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    log("stopped");
    Ok(())
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
