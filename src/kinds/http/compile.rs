//! `http:`

use std::time::Duration;

use super::{HttpBody, HttpSpec, HttpStep, StatusMatch, TlsOptions};
use crate::syntax::{Spanned, StrOr};

use super::fields::Fields;
use crate::kind::compile::values;

/// The methods an `http` step may use.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The bound on a request when the step gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn compile(http: &Spanned<StrOr<HttpSpec>>, f: &mut Fields) -> Option<HttpStep> {
    let spec = &http.value.0;
    let before = f.diagnostics.len();
    let url = f.url(&spec.url, http.span);
    let has_body = spec.json.is_some() || spec.body.is_some() || spec.form.is_some();
    let method = match &spec.method {
        // As `curl -d`: a request with a body is a POST unless told otherwise.
        None if has_body => "POST".to_owned(),
        None => "GET".to_owned(),
        Some(m) => f
            .word(m, "HTTP method", METHODS)
            .unwrap_or_default()
            .to_owned(),
    };
    let headers = f.map(&spec.headers);
    let query = f.map(&spec.query);
    let bodies = [
        spec.json.as_ref().map(|j| ("json", j.span)),
        spec.body.as_ref().map(|b| ("body", b.span)),
        spec.form.as_ref().map(|b| ("form", b.span)),
    ];
    let mut given = bodies.iter().flatten();
    if let (Some((first, _)), Some((second, span))) = (given.next(), given.next()) {
        f.error(
            *span,
            format!("an `http` step has one body: `{first}` and `{second}` given"),
            "keep one of `json`, `body` or `form`",
        );
    }
    let body = if let Some(json) = &spec.json {
        Some(HttpBody::Json(f.value(json)))
    } else if let Some(text) = &spec.body {
        Some(HttpBody::Text(f.text(&text.value, text.span)))
    } else {
        spec.form
            .as_ref()
            .map(|form| HttpBody::Form(f.map(&form.value)))
    };
    let timeout = f.duration(&spec.timeout, DEFAULT_TIMEOUT);
    let follow_redirects = f.flag(&spec.follow_redirects, true);
    let expect_status = match &spec.expect_status {
        None => StatusMatch::success(),
        Some(list) => {
            let mut set = Vec::new();
            for item in &list.0 {
                let Some(text) = values::resolve(item, f.params, f.diagnostics) else {
                    continue;
                };
                match StatusMatch::parse(&text) {
                    Some(m) => set.push(m),
                    None => f.error(
                        item.span,
                        format!("invalid status `{}`", text.trim()),
                        "write a code (`204`), a class (`2xx`, `30x`) or a range (`200-399`)",
                    ),
                }
            }
            set
        }
    };
    let tls = TlsOptions {
        ca_cert: f.opt(&spec.ca_cert),
        insecure: f.flag(&spec.insecure, false),
        client_cert: f.opt(&spec.client_cert),
        client_key: f.opt(&spec.client_key),
    };
    match (&spec.client_cert, &spec.client_key) {
        (Some(c), None) => f.error(
            c.span,
            "`client_cert` needs `client_key`",
            "add the certificate's private key",
        ),
        (None, Some(k)) => f.error(
            k.span,
            "`client_key` needs `client_cert`",
            "add the client certificate",
        ),
        _ => {}
    }
    (f.diagnostics.len() == before).then_some(HttpStep {
        method,
        url,
        headers,
        query,
        body,
        timeout,
        follow_redirects,
        expect_status,
        tls,
    })
}
