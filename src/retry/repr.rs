//! The serialised form of retry policies (see the parent module's docs).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Backoff, Jitter, RetryCondition, RetryError, RetryOn, RetryPolicy, StatusPattern};

impl Serialize for StatusPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.exact() {
            Some(code) => serializer.serialize_u16(code),
            None => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for StatusPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(u64),
            Text(String),
        }
        let text = match Raw::deserialize(deserializer)? {
            Raw::Code(code) => code.to_string(),
            Raw::Text(text) => text,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Jitter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Jitter::None => serializer.serialize_bool(false),
            Jitter::Full => serializer.serialize_bool(true),
            Jitter::Proportional(x) => serializer.serialize_f64(*x),
        }
    }
}

impl<'de> Deserialize<'de> for Jitter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Fraction(f64),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Flag(false) => Ok(Jitter::None),
            Raw::Flag(true) => Ok(Jitter::Full),
            Raw::Fraction(x) if x > 0.0 && x <= 1.0 => Ok(Jitter::Proportional(x)),
            Raw::Fraction(x) => Err(serde::de::Error::custom(RetryError::Jitter(x))),
        }
    }
}

impl Serialize for RetryOn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RetryOn::Any => serializer.serialize_none(),
            RetryOn::Only(conditions) => conditions.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for RetryOn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(
            match Option::<Vec<RetryCondition>>::deserialize(deserializer)? {
                None => RetryOn::Any,
                Some(conditions) => RetryOn::Only(conditions),
            },
        )
    }
}

/// The serialised shape; conversion validates.
#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawPolicy {
    attempts: u32,
    #[serde(with = "crate::duration::text")]
    delay: Duration,
    backoff: Backoff,
    #[serde(
        with = "crate::duration::text::option",
        skip_serializing_if = "Option::is_none"
    )]
    max_delay: Option<Duration>,
    jitter: Jitter,
    #[serde(skip_serializing_if = "is_any")]
    on: RetryOn,
    #[serde(
        with = "crate::duration::text::option",
        skip_serializing_if = "Option::is_none"
    )]
    deadline: Option<Duration>,
}

fn is_any(on: &RetryOn) -> bool {
    *on == RetryOn::Any
}

impl Default for RawPolicy {
    fn default() -> Self {
        RetryPolicy::default().into()
    }
}

impl TryFrom<RawPolicy> for RetryPolicy {
    type Error = RetryError;

    fn try_from(raw: RawPolicy) -> Result<Self, Self::Error> {
        let policy = RetryPolicy {
            attempts: raw.attempts,
            delay: raw.delay,
            backoff: raw.backoff,
            max_delay: raw.max_delay,
            jitter: raw.jitter,
            on: raw.on,
            deadline: raw.deadline,
        };
        policy.validate()?;
        Ok(policy)
    }
}

impl From<RetryPolicy> for RawPolicy {
    fn from(p: RetryPolicy) -> Self {
        RawPolicy {
            attempts: p.attempts,
            delay: p.delay,
            backoff: p.backoff,
            max_delay: p.max_delay,
            jitter: p.jitter,
            on: p.on,
            deadline: p.deadline,
        }
    }
}
