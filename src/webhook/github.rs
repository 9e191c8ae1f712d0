//! GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex>` where the
//! hex is HMAC-SHA256(secret, body). GitHub signs no timestamp: replays are
//! for the caller to catch (e.g. by `X-GitHub-Delivery`).

use hmac::Mac;

use super::{SignatureError, decode_hex, mac, required};

/// The signature header (HTTP header names are case-insensitive).
pub const GITHUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// Verifies a delivery from GitHub. `signature` is the value of
/// [`GITHUB_SIGNATURE_HEADER`] (`None` when absent), `body` the raw body.
pub fn verify_github(
    secret: &[u8],
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let mut mac = mac(secret)?;
    let signature = required(signature, GITHUB_SIGNATURE_HEADER)?;
    let hex = signature
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed {
            header: GITHUB_SIGNATURE_HEADER,
            reason: "expected `sha256=` followed by hex",
        })?;
    let expected = decode_hex(hex, GITHUB_SIGNATURE_HEADER)?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's documented example ("Validating webhook deliveries"):
    // secret "It's a Secret to Everybody", payload "Hello, World!".
    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn accepts_githubs_documented_example() {
        assert_eq!(verify_github(SECRET, Some(SIG), BODY), Ok(()));
    }

    #[test]
    fn refuses_a_changed_body_or_secret() {
        assert_eq!(
            verify_github(SECRET, Some(SIG), b"Hello, World?"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github(b"It's a secret to everybody", Some(SIG), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn names_missing_and_malformed_headers() {
        assert_eq!(
            verify_github(SECRET, None, BODY),
            Err(SignatureError::MissingHeader(GITHUB_SIGNATURE_HEADER))
        );
        // The SHA-1 header's format is not accepted here.
        assert!(matches!(
            verify_github(SECRET, Some("sha1=0123"), BODY),
            Err(SignatureError::Malformed {
                header: GITHUB_SIGNATURE_HEADER,
                ..
            })
        ));
        assert!(matches!(
            verify_github(SECRET, Some("sha256=not-hex"), BODY),
            Err(SignatureError::Malformed {
                header: GITHUB_SIGNATURE_HEADER,
                ..
            })
        ));
        assert_eq!(
            verify_github(SECRET, Some("sha256="), BODY),
            Err(SignatureError::Mismatch)
        );
        let msg = verify_github(SECRET, Some(SIG), b"x")
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("Secret") && !msg.contains("757107"), "{msg}");
    }
}
