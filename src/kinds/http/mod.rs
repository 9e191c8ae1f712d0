//! The `http` step kind: one request through the run's connection pool, its
//! answer as `result` (`status`, `headers`, `body`, `json`, `elapsed_ms`) and
//! checked against `expect_status`.

mod client;
mod compile;
pub mod error;
mod fields;
mod plan;
mod spec;

use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, Url};

pub use client::{ClientOptions, HttpClients, pem};
pub use compile::{DEFAULT_TIMEOUT, METHODS};
pub use error::{HttpError, Target};
pub(crate) use fields::{Fields, at};
pub use plan::{HttpBody, HttpStep, StatusMatch, TlsOptions};
pub use spec::HttpSpec;

use crate::outcome::FailureClass;
use crate::template::Template;

use crate::duration::human;
use crate::kind::{Attempt, CompileCx, DescribeError, Failure, Kind, StepContext};
use crate::syntax::{Spanned, StrOr};

/// How much of a body `result.body` keeps.
pub const MAX_BODY: usize = 1024 * 1024;
/// How much of a body a failure message quotes.
const EXCERPT: usize = 200;
/// How much of a body the audit trail keeps.
const AUDIT_TAIL: usize = 4 * 1024;

/// An answer, its body bounded.
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Its reason phrase (`Not Found`).
    pub reason: &'static str,
    /// Headers, lower-case names; repeated ones joined with `, `.
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// The body as text (lossy UTF-8), at most [`MAX_BODY`] bytes.
    pub body: String,
    /// Whether the body was cut.
    pub truncated: bool,
    /// The body parsed, when it is JSON.
    pub json: Option<serde_json::Value>,
}

impl Answer {
    /// `HTTP 503 Service Unavailable`.
    pub fn status_line(&self) -> String {
        format!("HTTP {} {}", self.status, self.reason)
            .trim_end()
            .to_owned()
    }
}

struct Rendered {
    method: Method,
    url: Url,
    shown: String,
    headers: Vec<(String, String)>,
    body: Option<Body>,
}

enum Body {
    Json(serde_json::Value),
    Text(String),
    Form(Vec<(String, String)>),
}

/// Renders a template of a network step.
pub fn render(ctx: &StepContext<'_>, template: &Template) -> Result<String, HttpError> {
    ctx.renderer
        .render(template, ctx.ctx)
        .map_err(|e| HttpError::Render(e.to_string()))
}

/// Renders name → template pairs.
pub fn render_pairs(
    ctx: &StepContext<'_>,
    pairs: &[(String, Template)],
) -> Result<Vec<(String, String)>, HttpError> {
    pairs
        .iter()
        .map(|(k, t)| Ok((k.clone(), render(ctx, t)?)))
        .collect()
}

/// Parses a rendered URL; only `http` and `https` are accepted.
pub fn parse_url(text: &str) -> Result<Url, HttpError> {
    let invalid = |reason: String| HttpError::Url {
        url: text.to_owned(),
        reason,
    };
    let url = Url::parse(text.trim()).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(invalid(format!("unsupported scheme `{other}`"))),
    }
}

/// A URL for messages: a password in it is masked.
pub fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some(crate::secrets::MASK));
    }
    shown.to_string()
}

impl HttpStep {
    fn render(&self, ctx: &StepContext<'_>) -> Result<Rendered, HttpError> {
        let mut url = parse_url(&render(ctx, &self.url)?)?;
        let query = render_pairs(ctx, &self.query)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(&query);
        }
        let method = Method::from_bytes(self.method.as_bytes())
            .map_err(|e| HttpError::Render(e.to_string()))?;
        let body = match &self.body {
            None => None,
            Some(HttpBody::Json(v)) => Some(Body::Json(
                ctx.renderer
                    .value(v, ctx.ctx)
                    .map_err(|e| HttpError::Render(e.to_string()))?,
            )),
            Some(HttpBody::Text(t)) => Some(Body::Text(render(ctx, t)?)),
            Some(HttpBody::Form(pairs)) => Some(Body::Form(render_pairs(ctx, pairs)?)),
        };
        Ok(Rendered {
            shown: format!("{method} {}", shown_url(&url)),
            method,
            url,
            headers: render_pairs(ctx, &self.headers)?,
            body,
        })
    }

    async fn client_options(&self, ctx: &StepContext<'_>) -> Result<ClientOptions, HttpError> {
        let tls = &self.tls;
        let ca_pem = match &tls.ca_cert {
            Some(t) => Some(client::pem(&render(ctx, t)?, "ca_cert", ctx.workdir).await?),
            None => None,
        };
        let identity_pem = match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(key)) => {
                let cert = client::pem(&render(ctx, cert)?, "client_cert", ctx.workdir).await?;
                let key = client::pem(&render(ctx, key)?, "client_key", ctx.workdir).await?;
                Some(format!("{cert}{key}"))
            }
            _ => None,
        };
        Ok(ClientOptions {
            ca_pem,
            identity_pem,
            insecure: tls.insecure,
            no_redirects: !self.follow_redirects,
        })
    }

    /// Sends the request: the answer, how long it took, and what was asked.
    async fn attempt(
        &self,
        ctx: &StepContext<'_>,
    ) -> Result<(Answer, Duration, String), HttpError> {
        let rendered = self.render(ctx)?;
        let client = ctx
            .resources
            .get::<HttpClients>()
            .get(&self.client_options(ctx).await?)?;
        let mut request = client.request(rendered.method, rendered.url.clone());
        for (name, value) in &rendered.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request = match &rendered.body {
            None => request,
            Some(Body::Json(v)) => request.json(v),
            Some(Body::Text(t)) => request.body(t.clone()),
            Some(Body::Form(pairs)) => request.form(pairs),
        };
        let target = Target {
            shown: &rendered.shown,
            url: &rendered.url,
            limit: self.timeout,
        };
        let started = Instant::now();
        let answer = exchange(request.timeout(self.timeout), &target).await?;
        Ok((answer, started.elapsed(), rendered.shown))
    }
}

