//! The middleware every request goes through: its body within the body
//! time limit, its token within its rate limit, its answer within the
//! request time limit (but for the requests that last as long as a run).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::{Access, ApiError, BODY_LIMIT, auth};

/// Whether a request lasts as long as its run: `POST /api/v1/runs?wait=true`
/// and a run's event stream.
fn long_lived(request: &Request) -> bool {
    let path = request.uri().path();
    let waits = request.method() == Method::POST
        && path == "/api/v1/runs"
        && request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|pair| pair == "wait=true"));
    let streams = request.method() == Method::GET
        && path.starts_with("/api/v1/runs/")
        && path.ends_with("/events");
    waits || streams
}

/// Reads a body, stopping once it is past [`BODY_LIMIT`] (the handler's
/// own limit then answers 413).
async fn read_body(body: Body) -> Result<Bytes, axum::Error> {
    let mut stream = body.into_data_stream();
    let mut read: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        read.extend_from_slice(&chunk?);
        if read.len() > BODY_LIMIT {
            break;
        }
    }
    Ok(Bytes::from(read))
}

/// Every request: its body within the body time limit, its token within
/// its rate limit, its answer within the request time limit (but for the
/// long-lived ones).
pub(crate) async fn guard(
    State(state): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let timeouts = state.limits.timeouts;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    // Too big, as declared: the handler refuses it unread (413).
    // A body not read to its end leaves the connection unusable: the
    // answer says `Connection: close`, so the client does not reuse it.
    let mut unread_rest = declared.is_some_and(|n| n > BODY_LIMIT);
    let request = if unread_rest {
        request
    } else {
        let (parts, body) = request.into_parts();
        match tokio::time::timeout(timeouts.body, read_body(body)).await {
            Ok(Ok(bytes)) => {
                // Past the limit (chunked): what was read goes on, for the
                // handler's 413.
                unread_rest = bytes.len() > BODY_LIMIT;
                Request::from_parts(parts, Body::from(bytes))
            }
            Ok(Err(e)) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("the request body could not be read: {e}"),
                )
                .into_response();
            }
            Err(_) => {
                state.metrics.limited("body_timeout");
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body was not sent within {}",
                        crate::duration::exact(timeouts.body)
                    ),
                )
                .with_header_value(header::CONNECTION, HeaderValue::from_static("close"))
                .into_response();
            }
        }
    };
    if let Ok(token) = auth::authenticate(&state.tokens, request.headers())
        && let Err(limited) = state.limits.token(&token.name)
    {
        state.metrics.limited("token_rate");
        return limited.into_response();
    }
    let answered = if long_lived(&request) {
        Ok(next.run(request).await)
    } else {
        tokio::time::timeout(timeouts.request, next.run(request)).await
    };
    match answered {
        Ok(mut response) => {
            if unread_rest {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
        Err(_) => {
            state.metrics.limited("request_timeout");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the request was not answered within {}",
                    crate::duration::exact(timeouts.request)
                ),
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, uri: &str) -> Request {
        Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap()
    }

    #[test]
    fn only_waiting_starts_and_event_streams_are_long_lived() {
        assert!(long_lived(&request("POST", "/api/v1/runs?wait=true")));
        assert!(long_lived(&request("GET", "/api/v1/runs/0199/events")));
        assert!(!long_lived(&request("POST", "/api/v1/runs")));
        assert!(!long_lived(&request("POST", "/api/v1/runs?wait=false")));
        assert!(!long_lived(&request("GET", "/api/v1/runs/0199")));
        assert!(!long_lived(&request("POST", "/hooks/gh?wait=true")));
    }
}
