//! The connections of one run, per connection string: opened on first use,
//! kept between steps, closed when the run ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_util::sync::CancellationToken;

use super::error::SqlError;
use super::target::Target;
use super::tls;

/// Idle connections kept per connection string.
const MAX_IDLE: usize = 8;

/// How long a step waits for the server to take a cancel request, or to
/// reset a session before its connection is reused.
const CANCEL_WAIT: Duration = Duration::from_secs(3);

/// Statements that return a session to a clean state before it is reused
/// (`DISCARD ALL` without `DEALLOCATE ALL`, which would break the client's
/// cached statements). The `ROLLBACK` ends a transaction a script left open.
const RESET: &str = "ROLLBACK; CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; \
                     UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; \
                     DISCARD SEQUENCES";

/// The connection pools of a run, keyed by connection string. Each step
/// takes a connection for itself and gives it back when it ends cleanly.
#[derive(Default)]
pub struct SqlPools {
    idle: Mutex<HashMap<String, Vec<Client>>>,
}

/// A connection taken from the pool for one attempt; given back on drop
/// only after [`Conn::release`] reset it.
pub struct Conn<'a> {
    pools: &'a SqlPools,
    key: String,
    client: Option<Client>,
    tls: MakeRustlsConnect,
    reusable: bool,
}

impl SqlPools {
    /// A connection to `target` (pooled under `key`): an idle one, or a
    /// new one within `timeout`.
    pub async fn get(
        &self,
        key: &str,
        target: &Target,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Conn<'_>, SqlError> {
        let config =
            tls::client_config(target.tls, target.root_cert.as_deref()).map_err(|reason| {
                SqlError::Tls {
                    shown: target.shown.clone(),
                    reason,
                }
            })?;
        let tls = MakeRustlsConnect::new(config);
        let conn = |client| Conn {
            pools: self,
            key: key.to_owned(),
            client: Some(client),
            tls: tls.clone(),
            reusable: false,
        };
        if let Some(client) = self.take_idle(key) {
            return Ok(conn(client));
        }
        let mut config = target.config.clone();
        config.connect_timeout(timeout);
        let connect = tokio::time::timeout(timeout, config.connect(tls.clone()));
        let (client, connection) = tokio::select! {
            outcome = connect => match outcome {
                Ok(Ok(pair)) => pair,
                Ok(Err(e)) => return Err(SqlError::from_connect(&e, &target.shown)),
                Err(_) => return Err(SqlError::ConnectTimeout { shown: target.shown.clone(), after: timeout }),
            },
            () = cancel.cancelled() => return Err(SqlError::Cancelled),
        };
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("a PostgreSQL connection ended: {e}");
            }
        });
        Ok(conn(client))
    }

    fn take_idle(&self, url: &str) -> Option<Client> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(url)?;
        while let Some(client) = list.pop() {
            if !client.is_closed() {
                return Some(client);
            }
        }
        None
    }
}

impl Conn<'_> {
    /// The client.
    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }

    /// Resets the session and marks the connection for reuse; a connection
    /// that can't be reset (in a few seconds) is closed instead.
    pub async fn release(&mut self) {
        if let Some(client) = &self.client {
            let reset = tokio::time::timeout(CANCEL_WAIT, client.batch_execute(RESET)).await;
            self.reusable = matches!(reset, Ok(Ok(())));
        }
    }

    /// Asks the server to stop the running statement (the attempt was
    /// cancelled or timed out), waiting a few seconds at most; the
    /// connection is then closed, not reused.
    pub async fn cancel_running(&mut self) {
        self.reusable = false;
        if let Some(client) = &self.client {
            let token = client.cancel_token();
            let request = token.cancel_query(self.tls.clone());
            match tokio::time::timeout(CANCEL_WAIT, request).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!("cancelling a PostgreSQL statement: {e}"),
                Err(_) => tracing::debug!("cancelling a PostgreSQL statement: no answer"),
            }
        }
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if !self.reusable || client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.pools.idle.lock() {
            let list = idle.entry(std::mem::take(&mut self.key)).or_default();
            if list.len() < MAX_IDLE {
                list.push(client);
            }
        }
    }
}
