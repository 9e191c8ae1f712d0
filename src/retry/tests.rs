use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use super::*;

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn exponential(delay: Duration, max_delay: Option<Duration>) -> RetryPolicy {
    RetryPolicy {
        attempts: 10,
        delay,
        backoff: Backoff::Exponential,
        max_delay,
        ..RetryPolicy::default()
    }
}

fn only(conditions: Vec<RetryCondition>) -> RetryPolicy {
    RetryPolicy {
        on: RetryOn::Only(conditions),
        ..RetryPolicy::default()
    }
}

fn pattern(s: &str) -> StatusPattern {
    s.parse().expect("valid pattern")
}

#[test]
fn default_is_a_single_attempt() {
    let policy = RetryPolicy::default();
    assert_eq!(policy.attempts, 1);
    assert!(policy.validate().is_ok());
    assert!(!policy.may_retry(1, Duration::ZERO));
}

#[test]
fn fixed_delay_is_constant() {
    let policy = RetryPolicy {
        attempts: 5,
        delay: secs(2),
        ..RetryPolicy::default()
    };
    assert_eq!(policy.delay(0), Duration::ZERO);
    for attempt in 1..=50 {
        assert_eq!(policy.delay(attempt), secs(2));
    }
}

#[test]
fn exponential_doubles_until_the_cap() {
    let policy = exponential(secs(1), Some(secs(30)));
    let delays: Vec<_> = (1..=7).map(|a| policy.delay(a).as_secs()).collect();
    assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
    assert_eq!(policy.delay(1000), secs(30));
    assert_eq!(policy.delay(u32::MAX), secs(30));
}

#[test]
fn exponential_saturates_without_a_cap() {
    let policy = exponential(Duration::from_millis(100), None);
    assert_eq!(policy.delay(3), Duration::from_millis(400));
    assert_eq!(policy.delay(1000), Duration::MAX);
    let zero = exponential(Duration::ZERO, None);
    assert_eq!(zero.delay(1000), Duration::ZERO);
}

proptest! {
    #[test]
    fn delays_never_decrease_and_respect_the_cap(
        delay_ms in 0u64..100_000,
        extra_cap_ms in proptest::option::of(0u64..10_000_000),
        exponential_backoff in any::<bool>(),
        attempt in 1u32..2_000,
    ) {
        let policy = RetryPolicy {
            attempts: 3,
            delay: Duration::from_millis(delay_ms),
            backoff: if exponential_backoff { Backoff::Exponential } else { Backoff::Fixed },
            max_delay: extra_cap_ms.map(|extra| Duration::from_millis(delay_ms + extra)),
            ..RetryPolicy::default()
        };
        prop_assert!(policy.validate().is_ok());
        prop_assert!(policy.delay(attempt) <= policy.delay(attempt + 1));
        prop_assert!(policy.delay(attempt) >= policy.delay.min(policy.max_delay.unwrap_or(Duration::MAX)));
        if let Some(cap) = policy.max_delay {
            prop_assert!(policy.delay(attempt) <= cap);
        }
    }

    #[test]
    fn jitter_stays_in_its_band(seed in any::<u64>(), attempt in 1u32..40, x in 0.01f64..=1.0) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut policy = exponential(Duration::from_millis(250), Some(secs(60)));
        let base = policy.delay(attempt);
        policy.jitter = Jitter::Full;
        prop_assert!(policy.delay_with_jitter(attempt, &mut rng) <= base);
        policy.jitter = Jitter::Proportional(x);
        let d = policy.delay_with_jitter(attempt, &mut rng);
        prop_assert!(d >= base.mul_f64(1.0 - x) - Duration::from_nanos(1));
        prop_assert!(d <= base.mul_f64(1.0 + x).min(secs(60)));
    }
}

#[test]
fn jitter_varies_and_never_panics_on_huge_delays() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut policy = exponential(secs(10), None);
    policy.jitter = Jitter::Full;
    let samples: Vec<_> = (0..20)
        .map(|_| policy.delay_with_jitter(1, &mut rng))
        .collect();
    assert!(
        samples.iter().any(|d| *d != samples[0]),
        "full jitter should vary"
    );
    assert!(samples.iter().all(|d| *d <= secs(10)));
    for _ in 0..100 {
        assert!(policy.delay_with_jitter(1000, &mut rng) <= Duration::MAX);
    }
    policy.jitter = Jitter::Proportional(0.5);
    assert!(policy.delay_with_jitter(1000, &mut rng) > secs(1 << 62));
    assert!(policy.delay_with_jitter(1000, &mut rng) > Duration::ZERO);
    policy.jitter = Jitter::Proportional(f64::NAN);
    assert_eq!(policy.delay_with_jitter(1, &mut rng), secs(10));
    policy.jitter = Jitter::None;
    assert_eq!(policy.delay_with_jitter(2, &mut rng), secs(20));
}

