//! OAuth2 client credentials: the token endpoint of the status and sales systems, and token checks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use http::{HeaderMap, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::auth;
use crate::ledger::TokenCounts;
use crate::reply::Reply;

/// Decodes an `application/x-www-form-urlencoded` body (`+` is a space, `%XX` a byte).
pub(crate) fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body).replace('+', " ");
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(name), decode(value))
        })
        .collect()
}

/// The client a token endpoint accepts.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) secret: String,
}

/// Issued tokens of one system, with their expiry in simulated time.
#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    tokens: Mutex<HashMap<String, OffsetDateTime>>,
    issued: AtomicU64,
    refused: AtomicU64,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    Missing,
    Unknown,
    Expired,
}

impl TokenError {
    /// The 401 answer, with the `WWW-Authenticate` challenge of RFC 6750.
    pub(crate) fn reply(self) -> Reply {
        let (code, description) = match self {
            TokenError::Missing => ("invalid_request", "no bearer token"),
            TokenError::Unknown => ("invalid_token", "unknown token"),
            TokenError::Expired => ("invalid_token", "token expired"),
        };
        Reply::json(
            StatusCode::UNAUTHORIZED,
            &json!({"error": code, "error_description": description}),
        )
        .header(
            "www-authenticate",
            &format!("Bearer error=\"{code}\", error_description=\"{description}\""),
        )
    }
}

impl TokenStore {
    /// Checks the request's bearer token at simulated time `now`.
    pub(crate) fn check(&self, headers: &HeaderMap, now: OffsetDateTime) -> Result<(), TokenError> {
        let token = auth::bearer(headers).ok_or(TokenError::Missing)?;
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        match tokens.get(token) {
            None => Err(TokenError::Unknown),
            Some(expires) if *expires <= now => Err(TokenError::Expired),
            Some(_) => Ok(()),
        }
    }

    /// Counts of issued and refused token requests.
    pub(crate) fn counts(&self) -> TokenCounts {
        TokenCounts {
            issued: self.issued.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn clear(&self) {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner).clear();
        self.issued.store(0, Ordering::Relaxed);
        self.refused.store(0, Ordering::Relaxed);
    }

    fn refuse(&self, status: StatusCode, error: &str) -> Reply {
        self.refuse_with(status, &json!({"error": error}))
    }

    /// Counts a refused token request and answers it with `body`.
    pub(crate) fn refuse_with(&self, status: StatusCode, body: &serde_json::Value) -> Reply {
        self.refused.fetch_add(1, Ordering::Relaxed);
        Reply::json(status, body)
    }

    /// Issues a token valid for `ttl_s` (at least 1) seconds from `now`.
    pub(crate) fn issue(&self, ttl_s: u64, now: OffsetDateTime) -> String {
        let ttl_s = ttl_s.max(1);
        let token = format!("sim-{}", uuid::Uuid::new_v4().simple());
        let expires = now + Duration::seconds(i64::try_from(ttl_s).unwrap_or(i64::MAX / 2));
        {
            let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
            if tokens.len() > 1024 {
                tokens.retain(|_, exp| *exp > now);
            }
            tokens.insert(token.clone(), expires);
        }
        self.issued.fetch_add(1, Ordering::Relaxed);
        token
    }

    /// Answers `POST {prefix}/oauth/token` (form-encoded, `client_secret_post` or `client_secret_basic`).
    pub(crate) fn token_endpoint(
        &self,
        client: &Client,
        headers: &HeaderMap,
        body: &[u8],
        ttl_s: u64,
        now: OffsetDateTime,
    ) -> Reply {
        let is_form = auth::header(headers, "content-type")
            .is_some_and(|ct| ct.trim().starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return self.refuse(StatusCode::BAD_REQUEST, "invalid_request");
        }
        let form = parse_form(body);
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return self.refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type");
        }
        let (id, secret) = match (auth::basic(headers), form.get("client_id"), form.get("client_secret")) {
            (Some((id, secret)), _, _) => (id, secret),
            (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => return self.refuse(StatusCode::UNAUTHORIZED, "invalid_client"),
        };
        if !(auth::same(&id, &client.id) && auth::same(&secret, &client.secret)) {
            return self.refuse(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        let ttl_s = ttl_s.max(1);
        let token = self.issue(ttl_s, now);
        let mut reply = Reply::json(
            StatusCode::OK,
            &json!({"access_token": token, "token_type": "Bearer", "expires_in": ttl_s}),
        );
        reply = reply.header("cache-control", "no-store");
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let form = parse_form(b"grant_type=client_credentials&client_id=a%2Fb&scope=x+y&empty");
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["client_id"], "a/b");
        assert_eq!(form["scope"], "x y");
        assert_eq!(form["empty"], "");
    }

    proptest::proptest! {
        #[test]
        fn encoded_pairs_decode_to_themselves(pairs in proptest::collection::btree_map("[a-z_]{1,12}", ".{0,24}", 0..6)) {
            use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
            let body = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, NON_ALPHANUMERIC), utf8_percent_encode(v, NON_ALPHANUMERIC)))
                .collect::<Vec<_>>()
                .join("&");
            let decoded = parse_form(body.as_bytes());
            proptest::prop_assert_eq!(decoded.len(), pairs.len());
            for (k, v) in &pairs {
                proptest::prop_assert_eq!(&decoded[k], v);
            }
        }
    }
}
