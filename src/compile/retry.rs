//! `retry:` → a [`RetryPolicy`], checked for sense.

use crate::diagnostic::Span;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::retry::{Backoff, Jitter, RetryCondition, RetryOn, RetryPolicy, StatusPattern};
use crate::spec::{RetryOnSpec, RetrySpec};

use crate::kind::compile::values::{self, Params};

/// Compiles a retry spec (already merged with defaults).
pub fn compile_retry(
    spec: &RetrySpec,
    params: Option<&Params>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<RetryPolicy> {
    let before = diagnostics.len();
    let mut policy = RetryPolicy::default();
    if let Some(attempts) = &spec.attempts {
        if let Some(text) = values::resolve(attempts, params, diagnostics) {
            match text.trim().parse::<u32>() {
                Ok(0) => diagnostics.push(
                    Diagnostic::new(
                        attempts.span,
                        "retry with 0 attempts would never run the step",
                    )
                    .hint("`attempts` counts every attempt, the first included: 1 means no retry"),
                ),
                Ok(n) => policy.attempts = n,
                Err(_) => diagnostics.push(Diagnostic::new(
                    attempts.span,
                    format!("`attempts` must be a whole number, not `{text}`"),
                )),
            }
        }
    }
    if let Some(delay) = &spec.delay {
        if let Some(d) = values::duration(delay, params, diagnostics) {
            policy.delay = d;
        }
    }
    if let Some(max) = &spec.max_delay {
        if let Some(d) = values::duration(max, params, diagnostics) {
            if d < policy.delay {
                diagnostics.push(Diagnostic::new(
                    max.span,
                    "`max_delay` is shorter than `delay`",
                ));
            }
            policy.max_delay = Some(d);
        }
    }
    if let Some(deadline) = &spec.deadline {
        policy.deadline = values::duration(deadline, params, diagnostics);
    }
    if let Some(backoff) = &spec.backoff {
        match values::resolve(backoff, params, diagnostics).as_deref() {
            Some("fixed") => policy.backoff = Backoff::Fixed,
            Some("exponential") => policy.backoff = Backoff::Exponential,
            Some(other) => diagnostics.push(
                Diagnostic::new(backoff.span, format!("unknown backoff `{other}`")).hint(
                    match did_you_mean(other, ["fixed", "exponential"]) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => "`backoff` is `fixed` or `exponential`".to_owned(),
                    },
                ),
            ),
            None => {}
        }
    }
    if let Some(jitter) = &spec.jitter {
        match values::resolve(jitter, params, diagnostics)
            .as_deref()
            .map(str::trim)
        {
            Some("true") => policy.jitter = Jitter::Full,
            Some("false") => policy.jitter = Jitter::None,
            Some(other) => match other.parse::<f64>() {
                Ok(x) if x > 0.0 && x <= 1.0 => policy.jitter = Jitter::Proportional(x),
                _ => diagnostics.push(
                    Diagnostic::new(jitter.span, format!("invalid jitter `{other}`"))
                        .hint("`true` (full jitter), `false`, or a fraction such as 0.2 (±20 %)"),
                ),
            },
            None => {}
        }
    }
    if let Some(on) = &spec.on {
        let mut conditions = Vec::new();
        for cond in on {
            match &cond.value {
                RetryOnSpec::Timeout => conditions.push(RetryCondition::Timeout),
                RetryOnSpec::Connect => conditions.push(RetryCondition::Connect),
                RetryOnSpec::ExitCode(codes) => {
                    conditions.push(RetryCondition::ExitCode(codes.clone()))
                }
                RetryOnSpec::Status(patterns) => {
                    let mut parsed = Vec::new();
                    for p in patterns {
                        match p.0.parse::<StatusPattern>() {
                            Ok(p) => parsed.push(p),
                            Err(e) => diagnostics.push(Diagnostic::new(cond.span, e.to_string())),
                        }
                    }
                    conditions.push(RetryCondition::Status(parsed));
                }
            }
        }
        policy.on = RetryOn::Only(conditions);
    }
    if diagnostics.len() == before {
        if let Err(e) = policy.validate() {
            let span = spec.attempts.as_ref().map_or(Span::default(), |a| a.span);
            diagnostics.push(Diagnostic::new(span, e.to_string()));
        }
    }
    (diagnostics.len() == before).then_some(policy)
}
