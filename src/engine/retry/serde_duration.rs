//! Durations as humantime strings (`"1m 30s"`), or integer milliseconds on input.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Millis(u64),
    Text(String),
}

fn parse<E: serde::de::Error>(raw: Raw) -> Result<Duration, E> {
    match raw {
        Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
        Raw::Text(text) => humantime::parse_duration(text.trim()).map_err(|err| {
            E::custom(format_args!(
                "invalid duration `{text}`: {err} (write e.g. 500ms, 2s, 1m 30s)"
            ))
        }),
    }
}

/// Serialises as a humantime string.
pub(super) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*value))
}

/// Accepts a humantime string or integer milliseconds.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    parse(Raw::deserialize(deserializer)?)
}

/// The same for `Option<Duration>`; `null` is `None`.
pub(super) mod option {
    use super::*;

    /// Serialises `Some` as a humantime string, `None` as null.
    pub(in super::super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Accepts null, a humantime string or integer milliseconds.
    pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<Raw>::deserialize(deserializer)?
            .map(parse)
            .transpose()
    }
}
