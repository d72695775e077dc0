//! HMAC-SHA256 request signatures (the sales system's scheme) and Standard Webhooks signatures.
//!
//! Public so tests elsewhere can sign requests exactly as the hub must:
//!
//! ```
//! use hub_sim::signature::{sign_request, verify_request};
//! let sig = sign_request(b"secret", 1_700_000_000, "POST", "/sales/transactions/drafts", b"{}");
//! assert!(sig.starts_with("v1="));
//! assert!(verify_request(b"secret", "1700000000", &sig, "POST", "/sales/transactions/drafts", b"{}", 1_700_000_100).is_ok());
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Clock skew a receiver allows between the signature's timestamp and its own clock, in seconds.
pub const MAX_SKEW_S: i64 = 300;

/// Why a request signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-HMAC-Timestamp` header.
    #[error("missing X-HMAC-Timestamp")]
    MissingTimestamp,
    /// The timestamp is not an integer number of seconds.
    #[error("malformed X-HMAC-Timestamp")]
    MalformedTimestamp,
    /// The timestamp is more than [`MAX_SKEW_S`] away from the receiver's clock.
    #[error("stale X-HMAC-Timestamp")]
    Stale,
    /// No `X-HMAC-Signature` header.
    #[error("missing X-HMAC-Signature")]
    MissingSignature,
    /// The signature is not `v1=` followed by 64 lower-case hex digits.
    #[error("malformed X-HMAC-Signature")]
    MalformedSignature,
    /// The signature is over something else.
    #[error("signature mismatch")]
    Mismatch,
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this never fails; an empty key is still a key.
    <HmacSha256 as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()))
}

fn request_mac(secret: &[u8], timestamp: &str, method: &str, path_and_query: &str, body: &[u8]) -> [u8; 32] {
    let body_hash = hex(&Sha256::digest(body));
    let mut m = mac(secret);
    m.update(format!("{timestamp}\n{method}\n{path_and_query}\n{body_hash}").as_bytes());
    m.finalize().into_bytes().into()
}

/// `v1={hex(HMAC-SHA256(secret, "{timestamp}\n{METHOD}\n{path and query}\n{hex(SHA-256(body))}"))}`.
pub fn sign_request(secret: &[u8], timestamp: i64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    format!(
        "v1={}",
        hex(&request_mac(
            secret,
            &timestamp.to_string(),
            method,
            path_and_query,
            body
        ))
    )
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Checks a request signature against the receiver's clock `now_unix` (seconds).
pub fn verify_request(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::MalformedTimestamp)?;
    if (now_unix - ts).abs() > MAX_SKEW_S {
        return Err(SignatureError::Stale);
    }
    let given = signature
        .strip_prefix("v1=")
        .and_then(unhex)
        .filter(|b| b.len() == 32)
        .ok_or(SignatureError::MalformedSignature)?;
    let want = request_mac(secret, timestamp.trim(), method, path_and_query, body);
    if bool::from(want.ct_eq(&given[..])) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// A Standard Webhooks secret that is not `whsec_` followed by base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("webhook secret is not whsec_<base64>")]
pub struct BadWebhookSecret;

/// Decodes a Standard Webhooks secret (`whsec_<base64>`; the prefix may be left out).
pub fn webhook_key(secret: &str) -> Result<Vec<u8>, BadWebhookSecret> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(encoded).map_err(|_| BadWebhookSecret)
}

/// The Standard Webhooks signature `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
pub fn webhook_signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut m = mac(key);
    m.update(format!("{id}.{timestamp}.").as_bytes());
    m.update(body);
    format!("v1,{}", STANDARD.encode(m.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    proptest! {
        #[test]
        fn signed_requests_verify(body in proptest::collection::vec(any::<u8>(), 0..200), path in "/[a-z/?=&0-9]{0,40}", skew in -MAX_SKEW_S..=MAX_SKEW_S) {
            let ts = NOW + skew;
            let sig = sign_request(b"k", ts, "POST", &path, &body);
            prop_assert_eq!(verify_request(b"k", &ts.to_string(), &sig, "POST", &path, &body, NOW), Ok(()));
        }

        #[test]
        fn any_change_is_refused(body in proptest::collection::vec(any::<u8>(), 1..200), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
            let sig = sign_request(b"k", NOW, "POST", "/p", &body);
            let mut altered = body.clone();
            let i = flip.index(altered.len());
            altered[i] ^= 1 << bit;
            prop_assert_eq!(verify_request(b"k", &NOW.to_string(), &sig, "POST", "/p", &altered, NOW), Err(SignatureError::Mismatch));
            prop_assert_eq!(verify_request(b"k", &NOW.to_string(), &sig, "PUT", "/p", &body, NOW), Err(SignatureError::Mismatch));
            prop_assert_eq!(verify_request(b"k", &NOW.to_string(), &sig, "POST", "/q", &body, NOW), Err(SignatureError::Mismatch));
            prop_assert_eq!(verify_request(b"other", &NOW.to_string(), &sig, "POST", "/p", &body, NOW), Err(SignatureError::Mismatch));
        }

        #[test]
        fn stale_timestamps_are_refused(off in (MAX_SKEW_S + 1)..100_000i64, sign in any::<bool>()) {
            let ts = if sign { NOW + off } else { NOW - off };
            let sig = sign_request(b"k", ts, "GET", "/p", b"");
            prop_assert_eq!(verify_request(b"k", &ts.to_string(), &sig, "GET", "/p", b"", NOW), Err(SignatureError::Stale));
        }

        #[test]
        fn garbage_signatures_never_panic(ts in ".{0,20}", sig in ".{0,80}") {
            prop_assert!(verify_request(b"k", &ts, &sig, "GET", "/", b"", NOW).is_err());
        }
    }

    #[test]
    fn known_vector() {
        // Computed independently (Python's hmac over "1700000000\nPOST\n/x\n" + sha256("") hex).
        let sig = sign_request(b"secret", 1_700_000_000, "POST", "/x", b"");
        assert_eq!(
            sig,
            "v1=a675aedca707484b62610a38547c15869b034d56aa923cf63462ebcaa8609595"
        );
        let upper = format!("v1={}", sig[3..].to_uppercase());
        assert_eq!(
            verify_request(b"secret", "1700000000", &upper, "POST", "/x", b"", 1_700_000_000),
            Err(SignatureError::MalformedSignature)
        );
    }

    #[test]
    fn standard_webhooks_example() {
        // The example from the Standard Webhooks specification.
        let key = webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            webhook_signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(webhook_key("whsec_!!"), Err(BadWebhookSecret));
    }
}
