//! Retry policies: how often, how long apart, which failures, until when.
//!
//! A policy is what a step's `retry:` says:
//!
//! ```yaml
//! retry:
//!   attempts: 5            # total attempts, the first included (>= 1)
//!   delay: 2s              # before the second attempt
//!   backoff: exponential   # or fixed
//!   max_delay: 30s         # cap on any one delay
//!   jitter: true           # true: full jitter; 0.2: ±20 %; false: none
//!   on: [timeout, connect, { exit_code: [75] }, { status: [5xx, 429] }]
//!   deadline: 5m           # no attempt starts later than this after the first
//! ```
//!
//! Durations are written as humantime strings (`500ms`, `2s`, `1m 30s`) or as
//! integer milliseconds, and are serialised as humantime strings.
//!
//! `on` absent means every failure is retried; a list retries only the
//! failures it names (`[]` none). Whatever `on` says, a failed `assert` is
//! always retried, so that `retry` polls until the asserted condition holds.

mod repr;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::outcome::FailureClass;

/// Why a policy is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RetryError {
    /// `attempts` was 0.
    #[error("retry attempts must be at least 1 (the first attempt counts)")]
    ZeroAttempts,
    /// The jitter fraction was outside (0, 1].
    #[error("jitter must be true, false or a fraction in (0, 1], not {0}")]
    Jitter(f64),
    /// `max_delay` was below `delay`.
    #[error("max_delay ({}) is shorter than delay ({})", crate::duration::exact(*max_delay), crate::duration::exact(*delay))]
    MaxBelowDelay {
        /// The base delay.
        delay: Duration,
        /// The cap.
        max_delay: Duration,
    },
    /// A status pattern did not parse.
    #[error(
        "invalid status pattern `{0}`: expected a code such as 503 or a class such as 5xx or 50x"
    )]
    StatusPattern(String),
}

/// How the delay grows between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// The same delay every time.
    #[default]
    Fixed,
    /// `delay * 2^(n-1)` before the `n+1`-th attempt.
    Exponential,
}

/// Randomisation of delays, so that many retrying runs do not move in step.
///
/// Written as `false` ([`Jitter::None`]), `true` ([`Jitter::Full`]: uniform in
/// `[0, d]`, the "full jitter" of the AWS architecture blog) or a fraction `x`
/// in (0, 1] ([`Jitter::Proportional`]: uniform in `[d(1-x), d(1+x)]`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Jitter {
    /// Exact delays.
    #[default]
    None,
    /// Uniform in `[0, d]`.
    Full,
    /// Uniform in `[d(1-x), d(1+x)]`.
    Proportional(f64),
}

/// An HTTP status pattern: three characters, each a digit or `x`, such as
/// `503`, `5xx` or `50x`. Written as a string or, for an exact code, a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusPattern([Option<u8>; 3]);

/// One condition of a `retry.on` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryCondition {
    /// `timeout`: the attempt timed out.
    Timeout,
    /// `connect`: no connection could be made.
    Connect,
    /// `exit_code: [..]`: a process exited with one of these codes.
    ExitCode(Vec<i32>),
    /// `status: [..]`: an HTTP status matching one of these patterns.
    Status(Vec<StatusPattern>),
}

/// Which failures are retried (failed asserts always are).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RetryOn {
    /// Every failure (`on` absent).
    #[default]
    Any,
    /// Only failures matching one of these conditions.
    Only(Vec<RetryCondition>),
}

/// Why no further attempt is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// `on` does not cover this failure.
    NotRetryable,
    /// All attempts were used.
    AttemptsExhausted,
    /// The next attempt would start after the deadline.
    DeadlineExceeded,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after this long.
    RetryAfter(Duration),
    /// Stop; the step fails.
    GiveUp(GiveUp),
}

/// A step's retry policy. See the module documentation for its YAML form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "repr::RawPolicy", into = "repr::RawPolicy")]
pub struct RetryPolicy {
    /// Total attempts, the first included; at least 1.
    pub attempts: u32,
    /// Delay before the second attempt.
    pub delay: Duration,
    /// How delays grow.
    pub backoff: Backoff,
    /// Cap on any one delay, jitter included.
    pub max_delay: Option<Duration>,
    /// Randomisation of delays.
    pub jitter: Jitter,
    /// Which failures are retried.
    pub on: RetryOn,
    /// No attempt starts later than this after the first one started.
    pub deadline: Option<Duration>,
}

impl Default for RetryPolicy {
    /// One attempt (no retry), 1s fixed delay, no cap, no jitter, any failure.
    fn default() -> Self {
        Self {
            attempts: 1,
            delay: Duration::from_secs(1),
            backoff: Backoff::Fixed,
            max_delay: None,
            jitter: Jitter::None,
            on: RetryOn::Any,
            deadline: None,
        }
    }
}

impl RetryPolicy {
    /// Checks the invariants a deserialised policy is guaranteed to hold.
    pub fn validate(&self) -> Result<(), RetryError> {
        if self.attempts == 0 {
            return Err(RetryError::ZeroAttempts);
        }
        if let Jitter::Proportional(x) = self.jitter
            && !(x > 0.0 && x <= 1.0)
        {
            return Err(RetryError::Jitter(x));
        }
        if let Some(max_delay) = self.max_delay
            && max_delay < self.delay
        {
            return Err(RetryError::MaxBelowDelay {
                delay: self.delay,
                max_delay,
            });
        }
        Ok(())
    }

