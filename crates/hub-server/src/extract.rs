//! Request extractors that fail with problem+json: path ids, strict JSON bodies, queries.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use hub_core::IdError;
use serde::de::DeserializeOwned;

use crate::problem::{Problem, ProblemCode};
use hub_listener::BodyReadTimeout;

/// Parses one path id, or answers 400 `invalid_id` naming it.
pub fn parse_id<T: FromStr<Err = IdError>>(name: &str, raw: &str) -> Result<T, Problem> {
    raw.parse()
        .map_err(|e: IdError| Problem::new(ProblemCode::InvalidId, format!("{name}: {e}")))
}

/// The route's path ids, each validated by the contract's id rule before any handler runs.
#[derive(Debug, Clone)]
pub struct PathId<T>(pub T);

impl<S: Send + Sync, T: FromStr<Err = IdError>> FromRequestParts<S> for PathId<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| Problem::new(ProblemCode::InvalidId, "a path id is not valid percent-encoded UTF-8"))?;
        let Some((name, value)) = params.iter().next() else {
            return Err(Problem::new(ProblemCode::InvalidId, "the route has no id"));
        };
        parse_id(name, value).map(PathId)
    }
}

/// Maps a body-reading failure: too large → 413, not received within the body read
/// timeout → 408 (`invalid_body`), anything else → 422.
pub fn body_rejection(r: &BytesRejection) -> Problem {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Problem::new(
            ProblemCode::PayloadTooLarge,
            "the request body is larger than the limit",
        );
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(r);
    while let Some(e) = source {
        if let Some(t) = e.downcast_ref::<BodyReadTimeout>() {
            let mut p = Problem::new(ProblemCode::InvalidBody, t.to_string());
            p.status = StatusCode::REQUEST_TIMEOUT.as_u16();
            return p;
        }
        source = e.source();
    }
    Problem::new(ProblemCode::InvalidBody, "the request body could not be read")
}

/// Deserialises JSON strictly, naming the field at fault.
///
/// ```
/// #[derive(Debug, serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct In { n: u32 }
/// let err = hub_server::extract::from_json::<In>(br#"{"n": "x"}"#).unwrap_err();
/// assert!(err.detail.starts_with("n: "), "{}", err.detail);
/// ```
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        Problem::invalid_body(&field, e.inner())
    })?;
    Ok(value)
}

/// A JSON body read within the body limit and deserialised strictly.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| body_rejection(&r))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Problem::new(
                ProblemCode::InvalidBody,
                "the request body must be a JSON object",
            ));
        }
        from_json(&bytes).map(JsonBody)
    }
}

/// A body that must be empty or `{}` (commit, cancel).
#[derive(Debug, Clone, Copy)]
pub struct EmptyBody;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

impl<S: Send + Sync> FromRequest<S> for EmptyBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| body_rejection(&r))?;
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            from_json::<NoFields>(&bytes)?;
        }
        Ok(EmptyBody)
    }
}

/// An optional body (discard's `reason`): empty or JSON `null` (as the OpenAPI document's
/// nullable body allows) means the default.
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| body_rejection(&r))?;
        if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
            return Ok(OptionalJson(T::default()));
        }
        from_json(&bytes).map(OptionalJson)
    }
}

/// The query string as name → value (the last of repeated names wins).
#[derive(Debug, Clone, Default)]
pub struct QueryMap(pub BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| Problem::new(ProblemCode::InvalidBody, "the query string is not valid"))?;
        Ok(QueryMap(pairs.into_iter().collect()))
    }
}

impl QueryMap {
    /// Parses an optional parameter, answering 422 naming it when it is malformed.
    pub fn parse<T>(&self, name: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, Problem> {
        self.0
            .get(name)
            .map(|raw| parse(raw).map_err(|reason| Problem::invalid_body(name, reason)))
            .transpose()
    }

    /// An integer parameter within `min..=max`, or `default` when absent.
    pub fn limit(&self, name: &str, min: u32, max: u32, default: u32) -> Result<u32, Problem> {
        Ok(self
            .parse(name, |raw| match raw.parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(format!("must be an integer between {min} and {max}")),
            })?
            .unwrap_or(default))
    }
}