impl Kind for HttpStep {
    const KEY: &'static str = "http";
    type Spec = StrOr<HttpSpec>;

    fn compile(spec: &Spanned<StrOr<HttpSpec>>, cx: &mut CompileCx<'_, '_>) -> Option<Self> {
        compile::compile(spec, &mut Fields::of(cx))
    }

    fn source(&self) -> String {
        format!("{} {}", self.method, self.url.source)
    }

    fn explain(result: &serde_json::Value) -> Option<String> {
        explain(result)
    }

    /// URL-encoded, as a URL or a form holds it.
    fn secret_forms(secret: &str) -> Vec<String> {
        encoded_forms(secret)
    }

    fn describe(&self, ctx: &StepContext<'_>) -> Result<String, DescribeError> {
        let rendered = self.render(ctx).map_err(|e| ctx.cannot_describe(e))?;
        let body = match rendered.body {
            None => "",
            Some(Body::Json(_)) => " with a JSON body",
            Some(Body::Text(_)) => " with a body",
            Some(Body::Form(_)) => " with a form",
        };
        Ok(ctx
            .redactor
            .redact(&format!("{}{body}", rendered.shown))
            .into_owned())
    }

    async fn execute(&self, ctx: &StepContext<'_>) -> Attempt {
        let outcome = tokio::select! {
            outcome = self.attempt(ctx) => outcome,
            () = ctx.cancel.cancelled() => return Attempt::failed(FailureClass::Other, "cancelled"),
        };
        let (answer, elapsed, shown) = match outcome {
            Ok(done) => done,
            Err(e) => {
                let message = ctx.redactor.redact(&e.to_string()).into_owned();
                return Attempt::failed(e.class(), message);
            }
        };
        let failure =
            (!self.expect_status.iter().any(|m| m.matches(answer.status))).then(|| Failure {
                class: FailureClass::HttpStatus(answer.status),
                message: ctx
                    .redactor
                    .redact(&format!(
                        "{} from {shown} (expected {}){}",
                        answer.status_line(),
                        StatusMatch::list(&self.expect_status),
                        excerpt(&answer.body)
                    ))
                    .into_owned(),
            });
        let output = format!(
            "{} in {}\n{}",
            answer.status_line(),
            human(elapsed),
            tail(&answer.body)
        );
        let mut result = serde_json::json!({
            "status": answer.status,
            "headers": answer.headers,
            "body": answer.body,
            "elapsed_ms": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        });
        if let Some(json) = answer.json {
            result["json"] = json;
        }
        if answer.truncated {
            result["truncated"] = true.into();
        }
        Attempt {
            result,
            failure,
            exit_code: None,
            output: Some(ctx.redactor.redact(&output).into_owned()),
        }
    }
}

/// Sends a request and reads its answer, the body bounded by [`MAX_BODY`].
pub async fn exchange(request: RequestBuilder, target: &Target<'_>) -> Result<Answer, HttpError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| error::classify(e, target))?;
    let status = response.status();
    let mut headers = serde_json::Map::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), value.into());
            }
        }
    }
    let is_json = headers
        .get("content-type")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|t| t.contains("json"));
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| error::classify(e, target))?
    {
        let room = MAX_BODY - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let json = (!truncated)
        .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .flatten()
        .filter(|v| is_json || v.is_object() || v.is_array());
    Ok(Answer {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or(""),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        truncated,
        json,
    })
}

/// Why an `http` step's `assert` may have failed: the answer it judged.
pub fn explain(result: &serde_json::Value) -> Option<String> {
    let status = result.get("status")?.as_u64()?;
    let body = result
        .get("body")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    Some(format!("the answer was HTTP {status}{}", excerpt(body)))
}

/// `: <the start of the body>` on one line, or nothing for an empty body.
pub fn excerpt(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return String::new();
    }
    let mut cut: String = flat.chars().take(EXCERPT).collect();
    if cut.len() < flat.len() {
        cut.push('…');
    }
    format!(": {cut}")
}

fn tail(body: &str) -> String {
    if body.len() <= AUDIT_TAIL {
        return body.to_owned();
    }
    let mut start = body.len() - AUDIT_TAIL;
    while !body.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &body[start..])
}

/// The forms a secret takes once URL-encoded, so that the run's redactor
/// masks a secret put into a URL or a form too: RFC 3986 (all but
/// unreserved), minijinja's `urlencode` (keeps `/`), form encoding (space as
/// `+`) and what a URL parser encodes in a path or query (space, quotes,
/// `<>`, `#`, `{}`, non-ASCII).
pub fn encoded_forms(secret: &str) -> Vec<String> {
    let encode = |keep: &dyn Fn(u8) -> bool, space: &str| {
        let mut out = String::new();
        for byte in secret.bytes() {
            match byte {
                b' ' if !space.is_empty() => out.push_str(space),
                _ if byte.is_ascii_alphanumeric() || keep(byte) => out.push(char::from(byte)),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
        out
    };
    let parser_keeps = |b: u8| b.is_ascii_graphic() && !b"\"#<>`{}".contains(&b);
    let mut forms = vec![
        encode(&|b| b"-._~".contains(&b), ""),
        encode(&|b| b"-._/".contains(&b), ""),
        encode(&|b| b"-._*".contains(&b), "+"),
        encode(&parser_keeps, ""),
    ];
    forms.retain(|f| f != secret);
    forms.sort();
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests;
