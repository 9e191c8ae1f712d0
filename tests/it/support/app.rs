//! An application under test for the deploy runbooks: one environment of a
//! web app on 127.0.0.1, built on [`net::http::Server`], with
//!
//! - `GET /health`: `{"status": "healthy"}`, or what the test sets
//!   ([`Health`]); a version marked bad answers 500 whatever is set;
//! - `GET /version`: `{"version": …}` (404 before the first deploy);
//! - `POST /deploy`: the deploy hook, `{"version": …}` with a bearer token;
//!   recorded in a log shared by every environment, so that a test sees the
//!   order of deploys across them;
//! - `GET /`: a page, for smoke tests.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::net::http::{Reply, Request, Server};

/// What `/health` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// 200 `{"status": "healthy"}`.
    Healthy,
    /// 200 `{"status": "degraded"}`.
    Degraded,
    /// 500 `{"status": "down"}`.
    Failing,
    /// No answer at all.
    Hanging,
}

/// One deploy the hook received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deploy {
    /// The environment (the app's name).
    pub env: String,
    /// The version asked for.
    pub version: String,
    /// The `Authorization` header.
    pub auth: Option<String>,
}

/// Every deploy of every environment, in the order received.
pub type DeployLog = Arc<Mutex<Vec<Deploy>>>;

struct State {
    version: Option<String>,
    health: Health,
    bad: HashSet<String>,
}

/// One environment of the application.
pub struct App {
    /// Its name (`staging`, `production`).
    pub env: String,
    state: Arc<Mutex<State>>,
    server: Server,
}

impl App {
    /// Starts an environment running `version` (none: never deployed),
    /// healthy, recording deploys in `log`.
    pub fn start(env: &str, version: Option<&str>, log: &DeployLog) -> Self {
        let state = Arc::new(Mutex::new(State {
            version: version.map(str::to_owned),
            health: Health::Healthy,
            bad: HashSet::new(),
        }));
        let (shared, log, name) = (state.clone(), log.clone(), env.to_owned());
        let server = Server::start(move |req: &Request, _| {
            let mut state = shared.lock().expect("app state");
            match (req.method.as_str(), req.path()) {
                ("GET", "/health") => {
                    let bad = state
                        .version
                        .as_ref()
                        .is_some_and(|v| state.bad.contains(v));
                    match (bad, state.health) {
                        (true, _) | (_, Health::Failing) => {
                            Reply::json(500, json!({ "status": "down" }))
                        }
                        (_, Health::Hanging) => Reply::hang(),
                        (_, Health::Degraded) => Reply::json(200, json!({ "status": "degraded" })),
                        (_, Health::Healthy) => Reply::json(200, json!({ "status": "healthy" })),
                    }
                }
                ("GET", "/version") => match &state.version {
                    Some(v) => Reply::json(200, json!({ "version": v })),
                    None => Reply::json(404, json!({ "error": "nothing deployed" })),
                },
                ("POST", "/deploy") => {
                    let body: serde_json::Value =
                        serde_json::from_slice(&req.body).unwrap_or_default();
                    let Some(version) = body["version"].as_str() else {
                        return Reply::json(400, json!({ "error": "no version" }));
                    };
                    log.lock().expect("deploy log").push(Deploy {
                        env: name.clone(),
                        version: version.to_owned(),
                        auth: req.header("authorization").map(str::to_owned),
                    });
                    state.version = Some(version.to_owned());
                    Reply::json(202, json!({ "deploying": version }))
                }
                ("GET", "/") => Reply::text(200, "welcome"),
                _ => Reply::json(404, json!({ "error": "no such page" })),
            }
        });
        App {
            env: env.to_owned(),
            state,
            server,
        }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        self.server.url("")
    }

    /// Its deploy hook.
    pub fn hook(&self) -> String {
        self.server.url("/deploy")
    }

    /// Sets what `/health` answers.
    pub fn set_health(&self, health: Health) {
        self.state.lock().expect("app state").health = health;
    }

    /// `/health` fails (500) while this version runs.
    pub fn mark_bad(&self, version: &str) {
        self.state
            .lock()
            .expect("app state")
            .bad
            .insert(version.to_owned());
    }

    /// The version it runs.
    pub fn version(&self) -> Option<String> {
        self.state.lock().expect("app state").version.clone()
    }

    /// The requests it received.
    pub fn requests(&self) -> Vec<Request> {
        self.server.requests()
    }

    /// How many requests it received for `path` with `method`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path() == path)
            .count()
    }
}

/// A receiver of notifications (a Slack webhook, PagerDuty's Events API):
/// answers 2xx as they do and keeps every request.
pub struct Receiver {
    server: Server,
}

impl Receiver {
    /// A Slack incoming webhook: `200 ok`.
    pub fn slack() -> Self {
        Receiver {
            server: Server::start(|_, _| Reply::text(200, "ok")),
        }
    }

    /// PagerDuty's Events API: `202` with the event's dedup key.
    pub fn pagerduty() -> Self {
        Receiver {
            server: Server::start(|req, _| {
                let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
                let key = body["dedup_key"].as_str().unwrap_or("generated-key");
                Reply::json(
                    202,
                    json!({ "status": "success", "message": "Event processed", "dedup_key": key }),
                )
            }),
        }
    }

    /// Where to send.
    pub fn url(&self) -> String {
        self.server.url("/receive")
    }

    /// The JSON bodies received, in order.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.server.requests().iter().map(Request::json).collect()
    }
}
