//! The run's HTTP clients: one shared connection pool (rustls, the system's
//! and Mozilla's roots), and one more per distinct set of TLS and redirect
//! options, each made on first use.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::Client;
use reqwest::redirect::Policy;

use super::error::HttpError;

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 10;

/// What makes a client differ from the default one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClientOptions {
    /// Extra CA certificates, PEM.
    pub ca_pem: Option<String>,
    /// Client certificate and key, PEM.
    pub identity_pem: Option<String>,
    /// Accept any server certificate.
    pub insecure: bool,
    /// Do not follow redirects.
    pub no_redirects: bool,
}

/// The HTTP clients of one run (a field of [`crate::kind::Resources`]).
#[derive(Default)]
pub struct HttpClients {
    default: OnceLock<Client>,
    custom: Mutex<HashMap<ClientOptions, Client>>,
}

impl HttpClients {
    /// The client for `options`, shared by every step that uses the same.
    pub fn get(&self, options: &ClientOptions) -> Result<Client, HttpError> {
        let is_default = *options == ClientOptions::default();
        if is_default && let Some(client) = self.default.get() {
            return Ok(client.clone());
        }
        // Clients are built under the lock, so that the many steps that start
        // together build one (loading the system's roots once), not one each.
        let mut custom = self
            .custom
            .lock()
            .map_err(|_| HttpError::Client("client cache poisoned".into()))?;
        if is_default {
            if let Some(client) = self.default.get() {
                return Ok(client.clone());
            }
            let client = build(options)?;
            return Ok(self.default.get_or_init(|| client).clone());
        }
        if let Some(client) = custom.get(options) {
            return Ok(client.clone());
        }
        let client = build(options)?;
        custom.insert(options.clone(), client.clone());
        Ok(client)
    }
}

fn build(options: &ClientOptions) -> Result<Client, HttpError> {
    let mut builder = Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(if options.no_redirects {
            Policy::none()
        } else {
            Policy::limited(MAX_REDIRECTS)
        });
    if let Some(pem) = &options.ca_pem {
        let certs =
            reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| HttpError::Pem {
                what: "ca_cert",
                reason: format!("not a PEM certificate: {e}"),
            })?;
        if certs.is_empty() {
            return Err(HttpError::Pem {
                what: "ca_cert",
                reason: "no certificate found in it".into(),
            });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(pem) = &options.identity_pem {
        let identity = reqwest::Identity::from_pem(pem.as_bytes()).map_err(|e| HttpError::Pem {
            what: "client_cert/client_key",
            reason: format!("not a PEM certificate and key: {e}"),
        })?;
        builder = builder.identity(identity);
    }
    if options.insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| HttpError::Client(super::error::describe_chain(&e)))
}

/// PEM text given inline, or read from a file (relative to `workdir`).
pub async fn pem(text: &str, what: &'static str, workdir: &Path) -> Result<String, HttpError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return Ok(format!("{text}\n"));
    }
    let path = workdir.join(text);
    tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| HttpError::Pem {
            what,
            reason: format!("can't read {}: {e}", path.display()),
        })
}
