//! Slack's v0 request signing: `X-Slack-Signature: v0=<hex>` where the hex is
//! HMAC-SHA256(signing secret, `v0:<timestamp>:<body>`), and
//! `X-Slack-Request-Timestamp` within five minutes of now.

use chrono::{DateTime, Utc};
use hmac::Mac;

use super::{SignatureError, check_timestamp, decode_hex, mac, required};

/// The signature header (HTTP header names are case-insensitive).
pub const SLACK_SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// The timestamp header, Unix seconds.
pub const SLACK_TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";

/// Verifies a request from Slack. `timestamp` and `signature` are the values
/// of [`SLACK_TIMESTAMP_HEADER`] and [`SLACK_SIGNATURE_HEADER`] (`None` when
/// absent), `body` the raw request body as received.
pub fn verify_slack(
    signing_secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let mut mac = mac(signing_secret)?;
    let timestamp = required(timestamp, SLACK_TIMESTAMP_HEADER)?;
    let signature = required(signature, SLACK_SIGNATURE_HEADER)?;
    let hex = signature
        .strip_prefix("v0=")
        .ok_or(SignatureError::Malformed {
            header: SLACK_SIGNATURE_HEADER,
            reason: "expected `v0=` followed by hex",
        })?;
    let expected = decode_hex(hex, SLACK_SIGNATURE_HEADER)?;
    check_timestamp(timestamp, SLACK_TIMESTAMP_HEADER, now)?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of Slack's "Verifying requests from Slack"
    // (docs.slack.dev/authentication/verifying-requests-from-slack): its
    // signing secret, timestamp, slash-command body and the signature the
    // page gives for them.
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }
    const NOW: i64 = 1_531_420_618 + 10;

    #[test]
    fn accepts_a_valid_signature() {
        assert_eq!(
            verify_slack(SECRET, Some(TS), Some(SIG), BODY, at(NOW)),
            Ok(())
        );
        // Uppercase hex is the same signature.
        let upper = format!("v0={}", SIG[3..].to_uppercase());
        assert_eq!(
            verify_slack(SECRET, Some(TS), Some(&upper), BODY, at(NOW)),
            Ok(())
        );
    }

    #[test]
    fn refuses_a_changed_body_secret_or_timestamp() {
        let mut body = BODY.to_vec();
        body.push(b'x');
        assert_eq!(
            verify_slack(SECRET, Some(TS), Some(SIG), &body, at(NOW)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(b"another secret", Some(TS), Some(SIG), BODY, at(NOW)),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed: a fresh one with an old signature fails.
        assert_eq!(
            verify_slack(SECRET, Some("1531420619"), Some(SIG), BODY, at(NOW)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn refuses_replays_and_future_timestamps() {
        assert_eq!(
            verify_slack(SECRET, Some(TS), Some(SIG), BODY, at(1_531_420_618 + 301)),
            Err(SignatureError::StaleTimestamp { skew_secs: 301 })
        );
        assert_eq!(
            verify_slack(SECRET, Some(TS), Some(SIG), BODY, at(1_531_420_618 - 301)),
            Err(SignatureError::StaleTimestamp { skew_secs: -301 })
        );
        assert_eq!(
            verify_slack(SECRET, Some(TS), Some(SIG), BODY, at(1_531_420_618 + 300)),
            Ok(())
        );
    }

    #[test]
    fn names_missing_and_malformed_headers() {
        assert_eq!(
            verify_slack(SECRET, None, Some(SIG), BODY, at(NOW)),
            Err(SignatureError::MissingHeader(SLACK_TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify_slack(SECRET, Some(TS), None, BODY, at(NOW)),
            Err(SignatureError::MissingHeader(SLACK_SIGNATURE_HEADER))
        );
        assert!(matches!(
            verify_slack(SECRET, Some(TS), Some(&SIG[3..]), BODY, at(NOW)),
            Err(SignatureError::Malformed {
                header: SLACK_SIGNATURE_HEADER,
                ..
            })
        ));
        assert!(matches!(
            verify_slack(SECRET, Some(TS), Some("v0=zz"), BODY, at(NOW)),
            Err(SignatureError::Malformed {
                header: SLACK_SIGNATURE_HEADER,
                ..
            })
        ));
        assert!(matches!(
            verify_slack(SECRET, Some("yesterday"), Some(SIG), BODY, at(NOW)),
            Err(SignatureError::Malformed {
                header: SLACK_TIMESTAMP_HEADER,
                ..
            })
        ));
        // A truncated signature is a mismatch, not a panic.
        assert_eq!(
            verify_slack(SECRET, Some(TS), Some(&SIG[..21]), BODY, at(NOW)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(b"", Some(TS), Some(SIG), BODY, at(NOW)),
            Err(SignatureError::InvalidSecret("it is empty"))
        );
    }

    #[test]
    fn messages_carry_neither_secret_nor_body() {
        let errors = [
            verify_slack(SECRET, Some(TS), Some(SIG), b"other", at(NOW)),
            verify_slack(SECRET, Some(TS), Some(SIG), BODY, at(0)),
            verify_slack(SECRET, Some(TS), Some("v0=zz"), BODY, at(NOW)),
        ];
        for e in errors {
            let msg = e.unwrap_err().to_string();
            assert!(!msg.contains("8f742231"), "{msg}");
            assert!(!msg.contains("token="), "{msg}");
            assert!(!msg.contains("a2114d57"), "{msg}");
        }
    }
}
