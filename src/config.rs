//! `steward.yaml`: where the project keeps its runbooks, step templates and
//! secrets.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The project configuration; every key is optional.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folder of runbooks, relative to the project (default `runbooks`).
    #[serde(default = "default_runbooks")]
    pub runbooks: PathBuf,
    /// Folder of step templates (default `steps`).
    #[serde(default = "default_steps")]
    pub steps: PathBuf,
    /// A file of `NAME=value` secrets readable only by its owner.
    pub secrets_file: Option<PathBuf>,
    /// The run store: a SQLite file (relative to the project) or
    /// `sqlite://PATH`; default `.steward/steward.db`. `--store` and
    /// `STEWARD_STORE` win over it.
    pub store: Option<String>,
    /// `steward serve`: where it listens and who may call it.
    #[serde(default)]
    pub server: ServerConfig,
}

/// `steward serve`'s settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The address to listen on, `HOST:PORT` (default `127.0.0.1:8080`);
    /// `--listen` wins over it.
    pub listen: Option<String>,
    /// The bearer tokens the API accepts; none: every API call is refused.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Signed webhooks that start runs, each served at `POST /hooks/{name}`.
    #[serde(default)]
    pub hooks: Vec<HookConfig>,
    /// How many requests each token, and each webhook, may make: default
    /// `{requests: 600, per: 1m}`; a token's or hook's own `rate_limit`
    /// wins. Over it: `429 Too Many Requests` with `Retry-After`.
    pub rate_limit: Option<RateLimitConfig>,
    /// How long a client may take to send a request, and a request may
    /// take to be answered.
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
    /// Slack chat-ops at `POST /hooks/slack`: slash commands that start
    /// runbooks (each runbook says who may, in `triggers.chat`) and
    /// approval buttons.
    pub slack: Option<SlackConfig>,
}

/// A rate limit: `requests` per `per`, of which all may come at once.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// How many requests (at least 1).
    pub requests: u32,
    /// In how long: a duration such as `1m`, `30s`, `1h`.
    pub per: String,
}

/// `steward serve`'s time limits; each a duration such as `10s`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsConfig {
    /// The most a client may take to send a request's headers (default
    /// `30s`); then its connection is closed. An idle kept-alive
    /// connection is closed after as long.
    pub headers: Option<String>,
    /// The most a client may take to send a request's body (default
    /// `30s`); then `408 Request Timeout`.
    pub body: Option<String>,
    /// The most a request may take to be answered (default `30s`); then
    /// `503 Service Unavailable`. Not for `POST /api/v1/runs?wait=true`
    /// nor the event stream, which last as long as their run.
    pub request: Option<String>,
}

/// The Slack app Steward answers as.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The environment variable (or secrets-file entry) holding the app's
    /// signing secret (Slack: Basic Information → Signing Secret); never
    /// the value itself.
    pub signing_secret: String,
    /// Progress and results are posted only to a `response_url` starting
    /// with one of these. Default: `https://hooks.slack.com/`.
    #[serde(default = "slack_response_urls")]
    pub response_urls: Vec<String>,
    /// Groups for `triggers.chat.allow: ["@NAME"]`: each a list of Slack
    /// user ids (`U…`) or user names.
    #[serde(default)]
    pub groups: indexmap::IndexMap<String, Vec<String>>,
}

fn slack_response_urls() -> Vec<String> {
    vec!["https://hooks.slack.com/".to_owned()]
}

/// A signed webhook (`POST /hooks/{name}`) that starts a runbook.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// Its name: the path `/hooks/{name}` and the actor `hook:{name}` of the
    /// runs it starts.
    pub name: String,
    /// How deliveries are signed: `github` (`X-Hub-Signature-256`) or
    /// `standard` (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`).
    pub kind: HookKind,
    /// The environment variable (or secrets-file entry) holding the signing
    /// secret; never the value itself. For `standard`: `whsec_<base64>`.
    pub secret: String,
    /// The runbook each accepted delivery starts.
    pub runbook: String,
    /// The runbook's inputs: templates rendered over `payload` (the parsed
    /// JSON body) and `headers` (lowercase names), e.g.
    /// `"{{ payload.deployment.ref }}"`.
    #[serde(default)]
    pub inputs: indexmap::IndexMap<String, String>,
    /// `github` only: the `X-GitHub-Event` values that start a run (e.g.
    /// `deployment`, `release`); others are acknowledged and ignored.
    /// Empty: every event.
    #[serde(default)]
    pub events: Vec<String>,
    /// `github` only: the payload's `action` values that start a run (e.g.
    /// `published` for `release`); deliveries with another `action`, or
    /// none, are acknowledged and ignored. Empty: any action.
    #[serde(default)]
    pub actions: Vec<String>,
    /// This hook's own rate limit, instead of `server.rate_limit`.
    pub rate_limit: Option<RateLimitConfig>,
}

/// How a webhook's deliveries are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    Github,
    /// Standard Webhooks, with a five-minute timestamp window.
    Standard,
}

/// One API bearer token and what it may do.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Its name: the actor of the runs it starts and of its decisions.
    pub name: String,
    /// The environment variable (or secrets-file entry) holding the token's
    /// value; never the value itself.
    pub secret: String,
    /// Runbook names it may act on; `*` matches any run of characters
    /// (`health-*`). Default: every runbook.
    #[serde(default = "every_runbook")]
    pub runbooks: Vec<String>,
    /// What it may do: `read` (list runbooks and runs, events), `run`
    /// (start and cancel runs), `approve` (approve or reject approval
    /// steps). Default: `read` only.
    #[serde(default = "read_only")]
    pub actions: Vec<TokenAction>,
    /// This token's own rate limit, instead of `server.rate_limit`.
    pub rate_limit: Option<RateLimitConfig>,
}

/// An action a token may be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenAction {
    /// List runbooks and runs, read a run and its events.
    Read,
    /// Start and cancel runs.
    Run,
    /// Approve or reject approval steps.
    Approve,
}

fn every_runbook() -> Vec<String> {
    vec!["*".to_owned()]
}

fn read_only() -> Vec<TokenAction> {
    vec![TokenAction::Read]
}

impl Default for Config {
    fn default() -> Self {
        Config {
            runbooks: default_runbooks(),
            steps: default_steps(),
            secrets_file: None,
            store: None,
            server: ServerConfig::default(),
        }
    }
}

fn default_runbooks() -> PathBuf {
    PathBuf::from("runbooks")
}

fn default_steps() -> PathBuf {
    PathBuf::from("steps")
}
