//! What a client may ask of `steward serve`: a rate limit per token and
//! per webhook, and time limits on sending a request and on answering it.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::json;

use crate::config::{RateLimitConfig, ServerConfig};

use super::ApiError;

/// The rate limit of a token or hook that sets none, nor `server.rate_limit`.
const DEFAULT_RATE: Rate = Rate {
    requests: 600,
    per: Duration::from_secs(60),
};
/// The most a client may take to send its headers, by default.
const DEFAULT_HEADERS: Duration = Duration::from_secs(30);
/// The most a client may take to send its body, by default.
const DEFAULT_BODY: Duration = Duration::from_secs(30);
/// The most a request may take to be answered, by default.
const DEFAULT_REQUEST: Duration = Duration::from_secs(30);

/// A bad limit in steward.yaml.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// A duration that does not parse.
    #[error("{at}: `{value}` is not a duration such as `30s` or `1m`: {reason}")]
    Duration {
        /// Where: `server.timeouts.body`, …
        at: String,
        /// What was written.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A limit of nothing.
    #[error("{at}: must be more than zero")]
    Zero {
        /// Where.
        at: String,
    },
}

/// `requests` per `per`, all of which may come at once.
#[derive(Debug, Clone, Copy)]
struct Rate {
    requests: u32,
    per: Duration,
}

impl Rate {
    fn parse(config: &RateLimitConfig, at: &str) -> Result<Rate, LimitsError> {
        if config.requests == 0 {
            return Err(LimitsError::Zero {
                at: format!("{at}.requests"),
            });
        }
        Ok(Rate {
            requests: config.requests,
            per: duration(&config.per, &format!("{at}.per"))?,
        })
    }

    fn shown(&self) -> String {
        let noun = if self.requests == 1 {
            "request"
        } else {
            "requests"
        };
        format!(
            "{} {noun} per {}",
            self.requests,
            crate::duration::exact(self.per)
        )
    }
}

fn duration(value: &str, at: &str) -> Result<Duration, LimitsError> {
    let parsed = crate::duration::parse(value).map_err(|e| LimitsError::Duration {
        at: at.to_owned(),
        value: value.to_owned(),
        reason: e.reason(),
    })?;
    if parsed.is_zero() {
        return Err(LimitsError::Zero { at: at.to_owned() });
    }
    Ok(parsed)
}

fn optional(value: Option<&String>, at: &str, default: Duration) -> Result<Duration, LimitsError> {
    value.map_or(Ok(default), |v| duration(v, at))
}

/// One token's or hook's limiter.
struct Bucket {
    limiter: DefaultDirectRateLimiter,
    rate: Rate,
}

impl Bucket {
    fn new(rate: Rate) -> Result<Bucket, LimitsError> {
        let requests = NonZeroU32::new(rate.requests).ok_or_else(|| LimitsError::Zero {
            at: "rate_limit.requests".to_owned(),
        })?;
        let quota = Quota::with_period(rate.per / rate.requests)
            .ok_or_else(|| LimitsError::Zero {
                at: "rate_limit.per".to_owned(),
            })?
            .allow_burst(requests);
        Ok(Bucket {
            limiter: RateLimiter::direct(quota),
            rate,
        })
    }
}

/// The time limits of `steward serve`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// For a request's headers; then the connection is closed.
    pub headers: Duration,
    /// For a request's body: then 408.
    pub body: Duration,
    /// For an answer (but for the long-lived ones): then 503.
    pub request: Duration,
}

/// The rate limits, by token and by hook, and the time limits.
pub(crate) struct Limits {
    tokens: HashMap<String, Bucket>,
    hooks: HashMap<String, Bucket>,
    /// The time limits.
    pub timeouts: Timeouts,
}

