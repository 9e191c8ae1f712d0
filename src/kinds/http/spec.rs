//! The `http` step kind, as written.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::syntax::Spanned;
use crate::syntax::{FromScalar, OneOrMany, Scalar};

/// An `http` step: one request, its answer checked against `expect_status`.
/// The short form `http: URL` is a `GET`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD` or `OPTIONS`. Default:
    /// `GET`, or `POST` when the step has a body (as `curl -d`).
    pub method: Option<Spanned<Scalar>>,
    /// The URL, `http://` or `https://` (a template; secrets in it are
    /// masked in every output).
    pub url: Spanned<String>,
    /// Request headers (values are templates, never shown).
    #[serde(default)]
    pub headers: IndexMap<Spanned<String>, Spanned<Scalar>>,
    /// Query parameters added to the URL (values are templates).
    #[serde(default)]
    pub query: IndexMap<Spanned<String>, Spanned<Scalar>>,
    /// A JSON body (strings are templates; a sole `{{ expression }}` keeps
    /// its type). Sets `Content-Type: application/json`.
    pub json: Option<Spanned<serde_json::Value>>,
    /// A text body (a template), sent as is.
    pub body: Option<Spanned<String>>,
    /// A form body, `application/x-www-form-urlencoded` (values are templates).
    pub form: Option<Spanned<IndexMap<Spanned<String>, Spanned<Scalar>>>>,
    /// Bound on the request, connecting to the end of the body, e.g. `5s`
    /// (default `30s`). The step's own `timeout` bounds the whole attempt.
    pub timeout: Option<Spanned<Scalar>>,
    /// Follow redirects, up to 10 (default `true`).
    pub follow_redirects: Option<Spanned<Scalar>>,
    /// Statuses that count as success: codes (`204`), classes (`2xx`, `30x`)
    /// or ranges (`200-399`); one or a list. Default: any `2xx`.
    pub expect_status: Option<OneOrMany<Spanned<Scalar>>>,
    /// A CA certificate to trust besides the system's: a PEM file (relative
    /// to the project) or the PEM text itself (a template).
    pub ca_cert: Option<Spanned<String>>,
    /// Accept any server certificate. Only for test servers: it disables
    /// the protection TLS gives.
    pub insecure: Option<Spanned<Scalar>>,
    /// A client certificate (PEM file or text) for servers that ask for one;
    /// needs `client_key`.
    pub client_cert: Option<Spanned<String>>,
    /// The client certificate's private key (PEM file or text, usually a secret).
    pub client_key: Option<Spanned<String>>,
}

impl FromScalar for HttpSpec {
    fn from_scalar(url: String) -> Self {
        HttpSpec {
            method: None,
            url: Spanned::new(Default::default(), url),
            headers: IndexMap::new(),
            query: IndexMap::new(),
            json: None,
            body: None,
            form: None,
            timeout: None,
            follow_redirects: None,
            expect_status: None,
            ca_cert: None,
            insecure: None,
            client_cert: None,
            client_key: None,
        }
    }
}
