//! HTTP plumbing: accepting connections, the middleware every request goes
//! through (body and time limits, rate limits), bearer tokens, and the
//! error type every answer that is not a success takes. No handler here
//! knows what a run is.

pub(crate) mod auth;
pub(crate) mod connections;
mod error;
pub(crate) mod guard;
pub(crate) mod limits;
pub(crate) mod request;

use std::sync::Arc;

use super::metrics::Metrics;

pub use error::ApiError;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What requests are let in by: the tokens, the limits, and the counters
/// of what was refused.
pub(crate) struct Access {
    /// The accepted tokens.
    pub(crate) tokens: Vec<auth::Token>,
    /// Rate and time limits.
    pub(crate) limits: limits::Limits,
    /// Counters and histograms of `GET /metrics`.
    pub(crate) metrics: Arc<Metrics>,
}