#[test]
fn any_retries_everything() {
    let policy = RetryPolicy::default();
    for failure in [
        FailureClass::Timeout,
        FailureClass::ExitCode(1),
        FailureClass::Connect,
        FailureClass::HttpStatus(404),
        FailureClass::Assert,
        FailureClass::Other,
    ] {
        assert!(policy.should_retry(&failure), "{failure:?}");
    }
}

#[test]
fn conditions_select_failures_and_asserts_always_retry() {
    let policy = only(vec![
        RetryCondition::Timeout,
        RetryCondition::ExitCode(vec![75, 111]),
        RetryCondition::Status(vec![pattern("5xx"), pattern("429")]),
    ]);
    assert!(policy.should_retry(&FailureClass::Timeout));
    assert!(policy.should_retry(&FailureClass::ExitCode(75)));
    assert!(!policy.should_retry(&FailureClass::ExitCode(1)));
    assert!(policy.should_retry(&FailureClass::HttpStatus(503)));
    assert!(policy.should_retry(&FailureClass::HttpStatus(429)));
    assert!(!policy.should_retry(&FailureClass::HttpStatus(404)));
    assert!(!policy.should_retry(&FailureClass::Connect));
    assert!(!policy.should_retry(&FailureClass::Other));
    assert!(policy.should_retry(&FailureClass::Assert));

    let nothing = only(vec![]);
    assert!(!nothing.should_retry(&FailureClass::Timeout));
    assert!(nothing.should_retry(&FailureClass::Assert));
    assert!(only(vec![RetryCondition::Connect]).should_retry(&FailureClass::Connect));
}

#[test]
fn status_patterns() {
    assert!(pattern("5xx").matches(500));
    assert!(pattern("5xx").matches(599));
    assert!(!pattern("5xx").matches(429));
    assert!(pattern("50x").matches(503));
    assert!(!pattern("50x").matches(510));
    assert!(pattern("5XX").matches(502));
    assert!(pattern("429").matches(429));
    assert!(!pattern("5xx").matches(5000));
    assert_eq!(pattern("429").exact(), Some(429));
    assert_eq!(pattern("5xx").exact(), None);
    assert_eq!(pattern("50x").to_string(), "50x");
    for bad in ["6xx", "5x", "x00", "abc", "5000", "", "0xx"] {
        assert_eq!(
            bad.parse::<StatusPattern>(),
            Err(RetryError::StatusPattern(bad.into())),
            "{bad}"
        );
    }
}

#[test]
fn may_retry_honours_attempts_and_deadline() {
    let policy = RetryPolicy {
        attempts: 3,
        deadline: Some(secs(10)),
        ..RetryPolicy::default()
    };
    assert!(policy.may_retry(1, secs(0)));
    assert!(policy.may_retry(2, secs(9)));
    assert!(!policy.may_retry(3, secs(0)));
    assert!(!policy.may_retry(1, secs(10)));
    let unbounded = RetryPolicy {
        attempts: 3,
        ..RetryPolicy::default()
    };
    assert!(unbounded.may_retry(2, secs(1_000_000)));
}

#[test]
fn decide_combines_everything() {
    let mut rng = StdRng::seed_from_u64(1);
    let policy = RetryPolicy {
        attempts: 3,
        delay: secs(2),
        deadline: Some(secs(10)),
        on: RetryOn::Only(vec![RetryCondition::Timeout]),
        ..RetryPolicy::default()
    };
    let decide = |attempt, elapsed, failure, rng: &mut StdRng| {
        policy.decide(attempt, elapsed, &failure, rng)
    };
    assert_eq!(
        decide(1, secs(1), FailureClass::Timeout, &mut rng),
        RetryDecision::RetryAfter(secs(2))
    );
    assert_eq!(
        decide(1, secs(1), FailureClass::Other, &mut rng),
        RetryDecision::GiveUp(GiveUp::NotRetryable)
    );
    assert_eq!(
        decide(3, secs(1), FailureClass::Timeout, &mut rng),
        RetryDecision::GiveUp(GiveUp::AttemptsExhausted)
    );
    assert_eq!(
        decide(2, secs(8), FailureClass::Assert, &mut rng),
        RetryDecision::GiveUp(GiveUp::DeadlineExceeded)
    );
    assert_eq!(
        decide(2, secs(7), FailureClass::Assert, &mut rng),
        RetryDecision::RetryAfter(secs(2))
    );
}

