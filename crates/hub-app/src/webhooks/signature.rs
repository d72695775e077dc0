//! Standard Webhooks signature verification: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature` (space-separated `v1,<base64>`), HMAC-SHA256 over `id.timestamp.body`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a webhook's timestamp may be from the hub's clock.
pub const TOLERANCE_S: i64 = 300;

/// Why a webhook was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is missing or not text.
    #[error("missing or unreadable {0} header")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not an integer number of seconds.
    #[error("malformed webhook-timestamp")]
    BadTimestamp,
    /// The timestamp is more than five minutes from the hub's clock.
    #[error("webhook-timestamp outside the tolerance")]
    Stale,
    /// No `v1` signature in the header matches any configured secret.
    #[error("no valid signature")]
    BadSignature,
}

impl VerifyError {
    /// A short, bounded label for metrics (`integration_webhook_verification_failures_total{reason}`).
    pub fn reason(self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::BadTimestamp => "bad_timestamp",
            Self::Stale => "stale",
            Self::BadSignature => "bad_signature",
        }
    }
}

/// A `whsec_` secret that is not base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret must be `whsec_` followed by base64")]
pub struct BadSecret;

/// Decodes one `whsec_<base64>` secret into its key bytes (the prefix is optional).
pub fn decode_secret(secret: &str) -> Result<SecretSlice<u8>, BadSecret> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(b64).map(SecretSlice::from).map_err(|_| BadSecret)
}

/// The secrets webhooks may be signed with (several during a rotation).
#[derive(Default)]
pub struct WebhookKeys(Vec<SecretSlice<u8>>);

impl std::fmt::Debug for WebhookKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookKeys({} key(s))", self.0.len())
    }
}

