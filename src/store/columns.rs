//! How the outcome words are stored: each status and skip reason as its
//! name in a TEXT column, read back into its enum. A name this build does
//! not know is an [`UnknownName`] (a [`StoreError::UnknownValue`] for the
//! caller), never a silent default.
//!
//! [`StoreError::UnknownValue`]: super::StoreError::UnknownValue

use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};

use crate::outcome::{RunStatus, SkipReason, StepStatus, UnknownName};

macro_rules! stored_by_name {
    ($($name:ty),+) => {$(
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value
                    .as_str()?
                    .parse()
                    .map_err(|e: UnknownName| FromSqlError::Other(Box::new(e)))
            }
        }
    )+};
}

stored_by_name!(RunStatus, StepStatus, SkipReason);

/// The [`UnknownName`] behind a failed read of a column, if that is why.
pub(super) fn unknown_name(error: &rusqlite::Error) -> Option<&UnknownName> {
    match error {
        rusqlite::Error::FromSqlConversionFailure(_, _, e) => e.downcast_ref(),
        _ => None,
    }
}

/// Why a step was skipped, for a row that has no stored reason (recorded
/// before schema version 4): the engine's words for it (its `error`), as
/// `resume` read them then. A false `when` lets the steps that need
/// the step run; any other skip blocks them, so words this reading does
/// not recognise count as a blocking skip.
pub(super) fn skip_reason_from_words(error: Option<&str>) -> SkipReason {
    let error = error.unwrap_or_default();
    if error.starts_with("`when") {
        SkipReason::WhenFalse
    } else if error.starts_with("needs `") && error.ends_with(", which failed") {
        SkipReason::NeedFailed
    } else if error.starts_with("needs `") && error.ends_with(", which was stopped") {
        SkipReason::NeedStopped
    } else if error == "the run was stopped before it started" {
        SkipReason::RunStopped
    } else if error == "never became ready" {
        SkipReason::NeverReady
    } else {
        SkipReason::NeedSkipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_of_each_skip_give_its_reason() {
        let cases = [
            ("`when: inputs.dry` is false", SkipReason::WhenFalse),
            ("needs `build`, which failed", SkipReason::NeedFailed),
            ("needs `build`, which was stopped", SkipReason::NeedStopped),
            ("needs `build`, which was skipped", SkipReason::NeedSkipped),
            (
                "the run was stopped before it started",
                SkipReason::RunStopped,
            ),
            ("never became ready", SkipReason::NeverReady),
            ("*** `build`, which failed", SkipReason::NeedSkipped),
        ];
        for (words, reason) in cases {
            assert_eq!(skip_reason_from_words(Some(words)), reason, "{words}");
        }
        assert!(skip_reason_from_words(None).blocks());
    }
}
