//! [Standard Webhooks](https://www.standardwebhooks.com/) (symmetric `v1`):
//! `webhook-signature` holds space-separated `v1,<base64>` entries, each a
//! base64 HMAC-SHA256(secret, `<webhook-id>.<webhook-timestamp>.<body>`); the
//! secret is base64, optionally prefixed `whsec_`. Any one matching `v1`
//! entry accepts the request (senders list several while rotating secrets);
//! entries of other versions are skipped.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::Mac;

use super::{SignatureError, check_timestamp, mac, required};

/// The message id header.
pub const STANDARD_ID_HEADER: &str = "webhook-id";
/// The timestamp header, Unix seconds.
pub const STANDARD_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The signature header.
pub const STANDARD_SIGNATURE_HEADER: &str = "webhook-signature";

/// A decoded Standard Webhooks secret: the key bytes behind
/// `whsec_<base64>` (or bare `<base64>`). Its `Debug` shows no key.
#[derive(Clone)]
pub struct StandardSecret(Vec<u8>);

impl StandardSecret {
    /// Decodes `whsec_<base64>` or `<base64>`.
    pub fn parse(secret: &str) -> Result<StandardSecret, SignatureError> {
        let b64 = secret.trim();
        let b64 = b64.strip_prefix("whsec_").unwrap_or(b64);
        let key = BASE64
            .decode(b64)
            .map_err(|_| SignatureError::InvalidSecret("expected `whsec_` followed by base64"))?;
        if key.is_empty() {
            return Err(SignatureError::InvalidSecret("it is empty"));
        }
        Ok(StandardSecret(key))
    }
}

impl std::fmt::Debug for StandardSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StandardSecret(..)")
    }
}

/// Verifies a Standard Webhooks delivery. `id`, `timestamp` and `signature`
/// are the values of the `webhook-id`, `webhook-timestamp` and
/// `webhook-signature` headers (`None` when absent), `body` the raw body.
pub fn verify_standard(
    secret: &StandardSecret,
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let mut mac = mac(&secret.0)?;
    let id = required(id, STANDARD_ID_HEADER)?;
    let timestamp = required(timestamp, STANDARD_TIMESTAMP_HEADER)?;
    let signature = required(signature, STANDARD_SIGNATURE_HEADER)?;
    check_timestamp(timestamp, STANDARD_TIMESTAMP_HEADER, now)?;

    let mut v1 = Vec::new();
    for entry in signature.split_ascii_whitespace() {
        let (version, sig) = entry.split_once(',').ok_or(SignatureError::Malformed {
            header: STANDARD_SIGNATURE_HEADER,
            reason: "expected space-separated `v1,<base64>` entries",
        })?;
        if version == "v1" {
            v1.push(sig);
        }
    }
    if v1.is_empty() {
        return Err(SignatureError::Malformed {
            header: STANDARD_SIGNATURE_HEADER,
            reason: "no `v1` signature",
        });
    }

    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    // Every entry is checked, so the time taken doesn't tell which matched.
    let mut matched = false;
    for sig in v1 {
        // An entry that isn't base64 can't match; it is no reason to refuse
        // the others.
        if let Ok(bytes) = BASE64.decode(sig) {
            matched |= mac.clone().verify_slice(&bytes).is_ok();
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The "sign function works" vector of the Standard Webhooks reference
    // libraries' tests (libraries/javascript/src/webhook.test.ts in
    // standard-webhooks/standard-webhooks), cross-checked with openssl.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const NOW: i64 = 1_614_265_330 + 5;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn secret() -> StandardSecret {
        StandardSecret::parse(SECRET).unwrap()
    }

    fn verify(sig: Option<&str>, body: &[u8], now: i64) -> Result<(), SignatureError> {
        verify_standard(&secret(), Some(ID), Some(TS), sig, body, at(now))
    }

    #[test]
    fn accepts_the_reference_vector_with_or_without_prefix() {
        assert_eq!(verify(Some(SIG), BODY, NOW), Ok(()));
        let bare = StandardSecret::parse(&SECRET["whsec_".len()..]).unwrap();
        assert_eq!(
            verify_standard(&bare, Some(ID), Some(TS), Some(SIG), BODY, at(NOW)),
            Ok(())
        );
    }

    #[test]
    fn accepts_when_any_v1_entry_matches() {
        let other = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        let multi = format!("{other} v2,abc v1a,xyz v1,!!notbase64 {SIG} {other}");
        assert_eq!(verify(Some(&multi), BODY, NOW), Ok(()));
    }

    #[test]
    fn refuses_changes_and_stale_timestamps() {
        assert_eq!(
            verify(Some(SIG), br#"{"test": 2432232315}"#, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_standard(
                &secret(),
                Some("msg_other"),
                Some(TS),
                Some(SIG),
                BODY,
                at(NOW)
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(SIG), BODY, 1_614_265_330 + 301),
            Err(SignatureError::StaleTimestamp { skew_secs: 301 })
        );
        assert_eq!(
            verify(Some(SIG), BODY, 1_614_265_330 - 301),
            Err(SignatureError::StaleTimestamp { skew_secs: -301 })
        );
        // A partial signature is a mismatch.
        assert_eq!(
            verify(Some(&SIG[..8]), BODY, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some("v1,"), BODY, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn names_missing_and_malformed_headers() {
        let s = secret();
        assert_eq!(
            verify_standard(&s, None, Some(TS), Some(SIG), BODY, at(NOW)),
            Err(SignatureError::MissingHeader(STANDARD_ID_HEADER))
        );
        assert_eq!(
            verify_standard(&s, Some(ID), None, Some(SIG), BODY, at(NOW)),
            Err(SignatureError::MissingHeader(STANDARD_TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(None, BODY, NOW),
            Err(SignatureError::MissingHeader(STANDARD_SIGNATURE_HEADER))
        );
        assert!(matches!(
            verify_standard(&s, Some(ID), Some("hello"), Some(SIG), BODY, at(NOW)),
            Err(SignatureError::Malformed {
                header: STANDARD_TIMESTAMP_HEADER,
                ..
            })
        ));
        assert!(matches!(
            verify(Some("g0hM9SsE"), BODY, NOW),
            Err(SignatureError::Malformed {
                header: STANDARD_SIGNATURE_HEADER,
                ..
            })
        ));
        assert!(matches!(
            verify(Some("v2,g0hM9SsE"), BODY, NOW),
            Err(SignatureError::Malformed {
                header: STANDARD_SIGNATURE_HEADER,
                ..
            })
        ));
    }

    #[test]
    fn bad_secrets_are_refused_without_echoing_them() {
        for bad in ["", "whsec_", "whsec_not base64!"] {
            let e = StandardSecret::parse(bad).unwrap_err();
            assert!(matches!(e, SignatureError::InvalidSecret(_)));
            assert!(!e.to_string().contains("not base64!"));
        }
        assert_eq!(format!("{:?}", secret()), "StandardSecret(..)");
        let msg = verify(Some(SIG), b"secret body", NOW)
            .unwrap_err()
            .to_string();
        assert!(
            !msg.contains("secret body") && !msg.contains("MfKQ9r8"),
            "{msg}"
        );
    }
}