impl WebhookKeys {
    /// Decodes `whsec_<base64>` secrets (the prefix is optional, as in the reference libraries).
    pub fn parse<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Result<Self, BadSecret> {
        secrets
            .into_iter()
            .map(decode_secret)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether no key is configured (every webhook is then refused).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Verifies a delivery at `now` (Unix seconds) over the raw `body` bytes.
    ///
    /// ```
    /// use base64::Engine as _;
    /// use hub_app::webhooks::signature::{WebhookKeys, sign};
    /// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    /// let keys = WebhookKeys::parse([secret]).unwrap();
    /// let raw = base64::engine::general_purpose::STANDARD.decode(&secret[6..]).unwrap();
    /// let sig = sign(&raw, "msg_1", 1_700_000_000, b"{}");
    /// assert!(keys.verify("msg_1", "1700000000", &sig, b"{}", 1_700_000_010).is_ok());
    /// assert!(keys.verify("msg_1", "1700000000", &sig, b"{ }", 1_700_000_010).is_err());
    /// ```
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
        // `abs_diff`: a timestamp near i64::MIN or MAX must be stale, not an overflow.
        if now.abs_diff(ts) > TOLERANCE_S.unsigned_abs() {
            return Err(VerifyError::Stale);
        }
        let candidates: Vec<Vec<u8>> = signatures
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .collect();
        let mut matched = false;
        for key in &self.0 {
            let expected = mac(key.expose_secret(), id, ts, body);
            for candidate in &candidates {
                // Constant time over the whole comparison; keep looking to avoid early exits.
                matched |= bool::from(expected.as_slice().ct_eq(candidate.as_slice()));
            }
        }
        if matched {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

fn mac(key: &[u8], id: &str, ts: i64, body: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        // HMAC takes keys of any length; this branch exists only in the type.
        return Vec::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// A `v1,<base64>` signature of a delivery (for tests and the outbound notifier).
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(mac(key, id, timestamp, body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> WebhookKeys {
        WebhookKeys::parse([format!("whsec_{}", STANDARD.encode(KEY)).as_str()]).unwrap()
    }

    #[test]
    fn the_reference_vector() {
        // From the Standard Webhooks specification's examples.
        let keys = WebhookKeys::parse(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(
            keys.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", sig, body, 1_614_265_330),
            Ok(())
        );
    }

    #[test]
    fn rotation_stale_and_tampering() {
        let now = 1_700_000_000;
        let good = sign(KEY, "msg_1", now, b"{}");
        let k = keys();
        assert_eq!(k.verify("msg_1", &now.to_string(), &good, b"{}", now + 299), Ok(()));
        assert_eq!(k.verify("msg_1", &now.to_string(), &good, b"{}", now + 300), Ok(()));
        assert_eq!(k.verify("msg_1", &now.to_string(), &good, b"{}", now - 300), Ok(()));
        assert_eq!(
            k.verify("msg_1", &now.to_string(), &good, b"{}", now + 301),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            k.verify("msg_1", &now.to_string(), &good, b"{}", now - 301),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            k.verify("msg_2", &now.to_string(), &good, b"{}", now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            k.verify("msg_1", &now.to_string(), &good, b"{} ", now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            k.verify("msg_1", "soon", &good, b"{}", now),
            Err(VerifyError::BadTimestamp)
        );
        // Several signatures (a sender mid-rotation): one valid is enough.
        let other = sign(b"another key", "msg_1", now, b"{}");
        assert_eq!(
            k.verify("msg_1", &now.to_string(), &format!("{other} {good}"), b"{}", now),
            Ok(())
        );
        // Several keys (the hub mid-rotation).
        let both = WebhookKeys::parse([
            format!("whsec_{}", STANDARD.encode(b"another key")).as_str(),
            format!("whsec_{}", STANDARD.encode(KEY)).as_str(),
        ])
        .unwrap();
        assert_eq!(both.verify("msg_1", &now.to_string(), &good, b"{}", now), Ok(()));
        assert!(WebhookKeys::parse(["whsec_not base64!"]).is_err());
        assert_eq!(
            WebhookKeys::default().verify("msg_1", &now.to_string(), &good, b"{}", now),
            Err(VerifyError::BadSignature)
        );
    }

    proptest! {
        #[test]
        fn extreme_timestamps_are_stale_never_a_panic(ts in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()], now in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()]) {
            // Regression: `(now - ts).abs()` overflowed (a panic in debug builds) for
            // `webhook-timestamp: -9223372036854775808`.
            let sig = sign(KEY, "msg_1", ts, b"{}");
            let result = keys().verify("msg_1", &ts.to_string(), &sig, b"{}", now);
            prop_assert_eq!(result.is_ok(), now.abs_diff(ts) <= 300);
            if result.is_err() {
                prop_assert_eq!(result, Err(VerifyError::Stale));
            }
        }

        #[test]
        fn only_the_genuine_delivery_passes(
            id in "[A-Za-z0-9_]{1,30}",
            skew in -300i64..=300,
            body in proptest::collection::vec(any::<u8>(), 0..200),
            flip in 0usize..4,
            byte in any::<u8>(),
        ) {
            let now = 1_700_000_000;
            let ts = now + skew;
            let genuine = sign(KEY, &id, ts, &body);
            prop_assert_eq!(keys().verify(&id, &ts.to_string(), &genuine, &body, now), Ok(()));
            // Change one thing the signature covers: it no longer passes.
            let (mut id2, mut ts2, mut body2, mut sig2) = (id.clone(), ts, body.clone(), genuine);
            match flip {
                0 => id2.push(char::from(b'a' + byte % 26)),
                1 => ts2 += 1 + i64::from(byte % 5),
                2 => body2.push(byte),
                _ => sig2 = sign(&[byte; 32], &id, ts, &body),
            }
            prop_assert!(keys().verify(&id2, &ts2.to_string(), &sig2, &body2, now).is_err());
        }

        #[test]
        fn arbitrary_headers_never_panic_and_never_pass(id in "\\PC{0,40}", ts in "\\PC{0,20}", sig in "\\PC{0,200}", body in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert!(keys().verify(&id, &ts, &sig, &body, 1_700_000_000).is_err());
        }
    }
}