#[test]
fn validate_rejects_nonsense() {
    let zero = RetryPolicy {
        attempts: 0,
        ..RetryPolicy::default()
    };
    assert_eq!(zero.validate(), Err(RetryError::ZeroAttempts));
    let jitter = RetryPolicy {
        jitter: Jitter::Proportional(1.5),
        ..RetryPolicy::default()
    };
    assert_eq!(jitter.validate(), Err(RetryError::Jitter(1.5)));
    let cap = RetryPolicy {
        max_delay: Some(Duration::from_millis(500)),
        ..RetryPolicy::default()
    };
    let err = cap.validate().expect_err("cap below delay");
    assert_eq!(
        err.to_string(),
        "max_delay (500ms) is shorter than delay (1s)"
    );
}

#[test]
fn deserialises_the_documented_form() {
    let policy: RetryPolicy = serde_json::from_value(json!({
        "attempts": 5,
        "delay": "2s",
        "backoff": "exponential",
        "max_delay": "1m 30s",
        "jitter": 0.2,
        "on": ["timeout", "connect", {"exit_code": [75]}, {"status": ["5xx", 429]}],
        "deadline": "5m"
    }))
    .expect("valid policy");
    assert_eq!(policy.attempts, 5);
    assert_eq!(policy.delay, secs(2));
    assert_eq!(policy.backoff, Backoff::Exponential);
    assert_eq!(policy.max_delay, Some(secs(90)));
    assert_eq!(policy.jitter, Jitter::Proportional(0.2));
    assert_eq!(policy.deadline, Some(secs(300)));
    assert_eq!(
        policy.on,
        RetryOn::Only(vec![
            RetryCondition::Timeout,
            RetryCondition::Connect,
            RetryCondition::ExitCode(vec![75]),
            RetryCondition::Status(vec![pattern("5xx"), pattern("429")]),
        ])
    );
    let back = serde_json::to_value(&policy).expect("serialises");
    assert_eq!(back["max_delay"], json!("1m 30s"));
    assert_eq!(back["on"][3], json!({"status": ["5xx", 429]}));
    let again: RetryPolicy = serde_json::from_value(back).expect("round trip");
    assert_eq!(again, policy);
}

#[test]
fn deserialises_defaults_millis_and_flags() {
    let policy: RetryPolicy =
        serde_json::from_value(json!({"attempts": 3, "delay": 250, "jitter": true}))
            .expect("valid policy");
    assert_eq!(policy.delay, Duration::from_millis(250));
    assert_eq!(policy.jitter, Jitter::Full);
    assert_eq!(policy.on, RetryOn::Any);
    assert_eq!(policy.backoff, Backoff::Fixed);
    let empty: RetryPolicy = serde_json::from_value(json!({})).expect("all defaults");
    assert_eq!(empty, RetryPolicy::default());
    let back = serde_json::to_value(&empty).expect("serialises");
    assert_eq!(
        back,
        json!({"attempts": 1, "delay": "1s", "backoff": "fixed", "jitter": false})
    );
    let none: RetryPolicy = serde_json::from_value(json!({"on": []})).expect("empty on");
    assert_eq!(none.on, RetryOn::Only(vec![]));
}

#[test]
fn deserialisation_errors_explain_themselves() {
    let cases = [
        (json!({"attempts": 0}), "at least 1"),
        (json!({"delay": "soon"}), "invalid duration `soon`"),
        (json!({"jitter": 2.0}), "fraction in (0, 1]"),
        (json!({"backoff": "linear"}), "linear"),
        (
            json!({"on": [{"status": ["6xx"]}]}),
            "invalid status pattern `6xx`",
        ),
        (json!({"retries": 3}), "unknown field `retries`"),
        (json!({"on": ["sometimes"]}), "sometimes"),
    ];
    for (value, needle) in cases {
        let err = serde_json::from_value::<RetryPolicy>(value.clone()).expect_err("invalid");
        assert!(err.to_string().contains(needle), "{value}: {err}");
    }
}
