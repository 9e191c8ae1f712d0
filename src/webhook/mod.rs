//! Signature verification for inbound webhooks: Slack's v0 request signing,
//! GitHub's `X-Hub-Signature-256` and [Standard Webhooks] (the generic
//! receiver).
//!
//! Pure functions over header values and the raw body: no I/O, no clock of
//! their own (the caller passes "now", so replay checks are testable). Every
//! comparison of a signature goes through [`hmac::Mac::verify_slice`], which is
//! constant-time. A [`SignatureError`] names what was wrong with the request
//! and never carries the secret, the body or the signature it saw.
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

mod github;
mod slack;
mod standard;

pub use github::{GITHUB_SIGNATURE_HEADER, verify_github};
pub use slack::{SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER, verify_slack};
pub use standard::{
    STANDARD_ID_HEADER, STANDARD_SIGNATURE_HEADER, STANDARD_TIMESTAMP_HEADER, StandardSecret,
    verify_standard,
};

/// How far a signed timestamp may be from "now", either way: five minutes.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// A header the scheme needs is absent.
    #[error("missing `{0}` header")]
    MissingHeader(&'static str),
    /// A header is there but not in the scheme's format.
    #[error("malformed `{header}` header: {reason}")]
    Malformed {
        header: &'static str,
        reason: &'static str,
    },
    /// The signed timestamp is too far from now (a replay, or a skewed clock).
    #[error("stale timestamp: {skew_secs}s away from now, more than the {TOLERANCE_SECS}s allowed")]
    StaleTimestamp {
        /// now − timestamp, in seconds (negative: the timestamp is in the future).
        skew_secs: i64,
    },
    /// Well-formed, but no signature matches the body.
    #[error("signature mismatch")]
    Mismatch,
    /// The configured secret is unusable (empty, or not base64 where the
    /// scheme wants it). A configuration problem rather than a bad request.
    #[error("webhook secret is unusable: {0}")]
    InvalidSecret(&'static str),
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 keyed with `key`, refusing an empty key: with one, anybody can
/// sign.
fn mac(key: &[u8]) -> Result<HmacSha256, SignatureError> {
    if key.is_empty() {
        return Err(SignatureError::InvalidSecret("it is empty"));
    }
    // HMAC takes keys of any length.
    Ok(HmacSha256::new_from_slice(key).expect("HMAC accepts any key length"))
}

fn required<'a>(value: Option<&'a str>, header: &'static str) -> Result<&'a str, SignatureError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(SignatureError::MissingHeader(header)),
    }
}

/// Parses a Unix timestamp in seconds and checks it is within
/// [`TOLERANCE_SECS`] of `now`, either way.
fn check_timestamp(
    value: &str,
    header: &'static str,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let ts: i64 = value.parse().map_err(|_| SignatureError::Malformed {
        header,
        reason: "expected a Unix timestamp in seconds",
    })?;
    let skew_secs = now.timestamp().saturating_sub(ts);
    if skew_secs.unsigned_abs() > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::StaleTimestamp { skew_secs });
    }
    Ok(())
}

/// Lowercase or uppercase hex to bytes.
fn decode_hex(value: &str, header: &'static str) -> Result<Vec<u8>, SignatureError> {
    hex::decode(value).map_err(|_| SignatureError::Malformed {
        header,
        reason: "the signature is not hex",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_tolerance_is_inclusive_both_ways() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        assert!(check_timestamp("999700", "h", now).is_ok());
        assert!(check_timestamp("1000300", "h", now).is_ok());
        assert_eq!(
            check_timestamp("999699", "h", now),
            Err(SignatureError::StaleTimestamp { skew_secs: 301 })
        );
        assert_eq!(
            check_timestamp("1000301", "h", now),
            Err(SignatureError::StaleTimestamp { skew_secs: -301 })
        );
        assert!(matches!(
            check_timestamp("-9223372036854775808", "h", now),
            Err(SignatureError::StaleTimestamp { .. })
        ));
        assert!(matches!(
            check_timestamp("12.5", "h", now),
            Err(SignatureError::Malformed { header: "h", .. })
        ));
    }

    #[test]
    fn empty_secret_is_refused() {
        assert_eq!(
            mac(b"").unwrap_err(),
            SignatureError::InvalidSecret("it is empty")
        );
    }

    #[test]
    fn blank_header_counts_as_missing() {
        assert_eq!(
            required(Some("  "), "x"),
            Err(SignatureError::MissingHeader("x"))
        );
        assert_eq!(required(None, "x"), Err(SignatureError::MissingHeader("x")));
        assert_eq!(required(Some(" a "), "x"), Ok("a"));
    }
}