impl Limits {
    /// The limits steward.yaml's `server:` sets.
    pub fn new(config: &ServerConfig) -> Result<Limits, LimitsError> {
        let default = match &config.rate_limit {
            Some(rate) => Rate::parse(rate, "server.rate_limit")?,
            None => DEFAULT_RATE,
        };
        let own = |rate: Option<&RateLimitConfig>, at: String| match rate {
            Some(rate) => Rate::parse(rate, &at),
            None => Ok(default),
        };
        let mut tokens = HashMap::new();
        for t in &config.tokens {
            let at = format!("server.tokens[{}].rate_limit", t.name);
            tokens.insert(
                t.name.clone(),
                Bucket::new(own(t.rate_limit.as_ref(), at)?)?,
            );
        }
        let mut hooks = HashMap::new();
        for h in &config.hooks {
            let at = format!("server.hooks[{}].rate_limit", h.name);
            hooks.insert(
                h.name.clone(),
                Bucket::new(own(h.rate_limit.as_ref(), at)?)?,
            );
        }
        // Slack's requests share the default rate: one app, many users.
        if config.slack.is_some() {
            hooks.insert("slack".to_owned(), Bucket::new(default)?);
        }
        let t = &config.timeouts;
        let timeouts = Timeouts {
            headers: optional(
                t.headers.as_ref(),
                "server.timeouts.headers",
                DEFAULT_HEADERS,
            )?,
            body: optional(t.body.as_ref(), "server.timeouts.body", DEFAULT_BODY)?,
            request: optional(
                t.request.as_ref(),
                "server.timeouts.request",
                DEFAULT_REQUEST,
            )?,
        };
        Ok(Limits {
            tokens,
            hooks,
            timeouts,
        })
    }

    /// Counts a request of token `name`; a 429 when it is over its limit.
    pub fn token(&self, name: &str) -> Result<(), ApiError> {
        check(self.tokens.get(name), "token", name)
    }

    /// Counts a delivery to hook `name`; a 429 when it is over its limit.
    pub fn hook(&self, name: &str) -> Result<(), ApiError> {
        check(self.hooks.get(name), "webhook", name)
    }
}

fn check(bucket: Option<&Bucket>, what: &str, name: &str) -> Result<(), ApiError> {
    let Some(bucket) = bucket else {
        return Ok(());
    };
    let Err(not_until) = bucket.limiter.check() else {
        return Ok(());
    };
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    // Whole seconds, rounded up: `Retry-After: 0` would invite a retry now.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let rate = bucket.rate;
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "{what} `{name}` is over its rate limit of {}; retry in {seconds}s",
            rate.shown()
        ),
    )
    .with(
        "limit",
        json!({
            "requests": rate.requests,
            "per": crate::duration::exact(rate.per).to_string(),
        }),
    )
    .with("retry_after_seconds", json!(seconds))
    .with_header_value(header::RETRY_AFTER, HeaderValue::from(seconds)))
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    fn server(yaml: &str) -> ServerConfig {
        match crate::spec::parse_config(yaml) {
            (Some(config), d) if d.is_empty() => config.server,
            (_, d) => panic!("{d:?}"),
        }
    }

    fn error(yaml: &str) -> String {
        match Limits::new(&server(yaml)) {
            Ok(_) => panic!("accepted: {yaml}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_token_over_its_limit_gets_429_with_retry_after() {
        let limits = Limits::new(&server(
            "server:\n  rate_limit: { requests: 2, per: 1h }\n  tokens:\n    - { name: ci, secret: CI }\n    - { name: bot, secret: BOT, rate_limit: { requests: 1, per: 1m } }\n",
        ))
        .unwrap();
        assert!(limits.token("ci").is_ok());
        assert!(limits.token("ci").is_ok());
        let refused = limits.token("ci").unwrap_err().into_response();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = refused.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=1800).contains(&retry), "{retry}");
        assert!(limits.token("bot").is_ok());
        assert!(limits.token("bot").is_err(), "its own limit");
    }

    #[test]
    fn defaults_and_bad_limits() {
        let limits = Limits::new(&server("server: {}\n")).unwrap();
        assert_eq!(limits.timeouts.request, DEFAULT_REQUEST);
        assert!(
            error("server:\n  rate_limit: { requests: 0, per: 1m }\n")
                .contains("server.rate_limit.requests: must be more than zero")
        );
        assert!(
            error("server:\n  rate_limit: { requests: 5, per: soon }\n")
                .contains("server.rate_limit.per: `soon` is not a duration")
        );
        assert!(error("server:\n  timeouts: { body: 0s }\n").contains("server.timeouts.body"));
    }
}