    /// The delay after failed attempt number `attempt` (1 = after the first
    /// attempt), without jitter: `delay`, or `delay * 2^(attempt-1)` when
    /// exponential, capped by `max_delay`. Saturates instead of overflowing.
    /// `attempt` 0 (nothing failed yet) gives zero.
    pub fn delay(&self, attempt: u32) -> Duration {
        if attempt == 0 || self.delay.is_zero() {
            return Duration::ZERO;
        }
        let raw = match self.backoff {
            Backoff::Fixed => self.delay,
            Backoff::Exponential => 2u32
                .checked_pow(attempt - 1)
                .and_then(|factor| self.delay.checked_mul(factor))
                .unwrap_or(Duration::MAX),
        };
        self.cap(raw)
    }

    /// [`delay`](Self::delay) randomised by the policy's [`Jitter`], then
    /// capped by `max_delay` again (proportional jitter may exceed it).
    pub fn delay_with_jitter(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let base = self.delay(attempt);
        let factor = match self.jitter {
            Jitter::None => return base,
            Jitter::Full => rng.random_range(0.0..=1.0),
            Jitter::Proportional(x) => {
                // Only `validate` guarantees the range; never panic on NaN.
                let x = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
                rng.random_range((1.0 - x)..=(1.0 + x))
            }
        };
        // Past Duration::MAX (a saturated delay) the base is already the cap.
        let jittered = Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(base);
        self.cap(jittered)
    }

    /// Whether `failure` is retried by `on`. [`FailureClass::Assert`] always is.
    pub fn should_retry(&self, failure: &FailureClass) -> bool {
        self.on.matches(failure)
    }

    /// Whether another attempt may follow `attempt` completed attempts,
    /// `elapsed` after the first one started.
    pub fn may_retry(&self, attempt: u32, elapsed: Duration) -> bool {
        attempt < self.attempts && self.deadline.is_none_or(|deadline| elapsed < deadline)
    }

    /// Everything at once: after failed attempt `attempt` (1-based), which
    /// started `elapsed` after the first, retry after a jittered delay, or
    /// give up. A retry whose start would fall after the deadline is not made.
    pub fn decide(
        &self,
        attempt: u32,
        elapsed: Duration,
        failure: &FailureClass,
        rng: &mut impl Rng,
    ) -> RetryDecision {
        if !self.should_retry(failure) {
            return RetryDecision::GiveUp(GiveUp::NotRetryable);
        }
        if attempt >= self.attempts {
            return RetryDecision::GiveUp(GiveUp::AttemptsExhausted);
        }
        let wait = self.delay_with_jitter(attempt, rng);
        let next_start = elapsed.saturating_add(wait);
        match self.deadline {
            Some(deadline) if next_start >= deadline => {
                RetryDecision::GiveUp(GiveUp::DeadlineExceeded)
            }
            _ => RetryDecision::RetryAfter(wait),
        }
    }

    fn cap(&self, delay: Duration) -> Duration {
        self.max_delay.map_or(delay, |max| delay.min(max))
    }
}

impl RetryOn {
    /// Whether `failure` is retried.
    pub fn matches(&self, failure: &FailureClass) -> bool {
        match (self, failure) {
            (_, FailureClass::Assert) | (RetryOn::Any, _) => true,
            (RetryOn::Only(conditions), failure) => conditions.iter().any(|c| c.matches(failure)),
        }
    }
}

impl RetryCondition {
    /// Whether `failure` satisfies this condition.
    pub fn matches(&self, failure: &FailureClass) -> bool {
        match (self, failure) {
            (RetryCondition::Timeout, FailureClass::Timeout)
            | (RetryCondition::Connect, FailureClass::Connect) => true,
            (RetryCondition::ExitCode(codes), FailureClass::ExitCode(code)) => codes.contains(code),
            (RetryCondition::Status(patterns), FailureClass::HttpStatus(status)) => {
                patterns.iter().any(|p| p.matches(*status))
            }
            _ => false,
        }
    }
}

impl StatusPattern {
    /// Whether `status` matches.
    pub fn matches(&self, status: u16) -> bool {
        if !(100..=999).contains(&status) {
            return false;
        }
        let digits = [status / 100, status / 10 % 10, status % 10];
        self.0
            .iter()
            .zip(digits)
            .all(|(want, got)| want.is_none_or(|w| u16::from(w) == got))
    }

    /// The exact code, when the pattern has no wildcard.
    pub fn exact(&self) -> Option<u16> {
        match self.0 {
            [Some(a), Some(b), Some(c)] => {
                Some(u16::from(a) * 100 + u16::from(b) * 10 + u16::from(c))
            }
            _ => None,
        }
    }
}

impl FromStr for StatusPattern {
    type Err = RetryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || RetryError::StatusPattern(s.to_owned());
        let bytes = s.trim().as_bytes();
        let [a, b, c] = bytes else {
            return Err(invalid());
        };
        let mut pattern = [None; 3];
        for (slot, byte) in pattern.iter_mut().zip([*a, *b, *c]) {
            *slot = match byte {
                b'0'..=b'9' => Some(byte - b'0'),
                b'x' | b'X' => None,
                _ => return Err(invalid()),
            };
        }
        if !matches!(pattern[0], Some(1..=5)) {
            return Err(invalid());
        }
        Ok(Self(pattern))
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for digit in self.0 {
            match digit {
                Some(d) => write!(f, "{d}")?,
                None => f.write_str("x")?,
            }
        }
        Ok(())
    }
}
