//! Durations: the one parser (`30s`, `5m`, `1h30m`, `250ms`, `2 days`) and
//! the formatters, for runbooks, `steward.yaml`, command-line flags and
//! stored plans alike.

use std::time::Duration;

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// A bare number: seconds or milliseconds would be a guess.
    #[error("`{0}` has no unit")]
    NoUnit(String),
    /// Not a duration at all.
    #[error("`{text}` is not a duration ({reason})")]
    Invalid {
        /// The text as given, trimmed.
        text: String,
        /// What the parser said.
        reason: String,
    },
}

impl DurationError {
    /// What is wrong, without the text itself.
    pub fn reason(&self) -> String {
        match self {
            DurationError::NoUnit(_) => "time unit needed, for example 1sec or 1ms".to_owned(),
            DurationError::Invalid { reason, .. } => reason.clone(),
        }
    }
}

/// Parses a duration written with units: `30s`, `5m`, `1h30m`, `250ms`.
/// A bare number is refused.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return Err(DurationError::NoUnit(text.to_owned()));
    }
    humantime::parse_duration(text).map_err(|e| DurationError::Invalid {
        text: text.to_owned(),
        reason: e.to_string(),
    })
}

/// A duration for people, rounded: `850ms`, `12.3s`, `4m 5s`.
pub fn human(d: Duration) -> String {
    if d.as_millis() < 1000 {
        return format!("{}ms", d.as_millis());
    }
    if d.as_secs() < 60 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// Milliseconds for people (see [`human`]).
pub fn human_ms(ms: u64) -> String {
    human(Duration::from_millis(ms))
}

/// A duration exactly, in the form [`parse`] reads back: `1m 30s`, `250ms`.
pub fn exact(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Serde: a duration stored as whole milliseconds (stored plans).
pub mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Whole milliseconds, saturating.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Whole milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// Serde: an optional duration stored as whole milliseconds or null.
pub mod millis_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Whole milliseconds or null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::millis::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Whole milliseconds or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|o| o.map(Duration::from_millis))
    }
}

/// Serde: a duration written as text (`"1m 30s"`) or integer milliseconds,
/// serialised as text.
pub mod text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Millis(u64),
        Text(String),
    }

    fn from_raw<E: serde::de::Error>(raw: Raw) -> Result<Duration, E> {
        match raw {
            Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
            Raw::Text(text) => humantime::parse_duration(text.trim()).map_err(|err| {
                E::custom(format_args!(
                    "invalid duration `{text}`: {err} (write e.g. 500ms, 2s, 1m 30s)"
                ))
            }),
        }
    }

    /// As text, exactly.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&super::exact(*value))
    }

    /// Text or integer milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        from_raw(Raw::deserialize(deserializer)?)
    }

    /// The same for `Option<Duration>`; `null` is `None`.
    pub mod option {
        use super::*;

        /// `Some` as text, `None` as null.
        pub fn serialize<S: Serializer>(
            value: &Option<Duration>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, serializer),
                None => serializer.serialize_none(),
            }
        }

        /// Null, text or integer milliseconds.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Duration>, D::Error> {
            Option::<Raw>::deserialize(deserializer)?
                .map(from_raw)
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_refuses_bare_numbers() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse(" 1h30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("10"), Err(DurationError::NoUnit("10".into())));
        assert!(matches!(parse("soon"), Err(DurationError::Invalid { .. })));
    }

    #[test]
    fn formats_for_people_and_exactly() {
        assert_eq!(human(Duration::from_millis(850)), "850ms");
        assert_eq!(human(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(human(Duration::from_secs(245)), "4m 5s");
        assert_eq!(exact(Duration::from_millis(90_250)), "1m 30s 250ms");
        assert_eq!(
            parse(&exact(Duration::from_millis(90_250))),
            Ok(Duration::from_millis(90_250))
        );
    }
}
