//! Reading a request: its body (413 past the limit), a JSON body, a query
//! string, each with a clear error.

use axum::body::Bytes;
use axum::extract::Query;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::StatusCode;

use super::{ApiError, BODY_LIMIT};

/// A request body read as bytes, with clear errors (413 past the limit).
pub(crate) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!("the request body is larger than {} KiB", BODY_LIMIT / 1024),
            )
        } else {
            ApiError::new(
                status,
                format!("can't read the request body: {}", rejection.body_text()),
            )
        }
    })
}

/// Parses a JSON body; an empty body is `{}` when `empty_ok`.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    empty_ok: bool,
) -> Result<T, ApiError> {
    let bytes: &[u8] = if empty_ok && bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        let message = if e.is_syntax() || e.is_eof() {
            format!("the request body is not valid JSON ({e}); send a JSON object: {what}")
        } else {
            format!("the request body does not fit {what}: {e}")
        };
        ApiError::new(StatusCode::BAD_REQUEST, message)
    })
}

/// A query string, or a 400 saying what is wrong with it.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("bad query string: {}", e.body_text()),
        )
    })
}
